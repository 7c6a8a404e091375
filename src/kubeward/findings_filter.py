"""Which findings a run reports and its exit code: --severity, --ignore-unfixed, --exit-code.

Kept apart from the CLI so every command (image, fs, config, k8s ...) filters the same way,
and apart from the scanners so that a scan's result is complete before anyone filters it.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from kubeward.errors import UsageError
from kubeward.model import Finding, Severity

_NAMES = ", ".join(s.name for s in Severity)


def severities_at_or_above(threshold: Severity) -> frozenset[Severity]:
    """Every severity from `threshold` up to CRITICAL."""
    return frozenset(s for s in Severity if s >= threshold)


def parse_severities(text: str) -> frozenset[Severity]:
    """The severities that `--severity TEXT` asks for.

    One name is a threshold: "HIGH" means HIGH and CRITICAL, "LOW" everything but UNKNOWN.
    A comma list is exactly those (trivy's spelling): "HIGH,CRITICAL", or "MEDIUM," for
    MEDIUM alone. Names are case-insensitive; an unknown or missing name is a UsageError.
    """
    items = [item.strip() for item in text.split(",")]
    names = [item for item in items if item]
    if not names:
        raise UsageError(f"--severity needs a severity name ({_NAMES}), not {text!r}")
    chosen: set[Severity] = set()
    for name in names:
        try:
            chosen.add(Severity.parse(name))
        except KeyError:
            raise UsageError(
                f"unknown severity {name!r} in --severity (choose from {_NAMES})"
            ) from None
    if len(items) == 1:
        return severities_at_or_above(chosen.pop())
    return frozenset(chosen)


def filter_findings(
    findings: Iterable[Finding],
    severities: Severity | Set[Severity] | None,
    ignore_unfixed: bool,
) -> tuple[Finding, ...]:
    """The findings worth reporting, in their original order.

    `severities` is a threshold (a Severity: that one and above), an exact set (from
    `parse_severities`), or None for all. `ignore_unfixed` drops vulnerabilities that no
    released version fixes yet; other kinds of finding never have a fixed version and stay.
    """
    if isinstance(severities, Severity):
        severities = severities_at_or_above(severities)
    return tuple(
        finding
        for finding in findings
        if (severities is None or finding.severity in severities)
        and not (ignore_unfixed and finding.kind == "vulnerability" and not finding.fixed_version)
    )


def exit_code_for(findings: Iterable[Finding], exit_code: int) -> int:
    """`exit_code` when any finding is left after filtering and ignoring, else 0.

    The filtering decides what counts, so `--severity CRITICAL --exit-code 1` fails only on
    critical findings. Codes outside 0-255 cannot be returned by a process.
    """
    if not 0 <= exit_code <= 255:
        raise UsageError(f"--exit-code must be between 0 and 255, not {exit_code}")
    return exit_code if any(True for _ in findings) else 0
