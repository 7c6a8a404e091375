"""Custom checks: CEL expressions from kubeward.yaml, compiled once, run per object.

Mistakes in the section are one line with file:line (CEL syntax errors point at the
expression's own line); an expression that fails to evaluate follows `failure_policy`
(VAP's `Fail` by default: a finding that says why); runaway evaluations stop on a budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeward.misconfig.engine import load_metadata
from kubeward.misconfig.kubernetes import custom
from kubeward.misconfig.kubernetes.custom import CelCheck, load_custom_checks
from kubeward.misconfig.kubernetes.load import load_text
from kubeward.misconfig.kubernetes.scan import check_loaded
from kubeward.misconfig.settings import CheckSettingsError, parse_check_settings
from kubeward.model import Severity

SOURCE = Path("k.yaml")

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: app
        image: registry.example.com/web:1.2.3
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  labels: {team: storage}
spec:
  replicas: 3
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: Batch-Job
spec:
  template:
    spec:
      containers:
      - name: job
        image: nginx:latest
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
"""


def checks(entries: str) -> list[CelCheck]:
    return load_custom_checks(parse_check_settings("checks:\n  custom:\n" + entries, SOURCE))


def entry(expression: str, *extra: str, check_id: str = "ACME-001") -> str:
    lines = [
        f"    - id: {check_id}",
        "      title: a custom check",
        "      severity: medium",
        *(f"      {line}" for line in extra),
        f"      expression: {expression}",
    ]
    return "\n".join(lines) + "\n"


def found(entries: str, text: str = MANIFESTS, disable: tuple[str, ...] = ()) -> list[str]:
    """(id, line, resource, message) of each custom finding, as one string."""
    settings = parse_check_settings(
        "checks:\n"
        + (f"  disable: [{', '.join(disable)}]\n" if disable else "")
        + "  custom:\n"
        + entries,
        SOURCE,
    )
    settings.validate(load_metadata())
    scan = check_loaded(
        [load_text(text, "m.yaml")], settings.selection(), load_custom_checks(settings)
    )
    assert scan.warnings == []
    return [
        f"{f.rule_id} {f.location.line} {f.location.resource}: {f.message}"
        for f in scan.findings
        if not f.rule_id.startswith("KW-")
    ]


def test_passing_and_failing_objects_with_kinds_and_a_message_template() -> None:
    spec = entry(
        '"has(object.spec.replicas) && object.spec.replicas >= 2"',
        "match: {kinds: [Deployment, StatefulSet]}",
        'message: "{{ object.metadata.name }} has {{object.spec.replicas}} replica(s)"',
    )
    assert found(spec) == [
        "ACME-001 1 Deployment/web: web has 1 replica(s)",
        "ACME-001 21 Deployment/Batch-Job: Batch-Job has <no value> replica(s)",
    ]
    [check] = checks(spec)
    assert (check.meta.id, check.meta.title, check.meta.severity, check.meta.target) == (
        "ACME-001",
        "a custom check",
        Severity.MEDIUM,
        "kubernetes",
    )
    assert (check.kinds, check.meta.tags) == (frozenset({"Deployment", "StatefulSet"}), ("custom",))


def test_without_match_every_kind_is_checked_and_the_default_message_names_the_expression() -> None:
    assert found(entry("\"object.metadata.name.matches('^[a-z]+$')\"")) == [
        "ACME-001 21 Deployment/Batch-Job: failed expression: object.metadata.name.matches('^[a-z]+$')"  # noqa: E501
    ]


def test_evaluation_errors_follow_the_failure_policy() -> None:
    fail = entry('"object.spec.replicas >= 2"', "match: {kinds: [Deployment]}")
    assert found(fail) == [
        "ACME-001 1 Deployment/web: failed expression: object.spec.replicas >= 2",
        "ACME-001 21 Deployment/Batch-Job: expression could not be evaluated: no such member "
        "in mapping: 'replicas'",
    ]
    ignore = entry(
        '"object.spec.replicas >= 2"', "match: {kinds: [Deployment]}", "failure_policy: Ignore"
    )
    assert found(ignore) == [
        "ACME-001 1 Deployment/web: failed expression: object.spec.replicas >= 2"
    ]


def test_has_guards_missing_fields_at_any_depth() -> None:
    spec = entry(
        '"!has(object.metadata.labels) || !has(object.metadata.labels.team) || '
        "object.metadata.labels.team != 'storage'\""
    )
    assert found(spec) == [
        "ACME-001 13 StatefulSet/db: failed expression: !has(object.metadata.labels) || "
        "!has(object.metadata.labels.team) || object.metadata.labels.team != 'storage'"
    ]


