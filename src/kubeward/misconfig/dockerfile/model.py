"""The parsed Dockerfile that checks see: instructions after substitution, grouped in stages.

Checks are pure functions over these objects, so everything a check needs (exact lines, the
stage an instruction belongs to, values after ARG/ENV substitution, the shell commands of a
RUN) is computed once here or in `parse.py`, never re-parsed by a check.
"""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubeward.misconfig.dockerfile.shell import SimpleCommand

# Interpreters whose heredoc stdin is a shell script, so its body holds commands to check.
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})
_HEREDOC_MARKER = re.compile(r"""<<-?\s*(["']?)([A-Za-z_][A-Za-z0-9_]*)\1""")


@dataclass(frozen=True)
class Instruction:
    """One instruction. `args` are the value tokens after ARG/ENV substitution where Docker
    substitutes (FROM, COPY, ADD, ENV, ARG, USER, WORKDIR, EXPOSE, LABEL, VOLUME, STOPSIGNAL);
    RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK keep their text, which a shell expands at run
    time. `stage` is -1 for ARGs before the first FROM. `script` is the shell text of a
    shell-form RUN as written (continuation lines kept) so command line offsets stay exact."""

    cmd: str
    args: tuple[str, ...]
    raw: str
    line: int
    end_line: int
    flags: tuple[str, ...] = ()
    json_form: bool = False
    heredocs: tuple[str, ...] = ()
    stage: int = -1
    script: str = ""

    def flag(self, name: str) -> str | None:
        """The value of `--name=value` (the last one wins, as in Docker), or None."""
        prefix = f"--{name}="
        value = None
        for flag in self.flags:
            if flag.startswith(prefix):
                value = flag[len(prefix) :]
            elif flag == f"--{name}":
                value = ""
        return value

    @functools.cached_property
    def commands(self) -> tuple[SimpleCommand, ...]:
        """The simple commands of a RUN (empty for other instructions), each `line_offset`
        counted from this instruction's first line. Exec form is one command; heredoc bodies
        run by a shell (`RUN <<EOF`, `RUN bash <<EOF`) are included."""
        from kubeward.misconfig.dockerfile.shell import SimpleCommand, split_commands

        if self.cmd != "RUN":
            return ()
        if self.json_form:
            return (SimpleCommand(argv=tuple(self.args)),)
        out = [c for c in split_commands(self.script) if c.argv]
        if self.heredocs and _heredoc_is_script(self.script):
            offset = self.script.count("\n") + 1  # the body starts after the command lines
            out.extend(
                c._replace(line_offset=offset + c.line_offset)
                for c in split_commands(self.heredocs[0])
                if c.argv
            )
        return tuple(out)

    def command_line(self, command: SimpleCommand) -> int:
        """The Dockerfile line of one of this instruction's `commands`."""
        return self.line + command.line_offset


def _heredoc_is_script(script: str) -> bool:
    """True when the heredoc is the script itself (`RUN <<EOF`) or stdin of a shell."""
    rest = _HEREDOC_MARKER.sub(" ", script)
    try:
        words = shlex.split(rest)
    except ValueError:
        return False
    return not words or words[0].rsplit("/", 1)[-1] in _SHELLS


@dataclass(frozen=True)
class Stage:
    """One build stage: FROM up to the next FROM (the FROM instruction is the first item)."""

    index: int
    name: str | None  # the AS alias, lower-cased
    base: str  # image reference after substitution
    base_line: int
    platform: str | None
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True, slots=True)
class RunCommand:
    """One simple command of a RUN with where it is and its argv without wrappers."""

    stage: Stage
    instruction: Instruction
    command: SimpleCommand
    argv: tuple[str, ...]  # `unwrapped_argv`: never empty

    @property
    def line(self) -> int:
        return self.instruction.command_line(self.command)


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile. A file that does not parse has `parse_error=(line, message)` and
    no stages, so a scan reports one finding for it and goes on."""

    path: str
    stages: tuple[Stage, ...] = ()
    directives: dict[str, str] = field(default_factory=dict)
    args_before_from: dict[str, str | None] = field(default_factory=dict)
    instructions: tuple[Instruction, ...] = ()
    parse_error: tuple[int, str] | None = None
    # line -> suppressed check ids; line 0 holds the file-wide ones (`ignore-file=`)
    suppressions: dict[int, frozenset[str]] = field(default_factory=dict)

    @functools.cached_property
    def run_commands(self) -> tuple[RunCommand, ...]:
        """Every simple command of every RUN, in order, each unwrapped once for all checks."""
        from kubeward.misconfig.dockerfile.shell import unwrapped_argv

        out = []
        for stage in self.stages:
            for instruction in stage.instructions:
                for command in instruction.commands:
                    argv = unwrapped_argv(command.argv)
                    if argv:
                        out.append(RunCommand(stage, instruction, command, argv))
        return tuple(out)

    @functools.cached_property
    def programs(self) -> dict[str, tuple[RunCommand, ...]]:
        """`run_commands` by program name: a check for `apt-get` looks at apt-get only."""
        index: dict[str, list[RunCommand]] = {}
        for run in self.run_commands:
            index.setdefault(run.argv[0], []).append(run)
        return {name: tuple(runs) for name, runs in index.items()}

    def commands_of(self, *names: str) -> list[RunCommand]:
        """The RUN commands whose program is one of `names`, in file order."""
        if len(names) == 1:
            return list(self.programs.get(names[0], ()))
        return [run for run in self.run_commands if run.argv[0] in names]

    def is_suppressed(self, check_id: str, line: int | None) -> bool:
        """True when a `# kubeward:ignore=` comment covers this line or the whole file."""
        if check_id in self.suppressions.get(0, frozenset()):
            return True
        return line is not None and check_id in self.suppressions.get(line, frozenset())

    def stage_named(self, ref: str, before: int) -> Stage | None:
        """The stage that `ref` (an alias or an index, as in FROM or COPY --from) names among
        the stages before index `before`, or None when it names an image instead."""
        ref = ref.lower()
        if ref.isdigit():
            index = int(ref)
            return self.stages[index] if index < before else None
        for stage in reversed(self.stages[:before]):
            if stage.name == ref:
                return stage
        return None

    def lineage(self, stage: Stage) -> list[Stage]:
        """`stage` and the earlier stages it is built FROM, nearest first: USER, WORKDIR,
        HEALTHCHECK and ENV are inherited through `FROM <stage>`."""
        chain = [stage]
        current = stage
        while (parent := self.stage_named(current.base, current.index)) is not None:
            if parent in chain:
                break
            chain.append(parent)
            current = parent
        return chain
