# ruff: noqa: E501  (fixtures keep the long lines the real tools write)

import pytest

from kubeward.analyze import ruby as rubymod
from kubeward.analyze.base import AnalyzedFile, InventoryBuilder, ScanContext, ScanMode
from kubeward.analyze.ruby import RubyAnalyzer, parse_gemspec
from kubeward.licenses.spdx import normalize_license
from kubeward.model import Location, Package

LAYER = "sha256:" + "cd" * 32


def scan(path: str, data: bytes, mode: ScanMode = "fs") -> InventoryBuilder:
    analyzer = RubyAnalyzer(ScanContext(mode=mode))
    assert analyzer.wants(path, 0o644)
    facts = InventoryBuilder()
    analyzer.analyze(AnalyzedFile(path=path, data=data, layer=LAYER), facts)
    analyzer.finish(facts)
    return facts


def gem(
    name: str, version: str, path: str, *, line: int | None = None, licenses: tuple[str, ...] = ()
) -> Package:
    return Package(
        name=name,
        version=version,
        ecosystem="gem",
        purl="",
        location=Location(path=path, line=line, layer=LAYER),
        licenses=licenses,
    )


NOKOGIRI_GEMSPEC = """\
# -*- encoding: utf-8 -*-
# stub: nokogiri 1.15.5 x86_64-linux lib

Gem::Specification.new do |s|
  s.name = "nokogiri".freeze
  s.version = "1.15.5"
  s.platform = "x86_64-linux".freeze

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "bug_tracker_uri" => "https://github.com/sparklemotion/nokogiri/issues", "changelog_uri" => "https://nokogiri.org/CHANGELOG.html" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Mike Dalessio".freeze, "Aaron Patterson".freeze]
  s.date = "2023-11-17"
  s.description = "Nokogiri (鋸) makes it easy and painless to work with XML and HTML from Ruby.".freeze
  s.email = ["nokogiri-core@googlegroups.com".freeze]
  s.executables = ["nokogiri".freeze]
  s.files = ["bin/nokogiri".freeze]
  s.homepage = "https://nokogiri.org".freeze
  s.licenses = ["MIT".freeze]
  s.required_ruby_version = Gem::Requirement.new([">= 2.7".freeze, "< 3.3.dev".freeze])
  s.rubygems_version = "3.4.10".freeze
  s.summary = "Nokogiri (鋸) makes it easy and painless to work with XML and HTML from Ruby.".freeze

  s.installed_by_version = "3.4.10" if s.respond_to? :installed_by_version

  if s.respond_to? :specification_version then
    s.specification_version = 4
  end

  if s.respond_to? :add_runtime_dependency then
    s.add_runtime_dependency(%q<racc>.freeze, ["~> 1.4"])
  else
    s.add_dependency(%q<racc>.freeze, ["~> 1.4"])
  end
end
""".encode()

JSON_DEFAULT_GEMSPEC = b"""\
# -*- encoding: utf-8 -*-
# stub: json 2.6.3 ruby lib

Gem::Specification.new do |s|
  s.name = "json".freeze
  s.version = "2.6.3"

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.require_paths = ["lib".freeze]
  s.authors = ["Florian Frank".freeze]
  s.date = "2023-12-25"
  s.licenses = ["Ruby".freeze, "BSD-2-Clause".freeze]
  s.rubygems_version = "3.5.3".freeze
  s.summary = "JSON Implementation for Ruby".freeze
end
"""


def test_installed_gemspec() -> None:
    path = "usr/local/bundle/specifications/nokogiri-1.15.5-x86_64-linux.gemspec"
    facts = scan(path, NOKOGIRI_GEMSPEC, "image")
    assert facts.packages == [gem("nokogiri", "1.15.5", path, licenses=(normalize_license("MIT"),))]
    assert facts.warnings == []


def test_default_gem_gemspec_with_two_licences() -> None:
    path = "usr/local/lib/ruby/gems/3.3.0/specifications/default/json-2.6.3.gemspec"
    assert scan(path, JSON_DEFAULT_GEMSPEC, "image").packages == [
        gem(
            "json",
            "2.6.3",
            path,
            licenses=(normalize_license("Ruby"), normalize_license("BSD-2-Clause")),
        )
    ]


def test_old_style_gemspec_and_stub_fallback() -> None:
    old = (
        b"Gem::Specification.new do |spec|\n"
        b"  spec.name = 'rake'\n  spec.version = '10.5.0'\n  spec.license = 'MIT'\nend\n"
    )
    assert parse_gemspec(old.decode()) == ("rake", "10.5.0", ("MIT",))
    odd = b"# stub: rack 3.0.8 ruby lib\nGem::Specification.new do |s|\n  s.name = NAME\nend\n"
    assert parse_gemspec(odd.decode()) == ("rack", "3.0.8", ())


