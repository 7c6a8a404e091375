"""The k8s_audit fields: every field Falco's rules use resolves, and values match the events."""

import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from falco_data import FALCO_TESTS as TESTS
from falco_data import K8S_AUDIT_TRACES as TRACES
from falco_data import K8SAUDIT_RULES as PLUGIN_RULES
from kubeward.runtime.fields import Field, FieldRegistry, UnknownFieldError, render
from kubeward.runtime.fields.k8s_audit import K8sAuditFields, parse_rfc3339_ns, rawtime_text

FIELD_TOKEN = re.compile(
    r"(?<![\w.%])%?((?:ka|jevt|json)\.[A-Za-z0-9_.]*[A-Za-z0-9_])(\[[^\]]*\])?"
)

REGISTRY = K8sAuditFields()


def trace(name: str, line: int = 0) -> dict[str, Any]:
    lines = [raw for raw in (TRACES / name).read_bytes().splitlines() if raw.strip()]
    event = orjson.loads(lines[line])
    assert isinstance(event, dict)
    return event


def value(event: object, name: str, arg: str | None = None) -> Any:
    return REGISTRY.resolve(name, arg).getter(event)


def rule_texts(path: Path) -> list[str]:
    """Conditions, outputs and exception field names of every item in a rules file."""
    texts: list[str] = []
    for item in yaml.safe_load(path.read_text()) or []:
        for key in ("condition", "output"):
            if isinstance(item.get(key), str):
                texts.append(item[key])
        for exception in item.get("exceptions") or []:
            fields = exception.get("fields")
            texts.extend(fields if isinstance(fields, list) else [str(fields or "")])
    return texts


def field_refs(texts: list[str]) -> set[tuple[str, str | None]]:
    refs: set[tuple[str, str | None]] = set()
    for text in texts:
        for m in FIELD_TOKEN.finditer(text):
            refs.add((m.group(1), m.group(2)[1:-1] if m.group(2) else None))
    return refs


def test_registry_satisfies_the_protocol() -> None:
    registry: FieldRegistry = REGISTRY
    assert registry.source == "k8s_audit"
    field = registry.resolve("ka.uri.param", "command")
    assert isinstance(field, Field)
    assert (field.name, field.type) == ("ka.uri.param[command]", "string")
    assert registry.resolve("ka.user.groups", None).type == "list"
    assert registry.resolve("ka.uri.param", "command") is field  # resolved once


def test_every_field_of_the_k8saudit_rules_resolves() -> None:
    refs = field_refs(rule_texts(PLUGIN_RULES / "k8s_audit_rules.yaml"))
    # The regex really reads the file: fields from conditions, outputs and exceptions.
    assert {
        ("ka.req.pod.initContainers.privileged", None),
        ("ka.req.pod.ephemeralContainers.image", None),
        ("jevt.value", "/stage"),
        ("jevt.value", "/requestObject/ephemeralContainers/0/name"),
        ("ka.uri.param", "command"),
        ("jevt.rawtime", None),
        ("jevt.obj", None),
        ("ka.req.pod.containers.image.repository", None),
    } <= refs
    assert len(refs) == 40
    for name, arg in sorted(refs, key=str):
        field = REGISTRY.resolve(name, arg)
        assert field.name == (name if arg is None else f"{name}[{arg}]")


def test_every_field_of_falcos_own_k8s_audit_test_rules_resolves() -> None:
    texts: list[str] = []
    for path in sorted((TESTS / "rules" / "k8s_audit").rglob("*.yaml")):
        texts += rule_texts(path)
    refs = field_refs(texts)
    assert {
        ("ka.req.volume.hostpath", "/proc*"),
        ("ka.req.binding.subject.has_name", "cluster-admin"),
        ("jevt.value", "/a~1~0b"),
        ("ka.req.container.image.repository", None),
    } <= refs
    for name, arg in refs:
        REGISTRY.resolve(name, arg)


