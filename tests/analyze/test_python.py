# ruff: noqa: E501  (fixtures keep the long lines the real tools write)

import importlib.metadata
import re
import sysconfig
from pathlib import Path

import pytest

from kubeward.analyze import python as pymod
from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext, ScanMode
from kubeward.analyze.python import PythonAnalyzer, parse_requirements
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

LAYER = "sha256:" + "ab" * 32


def scan(path: str, data: bytes, mode: ScanMode = "fs") -> InventoryBuilder:
    analyzer = PythonAnalyzer(ScanContext(mode=mode))
    assert analyzer.wants(path, 0o644)
    facts = InventoryBuilder()
    analyzer.analyze(AnalyzedFile(path=path, data=data, layer=LAYER), facts)
    analyzer.finish(facts)
    return facts


def pkg(
    name: str,
    version: str,
    path: str,
    *,
    line: int | None = None,
    licenses: tuple[str, ...] = (),
    dev: bool = False,
) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem="pypi",
        purl="",
        location=Location(path=path, line=line, layer=LAYER),
        licenses=licenses,
        metadata=(("dev", "true"),) if dev else (),
    )


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- installed metadata -----------------------------------------------------------------


def test_matches_importlib_metadata_on_real_site_packages() -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    assert (site / "pytest").is_dir(), site
    candidates = [
        *site.glob("*.dist-info/METADATA"),
        *site.glob("*.egg-info/PKG-INFO"),
        *(p for p in site.glob("*.egg-info") if p.is_file()),
    ]
    facts = InventoryBuilder()
    analyzer = PythonAnalyzer(ScanContext(mode="image"))
    for file in candidates:
        rel = "usr/lib/python3.11/site-packages/" + file.relative_to(site).as_posix()
        assert analyzer.wants(rel, 0o644), rel
        analyzer.analyze(AnalyzedFile(path=rel, data=file.read_bytes(), layer=LAYER), facts)
    found = {(canonical(p.name), p.version) for p in facts.packages}
    expected = {
        (canonical(d.metadata["Name"]), d.version)
        for d in importlib.metadata.distributions(path=[str(site)])
    }
    assert len(expected) > 20
    assert found == expected
    assert facts.warnings == []
    assert all(p.ecosystem == "pypi" and p.purl == "" for p in facts.packages)
    own = [p for p in facts.packages if p.name == "kubeward"]
    assert [p.licenses for p in own] == [(normalize_license("Apache-2.0"),)]


def test_metadata_fields_and_licence_precedence() -> None:
    path = "usr/lib/python3/dist-packages/Flask_Cors-4.0.0.dist-info/METADATA"
    data = (
        b"Metadata-Version: 2.1\r\n"
        b"Name: Flask-Cors\r\n"
        b"Version: 4.0.0\r\n"
        b"License: MIT\r\n"
        b"Classifier: License :: OSI Approved :: MIT License\r\n"
        b"\r\n"
        b"Name: not-a-header\r\n"
    )
    assert scan(path, data, "image").packages == [
        pkg("Flask-Cors", "4.0.0", path, licenses=(normalize_license("MIT"),))
    ]


def test_license_expression_wins_over_license_and_classifiers() -> None:
    path = "app/.venv/lib/python3.12/site-packages/packaging-24.1.dist-info/METADATA"
    data = (
        b"Metadata-Version: 2.4\n"
        b"Name: packaging\n"
        b"Version: 24.1\n"
        b"License: BSD\n"
        b"License-Expression: Apache-2.0 OR BSD-2-Clause\n"
        b"Classifier: License :: OSI Approved :: Apache Software License\n"
    )
    facts = scan(path, data, "image")
    assert facts.packages == [
        pkg("packaging", "24.1", path, licenses=(normalize_license("Apache-2.0 OR BSD-2-Clause"),))
    ]


