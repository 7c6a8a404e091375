"""A deterministic secret-scanning corpus with ground truth.

`generate(root, size_mb, seed)` writes a file tree shaped like a container filesystem
(application source, configs, logs, minified JS, lock files, binaries, dot files in home
directories) and plants fake, well-formed secrets of every rule type that
kubeward/data/secrets/rules.yaml defines at known (path, line) positions, next to decoys that
look secret-ish but are not (documentation example keys, hashes, UUIDs, placeholders, test
values). Everything comes from one `random.Random(seed)`: the same arguments give the same
bytes. No value is a real credential.

The ground truth is written next to the corpus (`<root>.truth.json`, outside the scanned tree).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import random
import string
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

VERSION = 1
MB = 1_000_000
RULES_FILE = Path(__file__).resolve().parent.parent / "src/kubeward/data/secrets/rules.yaml"

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


@dataclass(frozen=True)
class Planted:
    """One planted secret (or decoy): `value` is the text exactly as it appears on `line`."""

    path: str
    line: int
    kind: str
    value: str
    carrier: str
    span: int = 1  # lines the secret covers (a PEM block), from `line` on

    def covers(self, line: int) -> bool:
        return self.line <= line < self.line + self.span


@dataclass
class GroundTruth:
    """What `generate` wrote: planted secrets, decoys and a census of the files."""

    root: Path
    size_mb: int
    seed: int
    total_bytes: int = 0
    files: int = 0
    file_types: dict[str, int] = field(default_factory=dict)
    planted: list[Planted] = field(default_factory=list)
    decoys: list[Planted] = field(default_factory=list)
    rules_without_generator: list[str] = field(default_factory=list)
    version: int = VERSION

    @property
    def positions(self) -> set[tuple[str, int, str]]:
        """The set of planted (path, line, kind)."""
        return {(p.path, p.line, p.kind) for p in self.planted}

    @staticmethod
    def json_path(root: Path) -> Path:
        return root.parent / f"{root.name}.truth.json"

    def save(self) -> Path:
        out = self.json_path(self.root)
        body = asdict(self)
        body["root"] = str(self.root)
        out.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
        return out

    @classmethod
    def load(cls, root: Path) -> GroundTruth:
        body = json.loads(cls.json_path(root).read_text())
        body["root"] = Path(body["root"])
        body["planted"] = [Planted(**p) for p in body["planted"]]
        body["decoys"] = [Planted(**p) for p in body["decoys"]]
        return cls(**body)


# ---------------------------------------------------------------------------------------------
# random helpers


def rs(rng: random.Random, alphabet: str, n: int) -> str:
    """`n` random characters of `alphabet`."""
    return "".join(rng.choices(alphabet, k=n))


def mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """Random characters with at least one upper, lower and digit where the alphabet has them
    (so entropy gates and character-class checks see a realistic token)."""
    while True:
        s = rs(rng, alphabet, n)
        classes = [
            c
            for c in (string.ascii_uppercase, string.ascii_lowercase, string.digits)
            if set(c) & set(alphabet)
        ]
        if all(set(s) & set(c) for c in classes):
            return s


def b62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = (string.digits + string.ascii_uppercase + string.ascii_lowercase)[r] + out
    return out.rjust(width, "0")


def checksummed(rng: random.Random, prefix: str, n: int = 30) -> str:
    """GitHub/npm-style token: `prefix` + 30 base62 + 6-char base62 CRC32 of the random part."""
    body = mixed(rng, ALNUM, n)
    return prefix + body + b62(binascii.crc32(body.encode()), 6)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def uuid(rng: random.Random) -> str:
    h = rs(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


def words(rng: random.Random, n: int) -> list[str]:
    return rng.choices(VOCAB, k=n)


def snake(rng: random.Random, n: int = 2) -> str:
    return "_".join(words(rng, n))


def camel(parts: list[str]) -> str:
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def pascal(parts: list[str]) -> str:
    return "".join(p.capitalize() for p in parts)


def sentence(rng: random.Random, lo: int = 4, hi: int = 12) -> str:
    s = " ".join(words(rng, rng.randint(lo, hi)))
    return s[0].upper() + s[1:]


def timestamp(rng: random.Random) -> str:
    return (
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z"
    )


VOCAB = (  # noqa: SIM905
    "account active adapter address agent alert allocate analyze append apply archive array "
    "asset attach attempt backend balance batch bind block body bucket buffer build bundle "
    "cache call cancel capacity channel check child chunk client close cluster code collect "
    "column commit compare config connect consumer container content context convert copy count "
    "create cursor customer data debug decode default delete deploy detect device dispatch "
    "document domain driver dump element emit enable encode engine entry error event expand "
    "export extract factory fetch field file filter flag flush format frame handler hash header "
    "health index init input insert instance item job label layer limit line link list load "
    "local lock log lookup manager map match merge message meta metric mode model module "
    "monitor mount name node notify number object offset option order output owner package page "
    "parse partition patch path payload peer pending pipeline plan plugin policy pool port post "
    "prefix process profile project provider proxy publish query queue range rate reader record "
    "reduce region registry release remote render replica report request reset resolve resource "
    "response result retry revision role route rule runner sample schedule schema scope search "
    "segment select sender server service session shard signal size snapshot source span spec "
    "stage state status storage store stream subject summary sync table tag target task "
    "template tenant text thread timeout timer trace tracker transform update upload user value "
    "version view volume watch worker workflow writer zone key keys tokens tokenizer"
).split()

# ---------------------------------------------------------------------------------------------
# filler: pools of realistic blocks per file type (each block ends with a newline)


def _value(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return str(rng.randint(0, 65535))
    if r < 0.45:
        return rng.choice(["true", "false"])
    if r < 0.6:
        return f"https://{rng.choice(VOCAB)}.example.com/{'/'.join(words(rng, 2))}"
    if r < 0.7:
        return f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
    return "-".join(words(rng, rng.randint(1, 3)))


def py_block(rng: random.Random) -> str:
    fn, var, item, acc = snake(rng), snake(rng, 1), snake(rng, 1), snake(rng, 1) + "s"
    r = rng.random()
    if r < 0.15:
        mods = rng.sample(["os", "sys", "json", "logging", "re", "time", "typing", "pathlib"], 3)
        return (
            "".join(f"import {m}\n" for m in mods)
            + f"from .{snake(rng, 1)} import {pascal(words(rng, 2))}\n\n"
        )
    if r < 0.35:
        cls = pascal(words(rng, 2))
        return (
            f"class {cls}({pascal(words(rng, 1))}):\n"
            f'    """{sentence(rng)}."""\n\n'
            f"    def __init__(self, {var}: str, {item}: int = {rng.randint(0, 100)}) -> None:\n"
            f"        self.{var} = {var}\n"
            f"        self._{item} = {item}\n"
            f"        self.{acc} = []  # {sentence(rng, 3, 8).lower()}\n\n"
        )
    return (
        f"def {fn}({var}, {item}=None):\n"
        f'    """{sentence(rng)}."""\n'
        f"    {acc} = []\n"
        f"    for {item} in {var}.{snake(rng)}():\n"
        f"        if {item}.{snake(rng, 1)} is None:\n"
        f'            log.debug("{sentence(rng, 3, 7).lower()}: %s", {item})\n'
        f"            continue\n"
        f"        {acc}.append({item}.{snake(rng, 1)})\n"
        f"    return {acc}\n\n\n"
    )


def go_block(rng: random.Random) -> str:
    typ, typ2, fn = pascal(words(rng, 2)), pascal(words(rng, 1)), pascal(words(rng, 2))
    arg, var, fld = camel(words(rng, 1)), camel(words(rng, 2)), camel(words(rng, 1))
    if rng.random() < 0.25:
        return (
            f"// {typ} {sentence(rng).lower()}.\n"
            f"type {typ} struct {{\n"
            f'\t{pascal(words(rng, 1))} string `json:"{snake(rng, 1)}"`\n'
            f'\t{pascal(words(rng, 2))} int    `json:"{snake(rng, 2)},omitempty"`\n'
            f"\t{fld} *{typ2}\n"
            f"}}\n\n"
        )
    return (
        f"// {fn} {sentence(rng).lower()}.\n"
        f"func (s *{typ}) {fn}(ctx context.Context, {arg} string) (*{typ2}, error) {{\n"
        f"\t{var}, err := s.{fld}.{pascal(words(rng, 2))}(ctx, {arg})\n"
        f"\tif err != nil {{\n"
        f'\t\treturn nil, fmt.Errorf("{" ".join(words(rng, 3))}: %w", err)\n'
        f"\t}}\n"
        f"\treturn &{typ2}{{{pascal(words(rng, 1))}: {var}}}, nil\n"
        f"}}\n\n"
    )


def js_block(rng: random.Random) -> str:
    fn, arg, var = camel(words(rng, 2)), camel(words(rng, 1)), camel(words(rng, 2))
    if rng.random() < 0.2:
        return (
            f"import {{ {camel(words(rng, 2))}, {camel(words(rng, 1))} }} from "
            f"'./{'-'.join(words(rng, 2))}';\n"
            f"const {var} = require('{'-'.join(words(rng, 2))}');\n\n"
        )
    return (
        f"/**\n * {sentence(rng)}.\n * @param {{string}} {arg}\n */\n"
        f"export async function {fn}({arg}, options = {{}}) {{\n"
        f"  const {var} = await fetch(`${{BASE_URL}}/{'/'.join(words(rng, 2))}/${{{arg}}}`);\n"
        f"  if (!{var}.ok) {{\n"
        f"    throw new Error('{sentence(rng, 3, 6).lower()}');\n"
        f"  }}\n"
        f"  return {var}.json().then((r) => r.{camel(words(rng, 1))} ?? {_value(rng)!r});\n"
        f"}}\n\n"
    )


def java_block(rng: random.Random) -> str:
    typ, fn, arg, var = (
        pascal(words(rng, 2)),
        camel(words(rng, 2)),
        camel(words(rng, 1)),
        camel(words(rng, 2)),
    )
    return (
        f"    /**\n     * {sentence(rng)}.\n     */\n"
        f"    public {typ} {fn}(final String {arg}) throws {pascal(words(rng, 1))}Exception {{\n"
        f"        final List<{typ}> {var} = this.{camel(words(rng, 1))}Repository"
        f".findBy{pascal(words(rng, 1))}({arg});\n"
        f"        if ({var}.isEmpty()) {{\n"
        f'            LOG.warn("{sentence(rng, 3, 7).lower()} {{}}", {arg});\n'
        f"            return null;\n"
        f"        }}\n"
        f"        return {var}.get(0);\n"
        f"    }}\n\n"
    )


def yaml_block(rng: random.Random) -> str:
    lines = [f"{snake(rng)}:"]
    for _ in range(rng.randint(2, 7)):
        lines.append(f"  {snake(rng, rng.randint(1, 2))}: {_value(rng)}")
    if rng.random() < 0.2:
        lines.append(f"  # {sentence(rng).lower()}")
    return "\n".join(lines) + "\n"


def json_line(rng: random.Random) -> str:
    v = _value(rng)
    val = v if v.isdigit() or v in ("true", "false") else json.dumps(v)
    return f'  "{camel(words(rng, rng.randint(1, 3)))}": {val},\n'


def ini_block(rng: random.Random) -> str:
    lines = [f"[{snake(rng, 1)}]"]
    lines += [f"{snake(rng)} = {_value(rng)}" for _ in range(rng.randint(2, 6))]
    return "\n".join(lines) + "\n\n"


def toml_block(rng: random.Random) -> str:
    lines = [f"[{snake(rng, 1)}.{snake(rng, 1)}]"]
    for _ in range(rng.randint(2, 6)):
        v = _value(rng)
        lines.append(
            f"{snake(rng)} = {v if v.isdigit() or v in ('true', 'false') else json.dumps(v)}"
        )
    return "\n".join(lines) + "\n\n"


def properties_line(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return f"# {sentence(rng)}\n"
    return f"{'.'.join(words(rng, rng.randint(2, 4)))}={_value(rng)}\n"


def env_line(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return f"# {sentence(rng)}\n"
    return f"{snake(rng, rng.randint(1, 3)).upper()}={_value(rng)}\n"


def shell_block(rng: random.Random) -> str:
    return (
        f"# {sentence(rng)}\n"
        f'if [ -z "${{{snake(rng).upper()}:-}}" ]; then\n'
        f'  echo "{sentence(rng, 3, 6).lower()}" >&2\n'
        f"  {rng.choice(['exit 1', 'return 0'])}\n"
        f"fi\n"
        f'{snake(rng, 1)} --{"-".join(words(rng, 2))} "${{{snake(rng, 1).upper()}}}" '
        f"/var/lib/{snake(rng, 1)}\n\n"
    )


def dockerfile_block(rng: random.Random) -> str:
    pkgs = " ".join(words(rng, rng.randint(2, 5)))
    return (
        f"RUN apt-get update && apt-get install -y --no-install-recommends {pkgs} \\\n"
        f"    && rm -rf /var/lib/apt/lists/*\n"
        f"COPY {snake(rng, 1)}/ /opt/{snake(rng, 1)}/\n"
        f"ENV {snake(rng, 2).upper()}={_value(rng)}\n"
        f"WORKDIR /srv/{snake(rng, 1)}\n\n"
    )


def k8s_block(rng: random.Random) -> str:
    name = "-".join(words(rng, 2))
    return (
        f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
        f"  labels:\n    app.kubernetes.io/name: {name}\nspec:\n  replicas: {rng.randint(1, 5)}\n"
        f"  template:\n    spec:\n      containers:\n        - name: {name}\n"
        f"          image: registry.example.com/{name}:{rng.randint(1, 9)}.{rng.randint(0, 20)}\n"
        f"          env:\n"
        f'            - name: {snake(rng, 2).upper()}\n              value: "{_value(rng)}"\n'
        f"            - name: {snake(rng, 2).upper()}\n              valueFrom:\n"
        f"                configMapKeyRef:\n                  name: {name}-config\n"
        f"                  key: {snake(rng, 1)}\n"
    )


def log_line(rng: random.Random) -> str:
    level = rng.choices(["INFO", "DEBUG", "WARN", "ERROR"], [6, 3, 1, 1])[0]
    r = rng.random()
    if r < 0.5:
        status = rng.choice([200, 201, 204, 404, 500])
        tail = f"request_id={uuid(rng)} duration={rng.randint(1, 900)}ms status={status}"
    elif r < 0.8:
        method = rng.choice(["GET", "POST", "PUT"])
        tail = f"{'/'.join(words(rng, 3))} {method} bytes={rng.randint(0, 99999)}"
    else:
        tail = f"commit={rs(rng, HEX, 40)} {sentence(rng, 3, 6).lower()}"
    source = f"{rng.choice(VOCAB)}-{rng.choice(VOCAB)}"
    return f"{timestamp(rng)} {level} [{source}] {sentence(rng, 3, 8).lower()} {tail}\n"


def minified_chunk(rng: random.Random) -> str:
    a, b, c = (camel(words(rng, 2)) for _ in range(3))
    return rng.choice(
        [
            f'function {a}(e,t){{return e&&e.{b}?e.{b}(t):{c}(e,"{rng.choice(VOCAB)}")}}',
            f"var {a}={{{b}:{rng.randint(0, 999)},{c}:!{rng.randint(0, 1)}}};",
            f"{a}.prototype.{b}=function(e){{this.{c}.push(e);return this}};",
            f'if(!{a}({b}))throw new TypeError("{sentence(rng, 2, 5).lower()}");',
            f"const {a}=(e)=>e.map((t)=>t.{b}).filter(Boolean);",
        ]
    )


POOLS: dict[str, Callable[[random.Random], str]] = {
    "py": py_block,
    "go": go_block,
    "js": js_block,
    "java": java_block,
    "yaml": yaml_block,
    "json": json_line,
    "ini": ini_block,
    "toml": toml_block,
    "properties": properties_line,
    "env": env_line,
    "shell": shell_block,
    "dockerfile": dockerfile_block,
    "k8s": k8s_block,
    "log": log_line,
    "minjs": minified_chunk,
}

HEADERS: dict[str, Callable[[random.Random], str]] = {
    "py": lambda r: (
        f'"""{sentence(r)}."""\n\nfrom __future__ import annotations\n\nimport logging\n\n'
        "log = logging.getLogger(__name__)\n\n"
    ),
    "go": lambda r: (
        f"// Package {r.choice(VOCAB)} {sentence(r).lower()}.\npackage {r.choice(VOCAB)}\n\n"
        'import (\n\t"context"\n\t"fmt"\n)\n\n'
    ),
    "js": lambda r: (
        "'use strict';\n\nconst BASE_URL = process.env.BASE_URL || 'http://localhost:8080';\n\n"
    ),
    "java": lambda r: (
        f"package com.example.{r.choice(VOCAB)};\n\nimport java.util.List;\n\n"
        f"public class {pascal(words(r, 2))} {{\n\n"
    ),
    "json": lambda r: "{\n",
    "shell": lambda r: "#!/bin/sh\nset -eu\n\n",
    "dockerfile": lambda r: (
        f"FROM debian:12-slim@sha256:{rs(r, HEX, 64)}\n"
        f"ARG VERSION={r.randint(1, 9)}.{r.randint(0, 9)}\n\n"
    ),
}
FOOTERS: dict[str, Callable[[random.Random], str]] = {
    "java": lambda r: "}\n",
    "json": lambda r: f'  "{r.choice(VOCAB)}": null\n}}\n',
}

# share of text bytes per type, and (min, max) file size in bytes
TEXT_MIX: dict[str, tuple[float, int, int]] = {
    "py": (0.14, 2_000, 60_000),
    "go": (0.12, 2_000, 60_000),
    "js": (0.10, 2_000, 50_000),
    "java": (0.08, 2_000, 50_000),
    "yaml": (0.04, 500, 20_000),
    "json": (0.04, 500, 40_000),
    "ini": (0.01, 300, 8_000),
    "toml": (0.01, 300, 8_000),
    "properties": (0.01, 300, 8_000),
    "env": (0.01, 100, 3_000),
    "shell": (0.02, 500, 10_000),
    "dockerfile": (0.01, 300, 4_000),
    "k8s": (0.03, 1_000, 30_000),
    "log": (0.18, 50_000, 3_000_000),
    "minjs": (0.08, 30_000, 1_500_000),
    "lock": (0.12, 20_000, 2_000_000),
}
TEXT_SHARE = 0.8  # the rest of the bytes are binaries


# ---------------------------------------------------------------------------------------------
# secret generators: one per rule id; each returns a Snippet placed into a carrier file


@dataclass
class Snippet:
    """Lines to insert into a file of type `carrier`; `lines[offset]` holds `value`."""

    carrier: str
    lines: list[str]
    offset: int
    value: str
    span: int = 1


Gen = Callable[[random.Random], Snippet]

ASSIGN_CARRIERS = [
    "env",
    "py",
    "go",
    "js",
    "java",
    "yaml",
    "json",
    "ini",
    "toml",
    "properties",
    "shell",
    "dockerfile",
    "log",
]


def assign(
    rng: random.Random, parts: list[str], value: str, carriers: list[str] | None = None
) -> Snippet:
    """`value` assigned to a variable named from `parts` in a random carrier's syntax."""
    carrier = rng.choice(carriers or ASSIGN_CARRIERS)
    up, sn = "_".join(parts).upper(), "_".join(parts)
    line = {
        "env": f"{up}={value}",
        "shell": f'export {up}="{value}"',
        "py": f'{rng.choice([up, sn])} = "{value}"',
        "go": f'\t{camel(parts)} := "{value}"',
        "js": f'const {camel(parts)} = "{value}";',
        "java": f'    private static final String {up} = "{value}";',
        "yaml": f"  {sn}: {value}" if rng.random() < 0.5 else f'  {sn}: "{value}"',
        "json": f'  "{camel(parts)}": "{value}",',
        "ini": f"{sn} = {value}",
        "toml": f'{sn} = "{value}"',
        "properties": f"{'.'.join(parts)}={value}",
        "dockerfile": f"ENV {up}={value}",
        "log": f"{timestamp(rng)} DEBUG [config] loaded settings {sn}={value}",
        "k8s": f'            - name: {up}\n              value: "{value}"',
    }[carrier]
    lines = line.split("\n")
    return Snippet(carrier, lines, len(lines) - 1, value)


