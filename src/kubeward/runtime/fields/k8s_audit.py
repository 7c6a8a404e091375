"""Fields of the ``k8s_audit`` source: Falco's k8saudit plugin fields (``ka.*``) and the json
plugin fields (``jevt.*``, ``json.*``) over a decoded Kubernetes audit Event dict.

Values follow the plugins exactly: every ``ka.*`` field is a string or a list of strings (a
JSON value that is not a string is its compact JSON text, so ``true`` and ``403`` are
strings), an event without ``auditID`` has no ``ka.*`` field, and an empty list counts as
absent. Four upstream extraction bugs are not copied (``_eff_run_as``, ``_source_ips``,
``_volume_hostpath``, ``ka.req.service.ports``). Every JSON path is split into keys once,
when a field is resolved.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote_plus

import orjson

from kubeward.runtime.fields.base import (
    NA,
    FieldSpec,
    Getter,
    MappedFieldRegistry,
    UnknownFieldError,
    decoder_key,
    mark_json_path,
    render,
)

__all__ = [
    "NA",
    "SOURCE",
    "K8sAuditFields",
    "UnknownFieldError",
    "event_timestamp_ns",
    "parse_rfc3339_ns",
    "render",
]

SOURCE: Final = "k8s_audit"

_MISSING: Final[Any] = object()  # a key that is absent, as opposed to a JSON null
_Keys = tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# JSON helpers
# ---------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A JSON value as the plugins give it: strings as they are, anything else compact JSON."""
    if type(value) is str:
        return value
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        # orjson refuses integers past 64 bits; the stdlib writes them like fastjson does.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_AUDIT_ID: Final = decoder_key("auditID")
_STAGE_TIMESTAMP: Final = decoder_key("stageTimestamp")
"""Keys read from every event, as the decoder's own objects (see fields.base.decoder_key)."""


def _path(keys: _Keys) -> Callable[[Any], Any]:
    """A getter for nested object keys; ``_MISSING`` when any step is absent or not an object.

    Absent keys are the common case (``subresource``, ``impersonatedUser``): objects are
    read with ``dict.get``, never through a raised KeyError, which costs ten times more."""
    keys = tuple(decoder_key(k) for k in keys)
    if len(keys) == 1:
        (k0,) = keys

        def get1(ev: Any) -> Any:
            if type(ev) is dict:
                return ev.get(k0, _MISSING)
            return _step(ev, k0)

        return get1
    if len(keys) == 2:
        k0, k1 = keys

        def get2(ev: Any) -> Any:
            outer = ev.get(k0, _MISSING) if type(ev) is dict else _step(ev, k0)
            if type(outer) is dict:
                return outer.get(k1, _MISSING)
            return _MISSING if outer is _MISSING else _step(outer, k1)

        return get2

    def getn(ev: Any) -> Any:
        for key in keys:
            ev = ev.get(key, _MISSING) if type(ev) is dict else _step(ev, key)
            if ev is _MISSING:
                return _MISSING
        return ev

    return getn


def _step(value: Any, key: str) -> Any:
    """``value[key]`` for what is not a plain dict (``_MISSING`` when that fails)."""
    if value is None:
        return _MISSING
    try:
        return value[key]
    except (KeyError, TypeError, IndexError):
        return _MISSING


def _values(value: Any, index: int | None, keys: _Keys) -> list[Any] | Any:
    """The plugin's getValuesRecursive: walk ``keys``; at each array met on the way, fan out
    over every element (an element missing the rest of the path gives ``_MISSING``) or, with
    an index, step into that one element. An empty key means the value itself."""
    for i, key in enumerate(keys):
        if type(value) is list:
            if index is None:
                out: list[Any] = []
                rest = keys[i:]
                for item in value:
                    found = _values(item, None, rest)
                    if found is _MISSING:
                        out.append(_MISSING)
                    else:
                        out.extend(found)
                return out
            if index >= len(value):
                return _MISSING
            value = value[index]
        if key:
            value = value.get(key, _MISSING) if type(value) is dict else _MISSING
        if value is _MISSING:
            return _MISSING
    return [value]


