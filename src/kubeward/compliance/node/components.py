"""Which Kubernetes components a node runs, and the settings each one actually uses.

A benchmark control asks about a component's *effective* setting, so this module rebuilds
it the way the component itself does, from what can be read under a node root:

1. the command line of the running process (`/proc/PID/cmdline`): `--a=b`, `--a b`, `-a`,
   and repeated flags, where the last one wins (`--feature-gates` entries are merged);
2. when no process is visible (a node whose /proc is hidden from the scanner), the static pod
   manifest (`<staticPodPath>/kube-apiserver.yaml` ... `command` + `args`) for control plane
   components, and the systemd unit plus drop-ins for the kubelet (`ExecStart=` with the
   `Environment=` / `EnvironmentFile=` variables expanded, as kubeadm lays them out);
3. the component's config file (kubelet `--config` KubeletConfiguration, kube-proxy
   `--config` KubeProxyConfiguration): a key there counts only when the matching flag is not
   on the command line, as both binaries let flags override the file;
4. the documented default, when neither sets it.

Nothing here runs a program. Paths default to kubeadm's layout and follow what the
processes say (`--kubeconfig`, `--config`, `--data-dir`, `staticPodPath`).
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from kubeward.compliance.node.root import NodeRoot

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Component keys used in benchmark data, in report order.
COMPONENTS = ("apiserver", "controllermanager", "scheduler", "etcd", "kubelet", "proxy")
BINARIES: Mapping[str, tuple[str, ...]] = {
    "apiserver": ("kube-apiserver", "apiserver"),
    "controllermanager": ("kube-controller-manager", "controller-manager"),
    "scheduler": ("kube-scheduler", "scheduler"),
    "etcd": ("etcd",),
    "kubelet": ("kubelet",),
    "proxy": ("kube-proxy", "proxy"),
}
# The names a process may have on its own (without hyperkube in front).
_PROCESS_NAMES = {
    "kube-apiserver": "apiserver",
    "kube-controller-manager": "controllermanager",
    "kube-scheduler": "scheduler",
    "etcd": "etcd",
    "kubelet": "kubelet",
    "kube-proxy": "proxy",
}
MANIFEST_FILES: Mapping[str, str] = {
    "apiserver": "kube-apiserver.yaml",
    "controllermanager": "kube-controller-manager.yaml",
    "scheduler": "kube-scheduler.yaml",
    "etcd": "etcd.yaml",
}
DEFAULT_MANIFEST_DIR = "/etc/kubernetes/manifests"
DEFAULT_KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KUBELET_UNIT_DIRS = (
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
# Named node paths a control can ask about: (flag that overrides it, config key, default).
_PATHS: Mapping[str, tuple[str, str | None, str | None, str]] = {
    "apiserver.manifest": ("apiserver", None, None, ""),
    "controllermanager.manifest": ("controllermanager", None, None, ""),
    "scheduler.manifest": ("scheduler", None, None, ""),
    "etcd.manifest": ("etcd", None, None, ""),
    "etcd.data_dir": ("etcd", "--data-dir", None, "/var/lib/etcd"),
    "admin.kubeconfig": ("", None, None, "/etc/kubernetes/admin.conf"),
    "scheduler.kubeconfig": ("scheduler", "--kubeconfig", None, "/etc/kubernetes/scheduler.conf"),
    "controllermanager.kubeconfig": (
        "controllermanager",
        "--kubeconfig",
        None,
        "/etc/kubernetes/controller-manager.conf",
    ),
    "pki.dir": ("", None, None, "/etc/kubernetes/pki"),
    "cni.dir": ("", None, None, "/etc/cni/net.d"),
    "kubelet.kubeconfig": ("kubelet", "--kubeconfig", None, "/etc/kubernetes/kubelet.conf"),
    "kubelet.config": ("kubelet", "--config", None, DEFAULT_KUBELET_CONFIG),
    "kubelet.client_ca": (
        "kubelet",
        "--client-ca-file",
        "authentication.x509.clientCAFile",
        "/etc/kubernetes/pki/ca.crt",
    ),
    "proxy.kubeconfig": ("proxy", "--kubeconfig", "clientConnection.kubeconfig", ""),
}
PATH_NAMES = (*_PATHS, "kubelet.service")

_VERSION = re.compile(r":v?([0-9]{1,9})\.([0-9]{1,9})(?:\.([0-9]{1,9}))?")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_MAX_UNIT_FILES = 64


@dataclass(frozen=True, slots=True)
class Setting:
    """An effective setting: its value (None when unset) and where it came from."""

    value: str | None
    origin: str  # "command line", "/var/lib/kubelet/config.yaml: readOnlyPort", "not set"


class SettingUnreadable(Exception):
    """The setting lives in a config file that cannot be read or parsed: not judgeable."""


@dataclass(slots=True)
class Component:
    """One component as found on the node."""

    name: str  # "apiserver", "kubelet" ...
    source: str  # "process 1234", "static pod manifest /etc/...", "systemd unit /etc/..."
    binary: str  # what ran or would run: "/usr/local/bin/kube-apiserver", "kubelet"
    flags: dict[str, list[str]] = field(default_factory=dict)
    version: str | None = None  # "1.28.3" from a manifest's image tag, when shown
    config_path: str | None = None  # the --config file in use
    config: dict[str, Any] | None = None
    config_error: str | None = None  # why config_path could not be used
    # settings read from a file another flag names (--authorization-config ...), as flags
    derived: dict[str, Setting] = field(default_factory=dict)
    derived_errors: dict[str, str] = field(default_factory=dict)
    # every flag lives in a file that cannot be used (etcd --config-file): none is judged
    flags_error: str | None = None

    flags_origin: str = "command line"  # or the file the flags were read from

    def flag(self, name: str) -> str | None:
        """The last value given for `name` on the command line, or None."""
        values = self.flags.get(name)
        return values[-1] if values else None

    def setting(self, flag: str | None, config_key: str | None = None) -> Setting:
        """The value in force for `flag` (command line first) or `config_key` (in the config
        file); raises SettingUnreadable when the answer would be in an unusable file."""
        if flag is not None and flag in self.flags:
            return Setting(self.flags[flag][-1], self.flags_origin)
        if flag is not None and self.flags_error is not None:
            raise SettingUnreadable(self.flags_error)
        if flag is not None and flag in self.derived_errors:
            raise SettingUnreadable(self.derived_errors[flag])
        if flag is not None and flag in self.derived:
            return self.derived[flag]
        if config_key is not None and self.config_path is not None:
            if self.config is None:
                raise SettingUnreadable(self.config_error or f"{self.config_path}: not readable")
            found = _lookup(self.config, config_key)
            if found is not None:
                return Setting(found, f"{self.config_path}: {config_key}")
        return Setting(None, "not set")

    def feature_gate(self, gate: str) -> Setting:
        """The value of feature gate `gate`: --feature-gates entries (merged, last wins)
        over the config file's featureGates map."""
        value: str | None = None
        for entry in self.flags.get("--feature-gates", []):
            for item in entry.split(","):
                key, sep, val = item.partition("=")
                if sep and key.strip() == gate:
                    value = val.strip().lower()
        if value is not None:
            return Setting(value, "command line --feature-gates")
        if self.config_path is not None:
            if self.config is None:
                raise SettingUnreadable(self.config_error or f"{self.config_path}: not readable")
            gates = self.config.get("featureGates")
            if isinstance(gates, dict) and gate in gates:
                return Setting(_text(gates[gate]), f"{self.config_path}: featureGates.{gate}")
        return Setting(None, "not set")


