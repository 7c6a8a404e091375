"""NpmAnalyzer on hand-written inputs: path selection, manifest fields, the lock file formats'
corner cases (aliases, links, workspaces, peer suffixes, patches) and hostile files."""

from __future__ import annotations

import json
import re
import time

import pytest
from test_npm_helpers import scan_files

from kubeward.analyze import npm
from kubeward.analyze.base import ScanContext, ScanMode
from kubeward.analyze.npm import NpmAnalyzer
from kubeward.model import Location, Package


def _nv(files: dict[str, bytes], mode: ScanMode = "fs") -> set[tuple[str, str]]:
    inv, warnings = scan_files(files, mode)
    assert warnings == []
    return {(p.name, p.version) for p in inv.packages}


def _dev(files: dict[str, bytes]) -> set[tuple[str, str]]:
    inv, _ = scan_files(files)
    return {(p.name, p.version) for p in inv.packages if ("dev", "true") in p.metadata}


def _manifest(**fields: object) -> bytes:
    return json.dumps(fields).encode()


# --- path selection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "image", "fs"),
    [
        ("node_modules/lodash/package.json", True, True),
        ("node_modules/@types/node/package.json", True, True),
        ("app/node_modules/a/node_modules/b/package.json", True, True),
        ("usr/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json", True, True),
        ("node_modules/.pnpm/is-number@7.0.0/node_modules/is-number/package.json", True, True),
        ("node_modules/x/lib/package.json", False, False),
        ("node_modules/@types/package.json", False, False),
        ("node_modules/@/x/package.json", False, False),
        ("node_modules/.bin/package.json", False, False),
        ("node_modules/package.json", False, False),
        ("package.json", False, False),
        ("app/package.json", False, False),
        ("node_modules/.package-lock.json", False, False),
        ("package-lock.json", False, True),
        ("npm-shrinkwrap.json", False, True),
        ("app/yarn.lock", False, True),
        ("srv/web/pnpm-lock.yaml", False, True),
        ("node_modules/left-pad/yarn.lock", False, False),
        ("app/node_modules/x/package-lock.json", False, False),
    ],
)
def test_wants(path: str, image: bool, fs: bool) -> None:
    selected = path.rpartition("/")[2] in NpmAnalyzer.basenames
    modes: tuple[tuple[ScanMode, bool], ...] = (("image", image), ("fs", fs))
    for mode, expected in modes:
        analyzer = NpmAnalyzer(ScanContext(mode=mode))
        assert (selected and analyzer.wants(path, 0o644)) is expected, (path, mode)


# --- installed manifests ----------------------------------------------------------------------


def test_manifest_fields() -> None:
    files = {
        "app/node_modules/@scope/pkg/package.json": _manifest(
            name="@scope/pkg", version="1.2.3", license="MIT", description="x"
        ),
        "app/node_modules/obj/package.json": _manifest(
            name="obj", version="0.1.0", license={"type": "Apache-2.0", "url": "http://x"}
        ),
        "app/node_modules/legacy/package.json": _manifest(
            name="legacy", version="2.0.0", licenses=[{"type": "MIT"}, {"type": "Apache-2.0"}]
        ),
        "app/node_modules/none/package.json": _manifest(name="none", version=" 3.0.0 "),
    }
    inv, warnings = scan_files(files, "image", layer="sha256:abc")
    assert warnings == []
    assert inv.packages == (
        Package(
            name="@scope/pkg",
            version="1.2.3",
            ecosystem="npm",
            purl="pkg:npm/%40scope/pkg@1.2.3",
            location=Location(path="app/node_modules/@scope/pkg/package.json", layer="sha256:abc"),
            licenses=("MIT",),
        ),
        Package(
            name="legacy",
            version="2.0.0",
            ecosystem="npm",
            purl="pkg:npm/legacy@2.0.0",
            location=Location(path="app/node_modules/legacy/package.json", layer="sha256:abc"),
            licenses=("MIT", "Apache-2.0"),
        ),
        Package(
            name="none",
            version="3.0.0",
            ecosystem="npm",
            purl="pkg:npm/none@3.0.0",
            location=Location(path="app/node_modules/none/package.json", layer="sha256:abc"),
        ),
        Package(
            name="obj",
            version="0.1.0",
            ecosystem="npm",
            purl="pkg:npm/obj@0.1.0",
            location=Location(path="app/node_modules/obj/package.json", layer="sha256:abc"),
            licenses=("Apache-2.0",),
        ),
    )


