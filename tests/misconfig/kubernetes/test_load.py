"""The manifest loader against strangers' files: stream syntax, lists, JSON, broken and
hostile documents, typed scalars as kubectl reads them, lazily decoded kinds, and the line
of any field."""

from __future__ import annotations

import math
import time

from kubeward.misconfig.kubernetes.load import MAX_NODES, Loaded, LoadProblem, load_text
from kubeward.misconfig.kubernetes.objects import K8sObject


def _objects(loaded: Loaded) -> list[tuple[str, str, int]]:
    return [(o.kind, o.name, o.line) for o in loaded.objects]


def _problems(loaded: Loaded) -> list[tuple[int, str, str]]:
    return [(p.line, p.kind, p.message) for p in loaded.problems]


STREAM = """\
# leading comment, then a blank line

apiVersion: v1
kind: ConfigMap
metadata:
  name: first
---
---
--- {apiVersion: v1, kind: Secret, metadata: {name: inline}}
...
--- # a comment on the marker line
apiVersion: v1
kind: Service
metadata:
  name: third
...
"""


STREAM_OBJECTS = [("ConfigMap", "first", 3), ("Secret", "inline", 9), ("Service", "third", 12)]


def test_multi_document_stream_keeps_file_lines() -> None:
    loaded = load_text(STREAM, "stream.yaml")
    assert _objects(loaded) == STREAM_OBJECTS
    assert loaded.problems == []
    assert loaded.documents == 3  # the empty document between two markers is not one
    assert [o.document for o in loaded.objects] == [0, 1, 2]  # empty ones not counted
    assert {o.path for o in loaded.objects} == {"stream.yaml"}
    assert loaded.objects[2].line_of("metadata", "name") == 15


def test_crlf_line_endings_split_and_count_like_lf() -> None:
    loaded = load_text(STREAM.replace("\n", "\r\n"), "crlf.yaml")
    assert _objects(loaded) == STREAM_OBJECTS
    assert loaded.problems == []
    assert loaded.objects[0].data["metadata"] == {"name": "first"}  # no stray "\r"
    assert loaded.objects[2].line_of("metadata", "name") == 15


def test_utf8_bom_at_the_start_and_of_a_concatenated_file() -> None:
    second = "\ufeffapiVersion: v1\nkind: Namespace\nmetadata:\n  name: later\n"
    loaded = load_text("\ufeff" + STREAM + "---\n" + second, "bom.yaml")
    assert _objects(loaded)[0] == ("ConfigMap", "first", 3)
    assert _objects(loaded)[-1] == ("Namespace", "later", 18)
    assert loaded.problems == []


def test_directives_before_the_first_marker_are_not_a_document() -> None:
    loaded = load_text("%YAML 1.1\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "d.yaml")
    assert _objects(loaded) == [("Pod", "p", 3)]
    assert loaded.problems == []
    assert loaded.documents == 1


LISTS = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: builder
- not an object
- apiVersion: v1
  kind: Secret
  metadata: {name: token}
---
apiVersion: v1
kind: ConfigMapList
metadata: {}
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
    data:
      mode: strict
"""


def test_list_kinds_become_their_items_with_item_lines() -> None:
    loaded = load_text(LISTS, "lists.yaml")
    assert _objects(loaded) == [
        ("ServiceAccount", "builder", 4),
        ("Secret", "token", 9),
        ("ConfigMap", "settings", 17),
    ]
    assert loaded.problems == []
    settings = loaded.objects[2]
    assert settings.line_of("data", "mode") == 22
    assert settings.line_of() == 17
    assert settings.get("data", "mode") == "strict"


def test_list_kinds_are_decoded_even_when_lazy_loading_is_asked_for() -> None:
    loaded = load_text(LISTS, "lists.yaml", decode_kinds={"Pod"})
    assert _objects(loaded)[2] == ("ConfigMap", "settings", 17)
    assert all(o.decoded for o in loaded.objects)


JSON_OBJECT = """\
{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"name": "web", "labels": {"app": "a\\/b"}},
  "spec": {
\t"containers": [
\t  {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}
\t]
  }
}
"""

JSON_LIST = """\
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "one"}},
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "two"}}
]}
"""


def test_json_manifests_load_with_lines() -> None:
    loaded = load_text(JSON_OBJECT, "pod.json")
    assert _objects(loaded) == [("Pod", "web", 1)]
    assert loaded.problems == []
    pod = loaded.objects[0]
    assert pod.get("metadata", "labels") == {"app": "a/b"}  # JSON's `\\/` escape
    assert pod.get("spec", "containers", 0, "ports", 0, "containerPort") == 80
    assert pod.line_of("spec", "containers", 0, "image") == 7

    items = load_text(JSON_LIST, "list.json")
    assert _objects(items) == [("Service", "one", 2), ("Service", "two", 3)]


BROKEN_BETWEEN = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: before}
---
apiVersion: v1
kind: Secret
metadata:
  name: [unclosed
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after}
"""


