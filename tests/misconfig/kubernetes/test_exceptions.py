"""`kubeward.io/ignore` annotations: on the object and on the pod template, with an end date,
and reported when unused, expired or malformed."""

from __future__ import annotations

from datetime import date

from kubeward.misconfig.kubernetes.exceptions import parse_annotation
from kubeward.misconfig.kubernetes.load import load_text
from kubeward.misconfig.kubernetes.scan import check_loaded

TODAY = date(2026, 11, 27)

PRIVILEGED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent
  namespace: ops
  annotations:
    kubeward.io/ignore: "{object}"
spec:
  template:
    metadata:
      annotations:
        kubeward.io/ignore: "{template}"
    spec:
      containers:
        - name: agent
          image: registry.example/agent:1.2
          securityContext:
            privileged: true
"""


def _scan(obj_value: str, template_value: str) -> tuple[list[tuple[str, int | None]], list[str]]:
    text = PRIVILEGED.format(object=obj_value, template=template_value)
    scan = check_loaded([load_text(text, "agent.yaml")], today=TODAY)
    found = [(f.rule_id, f.location.line) for f in scan.findings if f.rule_id == "KW-K8S-012"]
    notes = [w for w in scan.warnings if "kubeward.io/ignore" in w]
    return found, notes


def test_unannotated_privileged_container_is_found() -> None:
    found, notes = _scan("other", "other")
    assert found == [("KW-K8S-012", 18)]
    # both annotations name a check that does not fire here: each is reported unused
    assert notes == [
        "agent.yaml:7: kubeward.io/ignore on Deployment/ops/agent: other suppressed nothing "
        "(unused exception)",
        "agent.yaml:12: kubeward.io/ignore on Deployment/ops/agent: other suppressed nothing "
        "(unused exception)",
    ]


def test_object_annotation_suppresses_and_counts_as_used() -> None:
    found, notes = _scan("KW-K8S-012 the node agent needs it", "other")
    assert found == []
    assert notes == [
        "agent.yaml:12: kubeward.io/ignore on Deployment/ops/agent: other suppressed nothing "
        "(unused exception)"
    ]


def test_pod_template_annotation_suppresses() -> None:
    # KW-K8S-031 fires too (no allowPrivilegeEscalation: false): both names are used
    found, notes = _scan("other", "KW-K8S-012,KW-K8S-031 until=2027-01-31 agent")
    assert found == []
    assert notes == [
        "agent.yaml:7: kubeward.io/ignore on Deployment/ops/agent: other suppressed nothing "
        "(unused exception)"
    ]


def test_a_tag_suppresses_the_checks_it_names() -> None:
    found, _ = _scan("pss-baseline", "other")
    assert found == []


def test_expired_exception_no_longer_applies_and_is_reported() -> None:
    found, notes = _scan("KW-K8S-012 until=2026-11-26 temporary", "other")
    assert found == [("KW-K8S-012", 18)]
    assert notes[0] == (
        "agent.yaml:7: kubeward.io/ignore on Deployment/ops/agent expired on 2026-11-26, "
        "no longer applied"
    )


def test_exception_ending_today_still_applies() -> None:
    found, _ = _scan("KW-K8S-012 until=2026-11-27 last day", "other")
    assert found == []


def test_malformed_date_is_reported_and_ignored() -> None:
    found, notes = _scan("KW-K8S-012 until=2026-13-40 typo", "other")
    assert found == [("KW-K8S-012", 18)]
    assert notes[0] == (
        "agent.yaml:7: kubeward.io/ignore on Deployment/ops/agent is invalid "
        "(invalid date '2026-13-40'), ignored"
    )


def test_parse_annotation() -> None:
    assert parse_annotation("KW-K8S-001, reason") == (
        frozenset({"KW-K8S-001"}),
        None,
        "reason",
        None,
    )
    assert parse_annotation("A,B until=2027-02-03 two words") == (
        frozenset({"A", "B"}),
        date(2027, 2, 3),
        "two words",
        None,
    )
    assert parse_annotation("   ") == (frozenset(), None, "", "empty value")
