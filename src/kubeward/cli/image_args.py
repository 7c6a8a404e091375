"""Arguments of `kubeward image`: every target form of `sbom`, plus the vulnerability options."""

from __future__ import annotations

import argparse

from kubeward.cli import sbom_args
from kubeward.cli.vuln_args import add_vulnerability_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sbom_args.add_arguments(parser)
    add_vulnerability_arguments(parser)
