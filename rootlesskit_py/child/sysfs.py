"""The child's own sysfs: /sys shows the devices of the network namespace it mounts from, so a
driver with a network namespace of its own gets a fresh one (upstream remounts for every driver
but host and none)."""

from __future__ import annotations

import os

from rootlesskit_py import native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.fs import make_temp_dir
from rootlesskit_py.util.gocompat import strerror


def remount_sysfs() -> None:
    """A sysfs of our own network namespace at /sys, keeping the cgroup mount that lives below it."""
    cgroup_dir = "/sys/fs/cgroup"
    saved = make_temp_dir("rksys", "/tmp")
    try:
        native.mount(cgroup_dir, saved, None, native.MS_BIND | native.MS_REC)
    except OSError as e:
        os.rmdir(saved)
        raise RootlessKitError(f"failed to create bind mount on {cgroup_dir}: {strerror(e)}") from None
    try:
        native.mount("none", "/sys", "sysfs")
    except OSError as e:
        log.warn(f"failed to mount sysfs, falling back to read-only mount: {strerror(e)}")
        try:
            native.mount("none", "/sys", "sysfs", native.MS_RDONLY)
        except OSError as e2:
            log.warn(f"failed to mount sysfs: {strerror(e2)}")
    try:
        native.mount(saved, cgroup_dir, None, native.MS_MOVE)
    except OSError as e:
        raise RootlessKitError(f"failed to move mount point from {saved} to {cgroup_dir}: {strerror(e)}") from None
    os.rmdir(saved)  # empty again once its mount has moved back
