"""Which installed packages are vulnerable: advisories matched exactly, every match explained.

For each ecosystem (and distro release, for OS packages) the inventory's package names are
looked up in one batch; each candidate advisory is then decided with the ecosystem's own
version scheme: OSV ranges (introduced / fixed / last_affected / limit) and explicit
version lists, the constraint expressions of RubySec, FriendsOfPHP and the Node WG, and
the distro trackers' "unfixed" state. Debian and Ubuntu advisories name source packages
and source versions, so dpkg packages are matched by their `Source:`; Alpine's secdb names
the origin package. Advisories that name the same problem (an id of one is an alias of
another: PYSEC and GHSA, DSA and its CVEs) are merged into one finding per package.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from kubeward.model import Finding, Inventory, Package, Severity
from kubeward.vulndb.model import Advisory, Affected, Range
from kubeward.vulndb.names import normalize
from kubeward.vulndb.severity import severity_of
from kubeward.vulndb.versions import InvalidConstraint, InvalidVersion, scheme_for

log = logging.getLogger(__name__)

OS_ECOSYSTEMS = frozenset({"deb", "apk", "rpm"})


class CandidateLike(Protocol):
    @property
    def advisory(self) -> Advisory: ...
    @property
    def affected(self) -> Affected: ...


class Lookup(Protocol):
    def lookup(
        self, ecosystem: str, distro: str | None, names: Iterable[str]
    ) -> dict[str, list[Any]]: ...


class NotComparable(Exception):
    """The installed version (or an advisory bound) cannot be read by the scheme."""


class _Versions:
    """Parsed-version cache for one scheme: each distinct version text is parsed once."""

    def __init__(self, scheme: ModuleType) -> None:
        self.scheme = scheme
        self.name = scheme.__name__.rsplit(".", 1)[1]
        self._keys: dict[str, Any] = {}
        self._satisfied: dict[tuple[str, str], bool | None] = {}
        # parsed, sorted events per OSV range (or the NotComparable they raised)
        self.prepared: dict[
            tuple[tuple[str, str], ...],
            tuple[list[tuple[Any, int, str, str]], list[Any]] | NotComparable,
        ] = {}

    def key(self, version: str) -> Any:
        try:
            key = self._keys[version]
        except KeyError:
            try:
                key = self.scheme.parse(version)
            except InvalidVersion:
                key = None
            self._keys[version] = key
        if key is None:
            raise NotComparable(version)
        return key

    def satisfies(self, version: str, expression: str) -> bool:
        cache_key = (version, expression)
        try:
            answer = self._satisfied[cache_key]
        except KeyError:
            try:
                answer = bool(self.scheme.satisfies(version, expression))
            except (InvalidVersion, InvalidConstraint, NotImplementedError, AttributeError):
                answer = None
            self._satisfied[cache_key] = answer
        if answer is None:
            raise NotComparable(version)
        return answer


@dataclass
class _Hit:
    """One advisory that affects one package."""

    advisory: Advisory
    affected_text: str
    fixed: str | None
    comparable: bool = True


def _is_zero(version: str) -> bool:
    return version in ("0", "")


_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 1, "limit": 2}


def _prepare_events(
    events: tuple[tuple[str, str], ...], versions: _Versions
) -> tuple[list[tuple[Any, int, str, str]], list[Any]]:
    """Events parsed and sorted by version ("introduced 0" first; at equal versions
    introduced before fixed), and the limits; cached per range by `_Versions`."""
    parsed: list[tuple[Any, int, str, str]] = []
    limits: list[Any] = []
    for kind, value in events:
        if kind == "introduced" and _is_zero(value):
            parsed.append((None, 0, kind, value))
            continue
        if kind not in _ORDER:
            continue
        key = versions.key(value)
        if kind == "limit":
            limits.append(key)
            continue
        parsed.append((key, _ORDER[kind], kind, value))
    parsed.sort(key=lambda e: (e[0] is not None, e[0] if e[0] is not None else 0, e[1]))
    return parsed, limits


def _evaluate_events(
    installed: Any, events: tuple[tuple[str, str], ...], versions: _Versions
) -> tuple[bool, str | None]:
    """OSV range evaluation: (affected?, the fix that ends the matched interval)."""
    prepared = versions.prepared.get(events)
    if prepared is None:
        try:
            prepared = _prepare_events(events, versions)
        except NotComparable as exc:
            versions.prepared[events] = exc
            raise
        versions.prepared[events] = prepared
    elif isinstance(prepared, NotComparable):
        raise prepared
    parsed, limits = prepared
    affected = False
    fixed: str | None = None
    for key, _, kind, value in parsed:
        if kind == "introduced":
            if key is None or key <= installed:
                affected = True
                fixed = None
            else:
                break
        elif kind == "fixed":
            if key <= installed:
                affected = False
            else:
                fixed = value if affected else None
                break
        elif kind == "last_affected":
            if key < installed:
                affected = False
            else:
                break
    if affected and any(installed >= limit for limit in limits):
        affected = False
    return affected, fixed if affected else None


def _range_text(r: Range) -> str:
    if r.type == "CONSTRAINTS":
        return "; ".join(f"{kind} {expr}" for kind, expr in r.events)
    return ", ".join(f"{kind} {value}" for kind, value in r.events) + f" ({r.type})"


_UPPER_BOUND = re.compile(r"<(?!=)\s*v?([0-9][^\s,|]*)")
_AT_LEAST = re.compile(r"^\s*>=\s*v?([0-9][^\s,|]*)\s*$")


def _constraint_fix(r: Range, matched: str | None) -> str | None:
    """The fix a constraint range implies: the exclusive upper bound of the vulnerable
    expression that matched ("<6.5.6" -> 6.5.6), else a single ">= X" patched expression,
    else the patched expressions as written; None when nothing is patched."""
    if matched is not None:
        bound = _UPPER_BOUND.search(matched)
        if bound and "||" not in matched:
            return bound.group(1)
    patched = [expr for kind, expr in r.events if kind == "patched"]
    if len(patched) == 1:
        at_least = _AT_LEAST.match(patched[0])
        if at_least:
            return at_least.group(1)
    return " || ".join(patched) if patched else None


def decide(version: str, affected: Affected, versions: _Versions) -> tuple[str, str | None] | None:
    """(the matched range as text, the fix) when `version` is affected by this entry, else
    None; raises NotComparable when it cannot be decided."""
    if affected.status == "unfixed":
        return "all versions (no fix yet)", None
    installed = versions.key(version)
    for r in affected.ranges:
        if r.type in ("ECOSYSTEM", "SEMVER"):
            hit, fixed = _evaluate_events(installed, r.events, versions)
            if hit:
                return _range_text(r), fixed
        elif r.type == "CONSTRAINTS":
            vulnerable = [e for k, e in r.events if k == "vulnerable"]
            safe = [e for k, e in r.events if k in ("patched", "unaffected")]
            matched = next((e for e in vulnerable if versions.satisfies(version, e)), None)
            if vulnerable and matched is None:
                continue
            if any(versions.satisfies(version, e) for e in safe):
                continue
            return _range_text(r), _constraint_fix(r, matched)
    # explicit lists come last: the ranges, when they match too, also name the fix
    for listed in affected.versions:
        try:
            if versions.key(listed) == installed:
                return f"version {listed} listed as affected", None
        except NotComparable:
            if listed == version:
                return f"version {listed} listed as affected", None
    return None


@dataclass
class MatchStats:
    packages: int = 0
    looked_up: int = 0
    candidates: int = 0
    withdrawn_ignored: int = 0
    not_comparable: int = 0
    warnings: list[str] = field(default_factory=list)


def _lookup_key(pkg: Package) -> tuple[str, str]:
    """(name, version) as the advisories of this ecosystem key them."""
    if pkg.ecosystem == "deb":
        return pkg.source_name or pkg.name, pkg.source_version or pkg.version
    if pkg.ecosystem == "apk":
        return pkg.source_name or pkg.name, pkg.version
    return normalize(pkg.ecosystem, pkg.name), pkg.version


def match_inventory(
    inventory: Inventory,
    db: Lookup,
    *,
    distro_key: Callable[[str, str, str], str | None] | None = None,
    stats: MatchStats | None = None,
) -> list[Finding]:
    """Every vulnerability finding for the inventory's packages, sorted."""
    stats = stats if stats is not None else MatchStats()
    if distro_key is None:
        from kubeward.vulndb.distros import distro_key as default_distro_key

        distro_key = default_distro_key
    os = inventory.os
    os_distro = distro_key(os.id, os.version, os.codename) if os is not None and os.id else None
    groups: dict[tuple[str, str | None], list[Package]] = defaultdict(list)
    for pkg in inventory.packages:
        stats.packages += 1
        if pkg.ecosystem in OS_ECOSYSTEMS:
            if os_distro is None:
                continue  # an OS package without a known release cannot be matched exactly
            groups[(pkg.ecosystem, os_distro)].append(pkg)
        else:
            groups[(pkg.ecosystem, None)].append(pkg)
    findings: list[Finding] = []
    facts_cache: dict[str, _AdvisoryFacts] = {}
    for (ecosystem, distro), packages in sorted(
        groups.items(), key=lambda g: (g[0][0], g[0][1] or "")
    ):
        try:
            scheme = scheme_for(ecosystem)
        except (KeyError, ImportError):
            continue
        versions = _Versions(scheme)
        keys = {id(p): _lookup_key(p) for p in packages}
        names = sorted({k[0] for k in keys.values()})
        stats.looked_up += len(names)
        found = db.lookup(ecosystem, distro, names)
        for pkg in packages:
            name, version = keys[id(pkg)]
            candidates = found.get(name, ())
            if not candidates:
                continue
            hits: list[_Hit] = []
            for cand in candidates:
                stats.candidates += 1
                advisory: Advisory = cand.advisory
                if advisory.withdrawn:
                    stats.withdrawn_ignored += 1
                    continue
                try:
                    hit = decide(version, cand.affected, versions)
                except NotComparable as exc:
                    stats.not_comparable += 1
                    hits.append(
                        _Hit(
                            advisory,
                            f"not comparable: {exc.args[0]!r} is not a {versions.name} version",
                            None,
                            comparable=False,
                        )
                    )
                    continue
                if hit is not None:
                    hits.append(_Hit(advisory, hit[0], hit[1]))
            findings.extend(_merge(pkg, version, hits, versions.name, distro, cache=facts_cache))
    findings.sort(key=_finding_order)
    return findings


