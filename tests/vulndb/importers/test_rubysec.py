"""RubySec against the real ruby-advisory-db files (read in place) and hostile input."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from kubeward.vulndb.importers.rubysec import parse_rubysec
from kubeward.vulndb.model import Advisory, Affected, Range

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
RUBYSEC = SHARED / "osv" / "rubygems-rubysec"
needs_data = pytest.mark.skipif(not RUBYSEC.is_dir(), reason="shared data not present")


def run(data: bytes, origin: str = "gems/x/test.yml") -> tuple[list[Advisory], list[str]]:
    bad: list[str] = []
    return list(parse_rubysec(data, origin, bad.append)), bad


def read(rel: str) -> Advisory:
    advisories, bad = run((RUBYSEC / rel).read_bytes(), rel)
    assert bad == [] and len(advisories) == 1
    return advisories[0]


@needs_data
def test_actionpack_cve_2008_7248() -> None:
    a = read("gems/actionpack/CVE-2008-7248.yml")
    assert (a.id, a.source, a.aliases) == ("CVE-2008-7248", "rubysec", ("GHSA-8fqx-7pv4-3jwm",))
    assert a.summary == "Improper Input Validation in rails"
    assert a.details.startswith("Ruby on Rails 2.1 before 2.1.3 and 2.2.x before 2.2.2 does not")
    assert a.published == "2017-10-24"
    assert a.severity == (("CVSS_V2_SCORE", "6.8"),)
    assert a.affected == (
        Affected(
            "gem",
            "actionpack",
            (
                Range(
                    "CONSTRAINTS",
                    (("patched", "~> 2.1.3"), ("patched", ">= 2.2.2"), ("unaffected", "< 2.1.0")),
                ),
            ),
        ),
    )
    # url first, then related.url in order, duplicates dropped (rubygems.org 2.1.2 twice)
    assert a.references[:2] == (
        "https://weblog.rubyonrails.org/2008/11/18/potential-circumvention-of-csrf-protection-in-rails-2-1",
        "https://nvd.nist.gov/vuln/detail/CVE-2008-7248",
    )
    assert len(a.references) == 14
    assert a.references[-1] == "https://rubygems.org/gems/rails/versions/2.1.2"


@needs_data
def test_id_rule_and_scores() -> None:
    # GHSA-named file that has since got a CVE: the CVE names it
    kobako = read("gems/kobako/GHSA-7pwq-q9jf-539h.yml")
    assert (kobako.id, kobako.aliases) == ("CVE-2026-55107", ("GHSA-7pwq-q9jf-539h",))
    shopify = read("gems/shopify_app/GHSA-6j52-38f8-qhxr.yml")  # "no CVE"
    assert (shopify.id, shopify.aliases) == ("GHSA-6j52-38f8-qhxr", ())
    assert shopify.affected[0].ranges[0].events == (
        ("patched", ">= 23.0.3"),
        ("unaffected", "< 22.1.0"),
    )
    json_gem = read("gems/json/OSVDB-101157.yml")
    assert (json_gem.id, json_gem.published) == ("OSVDB-101157", "2007-05-21")
    # cvss_v4 only (a numeric score)
    assert read("gems/pagy/CVE-2026-54659.yml").severity == (("CVSS_V4_SCORE", "6.9"),)
    # "Never patched": no patched or unaffected versions -> every version affected
    cap = read("gems/cap-strap/OSVDB-108575.yml")
    assert cap.affected == (
        Affected("gem", "cap-strap", (Range("CONSTRAINTS", (("vulnerable", ">= 0"),)),)),
    )
    assert cap.severity == ()


@needs_data
def test_whole_database_totals_and_speed() -> None:
    files = sorted(RUBYSEC.glob("**/*.yml"))
    bad: list[str] = []
    advisories: list[Advisory] = []
    start = time.perf_counter()
    for path in files:
        advisories.extend(parse_rubysec(path.read_bytes(), str(path), bad.append))
    assert time.perf_counter() - start < 5
    # find gems -name '*.yml' | wc -l -> 1234; rubies/ -> 147, skipped without a warning
    assert len(files) == 1234 + 147
    assert bad == []
    assert len(advisories) == 1234
    # grep -l '^cve:' -> 1107; of the rest, grep -l '^ghsa:' -> 69; the rest all have osvdb: 58
    assert Counter(a.id.split("-")[0] for a in advisories) == {"CVE": 1107, "GHSA": 69, "OSVDB": 58}
    assert all(a.affected[0].ecosystem == "gem" and a.affected[0].ranges for a in advisories)


@needs_data
def test_rubies_skipped_silently() -> None:
    rel = "rubies/ruby/CVE-2026-46727.yml"
    assert run((RUBYSEC / rel).read_bytes(), rel) == ([], [])


BOMB = b"""\
gem: x
cve: 2020-1234
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
patched_versions: *d
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "aliases are refused"),
        (b"\xff\xfe\x00\x80", "not UTF-8"),
        ("gem: caf\u00e9\ncve: 2020-1234\n".encode("latin-1"), "not UTF-8"),
        (bytes(random.Random(5).randrange(256) for _ in range(5000)), ""),
        (b"", "top level is NoneType"),
        (b"- a\n- b\n", "top level is list"),
        (b"title: no gem\n", "no gem name"),
        (b"gem: [1, 2]\n", "no gem name"),
        (b"gem: x\ncve: CVE-nope\n", "is not a CVE number"),
        (b"gem: x\nghsa: 1234\n", "is not a GHSA id"),
        (b"gem: x\nosvdb: true\n", "is not a number"),
        (b"gem: x\ncve: 2020-1234\npatched_versions: '>= 1.0'\n", "not a list of requirement"),
        (b"gem: x\ncve: 2020-1234\npatched_versions: [[1]]\n", "not a list of requirement"),
        (b"gem: x\ncve: 2020-1234\nunaffected_versions: ['']\n", "not a list of requirement"),
        (b"gem: x\ncve: [\n", "YAML error"),
        (b"gem: !!python/name:os.system\n", "YAML error"),
        (b"gem: x\n---\ngem: y\n", "YAML error"),
    ],
)
def test_hostile_inputs_never_raise(data: bytes, message: str) -> None:
    advisories, bad = run(data)
    assert advisories == []
    assert len(bad) == 1 and message in bad[0]


def test_bad_score_is_reported_but_advisory_kept() -> None:
    data = (
        b"gem: x\ncve: 2020-1234\ncvss_v3: high\ncvss_v2: 'CVSS:2.0/AV:N'\n"
        b"patched_versions: ['>= 2']\n"
    )
    advisories, bad = run(data)
    assert bad == ["gems/x/test.yml: cvss_v3 'high' is neither a score nor a vector (ignored)"]
    assert advisories[0].severity == (("CVSS_V2", "CVSS:2.0/AV:N"),)


def test_no_ids_uses_the_file_name() -> None:
    data = b"gem: foo\ntitle: t\npatched_versions: ['>= 1.2']\n"
    advisories, bad = run(data, "gems/foo/2014-01-01.yml")
    assert bad == [] and advisories[0].id == "RUBYSEC-foo-2014-01-01"
    assert run(data, "")[1] == [": no cve, ghsa or osvdb, and no file name to name it by"]
