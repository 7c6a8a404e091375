# ruff: noqa: E501  (fixtures keep the long lines the real tools write)

import pytest

from kubeward.analyze import php as phpmod
from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext, ScanMode
from kubeward.analyze.php import PhpAnalyzer
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

LAYER = "sha256:" + "ef" * 32
INSTALLED = "var/www/html/vendor/composer/installed.json"


def scan(path: str, data: bytes, mode: ScanMode = "fs") -> InventoryBuilder:
    analyzer = PhpAnalyzer(ScanContext(mode=mode))
    assert analyzer.wants(path, 0o644)
    facts = InventoryBuilder()
    analyzer.analyze(AnalyzedFile(path=path, data=data, layer=LAYER), facts)
    analyzer.finish(facts)
    return facts


def composer(
    name: str, version: str, path: str, licenses: tuple[str, ...] = (), dev: bool = False
) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem="composer",
        purl="",
        location=Location(path=path, layer=LAYER),
        licenses=tuple(normalize_license(x) for x in licenses),
        metadata=(("dev", "true"),) if dev else (),
    )


INSTALLED_V2 = b"""\
{
    "packages": [
        {
            "name": "monolog/monolog",
            "version": "3.5.0",
            "version_normalized": "3.5.0.0",
            "source": {"type": "git", "url": "https://github.com/Seldaek/monolog.git", "reference": "c915e2634718dbc8a4a15c61b0e62e7a44e14448"},
            "require": {"php": ">=8.1", "psr/log": "^2.0 || ^3.0"},
            "type": "library",
            "installation-source": "dist",
            "license": ["MIT"],
            "install-path": "../monolog/monolog"
        },
        {
            "name": "symfony/console",
            "version": "v6.4.1",
            "version_normalized": "6.4.1.0",
            "type": "library",
            "license": ["MIT"],
            "install-path": "../symfony/console"
        },
        {
            "name": "phpunit/phpunit",
            "version": "10.5.3",
            "version_normalized": "10.5.3.0",
            "type": "library",
            "license": ["BSD-3-Clause"],
            "install-path": "../phpunit/phpunit"
        }
    ],
    "dev": true,
    "dev-package-names": ["phpunit/phpunit"]
}
"""

INSTALLED_V1 = b"""\
[
    {
        "name": "guzzlehttp/guzzle",
        "version": "6.5.5",
        "version_normalized": "6.5.5.0",
        "type": "library",
        "license": ["MIT"]
    },
    {
        "name": "drupal/core",
        "version": "8.9.20",
        "license": "GPL-2.0-or-later"
    }
]
"""

COMPOSER_LOCK = b"""\
{
    "_readme": [
        "This file locks the dependencies of your project to a known state",
        "Read more about it at https://getcomposer.org/doc/01-basic-usage.md#installing-dependencies",
        "This file is @generated automatically"
    ],
    "content-hash": "0c5a0d1b3b1f2e8e6f7a4f2d8c1e9b7a",
    "packages": [
        {
            "name": "laravel/framework",
            "version": "v10.38.2",
            "source": {"type": "git", "url": "https://github.com/laravel/framework.git", "reference": "43da808391da3540d44a8dfeb4e46da4ad8f5723"},
            "license": ["MIT"],
            "type": "library"
        },
        {
            "name": "phpseclib/phpseclib",
            "version": "3.0.34",
            "license": ["MIT"]
        }
    ],
    "packages-dev": [
        {
            "name": "mockery/mockery",
            "version": "1.6.7",
            "license": ["BSD-3-Clause"]
        }
    ],
    "aliases": [],
    "minimum-stability": "stable",
    "stability-flags": [],
    "prefer-stable": true,
    "prefer-lowest": false,
    "platform": {"php": "^8.1"},
    "platform-dev": [],
    "plugin-api-version": "2.6.0"
}
"""


