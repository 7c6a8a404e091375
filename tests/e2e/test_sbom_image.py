"""End to end: build a real image, scan it from five sources, compare with reference tools.

The image has a base layer made of this machine's own dpkg database and os-release, a layer
of real Python distributions (the test venv's `*.dist-info`), an npm app installed by real
npm, a Go binary built by the real Go toolchain with a versioned dependency, a jar, and a
top layer that deletes a distribution with a whiteout and empties a directory with an
opaque whiteout. The inventory must equal what `dpkg-query`, `importlib.metadata`,
`npm ls` and `go version -m` say, exactly; and the JSON report must be byte-identical from
an OCI layout, an oci-archive, a docker-archive, the Docker daemon and a registry (one run
with basic auth), apart from the "source" object that names where it came from.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

import imagebuild as ib
import peers
import peers_docker

pytestmark = pytest.mark.e2e

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
SITE = "usr/local/lib/python3.11/site-packages"
NPM_DEPS = {"is-number": "7.0.0", "chalk": "4.1.2", "@types/node": "20.11.30"}


def run_kubeward(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> bytes:
    done = subprocess.run(
        [KUBEWARD, *args], capture_output=True, env=env, input=stdin.encode() if stdin else None
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    return done.stdout


# ------------------------------------------------------------------ reference tools


def dpkg_reference(status: Path, tmp: Path) -> set[tuple[str, str, str]]:
    admin = tmp / "dpkg-admin"
    (admin / "info").mkdir(parents=True)
    (admin / "updates").mkdir()
    shutil.copy(status, admin / "status")
    out = subprocess.run(
        [
            "dpkg-query",
            f"--admindir={admin}",
            "-W",
            "-f=${db:Status-Status} ${Package} ${Version}\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {"installed", "triggers-pending", "triggers-awaited"}
    rows = [line.split(" ") for line in out.splitlines()]
    return {("deb", name, version) for state, name, version in rows if state in installed}


def python_reference(site: str) -> dict[str, tuple[str, str]]:
    """dist-info directory name -> (name, version) by importlib.metadata."""
    out = {}
    for dist in importlib.metadata.distributions(path=[site]):
        path = getattr(dist, "_path", None)
        if path is not None and str(path).endswith(".dist-info"):
            out[Path(path).name] = (dist.metadata["Name"], dist.version)
    return out


def npm_reference(app: Path) -> set[tuple[str, str, str]]:
    tree = json.loads(
        subprocess.run(
            ["npm", "ls", "--all", "--json"], cwd=app, capture_output=True, check=True
        ).stdout
    )
    found: set[tuple[str, str, str]] = set()

    def visit(deps: dict[str, Any]) -> None:
        for name, info in deps.items():
            found.add(("npm", name, info["version"]))
            visit(info.get("dependencies", {}))

    visit(tree["dependencies"])
    return found


def go_reference(binary: Path) -> set[tuple[str, str, str]]:
    out = subprocess.run(
        ["go", "version", "-m", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    lines = [line.strip().split("\t") for line in out.splitlines()[1:]]
    goversion = out.splitlines()[0].split(": ", 1)[1].strip()
    found = {("golang", "stdlib", "v" + goversion.removeprefix("go"))}
    for i, fields in enumerate(lines):
        if fields[0] == "dep":
            name, version = fields[1], fields[2]
            if i + 1 < len(lines) and lines[i + 1][0] == "=>" and len(lines[i + 1]) > 2:
                name, version = lines[i + 1][1], lines[i + 1][2]
            found.add(("golang", name, version))
    return found


# ------------------------------------------------------------------ building the parts


def build_go_binary(tmp: Path) -> Path:
    """A program with one versioned dependency, served by a file:// module proxy."""
    proxy = tmp / "goproxy" / "example.com" / "greet" / "@v"
    proxy.mkdir(parents=True)
    gomod = "module example.com/greet\n\ngo 1.19\n"
    (proxy / "v1.4.2.mod").write_text(gomod)
    (proxy / "v1.4.2.info").write_text('{"Version":"v1.4.2","Time":"2024-01-01T00:00:00Z"}')
    (proxy / "list").write_text("v1.4.2\n")
    with zipfile.ZipFile(proxy / "v1.4.2.zip", "w") as z:
        z.writestr("example.com/greet@v1.4.2/go.mod", gomod)
        z.writestr(
            "example.com/greet@v1.4.2/greet.go",
            'package greet\n\nfunc Hello() string { return "hello" }\n',
        )
    app = tmp / "goapp"
    app.mkdir()
    (app / "go.mod").write_text(
        "module example.com/app\n\ngo 1.19\n\nrequire example.com/greet v1.4.2\n"
    )
    (app / "main.go").write_text(
        'package main\n\nimport "example.com/greet"\n\nfunc main() { println(greet.Hello()) }\n'
    )
    env = {
        **os.environ,
        "GOCACHE": str(tmp / "gocache"),
        "GOPATH": str(tmp / "gopath"),
        "GOFLAGS": "-mod=mod -modcacherw",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "GOPROXY": f"file://{tmp / 'goproxy'}",
    }
    subprocess.run(
        ["go", "mod", "download", "example.com/greet@v1.4.2"], cwd=app, env=env, check=True
    )
    subprocess.run(["go", "build", "-o", "goapp", "."], cwd=app, env=env, check=True)
    return app / "goapp"


