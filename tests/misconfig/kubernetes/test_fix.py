"""`--fix`: the checks' edits written back into manifest files.

Untouched documents, comments and odd indentation stay byte for byte; fixed manifests pass
the checks they were fixed for; dry runs only return diffs; Helm output, stdin, symlinks and
files that changed since the scan are refused with one-line reasons.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kubeward.misconfig.engine import FieldFix, Selection, Violation
from kubeward.misconfig.kubernetes.fix import FixOutcome, SkippedFix, apply_fixes
from kubeward.misconfig.kubernetes.load import load_text
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.kubernetes.scan import find_manifests, scan_manifest_files
from kubeward.model import Finding, Location, Severity

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "k8s-manifests"
FIXED_IDS = ("KW-K8S-031", "KW-K8S-032", "KW-K8S-034", "KW-K8S-035", "KW-K8S-064", "KW-K8S-069")
POD_SC = ("spec", "template", "spec", "securityContext")
C0 = ("spec", "template", "spec", "containers", 0)

Edit = tuple[int, str, FieldFix]  # (object index in the file, check id, fix)


def violations(
    text: str, rel: str, edits: list[Edit], origin: str = "file"
) -> list[tuple[Finding, Violation, K8sObject]]:
    """What a scan would hand over: one finding per edit, on the object it names."""
    objects = load_text(text, rel, origin).objects
    out = []
    for index, rule_id, fix in edits:
        obj = objects[index]
        location = Location(path=obj.report_path, line=obj.line, resource=obj.report_resource)
        finding = Finding("misconfiguration", rule_id, "t", Severity.MEDIUM, location, "m")
        out.append((finding, Violation("m", line=obj.line, fixes=(fix,)), obj))
    return out


def fix_file(
    tmp_path: Path, text: str, edits: list[Edit], dry_run: bool = False, name: str = "m.yaml"
) -> tuple[FixOutcome, str]:
    path = tmp_path / name
    path.write_bytes(text.encode())
    outcome = apply_fixes(violations(text, name, edits), dry_run, [(path, name)])
    return outcome, path.read_bytes().decode()


MULTI = """\
# leading comment, before any document
---
# a ConfigMap nobody fixes: odd spacing and flow style stay as written
apiVersion: v1
kind: ConfigMap
metadata:
    name:   settings     # three spaces
data: {a: "1",  b: 'two'}
---
---
apiVersion: apps/v1
kind: Deployment
metadata:
      name: web   # six spaces
spec:
      replicas: 2
      template:
            spec:
                  containers:
                    -   name: app        # the app
                        image: "registry.example.com/web:1.2.3"
                        securityContext:
                           allowPrivilegeEscalation: true
                  # a sidecar comes later
...
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: first}
  spec:
    containers:
    - name: a
      image: registry.example.com/a:1
- apiVersion: v1
  kind: Pod
  metadata: {name: second}
  spec:
    containers:
    - {name: b, image: "registry.example.com/b:1"}
"""

MULTI_FIXED = """\
# leading comment, before any document
---
# a ConfigMap nobody fixes: odd spacing and flow style stay as written
apiVersion: v1
kind: ConfigMap
metadata:
    name:   settings     # three spaces
data: {a: "1",  b: 'two'}
---
---
apiVersion: apps/v1
kind: Deployment
metadata:
      name: web   # six spaces
spec:
      replicas: 2
      template:
            spec:
                  containers:
                    -   name: app        # the app
                        image: "registry.example.com/web:1.2.3"
                        securityContext:
                           allowPrivilegeEscalation: false
                           capabilities:
                                 drop:
                                   -   ALL
                  automountServiceAccountToken: false
                  # a sidecar comes later
...
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: first}
  spec:
    containers:
    - name: a
      image: registry.example.com/a:1
- apiVersion: v1
  kind: Pod
  metadata: {name: second}
  spec:
    containers:
    - {name: b, image: "registry.example.com/b:1", securityContext: {readOnlyRootFilesystem: true}}
    securityContext:
      runAsNonRoot: true
