"""Checks on the shell commands of RUN instructions (package managers, downloads, permissions).

Each check walks `Instruction.commands` (split by `shell.split_commands`, with absolute lines)
and reports at the offending command's line; metadata lives in data/checks/dockerfile_run.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kubeward.misconfig.dockerfile.model import Dockerfile, Instruction, RunCommand, Stage
from kubeward.misconfig.dockerfile.shell import unwrapped_argv
from kubeward.misconfig.engine import Violation, check

_PYTHONS = re.compile(r"python[0-9.]*")
_PIPS = re.compile(r"pip[0-9.]*")
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})


def _runs(dockerfile: Dockerfile) -> Iterator[tuple[Stage, Instruction]]:
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.cmd == "RUN":
                yield stage, instruction


def _name(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _subcommand(argv: tuple[str, ...], with_value: frozenset[str] = frozenset()) -> int:
    """Index of the first non-option word after the program (`apt-get -q install` -> 2)."""
    k = 1
    while k < len(argv):
        if argv[k] in with_value:
            k += 2
        elif argv[k].startswith("-"):
            k += 1
        else:
            return k
    return len(argv)


def _operands(args: tuple[str, ...], with_value: frozenset[str]) -> list[str]:
    """The non-option words of `args`, skipping the values of options that take one."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in with_value:
            skip = True
        elif arg == "-" or not arg.startswith("-"):
            out.append(arg)
    return out


def _has_short(args: tuple[str, ...], letter: str, long: tuple[str, ...] = ()) -> bool:
    """True when `-x`, a cluster like `-qx`, or one of the `long` spellings is present."""
    for arg in args:
        if arg in long or any(arg.startswith(f"{name}=") for name in long):
            return True
        if arg.startswith("-") and not arg.startswith("--") and letter in arg[1:]:
            return True
    return False


# --- package manager invocations ------------------------------------------------------------

_APT_VALUE = frozenset({"-o", "--option", "-t", "--target-release", "-c", "--config-file", "-a"})


def _apt(argv: tuple[str, ...], *subs: str) -> tuple[str, ...] | None:
    """The arguments of `apt-get SUB ...` when the subcommand is one of `subs`, else None."""
    if not argv or argv[0] != "apt-get":
        return None
    k = _subcommand(argv, _APT_VALUE)
    if k >= len(argv) or argv[k] not in subs:
        return None
    return argv[1:k] + argv[k + 1 :]


def _apk_add(argv: tuple[str, ...]) -> tuple[str, ...] | None:
    if not argv or argv[0] != "apk":
        return None
    k = _subcommand(argv, _APK_VALUE)
    if k >= len(argv) or argv[k] != "add":
        return None
    return argv[1:k] + argv[k + 1 :]


_APK_VALUE = frozenset(
    {"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch", "--cache-dir"}
)
_RPM_TOOLS = frozenset({"yum", "dnf", "microdnf", "tdnf"})
_RPM_VALUE = frozenset(
    {"-c", "--config", "--installroot", "--releasever", "--enablerepo", "--disablerepo",
     "--setopt", "-x", "--exclude", "--repo", "--repoid"}
)  # fmt: skip


def _rpm_install(argv: tuple[str, ...]) -> tuple[str, ...] | None:
    if not argv or argv[0] not in _RPM_TOOLS:
        return None
    k = _subcommand(argv, _RPM_VALUE)
    if k >= len(argv) or argv[k] not in ("install", "reinstall"):
        return None
    return argv[1:k] + argv[k + 1 :]


def _pip_install(argv: tuple[str, ...]) -> tuple[str, ...] | None:
    """Arguments of `pip install`, `pip3.11 install` or `python3 -m pip install`."""
    if argv and _PYTHONS.fullmatch(argv[0]):
        if len(argv) < 3 or argv[1] != "-m" or not _PIPS.fullmatch(argv[2]):
            return None
        argv = argv[2:]
    if not argv or not _PIPS.fullmatch(argv[0]):
        return None
    k = _subcommand(argv, frozenset({"--log", "--proxy", "--cache-dir", "--python"}))
    if k >= len(argv) or argv[k] != "install":
        return None
    return argv[1:k] + argv[k + 1 :]


