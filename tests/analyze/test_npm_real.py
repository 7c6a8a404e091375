"""NpmAnalyzer against real package managers: npm 11 (lockfile v1, v2, v3), yarn 1, yarn berry
and pnpm 7/8/9 install the same small project once per session (from the npm registry), and
each tool's own listing (`npm ls`, `pnpm ls`) is the expected answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_npm_helpers import scan_dir, scan_files

from kubeward.model import Inventory

# Exact top-level pins; transitive ranges float, but each project is compared only with the
# listing of the tool that installed it, in the same session. It has a scoped package, nested
# duplicates (has-flag 3 and 4, is-number 6 and 7), an npm alias (str -> is-number@6.0.0), a
# dev dependency with its own nested dependency and a peer dependency (pnpm key suffixes).
PROJECT = {
    "name": "fixture",
    "version": "1.0.0",
    "private": True,
    "dependencies": {
        "@types/node": "20.11.30",
        "chalk": "4.1.2",
        "has-flag": "3.0.0",
        "is-number": "7.0.0",
        "lodash": "4.17.21",
        "str": "npm:is-number@6.0.0",
        "react": "18.2.0",
        "use-sync-external-store": "1.2.0",
    },
    "devDependencies": {"is-odd": "3.0.1"},
}
YARN1 = "yarn@1.22.22"
BERRY = "@yarnpkg/cli-dist@4.9.1"
PNPMS = {"pnpm7": "pnpm@7.33.7", "pnpm8": "pnpm@8.15.9", "pnpm9": "pnpm@9.15.9"}

NameVersion = tuple[str, str]


@dataclass
class Projects:
    root: Path
    env: dict[str, str]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and not (args[:2] == ["npm", "ls"] and proc.stdout.strip()):
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def _new_project(path: Path) -> Path:
    path.mkdir()
    (path / "package.json").write_text(json.dumps(PROJECT))
    return path


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Projects:
    root = tmp_path_factory.mktemp("npm-real")
    env = dict(os.environ)
    env.update(
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
        YARN_CACHE_FOLDER=str(root / "yarn-cache"),
        YARN_ENABLE_GLOBAL_CACHE="false",
        YARN_ENABLE_TELEMETRY="0",
        YARN_ENABLE_SCRIPTS="false",
        YARN_ENABLE_IMMUTABLE_INSTALLS="false",
        YARN_NODE_LINKER="node-modules",
        COREPACK_ENABLE_STRICT="0",
    )
    cache = root / "caches"
    cache.mkdir()

    def npm() -> None:
        p3 = _new_project(root / "npm3")
        _run(["npm", "install", "--lockfile-version", "3", "--ignore-scripts"], p3, env)
        for version in ("2", "1"):
            pn = root / f"npm{version}"
            shutil.copytree(p3, pn, symlinks=True)
            (pn / "package-lock.json").unlink()
            args = ["npm", "install", "--package-lock-only", "--ignore-scripts"]
            _run([*args, "--lockfile-version", version], pn, env)

    def yarn1() -> None:
        p = _new_project(root / "yarn1")
        _run(["npx", "--yes", YARN1, "install", "--ignore-scripts", "--non-interactive"], p, env)

    def berry() -> None:
        p = _new_project(root / "berry")
        (p / "yarn.lock").write_text("")  # marks the project root for berry
        _run(["npx", "--yes", "-p", BERRY, "yarn", "install"], p, env)

    def pnpm(name: str) -> None:
        p = _new_project(root / name)
        store = ["--store-dir", str(cache / f"{name}-store")]
        flags = ["--ignore-scripts", "--no-frozen-lockfile", *store]
        _run(["npx", "--yes", PNPMS[name], "install", *flags], p, env)

    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = [pool.submit(npm), pool.submit(yarn1), pool.submit(berry)]
        jobs += [pool.submit(pnpm, name) for name in PNPMS]
        for job in jobs:
            job.result()
    return Projects(root, env)


def _npm_ls(project: Path, env: dict[str, str]) -> dict[str, tuple[str, str, bool]]:
    """npm's own view of node_modules: install path -> (real name, version, dev)."""
    tree = json.loads(_run(["npm", "ls", "--all", "--json", "--long"], project, env))
    found: dict[str, tuple[str, str, bool]] = {}
    stack: list[dict[str, Any]] = [tree]
    while stack:
        for node in (stack.pop().get("dependencies") or {}).values():
            if node.get("missing") or not node.get("path"):
                continue
            rel = Path(node["path"]).relative_to(project).as_posix()
            found[rel] = (node["name"], node["version"], bool(node.get("dev")))
            stack.append(node)
    assert found
    return found


def _pnpm_ls(project: Path, spec: str, env: dict[str, str]) -> dict[NameVersion, bool]:
    """pnpm's own view: (real name, version) -> dev only."""
    out = _run(["npx", "--yes", spec, "ls", "--depth", "Infinity", "--json"], project, env)
    (root,) = json.loads(out)
    everything: set[NameVersion] = set()
    prod: set[NameVersion] = set()

    def walk(node: dict[str, Any], into: set[NameVersion]) -> Iterator[None]:
        for section in ("dependencies", "devDependencies", "optionalDependencies"):
            for child in (node.get(section) or {}).values():
                into.add((child["from"], child["version"]))
                yield from walk(child, into)

    for section, into in (("dependencies", prod), ("devDependencies", everything)):
        for child in (root.get(section) or {}).values():
            into.add((child["from"], child["version"]))
            for _ in walk(child, into):
                pass
    everything |= prod
    assert everything
    return {nv: nv not in prod for nv in everything}


