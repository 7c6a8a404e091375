"""docs/node-checks.md is generated from the packaged node benchmarks and must not go stale."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from kubeward.compliance.node.checks import available_benchmarks, load_benchmark
from scriptmod import load_script

ROOT = Path(__file__).resolve().parents[3]


def _generator() -> ModuleType:
    return load_script("gen_node_checks_doc")


def test_docs_node_checks_md_matches_the_generator() -> None:
    expected = _generator().current()
    actual = (ROOT / "docs" / "node-checks.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/node-checks.md is stale: run .venv/bin/python scripts/gen_node_checks_doc.py"
    )


def test_every_control_of_the_oldest_benchmark_has_a_section_with_its_rule() -> None:
    text = (ROOT / "docs" / "node-checks.md").read_text(encoding="utf-8")
    oldest = available_benchmarks()[0]
    for check in load_benchmark(oldest).checks:
        start = text.index(f'<a id="{oldest}-{check.id}"></a>\n#### {check.id} {check.text}\n')
        section = text[start : text.index("- **Fix:**", start)]
        assert "- **Reads:** " in section
        assert "- **Result:** " in section
    assert (
        "- **Reads:** kube-apiserver --profiling is false; default true\n"
        "- **Result:** PASS when the rule holds, FAIL when it does not, UNKNOWN when "
        "kube-apiserver is not found.\n"
    ) in text
    assert (
        "- **Reads:** kubelet --anonymous-auth (config file: authentication.anonymous.enabled) "
        "is false; default true\n"
        "- **Result:** PASS when the rule holds, FAIL when it does not, UNKNOWN when kubelet "
        "is not found or its config file cannot be read.\n"
    ) in text
    assert (
        "- **Reads:** apiserver.manifest: mode 600 or stricter\n"
        "- **Result:** PASS when the rule holds, FAIL when it does not, UNKNOWN when the "
        "apiserver.manifest file is absent.\n"
    ) in text


def test_later_benchmarks_list_their_changes() -> None:
    text = (ROOT / "docs" / "node-checks.md").read_text(encoding="utf-8")
    assert "- [1.2.29](#cis-1.10-1.2.29): audit, note changed\n" in text
    assert "- [5.1.11](#cis-1.10-5.1.11): text changed\n" in text