def test_installed_json_composer2_marks_dev() -> None:
    facts = scan(INSTALLED, INSTALLED_V2, "image")
    assert facts.packages == [
        composer("monolog/monolog", "3.5.0", INSTALLED, ("MIT",)),
        composer("symfony/console", "v6.4.1", INSTALLED, ("MIT",)),
        composer("phpunit/phpunit", "10.5.3", INSTALLED, ("BSD-3-Clause",), dev=True),
    ]
    assert facts.warnings == []
    purls = sorted(p.purl for p in facts.build().packages)
    assert purls == [
        "pkg:composer/monolog/monolog@3.5.0",
        "pkg:composer/phpunit/phpunit@10.5.3",
        "pkg:composer/symfony/console@v6.4.1",
    ]


def test_installed_json_composer1_list() -> None:
    path = "vendor/composer/installed.json"
    assert scan(path, INSTALLED_V1, "image").packages == [
        composer("guzzlehttp/guzzle", "6.5.5", path, ("MIT",)),
        composer("drupal/core", "8.9.20", path, ("GPL-2.0-or-later",)),
    ]


def test_composer_lock() -> None:
    path = "app/composer.lock"
    assert scan(path, COMPOSER_LOCK).packages == [
        composer("laravel/framework", "v10.38.2", path, ("MIT",)),
        composer("phpseclib/phpseclib", "3.0.34", path, ("MIT",)),
        composer("mockery/mockery", "1.6.7", path, ("BSD-3-Clause",), dev=True),
    ]


@pytest.mark.parametrize("mode", ["image", "fs"])
def test_mode_gating(mode: ScanMode) -> None:
    analyzer = PhpAnalyzer(ScanContext(mode=mode))
    assert analyzer.wants("app/composer.lock", 0o644) is (mode == "fs")
    assert analyzer.wants(INSTALLED, 0o644)
    assert not analyzer.wants("app/installed.json", 0o644)
    assert not analyzer.wants("app/myvendor/composer/installed.json", 0o644)


@pytest.mark.parametrize(
    ("path", "data", "reason"),
    [
        (INSTALLED, b"{not json", "cannot parse"),
        (INSTALLED, bytes(range(256)) * 64, "not UTF-8"),
        (INSTALLED, b'"just a string"', "cannot parse: top level is neither"),
        (INSTALLED, b'{"packages": {"a/b": "1.0"}}', "cannot parse: 'packages' is not a list"),
        (INSTALLED, b"[" * 200_000 + b"]" * 200_000, "cannot parse"),
        ("composer.lock", b"[]", "cannot parse: top level is not an object"),
        ("composer.lock", b'{"packages-dev": 3}', "cannot parse: 'packages-dev' is not a list"),
        ("composer.lock", b'{"packages": [{"name": "a/\xe9"}]}', "not UTF-8"),
    ],
)
def test_unparseable_files_warn_and_skip(path: str, data: bytes, reason: str) -> None:
    facts = scan(path, data)
    assert facts.packages == []
    assert len(facts.warnings) == 1
    assert facts.warnings[0].startswith(f"{path}: skipped, {reason}")
    assert "\n" not in facts.warnings[0]


def test_malformed_entries_are_counted() -> None:
    data = b"""{"packages": [
        1,
        {"name": ["a/b"], "version": "1.0"},
        {"name": "noslash", "version": "1.0"},
        {"name": "a/b", "version": {"v": 1}},
        {"name": "a/c", "version": "2.0", "license": {"MIT": true}},
        {"name": "a/d", "version": "3.0", "license": []}
    ], "dev-package-names": [["a/d"]]}"""
    facts = scan(INSTALLED, data)
    assert facts.packages == [composer("a/d", "3.0", INSTALLED)]
    assert facts.warnings == [f"{INSTALLED}: skipped 5 malformed package entries"]


def test_huge_file_is_skipped() -> None:
    facts = scan("composer.lock", b" " * (phpmod.MAX_FILE_BYTES + 1))
    assert facts.packages == []
    assert facts.warnings == [f"composer.lock: skipped, larger than {phpmod.MAX_FILE_BYTES} bytes"]