def token_in_context(rng: random.Random, value: str, names: list[list[str]]) -> Snippet:
    """A self-identifying token: in an assignment, a k8s env value, a log line or an HTTP
    header in a shell script."""
    r = rng.random()
    if r < 0.05:  # moved into a long minified line by the writer
        return Snippet("minjs", [value], 0, value)
    if r < 0.1:
        return Snippet(
            "log",
            [
                f"{timestamp(rng)} DEBUG [http] outgoing request headers="
                f"{{'Authorization': 'Bearer {value}'}}"
            ],
            0,
            value,
        )
    if r < 0.18:
        return Snippet(
            "shell",
            [
                f'curl -fsS -H "Authorization: Bearer {value}" '
                f"https://api.example.com/v1/{rng.choice(VOCAB)}"
            ],
            0,
            value,
        )
    if r < 0.26:
        return assign(rng, rng.choice(names), value, ["k8s"])
    return assign(rng, rng.choice(names), value)


def pem_block(rng: random.Random, label: str, nbytes: int, head: bytes = b"") -> list[str]:
    body = b64(head + rng.randbytes(nbytes - len(head)))
    return (
        [f"-----BEGIN {label}-----"]
        + [body[i : i + 64] for i in range(0, len(body), 64)]
        + [f"-----END {label}-----"]
    )