def test_gemspec_is_wanted_only_under_specifications() -> None:
    for mode in ("image", "fs"):
        analyzer = RubyAnalyzer(ScanContext(mode=mode))
        assert analyzer.wants("specifications/rack-3.0.8.gemspec", 0o644)
        assert analyzer.wants("var/lib/gems/3.1.0/specifications/rack-3.0.8.gemspec", 0o644)
        assert not analyzer.wants("src/myapp/myapp.gemspec", 0o644)


GEMFILE_LOCK = b"""\
GIT
  remote: https://github.com/rails/rails.git
  revision: 3b6b5e4a2b8e2b6f5c4d0b4d6bd6a9f2e2f1a5c7
  branch: main
  specs:
    rails (7.2.0.alpha)
      actioncable (= 7.2.0.alpha)

PATH
  remote: .
  specs:
    myapp (0.1.0)
      rack (>= 2.2)

GEM
  remote: https://rubygems.org/
  specs:
    actioncable (7.1.2)
      actionpack (= 7.1.2)
      nio4r (~> 2.0)
    mini_portile2 (2.8.5)
    nokogiri (1.15.5-x86_64-linux)
      racc (~> 1.4)
    nokogiri (1.15.5-arm64-darwin)
      racc (~> 1.4)
    racc (1.7.3)
    rack (3.0.8)
    sorbet-static (0.5.11144-universal-darwin)

PLATFORMS
  arm64-darwin
  x86_64-linux

DEPENDENCIES
  myapp!
  nokogiri (~> 1.15)
  rack

CHECKSUMS
  rack (3.0.8) sha256=f7a5a7b86c0e0db1a2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829

BUNDLED WITH
   2.5.4
"""


def test_gemfile_lock_gem_specs() -> None:
    path = "srv/app/Gemfile.lock"
    facts = scan(path, GEMFILE_LOCK.replace(b"\n", b"\r\n"))
    assert facts.packages == [
        gem("actioncable", "7.1.2", path, line=18),
        gem("mini_portile2", "2.8.5", path, line=21),
        gem("nokogiri", "1.15.5", path, line=22),
        gem("racc", "1.7.3", path, line=26),
        gem("rack", "3.0.8", path, line=27),
        gem("sorbet-static", "0.5.11144", path, line=28),
    ]
    assert facts.warnings == []


@pytest.mark.parametrize("mode", ["image", "fs"])
def test_gemfile_lock_mode_gating(mode: ScanMode) -> None:
    assert RubyAnalyzer(ScanContext(mode=mode)).wants("Gemfile.lock", 0o644) is (mode == "fs")


@pytest.mark.parametrize(
    ("path", "data", "warning"),
    [
        (
            "specifications/x.gemspec",
            bytes(range(128)) * 100,
            "specifications/x.gemspec: skipped, no valid gem name and version",
        ),
        (
            "specifications/x.gemspec",
            b'Gem::Specification.new do |s|\n  s.name = "caf\xe9".freeze\n',
            "specifications/x.gemspec: skipped, not UTF-8",
        ),
        (
            "specifications/x.gemspec",
            b"Gem::Specification.new do |s|\n  s.name = `rm -rf /`\n  s.version = File.read('v')\n",
            "specifications/x.gemspec: skipped, no valid gem name and version",
        ),
        ("Gemfile.lock", b"GEM\n  specs:\n    a (1.0)\n\x00\x01", "Gemfile.lock: skipped, binary"),
        ("Gemfile.lock", b"GEM\n  specs:\n    \xff (1.0)\n", "Gemfile.lock: skipped, not UTF-8"),
        (
            "Gemfile.lock",
            b"GEM\n  specs:\n    bad$name (1.0)\n    ok (x.y)\n",
            "Gemfile.lock: skipped 2 malformed specs",
        ),
    ],
)
def test_hostile_inputs_warn_and_skip(path: str, data: bytes, warning: str) -> None:
    facts = scan(path, data)
    assert facts.packages == []
    assert len(facts.warnings) == 1
    assert facts.warnings[0].startswith(warning)


@pytest.mark.parametrize("path", ["specifications/big.gemspec", "Gemfile.lock"])
def test_huge_files_are_skipped(path: str) -> None:
    facts = scan(path, b"#" * (rubymod.MAX_FILE_BYTES + 1))
    assert facts.packages == []
    assert facts.warnings == [f"{path}: skipped, larger than {rubymod.MAX_FILE_BYTES} bytes"]


def test_pathological_gemspec_line_is_fast() -> None:
    text = "  s.licenses = [" + '"a", ' * 200_000 + "\n"
    name, version, licenses = parse_gemspec("s.name = 'x'\ns.version = '1'\n" + text)
    assert (name, version, len(licenses)) == ("x", "1", 1)
