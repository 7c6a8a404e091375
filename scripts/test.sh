#!/usr/bin/env bash
# Install the peers the tests run for real (registry, skopeo, dockerd, rpm, Go, npm, a JDK,
# sysdig to read capture files; kubectl, for kustomize, comes with these machines)
# and the test dependencies, then run lint, types and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in docker-registry:docker-registry htpasswd:apache2-utils skopeo:skopeo umoci:umoci \
            rpm:rpm rpmbuild:rpm go:golang-go dpkg-query:dpkg unzip:unzip gpg:gpg \
            node:nodejs npm:npm javac:default-jdk-headless mvn:maven git:git sysdig:sysdig; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
if ! command -v dockerd >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io
fi

source scripts/venv.sh
.venv/bin/python -m pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check src tests benchmarks examples scripts
.venv/bin/ruff format --check src tests benchmarks examples scripts
echo "== mypy"
.venv/bin/mypy
echo "== --help speed"
.venv/bin/python benchmarks/help_speed.py --check
echo "== pytest"
KUBEWARD_STRICT_SKIPS=1 .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
