"""Helm charts and Kustomize directories -> loaded objects, rendered by the real tools.

A chart is rendered by `helm template`, a kustomization by `kubectl kustomize` (kustomize v5
is built into kubectl): only they know their template language and merge rules. Each run
has a timeout and an output cap; a missing tool or a failed render is one warning and the
scan goes on. Kustomize objects are traced back to the file and line that defined them
through kustomize's own origin annotations; Helm objects are named by their template. The
rules (paths, lines, what is rendered once) are in docs/kubernetes-inputs.md.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubeward.misconfig.kubernetes.load import (
    MAX_FILE_BYTES,
    Loaded,
    LoadProblem,
    decode_document,
    load_text,
)
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.project_files import SKIP_DIRS

RENDER_TIMEOUT = 120.0  # seconds for one `helm template` or `kubectl kustomize` run
MAX_RENDERED_BYTES = MAX_FILE_BYTES  # rendered output past this is not read
MAX_STDERR_BYTES = 64 * 1024
MAX_ERROR_CHARS = 400
RELEASE_NAME = "kubeward-scan"
CHART_FILE = "Chart.yaml"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
MAX_REFERENCES = 1000  # kustomizations followed when working out which reference which

_MARKER = re.compile(r"^---(?=[ \t]|$)", re.M)
_SOURCE = re.compile(r"^# Source: (\S.*?)\s*$", re.M)
_KLOG = re.compile(r"^[EWIF]\d{4} [\d:.]+\s+\d+ [^\]]+\] ")
_KLOG_FAILED = re.compile(r'^"command failed" err="(.*)"$')
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/)|\?ref=|//")


@dataclass
class RenderOutcome:
    """What rendering gave: the objects (one `Loaded` per rendered stream or template),
    one-line warnings for what could not be rendered, and the directories consumed: the
    caller must not scan their files again as plain manifests (see `covers`)."""

    loaded: list[Loaded] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rendered_dirs: frozenset[Path] = frozenset()

    def covers(self, path: Path) -> bool:
        """Whether `path` (spelled like the root given to `render_tree`) lies in a
        consumed directory."""
        return any(path == d or d in path.parents for d in self.rendered_dirs)

    def merge(self, other: RenderOutcome) -> None:
        self.loaded.extend(other.loaded)
        self.warnings.extend(other.warnings)
        self.rendered_dirs |= other.rendered_dirs


def is_chart(directory: Path) -> bool:
    return (directory / CHART_FILE).is_file()


def kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of `directory`, under any name kustomize accepts."""
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def render_tree(
    root: Path, values: Sequence[Path] = (), decode_kinds: Collection[str] | None = None
) -> RenderOutcome:
    """Render every chart and kustomization under `root` (or `root` itself).

    A chart directory is rendered whole (subcharts included) with `values`; the topmost
    kustomization of a subtree is rendered and nothing under it separately, and a
    kustomization that another rendered one references (`../base`) is not rendered again
    on its own. Paths in the results are relative to `root`."""
    outcome = RenderOutcome()
    charts, kustomizations = _find_renderable(root)
    for chart in charts:
        outcome.merge(render_chart(chart, values, decode_kinds, root=root))
    reach = {k: _references(k, root) for k in kustomizations}
    for k in kustomizations:
        if any(k in reach[other] and other not in reach[k] for other in kustomizations):
            continue  # rendered as part of a kustomization that uses it
        outcome.merge(render_kustomization(k, decode_kinds, root=root, reached=reach[k]))
    return outcome


def _find_renderable(root: Path) -> tuple[list[Path], list[Path]]:
    """Chart directories and topmost kustomization directories under `root`, sorted;
    symlinks are not followed."""
    charts: list[Path] = []
    kustomizations: list[Path] = []
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(directory)
        names = set(filenames)
        if CHART_FILE in names:
            charts.append(base)
            dirnames[:] = []
        elif names.intersection(KUSTOMIZATION_FILES):
            kustomizations.append(base)
            dirnames[:] = []
        else:
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
    return sorted(charts), sorted(kustomizations)


