"""A rich progress bar on stderr while layers are pulled and read; only on a terminal."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class LayerProgress:
    """Implements artifact.walk.Progress and the registry's download callback."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> LayerProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def layer(self, index: int, count: int, label: str, size: int | None) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(f"reading {label}", total=size)

    def advance(self, nbytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, nbytes)

    def download(self, what: str, done: int, total: int | None) -> None:
        if self._task is None or self._progress.tasks[-1].description != f"pulling {what}":
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(f"pulling {what}", total=total)
        self._progress.update(self._task, completed=done, total=total)


def wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()
