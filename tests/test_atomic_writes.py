"""Atomic saves (nn's model files, viz's drawings) behave like open(path, "w"): names, modes, links.

Each test runs against both writers: ``Module.save`` and ``viz.Graph.save``.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import nn
import nn._atomic
import viz._atomic
from autograd import Value
from viz import draw_dot


def save_model(path: Path) -> None:
    nn.MLP(2, [2, 1], rng=random.Random(0)).save(path)


def save_drawing(path: Path) -> None:
    draw_dot(Value(2.0, label="x") * 3).save(path)  # .dot: the DOT text, no renderer needed


def is_model_file(path: Path) -> bool:
    return json.loads(path.read_text(encoding="utf-8"))["format"] == "gradtrace.nn"


def is_drawing(path: Path) -> bool:
    return path.read_text(encoding="utf-8").startswith("digraph")


WRITERS = {"Module.save": (save_model, is_model_file, ".json"), "Graph.save": (save_drawing, is_drawing, ".dot")}


@pytest.fixture(params=list(WRITERS))
def writer(request: pytest.FixtureRequest) -> tuple[Callable[[Path], None], Callable[[Path], bool], str]:
    return WRITERS[request.param]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test, and restore it after."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def test_nn_and_viz_carry_the_same_atomic_writer() -> None:
    # nn and viz may not import each other, so each has a copy; a fix to one must reach the other
    assert Path(nn._atomic.__file__).read_bytes() == Path(viz._atomic.__file__).read_bytes()


def test_a_250_character_name_works(writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    for length in (250, 255):  # 255 bytes: Linux's NAME_MAX
        path = tmp_path / ("m" * (length - len(suffix)) + suffix)
        save(path)
        assert is_valid(path)
    assert len(list(tmp_path.iterdir())) == 2  # no temporary file left


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("mask", [0o077, 0o022, 0o002])
def test_a_new_file_gets_the_mode_open_would_give(writer, mask: int, umask, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    umask(mask)
    plain = tmp_path / f"plain{suffix}"
    plain.open("w").close()
    saved = tmp_path / f"saved{suffix}"
    save(saved)
    assert saved.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_replaced_file_keeps_its_mode(writer, umask, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    umask(0o077)
    path = tmp_path / f"old{suffix}"
    path.write_text("old")
    os.chmod(path, 0o664)
    save(path)
    assert is_valid(path) and path.stat().st_mode & 0o777 == 0o664


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_saving_through_a_symlink_writes_its_target(writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / f"target{suffix}"
    target.write_text("old")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(Path("real") / target.name)  # a relative link, resolved from its own directory
    save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", target.name)
    assert is_valid(target)
    dangling = tmp_path / f"dangling{suffix}"
    dangling.symlink_to(tmp_path / "real" / f"new{suffix}")
    save(dangling)  # open(path, "w") creates a dangling link's target
    assert dangling.is_symlink() and is_valid(tmp_path / "real" / f"new{suffix}")
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == [f"new{suffix}", f"target{suffix}"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    path = tmp_path / f"old{suffix}"
    path.write_text("old contents")

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    for module in (nn._atomic, viz._atomic):
        monkeypatch.setattr(module.os, "fsync", no_space)  # the data is written, then cannot be made durable
    with pytest.raises(OSError, match="No space left"):
        save(path)
    assert path.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write any file")
def test_a_read_only_file_is_refused_like_open_refuses_it(writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    path = tmp_path / f"locked{suffix}"
    path.write_text("old")
    os.chmod(path, 0o444)
    with pytest.raises(PermissionError):
        path.open("w")
    with pytest.raises(PermissionError):
        save(path)
    assert path.read_text() == "old"


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_symlink_loop_is_refused_like_open_refuses_it(writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    loop = tmp_path / f"loop{suffix}"
    loop.symlink_to(loop.name)
    with pytest.raises(OSError, match="Too many levels of symbolic links") as from_open:
        loop.open("w")
    with pytest.raises(OSError, match="Too many levels of symbolic links") as from_save:
        save(loop)
    assert from_save.value.errno == from_open.value.errno
    assert loop.is_symlink() and [p.name for p in tmp_path.iterdir()] == [loop.name]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write in any directory")
def test_a_directory_without_write_permission_says_why_a_save_needs_it(writer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    save, is_valid, suffix = writer
    path = tmp_path / f"old{suffix}"
    path.write_text("old")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="an atomic save writes a temporary file next to"):
            save(path)
    finally:
        tmp_path.chmod(0o755)
    assert path.read_text() == "old"