def _title_from(advisories: Sequence[Advisory], fallback: str) -> str:
    """A one-line title from the first sentence of the details, for feeds with no summary."""
    for a in advisories:
        sentence = _first_sentence(a.details)
        if sentence:
            return sentence
    return fallback


@functools.lru_cache(maxsize=16384)
def _first_sentence(details: str) -> str:
    text = " ".join(details[:2000].split())
    sentence = text.split(". ", 1)[0].rstrip(".")
    return sentence if len(sentence) <= 120 else sentence[:117].rstrip() + "..."


def _finding_order(f: Finding) -> tuple[tuple[str, ...], str]:
    return (f.package.sort_key() if f.package is not None else (), f.rule_id)


def _primary_id(advisories: Sequence[Advisory]) -> str:
    """The id a merged finding is known by: the one CVE they share, else the first id."""
    if len(advisories) == 1:
        only = advisories[0]
        own = {x for x in (only.id, *only.aliases) if x.startswith("CVE-")}
        return own.pop() if len(own) == 1 else only.id
    ids = sorted({a.id for a in advisories})
    cves = sorted({x for a in advisories for x in (a.id, *a.aliases) if x.startswith("CVE-")})
    if len(cves) == 1:
        return cves[0]
    return ids[0]


@dataclass(frozen=True, slots=True)
class _AdvisoryFacts:
    """What a finding needs from one advisory, worked out once per scan."""

    rule_id: str
    other_ids: tuple[str, ...]
    severity: Severity
    severity_source: str
    title: str

    @classmethod
    def of(cls, advisory: Advisory) -> _AdvisoryFacts:
        rule_id = _primary_id([advisory])
        severity, source = severity_of(advisory.severity)
        return cls(
            rule_id=rule_id,
            other_ids=tuple(sorted({advisory.id, *advisory.aliases} - {rule_id})),
            severity=severity,
            severity_source=source,
            title=advisory.summary or _title_from([advisory], rule_id),
        )


