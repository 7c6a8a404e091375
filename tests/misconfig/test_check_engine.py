"""The check engine: registration, metadata, selection, suppression, failing checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubeward.misconfig import engine
from kubeward.misconfig.engine import CheckMeta, Selection, Violation, run_checks
from kubeward.model import Severity


@pytest.fixture
def fake_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two checks of the "image" target with their own metadata, nothing else."""
    monkeypatch.setattr(engine, "REGISTRY", engine._Registry())
    monkeypatch.setitem(engine.CHECK_MODULES, "image", ())
    meta = {
        "KW-T-001": CheckMeta(
            "KW-T-001",
            "image",
            "Runs as root",
            Severity.HIGH,
            remediation="Add USER",
            references=("https://x/1",),
            tags=("cis", "user"),
            mappings=(("cis-docker", "4.1"),),
        ),
        "KW-T-002": CheckMeta("KW-T-002", "image", "Always breaks", Severity.LOW, tags=("misc",)),
    }
    monkeypatch.setattr(engine, "load_metadata", lambda: meta)

    @engine.check("KW-T-001", "image")
    def root(subject: dict[str, str]) -> Iterator[Violation]:
        if subject.get("user", "") in ("", "root"):
            yield Violation("the image runs as root", line=3, resource="image config")

    @engine.check("KW-T-002", "image")
    def broken(subject: dict[str, str]) -> Iterator[Violation]:
        raise RuntimeError("boom")
        yield Violation("never")


@pytest.mark.usefixtures("fake_checks")
def test_findings_carry_metadata_and_a_failing_check_is_one_error() -> None:
    run = run_checks("image", {"user": ""}, path="img", layer="sha256:l")
    assert run.errors == ["KW-T-002 failed on img: RuntimeError: boom"]
    [finding] = run.findings
    assert (finding.kind, finding.rule_id, finding.title, finding.severity) == (
        "misconfiguration",
        "KW-T-001",
        "Runs as root",
        Severity.HIGH,
    )
    assert (finding.location.path, finding.location.line, finding.location.layer) == (
        "img",
        3,
        "sha256:l",
    )
    assert finding.location.resource == "image config"
    assert finding.remediation == "Add USER"
    assert finding.references == ("https://x/1",)
    assert finding.evidence == (("cis-docker", "4.1"),)
    assert run_checks("image", {"user": "app"}).findings == []


@pytest.mark.usefixtures("fake_checks")
def test_selection_by_id_or_tag_and_suppression() -> None:
    assert run_checks("image", {}, selection=Selection(disable=frozenset({"user"}))).findings == []
    only = run_checks("image", {}, selection=Selection(enable=frozenset({"KW-T-001"})))
    assert [f.rule_id for f in only.findings] == ["KW-T-001"] and only.errors == []
    quiet = run_checks(
        "image", {}, suppressed=lambda check_id, line: (check_id, line) == ("KW-T-001", 3)
    )
    assert quiet.findings == []


def test_registering_twice_or_for_an_unknown_target_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "REGISTRY", engine._Registry())
    engine.check("KW-T-009", "image")(lambda s: iter(()))
    with pytest.raises(ValueError, match="registered twice"):
        engine.check("KW-T-009", "image")(lambda s: iter(()))
    with pytest.raises(ValueError, match="unknown check target 'nowhere'"):
        engine.check("KW-T-010", "nowhere")
    with pytest.raises(ValueError, match="unknown check target 'cluster'"):
        engine.check("KW-T-010", "cluster")  # metadata only: the cluster audit runs them


def test_metadata_errors_are_one_line() -> None:
    with pytest.raises(engine.CheckMetadataError, match=r"x.yaml: check KW-1: missing 'severity'"):
        engine._parse_meta({"id": "KW-1", "target": "image", "title": "t"}, "x.yaml")
    with pytest.raises(engine.CheckMetadataError, match="unknown target 'pod'"):
        engine._parse_meta(
            {"id": "KW-1", "target": "pod", "title": "t", "severity": "LOW"}, "x.yaml"
        )