def _references(directory: Path, root: Path) -> frozenset[Path]:
    """Local kustomization directories that `directory`'s kustomization uses, directly or
    through others (`resources`, `bases`, `components`), spelled from `root` as os.walk
    spells them (so `root` may hold `..` and still compare equal)."""
    absolute_root = os.path.abspath(root)
    seen: set[Path] = set()
    todo = [directory]
    while todo and len(seen) < MAX_REFERENCES:
        current = todo.pop()
        for entry in _local_entries(current):
            absolute = os.path.normpath(os.path.join(os.path.abspath(current), entry))
            target = root / os.path.relpath(absolute, absolute_root)
            if target not in seen and target != directory and kustomization_file(target):
                seen.add(target)
                todo.append(target)
    return frozenset(seen)


def _local_entries(directory: Path) -> Iterator[str]:
    file = kustomization_file(directory)
    text = _read(file) if file is not None else None
    if text is None:
        return
    value, _ = decode_document(text)
    if not isinstance(value, dict):
        return
    for key in ("resources", "bases", "components"):
        entries = value.get(key)
        if isinstance(entries, list):
            yield from (e for e in entries if isinstance(e, str) and not _REMOTE.search(e))


# --- Helm -------------------------------------------------------------------------------


def render_chart(
    directory: Path,
    values: Sequence[Path] = (),
    decode_kinds: Collection[str] | None = None,
    *,
    root: Path | None = None,
) -> RenderOutcome:
    """`helm template kubeward-scan DIR --values F ...`, one `Loaded` per template.

    Objects are reported as `<chart dir>/<template path in the chart>` (the `# Source:`
    comment less the chart name) with lines of that template's rendered output, i.e. of
    `helm template ... --show-only <template>`."""
    root = directory if root is None else root
    label = _label(directory, root)
    outcome = RenderOutcome(rendered_dirs=frozenset({directory}))
    helm = shutil.which("helm")
    if helm is None:
        outcome.warnings.append(
            f"helm is needed to render the chart in {label}: "
            "install helm or pass `helm template` output"
        )
        return outcome
    argv = [helm, "template", RELEASE_NAME, os.path.abspath(directory)]
    for file in values:
        argv += ["--values", os.path.abspath(file)]
    text = _render(argv, "helm template", label, outcome)
    if text is None:
        return outcome
    prefix = _relative(directory, root)
    for template, part in _split_by_template(text):
        if template is None:
            path = label
        else:
            inside = template.split("/", 1)[1] if "/" in template else template
            path = f"{prefix}/{inside}" if prefix else inside
        outcome.loaded.append(load_text(part, path, origin="helm", decode_kinds=decode_kinds))
    if not any(part.objects or part.problems for part in outcome.loaded):
        outcome.warnings.append(f"{label}: helm template printed no Kubernetes objects")
    return outcome


