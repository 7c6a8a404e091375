"""Where Falco's shared reference data is: ``../shared/data/falco``, read in place."""

from __future__ import annotations

from pathlib import Path

import pytest

FALCO = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "falco"
FALCO_RULES = FALCO / "falcosecurity-rules" / "rules"
STABLE_RULES = FALCO_RULES / "falco_rules.yaml"
FALCO_TESTS = FALCO / "falcosecurity-falco-tests" / "test"
TRACE_FILES = FALCO_TESTS / "trace_files"
K8S_AUDIT_TRACES = TRACE_FILES / "k8s_audit"
K8SAUDIT_RULES = FALCO / "falcosecurity-plugins" / "plugins" / "k8saudit" / "rules"
K8S_AUDIT_RULES_FILE = K8SAUDIT_RULES / "k8s_audit_rules.yaml"

needs_data = pytest.mark.skipif(not FALCO.is_dir(), reason="shared Falco data not present")