@pytest.mark.parametrize(
    ("name", "arg", "message"),
    [
        ("ka.nope", None, "unknown field 'ka.nope' for source k8s_audit"),
        ("evt.type", None, "unknown field 'evt.type' for source k8s_audit"),
        ("ka.user.name", "0", "field 'ka.user.name' does not accept an argument"),
        ("ka.uri.param", None, "field 'ka.uri.param' requires an argument"),
        ("jevt.value", "", "field 'jevt.value' requires an argument"),
        (
            "ka.req.pod.containers.image",
            "x",
            "field 'ka.req.pod.containers.image' requires a numeric index",
        ),
        (
            "ka.req.pod.containers.image",
            "01",
            "field 'ka.req.pod.containers.image' requires a numeric index",
        ),
    ],
)
def test_bad_field_references_are_refused(name: str, arg: str | None, message: str) -> None:
    with pytest.raises(UnknownFieldError) as info:
        REGISTRY.resolve(name, arg)
    assert str(info.value) == message
    assert info.value.field == (name if arg is None else f"{name}[{arg}]")


def test_pod_with_a_privileged_second_container() -> None:
    ev = trace("create_nginx_pod_privileged_2nd_container.json")
    assert value(ev, "ka.auditid") == "f83ecd50-5bf4-4fe7-a419-dea22852ca49"
    assert value(ev, "ka.user.name") == "system:serviceaccount:kube-system:replicaset-controller"
    assert value(ev, "ka.user.groups") == [
        "system:serviceaccounts",
        "system:serviceaccounts:kube-system",
        "system:authenticated",
    ]
    assert value(ev, "ka.verb") == "create"
    assert value(ev, "ka.target.resource") == "pods"
    assert value(ev, "ka.target.namespace") == "default"
    assert value(ev, "ka.target.name") is None
    assert value(ev, "ka.target.pod.name") == "nginx-deployment-544b59f8b8-ffkxm"
    assert value(ev, "ka.resp.name") == "nginx-deployment-544b59f8b8-ffkxm"
    assert value(ev, "ka.req.pod.containers.image") == ["nginx", "mysql:latest"]
    assert value(ev, "ka.req.pod.containers.image", "1") == ["mysql:latest"]
    assert value(ev, "ka.req.pod.containers.image", "2") is None
    assert value(ev, "ka.req.pod.containers.image.repository") == ["nginx", "mysql"]
    assert value(ev, "ka.req.pod.containers.name") == ["nginx1", "mysql"]
    assert value(ev, "ka.req.container.image") == "nginx"
    assert value(ev, "ka.req.container.image.repository") == "nginx"
    assert value(ev, "ka.req.pod.containers.privileged") == ["false", "true"]
    assert value(ev, "ka.req.pod.containers.privileged", "0") == ["false"]
    assert value(ev, "ka.req.container.privileged") == "true"
    assert value(ev, "ka.req.pod.containers.allow_privilege_escalation") is None
    assert value(ev, "ka.req.pod.containers.eff_run_as_user") == ["0", "0"]
    assert value(ev, "ka.req.pod.initContainers.image") is None
    assert value(ev, "ka.req.pod.host_network") is None
    assert value(ev, "ka.sourceips") == ["::1"]
    assert value(ev, "jevt.rawtime") == "1540489987006845000"
    assert value(ev, "jevt.time.iso8601") == "2018-10-25T17:53:07.006845000Z"
    assert value(ev, "jevt.value", "/requestObject/spec/containers/1/securityContext") == (
        '{"privileged":true}'
    )
    assert value(ev, "jevt.value", "requestObject/spec/containers/1/name") == "mysql"
    assert render(value(ev, "ka.req.pod.containers.privileged")) == "(false,true)"


def test_cluster_role_binding_to_cluster_admin() -> None:
    ev = trace("attach_cluster_admin_role.json")
    assert value(ev, "ka.target.name") == "some-reader-binding"
    assert value(ev, "ka.target.resource") == "clusterrolebindings"
    assert value(ev, "ka.target.namespace") is None
    assert value(ev, "ka.target.pod.name") is None
    assert value(ev, "ka.req.binding.role") == "cluster-admin"
    assert value(ev, "ka.req.binding.subjects") == [
        '{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"minikube"}'
    ]
    assert value(ev, "ka.req.binding.subjects.user_names") == ["minikube"]
    assert value(ev, "ka.req.binding.subjects.group_names") is None
    assert value(ev, "ka.req.binding.subject.has_name", "cluster-admin") == "true"
    assert value(ev, "ka.response.code") == "201"
    assert value(ev, "ka.auth.decision") == "allow"
    assert value(ev, "ka.auth.reason") == ""
    assert value(ev, "ka.user.name") == "minikube-user"
    assert render(value(ev, "ka.user.groups")) == "(system:masters,system:authenticated)"
    assert value(ev, "ka.sourceips", "0") == ["192.168.99.1"]
    assert value(ev, "ka.sourceips", "1") is None
    assert value(ev, "ka.impuser.name") is None
    assert render(value(ev, "ka.impuser.name")) == "<NA>"


