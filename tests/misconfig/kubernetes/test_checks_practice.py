"""Kubernetes best-practice checks (KW-K8S-060..078): exact ids, lines and messages on
failing manifests, silence on passing ones, image reference parsing, secret redaction,
FieldFixes that make the check pass, and the public manifest corpus without a check error."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeward.misconfig.engine import FieldFix, Selection
from kubeward.misconfig.kubernetes.checks_practice import (
    ImageRef,
    literal_secret_value,
    normalise_host_path,
    parse_image,
    secret_like_name,
    sensitive_host_path,
)
from kubeward.misconfig.kubernetes.load import load_text
from kubeward.misconfig.kubernetes.scan import (
    ManifestScan,
    check_loaded,
    find_manifests,
    scan_manifest_files,
)

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "k8s-manifests"
PRACTICE_IDS = frozenset(f"KW-K8S-{n:03d}" for n in range(60, 79))
DIGEST = "sha256:" + "a" * 64


def scan(text: str, *ids: str, origin: str = "file") -> ManifestScan:
    result = check_loaded(
        [load_text(text, "m.yaml", origin=origin)],
        selection=Selection(enable=frozenset(ids or PRACTICE_IDS)),
    )
    assert [w for w in result.warnings if "failed on" in w] == []
    return result


def found(check_id: str, text: str, origin: str = "file") -> list[tuple[int | None, str]]:
    """(line, message) of every finding of `check_id` on `text`."""
    return [
        (f.location.line, f.message)
        for f in scan(text, check_id, origin=origin).findings
        if f.rule_id == check_id
    ]


# One Deployment that breaks most container checks; line numbers are noted on the right.
BAD_DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  template:
    spec:
      initContainers:
        - name: setup
          image: localhost:5000/setup
      containers:
        - name: app
          image: nginx:latest
          ports:
            - containerPort: 22
          securityContext:
            readOnlyRootFilesystem: false
          resources:
            limits:
              cpu: 500m
          env:
            - name: DB_PASSWORD
              value: hunter2-very-secret
        - name: sidecar
          image: registry.example.com/proxy:1.2@{DIGEST}
          livenessProbe: {{httpGet: {{path: /, port: 80}}}}
          readinessProbe: {{httpGet: {{path: /, port: 80}}}}
          securityContext: {{readOnlyRootFilesystem: true}}
          resources: {{limits: {{memory: 64Mi, cpu: 100m}}}}
"""

# The same workload written by the book: no practice check may fire on it.
GOOD_DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      serviceAccountName: web
      automountServiceAccountToken: false
      initContainers:
        - name: setup
          image: localhost:5000/setup:1.0@{DIGEST}
          securityContext: {{readOnlyRootFilesystem: true}}
          resources:
            limits: {{memory: 32Mi, cpu: 50m}}
      containers:
        - name: app
          image: nginx:1.27@{DIGEST}
          ports:
            - containerPort: 8080
          securityContext:
            readOnlyRootFilesystem: true
          resources:
            requests: {{memory: 64Mi, cpu: 100m}}
            limits: {{memory: 128Mi, cpu: 200m}}
          livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}
          readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {{name: db, key: password}}
            - name: LOG_LEVEL
              value: debug
      volumes:
        - name: logs
          hostPath: {{path: /var/log/web}}