def gen_private_key(rng: random.Random, encrypted: bool = False) -> Snippet:
    label, size, head = rng.choice(
        [
            ("RSA PRIVATE KEY", 1190, bytes.fromhex("308204a40201000282010100")),
            ("PRIVATE KEY", 1216, bytes.fromhex("308204be020100300d06092a864886f70d0101010500")),
            ("EC PRIVATE KEY", 121, bytes.fromhex("30770201010420")),
            ("OPENSSH PRIVATE KEY", 400, b"openssh-key-v1\x00"),
            ("DSA PRIVATE KEY", 440, bytes.fromhex("308201bb02010002818100")),
        ]
    )
    if encrypted:
        label, size, head = "ENCRYPTED PRIVATE KEY", 1298, bytes.fromhex("3082050e304006092a")
    lines = pem_block(rng, label, size, head)
    r = rng.random()
    if r < 0.6:  # a key file of its own
        return Snippet("pem", lines, 0, lines[0], len(lines))
    if r < 0.8:  # a YAML block scalar
        name = rng.choice(["tls_key", "private_key", "signing_key", "ssh_key"])
        # the key line counts too: YAML-aware scanners report a block scalar there
        return Snippet(
            "yaml",
            [f"  {name}: |", *("    " + x for x in lines)],
            0,
            f"  {name}: |",
            len(lines) + 1,
        )
    var = rng.choice(["PRIVATE_KEY", "SIGNING_KEY", "DEPLOY_KEY"])  # a Python triple-quoted string
    return Snippet(
        "py",
        [f'{var} = """{lines[0]}', *lines[1:], '"""'],
        0,
        f'{var} = """{lines[0]}',
        len(lines),
    )


def gen_pgp_key(rng: random.Random) -> Snippet:
    body = b64(b"\x95\x03\xc6\x04" + rng.randbytes(900))
    lines = [
        "-----BEGIN PGP PRIVATE KEY BLOCK-----",
        "Comment: GnuPG v2",
        "",
        *(body[i : i + 64] for i in range(0, len(body), 64)),
        "=" + rs(rng, B64, 4),
        "-----END PGP PRIVATE KEY BLOCK-----",
    ]
    return Snippet("asc", lines, 0, lines[0], len(lines))


def gen_putty_key(rng: random.Random) -> Snippet:
    public, private = b64(rng.randbytes(279)), b64(rng.randbytes(660))
    pub = [public[i : i + 64] for i in range(0, len(public), 64)]
    priv = [private[i : i + 64] for i in range(0, len(private), 64)]
    lines = [
        "PuTTY-User-Key-File-2: ssh-rsa",
        "Encryption: none",
        f"Comment: rsa-key-2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
        f"Public-Lines: {len(pub)}",
        *pub,
        f"Private-Lines: {len(priv)}",
        *priv,
        f"Private-MAC: {rs(rng, HEX, 40)}",
    ]
    return Snippet("ppk", lines, 0, lines[0], len(lines))


