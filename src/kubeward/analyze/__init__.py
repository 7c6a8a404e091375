"""Analyzers turn the files they ask for into inventory facts (OS, packages).

Each module here defines one `Analyzer` subclass named in ANALYZER_MODULES; they are imported
only when a scan starts, so `kubeward --help` stays fast.
"""

from __future__ import annotations

import importlib

from kubeward.analyze.base import Analyzer, ScanContext

# module name -> class name, in the order analyzers are offered a file.
ANALYZER_MODULES: dict[str, str] = {
    "os_release": "OSReleaseAnalyzer",
    "dpkg": "DpkgAnalyzer",
    "apk": "ApkAnalyzer",
    "rpm": "RpmAnalyzer",
    "python": "PythonAnalyzer",
    "npm": "NpmAnalyzer",
    "gobinary": "GoBinaryAnalyzer",
    "java": "JavaAnalyzer",
    "ruby": "RubyAnalyzer",
    "rust": "RustAnalyzer",
    "php": "PhpAnalyzer",
}


def create_analyzers(context: ScanContext) -> list[Analyzer]:
    """A fresh set of analyzers (they keep per-scan state) for one scan."""
    analyzers: list[Analyzer] = []
    for module_name, class_name in ANALYZER_MODULES.items():
        module = importlib.import_module(f"kubeward.analyze.{module_name}")
        analyzers.append(getattr(module, class_name)(context))
    if "secret" in context.scanners:
        from kubeward.secrets.analyzer import SecretAnalyzer

        analyzers.append(SecretAnalyzer(context))
    if "misconfig" in context.scanners:
        from kubeward.misconfig.image.collector import ImageFilesCollector

        analyzers.append(ImageFilesCollector(context))
    return analyzers