def _flatten(by_path: dict[str, tuple[str, str, bool]]) -> dict[NameVersion, bool]:
    """(name, version) -> dev, where a package is dev only if every install of it is."""
    out: dict[NameVersion, bool] = {}
    for name, version, dev in by_path.values():
        out[(name, version)] = out.get((name, version), True) and dev
    return out


def _installed(inv: Inventory, but: str) -> set[tuple[str, str, str]]:
    """(name, version, path) of every package not read from the lock file `but`."""
    return {
        (p.name, p.version, p.location.path or "") for p in inv.packages if p.location.path != but
    }


def _expected_installed(by_path: dict[str, tuple[str, str, bool]]) -> set[tuple[str, str, str]]:
    return {(name, version, f"{path}/package.json") for path, (name, version, _) in by_path.items()}


def _locked(inv: Inventory, lockfile: str) -> dict[NameVersion, bool]:
    pkgs = [p for p in inv.packages if p.location.path == lockfile]
    out = {(p.name, p.version): ("dev", "true") in p.metadata for p in pkgs}
    assert len(out) == len(pkgs), "one package per (name, version) in a lock file"
    return out


@pytest.mark.parametrize("lockfile_version", ["1", "2", "3"])
def test_npm_install(projects: Projects, lockfile_version: str) -> None:
    project = projects.root / f"npm{lockfile_version}"
    lock = json.loads((project / "package-lock.json").read_text())
    assert lock["lockfileVersion"] == int(lockfile_version)
    expected = _npm_ls(project, projects.env)

    inv, warnings = scan_dir(project, "fs")
    assert warnings == []
    assert _installed(inv, but="package-lock.json") == _expected_installed(expected)
    assert _locked(inv, "package-lock.json") == _flatten(expected)

    image_inv, _ = scan_dir(project, "image")
    assert {p.location.path for p in image_inv.packages} == {
        f"{path}/package.json" for path in expected
    }
    assert {(p.name, p.version) for p in image_inv.packages} == set(_flatten(expected))


def test_npm_install_details(projects: Projects) -> None:
    inv, _ = scan_dir(projects.root / "npm3", "image")
    by_path = {p.location.path: p for p in inv.packages}
    node = by_path["node_modules/@types/node/package.json"]
    assert (node.name, node.version, node.licenses) == ("@types/node", "20.11.30", ("MIT",))
    assert node.purl == "pkg:npm/%40types/node@20.11.30"
    alias = by_path["node_modules/str/package.json"]
    assert (alias.name, alias.version, alias.purl) == (
        "is-number",
        "6.0.0",
        "pkg:npm/is-number@6.0.0",
    )
    assert by_path["node_modules/is-odd/node_modules/is-number/package.json"].version == "6.0.0"


def test_v2_legacy_section_matches_packages(projects: Projects) -> None:
    """lockfileVersion 2 carries both forms; each alone must give the same answer."""
    lock = json.loads((projects.root / "npm2" / "package-lock.json").read_text())
    assert lock["packages"] and lock["dependencies"]
    only_legacy = {k: v for k, v in lock.items() if k != "packages"}
    only_packages = {k: v for k, v in lock.items() if k != "dependencies"}
    results = []
    for doc in (lock, only_legacy, only_packages):
        inv, warnings = scan_files({"package-lock.json": json.dumps(doc).encode()}, "fs")
        assert warnings == []
        results.append(_locked(inv, "package-lock.json"))
    assert results[0] == results[1] == results[2]
    assert results[0] == _flatten(_npm_ls(projects.root / "npm2", projects.env))


@pytest.mark.parametrize("tool", ["yarn1", "berry"])
def test_yarn(projects: Projects, tool: str) -> None:
    project = projects.root / tool
    if tool == "berry":
        assert (project / "yarn.lock").read_bytes().find(b"__metadata:") >= 0
    else:
        assert b"# yarn lockfile v1" in (project / "yarn.lock").read_bytes()
    expected = _npm_ls(project, projects.env)  # yarn's node_modules, as npm reads it
    inv, warnings = scan_dir(project, "fs")
    assert warnings == []
    assert set(_locked(inv, "yarn.lock")) == set(_flatten(expected))
    assert _installed(inv, but="yarn.lock") == _expected_installed(expected)


@pytest.mark.parametrize(
    ("tool", "lockfile_version"), [("pnpm7", "5.4"), ("pnpm8", "6.0"), ("pnpm9", "9.0")]
)
def test_pnpm(projects: Projects, tool: str, lockfile_version: str) -> None:
    project = projects.root / tool
    first = (project / "pnpm-lock.yaml").read_text().splitlines()[0]
    assert first.replace("'", "") == f"lockfileVersion: {lockfile_version}"
    expected = _pnpm_ls(project, PNPMS[tool], projects.env)
    inv, warnings = scan_dir(project, "fs")
    assert warnings == []
    locked = _locked(inv, "pnpm-lock.yaml")
    if tool == "pnpm9":  # lockfile 9 no longer records dev
        assert set(locked) == set(expected)
        assert not any(locked.values())
    else:
        assert locked == expected
    # pnpm's real package folders, node_modules/.pnpm/NAME@VERSION[_peers]/node_modules/NAME
    installed = _installed(inv, but="pnpm-lock.yaml")
    assert {(name, version) for name, version, _ in installed} == set(expected)
    assert all(path.startswith("node_modules/.pnpm/") for _, _, path in installed)