def test_full_licence_text_falls_back_to_classifiers() -> None:
    path = "usr/local/lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA"
    data = (
        b"Metadata-Version: 2.1\n"
        b"Name: numpy\n"
        b"Version: 1.26.4\n"
        b"License: Copyright (c) 2005-2023, NumPy Developers.\n"
        b"        All rights reserved.\n"
        b"        \n"
        b"        Redistribution and use in source and binary forms, with or without\n"
        b"Classifier: Development Status :: 5 - Production/Stable\n"
        b"Classifier: License :: OSI Approved :: BSD License\n"
        b"Classifier: License :: OSI Approved\n"
        b"Classifier: License :: OSI Approved :: BSD License\n"
        b"Classifier: License :: Public Domain\n"
        b"\n"
        b"Long description\n"
    )
    assert scan(path, data, "image").packages == [
        pkg(
            "numpy",
            "1.26.4",
            path,
            licenses=(normalize_license("BSD License"), normalize_license("Public Domain")),
        )
    ]


def test_unknown_and_overlong_license_are_ignored() -> None:
    path = "site-packages/isoduration-20.11.0.dist-info/METADATA"
    data = b"Name: isoduration\nVersion: 20.11.0\nLicense: UNKNOWN\n"
    assert scan(path, data, "image").packages == [pkg("isoduration", "20.11.0", path)]
    data = b"Name: x\nVersion: 1\nLicense: " + b"word " * 40 + b"\n"
    assert scan(path, data, "image").packages == [pkg("x", "1", path)]


def test_egg_info_directory_and_file() -> None:
    data = b"Metadata-Version: 1.1\nName: python-apt\nVersion: 2.6.0\nLicense: GPL\n"
    d = "usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info/PKG-INFO"
    f = "usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info"
    e = "usr/lib/python3.11/site-packages/six-1.16.0-py3.11.egg/EGG-INFO/PKG-INFO"
    lic = (normalize_license("GPL"),)
    assert scan(d, data, "image").packages == [pkg("python-apt", "2.6.0", d, licenses=lic)]
    assert scan(f, data, "image").packages == [pkg("python-apt", "2.6.0", f, licenses=lic)]
    assert scan(e, data, "image").packages == [pkg("python-apt", "2.6.0", e, licenses=lic)]


def test_wants_only_metadata_inside_dist_info() -> None:
    analyzer = PythonAnalyzer(ScanContext(mode="image"))
    assert not analyzer.wants("METADATA", 0o644)
    assert not analyzer.wants("usr/share/doc/foo/METADATA", 0o644)
    assert not analyzer.wants("src/pkg/PKG-INFO", 0o644)
    assert not analyzer.wants("notes.txt", 0o644)
    assert analyzer.wants("a/b/c-1.0.dist-info/METADATA", 0o644)


# --- hostile installed metadata -------------------------------------------------------------


def test_binary_metadata_is_warned_and_skipped() -> None:
    path = "site-packages/evil-1.0.dist-info/METADATA"
    facts = scan(path, bytes(range(256)) * 64, "image")
    assert facts.packages == []
    assert facts.warnings == [f"{path}: skipped, no valid Name and Version"]


def test_non_utf8_author_keeps_package_but_bad_name_is_skipped() -> None:
    path = "site-packages/legacy-0.3.dist-info/METADATA"
    data = b"Name: legacy\nVersion: 0.3\nAuthor: Fran\xe7ois\n\n"
    assert scan(path, data, "image").packages == [pkg("legacy", "0.3", path)]
    facts = scan(path, b"Name: leg\xe7acy\nVersion: 0.3\n", "image")
    assert facts.packages == []
    assert facts.warnings == [f"{path}: skipped, no valid Name and Version"]


def test_huge_description_is_not_parsed() -> None:
    path = "site-packages/big-2.0.dist-info/METADATA"
    data = b"Name: big\nVersion: 2.0\n\n" + b"Name: other\n" * 4_000_000
    assert scan(path, data, "image").packages == [pkg("big", "2.0", path)]


# --- requirements ----------------------------------------------------------------------------

REQUIREMENTS = b"""\
# pinned by pip-compile
--index-url https://pypi.org/simple
-r base.txt
-c constraints.txt
-e ./localpkg
requests[socks,security]==2.31.0 ; python_version >= "3.7"
urllib3==2.0.4 \\
    --hash=sha256:8d22f86aae8ef5e410d4f539fde9ce6b2113a001bb4d189e0aed70642d602b11 \\
    --hash=sha256:de7df1803967d2c2a98e4b11bb7d6bd9210474c46e8a0401514e3a42a75ebde4
    # via requests
Django >= 4.2
flask
numpy==1.*
attrs===23.1.0
certifi==2023.7.22  # via requests
git+https://github.com/pallets/click.git@8.1.7#egg=click
pkg @ https://example.com/pkg-1.0.tar.gz
  idna == 3.4
six==1.16.0,<2
#commented==1.0
"""