def _strings_skip_missing(values: list[Any]) -> list[str] | None:
    out = [_text(v) for v in values if v is not _MISSING]
    return out or None


def _index(arg: str | None) -> int | None:
    return None if arg is None else int(arg)


def _audit(getter: Callable[[Any], Any]) -> Getter:
    """The k8saudit plugin ignores any JSON without an ``auditID``."""

    def guarded(ev: object) -> Any:
        if type(ev) is not dict or _AUDIT_ID not in ev:
            return None
        return getter(ev)

    return guarded


# ---------------------------------------------------------------------------------------------
# ka.* getter factories
# ---------------------------------------------------------------------------------------------


def _scalar(*keys: str) -> Callable[[str | None], Getter]:
    """A JSON value at a fixed path, as text. Rules test these fields in nearly every
    condition, so the one- and two-key paths (``verb``, ``user.username``, ``objectRef.*``)
    are single functions with the auditID guard inlined: no nested calls per extraction."""

    keys = tuple(decoder_key(k) for k in keys)

    def factory(_arg: str | None) -> Getter:
        if len(keys) == 1:
            (k0,) = keys

            def getter1(ev: Any) -> str | None:
                if type(ev) is not dict or _AUDIT_ID not in ev:
                    return None
                value = ev.get(k0, _MISSING)
                if value is _MISSING:
                    return None
                return value if type(value) is str else _text(value)

            return mark_json_path(getter1, (k0,), "auditID")
        if len(keys) == 2:
            k0, k1 = keys

            def getter2(ev: Any) -> str | None:
                if type(ev) is not dict or _AUDIT_ID not in ev:
                    return None
                outer = ev.get(k0)
                # No raised KeyError for an absent key (the common case): see _path.
                value = outer.get(k1, _MISSING) if type(outer) is dict else _step(outer, k1)
                if value is _MISSING:
                    return None
                return value if type(value) is str else _text(value)

            return mark_json_path(getter2, (k0, k1), "auditID")
        get = _path(keys)

        def getter(ev: Any) -> str | None:
            if type(ev) is not dict or _AUDIT_ID not in ev:
                return None
            value = get(ev)
            if value is _MISSING:
                return None
            return value if type(value) is str else _text(value)

        return getter

    return factory


def _plain_list(*keys: str) -> Callable[[str | None], Getter]:
    """A JSON array at a fixed path, each element as text (objects become their JSON)."""

    def factory(_arg: str | None) -> Getter:
        get = _path(keys)

        def getter(ev: Any) -> list[str] | None:
            value = get(ev)
            if type(value) is not list or not value:
                return None
            return [_text(v) for v in value]

        return _audit(getter)

    return factory


def _recursive(*keys: str) -> Callable[[str | None], Getter]:
    """Per-element values under an array (containers, volumes, ports), missing ones skipped."""

    def factory(arg: str | None) -> Getter:
        index = _index(arg)

        def getter(ev: Any) -> list[str] | None:
            found = _values(ev, index, keys)
            return None if found is _MISSING else _strings_skip_missing(found)

        return _audit(getter)

    return factory


def _images(containers: str, *, repository: bool) -> Callable[[str | None], Getter]:
    keys = ("requestObject", "spec", containers, "image")

    def factory(arg: str | None) -> Getter:
        index = _index(arg)

        def getter(ev: Any) -> list[str] | None:
            found = _values(ev, index, keys)
            # Unlike the other container fields, one container without an image voids the field.
            if found is _MISSING or not found or any(v is _MISSING for v in found):
                return None
            images = [_text(v) for v in found]
            return [_repository(i) for i in images] if repository else images

        return _audit(getter)

    return factory


def _repository(image: str) -> str:
    # The plugin's own split: everything before the first ':' then before the first '@'
    # (so a registry port cuts the name short, exactly as Falco does).
    return image.split(":", 1)[0].split("@", 1)[0]


