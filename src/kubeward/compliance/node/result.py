"""Results of a node benchmark: one per control, in one of four states.

kube-bench reports a check that could not run (component absent, file missing) as FAIL;
on managed clusters that is most of its failures. kubeward keeps that apart: UNKNOWN means
"could not be judged here" and never counts as a failure (exit code, SARIF, JUnit failure).
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field


class Status(enum.Enum):
    PASS = "PASS"  # noqa: S105 (a verdict, not a password)
    FAIL = "FAIL"
    WARN = "WARN"  # manual control: a human must judge it (kube-bench's WARN)
    UNKNOWN = "UNKNOWN"  # could not be judged: component, file or value absent


@dataclass(frozen=True, slots=True)
class ControlResult:
    """The verdict on one control. `reason` says why in one line (for every status);
    `evidence` holds what was read, as (what, value) pairs: ("--anonymous-auth", "false"),
    ("/etc/kubernetes/manifests/kube-apiserver.yaml mode", "600")."""

    id: str  # "1.2.1"
    text: str  # "Ensure that the --anonymous-auth argument is set to false"
    status: Status
    section_id: str  # "1.2"
    section_text: str  # "API Server"
    reason: str = ""
    remediation: str = ""
    scored: bool = True
    severity: str = "MEDIUM"  # CRITICAL | HIGH | MEDIUM | LOW, for SARIF and tables
    audit: str = ""  # what was examined, for the reader (a command line or a description)
    evidence: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class BenchReport:
    """One benchmark run on one node root."""

    benchmark: str  # "cis-1.9" or a kube-bench folder name
    title: str  # "CIS Kubernetes Benchmark v1.9.0"
    node_root: str  # the --root given ("/" on a real node)
    components: dict[str, str] = field(default_factory=dict)  # detected: name -> binary path
    results: list[ControlResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        counts = Counter(result.status for result in self.results)
        return {status.value: counts.get(status, 0) for status in Status}

    @property
    def failed(self) -> bool:
        return any(result.status is Status.FAIL for result in self.results)