def test_cluster_role_with_wildcard_verbs() -> None:
    ev = trace("create_cluster_role_wildcard_verbs.json")
    assert value(ev, "ka.req.role.rules.verbs") == ["*", "get"]
    assert value(ev, "ka.req.role.rules.verbs", "1") == ["get"]
    assert value(ev, "ka.req.role.rules.resources") == ["pods"]
    assert value(ev, "ka.req.role.rules.apiGroups") == [""]
    assert value(ev, "ka.req.role.rules.nonResourceURLs", "0") is None
    urls = value(ev, "ka.req.role.rules.nonResourceURLs")
    assert (len(urls), urls[0], urls[-1]) == (13, "/api", "/version/")
    rules = value(ev, "ka.req.role.rules")
    assert rules[0] == '{"apiGroups":[""],"resources":["pods"],"verbs":["*"]}'
    assert len(rules) == 2


def test_exec_into_a_pod() -> None:
    ev = trace("exec_pod.json")
    assert value(ev, "ka.stage") == "ResponseStarted"
    assert value(ev, "jevt.value", "/stage") == "ResponseStarted"
    assert value(ev, "ka.target.subresource") == "exec"
    assert value(ev, "ka.target.pod.name") == "nginx-deployment-7998647bdf-phvq7"
    assert value(ev, "ka.uri.param", "command") == "bash"
    assert value(ev, "ka.uri.param", "container") == "nginx1"
    assert value(ev, "ka.uri.param", "tty") == "true"
    assert value(ev, "ka.uri.param", "missing") is None
    assert value(ev, "ka.response.code") == "101"
    assert value(ev, "ka.req.pod.containers.image") is None
    assert value(ev, "ka.req.container.privileged") is None
    assert value(ev, "jevt.rawtime") == "1540561114902914000"


def test_service_and_configmap_and_host_network() -> None:
    service = trace("create_nginx_service_nodeport.json")
    assert value(service, "ka.req.service.type") == "NodePort"
    assert value(service, "ka.req.service.ports") == [
        '{"nodePort":30080,"port":80,"protocol":"TCP","targetPort":80}'
    ]
    configmap = trace("create_configmap_sensitive_values.json", line=4)
    assert value(configmap, "ka.req.configmap.name") == "my-config"
    assert value(configmap, "ka.req.configmap.obj") == (
        '{"access.properties":"password = MY-ID\\naws_secret_access_key = MY-KEY\\n",'
        '"ui.properties":"color.good=purple\\ncolor.bad=yellow\\nallow.textmode=true\\n"}'
    )
    pod = trace("create_nginx_pod_hostnetwork.json")
    assert value(pod, "ka.req.pod.host_network") == "true"
    assert value(pod, "ka.req.container.host_network") == "true"
    assert value(pod, "ka.req.pod.host_pid") is None
    assert value(pod, "ka.req.container.privileged") == "false"


def test_sensitive_host_path_mount() -> None:
    ev = trace("create_nginx_pod_sensitive_mount.json")
    assert value(ev, "ka.req.pod.volumes.hostpath") == ["/etc"]
    assert value(ev, "ka.req.pod.volumes.volume_type") == ["hostPath"]
    assert value(ev, "ka.req.pod.volumes.flexvolume_driver") is None
    assert value(ev, "ka.req.volume.hostpath", "/etc") == "true"
    assert value(ev, "ka.req.volume.hostpath", "/e*") == "true"
    assert value(ev, "ka.req.volume.hostpath", "/proc*") == "false"
    assert value(ev, "ka.req.volume.hostpath", "/") == "false"
    assert value(ev, "jevt.value", "/requestObject/spec/volumes") == (
        '[{"hostPath":{"path":"/etc","type":""},"name":"etc"}]'
    )


