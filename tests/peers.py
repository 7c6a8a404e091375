"""Start and stop a real docker-registry (distribution 2.8) for tests, and push to it with skopeo.

Each registry gets its own temp dir (config, htpasswd, storage, log) and a free port on
127.0.0.1, and is stopped by PID; see PEERS.md for why the config is always our own.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    dir: Path
    host: str  # "127.0.0.1:PORT"
    process: subprocess.Popen[bytes]
    log: Path
    auth: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def storage(self) -> Path:
        return self.dir / "data" / "docker" / "registry" / "v2"

    def blob_path(self, digest: str) -> Path:
        hexpart = digest.split(":", 1)[1]
        return self.storage / "blobs" / "sha256" / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_registry(tmp_path: Path, auth: tuple[str, str] | None = None) -> Registry:
    """Start `docker-registry serve` on a free port; wait until GET /v2/ answers."""
    root = tmp_path / f"registry-{time.monotonic_ns()}"
    root.mkdir(parents=True)
    port = free_port()
    config = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: 127.0.0.1:{port}}}",
        "health: {storagedriver: {enabled: false}}",
    ]
    if auth is not None:
        htpasswd = subprocess.run(
            ["htpasswd", "-Bbn", auth[0], auth[1]], check=True, capture_output=True
        ).stdout
        (root / "htpasswd").write_bytes(htpasswd)
        config.append(f"auth: {{htpasswd: {{realm: basic-realm, path: {root / 'htpasswd'}}}}}")
    (root / "config.yml").write_text("\n".join(config) + "\n")
    log = root / "registry.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(root / "config.yml")],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    registry = Registry(root, f"127.0.0.1:{port}", process, log, auth)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited {process.returncode}: {log.read_text()}")
        try:
            # 401 means up (auth enabled); any answer at all means it is serving.
            if httpx.get(f"{registry.url}/v2/", timeout=1).status_code in (200, 401):
                return registry
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    registry.stop()
    raise RuntimeError(f"docker-registry did not answer in {START_TIMEOUT} s: {log.read_text()}")


def push(
    layout: Path,
    tag: str,
    registry: Registry,
    repo: str,
    *,
    creds: tuple[str, str] | None = None,
    all: bool = False,  # mirrors skopeo's --all (an image index with every image)
    dest_tag: str | None = None,
) -> str:
    """Push `layout:tag` to registry/repo:(dest_tag or tag) with skopeo, digests unchanged;
    return the pushed reference."""
    dest = f"{registry.host}/{repo}:{dest_tag or tag}"
    cmd = ["skopeo", "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false"]
    if all:
        cmd.append("--all")
    if creds is not None:
        cmd += ["--dest-creds", f"{creds[0]}:{creds[1]}"]
    cmd += [f"oci:{layout}:{tag}", f"docker://{dest}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo push failed: {result.stderr.strip()}")
    return dest
