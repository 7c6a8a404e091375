"""`kubeward` entry point: global options, subcommands, and the one place errors become
one-line messages and exit codes. Imports only argparse at start so `--help` stays instant;
each command's module is imported when that command runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kubeward import __version__

COMMANDS = {
    "image": ("kubeward.cli.image", "find vulnerable packages in a container image"),
    "fs": ("kubeward.cli.fs", "find vulnerable packages in a directory"),
    "config": (
        "kubeward.cli.config",
        "check Dockerfiles and Kubernetes manifests for misconfigurations",
    ),
    "sbom": ("kubeward.cli.sbom", "list every package in an image or directory (SBOM)"),
    "db": ("kubeward.cli.db", "manage the vulnerability database"),
    "runtime": (
        "kubeward.cli.runtime",
        "detect threats in Kubernetes audit and process events with Falco rules",
    ),
    "bench": ("kubeward.cli.bench", "run the CIS Kubernetes Benchmark on a node"),
    "k8s": ("kubeward.cli.k8s", "audit a live Kubernetes cluster"),
}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kubeward"


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The same options before or after the subcommand; the subcommand copy must not
    overwrite a value given before it, hence SUPPRESS defaults there."""

    def d(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument("-f", "--format", default=d(None), help="output format (see the command)")
    g.add_argument("-o", "--output", default=d(None), metavar="FILE", help="write to FILE")
    g.add_argument("-q", "--quiet", action="store_true", default=d(False), help="no progress")
    g.add_argument("--debug", action="store_true", default=d(False), help="debug logs, tracebacks")
    g.add_argument(
        "--cache-dir",
        default=d(None),
        metavar="DIR",
        help="cache directory (default $XDG_CACHE_HOME/kubeward or ~/.cache/kubeward)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeward",
        description="Container and Kubernetes security: image inventory (SBOM) and more.",
    )
    parser.add_argument("--version", action="version", version=f"kubeward {__version__}")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _global_options(p, suppress=True)
        _add_command_arguments(name, module, p)
    return parser


def _add_command_arguments(name: str, module: str, parser: argparse.ArgumentParser) -> None:
    # Arguments are declared in a light module per command so --help needs no heavy import.
    import importlib

    importlib.import_module(f"{module}_args").add_arguments(parser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="kubeward: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if args.cache_dir is None:
        args.cache_dir = str(default_cache_dir())
    import importlib

    from kubeward.errors import KubewardError

    try:
        module = importlib.import_module(COMMANDS[args.command][0])
        return int(module.run(args))
    except KubewardError as exc:
        if args.debug:
            logging.exception("failed")
        print(f"kubeward: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kubeward: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("kubeward: error: out of memory", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