@pytest.mark.parametrize(
    ("expression", "failing"),
    [
        ("object.metadata.name.startsWith('B')", ["web", "db", "settings"]),
        ("object.metadata.name.endsWith('b')", ["settings"]),
        ("object.metadata.name.contains('-')", ["web", "db", "settings"]),
        ("size(object.metadata.name) > 3", ["web", "db"]),
        ("object.metadata.name.lowerAscii() == object.metadata.name", ["Batch-Job"]),
        ("object.metadata.name.upperAscii().startsWith('BA')", ["web", "db", "settings"]),
        ("object.metadata.name.split('-').size() == 1", ["Batch-Job"]),
        ("object.metadata.name.split('-', 1) == [object.metadata.name]", []),
        ("['a', 'b'].join('-') == 'a-b' && ['x'].join() == 'x'", []),
        (
            "object.metadata.name.replace('t', 'T', 1) == object.metadata.name",
            ["Batch-Job", "settings"],
        ),
        ("object.metadata.name.indexOf('t') == -1", ["Batch-Job", "settings"]),
        ("object.metadata.name.lastIndexOf('t') < 3", ["settings"]),
        ("object.metadata.name.substring(0, 2) != 'se'", ["settings"]),
        ("'  x '.trim() == 'x'", []),
        (
            "!has(object.spec.template) || object.spec.template.spec.containers.all(c, "
            "!c.image.endsWith(':latest'))",
            ["Batch-Job"],
        ),
    ],
)
def test_string_functions(expression: str, failing: list[str]) -> None:
    texts = found(entry(f'"{expression}"', 'message: "{{ object.metadata.name }}"'))
    assert [text.rsplit(": ", 1)[1] for text in texts] == failing


def test_bad_types_are_evaluation_errors_not_exceptions() -> None:
    assert found(
        entry('"object.metadata.name + 1 == 2"', "match: {kinds: [ConfigMap]}")
        + entry('"object.spec.replicas"', "match: {kinds: [StatefulSet]}", check_id="ACME-002")
        + entry(
            "\"'abc'.substring(2, 9) == 'c'\"", "match: {kinds: [ConfigMap]}", check_id="ACME-003"
        )
        + entry("\"'x'.split(1) == []\"", "match: {kinds: [ConfigMap]}", check_id="ACME-004")
    ) == [
        "ACME-002 13 StatefulSet/db: expression could not be evaluated: the expression gave a "
        "int, not a bool",
        "ACME-001 32 ConfigMap/settings: expression could not be evaluated: found no matching "
        "overload for addition_add applied to '(string, int)'",
        "ACME-003 32 ConfigMap/settings: expression could not be evaluated: substring(2, 9) "
        "out of range for length 3",
        "ACME-004 32 ConfigMap/settings: expression could not be evaluated: no such overload",
    ]


def test_a_check_is_turned_off_by_id_or_by_the_custom_tag() -> None:
    two = entry('"false"') + entry('"false"', "tags: [acme]", check_id="ACME-002")
    assert [t.split(" ")[0] for t in found(two, disable=("ACME-001",))] == ["ACME-002"] * 4
    assert found(two, disable=("custom",)) == []
    assert [t.split(" ")[0] for t in found(two, disable=("acme",))] == ["ACME-001"] * 4


def test_annotations_suppress_custom_checks_like_built_in_ones() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n"
        "    kubeward.io/ignore: 'ACME-001 reviewed by the platform team'\n"
    )
    assert found(entry('"false"'), text) == []
    unannotated = text.split("  annotations:", maxsplit=1)[0]
    assert found(entry('"false"'), unannotated) == [
        "ACME-001 1 ConfigMap/c: failed expression: false"
    ]


def test_runaway_evaluations_stop_on_the_step_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(custom, "MAX_STEPS", 2_000)
    items = ", ".join(str(n) for n in range(30))
    text = f"apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w}}\nitems: [{items}]\n"
    nested = '"object.items.all(a, object.items.all(b, object.items.all(c, a + b + c >= 0)))"'
    assert found(entry(nested), text) == [
        "ACME-001 1 Widget/w: expression could not be evaluated: stopped after 2,000 evaluation "
        "steps"
    ]
    assert found(entry('"object.items.all(a, a >= 0)"'), text) == []