"""

BAD_CASES: list[tuple[str, list[tuple[int, str]]]] = [
    (
        "KW-K8S-060",
        [
            (10, 'init container "setup" has no memory limit (resources.limits.memory)'),
            (20, 'container "app" has no memory limit (resources.limits.memory)'),
        ],
    ),
    ("KW-K8S-061", [(10, 'init container "setup" has no CPU limit (resources.limits.cpu)')]),
    (
        "KW-K8S-062",
        [
            (10, 'init container "setup" has no memory request (resources.requests.memory)'),
            (19, 'container "app" has no memory request (resources.requests.memory)'),
        ],
    ),
    # app has a CPU limit (the API server copies it as the request); sidecar too
    ("KW-K8S-063", [(10, 'init container "setup" has no CPU request (resources.requests.cpu)')]),
    (
        "KW-K8S-064",
        [
            (
                10,
                'init container "setup" does not set readOnlyRootFilesystem: true '
                "(root filesystem writable)",
            ),
            (18, 'container "app" sets readOnlyRootFilesystem: false (root filesystem writable)'),
        ],
    ),
    (
        "KW-K8S-065",
        [
            (11, 'init container "setup" image "localhost:5000/setup" has no tag (means latest)'),
            (14, 'container "app" image "nginx:latest" uses the latest tag'),
        ],
    ),
    (
        "KW-K8S-066",
        [
            (11, 'init container "setup" image "localhost:5000/setup" is not pinned by digest'),
            (14, 'container "app" image "nginx:latest" is not pinned by digest'),
        ],
    ),
    ("KW-K8S-067", [(13, 'container "app" has no livenessProbe')]),
    ("KW-K8S-068", [(13, 'container "app" has no readinessProbe')]),
    (
        "KW-K8S-069",
        [
            (
                8,
                "pod spec does not set automountServiceAccountToken: false "
                '(token of service account "default" mounted)',
            )
        ],
    ),
    ("KW-K8S-070", [(8, "pod runs as the default service account (serviceAccountName not set)")]),
    (
        "KW-K8S-071",
        [(5, 'Deployment "web" is placed in the default namespace (namespace: default)')],
    ),
    (
        "KW-K8S-072",
        [
            (
                24,
                'container "app" sets env DB_PASSWORD to a literal value '
                "(the name says it is a secret; value not shown)",
            )
        ],
    ),
    ("KW-K8S-074", [(16, 'container "app" exposes containerPort 22 (SSH)')]),
]


@pytest.mark.parametrize(("check_id", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_deployment(check_id: str, expected: list[tuple[int, str]]) -> None:
    assert found(check_id, BAD_DEPLOYMENT) == expected


def test_good_deployment_passes_every_practice_check() -> None:
    assert [(f.rule_id, f.location.line) for f in scan(GOOD_DEPLOYMENT).findings] == []


def test_findings_carry_metadata_and_resource() -> None:
    finding = next(f for f in scan(BAD_DEPLOYMENT, "KW-K8S-074").findings)
    assert (finding.title, finding.severity.name) == ("Container exposes port 22 (SSH)", "MEDIUM")
    assert finding.location.path == "m.yaml"
    assert finding.location.resource == "Deployment/default/web"
    assert "containerPort: 8080" in finding.remediation


# ---------------------------------------------------------------- other workload kinds

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: dump
              image: postgres
"""

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: tool
spec:
  serviceAccountName: default
  containers:
    - name: shell
      image: busybox:1.36
  ephemeralContainers:
    - name: debugger
      image: busybox
"""


def test_cronjob_is_checked_at_its_nested_pod_template() -> None:
    assert found("KW-K8S-065", CRONJOB) == [
        (14, 'container "dump" image "postgres" has no tag (means latest)')
    ]
    assert found("KW-K8S-060", CRONJOB) == [
        (13, 'container "dump" has no memory limit (resources.limits.memory)')
    ]
    assert found("KW-K8S-070", CRONJOB) == [
        (10, "pod runs as the default service account (serviceAccountName not set)")
    ]


def test_probes_are_not_required_of_jobs_or_run_to_completion_pods() -> None:
    job = CRONJOB.replace("kind: CronJob", "kind: Job")
    assert found("KW-K8S-067", CRONJOB) == []
    assert found("KW-K8S-068", job) == []
    bare = POD.replace("spec:\n", "spec:\n  restartPolicy: Never\n", 1)
    assert found("KW-K8S-067", bare) == []
    # a long-running Pod (restartPolicy Always by default) needs them; ephemeral ones never
    assert found("KW-K8S-067", POD) == [(8, 'container "shell" has no livenessProbe')]


DEPLOYMENT_CONFIG = """\
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: api
spec:
  replicas: 2
  selector:
    app: api
  triggers:
    - type: ConfigChange
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example.com/api:2.1.0
          readinessProbe:
            httpGet: {path: /ready, port: 8080}