def _first_image(*, repository: bool) -> Callable[[str | None], Getter]:
    def factory(_arg: str | None) -> Getter:
        images = _images("containers", repository=repository)(None)

        def getter(ev: Any) -> str | None:
            found = images(ev)
            return found[0] if found else None

        return getter

    return factory


def _host_ports(containers: str) -> Callable[[str | None], Getter]:
    keys = ("requestObject", "spec", containers, "ports")

    def factory(arg: str | None) -> Getter:
        index = _index(arg)

        def getter(ev: Any) -> list[str] | None:
            found = _values(ev, index, keys)
            if found is _MISSING:
                return None
            out: list[str] = []
            for ports in found:
                if ports is _MISSING:
                    continue
                if type(ports) is not list:
                    return None
                for port in ports:
                    if type(port) is not dict:
                        continue
                    # With hostNetwork the container port is the host port.
                    if "hostPort" in port:
                        out.append(_text(port["hostPort"]))
                    elif "containerPort" in port:
                        out.append(_text(port["containerPort"]))
            return out or None

        return _audit(getter)

    return factory


def _any_privileged(_arg: str | None) -> Getter:
    keys = ("requestObject", "spec", "containers", "securityContext", "privileged")

    def getter(ev: Any) -> str | None:
        found = _values(ev, None, keys)
        if found is _MISSING:
            return None
        return "true" if any(v is True for v in found) else "false"

    return _audit(getter)


def _eff_run_as(containers: str, key: str) -> Callable[[str | None], Getter]:
    """The id each container starts with: its own securityContext, else the pod's, else 0.

    The plugin looks these up at ``spec.<key>`` and ``containers[].<key>``, paths Kubernetes
    never writes, so it always answers 0; the securityContext paths are what it documents.
    """
    get_pod = _path(("requestObject", "spec", "securityContext", key))
    get_containers = _path(("requestObject", "spec", containers))

    def factory(arg: str | None) -> Getter:
        index = _index(arg)

        def getter(ev: Any) -> list[str] | None:
            items = get_containers(ev)
            if type(items) is not list:
                return None
            if index is not None:
                items = items[index : index + 1]
            pod = get_pod(ev)
            default = "0" if pod is _MISSING else _text(pod)
            out: list[str] = []
            for item in items:
                context = item.get("securityContext") if type(item) is dict else None
                own = context.get(key, _MISSING) if type(context) is dict else _MISSING
                out.append(default if own is _MISSING else _text(own))
            return out or None

        return _audit(getter)

    return factory


def _rules_field(key: str) -> Callable[[str | None], Getter]:
    keys = ("requestObject", "rules", key)

    def factory(arg: str | None) -> Getter:
        index = _index(arg)

        def getter(ev: Any) -> list[str] | None:
            found = _values(ev, index, keys)
            if found is _MISSING:
                return None
            out: list[str] = []
            for value in found:
                if type(value) is list:
                    out.extend(_text(v) for v in value)
            return out or None

        return _audit(getter)

    return factory


def _source_ips(arg: str | None) -> Getter:
    """The client addresses. The plugin reads them through its role-rules helper (under
    ``requestObject.rules``) and so never finds them; the top-level list is what it means."""
    index = _index(arg)

    def getter(ev: Any) -> list[str] | None:
        ips = ev.get("sourceIPs")
        if type(ips) is not list:
            return None
        if index is not None:
            ips = ips[index : index + 1]
        return [_text(v) for v in ips] or None

    return _audit(getter)


def _volume_types(arg: str | None) -> Getter:
    keys = ("requestObject", "spec", "volumes", "")
    index = _index(arg)

    def getter(ev: Any) -> list[str] | None:
        found = _values(ev, index, keys)
        if found is _MISSING:
            return None
        out = [k for volume in found if type(volume) is dict for k in volume if k != "name"]
        return out or None

    return _audit(getter)