def _split_by_template(text: str) -> list[tuple[str | None, str]]:
    """The stream cut into the output of each template (`# Source:`), in first-seen order;
    documents before any `# Source:` comment go under None."""
    groups: dict[str | None, list[str]] = {}
    starts = [m.start() for m in _MARKER.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        piece = text[begin:end]
        if not piece.strip():
            continue
        match = _SOURCE.search(piece)
        groups.setdefault(match.group(1) if match else None, []).append(piece)
    return [(template, "".join(pieces)) for template, pieces in groups.items()]


# --- Kustomize --------------------------------------------------------------------------


def render_kustomization(
    directory: Path,
    decode_kinds: Collection[str] | None = None,
    *,
    root: Path | None = None,
    reached: frozenset[Path] | None = None,
) -> RenderOutcome:
    """`kubectl kustomize` of `directory`, each object traced to the file that defines it.

    Kustomize is run on a temporary wrapper kustomization that lists `directory` as its
    only resource and asks for `buildMetadata: [originAnnotations]`, so every object says
    which file it came from. The annotation is removed again (the stream then reads as
    `kubectl kustomize DIR` prints it); an object is reported at its document in that
    file (matched by kind and name, before name prefixes and suffixes), a generated
    ConfigMap or Secret at its generator entry. Objects that cannot be traced (remote
    bases, unexpected output) keep the rendered stream: the directory's label and lines
    of `kubectl kustomize DIR` output."""
    root = directory if root is None else root
    label = _label(directory, root)
    reached = _references(directory, root) if reached is None else reached
    outcome = RenderOutcome(rendered_dirs=frozenset({directory, *reached}))
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        outcome.warnings.append(
            f"kubectl is needed to render the kustomization in {label}: "
            "install kubectl or pass `kubectl kustomize` output"
        )
        return outcome
    real_dir = os.path.realpath(directory)
    wrapper = os.path.realpath(tempfile.mkdtemp(prefix="kubeward-kustomize-"))
    try:
        reference = os.path.relpath(real_dir, wrapper)
        # kustomize refuses absolute resource paths, hence the relative one. Its default
        # load restrictor (files only from inside each kustomization's own root) is kept:
        # a directory resource becomes a root of its own, so the wrapper needs no
        # exception, and a stranger's kustomization still cannot read files outside it.
        Path(wrapper, "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources:\n- {json.dumps(reference)}\nbuildMetadata:\n- originAnnotations\n",
            encoding="utf-8",
        )
        argv = [kubectl, "kustomize", wrapper]
        # Errors name the wrapper's layer first; only what is wrong inside DIR is kept.
        cleanup = (
            (f"accumulating resources: accumulation err='accumulating resources from "
             f"'{reference}': '{real_dir}' must resolve to a file': ", ""),
            (f"recursed accumulation of path '{real_dir}': ", ""),
            (wrapper + os.sep, ""),
            (real_dir, label),
        )  # fmt: skip
        text = _render(argv, "kubectl kustomize", label, outcome, cleanup)
        if text is None:
            return outcome
        outcome.loaded.append(_trace(text, wrapper, root, label, decode_kinds))
    finally:
        shutil.rmtree(wrapper, ignore_errors=True)
    if not outcome.loaded[0].objects and not outcome.loaded[0].problems:
        outcome.warnings.append(f"{label}: kubectl kustomize printed no Kubernetes objects")
    return outcome


class _TracedObject(K8sObject):
    """A rendered object (its `data` is what kustomize built) reported at the document
    that defines it: `node` is that document's, so `line_of` gives source lines, and a
    field a patch added is reported at its deepest ancestor in the source."""

    __slots__ = ("_rendered", "_source")

    def __init__(self, rendered: K8sObject, path: str, line: int, source: K8sObject | None) -> None:
        super().__init__(
            None, path, line, None, line_base=source.line_base if source else 0,
            document=source.document if source else 0, origin="kustomize",
        )  # fmt: skip
        self._rendered = rendered
        self._source = source

    @property
    def data(self) -> dict[str, Any]:
        return self._rendered.data

    @property
    def node(self) -> yaml.Node | None:
        return self._source.node if self._source is not None else None

    @property
    def decoded(self) -> bool:
        return self._rendered.decoded

    @property
    def kind(self) -> str:
        return self._rendered.kind


def _trace(
    text: str, wrapper: str, root: Path, label: str, decode_kinds: Collection[str] | None
) -> Loaded:
    documents = [d for d in _MARKER.split(text) if d.strip()]
    origins: list[dict[str, Any] | None] = []
    stripped: list[str] = []
    for document in documents:
        body, origin = _strip_origin(document.lstrip("\n"))
        stripped.append(body)
        origins.append(origin)
    stream = load_text("---\n".join(stripped), label, "kustomize", decode_kinds)
    tracer = _Tracer(wrapper, os.path.realpath(root), decode_kinds)
    objects: list[K8sObject] = []
    for obj in stream.objects:
        origin = origins[obj.document] if obj.document < len(origins) else None
        traced = tracer.trace(obj, origin) if origin is not None else None
        objects.append(traced or obj)
    return Loaded(objects, stream.problems + tracer.problems(), stream.documents)


def _strip_origin(document: str) -> tuple[str, dict[str, Any] | None]:
    """`document` without its origin annotation (and without `annotations:` when that was
    the only one), and the annotation's value. Kustomize prints objects in one fixed
    style (sorted keys, two-space indents, the annotation as a `|` block), which is what
    makes a textual cut exact; anything else is left as it is."""
    lines = document.split("\n")
    try:
        start = lines.index("metadata:")
    except ValueError:
        return document, None
    end = start + 1
    annotations = -1
    while end < len(lines) and (lines[end].startswith("  ") or not lines[end]):
        if lines[end] == "  annotations:":
            annotations = end
        end += 1
    if annotations < 0:
        return document, None
    key = -1
    block_end = annotations + 1
    while block_end < end and (lines[block_end].startswith("    ") or not lines[block_end]):
        if lines[block_end] in (f"    {ORIGIN_ANNOTATION}: |", f"    {ORIGIN_ANNOTATION}: |-"):
            key = block_end
        block_end += 1
    if key < 0:
        return document, None
    value_end = key + 1
    while value_end < block_end and lines[value_end].startswith("      "):
        value_end += 1
    value, _ = decode_document("\n".join(line[6:] for line in lines[key + 1 : value_end]))
    only_one = key == annotations + 1 and value_end == block_end
    del lines[key:value_end]
    if only_one:
        del lines[annotations]
    return "\n".join(lines), value if isinstance(value, dict) else None


class _Tracer:
    """Finds the source document of rendered objects; source files are loaded once."""

    def __init__(self, wrapper: str, real_root: str, decode_kinds: Collection[str] | None):
        self.wrapper = wrapper
        self.real_root = real_root
        self.decode_kinds = decode_kinds
        self.files: dict[str, Loaded | None] = {}
        self.kustomizations: dict[str, yaml.Node | None] = {}

    def trace(self, obj: K8sObject, origin: dict[str, Any]) -> K8sObject | None:
        if "repo" in origin:
            return None  # a remote base: no local file to point at
        path = origin.get("path")
        if isinstance(path, str):
            return self._from_file(obj, self._absolute(path))
        configured_in = origin.get("configuredIn")
        if isinstance(configured_in, str):
            by = origin.get("configuredBy")
            generator = by.get("kind") if isinstance(by, dict) else None
            return self._from_generator(obj, self._absolute(configured_in), generator)
        return None

    def problems(self) -> list[LoadProblem]:
        return [p for loaded in self.files.values() if loaded for p in loaded.problems]

    def _absolute(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.wrapper, path))

    def _report_path(self, absolute: str) -> str:
        return os.path.relpath(absolute, self.real_root).replace(os.sep, "/")

    def _from_file(self, obj: K8sObject, absolute: str) -> K8sObject | None:
        if absolute not in self.files:
            self.files[absolute] = self._load(absolute)
        loaded = self.files[absolute]
        if loaded is None:
            return None
        source = _match(obj, [o for o in loaded.objects if o.kind == obj.kind])
        if source is None:
            return None
        return _TracedObject(obj, source.path, source.line, source)

    def _load(self, absolute: str) -> Loaded | None:
        text = _read(Path(absolute))
        if text is None:
            return None
        return load_text(text, self._report_path(absolute), "kustomize", self.decode_kinds)

    def _from_generator(self, obj: K8sObject, absolute: str, generator: Any) -> K8sObject | None:
        if not os.path.isfile(absolute):
            return None
        if absolute not in self.kustomizations:
            text = _read(Path(absolute))
            self.kustomizations[absolute] = decode_document(text)[1] if text else None
        node = self.kustomizations[absolute]
        line = _generator_line(node, generator, obj.name) if node is not None else 1
        return _TracedObject(obj, self._report_path(absolute), line, None)


