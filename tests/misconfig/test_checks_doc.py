"""docs/checks.md is generated from the check metadata and must never go stale."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from kubeward.misconfig.engine import CheckMeta, load_metadata
from kubeward.model import Severity
from scriptmod import load_script

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    return load_script("gen_checks_doc")


def test_docs_checks_md_matches_the_generator() -> None:
    expected = _generator().render(load_metadata())
    actual = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/checks.md is stale: run .venv/bin/python scripts/gen_checks_doc.py"
    )


def test_every_check_has_a_section() -> None:
    text = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    for check_id in load_metadata():
        assert f'<a id="{check_id.lower()}"></a>\n### {check_id}: ' in text


def test_render_shows_every_field() -> None:
    meta = CheckMeta(
        id="KW-DF-999",
        target="dockerfile",
        title="A | pipe",
        severity=Severity.HIGH,
        description="Why it matters.",
        remediation="What to do.",
        references=("https://example.com/a",),
        tags=("cis",),
        mappings=(("hadolint", "DL3002"),),
    )
    text = _generator().render({meta.id: meta})
    assert "| [KW-DF-999](#kw-df-999) | HIGH | A \\| pipe |\n" in text
    assert text.endswith(
        '<a id="kw-df-999"></a>\n'
        "### KW-DF-999: A \\| pipe\n"
        "\n"
        "- **Severity:** HIGH\n"
        "- **Target:** dockerfile\n"
        "- **Tags:** `cis`\n"
        "- **Mappings:** hadolint `DL3002`\n"
        "\n"
        "**Rationale.** Why it matters.\n"
        "\n"
        "**Fix.** What to do.\n"
        "\n"
        "**References:**\n"
        "\n"
        "- <https://example.com/a>\n"
    )
