"""kubeward's own JSON report: exact bytes, schema conformance, determinism, hostile text."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import jsonschema
import pytest

from kubeward.model import (
    ArtifactInfo,
    Finding,
    Inventory,
    LayerInfo,
    Location,
    OSInfo,
    Package,
    ScanResult,
    Severity,
)
from kubeward.report import json_report

APP_LAYER = "sha256:" + "2" * 64

SMALL = ScanResult(
    artifact=ArtifactInfo(
        name="alpine:3.19",
        kind="docker-archive",
        image_id="sha256:" + "a" * 64,
        layers=(LayerInfo(diff_id="sha256:" + "1" * 64, size=7, created_by=""),),
    ),
    inventory=Inventory(
        os=OSInfo(id="alpine", version="3.19.1", path="etc/os-release"),
        packages=(
            Package(
                name="musl",
                version="1.2.4_git20230717-r4",
                ecosystem="apk",
                purl="pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1",
                location=Location(path="lib/apk/db/installed", layer="sha256:" + "1" * 64),
                licenses=("MIT",),
                source_name="musl",
                arch="x86_64",
                metadata=(("origin", "musl"), ("commit", "abc")),
            ),
        ),
    ),
    findings=(
        Finding(
            kind="misconfiguration",
            rule_id="KW-IMG-001",
            title="Image runs as root",
            severity=Severity.MEDIUM,
            location=Location(resource="config"),
            message="no USER set",
        ),
    ),
    warnings=("etc/passwd: too large",),
)

SMALL_GOLDEN = """\
{
  "schemaVersion": 1,
  "tool": {
    "name": "kubeward",
    "version": "0.1.0"
  },
  "source": {
    "name": "alpine:3.19",
    "kind": "docker-archive",
    "repoDigest": null,
    "repoTags": [],
    "blobs": [
      {
        "diffId": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "digest": null,
        "size": 7
      }
    ]
  },
  "artifact": {
    "imageId": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "architecture": null,
    "os": null,
    "layers": [
      {
        "diffId": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "createdBy": null
      }
    ]
  },
  "os": {
    "id": "alpine",
    "version": "3.19.1",
    "codename": null,
    "name": null,
    "path": "etc/os-release"
  },
  "packages": [
    {
      "name": "musl",
      "version": "1.2.4_git20230717-r4",
      "ecosystem": "apk",
      "purl": "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1",
      "licenses": [
        "MIT"
      ],
      "sourceName": "musl",
      "sourceVersion": null,
      "arch": "x86_64",
      "metadata": {
        "commit": "abc",
        "origin": "musl"
      },
      "location": {
        "path": "lib/apk/db/installed",
        "layer": "sha256:1111111111111111111111111111111111111111111111111111111111111111"
      }
    }
  ],
  "findings": [
    {
      "kind": "misconfiguration",
      "ruleId": "KW-IMG-001",
      "title": "Image runs as root",
      "severity": "MEDIUM",
      "location": {
        "path": null,
        "line": null,
        "endLine": null,
        "layer": null,
        "resource": "config"
      },
      "message": "no USER set",
      "remediation": null,
      "references": [],
      "package": null,
      "fixedVersion": null,
      "aliases": [],
      "evidence": {}
    }
  ],
  "warnings": [
    "etc/passwd: too large"
  ]
}
"""


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    json_report.write(result, out)
    return out.getvalue()


def report_schema() -> dict[str, Any]:
    path = resources.files("kubeward") / "data" / "schema" / "report.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def validate(document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(report_schema())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_small_report_is_exactly_the_golden_bytes() -> None:
    assert render(SMALL) == SMALL_GOLDEN.encode("utf-8")


def test_schema_file_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(report_schema())


def test_small_and_full_reports_conform_to_the_schema(full_result: ScanResult) -> None:
    assert validate(json.loads(render(SMALL))) == []
    document = json.loads(render(full_result))
    assert validate(document) == []
    assert [p["purl"] for p in document["packages"]] == [
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        "pkg:npm/%40babel/core@7.23.2",
        "pkg:pypi/inhouse@1.0",
        "pkg:pypi/requests@2.31.0",
    ]
    deb = document["packages"][0]
    assert (deb["sourceName"], deb["sourceVersion"], deb["arch"]) == (
        "openssl",
        "3.0.11-1~deb12u2",
        "amd64",
    )
    assert document["packages"][3]["licenses"] == ["Proprietary, see LICENSE.txt"]
    assert document["packages"][2]["metadata"] == {"dev": "true"}
    assert [layer["createdBy"] for layer in document["artifact"]["layers"]] == [
        None,
        "COPY app /app # buildkit",
    ]
    assert document["source"]["kind"] == "registry"
    assert document["source"]["repoDigest"] == "sha256:" + "d" * 64
    assert [(b["digest"], b["size"]) for b in document["source"]["blobs"]] == [
        ("sha256:" + "b" * 64, 1024),
        ("sha256:" + "c" * 64, 2048),
    ]
    finding = document["findings"][0]
    assert finding["severity"] == "CRITICAL"
    assert finding["fixedVersion"] == "2.15.0"
    assert finding["package"]["name"] == "org.apache.logging.log4j:log4j-core"
    assert finding["location"]["layer"] == APP_LAYER


def test_schema_rejects_a_report_with_a_missing_key() -> None:
    document = json.loads(render(SMALL))
    del document["packages"][0]["purl"]
    assert validate(document) == ["['packages', 0]: 'purl' is a required property"]


def test_only_the_source_object_depends_on_how_the_image_was_fetched(
    full_result: ScanResult,
) -> None:
    archive = dataclasses.replace(
        full_result,
        artifact=dataclasses.replace(
            full_result.artifact,
            name="/tmp/cart.tar",
            kind="docker-archive",
            repo_digest=None,
            repo_tags=(),
            layers=tuple(
                dataclasses.replace(layer, digest=None, size=None)
                for layer in full_result.artifact.layers
            ),
        ),
    )
    one, two = json.loads(render(full_result)), json.loads(render(archive))
    assert one["source"] != two["source"]
    del one["source"], two["source"]
    assert one == two


def test_no_os_and_no_packages_give_null_and_empty_lists() -> None:
    document = json.loads(render(ScanResult(artifact=ArtifactInfo(name="scratch", kind="fs"))))
    assert document["os"] is None
    assert (document["packages"], document["findings"], document["warnings"]) == ([], [], [])
    assert validate(document) == []


def test_same_result_gives_identical_bytes(
    full_result: ScanResult, build_result: Callable[..., ScanResult]
) -> None:
    rebuilt = build_result(*full_result.inventory.packages, findings=full_result.findings)
    assert render(full_result) == render(rebuilt)
    assert render(full_result).endswith(b"}\n")


def test_metadata_order_does_not_change_the_output(
    full_result: ScanResult, build_result: Callable[..., ScanResult]
) -> None:
    pkg = full_result.inventory.packages[0]
    swapped = dataclasses.replace(pkg, metadata=(("b", "2"), ("a", "1")))
    ordered = dataclasses.replace(pkg, metadata=(("a", "1"), ("b", "2")))
    assert render(build_result(swapped)) == render(build_result(ordered))
    assert json.loads(render(build_result(swapped)))["packages"][0]["metadata"] == {
        "a": "1",
        "b": "2",
    }


def test_hostile_text_gives_valid_utf8_json(hostile_result: ScanResult) -> None:
    data = render(hostile_result)
    text = data.decode("utf-8")  # strict: no lone surrogates in the output
    document = json.loads(text)
    assert validate(document) == []
    names = {p["name"] for p in document["packages"]}
    assert "</script><script>alert(1)</script>" in names
    assert "evil\x00\x01\x1b[31mred\x1b[0m\r\nname" in names
    assert "surrogate-?-byte" in names
    assert "x" * 20_000 in names
    # Control characters only ever appear escaped.
    assert not any(ord(ch) < 0x20 and ch != "\n" for ch in text)


@pytest.mark.parametrize("pkg_count", [0, 1, 3])
def test_packages_keep_inventory_order(pkg_count: int) -> None:
    packages = tuple(
        Package(name=f"p{i}", version="1", ecosystem="pypi", purl=f"pkg:pypi/p{i}@1")
        for i in reversed(range(pkg_count))
    )
    result = ScanResult(
        artifact=ArtifactInfo(name="x", kind="fs"), inventory=Inventory(packages=packages)
    )
    document = json.loads(render(result))
    assert [p["name"] for p in document["packages"]] == [p.name for p in packages]


def test_streamed_report_has_the_bytes_of_the_whole_document() -> None:
    """`dump` writes piece by piece (large cluster reports) with exactly `dumps`'s bytes,
    lone surrogates replaced, whatever the piece boundaries."""
    import random

    from kubeward.report.json_report import dump, dumps

    rng = random.Random(7)
    for _ in range(60):
        text = "x\udcff" * rng.randint(0, 3000) + "é\u202e"
        document = {
            "findings": [{"message": text, "line": i, "ok": i % 2 == 0} for i in range(40)],
            "tail": "z" * rng.randint(0, 70_000),
            "none": None,
        }
        out = io.BytesIO()
        dump(document, out)
        assert out.getvalue() == dumps(document)
    assert dumps({"a": "\udcff"}) == b'{\n  "a": "?"\n}\n'
