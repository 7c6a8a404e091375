"""Compliance reports: framework specs (Pod Security Standards, NSA/CISA, CIS) as packaged
data, judged control by control from the findings of a manifest scan.

`load_spec(name)` reads a spec, `evaluate(spec, findings, ran, objects)` gives a
`ComplianceReport`; `kubeward.report.compliance` renders it as a table or JSON.
"""

from kubeward.compliance.evaluate import (
    STATUSES,
    ComplianceReport,
    ComplianceSummary,
    ControlResult,
    Status,
    evaluate,
    selected_kubernetes_checks,
)
from kubeward.compliance.spec import (
    ComplianceSpec,
    ComplianceSpecError,
    Control,
    available_specs,
    load_spec,
)

__all__ = [
    "STATUSES",
    "ComplianceReport",
    "ComplianceSpec",
    "ComplianceSpecError",
    "ComplianceSummary",
    "Control",
    "ControlResult",
    "Status",
    "available_specs",
    "evaluate",
    "load_spec",
    "selected_kubernetes_checks",
]