def test_requirements_pins() -> None:
    path = "srv/app/requirements-prod.txt"
    assert scan(path, REQUIREMENTS).packages == [
        pkg("requests", "2.31.0", path, line=6),
        pkg("urllib3", "2.0.4", path, line=7),
        pkg("attrs", "23.1.0", path, line=14),
        pkg("certifi", "2023.7.22", path, line=15),
        pkg("idna", "3.4", path, line=18),
    ]


def test_parse_requirements_edge_cases() -> None:
    assert parse_requirements("a==1\\\n\\\n\n") == [(1, "a", "1")]
    assert parse_requirements("Foo_Bar.baz==1.0+cpu;sys_platform=='linux'") == [
        (1, "Foo_Bar.baz", "1.0+cpu")
    ]


def test_requirements_with_bom() -> None:
    facts = scan("requirements.txt", b"\xef\xbb\xbfzope.interface==6.0\n")
    assert facts.packages == [pkg("zope.interface", "6.0", "requirements.txt", line=1)]


# --- lock files -----------------------------------------------------------------------------

POETRY_LOCK = b"""\
# This file is automatically @generated by Poetry 1.4.2 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2023.7.22"
description = "Python package for providing Mozilla's CA Bundle."
category = "main"
optional = false
python-versions = ">=3.6"
files = [
    {file = "certifi-2023.7.22-py3-none-any.whl", hash = "sha256:92d6037539857d8206b8f6ae472e8b77db8058fec5937a1ef3f54304089edbb9"},
]

[[package]]
name = "Pygments"
version = "2.16.1"
description = "Pygments is a syntax highlighting package written in Python."
category = "dev"
optional = false
python-versions = ">=3.7"
files = []

[package.extras]
plugins = ["importlib-metadata"]

[[package]]
name = "mylib"
version = "0.1.0"
description = ""
category = "main"
optional = false
python-versions = "^3.11"
files = []
develop = true

[package.source]
type = "directory"
url = "libs/mylib"

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "1f2b8a1fbc4a4cfa3b5c5fd8e1b8f2c0f1d6b1c6a1e1f2f1d3d6a1a1a1a1a1a1"
"""


def test_poetry_lock() -> None:
    path = "poetry.lock"
    assert scan(path, POETRY_LOCK).packages == [
        pkg("certifi", "2023.7.22", path),
        pkg("Pygments", "2.16.1", path, dev=True),
        pkg("mylib", "0.1.0", path),
    ]


PIPFILE_LOCK = b"""\
{
    "_meta": {
        "hash": {"sha256": "7f7606f08e0544d8d012ef4d097dabdd6df6843a28793eb6551245d4b2db4242"},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.11"},
        "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]
    },
    "default": {
        "requests": {
            "hashes": ["sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f"],
            "index": "pypi",
            "markers": "python_version >= '3.7'",
            "version": "==2.31.0"
        },
        "mylib": {"editable": true, "path": "."},
        "django": {"git": "https://github.com/django/django.git", "ref": "4.2.4"}
    },
    "develop": {
        "pytest": {"hashes": [], "index": "pypi", "version": "==7.4.0"}
    }
}
"""


def test_pipfile_lock() -> None:
    path = "app/Pipfile.lock"
    assert scan(path, PIPFILE_LOCK).packages == [
        pkg("requests", "2.31.0", path),
        pkg("pytest", "7.4.0", path, dev=True),
    ]


UV_LOCK = b"""\
version = 1
requires-python = ">=3.11"

[[package]]
name = "anyio"
version = "4.4.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "idna" },
    { name = "sniffio" },
]

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "httpx" },
    { name = "packaging" },
]

[package.dev-dependencies]
dev = [
    { name = "pytest" },
]

[package.metadata]
requires-dist = [
    { name = "httpx", specifier = ">=0.27" },
    { name = "packaging", specifier = ">=24" },
]

[[package]]
name = "docs"
source = { virtual = "docs" }

[[package]]
name = "httpx"
version = "0.27.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "anyio" },
    { name = "idna" },
]

[[package]]
name = "idna"
version = "3.7"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "iniconfig"
version = "2.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "packaging"
version = "24.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.3.2"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "colorama", marker = "sys_platform == 'win32'" },
    { name = "iniconfig" },
    { name = "packaging" },
]

[[package]]
name = "sniffio"
version = "1.3.1"
source = { registry = "https://pypi.org/simple" }
"""