"""

MULTI_EDITS: list[Edit] = [
    (1, "KW-K8S-031", FieldFix((*C0, "securityContext", "allowPrivilegeEscalation"), False)),
    (1, "KW-K8S-035", FieldFix((*C0, "securityContext", "capabilities", "drop"), "ALL", "add")),
    (
        1,
        "KW-K8S-069",
        FieldFix(("spec", "template", "spec", "automountServiceAccountToken"), False),
    ),
    (
        3,
        "KW-K8S-064",
        FieldFix(("spec", "containers", 0, "securityContext", "readOnlyRootFilesystem"), True),
    ),
    (3, "KW-K8S-032", FieldFix(("spec", "securityContext", "runAsNonRoot"), True)),
]


def test_multi_document_file_keeps_everything_it_does_not_fix(tmp_path: Path) -> None:
    assert [(o.document, o.line, o.resource) for o in load_text(MULTI, "m.yaml").objects] == [
        (0, 4, "ConfigMap/settings"),
        (1, 11, "Deployment/web"),
        (2, 30, "Pod/first"),
        (2, 37, "Pod/second"),
    ]
    outcome, text = fix_file(tmp_path, MULTI, MULTI_EDITS)
    assert text == MULTI_FIXED
    assert outcome.changed == ["m.yaml"]
    assert outcome.applied == {
        "KW-K8S-031": 1, "KW-K8S-032": 1, "KW-K8S-035": 1, "KW-K8S-064": 1, "KW-K8S-069": 1,
    }  # fmt: skip
    assert (outcome.skipped, outcome.diffs) == ([], {})


def test_fixing_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MULTI_FIXED)
    outcome = apply_fixes(violations(MULTI_FIXED, "m.yaml", MULTI_EDITS), False, [(path, "m.yaml")])
    assert outcome == FixOutcome()
    assert path.read_text() == MULTI_FIXED


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      # the application
      - name: app
        image: registry.example.com/web:1.2.3
        resources:
          limits: {cpu: 500m, memory: 256Mi}
      - name: proxy
        image: registry.example.com/proxy:2.0.0
        securityContext:
          allowPrivilegeEscalation: true   # to be fixed
          capabilities:
            add: [NET_BIND_SERVICE]
"""

