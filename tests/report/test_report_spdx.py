"""SPDX 2.3 JSON output, checked with spdx-tools' parser and full validator."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spdx_tools.spdx.parser import parse_anything
from spdx_tools.spdx.validation import document_validator

from kubeward.model import ScanResult
from kubeward.report import spdx_json

ID_RE = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    spdx_json.write(result, out)
    return out.getvalue()


def spdx_errors(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(data)
    document = parse_anything.parse_file(str(path))
    messages = document_validator.validate_full_spdx_document(document, "SPDX-2.3")
    return [m.validation_message for m in messages]


def packages_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in document["packages"]}


def test_full_result_is_valid_spdx_2_3(full_result: ScanResult, tmp_path: Path) -> None:
    data = render(full_result)
    assert spdx_errors(data, tmp_path) == []
    document = json.loads(data)
    assert (document["spdxVersion"], document["dataLicense"], document["SPDXID"]) == (
        "SPDX-2.3",
        "CC0-1.0",
        "SPDXRef-DOCUMENT",
    )
    assert document["name"] == "registry.example/shop/cart:1.4"
    assert document["creationInfo"] == {
        "creators": ["Tool: kubeward-0.1.0"],
        "created": "2024-01-02T03:04:05Z",
    }


def test_packages_have_exact_names_versions_and_purls(full_result: ScanResult) -> None:
    document = json.loads(render(full_result))
    rows = [
        (
            p["name"],
            p.get("versionInfo"),
            [r["referenceLocator"] for r in p.get("externalRefs", [])],
        )
        for p in document["packages"]
    ]
    assert rows == [
        ("registry.example/shop/cart:1.4", "sha256:" + "d" * 64, []),
        ("debian", "12", []),
        (
            "libssl3",
            "3.0.11-1~deb12u2",
            [
                "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
            ],
        ),
        (
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            ["pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"],
        ),
        ("@babel/core", "7.23.2", ["pkg:npm/%40babel/core@7.23.2"]),
        ("inhouse", "1.0", ["pkg:pypi/inhouse@1.0"]),
        ("requests", "2.31.0", ["pkg:pypi/requests@2.31.0"]),
    ]
    libssl = packages_by_name(document)["libssl3"]
    assert libssl["externalRefs"] == [
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": (
                "pkg:deb/debian/libssl3@3.0.11-1~deb12u2"
                "?arch=amd64&distro=debian-12&upstream=openssl"
            ),
        }
    ]
    assert libssl["SPDXID"] == "SPDXRef-Package-deb-libssl3-3.0.11-1-deb12u2"
    assert libssl["sourceInfo"] == (
        "acquired package info from var/lib/dpkg/status in layer sha256:" + "1" * 64
    )
    assert [p["primaryPackagePurpose"] for p in document["packages"][:3]] == [
        "CONTAINER",
        "OPERATING-SYSTEM",
        "LIBRARY",
    ]


def test_licences_are_spdx_expressions_or_declared_license_refs(full_result: ScanResult) -> None:
    document = json.loads(render(full_result))
    packages = packages_by_name(document)
    assert packages["requests"]["licenseDeclared"] == "MIT"
    assert packages["@babel/core"]["licenseDeclared"] == "MIT OR Apache-2.0"
    assert packages["inhouse"]["licenseDeclared"] == "LicenseRef-Proprietary-see-LICENSE.txt"
    assert packages["debian"]["licenseDeclared"] == "NOASSERTION"
    assert {p["licenseConcluded"] for p in document["packages"]} == {"NOASSERTION"}
    assert document["hasExtractedLicensingInfos"] == [
        {
            "licenseId": "LicenseRef-Proprietary-see-LICENSE.txt",
            "extractedText": "Proprietary, see LICENSE.txt",
        }
    ]


def test_relationships_describe_the_image_which_contains_everything(
    full_result: ScanResult,
) -> None:
    document = json.loads(render(full_result))
    relationships = document["relationships"]
    assert relationships[0] == {
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    }
    contained = [r["relatedSpdxElement"] for r in relationships[1:]]
    assert {r["relationshipType"] for r in relationships[1:]} == {"CONTAINS"}
    assert {r["spdxElementId"] for r in relationships[1:]} == {"SPDXRef-Image"}
    assert contained == [p["SPDXID"] for p in document["packages"][1:]]


def test_spdx_ids_are_unique_and_sanitised(
    full_result: ScanResult, build_result: Callable[..., ScanResult], tmp_path: Path
) -> None:
    pkg = full_result.inventory.packages[-1]
    twin = dataclasses.replace(pkg, location=dataclasses.replace(pkg.location, path="b/METADATA"))
    # "a+b" and "a_b" sanitise to the same id string.
    plus = dataclasses.replace(pkg, name="a+b", purl="pkg:pypi/a%2Bb@2.31.0")
    under = dataclasses.replace(pkg, name="a_b", purl="pkg:pypi/a-b@2.31.0")
    data = render(build_result(pkg, twin, plus, under))
    assert spdx_errors(data, tmp_path) == []
    ids = [p["SPDXID"] for p in json.loads(data)["packages"]]
    assert len(set(ids)) == len(ids)
    assert all(ID_RE.match(i) for i in ids)
    assert "SPDXRef-Package-pypi-requests-2.31.0-2" in ids
    assert {"SPDXRef-Package-pypi-a-b-2.31.0", "SPDXRef-Package-pypi-a-b-2.31.0-2"} <= set(ids)


def test_output_is_deterministic_and_namespace_follows_content(
    full_result: ScanResult, build_result: Callable[..., ScanResult]
) -> None:
    first, second = render(full_result), render(full_result)
    assert first == second
    namespace = json.loads(first)["documentNamespace"]
    assert namespace.startswith(
        "https://spdx.org/spdxdocs/kubeward/registry.example-shop-cart-1.4-"
    )
    fewer = build_result(*full_result.inventory.packages[:-1])
    assert json.loads(render(fewer))["documentNamespace"] != namespace


def test_hostile_text_still_gives_a_valid_document(
    hostile_result: ScanResult, tmp_path: Path
) -> None:
    data = render(hostile_result)
    data.decode("utf-8")
    assert spdx_errors(data, tmp_path) == []
    document = json.loads(data)
    assert all(ID_RE.match(p["SPDXID"]) for p in document["packages"])
    assert all(len(p["SPDXID"]) <= 120 for p in document["packages"])
    names = {p["name"] for p in document["packages"]}
    assert "</script><script>alert(1)</script>" in names
    assert "surrogate-?-byte" in names
    # Each hostile licence text is declared once, as extracted text, next to MIT.
    extracted = document["hasExtractedLicensingInfos"]
    assert len(extracted) == 6
    declared = packages_by_name(document)["</script><script>alert(1)</script>"]
    assert declared["licenseDeclared"] == "LicenseRef-script-script-alert-1-script AND MIT"