@dataclass(slots=True)
class NodeFacts:
    """Everything the checks read about one node."""

    root: NodeRoot
    components: dict[str, Component]
    manifest_dir: str
    kubelet_units: tuple[str, ...]  # systemd unit and drop-in files of the kubelet
    warnings: list[str] = field(default_factory=list)

    def path(self, name: str) -> tuple[str, ...]:
        """The node paths behind a named path ("apiserver.manifest", "kubelet.config" ...);
        () when it has no location here (e.g. kube-proxy without --kubeconfig)."""
        if name == "kubelet.service":
            return self.kubelet_units
        if name.endswith(".manifest"):
            component = name.removesuffix(".manifest")
            return (f"{self.manifest_dir.rstrip('/')}/{MANIFEST_FILES[component]}",)
        owner, flag, config_key, default = _PATHS[name]
        found = self.components.get(owner)
        if found is not None and flag is not None:
            try:
                value = found.setting(flag, config_key).value
            except SettingUnreadable:
                value = None
            if value:
                return (value,)
        return (default,) if default else ()

    def version(self) -> tuple[int, int] | None:
        """The Kubernetes minor version shown by a control plane manifest's image tag."""
        for name in ("apiserver", "controllermanager", "scheduler"):
            found = self.components.get(name)
            if found is not None and found.version:
                major, minor = found.version.split(".")[:2]  # _VERSION: at most 9 digits
                return int(major), int(minor)
        return None


# -- flags ----------------------------------------------------------------------------------


