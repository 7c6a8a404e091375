"""Image checks, each with a case that fires and one that stays quiet, on hand-built subjects."""

from __future__ import annotations

from typing import Any

import pytest

from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext
from kubeward.artifact.filetree import FileTree, TreeEntry
from kubeward.misconfig.engine import Selection
from kubeward.misconfig.image.checks import reference_tag, run_image_checks
from kubeward.misconfig.image.collector import MAX_FILE_BYTES, ImageFilesCollector
from kubeward.misconfig.image.subject import ImageSubject
from kubeward.model import Finding

L1 = "sha256:" + "1" * 64
L2 = "sha256:" + "2" * 64
HEALTHY = {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}}
FAKE_PASSWORD = "Qz8rT" + "w2Lp9vX"


def subject(
    body: dict[str, Any] | None = None,
    entries: dict[str, TreeEntry] | None = None,
    files: dict[str, bytes] | None = None,
    reference: str = "registry.example.com/app:1.0",
    source: str | None = "registry",
) -> ImageSubject:
    tree = FileTree()
    tree.entries.update(entries or {})
    return ImageSubject(
        {"config": HEALTHY if body is None else body}, tree, files or {}, reference, source
    )


def found(check_id: str, subj: ImageSubject) -> list[Finding]:
    run = run_image_checks(subj, Selection(enable=frozenset({check_id})))
    assert run.errors == []
    return run.findings


def messages(check_id: str, subj: ImageSubject) -> list[str]:
    return [f.message for f in found(check_id, subj)]


def f(mode: int = 0o644, layer: str = L1, size: int = 10) -> TreeEntry:
    return TreeEntry("file", size, mode, layer)


def d(mode: int = 0o755, layer: str = L1) -> TreeEntry:
    return TreeEntry("dir", 0, mode, layer)


# KW-IMG-001
@pytest.mark.parametrize("user", ["", "0", "root", "0:0", "root:root", " root "])
def test_root_user(user: str) -> None:
    got = found("KW-IMG-001", subject({**HEALTHY, "User": user}))
    assert len(got) == 1
    assert got[0].location.resource == "image config"
    assert got[0].location.layer is None


def test_no_user_key_is_root() -> None:
    assert messages("KW-IMG-001", subject({})) == [
        "the image config sets no User: containers run as root"
    ]


def test_user_named_with_uid_0_in_passwd_is_root() -> None:
    passwd = b"root:x:0:0::/root:/bin/sh\nadmin:x:0:0::/home/admin:/bin/sh\n"
    subj = subject({"User": "admin"}, files={"etc/passwd": passwd})
    assert messages("KW-IMG-001", subj) == [
        "the image config sets User 'admin', UID 0 in etc/passwd: root"
    ]


@pytest.mark.parametrize("user", ["app", "10001", "10001:10001", "nobody:nogroup"])
def test_non_root_user(user: str) -> None:
    assert found("KW-IMG-001", subject({"User": user})) == []


# KW-IMG-002
def test_no_healthcheck() -> None:
    got = found("KW-IMG-002", subject({"User": "app"}))
    assert [(f.message, f.location.resource) for f in got] == [
        ("the image config has no Healthcheck", "image config")
    ]


def test_disabled_healthcheck() -> None:
    body = {"Healthcheck": {"Test": ["NONE"]}}
    assert messages("KW-IMG-002", subject(body)) == [
        "the image config disables the Healthcheck (NONE)"
    ]


def test_healthcheck_present() -> None:
    assert found("KW-IMG-002", subject()) == []


# KW-IMG-003
def test_secret_env_name_reports_the_name_only() -> None:
    env = ["PATH=/usr/bin", f"DB_PASSWORD={FAKE_PASSWORD}", "API_KEY=abc123def"]
    got = found("KW-IMG-003", subject({**HEALTHY, "Env": env}))
    assert [f.message for f in got] == [
        "Env variable DB_PASSWORD holds a value and its name says it is a secret",
        "Env variable API_KEY holds a value and its name says it is a secret",
    ]
    assert all(FAKE_PASSWORD not in repr(f) and "abc123def" not in repr(f) for f in got)


def test_secret_env_value_matched_by_secret_rules() -> None:
    token = "ghp_" + "R4nd0mF4k3T0k3nV4lu3F0rT3st1ngAbCd12"
    got = found("KW-IMG-003", subject({**HEALTHY, "Env": [f"GH={token}"]}))
    assert len(got) == 1
    assert got[0].message.startswith("Env variable GH holds a secret (")
    assert token not in got[0].message


