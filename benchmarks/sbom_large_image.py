"""Time `kubeward sbom` on a large image against `gzip -dc` of the same layers.

Builds (once, cached under benchmarks/.cache) an OCI layout from this machine's own files:
an OS layer (/usr/bin, /usr/sbin, /etc, dpkg status, /usr/share/doc copyright files) and a
Python layer (the interpreter's lib tree with its site-packages), at least 50,000 files and
300 MB uncompressed. Then, in the same run so machine noise hits both alike, it times
`gzip -dc` of every layer blob (the raw cost of reading the input) and `kubeward sbom`
(JSON to /dev/null), best of N, and reports peak RSS from wait4().

    python benchmarks/sbom_large_image.py [--runs 3] [--rebuild]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
LAYOUT = CACHE / "large-image"
MAX_FILE = 40 << 20


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 1_700_000_000
    return info


def _add_tree(tar: tarfile.TarFile, root: Path, stats: dict[str, int]) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            try:
                st = path.lstat()
            except OSError:
                continue
            if path.is_symlink() or (path.is_file() and st.st_size <= MAX_FILE):
                try:
                    tar.add(path, arcname=str(path).lstrip("/"), recursive=False, filter=_reset)
                except OSError:
                    continue
                stats["files"] += 1
                stats["bytes"] += st.st_size if path.is_file() else 0


def _layer(roots: list[Path], files: list[Path], stats: dict[str, int]) -> tuple[str, str, int]:
    """Write one gzip layer blob; return (diff_id, digest, size)."""
    with (
        tempfile.NamedTemporaryFile(dir=CACHE, delete=False) as raw,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for root in roots:
            _add_tree(tar, root, stats)
        for f in files:
            if f.is_file():
                tar.add(f, arcname=str(f).lstrip("/"), recursive=False, filter=_reset)
                stats["files"] += 1
    h = hashlib.sha256()
    with open(raw.name, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    diff_id = "sha256:" + h.hexdigest()
    subprocess.run(["gzip", "-6", "-n", "-f", raw.name], check=True)
    gz = Path(raw.name + ".gz")
    blob = gz.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    dest = LAYOUT / "blobs" / "sha256" / digest
    dest.parent.mkdir(parents=True, exist_ok=True)
    gz.replace(dest)
    return diff_id, "sha256:" + digest, len(blob)


def build() -> dict[str, int]:
    shutil.rmtree(LAYOUT, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    stats = {"files": 0, "bytes": 0}
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    layers = [
        _layer(
            [Path("/usr/bin"), Path("/usr/sbin"), Path("/usr/share/doc")],
            [Path("/etc/os-release"), Path("/usr/lib/os-release"), Path("/var/lib/dpkg/status")],
            stats,
        ),
        _layer([stdlib], [], stats),
    ]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [d for d, _, _ in layers]},
    }
    cbytes = json.dumps(config).encode()
    cdigest = hashlib.sha256(cbytes).hexdigest()
    (LAYOUT / "blobs" / "sha256" / cdigest).write_bytes(cbytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + cdigest,
            "size": len(cbytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": size,
            }
            for _, digest, size in layers
        ],
    }
    mbytes = json.dumps(manifest).encode()
    mdigest = hashlib.sha256(mbytes).hexdigest()
    (LAYOUT / "blobs" / "sha256" / mdigest).write_bytes(mbytes)
    (LAYOUT / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": "sha256:" + mdigest,
                "size": len(mbytes),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    (LAYOUT / "index.json").write_text(json.dumps(index))
    (LAYOUT / "stats.json").write_text(json.dumps(stats))
    return stats


def _timed(cmd: list[str], **kw: object) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd[0]} failed")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if args.rebuild or not (LAYOUT / "stats.json").exists():
        print("building the benchmark image ...", file=sys.stderr)
        build()
    stats = json.loads((LAYOUT / "stats.json").read_text())
    manifest_digest = json.loads((LAYOUT / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((LAYOUT / "blobs" / "sha256" / manifest_digest.split(":")[1]).read_text())
    blobs = [LAYOUT / "blobs" / "sha256" / d["digest"].split(":")[1] for d in manifest["layers"]]
    compressed = sum(b.stat().st_size for b in blobs)
    gzip_cmd = ["sh", "-c", 'for f in "$@"; do gzip -dc "$f"; done > /dev/null', "gzip", *blobs]
    kubeward = [
        sys.executable,
        "-m",
        "kubeward",
        "sbom",
        f"oci:{LAYOUT}",
        "--format",
        "json",
        "-o",
        "/dev/null",
        "--quiet",
    ]
    best_gzip = min(_timed(gzip_cmd)[0] for _ in range(args.runs))
    runs = [_timed(kubeward) for _ in range(args.runs)]
    best_kw = min(t for t, _ in runs)
    rss_mb = max(r for _, r in runs) / 1024
    out = subprocess.run(
        [*kubeward[:-3], "-o", "-", "--quiet"], capture_output=True, check=True
    ).stdout
    packages = len(json.loads(out)["packages"])
    print(
        f"image: {stats['files']} files, {stats['bytes'] / 1e6:.0f} MB uncompressed, "
        f"{compressed / 1e6:.0f} MB gzip, {len(blobs)} layers; kubeward found {packages} packages"
    )
    print(f"gzip -dc of all layers : {best_gzip:.2f} s (best of {args.runs})")
    print(
        f"kubeward sbom          : {best_kw:.2f} s (best of {args.runs}), peak RSS {rss_mb:.0f} MB"
    )
    print(
        f"ratio                  : {best_kw / best_gzip:.2f} (target <= 1.5; RSS target <= 300 MB)"
    )


if __name__ == "__main__":
    main()