POD: dict[str, Any] = {
    "kind": "Event",
    "auditID": "a",
    "stageTimestamp": "2024-02-29T23:59:59.5+01:30",
    "requestURI": "/api/v1/pods?a=1&b=x+y%2Fz&a=2&empty=",
    "annotations": {
        "authentication.openshift.io/decision": "allow",
        "authentication.openshift.io/username": "dev",
        "pod-security.kubernetes.io/audit-violations": "would violate",
        "validation.policy.admission.k8s.io/validation_failure": "[]",
        "cluster_name": "prod-eu",
    },
    "objectRef": {"resource": "pods", "name": "web"},
    "requestObject": {
        "subjects": [
            {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"},
            {"kind": "Group", "name": "devs"},
            {"kind": "User", "name": "alice"},
        ],
        "spec": {
            "securityContext": {"runAsUser": 1000, "fsGroup": 2000, "supplementalGroups": [1, 2]},
            "hostPID": False,
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com:5000/team/app@sha256:abc",
                    "command": ["sleep", "3600"],
                    "ports": [{"containerPort": 8080}, {"containerPort": 53, "hostPort": 5353}],
                    "securityContext": {
                        "runAsUser": 0,
                        "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]},
                        "procMount": "Unmasked",
                        "readOnlyRootFilesystem": True,
                    },
                },
                {"name": "side", "image": "busybox", "securityContext": None},
            ],
            "initContainers": [
                {"name": "init", "image": "alpine:3", "securityContext": {"privileged": True}}
            ],
            "ephemeralContainers": [{"name": "debug", "image": "nicolaka/netshoot"}],
            "volumes": [
                {"name": "a", "flexVolume": {"driver": "vendor/driver"}},
                {"name": "b", "hostPath": {"path": "/var/run/docker.sock"}},
            ],
        },
    },
}


def test_fields_with_no_trace_file() -> None:
    ev = POD
    assert value(ev, "ka.auth.openshift.decision") == "allow"
    assert value(ev, "ka.auth.openshift.username") == "dev"
    assert value(ev, "ka.security.pod.violations") == "would violate"
    assert value(ev, "ka.validations.admission.policy.failure") == "[]"
    assert value(ev, "ka.cluster.name") == "prod-eu"
    assert value(ev, "ka.target.pod.name") == "web"
    assert value(ev, "ka.uri.param", "a") == "1"
    assert value(ev, "ka.uri.param", "b") == "x y/z"
    assert value(ev, "ka.uri.param", "empty") == ""
    assert value(ev, "ka.req.binding.subjects.serviceaccount_names") == ["builder"]
    assert value(ev, "ka.req.binding.subjects.serviceaccount_ns_names") == ["ci:builder"]
    assert value(ev, "ka.req.binding.subjects.group_names") == ["devs"]
    assert value(ev, "ka.req.binding.subjects.user_names") == ["alice"]
    assert value(ev, "ka.req.pod.run_as_user") == "1000"
    assert value(ev, "ka.req.pod.fs_group") == "2000"
    assert value(ev, "ka.req.pod.supplemental_groups") == ["1", "2"]
    assert value(ev, "ka.req.pod.host_pid") == "false"
    assert value(ev, "ka.req.pod.containers.run_as_user") == ["0"]
    assert value(ev, "ka.req.pod.containers.eff_run_as_user") == ["0", "1000"]
    assert value(ev, "ka.req.pod.containers.eff_run_as_user", "1") == ["1000"]
    assert value(ev, "ka.req.pod.containers.eff_run_as_group") == ["0", "0"]
    assert value(ev, "ka.req.pod.containers.add_capabilities") == ['["NET_ADMIN","SYS_TIME"]']
    assert value(ev, "ka.req.pod.containers.proc_mount") == ["Unmasked"]
    assert value(ev, "ka.req.pod.containers.read_only_fs") == ["true"]
    assert value(ev, "ka.req.pod.containers.privileged") is None
    assert value(ev, "ka.req.container.privileged") == "false"
    assert value(ev, "ka.req.pod.containers.host_port") == ["8080", "5353"]
    assert value(ev, "ka.req.pod.containers.host_port", "1") is None
    assert value(ev, "ka.req.pod.containers.command") == ['["sleep","3600"]']
    assert value(ev, "ka.req.pod.containers.args") is None
    # The plugin's own repository split stops at the first ':' (a registry port).
    assert value(ev, "ka.req.pod.containers.image.repository") == [
        "registry.example.com",
        "busybox",
    ]
    assert value(ev, "ka.req.pod.initContainers.name") == ["init"]
    assert value(ev, "ka.req.pod.initContainers.image.repository") == ["alpine"]
    assert value(ev, "ka.req.pod.initContainers.privileged") == ["true"]
    assert value(ev, "ka.req.pod.ephemeralContainers.image") == ["nicolaka/netshoot"]
    assert value(ev, "ka.req.pod.ephemeralContainers.privileged") is None
    assert value(ev, "ka.req.pod.volumes.volume_type") == ["flexVolume", "hostPath"]
    assert value(ev, "ka.req.pod.volumes.flexvolume_driver") == ["vendor/driver"]
    assert value(ev, "ka.req.pod.volumes.hostpath") == ["/var/run/docker.sock"]
    assert value(ev, "ka.req.pod.volumes.hostpath", "1") == ["/var/run/docker.sock"]
    assert value(ev, "ka.req.volume.hostpath", "/var/run/docker.sock") == "true"
    assert value(ev, "jevt.rawtime") == str(parse_rfc3339_ns("2024-02-29T22:29:59.5Z"))
    assert value(ev, "jevt.time.iso8601") == "2024-02-29T22:29:59.500000000Z"


