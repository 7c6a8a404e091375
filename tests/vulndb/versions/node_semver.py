"""The real node `semver` package as a test peer: npm installs one pinned version into a
directory, and each batch of questions is answered by one node process (JSON on stdin, JSON on
stdout), so that thousands of cross-checks cost a few process starts."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEMVER_VERSION = "7.6.3"

# Answers never throw: a version or range node cannot read comes back as null.
_SCRIPT = r"""
const semver = require('semver');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { op, pairs, includePrerelease } = JSON.parse(input);
  const options = { includePrerelease: !!includePrerelease };
  const out = pairs.map(([a, b]) => {
    if (op === 'compare') {
      try { return semver.compare(a, b); } catch (e) { return null; }
    }
    if (op === 'valid') {
      return semver.valid(a);
    }
    if (op === 'validRange') {
      return semver.validRange(a, options);
    }
    // satisfies: [canonical range or null, valid version or null, answer]
    return [semver.validRange(b, options), semver.valid(a), semver.satisfies(a, b, options)];
  });
  process.stdout.write(JSON.stringify(out));
});
"""


@dataclass(frozen=True)
class NodeSemver:
    """semver@SEMVER_VERSION installed under `root`; ask it questions in batches."""

    root: Path

    def _run(self, op: str, pairs: list[tuple[str, str]], include_prerelease: bool) -> list[Any]:
        request = {"op": op, "pairs": pairs, "includePrerelease": include_prerelease}
        done = subprocess.run(
            ["node", "-e", _SCRIPT],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=60,
            check=True,
        )
        answers: list[Any] = json.loads(done.stdout)
        assert len(answers) == len(pairs)
        return answers

    def compare(self, pairs: list[tuple[str, str]]) -> list[int | None]:
        """semver.compare(a, b) for each pair; None where node throws."""
        return self._run("compare", pairs, False)

    def valid(self, versions: list[str]) -> list[str | None]:
        """semver.valid(v): the normalized version, or None."""
        return self._run("valid", [(v, "") for v in versions], False)

    def valid_range(self, ranges: list[str], include_prerelease: bool = False) -> list[str | None]:
        """semver.validRange(r): the range as plain comparators, or None."""
        return self._run("validRange", [(r, "") for r in ranges], include_prerelease)

    def satisfies(
        self, pairs: list[tuple[str, str]], include_prerelease: bool = False
    ) -> list[tuple[str | None, str | None, bool]]:
        """(validRange(range), valid(version), satisfies(version, range)) for each pair."""
        return [(a[0], a[1], a[2]) for a in self._run("satisfies", pairs, include_prerelease)]


def install(directory: Path) -> NodeSemver | None:
    """npm-install semver@SEMVER_VERSION into `directory` (once); None without node and npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None
    package = directory / "node_modules" / "semver" / "package.json"
    if not package.exists():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"semver@{SEMVER_VERSION}"],
            cwd=directory,
            capture_output=True,
            check=True,
            timeout=300,
        )
    assert json.loads(package.read_text())["version"] == SEMVER_VERSION
    return NodeSemver(directory)
