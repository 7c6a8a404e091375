"""Checks on a built image: its config (user, healthcheck, Env, reference) and its squashed
filesystem (setuid files, permissions, caches, daemons, credentials, account databases)."""
