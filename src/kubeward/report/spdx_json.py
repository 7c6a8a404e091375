"""SPDX 2.3 JSON SBOM of a scanned image, written from plain dicts.

Written by hand because the SPDX 2.3 JSON shape is small and fixed, and spdx-tools would
pull rdflib and friends into every install only to serialise it. Tests validate the output
with spdx-tools. The document namespace is derived from the content and the creation time
honours SOURCE_DATE_EPOCH, so equal scans give equal bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any, BinaryIO

from kubeward import __version__
from kubeward.model import OSInfo, Package, ScanResult
from kubeward.report import creation_time, spdx_expression
from kubeward.report.json_report import dump

_NOASSERTION = "NOASSERTION"
_NAMESPACE_UUID = uuid.uuid5(uuid.NAMESPACE_URL, "urn:kubeward:spdx")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
_MAX_ID = 100  # SPDX sets no limit; long ids only make documents hard to read.
# The locator rule SPDX validators apply to purls, plus no whitespace or control characters.
_PURL_LOCATOR = re.compile(r"^pkg:[^\s\x00-\x1f\x7f]+/[^\s\x00-\x1f\x7f]+$")


def _idstring(text: str) -> str:
    """`text` reduced to SPDX idstring characters (letters, digits, "." and "-")."""
    return _ID_UNSAFE.sub("-", text).strip("-")[:_MAX_ID].strip("-")


class _Ids:
    """Hands out unique idstrings, adding "-2", "-3" ... when a sanitised name repeats."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def take(self, prefix: str, text: str) -> str:
        base = f"{prefix}-{_idstring(text) or 'unnamed'}"
        ident, n = base, 1
        while ident in self._used:
            n += 1
            ident = f"{base}-{n}"
        self._used.add(ident)
        return ident


class _LicenseRefs:
    """LicenseRef- identifiers for licence texts that are not SPDX expressions."""

    def __init__(self) -> None:
        self._ids = _Ids()
        self._by_text: dict[str, str] = {}

    def ref(self, text: str) -> str:
        if text not in self._by_text:
            self._by_text[text] = self._ids.take("LicenseRef", text)
        return self._by_text[text]

    def extracted(self) -> list[dict[str, str]]:
        return [
            {"licenseId": ident, "extractedText": text} for text, ident in self._by_text.items()
        ]


def _declared(licenses: tuple[str, ...], refs: _LicenseRefs) -> str:
    # Several declared licences all apply to the package, hence AND.
    parts: list[str] = []
    for text in licenses:
        if not text.strip():
            continue
        expression = spdx_expression(text)
        if expression is None:
            parts.append(refs.ref(text))
        elif len(licenses) > 1 and " " in expression:
            parts.append(f"({expression})")
        else:
            parts.append(expression)
    return " AND ".join(parts) if parts else _NOASSERTION


def _purl_ref(purl: str) -> list[dict[str, str]]:
    from packageurl import PackageURL

    if not _PURL_LOCATOR.match(purl):
        return []
    try:
        PackageURL.from_string(purl)
    except ValueError:
        return []
    return [
        {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}
    ]


def _source_info(path: str | None, layer: str | None) -> str | None:
    if path and layer:
        return f"acquired package info from {path} in layer {layer}"
    if path:
        return f"acquired package info from {path}"
    if layer:
        return f"acquired package info from layer {layer}"
    return None


def _package(pkg: Package, spdx_id: str, refs: _LicenseRefs) -> dict[str, Any]:
    entry: dict[str, Any] = {"SPDXID": spdx_id, "name": pkg.name or "unnamed"}
    if pkg.version:
        entry["versionInfo"] = pkg.version
    entry["downloadLocation"] = _NOASSERTION
    entry["filesAnalyzed"] = False
    entry["licenseConcluded"] = _NOASSERTION
    entry["licenseDeclared"] = _declared(pkg.licenses, refs)
    entry["copyrightText"] = _NOASSERTION
    source = _source_info(pkg.location.path, pkg.location.layer)
    if source:
        entry["sourceInfo"] = source
    if pkg.purl:
        external = _purl_ref(pkg.purl)
        if external:
            entry["externalRefs"] = external
    entry["primaryPackagePurpose"] = "LIBRARY"
    return entry


def _os_package(os: OSInfo, spdx_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"SPDXID": spdx_id, "name": os.id or "unnamed"}
    if os.version:
        entry["versionInfo"] = os.version
    entry["downloadLocation"] = _NOASSERTION
    entry["filesAnalyzed"] = False
    entry["licenseConcluded"] = _NOASSERTION
    entry["licenseDeclared"] = _NOASSERTION
    entry["copyrightText"] = _NOASSERTION
    if os.path:
        entry["sourceInfo"] = f"acquired operating system info from {os.path}"
    if os.name:
        entry["description"] = os.name
    entry["primaryPackagePurpose"] = "OPERATING-SYSTEM"
    return entry


def _image_package(result: ScanResult, spdx_id: str) -> dict[str, Any]:
    art = result.artifact
    entry: dict[str, Any] = {"SPDXID": spdx_id, "name": art.name or "unnamed"}
    digest = art.repo_digest or art.image_id
    if digest:
        entry["versionInfo"] = digest
    entry["downloadLocation"] = _NOASSERTION
    entry["filesAnalyzed"] = False
    entry["licenseConcluded"] = _NOASSERTION
    entry["licenseDeclared"] = _NOASSERTION
    entry["copyrightText"] = _NOASSERTION
    entry["sourceInfo"] = f"scanned {art.kind} artifact"
    entry["primaryPackagePurpose"] = "CONTAINER"
    return entry


def to_document(result: ScanResult) -> dict[str, Any]:
    """The SPDX 2.3 document as JSON-ready data."""
    ids = _Ids()
    refs = _LicenseRefs()
    image_id = ids.take("SPDXRef", "Image")
    packages = [_image_package(result, image_id)]
    os = result.inventory.os
    if os is not None:
        packages.append(
            _os_package(os, ids.take("SPDXRef-OperatingSystem", f"{os.id}-{os.version}"))
        )
    for pkg in result.inventory.packages:
        spdx_id = ids.take("SPDXRef-Package", f"{pkg.ecosystem}-{pkg.name}-{pkg.version}")
        packages.append(_package(pkg, spdx_id, refs))
    relationships = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": image_id,
        }
    ]
    relationships.extend(
        {
            "spdxElementId": image_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": p["SPDXID"],
        }
        for p in packages[1:]
    )
    name = result.artifact.name or "unnamed"
    body: dict[str, Any] = {"packages": packages, "relationships": relationships}
    extracted = refs.extracted()
    if extracted:
        body["hasExtractedLicensingInfos"] = extracted
    # The namespace must change whenever the content does and only then, so it is a hash of
    # everything else in the document (the creation time excepted).
    digest = hashlib.sha256(
        json.dumps([name, body], sort_keys=True).encode("utf-8", "replace")
    ).hexdigest()
    namespace_id = uuid.uuid5(_NAMESPACE_UUID, digest)
    slug = _idstring(name)[:64] or "unnamed"
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"https://spdx.org/spdxdocs/kubeward/{slug}-{namespace_id}",
        "creationInfo": {
            "creators": [f"Tool: kubeward-{__version__}"],
            "created": creation_time().strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        **body,
    }


def write(result: ScanResult, out: BinaryIO) -> None:
    """Write `result` as an SPDX 2.3 JSON document."""
    dump(to_document(result), out)