"""


def test_openshift_deployment_configs_run_long_and_need_probes() -> None:
    """A DeploymentConfig keeps its pods running like a Deployment (it is no Job)."""
    assert found("KW-K8S-067", DEPLOYMENT_CONFIG) == [(16, 'container "api" has no livenessProbe')]
    assert found("KW-K8S-068", DEPLOYMENT_CONFIG) == []
    assert found("KW-K8S-070", DEPLOYMENT_CONFIG) == [
        (14, "pod runs as the default service account (serviceAccountName not set)")
    ]


def test_ephemeral_containers_skip_resources_but_not_image_or_root_fs() -> None:
    assert found("KW-K8S-060", POD) == [
        (8, 'container "shell" has no memory limit (resources.limits.memory)')
    ]
    assert found("KW-K8S-065", POD) == [
        (12, 'ephemeral container "debugger" image "busybox" has no tag (means latest)')
    ]
    assert [line for line, _ in found("KW-K8S-064", POD)] == [8, 11]


def test_default_service_account_named_explicitly() -> None:
    assert found("KW-K8S-070", POD) == [
        (6, "pod runs as the default service account (serviceAccountName: default)")
    ]
    deprecated = POD.replace("serviceAccountName: default", "serviceAccount: tool")
    assert found("KW-K8S-070", deprecated) == []
    empty = POD.replace("serviceAccountName: default", 'serviceAccountName: ""')
    assert found("KW-K8S-070", empty) == [
        (6, "pod runs as the default service account (serviceAccountName not set)")
    ]


@pytest.mark.parametrize(
    ("kind", "template_path"),
    [
        ("StatefulSet", "spec:\n  template:\n"),
        ("DaemonSet", "spec:\n  template:\n"),
        ("ReplicaSet", "spec:\n  template:\n"),
        ("ReplicationController", "spec:\n  template:\n"),
        ("PodTemplate", "template:\n"),
    ],
)
def test_every_workload_kind_is_checked(kind: str, template_path: str) -> None:
    text = (
        f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: w\n{template_path}"
        "    spec:\n      containers:\n        - name: c\n          image: nginx\n"
    )
    line = len(text.splitlines())
    assert found("KW-K8S-065", text) == [
        (line, 'container "c" image "nginx" has no tag (means latest)')
    ]


def test_non_workloads_are_not_container_checked() -> None:
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  image: nginx\n"
    assert scan(config).findings == []


# ---------------------------------------------------------------- image references


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("nginx", ImageRef("nginx", None, None)),
        ("nginx:1.27", ImageRef("nginx", "1.27", None)),
        ("localhost:5000/app", ImageRef("localhost:5000/app", None, None)),
        ("localhost:5000/app:v2", ImageRef("localhost:5000/app", "v2", None)),
        ("[::1]:5000/team/app", ImageRef("[::1]:5000/team/app", None, None)),
        ("app@" + DIGEST, ImageRef("app", None, DIGEST)),
        ("reg.io:443/app:1.2@" + DIGEST, ImageRef("reg.io:443/app", "1.2", DIGEST)),
        ("nginx:", ImageRef("nginx", None, None)),
    ],
)
def test_parse_image(reference: str, expected: ImageRef) -> None:
    assert parse_image(reference) == expected


@pytest.mark.parametrize(
    ("digest", "valid"),
    [
        (DIGEST, True),
        ("sha256:" + "A" * 64, False),
        ("sha256:abc", False),
        ("sha512:" + "0" * 128, True),
        ("blake3:" + "x" * 40, True),
        ("", False),
    ],
)
def test_digest_grammar(digest: str, valid: bool) -> None:
    assert parse_image("app@" + digest).digest_valid is valid


def pod_with_image(image: str) -> str:
    return (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        f"    - name: c\n      image: {image!r}\n"
    )


@pytest.mark.parametrize(
    ("image", "latest", "unpinned"),
    [
        ("nginx", "has no tag (means latest)", "is not pinned by digest"),
        ("nginx:latest", "uses the latest tag", "is not pinned by digest"),
        ("localhost:5000/app", "has no tag (means latest)", "is not pinned by digest"),
        ("localhost:5000/app:1.0", None, "is not pinned by digest"),
        ("docker.io/library/nginx:1.27", None, "is not pinned by digest"),
        ("app@" + DIGEST, None, None),
        ("app:1.2@" + DIGEST, None, None),
        ("app:latest@" + DIGEST, None, None),  # the digest wins over the tag
        ("app@sha256:abc", None, "has a malformed digest"),
        ("$(IMAGE)", None, None),  # filled in later: nothing to say yet
        ("{{ .Values.image }}", None, None),
        ("", None, None),
    ],
)
def test_image_checks(image: str, latest: str | None, unpinned: str | None) -> None:
    expect_latest = [(8, f'container "c" image {json.dumps(image)} {latest}')] if latest else []
    expect_unpinned = (
        [(8, f'container "c" image {json.dumps(image)} {unpinned}')] if unpinned else []
    )
    assert found("KW-K8S-065", pod_with_image(image)) == expect_latest
    assert found("KW-K8S-066", pod_with_image(image)) == expect_unpinned


# ---------------------------------------------------------------- literal secrets in env

SECRET_VALUES = ("s3cr3t-Pa55", "ghp_FAKEFAKEFAKE0123", "AKIAFAKE+secret/key", "my-api-key-123")
ENV_POD = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: app
      image: app:1
      env:
        - name: MYSQL_ROOT_PASSWORD
          value: {SECRET_VALUES[0]}
        - name: githubToken
          value: {SECRET_VALUES[1]}
        - name: PASSWORD_FILE
          value: /run/secrets/db
        - name: MYSQL_ALLOW_EMPTY_PASSWORD
          value: "yes"
        - name: SMTP_PASSWORD
          value: ""
        - name: REDIS_PASSWORD
          value: $(REDIS_PASS_FROM_SECRET)
        - name: SECRET_NAME
          value: db-credentials
        - name: LOG_LEVEL
          value: info
  initContainers:
    - name: init
      image: app:1
      env:
        - name: AWS_SECRET_ACCESS_KEY
          value: {SECRET_VALUES[2]}
        - name: X_API_KEY
          value: {SECRET_VALUES[3]}
        - name: API_TOKEN
          valueFrom:
            secretKeyRef: {{name: api, key: token}}
"""


