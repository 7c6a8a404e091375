"""Dockerfile checks on instructions other than RUN (RUN checks live in `checks_run.py`).

Each check is a small function over a parsed `Dockerfile`; titles, severities, rationale and
mappings (CIS Docker Benchmark, hadolint) are in `kubeward/data/checks/dockerfile.yaml`.
Values are compared after ARG/ENV substitution; a value still holding an unresolved `$VAR`
(set by the base image or a build argument) is given the benefit of the doubt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubeward.misconfig.dockerfile.model import Dockerfile, Instruction, Stage
from kubeward.misconfig.engine import Violation, check

# Registries (or registry/path prefixes) base images may come from; empty = no restriction.
# Set from the configuration by the `config` command before checks run.
BASE_IMAGE_REGISTRIES: frozenset[str] = frozenset()

_ARCHIVE = re.compile(
    r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|gz|bz2|xz)$", re.I
)
_REMOTE = re.compile(r"^(https?|git|ssh)://|^git@", re.I)
_SECRET_NAME = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PASSPHRASE|SECRET|SECRET_?KEY|TOKEN|API_?KEY|PRIVATE_?KEY|"
    r"ACCESS_?KEY|CREDENTIALS?)(_|$)"
)
_NOT_SECRET_SUFFIX = re.compile(r"_(FILE|PATH|DIR|NAME|URL|ENV|VAR|LENGTH|LEN|TTL)$")
_NOT_SECRET_VALUES = frozenset(
    {"", "yes", "no", "true", "false", "on", "off", "0", "1", "none", "null"}
)
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def _final(dockerfile: Dockerfile) -> Stage | None:
    return dockerfile.stages[-1] if dockerfile.stages else None


def _last(dockerfile: Dockerfile, stage: Stage, cmd: str) -> Instruction | None:
    """The last `cmd` instruction in effect for `stage`, following `FROM <earlier stage>`."""
    for ancestor in dockerfile.lineage(stage):
        found = [i for i in ancestor.instructions if i.cmd == cmd]
        if found:
            return found[-1]
    return None


def _is_image(dockerfile: Dockerfile, stage: Stage) -> bool:
    """True when the stage's base is a pulled image (not scratch, a stage, or unresolved)."""
    base = stage.base.lower()
    if base == "scratch" or "$" in base or not base:
        return False
    return dockerfile.stage_named(base, stage.index) is None


def _registry(image: str) -> tuple[str, str]:
    """(registry, repository) as Docker resolves a reference (docker.io by default)."""
    name = image.split("@", 1)[0]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first.lower(), rest
    else:
        registry, repository = "docker.io", name
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = "docker.io"
    if registry == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    return registry, repository.rsplit(":", 1)[0] if ":" in repository else repository


def _tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _absolute(path: str) -> bool:
    return path.startswith(("/", "$")) or bool(_WINDOWS_ABSOLUTE.match(path))


@check("KW-DF-001", "dockerfile")
def last_user_root(dockerfile: Dockerfile) -> Iterator[Violation]:
    """The final image runs as root unless its last USER says otherwise."""
    stage = _final(dockerfile)
    if stage is None:
        return
    user = _last(dockerfile, stage, "USER")
    if user is None:
        yield Violation(
            "no USER in the final stage: the container runs as root", line=stage.base_line
        )
        return
    name = user.args[0].split(":", 1)[0] if user.args else ""
    if name in ("root", "0"):
        yield Violation(
            f"last USER of the final stage is {name}", line=user.line, end_line=user.end_line
        )


@check("KW-DF-002", "dockerfile")
def base_latest_tag(dockerfile: Dockerfile) -> Iterator[Violation]:
    """An untagged or `latest` base changes under you from one build to the next."""
    for stage in dockerfile.stages:
        if not _is_image(dockerfile, stage) or "@" in stage.base:
            continue
        tag = _tag(stage.base)
        if tag is None:
            yield Violation(f"FROM {stage.base} has no tag (means latest)", line=stage.base_line)
        elif tag == "latest":
            yield Violation(f"FROM {stage.base} uses the latest tag", line=stage.base_line)


