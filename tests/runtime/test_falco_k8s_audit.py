"""Falco's k8s audit regression expectations (test/falco_k8s_audit_tests.yaml), reproduced.

One case per entry of the spec: the same rules files are loaded in the same order, the same
trace file is replayed, and what Falco's test harness checks is checked here: with
``detect: False`` no alert at all; with ``detect: True`` at least one alert at
``detect_level`` and, per ``detect_counts`` entry, exactly that many alerts of that rule
(Falco's ``rule_matching: first``, which the harness ran with).

Path mapping (the spec names Falco's build tree; the data lives in ../shared/data/falco):
- BUILD_DIR/falcosecurity-rules-falco-prefix/src/falcosecurity-rules-falco/falco_rules.yaml
  -> falcosecurity-rules/rules/falco_rules.yaml
- BUILD_DIR/k8saudit-rules-prefix/src/k8saudit-rules/k8s_audit_rules.yaml
  -> falcosecurity-plugins/plugins/k8saudit/rules/k8s_audit_rules.yaml
- ./rules/..., trace_files/... -> falcosecurity-falco-tests/test/rules/..., .../trace_files/...

Name mapping: the spec (Falco tree of 2023-08) was written for that era's k8s audit rules; the
rules file in the data is the 2026 one, where a few names changed. The test follows them:
- rule "K8s Role/Clusterrole Created|Deleted" was split; the traces are ClusterRoles, so
  the expectation is on "K8s ClusterRole Created|Deleted"; likewise
  "K8s Role/Clusterrolebinding Created|Deleted" -> "K8s ClusterRoleBinding Created|Deleted";
- lists falco_{sensitive_mount,privileged,hostnetwork}_images became
  k8s_audit_{...}_images. trust_nginx_container.yaml appends to the old names, which the new
  file does not define (an append to an unknown list is a load error), so the test loads a
  copy of it with the names replaced (written to tmp_path, never to the repository), and,
  because engine_v4_k8s_audit_rules.yaml still tests the old names, a two-line shim after the
  new rules file defines each old name as the new list.

One rule cannot compile: engine_v4_k8s_audit_rules.yaml's "ClusterRole With Pod Exec Created"
applies `contains` to a list field. libsinsp refuses that when compiling ("'contains' operator
not supported list filters", flt_is_comparable); the 2023 Falco that set these expectations only
failed when evaluating that comparison, which none of the traces reach (the rule needs a role
creation). The engine leaves the rule out with that one error, and the cases expect exactly it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from falco_data import FALCO_RULES, K8SAUDIT_RULES
from falco_data import FALCO_TESTS as TESTS
from kubeward.runtime.engine import Engine
from kubeward.runtime.fields.k8s_audit import K8sAuditFields, event_timestamp_ns
from kubeward.runtime.rules import load_rules_files
from kubeward.runtime.sources.k8s_audit import read_audit_file

SPEC = TESTS / "falco_k8s_audit_tests.yaml"

FALCO_RULES_BUILD = "BUILD_DIR/falcosecurity-rules-falco-prefix/src/falcosecurity-rules-falco/"
K8SAUDIT_RULES_BUILD = "BUILD_DIR/k8saudit-rules-prefix/src/k8saudit-rules/"

RENAMED_RULES = {
    "K8s Role/Clusterrole Created": "K8s ClusterRole Created",
    "K8s Role/Clusterrole Deleted": "K8s ClusterRole Deleted",
    "K8s Role/Clusterrolebinding Created": "K8s ClusterRoleBinding Created",
    "K8s Role/Clusterrolebinding Deleted": "K8s ClusterRoleBinding Deleted",
}
RENAMED_LISTS = {
    f"falco_{kind}_images": f"k8s_audit_{kind}_images"
    for kind in ("sensitive_mount", "privileged", "hostnetwork")
}
# Falco's stats print the short priority names in upper case; detect_level is one of them.
SHORT_PRIORITY = {"Informational": "INFO"}


@dataclass(frozen=True)
class Case:
    name: str
    rules_files: tuple[str, ...]
    trace: str
    detect: bool
    detect_level: str | None
    detect_counts: dict[str, int]
    stderr_contains: str | None


class _SpecLoader(yaml.SafeLoader):
    """The spec is an Avocado YAML with a `!mux` tag: read it as a plain mapping."""


_SpecLoader.add_constructor(
    "!mux",
    lambda loader, node: loader.construct_mapping(node),  # type: ignore[arg-type]
)


def load_cases() -> list[Case]:
    spec: dict[str, Any] = yaml.load(SPEC.read_text(), Loader=_SpecLoader)
    cases = []
    for name, entry in spec["trace_files"].items():
        match = re.search(r"open_params=(\S+)", entry["addl_cmdline_opts"])
        assert match is not None, name
        counts: dict[str, int] = {}
        for item in entry.get("detect_counts", []):
            counts.update(item)
        cases.append(
            Case(
                name=name,
                rules_files=tuple(entry["rules_file"]),
                trace=match.group(1),
                detect=bool(entry["detect"]),
                detect_level=entry.get("detect_level"),
                detect_counts=counts,
                stderr_contains=entry.get("stderr_contains"),
            )
        )
    return cases


CASES = load_cases()


def map_rules_files(files: tuple[str, ...], tmp_path: Path) -> list[Path]:
    """The spec's rules files as paths in the shared data, with the name mapping applied."""
    paths: list[Path] = []
    for file in files:
        if file.startswith(FALCO_RULES_BUILD):
            paths.append(FALCO_RULES / file[len(FALCO_RULES_BUILD) :])
        elif file.startswith(K8SAUDIT_RULES_BUILD):
            paths.append(K8SAUDIT_RULES / file[len(K8SAUDIT_RULES_BUILD) :])
            shim = tmp_path / "old_list_names.yaml"
            shim.write_text(
                "".join(f"- list: {old}\n  items: [{new}]\n" for old, new in RENAMED_LISTS.items())
            )
            paths.append(shim)
        elif file.startswith("./rules/"):
            path = TESTS / file[2:]
            text = path.read_text()
            if any(old in text for old in RENAMED_LISTS):
                for old, new in RENAMED_LISTS.items():
                    text = re.sub(rf"- list: {old}\b", f"- list: {new}", text)
                path = tmp_path / path.name
                path.write_text(text)
            paths.append(path)
        else:
            raise AssertionError(f"unmapped rules file {file}")
    return paths