def test_literal_secret_env_names_the_variable_only() -> None:
    tail = "to a literal value (the name says it is a secret; value not shown)"
    assert found("KW-K8S-072", ENV_POD) == [
        (11, f'container "app" sets env MYSQL_ROOT_PASSWORD {tail}'),
        (13, f'container "app" sets env githubToken {tail}'),
        (31, f'init container "init" sets env AWS_SECRET_ACCESS_KEY {tail}'),
        (33, f'init container "init" sets env X_API_KEY {tail}'),
    ]


def test_no_secret_value_appears_in_any_finding() -> None:
    result = scan(ENV_POD)  # every practice check, not only KW-K8S-072
    assert len(result.findings) > 4
    text = repr(result.findings)
    assert [v for v in SECRET_VALUES if v in text] == []


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("dbPassword", True),
        ("MYSQL_PASSWD", True),
        ("SMTP_PASS", True),
        ("GITHUB_TOKEN", True),
        ("APIKEY", True),
        ("x-api-key", True),
        ("PRIVATE_KEY", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("client_secret", True),
        ("GOOGLE_APPLICATION_CREDENTIALS_JSON", True),
        ("PASSWORD_FILE", False),
        ("SECRET_NAME", False),
        ("TOKEN_URL", False),
        ("PWD", False),
        ("BYPASS_CACHE", False),
        ("KEY", False),
        ("LOG_LEVEL", False),
        ("", False),
    ],
)
def test_secret_like_name(name: str, secret: bool) -> None:
    assert secret_like_name(name) is secret


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("hunter2", True),
        (1234, True),
        ("", False),
        ("  ", False),
        ("true", False),
        ("No", False),
        (True, False),
        (None, False),
        ({"a": 1}, False),
        ("$(OTHER)", False),
        ("${OTHER}", False),
        ("$(USER):$(PASS)", False),
        ("$(USER):hunter2", True),
    ],
)
def test_literal_secret_value(value: Any, literal: bool) -> None:
    assert literal_secret_value(value) is literal


