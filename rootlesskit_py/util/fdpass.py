"""Descriptors passed over unix sockets (SCM_RIGHTS), in one encoding for every sender and receiver:
the builtin port driver's listening sockets (parent to child) and bypass4netns' route socket (child
to parent). Built on `_socket`: `socket.send_fds`/`recv_fds` would import socket.py (enum) at start."""

from __future__ import annotations

import _socket
import sys

_INT = 4  # a descriptor in SCM_RIGHTS data is a C int
SPACE_FOR_ONE = _socket.CMSG_SPACE(_INT)  # recvmsg's ancillary buffer size for one descriptor


def ancillary(fd: int) -> list[tuple[int, int, bytes]]:
    """sendmsg's ancillary data passing `fd`."""
    return [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd.to_bytes(_INT, sys.byteorder, signed=True))]


def received(ancillary_data: list[tuple[int, int, bytes]]) -> list[int]:
    """Every descriptor recvmsg's ancillary data carried (all of them, so that none is left open unseen)."""
    fds = []
    for level, kind, data in ancillary_data:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += [int.from_bytes(data[i:i + _INT], sys.byteorder, signed=True)
                    for i in range(0, len(data) - len(data) % _INT, _INT)]
    return fds