def parse_flags(args: Sequence[str]) -> dict[str, list[str]]:
    """Flags of an argv tail, as Go's pflag reads them: `--a=b`, `--a b`, `-a=b`; a flag
    followed by another flag (or nothing) is a boolean "true". Names are normalised to
    `--name`; every occurrence is kept, in order."""
    flags: dict[str, list[str]] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            continue
        name, sep, value = arg.lstrip("-").partition("=")
        if not name:
            continue
        if not sep:
            if index < len(args) and not args[index].startswith("-"):
                value = args[index]
                index += 1
            else:
                value = "true"
        flags.setdefault(f"--{name}", []).append(value)
    return flags


def _lookup(config: Mapping[str, Any], dotted: str) -> str | None:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return None if node is None else _text(node)


_MAX_TEXT_ITEMS = 10_000  # values spelled out of one config value
_MAX_TEXT_DEPTH = 32


def _text(value: Any, budget: list[int] | None = None, depth: int = 0) -> str:
    """A config value as a flag would spell it; SettingUnreadable for a value that YAML
    aliases make enormous or self-containing (`a: &a [*a]`)."""
    if budget is None:
        budget = [_MAX_TEXT_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or depth > _MAX_TEXT_DEPTH:
        raise SettingUnreadable(
            f"a config value has more than {_MAX_TEXT_ITEMS} items or {_MAX_TEXT_DEPTH} levels"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(item, budget, depth + 1) for item in value[:256])
    if isinstance(value, dict):
        items = list(value.items())[:256]
        return ",".join(f"{k}={_text(v, budget, depth + 1)}" for k, v in items)
    return str(value)


# -- detection ------------------------------------------------------------------------------


def _component_of(argv: Sequence[str]) -> tuple[str, int] | None:
    """(component, index of its first argument) for a process argv, or None."""
    name = PurePosixPath(argv[0]).name
    if name in _PROCESS_NAMES:
        return _PROCESS_NAMES[name], 1
    if name == "hyperkube" and len(argv) > 1:
        for component, binaries in BINARIES.items():
            if argv[1] in binaries:
                return component, 2
    return None


def detect(root: NodeRoot) -> NodeFacts:
    """The components of the node under `root` and where their settings come from."""
    warnings: list[str] = []
    components: dict[str, Component] = {}
    if not root.exists("/proc"):
        warnings.append(
            "no /proc under the root: processes cannot be seen, settings are read from "
            "static pod manifests, systemd units and config files"
        )
    for process in root.processes:
        found = _component_of(process.argv)
        if found is None:
            continue
        name, start = found
        if name in components:
            warnings.append(
                f"more than one {name} process: judging the {components[name].source}, "
                f"not process {process.pid}"
            )
            continue
        components[name] = Component(
            name=name,
            source=f"process {process.pid}",
            binary=process.argv[0],
            flags=parse_flags(process.argv[start:]),
        )

    if "kubelet" not in components:
        kubelet = _kubelet_from_systemd(root, warnings)
        if kubelet is not None:
            components["kubelet"] = kubelet
    kubelet = components.get("kubelet")
    if kubelet is not None:
        _load_config(root, kubelet, kubelet.flag("--config") or DEFAULT_KUBELET_CONFIG, warnings)
    elif root.exists(DEFAULT_KUBELET_CONFIG):
        kubelet = Component("kubelet", f"config file {DEFAULT_KUBELET_CONFIG}", "kubelet")
        _load_config(root, kubelet, DEFAULT_KUBELET_CONFIG, warnings)
        components["kubelet"] = kubelet
    proxy = components.get("proxy")
    if proxy is not None and proxy.flag("--config"):
        _load_config(root, proxy, proxy.flag("--config") or "", warnings)

    manifest_dir = DEFAULT_MANIFEST_DIR
    if kubelet is not None:
        with contextlib.suppress(SettingUnreadable):  # a broken config: the default dir
            manifest_dir = (
                kubelet.setting("--pod-manifest-path", "staticPodPath").value or manifest_dir
            )
    for name, file_name in MANIFEST_FILES.items():
        path = f"{manifest_dir.rstrip('/')}/{file_name}"
        manifest = _from_manifest(root, name, path, warnings)
        if manifest is None:
            continue
        running = components.get(name)
        if running is None:
            components[name] = manifest
        elif running.version is None:
            running.version = manifest.version  # the process does not show its version
    apiserver = components.get("apiserver")
    if apiserver is not None:
        _authorization_config(root, apiserver, warnings)
    etcd = components.get("etcd")
    if etcd is not None and etcd.flag("--config-file"):
        _etcd_config_file(root, etcd, warnings)
    units = _kubelet_unit_files(root)
    ordered = {name: components[name] for name in COMPONENTS if name in components}
    return NodeFacts(root, ordered, manifest_dir, units, warnings)


def _authorization_config(root: NodeRoot, apiserver: Component, warnings: list[str]) -> None:
    """kube-apiserver's structured authorization (`--authorization-config`, Kubernetes 1.29+)
    replaces `--authorization-mode` (the two are exclusive): the authorizer chain in the
    file is judged as the mode list it stands for (`authorizers[].type` in order, e.g.
    "Node,RBAC"). A file that cannot be read makes the mode unknown, never a guess."""
    path = apiserver.flag("--authorization-config")
    if path is None or "--authorization-mode" in apiserver.flags:
        return
    flag = "--authorization-mode"
    text = root.read_text(path if path.startswith("/") else "/" + path)
    problem = None
    types: list[str] = []
    if text is None:
        problem = f"{path} (--authorization-config): absent or not a readable file"
    else:
        try:
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError:
            data = None
        authorizers = data.get("authorizers") if isinstance(data, dict) else None
        if isinstance(authorizers, list):
            types = [
                a["type"]
                for a in authorizers
                if isinstance(a, dict) and isinstance(a.get("type"), str)
            ]
        if not types:
            problem = f"{path} (--authorization-config): no authorizers[].type in it"
    if problem is not None:
        apiserver.derived_errors[flag] = problem
        warnings.append(f"apiserver {problem}")
        return
    apiserver.derived[flag] = Setting(",".join(types), f"{path}: authorizers[].type")


_ETCD_TLS_SECTIONS = {"client-transport-security": "--", "peer-transport-security": "--peer-"}


def _etcd_config_file(root: NodeRoot, etcd: Component, warnings: list[str]) -> None:
    """etcd's `--config-file`: etcd then ignores every other flag and reads its settings from
    the YAML file, whose keys are the flag names (`data-dir`, `auto-compaction-mode` ...)
    and whose TLS settings sit under `client-transport-security` (`cert-file`,
    `client-cert-auth` ...: `--cert-file` ...) and `peer-transport-security` (`--peer-...`).
    So the file's settings replace the command line; a file that cannot be used leaves every
    etcd setting unknown."""
    path = etcd.flag("--config-file") or ""
    node_path = path if path.startswith("/") else "/" + path
    text = root.read_text(node_path)
    data: Any = None
    if text is not None:
        try:
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
        except yaml.YAMLError:
            data = None
    if not isinstance(data, dict):
        what = "absent or not a readable file" if text is None else "not a YAML mapping"
        etcd.flags = {"--config-file": [path]}
        etcd.flags_error = f"{path} (--config-file): {what}"
        warnings.append(f"etcd {etcd.flags_error}")
        return
    flags: dict[str, list[str]] = {"--config-file": [path]}
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        prefix = _ETCD_TLS_SECTIONS.get(key)
        if prefix is not None:
            for inner, inner_value in value.items() if isinstance(value, dict) else ():
                if isinstance(inner, str) and not isinstance(inner_value, dict | list):
                    flags[prefix + inner] = [_text(inner_value)]
        elif value is not None and not isinstance(value, dict | list):
            flags["--" + key] = [_text(value)]
    etcd.flags = flags
    etcd.flags_origin = path


def _load_config(root: NodeRoot, component: Component, path: str, warnings: list[str]) -> None:
    """Read the component's YAML/JSON config file; a broken file is one warning, and the
    settings that would come from it become unknown (never a guess)."""
    if not path.startswith("/"):
        path = "/" + path
    component.config_path = path
    text = root.read_text(path)
    if text is None:
        if not root.exists(path):
            # the kubelet runs on flags alone when its default config file is absent
            if component.flag("--config") is None:
                component.config_path = None
                return
            component.config_error = f"{path}: named by --config but absent"
        else:
            component.config_error = f"{path}: not a readable regular file of at most 4 MiB"
        warnings.append(f"{component.name} config {component.config_error}")
        return
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        component.config_error = f"{path}: not valid YAML{line}"
        warnings.append(f"{component.name} config {component.config_error}")
        return
    if data is None:
        data = {}
    if not isinstance(data, dict):
        component.config_error = f"{path}: not a mapping of settings"
        warnings.append(f"{component.name} config {component.config_error}")
        return
    component.config = data


def _from_manifest(root: NodeRoot, name: str, path: str, warnings: list[str]) -> Component | None:
    """The component a static pod manifest would start: its command and args as flags."""
    if not root.exists(path):
        return None
    text = root.read_text(path)
    if text is None:
        warnings.append(f"{path}: not a readable regular file of at most 4 MiB")
        return None
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        warnings.append(f"{path}: not valid YAML, the static pod is not read")
        return None
    spec = doc.get("spec") if isinstance(doc, dict) else None
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list) or not containers:
        warnings.append(f"{path}: no spec.containers, the static pod is not read")
        return None
    chosen: dict[str, Any] | None = None
    for container in containers:
        if not isinstance(container, dict):
            continue
        command = container.get("command")
        first = command[0] if isinstance(command, list) and command else ""
        if chosen is None or PurePosixPath(str(first)).name in BINARIES[name]:
            chosen = container
    if chosen is None:
        warnings.append(f"{path}: no usable container, the static pod is not read")
        return None
    argv: list[str] = []
    for key in ("command", "args"):
        items = chosen.get(key)
        if isinstance(items, list):
            argv.extend(str(item) for item in items if isinstance(item, str | int | float))
    version = None
    image = chosen.get("image")
    if isinstance(image, str):
        match = _VERSION.search(image.rsplit("/", 1)[-1])
        if match:
            version = f"{match.group(1)}.{match.group(2)}.{match.group(3) or 0}"
    start = 1 if argv and not argv[0].startswith("-") else 0
    return Component(
        name=name,
        source=f"static pod manifest {path}",
        binary=argv[0] if start else MANIFEST_FILES[name].removesuffix(".yaml"),
        flags=parse_flags(argv[start:]),
        version=version,
    )


