"""Secret scanning as an analyzer: every file of every layer (hidden ones too), the image
config, and Kubernetes Secret objects committed with their data.

A file that a later layer deleted or replaced is still in the image, so it is scanned and
its findings say so. Every finding carries only the redacted secret.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder, ScanContext
from kubeward.model import Finding, Location, Severity

HIDDEN_NOTE = (
    " (in a file that a later layer deleted or replaced: the secret is still in the image)"
)
REMEDIATION = (
    "Remove the secret from the source and rebuild without it (deleting it in a later layer "
    "does not remove it from the image), then revoke and rotate it"
)

_SCANNER: Any = None


def scanner() -> Any:
    """The process-wide scanner: rules compiled once (the keyword database is costly)."""
    global _SCANNER  # noqa: PLW0603
    if _SCANNER is None:
        from kubeward.secrets.engine import default_scanner

        _SCANNER = default_scanner()
    return _SCANNER


def configure(new_scanner: Any) -> None:
    """Use `new_scanner` (built from a config file's rules and allowlists) from now on."""
    global _SCANNER  # noqa: PLW0603
    _SCANNER = new_scanner


def _finding(match: Any, location: Location, hidden: bool = False) -> Finding:
    rule = match.rule
    return Finding(
        kind="secret",
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        location=location,
        message=f"{rule.title}: {match.redacted}" + (HIDDEN_NOTE if hidden else ""),
        remediation=REMEDIATION,
        evidence=(("column", str(match.column)), ("secret", match.redacted))
        + ((("deletedByLaterLayer", "yes"),) if hidden else ()),
    )


_K8S_KIND = re.compile(rb"^kind:\s*[\"']?Secret[\"']?\s*$", re.M)
_K8S_DATA = re.compile(rb"^(?:data|stringData):[ \t]*\n[ \t]+[\"']?[\w.-]+[\"']?:", re.M)
_K8S_NAME = re.compile(rb"^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+name:\s*[\"']?([\w.-]+)", re.M)
_K8S_NAMESPACE = re.compile(
    rb"^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+namespace:\s*[\"']?([\w.-]+)", re.M
)
_DOC_SPLIT = re.compile(rb"^---[ \t]*$", re.M)


def kubernetes_secret_objects(data: bytes, path: str, layer: str | None = None) -> list[Finding]:
    """A `kind: Secret` manifest that carries `data`/`stringData` is a finding of its own:
    base64 is encoding, not protection."""
    if b"Secret" not in data or b"kind" not in data:
        return []
    findings = []
    offset = 0
    for doc in _DOC_SPLIT.split(data):
        kind = _K8S_KIND.search(doc)
        if kind and _K8S_DATA.search(doc):
            name = _K8S_NAME.search(doc)
            namespace = _K8S_NAMESPACE.search(doc)
            resource = (
                "Secret/"
                + (namespace.group(1).decode("utf-8", "replace") + "/" if namespace else "")
                + (name.group(1).decode("utf-8", "replace") if name else "?")
            )
            line = data.count(b"\n", 0, offset + kind.start()) + 1
            findings.append(
                Finding(
                    kind="secret",
                    rule_id="kubernetes-secret-manifest",
                    title="Kubernetes Secret committed with its data",
                    severity=Severity.HIGH,
                    location=Location(path=path, line=line, layer=layer, resource=resource),
                    message=f"{resource} holds its values in the manifest (base64 is not "
                    "encryption)",
                    remediation="Keep Secret values out of source: use an external secret "
                    "store (External Secrets, Sealed Secrets, SOPS) and rotate the values",
                )
            )
        offset += len(doc) + 4  # the "---\n" separator
    return findings


class SecretAnalyzer(Analyzer):
    name = "secrets"
    all_files: ClassVar[bool] = True

    def __init__(self, context: ScanContext) -> None:
        super().__init__(context)
        self._scanner = scanner()

    def wants(self, path: str, mode: int) -> bool:
        return True

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        from kubeward.secrets.engine import is_binary

        if len(file.data) > self._scanner.max_bytes and not is_binary(file.data):
            facts.warn(
                f"secrets: skipped {file.path!r}: larger than {self._scanner.max_bytes} bytes"
            )
            return
        for match in self._scanner.scan(file.data, file.path):
            location = Location(path=file.path, line=match.line, layer=file.layer)
            facts.add_finding(_finding(match, location, file.hidden))
        if not file.hidden and file.path.endswith((".yaml", ".yml", ".json")):
            for finding in kubernetes_secret_objects(file.data, file.path, file.layer):
                facts.add_finding(finding)


def scan_image_config(config: dict[str, Any], facts: InventoryBuilder) -> list[bytes]:
    """Secrets in the image config: `Env`, `Labels` and the history's `created_by` (build
    arguments used by RUN steps are recorded there). Returns the raw secrets found, so the
    caller can scrub them from anything it prints (the report lists each layer's
    `created_by`)."""
    body = config.get("config") or {}
    places: list[tuple[str, int, str]] = []
    env = body.get("Env") or []
    if isinstance(env, list):
        places += [("image config Env", i + 1, str(e)) for i, e in enumerate(env)]
    labels = body.get("Labels") or {}
    if isinstance(labels, dict):
        places += [
            ("image config Labels", i + 1, f"{k}={v}")
            for i, (k, v) in enumerate(sorted(labels.items()))
        ]
    history = config.get("history") or []
    if isinstance(history, list):
        places += [
            ("image history", i + 1, str(h.get("created_by", "")))
            for i, h in enumerate(history)
            if isinstance(h, dict)
        ]
    scan = scanner().scan
    found: list[bytes] = []
    for resource, index, text in places:
        for match in scan(text.encode("utf-8", "replace"), resource):
            facts.add_finding(_finding(match, Location(line=index, resource=resource)))
            found.append(match.secret)
    return found
