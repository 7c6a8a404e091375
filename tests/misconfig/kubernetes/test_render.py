"""Helm and Kustomize inputs: rendered Helm streams, chart directories through a stand-in
`helm` (no helm binary can be installed on the development machines), and kustomizations
through the real `kubectl kustomize` with objects traced back to their source lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubeward.misconfig.kubernetes import render
from kubeward.misconfig.kubernetes.load import LoadProblem, load_text
from kubeward.misconfig.kubernetes.objects import K8sObject
from kubeward.misconfig.kubernetes.render import (
    render_chart,
    render_kustomization,
    render_tree,
)
from kubeward.misconfig.kubernetes.scan import check_loaded

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "k8s-manifests"
DEMO = DATA / "GoogleCloudPlatform-microservices-demo"
CONTAINER = ("spec", "template", "spec", "containers", 0)

# What `helm template` prints for a small chart: every document under `---` and the
# `# Source:` comment of its template; one template renders two documents.
HELM_STREAM = """\
---
# Source: shop/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: kubeward-scan-shop
  labels:
    helm.sh/chart: shop-0.1.0
---
# Source: shop/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: kubeward-scan-shop
spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubeward-scan-shop
spec:
  replicas: 1
  template:
    spec:
      serviceAccountName: kubeward-scan-shop
      containers:
        - name: shop
          image: "nginx:1.16.0"
          securityContext:
            privileged: true
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubeward-scan-shop-worker
spec:
  template:
    spec:
      containers:
        - name: worker
          image: "busybox:1.36"
---
# Source: shop/templates/tests/test-connection.yaml
apiVersion: v1
kind: Pod
metadata:
  name: "kubeward-scan-shop-test-connection"
  annotations:
    "helm.sh/hook": test
spec:
  containers:
    - name: wget
      image: busybox
      command: ['wget']
      args: ['kubeward-scan-shop:80']
  restartPolicy: Never
"""


def _summary(objects: list[K8sObject]) -> list[tuple[str, str, str, int]]:
    return [(o.kind, o.name, o.path, o.line) for o in objects]


def test_rendered_helm_stream_on_stdin_names_templates() -> None:
    loaded = load_text(HELM_STREAM, "-", origin="stdin")
    assert [(o.kind, o.line, o.template) for o in loaded.objects] == [
        ("ServiceAccount", 3, "shop/templates/serviceaccount.yaml"),
        ("Service", 11, "shop/templates/service.yaml"),
        ("Deployment", 22, "shop/templates/deployment.yaml"),
        ("Deployment", 38, "shop/templates/deployment.yaml"),
        ("Pod", 50, "shop/templates/tests/test-connection.yaml"),
    ]
    scan = check_loaded([loaded])
    privileged = [f.location for f in scan.findings if f.rule_id == "KW-K8S-012"]
    assert [(p.path, p.line, p.resource) for p in privileged] == [
        ("-", 35, "Deployment/kubeward-scan-shop (shop/templates/deployment.yaml)")
    ]


# --- Chart directories through a stand-in helm -----------------------------------------


def _chart(root: Path) -> Path:
    chart = root / "charts" / "shop"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    (chart / "templates" / "deployment.yaml").write_text("{{ .Values.broken\n")
    return chart


def _stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> Path:
    """A `helm` or `kubectl` on PATH that runs `body` (Python) and records its argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / f"{name}-argv.json"
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\nimport json, sys, time\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n{body}\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return record


def _printing(stream: str) -> str:
    return f"sys.stdout.write({stream!r})"