def test_a_broken_document_is_one_problem_and_its_neighbours_load() -> None:
    loaded = load_text(BROKEN_BETWEEN, "broken.yaml")
    assert _objects(loaded) == [("ConfigMap", "before", 1), ("ConfigMap", "after", 10)]
    assert loaded.problems == [
        LoadProblem(
            "broken.yaml",
            9,
            "YAML does not parse: did not find expected ',' or ']'",
            "parse",
        )
    ]
    assert loaded.documents == 3


def _billion_laughs() -> str:
    lines = ['  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n"
    tail = "\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: fine}\n"
    return head + "\n".join(lines) + tail


def test_alias_expansion_bomb_is_refused_at_once() -> None:
    text = _billion_laughs()
    started = time.perf_counter()
    loaded = load_text(text, "lol.yaml")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.2  # 9**9 values are never built
    assert _problems(loaded) == [
        (1, "parse", f"document skipped: more than {MAX_NODES:,} values once aliases are expanded")
    ]
    assert _objects(loaded) == [("Namespace", "fine", 15)]


def test_alias_bomb_in_a_lazily_loaded_kind_is_refused_too() -> None:
    text = _billion_laughs().replace("kind: ConfigMap", "kind: Widget")
    started = time.perf_counter()
    loaded = load_text(text, "lol.yaml", decode_kinds={"Pod"})
    assert time.perf_counter() - started < 0.2
    assert [p.line for p in loaded.problems] == [1]
    assert [o.kind for o in loaded.objects] == ["Namespace"]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    loaded = load_text("apiVersion: v1\nkind: ConfigMap\ndata: &loop {self: *loop}\n", "loop.yaml")
    assert _problems(loaded) == [
        (1, "parse", "document skipped: an alias refers to a node that contains it")
    ]
    assert loaded.objects == []


def test_harmless_aliases_expand_like_kubectl() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n shared\n  labels: {app: *n}\n"
        "data: {star: '*', glob: ls *.txt}\n"
    )
    loaded = load_text(text, "alias.yaml")
    assert loaded.objects[0].get("metadata", "labels", "app") == "shared"
    assert loaded.objects[0].get("data") == {"star": "*", "glob": "ls *.txt"}


def _nested(levels: int) -> str:
    body = "".join("  " * i + f"k{i}:\n" for i in range(levels))
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n"
        + "".join("  " + line + "\n" for line in body.splitlines())
        + "  " * (levels + 1)
        + "leaf: 1\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n"
    )


def test_nesting_past_the_depth_cap_is_one_problem() -> None:
    loaded = load_text(_nested(250), "deep.yaml")
    assert _problems(loaded) == [(1, "parse", "document skipped: nested deeper than 200 levels")]
    assert _objects(loaded) == [("Namespace", "ok", 257)]
    # A kind loaded lazily is checked for depth while it is syntax-checked.
    lazy = load_text(_nested(250).replace("ConfigMap", "Widget"), "deep.yaml", {"Pod"})
    assert _problems(lazy) == _problems(loaded)
    # libyaml's own cap (1000 levels) ends composing early, with the line where it stopped.
    flow = load_text(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  k: " + "[" * 1500 + "]" * 1500 + "\n", "f.yaml"
    )
    assert _problems(flow) == [(4, "parse", "YAML does not parse: exceeded maximum nesting depth")]