def _volume_hostpath(arg: str | None) -> Getter:
    """Deprecated boolean: is this host path (or, ending in ``*``, prefix) mounted by any
    volume. The plugin passes its key argument as index 0 and so only looks at the first
    volume; this looks at all of them, as the field is documented and Falco 0.31 did."""
    assert arg is not None  # the registry requires the key
    keys = ("requestObject", "spec", "volumes", "hostPath", "path")
    prefix = arg[:-1] if arg.endswith("*") else None

    def getter(ev: Any) -> str | None:
        found = _values(ev, None, keys)
        if found is _MISSING:
            return None
        for value in found:
            if value is _MISSING:
                continue
            path = _text(value)
            if path == arg or (prefix is not None and path.startswith(prefix)):
                return "true"
        return "false"

    return _audit(getter)


def _uri_param(arg: str | None) -> Getter:
    assert arg is not None
    get_uri = _path(("requestURI",))

    def getter(ev: Any) -> str | None:
        uri = get_uri(ev)
        if uri is _MISSING:
            return None
        return _query_param(_text(uri), arg)

    return _audit(getter)


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@lru_cache(maxsize=1024)
def _query_map(uri: str) -> dict[str, str] | None:
    """Go's url.Parse + url.ParseQuery: first value per key; a ';' or a bad escape anywhere
    makes the whole query unreadable, as it does for the plugin."""
    query = uri.split("#", 1)[0].partition("?")[2]
    out: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        if ";" in part or _BAD_ESCAPE.search(part):
            return None
        key, _, value = part.partition("=")
        out.setdefault(unquote_plus(key), unquote_plus(value))
    return out


def _query_param(uri: str, key: str) -> str | None:
    params = _query_map(uri)
    return None if params is None else params.get(key)


def _has_name(_arg: str | None) -> Getter:
    # The plugin documents "N/A" but answers "true", as the original implementation did.
    return _audit(lambda _ev: "true")


def _subject_names(kind: str, *, with_namespace: bool = False) -> Callable[[str | None], Getter]:
    get = _path(("requestObject", "subjects"))

    def factory(_arg: str | None) -> Getter:
        def getter(ev: Any) -> list[str] | None:
            subjects = get(ev)
            if type(subjects) is not list:
                return None
            out: list[str] = []
            for subject in subjects:
                if type(subject) is not dict or subject.get("kind") != kind:
                    continue
                name = subject.get("name")
                if name is None:
                    continue
                if with_namespace:
                    out.append(f"{_text(subject.get('namespace', ''))}:{_text(name)}")
                else:
                    out.append(_text(name))
            return out or None

        return _audit(getter)

    return factory


def _target_pod_name(_arg: str | None) -> Getter:
    """The pod a request is about: the target name when the target is a pod; a create names
    its pod only in the request or response object."""
    ref = _path(("objectRef",))
    resp = _path(("responseObject", "metadata", "name"))
    req = _path(("requestObject", "metadata", "name"))

    def getter(ev: Any) -> str | None:
        target = ref(ev)
        if type(target) is not dict or target.get("resource") != "pods":
            return None
        for value in (target.get("name", _MISSING), resp(ev), req(ev)):
            if value is not _MISSING and value is not None:
                return _text(value)
        return None

    return _audit(getter)


def _cluster_name(default: str | None) -> Callable[[str | None], Getter]:
    """The ``cluster_name`` annotation (GKE's resource label, which the GKE plugin copies into
    annotations), else the name this registry was configured with for a single cluster."""
    get = _path(("annotations", "cluster_name"))

    def factory(_arg: str | None) -> Getter:
        def getter(ev: Any) -> str | None:
            value = get(ev)
            if value is _MISSING or value is None:
                return default
            return _text(value)

        return _audit(getter)

    return factory


# ---------------------------------------------------------------------------------------------
# jevt.* / json.*: the json plugin, over any JSON event
# ---------------------------------------------------------------------------------------------

_RFC3339_SECONDS = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")
_RFC3339_ZONE = re.compile(r"Z|[+-]\d{2}:\d{2}")


