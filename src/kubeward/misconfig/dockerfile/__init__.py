"""Dockerfile scanning: a parser adapter over BuildKit's parser (`dockerfile` package) that adds
stages, ARG/ENV substitution and suppression comments, plus the checks that run on the result."""

from kubeward.misconfig.dockerfile.model import Dockerfile, Instruction, Stage
from kubeward.misconfig.dockerfile.parse import parse_dockerfile

__all__ = ["Dockerfile", "Instruction", "Stage", "parse_dockerfile"]