def test_an_event_without_audit_id_has_no_ka_fields_but_json_fields() -> None:
    ev = {"kind": "Event", "user": {"username": "x"}, "stageTimestamp": "1970-01-01T00:00:01Z"}
    for spec in REGISTRY.specs():
        if spec.name.startswith("ka."):
            arg = {"none": None, "index": None, "key": "k"}[spec.arg]
            assert REGISTRY.resolve(spec.name, arg).getter(ev) is None, spec.name
    assert value(ev, "jevt.value", "/user/username") == "x"
    assert value(ev, "jevt.rawtime") == "1000000000"
    assert value(ev, "json.rawtime") == "1000000000"
    assert value(ev, "jevt.obj") == orjson.dumps(ev, option=orjson.OPT_INDENT_2).decode()
    assert value(ev, "jevt.obj").startswith('{\n  "kind": "Event",\n  "user": {\n    "username"')


def test_no_getter_raises_on_odd_input() -> None:
    odd: list[object] = [
        None,
        "text",
        [],
        {"auditID": 1},
        {"auditID": "a", "requestObject": "x", "objectRef": [], "user": {"groups": "x"}},
        {"auditID": "a", "requestObject": {"spec": {"containers": "x", "volumes": [1, None]}}},
        {"auditID": "a", "requestObject": {"rules": [None, {"verbs": "x"}], "subjects": [3]}},
        {"auditID": "a", "requestURI": "/x?a=%zz", "stageTimestamp": "2018-13-01T00:00:00Z"},
    ]
    for spec in REGISTRY.specs():
        arg = {"none": None, "index": "0", "key": "/a"}[spec.arg]
        for getter in {
            REGISTRY.resolve(spec.name, arg).getter,
            REGISTRY.resolve(spec.name, None if spec.arg == "index" else arg).getter,
        }:
            for ev in odd:
                getter(ev)
    assert value(odd[7], "ka.uri.param", "a") is None  # a bad escape voids the query, as in Go
    assert value(odd[7], "jevt.rawtime") is None
    assert value(odd[3], "ka.auditid") == "1"
    assert value(odd[5], "ka.req.pod.volumes.volume_type") is None


