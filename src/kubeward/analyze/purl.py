"""Package URLs (purl spec) for every ecosystem, built in one place with packageurl-python.

OS package purls carry the distribution (`distro=debian-12`), which is only known once every
file has been read, so analyzers leave `purl` empty and `InventoryBuilder.build()` calls
`with_purl`.
"""

from __future__ import annotations

import dataclasses

from packageurl import PackageURL

from kubeward.model import ECOSYSTEMS, OSInfo, Package

# os-release ID -> purl namespace where the purl-spec or common practice (syft, trivy) differ.
_RPM_NAMESPACES = {"rhel": "redhat", "centos": "centos", "fedora": "fedora"}


def _meta(pkg: Package, key: str) -> str | None:
    for k, v in pkg.metadata:
        if k == key:
            return v
    return None


def _split_last(name: str, sep: str) -> tuple[str | None, str]:
    if sep in name:
        ns, _, base = name.rpartition(sep)
        return ns, base
    return None, name


def _distro(os: OSInfo | None) -> str | None:
    if os is None or not os.id:
        return None
    return f"{os.id}-{os.version}" if os.version else os.id


def package_url(pkg: Package, os: OSInfo | None) -> str:
    """The purl string for `pkg`, with OS qualifiers when it is an OS package."""
    ptype = ECOSYSTEMS.get(pkg.ecosystem, pkg.ecosystem)
    namespace: str | None = None
    name = pkg.name
    version = pkg.version
    qualifiers: dict[str, str] = {}
    if pkg.ecosystem in ("deb", "apk", "rpm"):
        default = {"deb": "debian", "apk": "alpine", "rpm": "redhat"}[pkg.ecosystem]
        os_id = os.id if os is not None and os.id else default
        namespace = _RPM_NAMESPACES.get(os_id, os_id) if pkg.ecosystem == "rpm" else os_id
        if pkg.arch:
            qualifiers["arch"] = pkg.arch
        distro = _distro(os)
        if distro:
            qualifiers["distro"] = distro
        if pkg.ecosystem == "rpm":
            epoch = _meta(pkg, "epoch")
            if epoch:
                qualifiers["epoch"] = epoch
                version = version.split(":", 1)[1] if ":" in version else version
            srpm = _meta(pkg, "sourceRpm")
            if srpm:
                qualifiers["upstream"] = srpm
        elif pkg.source_name and pkg.source_name != pkg.name:
            up = pkg.source_name
            if pkg.source_version and pkg.source_version != pkg.version:
                up = f"{up}@{pkg.source_version}"
            qualifiers["upstream"] = up
    elif pkg.ecosystem == "maven":
        namespace, name = _split_last(pkg.name, ":")
    elif pkg.ecosystem in ("npm", "golang", "composer"):
        namespace, name = _split_last(pkg.name, "/")
    return PackageURL(
        type=ptype,
        namespace=namespace,
        name=name,
        version=version or None,
        qualifiers=qualifiers or None,
    ).to_string()


def with_purl(pkg: Package, os: OSInfo | None) -> Package:
    """`pkg` with its purl filled in (an analyzer-set purl is kept)."""
    if pkg.purl:
        return pkg
    return dataclasses.replace(pkg, purl=package_url(pkg, os))
