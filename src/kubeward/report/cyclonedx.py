"""CycloneDX 1.6 JSON SBOM of a scanned image, built with cyclonedx-python-lib.

The library owns the schema details (field names, licence choice rules, bom-ref handling),
so this module only maps kubeward's model onto it. The serial number is derived from the
content and the timestamp honours SOURCE_DATE_EPOCH, so equal scans give equal bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import BinaryIO

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependable, Dependency
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.spdx import is_supported_id
from packageurl import PackageURL

from kubeward import __version__
from kubeward.model import OSInfo, Package, ScanResult
from kubeward.report import creation_time, spdx_expression

# uuid5 namespace for serial numbers: uuid5(NAMESPACE_URL, "urn:kubeward:cyclonedx").
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:kubeward:cyclonedx")
_IMAGE_REF = "kubeward:image"


def _index_dependencies(bom: Bom) -> None:
    """Make `bom.register_dependency` find entries through a dict instead of a scan.

    `Bom.validate()`, run by every outputter, registers each component through
    `register_dependency`, which scans all entries: quadratic, about 20 s for a 5000-package
    image (cyclonedx-python-lib issue #1006). The replacement behaves the same in linear
    time. It is set on the instance because the library's serialiser only knows the
    classes it decorated, so a subclass of Bom would serialise as nothing.
    """
    index: dict[BomRef, Dependency] = {d.ref: d for d in bom.dependencies}

    def register(target: Dependable, depends_on: Iterable[Dependable] | None = None) -> None:
        entry = index.get(target.bom_ref)
        if entry is None:
            entry = Dependency(ref=target.bom_ref)
            bom.dependencies.add(entry)
            index[target.bom_ref] = entry
        if depends_on:
            targets = list(depends_on)
            entry.dependencies.update(Dependency(ref=t.bom_ref) for t in targets)
            for dependency in targets:
                register(dependency)

    bom.register_dependency = register  # type: ignore[method-assign]


def _text(value: str) -> str:
    # Lone surrogates (undecodable file names) cannot be written as UTF-8; keep the rest.
    return value.encode("utf-8", "replace").decode("utf-8")


def _licenses(texts: Iterable[str]) -> list[License]:
    """One expression when every text is SPDX, else one licence per text.

    CycloneDX allows either a single expression or a list of licences, never both. A lone
    SPDX identifier is written as `license.id`, which consumers match more readily than an
    expression.
    """
    texts = [t for t in texts if t.strip()]
    if not texts:
        return []
    normalised = [spdx_expression(t) for t in texts]
    if all(n is not None for n in normalised):
        parts = [n for n in normalised if n is not None]
        if len(parts) == 1 and is_supported_id(parts[0]):
            return [DisjunctiveLicense(id=parts[0])]
        if len(parts) == 1:
            return [LicenseExpression(parts[0])]
        return [LicenseExpression(" AND ".join(f"({p})" if " " in p else p for p in parts))]
    licenses: list[License] = []
    for text, norm in zip(texts, normalised, strict=True):
        if norm is not None and is_supported_id(norm):
            licenses.append(DisjunctiveLicense(id=norm))
        else:
            licenses.append(DisjunctiveLicense(name=_text(text)))
    return licenses


def _properties(pkg: Package) -> list[Property]:
    pairs: list[tuple[str, str]] = []
    if pkg.location.layer:
        pairs.append(("kubeward:layer", pkg.location.layer))
    if pkg.location.path:
        pairs.append(("kubeward:path", pkg.location.path))
    if pkg.source_name:
        pairs.append(("kubeward:source:name", pkg.source_name))
    if pkg.source_version:
        pairs.append(("kubeward:source:version", pkg.source_version))
    pairs.append(("kubeward:ecosystem", pkg.ecosystem))
    pairs.extend((f"kubeward:metadata:{key}", value) for key, value in pkg.metadata)
    return [Property(name=_text(name), value=_text(value)) for name, value in pairs]


def _group_and_name(pkg: Package) -> tuple[str | None, str]:
    # CycloneDX `group` is the Maven groupId or the npm scope; others keep their whole name.
    if pkg.ecosystem == "maven" and ":" in pkg.name:
        group, _, name = pkg.name.rpartition(":")
        return group, name
    if pkg.ecosystem == "npm" and pkg.name.startswith("@") and "/" in pkg.name:
        group, _, name = pkg.name.partition("/")
        return group, name
    return None, pkg.name


def _bom_refs(packages: Iterable[Package]) -> list[str]:
    """A unique bom-ref per package: its purl, with "#2", "#3" ... on repeats.

    The same package can be installed at several paths (two copies of one wheel, one per
    layer); each copy is its own component because its location differs.
    """
    refs: list[str] = []
    used: set[str] = {_IMAGE_REF}
    for index, pkg in enumerate(packages):
        base = _text(pkg.purl) if pkg.purl else f"kubeward:package:{index + 1}"
        ref, n = base, 1
        while ref in used:
            n += 1
            ref = f"{base}#{n}"
        used.add(ref)
        refs.append(ref)
    return refs


def _package_component(pkg: Package, bom_ref: str) -> Component:
    purl: PackageURL | None = None
    if pkg.purl:
        try:
            purl = PackageURL.from_string(_text(pkg.purl))
        except ValueError:
            purl = None
    group, name = _group_and_name(pkg)
    return Component(
        type=ComponentType.LIBRARY,
        bom_ref=bom_ref,
        group=_text(group) if group else None,
        name=_text(name) or "unknown",
        version=_text(pkg.version) or None,
        purl=purl,
        licenses=_licenses(pkg.licenses),
        properties=_properties(pkg),
    )


def _os_component(os: OSInfo, used: set[str]) -> Component:
    ref = base = f"kubeward:os:{_text(os.id)}"
    n = 1
    while ref in used:
        n += 1
        ref = f"{base}#{n}"
    properties = [Property(name="kubeward:path", value=_text(os.path))] if os.path else []
    if os.codename:
        properties.append(Property(name="kubeward:os:codename", value=_text(os.codename)))
    return Component(
        type=ComponentType.OPERATING_SYSTEM,
        bom_ref=ref,
        name=_text(os.id) or "unknown",
        version=_text(os.version) or None,
        description=_text(os.name) or None,
        properties=properties,
    )


def _image_component(result: ScanResult) -> Component:
    art = result.artifact
    pairs: list[tuple[str, str]] = [("kubeward:artifact:kind", art.kind)]
    if art.image_id:
        pairs.append(("kubeward:image:id", art.image_id))
    if art.repo_digest:
        pairs.append(("kubeward:image:repoDigest", art.repo_digest))
    if art.architecture:
        pairs.append(("kubeward:image:architecture", art.architecture))
    if art.os:
        pairs.append(("kubeward:image:os", art.os))
    pairs.extend(("kubeward:image:repoTag", tag) for tag in art.repo_tags)
    return Component(
        type=ComponentType.CONTAINER,
        bom_ref=_IMAGE_REF,
        name=_text(art.name) or "unknown",
        version=_text(art.repo_digest or art.image_id or "") or None,
        properties=[Property(name=name, value=_text(value)) for name, value in pairs],
    )


def serial_number(result: ScanResult) -> uuid.UUID:
    """A serial number that changes exactly when the image or its package list does."""
    digest = hashlib.sha256()
    art = result.artifact
    for part in (
        art.image_id or art.repo_digest or art.name,
        *(p.purl for p in result.inventory.packages),
    ):
        digest.update(part.encode("utf-8", "replace"))
        digest.update(b"\n")
    return uuid.uuid5(_SERIAL_NAMESPACE, digest.hexdigest())


def to_json(result: ScanResult) -> str:
    """The CycloneDX 1.6 document as JSON text (indent 2, no trailing newline)."""
    packages = result.inventory.packages
    refs = _bom_refs(packages)
    components = [_package_component(p, r) for p, r in zip(packages, refs, strict=True)]
    if result.inventory.os is not None:
        components.append(_os_component(result.inventory.os, set(refs)))
    image = _image_component(result)
    tool = Component(type=ComponentType.APPLICATION, name="kubeward", version=__version__)
    bom = Bom(
        serial_number=serial_number(result),
        metadata=BomMetaData(
            timestamp=creation_time(),
            tools=ToolRepository(components=[tool]),
            component=image,
        ),
        components=components,
    )
    _index_dependencies(bom)
    if components:
        # kubeward knows what the image holds, not how packages depend on each other:
        # the image depends on everything in it, and nothing else is claimed.
        bom.register_dependency(image, components)
    return JsonV1Dot6(bom).output_as_string(indent=2)


def write(result: ScanResult, out: BinaryIO) -> None:
    """Write `result` as a CycloneDX 1.6 JSON document."""
    out.write((to_json(result) + "\n").encode("utf-8", "replace"))
