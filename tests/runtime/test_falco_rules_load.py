"""Acceptance: every Falco rules file of the reference data loads and compiles through the
real Engine with kubeward's real field registries, and the rules that do not run are counted
by reason. Target: no rule disabled for a field kubeward provides."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from falco_data import FALCO_RULES as RULES
from falco_data import K8S_AUDIT_RULES_FILE as K8S_AUDIT
from falco_data import STABLE_RULES as STABLE
from falco_data import needs_data
from kubeward.runtime.engine import Engine
from kubeward.runtime.fields.base import FieldRegistry
from kubeward.runtime.fields.k8s_audit import K8sAuditFields
from kubeward.runtime.fields.syscall import SyscallFields
from kubeward.runtime.rules import LOAD_UNKNOWN_SOURCE, load_rules_files

INCUBATING = RULES / "falco-incubating_rules.yaml"
SANDBOX = RULES / "falco-sandbox_rules.yaml"

pytestmark = needs_data

SANDBOX_DISABLED_IN_FILE = 12
"""Sandbox rules the file itself ships with ``enabled: false``."""


def registries() -> dict[str, FieldRegistry]:
    return {"syscall": SyscallFields(), "k8s_audit": K8sAuditFields()}


def load(paths: list[Path], fields: dict[str, FieldRegistry]) -> tuple[int, dict[str, int]]:
    """(rules loaded, rules not running by reason): the loader's and the engine's reasons,
    with every load and compile message required to be absent."""
    ruleset = load_rules_files(paths, fields=fields)
    assert (ruleset.errors, ruleset.warnings) == ([], [])
    engine = Engine(ruleset, fields, hostname="node-1")
    assert engine.errors == []
    assert [w.code for w in engine.warnings if w.code != LOAD_UNKNOWN_SOURCE] == []
    reasons = Counter(status for status in engine.rule_status.values() if status != "enabled")
    return len(ruleset.rules), dict(reasons)


@pytest.mark.parametrize(
    ("paths", "loaded", "not_running"),
    [
        # Falco's default configuration: the stable rules alone
        ([STABLE], 25, {}),
        ([INCUBATING], 31, {}),
        ([SANDBOX], 37, {"disabled in rules": SANDBOX_DISABLED_IN_FILE}),
        ([K8S_AUDIT], 48, {}),
        (
            [STABLE, INCUBATING, SANDBOX, K8S_AUDIT],
            25 + 31 + 37 + 48,
            {"disabled in rules": SANDBOX_DISABLED_IN_FILE},
        ),
    ],
    ids=["stable", "incubating", "sandbox", "k8s-audit", "all"],
)
def test_every_falco_rules_file_loads_and_compiles(
    paths: list[Path], loaded: int, not_running: dict[str, int]
) -> None:
    count, reasons = load(paths, registries())
    print(f"\n{', '.join(p.name for p in paths)}: {count} rules, not running: {reasons}")
    assert (count, reasons) == (loaded, not_running)
    # the target: no rule is disabled for a field kubeward provides
    assert not [reason for reason in reasons if reason.startswith(("disabled:", "error:"))]


def test_rules_of_a_source_without_fields_are_counted_by_reason() -> None:
    fields: dict[str, FieldRegistry] = {"syscall": SyscallFields()}
    ruleset = load_rules_files([STABLE, K8S_AUDIT], fields=fields)
    engine = Engine(ruleset, fields, hostname="node-1")
    assert Counter(engine.rule_status.values()) == {
        "enabled": 25,
        "no fields for source k8s_audit": 48,
    }
    assert [(w.code, w.item_name, w.message) for w in engine.warnings] == [
        (
            LOAD_UNKNOWN_SOURCE,
            "k8s_audit",
            "48 rule(s) of source k8s_audit skipped: no event fields for source k8s_audit",
        )
    ]


def test_the_stable_rules_on_ancestors_and_socket_ends_fire() -> None:
    """The two stable rules that compare every ancestor (proc.aname) and either socket end
    (fd.ip, fd.net, fd.sport lists) compile and fire through the engine."""
    fields: dict[str, FieldRegistry] = {"syscall": SyscallFields()}
    engine = Engine(
        load_rules_files([STABLE], fields=fields), fields, match_all=True, hostname="node-1"
    )

    def fired(event: dict[str, Any]) -> list[str]:
        return [alert.rule for alert in engine.process("syscall", {"evt.time": 1, **event})]

    spawned = {
        "evt.type": "execve",
        "user.name": "daemon",
        "proc.name": "ls",
        "proc.exe": "/bin/ls",
        "proc.aname": ["bash", "sshd", "systemd"],
        "container.id": "host",
    }
    assert fired(spawned) == ["System user interactive"]
    assert fired({**spawned, "proc.aname": ["bash", "cron", "systemd"]}) == []
    connect = {
        "evt.type": "connect",
        "evt.rawres": 0,
        "fd.typechar": "4",
        "fd.l4proto": "tcp",
        "proc.name": "ssh",
        "proc.exe": "/usr/bin/ssh",
        "fd.cip": "172.17.0.2",
        "fd.cport": 40000,
        "fd.sip": "203.0.113.7",
        "fd.sport": 443,
        "container.id": "host",
    }
    assert fired(connect) == ["Disallowed SSH Connection Non Standard Port"]
    assert fired({**connect, "fd.sport": 22}) == []
    assert fired({**connect, "fd.sip": "10.1.2.3"}) == []  # RFC 1918: not outbound