def gen_jwt(rng: random.Random, payload: dict[str, object] | None = None) -> str:
    compact = payload is not None
    header = {"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}
    body = payload or {
        "sub": uuid(rng),
        "iss": f"https://{rng.choice(VOCAB)}.example.com",
        "iat": rng.randint(1_600_000_000, 1_700_000_000),
        "scope": " ".join(words(rng, 2)),
    }
    sep = (",", ":") if compact else (", ", ": ")
    return (
        f"{b64url(json.dumps(header, separators=sep).encode())}."
        f"{b64url(json.dumps(body, separators=sep).encode())}."
        f"{b64url(rng.randbytes(256 if compact else 32))}"
    )


def gen_sa_token(rng: random.Random) -> str:
    """A Kubernetes (legacy) service account token: a JWT whose payload starts with `iss`."""
    ns, name = rng.choice(VOCAB), "-".join(words(rng, 2))
    return gen_jwt(
        rng,
        {
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": ns,
            "kubernetes.io/serviceaccount/secret.name": f"{name}-token-{rs(rng, LOWER_ALNUM, 5)}",
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uuid(rng),
            "sub": f"system:serviceaccount:{ns}:{name}",
        },
    )


def password(rng: random.Random, n: int = 0) -> str:
    """A strong random password (none of quote, space, colon, @, slash, # or %)."""
    return mixed(rng, ALNUM + "!*-_.^", n or rng.randint(14, 24))


def url_password(rng: random.Random) -> str:
    """A strong random password that needs no percent-encoding in a URL."""
    return mixed(rng, ALNUM + "!*-_.~", rng.randint(14, 24))


def user(rng: random.Random) -> str:
    return rng.choice(["app", "svc", "deploy", "admin", "ci", "backup"]) + rng.choice(VOCAB)[:4]


def host(rng: random.Random) -> str:
    domain = rng.choice(["internal", "example.com", "svc.cluster.local"])
    return f"{rng.choice(VOCAB)}-{rng.randint(1, 9)}.{domain}"


def gen_db_url(rng: random.Random) -> Snippet:
    scheme, port = rng.choice(
        [
            ("postgres", 5432),
            ("postgresql", 5432),
            ("mysql", 3306),
            ("mongodb", 27017),
            ("mongodb+srv", 0),
            ("redis", 6379),
            ("amqp", 5672),
        ]
    )
    pw = url_password(rng)
    url = (
        f"{scheme}://{user(rng)}:{pw}@{host(rng)}"
        + (f":{port}" if port else "")
        + f"/{rng.choice(VOCAB)}"
    )
    names = [["database", "url"], ["db", "url"], ["dsn"], [scheme.split("+")[0], "url"]]
    return assign(rng, rng.choice(names), url)


def gen_netrc(rng: random.Random) -> Snippet:
    pw = url_password(rng)
    m = f"machine {host(rng)}"
    if rng.random() < 0.5:
        return Snippet("netrc", [f"{m} login {user(rng)} password {pw}"], 0, pw)
    return Snippet("netrc", [m, f"  login {user(rng)}", f"  password {pw}"], 2, pw)


def gen_pgpass(rng: random.Random) -> Snippet:
    pw = password(rng)
    return Snippet("pgpass", [f"{host(rng)}:5432:{rng.choice(VOCAB)}:{user(rng)}:{pw}"], 0, pw)


def gen_git_credentials(rng: random.Random) -> Snippet:
    secret = rng.choice(
        [url_password(rng), checksummed(rng, "ghp_"), "glpat-" + mixed(rng, B64URL, 20)]
    )
    h = rng.choice(["github.com", "gitlab.com", "bitbucket.org", "git.example.com"])
    return Snippet("gitcreds", [f"https://{user(rng)}:{secret}@{h}"], 0, secret)


def gen_npmrc(rng: random.Random) -> Snippet:
    tok = checksummed(rng, "npm_") if rng.random() < 0.5 else uuid(rng)
    reg = rng.choice(
        ["//registry.npmjs.org/", "//npm.pkg.github.com/", "//nexus.example.com/repository/npm/"]
    )
    return Snippet("npmrc", [f"registry=https:{reg}", f"{reg}:_authToken={tok}"], 1, tok)


def gen_npmrc_basic(rng: random.Random) -> Snippet:
    reg = "//nexus.example.com/repository/npm/"
    if rng.random() < 0.5:
        value = b64(f"{user(rng)}:{password(rng)}".encode())
        lines = [f"registry=https:{reg}", f"_auth={value}", "always-auth=true"]
    else:
        value = b64(password(rng).encode())
        lines = [f"{reg}:username={user(rng)}", f"{reg}:_password={value}"]
    return Snippet("npmrc", lines, 1, value)


def gen_docker_auth(rng: random.Random) -> Snippet:
    auth = b64(f"{user(rng)}:{password(rng)}".encode())
    reg = rng.choice(
        ["https://index.docker.io/v1/", "ghcr.io", "registry.example.com:5000", "quay.io"]
    )
    tail = "," if rng.random() < 0.3 else ""
    lines = ["{", '\t"auths": {', f'\t\t"{reg}": {{', f'\t\t\t"auth": "{auth}"{tail}']
    if tail:
        lines.append(f'\t\t\t"email": "{user(rng)}@example.com"')
    lines += ["\t\t}", "\t}", "}"]
    return Snippet("dockercfg", lines, 3, auth)


def gen_kubeconfig(rng: random.Random, mode: str) -> Snippet:
    """A kubeconfig whose user authenticates by client key (`key`), bearer token (`token`) or
    whose client certificate is inline (`cert`)."""
    if mode == "cert":
        value = b64(
            "\n".join(pem_block(rng, "CERTIFICATE", 800, bytes.fromhex("30820322"))).encode()
        )
        line = f"    client-certificate-data: {value}"
    elif mode == "key":
        pem = pem_block(rng, "RSA PRIVATE KEY", 1190, bytes.fromhex("308204a40201000282010100"))
        value = b64("\n".join(pem).encode())
        line = f"    client-key-data: {value}"
    else:
        value = rng.choice([gen_jwt(rng), f"{rs(rng, LOWER_ALNUM, 6)}.{rs(rng, LOWER_ALNUM, 16)}"])
        line = f"    token: {value}"
    name = rng.choice(VOCAB)
    lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- cluster:",
        f"    certificate-authority-data: {b64(rng.randbytes(60))}",
        f"    server: https://{host(rng)}:6443",
        f"  name: {name}",
        "contexts:",
        "- context:",
        f"    cluster: {name}",
        f"    user: {name}-admin",
        f"  name: {name}",
        f"current-context: {name}",
        "users:",
        f"- name: {name}-admin",
        "  user:",
        line,
    ]
    return Snippet("kubeconfig", lines, len(lines) - 1, value)


def gen_gcp_sa(rng: random.Random) -> Snippet:
    pem = pem_block(
        rng, "PRIVATE KEY", 1216, bytes.fromhex("308204be020100300d06092a864886f70d0101010500")
    )
    key = "\\n".join(pem) + "\\n"
    proj = f"{rng.choice(VOCAB)}-{rng.randint(100000, 999999)}"
    line = f'  "private_key": "{key}",'
    lines = [
        "{",
        '  "type": "service_account",',
        f'  "project_id": "{proj}",',
        f'  "private_key_id": "{rs(rng, HEX, 40)}",',
        line,
        f'  "client_email": "{rng.choice(VOCAB)}@{proj}.iam.gserviceaccount.com",',
        f'  "client_id": "{rng.randint(10**20, 10**21)}",',
        '  "token_uri": "https://oauth2.googleapis.com/token"',
        "}",
    ]
    return Snippet("gcp-sa", lines, 4, line)


def gen_azure_storage(rng: random.Random) -> Snippet:
    key = b64(rng.randbytes(64))
    cs = (
        f"DefaultEndpointsProtocol=https;AccountName={rng.choice(VOCAB)}{rng.randint(10, 99)};"
        f"AccountKey={key};EndpointSuffix=core.windows.net"
    )
    names = [["azure", "storage", "connection", "string"], ["storage", "connection"]]
    return assign(rng, rng.choice(names), cs)


def gen_azure_shared_access(rng: random.Random) -> Snippet:
    cs = (
        f"Endpoint=sb://{rng.choice(VOCAB)}-bus.servicebus.windows.net/;"
        f"SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={b64(rng.randbytes(32))}"
    )
    return assign(rng, rng.choice([["servicebus", "connection"], ["eventhub", "connection"]]), cs)


def gen_azure_sas(rng: random.Random) -> Snippet:
    sig = b64(rng.randbytes(32)).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    url = (
        f"https://{rng.choice(VOCAB)}{rng.randint(10, 99)}.blob.core.windows.net/"
        f"{rng.choice(VOCAB)}"
        f"?sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2025-0{rng.randint(1, 9)}-01T00:00:00Z"
        f"&st=2024-01-01T00:00:00Z&spr=https&sig={sig}"
    )
    return assign(rng, rng.choice([["azure", "sas", "url"], ["blob", "url"]]), url)


def gen_twilio_credentials(rng: random.Random) -> Snippet:
    sid, tok = "AC" + rs(rng, HEX, 32), rs(rng, HEX, 32)
    carrier, line = rng.choice(
        [
            ("py", f'twilio_client = Client("{sid}", "{tok}")'),
            ("js", f"const client = twilio('{sid}', '{tok}');"),
            ("log", f"{timestamp(rng)} DEBUG [sms] twilio credentials {sid}:{tok}"),
        ]
    )
    return Snippet(carrier, [line], 0, tok)


def gen_auth_header(rng: random.Random, scheme: str) -> Snippet:
    if scheme == "Basic":
        value = b64(f"{user(rng)}:{password(rng)}".encode())
    else:
        value = mixed(rng, ALNUM + "-._~", rng.randint(32, 64))
    carrier, line = rng.choice(
        [
            ("shell", f'curl -fsS -H "Authorization: {scheme} {value}" https://{host(rng)}/api'),
            (
                "log",
                f"{timestamp(rng)} DEBUG [http] headers={{'Authorization': '{scheme} {value}'}}",
            ),
            ("yaml", f"    Authorization: {scheme} {value}"),
        ]
    )
    return Snippet(carrier, [line], 0, value)


def gen_xml_password(rng: random.Random) -> Snippet:
    pw = password(rng)
    lines = [
        "<settings>",
        "  <servers>",
        "    <server>",
        f"      <id>{rng.choice(VOCAB)}-releases</id>",
        f"      <username>{user(rng)}</username>",
        f"      <password>{pw}</password>",
        "    </server>",
        "  </servers>",
        "</settings>",
    ]
    return Snippet("mvnsettings", lines, 5, pw)