def test_chart_directory_is_rendered_by_helm_with_the_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = _chart(tmp_path / "repo")
    record = _stand_in(tmp_path, monkeypatch, "helm", _printing(HELM_STREAM))
    values = [tmp_path / "prod.yaml", tmp_path / "extra values.yaml"]
    outcome = render_chart(chart, values, root=tmp_path / "repo")
    assert json.loads(record.read_text()) == [
        "template", "kubeward-scan", str(chart), "--values", str(values[0]),
        "--values", str(values[1]),
    ]  # fmt: skip
    assert outcome.warnings == []
    assert outcome.rendered_dirs == frozenset({chart})
    objects = [o for part in outcome.loaded for o in part.objects]
    # Lines count in each template's own output (`helm template --show-only <template>`).
    assert _summary(objects) == [
        ("ServiceAccount", "kubeward-scan-shop", "charts/shop/templates/serviceaccount.yaml", 3),
        ("Service", "kubeward-scan-shop", "charts/shop/templates/service.yaml", 3),
        ("Deployment", "kubeward-scan-shop", "charts/shop/templates/deployment.yaml", 3),
        ("Deployment", "kubeward-scan-shop-worker", "charts/shop/templates/deployment.yaml", 19),
        ("Pod", "kubeward-scan-shop-test-connection",
         "charts/shop/templates/tests/test-connection.yaml", 3),
    ]  # fmt: skip
    assert {o.origin for o in objects} == {"helm"}
    assert objects[2].line_of(*CONTAINER, "securityContext", "privileged") == 16
    scan = check_loaded(outcome.loaded)
    assert [
        (f.location.path, f.location.line, f.location.resource)
        for f in scan.findings
        if f.rule_id == "KW-K8S-012"
    ] == [
        (
            "charts/shop/templates/deployment.yaml",
            16,
            "Deployment/kubeward-scan-shop (shop/templates/deployment.yaml)",
        )
    ]


def test_render_tree_finds_the_chart_and_consumes_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    chart = _chart(root)
    (root / "plain.yaml").write_text("kind: ConfigMap\n")
    record = _stand_in(tmp_path, monkeypatch, "helm", _printing(HELM_STREAM))
    outcome = render_tree(root, [tmp_path / "v.yaml"], decode_kinds={"Deployment"})
    assert json.loads(record.read_text())[3:] == ["--values", str(tmp_path / "v.yaml")]
    assert outcome.rendered_dirs == frozenset({chart})
    assert outcome.covers(chart / "templates" / "deployment.yaml")
    assert not outcome.covers(root / "plain.yaml")
    assert [len(part.objects) for part in outcome.loaded] == [1, 1, 2, 1]
    # Kinds no check reads stay lazily loaded, as for files.
    assert [o.decoded for part in outcome.loaded for o in part.objects] == [
        False, False, True, True, False,
    ]  # fmt: skip


def test_chart_at_the_root_reports_paths_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = _chart(tmp_path / "repo")
    _stand_in(tmp_path, monkeypatch, "helm", _printing(HELM_STREAM))
    outcome = render_tree(chart)
    assert outcome.loaded[0].objects[0].path == "templates/serviceaccount.yaml"
    assert outcome.rendered_dirs == frozenset({chart})


def test_missing_helm_is_one_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    chart = _chart(root)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    outcome = render_tree(root)
    assert outcome.warnings == [
        "helm is needed to render the chart in charts/shop: "
        "install helm or pass `helm template` output"
    ]
    assert outcome.loaded == []
    assert outcome.rendered_dirs == frozenset({chart})


def test_failing_helm_shows_its_error_on_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = _chart(tmp_path / "repo")
    body = (
        "sys.stderr.write('Error: template: shop/templates/deployment.yaml:1:3: executing\\n"
        '  "shop/templates/deployment.yaml" at <.Values.broken>: nil pointer\\n\\n'
        "Use --debug flag to render out invalid YAML\\n')\nsys.exit(1)"
    )
    _stand_in(tmp_path, monkeypatch, "helm", body)
    outcome = render_tree(tmp_path / "repo")
    assert outcome.warnings == [
        "charts/shop: helm template failed (exit 1): Error: template: "
        'shop/templates/deployment.yaml:1:3: executing "shop/templates/deployment.yaml" at '
        "<.Values.broken>: nil pointer Use --debug flag to render out invalid YAML"
    ]
    assert outcome.loaded == []
    assert outcome.rendered_dirs == frozenset({chart})


