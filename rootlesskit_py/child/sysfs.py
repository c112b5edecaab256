"""The child's own sysfs: /sys shows the devices of the network namespace it mounts from, so a
driver with a network namespace of its own gets a fresh one (upstream remounts for every driver
but host and none). With --evacuate-cgroup2 the child also gets a cgroup2 mount of its own cgroup
namespace at /sys/fs/cgroup: the evacuation exists so that the command (dockerd, a nested
runtime) can manage the delegated group from inside, and the inherited mount shows the host's
whole tree instead, where the user owns nothing at its root."""

from __future__ import annotations

import os

from rootlesskit_py import native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.fs import make_temp_dir
from rootlesskit_py.util.gocompat import strerror


CGROUP_DIR = "/sys/fs/cgroup"


def _mount_cgroup2() -> None:
    """cgroup2 as this cgroup namespace sees it (its root: the group the child started in)."""
    try:
        native.mount("none", CGROUP_DIR, "cgroup2")
    except OSError as e:
        raise RootlessKitError(f"failed to mount cgroup2 on {CGROUP_DIR}: {strerror(e)}") from None


def mount_own_cgroup2() -> None:
    """--evacuate-cgroup2 without a network namespace (host, none): /sys stays the host's, and only
    /sys/fs/cgroup is replaced; a tmpfs goes first, as the same cgroup2 superblock mounted straight
    over its own mount point fails with EBUSY."""
    try:
        native.mount("none", CGROUP_DIR, "tmpfs")
    except OSError as e:
        raise RootlessKitError(f"failed to mount tmpfs on {CGROUP_DIR}: {strerror(e)}") from None
    _mount_cgroup2()


def remount_sysfs(own_cgroup2: bool) -> None:
    """A sysfs of our own network namespace at /sys, with the cgroup mount that lived below it
    kept, or (`own_cgroup2`, for --evacuate-cgroup2) replaced by this cgroup namespace's own."""
    if own_cgroup2:
        _mount_sysfs()
        _mount_cgroup2()
        return
    saved = make_temp_dir("rksys", "/tmp")
    try:
        native.mount(CGROUP_DIR, saved, None, native.MS_BIND | native.MS_REC)
    except OSError as e:
        os.rmdir(saved)
        raise RootlessKitError(f"failed to create bind mount on {CGROUP_DIR}: {strerror(e)}") from None
    _mount_sysfs()
    try:
        native.mount(saved, CGROUP_DIR, None, native.MS_MOVE)
    except OSError as e:
        raise RootlessKitError(f"failed to move mount point from {saved} to {CGROUP_DIR}: {strerror(e)}") from None
    os.rmdir(saved)  # empty again once its mount has moved back


def _mount_sysfs() -> None:
    try:
        native.mount("none", "/sys", "sysfs")
    except OSError as e:
        log.warn(f"failed to mount sysfs, falling back to read-only mount: {strerror(e)}")
        try:
            native.mount("none", "/sys", "sysfs", native.MS_RDONLY)
        except OSError as e2:
            log.warn(f"failed to mount sysfs: {strerror(e2)}")
