"""A DHCPv4 client for --net=lxc-user-nic: DISCOVER, OFFER, REQUEST, ACK, then renewals.

A UDP socket bound to port 68 on the device (SO_BINDTODEVICE) can send from 0.0.0.0 before the
interface has an address; the BROADCAST flag asks the server to broadcast its replies, which such
a socket receives. Uses `_socket` (socket.py only adds enum wrappers).
"""

from __future__ import annotations

import _socket
import fcntl
import os
import struct
import time

from rootlesskit_py.errors import RootlessKitError

_DISCOVER, _OFFER, _REQUEST, _ACK, _NAK = 1, 2, 3, 5, 6
_COOKIE = b"\x63\x82\x53\x63"
_SIOCGIFHWADDR = 0x8927
_SO_BINDTODEVICE = 25
TIMEOUT = 30.0  # upstream's read/write timeouts
RETRANSMIT = 2.0


class Lease:
    """What the server granted: our address and prefix, the router, DNS servers, lease time."""

    __slots__ = ("ip", "prefix", "router", "dns", "seconds", "server")

    def __init__(self, ip: str, prefix: int, router: str, dns: list[str], seconds: int, server: str) -> None:
        self.ip, self.prefix, self.router, self.dns, self.seconds, self.server = ip, prefix, router, dns, seconds, server


def _mac(ifname: str) -> bytes:
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        return fcntl.ioctl(sock.fileno(), _SIOCGIFHWADDR, struct.pack("256s", ifname.encode()))[18:24]
    finally:
        sock.close()


def _packet(kind: int, xid: int, mac: bytes, ciaddr: str = "0.0.0.0", options: bytes = b"") -> bytes:
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, _socket.inet_aton(ciaddr),
                         b"\0" * 4, b"\0" * 4, b"\0" * 4, mac, b"", b"")
    # message type, then ask for subnet mask, router, DNS, lease time, server identifier
    return header + _COOKIE + bytes([53, 1, kind, 55, 5, 1, 3, 6, 51, 54]) + options + b"\xff"


def _parse(reply: bytes, xid: int) -> tuple[int, str, dict[int, bytes]] | None:
    if len(reply) < 240 or reply[0] != 2 or struct.unpack_from("!I", reply, 4)[0] != xid or reply[236:240] != _COOKIE:
        return None
    options, i = {}, 240
    while i < len(reply) and reply[i] != 255:
        if reply[i] == 0:
            i += 1
            continue
        length = reply[i + 1]
        options[reply[i]] = reply[i + 2:i + 2 + length]
        i += 2 + length
    kind = options.get(53, b"\0")[0]
    return kind, _socket.inet_ntoa(reply[16:20]), options


class Client:
    """One DHCP client on one interface."""

    def __init__(self, ifname: str) -> None:
        self.ifname = ifname
        self.mac = _mac(ifname) + b"\0" * 10
        self.xid = int.from_bytes(os.urandom(4), "big")
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_BROADCAST, 1)
        self.sock.setsockopt(_socket.SOL_SOCKET, _SO_BINDTODEVICE, ifname.encode())
        self.sock.bind(("0.0.0.0", 68))

    def close(self) -> None:
        self.sock.close()

    def _exchange(self, packet: bytes, want: tuple[int, ...], to: str = "255.255.255.255") -> tuple[int, str, dict]:
        """Send, and send again every RETRANSMIT seconds (a fresh veth may drop the first packets),
        until a reply of a wanted kind arrives or TIMEOUT passes."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            self.sock.sendto(packet, (to, 67))
            resend_at = min(time.monotonic() + RETRANSMIT, deadline)
            while (left := resend_at - time.monotonic()) > 0:
                self.sock.settimeout(left)
                try:
                    parsed = _parse(self.sock.recv(4096), self.xid)
                except (TimeoutError, InterruptedError):
                    continue
                if parsed and parsed[0] in want:
                    return parsed
        raise RootlessKitError(f"DHCP on {self.ifname}: no answer within {TIMEOUT:.0f} s")

    def obtain(self) -> Lease:
        """DISCOVER/OFFER/REQUEST/ACK; upstream's checks and messages on the result."""
        _, offered, options = self._exchange(_packet(_DISCOVER, self.xid, self.mac), (_OFFER,))
        server = options.get(54, b"")
        request = bytes([50, 4]) + _socket.inet_aton(offered) + (bytes([54, 4]) + server if server else b"")
        kind, address, options = self._exchange(_packet(_REQUEST, self.xid, self.mac, options=request), (_ACK, _NAK))
        return _lease(kind, address, options)

    def renew(self, lease: Lease) -> Lease:
        """A unicast REQUEST for the address we hold (RFC 2131 RENEWING)."""
        self.xid = (self.xid + 1) & 0xFFFFFFFF
        kind, address, options = self._exchange(_packet(_REQUEST, self.xid, self.mac, ciaddr=lease.ip),
                                                (_ACK, _NAK), to=lease.server)
        return _lease(kind, address, options)


def _lease(kind: int, address: str, options: dict[int, bytes]) -> Lease:
    if kind != _ACK:
        raise RootlessKitError("did not get DHCPACK")
    if address == "0.0.0.0":
        raise RootlessKitError("got no IP address")
    if len(options.get(3, b"")) < 4:
        raise RootlessKitError("got no Router")
    if len(options.get(6, b"")) < 4:
        raise RootlessKitError("got no DNS")
    dns = [_socket.inet_ntoa(options[6][i:i + 4]) for i in range(0, len(options[6]) - 3, 4)]
    mask = int.from_bytes(options.get(1, b"\xff\xff\xff\x00"), "big")
    return Lease(address, bin(mask).count("1"), _socket.inet_ntoa(options[3][:4]), dns,
                 int.from_bytes(options.get(51, b"\0\0\x0e\x10"), "big"), _socket.inet_ntoa(options.get(54, options[3][:4])))
