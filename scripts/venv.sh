# Sourced by demo.sh and test.sh: make .venv with Python 3.11+, installing python3-venv on a
# fresh Debian when the interpreter has no ensurepip.
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "kubeward needs Python >= 3.11 ($PY is $("$PY" -V 2>&1))" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
        "$PY" -m venv .venv
    fi
    .venv/bin/python -m pip install -q --upgrade pip
fi
