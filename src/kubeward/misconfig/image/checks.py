"""Image checks: the config (user, healthcheck, Env, reference) and the squashed filesystem.

Each check is a pure function of an `ImageSubject`; titles, severities and mappings live in
`kubeward/data/checks/image.yaml`. A secret is never put in a message: Env findings name the
variable, credential findings name the file and the kind of credential.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Iterator

from kubeward.artifact.filetree import FileTree, SymlinkLoopError
from kubeward.misconfig.engine import CheckRun, Selection, Violation, check, run_checks
from kubeward.misconfig.image.collector import is_credential_path
from kubeward.misconfig.image.subject import ImageSubject

CONFIG = "image config"
ROOT_NAMES = frozenset({"", "0", "root"})
SYSTEM_DIRS = ("etc", "usr", "bin", "sbin", "lib", "lib64", "var/lib", "opt")
MAX_PERMISSION_FINDINGS = 50
LOCAL_SOURCES = frozenset({"oci", "oci-archive", "docker-archive"})


def run_image_checks(subject: ImageSubject, selection: Selection | None = None) -> CheckRun:
    """Run the image checks and give each finding on a path of the image the layer that
    wrote it (the engine knows one layer per subject; an image has one per path)."""
    run = run_checks("image", subject, layer=None, selection=selection)
    for i, finding in enumerate(run.findings):
        path = finding.location.path
        entry = subject.tree.get(path) if path else None
        if entry is not None and entry.layer is not None:
            location = dataclasses.replace(finding.location, layer=entry.layer)
            run.findings[i] = dataclasses.replace(finding, location=location)
    return run


def _passwd_uids(data: bytes | None) -> dict[str, str]:
    """user name -> UID from an etc/passwd."""
    out: dict[str, str] = {}
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] and not fields[0].startswith("#"):
            out.setdefault(fields[0], fields[2])
    return out


@check("KW-IMG-001", "image")
def runs_as_root(subject: ImageSubject) -> Iterator[Violation]:
    user = subject.body.get("User")
    text = user.strip() if isinstance(user, str) else ""
    name = text.partition(":")[0]
    if not text:
        yield Violation("the image config sets no User: containers run as root", resource=CONFIG)
    elif name in ROOT_NAMES:
        yield Violation(f"the image config sets User {text!r}: root", resource=CONFIG)
    elif _passwd_uids(subject.files.get("etc/passwd")).get(name) == "0":
        yield Violation(
            f"the image config sets User {text!r}, UID 0 in etc/passwd: root", resource=CONFIG
        )


@check("KW-IMG-002", "image")
def no_healthcheck(subject: ImageSubject) -> Iterator[Violation]:
    health = subject.body.get("Healthcheck")
    test = health.get("Test") if isinstance(health, dict) else None
    if not isinstance(test, list) or not test:
        yield Violation("the image config has no Healthcheck", resource=CONFIG)
    elif test[0] == "NONE":
        yield Violation("the image config disables the Healthcheck (NONE)", resource=CONFIG)


_SECRET_WORDS = frozenset({"KEY", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PASSPHRASE"})
_SECRET_ENDINGS = ("PASSWORD", "PASSWD", "SECRET", "SECRETS", "TOKEN", "TOKENS")
# names that point to a secret or hold public data, not a secret itself (GPG_KEY in the
# official python images is a key fingerprint; *_FILE names a mounted secret file)
_NOT_SECRET_WORDS = frozenset({"GPG", "PGP", "PUBLIC", "PUB", "FINGERPRINT"})
_NOT_SECRET_LAST = frozenset({"FILE", "PATH", "DIR", "ENV", "NAME", "ID"})


def _secret_name(name: str) -> bool:
    """True when the variable's name says it holds a secret: a word such as KEY, or a word
    ending in PASSWORD/SECRET/TOKEN (DB_PASSWORD, MYSQLPASSWORD), but not TOKENIZERS."""
    words = [w for w in re.split(r"[^A-Z0-9]+", name.upper()) if w]
    if not words or _NOT_SECRET_WORDS.intersection(words) or words[-1] in _NOT_SECRET_LAST:
        return False
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words)


@check("KW-IMG-003", "image")
def secret_in_env(subject: ImageSubject) -> Iterator[Violation]:
    from kubeward.secrets.analyzer import scanner

    scan = scanner().scan
    for name, value in subject.env():
        if not value.strip():
            continue
        if _secret_name(name):
            yield Violation(
                f"Env variable {name} holds a value and its name says it is a secret",
                resource=CONFIG,
            )
            continue
        matches = scan(f"{name}={value}".encode("utf-8", "replace"), "image config Env")
        if matches:
            rule = matches[0].rule
            yield Violation(f"Env variable {name} holds a secret ({rule.title})", resource=CONFIG)


@check("KW-IMG-004", "image")
def setuid_files(subject: ImageSubject) -> Iterator[Violation]:
    for path, entry in sorted(subject.tree.entries.items()):
        if entry.kind != "file" or not entry.mode & 0o6000:
            continue
        bits = " and ".join(
            b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if entry.mode & m
        )
        yield Violation(f"{path} is {bits} (mode {entry.mode:04o})", path=path)


def _in_system_dir(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in SYSTEM_DIRS)


@check("KW-IMG-005", "image")
def world_writable(subject: ImageSubject) -> Iterator[Violation]:
    found: list[Violation] = []
    for path, entry in sorted(subject.tree.entries.items()):
        if not entry.mode & 0o002 or not _in_system_dir(path):
            continue
        if entry.kind == "file":
            found.append(Violation(f"{path} is world-writable (mode {entry.mode:04o})", path=path))
        elif entry.kind == "dir" and not entry.mode & 0o1000:
            found.append(
                Violation(
                    f"{path} is a world-writable directory without the sticky bit "
                    f"(mode {entry.mode:04o})",
                    path=path,
                )
            )
    yield from found[:MAX_PERMISSION_FINDINGS]
    if len(found) > MAX_PERMISSION_FINDINGS:
        more = len(found) - MAX_PERMISSION_FINDINGS
        yield Violation(
            f"and {more} more world-writable paths in system directories",
            resource="image filesystem",
        )


# cache directory -> does this file under it count as cache content
_CACHES: tuple[tuple[str, str], ...] = (
    ("var/lib/apt/lists", "apt package lists"),
    ("var/cache/apt/archives", "apt downloaded packages"),
    ("var/cache/apk", "apk package cache"),
    ("root/.cache/pip", "pip cache"),
    ("var/cache/yum", "yum cache"),
    ("var/cache/dnf", "dnf cache"),
)
_NOT_CACHE = frozenset({"lock"})


@check("KW-IMG-006", "image")
def package_caches(subject: ImageSubject) -> Iterator[Violation]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, entry in subject.tree.entries.items():
        if entry.kind != "file" or path.rpartition("/")[2] in _NOT_CACHE:
            continue
        for directory, _ in _CACHES:
            if path.startswith(directory + "/"):
                if directory == "var/cache/apt/archives" and not path.endswith(".deb"):
                    break
                counts[directory][0] += 1
                counts[directory][1] += entry.size
                break
    for directory, what in _CACHES:
        if directory in counts:
            files, size = counts[directory]
            noun = "file" if files == 1 else "files"
            yield Violation(
                f"{directory} holds {files} {noun} ({size} bytes) of {what}", path=directory
            )


def _installed(tree: FileTree, candidates: tuple[str, ...]) -> list[str]:
    """The real paths of the candidates that exist as files (symlinked /sbin, /bin too)."""
    out: list[str] = []
    for candidate in candidates:
        try:
            real = tree.resolve(candidate)
        except SymlinkLoopError:
            continue
        entry = tree.get(real) if real is not None else None
        if real is not None and entry is not None and entry.kind == "file" and real not in out:
            out.append(real)
    return out


@check("KW-IMG-007", "image")
def sshd_installed(subject: ImageSubject) -> Iterator[Violation]:
    for path in _installed(subject.tree, ("usr/sbin/sshd", "sbin/sshd", "usr/local/sbin/sshd")):
        yield Violation(f"the SSH server {path} is installed", path=path)


@check("KW-IMG-008", "image")
def sudo_installed(subject: ImageSubject) -> Iterator[Violation]:
    for path in _installed(subject.tree, ("usr/bin/sudo", "bin/sudo", "usr/local/bin/sudo")):
        yield Violation(f"{path} is installed", path=path)


_NPM_AUTH = re.compile(rb"(?m)^[^#;\n]*\b_(authToken|auth|password)\s*=\s*\S")
_INI_PASSWORD = re.compile(rb"(?mi)^\s*password\s*[=:]\s*\S")
_AWS_SECRET = re.compile(rb"(?mi)^\s*aws_(secret_access_key|session_token)\s*=\s*\S")
_NETRC_PASSWORD = re.compile(rb"(?:^|\s)password\s+\S")
_URL_CREDENTIALS = re.compile(rb"://[^\s/@:]*:[^\s/@]+@")


def _docker_auths(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except ValueError:
        return bool(re.search(rb'"(auth|identitytoken)"\s*:\s*"[^"]', data))
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        return False
    return any(
        isinstance(entry, dict) and any(entry.get(k) for k in ("auth", "identitytoken"))
        for entry in auths.values()
    )


def _credential_kind(path: str, data: bytes) -> str | None:
    """What credential the file holds, or None when it holds none (an empty or
    settings-only file)."""
    base = path.rpartition("/")[2]
    if base == ".npmrc":
        return "an npm auth token or password" if _NPM_AUTH.search(data) else None
    if base == "config.json":
        return "registry credentials" if _docker_auths(data) else None
    if base == "credentials":
        return "an AWS secret key" if _AWS_SECRET.search(data) else None
    if base == ".pypirc":
        return "a package index password" if _INI_PASSWORD.search(data) else None
    if base == ".netrc":
        return "a password" if _NETRC_PASSWORD.search(data) else None
    if base == ".git-credentials":
        return "git credentials" if _URL_CREDENTIALS.search(data) else None
    return "a private SSH key" if b"PRIVATE KEY" in data else None


@check("KW-IMG-009", "image")
def credential_files(subject: ImageSubject) -> Iterator[Violation]:
    for path, data in sorted(subject.files.items()):
        if not is_credential_path(path):
            continue
        kind = _credential_kind(path, data)
        if kind is not None:
            yield Violation(f"{path} holds {kind}", path=path)


def reference_tag(reference: str, source: str | None = None) -> tuple[str | None, bool]:
    """(tag, pinned) of what the user typed. `pinned` is True when the reference names
    the content itself (a digest, or a local layout or archive with no tag selector)."""
    text = reference.removeprefix("docker://")
    prefix, sep, rest = text.partition(":")
    kind = source
    if sep and prefix in (*LOCAL_SOURCES, "registry", "docker-daemon"):
        kind, text = prefix, rest
    if kind in ("oci", "oci-archive"):
        head, colon, tail = text.rpartition(":")
        if colon and head and tail and "/" not in tail:
            return tail, False
        return None, True
    if kind == "docker-archive":
        _, colon, selector = text.partition(":")
        if not colon or not selector or selector.startswith("@"):
            return None, True
        text = selector
    if "@" in text or text.startswith("sha256:"):
        return None, True
    last_slash = text.rfind("/")
    tag_at = text.rfind(":")
    return (text[tag_at + 1 :] if tag_at > last_slash else None), False


@check("KW-IMG-010", "image")
def latest_tag(subject: ImageSubject) -> Iterator[Violation]:
    tag, pinned = reference_tag(subject.reference, subject.source)
    if pinned:
        return
    if tag is None:
        yield Violation(
            f"{subject.reference} has no tag: it means latest, which moves", resource=CONFIG
        )
    elif tag == "latest":
        yield Violation(f"{subject.reference} uses the tag latest, which moves", resource=CONFIG)


@check("KW-IMG-011", "image")
def empty_passwords(subject: ImageSubject) -> Iterator[Violation]:
    data = subject.files.get("etc/shadow")
    if data is None:
        return
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        fields = line.split(":")
        if len(fields) >= 2 and fields[0] and not fields[0].startswith("#") and not fields[1]:
            yield Violation(
                f"user {fields[0]} has an empty password in etc/shadow",
                line=number,
                path="etc/shadow",
            )


def _duplicate_ids(data: bytes, path: str, what: str) -> Iterator[Violation]:
    seen: dict[str, list[str]] = {}
    first_dup_line: dict[str, int] = {}
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        fields = line.split(":")
        if len(fields) < 3 or not fields[0] or fields[0].startswith(("#", "+", "-")):
            continue
        names = seen.setdefault(fields[2], [])
        names.append(fields[0])
        if len(names) == 2:
            first_dup_line[fields[2]] = number
    for ident, number in sorted(first_dup_line.items(), key=lambda item: item[1]):
        shared = ", ".join(seen[ident])
        yield Violation(f"{what} {ident} is shared by {shared} in {path}", line=number, path=path)


@check("KW-IMG-012", "image")
def duplicate_ids(subject: ImageSubject) -> Iterator[Violation]:
    for path, what in (("etc/passwd", "UID"), ("etc/group", "GID")):
        data = subject.files.get(path)
        if data is not None:
            yield from _duplicate_ids(data, path, what)
