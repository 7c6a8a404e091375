"""kubeward's own JSON report: every fact the scan produced, in a stable documented shape.

The shape is documented in docs/json-schema.md and pinned by data/schema/report.schema.json.
Output is byte-identical for equal ScanResults: keys in a fixed order, packages in inventory
order, no timestamps; and for one image fetched in different ways, apart from "source".
Every key is always present; null means "not known".
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from kubeward import __version__
from kubeward.model import (
    ArtifactInfo,
    Finding,
    LayerInfo,
    Location,
    OSInfo,
    Package,
    ScanResult,
)

SCHEMA_VERSION = 1


def _opt(text: str | None) -> str | None:
    # The model uses "" for "unknown" in a few text fields; the report says null everywhere.
    return text or None


def _source(artifact: ArtifactInfo) -> dict[str, Any]:
    # Everything that depends on how the image was fetched (reference typed, transport,
    # manifest, tags, compressed blobs) lives here, so that the rest of the report is
    # byte-identical whether the image came from a registry, an archive or a daemon.
    return {
        "name": artifact.name,
        "kind": artifact.kind,
        "repoDigest": artifact.repo_digest,
        "repoTags": list(artifact.repo_tags),
        "blobs": [
            {"diffId": layer.diff_id, "digest": layer.digest, "size": layer.size}
            for layer in artifact.layers
        ],
    }


def _artifact(artifact: ArtifactInfo) -> dict[str, Any]:
    return {
        "imageId": artifact.image_id,
        "architecture": artifact.architecture,
        "os": artifact.os,
        "layers": [_layer(layer) for layer in artifact.layers],
    }


def _layer(layer: LayerInfo) -> dict[str, Any]:
    return {"diffId": layer.diff_id, "createdBy": _opt(layer.created_by)}


def _os(os: OSInfo | None) -> dict[str, Any] | None:
    if os is None:
        return None
    return {
        "id": os.id,
        "version": _opt(os.version),
        "codename": _opt(os.codename),
        "name": _opt(os.name),
        "path": os.path,
    }


def _location(location: Location) -> dict[str, Any]:
    return {
        "path": location.path,
        "line": location.line,
        "endLine": location.end_line,
        "layer": location.layer,
        "resource": location.resource,
    }


def _package(pkg: Package) -> dict[str, Any]:
    return {
        "name": pkg.name,
        "version": pkg.version,
        "ecosystem": pkg.ecosystem,
        "purl": _opt(pkg.purl),
        "licenses": list(pkg.licenses),
        "sourceName": pkg.source_name,
        "sourceVersion": pkg.source_version,
        "arch": pkg.arch,
        # Sorted so that the object does not depend on how an analyzer ordered its pairs.
        "metadata": dict(sorted(pkg.metadata)),
        "location": {"path": pkg.location.path, "layer": pkg.location.layer},
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "ruleId": finding.rule_id,
        "title": finding.title,
        "severity": finding.severity.name,
        "location": _location(finding.location),
        "message": finding.message,
        "remediation": _opt(finding.remediation),
        "references": list(finding.references),
        "package": None if finding.package is None else _package(finding.package),
        "fixedVersion": finding.fixed_version,
        "aliases": list(finding.aliases),
        "evidence": dict(sorted(finding.evidence)),
    }


def to_document(result: ScanResult) -> dict[str, Any]:
    """The report as plain JSON-ready data, for writers and tests that embed it."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": "kubeward", "version": __version__},
        "source": _source(result.artifact),
        "artifact": _artifact(result.artifact),
        "os": _os(result.inventory.os),
        "packages": [_package(pkg) for pkg in result.inventory.packages],
        "findings": [_finding(finding) for finding in result.findings],
        "warnings": list(result.warnings),
    }


def dumps(document: Any) -> bytes:
    """Indented UTF-8 JSON with a trailing newline.

    Text from images can hold lone surrogates (file names decoded with surrogateescape);
    they are written as "?" so the output is always valid UTF-8 that strict parsers accept.
    The stdlib encoder is used even when orjson is installed: the bytes must not depend on
    which optional packages a machine has, and a report is written once per scan.
    """
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8", "replace")


_CHUNK_CHARS = 1 << 16


def dump(document: Any, out: BinaryIO) -> None:
    """Write `document` as `dumps` would, piece by piece: the encoder's many small strings
    are never all held at once (a cluster's report of 35,000 findings held 200 MB of them).
    The bytes are the same: JSON pieces are whole tokens, so a lone surrogate is never cut."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False)
    pending: list[str] = []
    size = 0
    for piece in encoder.iterencode(document):
        pending.append(piece)
        size += len(piece)
        if size >= _CHUNK_CHARS:
            out.write("".join(pending).encode("utf-8", "replace"))
            pending.clear()
            size = 0
    pending.append("\n")
    out.write("".join(pending).encode("utf-8", "replace"))


def write(result: ScanResult, out: BinaryIO) -> None:
    """Write `result` as a kubeward JSON report."""
    dump(to_document(result), out)
