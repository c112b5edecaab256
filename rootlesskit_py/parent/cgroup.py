"""`--evacuate-cgroup2=NAME`: move every process of our cgroup into a new sub-group NAME.

cgroup v2 forbids processes in a non-leaf group that has controllers enabled; evacuating lets a
delegated group (systemd user service) enable its controllers for the containers below it.
"""

from __future__ import annotations

import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import path_error, strerror


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise RootlessKitError(f"cgroup2 evacuation: {path_error('open', e)}") from None


def _cgroup2_mountpoints(mountinfo: str) -> list[str]:
    """Mount points of cgroup2 in a mountinfo(5) text; a line not in that format is skipped."""
    points = []
    for line in _read(mountinfo).splitlines():
        fields = line.split()
        if "-" in fields[5:]:
            sep = fields.index("-", 5)
            if fields[sep + 1:sep + 2] == ["cgroup2"]:
                points.append(fields[4])
    return points


def _own_group(proc_cgroup: str) -> str:
    for line in _read(proc_cgroup).splitlines():
        if line.startswith("0::"):
            return line[3:].strip()
    return "/"


def evacuate(name: str, mountinfo: str = "/proc/self/mountinfo", proc_cgroup: str = "/proc/self/cgroup") -> None:
    """Move the processes of our cgroup into `<group>/<name>` and enable the controllers."""
    if not name:
        raise RootlessKitError("got empty evacuation group name")
    if "/" in name:
        raise RootlessKitError(f'unexpected evacuation group name "{name}": must not contain "/"')
    points = _cgroup2_mountpoints(mountinfo)
    if not points:
        log.warn("cgroup2 is not mounted. cgroup2 evacuation is discarded.")
        return
    if len(points) > 1:
        log.warn(f"expected single mountpoint for cgroup2, got {len(points)}")
    old = os.path.join(points[0], _own_group(proc_cgroup).lstrip("/"))
    new = os.path.join(old, name)
    try:
        os.makedirs(new, mode=0o755, exist_ok=True)
    except OSError as e:
        raise RootlessKitError(f"cgroup2 evacuation: {path_error('mkdir', e)}") from None
    pids = [p.strip() for p in _read(os.path.join(old, "cgroup.procs")).splitlines() if p.strip() not in ("", "0")]
    for pid in pids:
        try:
            with open(os.path.join(new, "cgroup.procs"), "w") as f:
                f.write(pid)
        except OSError as e:
            log.warn(f'failed to move process {pid} to cgroup "{new}": {strerror(e)}')
    for controller in _read(os.path.join(old, "cgroup.controllers")).split():
        try:
            with open(os.path.join(old, "cgroup.subtree_control"), "w") as f:
                f.write("+" + controller)
        except OSError as e:
            log.warn(f'failed to enable controller "{controller}": {strerror(e)}')
