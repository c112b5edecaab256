"""Helpers shared by network drivers."""

from __future__ import annotations

import fcntl
import socket
import struct

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def reject_namespace_options(opts: dict, net: str) -> None:
    """host and none have no device: upstream warns about --mtu and refuses --cidr/--ifname."""
    if opts["mtu"]:
        log.warn(f"unsupported mtu for --net={net}: {opts['mtu']}")
    if opts["cidr"]:
        raise RootlessKitError(f"custom cidr is not supported for --net={net}")
    if opts["ifname"]:
        raise RootlessKitError(f"ifname cannot be specified for --net={net}")


def bring_loopback_up() -> None:
    """`ip link set lo up` by ioctl; the kernel then assigns 127.0.0.1/8 and ::1 itself."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | _IFF_UP))