def test_manifest_without_name_or_version_is_skipped_silently() -> None:
    files = {
        "node_modules/a/package.json": _manifest(name="a"),
        "node_modules/b/package.json": _manifest(version="1.0.0"),
        "node_modules/c/package.json": _manifest(name="c", version=""),
        "node_modules/d/package.json": b"{}",
    }
    assert _nv(files, "image") == set()


def test_manifest_with_bom_and_latin1_description_is_read_like_node() -> None:
    data = b'\xef\xbb\xbf{"name": "old", "version": "0.0.1", "description": "caf\xe9"}'
    assert _nv({"node_modules/old/package.json": data}, "image") == {("old", "0.0.1")}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"name": "x", "version": ', "invalid JSON"),
        (b'["x", "1.0.0"]', "not a JSON object"),
        (b'{"name": "x", "version": 1}', "not a string"),
        (b'{"name": {"x": 1}, "version": "1.0.0"}', "not a string"),
        (b'{"name": "caf\xe9", "version": "1.0.0"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"\x00\x01\x02\xff\xfe", "invalid JSON"),
    ],
)
def test_hostile_manifest(data: bytes, reason: str) -> None:
    inv, warnings = scan_files({"node_modules/x/package.json": data}, "image")
    assert inv.packages == ()
    assert len(warnings) == 1
    assert warnings[0].startswith("node_modules/x/package.json: skipped, ")
    assert reason in warnings[0]
    assert "\n" not in warnings[0]


def test_huge_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npm, "MAX_MANIFEST_BYTES", 100)
    data = _manifest(name="big", version="1.0.0", readme="x" * 200)
    inv, warnings = scan_files({"node_modules/big/package.json": data}, "image")
    assert inv.packages == ()
    assert warnings == ["node_modules/big/package.json: skipped, larger than 100 bytes"]


# --- package-lock.json ------------------------------------------------------------------------

LOCK_V1 = {
    "name": "app",
    "lockfileVersion": 1,
    "requires": True,
    "dependencies": {
        "@babel/code-frame": {"version": "7.22.13", "dev": True},
        "str": {"version": "npm:is-number@6.0.0"},
        "local": {"version": "file:../local"},
        "gitdep": {"version": "git+https://github.com/u/gitdep.git#0123abc", "from": "u/gitdep"},
        "is-odd": {
            "version": "3.0.1",
            "dev": True,
            "dependencies": {
                "is-number": {"version": "6.0.0", "dev": True},
                "kind-of": {"version": "6.0.3", "dev": True, "bundled": True},
            },
        },
    },
}

LOCK_V3 = {
    "name": "app",
    "version": "1.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {
        "": {"name": "app", "version": "1.0.0", "workspaces": ["packages/*"]},
        "node_modules/@types/node": {"version": "20.11.30", "license": "MIT"},
        "node_modules/str": {"name": "is-number", "version": "6.0.0", "license": "MIT"},
        "node_modules/is-odd": {"version": "3.0.1", "dev": True},
        "node_modules/is-odd/node_modules/is-number": {"version": "6.0.0", "dev": True},
        "node_modules/my-lib": {"resolved": "packages/my-lib", "link": True},
        "packages/my-lib": {"name": "my-lib", "version": "0.0.0"},
        "packages/my-lib/node_modules/lodash": {"version": "4.17.21"},
        "node_modules/extraneous": {"extraneous": True},
        "node_modules/legacy-lic": {"version": "1.0.0", "licenses": [{"type": "ISC"}]},
    },
}


def test_package_lock_v1() -> None:
    files = {"package-lock.json": json.dumps(LOCK_V1).encode()}
    assert _nv(files) == {
        ("@babel/code-frame", "7.22.13"),
        ("is-number", "6.0.0"),
        ("gitdep", "git+https://github.com/u/gitdep.git#0123abc"),
        ("is-odd", "3.0.1"),
        ("kind-of", "6.0.3"),
    }
    # is-number 6.0.0 is also a production dependency (through the alias).
    assert _dev(files) == {
        ("@babel/code-frame", "7.22.13"),
        ("is-odd", "3.0.1"),
        ("kind-of", "6.0.3"),
    }


def test_package_lock_v3() -> None:
    inv, warnings = scan_files({"web/package-lock.json": json.dumps(LOCK_V3).encode()})
    assert warnings == []
    got = {(p.name, p.version, p.licenses, p.metadata) for p in inv.packages}
    assert got == {
        ("@types/node", "20.11.30", ("MIT",), ()),
        ("is-number", "6.0.0", ("MIT",), ()),
        ("is-odd", "3.0.1", (), (("dev", "true"),)),
        ("lodash", "4.17.21", (), ()),
        ("legacy-lic", "1.0.0", ("ISC",), ()),
    }
    assert {p.location for p in inv.packages} == {Location(path="web/package-lock.json")}


