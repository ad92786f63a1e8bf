"""The one atomic writer and the identity checks every command uses (ifan_trt.files)."""

from __future__ import annotations

import os

import pytest

from ifan_trt import files
from ifan_trt.errors import IfanError

pytestmark = pytest.mark.timeout(30)


def _temps(folder):
    return [p for p in os.listdir(folder) if files.is_temp(p)]


def test_write_is_complete_or_absent(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(ZeroDivisionError):
        with files.atomic_write(target) as fh:
            fh.write(b"half")
            1 / 0
    assert not target.exists() and not _temps(tmp_path)
    files.write_bytes(target, b"whole")
    assert target.read_bytes() == b"whole" and not _temps(tmp_path)


def test_interrupt_removes_the_temp(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_path(tmp_path / "v.mp4") as tmp:
            tmp.write_bytes(b"frames")
            assert tmp.suffix == ".mp4" and files.is_temp(tmp)  # writers choose the container by it
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_an_output_that_appears_meanwhile_is_not_clobbered(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(IfanError, match="appeared while this run wrote it"):
        with files.atomic_write(target) as fh:
            fh.write(b"ours")
            target.write_bytes(b"theirs")  # a concurrent run finished first
    assert target.read_bytes() == b"theirs" and not _temps(tmp_path)
    with files.atomic_write(target, overwrite=True) as fh:
        fh.write(b"ours")
    assert target.read_bytes() == b"ours"


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_only_regular_files_are_replaced(tmp_path, kind):
    target, other = tmp_path / "out.png", tmp_path / "other.png"
    other.write_bytes(b"keep")
    {"fifo": lambda: os.mkfifo(target), "symlink": lambda: os.symlink(other, target),
     "folder": lambda: target.mkdir()}[kind]()
    with pytest.raises(IfanError, match="only regular files are replaced"):
        files.write_bytes(target, b"x", overwrite=True)
    assert other.read_bytes() == b"keep" and not _temps(tmp_path)


def test_commit_refuses_a_special_file_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(IfanError, match="is a FIFO"):
        with files.atomic_write(target, overwrite=True) as fh:
            fh.write(b"x")
            os.mkfifo(target)
    assert not _temps(tmp_path)


def test_temp_names_fit_the_file_name_limit(tmp_path):
    target = tmp_path / ("n" * 250 + ".png")
    with files.atomic_path(target) as tmp:
        assert len(tmp.name) < 40
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"


def test_remove_live_temps_is_what_signal_handlers_call(tmp_path):
    context = files.atomic_path(tmp_path / "a.bin")
    tmp = context.__enter__()
    tmp.write_bytes(b"partial")
    files.remove_live_temps()
    assert not tmp.exists()
    with pytest.raises(IfanError, match="produced no file"):
        context.__exit__(None, None, None)


def test_identity_sees_links_and_aliases(tmp_path):
    (tmp_path / "d").mkdir()
    a = tmp_path / "d" / "a.png"
    a.write_bytes(b"x")
    os.link(a, tmp_path / "hard.png")
    os.symlink(tmp_path / "d", tmp_path / "alias")
    assert files.same_file(a, tmp_path / "hard.png") and files.same_file(a, tmp_path / "alias" / "a.png")
    assert not files.same_file(a, tmp_path / "d" / "b.png")
    assert files.is_inside(tmp_path / "alias" / "new" / "x.png", tmp_path / "d")
    with pytest.raises(IfanError, match="lies inside the input data"):
        files.check_not_input(tmp_path / "alias" / "out", [], [tmp_path / "d"])


def test_regular_file_check_and_hash(tmp_path):
    os.mkfifo(tmp_path / "f")
    with pytest.raises(IfanError, match="is a FIFO"):
        files.read_input_bytes(tmp_path / "f")
    with pytest.raises(IfanError, match="is a device"):
        files.sha256_file("/dev/zero")
    (tmp_path / "x").write_bytes(b"abc")
    assert files.sha256_file(tmp_path / "x") == files.sha256_bytes(b"abc") == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
