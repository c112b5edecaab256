"""Processes left in the user namespace after the command ended.

Daemons inside rootlesskit detach their helpers on purpose: containerd's shims re-parent
themselves so that containers survive a containerd restart. When the command (dockerd) is gone,
nothing will ever stop them, and upstream leaves them running, holding the subordinate ids, the
data root and the ports of a daemon that no longer exists. The namespace is ours alone, so once
the command has exited whatever is still in it is ended.
"""

from __future__ import annotations

import os
import _signal as signal


def namespace_of(pid: int) -> tuple[int, int] | None:
    """The identity (device, inode) of `pid`'s user namespace, or None if it cannot be seen."""
    try:
        st = os.stat(f"/proc/{pid}/ns/user")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def kill_all_in(userns: tuple[int, int], rounds: int = 20) -> int:
    """SIGKILL every process whose user namespace is `userns`, again while new ones appear (a
    dying shim may still be forking); returns how many were killed."""
    killed = 0
    own = os.getpid()
    for _ in range(rounds):
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == own or namespace_of(int(entry)) != userns:
                continue
            try:
                os.kill(int(entry), signal.SIGKILL)
                found += 1
            except OSError:
                pass
        if not found:
            break
        killed += found
    return killed