def test_env_without_secrets() -> None:
    env = [
        "PATH=/usr/bin",
        "DB_PASSWORD=",
        "DB_PASSWORD_FILE=/run/secrets/db",
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "TOKENIZERS_PARALLELISM=false",
        "AWS_ACCESS_KEY_ID_NAME=x",
        "NOEQUALS",
    ]
    assert found("KW-IMG-003", subject({**HEALTHY, "Env": env})) == []


# KW-IMG-004
def test_setuid_and_setgid_files_with_layers() -> None:
    entries = {
        "usr/bin/suid-tool": f(0o4755, L2),
        "usr/bin/wall": f(0o2755),
        "usr/bin/both": f(0o6755),
        "usr/bin/plain": f(0o755),
        "var/mail": d(0o2775),
    }
    got = found("KW-IMG-004", subject(entries=entries))
    assert [(x.location.path, x.location.layer, x.message) for x in got] == [
        ("usr/bin/both", L1, "usr/bin/both is setuid and setgid (mode 6755)"),
        ("usr/bin/suid-tool", L2, "usr/bin/suid-tool is setuid (mode 4755)"),
        ("usr/bin/wall", L1, "usr/bin/wall is setgid (mode 2755)"),
    ]


def test_no_setuid_files() -> None:
    assert found("KW-IMG-004", subject(entries={"usr/bin/ls": f(0o755)})) == []


# KW-IMG-005
def test_world_writable_in_system_dirs() -> None:
    entries = {
        "etc/app.conf": f(0o666, L2),
        "opt/shared": d(0o777),
        "tmp": d(0o1777),
        "var/lib/sticky": d(0o1777),
        "home/app/notes": f(0o666),
        "usr/lib/libx.so": TreeEntry("symlink", 0, 0o777, L1, "libx.so.1"),
    }
    got = found("KW-IMG-005", subject(entries=entries))
    assert [(x.location.path, x.location.layer, x.message) for x in got] == [
        ("etc/app.conf", L2, "etc/app.conf is world-writable (mode 0666)"),
        (
            "opt/shared",
            L1,
            "opt/shared is a world-writable directory without the sticky bit (mode 0777)",
        ),
    ]


def test_world_writable_capped_with_summary() -> None:
    entries = {f"usr/share/f{i:03}": f(0o666) for i in range(53)}
    got = found("KW-IMG-005", subject(entries=entries))
    assert len(got) == 51
    assert got[49].location.path == "usr/share/f049"
    assert got[50].message == "and 3 more world-writable paths in system directories"
    assert got[50].location.path is None


def test_no_world_writable() -> None:
    entries = {"etc/passwd": f(0o644), "var/tmp": d(0o1777), "usr/bin": d(0o755)}
    assert found("KW-IMG-005", subject(entries=entries)) == []


# KW-IMG-006
def test_package_caches() -> None:
    entries = {
        "var/lib/apt/lists": d(layer=L2),
        "var/lib/apt/lists/lock": f(),
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease": f(size=100, layer=L2),
        "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4": (
            f(size=50, layer=L2)
        ),
        "root/.cache/pip/http/abc": f(size=7),
        "var/cache/apt/archives/curl.deb": f(size=3),
        "var/cache/apt/archives/partial": d(),
    }
    got = found("KW-IMG-006", subject(entries=entries))
    assert [(x.location.path, x.location.layer, x.message) for x in got] == [
        (
            "var/lib/apt/lists",
            L2,
            "var/lib/apt/lists holds 2 files (150 bytes) of apt package lists",
        ),
        (
            "var/cache/apt/archives",
            None,
            "var/cache/apt/archives holds 1 file (3 bytes) of apt downloaded packages",
        ),
        ("root/.cache/pip", None, "root/.cache/pip holds 1 file (7 bytes) of pip cache"),
    ]


def test_no_package_caches() -> None:
    entries = {
        "var/lib/apt/lists": d(),
        "var/lib/apt/lists/lock": f(),
        "var/cache/apk": d(),
        "var/cache/apt/archives/lock": f(),
    }
    assert found("KW-IMG-006", subject(entries=entries)) == []


