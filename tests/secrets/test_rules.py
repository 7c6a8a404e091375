"""The packaged secret rules (kubeward/data/secrets/rules.yaml): schema, per-rule hits and near
misses, decoys and backtracking.

Every case runs twice: through a small evaluator written here from the schema in
kubeward.secrets (the whole file, every match), and through the real `SecretScanner`, whose
keyword windows the rules must also fit.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import rule_cases
import yaml
from rule_cases import CASES, Hit, Miss

import kubeward
from kubeward.ignore import glob_regex
from kubeward.secrets.engine import SecretScanner, load_placeholders, load_rules

RULES_PATH = Path(kubeward.__file__).parent / "data" / "secrets" / "rules.yaml"
DOCS_PATH = Path(__file__).parents[2] / "docs" / "secret-rules.md"
RULE_KEYS = {"id", "title", "severity", "keywords", "regex", "secret_group", "entropy"}
RULE_KEYS |= {"allow", "paths"}
SEVERITIES = {"CRITICAL", "HIGH", "MEDIUM", "LOW"}
KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")


def _document() -> dict[str, object]:
    doc = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _entries() -> list[dict[str, object]]:
    rules = _document()["rules"]
    assert isinstance(rules, list)
    return rules


ENTRIES = _entries()
RULE_IDS = [str(entry["id"]) for entry in ENTRIES]


# --- a local evaluator, written from the schema ---------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalRule:
    id: str
    keywords: tuple[bytes, ...]
    regex: re.Pattern[bytes]
    group: int
    entropy: float | None
    allow: tuple[re.Pattern[bytes], ...]
    paths: tuple[re.Pattern[str], ...]


@dataclass(frozen=True, slots=True)
class Found:
    rule: str
    secret: str
    match: str  # the whole regex match, for the keyword-position check


def _compile_rule(entry: dict[str, object]) -> LocalRule:
    keywords = entry["keywords"]
    allow = entry.get("allow", [])
    paths = entry.get("paths", [])
    entropy = entry.get("entropy")
    group = entry.get("secret_group", 0)
    assert isinstance(keywords, list) and isinstance(allow, list) and isinstance(paths, list)
    assert isinstance(group, int) and (entropy is None or isinstance(entropy, int | float))
    return LocalRule(
        id=str(entry["id"]),
        keywords=tuple(str(k).encode() for k in keywords),
        regex=re.compile(str(entry["regex"]).encode()),
        group=group,
        entropy=None if entropy is None else float(entropy),
        allow=tuple(re.compile(str(a).encode()) for a in allow),
        paths=tuple(glob_regex(str(p)) for p in paths),
    )


LOCAL_RULES = [_compile_rule(entry) for entry in ENTRIES]


def _placeholders() -> tuple[tuple[bytes, ...], tuple[re.Pattern[bytes], ...]]:
    values = _document().get("placeholders", [])
    assert isinstance(values, list)
    texts = tuple(v.lower().encode() for v in values if not _is_regex(v))
    regexes = tuple(re.compile(v[1:-1].encode(), re.IGNORECASE) for v in values if _is_regex(v))
    return texts, regexes


def _is_regex(value: str) -> bool:
    return len(value) > 2 and value.startswith("/") and value.endswith("/")


PLACEHOLDER_TEXT, PLACEHOLDER_REGEX = _placeholders()


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(data).values()
    return -sum(n / len(data) * math.log2(n / len(data)) for n in counts) if data else 0.0


def _accepted(rule: LocalRule, secret: bytes) -> bool:
    if rule.entropy is not None:
        if entropy(secret) < rule.entropy:
            return False
        if any(p in secret.lower() for p in PLACEHOLDER_TEXT):
            return False
        if any(p.search(secret) for p in PLACEHOLDER_REGEX):
            return False
    return not any(a.search(secret) for a in rule.allow)


def local_scan(text: str, path: str, rules: list[LocalRule] = LOCAL_RULES) -> list[Found]:
    """Every accepted match of every rule whose paths and keywords fit, in file order."""
    data = text.encode()
    lowered = data.lower()
    path = path.lstrip("/")
    found: list[tuple[int, Found]] = []
    for rule in rules:
        if rule.paths and not any(p.match(path) for p in rule.paths):
            continue
        if not any(k in lowered for k in rule.keywords):
            continue
        for m in rule.regex.finditer(data):
            secret = m.group(rule.group)
            if secret and _accepted(rule, secret):
                item = Found(rule.id, secret.decode(), m.group(0).decode())
                found.append((m.start(rule.group), item))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


# --- the engine --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanner() -> SecretScanner:
    return SecretScanner(load_rules(RULES_PATH), load_placeholders(RULES_PATH))


def engine_scan(scanner: SecretScanner, text: str, path: str) -> list[tuple[str, str, int]]:
    """(rule id, secret, line) of every engine match."""
    return [(m.rule.id, m.secret.decode(), m.line) for m in scanner.scan(text.encode(), path)]


def _hits(rule_id: str) -> list[Hit]:
    return list(CASES[rule_id].hits)


def _misses(rule_id: str) -> list[Miss]:
    return list(CASES[rule_id].misses)


# --- the file and its schema -------------------------------------------------------------------


def test_rule_file_has_only_rules_and_placeholders() -> None:
    assert set(_document()) == {"rules", "placeholders"}
    assert len(ENTRIES) >= 80


def test_rule_ids_are_unique_kebab_case() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS))
    assert [i for i in RULE_IDS if not KEBAB.match(i)] == []


@pytest.mark.parametrize("entry", ENTRIES, ids=RULE_IDS)
def test_rule_entry_follows_the_schema(entry: dict[str, object]) -> None:
    assert set(entry) <= RULE_KEYS
    assert {"id", "title", "severity", "keywords", "regex"} <= set(entry)
    assert isinstance(entry["title"], str) and entry["title"].strip()
    assert entry["severity"] in SEVERITIES
    keywords = entry["keywords"]
    assert isinstance(keywords, list) and keywords
    for keyword in keywords:
        assert isinstance(keyword, str) and keyword == keyword.lower()
        assert keyword.isascii() and 3 <= len(keyword) <= 64
    regex = str(entry["regex"])
    assert regex.isascii()
    compiled = re.compile(regex.encode())
    group = entry.get("secret_group", 0)
    assert isinstance(group, int) and 0 <= group <= compiled.groups
    if "secret_group" in entry:
        assert compiled.groups >= 1
    entropy_gate = entry.get("entropy")
    assert entropy_gate is None or (isinstance(entropy_gate, float) and 0 < entropy_gate <= 8)
    for allow in entry.get("allow", []):  # type: ignore[attr-defined]
        re.compile(str(allow).encode())
    for glob in entry.get("paths", []):  # type: ignore[attr-defined]
        glob_regex(str(glob))


def test_placeholders_are_lower_case_or_regexes() -> None:
    values = _document()["placeholders"]
    assert isinstance(values, list) and values
    for value in values:
        assert isinstance(value, str)
        if _is_regex(value):
            re.compile(value[1:-1].encode())
        else:
            assert value == value.lower()
    for word in ("changeme", "example", "xxxx", "${", "{{", "dummy", "redacted", "your_"):
        assert word in values


def test_engine_loads_the_same_rules() -> None:
    assert [rule.id for rule in load_rules(RULES_PATH)] == RULE_IDS


def test_every_rule_has_hits_and_misses() -> None:
    assert sorted(CASES) == sorted(RULE_IDS)
    for rule_id in RULE_IDS:
        assert CASES[rule_id].hits, rule_id
        assert CASES[rule_id].misses, rule_id


def test_catalogue_lists_every_rule() -> None:
    lines = DOCS_PATH.read_text(encoding="utf-8").splitlines()
    listed = [m.group(1) for line in lines if (m := re.match(r"\| `([a-z0-9-]+)` \|", line))]
    assert listed == RULE_IDS


# --- hits and misses, rule by rule ------------------------------------------------------------


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_finds_its_secrets(rule_id: str) -> None:
    rule = next(r for r in LOCAL_RULES if r.id == rule_id)
    for hit in _hits(rule_id):
        found = [f for f in local_scan(hit.text, hit.path) if f.rule == rule_id]
        assert [f.secret for f in found] == hit.secrets, hit.text[:200]
        for f in found:
            # the engine only runs a rule from the line of a keyword hit onwards
            first_line = f.match.split("\n", 1)[0].lower().encode()
            assert any(k in first_line for k in rule.keywords), f.match[:200]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_engine_finds_each_rules_secrets(scanner: SecretScanner, rule_id: str) -> None:
    for hit in _hits(rule_id):
        found = [f for f in engine_scan(scanner, hit.text, hit.path) if f[0] == rule_id]
        assert [secret for _, secret, _ in found] == hit.secrets, hit.text[:200]
        line = hit.text[: hit.text.index(hit.secret)].count("\n") + 1
        assert found[0][2] == line


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_skips_its_near_misses(scanner: SecretScanner, rule_id: str) -> None:
    for miss in _misses(rule_id):
        local = [f.secret for f in local_scan(miss.text, miss.path) if f.rule == rule_id]
        engine = [f[1] for f in engine_scan(scanner, miss.text, miss.path) if f[0] == rule_id]
        assert local == [], miss.text[:200]
        assert engine == [], miss.text[:200]


def test_decoys_match_no_rule(scanner: SecretScanner) -> None:
    for path, text in rule_cases.decoys():
        assert [(f.rule, f.secret) for f in local_scan(text, path)] == [], path
        assert engine_scan(scanner, text, path) == [], path


# --- backtracking ------------------------------------------------------------------------------


def adversarial_text(size: int = 1024 * 1024) -> str:
    """Long runs of token alphabets and every rule's keywords repeated back to back."""
    rng = random.Random(7)
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    keywords = sorted({k.decode() for rule in LOCAL_RULES for k in rule.keywords})
    parts = [
        "".join(rng.choice(b64) for _ in range(150_000)),
        "A" * 50_000,
        "0" * 30_000 + "\n",
        "eyJ" * 10_000 + "." + "eyJ" * 10_000,
        "ghp_" * 5_000,
        "AKIA" * 5_000,
        "-----BEGIN RSA PRIVATE KEY-----\n" * 1_000,
        "-----BEGIN PRIVATE KEY-----\n" + "MIIE" * 4_000 + "\n",
        "password=" * 5_000,
        "name: DB_PASSWORD\n" * 1_000,
        "  user:\n    a: b\n" * 2_000,
        "twilio " * 3_000 + "SK" * 3_000,
        "postgres://" * 2_000 + "a:" * 5_000,
        '"auth": "' * 3_000,
        "sig=&sv=" * 3_000,
        "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: x\n" * 500,
        "db:5432:" * 3_000,
    ]
    parts += [(k + " ") * 200 for k in keywords]
    text = "".join(parts)
    while len(text) < size:
        text += "".join(rng.choice(b64 + "\n:=._-") for _ in range(min(65_536, size - len(text))))
    return text[:size]


def test_rules_do_not_backtrack_on_adversarial_input(scanner: SecretScanner) -> None:
    """All rules over 1 MiB that fires every keyword: the engine in < 2 s, and each rule on its
    own over the whole text (no keyword windows to hide a slow regex) in < 0.25 s."""
    text = adversarial_text()
    assert len(text) == 1024 * 1024
    started = time.perf_counter()
    scanner.scan(text.encode(), "home/app/.pgpass")
    assert time.perf_counter() - started < 2.0
    slow: list[tuple[str, float]] = []
    for rule in LOCAL_RULES:
        started = time.perf_counter()
        local_scan(text, "home/app/.pgpass", [rule])
        elapsed = time.perf_counter() - started
        if elapsed >= 0.25:
            slow.append((rule.id, round(elapsed, 2)))
    assert slow == []