def _merge(
    pkg: Package,
    version: str,
    hits: list[_Hit],
    scheme: str,
    distro: str | None,
    *,
    cache: dict[str, _AdvisoryFacts],
) -> list[Finding]:
    """One finding per group of advisories that name the same problem."""
    if not hits:
        return []
    groups: dict[str, list[_Hit]] = {}
    if len(hits) == 1:
        groups[hits[0].advisory.id] = hits
    else:
        # hits that share an id (own or alias) name the same problem: union them
        first_hit: dict[str, int] = {}
        parent = list(range(len(hits)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, hit in enumerate(hits):
            a = hit.advisory
            for x in (a.id, *a.aliases):
                j = first_hit.setdefault(x, i)
                if j != i:
                    ri, rj = find(i), find(j)
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)
        for i, hit in enumerate(hits):
            groups.setdefault(str(find(i)), []).append(hit)
    out: list[Finding] = []
    for group in groups.values():
        comparable = [h for h in group if h.comparable]
        chosen = comparable or group
        advisories = [h.advisory for h in chosen]
        if len(advisories) == 1:
            only = advisories[0]
            facts = cache.get(only.id)
            if facts is None:
                facts = cache[only.id] = _AdvisoryFacts.of(only)
            rule_id = facts.rule_id
            all_ids = facts.other_ids
            severity, severity_source = facts.severity, facts.severity_source
            title = facts.title
            references = only.references
            sources = only.source
            advisory_ids = only.id
            fixed = chosen[0].fixed
            affected_text = chosen[0].affected_text
        else:
            rule_id = _primary_id(advisories)
            all_ids = tuple(sorted({x for a in advisories for x in (a.id, *a.aliases)} - {rule_id}))
            severity, severity_source = Severity.UNKNOWN, "no severity given"
            for a in advisories:
                sev, src = severity_of(a.severity)
                if sev > severity:
                    severity, severity_source = sev, src
            fixes = sorted({h.fixed for h in chosen if h.fixed})
            fixed = fixes[0] if len(fixes) == 1 else (", ".join(fixes) if fixes else None)
            title = next((a.summary for a in advisories if a.summary), "") or _title_from(
                advisories, rule_id
            )
            references = tuple(dict.fromkeys(r for a in advisories for r in a.references))
            sources = ",".join(sorted({a.source for a in advisories}))
            advisory_ids = ",".join(sorted({a.id for a in advisories}))
            affected_text = " | ".join(dict.fromkeys(h.affected_text for h in chosen))
        evidence = {
            "installed": version,
            "affected": affected_text,
            "scheme": scheme,
            "sources": sources,
            "advisories": advisory_ids,
            "severitySource": severity_source,
        }
        if distro:
            evidence["distro"] = distro
        if not comparable:
            evidence["comparable"] = "no"
        subject = pkg.name if version == pkg.version else f"{pkg.name} (source {version})"
        if comparable:
            message = f"{subject} {pkg.version} is affected by {rule_id}: {affected_text}"
        else:
            message = f"{subject} {pkg.version} may be affected by {rule_id}: {affected_text}"
        if fixed:
            remediation = f"Upgrade {pkg.name} to {fixed} or later"
        elif comparable:
            remediation = "No fixed version is known yet"
        else:
            remediation = "Check the advisory by hand: the version could not be compared"
        out.append(
            Finding(
                kind="vulnerability",
                rule_id=rule_id,
                title=title,
                severity=severity,
                location=pkg.location,
                message=message,
                remediation=remediation,
                references=references,
                package=pkg,
                fixed_version=fixed,
                aliases=all_ids,
                evidence=tuple(sorted(evidence.items())),
            )
        )
    return out