def test_nesting_under_the_cap_loads() -> None:
    loaded = load_text(_nested(150), "deep.yaml")
    assert loaded.problems == []
    obj = loaded.objects[0]
    path = ["data", *(f"k{i}" for i in range(150)), "leaf"]
    assert obj.get(*path) == 1
    assert obj.line_of(*path) == 155


DUPLICATES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: dup
data:
  mode: first
  other: x
  mode: second
"""


def test_duplicate_keys_are_reported_and_the_last_value_wins() -> None:
    loaded = load_text(DUPLICATES, "dup.yaml")
    assert _problems(loaded) == [(8, "duplicate-key", "duplicate key 'mode'")]
    obj = loaded.objects[0]
    assert obj.get("data", "mode") == "second"
    assert obj.line_of("data", "mode") == 8  # the line of the value that is used
    assert _objects(loaded) == [("ConfigMap", "dup", 1)]


MERGES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: merged
spec:
  template:
    spec:
      containers:
      - &base
        name: app
        image: nginx
        securityContext:
          runAsNonRoot: true
      - <<: *base
        name: sidecar
      - <<: [{image: busybox, tty: true}, *base]
        name: third
"""


def test_merge_keys_expand_and_explicit_keys_win() -> None:
    loaded = load_text(MERGES, "merge.yaml")
    assert loaded.problems == []
    containers = loaded.objects[0].get("spec", "template", "spec", "containers")
    assert containers[1] == {
        "name": "sidecar",
        "image": "nginx",
        "securityContext": {"runAsNonRoot": True},
    }
    assert containers[2] == {
        "name": "third",
        "image": "busybox",  # the first mapping of a merge list wins
        "tty": True,
        "securityContext": {"runAsNonRoot": True},
    }
    obj = loaded.objects[0]
    base = ("spec", "template", "spec", "containers")
    assert obj.line_of(*base, 1, "name") == 15  # its own key
    # A merged field's line is where the anchored mapping defines it.
    assert obj.line_of(*base, 1, "securityContext", "runAsNonRoot") == 13
    assert obj.line_of(*base, 2, "image") == 16
    assert obj.line_of(*base, 2, "securityContext") == 12


def test_documents_that_are_not_objects_are_skipped() -> None:
    text = (
        "just a scalar\n---\n- a\n- list\n---\n~\n---\nfoo: bar\n---\napiVersion: v1\nkind: Pod\n"
    )
    loaded = load_text(text, "odd.yaml")
    assert _objects(loaded) == [("Pod", "", 10)]
    assert loaded.problems == []
    assert loaded.documents == 5


NOT_OBJECTS = """\
kind: Pod
metadata: {name: no-api-version}
---
apiVersion: v1
metadata: {name: no-kind}
---
apiVersion: 1
kind: Pod
---
apiVersion: v1
kind: [Pod]
---
apiVersion: ""
kind: Pod
---
apiVersion: v1
kind: ~
---
name: ci
on: push
jobs: {test: {runs-on: ubuntu-latest}}
---
apiVersion: v1
kind: List
items:
- kind: Secret
  metadata: {name: item-without-api-version}
- apiVersion: v1
  kind: true
- apiVersion: v1
  kind: Secret
  metadata: {name: item}
---
apiVersion: v1
kind: Pod
metadata: {name: real}
"""


def test_only_documents_with_a_string_api_version_and_kind_are_objects() -> None:
    """kubectl refuses a document without both: values files, CI configs and fragments
    that happen to say `kind:` are not checked."""
    loaded = load_text(NOT_OBJECTS, "mixed.yaml")
    assert _objects(loaded) == [("Secret", "item", 30), ("Pod", "real", 34)]
    assert loaded.problems == []
    assert loaded.documents == 9  # every document was read, two held objects


