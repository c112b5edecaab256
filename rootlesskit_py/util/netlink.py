"""Just enough rtnetlink to configure an interface (link up and MTU, an address, a default route),
list IPv4 addresses, and add the policy routing the builtin port driver's source-IP mode needs.

The network drivers and the builtin port driver run this inside the namespace on every start. pyroute2 would do it, but
importing pyroute2 0.9 costs 180-220 ms here (asyncio, ssl, typing), more than all of Go
RootlessKit's start-up; these few messages cost nothing to import. Uses `_socket`, which `socket.py`
only wraps with enum classes.
"""

from __future__ import annotations

import _socket
import fcntl
import os
import struct

from rootlesskit_py.util.gocompat import errno_text

_RTM_NEWLINK, _RTM_NEWADDR, _RTM_GETADDR, _RTM_NEWROUTE, _RTM_NEWRULE = 16, 20, 22, 24, 32
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_DUMP, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x300, 0x200, 0x400
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_IFLA_ADDRESS, _IFLA_MTU = 1, 4
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_RTA_OIF, _RTA_GATEWAY, _RTA_TABLE = 4, 5, 15
_FRA_PRIORITY, _FRA_FWMARK, _FRA_TABLE = 6, 10, 15
_RT_TABLE_MAIN, _RTPROT_BOOT, _RT_SCOPE_UNIVERSE, _RT_SCOPE_HOST = 254, 3, 0, 254
_RTN_UNICAST, _RTN_LOCAL, _FR_ACT_TO_TBL = 1, 2, 1
IFF_UP = 0x1

_TUNSETIFF, _TUNSETPERSIST = 0x400454CA, 0x400454CB
_IFF_TAP, _IFF_NO_PI = 0x0002, 0x1000


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length % 4)


def _family_and_bytes(address: str) -> tuple[int, bytes]:
    family = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    return family, _socket.inet_pton(family, address)


class Netlink:
    """An rtnetlink socket; every request waits for the kernel's acknowledgement."""

    def __init__(self) -> None:
        self._sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, 0)  # NETLINK_ROUTE
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "Netlink":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(self, kind: int, flags: int, body: bytes, what: str) -> None:
        self._seq += 1
        header = struct.pack("=LHHLL", 16 + len(body), kind, _NLM_F_REQUEST | _NLM_F_ACK | flags, self._seq, 0)
        self._sock.send(header + body)
        while True:
            reply = self._sock.recv(65536)
            offset = 0
            while offset + 16 <= len(reply):
                length, reply_kind, _, seq, _ = struct.unpack_from("=LHHLL", reply, offset)
                if reply_kind == _NLMSG_ERROR and seq == self._seq:
                    error = -struct.unpack_from("=i", reply, offset + 16)[0]
                    if error:
                        raise OSError(error, f"{what}: {errno_text(error)}")
                    return
                offset += max(length, 16)

    def ipv4_addresses(self) -> list[str]:
        """Every IPv4 address, in interface order (`ip -4 -o addr`, as Go's net.InterfaceAddrs lists them)."""
        self._seq += 1
        body = struct.pack("=BBBBI", _socket.AF_INET, 0, 0, 0, 0)
        self._sock.send(struct.pack("=LHHLL", 16 + len(body), _RTM_GETADDR, _NLM_F_REQUEST | _NLM_F_DUMP,
                                    self._seq, 0) + body)
        addresses = []
        while True:
            reply = self._sock.recv(65536)
            offset = 0
            while offset + 16 <= len(reply):
                length, kind, _, _, _ = struct.unpack_from("=LHHLL", reply, offset)
                if kind in (_NLMSG_DONE, _NLMSG_ERROR):
                    return addresses
                attrs, found = offset + 24, {}
                while attrs + 4 <= offset + length:
                    attr_len, attr_kind = struct.unpack_from("=HH", reply, attrs)
                    found[attr_kind] = reply[attrs + 4:attrs + attr_len]
                    attrs += max(4, (attr_len + 3) & ~3)
                raw = found.get(_IFA_LOCAL) or found.get(_IFA_ADDRESS)
                if raw:
                    addresses.append(_socket.inet_ntop(_socket.AF_INET, raw))
                offset += max(length, 16)

    def add_local_default_route(self, family: int, table: int) -> None:
        """`ip [-6] route add local default dev lo table TABLE`: deliver everything locally."""
        body = struct.pack("=BBBBBBBBI", family, 0, 0, 0, 0, _RTPROT_BOOT, _RT_SCOPE_HOST, _RTN_LOCAL, 0)
        body += _attr(_RTA_OIF, struct.pack("=I", _socket.if_nametoindex("lo"))) + _attr(_RTA_TABLE, struct.pack("=I", table))
        self._request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, body, f"adding local default route to table {table}")

    def add_fwmark_rule(self, family: int, mark: int, table: int, priority: int) -> None:
        """`ip [-6] rule add fwmark MARK lookup TABLE priority PRIORITY`."""
        body = struct.pack("=BBBBBBBBI", family, 0, 0, 0, 0, 0, 0, _FR_ACT_TO_TBL, 0)
        body += _attr(_FRA_FWMARK, struct.pack("=I", mark)) + _attr(_FRA_TABLE, struct.pack("=I", table))
        body += _attr(_FRA_PRIORITY, struct.pack("=I", priority))
        self._request(_RTM_NEWRULE, _NLM_F_CREATE | _NLM_F_EXCL, body, f"adding rule fwmark {mark} lookup {table}")

    def set_link(self, ifname: str, up: bool = True, mtu: int | None = None, mac: bytes = b"") -> None:
        """`ip link set IFNAME up [mtu MTU] [address MAC]`."""
        index = _socket.if_nametoindex(ifname)
        body = struct.pack("=BxHiII", _socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP)
        if mtu:
            body += _attr(_IFLA_MTU, struct.pack("=I", mtu))
        if mac:
            body += _attr(_IFLA_ADDRESS, mac)
        self._request(_RTM_NEWLINK, 0, body, f"setting link {ifname}")

    def add_address(self, ifname: str, address: str, prefix_len: int) -> None:
        """`ip addr add ADDRESS/PREFIX dev IFNAME`."""
        family, raw = _family_and_bytes(address)
        body = struct.pack("=BBBBI", family, prefix_len, 0, _RT_SCOPE_UNIVERSE, _socket.if_nametoindex(ifname))
        body += _attr(_IFA_LOCAL, raw) + _attr(_IFA_ADDRESS, raw)
        self._request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL, body, f"adding {address}/{prefix_len} to {ifname}")

    def add_default_route(self, ifname: str, gateway: str) -> None:
        """`ip route add default via GATEWAY dev IFNAME`."""
        family, raw = _family_and_bytes(gateway)
        body = struct.pack("=BBBBBBBBI", family, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT, _RT_SCOPE_UNIVERSE,
                           _RTN_UNICAST, 0)
        body += _attr(_RTA_GATEWAY, raw) + _attr(_RTA_OIF, struct.pack("=I", _socket.if_nametoindex(ifname)))
        self._request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, body, f"adding default route via {gateway}")


def create_tap(ifname: str) -> None:
    """`ip tuntap add name IFNAME mode tap`: a persistent tap for slirp4netns to attach to."""
    fd = open_tap(ifname)
    try:
        fcntl.ioctl(fd, _TUNSETPERSIST, 1)
    finally:
        os.close(fd)


def open_tap(ifname: str) -> int:
    """A descriptor reading and writing IFNAME's ethernet frames (the tap is created if missing)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", ifname.encode(), _IFF_TAP | _IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd
