"""The layer walker: whiteouts, layer attribution, read-once dispatch and hostile layers."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import threading
from pathlib import Path
from typing import ClassVar

import pytest

import imagebuild as ib
from kubeward.analyze.base import AnalyzedFile, Analyzer, InventoryBuilder, ScanContext
from kubeward.artifact.filetree import FileTree, SymlinkLoopError, TreeEntry
from kubeward.artifact.image import Image, Layer
from kubeward.artifact.walk import Dispatcher, WalkOptions, walk_directory, walk_image
from kubeward.errors import DigestMismatchError, LayerError


class Recorder(Analyzer):
    name = "recorder"
    basenames: ClassVar[frozenset[str]] = frozenset({"want.txt", "status", "os-release"})
    extensions: ClassVar[frozenset[str]] = frozenset({"jar"})

    def __init__(self) -> None:
        super().__init__(ScanContext())
        self.seen: list[tuple[str, bytes, str | None]] = []

    def analyze(self, file: AnalyzedFile, facts: InventoryBuilder) -> None:
        self.seen.append((file.path, file.data, file.layer))


class Second(Recorder):
    name = "second"


def make_image(layers: list[list[ib.Entry]], compression: str = "gzip") -> Image:
    built = []
    for entries in layers:
        tar = ib.layer_tar(entries)
        blob = ib.compress(tar, compression)
        built.append(
            Layer(
                diff_id=ib.sha256(tar),
                open=lambda blob=blob: io.BytesIO(blob),
                digest=ib.sha256(blob),
                size=len(blob),
            )
        )
    return Image(name="test", kind="oci", config={}, layers=built)


def walk(image: Image, options: WalkOptions | None = None, *analyzers: Recorder):
    facts = InventoryBuilder()
    chosen = list(analyzers) or [Recorder()]
    tree = walk_image(image, Dispatcher(list(chosen), facts), options)
    return tree, chosen[0].seen, facts.warnings


def test_whiteouts_opaque_dirs_and_layer_attribution() -> None:
    image = make_image(
        [
            [
                ib.dir_("etc"),
                ib.file("etc/want.txt", "base"),
                ib.file("etc/keep", "k"),
                ib.dir_("opt/app"),
                ib.file("opt/app/want.txt", "old app"),
                ib.file("opt/app/sub/want.txt", "old sub"),
                ib.file("gone/want.txt", "deleted dir"),
                ib.file("var/want.txt", "replaced by upper"),
            ],
            [
                ib.file("etc/want.txt", "middle"),
                ib.file("var/lib/dpkg/status", "Package: x\n"),
            ],
            [
                ib.whiteout("etc/keep"),
                ib.opaque("opt/app"),
                ib.file("opt/app/want.txt", "new app"),
                ib.whiteout("gone"),
                ib.file("var/want.txt", "top"),
            ],
        ]
    )
    ids = [layer.diff_id for layer in image.layers]
    tree, seen, warnings = walk(image)
    assert warnings == []
    assert sorted(seen) == [
        ("etc/want.txt", b"middle", ids[1]),
        ("opt/app/want.txt", b"new app", ids[2]),
        ("var/lib/dpkg/status", b"Package: x\n", ids[1]),
        ("var/want.txt", b"top", ids[2]),
    ]
    assert "etc/keep" not in tree
    assert "gone" not in tree and "gone/want.txt" not in tree
    assert "opt/app/sub/want.txt" not in tree
    assert tree.get("etc/want.txt") == TreeEntry("file", 6, 0o644, ids[1], "")
    assert tree.get("etc") == TreeEntry("dir", 0, 0o755, ids[0], "")
    assert not any(".wh." in p for p in tree.entries)


def test_opaque_whiteout_does_not_hide_its_own_layer() -> None:
    image = make_image(
        [
            [ib.file("d/want.txt", "lower"), ib.file("d/x/want.txt", "lower2")],
            [ib.file("d/x/want.txt", "same layer, before the marker"), ib.opaque("d")],
        ]
    )
    tree, seen, _ = walk(image)
    assert seen == [("d/x/want.txt", b"same layer, before the marker", image.layers[1].diff_id)]
    assert "d/want.txt" not in tree


def test_a_file_replacing_a_directory_hides_its_content() -> None:
    image = make_image([[ib.file("a/b/want.txt", "x")], [ib.file("a", "now a file")]])
    tree, seen, _ = walk(image)
    assert seen == []
    assert sorted(tree.entries) == ["a"]


def test_each_wanted_file_is_read_once_and_shared() -> None:
    image = make_image([[ib.file("want.txt", "v1")], [ib.file("want.txt", "v2")]])
    first, second = Recorder(), Second()
    walk(image, None, first, second)
    assert first.seen == second.seen == [("want.txt", b"v2", image.layers[1].diff_id)]
    assert first.seen[0][1] is second.seen[0][1]  # the same bytes object: one read


def test_lower_copies_are_never_read() -> None:
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            data = super().read(n)
            reads.append(len(data))
            return data

    image = make_image([[ib.file("want.txt", "x" * 10)], [ib.file("want.txt", "y")]])
    lower = image.layers[0]
    blob = lower.open().read()
    image.layers[0] = Layer(lower.diff_id, lambda: Counting(blob), lower.digest)
    _, seen, _ = walk(image)
    assert seen == [("want.txt", b"y", image.layers[1].diff_id)]
    assert sum(reads) == len(blob)  # the lower layer is streamed once for its hash, no more


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_all_compressions(compression: str) -> None:
    image = make_image([[ib.file("want.txt", "data" * 1000)]], compression)
    _, seen, _ = walk(image)
    assert seen == [("want.txt", b"data" * 1000, image.layers[0].diff_id)]


def test_concatenated_gzip_members_are_one_stream() -> None:
    tar = ib.layer_tar([ib.file("want.txt", "z" * 5000)])
    blob = gzip.compress(tar[:3000], mtime=0) + gzip.compress(tar[3000:], mtime=0)
    image = Image("t", "oci", {}, [Layer(ib.sha256(tar), lambda: io.BytesIO(blob))])
    _, seen, _ = walk(image)
    assert seen == [("want.txt", b"z" * 5000, ib.sha256(tar))]


def test_long_names_pax_and_gnu() -> None:
    long = "d/" + "x" * 150 + "/want.txt"
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        tar = ib.layer_tar([ib.file(long, "long"), ib.symlink("l" * 120, "t" * 130)], fmt)
        image = Image("t", "oci", {}, [Layer(ib.sha256(tar), lambda tar=tar: io.BytesIO(tar))])
        tree, seen, _ = walk(image)
        assert seen == [(long, b"long", ib.sha256(tar))]
        assert tree.get("l" * 120) == TreeEntry("symlink", 0, 0o777, ib.sha256(tar), "t" * 130)


def test_path_traversal_and_absolute_names_are_skipped_with_a_warning() -> None:
    tar = ib.layer_tar(
        [
            ib.file("../../etc/want.txt", "evil"),
            ib.file("/abs/want.txt", "evil"),
            ib.file("./ok/want.txt", "fine"),
            ib.file("a/../../want.txt", "evil"),
        ]
    )
    image = Image("t", "oci", {}, [Layer(ib.sha256(tar), lambda: io.BytesIO(tar))])
    tree, seen, warnings = walk(image)
    assert seen == [("ok/want.txt", b"fine", ib.sha256(tar))]
    label = f"layer 1/1 ({ib.sha256(tar)[:19]})"
    assert warnings == [
        f"{label}: skipped entry '../../etc/want.txt': path traversal (..)",
        f"{label}: skipped entry '/abs/want.txt': absolute path",
        f"{label}: skipped entry 'a/../../want.txt': path traversal (..)",
    ]
    assert sorted(tree.entries) == ["ok/want.txt"]


def test_hardlinks_same_layer_lower_layer_and_missing() -> None:
    image = make_image(
        [
            [ib.file("lib/real-jar.bin", "lower bytes")],
            [
                ib.file("data/blob", "same-layer bytes"),
                ib.hardlink("app/want.txt", "data/blob"),
                ib.hardlink("app/lib.jar", "lib/real-jar.bin"),
                ib.hardlink("etc/os-release", "nowhere/file"),
            ],
        ]
    )
    ids = [layer.diff_id for layer in image.layers]
    _, seen, warnings = walk(image)
    assert sorted(seen) == [
        ("app/lib.jar", b"lower bytes", ids[1]),
        ("app/want.txt", b"same-layer bytes", ids[1]),
    ]
    assert warnings == [
        f"layer {ids[1]}: hardlink 'etc/os-release' points to missing entry 'nowhere/file'; skipped"
    ]


def test_device_files_are_never_read() -> None:
    image = make_image(
        [[ib.Entry("etc/os-release", kind="char"), ib.Entry("dev/null", kind="char")]]
    )
    tree, seen, warnings = walk(image)
    assert seen == []
    assert tree.get("dev/null") is not None
    assert warnings == [
        f"layer 1/1 ({image.layers[0].diff_id[:19]}): skipped 'etc/os-release': "
        "a char device, not a file"
    ]


def test_files_over_the_size_cap_are_skipped() -> None:
    image = make_image([[ib.file("want.txt", "x" * 2000), ib.file("a/status", "ok")]])
    _, seen, warnings = walk(image, WalkOptions(max_file_bytes=1000))
    assert seen == [("a/status", b"ok", image.layers[0].diff_id)]
    assert warnings == [
        f"layer 1/1 ({image.layers[0].diff_id[:19]}): skipped 'want.txt': 2000 bytes is "
        "over the 1000-byte cap for analyzed files"
    ]


def test_decompression_bomb_stops_at_the_layer_cap() -> None:
    tar = ib.layer_tar([ib.file("zeros", b"\0" * (64 << 20))])
    blob = gzip.compress(tar, mtime=0)
    assert len(blob) < 100_000
    image = Image("t", "oci", {}, [Layer(ib.sha256(tar), lambda: io.BytesIO(blob))])
    with pytest.raises(LayerError, match=r"decompressed size exceeds the cap of 8388608 bytes"):
        walk(image, WalkOptions(max_layer_bytes=8 << 20))


def test_total_cap_counts_every_layer() -> None:
    image = make_image([[ib.file("a", b"\0" * (3 << 20))], [ib.file("b", b"\0" * (3 << 20))]])
    with pytest.raises(LayerError, match=r"layer 1/2 .*exceeds the cap"):
        walk(image, WalkOptions(max_total_bytes=5 << 20))


def test_too_many_entries() -> None:
    image = make_image([[ib.file(f"f{i}", "") for i in range(50)]])
    with pytest.raises(LayerError, match="more than 10 paths"):
        walk(image, WalkOptions(max_entries=10))


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_truncated_layers_are_an_error(compression: str) -> None:
    tar = ib.layer_tar([ib.file("want.txt", "x" * 100_000), ib.file("b", "y")])
    blob = ib.compress(tar, compression)
    cut = blob[: len(blob) // 2]
    image = Image("t", "oci", {}, [Layer(ib.sha256(tar), lambda: io.BytesIO(cut))])
    with pytest.raises((LayerError, DigestMismatchError)) as err:
        walk(image)
    assert str(err.value).startswith("layer 1/1 (sha256:")
    assert ("truncated" in str(err.value)) or ("not its diff_id" in str(err.value))


def test_corrupt_gzip_and_corrupt_tar_header() -> None:
    tar = ib.layer_tar([ib.file("want.txt", "x" * 1000)])
    blob = bytearray(gzip.compress(tar, mtime=0))
    blob[30:40] = b"\xff" * 10
    image = Image("t", "oci", {}, [Layer(ib.sha256(tar), lambda: io.BytesIO(bytes(blob)))])
    with pytest.raises(LayerError, match="corrupt gzip stream"):
        walk(image)
    bad = bytearray(tar)
    bad[0:5] = b"XXXXX"  # name changed, checksum not
    image = Image("t", "oci", {}, [Layer(ib.sha256(bad), lambda: io.BytesIO(bytes(bad)))])
    with pytest.raises(LayerError, match=r"corrupt tar header \(bad checksum\) after the first"):
        walk(image)


def test_digest_mismatches_are_never_accepted() -> None:
    image = make_image([[ib.file("want.txt", "x")]])
    layer = image.layers[0]
    image.layers[0] = Layer("sha256:" + "0" * 64, layer.open, layer.digest)
    with pytest.raises(DigestMismatchError, match="not its diff_id"):
        walk(image)
    image.layers[0] = Layer(layer.diff_id, layer.open, "sha256:" + "1" * 64)
    with pytest.raises(DigestMismatchError, match="not its digest sha256:1111"):
        walk(image)


def test_filetree_resolves_symlinks_inside_the_root_and_detects_loops() -> None:
    image = make_image(
        [
            [
                ib.file("usr/lib/os-release", "ID=x"),
                ib.symlink("etc/os-release", "../usr/lib/os-release"),
                ib.symlink("etc/escape", "../../../../../usr/lib/os-release"),
                ib.symlink("etc/abs", "/usr/lib/os-release"),
                ib.symlink("loop/a", "b"),
                ib.symlink("loop/b", "a"),
                ib.symlink("etc/dangling", "/nope"),
            ]
        ]
    )
    tree, _, _ = walk(image)
    assert tree.resolve("etc/os-release") == "usr/lib/os-release"
    assert tree.resolve("etc/escape") == "usr/lib/os-release"  # clamped at the image root
    assert tree.resolve("etc/abs") == "usr/lib/os-release"
    assert tree.resolve("etc/dangling") is None
    with pytest.raises(SymlinkLoopError):
        tree.resolve("loop/a")


def test_directory_walk_never_follows_symlinks_or_opens_fifos(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "want.txt").write_text("host secret")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "want.txt").symlink_to(outside / "want.txt")
    (root / "linkdir").symlink_to(outside)
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "etc" / "os-release")
    (root / "big").mkdir()
    (root / "big" / "status").write_bytes(b"x" * 5000)
    (root / "ok").mkdir()
    (root / "ok" / "want.txt").write_text("inside")

    facts = InventoryBuilder()
    rec = Recorder()
    done: list[FileTree] = []
    t = threading.Thread(
        target=lambda: done.append(
            walk_directory(root, Dispatcher([rec], facts), WalkOptions(max_file_bytes=1000))
        )
    )
    t.start()
    t.join(10)
    assert done, "the directory walk hung (a FIFO was opened?)"
    assert rec.seen == [("ok/want.txt", b"inside", None)]
    assert facts.warnings == [
        "skipped 'big/status': 5000 bytes is over the 1000-byte cap for analyzed files",
        "skipped 'etc/os-release': a fifo device, not a file",
    ]
    tree = done[0]
    assert tree.get("linkdir") == TreeEntry("symlink", 0, 0o777, None, str(outside))
    assert "linkdir/want.txt" not in tree


def test_hardlink_to_a_file_just_read_needs_no_second_pass() -> None:
    image = make_image(
        [[ib.file("a/want.txt", "shared bytes"), ib.hardlink("b/want.txt", "a/want.txt")]]
    )
    opened: list[int] = []
    layer = image.layers[0]

    def counting_open() -> io.BytesIO:
        opened.append(1)
        return layer.open()  # type: ignore[return-value]

    image.layers[0] = Layer(layer.diff_id, counting_open, layer.digest)
    _, seen, warnings = walk(image)
    assert seen == [
        ("a/want.txt", b"shared bytes", layer.diff_id),
        ("b/want.txt", b"shared bytes", layer.diff_id),
    ]
    assert warnings == []
    assert len(opened) == 1


def test_corrupt_zstd_is_an_error() -> None:
    tar = ib.layer_tar([ib.file("want.txt", "x" * 100_000)])
    blob = bytearray(ib.compress(tar, "zstd"))
    blob[20:40] = b"\xff" * 20
    image = Image("t", "oci", {}, [Layer(ib.sha256(tar), lambda: io.BytesIO(bytes(blob)))])
    with pytest.raises((LayerError, DigestMismatchError), match=r"^layer 1/1 \(sha256:"):
        walk(image)
