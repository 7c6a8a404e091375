"""The local advisory database: import (OSV, distro trackers, other feeds), SQLite store,
update, and the version schemes matching relies on."""
