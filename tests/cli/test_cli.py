"""The installed `kubeward` command: options, outputs, and one-line errors on bad input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import imagebuild as ib
from kubeward import __version__

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-image"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBEWARD, *args], capture_output=True, text=True, input=stdin, timeout=120
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines == [f"kubeward: error: {message}"], done.stderr


def test_version_and_module_entry_point() -> None:
    assert run("--version").stdout == f"kubeward {__version__}\n"
    done = subprocess.run(
        [sys.executable, "-m", "kubeward", "--version"], capture_output=True, text=True
    )
    assert done.stdout == f"kubeward {__version__}\n"


def test_no_command_prints_help_and_exits_2() -> None:
    done = run()
    assert done.returncode == 2
    assert "usage: kubeward" in done.stderr


def test_demo_image_table() -> None:
    done = run("sbom", str(DEMO))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{DEMO} (Debian GNU/Linux 12 (bookworm)): 10 packages"
    names = [line.split()[0] for line in lines[3:] if line.strip()]
    assert names == [
        "base-files",
        "bash",
        "libc6",
        "libssl3",
        "openssl",
        "zlib1g",
        "lodash",
        "minimist",
        "requests",
        "urllib3",
    ]


def test_global_options_before_or_after_the_command(tmp_path: Path) -> None:
    first = tmp_path / "a.json"
    second = tmp_path / "b.json"
    assert run("--format", "json", "-o", str(first), "sbom", str(DEMO)).returncode == 0
    assert run("sbom", str(DEMO), "--format", "json", "--output", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    report = json.loads(first.read_text())
    assert [(p["name"], p["version"]) for p in report["packages"]][:3] == [
        ("base-files", "12.4+deb12u5"),
        ("bash", "5.2.15-2+b2"),
        ("libc6", "2.36-9+deb12u4"),
    ]
    libc = next(p for p in report["packages"] if p["name"] == "libc6")
    assert (
        libc["purl"]
        == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
    )
    zlib = next(p for p in report["packages"] if p["name"] == "zlib1g")
    assert zlib["licenses"] == ["Zlib"]
    requests = next(p for p in report["packages"] if p["name"] == "requests")
    assert requests["licenses"] == ["Apache-2.0"]
    # pip was deleted by the top layer's whiteout
    assert not any(p["name"] == "pip" for p in report["packages"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sbom", "/nonexistent/image.tar"], "/nonexistent/image.tar: no such file or directory"),
        (["sbom", "oci:/nonexistent"], "oci:/nonexistent: not a directory"),
        (
            ["sbom", "docker-archive:/nonexistent.tar"],
            "docker-archive:/nonexistent.tar: no such file",
        ),
        (
            ["sbom", str(DEMO), "--format", "xml"],
            "--format xml: choose one of table, json, cyclonedx, spdx-json",
        ),
        (["sbom", str(DEMO), "--max-file-size", "0"], "--max-file-size must be positive"),
        (["sbom", "alpine", "--password-stdin"], "--password-stdin needs --username"),
        (["sbom", "alpine", "--username", "me"], "--username needs --password-stdin"),
        (
            ["sbom", str(DEMO), "-o", "/nonexistent-dir/out.json"],
            "--output /nonexistent-dir/out.json: directory /nonexistent-dir does not exist",
        ),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    assert_one_line_error(run(*args), message)


def test_bad_registry_reference_and_unreachable_registry(tmp_path: Path) -> None:
    done = run("sbom", "UPPER/Case:tag", "--cache-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("kubeward: error: ")
    assert len(done.stderr.splitlines()) == 1
    done = run("sbom", "--insecure", "127.0.0.1:9/ns/app:1", "--cache-dir", str(tmp_path))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert "127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_failed_scan_leaves_no_output_file(tmp_path: Path) -> None:
    layout = tmp_path / "bomb"
    built = ib.write_oci_layout(layout, [[ib.file("zeros", b"\0" * (32 << 20))]])
    out = tmp_path / "out.json"
    done = run(
        "sbom", f"oci:{layout}", "-f", "json", "-o", str(out), "--max-layer-bytes", "1000000"
    )
    assert_one_line_error(
        done,
        f"layer 1/1 ({built.diff_ids[0][:19]}): decompressed size exceeds the cap of 1000000 "
        "bytes (decompression bomb? raise --max-layer-bytes if the image is genuine)",
    )
    assert list(tmp_path.iterdir()) == [layout]


def test_corrupt_archive_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(gzip.compress(b"not a tar at all" * 100))
    done = run("sbom", f"docker-archive:{bad}")
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("kubeward: error: ")


def test_warnings_go_to_stderr_and_the_report(tmp_path: Path) -> None:
    layout = tmp_path / "img"
    built = ib.write_oci_layout(
        layout,
        [
            [
                ib.file("../../escape/METADATA", "x"),
                ib.file("var/lib/dpkg/status", "\x00\xff garbage"),
            ]
        ],
    )
    done = run("sbom", f"oci:{layout}", "-f", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    label = f"layer 1/1 ({built.diff_ids[0][:19]})"
    assert (
        report["warnings"][0]
        == f"{label}: skipped entry '../../escape/METADATA': path traversal (..)"
    )
    assert done.stderr.splitlines()[0] == f"kubeward: warning: {report['warnings'][0]}"
    assert len(done.stderr.splitlines()) == len(report["warnings"])
    quiet = run("sbom", f"oci:{layout}", "-f", "json", "--quiet")
    assert quiet.stderr == ""


def test_rootfs_and_dir_modes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    site = root / "usr/lib/python3/dist-packages/six-1.16.0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n\n")
    (root / "app").mkdir()
    (root / "app" / "requirements.txt").write_text("flask==2.0.1\n")
    image_like = json.loads(run("sbom", f"rootfs:{root}", "-f", "json").stdout)
    assert [(p["name"], p["version"]) for p in image_like["packages"]] == [("six", "1.16.0")]
    assert image_like["source"]["kind"] == "rootfs"
    project = json.loads(run("sbom", str(root), "-f", "json").stdout)
    assert sorted((p["name"], p["version"]) for p in project["packages"]) == [
        ("flask", "2.0.1"),
        ("six", "1.16.0"),
    ]
    assert project["source"]["kind"] == "dir"
