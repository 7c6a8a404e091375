"""`kubeward k8s`: audit a live cluster with the Kubernetes checks, the cluster-level
checks and, with `--scanners vuln,secret`, each distinct image it runs.

Options, the ignore file, filters, formats and exit codes behave as in `kubeward config`
(and `kubeward image` for the image findings). A cluster that cannot be reached or refuses
the credentials is one error line (exit 2); a resource type the credentials may not list
is one warning in the report (and in the JSON `cluster.denied`), and the audit goes on.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from kubeward.cli.k8s_args import FORMATS, SCANNERS
from kubeward.cli.output import print_warnings, write_compliance_report, write_output
from kubeward.errors import UsageError
from kubeward.model import ArtifactInfo, ScanResult

MAX_PAGE_SIZE = 10_000
MAX_IMAGE_JOBS = 64


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _scanners(args: argparse.Namespace) -> frozenset[str]:
    chosen = frozenset(s.strip() for s in args.scanners.split(",") if s.strip())
    unknown = sorted(chosen - set(SCANNERS))
    if unknown or not chosen:
        raise UsageError(
            f"--scanners {args.scanners}: choose from {', '.join(SCANNERS)} (comma-separated)"
        )
    return chosen


def check_options(args: argparse.Namespace) -> str:
    """The report format, after refusing bad options before connecting."""
    from kubeward.findings_filter import parse_severities

    fmt: str = args.format or "table"
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    _scanners(args)
    if args.severity is not None:
        parse_severities(args.severity)
    if not 0 <= args.exit_code <= 255:
        raise UsageError(f"--exit-code must be between 0 and 255, not {args.exit_code}")
    if not 1 <= args.page_size <= MAX_PAGE_SIZE:
        raise UsageError(f"--page-size must be between 1 and {MAX_PAGE_SIZE}, not {args.page_size}")
    if not 1 <= args.image_jobs <= MAX_IMAGE_JOBS:
        raise UsageError(
            f"--image-jobs must be between 1 and {MAX_IMAGE_JOBS}, not {args.image_jobs}"
        )
    if args.compliance is not None:
        from kubeward.compliance import load_spec

        load_spec(args.compliance)
        if fmt == "sarif":
            raise UsageError("--compliance reports as table or json, not sarif")
    return fmt


def run(args: argparse.Namespace) -> int:
    from kubeward.cluster.audit import AuditOptions, audit
    from kubeward.cluster.checks_cluster import CveFeed
    from kubeward.cluster.client import connect
    from kubeward.config_file import find_config
    from kubeward.findings_filter import exit_code_for, filter_findings, parse_severities
    from kubeward.ignore import IgnoreRules, find_ignore_file, load_ignore_file
    from kubeward.misconfig.engine import Selection, load_metadata
    from kubeward.misconfig.kubernetes.scan import collector_paused
    from kubeward.misconfig.settings import load_check_settings

    fmt = check_options(args)
    scanners = _scanners(args)
    cwd = Path.cwd()
    settings = load_check_settings(Path(args.config) if args.config else find_config(cwd))
    settings.validate(load_metadata())
    # without misconfig nothing is checked: no id or tag is named "-"
    selection = settings.selection() if "misconfig" in scanners else Selection(frozenset({"-"}))
    ignore_path = Path(args.ignorefile) if args.ignorefile else find_ignore_file(cwd)
    rules = load_ignore_file(ignore_path) if ignore_path is not None else IgnoreRules()
    feed = CveFeed.load(Path(args.k8s_cve_feed)) if args.k8s_cve_feed else None
    notices: list[str] = []
    images = scanners & {"vuln", "secret"}
    if images:
        notices += _prepare_image_scans(args)
    namespaces = _split(args.namespace)
    options = AuditOptions(
        namespaces=frozenset(namespaces) if namespaces else None,
        exclude=frozenset(_split(args.exclude_namespaces)),
        page_size=args.page_size,
        selection=selection,
        cve_feed=feed if "misconfig" in scanners else None,
        anonymous_probe="misconfig" in scanners and not args.no_anonymous_probe,
        collect_images=bool(images),
    )
    cluster = connect(args.kubeconfig, args.context)
    try:
        with collector_paused():
            result = audit(cluster, options)
    finally:
        cluster.close()
    findings = list(result.findings)
    warnings = notices + list(result.warnings)
    if images:
        from kubeward.cluster.images import scan_images

        found, problems = scan_images(
            result.images.distinct(), _image_scanner(args, images), args.image_jobs
        )
        findings += found
        warnings += problems
    outcome = rules.apply(findings, lambda f: f.aliases, date.today())
    warnings.extend(rules.expired_message(entry) for entry in outcome.expired)
    severities = parse_severities(args.severity) if args.severity else None
    kept = filter_findings(outcome.kept, severities, ignore_unfixed=False)
    scan = ScanResult(
        artifact=ArtifactInfo(name=f"{result.context} ({result.server})", kind="cluster"),
        findings=kept,
        warnings=tuple(warnings),
    )
    print_warnings(scan, args)
    cluster_doc = result.document()
    if args.compliance is not None:
        write_compliance_report(
            args, fmt, scan, result.ran, result.checked, extra={"cluster": cluster_doc}
        )
    else:
        _write(args, fmt, scan, cluster_doc)
    return exit_code_for(kept, args.exit_code)


def _write(args: argparse.Namespace, fmt: str, scan: ScanResult, cluster: dict[str, Any]) -> None:
    """The report; JSON adds a `cluster` section (version, object counts, denied lists)."""
    if fmt != "json":
        from kubeward.cli.output import write_report

        write_report(scan, fmt, args)
        return
    from kubeward.report.json_report import dump, to_document

    def write(out: BinaryIO) -> None:
        document = to_document(scan)
        document["cluster"] = cluster
        dump(document, out)

    write_output(write, args)


def _prepare_image_scans(args: argparse.Namespace) -> list[str]:
    """Fail before connecting when the database is missing; build the secret scanner."""
    from kubeward.cli.vuln import configure_secrets, open_database

    args.scanner_choices = SCANNERS
    if "vuln" in _scanners(args):
        open_database(args).close()  # type: ignore[attr-defined]
    return configure_secrets(args, Path.cwd())


def _image_scanner(args: argparse.Namespace, scanners: frozenset[str]) -> Callable[[Any], Any]:
    """Pull and scan one image from its registry (each thread its own database handle:
    SQLite connections stay in the thread that opened them)."""
    from kubeward.artifact.cache import BlobCache
    from kubeward.artifact.reference import parse_reference
    from kubeward.artifact.registry import RegistryOptions, open_image
    from kubeward.artifact.walk import WalkOptions
    from kubeward.cluster.images import ImageScan, ImageUse
    from kubeward.sbom import scan_image
    from kubeward.vulndb.match import match_inventory

    options = RegistryOptions(platform=args.platform, insecure=args.insecure)
    cache = BlobCache(Path(args.cache_dir))
    local = threading.local()

    def scan(use: ImageUse) -> ImageScan:
        image = open_image(parse_reference(use.pull), options, cache, None)
        try:
            result = scan_image(image, WalkOptions(), None, scanners - {"vuln"})
        finally:
            image.close()
        findings = list(result.findings)
        if "vuln" in scanners:
            from kubeward.cli.vuln import open_database

            if getattr(local, "db", None) is None:
                local.db = open_database(args)
            findings = match_inventory(result.inventory, local.db) + findings
        return ImageScan(
            tuple(findings), tuple(f"image {use.reference}: {w}" for w in result.warnings)
        )

    return scan
