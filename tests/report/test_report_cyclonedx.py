"""CycloneDX 1.6 output: strict schema validation, exact components, determinism."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from kubeward.errors import UsageError
from kubeward.model import ScanResult
from kubeward.report import cyclonedx

APP_LAYER = "sha256:" + "2" * 64


def render(result: ScanResult) -> bytes:
    out = io.BytesIO()
    cyclonedx.write(result, out)
    return out.getvalue()


def schema_errors(data: bytes) -> list[str]:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(
        data.decode("utf-8"), all_errors=True
    )
    return [str(e) for e in errors or ()]


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in document["components"]}


def props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_full_result_is_strictly_valid_cyclonedx_1_6(full_result: ScanResult) -> None:
    data = render(full_result)
    assert schema_errors(data) == []
    document = json.loads(data)
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.6")
    assert sorted(c.get("purl", "") for c in document["components"]) == [
        "",  # the operating system
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        "pkg:npm/%40babel/core@7.23.2",
        "pkg:pypi/inhouse@1.0",
        "pkg:pypi/requests@2.31.0",
    ]


def test_licences_are_ids_expressions_or_names(full_result: ScanResult) -> None:
    components = by_name(json.loads(render(full_result)))
    assert components["requests"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert components["core"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert components["libssl3"]["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert components["inhouse"]["licenses"] == [
        {"license": {"name": "Proprietary, see LICENSE.txt"}}
    ]


def test_several_licences_combine_into_one_expression_or_a_list(
    full_result: ScanResult, build_result: Callable[..., ScanResult]
) -> None:
    pkg = full_result.inventory.packages[-1]  # requests
    all_spdx = dataclasses.replace(pkg, licenses=("MIT", "GPL-2.0+ OR BSD-3-Clause"))
    mixed = dataclasses.replace(pkg, licenses=("MIT", "Some EULA"))
    for variant, expected in (
        (all_spdx, [{"expression": "MIT AND (GPL-2.0-or-later OR BSD-3-Clause)"}]),
        (mixed, [{"license": {"id": "MIT"}}, {"license": {"name": "Some EULA"}}]),
    ):
        data = render(build_result(variant))
        assert schema_errors(data) == []
        assert by_name(json.loads(data))["requests"]["licenses"] == expected


def test_components_carry_group_location_and_source(full_result: ScanResult) -> None:
    components = by_name(json.loads(render(full_result)))
    assert components["core"]["group"] == "@babel"
    assert components["log4j-core"]["group"] == "org.apache.logging.log4j"
    assert props(components["libssl3"]) == {
        "kubeward:ecosystem": "deb",
        "kubeward:layer": "sha256:" + "1" * 64,
        "kubeward:path": "var/lib/dpkg/status",
        "kubeward:source:name": "openssl",
        "kubeward:source:version": "3.0.11-1~deb12u2",
    }
    assert props(components["core"])["kubeward:metadata:dev"] == "true"
    assert props(components["requests"])["kubeward:layer"] == APP_LAYER
    os = components["debian"]
    assert (os["type"], os["version"], os["description"]) == (
        "operating-system",
        "12",
        "Debian GNU/Linux 12 (bookworm)",
    )


def test_image_is_the_metadata_component_and_depends_on_everything(
    full_result: ScanResult,
) -> None:
    document = json.loads(render(full_result))
    image = document["metadata"]["component"]
    assert (image["type"], image["name"], image["version"], image["bom-ref"]) == (
        "container",
        "registry.example/shop/cart:1.4",
        "sha256:" + "d" * 64,
        "kubeward:image",
    )
    assert props(image)["kubeward:image:id"] == "sha256:" + "a" * 64
    assert document["metadata"]["tools"]["components"] == [
        {"name": "kubeward", "type": "application", "version": "0.1.0"}
    ]
    root = next(d for d in document["dependencies"] if d["ref"] == "kubeward:image")
    assert sorted(root["dependsOn"]) == sorted(c["bom-ref"] for c in document["components"])


def test_duplicate_purls_get_distinct_bom_refs(
    full_result: ScanResult, build_result: Callable[..., ScanResult]
) -> None:
    pkg = full_result.inventory.packages[-1]
    copy = dataclasses.replace(
        pkg, location=dataclasses.replace(pkg.location, path="other/METADATA")
    )
    data = render(build_result(pkg, copy))
    assert schema_errors(data) == []
    refs = sorted(c["bom-ref"] for c in json.loads(data)["components"])
    assert refs == ["kubeward:os:debian", "pkg:pypi/requests@2.31.0", "pkg:pypi/requests@2.31.0#2"]


def test_output_is_deterministic_with_source_date_epoch(full_result: ScanResult) -> None:
    first, second = render(full_result), render(full_result)
    assert first == second
    document = json.loads(first)
    assert document["metadata"]["timestamp"] == "2024-01-02T03:04:05+00:00"
    assert document["serialNumber"] == f"urn:uuid:{cyclonedx.serial_number(full_result)}"


def test_serial_number_follows_the_content(
    full_result: ScanResult, build_result: Callable[..., ScanResult]
) -> None:
    fewer = build_result(*full_result.inventory.packages[:-1])
    assert cyclonedx.serial_number(fewer) != cyclonedx.serial_number(full_result)
    assert cyclonedx.serial_number(fewer).version == 5


def test_bad_source_date_epoch_is_a_usage_error(
    full_result: ScanResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        render(full_result)


def test_hostile_text_still_gives_a_valid_document(hostile_result: ScanResult) -> None:
    data = render(hostile_result)
    data.decode("utf-8")  # strict UTF-8
    assert schema_errors(data) == []
    document = json.loads(data)
    names = {c["name"] for c in document["components"]}
    assert "</script><script>alert(1)</script>" in names
    assert "surrogate-?-byte" in names
    assert document["metadata"]["component"]["name"] == "</script><script>alert(1)</script>"
    assert len({c["bom-ref"] for c in document["components"]}) == len(document["components"])