def _match(obj: K8sObject, candidates: list[K8sObject]) -> K8sObject | None:
    """The candidate (same kind, same file) `obj` was built from: the only one, else the
    same name, else the longest name inside the rendered one (prefixes, suffixes)."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    name = obj.name
    same = [c for c in candidates if c.name == name]
    if same:
        namespace = obj.namespace
        return next((c for c in same if c.namespace == namespace), same[0])
    inside = [c for c in candidates if c.name and c.name in name]
    return max(inside, key=lambda c: len(c.name)) if inside else None


def _generator_line(node: yaml.Node, generator: Any, name: str) -> int:
    """The line of the generator entry that made `name` in a kustomization (line of the
    generator list, or 1, when no entry matches)."""
    if not isinstance(node, yaml.MappingNode) or not isinstance(generator, str) or not generator:
        return 1
    field_name = generator[0].lower() + generator[1:]  # ConfigMapGenerator -> configMapGenerator
    for key, value in node.value:
        if not (isinstance(key, yaml.ScalarNode) and key.value == field_name):
            continue
        best: tuple[int, int] | None = None  # (length of the matched name, line)
        for item in value.value if isinstance(value, yaml.SequenceNode) else []:
            if not isinstance(item, yaml.MappingNode):
                continue
            for item_key, item_value in item.value:
                if (
                    isinstance(item_key, yaml.ScalarNode)
                    and item_key.value == "name"
                    and isinstance(item_value, yaml.ScalarNode)
                    and item_value.value
                    and item_value.value in name
                    and (best is None or len(item_value.value) > best[0])
                ):
                    best = (len(item_value.value), item.start_mark.line + 1)
        return best[1] if best else key.start_mark.line + 1
    return 1


# --- Running the tools ------------------------------------------------------------------


def _read(path: Path) -> str | None:
    """A kustomization or source file, read as manifests are (no symlinks, size cap)."""
    from kubeward.misconfig.kubernetes.scan import read_manifest

    try:
        return read_manifest(path)
    except (OSError, ValueError):
        return None


def _label(directory: Path, root: Path) -> str:
    """How a directory is named in paths and warnings: relative to the root, or the
    directory's own name when it is the root."""
    relative = _relative(directory, root)
    return relative or os.path.basename(os.path.abspath(directory)) or "."