def test_package_lock_not_read_in_image_mode() -> None:
    assert _nv({"package-lock.json": json.dumps(LOCK_V3).encode()}, "image") == set()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{", "invalid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"lockfileVersion": 3, "packages": []}', "is not an object"),
        (b"\xff\xfe\x00garbage", "invalid JSON"),
    ],
)
def test_hostile_package_lock(data: bytes, reason: str) -> None:
    inv, warnings = scan_files({"package-lock.json": data})
    assert inv.packages == ()
    assert len(warnings) == 1
    assert warnings[0].startswith("package-lock.json: skipped, ")
    assert reason in warnings[0]


def test_package_lock_bad_entries_are_counted_and_skipped() -> None:
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "node_modules/ok": {"version": "1.0.0"},
            "node_modules/num": {"version": 1},
            "node_modules/list": ["1.0.0"],
            "node_modules/obj": {"version": {"x": 1}},
        },
    }
    inv, warnings = scan_files({"package-lock.json": json.dumps(lock).encode()})
    assert {(p.name, p.version) for p in inv.packages} == {("ok", "1.0.0")}
    assert warnings == ["package-lock.json: 3 malformed entries skipped"]
    lock1 = {"lockfileVersion": 1, "dependencies": {"ok": {"version": "1.0.0"}, "bad": 7}}
    inv, warnings = scan_files({"package-lock.json": json.dumps(lock1).encode()})
    assert {(p.name, p.version) for p in inv.packages} == {("ok", "1.0.0")}
    assert warnings == ["package-lock.json: 1 malformed entries skipped"]


def test_package_lock_deep_v1_tree_is_walked_without_recursion() -> None:
    tree: dict[str, object] = {}
    node = tree
    for i in range(200):
        child: dict[str, object] = {}
        node[f"p{i}"] = {"version": "1.0.0", "dependencies": child}
        node = child
    files = {"package-lock.json": json.dumps({"lockfileVersion": 1, "dependencies": tree}).encode()}
    assert len(_nv(files)) == 200


def test_huge_lockfile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npm, "MAX_LOCK_BYTES", 1000)
    inv, warnings = scan_files({"yarn.lock": b"# yarn lockfile v1\n" + b" " * 1000})
    assert inv.packages == ()
    assert warnings == ["yarn.lock: skipped, larger than 1000 bytes"]


# --- yarn.lock v1 -----------------------------------------------------------------------------

YARN_V1 = b"""\
# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@7.12.11", "@babel/code-frame@^7.0.0":
  version "7.12.11"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.11.tgz#f4ad435aa263db935b8f10f2c552d23fb716a63f"
  dependencies:
    "@babel/highlight" "^7.10.4"

ansi-styles@^3.2.1, ansi-styles@~3.2.0:
  version "3.2.1"
  dependencies:
    color-convert "^1.9.0"

"str@npm:is-number@^6.0.0":
  version "6.0.0"

lodash@4:
  version 4.17.21

gitdep@u/gitdep#main:
  version "1.0.0"
  resolved "https://codeload.github.com/u/gitdep/tar.gz/0123abc"
"""


def test_yarn_v1() -> None:
    inv, warnings = scan_files({"yarn.lock": YARN_V1})
    assert warnings == []
    assert {(p.name, p.version, p.location.line) for p in inv.packages} == {
        ("@babel/code-frame", "7.12.11", 5),
        ("ansi-styles", "3.2.1", 11),
        ("is-number", "6.0.0", 16),
        ("lodash", "4.17.21", 19),
        ("gitdep", "1.0.0", 22),
    }


def test_yarn_v1_crlf() -> None:
    assert _nv({"yarn.lock": YARN_V1.replace(b"\n", b"\r\n")}) == _nv({"yarn.lock": YARN_V1})


# --- yarn.lock berry --------------------------------------------------------------------------

YARN_BERRY = b"""\
# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 8
  cacheKey: 10c0

"@types/node@npm:20.11.30":
  version: 20.11.30
  resolution: "@types/node@npm:20.11.30"
  dependencies:
    undici-types: "npm:~5.26.4"
  languageName: node
  linkType: hard

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  dependencies:
    shared: "link:../shared"
  languageName: unknown
  linkType: soft

"shared@link:../shared::locator=app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "shared@link:../shared::locator=app%40workspace%3A."
  languageName: node
  linkType: soft

"tool@portal:../tool::locator=app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "tool@portal:../tool::locator=app%40workspace%3A."
  languageName: node
  linkType: soft

"is-number@npm:^6.0.0, str@npm:is-number@6.0.0":
  version: 6.0.0
  resolution: "is-number@npm:6.0.0"
  languageName: node
  linkType: hard

"left-pad@npm:1.3.0":
  version: 1.3.0
  resolution: "left-pad@npm:1.3.0"
  languageName: node
  linkType: hard

"left-pad@patch:left-pad@npm%3A1.3.0#./fix.patch::locator=app%40workspace%3A.":
  version: 1.3.0
  resolution: "left-pad@patch:left-pad@npm%3A1.3.0#./fix.patch::version=1.3.0&hash=a1b2c3"
  languageName: node
  linkType: hard

"odd@npm:1.10":
  version: 1.10
  resolution: "odd@npm:1.10"
  languageName: node
  linkType: hard
"""