def test_compile_errors_name_the_file_and_the_line_of_the_expression() -> None:
    with pytest.raises(CheckSettingsError) as error:
        checks(entry('"object.spec.replicas >= "'))
    assert str(error.value) == (
        "k.yaml:6: checks.custom ACME-001: expression does not compile at column 22: "
        "unexpected end of expression"
    )
    block = (
        "    - id: ACME-001\n      title: t\n      severity: LOW\n      expression: |\n"
        "        has(object.spec) &&\n        object.spec.replicas >>= 2\n"
    )
    with pytest.raises(CheckSettingsError) as error:
        checks(block)
    assert str(error.value) == (  # the `|` block's second line is the file's eighth
        "k.yaml:8: checks.custom ACME-001: expression does not compile at its line 2, "
        "column 23: unexpected '>='"
    )
    with pytest.raises(CheckSettingsError) as error:
        checks(entry('"true"', 'message: "replicas: {{ object.spec. }}"'))
    assert str(error.value) == (
        "k.yaml:6: checks.custom ACME-001: message {{ object.spec. }} does not compile at "
        "column 12: unexpected end of expression"
    )
    with pytest.raises(CheckSettingsError) as error:
        checks(entry('"' + "(" * 40 + "true" + ")" * 40 + '"'))
    assert str(error.value) == (
        "k.yaml:6: checks.custom ACME-001: expression: the expression is nested too deeply"
    )


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("    - id: KW-K8S-900\n", "k.yaml:3: checks.custom[0]: missing 'title'"),
        (
            entry('"true"', check_id="kw-acme"),
            "k.yaml:3: checks.custom[0].id: 'kw-acme': ids starting with KW- are kubeward's own",
        ),
        (
            entry('"true"', check_id="pss"),
            "k.yaml:3: checks.custom: id 'pss' is already a tag of built-in checks",
        ),
        (
            entry('"true"') + entry('"false"'),
            "k.yaml:7: checks.custom: id 'ACME-001' is defined twice",
        ),
        (
            entry('"true"', "expr: x"),
            "k.yaml:6: checks.custom[0]: unknown key 'expr' (expected one of: id, title, "
            "severity, expression, message, match, failure_policy, remediation, tags)",
        ),
        (
            entry('"true"', "severity: urgent").replace("      severity: medium\n", ""),
            "k.yaml:5: checks.custom[0].severity: 'urgent' is not one of CRITICAL, HIGH, "
            "MEDIUM, LOW",
        ),
        (
            entry('"true"', "match: {kinds: []}"),
            "k.yaml:6: checks.custom[0].match.kinds must name at least one kind",
        ),
        (
            entry('"true"', "match: {names: [x]}"),
            "k.yaml:6: checks.custom[0].match: unknown key 'names' (expected one of: kinds)",
        ),
        (
            entry('"true"', "match: {kinds: [apps/v1]}"),
            "k.yaml:6: checks.custom[0].match.kinds: 'apps/v1' is not a kind",
        ),
        (
            entry('"true"', "failure_policy: fail"),
            "k.yaml:6: checks.custom[0].failure_policy: 'fail' is not Fail or Ignore",
        ),
        (entry("12"), "k.yaml:6: checks.custom[0].expression must be a non-empty string"),
        (
            entry('"' + "x" * 4097 + '"'),
            "k.yaml:6: checks.custom[0].expression is longer than 4096 characters",
        ),
        (
            "    - just text\n",
            "k.yaml:3: checks.custom[0] must be a mapping with id, title, severity, expression",
        ),
        ("    id: ACME-001\n", "k.yaml:3: checks.custom must be a list of checks"),
    ],
)
def test_settings_mistakes_are_one_line_with_file_and_line(entries: str, message: str) -> None:
    with pytest.raises(CheckSettingsError) as error:
        checks(entries)
    assert str(error.value) == message


def test_enable_and_disable_know_the_custom_ids_and_tags() -> None:
    settings = parse_check_settings(
        "checks:\n  enable: [ACME-001, acme, custom]\n  custom:\n"
        + entry('"true"', "tags: [acme]"),
        SOURCE,
    )
    settings.validate(load_metadata())  # raises for a name that is neither id nor tag
    assert settings.selection().enable == frozenset({"ACME-001", "acme", "custom"})
    settings = parse_check_settings("checks:\n  disable: [ACME-002]\n", SOURCE)
    with pytest.raises(CheckSettingsError) as error:
        settings.validate(load_metadata())
    assert (
        str(error.value) == "k.yaml:2: checks.disable: 'ACME-002' is neither a check id nor a tag"
    )
