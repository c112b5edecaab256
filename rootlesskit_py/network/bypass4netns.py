"""bypass4netns (`--bypass4netns`, our extension): containers' outbound TCP on host sockets.

The containers' own traffic otherwise crosses the user-mode stack (slirp4netns, pasta, vpnkit), the
slow part of rootless networking. runc gives each container's seccomp notification descriptor to
the listening socket `$STATE/bypass4netns.sock` (the profile's `listenerPath`, which
dockerd-rootless.sh writes); a thread of the parent, the one process that sits in the host's
network namespace and owns the user namespace, answers each connect(2) there
(native/rootlesskit_bypass.c says how, and why it is safe).

To tell "outside" from the namespace's own networks (the tap's, the bridges of every Docker
network, the addresses of the namespace) it asks the namespace's routing table: the child makes a
NETLINK_ROUTE socket inside the container network's namespace (the detached one with
--detach-netns) and passes it to the parent, which cannot enter that namespace itself.

Lifecycle (beside the network driver's, network/__init__.py):

    parent: before_fork()            a socket pair for the route socket
    child:  send_route_socket()      in the network namespace, once it is configured
    parent: start(state_dir)         receive it, listen on $STATE/bypass4netns.sock, start the thread
                                     -- before the command starts, so dockerd's first container finds it
    parent: cleanup()                the listening socket's file goes (the state dir goes anyway)
"""

from __future__ import annotations

import _socket
import errno
import os

from rootlesskit_py import names, native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import fdpass

_NETLINK_ROUTE = 0
# the drivers whose namespace has a user-mode stack worth bypassing; host and none have no outside
NETWORKS = ("slirp4netns", "pasta", "vpnkit", "lxc-user-nic")


def validate(net: str) -> None:
    """--bypass4netns needs a network namespace with a way out."""
    if net not in NETWORKS:
        raise RootlessKitError(f"--bypass4netns needs --net to be one of {', '.join(NETWORKS)}, got {net!r}")


class Bypass4netns:
    """One parent's bypass4netns: the route socket's way from the child, and the listener."""

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self._parent_end: _socket.socket | None = None
        self._child_end: _socket.socket | None = None
        self.listener_path = ""

    def before_fork(self) -> None:
        self._parent_end, self._child_end = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)

    def after_fork(self) -> None:
        self._child_end.close()

    def send_route_socket(self) -> None:
        """In the child, inside the network namespace: a route socket made here answers for it."""
        self._parent_end.close()
        route = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, _NETLINK_ROUTE)
        try:
            self._child_end.sendmsg([b"r"], fdpass.ancillary(route.fileno()))
        finally:
            route.close()
            self._child_end.close()

    def start(self, state_dir: str) -> None:
        """Receive the route socket and serve runc's connections from now on."""
        _, ancillary, _, _ = self._parent_end.recvmsg(1, fdpass.SPACE_FOR_ONE)
        self._parent_end.close()
        fds = fdpass.received(ancillary)
        if not fds:
            raise RootlessKitError("bypass4netns: the child did not pass the network namespace's route socket")
        path = os.path.join(state_dir, names.STATE_BYPASS4NETNS_SOCK)
        listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            listener.bind(path)
            os.chmod(path, 0o600)  # runc runs as the user (root in the namespace is the user)
            listener.listen(64)
            listener.setblocking(False)
            native.bypass_start(listener.fileno(), fds[0], self.debug)
        except OSError as e:
            listener.close()
            os.close(fds[0])
            if e.errno == errno.ENOPROTOOPT:  # no SO_NETNS_COOKIE
                raise RootlessKitError("bypass4netns needs Linux 5.14 or later (SO_NETNS_COOKIE); "
                                       f"this kernel is {os.uname().release}") from None
            raise RootlessKitError(f"bypass4netns: cannot serve {path}: {e.strerror}") from None
        listener.detach()  # the thread owns it now
        self.listener_path = path

    def cleanup(self) -> None:
        if self.listener_path:
            try:
                os.unlink(self.listener_path)
            except FileNotFoundError:
                pass