def test_lazily_loaded_documents_need_an_api_version_line_too() -> None:
    text = (
        "kind: Widget\nmetadata: {name: fragment}\n"
        "---\nkind: Widget\nspec:\n  apiVersion: nested/v1\n"  # not at column 0
        "---\nkind: Widget\nspec:\n  a: [1,\n"  # not an object, but broken: reported
        "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    )
    loaded = load_text(text, "w.yaml", decode_kinds={"Pod"})
    assert [(o.kind, o.line, o.decoded) for o in loaded.objects] == [("Widget", 12, False)]
    # libyaml notices the unclosed flow sequence where the document ends (the next marker)
    assert [(p.line, p.message) for p in loaded.problems] == [
        (11, "YAML does not parse: did not find expected node content")
    ]
    assert loaded.objects[0].name == "w"
    eager = load_text(text.replace("  a: [1,\n", ""), "w.yaml")
    assert _objects(eager) == [("Widget", "w", 11)]


CUSTOM = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
---
apiVersion: v1
kind: Pod
metadata:
  name: p
"""


def test_unchecked_kinds_are_loaded_lazily_and_decode_on_access() -> None:
    loaded = load_text(CUSTOM, "crd.yaml", decode_kinds={"Pod"})
    assert [(o.kind, o.line, o.decoded) for o in loaded.objects] == [
        ("CustomResourceDefinition", 1, False),
        ("Widget", 8, False),
        ("Pod", 15, True),
    ]
    widget = loaded.objects[1]
    assert widget.line_of("spec", "size") == 13  # reading a line decodes it
    assert widget.decoded
    assert widget.get("spec", "size") == 3
    assert widget.name == "w1"
    crd = loaded.objects[0]
    assert crd.data["spec"] == {"group": "example.com"}
    assert crd.decoded
    # Without decode_kinds everything is decoded at once and reads the same.
    eager = load_text(CUSTOM, "crd.yaml")
    assert all(o.decoded for o in eager.objects)
    assert eager.objects[1].data == widget.data


def test_a_lazy_kind_that_uses_aliases_is_decoded_at_once() -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: &n w}\nspec: {ref: *n}\n"
    loaded = load_text(text, "w.yaml", decode_kinds={"Pod"})
    assert [(o.kind, o.decoded, o.get("spec", "ref")) for o in loaded.objects] == [
        ("Widget", True, "w")
    ]


def test_a_broken_lazy_document_is_still_a_problem() -> None:
    text = (
        "apiVersion: example.com/v1\nkind: Widget\nspec:\n  a: [1,\n"
        "---\napiVersion: v1\nkind: Pod\n"
    )
    loaded = load_text(text, "w.yaml", decode_kinds={"Pod"})
    assert [(p.line, p.kind) for p in loaded.problems] == [(5, "parse")]
    assert _objects(loaded) == [("Pod", "", 6)]


HELM = """\
---
# Source: shop/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
---
apiVersion: v1
kind: Service
metadata:
  name: shop-extra
"""


def test_helm_source_comments_name_the_template_of_following_documents() -> None:
    loaded = load_text(HELM, "-", origin="stdin")
    assert [(o.kind, o.line, o.template) for o in loaded.objects] == [
        ("ServiceAccount", 3, "shop/templates/serviceaccount.yaml"),
        ("Deployment", 9, "shop/templates/deployment.yaml"),
        ("Service", 14, "shop/templates/deployment.yaml"),  # no comment: the last one holds
    ]
    assert loaded.objects[1].report_resource == ("Deployment/shop (shop/templates/deployment.yaml)")
    assert loaded.objects[1].report_path == "-"
    assert {o.origin for o in loaded.objects} == {"stdin"}


def test_files_over_the_size_cap_are_not_read() -> None:
    loaded = load_text("#" * (32 * 1024 * 1024 + 1), "huge.yaml")
    assert loaded.problems == [LoadProblem("huge.yaml", 1, "larger than 32 MiB, not read")]
    assert loaded.objects == []


SCALARS = """\
apiVersion: v1
kind: ConfigMap
data:
  int: 42
  negative: -7
  underscore: 1_000
  octal: 0755
  octal12: 0o17
  hex: 0x1F
  hexupper: 0X1f
  binary: 0b101
  float: 1.5
  exponent: 1e3
  leadingzero: 08
  inf: -.inf
  true1: true
  yes1: yes
  on1: On
  y1: y
  no1: NO
  off1: off
  n1: n
  null1: null
  tilde: ~
  empty:
  sexagesimal: 1:30
  timestamp: 2024-01-02
  datetime: 2001-12-14t21:59:43.10-05:00
  quoted: "0755"
  single: 'yes'
  tagged: !!str on
  equals: =
  version: 1.10
on: a
0x10: b
1: c
"""


def test_scalars_decode_as_kubectl_decodes_them() -> None:
    """sigs.k8s.io/yaml (go-yaml v2): YAML 1.1 booleans including y/n, Go's integer
    prefixes, exponents without a dot, no sexagesimal numbers, timestamps kept as text
    (PyYAML's own resolver differs on y/n, 0o17, 1e3, 1:30 and timestamps)."""
    obj = load_text(SCALARS, "s.yaml").objects[0]
    data = obj.data["data"]
    assert data == {
        "int": 42,
        "negative": -7,
        "underscore": 1000,
        "octal": 493,
        "octal12": 15,
        "hex": 31,
        "hexupper": 31,
        "binary": 5,
        "float": 1.5,
        "exponent": 1000.0,
        "leadingzero": 8.0,
        "inf": -math.inf,
        "true1": True,
        "yes1": True,
        "on1": True,
        "y1": True,
        "no1": False,
        "off1": False,
        "n1": False,
        "null1": None,
        "tilde": None,
        "empty": None,
        "sexagesimal": "1:30",
        "timestamp": "2024-01-02",
        "datetime": "2001-12-14t21:59:43.10-05:00",
        "quoted": "0755",
        "single": "yes",
        "tagged": "on",
        "equals": "=",
        "version": 1.1,
    }
    assert [type(data[k]) for k in ("int", "exponent", "y1")] == [int, float, bool]
    # Keys become JSON keys: booleans and numbers by their value.
    assert [k for k in obj.data if k not in ("apiVersion", "kind", "data")] == ["true", "16", "1"]
    assert obj.line_of("true") == 34
    assert obj.line_of("16") == 35


def test_typed_keys_that_collide_are_duplicates() -> None:
    loaded = load_text("apiVersion: v1\nkind: ConfigMap\ndata:\n  on: a\n  'true': b\n", "k.yaml")
    assert _problems(loaded) == [(5, "duplicate-key", "duplicate key 'true'")]
    assert loaded.objects[0].get("data") == {"true": "b"}


LINES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx
          env:
            - name: A
              value: "1"
        - name: sidecar
          image: envoy
"""


def test_line_of_nested_paths_indexes_and_missing_fields() -> None:
    obj = load_text("# header\n" + LINES, "web.yaml").objects[0]
    containers = ("spec", "template", "spec", "containers")
    assert obj.line == 2
    assert obj.line_of() == 2
    assert obj.line_of("metadata", "name") == 5
    assert obj.line_of(*containers) == 9
    assert obj.line_of(*containers, 0) == 10
    assert obj.line_of(*containers, 1) == 15
    assert obj.line_of(*containers, -1, "image") == 16
    assert obj.line_of(*containers, 0, "env", 0, "value") == 14
    # Missing fields: the deepest ancestor that exists.
    assert obj.line_of(*containers, 0, "securityContext", "privileged") == 10
    assert obj.line_of(*containers, 5, "image") == 9
    assert obj.line_of("spec", "template", "metadata") == 7
    assert obj.line_of("metadata", "name", "deeper") == 5  # a scalar has no children
    assert obj.line_of("metadata", 0) == 4


def test_objects_without_nodes_answer_with_their_own_line() -> None:
    obj = K8sObject({"kind": "Pod", "metadata": {"name": "api"}}, "cluster", 1, origin="cluster")
    assert obj.line_of("spec", "containers", 0) == 1
    assert obj.resource == "Pod/api"
    assert obj.get("metadata", "name") == "api"
    assert obj.get("spec", "containers", 0) is None