def gen_htpasswd(rng: random.Random) -> Snippet:
    salt_chars = "./" + ALNUM
    value = rng.choice(
        [
            f"$apr1${rs(rng, salt_chars, 8)}${rs(rng, salt_chars, 22)}",
            f"$2y$10${rs(rng, salt_chars, 53)}",
        ]
    )
    return Snippet("htpasswd", [f"{user(rng)}:{value}"], 0, value)


def gen_shadow(rng: random.Random) -> Snippet:
    salt_chars = "./" + ALNUM
    value = f"$6${rs(rng, salt_chars, 16)}${rs(rng, salt_chars, 86)}"
    lines = [
        f"root:{value}:19{rng.randint(100, 999)}:0:99999:7:::",
        "daemon:*:19000:0:99999:7:::",
        "bin:*:19000:0:99999:7:::",
        "nobody:*:19000:0:99999:7:::",
    ]
    return Snippet("shadow", lines, 0, value)


def simple(value: Callable[[random.Random], str], *names: str) -> Gen:
    """A self-identifying token in a random context, assigned to one of `names` (snake case)."""
    parts = [n.split("_") for n in names]
    return lambda rng: token_in_context(rng, value(rng), parts)


def contextual(value: Callable[[random.Random], str], *names: str, k8s: bool = False) -> Gen:
    """A value that is only a secret next to its name: always in an assignment."""
    parts = [n.split("_") for n in names]
    carriers = [*ASSIGN_CARRIERS, "k8s"] if k8s else None
    return lambda rng: assign(rng, rng.choice(parts), value(rng), carriers)


def hexs(n: int) -> Callable[[random.Random], str]:
    return lambda r: rs(r, HEX, n)


def tok(
    prefix: str, n: int, alphabet: str = ALNUM, suffix: str = ""
) -> Callable[[random.Random], str]:
    """`prefix` + `n` random characters of `alphabet` (+ `suffix`)."""
    return lambda r: prefix + mixed(r, alphabet, n) + suffix


B64URL_ALNUM_ = ALNUM + "_-"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"

