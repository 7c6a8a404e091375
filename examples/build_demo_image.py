"""Rebuild examples/demo-image, the small OCI layout `scripts/demo.sh` scans.

The content is hand-written (package names and versions are public facts about Debian,
PyPI and npm releases, chosen old enough to have known advisories); the build is
reproducible, so rerunning this script gives byte-identical blobs.

    python examples/build_demo_image.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import imagebuild as ib  # noqa: E402

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""

DPKG = [
    ("base-files", "12.4+deb12u5", None, "amd64"),
    ("bash", "5.2.15-2+b2", None, "amd64"),
    ("libc6", "2.36-9+deb12u4", "glibc", "amd64"),
    ("libssl3", "3.0.11-1~deb12u2", "openssl", "amd64"),
    ("openssl", "3.0.11-1~deb12u2", None, "amd64"),
    ("zlib1g", "1:1.2.13.dfsg-1", "zlib", "amd64"),
]

ZLIB_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: zlib

Files: *
Copyright: 1995-2022 Jean-loup Gailly and Mark Adler
License: Zlib
"""


def status() -> str:
    stanzas = []
    for name, version, source, arch in DPKG:
        lines = [f"Package: {name}", "Status: install ok installed", f"Architecture: {arch}"]
        if source:
            lines.append(f"Source: {source}")
        lines += [f"Version: {version}", f"Description: {name} (demo)", ""]
        stanzas.append("\n".join(lines))
    return "\n".join(stanzas)


def metadata(name: str, version: str, license_: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: {license_}\n\n"


SITE = "usr/local/lib/python3.11/site-packages"


def main() -> None:
    layout = HERE / "demo-image"
    shutil.rmtree(layout, ignore_errors=True)
    layers = [
        [
            ib.file("etc/os-release", OS_RELEASE),
            ib.file("var/lib/dpkg/status", status()),
            ib.file("usr/share/doc/zlib1g/copyright", ZLIB_COPYRIGHT),
        ],
        [
            ib.file(
                f"{SITE}/requests-2.25.1.dist-info/METADATA",
                metadata("requests", "2.25.1", "Apache 2.0"),
            ),
            ib.file(
                f"{SITE}/urllib3-1.26.4.dist-info/METADATA", metadata("urllib3", "1.26.4", "MIT")
            ),
            ib.file(f"{SITE}/pip-23.0.1.dist-info/METADATA", metadata("pip", "23.0.1", "MIT")),
            ib.file("app/requirements.txt", "requests==2.25.1\n"),
        ],
        [
            ib.file(
                "app/node_modules/lodash/package.json",
                '{"name": "lodash", "version": "4.17.20", "license": "MIT"}',
            ),
            ib.file(
                "app/node_modules/minimist/package.json",
                '{"name": "minimist", "version": "1.2.5", "license": "MIT"}',
            ),
            ib.file("app/package.json", '{"name": "demo-app", "version": "1.0.0"}'),
        ],
        [ib.whiteout(f"{SITE}/pip-23.0.1.dist-info")],
    ]
    ib.write_oci_layout(layout, layers, tag="latest")
    print(f"wrote {layout}")


if __name__ == "__main__":
    main()
