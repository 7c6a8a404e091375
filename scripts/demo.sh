#!/usr/bin/env bash
# Install kubeward into .venv and list every package of the bundled example image.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
.venv/bin/python -m pip install -q .
.venv/bin/kubeward sbom examples/demo-image "$@"
