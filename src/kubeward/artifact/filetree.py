"""The squashed view of an image: every visible path with its kind, size, mode and layer.

Only metadata is kept (file contents go straight from the layer stream to the analyzers),
so a 50,000-file image costs a few MB. `resolve` follows symlinks the way a container sees
them: inside the image root (".." at the root stays at the root, absolute targets start at
the image root), never on the host, with a hop limit for loops.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_SYMLINK_HOPS = 40  # Linux's MAXSYMLINKS


class TreeEntry(NamedTuple):
    kind: str  # file, dir, symlink, hardlink, char, block, fifo, other
    size: int
    mode: int
    layer: str | None  # diff_id
    linkname: str = ""


class SymlinkLoopError(Exception):
    """Too many symlink hops: a loop, as ELOOP."""


def normalize_member(name: str) -> tuple[str | None, str | None]:
    """(relative path, problem) for a tar member name or symlink-free relative path.

    Leading "./" is normal and removed; an absolute name or one whose ".." climbs above the
    root is hostile: (None, reason). "" means the root itself.
    """
    if name.startswith("/"):
        return None, "absolute path"
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None, "path traversal (..)"
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts), None


class FileTree:
    def __init__(self) -> None:
        self.entries: dict[str, TreeEntry] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, path: str) -> bool:
        return path in self.entries

    def get(self, path: str) -> TreeEntry | None:
        return self.entries.get(path)

    def resolve(self, path: str) -> str | None:
        """The path `path` names after following every symlink, inside the root.

        Returns None when a component does not exist. Raises SymlinkLoopError on loops.
        """
        hops = 0
        todo = [p for p in path.split("/") if p not in ("", ".")]
        todo.reverse()
        done: list[str] = []
        while todo:
            part = todo.pop()
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join([*done, part])
            entry = self.entries.get(candidate)
            if entry is None:
                if not todo:
                    return None
                done.append(part)  # layers often omit parent directory entries
                continue
            if entry.kind == "symlink":
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise SymlinkLoopError(path)
                target = entry.linkname
                if target.startswith("/"):
                    done = []
                todo.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            done.append(part)
        return "/".join(done)
