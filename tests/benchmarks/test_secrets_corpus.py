"""Smoke test of the secret-scanning benchmark: a small corpus's ground truth is consistent
with the bytes on disk, generation is deterministic, and scoring is exact."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str, file: str) -> ModuleType:
    # by file: benchmarks/secrets.py must not be imported as (and shadow) the stdlib `secrets`
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


corpus = _load("secrets_corpus", "secrets_corpus.py")
bench = _load("kubeward_benchmark_secrets", "secrets.py")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("corpus") / "c"
    return corpus.generate(root, size_mb=2, seed=7)


def test_ground_truth_matches_the_files(small) -> None:
    truth = small
    assert truth.total_bytes >= 2 * corpus.MB
    on_disk = [p for p in truth.root.rglob("*") if p.is_file()]
    assert len(on_disk) == truth.files == sum(truth.file_types.values())
    assert sum(p.stat().st_size for p in on_disk) == truth.total_bytes
    # the ground truth lives next to the corpus, not inside the scanned tree
    assert corpus.GroundTruth.json_path(truth.root).exists()
    assert not any(p.name.endswith(".truth.json") for p in on_disk)

    # every rule with a generator is planted; each planted value sits on its recorded line
    kinds = {p.kind for p in truth.planted}
    with_generator = set(corpus.rule_ids()) - set(truth.rules_without_generator)
    assert kinds == with_generator
    assert len(truth.planted) >= len(with_generator)
    positions = {(p.path, p.line) for p in truth.planted}
    assert len(positions) == len(truth.planted) == len(truth.positions)
    assert not positions & {(d.path, d.line) for d in truth.decoys}
    for p in truth.planted + truth.decoys:
        lines = (truth.root / p.path).read_text().split("\n")
        assert p.value in lines[p.line - 1], (p.kind, p.path, p.line)

    # file types: source, config, dot files, logs, minified JS, lock files and binaries
    types = set(truth.file_types)
    assert {"py", "go", "js", "java", "yaml", "json", "env", "k8s", "log", "minjs", "lock"} <= types
    assert {"netrc", "dockercfg", "kubeconfig"} & types
    assert any(t.startswith("bin-") for t in types)
    assert {d.kind for d in truth.decoys} >= {"placeholder", "doc-example"}

    # the JSON round-trips
    assert corpus.GroundTruth.load(truth.root) == truth


def test_generation_is_deterministic(small, tmp_path: Path) -> None:
    again = corpus.generate(tmp_path / "c", size_mb=2, seed=7)
    assert again.planted == small.planted
    assert corpus.sha256_of_tree(again.root) == corpus.sha256_of_tree(small.root)


def test_score_is_exact() -> None:
    P = corpus.Planted
    planted = [
        P("a/.env", 3, "aws-access-key-id", "AKIA...", "env"),
        P("a/.env", 7, "generic-password", "pw", "env"),
        P("b/key.pem", 1, "private-key", "-----BEGIN", "pem", span=5),
        P("c/app.py", 10, "github-pat", "ghp_...", "py"),
    ]
    reports = [
        ("a/.env", 3, "aws-access-key-id"),
        ("a/.env", 3, "generic-secret"),  # same line, second rule: one report
        ("b/key.pem", 2, "private-key"),  # inside the PEM block
        ("b/key.pem", 4, "private-key"),  # inside too: true, but the same secret
        ("c/app.py", 11, "github-pat"),  # the wrong line: a false positive and a miss
        ("d/other.txt", 1, "jwt"),
    ]
    s = bench.score(reports, planted)
    assert (s.planted, s.reported, s.true_reports, s.found) == (4, 5, 3, 2)
    assert s.recall == pytest.approx(2 / 4)
    assert s.precision == pytest.approx(3 / 5)
    assert [(p.kind, p.line) for p in s.missed] == [("generic-password", 7), ("github-pat", 10)]
    assert s.false_positives == [("c/app.py", 11, "github-pat"), ("d/other.txt", 1, "jwt")]
    empty = bench.score([], [])
    assert (empty.recall, empty.precision) == (1.0, 1.0)