# KW-IMG-007 / KW-IMG-008
def test_sshd_and_sudo_through_merged_usr() -> None:
    entries = {
        "sbin": TreeEntry("symlink", 0, 0o777, L1, "usr/sbin"),
        "usr/sbin/sshd": f(0o755, L2),
        "usr/bin/sudo": f(0o4755, L2),
    }
    subj = subject(entries=entries)
    sshd = found("KW-IMG-007", subj)
    assert [(x.location.path, x.location.layer, x.message) for x in sshd] == [
        ("usr/sbin/sshd", L2, "the SSH server usr/sbin/sshd is installed")
    ]
    sudo = found("KW-IMG-008", subj)
    assert [(x.location.path, x.location.layer, x.message) for x in sudo] == [
        ("usr/bin/sudo", L2, "usr/bin/sudo is installed")
    ]


def test_no_sshd_or_sudo() -> None:
    entries = {"usr/sbin/sshd": d(), "usr/bin/su": f(0o4755), "usr/share/doc/sudo": d()}
    subj = subject(entries=entries)
    assert found("KW-IMG-007", subj) == []
    assert found("KW-IMG-008", subj) == []


# KW-IMG-009
CREDENTIALS = {
    "root/.aws/credentials": b"[default]\naws_access_key_id = AKIAX\naws_secret_access_key = zz\n",
    "home/app/.docker/config.json": b'{"auths": {"ghcr.io": {"auth": "dXNlcjpwdw=="}}}',
    "root/.ssh/id_ed25519": b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n",
    "app/.npmrc": b"registry=https://r.example\n//r.example/:_authToken=npm_x\n",
    "root/.pypirc": b"[pypi]\nusername = __token__\npassword = pypi-x\n",
    ".git-credentials": b"https://bob:tok@github.com\n",
    "root/.netrc": b"machine example.com login bob password pw\n",
}


def test_credential_files() -> None:
    entries = {path: f(0o600, L2) for path in CREDENTIALS}
    got = found("KW-IMG-009", subject(entries=entries, files=CREDENTIALS))
    assert [(x.location.path, x.location.layer, x.message) for x in got] == [
        (".git-credentials", L2, ".git-credentials holds git credentials"),
        ("app/.npmrc", L2, "app/.npmrc holds an npm auth token or password"),
        (
            "home/app/.docker/config.json",
            L2,
            "home/app/.docker/config.json holds registry credentials",
        ),
        ("root/.aws/credentials", L2, "root/.aws/credentials holds an AWS secret key"),
        ("root/.netrc", L2, "root/.netrc holds a password"),
        ("root/.pypirc", L2, "root/.pypirc holds a package index password"),
        ("root/.ssh/id_ed25519", L2, "root/.ssh/id_ed25519 holds a private SSH key"),
    ]
    assert all("npm_x" not in x.message and "dXNlcjpwdw" not in x.message for x in got)


def test_credential_files_without_credentials() -> None:
    files = {
        "root/.aws/credentials": b"",
        "home/app/.docker/config.json": b'{"auths": {"ghcr.io": {}}, "credsStore": "pass"}',
        "root/.docker/config.json": b"{}",
        "root/.ssh/id_ed25519": b"",
        "app/.npmrc": b"registry=https://r.example\n# _authToken=example\n",
        "root/.pypirc": b"[distutils]\nindex-servers = pypi\n",
        "root/.netrc": b"machine example.com login bob\n",
        ".git-credentials": b"\n",
        "etc/passwd": b"root:x:0:0::/root:/bin/sh\n",
    }
    assert found("KW-IMG-009", subject(files=files)) == []


# KW-IMG-010
@pytest.mark.parametrize(
    ("reference", "source", "message"),
    [
        ("alpine", "registry", "alpine has no tag: it means latest, which moves"),
        ("alpine:latest", "registry", "alpine:latest uses the tag latest, which moves"),
        (
            "localhost:5000/app",
            "registry",
            "localhost:5000/app has no tag: it means latest, which moves",
        ),
        (
            "oci:/tmp/layout:latest",
            "oci",
            "oci:/tmp/layout:latest uses the tag latest, which moves",
        ),
        (
            "docker-archive:/tmp/a.tar:app",
            "docker-archive",
            "docker-archive:/tmp/a.tar:app has no tag: it means latest, which moves",
        ),
        (
            "docker://ghcr.io/x/y:latest",
            None,
            "docker://ghcr.io/x/y:latest uses the tag latest, which moves",
        ),
    ],
)
def test_latest_or_no_tag(reference: str, source: str | None, message: str) -> None:
    got = found("KW-IMG-010", subject(reference=reference, source=source))
    assert [(x.message, x.location.resource) for x in got] == [(message, "image config")]