def parse_rfc3339_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time with up to 9 fraction digits (Go's
    RFC3339Nano, which the plugin uses on ``stageTimestamp``); None when it is not one.

    The text is ``YYYY-MM-DDTHH:MM:SS`` + optional ``.fraction`` + zone; the date, time and
    zone are parsed (and validated) once per distinct second and zone, since an audit stream's
    events share them, and only the fraction per event: every k8s audit rule reads the time."""
    global _last_second  # noqa: PLW0603 - a one-entry cache, replaced whole (thread-safe)
    last = _last_second
    # The common case first: UTC, a fraction, the same second as the last text.
    if (
        last[1] == "Z"
        and last[2] is not None
        and text[-1:] == "Z"
        and len(text) > 21
        and text[19] == "."
        and text.startswith(last[0])
    ):
        digits = text[20:-1]
        if len(digits) <= 9 and digits.isdecimal():
            ns = last[2] * 1_000_000_000 + int(digits) * _FRACTION_SCALE[len(digits)]
            return ns if ns >= 0 else None
    n = len(text)
    if n < 20:
        return None
    zone_at = n - 1 if text[n - 1] == "Z" else n - 6
    head, zone = text[:19], text[zone_at:]
    if last[0] == head and last[1] == zone:
        seconds = last[2]
    else:
        seconds = _zoned_seconds(head, zone)
        _last_second = (head, zone, seconds)
    if seconds is None or zone_at < 19:
        return None
    ns = seconds * 1_000_000_000
    if zone_at > 19:
        digits = text[20:zone_at]
        if text[19] != "." or not 1 <= len(digits) <= 9 or not digits.isdecimal():
            return None
        ns += int(digits) * _FRACTION_SCALE[len(digits)]
    return ns if ns >= 0 else None


_last_second: tuple[str, str, int | None] = ("", "", None)
_FRACTION_SCALE: Final = tuple(10 ** (9 - k) for k in range(10))


@lru_cache(maxsize=4096)
def _zoned_seconds(head: str, zone: str) -> int | None:
    """Seconds since the epoch of ``YYYY-MM-DDTHH:MM:SS`` in ``Z`` or ``+HH:MM``/``-HH:MM``;
    None for an impossible date or time or a malformed zone."""
    m = _RFC3339_SECONDS.fullmatch(head)
    if m is None or _RFC3339_ZONE.fullmatch(zone) is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if zone != "Z":
        if int(zone[4:6]) > 59:
            return None
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds


def event_timestamp_ns(event: object) -> int | None:
    """The event's time as Falco assigns it: its ``stageTimestamp``."""
    if type(event) is not dict:
        return None
    stamp = event.get(_STAGE_TIMESTAMP)
    return parse_rfc3339_ns(stamp) if type(stamp) is str else None


def _rawtime(_arg: str | None) -> Getter:
    def getter(ev: object) -> str | None:
        if type(ev) is not dict:
            return None
        stamp = ev.get(_STAGE_TIMESTAMP)
        return rawtime_text(stamp) if type(stamp) is str else None

    return getter


def rawtime_text(stamp: str) -> str | None:
    """``str(parse_rfc3339_ns(stamp))``, None when it does not parse, by concatenation for
    the common stamp (UTC, a fraction, the same second as the last one): the seconds' digits
    and the fraction's, padded to nine. Integer arithmetic and ``str`` of a 19-digit number
    cost three times more, once per audit event."""
    global _last_rawtime  # noqa: PLW0603 - a one-entry cache, replaced whole (thread-safe)
    head, seconds = _last_rawtime
    if stamp[-1:] == "Z" and stamp[:20] == head:
        digits = stamp[20:-1]
        if 0 < len(digits) <= 9 and digits.isascii() and digits.isdecimal():
            return seconds + digits + _ZEROS[len(digits)]
    ns = parse_rfc3339_ns(stamp)
    if ns is None:
        return None
    text = str(ns)
    if ns >= 1_000_000_000 and stamp[-1:] == "Z" and stamp[19:20] == ".":
        _last_rawtime = (stamp[:20], text[:-9])
    return text