def test_yarn_berry() -> None:
    assert _nv({"yarn.lock": YARN_BERRY}) == {
        ("@types/node", "20.11.30"),
        ("is-number", "6.0.0"),
        ("left-pad", "1.3.0"),
        ("odd", "1.10"),  # not the float 1.1
    }


# --- pnpm-lock.yaml ---------------------------------------------------------------------------

PNPM_V5 = b"""\
lockfileVersion: 5.4

specifiers:
  react: 18.2.0

dependencies:
  react: 18.2.0

packages:

  /@babel/runtime/7.20.6:
    resolution: {integrity: sha512-abc=}
    dependencies:
      regenerator-runtime: 0.13.11
    dev: false

  /@emotion/react/11.10.5_@babel+core@7.20.5+react@18.2.0:
    resolution: {integrity: sha512-abc=}
    peerDependencies:
      react: '>=16.8.0'
    dev: true

  /use-sync-external-store/1.2.0_react@18.2.0:
    resolution: {integrity: sha512-abc=}
    dev: false

  registry.example.com/private-pkg/2.0.0:
    resolution: {integrity: sha512-abc=}
    dev: false

  github.com/u/gitdep/0123abc:
    resolution: {tarball: https://codeload.github.com/u/gitdep/tar.gz/0123abc}
    name: gitdep
    version: 1.0.0
    dev: false

  /weird_name/2.1.0:
    resolution: {integrity: sha512-abc=}
"""

PNPM_V6 = b"""\
lockfileVersion: '6.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

dependencies:
  react-dom:
    specifier: 18.2.0
    version: 18.2.0(react@18.2.0)

packages:

  /@types/react@18.2.0:
    resolution: {integrity: sha512-abc=}
    dev: true

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-abc=}
    peerDependencies:
      react: ^18.2.0
    dev: false

  /@scope/x@1.0.0(@types/react@18.2.0)(react@18.2.0):
    resolution: {integrity: sha512-abc=}
    dev: false

  '@github.com/u/gitdep/0123abc':
    resolution: {tarball: https://codeload.github.com/u/gitdep/tar.gz/0123abc}
    name: gitdep
    version: 1.0.0
    dev: false
"""

# pnpm 10 writes its "env" lock file (config dependencies) as a first YAML document.
PNPM_V9 = b"""\
---
lockfileVersion: '9.0'

importers:

  .:
    configDependencies: {}

packages:

  config-plugin@1.0.0:
    resolution: {integrity: sha512-abc=}

---
lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      react-dom:
        specifier: 18.2.0
        version: 18.2.0(react@18.2.0)

packages:

  '@types/node@20.11.30':
    resolution: {integrity: sha512-abc=}

  react-dom@18.2.0:
    resolution: {integrity: sha512-abc=}
    peerDependencies:
      react: ^18.2.0

  react@18.2.0:
    resolution: {integrity: sha512-abc=}

  gitdep@https://codeload.github.com/u/gitdep/tar.gz/0123abc:
    resolution: {tarball: https://codeload.github.com/u/gitdep/tar.gz/0123abc}
    version: 1.0.0

snapshots:

  '@types/node@20.11.30': {}

  react-dom@18.2.0(react@18.2.0):
    dependencies:
      react: 18.2.0

  react@18.2.0: {}

  gitdep@https://codeload.github.com/u/gitdep/tar.gz/0123abc: {}
"""


def test_pnpm_v5() -> None:
    files = {"pnpm-lock.yaml": PNPM_V5}
    assert _nv(files) == {
        ("@babel/runtime", "7.20.6"),
        ("@emotion/react", "11.10.5"),
        ("use-sync-external-store", "1.2.0"),
        ("private-pkg", "2.0.0"),
        ("gitdep", "1.0.0"),
        ("weird_name", "2.1.0"),
    }
    assert _dev(files) == {("@emotion/react", "11.10.5")}


