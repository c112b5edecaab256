"""util.fs: the mkdtemp and rm -rf every run relies on."""

from __future__ import annotations

import os
import stat

import pytest

from rootlesskit_py.util.fs import make_temp_dir, remove_tree


def test_make_temp_dir_is_new_private_and_absolute(tmp_path, monkeypatch):
    first, second = make_temp_dir("rk", str(tmp_path)), make_temp_dir("rk", str(tmp_path))
    assert first != second
    for path in (first, second):
        assert os.path.isabs(path) and os.path.basename(path).startswith("rk")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    monkeypatch.setenv("TMPDIR", str(tmp_path / "sub"))
    os.mkdir(tmp_path / "sub")
    assert make_temp_dir("x").startswith(f"{tmp_path}/sub/x")


def test_remove_tree_does_not_follow_symlinks(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("data")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("x")
    (tree / "link-to-dir").symlink_to(outside)
    (tree / "a" / "link-to-file").symlink_to(outside / "keep")
    remove_tree(str(tree))
    assert not tree.exists()
    assert (outside / "keep").read_text() == "data"


def test_remove_tree_reports_the_failing_path(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        remove_tree(str(tmp_path / "missing"))
    assert "missing" in str(e.value)