def test_hanging_helm_is_stopped_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = _chart(tmp_path / "repo")
    _stand_in(tmp_path, monkeypatch, "helm", "sys.stdout.write('---\\n'); sys.stdout.flush()\n"
              "time.sleep(60)")  # fmt: skip
    monkeypatch.setattr(render, "RENDER_TIMEOUT", 0.5)
    started = time.monotonic()
    outcome = render_chart(chart)
    assert time.monotonic() - started < 5
    assert outcome.warnings == ["shop: helm template did not finish within 0.5 s: stopped"]
    assert outcome.loaded == []


def test_helm_output_past_the_cap_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = _chart(tmp_path / "repo")
    _stand_in(tmp_path, monkeypatch, "helm", "sys.stdout.write('# x\\n' * 100000)")
    monkeypatch.setattr(render, "MAX_RENDERED_BYTES", 4096)
    outcome = render_chart(chart)
    assert outcome.warnings == ["shop: helm template printed more than 4,096 bytes: stopped"]
    assert outcome.loaded == []


def test_helm_printing_garbage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chart = _chart(tmp_path / "repo")
    _stand_in(tmp_path, monkeypatch, "helm", _printing("<html>\n  oops: [unclosed\n"))
    broken = render_chart(chart)
    assert broken.warnings == []
    assert [part.problems for part in broken.loaded] == [
        [
            LoadProblem(
                "shop", 2, "YAML does not parse: mapping values are not allowed in this context"
            )
        ]
    ]

    _stand_in(tmp_path, monkeypatch, "helm", _printing("Segmentation fault\n"))
    assert render_chart(chart).warnings == ["shop: helm template printed no Kubernetes objects"]

    _stand_in(tmp_path, monkeypatch, "helm", "sys.stdout.buffer.write(b'\\x00\\x01\\xff')")
    assert render_chart(chart).warnings == ["shop: helm template printed binary output"]

    _stand_in(tmp_path, monkeypatch, "helm", "sys.stdout.buffer.write(b'kind: \\xff\\n')")
    assert render_chart(chart).warnings == [
        "shop: helm template printed output that is not UTF-8 text"
    ]


# --- Kustomize through kubectl ------------------------------------------------------------


def test_microservices_demo_kustomize_is_traced_to_its_base_files() -> None:
    outcome = render_tree(DEMO / "kustomize")
    assert outcome.warnings == []
    # kustomize/base is used by kustomize/ and not rendered again; the components and
    # test overlays under kustomize/ are not rendered on their own.
    assert outcome.rendered_dirs == frozenset({DEMO / "kustomize", DEMO / "kustomize" / "base"})
    assert len(outcome.loaded) == 1
    objects = outcome.loaded[0].objects
    kinds = [o.kind for o in objects]
    assert (len(objects), kinds.count("ServiceAccount"), kinds.count("Service")) == (35, 11, 12)
    assert kinds.count("Deployment") == 12
    assert outcome.loaded[0].problems == []
    by_name = {(o.kind, o.name): o for o in objects}
    frontend = by_name["Deployment", "frontend"]
    assert (frontend.path, frontend.line, frontend.origin) == (
        "base/frontend.yaml",
        15,
        "kustomize",
    )
    assert frontend.line_of(*CONTAINER, "securityContext") == 40
    assert frontend.line_of(*CONTAINER, "image") == 47
    redis = by_name["Service", "redis-cart"]
    assert (redis.path, redis.line, redis.line_of("spec", "ports", 0)) == (
        "base/cartservice.yaml", 143, 154,
    )  # fmt: skip
    loadgen = by_name["ServiceAccount", "loadgenerator"]
    assert (loadgen.path, loadgen.line) == ("base/loadgenerator.yaml", 96)
    # The annotation kustomize was asked for is not part of the objects.
    assert all("annotations" not in o.metadata for o in objects if o.kind == "ServiceAccount")