def test_pnpm_v6() -> None:
    files = {"pnpm-lock.yaml": PNPM_V6}
    assert _nv(files) == {
        ("@types/react", "18.2.0"),
        ("react-dom", "18.2.0"),
        ("@scope/x", "1.0.0"),
        ("gitdep", "1.0.0"),
    }
    assert _dev(files) == {("@types/react", "18.2.0")}


def test_pnpm_v9() -> None:
    expected = {
        ("@types/node", "20.11.30"),
        ("react-dom", "18.2.0"),
        ("react", "18.2.0"),
        ("gitdep", "1.0.0"),
    }
    assert _nv({"pnpm-lock.yaml": PNPM_V9}) == expected
    # Without "packages", the snapshot keys (with peer suffixes) are read instead; a git
    # dependency's key there holds no version, so it is left out.
    snapshots_only = re.sub(
        rb"\npackages:\n\n  '@types.*\nsnapshots:", b"\nsnapshots:", PNPM_V9, flags=re.S
    )
    assert b"config-plugin" in snapshots_only and b"  react@18.2.0:\n" not in snapshots_only
    assert _nv({"pnpm-lock.yaml": snapshots_only}) == expected - {("gitdep", "1.0.0")}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"lockfileVersion: '9.0'\npackages: [1, 2]\n", "not a mapping"),
        (b"- a\n- b\n", "not a YAML mapping"),
        (b"packages: {}\n", "no lockfileVersion"),
        (b"lockfileVersion: banana\n", "unknown pnpm lockfileVersion"),
        (b"lockfileVersion: '9.0'\npackages:\n  a@1: {\n", "invalid YAML"),
        (b"lockfileVersion: '9.0'\n\x00\x01packages: {}\n", "invalid YAML"),
        (b"[" * 100_000, "YAML"),
    ],
)
def test_hostile_pnpm_lock(data: bytes, reason: str) -> None:
    inv, warnings = scan_files({"pnpm-lock.yaml": data})
    assert inv.packages == ()
    assert len(warnings) == 1
    assert warnings[0].startswith("pnpm-lock.yaml: skipped, ")
    assert reason in warnings[0]


def test_pnpm_bad_entries_are_counted_and_skipped() -> None:
    data = b"lockfileVersion: '9.0'\npackages:\n  ok@1.0.0: {}\n  bad@1.0.0: [1]\n  nover: {}\n"
    inv, warnings = scan_files({"pnpm-lock.yaml": data})
    assert {(p.name, p.version) for p in inv.packages} == {("ok", "1.0.0")}
    assert warnings == [
        "pnpm-lock.yaml: 1 malformed entries skipped"
    ]  # "nover": no version, no fault


def _alias_bomb(prefix: bytes) -> bytes:
    lines = [b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1).encode(), chr(ord("a") + i).encode()
        lines.append(cur + b": &" + cur + b" [" + b",".join([b"*" + prev] * 9) + b"]")
    return prefix + b"\n".join(lines) + b"\n"


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("pnpm-lock.yaml", b"lockfileVersion: '9.0'\npackages:\n  x@1.0.0: {}\n"),
        ("yarn.lock", b"__metadata:\n  version: 8\n"),
        ("pnpm-lock.yaml", b"lockfileVersion: '9.0'\npackages: &p\n  x@1.0.0: {}\nsnapshots: *p\n"),
    ],
)
def test_yaml_aliases_are_refused(path: str, prefix: bytes) -> None:
    start = time.monotonic()
    inv, warnings = scan_files({path: _alias_bomb(prefix)})
    assert time.monotonic() - start < 5
    assert inv.packages == ()
    assert warnings == [f"{path}: skipped, YAML aliases are not allowed in a lock file"]


def test_alias_like_text_is_not_an_alias() -> None:
    data = b"lockfileVersion: '9.0'\nnote: a *b c\npackages:\n  x@1.0.0: {}\n"
    assert _nv({"pnpm-lock.yaml": data}) == {("x", "1.0.0")}


def test_berry_wrong_types() -> None:
    data = b"__metadata:\n  version: 8\nok@npm:1.0.0:\n  resolution: ok@npm:1.0.0\nbad: [1]\n"
    inv, warnings = scan_files({"yarn.lock": data})
    assert {(p.name, p.version) for p in inv.packages} == {("ok", "1.0.0")}
    assert warnings == ["yarn.lock: 1 malformed entries skipped"]


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", b"this is not a lock file\nat all\n"],
)
def test_garbage_yarn_lock(data: bytes) -> None:
    inv, warnings = scan_files({"yarn.lock": data})
    assert inv.packages == ()
    assert warnings == ["yarn.lock: skipped, not a yarn lock file"]
