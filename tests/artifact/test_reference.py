"""Reference parsing must normalise exactly as docker does, and reject what docker rejects."""

from __future__ import annotations

import pytest

from kubeward.artifact.reference import Reference, parse_reference
from kubeward.errors import ArtifactError

HUB = "registry-1.docker.io"
D = "sha256:" + "ab" * 32
D512 = "sha512:" + "c" * 128


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "familiar"),
    [
        ("alpine", HUB, "library/alpine", "latest", None, "alpine:latest"),
        ("alpine:3.19", HUB, "library/alpine", "3.19", None, "alpine:3.19"),
        ("docker.io/library/alpine", HUB, "library/alpine", "latest", None, "alpine:latest"),
        ("docker.io/alpine", HUB, "library/alpine", "latest", None, "alpine:latest"),
        ("index.docker.io/library/alpine:edge", HUB, "library/alpine", "edge", None, "alpine:edge"),
        ("user/app:1", HUB, "user/app", "1", None, "user/app:1"),
        ("docker.io/user/app", HUB, "user/app", "latest", None, "user/app:latest"),
        (
            "ghcr.io/org/sub/app:v1.2",
            "ghcr.io",
            "org/sub/app",
            "v1.2",
            None,
            "ghcr.io/org/sub/app:v1.2",
        ),
        ("localhost/app", "localhost", "app", "latest", None, "localhost/app:latest"),
        (
            "localhost:5000/ns/app:t",
            "localhost:5000",
            "ns/app",
            "t",
            None,
            "localhost:5000/ns/app:t",
        ),
        (
            "127.0.0.1:5000/app",
            "127.0.0.1:5000",
            "app",
            "latest",
            None,
            "127.0.0.1:5000/app:latest",
        ),
        ("[::1]:5000/app:x", "[::1]:5000", "app", "x", None, "[::1]:5000/app:x"),
        # no slash: "myhost:5000" is repository myhost with tag 5000, exactly as docker reads it
        ("myhost:5000", HUB, "library/myhost", "5000", None, "myhost:5000"),
        # an uppercase first component can only be a host
        (
            "Registry.Example.com/app",
            "Registry.Example.com",
            "app",
            "latest",
            None,
            "Registry.Example.com/app:latest",
        ),
        ("Foo/bar", "Foo", "bar", "latest", None, "Foo/bar:latest"),
        (f"alpine@{D}", HUB, "library/alpine", None, D, f"alpine@{D}"),
        (f"alpine:3.19@{D}", HUB, "library/alpine", "3.19", D, f"alpine:3.19@{D}"),
        (
            f"example.com:443/a/b@{D512}",
            "example.com:443",
            "a/b",
            None,
            D512,
            f"example.com:443/a/b@{D512}",
        ),
        (
            "ns/a-b_c.d__e/f--g:TAG_1.x-y",
            HUB,
            "ns/a-b_c.d__e/f--g",
            "TAG_1.x-y",
            None,
            "ns/a-b_c.d__e/f--g:TAG_1.x-y",
        ),
        (
            "a/" + "b" * 200 + ":" + "t" * 128,
            HUB,
            "a/" + "b" * 200,
            "t" * 128,
            None,
            "a/" + "b" * 200 + ":" + "t" * 128,
        ),
    ],
)
def test_parse_valid(
    *, text: str, registry: str, repository: str, tag: str | None, digest: str | None, familiar: str
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert str(ref) == familiar
    assert parse_reference(str(ref)) == ref


def test_docker_hub_display_and_pull_target() -> None:
    hub = parse_reference("alpine")
    assert hub.domain == "docker.io"
    assert hub.name == "alpine"
    assert hub.pull_target == "latest"
    both = parse_reference(f"ghcr.io/o/app:1@{D}")
    assert both.domain == "ghcr.io"
    assert both.name == "ghcr.io/o/app"
    assert both.pull_target == D  # the digest wins over the tag
    assert Reference("registry-1.docker.io", "user/x", "2").domain == "docker.io"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid image reference '': invalid reference format"),
        ("a b", "invalid image reference 'a b': invalid reference format"),
        (" alpine", "invalid image reference ' alpine': invalid reference format"),
        ("Alpine", "invalid image reference 'Alpine': repository name must be lowercase"),
        (
            "ghcr.io/Org/app",
            "invalid image reference 'ghcr.io/Org/app': repository name must be lowercase",
        ),
        (
            "alpine:",
            "invalid image reference 'alpine:': tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
        ),
        (
            "alpine:-x",
            "invalid image reference 'alpine:-x': tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
        ),
        ("alpine:" + "a" * 129, "tag must match"),
        (
            "alpine@sha256:abc",
            "invalid image reference 'alpine@sha256:abc': "
            "digest must look like sha256:<64 hex digits>",
        ),
        ("alpine@sha256:../../x", "digest must look like sha256:<64 hex digits>"),
        ("alpine@sha256:" + "A" * 64, "sha256 digest must be 64 lowercase hex digits"),
        ("alpine@sha256:" + "a" * 63, "sha256 digest must be 64 lowercase hex digits"),
        ("alpine@md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
        ("a//b", "invalid repository path component ''"),
        ("a/b_", "invalid repository path component 'b_'"),
        ("a/b___c", "invalid repository path component 'b___c'"),
        ("-a/b", "invalid repository path component '-a'"),
        ("ex..com/a", "invalid registry host 'ex..com'"),
        ("a_b.c/d", "invalid registry host 'a_b.c'"),  # a "." makes it a host, as in docker
        ("ex.com:port/a", "invalid registry host 'ex.com:port'"),
        ("ghcr.io/", "invalid repository path component ''"),
        (":tag", "repository name is empty"),
        ("a" * 256, "repository name must not be more than 255 characters"),
        ("f" * 64, "a repository name cannot be a 64-hex-digit image ID"),
    ],
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(ArtifactError) as info:
        parse_reference(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