# ---------------------------------------------------------------- Secret objects

SECRETS = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  password: aHVudGVyMg==
  username: YWRtaW4=
  empty: ""
stringData:
  config.yaml: "token: abc"
---
apiVersion: v1
kind: Secret
metadata:
  name: placeholder
data:
  password: ""
---
apiVersion: v1
kind: Secret
metadata:
  name: sa-token
  annotations:
    kubernetes.io/service-account.name: app
type: kubernetes.io/service-account-token
"""


def test_secret_with_data_names_keys_not_values() -> None:
    assert found("KW-K8S-073", SECRETS) == [
        (5, 'Secret "db" carries 2 values in data (password, username) in the manifest'),
        (9, 'Secret "db" carries 1 value in stringData (config.yaml) in the manifest'),
    ]
    text = repr(scan(SECRETS).findings)
    assert [v for v in ("aHVudGVyMg==", "YWRtaW4=", "token: abc") if v in text] == []


def test_secret_key_list_is_capped() -> None:
    keys = "".join(f"  k{i}: dg==\n" for i in range(7))
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: many\ndata:\n{keys}"
    assert found("KW-K8S-073", text) == [
        (5, 'Secret "many" carries 7 values in data (k0, k1, k2, k3, k4 +2 more) in the manifest')
    ]


def test_secrets_read_from_a_cluster_are_not_flagged() -> None:
    assert found("KW-K8S-073", SECRETS, origin="cluster") == []


# ---------------------------------------------------------------- service accounts and fixes

SERVICE_ACCOUNTS = """\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: api
automountServiceAccountToken: true
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: quiet
automountServiceAccountToken: false
"""


def test_service_accounts_must_turn_automount_off() -> None:
    assert found("KW-K8S-069", SERVICE_ACCOUNTS) == [
        (
            1,
            'ServiceAccount "app" does not set automountServiceAccountToken: false '
            "(pods using it get its token unless they opt out)",
        ),
        (
            10,
            'ServiceAccount "api" sets automountServiceAccountToken: true '
            "(pods using it get its token unless they opt out)",
        ),
    ]


def test_pod_spec_true_is_flagged_at_the_field() -> None:
    text = POD.replace("serviceAccountName: default", "automountServiceAccountToken: true")
    assert found("KW-K8S-069", text) == [
        (
            6,
            "pod spec sets automountServiceAccountToken: true "
            '(token of service account "default" mounted)',
        )
    ]


def apply_fixes(data: dict[str, Any], fixes: tuple[FieldFix, ...]) -> dict[str, Any]:
    """`data` with each fix applied as `kubeward config --fix` would ("set" only here)."""
    out = copy.deepcopy(data)
    for fix in fixes:
        assert fix.op == "set"
        node: Any = out
        for key, following in zip(fix.path, fix.path[1:], strict=False):
            child = node[key] if isinstance(key, int) else node.get(key)
            if not isinstance(child, dict | list):
                child = {} if isinstance(following, str) else []
                node[key] = child
            node = child
        node[fix.path[-1]] = fix.value
    return out


@pytest.mark.parametrize(
    ("check_id", "text", "count"),
    [
        ("KW-K8S-064", BAD_DEPLOYMENT, 2),
        ("KW-K8S-064", POD, 2),  # containers without any securityContext, ephemeral too
        ("KW-K8S-069", BAD_DEPLOYMENT, 1),
        ("KW-K8S-069", CRONJOB, 1),
        ("KW-K8S-069", SERVICE_ACCOUNTS, 2),
    ],
)
def test_fixes_make_the_check_pass(check_id: str, text: str, count: int) -> None:
    loaded = load_text(text, "m.yaml")
    result = check_loaded([loaded], selection=Selection(enable=frozenset({check_id})))
    fixes: dict[int, list[FieldFix]] = {}
    for _, violation, obj in result.violations:
        assert len(violation.fixes) == 1
        fixes.setdefault(id(obj), []).extend(violation.fixes)
    assert sum(len(f) for f in fixes.values()) == count
    documents = [
        yaml.safe_dump(apply_fixes(obj.data, tuple(fixes.get(id(obj), ()))), sort_keys=False)
        for obj in loaded.objects
    ]
    assert found(check_id, "---\n".join(documents)) == []


def test_only_fixable_checks_attach_fixes() -> None:
    result = scan(BAD_DEPLOYMENT + "---\n" + SECRETS + "---\n" + SERVICE_ACCOUNTS)
    with_fixes = {f.rule_id for f, v, _ in result.violations if v.fixes}
    assert with_fixes == {"KW-K8S-064", "KW-K8S-069"}


# ---------------------------------------------------------------- default namespace


def test_default_namespace_only_when_written() -> None:
    text = """\