_last_rawtime: tuple[str, str] = ("\0", "")
_ZEROS: Final = tuple("0" * (9 - k) for k in range(10))


def _time(_arg: str | None) -> Getter:
    """``HH:MM:SS.nnnnnnnnn`` in local time, as libsinsp's ts_to_string prints it (which takes
    the UTC offset in force now, not at the event's date)."""

    def getter(ev: object) -> str | None:
        ns = event_timestamp_ns(ev)
        if ns is None:
            return None
        seconds, fraction = divmod(ns, 1_000_000_000)
        day = (seconds + time.localtime().tm_gmtoff) % 86400
        return f"{day // 3600:02d}:{day % 3600 // 60:02d}:{day % 60:02d}.{fraction:09d}"

    return getter


def _time_iso8601(_arg: str | None) -> Getter:
    def getter(ev: object) -> str | None:
        ns = event_timestamp_ns(ev)
        if ns is None:
            return None
        seconds, fraction = divmod(ns, 1_000_000_000)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"

    return getter


def _obj(_arg: str | None) -> Getter:
    def getter(ev: object) -> str | None:
        if not isinstance(ev, dict | list):
            return None
        try:
            return orjson.dumps(ev, option=orjson.OPT_INDENT_2).decode()
        except (TypeError, orjson.JSONEncodeError):
            return json.dumps(ev, ensure_ascii=False, indent=2)

    return getter


_ARRAY_INDEX = re.compile(r"[+-]?[0-9]+")


def _pointer_tokens(pointer: str) -> _Keys:
    # The json plugin's reading of a JSON pointer: an optional leading '/', then '/'-separated
    # tokens with ~1 and ~0 unescaped (in that order, per RFC 6901).
    if pointer.startswith("/"):
        pointer = pointer[1:]
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/"))


def _json_value(arg: str | None) -> Getter:
    assert arg is not None
    tokens = _pointer_tokens(arg)
    if len(tokens) == 1:
        # ``jevt.value[/stage]``, in every k8s audit rule (macro ``kevt``): one dict lookup.
        (t0,) = tokens
        general = _json_pointer(tokens)

        def getter1(ev: Any) -> str | None:
            if type(ev) is not dict:
                return general(ev)
            value = ev.get(t0, _MISSING)
            if value is _MISSING:
                return None
            return value if type(value) is str else _text(value)

        return mark_json_path(getter1, (t0,), None)
    return _json_pointer(tokens)


def _json_pointer(tokens: _Keys) -> Callable[[object], str | None]:
    def getter(ev: object) -> str | None:
        value: Any = ev
        for token in tokens:
            if type(value) is dict:
                value = value.get(token, _MISSING)
            elif type(value) is list and _ARRAY_INDEX.fullmatch(token):
                position = int(token)
                value = value[position] if 0 <= position < len(value) else _MISSING
            else:
                return None
            if value is _MISSING:
                return None
        return _text(value)

    return getter


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------

_CONTAINER_KINDS = ("containers", "initContainers", "ephemeralContainers")
_SECURITY_CONTEXT_LISTS = (
    ("privileged", ("privileged",)),
    ("allow_privilege_escalation", ("allowPrivilegeEscalation",)),
    ("read_only_fs", ("readOnlyRootFilesystem",)),
    ("run_as_user", ("runAsUser",)),
    ("run_as_group", ("runAsGroup",)),
    ("proc_mount", ("procMount",)),
    ("add_capabilities", ("capabilities", "add")),
)


