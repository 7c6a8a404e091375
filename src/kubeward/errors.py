"""The one exception hierarchy: the CLI turns any KubewardError into a one-line message."""


class KubewardError(Exception):
    """An expected failure: bad input, unreachable peer, refused auth. Exit code 2."""

    exit_code = 2


class UsageError(KubewardError):
    """The command line asks for something that cannot be done."""


class ArtifactError(KubewardError):
    """An image, archive, layout or directory cannot be read as asked."""


class RegistryError(ArtifactError):
    """A registry answered with an error, refused auth or served bad content."""


class DigestMismatchError(ArtifactError):
    """A blob's content does not hash to the digest that named it: never accepted."""


class LayerError(ArtifactError):
    """A layer cannot be read: corrupt, truncated, hostile or over a size cap."""