def build_npm_app(tmp: Path) -> Path:
    app = tmp / "npmapp"
    app.mkdir()
    (app / "package.json").write_text(
        json.dumps({"name": "e2e-app", "version": "1.0.0", "dependencies": NPM_DEPS})
    )
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--lockfile-version",
            "3",
        ],
        cwd=app,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return app


def build_jar() -> bytes:
    """A jar as Maven writes one: a manifest and META-INF/maven/G/A/pom.properties."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: kubeward-e2e\r\n\r\n"
        )
        z.writestr(
            "META-INF/maven/org.example.e2e/e2e-lib/pom.properties",
            "groupId=org.example.e2e\nartifactId=e2e-lib\nversion=3.1.4\n",
        )
        z.writestr("org/example/e2e/Lib.class", b"\xca\xfe\xba\xbe")
    return buf.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("e2e")
    site = sysconfig.get_paths()["purelib"]
    dist_infos = sorted(p for p in Path(site).iterdir() if p.name.endswith(".dist-info"))
    deleted = dist_infos[0]  # removed again by the top layer's whiteout

    base = [
        ib.file("usr/lib/os-release", Path("/usr/lib/os-release").read_bytes()),
        ib.symlink("etc/os-release", "../usr/lib/os-release"),
        ib.file("var/lib/dpkg/status", Path("/var/lib/dpkg/status").read_bytes()),
    ]
    for doc in sorted(Path("/usr/share/doc").iterdir()):
        copyright_file = doc / "copyright"
        if not doc.is_symlink() and copyright_file.is_file() and not copyright_file.is_symlink():
            base.append(ib.file(f"usr/share/doc/{doc.name}/copyright", copyright_file.read_bytes()))
    python_layer = [
        ib.file(f"{SITE}/{d.name}/METADATA", (d / "METADATA").read_bytes())
        for d in dist_infos
        if (d / "METADATA").is_file()
    ]
    npm_app = build_npm_app(tmp)
    go_binary = build_go_binary(tmp)
    apps = [
        *ib.tree_entries(npm_app, "opt/app"),
        ib.file("usr/local/bin/goapp", go_binary.read_bytes(), 0o755),
        ib.file("opt/java/e2e-lib.jar", build_jar()),
        ib.file(
            "opt/legacy/node_modules/left-pad/package.json", '{"name":"left-pad","version":"1.3.0"}'
        ),
        ib.file("opt/legacy/README", "old"),
    ]
    top = [
        ib.whiteout(f"{SITE}/{deleted.name}"),
        ib.dir_("opt/legacy"),
        ib.opaque("opt/legacy"),
        ib.file("opt/legacy/NOTE", "emptied"),
    ]
    layout = tmp / "layout"
    image = ib.write_oci_layout(layout, [base, python_layer, apps, top], tag="1")

    pyref = python_reference(site)
    expected = (
        dpkg_reference(Path("/var/lib/dpkg/status"), tmp)
        | {("pypi", n, v) for d, (n, v) in pyref.items() if d != deleted.name}
        | npm_reference(npm_app)
        | go_reference(go_binary)
        | {("maven", "org.example.e2e:e2e-lib", "3.1.4")}
    )
    return {
        "tmp": tmp,
        "layout": layout,
        "image": image,
        "expected": expected,
        "deleted": pyref.get(deleted.name),
    }


def test_inventory_equals_the_reference_tools(built: dict[str, Any]) -> None:
    image = built["image"]
    report = json.loads(run_kubeward("sbom", f"oci:{built['layout']}:1", "--format", "json"))
    got = {(p["ecosystem"], p["name"], p["version"]) for p in report["packages"]}
    expected = built["expected"]
    assert got - expected == set()
    assert expected - got == set()
    assert len(report["packages"]) == len(got)  # no duplicates

    os_release = dict(
        line.split("=", 1)
        for line in Path("/usr/lib/os-release").read_text().splitlines()
        if "=" in line
    )
    assert report["os"]["id"] == os_release["ID"]
    assert report["os"]["version"] == os_release["VERSION_ID"].strip('"')

    # every package names the layer that wrote its evidence
    layer_of = {p["location"]["path"]: p["location"]["layer"] for p in report["packages"]}
    diff_ids = image.diff_ids
    assert layer_of["var/lib/dpkg/status"] == diff_ids[0]
    assert {layer_of[p] for p in layer_of if p.startswith(SITE)} == {diff_ids[1]}
    assert layer_of["usr/local/bin/goapp"] == diff_ids[2]
    assert layer_of["opt/java/e2e-lib.jar"] == diff_ids[2]
    assert layer_of["opt/app/node_modules/chalk/package.json"] == diff_ids[2]
    # the whiteout and the opaque whiteout took effect
    assert ("pypi", *built["deleted"]) not in got
    assert ("npm", "left-pad", "1.3.0") not in got
    assert report["warnings"] == []


def _without_source(output: bytes) -> bytes:
    """The report with its "source" object (where the image came from) cut out."""
    text = output.decode()
    match = re.search(r'\n  "source": \{\n.*?\n  \},?', text, flags=re.S)
    assert match is not None, "no source object in the report"
    return (text[: match.start()] + text[match.end() :]).encode()


def test_same_json_from_every_source(built: dict[str, Any]) -> None:
    tmp: Path = built["tmp"]
    layout = built["layout"]
    outputs: dict[str, bytes] = {}
    outputs["oci"] = run_kubeward("sbom", f"oci:{layout}:1", "-f", "json")

    docker_tar = tmp / "docker.tar"
    oci_tar = tmp / "oci.tar"
    for dest in (f"docker-archive:{docker_tar}:e2e/app:1", f"oci-archive:{oci_tar}:1"):
        subprocess.run(["skopeo", "copy", "--quiet", f"oci:{layout}:1", dest], check=True)
    outputs["docker-archive"] = run_kubeward("sbom", f"docker-archive:{docker_tar}", "-f", "json")
    outputs["oci-archive"] = run_kubeward("sbom", str(oci_tar), "-f", "json")  # sniffed

    cache = tmp / "cache"
    with peers.start_registry(tmp) as registry:
        ref = peers.push(layout, "1", registry, "e2e/app")
        outputs["registry"] = run_kubeward(
            "sbom", ref, "--insecure", "--cache-dir", str(cache), "-f", "json"
        )
    with peers.start_registry(tmp, auth=("e2e", "s3cret-pass")) as registry:
        ref = peers.push(layout, "1", registry, "e2e/app", creds=("e2e", "s3cret-pass"))
        outputs["registry-basic-auth"] = run_kubeward(
            "sbom",
            ref,
            "--insecure",
            "--username",
            "e2e",
            "--password-stdin",
            "--cache-dir",
            str(tmp / "cache-auth"),
            "-f",
            "json",
            stdin="s3cret-pass\n",
        )

    daemon = peers_docker.start(tmp / "docker")
    try:
        daemon.docker("load", "-i", str(docker_tar))
        outputs["docker-daemon"] = run_kubeward(
            "sbom", "docker-daemon:e2e/app:1", "-f", "json", env=daemon.env()
        )
    finally:
        peers_docker.stop(daemon)

    reference = _without_source(outputs["oci"])
    assert json.loads(reference)["packages"], "empty inventory"
    for source, output in outputs.items():
        assert _without_source(output) == reference, f"{source} differs from the OCI layout"
    kinds = {s: json.loads(o)["source"]["kind"] for s, o in outputs.items()}
    assert kinds == {
        "oci": "oci",
        "docker-archive": "docker-archive",
        "oci-archive": "oci-archive",
        "registry": "registry",
        "registry-basic-auth": "registry",
        "docker-daemon": "docker-daemon",
    }