def _container_specs(kind: str) -> Iterator[FieldSpec]:
    prefix = f"ka.req.pod.{kind}"
    spec_keys = ("requestObject", "spec", kind)
    yield FieldSpec(f"{prefix}.name", "list", _recursive(*spec_keys, "name"), "index")
    yield FieldSpec(f"{prefix}.image", "list", _images(kind, repository=False), "index")
    yield FieldSpec(f"{prefix}.image.repository", "list", _images(kind, repository=True), "index")
    # Each container's command and args arrive as one JSON array text per container.
    yield FieldSpec(f"{prefix}.command", "list", _recursive(*spec_keys, "command"), "index")
    yield FieldSpec(f"{prefix}.args", "list", _recursive(*spec_keys, "args"), "index")
    yield FieldSpec(f"{prefix}.host_port", "list", _host_ports(kind), "index")
    for name, keys in _SECURITY_CONTEXT_LISTS:
        factory = _recursive(*spec_keys, "securityContext", *keys)
        yield FieldSpec(f"{prefix}.{name}", "list", factory, "index")
    yield FieldSpec(f"{prefix}.eff_run_as_user", "list", _eff_run_as(kind, "runAsUser"), "index")
    yield FieldSpec(f"{prefix}.eff_run_as_group", "list", _eff_run_as(kind, "runAsGroup"), "index")