apiVersion: v1
kind: Service
metadata:
  name: kubernetes
  namespace: default
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: no-namespace
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: default
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: default
  namespace: default
"""
    assert found("KW-K8S-071", text) == [
        (11, 'ConfigMap "settings" is placed in the default namespace (namespace: default)')
    ]


# ---------------------------------------------------------------- ports and services


def test_ssh_port_only_for_tcp_container_ports() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: c
      image: c:1
      ports:
        - containerPort: 2222
        - {containerPort: 22, protocol: UDP}
        - {containerPort: "22", protocol: tcp}
        - hostPort: 22
          containerPort: 8022
"""
    assert found("KW-K8S-074", text) == [(12, 'container "c" exposes containerPort 22 (SSH)')]


SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: node
spec:
  type: NodePort
  ports:
    - {port: 80, nodePort: 30080}
    - {port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata:
  name: public
spec:
  type: LoadBalancer
  ports:
    - port: 443
---
apiVersion: v1
kind: Service
metadata:
  name: open-ranges
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [10.0.0.0/8, 0.0.0.0/0]
---
apiVersion: v1
kind: Service
metadata:
  name: office
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [203.0.113.0/24]
---
apiVersion: v1
kind: Service
metadata:
  name: internal
  annotations:
    networking.gke.io/load-balancer-type: Internal
spec:
  type: LoadBalancer
---
apiVersion: v1
kind: Service
metadata:
  name: aws-internal-off
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-internal: "false"
spec:
  type: LoadBalancer
---
apiVersion: v1
kind: Service
metadata:
  name: inside
spec:
  ports: [{port: 80}]
"""


def test_node_port_services() -> None:
    assert found("KW-K8S-075", SERVICES) == [
        (
            6,
            'Service "node" is type NodePort (ports 80/TCP (nodePort 30080), 53/UDP): '
            "open on every node's address",
        )
    ]


def test_load_balancer_services() -> None:
    assert found("KW-K8S-076", SERVICES) == [
        (16, 'Service "public" is type LoadBalancer (ports 443/TCP): no loadBalancerSourceRanges'),
        (
            25,
            'Service "open-ranges" is type LoadBalancer: '
            "loadBalancerSourceRanges allow any address",
        ),
        (52, 'Service "aws-internal-off" is type LoadBalancer: no loadBalancerSourceRanges'),
    ]


# ---------------------------------------------------------------- ingress TLS

INGRESSES = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: plain
spec:
  rules:
    - host: shop.example.com
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: partial
spec:
  tls:
    - hosts: [shop.example.com, "*.api.example.com"]
      secretName: cert
  rules:
    - host: shop.example.com
    - host: v1.api.example.com
    - host: admin.example.com
    - host: a.b.api.example.com
    - host: api.example.com
    - http: {}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: default-cert
spec:
  tls:
    - secretName: wildcard
  rules:
    - host: anything.example.com
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: backend-only
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
  tls: []
"""


def test_ingress_tls() -> None:
    tail = "is not covered by any spec.tls hosts: served over plain HTTP"
    assert found("KW-K8S-077", INGRESSES) == [
        (5, 'Ingress "plain" has no spec.tls: shop.example.com served over plain HTTP'),
        (20, f'Ingress "partial" host "admin.example.com" {tail}'),
        (21, f'Ingress "partial" host "a.b.api.example.com" {tail}'),
        (22, f'Ingress "partial" host "api.example.com" {tail}'),
        (41, 'Ingress "backend-only" has no spec.tls: every host served over plain HTTP'),
    ]


# ---------------------------------------------------------------- sensitive host paths


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/var/run/docker.sock", "container runtime socket"),
        ("/run/containerd/containerd.sock", "container runtime socket"),
        ("/var/run/crio/crio.sock", "container runtime socket"),
        ("/var/run/containerd", "contains the container runtime socket"),
        (r"\\.\pipe\docker_engine", "container runtime named pipe"),
        ("/", "the host's root filesystem"),
        ("//", "the host's root filesystem"),
        ("/etc", "host /etc"),
        ("//etc/", "host /etc"),
        ("/etc/kubernetes/pki", "host /etc"),
        ("/opt/../etc", "host /etc"),
        ("/proc/1/ns", "host /proc"),
        ("/sys/fs/cgroup", "host /sys"),
        ("/root/.ssh", "host /root"),
        ("/var/run/thing.sock", "host /var/run"),
        ("/run/", "contains the container runtime socket"),
        ("/var/lib/kubelet/pods", "host /var/lib/kubelet"),
        ("/var/lib/docker/containers", "host /var/lib/docker"),
        ("/var/lib/containerd", "host /var/lib/containerd"),
        ("/run/user/1000", "host /run"),
        ("/boot", "host /boot"),
        ("/dev/mem", "host /dev"),
        ("/var", "contains the container runtime socket"),
        ("/var/lib", "contains host /var/lib/kubelet"),
        ("/var/log", None),
        ("/devices", None),
        ("/etcd-data", None),
        ("/var/lib/kubelet-plugins", None),
        ("/etc/localtime", None),
        ("/run/xtables.lock", None),
        ("/dev/log", None),
        ("/data", None),
        ("relative/etc", None),
        ("", None),
    ],
)
def test_sensitive_host_path(path: str, why: str | None) -> None:
    assert sensitive_host_path(path) == why