def test_microservices_demo_kubernetes_manifests_kustomization() -> None:
    outcome = render_kustomization(DEMO / "kubernetes-manifests")
    assert outcome.warnings == []
    assert outcome.rendered_dirs == frozenset({DEMO / "kubernetes-manifests"})
    objects = outcome.loaded[0].objects
    kinds = [o.kind for o in objects]
    assert [kinds.count(k) for k in ("ServiceAccount", "Service", "Deployment")] == [10, 12, 11]
    assert len(objects) == 33
    assert _summary([o for o in objects if o.name == "checkoutservice"]) == [
        ("ServiceAccount", "checkoutservice", "checkoutservice.yaml", 92),
        ("Service", "checkoutservice", "checkoutservice.yaml", 77),
        ("Deployment", "checkoutservice", "checkoutservice.yaml", 15),
    ]


def test_the_whole_demo_repository_renders_each_kustomization_once() -> None:
    outcome = render_tree(DEMO)
    assert [len(part.objects) for part in outcome.loaded] == [33, 35]
    assert outcome.rendered_dirs == frozenset(
        {DEMO / "kubernetes-manifests", DEMO / "kustomize", DEMO / "kustomize" / "base"}
    )
    assert outcome.covers(DEMO / "kustomize" / "components" / "spanner" / "kustomization.yaml")
    assert not outcome.covers(DEMO / "release" / "kubernetes-manifests.yaml")
    assert outcome.loaded[1].objects[0].path == "kustomize/base/adservice.yaml"


def test_untraced_objects_keep_the_lines_of_kubectl_kustomize_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = DEMO / "kubernetes-manifests"
    monkeypatch.setattr(render._Tracer, "trace", lambda self, obj, origin: None)
    objects = render_kustomization(directory).loaded[0].objects
    plain = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
    ).stdout
    starts, line = [1], 1
    for text in plain.split("\n")[:-1]:
        line += 1
        if text == "---":
            starts.append(line)
    assert [o.line for o in objects] == starts
    assert {o.path for o in objects} == {"kubernetes-manifests"}
    assert load_text(plain, "x").objects[5].data == objects[5].data


def _kustomize_tree(root: Path) -> None:
    base = root / "base"
    base.mkdir(parents=True)
    (base / "kustomization.yaml").write_text(
        "resources:\n- app.yaml\nconfigMapGenerator:\n- name: other\n  literals: [x=y]\n"
        "- name: settings\n  literals: [mode=strict]\n"
    )
    (base / "app.yaml").write_text(
        "# the app\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: app\n"
        "        image: nginx\n"
        "---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-worker\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: worker\n"
        "        image: busybox\n"
    )
    for env in ("dev", "prod"):
        overlay = root / "overlays" / env
        overlay.mkdir(parents=True)
        (overlay / "kustomization.yaml").write_text(
            f"namePrefix: {env}-\nnamespace: {env}\nresources:\n- ../../base\n"
            "patches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n"
            "    metadata: {name: web}\n    spec:\n      template:\n        spec:\n"
            "          containers:\n          - name: app\n"
            "            securityContext: {privileged: true}\n"
        )