GENERATORS: dict[str, Gen] = {
    # AWS
    "aws-access-key-id": simple(
        lambda r: "AKIA" + rs(r, string.ascii_uppercase + "234567", 16), "aws_access_key_id"
    ),
    "aws-secret-access-key": contextual(
        lambda r: mixed(r, B64, 40), "aws_secret_access_key", "aws_secret_key"
    ),
    "aws-session-token": contextual(
        lambda r: "FwoGZXIvYXdzE" + mixed(r, B64, 300), "aws_session_token", "aws_security_token"
    ),
    "aws-mws-auth-token": simple(lambda r: "amzn.mws." + uuid(r), "mws_auth_token"),
    # Google Cloud
    "gcp-service-account": gen_gcp_sa,
    "gcp-api-key": simple(tok("AIza", 35, B64URL), "google_api_key", "firebase_api_key"),
    "gcp-oauth-client-secret": simple(tok("GOCSPX-", 28, B64URL), "google_client_secret"),
    "gcp-oauth-access-token": simple(tok("ya29.", 150, B64URL), "google_access_token"),
    # Azure
    "azure-storage-account-key": gen_azure_storage,
    "azure-shared-access-key": gen_azure_shared_access,
    "azure-ad-client-secret": simple(
        lambda r: rs(r, ALNUM, 3) + str(r.randint(0, 9)) + "Q~" + mixed(r, ALNUM + "_~.-", 34),
        "azure_client_secret",
    ),
    "azure-sas-token": gen_azure_sas,
    # GitHub
    "github-pat": simple(lambda r: checksummed(r, "ghp_"), "github_token", "gh_token"),
    "github-fine-grained-pat": simple(
        lambda r: f"github_pat_{mixed(r, ALNUM, 22)}_{mixed(r, ALNUM, 59)}", "github_token"
    ),
    "github-oauth": simple(lambda r: checksummed(r, "gho_"), "github_oauth_token"),
    "github-app-token": simple(
        lambda r: checksummed(r, r.choice(["ghs_", "ghu_"])), "github_app_token"
    ),
    "github-refresh-token": simple(lambda r: checksummed(r, "ghr_", 70), "github_refresh_token"),
    # GitLab
    "gitlab-pat": simple(tok("glpat-", 20, B64URL), "gitlab_token"),
    "gitlab-runner-registration-token": simple(tok("GR1348941", 20, B64URL), "registration_token"),
    "gitlab-runner-auth-token": simple(tok("glrt-", 20, B64URL), "runner_token"),
    "gitlab-ci-job-token": simple(
        lambda r: f"glcbt-{rs(r, ALNUM, 2)}_{mixed(r, B64URL, 20)}", "ci_job_token"
    ),
    "gitlab-deploy-token": simple(tok("gldt-", 20, B64URL), "gitlab_deploy_token"),
    "gitlab-pipeline-trigger-token": simple(lambda r: "glptt-" + rs(r, HEX, 40), "trigger_token"),
    "gitlab-oauth-app-secret": simple(tok("gloas-", 64, B64URL), "gitlab_oauth_secret"),
    "gitlab-feed-token": simple(tok("glft-", 20, B64URL), "gitlab_feed_token"),
    "gitlab-agent-token": simple(tok("glagent-", 50, B64URL), "gitlab_agent_token"),
    # Slack
    "slack-bot-token": simple(
        lambda r: (
            f"xoxb-{r.randint(10**10, 10**12)}-{r.randint(10**10, 10**12)}-{mixed(r, ALNUM, 24)}"
        ),
        "slack_bot_token",
    ),
    "slack-user-token": simple(
        lambda r: (
            f"xoxp-{r.randint(10**10, 10**12)}-{r.randint(10**10, 10**12)}-"
            f"{r.randint(10**11, 10**12)}-{rs(r, HEX, 32)}"
        ),
        "slack_user_token",
    ),
    "slack-workspace-token": simple(tok("xoxa-2-", 40), "slack_workspace_token"),
    "slack-refresh-token": simple(tok("xoxr-1-", 40), "slack_refresh_token"),
    "slack-app-token": simple(
        lambda r: f"xapp-1-A{rs(r, UPPER_ALNUM, 10)}-{r.randint(10**12, 10**13)}-{rs(r, HEX, 64)}",
        "slack_app_token",
    ),
    "slack-webhook-url": simple(
        lambda r: (
            "https://hooks.slack.com/services/"
            f"T{rs(r, UPPER_ALNUM, 8)}/B{rs(r, UPPER_ALNUM, 10)}/{mixed(r, ALNUM, 24)}"
        ),
        "slack_webhook_url",
    ),
    "slack-workflow-webhook-url": simple(
        lambda r: (
            "https://hooks.slack.com/workflows/"
            f"T{rs(r, UPPER_ALNUM, 9)}/A{rs(r, UPPER_ALNUM, 10)}/"
            f"{r.randint(10**17, 10**18)}/{mixed(r, ALNUM, 32)}"
        ),
        "slack_workflow_url",
    ),
    # payments
    "stripe-secret-key": simple(
        lambda r: r.choice(["sk_live_", "rk_live_"]) + mixed(r, ALNUM, r.choice([24, 99])),
        "stripe_secret_key",
    ),
    "stripe-test-key": simple(tok("sk_test_", 24), "stripe_test_key"),
    "stripe-webhook-secret": simple(tok("whsec_", 32), "stripe_webhook_secret"),
    "square-access-token": simple(
        lambda r: r.choice(["sq0atp-" + mixed(r, B64URL, 22), "EAAA" + mixed(r, B64URL, 60)]),
        "square_access_token",
    ),
    "square-oauth-secret": simple(tok("sq0csp-", 43, B64URL), "square_oauth_secret"),
    "braintree-access-token": contextual(
        lambda r: f"access_token$production${rs(r, LOWER_ALNUM, 16)}${rs(r, HEX, 32)}",
        "braintree_access_token",
    ),
    # communication
    "twilio-api-key": contextual(lambda r: "SK" + rs(r, HEX, 32), "twilio_api_key"),
    "twilio-auth-token": contextual(hexs(32), "twilio_auth_token"),
    "twilio-account-credentials": gen_twilio_credentials,
    "sendgrid-api-key": simple(
        lambda r: f"SG.{mixed(r, B64URL, 22)}.{mixed(r, B64URL, 43)}", "sendgrid_api_key"
    ),
    "mailgun-api-key": contextual(lambda r: "key-" + rs(r, HEX, 32), "mailgun_api_key"),
    "mailchimp-api-key": simple(
        lambda r: f"{rs(r, HEX, 32)}-us{r.randint(1, 21)}", "mailchimp_api_key"
    ),
    "discord-bot-token": contextual(
        lambda r: (
            f"{r.choice('MNO')}{mixed(r, ALNUM, 24)}.{mixed(r, B64URL, 6)}.{mixed(r, B64URL, 38)}"
        ),
        "discord_bot_token",
    ),
    "discord-webhook-url": simple(
        lambda r: (
            f"https://discord.com/api/webhooks/{r.randint(10**17, 10**18)}/{mixed(r, B64URL, 68)}"
        ),
        "discord_webhook_url",
    ),
    "telegram-bot-token": simple(
        lambda r: f"{r.randint(10**8, 10**9)}:AA{mixed(r, B64URL, 33)}", "telegram_bot_token"
    ),
    "firebase-cloud-messaging-key": simple(
        lambda r: f"AAAA{mixed(r, B64URL, 7)}:APA91b{mixed(r, B64URL, 134)}", "fcm_server_key"
    ),
    "facebook-access-token": simple(tok("EAAB", 150), "facebook_access_token"),
    "twitter-bearer-token": contextual(
        lambda r: "A" * 21 + mixed(r, ALNUM, 80), "twitter_bearer_token"
    ),
    "twitter-api-secret": contextual(lambda r: mixed(r, ALNUM, 50), "twitter_api_secret"),
    "linkedin-client-secret": contextual(lambda r: mixed(r, ALNUM, 16), "linkedin_client_secret"),
    # package registries and build tools
    "npm-access-token": simple(lambda r: checksummed(r, "npm_"), "npm_token"),
    "npmrc-auth-token": gen_npmrc,
    "npmrc-basic-auth": gen_npmrc_basic,
    "pypi-upload-token": simple(
        tok("pypi-AgEIcHlwaS5vcmc", 70, B64URL), "pypi_token", "twine_password"
    ),
    "pypi-test-upload-token": simple(
        tok("pypi-AgENdGVzdC5weXBpLm9yZw", 70, B64URL), "testpypi_token"
    ),
    "rubygems-api-key": simple(lambda r: "rubygems_" + rs(r, HEX, 48), "gem_host_api_key"),
    "nuget-api-key": simple(tok("oy2", 43, LOWER_ALNUM), "nuget_api_key"),
    "docker-config-auth": gen_docker_auth,
    "dockerhub-pat": simple(tok("dckr_pat_", 27, B64URL), "docker_hub_token"),
    "jfrog-api-key": simple(tok("AKCp", 69), "artifactory_api_key"),
    "jfrog-identity-token": simple(tok("cmVmdGtuOjAxOj", 60), "jfrog_access_token"),
    # Kubernetes and JWTs
    "kubeconfig-credential": lambda r: gen_kubeconfig(r, r.choice(["key", "token"])),
    "kubeconfig-client-certificate": lambda r: gen_kubeconfig(r, "cert"),
    "kubernetes-service-account-token": simple(gen_sa_token, "kube_token", "service_account_token"),
    "jwt": simple(gen_jwt, "id_token", "access_token", "jwt"),
    "kubernetes-env-secret-value": lambda r: assign(
        r,
        r.choice([["db", "password"], ["api", "token"], ["client", "secret"]]),
        password(r, 20),
        ["k8s"],
    ),
    # private keys
    "private-key": gen_private_key,
    "private-key-encrypted": lambda r: gen_private_key(r, encrypted=True),
    "pgp-private-key": gen_pgp_key,
    "putty-private-key": gen_putty_key,
    "age-secret-key": simple(lambda r: "AGE-SECRET-KEY-1" + rs(r, BECH32, 58), "sops_age_key"),
    # URLs and dot files
    "database-url-password": gen_db_url,
    "netrc-password": gen_netrc,
    "pgpass-password": gen_pgpass,
    "git-credentials": gen_git_credentials,
    "htpasswd-hash": gen_htpasswd,
    "linux-shadow-password-hash": gen_shadow,
    # infrastructure
    "vault-service-token": simple(tok("hvs.", 90, B64URL), "vault_token"),
    "vault-batch-token": simple(tok("hvb.", 120, B64URL), "vault_token"),
    "vault-legacy-token": contextual(tok("s.", 24), "vault_token"),
    "terraform-cloud-token": simple(
        lambda r: f"{mixed(r, ALNUM, 14)}.atlasv1.{mixed(r, ALNUM, 67)}", "tfe_token"
    ),
    "pulumi-access-token": simple(lambda r: "pul-" + rs(r, HEX, 40), "pulumi_access_token"),
    "digitalocean-pat": simple(lambda r: "dop_v1_" + rs(r, HEX, 64), "digitalocean_token"),
    "digitalocean-oauth-token": simple(lambda r: "doo_v1_" + rs(r, HEX, 64), "do_oauth_token"),
    "digitalocean-refresh-token": simple(lambda r: "dor_v1_" + rs(r, HEX, 64), "do_refresh_token"),
    "heroku-api-key": simple(tok("HRKU-AA", 58, B64URL), "heroku_api_key"),
    "heroku-api-key-legacy": contextual(uuid, "heroku_api_key"),
    "cloudflare-api-token": contextual(
        lambda r: mixed(r, B64URL, 40), "cloudflare_api_token", "cf_api_token"
    ),
    "cloudflare-global-api-key": contextual(hexs(37), "cloudflare_api_key", "cf_api_key"),
    "alibaba-access-key-id": simple(tok("LTAI", 20), "alibaba_access_key_id"),
    "alibaba-access-key-secret": contextual(
        lambda r: mixed(r, ALNUM, 30), "alibaba_cloud_access_key_secret", "aliyun_secret"
    ),
    "databricks-token": simple(lambda r: "dapi" + rs(r, HEX, 32), "databricks_token"),
    "planetscale-token": simple(tok("pscale_tkn_", 43, ALNUM + "_"), "planetscale_service_token"),
    "planetscale-password": simple(tok("pscale_pw_", 43, ALNUM + "_"), "planetscale_db_password"),
    "supabase-access-token": simple(lambda r: "sbp_" + rs(r, HEX, 40), "supabase_access_token"),
    "tailscale-key": simple(
        lambda r: f"tskey-auth-{mixed(r, ALNUM, 12)}-{mixed(r, ALNUM, 33)}", "ts_authkey"
    ),
    "doppler-token": simple(tok("dp.pt.", 43), "doppler_token"),
    # SaaS developer and observability tools
    "atlassian-api-token": simple(tok("ATATT3", 186, B64URL), "atlassian_api_token"),
    "atlassian-api-token-legacy": contextual(
        lambda r: mixed(r, ALNUM, 24), "jira_api_token", "confluence_token"
    ),
    "okta-api-token": contextual(tok("00", 40, B64URL), "okta_api_token"),
    "datadog-api-key": contextual(hexs(32), "dd_api_key", "datadog_api_key"),
    "datadog-app-key": contextual(hexs(40), "dd_app_key", "datadog_application_key"),
    "new-relic-user-api-key": simple(
        lambda r: "NRAK-" + mixed(r, UPPER_ALNUM, 27), "new_relic_api_key"
    ),
    "new-relic-insert-key": simple(tok("NRII-", 32, B64URL), "new_relic_insert_key"),
    "new-relic-license-key": simple(lambda r: rs(r, HEX, 36) + "NRAL", "new_relic_license_key"),
    "sentry-dsn-secret": simple(
        lambda r: (
            f"https://{rs(r, HEX, 32)}:{rs(r, HEX, 32)}@o{r.randint(10**5, 10**6)}"
            f".ingest.sentry.io/{r.randint(10**6, 10**7)}"
        ),
        "sentry_dsn",
    ),
    "sentry-user-token": simple(lambda r: "sntryu_" + rs(r, HEX, 64), "sentry_auth_token"),
    "grafana-cloud-token": simple(lambda r: "glc_" + b64(r.randbytes(60)), "grafana_cloud_token"),
    "grafana-service-account-token": simple(
        lambda r: f"glsa_{mixed(r, ALNUM, 32)}_{rs(r, HEX, 8)}", "grafana_sa_token"
    ),
    "grafana-api-key": simple(tok("eyJrIjoi", 72), "grafana_api_key"),
    "dynatrace-api-token": simple(
        lambda r: f"dt0c01.{rs(r, UPPER_ALNUM, 24)}.{rs(r, UPPER_ALNUM, 64)}", "dt_api_token"
    ),
    "linear-api-key": simple(tok("lin_api_", 40), "linear_api_key"),
    "postman-api-key": simple(
        lambda r: f"PMAK-{rs(r, HEX, 24)}-{rs(r, HEX, 34)}", "postman_api_key"
    ),
    "shopify-access-token": simple(
        lambda r: r.choice(["shpat_", "shpca_", "shppa_"]) + rs(r, HEX, 32), "shopify_token"
    ),
    "shopify-shared-secret": simple(lambda r: "shpss_" + rs(r, HEX, 32), "shopify_shared_secret"),
    "mapbox-secret-token": simple(
        lambda r: f"sk.eyJ1Ijoi{mixed(r, B64URL, 60)}.{mixed(r, B64URL, 22)}", "mapbox_token"
    ),
    # AI platforms
    "openai-api-key": simple(
        lambda r: f"sk-{mixed(r, ALNUM, 20)}T3BlbkFJ{mixed(r, ALNUM, 20)}", "openai_api_key"
    ),
    "openai-project-key": simple(tok("sk-proj-", 156, B64URL), "openai_api_key"),
    "anthropic-api-key": simple(tok("sk-ant-api03-", 93, B64URL, "AA"), "anthropic_api_key"),
    "huggingface-token": simple(tok("hf_", 34, string.ascii_letters), "hf_token"),
    # HTTP credentials
    "http-basic-auth-header": lambda r: gen_auth_header(r, "Basic"),
    "http-bearer-token": lambda r: gen_auth_header(r, "Bearer"),
    # generic assignments
    "generic-password": contextual(
        password, "password", "db_password", "admin_password", "smtp_password"
    ),
    "generic-secret": contextual(
        lambda r: mixed(r, ALNUM, 32), "client_secret", "app_secret", "secret_key"
    ),
    "generic-api-key": contextual(lambda r: mixed(r, ALNUM, 32), "api_key", "apikey"),
    "generic-token": contextual(
        lambda r: mixed(r, ALNUM + "-_", 40), "auth_token", "access_token", "token"
    ),
    "xml-password": gen_xml_password,
}