def _pip_commands(dockerfile: Dockerfile) -> list[RunCommand]:
    """The commands that may be `pip install` (pip3.11, python3 -m pip ...)."""
    names = [n for n in dockerfile.programs if _PIPS.fullmatch(n) or _PYTHONS.fullmatch(n)]
    return dockerfile.commands_of(*names) if names else []


def _unpinned(names: list[str]) -> str:
    return ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")


# --- checks -----------------------------------------------------------------------------------

_DOWNLOADERS = frozenset({"curl", "wget"})
_PIPE_INTERPRETERS = _SHELLS | {"python", "python3", "perl", "ruby", "node"}
_SUBST_DOWNLOAD = re.compile(r"(\$\(|`|<\()\s*(\S*/)?(curl|wget)\b")


@check("KW-DF-008", "dockerfile")
def download_piped_to_shell(dockerfile: Dockerfile) -> Iterator[Violation]:
    """`curl URL | sh` runs whatever the server sends at build time, unverified."""
    for run in dockerfile.commands_of(*_DOWNLOADERS, *_SHELLS):
        argv, command = run.argv, run.command
        if argv[0] in _DOWNLOADERS:
            commands = run.instruction.commands
            k = next(i for i, c in enumerate(commands) if c is command)
            if command.piped_to_next and k + 1 < len(commands):
                target = unwrapped_argv(commands[k + 1].argv)
                if target and target[0] in _PIPE_INTERPRETERS:
                    yield Violation(f"{argv[0]} output is piped into {target[0]}", line=run.line)
        elif any(_SUBST_DOWNLOAD.search(a) for a in argv[1:]):
            yield Violation(f"{argv[0]} runs a script downloaded at build time", run.line)


