"""Report writers, one module per output format, imported only when asked for.

The CLI lists `WRITERS` for `--format` choices and calls `get_writer(fmt)(result, out)`;
importing a writer module lazily keeps rich and cyclonedx-python-lib off the `--help` path.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import BinaryIO

from kubeward.errors import UsageError
from kubeward.model import ScanResult

Writer = Callable[[ScanResult, BinaryIO], None]

# Longer "licence texts" are whole licence files, never expressions; skip parsing them.
_MAX_EXPRESSION = 1000

# format name -> module under kubeward.report that defines write(result, out)
WRITERS: dict[str, str] = {
    "table": "table",
    "json": "json_report",
    "cyclonedx": "cyclonedx",
    "spdx-json": "spdx_json",
    "sarif": "sarif",
}


def get_writer(fmt: str) -> Writer:
    """The `write` function for `fmt`; an unknown format is a usage error."""
    try:
        module_name = WRITERS[fmt]
    except KeyError:
        choices = ", ".join(sorted(WRITERS))
        raise UsageError(f"unknown report format {fmt!r} (choose from {choices})") from None
    module = importlib.import_module(f"{__name__}.{module_name}")
    writer: Writer = module.write
    return writer


def creation_time() -> datetime:
    """When an SBOM says it was made: SOURCE_DATE_EPOCH when set, so builds can be reproduced.

    A malformed SOURCE_DATE_EPOCH is an error, as the reproducible-builds spec asks, rather
    than a silent fall back to the clock.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"SOURCE_DATE_EPOCH must be a count of seconds, not {raw!r}") from None


@functools.lru_cache(maxsize=4096)
def spdx_expression(text: str) -> str | None:
    """The normalised SPDX licence expression for `text`, or None when it is not one.

    Only expressions made entirely of SPDX list identifiers and exceptions count: free text
    and LicenseRef- references are left to each writer to declare in its own way.
    """
    if not text or len(text) > _MAX_EXPRESSION or not text.isprintable():
        return None
    from license_expression import get_spdx_licensing

    try:
        info = get_spdx_licensing().validate(text, strict=True)
    except Exception:  # the parser raises bare errors on some malformed input
        return None
    if info.errors or not info.normalized_expression:
        return None
    return str(info.normalized_expression)