@pytest.mark.parametrize(
    ("reference", "source"),
    [
        ("alpine:3.19", "registry"),
        ("localhost:5000/app:1.2", "registry"),
        ("alpine:latest@sha256:" + "a" * 64, "registry"),
        ("oci:/tmp/layout:1.0", "oci"),
        ("oci:/tmp/layout", "oci"),
        ("docker-archive:/tmp/a.tar", "docker-archive"),
        ("docker-archive:/tmp/a.tar:app:2", "docker-archive"),
    ],
)
def test_pinned_or_versioned(reference: str, source: str | None) -> None:
    assert found("KW-IMG-010", subject(reference=reference, source=source)) == []


def test_reference_tag() -> None:
    assert reference_tag("oci:/tmp/lay:out:1.0") == ("1.0", False)
    assert reference_tag("oci:/tmp/layout") == (None, True)
    assert reference_tag("registry:alpine") == (None, False)


# KW-IMG-011
def test_empty_password() -> None:
    shadow = b"root:*:19000:0:99999:7:::\nguest::19000:0:99999:7:::\nbob:!:19000::::::\n"
    got = found(
        "KW-IMG-011", subject(files={"etc/shadow": shadow}, entries={"etc/shadow": f(0o640, L2)})
    )
    assert [(x.location.path, x.location.line, x.location.layer, x.message) for x in got] == [
        ("etc/shadow", 2, L2, "user guest has an empty password in etc/shadow")
    ]


def test_no_empty_password() -> None:
    shadow = b"root:*:19000:0:99999:7:::\nbob:$6$salt$hash:19000::::::\n"
    assert found("KW-IMG-011", subject(files={"etc/shadow": shadow})) == []


# KW-IMG-012
def test_duplicate_uids_and_gids() -> None:
    passwd = (
        b"root:x:0:0::/root:/bin/sh\n"
        b"daemon:x:1:1::/:/bin/false\n"
        b"toor:x:0:0::/root:/bin/sh\n"
        b"admin:x:0:0::/root:/bin/sh\n"
    )
    group = b"root:x:0:\nstaff:x:50:\nwheel:x:50:\n"
    got = found("KW-IMG-012", subject(files={"etc/passwd": passwd, "etc/group": group}))
    assert [(x.location.path, x.location.line, x.message) for x in got] == [
        ("etc/passwd", 3, "UID 0 is shared by root, toor, admin in etc/passwd"),
        ("etc/group", 3, "GID 50 is shared by staff, wheel in etc/group"),
    ]


def test_unique_ids() -> None:
    passwd = b"root:x:0:0::/root:/bin/sh\n# comment:x:0\napp:x:1000:1000::/app:/bin/sh\n"
    group = b"root:x:0:\napp:x:1000:\n"
    assert found("KW-IMG-012", subject(files={"etc/passwd": passwd, "etc/group": group})) == []


# collector
def test_collector_keeps_wanted_small_files() -> None:
    collector = ImageFilesCollector(ScanContext("image", frozenset({"misconfig"})))
    wanted = [
        "etc/passwd",
        "etc/shadow",
        "etc/group",
        "root/.aws/credentials",
        "home/a/.docker/config.json",
        "root/.ssh/id_rsa",
        ".npmrc",
        "app/.pypirc",
        "root/.git-credentials",
        "root/.netrc",
    ]
    not_wanted = ["usr/etc/passwd", "app/config.json", "root/.ssh/id_rsa.pub", "credentials"]
    assert [p for p in wanted + not_wanted if collector.wants(p, 0o644)] == wanted
    facts = InventoryBuilder()
    collector.analyze(AnalyzedFile("etc/passwd", b"root:x:0:0::/:/bin/sh\n", L1), facts)
    collector.analyze(AnalyzedFile("root/.netrc", b"x" * (MAX_FILE_BYTES + 1), L1), facts)
    assert collector.files == {"etc/passwd": b"root:x:0:0::/:/bin/sh\n"}
    assert len(facts.warnings) == 1 and "root/.netrc" in facts.warnings[0]


def test_failing_check_is_an_error_not_a_crash() -> None:
    subj = ImageSubject({"config": "not a mapping"}, FileTree(), {}, "alpine:3", "registry")
    run = run_image_checks(subj)
    assert run.errors == []
    assert {x.rule_id for x in run.findings} == {"KW-IMG-001", "KW-IMG-002"}
