"""The two file-system helpers we need from tempfile and shutil, on `os` alone.

Every run creates and removes a state directory; `tempfile` and `shutil` pull in random, fnmatch,
re and more (~20 ms of imports in the interpreter), for one mkdtemp and one rmtree.
"""

from __future__ import annotations

import os


def make_temp_dir(prefix: str, parent: str | None = None) -> str:
    """mkdtemp: a new directory `<parent>/<prefix><random digits>`, mode 0700 (parent: $TMPDIR or /tmp)."""
    parent = parent or os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(parent, prefix + str(int.from_bytes(os.urandom(4), "little")))
        try:
            os.mkdir(path, 0o700)
            return os.path.abspath(path)
        except FileExistsError:
            continue


def remove_tree(path: str) -> None:
    """rm -rf without following symlinks; raises OSError (with the failing path) on the first error."""
    for _, dirs, files, dir_fd in os.fwalk(path, topdown=False):
        for name in files:
            os.unlink(name, dir_fd=dir_fd)
        for name in dirs:
            try:
                os.rmdir(name, dir_fd=dir_fd)
            except NotADirectoryError:  # a symlink to a directory
                os.unlink(name, dir_fd=dir_fd)
    os.rmdir(path)