DEPLOYMENT_FIXED = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      # the application
      - name: app
        image: registry.example.com/web:1.2.3
        resources:
          limits: {cpu: 500m, memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          readOnlyRootFilesystem: true
      - name: proxy
        image: registry.example.com/proxy:2.0.0
        securityContext:
          allowPrivilegeEscalation: false  # to be fixed
          capabilities:
            add: [NET_BIND_SERVICE]
            drop:
            - ALL
          readOnlyRootFilesystem: true
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      automountServiceAccountToken: false
"""


def ids_of(path: Path) -> list[tuple[str, int | None]]:
    """The findings of the checks --fix is tested with (written by other modules: their
    lines are theirs to choose, only the ids are asserted before fixing)."""
    scan = scan_manifest_files([(path, path.name)], Selection(enable=frozenset(FIXED_IDS)))
    return [(f.rule_id, f.location.line) for f in scan.findings]


def test_fixed_manifest_passes_the_checks_it_was_fixed_for(tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(DEPLOYMENT)
    assert sorted({rule_id for rule_id, _ in ids_of(path)}) == list(FIXED_IDS)
    files = [(path, "web.yaml")]
    scan = scan_manifest_files(files, Selection(enable=frozenset(FIXED_IDS)))
    outcome = apply_fixes(scan.violations, False, files)
    assert outcome.changed == ["web.yaml"]
    assert outcome.skipped == []
    assert path.read_text() == DEPLOYMENT_FIXED
    assert ids_of(path) == []
    again = scan_manifest_files(files)  # every check: nothing left that --fix can change
    assert apply_fixes(again.violations, False, files) == FixOutcome()
    assert path.read_text() == DEPLOYMENT_FIXED


def test_dry_run_returns_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n"
        "    image: x:1\n"
    )
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    edits = violations(text, "pod.yaml", [
        (0, "KW-K8S-064", FieldFix(("spec", "containers", 0, "securityContext", "readOnlyRootFilesystem"), True)),  # noqa: E501
        (0, "KW-K8S-069", FieldFix(("spec", "automountServiceAccountToken"), False)),
    ])  # fmt: skip
    outcome = apply_fixes(edits, True, [(path, "pod.yaml")])
    assert outcome.diffs == {
        "pod.yaml": (
            "--- a/pod.yaml\n"
            "+++ b/pod.yaml\n"
            "@@ -6,3 +6,6 @@\n"
            "   containers:\n"
            "   - name: a\n"
            "     image: x:1\n"
            "+    securityContext:\n"
            "+      readOnlyRootFilesystem: true\n"
            "+  automountServiceAccountToken: false\n"
        )
    }
    assert (outcome.changed, outcome.applied) == (["pod.yaml"], {"KW-K8S-064": 1, "KW-K8S-069": 1})
    assert path.read_text() == text
    assert path.stat().st_mtime_ns == 1_000_000_000
    assert os.listdir(tmp_path) == ["pod.yaml"]


def test_a_missing_final_newline_and_crlf_and_a_bom_are_kept(tmp_path: Path) -> None:
    raw = (
        "\ufeffapiVersion: v1\r\nkind: Pod\r\nmetadata: {name: p}\r\nspec:\r\n"
        "  hostNetwork: true\r\n  containers: []"
    )
    path = tmp_path / "p.yaml"
    path.write_bytes(raw.encode())
    edits = violations(raw.lstrip("\ufeff"), "p.yaml", [
        (0, "KW-K8S-011", FieldFix(("spec", "hostNetwork"), None, "delete")),
        (0, "KW-K8S-069", FieldFix(("spec", "automountServiceAccountToken"), False)),
    ])  # fmt: skip
    outcome = apply_fixes(edits, True, [(path, "p.yaml")])
    assert outcome.diffs["p.yaml"].endswith(
        "-  hostNetwork: true\r\n"
        "-  containers: []\n"
        "\\ No newline at end of file\n"
        "+  containers: []\r\n"
        "+  automountServiceAccountToken: false\n"
        "\\ No newline at end of file\n"
    )
    apply_fixes(edits, False, [(path, "p.yaml")])
    assert path.read_bytes().decode() == (
        "\ufeffapiVersion: v1\r\nkind: Pod\r\nmetadata: {name: p}\r\nspec:\r\n  containers: []\r\n"
        "  automountServiceAccountToken: false"
    )


def test_json_manifests_stay_json_with_their_indentation(tmp_path: Path) -> None:
    text = '{\n    "apiVersion": "v1",\n    "kind": "Pod",\n' \
        '    "metadata": {"name": "p"},\n    "spec": {\n' \
        '        "containers": [\n            {\n                "name": "a"\n' \
        "            }\n        ]\n    }\n}\n"  # fmt: skip
    outcome, fixed = fix_file(tmp_path, text, [
        (0, "KW-K8S-064", FieldFix(("spec", "containers", 0, "securityContext", "readOnlyRootFilesystem"), True)),  # noqa: E501
    ], name="p.json")  # fmt: skip
    assert outcome.changed == ["p.json"]
    assert fixed == (
        '{\n    "apiVersion": "v1",\n    "kind": "Pod",\n'
        '    "metadata": {"name": "p"},\n    "spec": {\n'
        '        "containers": [\n            {\n                "name": "a",\n'
        '                "securityContext": {\n'
        '                    "readOnlyRootFilesystem": true\n'
        "                }\n            }\n        ]\n    }\n}\n"
    )


def test_document_pieces_are_found_by_line_around_markers_and_empty_documents(
    tmp_path: Path,
) -> None:
    text = (
        "# only a comment\n"
        "---\n"
        "---   # an empty document\n"
        "...\n"
        "--- # the first object\n"
        "apiVersion: v1\n"
        "kind: ServiceAccount\n"
        "metadata: {name: a}\n"
        "...\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ServiceAccount\n"
        "metadata: {name: b}\n"
    )
    loaded = load_text(text, "sa.yaml")
    assert [(o.document, o.line, o.name) for o in loaded.objects] == [(0, 6, "a"), (1, 11, "b")]
    outcome, fixed = fix_file(tmp_path, text, [
        (1, "KW-K8S-069", FieldFix(("automountServiceAccountToken",), False)),
        (0, "KW-K8S-069", FieldFix(("automountServiceAccountToken",), False)),
    ], name="sa.yaml")  # fmt: skip
    assert outcome.applied == {"KW-K8S-069": 2}
    assert fixed == (
        "# only a comment\n"
        "---\n"
        "---   # an empty document\n"
        "...\n"
        "--- # the first object\n"
        "apiVersion: v1\n"
        "kind: ServiceAccount\n"
        "metadata: {name: a}\n"
        "automountServiceAccountToken: false\n"
        "...\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ServiceAccount\n"
        "metadata: {name: b}\n"
        "automountServiceAccountToken: false\n"
    )


def test_new_strings_that_kubectl_would_not_read_as_strings_are_quoted(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    _, fixed = fix_file(tmp_path, text, [
        (0, "T-1", FieldFix(("metadata", "labels", "enabled"), "yes")),
        (0, "T-1", FieldFix(("metadata", "labels", "mode"), "0755")),
        (0, "T-1", FieldFix(("metadata", "labels", "team"), "shop")),
    ])  # fmt: skip
    assert fixed == (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
        '  labels:\n    enabled: "yes"\n    mode: "0755"\n    team: shop\n'
    )


def test_fixes_that_cannot_apply_are_skipped_one_by_one(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n"
        "    env: oops\n"
    )
    outcome, fixed = fix_file(tmp_path, text, [
        (0, "T-1", FieldFix(("spec", "containers", 3, "securityContext", "privileged"), False)),
        (0, "T-2", FieldFix(("metadata", "name", "x"), 1)),
        (0, "T-3", FieldFix(("spec", "containers", 0, "env"), {"name": "A"}, "add")),
        (0, "T-4", FieldFix(("spec", "hostPID"), None, "delete")),
        (0, "T-5", FieldFix(("spec", "x"), 1, "replace")),
        (0, "T-6", FieldFix(("spec", "containers", 0, "securityContext", "privileged"), False)),
    ])  # fmt: skip
    assert [str(s) for s in outcome.skipped] == [
        "m.yaml:1: T-1: not fixed: .spec.containers[3] does not exist",
        "m.yaml:1: T-2: not fixed: .metadata.name is not a mapping",
        "m.yaml:1: T-3: not fixed: .spec.containers[0].env is not a list",
        "m.yaml:1: T-5: not fixed: unknown fix operation 'replace'",
    ]
    assert outcome.applied == {"T-6": 1}  # T-4: nothing to delete, nothing changed
    assert fixed == text.replace(
        "env: oops\n", "env: oops\n    securityContext:\n      privileged: false\n"
    )


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        (
            "helm",
            "not fixable here: rendered by Helm from web/templates/pod.yaml; fix the chart's "
            "template or values",
        ),
        ("kustomize", "not fixable here: kustomize output; fix the base or add a patch"),
        ("stdin", "not fixable here: read from stdin"),
        ("cluster", "not fixable here: live cluster object; fix the manifest it was applied from"),
    ],
)
def test_objects_not_read_from_a_manifest_file_are_refused(
    tmp_path: Path, origin: str, reason: str
) -> None:
    text = (
        "---\n# Source: web/templates/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {}\n"
    )
    if origin != "helm":
        text = text.replace("# Source: web/templates/pod.yaml\n", "")
    path = tmp_path / "m.yaml"
    path.write_text(text)
    edits = violations(text, "m.yaml", [(0, "KW-K8S-069", FieldFix(("spec", "x"), 1))], origin)
    outcome = apply_fixes(edits, False, [(path, "m.yaml")])
    assert outcome.skipped == [
        SkippedFix("m.yaml", 3 if origin == "helm" else 2, "KW-K8S-069", reason)
    ]
    assert (outcome.changed, path.read_text()) == ([], text)


def test_a_helm_source_comment_in_a_plain_file_is_refused_too(tmp_path: Path) -> None:
    text = (
        "# Source: web/templates/pod.yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {}\n"
    )
    outcome, fixed = fix_file(tmp_path, text, [(0, "T-1", FieldFix(("spec", "x"), 1))])
    assert [s.reason for s in outcome.skipped] == [
        "not fixable here: rendered by Helm from web/templates/pod.yaml; fix the chart's "
        "template or values"
    ]
    assert fixed == text


def test_symlinks_and_files_that_were_not_scanned_are_refused(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n"
    real = tmp_path / "real.yaml"
    real.write_text(text)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    edits = violations(text, "link.yaml", [(0, "T-1", FieldFix(("spec", "x"), 1))])
    outcome = apply_fixes(edits, False, [(link, "link.yaml")])
    assert [str(s) for s in outcome.skipped] == [
        "link.yaml:1: T-1: not fixable here: a symlink (never followed)"
    ]
    assert (link.is_symlink(), real.read_text()) == (True, text)
    outcome = apply_fixes(edits, False, [(real, "real.yaml")])
    assert [s.reason for s in outcome.skipped] == ["not fixable here: not one of the scanned files"]
    assert real.read_text() == text


def test_a_file_changed_since_the_scan_is_left_alone(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n"
    path = tmp_path / "m.yaml"
    path.write_text(text)
    edits = violations(text, "m.yaml", [(0, "T-1", FieldFix(("spec", "x"), 1))])
    path.write_text(text.replace("name: p", "name: q"))
    outcome = apply_fixes(edits, False, [(path, "m.yaml")])
    assert [s.reason for s in outcome.skipped] == [
        "not fixed: the file changed since it was scanned"
    ]
    assert path.read_text() == text.replace("name: p", "name: q")


def test_documents_ruamel_cannot_round_trip_are_skipped(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {}\n"
        "---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: c}\nmetadata: {name: c}\nspec: {}\n"
    )
    outcome, fixed = fix_file(tmp_path, text, [
        (0, "T-2", FieldFix(("spec", "hostPID"), False)),
        (1, "T-3", FieldFix(("spec", "hostPID"), False)),
    ])  # fmt: skip
    assert [str(s) for s in outcome.skipped] == [
        'm.yaml:6: T-3: not fixed: ruamel.yaml cannot round-trip it: duplicate key "metadata"',
    ]
    assert fixed == text.replace("name: b}\nspec: {}", "name: b}\nspec:\n  hostPID: false")


ANCHORS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
x-app: &app {name: app, image: nginx:1.27}
x-base: &base {image: nginx:1.27}
x-pod-security: &pod-security {runAsUser: 0}
spec:
  template:
    spec:
      securityContext: *pod-security
      volumes: &volumes [{name: data, emptyDir: {}}]
      containers:
      - *app
      - <<: *base
        name: side
      - name: plain
        image: busybox
        volumeMounts: []
"""


def test_anchors_elsewhere_do_not_stop_a_fix(tmp_path: Path) -> None:
    """A fix that changes no shared node applies; the document's anchors, aliases and
    merge keys are written back as they were."""
    containers = ("spec", "template", "spec", "containers")
    outcome, fixed = fix_file(tmp_path, ANCHORS, [
        (0, "T-1", FieldFix((*containers, 2, "securityContext", "privileged"), False)),
        (0, "T-2", FieldFix(("spec", "template", "spec", "hostPID"), False)),
    ])  # fmt: skip
    assert (outcome.skipped, outcome.applied) == ([], {"T-1": 1, "T-2": 1})
    assert fixed == ANCHORS.replace(
        "        volumeMounts: []\n",
        "        volumeMounts: []\n        securityContext:\n          privileged: false\n"
        "      hostPID: false\n",
    )


@pytest.mark.parametrize(
    ("fix", "where"),
    [
        # an alias: the container is the anchored mapping itself
        (FieldFix(("spec", "template", "spec", "containers", 0, "securityContext",
                   "privileged"), False), ".spec.template.spec.containers[0]"),
        # a merge key: the container takes its keys from another mapping
        (FieldFix(("spec", "template", "spec", "containers", 1, "securityContext",
                   "privileged"), False), ".spec.template.spec.containers[1]"),
        # set inside an aliased value, or replace it, or delete it
        (FieldFix(("spec", "template", "spec", "securityContext", "runAsNonRoot"), True),
         ".spec.template.spec.securityContext"),
        (FieldFix(("spec", "template", "spec", "securityContext"), {"runAsNonRoot": True}),
         ".spec.template.spec.securityContext"),
        (FieldFix(("spec", "template", "spec", "securityContext"), op="delete"),
         ".spec.template.spec.securityContext"),
        # add to an anchored list
        (FieldFix(("spec", "template", "spec", "volumes"), {"name": "x"}, op="add"),
         ".spec.template.spec.volumes"),
    ],
)  # fmt: skip
def test_a_fix_that_would_change_a_shared_node_is_refused(
    tmp_path: Path, fix: FieldFix, where: str
) -> None:
    outcome, fixed = fix_file(tmp_path, ANCHORS, [(0, "T-1", fix)])
    assert [str(s) for s in outcome.skipped] == [
        f"m.yaml:1: T-1: not fixed: {where} is shared through a YAML anchor or merge key"
    ]
    assert fixed == ANCHORS


def test_the_file_mode_is_kept_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n"
    path = tmp_path / "m.yaml"
    path.write_text(text)
    path.chmod(0o640)
    edits = violations(text, "m.yaml", [(0, "T-1", FieldFix(("spec", "hostPID"), False))])
    assert apply_fixes(edits, False, [(path, "m.yaml")]).changed == ["m.yaml"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    # an empty `{}` that gets its first key becomes a block
    assert path.read_text() == (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostPID: false\n"
    )
    assert os.listdir(tmp_path) == ["m.yaml"]


def test_every_corpus_manifest_fixes_to_text_that_passes_the_fixed_checks(tmp_path: Path) -> None:
    """Real manifests, fixed in a copy: every fix applies or is skipped with a reason, the
    files still load as before, and only the skipped findings are left to fix."""
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root, symlinks=True)
    files = list(find_manifests(root))
    selection = Selection(enable=frozenset(FIXED_IDS))
    scan = scan_manifest_files(files, selection)
    fixable = {
        (f.location.path, f.location.line, f.rule_id) for f, v, _ in scan.violations if v.fixes
    }
    outcome = apply_fixes(scan.violations, False, files)
    skipped = {(s.path, s.line, s.rule_id) for s in outcome.skipped}
    assert {s.reason for s in outcome.skipped} == {
        'not fixed: ruamel.yaml cannot round-trip it: duplicate key "selector"'
    }
    assert len(outcome.changed) >= 250
    assert skipped <= fixable
    rescan = scan_manifest_files(files, selection)
    left = {(f.location.path, f.rule_id) for f, v, _ in rescan.violations if v.fixes}
    assert left == {(s.path, s.rule_id) for s in outcome.skipped}
    for rel in outcome.changed:
        before = load_text((CORPUS / rel).read_text(encoding="utf-8-sig"), rel)
        after = load_text((root / rel).read_text(encoding="utf-8-sig"), rel)
        assert len(after.objects) == len(before.objects)
        assert [p.message for p in after.problems] == [p.message for p in before.problems]


def test_a_document_written_on_its_marker_line_is_fixed_there(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
        "--- {apiVersion: v1, kind: ServiceAccount, metadata: {name: b}}\n"
    )
    outcome, fixed = fix_file(
        tmp_path, text, [(1, "KW-K8S-069", FieldFix(("automountServiceAccountToken",), False))]
    )
    assert (outcome.changed, outcome.skipped) == (["m.yaml"], [])
    assert fixed == (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
        "--- {apiVersion: v1, kind: ServiceAccount, metadata: {name: b},"
        " automountServiceAccountToken: false}\n"
    )
