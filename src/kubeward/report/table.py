"""Human-readable report: a header line, the packages, the findings and the warnings.

Rich draws the tables on a terminal; into a pipe or a file it writes plain aligned columns,
200 wide and without colour, so the output can be grepped and diffed. Text from the image is
shown as data only: control characters are escaped (no terminal escape injection) and rich
markup in names is never interpreted.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, BinaryIO

from kubeward.model import ScanResult, Severity

if TYPE_CHECKING:
    from rich.console import Console

_PLAIN_WIDTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "blue",
    Severity.UNKNOWN: "dim",
}


def _safe(text: str | None) -> str:
    """`text` with control and bidi-override characters shown as escapes."""
    if not text:
        return ""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _header(result: ScanResult) -> str:
    if result.artifact.kind == "cluster":  # objects, not packages: the name says which cluster
        return f"cluster {_safe(result.artifact.name)}"
    os = result.inventory.os
    os_text = "unknown OS" if os is None else os.name or f"{os.id} {os.version}".strip()
    count = len(result.inventory.packages)
    noun = "package" if count == 1 else "packages"
    return f"{_safe(result.artifact.name)} ({_safe(os_text)}): {count} {noun}"


def _render(result: ScanResult, console: Console, terminal: bool) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table_box = box.SIMPLE_HEAD if terminal else None
    console.print(Text(_header(result), style="bold"))
    packages = result.inventory.packages
    if packages:
        table = Table(box=table_box, show_edge=False, pad_edge=False, header_style="bold")
        for column in ("Name", "Version", "Ecosystem", "Path"):
            table.add_column(column, overflow="fold")
        for pkg in packages:
            table.add_row(
                Text(_safe(pkg.name)),
                Text(_safe(pkg.version)),
                Text(_safe(pkg.ecosystem)),
                Text(_safe(pkg.location.path)),
            )
        console.print()
        console.print(table)
    if result.findings:
        table = Table(box=table_box, show_edge=False, pad_edge=False, header_style="bold")
        for column in ("Severity", "ID", "Package", "Installed", "Fixed", "Location", "Title"):
            table.add_column(column, overflow="fold")
        for finding in result.findings:
            affected = finding.package
            where = finding.location.resource or finding.location.path or ""
            if finding.location.line is not None:
                where = f"{where}:{finding.location.line}"
            table.add_row(
                Text(finding.severity.name, style=_SEVERITY_STYLE[finding.severity]),
                Text(_safe(finding.rule_id)),
                Text(_safe(affected.name if affected else "")),
                Text(_safe(affected.version if affected else "")),
                Text(_safe(finding.fixed_version)),
                Text(_safe(where)),
                Text(_safe(finding.title)),
            )
        console.print()
        console.print(Text(f"Findings: {len(result.findings)}", style="bold"))
        console.print(table)
    if result.warnings:
        console.print()
        console.print(Text(f"Warnings: {len(result.warnings)}", style="bold yellow"))
        for warning in result.warnings:
            console.print(Text(f"- {_safe(warning)}"))


def write(result: ScanResult, out: BinaryIO) -> None:
    """Write `result` as tables for people to read."""
    from rich.console import Console

    if out.isatty():
        # Lone surrogates from undecodable file names become "?" instead of failing the write.
        text_out = io.TextIOWrapper(out, encoding="utf-8", errors="replace", newline="\n")
        try:
            _render(result, Console(file=text_out, force_terminal=True, highlight=False), True)
            text_out.flush()
        finally:
            # Leave `out` open for the caller: detaching stops the wrapper closing it.
            text_out.detach()
        return
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=_PLAIN_WIDTH,
        force_terminal=False,
        force_jupyter=False,
        color_system=None,
        no_color=True,
        highlight=False,
        emoji=False,
    )
    _render(result, console, False)
    # Rich pads every cell to its column width; trailing blanks only get in the way of diffs.
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    out.write(("\n".join(lines) + "\n").encode("utf-8", "replace"))
