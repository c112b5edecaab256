"""`--copy-up` in tmpfs+symlink mode: make a read-only-to-us directory writable inside the namespace.

The original directory is moved under `DIR/.roXXXXXXXX` and a tmpfs takes its place, holding one
symlink per original entry, so files can be added or replaced without touching the host.
"""

from __future__ import annotations

import os

from rootlesskit_py import native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util.fs import make_temp_dir
from rootlesskit_py.util.gocompat import strerror


def copy_up(dirs: list[str]) -> None:
    """Copy up each directory in order; an error leaves the ones before it copied up (as upstream)."""
    if not dirs:
        return
    scratch = make_temp_dir("rootlesskit-b", "/tmp")
    try:
        for d in dirs:
            _copy_up_one(d.rstrip("/") or "/", scratch)
    finally:
        os.rmdir(scratch)


def _copy_up_one(d: str, scratch: str) -> None:
    if d == "/tmp":
        raise RootlessKitError("/tmp cannot be copied up")
    try:
        native.mount(d, scratch, None, native.MS_BIND | native.MS_REC)
    except OSError as e:
        raise RootlessKitError(f"failed to create bind mount on {d}: {strerror(e)}") from None
    try:
        native.mount("none", d, "tmpfs")
    except OSError as e:
        raise RootlessKitError(f"failed to mount tmpfs on {d}: {strerror(e)}") from None
    ro_dir = make_temp_dir(".ro", d)
    try:
        native.mount(scratch, ro_dir, None, native.MS_MOVE)
    except OSError as e:
        raise RootlessKitError(f"failed to move mount point from {scratch} to {ro_dir}: {strerror(e)}") from None
    ro_name = os.path.basename(ro_dir)
    # The fresh tmpfs holds nothing but ro_dir, so only an original entry of that very name is in
    # the way; scandir's entry types spare an lstat per entry (/etc has ~150).
    with os.scandir(ro_dir) as entries:
        for entry in entries:
            link = os.path.join(d, entry.name)
            if entry.name == ro_name:
                try:
                    os.unlink(link)
                except OSError as e:
                    raise RootlessKitError(f"removing {link}: {strerror(e)}") from None
            # A symlink keeps its own target text (relative links stay relative to DIR); anything
            # else points into the moved original through a relative path.
            target = os.readlink(entry.path) if entry.is_symlink() else os.path.join(ro_name, entry.name)
            try:
                os.symlink(target, link)
            except OSError as e:
                raise RootlessKitError(f"symlinking {target} to {link}: {strerror(e)}") from None