# -- systemd --------------------------------------------------------------------------------


def _kubelet_unit_files(root: NodeRoot) -> tuple[str, ...]:
    """The kubelet's systemd unit and drop-ins in the order systemd reads them: the unit
    from the first directory that has it, then drop-ins sorted by file name, a name in
    /etc hiding the same name further down."""
    files: list[str] = []
    for directory in KUBELET_UNIT_DIRS:
        unit = f"{directory}/kubelet.service"
        if root.read_text(unit) is not None:
            files.append(unit)
            break
    dropins: dict[str, str] = {}
    for directory in KUBELET_UNIT_DIRS:
        folder = f"{directory}/kubelet.service.d"
        for entry in root.list_dir(folder)[:_MAX_UNIT_FILES]:
            if entry.endswith(".conf"):
                dropins.setdefault(entry, f"{folder}/{entry}")
    files.extend(dropins[name] for name in sorted(dropins))
    return tuple(files)


def _kubelet_from_systemd(root: NodeRoot, warnings: list[str]) -> Component | None:
    """The kubelet command line its systemd unit would run, variables expanded."""
    env: dict[str, str] = {}
    exec_start: list[str] = []
    source = ""
    for unit in _kubelet_unit_files(root):
        text = root.read_text(unit) or ""
        for key, value in _unit_lines(text):
            if key == "Environment":
                for assignment in _split(value):
                    name, sep, val = assignment.partition("=")
                    if sep:
                        env[name] = val
            elif key == "EnvironmentFile":
                env.update(_env_file(root, value.lstrip("-").strip()))
            elif key == "ExecStart":
                if not value.strip():
                    exec_start = []  # "ExecStart=" resets the list, as in systemd
                else:
                    exec_start = [value]
                    source = unit
    if not exec_start:
        return None
    line = exec_start[-1].lstrip("@-:+!")
    argv: list[str] = []
    for word in _split(line):
        argv.extend(_expand(word, env))
    if not argv or PurePosixPath(argv[0]).name != "kubelet":
        if argv:
            warnings.append(f"{source}: ExecStart does not run a kubelet, ignored")
        return None
    return Component("kubelet", f"systemd unit {source}", argv[0], parse_flags(argv[1:]))


def _unit_lines(text: str) -> Iterable[tuple[str, str]]:
    """(key, value) of a unit file's assignments, with backslash continuations joined."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            yield key.strip(), value.strip()


def _env_file(root: NodeRoot, path: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in (root.read_text(path) or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if sep:
            parts = _split(value)
            env[name.strip()] = " ".join(parts) if len(parts) != 1 else parts[0]
    return env


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: split on blanks rather than give up
        return text.split()


def _expand(word: str, env: Mapping[str, str]) -> list[str]:
    """systemd's expansion: a word that is exactly `$VAR` splits into words, `${VAR}`
    inside a word is replaced as is; an undefined variable is empty."""
    whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
    if whole:
        return _split(env.get(whole.group(1), ""))
    expanded = _ENV_REF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), word)
    return [expanded] if expanded else []
