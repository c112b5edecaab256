"""`--evacuate-cgroup2=NAME`: move every process of our cgroup into a new sub-group NAME.

cgroup v2 forbids processes in a non-leaf group that has controllers enabled; evacuating lets a
delegated group (systemd user service) enable its controllers for the containers below it.
"""

from __future__ import annotations

import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import strerror


def _cgroup2_mountpoints(mountinfo: str) -> list[str]:
    points = []
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                points.append(fields[4])
    return points


def _own_group(proc_cgroup: str) -> str:
    with open(proc_cgroup) as f:
        for line in f:
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
    os.makedirs(new, mode=0o755, exist_ok=True)
    with open(os.path.join(old, "cgroup.procs")) as f:
        pids = [p.strip() for p in f.read().splitlines() if p.strip() not in ("", "0")]
    for pid in pids:
        try:
            with open(os.path.join(new, "cgroup.procs"), "w") as f:
                f.write(pid)
        except OSError as e:
            log.warn(f'failed to move process {pid} to cgroup "{new}": {strerror(e)}')
    with open(os.path.join(old, "cgroup.controllers")) as f:
        controllers = f.read().split()
    for controller in controllers:
        try:
            with open(os.path.join(old, "cgroup.subtree_control"), "w") as f:
                f.write("+" + controller)
        except OSError as e:
            log.warn(f'failed to enable controller "{controller}": {strerror(e)}')
