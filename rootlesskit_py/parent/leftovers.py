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


def kill_all_in(userns: tuple[int, int], spare: set[int]) -> int:
    """SIGKILL every process whose user namespace is `userns`, but not `spare` (helpers the network
    driver stops itself), looking again while new ones appear (a dying shim may still fork);
    returns how many were killed."""
    killed: set[int] = set()
    spare = spare | {os.getpid()}
    while True:
        found = [pid for pid in _pids() if pid not in killed and pid not in spare and namespace_of(pid) == userns]
        if not found:
            return len(killed)
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed.update(found)


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