def test_paths_through_absent_null_and_non_object_steps() -> None:
    base = {"auditID": "a", "verb": None, "annotations": {"authorization.k8s.io/decision": 1}}
    cases: list[tuple[object, str | None]] = [
        ({}, None),  # no objectRef
        ({"objectRef": None}, None),
        ({"objectRef": []}, None),
        ({"objectRef": "pods"}, None),
        ({"objectRef": {"resource": "pods"}}, None),  # no subresource: the common case
        ({"objectRef": {"subresource": None}}, "null"),  # JSON null is a value
        ({"objectRef": {"subresource": "exec"}}, "exec"),
        ({"objectRef": {"subresource": ["a", 1]}}, '["a",1]'),
    ]
    for extra, expected in cases:
        assert value({**base, **extra}, "ka.target.subresource") == expected, extra
    assert value(base, "ka.verb") == "null"
    assert value(base, "ka.auth.decision") == "1"
    assert value({**base, "user": {"username": 7}}, "ka.user.name") == "7"
    assert value({**base, "impersonatedUser": None}, "ka.impuser.name") is None
    role = {**base, "requestObject": {"roleRef": {"name": "admin"}}}
    assert value(role, "ka.req.binding.role") == "admin"
    assert value({**base, "requestObject": {"roleRef": []}}, "ka.req.binding.role") is None
    assert value({**base, "requestObject": {"spec": None}}, "ka.req.pod.host_pid") is None
    assert value({**base, "stage": 3}, "jevt.value", "/stage") == "3"
    assert value({**base, "stage": "x"}, "jevt.value", "stage") == "x"
    assert value([{"stage": "y"}], "jevt.value", "/0") == '{"stage":"y"}'
    assert value("text", "jevt.value", "/stage") is None


def test_rawtime_follows_each_event() -> None:
    first = {"stageTimestamp": "2018-10-26T14:26:34.242498Z"}
    second = {"stageTimestamp": "2018-10-26T14:26:35Z"}
    assert value(first, "jevt.rawtime") == "1540563994242498000"
    assert value(first, "jevt.rawtime") == "1540563994242498000"
    assert value(second, "jevt.rawtime") == "1540563995000000000"
    first["stageTimestamp"] = "bad"
    assert value(first, "jevt.rawtime") is None
    first["stageTimestamp"] = "2018-10-26T14:26:34.242498Z"  # an equal, new string object
    assert value(first, "jevt.rawtime") == "1540563994242498000"
    assert value({"stageTimestamp": 5}, "jevt.rawtime") is None


def test_json_pointer_escapes_and_array_indexes() -> None:
    ev = {"a/b": {"~c": [10, {"d": None}]}}
    assert value(ev, "jevt.value", "/a~1b/~0c/0") == "10"
    assert value(ev, "jevt.value", "/a~1b/~0c/1/d") == "null"
    assert value(ev, "jevt.value", "/a~1b/~0c/2") is None
    assert value(ev, "jevt.value", "/a~1b/~0c/x") is None
    assert value(ev, "jevt.value", "/a~1b") == '{"~c":[10,{"d":null}]}'