@check("KW-DF-003", "dockerfile")
def base_not_pinned(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Only a digest names exactly one image; tags can be moved."""
    for stage in dockerfile.stages:
        if _is_image(dockerfile, stage) and "@" not in stage.base:
            yield Violation(f"FROM {stage.base} is not pinned by digest", line=stage.base_line)


@check("KW-DF-004", "dockerfile")
def base_registry_not_allowed(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Base images must come from the configured registries (when any are configured)."""
    allowed = {a.lower().rstrip("/") for a in BASE_IMAGE_REGISTRIES}
    if not allowed:
        return
    for stage in dockerfile.stages:
        if not _is_image(dockerfile, stage):
            continue
        registry, repository = _registry(stage.base)
        full = f"{registry}/{repository}".lower()
        if registry in allowed or any(full.startswith(f"{a}/") for a in allowed):
            continue
        yield Violation(
            f"FROM {stage.base} comes from {registry}, not an allowed registry",
            line=stage.base_line,
        )


def _add_sources(instruction: Instruction) -> list[str]:
    if instruction.cmd != "ADD" or len(instruction.args) < 2:
        return []
    return [s for s in instruction.args[:-1] if not s.startswith("<<")]


@check("KW-DF-005", "dockerfile")
def add_local_files(dockerfile: Dockerfile) -> Iterator[Violation]:
    """ADD of local files does what COPY does, with surprising extras; use COPY."""
    for instruction in dockerfile.instructions:
        local = [
            s for s in _add_sources(instruction) if not _REMOTE.match(s) and not _ARCHIVE.search(s)
        ]
        if local:
            yield Violation(
                f"ADD of local files ({', '.join(local[:3])}): use COPY",
                line=instruction.line,
                end_line=instruction.end_line,
            )


@check("KW-DF-006", "dockerfile")
def add_remote_or_archive(dockerfile: Dockerfile) -> Iterator[Violation]:
    """ADD fetches URLs unverified and unpacks archives implicitly."""
    for instruction in dockerfile.instructions:
        checksum = instruction.flag("checksum") is not None
        risky = [
            s
            for s in _add_sources(instruction)
            if (_REMOTE.match(s) and not checksum) or (not _REMOTE.match(s) and _ARCHIVE.search(s))
        ]
        if risky:
            yield Violation(
                f"ADD of a remote URL or archive ({', '.join(risky[:3])})",
                line=instruction.line,
                end_line=instruction.end_line,
            )


def _secret_like(name: str, value: str | None) -> bool:
    upper = name.upper()
    if not _SECRET_NAME.search(upper) or _NOT_SECRET_SUFFIX.search(upper):
        return False
    return (
        value is not None and "$" not in value and value.strip().lower() not in _NOT_SECRET_VALUES
    )


@check("KW-DF-007", "dockerfile")
def secret_in_env_or_arg(dockerfile: Dockerfile) -> Iterator[Violation]:
    """ENV and ARG values are kept in the image history and config; never put secrets there.
    The message names the variable only: the value is never repeated."""
    for instruction in dockerfile.instructions:
        pairs: list[tuple[str, str | None]] = []
        if instruction.cmd == "ENV":
            pairs = list(zip(instruction.args[::2], instruction.args[1::2], strict=False))
        elif instruction.cmd == "ARG":
            for token in instruction.args:
                name, sep, default = token.partition("=")
                pairs.append((name, default if sep else None))
        for name, value in pairs:
            if _secret_like(name, value):
                yield Violation(
                    f"{instruction.cmd} {name} sets a secret-like variable to a literal value",
                    line=instruction.line,
                    end_line=instruction.end_line,
                )


def _port_range(spec: str) -> tuple[int, int, str] | None:
    port, _, protocol = spec.partition("/")
    low, _, high = port.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        return None
    return int(low), int(high or low), protocol.lower() or "tcp"


@check("KW-DF-020", "dockerfile")
def expose_ssh(dockerfile: Dockerfile) -> Iterator[Violation]:
    """An SSH port in a container means an SSH daemon: a second, unaudited way in."""
    for instruction in dockerfile.instructions:
        if instruction.cmd != "EXPOSE":
            continue
        for spec in instruction.args:
            ports = _port_range(spec)
            if ports is not None and ports[0] <= 22 <= ports[1] and ports[2] == "tcp":
                yield Violation(f"EXPOSE {spec} exposes SSH", line=instruction.line)
                break


@check("KW-DF-021", "dockerfile")
def no_healthcheck(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Without a HEALTHCHECK, Docker cannot tell a hung container from a healthy one."""
    stage = _final(dockerfile)
    if stage is None:
        return
    health = _last(dockerfile, stage, "HEALTHCHECK")
    if health is None:
        yield Violation("no HEALTHCHECK in the final stage", line=stage.base_line)
    elif health.args and health.args[0].upper() == "NONE":
        yield Violation("HEALTHCHECK NONE disables the health check", line=health.line)


@check("KW-DF-022", "dockerfile")
def multiple_cmd_entrypoint(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Only the last CMD / ENTRYPOINT of a stage takes effect; earlier ones mislead readers."""
    for stage in dockerfile.stages:
        last = {i.cmd: i.line for i in stage.instructions if i.cmd in ("CMD", "ENTRYPOINT")}
        seen: set[str] = set()
        for instruction in stage.instructions:
            if instruction.cmd not in last:
                continue
            if instruction.cmd in seen:
                yield Violation(
                    f"{instruction.cmd} repeated in one stage: only line "
                    f"{last[instruction.cmd]} applies",
                    line=instruction.line,
                    end_line=instruction.end_line,
                )
            seen.add(instruction.cmd)


@check("KW-DF-023", "dockerfile")
def shell_form_entrypoint(dockerfile: Dockerfile) -> Iterator[Violation]:
    """A shell-form ENTRYPOINT runs under /bin/sh -c: signals do not reach the program and
    CMD arguments are ignored."""
    for instruction in dockerfile.instructions:
        if instruction.cmd == "ENTRYPOINT" and not instruction.json_form:
            yield Violation(
                "ENTRYPOINT in shell form; use the JSON (exec) form",
                line=instruction.line,
                end_line=instruction.end_line,
            )


@check("KW-DF-024", "dockerfile")
def relative_workdir(dockerfile: Dockerfile) -> Iterator[Violation]:
    """A relative WORKDIR depends on the previous one, possibly set by the base image."""
    for instruction in dockerfile.instructions:
        if instruction.cmd == "WORKDIR" and instruction.args and not _absolute(instruction.args[0]):
            yield Violation(f"WORKDIR {instruction.args[0]} is relative", line=instruction.line)


@check("KW-DF-025", "dockerfile")
def relative_copy_without_workdir(dockerfile: Dockerfile) -> Iterator[Violation]:
    """A relative destination lands in whatever WORKDIR the base image chose."""
    for stage in dockerfile.stages:
        inherited = any(
            i.cmd == "WORKDIR" for s in dockerfile.lineage(stage)[1:] for i in s.instructions
        )
        workdir = inherited
        for instruction in stage.instructions:
            if instruction.cmd == "WORKDIR":
                workdir = True
            elif instruction.cmd in ("COPY", "ADD") and len(instruction.args) >= 2 and not workdir:
                destination = instruction.args[-1]
                if not _absolute(destination):
                    yield Violation(
                        f"{instruction.cmd} to relative {destination} with no WORKDIR set",
                        line=instruction.line,
                        end_line=instruction.end_line,
                    )


@check("KW-DF-026", "dockerfile")
def duplicate_stage_name(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Two stages with one name make `--from` and `--target` ambiguous."""
    seen: dict[str, int] = {}
    for stage in dockerfile.stages:
        if stage.name is None:
            continue
        if stage.name in seen:
            yield Violation(
                f"stage name {stage.name} already used on line {seen[stage.name]}",
                line=stage.base_line,
            )
        else:
            seen[stage.name] = stage.base_line


@check("KW-DF-027", "dockerfile")
def maintainer(dockerfile: Dockerfile) -> Iterator[Violation]:
    """MAINTAINER is deprecated; a LABEL carries the same information."""
    for instruction in dockerfile.instructions:
        if instruction.cmd == "MAINTAINER":
            yield Violation("MAINTAINER is deprecated", line=instruction.line)


@check("KW-DF-028", "dockerfile")
def copy_from_unknown_stage(dockerfile: Dockerfile) -> Iterator[Violation]:
    """COPY --from=name with no earlier stage of that name silently pulls an image `name`."""
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd != "COPY":
                continue
            ref = instruction.flag("from")
            if not ref or "$" in ref or any(c in ref for c in ":/@."):
                continue  # no --from, unresolved, or an image reference
            if dockerfile.stage_named(ref, stage.index) is None:
                yield Violation(f"COPY --from={ref} names no earlier stage", line=instruction.line)
