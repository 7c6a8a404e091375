"""Severity of an advisory from its CVSS vectors (the `cvss` library) or the source's rating.

CVSS v4 is preferred over v3 over v2 when several are given; a numeric score alone is
banded the same way (NVD: 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10 critical).
"""

from __future__ import annotations

import functools
import logging

from kubeward.model import Severity

log = logging.getLogger(__name__)

_RATINGS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
}

_PREFERENCE = (
    "CVSS_V4",
    "CVSS_V4_SCORE",
    "CVSS_V3",
    "CVSS_V3_SCORE",
    "CVSS_V2",
    "CVSS_V2_SCORE",
    "RATING",
)


def band(score: float) -> Severity:
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.UNKNOWN


@functools.lru_cache(maxsize=8192)
def cvss_score(kind: str, value: str) -> float | None:
    """The base score of a vector or numeric score; None when it cannot be read."""
    try:
        if kind.endswith("_SCORE"):
            return float(value)
        if kind == "CVSS_V4":
            from cvss import CVSS4

            return float(CVSS4(value).base_score)
        if kind == "CVSS_V3":
            from cvss import CVSS3

            return float(CVSS3(value).scores()[0])
        if kind == "CVSS_V2":
            from cvss import CVSS2

            return float(CVSS2(value).scores()[0])
    except Exception as exc:  # the cvss library raises its own errors on malformed vectors
        log.debug("unreadable %s %r: %s", kind, value, exc)
    return None


@functools.lru_cache(maxsize=65536)
def severity_of(entries: tuple[tuple[str, str], ...]) -> tuple[Severity, str]:
    """(severity, what it came from) for an advisory's severity entries."""
    by_kind: dict[str, str] = {}
    for kind, value in entries:
        by_kind.setdefault(kind, value)
    for kind in _PREFERENCE:
        if kind not in by_kind:
            continue
        value = by_kind[kind]
        if kind == "RATING":
            rated = _RATINGS.get(value.strip().lower())
            if rated is not None:
                return rated, f"rating {value.strip().lower()}"
            continue
        score = cvss_score(kind, value)
        if score is not None:
            return band(score), f"{kind.removesuffix('_SCORE')} {score:.1f}"
    return Severity.UNKNOWN, "no severity given"