# ---------------------------------------------------------------------------------------------
# decoys: secret-looking values that are not secrets


def decoy_snippets(rng: random.Random) -> tuple[str, Snippet]:
    """One decoy, labelled with its kind."""
    kind = rng.choice(
        [
            "doc-example",
            "uuid",
            "git-sha",
            "sha256",
            "base64-blob",
            "placeholder",
            "placeholder",
            "test-value",
            "code-reference",
        ]
    )
    if kind == "doc-example":
        v = rng.choice(["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"])
        name = (
            ["aws", "access", "key", "id"]
            if v.startswith("AKIA")
            else ["aws", "secret", "access", "key"]
        )
        return kind, assign(rng, name, v)
    if kind == "uuid":
        return kind, assign(
            rng, rng.choice([["request", "id"], ["tenant", "id"], ["trace", "id"]]), uuid(rng)
        )
    if kind == "git-sha":
        return kind, assign(
            rng, rng.choice([["commit"], ["revision"], ["git", "sha"]]), rs(rng, HEX, 40)
        )
    if kind == "sha256":
        v = rs(rng, HEX, 64)
        if rng.random() < 0.3:
            return kind, Snippet("dockerfile", [f"FROM python:3.11-slim@sha256:{v}"], 0, v)
        return kind, assign(rng, rng.choice([["checksum"], ["sha256"], ["digest"]]), v)
    if kind == "base64-blob":
        v = b64(rng.randbytes(rng.choice([24, 48, 96])))
        return kind, assign(
            rng, rng.choice([["icon"], ["payload"], ["ca", "bundle"], ["nonce"]]), v
        )
    if kind == "placeholder":
        line, carrier = rng.choice(
            [
                ("password: changeme", "yaml"),
                ("  password: <password>", "yaml"),
                ("token=${TOKEN}", "env"),
                ("API_TOKEN=${API_TOKEN}", "env"),
                ('  "password": "<your-password-here>",', "json"),
                ("DB_PASSWORD=your-password-here", "env"),
                ('api_key = "YOUR_API_KEY"', "py"),
                ("  secret: {{ .Values.secret }}", "yaml"),
                ("password=********", "properties"),
                ('  token: "xxxxxxxxxxxxxxxxxxxxxxxx"', "yaml"),
                ('export AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"', "shell"),
                ("client_secret = REPLACE_ME", "ini"),
                ("  password: ${DB_PASSWORD}", "yaml"),
                ("spring.datasource.password=${SPRING_DATASOURCE_PASSWORD}", "properties"),
                ("DATABASE_URL=postgres://user:password@localhost:5432/app", "env"),
                ('const apiKey = process.env.API_KEY || "";', "js"),
            ]
        )
        return kind, Snippet(carrier, [line], 0, line)
    if kind == "test-value":
        line, carrier = rng.choice(
            [
                ('    password = "test"', "py"),
                ('api_key = "test-api-key"', "py"),
                ('token = "dummy-token-for-tests"', "py"),
                ('secret = "not-a-real-secret"', "toml"),
                ("AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX", "env"),
                ('\tpassword := "password123"', "go"),
                ('  "password": "hunter2",', "json"),
                ("GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "env"),
                ('const stripeKey = "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx";', "js"),
            ]
        )
        return kind, Snippet(carrier, [line], 0, line)
    line, carrier = rng.choice(
        [
            ('    token = request.headers.get("Authorization", "")', "py"),
            ("    password = getpass.getpass(prompt)", "py"),
            ("SECRET_KEY = os.environ['DJANGO_SECRET_KEY']", "py"),
            ('\tpassword := os.Getenv("DB_PASSWORD")', "go"),
            ("  const token = await getAccessToken(session.user);", "js"),
            ('        String password = System.getenv("APP_PASSWORD");', "java"),
            ("    secret_key = settings.SECRET_KEY", "py"),
            ("  password_hash: $2b$12$" + rs(rng, B64.replace("+", "."), 53), "yaml"),
        ]
    )
    return "code-reference", Snippet(carrier, [line], 0, line)


# ---------------------------------------------------------------------------------------------
# whole files


DEDICATED = {  # carrier -> path template of a file of its own
    "netrc": "home/{u}/.netrc",
    "pgpass": "home/{u}/.pgpass",
    "gitcreds": "home/{u}/.git-credentials",
    "npmrc": "home/{u}/.npmrc",
    "dockercfg": "home/{u}/.docker/config.json",
    "kubeconfig": "home/{u}/.kube/config",
    "pem": "etc/ssl/private/{u}.key",
    "gcp-sa": "srv/{u}/credentials/service-account.json",
    "asc": "home/{u}/.gnupg/{u}-private.asc",
    "ppk": "home/{u}/.ssh/{u}.ppk",
    "htpasswd": "srv/{u}/.htpasswd",
    "shadow": "var/lib/docker/overlay2/{u}/diff/etc/shadow",
    "mvnsettings": "home/{u}/.m2/settings.xml",
}


def lock_file(rng: random.Random, target: int) -> tuple[str, str]:
    """package-lock.json, poetry.lock or Cargo.lock text of about `target` bytes."""
    kind = rng.choice(["package-lock.json", "poetry.lock", "Cargo.lock"])
    out: list[str] = []
    size = 0
    if kind == "package-lock.json":
        out.append('{\n  "name": "app",\n  "lockfileVersion": 3,\n  "packages": {\n')
        while size < target:
            n = "-".join(words(rng, rng.randint(1, 2)))
            v = f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"
            s = (
                f'    "node_modules/{n}": {{\n      "version": "{v}",\n'
                f'      "resolved": "https://registry.npmjs.org/{n}/-/{n}-{v}.tgz",\n'
                f'      "integrity": "sha512-{b64(rng.randbytes(64))}",\n'
                f'      "license": "MIT"\n    }},\n'
            )
            out.append(s)
            size += len(s)
        out.append('    "": {}\n  }\n}\n')
    elif kind == "poetry.lock":
        while size < target:
            n = "-".join(words(rng, rng.randint(1, 2)))
            v = f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"
            s = (
                f'[[package]]\nname = "{n}"\nversion = "{v}"\ndescription = "{sentence(rng)}"\n'
                f'optional = false\npython-versions = ">=3.8"\nfiles = [\n'
                f'    {{file = "{n}-{v}-py3-none-any.whl", hash = "sha256:{rs(rng, HEX, 64)}"}},\n'
                f'    {{file = "{n}-{v}.tar.gz", hash = "sha256:{rs(rng, HEX, 64)}"}},\n]\n\n'
            )
            out.append(s)
            size += len(s)
    else:
        out.append("# This file is automatically @generated by Cargo.\nversion = 3\n\n")
        while size < target:
            n = "-".join(words(rng, rng.randint(1, 2)))
            s = (
                f'[[package]]\nname = "{n}"\n'
                f'version = "{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"\n'
                f'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
                f'checksum = "{rs(rng, HEX, 64)}"\n\n'
            )
            out.append(s)
            size += len(s)
    return kind, "".join(out)


def binary_file(rng: random.Random, size: int) -> tuple[str, bytes]:
    """Random bytes, an ELF-headed file with a string table, or a zip archive."""
    kind = rng.choice(["random", "elf", "zip"])
    if kind == "random":
        return kind, rng.randbytes(size)
    if kind == "elf":
        head = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00\x01\x00\x00\x00"
        strings = "\x00".join(
            rng.choice(
                [
                    f"{snake(rng)}",
                    f"runtime.{camel(words(rng, 2))}",
                    f"/usr/lib/{rng.choice(VOCAB)}.so",
                    f"go.buildid {rs(rng, B64URL, 40)}",
                    sentence(rng),
                ]
            )
            for _ in range(size // 400)
        ).encode()
        return kind, head + rng.randbytes(max(0, size - len(head) - len(strings))) + strings
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(rng.randint(2, 6)):
            info = zipfile.ZipInfo(
                f"{rng.choice(VOCAB)}/{i}.class", date_time=(2024, 1, 1, 0, 0, 0)
            )
            z.writestr(info, rng.randbytes(size // 6), compress_type=zipfile.ZIP_STORED)
    return kind, buf.getvalue()


@dataclass
class _TextFile:
    path: str
    ftype: str
    target: int
    snippets: list[tuple[str, Snippet, bool]] = field(default_factory=list)  # (kind, ..., secret?)


def rule_ids(rules_file: Path = RULES_FILE) -> list[str]:
    """The rule ids the rules file defines (all generator ids when the file is absent)."""
    if not rules_file.exists():
        return sorted(GENERATORS)
    body = yaml.safe_load(rules_file.read_text())
    return [r["id"] for r in body.get("rules", [])]


def _pool(rng: random.Random, ftype: str, n: int) -> list[str]:
    return [POOLS[ftype](rng) for _ in range(n)]


def generate(root: Path, size_mb: int = 200, seed: int = 1) -> GroundTruth:
    """Write the corpus under `root` (which must be empty or absent); return the ground truth."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    truth = GroundTruth(root=root, size_mb=size_mb, seed=seed)
    target = size_mb * MB
    ids = rule_ids()
    truth.rules_without_generator = [i for i in ids if i not in GENERATORS]
    planted_ids = [i for i in ids if i in GENERATORS]

    # 1. the text files, by type, up to their share of the bytes
    pools = {
        t: _pool(rng, t, 3000 if t not in ("json", "properties", "env", "log", "minjs") else 6000)
        for t in POOLS
    }
    files: list[_TextFile] = []
    apps = [f"{rng.choice(VOCAB)}-{rng.choice(VOCAB)}" for _ in range(max(4, size_mb // 4))]
    counter: Counter[str] = Counter()
    for ftype, (share, lo, hi) in TEXT_MIX.items():
        budget = int(target * TEXT_SHARE * share)
        while budget > 0:
            size = min(int(rng.triangular(lo, hi, lo + (hi - lo) / 5)), max(budget, lo))
            budget -= size
            counter[ftype] += 1
            app, n = rng.choice(apps), counter[ftype]
            name = f"{snake(rng)}_{n}"
            path = {
                "py": f"srv/{app}/src/{rng.choice(VOCAB)}/{name}.py",
                "go": f"srv/{app}/internal/{rng.choice(VOCAB)}/{name}.go",
                "js": f"srv/{app}/web/src/{name}.js",
                "java": f"srv/{app}/src/main/java/com/example/{rng.choice(VOCAB)}/"
                f"{pascal(name.split('_'))}.java",
                "yaml": f"srv/{app}/config/{name}.yaml",
                "json": f"srv/{app}/config/{name}.json",
                "ini": f"etc/{app}/{name}.ini",
                "toml": f"srv/{app}/{name}.toml",
                "properties": f"srv/{app}/src/main/resources/{name}.properties",
                "env": f"srv/{app}/{name}.env" if n % 3 else f"srv/{app}-{n}/.env",
                "shell": f"srv/{app}/scripts/{name}.sh",
                "dockerfile": f"srv/{app}-{n}/Dockerfile",
                "k8s": f"srv/{app}/deploy/k8s/{name}.yaml",
                "log": f"var/log/{app}/{name}.log",
                "minjs": f"srv/{app}/node_modules/{rng.choice(VOCAB)}-{n}/dist/"
                f"{rng.choice(VOCAB)}.min.js",
                "lock": f"srv/{app}-{n}/LOCK",
            }[ftype]
            files.append(_TextFile(path, ftype, size))

    # 2. secrets and decoys, placed into files of their carrier type
    by_type: dict[str, list[_TextFile]] = {}
    for f in files:
        by_type.setdefault(f.ftype, []).append(f)
    per_rule = max(1, round(size_mb * 3 / max(1, len(planted_ids))))
    snippets: list[tuple[str, Snippet, bool]] = []
    for rid in planted_ids:
        snippets += [(rid, GENERATORS[rid](rng), True) for _ in range(per_rule)]
    for _ in range(max(20, size_mb * 3)):
        kind, snip = decoy_snippets(rng)
        snippets.append((kind, snip, False))
    users = [f"{rng.choice(VOCAB)}{i}" for i in range(len(snippets))]
    for kind, snip, is_secret in snippets:
        if snip.carrier in DEDICATED:
            path = DEDICATED[snip.carrier].format(u=users.pop())
            files.append(_TextFile(path, snip.carrier, 0, [(kind, snip, is_secret)]))
            counter[snip.carrier] += 1
        else:
            rng.choice(by_type[snip.carrier]).snippets.append((kind, snip, is_secret))

    # 3. write the text files, counting lines to record where each snippet landed
    total = 0
    for f in files:
        if f.ftype == "lock":
            kind, text = lock_file(rng, f.target)
            f.path = f.path.replace("LOCK", kind)
            data = text.encode()
        else:
            data = _render(rng, f, pools, truth)
        out = root / f.path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        total += len(data)

    # 4. binaries fill the rest
    n = 0
    while total < target:
        size = min(int(rng.triangular(20_000, 4_000_000, 200_000)), max(target - total, 1024))
        kind, data = binary_file(rng, size)
        n += 1
        rel = {
            "random": f"opt/data/{rng.choice(VOCAB)}-{n}.bin",
            "elf": f"usr/bin/{rng.choice(VOCAB)}-{n}",
            "zip": f"srv/{rng.choice(apps)}/lib/{rng.choice(VOCAB)}-{n}.jar",
        }[kind]
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        counter["bin-" + kind] += 1
        total += len(data)

    truth.total_bytes = total
    truth.files = sum(counter.values())
    truth.file_types = dict(sorted(counter.items()))
    truth.planted.sort(key=lambda p: (p.path, p.line))
    truth.decoys.sort(key=lambda p: (p.path, p.line))
    truth.save()
    return truth


def _render(
    rng: random.Random,
    f: _TextFile,
    pools: dict[str, list[str]],
    truth: GroundTruth,
) -> bytes:
    """The text of `f`: header, filler blocks with the snippets between them, footer."""
    chunks: list[str | tuple[str, Snippet, bool]] = []
    if f.ftype in POOLS:
        blocks = pools[f.ftype]
        avg = sum(len(b) for b in blocks[:200]) / 200
        chunks += rng.choices(blocks, k=max(1, int(f.target / avg)))
    if f.ftype == "minjs":  # long lines: join the chunks into lines of 20-200 KB
        joined: list[str | tuple[str, Snippet, bool]] = []
        line: list[str] = []
        width = 0
        for c in chunks:
            assert isinstance(c, str)
            line.append(c)
            width += len(c)
            if width > rng.randint(20_000, 200_000):
                joined.append("".join(line) + "\n")
                line, width = [], 0
        joined.append("".join(line) + "\n")
        chunks = joined
    for kind, snip, is_secret in f.snippets:
        if f.ftype == "minjs":  # a secret inside a long minified line
            mid = "".join(rng.choices(pools["minjs"], k=200))
            half = len(mid) // 2
            var = camel(words(rng, 2))
            text = f'{mid[:half]}var {var}={{apiKey:"{snip.value}"}};{mid[half:]}'
            chunks.insert(
                rng.randint(0, len(chunks)),
                (kind, Snippet("minjs", [text], 0, snip.value), is_secret),
            )
        else:
            chunks.insert(rng.randint(0, len(chunks)), (kind, snip, is_secret))
    head = HEADERS[f.ftype](rng) if f.ftype in HEADERS else ""
    out = [head]
    line_no = 1 + head.count("\n")
    for c in chunks:
        if isinstance(c, str):
            out.append(c)
            line_no += c.count("\n")
            continue
        kind, snip, is_secret = c
        record = Planted(f.path, line_no + snip.offset, kind, snip.value, snip.carrier, snip.span)
        (truth.planted if is_secret else truth.decoys).append(record)
        out.append("\n".join(snip.lines) + "\n")
        line_no += len(snip.lines)
    if f.ftype in FOOTERS:
        out.append(FOOTERS[f.ftype](rng))
    return "".join(out).encode()


def sha256_of_tree(root: Path) -> str:
    """A digest of every path and byte under `root` (for determinism checks)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()