def test_spec_is_complete() -> None:
    # 66 entries in the spec at the reference commit; every one is a case below.
    assert len(CASES) == 66
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_falco_k8s_audit_expectation(case: Case, tmp_path: Path) -> None:
    ruleset = load_rules_files(map_rules_files(case.rules_files, tmp_path))
    assert ruleset.errors == []
    registries = {"k8s_audit": K8sAuditFields()}
    engine = Engine(ruleset, registries, event_time={"k8s_audit": event_timestamp_ns})
    expected_errors = []
    if any(f.endswith("engine_v4_k8s_audit_rules.yaml") for f in case.rules_files):
        expected_errors = [
            (
                "ClusterRole With Pod Exec Created",
                "filter error: 'contains' operator not supported list filters",
            )
        ]
    assert [(e.item_name, e.message) for e in engine.errors] == expected_errors
    assert [w for w in engine.warnings if w.code == "LOAD_UNKNOWN_FILTER"] == []

    warnings: list[str] = []
    alerts = []
    for source, event in read_audit_file(TESTS / case.trace, warnings=warnings):
        alerts.extend(engine.process(source, event))

    fired: dict[str, int] = {}
    for alert in alerts:
        fired[alert.rule] = fired.get(alert.rule, 0) + 1
    if not case.detect:
        assert fired == {}
    else:
        assert alerts, "expected detections"
        levels = {SHORT_PRIORITY.get(a.priority, a.priority).upper() for a in alerts}
        assert case.detect_level in levels
        for rule, count in case.detect_counts.items():
            assert fired.get(RENAMED_RULES.get(rule, rule), 0) == count, rule
    if case.stderr_contains is not None:
        assert any(case.stderr_contains in w for w in warnings), warnings


def test_compiled_index_steps_answer_as_the_walk_on_odd_events() -> None:
    """The k8s audit index steps read JSON fields in place (compiled): on every trace event
    and on reshaped ones (fields missing, null, of the wrong type, no auditID), the first
    matching rule is the one the plain walk (timing mode) finds."""
    ruleset = load_rules_files([K8SAUDIT_RULES / "k8s_audit_rules.yaml"])
    fast = Engine(ruleset, {"k8s_audit": K8sAuditFields()}, hostname="h")
    walk = Engine(ruleset, {"k8s_audit": K8sAuditFields()}, hostname="h", stats=True)
    step = fast._roots["k8s_audit"]
    assert callable(step)
    assert step.__code__.co_filename == "<falco index step>"
    events = [
        event
        for trace in sorted((TESTS / "trace_files" / "k8s_audit").glob("*.json"))
        for _, event in read_audit_file(trace, warnings=[])
    ]
    assert len(events) > 50
    reshaped: list[Any] = []
    for event in events:
        reshaped.append(event)
        for key, value in (
            ("objectRef", None), ("objectRef", ["x"]), ("verb", 7), ("user", "u"),
            ("stage", None), ("auditID", None),
        ):  # fmt: skip
            changed = dict(event)
            if key == "auditID":
                changed.pop(key, None)
            else:
                changed[key] = value
            reshaped.append(changed)
    fired = 0
    for event in reshaped:
        got = [a.rule for a in fast.process("k8s_audit", event)]
        assert got == [a.rule for a in walk.process("k8s_audit", event)], event
        fired += bool(got)
    assert fired > 20
    assert fast.process("k8s_audit", ["not", "a", "mapping"]) == []