def test_public_ca_bundles_only_when_read_only() -> None:
    assert sensitive_host_path("/etc/ssl/certs", read_only=True) is None
    assert sensitive_host_path("/etc/ssl/certs") == "host /etc"
    assert sensitive_host_path("/etc/ssl", read_only=True) == "host /etc"


def test_normalise_host_path() -> None:
    assert [normalise_host_path(p) for p in ("/etc/", "//var//run/", "/a/./b/../c", "x")] == [
        "/etc",
        "/var/run",
        "/a/c",
        "/x",
    ]


def test_sensitive_host_path_volumes() -> None:
    text = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  template:
    spec:
      containers:
        - name: agent
          image: agent:1
          volumeMounts:
            - {name: sock, mountPath: /var/run/docker.sock}
            - {name: certs, mountPath: /etc/ssl/certs, readOnly: true}
            - {name: certs-rw, mountPath: /certs}
        - name: helper
          image: helper:1
          volumeMounts:
            - {name: sock, mountPath: /sock}
      volumes:
        - name: sock
          hostPath: {path: /var/run/docker.sock, type: Socket}
        - name: certs
          hostPath:
            path: /etc/ssl/certs
        - name: certs-rw
          hostPath:
            path: /etc/ssl/certs/
        - name: unused
          hostPath:
            path: /proc
        - name: logs
          hostPath:
            path: /var/log
        - name: scratch
          emptyDir: {}