def test_overlays_are_traced_to_the_base_and_the_base_is_not_rendered_alone(
    tmp_path: Path,
) -> None:
    _kustomize_tree(tmp_path)
    outcome = render_tree(tmp_path)
    assert outcome.warnings == []
    assert outcome.rendered_dirs == frozenset(
        {tmp_path / "base", tmp_path / "overlays" / "dev", tmp_path / "overlays" / "prod"}
    )
    assert [_summary(part.objects) for part in outcome.loaded] == [
        [
            ("ConfigMap", "dev-other-6gc9d749f7", "base/kustomization.yaml", 4),
            ("ConfigMap", "dev-settings-794444tth4", "base/kustomization.yaml", 6),
            ("Deployment", "dev-web", "base/app.yaml", 2),
            ("Deployment", "dev-web-worker", "base/app.yaml", 13),
        ],
        [
            ("ConfigMap", "prod-other-6gc9d749f7", "base/kustomization.yaml", 4),
            ("ConfigMap", "prod-settings-794444tth4", "base/kustomization.yaml", 6),
            ("Deployment", "prod-web", "base/app.yaml", 2),
            ("Deployment", "prod-web-worker", "base/app.yaml", 13),
        ],
    ]
    web = outcome.loaded[1].objects[2]
    # The data is what kustomize built; lines are the base file's, and a field a patch
    # added is reported at its deepest ancestor there (the container).
    assert web.get(*CONTAINER, "securityContext", "privileged") is True
    assert web.namespace == "prod"
    assert web.line_of(*CONTAINER, "securityContext", "privileged") == 10
    assert web.line_of(*CONTAINER, "image") == 11
    assert outcome.loaded[1].objects[1].line_of("data", "mode") == 6  # generated: its entry
    scan = check_loaded(outcome.loaded)
    assert [
        (f.location.path, f.location.line, f.location.resource)
        for f in scan.findings
        if f.rule_id == "KW-K8S-012"
    ] == [
        ("base/app.yaml", 10, "Deployment/dev/dev-web"),
        ("base/app.yaml", 10, "Deployment/prod/prod-web"),
    ]


def test_a_broken_kustomization_is_one_warning_and_the_others_render(tmp_path: Path) -> None:
    _kustomize_tree(tmp_path / "good")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "kustomization.yaml").write_text("resources:\n- missing.yaml\n")
    outcome = render_tree(tmp_path)
    assert outcome.warnings == [
        "broken: kubectl kustomize failed (exit 1): accumulating resources: accumulation "
        "err='accumulating resources from 'missing.yaml': evalsymlink failure on "
        "'broken/missing.yaml' : lstat broken/missing.yaml: no such file or directory': "
        "must build at directory: not a valid directory: evalsymlink failure on "
        "'broken/missing.yaml' : lstat broken/missing.yaml: no such file or directory"
    ]
    assert [len(part.objects) for part in outcome.loaded] == [4, 4]
    assert tmp_path / "broken" in outcome.rendered_dirs


def test_missing_kubectl_is_one_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _kustomize_tree(tmp_path)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    outcome = render_tree(tmp_path)
    assert outcome.warnings == [
        f"kubectl is needed to render the kustomization in overlays/{env}: "
        "install kubectl or pass `kubectl kustomize` output"
        for env in ("dev", "prod")
    ]
    assert outcome.loaded == []
    assert outcome.covers(tmp_path / "base" / "app.yaml")


def test_kubectl_is_run_on_a_wrapper_that_asks_for_origins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kustomize_tree(tmp_path)
    body = (
        "import pathlib\nwrapper = pathlib.Path(sys.argv[2])\n"
        f"open({str(tmp_path / 'wrapper.yaml')!r}, 'w').write("
        "(wrapper / 'kustomization.yaml').read_text())\n"
        "sys.stdout.write('apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: x\\n')"
    )
    record = _stand_in(tmp_path, monkeypatch, "kubectl", body)
    outcome = render_kustomization(tmp_path / "base", root=tmp_path)
    argv = json.loads(record.read_text())
    assert argv[0] == "kustomize"
    assert len(argv) == 2
    assert not os.path.exists(argv[1])  # the wrapper is removed afterwards
    reference = os.path.relpath(os.path.realpath(tmp_path / "base"), argv[1])
    assert (tmp_path / "wrapper.yaml").read_text() == (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f'resources:\n- "{reference}"\nbuildMetadata:\n- originAnnotations\n'
    )
    # Output without origins cannot be traced: it keeps the stream's lines.
    assert _summary(outcome.loaded[0].objects) == [("ConfigMap", "x", "base", 1)]