def test_time_is_printed_in_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    ev = {"stageTimestamp": "2018-10-26T13:38:34.902914Z"}
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert value(ev, "jevt.time") == "13:38:34.902914000"
        monkeypatch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        assert value(ev, "jevt.time") == "19:08:34.902914000"
        assert value(ev, "jevt.time.iso8601") == "2018-10-26T13:38:34.902914000Z"
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2018-10-26T14:26:34.242498Z", 1540563994242498000),
        ("2018-10-26T16:26:34.242498123+02:00", 1540563994242498123),
        ("2018-10-26T14:26:34.1-00:30", 1540565794100000000),
        ("2018-10-26 14:26:34Z", None),
        ("2018-02-30T00:00:00Z", None),
        ("2018-10-26T24:00:00Z", None),
        ("2018-10-26T14:26:34.1234567890Z", None),
        ("1969-12-31T23:59:59Z", None),
        ("2018-10-26T14:26:34.Z", None),
        ("2018-10-26T14:26:34+0200", None),
        ("2018-10-26T14:26:34.5+02:60", None),
        ("2018-10-26T14:26:34ZZ", None),
        ("2018-10-26T14:26:34.1+02:00Z", None),
        ("2018-10-26T14:26:34.x5Z", None),
        ("2018-10-26T14:26:3Z", None),
        ("2018-10-26T14:26:34.000000001-01:00", 1540567594000000001),
    ],
)
def test_stage_timestamps(text: str, expected: int | None) -> None:
    assert parse_rfc3339_ns(text) == expected
    # and again right after a time of the same second and zone (the one-entry fast path)
    same_second = text[:19] + ".5Z"
    parse_rfc3339_ns(same_second)
    assert parse_rfc3339_ns(text) == expected
    parse_rfc3339_ns(text[:19] + "Z")
    assert parse_rfc3339_ns(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-10-26T14:26:34.242498Z", "1540563994242498000"),
        ("2018-10-26T14:26:34.000000001Z", "1540563994000000001"),
        ("2018-10-26T14:26:34.9Z", "1540563994900000000"),
        ("2018-10-26T14:26:34Z", "1540563994000000000"),
        ("2018-10-26T16:26:34.5+02:00", "1540563994500000000"),
        ("1970-01-01T00:00:00.000454Z", "454000"),
        ("1970-01-01T00:00:01.5Z", "1500000000"),
        ("2018-10-26T14:26:34.1234567890Z", None),
        ("2018-10-26T14:26:34.Z", None),
        ("2018-10-26T14:26:34.1a2Z", None),
        # an Arabic-Indic three: int() reads it, the text must still be ASCII digits
        ("2018-10-26T14:26:34.\u0663Z", "1540563994300000000"),
        ("2018-02-30T00:00:00.5Z", None),
        ("2018-10-26T14:26:34.5z", None),
    ],
)
def test_rawtime_text(text: str, expected: str | None) -> None:
    """``jevt.rawtime``'s text, by concatenation when the second is the last one's: the
    same as the nanoseconds' ``str`` in every case, before and after that second is seen."""
    assert rawtime_text(text) == expected
    event = {"auditID": "a", "stageTimestamp": text}
    assert value(event, "jevt.rawtime") == expected
    for primer in (text[:19] + ".5Z", text[:19] + ".123456789Z", "1970-01-01T00:00:00.5Z"):
        rawtime_text(primer)
        assert rawtime_text(text) == expected
        assert value(event, "jevt.rawtime") == expected  # and through the field
        ns = parse_rfc3339_ns(text)
        assert expected == (None if ns is None else str(ns))


def test_render() -> None:
    assert render(None) == "<NA>"
    assert render([]) == "<NA>"
    assert render(["a", "b"]) == "(a,b)"
    assert render(True) == "true"
    assert render(False) == "false"
    assert render(42) == "42"
    assert render("") == ""


def test_inline_json_reads_answer_as_the_getters() -> None:
    """Conditions read common JSON fields in place (a string, or None for an absent key)
    and leave every other shape to the field's getter: the answers are the getter's."""
    from kubeward.runtime import condition as cond
    from kubeward.runtime.fields.base import json_path_of

    registry = K8sAuditFields()
    names = [
        spec.name
        for spec in registry.specs()
        if spec.arg == "none" and json_path_of(registry.resolve(spec.name, None).getter)
    ]
    assert {"ka.verb", "ka.user.name", "ka.target.resource", "ka.target.subresource"} <= set(names)
    events: list[Any] = [
        {"auditID": "a", "verb": "get", "user": {"username": "bob"}, "stage": "x"},
        {"auditID": "a", "verb": 7, "user": {"username": None}, "objectRef": ["odd"]},
        {"auditID": "a", "verb": None, "user": "bob", "objectRef": {"resource": {"k": 1}}},
        {"verb": "get", "user": {"username": "bob"}, "objectRef": {"resource": "pods"}},
        {"auditID": "a"},
    ]
    for name in names:
        getter = registry.resolve(name, None).getter
        for event in events:
            value = getter(event)
            for text in (f"{name} exists", f"{name} = get", f"{name} = bob", f"{name} = 7"):
                check = cond.compile_condition(
                    cond.parse_condition(text), macros={}, lists={}, fields=registry
                )
                want = (
                    value is not None
                    if text.endswith("exists")
                    else (value == text.rsplit(" ", 1)[1])
                )
                assert check(event) is want, (text, event)
    jevt = registry.resolve("jevt.value", "/stage").getter
    assert json_path_of(jevt) == (("stage",), None)