@check("KW-DF-009", "dockerfile")
def apt_get_install_without_yes(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Without -y apt-get asks for confirmation and the build aborts on the prompt."""
    for run in dockerfile.commands_of("apt-get"):
        args = _apt(run.argv, "install")
        if args is None:
            continue
        if _has_short(args, "y", ("--yes", "--assume-yes")) or "-qq" in args or "-q=2" in args:
            continue
        yield Violation("apt-get install without -y", line=run.line)


@check("KW-DF-010", "dockerfile")
def apt_get_install_recommends(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Recommended packages bloat the image and widen its attack surface."""
    for run in dockerfile.commands_of("apt-get"):
        args = _apt(run.argv, "install")
        if args is None or "--no-install-recommends" in args:
            continue
        if any("APT::Install-Recommends" in a and a.endswith(("false", "0")) for a in args):
            continue
        yield Violation("apt-get install without --no-install-recommends", line=run.line)


def _final_lineage(dockerfile: Dockerfile) -> set[int]:
    """Indexes of the final stage and the stages it is built FROM: what ships in the image."""
    if not dockerfile.stages:
        return set()
    return {stage.index for stage in dockerfile.lineage(dockerfile.stages[-1])}


@check("KW-DF-011", "dockerfile")
def apt_lists_not_removed(dockerfile: Dockerfile) -> Iterator[Violation]:
    """The apt package lists stay in the layer (tens of MB) unless removed in the same RUN."""
    installs = [r for r in dockerfile.commands_of("apt-get") if _apt(r.argv, "install") is not None]
    if not installs:
        return
    shipped = _final_lineage(dockerfile)
    cleaning = {
        id(r.instruction)
        for r in dockerfile.commands_of("rm")
        if any(a.startswith("/var/lib/apt/lists") for a in r.argv)
    }
    reported: set[int] = set()
    for run in installs:
        instruction = run.instruction
        if run.stage.index not in shipped or any("/var/lib/apt" in f for f in instruction.flags):
            continue  # a cache mount keeps the lists out of the layer
        if id(instruction) in cleaning or id(instruction) in reported:
            continue
        reported.add(id(instruction))
        yield Violation(
            "apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN", line=run.line
        )


@check("KW-DF-012", "dockerfile")
def apt_get_upgrade(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Upgrading in a build makes it unreproducible; update the base image instead."""
    for run in dockerfile.commands_of("apt-get", "apt"):
        argv = run.argv
        k = _subcommand(argv, _APT_VALUE)
        if k < len(argv) and argv[k] in ("upgrade", "dist-upgrade", "full-upgrade"):
            yield Violation(f"{argv[0]} {argv[k]} in a RUN", line=run.line)


@check("KW-DF-013", "dockerfile")
def apk_add_without_no_cache(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Without --no-cache apk keeps its index in /var/cache/apk in the layer."""
    for run in dockerfile.commands_of("apk"):
        args = _apk_add(run.argv)
        if args is not None and "--no-cache" not in args:
            yield Violation("apk add without --no-cache", line=run.line)


@check("KW-DF-014", "dockerfile")
def apt_get_install_unpinned(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Unpinned packages make builds unreproducible and pull in surprise upgrades."""
    for run in dockerfile.commands_of("apt-get"):
        args = _apt(run.argv, "install")
        if args is None:
            continue
        names = [a for a in _operands(args, _APT_VALUE) if "=" not in a and not a.endswith(".deb")]
        if names:
            yield Violation(f"apt-get install without versions: {_unpinned(names)}", run.line)


@check("KW-DF-015", "dockerfile")
def apk_add_unpinned(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Unpinned packages make builds unreproducible and pull in surprise upgrades."""
    for run in dockerfile.commands_of("apk"):
        args = _apk_add(run.argv)
        if args is None:
            continue
        names = [
            a
            for a in _operands(args, _APK_VALUE)
            if not re.search(r"[=~<>]", a) and not a.endswith(".apk")
        ]
        if names:
            yield Violation(f"apk add without versions: {_unpinned(names)}", run.line)


_RPM_PINNED = re.compile(r"-[0-9]|[=<>]|\.rpm$|/")


@check("KW-DF-016", "dockerfile")
def rpm_install_unpinned(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Unpinned packages make builds unreproducible and pull in surprise upgrades."""
    for run in dockerfile.commands_of(*_RPM_TOOLS):
        args = _rpm_install(run.argv)
        if args is None:
            continue
        names = [a for a in _operands(args, _RPM_VALUE) if not _RPM_PINNED.search(a)]
        if names:
            tool = run.argv[0]
            yield Violation(f"{tool} install without versions: {_unpinned(names)}", run.line)


_PIP_VALUE = frozenset(
    {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
     "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
     "--src", "--trusted-host", "--platform", "--python-version", "--implementation", "--abi",
     "--upgrade-strategy", "--progress-bar", "--no-binary", "--only-binary", "--cache-dir",
     "--log", "--proxy", "--retries", "--timeout", "--exists-action", "--cert",
     "--client-cert", "--global-option", "--config-settings", "-C", "--python"}
)  # fmt: skip
_PIP_PINNED = re.compile(r"==|>=|<=|~=|!=|[<>@]")
_PIP_LOCAL = re.compile(r"^[./~]|/|\.(whl|tar\.gz|zip|tgz)$")


@check("KW-DF-017", "dockerfile")
def pip_install_unpinned(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Unpinned packages make builds unreproducible and invite dependency confusion."""
    for run in _pip_commands(dockerfile):
        args = _pip_install(run.argv)
        if args is None:
            continue
        names = [
            a
            for a in _operands(args, _PIP_VALUE)
            if not _PIP_PINNED.search(a) and not _PIP_LOCAL.search(a) and "://" not in a
        ]
        if names:
            yield Violation(f"pip install without versions: {_unpinned(names)}", run.line)


_NPM_VALUE = frozenset({"--prefix", "--registry", "--cache", "-w", "--workspace", "--tag"})


@check("KW-DF-018", "dockerfile")
def npm_install_unpinned(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Unpinned packages make builds unreproducible; prefer a lockfile and `npm ci`."""
    for run in dockerfile.commands_of("npm"):
        argv = run.argv
        k = _subcommand(argv, _NPM_VALUE)
        if k >= len(argv) or argv[k] not in ("install", "i", "add", "isntall"):
            continue
        names = []
        for arg in _operands(argv[k + 1 :], _NPM_VALUE):
            if re.match(r"[./~]|(git\+|git:|https?:|file:|github:)", arg) or arg.endswith(
                (".tgz", ".tar.gz")
            ):
                continue  # local folders, tarballs and URLs
            if "@" not in arg[1:]:  # `@scope/name` has its version after a second `@`
                names.append(arg)
        if names:
            yield Violation(f"npm install without versions: {_unpinned(names)}", run.line)


_GEM_VALUE = frozenset(
    {"-i", "--install-dir", "-n", "--bindir", "-s", "--source", "--platform", "-P"}
)


@check("KW-DF-019", "dockerfile")
def gem_install_unpinned(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Unpinned gems make builds unreproducible and pull in surprise upgrades."""
    for run in dockerfile.commands_of("gem"):
        argv = run.argv
        if len(argv) < 2 or argv[1] != "install":
            continue
        args = argv[2:]
        if any(a in ("-v", "--version") or a.startswith(("--version=", "-v")) for a in args):
            continue
        names = [a for a in _operands(args, _GEM_VALUE) if ":" not in a]
        if names:
            yield Violation(f"gem install without versions: {_unpinned(names)}", run.line)


def _sets_pip_no_cache(instruction: Instruction) -> bool:
    """`ENV PIP_NO_CACHE_DIR=...`: ENV args are (key, value) pairs."""
    return instruction.cmd == "ENV" and "PIP_NO_CACHE_DIR" in instruction.args[::2]


@check("KW-DF-030", "dockerfile")
def pip_install_with_cache(dockerfile: Dockerfile) -> Iterator[Violation]:
    """pip's download cache in ~/.cache/pip ends up in the layer and serves nothing."""
    pips = _pip_commands(dockerfile)
    if not pips:
        return
    for stage, instruction in _runs(dockerfile):
        if not any(run.instruction is instruction for run in pips):
            continue
        inherited = [
            i
            for s in dockerfile.lineage(stage)
            for i in s.instructions
            if s is not stage or i.line < instruction.line
        ]
        if any(_sets_pip_no_cache(i) for i in inherited):
            continue
        if any("pip" in f and "type=cache" in f for f in instruction.flags):
            continue  # a cache mount keeps the cache out of the layer
        for run in pips:
            if run.instruction is not instruction:
                continue
            args = _pip_install(run.argv)
            if any(a.startswith("PIP_NO_CACHE_DIR=") for a in run.command.assignments):
                continue
            if args is not None and "--no-cache-dir" not in args:
                yield Violation("pip install without --no-cache-dir", line=run.line)


@check("KW-DF-031", "dockerfile")
def sudo_in_run(dockerfile: Dockerfile) -> Iterator[Violation]:
    """sudo has unpredictable TTY and signal behaviour; switch USER instead."""
    for _, instruction in _runs(dockerfile):
        for command in instruction.commands:
            if command.argv and _name(command.argv[0]) == "sudo":
                yield Violation("sudo used in RUN", line=instruction.command_line(command))


_WORLD_WRITABLE_SYMBOLIC = re.compile(r"^[ugoa]*[+=][rwxXst]*$")


def _world_writable(mode: str) -> bool:
    if re.fullmatch(r"[0-7]{3,4}", mode):
        others = int(mode[-1])
        sticky = len(mode) == 4 and int(mode[0]) & 1
        return bool(others & 2) and not sticky
    for clause in mode.split(","):
        m = re.fullmatch(r"([ugoa]*)([+=])([rwxXst]*)", clause)
        if m and ("a" in m[1] or "o" in m[1]) and "w" in m[3] and "t" not in m[3]:
            return True
    return False


@check("KW-DF-032", "dockerfile")
def chmod_world_writable(dockerfile: Dockerfile) -> Iterator[Violation]:
    """World-writable files let any process in the container alter code or config."""
    for run in dockerfile.commands_of("chmod"):
        argv = run.argv
        modes = [a for a in argv[1:] if not a.startswith("-") or re.fullmatch(r"-[0-7]+", a)]
        if modes and _world_writable(modes[0]):
            yield Violation(f"chmod {modes[0]} makes files world-writable", line=run.line)


@check("KW-DF-033", "dockerfile")
def cd_in_run(dockerfile: Dockerfile) -> Iterator[Violation]:
    """WORKDIR states the directory for later instructions; `cd` in RUN hides it."""
    for run in dockerfile.commands_of("cd"):
        if run.command.argv[:1] == ("cd",):
            yield Violation("cd in RUN; use WORKDIR", line=run.line)


_UID = re.compile(r"(?:-u|--uid)=?([0-9]+)$")


@check("KW-DF-034", "dockerfile")
def useradd_high_uid_without_l(dockerfile: Dockerfile) -> Iterator[Violation]:
    """useradd writes sparse lastlog/faillog entries sized by the UID; in a layer they become
    huge real files unless -l (--no-log-init) is given."""
    for run in dockerfile.commands_of("useradd"):
        args = run.argv[1:]
        uid = None
        for k, arg in enumerate(args):
            if arg in ("-u", "--uid") and k + 1 < len(args) and args[k + 1].isdigit():
                uid = int(args[k + 1])
            elif m := _UID.match(arg):
                uid = int(m[1])
        if uid is None or uid <= 65535:
            continue
        short = [a for a in args if re.fullmatch(r"-[A-Za-z]+", a)]
        if "--no-log-init" in args or any("l" in a for a in short):
            continue
        yield Violation(f"useradd -u {uid} without -l (--no-log-init)", line=run.line)


@check("KW-DF-035", "dockerfile")
def wget_and_curl(dockerfile: Dockerfile) -> Iterator[Violation]:
    """Two download tools where one would do: more packages, more attack surface."""
    first: str | None = None
    for run in dockerfile.commands_of(*_DOWNLOADERS):
        if first is None:
            first = run.argv[0]
        elif run.argv[0] != first:
            yield Violation(f"both {first} and {run.argv[0]} are used", line=run.line)
            return


def _cleans_rpm_cache(argv: tuple[str, ...]) -> bool:
    if argv[:1] == ("rm",):
        return any(re.match(r"/var/cache/(yum|dnf)", a) for a in argv)
    return bool(argv) and argv[0] in _RPM_TOOLS and argv[1:3] == ("clean", "all")


@check("KW-DF-036", "dockerfile")
def rpm_install_without_clean(dockerfile: Dockerfile) -> Iterator[Violation]:
    """The yum/dnf metadata and package cache stay in the layer unless cleaned in the same RUN."""
    installs = [r for r in dockerfile.commands_of(*_RPM_TOOLS) if _rpm_install(r.argv) is not None]
    if not installs:
        return
    cleaning = {
        id(r.instruction)
        for r in dockerfile.commands_of("rm", *_RPM_TOOLS)
        if _cleans_rpm_cache(r.argv)
    }
    reported: set[int] = set()
    for run in installs:
        instruction = run.instruction
        if id(instruction) in cleaning or id(instruction) in reported:
            continue
        if any("/var/cache/" in f for f in instruction.flags):
            continue
        reported.add(id(instruction))
        tool = run.argv[0]
        yield Violation(f"{tool} install without {tool} clean all", line=run.line)
