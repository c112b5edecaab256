"""Who holds a host port: the answer to "address already in use" that upstream leaves to the user.

Docker picks a port, then RootlessKit binds the same port on the host (moby/moby#52903); when that
fails, the useful fact is which process has it. The kernel lists bound sockets with their inode in
/proc/net/{tcp,tcp6,udp,udp6}; the process is the one with a `socket:[inode]` descriptor. Only our
own processes' descriptors are readable, so for another user's process we can say only that much.
"""

from __future__ import annotations

import os

_TCP_LISTEN = "0A"


def socket_inodes(proto: str, port: int) -> set[str]:
    """Inodes of sockets bound to `port` (`proto` is "tcp" or "udp"; TCP: listening ones only)."""
    inodes = set()
    for table in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local_port = int(fields[1].rsplit(":", 1)[1], 16)
                    if local_port == port and (proto != "tcp" or fields[3] == _TCP_LISTEN):
                        inodes.add(fields[9])
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return inodes


def holders(inodes: set[str]) -> list[tuple[int, str]]:
    """(pid, command name) of every process we can inspect that has one of these sockets open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    with open(f"/proc/{pid}/comm") as f:
                        found.append((int(pid), f.read().strip()))
                    break
            except OSError:
                continue
    return found


def describe_holder(proto: str, port: int) -> str:
    """A sentence for the error message, e.g. `port 8080/tcp is held by pid 4242 (nginx)`."""
    inodes = socket_inodes(proto, port)
    what = f"port {port}/{proto}"
    if not inodes:
        return f"{what} is taken, but no socket bound to it is visible in this network namespace"
    found = holders(inodes)
    if not found:
        return f"{what} is held by a process of another user (as root: ss -lpn 'sport = :{port}')"
    return f"{what} is held by " + ", ".join(f"pid {pid} ({name})" for pid, name in found)