def test_uv_lock_skips_projects_and_marks_dev_only() -> None:
    path = "uv.lock"
    assert scan(path, UV_LOCK).packages == [
        pkg("anyio", "4.4.0", path),
        pkg("httpx", "0.27.0", path),
        pkg("idna", "3.7", path),
        pkg("iniconfig", "2.0.0", path, dev=True),
        pkg("packaging", "24.1", path),
        pkg("pytest", "8.3.2", path, dev=True),
        pkg("sniffio", "1.3.1", path),
    ]
    assert scan(path, UV_LOCK).warnings == []


@pytest.mark.parametrize(
    "path",
    ["requirements.txt", "x/requirements-dev.txt", "poetry.lock", "Pipfile.lock", "uv.lock"],
)
def test_lock_files_ignored_in_image_mode(path: str) -> None:
    assert not PythonAnalyzer(ScanContext(mode="image")).wants(path, 0o644)
    assert PythonAnalyzer(ScanContext(mode="fs")).wants(path, 0o644)


def test_other_txt_files_not_wanted() -> None:
    analyzer = PythonAnalyzer(ScanContext(mode="fs"))
    assert not analyzer.wants("docs/readme.txt", 0o644)
    assert not analyzer.wants("requirements/base.in", 0o644)


# --- hostile lock files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data", "reason"),
    [
        ("poetry.lock", b"[[package]\nname = 'x'\n", "cannot parse"),
        ("uv.lock", bytes(range(256)) * 16, "not UTF-8"),
        ("Pipfile.lock", b"{not json", "cannot parse"),
        ("Pipfile.lock", b'["default", "develop"]', "cannot parse"),
        ("Pipfile.lock", b"[" * 200_000 + b"]" * 200_000, "cannot parse"),
        ("requirements.txt", b"flask==2.0.1\n\xff\xfe\n", "not UTF-8"),
        ("requirements-dev.txt", b"flask==2.0.1\n\x00\x00\x00\x01", "binary content"),
        ("poetry.lock", b"package = 'not a list'\n", "cannot parse"),
        ("uv.lock", b"x = " + b"[" * 100_000 + b"]" * 100_000, "cannot parse"),
    ],
)
def test_unparseable_lock_files_warn_and_skip(path: str, data: bytes, reason: str) -> None:
    facts = scan(path, data)
    assert facts.packages == []
    assert len(facts.warnings) == 1
    assert facts.warnings[0].startswith(f"{path}: skipped, {reason}")
    assert "\n" not in facts.warnings[0]


def test_huge_lock_file_is_skipped() -> None:
    facts = scan("requirements.txt", b"a==1\n" * (pymod.MAX_LOCK_BYTES // 5 + 1))
    assert facts.packages == []
    assert facts.warnings == [
        f"requirements.txt: skipped, larger than {pymod.MAX_LOCK_BYTES} bytes"
    ]


def test_wrong_types_inside_lock_files() -> None:
    pipfile = (
        b'{"default": [1, 2], "develop": {"pytest": {"version": 7}, "ok": {"version": "==1.0"}}}'
    )
    facts = scan("Pipfile.lock", pipfile)
    assert facts.packages == [pkg("ok", "1.0", "Pipfile.lock", dev=True)]
    assert facts.warnings == ["Pipfile.lock: skipped 2 malformed package entries"]
    poetry = b'package = [1, {name = "a", version = "1"}, {name = ["b"], version = "2"}]\n'
    facts = scan("poetry.lock", poetry)
    assert facts.packages == [pkg("a", "1", "poetry.lock")]
    assert facts.warnings == ["poetry.lock: skipped 2 malformed package entries"]
    uv = b'[[package]]\nname = "a"\nversion = 3\ndependencies = "x"\n[[package]]\nversion = "1"\n'
    facts = scan("uv.lock", uv)
    assert facts.packages == []
    assert facts.warnings == ["uv.lock: skipped 2 malformed package entries"]