def _specs(cluster_name: str | None) -> Iterator[FieldSpec]:
    s = "string"
    ann = "annotations"
    yield FieldSpec("ka.auditid", s, _scalar("auditID"))
    yield FieldSpec("ka.stage", s, _scalar("stage"))
    yield FieldSpec("ka.auth.decision", s, _scalar(ann, "authorization.k8s.io/decision"))
    yield FieldSpec("ka.auth.reason", s, _scalar(ann, "authorization.k8s.io/reason"))
    yield FieldSpec(
        "ka.auth.openshift.decision", s, _scalar(ann, "authentication.openshift.io/decision")
    )
    yield FieldSpec(
        "ka.auth.openshift.username", s, _scalar(ann, "authentication.openshift.io/username")
    )
    yield FieldSpec(
        "ka.validations.admission.policy.failure",
        s,
        _scalar(ann, "validation.policy.admission.k8s.io/validation_failure"),
    )
    yield FieldSpec(
        "ka.security.pod.violations", s, _scalar(ann, "pod-security.kubernetes.io/audit-violations")
    )
    yield FieldSpec("ka.user.name", s, _scalar("user", "username"))
    yield FieldSpec("ka.user.groups", "list", _plain_list("user", "groups"))
    yield FieldSpec("ka.impuser.name", s, _scalar("impersonatedUser", "username"))
    yield FieldSpec("ka.verb", s, _scalar("verb"))
    yield FieldSpec("ka.uri", s, _scalar("requestURI"))
    yield FieldSpec("ka.uri.param", s, _uri_param, "key")
    yield FieldSpec("ka.target.name", s, _scalar("objectRef", "name"))
    yield FieldSpec("ka.target.namespace", s, _scalar("objectRef", "namespace"))
    yield FieldSpec("ka.target.resource", s, _scalar("objectRef", "resource"))
    yield FieldSpec("ka.target.subresource", s, _scalar("objectRef", "subresource"))
    yield FieldSpec("ka.target.pod.name", s, _target_pod_name)
    yield FieldSpec("ka.req.binding.subjects", "list", _plain_list("requestObject", "subjects"))
    yield FieldSpec("ka.req.binding.subjects.user_names", "list", _subject_names("User"))
    yield FieldSpec(
        "ka.req.binding.subjects.serviceaccount_names", "list", _subject_names("ServiceAccount")
    )
    yield FieldSpec(
        "ka.req.binding.subjects.serviceaccount_ns_names",
        "list",
        _subject_names("ServiceAccount", with_namespace=True),
    )
    yield FieldSpec("ka.req.binding.subjects.group_names", "list", _subject_names("Group"))
    yield FieldSpec("ka.req.binding.role", s, _scalar("requestObject", "roleRef", "name"))
    yield FieldSpec("ka.req.binding.subject.has_name", s, _has_name, "key")
    yield FieldSpec("ka.req.configmap.name", s, _scalar("objectRef", "name"))
    yield FieldSpec("ka.req.configmap.obj", s, _scalar("requestObject", "data"))
    yield from _container_specs("containers")
    yield FieldSpec("ka.req.container.image", s, _first_image(repository=False))
    yield FieldSpec("ka.req.container.image.repository", s, _first_image(repository=True))
    yield FieldSpec("ka.req.container.privileged", s, _any_privileged)
    spec = ("requestObject", "spec")
    yield FieldSpec("ka.req.pod.host_ipc", s, _scalar(*spec, "hostIPC"))
    yield FieldSpec("ka.req.pod.host_network", s, _scalar(*spec, "hostNetwork"))
    yield FieldSpec("ka.req.container.host_network", s, _scalar(*spec, "hostNetwork"))
    yield FieldSpec("ka.req.pod.host_pid", s, _scalar(*spec, "hostPID"))
    ctx = (*spec, "securityContext")
    yield FieldSpec("ka.req.pod.run_as_user", s, _scalar(*ctx, "runAsUser"))
    yield FieldSpec("ka.req.pod.run_as_group", s, _scalar(*ctx, "runAsGroup"))
    yield FieldSpec("ka.req.pod.fs_group", s, _scalar(*ctx, "fsGroup"))
    yield FieldSpec(
        "ka.req.pod.supplemental_groups", "list", _plain_list(*ctx, "supplementalGroups")
    )
    yield FieldSpec("ka.req.role.rules", "list", _plain_list("requestObject", "rules"))
    for key in ("apiGroups", "nonResourceURLs", "verbs", "resources"):
        yield FieldSpec(f"ka.req.role.rules.{key}", "list", _rules_field(key), "index")
    yield FieldSpec("ka.req.service.type", s, _scalar(*spec, "type"))
    # One JSON text per port. (The plugin's newest code returns the whole array as a single
    # text and ignores the index; the earlier per-port answer is the documented one.)
    yield FieldSpec("ka.req.service.ports", "list", _recursive(*spec, "ports", ""), "index")
    volumes = (*spec, "volumes")
    yield FieldSpec(
        "ka.req.pod.volumes.hostpath", "list", _recursive(*volumes, "hostPath", "path"), "index"
    )
    yield FieldSpec("ka.req.volume.hostpath", s, _volume_hostpath, "key")
    yield FieldSpec(
        "ka.req.pod.volumes.flexvolume_driver",
        "list",
        _recursive(*volumes, "flexVolume", "driver"),
        "index",
    )
    yield FieldSpec("ka.req.pod.volumes.volume_type", "list", _volume_types, "index")
    yield FieldSpec("ka.resp.name", s, _scalar("responseObject", "metadata", "name"))
    yield FieldSpec("ka.response.code", s, _scalar("responseStatus", "code"))
    yield FieldSpec("ka.response.reason", s, _scalar("responseStatus", "reason"))
    yield FieldSpec("ka.useragent", s, _scalar("userAgent"))
    yield FieldSpec("ka.sourceips", "list", _source_ips, "index")
    yield FieldSpec("ka.cluster.name", s, _cluster_name(cluster_name))
    for kind in _CONTAINER_KINDS[1:]:
        yield from _container_specs(kind)
    for prefix in ("jevt", "json"):
        yield FieldSpec(f"{prefix}.value", s, _json_value, "key")
        yield FieldSpec(f"{prefix}.obj", s, _obj)
        yield FieldSpec(f"{prefix}.rawtime", s, _rawtime)
    # Falco's built-in json events (before plugins) also had these two.
    yield FieldSpec("jevt.time", s, _time)
    yield FieldSpec("jevt.time.iso8601", s, _time_iso8601)


class K8sAuditFields(MappedFieldRegistry):
    """Every field of Falco's k8saudit and json plugins, for the ``k8s_audit`` source.

    ``cluster_name`` answers ``ka.cluster.name`` for events that do not name their cluster.
    """

    def __init__(self, *, cluster_name: str | None = None) -> None:
        super().__init__(SOURCE, _specs(cluster_name))