def _relative(directory: Path, root: Path) -> str:
    relative = os.path.relpath(directory, root).replace(os.sep, "/")
    return "" if relative == "." else relative


def _render(
    argv: list[str],
    tool: str,
    label: str,
    outcome: RenderOutcome,
    cleanup: Sequence[tuple[str, str]] = (),
) -> str | None:
    """The text `argv` prints, or None after adding a one-line warning to `outcome`."""
    stdout, stderr, error = _run(argv, tool)
    if error is None:
        if b"\x00" in stdout[:8192]:
            error = f"{tool} printed binary output"
        else:
            try:
                return stdout.decode("utf-8-sig")
            except UnicodeDecodeError:
                error = f"{tool} printed output that is not UTF-8 text"
    elif error.endswith(":"):
        message = _one_line(stderr)
        for old, new in cleanup:
            message = message.replace(old, new)
        if len(message) > MAX_ERROR_CHARS:
            message = message[: MAX_ERROR_CHARS - 1] + "…"
        error = f"{error} {message}"
    outcome.warnings.append(f"{label}: {error}")
    return None


def _run(argv: list[str], tool: str) -> tuple[bytes, bytes, str | None]:
    """Run `argv` (no shell, no stdin, its own process group) and collect stdout and
    stderr up to their caps within RENDER_TIMEOUT. The error is None on exit 0; an error
    ending with ':' wants stderr's one-line summary after it."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")  # remote bases must never prompt
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        return b"", b"", f"cannot run {tool}: {exc.strerror or exc}"
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = bytearray(), bytearray()
    deadline = time.monotonic() + RENDER_TIMEOUT
    error: str | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        while selector.get_map() and error is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                error = f"{tool} did not finish within {RENDER_TIMEOUT:g} s: stopped"
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is process.stdout:
                    stdout += chunk
                    if len(stdout) > MAX_RENDERED_BYTES:
                        error = f"{tool} printed more than {_size(MAX_RENDERED_BYTES)}: stopped"
                        break
                elif len(stderr) < MAX_STDERR_BYTES:
                    stderr += chunk
    code: int | None = None
    if error is None:
        try:
            code = process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            error = f"{tool} did not finish within {RENDER_TIMEOUT:g} s: stopped"
    if error is not None:
        _kill(process)
    elif code:
        exit_text = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        error = f"{tool} failed ({exit_text}):"
    process.stdout.close()
    process.stderr.close()
    return bytes(stdout), bytes(stderr), error


def _size(count: int) -> str:
    return f"{count // 1048576} MiB" if count >= 1048576 else f"{count:,} bytes"


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Stop the process group we started (a shell script's children too)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _one_line(stderr: bytes) -> str:
    """A tool's error output as one line: klog prefixes and blank lines dropped."""
    lines = []
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = _KLOG.sub("", raw.strip())
        failed = _KLOG_FAILED.match(line)
        if failed:
            line = failed.group(1).replace('\\"', '"')
        if line:
            lines.append(line)
    return " ".join(" ".join(lines).split()) or "no error message"