"""
    assert found("KW-K8S-078", text) == [
        (
            21,
            'volume "sock" is hostPath "/var/run/docker.sock" (container runtime socket), '
            'mounted by container "agent", container "helper"',
        ),
        (
            27,
            'volume "certs-rw" is hostPath "/etc/ssl/certs/" (host /etc), '
            'mounted by container "agent"',
        ),
        (30, 'volume "unused" is hostPath "/proc" (host /proc), not mounted by any container'),
    ]


# ---------------------------------------------------------------- robustness and corpus

MALFORMED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: [default]}
spec:
  template:
    spec:
      serviceAccountName: 7
      automountServiceAccountToken: "false"
      os: windows
      containers:
        - name: a
          image: 5
          env: {DB_PASSWORD: x}
          ports: [null, 22, {containerPort: null}]
          resources: []
          securityContext: null
        - "not a container"
        - name: b
          env: [null, {name: 5, value: x}, {name: TOKEN}]
          livenessProbe: []
      volumes: [null, {name: v, hostPath: /etc}, {hostPath: {path: 5}}]
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {type: NodePort, ports: {port: 80}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}
spec: {tls: "yes", rules: [5, {host: 7}]}
---
apiVersion: v1
kind: Secret
metadata: {name: x}
data: [a, b]
stringData: {1: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: []
"""


def test_malformed_objects_do_not_break_checks() -> None:
    result = scan(MALFORMED)  # asserts that no check failed
    assert Counter(f.rule_id for f in result.findings) == Counter(
        {
            "KW-K8S-060": 2,
            "KW-K8S-061": 2,
            "KW-K8S-062": 2,
            "KW-K8S-063": 2,
            "KW-K8S-064": 2,
            "KW-K8S-067": 2,
            "KW-K8S-068": 2,
            "KW-K8S-069": 1,
            "KW-K8S-070": 1,
            "KW-K8S-073": 1,
            "KW-K8S-075": 1,
            "KW-K8S-077": 1,
        }
    )


CORPUS_COUNTS = {
    "KW-K8S-060": 332,
    "KW-K8S-061": 323,
    "KW-K8S-062": 321,
    "KW-K8S-063": 297,
    "KW-K8S-064": 345,
    "KW-K8S-065": 156,
    "KW-K8S-066": 310,
    "KW-K8S-067": 337,
    "KW-K8S-068": 338,
    "KW-K8S-069": 471,
    "KW-K8S-070": 376,
    "KW-K8S-071": 15,
    "KW-K8S-072": 26,
    "KW-K8S-073": 17,
    "KW-K8S-074": 3,
    "KW-K8S-075": 7,
    "KW-K8S-076": 18,
    "KW-K8S-077": 7,
    "KW-K8S-078": 32,
}


def test_corpus_runs_every_check_without_error() -> None:
    files = list(find_manifests(CORPUS))
    assert len(files) > 600
    result = scan_manifest_files(files)
    assert [w for w in result.warnings if "failed on" in w] == []
    counts = Counter(f.rule_id for f in result.findings if f.rule_id in PRACTICE_IDS)
    assert dict(sorted(counts.items())) == CORPUS_COUNTS
