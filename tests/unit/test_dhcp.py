"""The DHCP client's reply parser and lease checks (network/dhcp.py), on packets built here."""

from __future__ import annotations

import _socket
import struct

import pytest

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network import dhcp

XID = 0x12345678


def reply(op: int = 2, xid: int = XID, yiaddr: str = "10.0.3.17", cookie: bytes = b"\x63\x82\x53\x63",
          options: bytes = b"") -> bytes:
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", op, 1, 6, 0, xid, 0, 0, b"\0" * 4,
                         _socket.inet_aton(yiaddr), b"\0" * 4, b"\0" * 4, b"\0" * 16, b"", b"")
    return header + cookie + options + b"\xff"


def opt(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


ACK = opt(53, b"\x05")
MASK = opt(1, _socket.inet_aton("255.255.255.0"))
ROUTER = opt(3, _socket.inet_aton("10.0.3.1"))
DNS2 = opt(6, _socket.inet_aton("10.0.3.1") + _socket.inet_aton("1.1.1.1"))
LEASE = opt(51, (600).to_bytes(4, "big"))
SERVER = opt(54, _socket.inet_aton("10.0.3.254"))


@pytest.mark.parametrize("packet, parsed", [
    (reply(options=ACK + MASK), (5, "10.0.3.17", {53: b"\x05", 1: b"\xff\xff\xff\x00"})),
    (reply(options=b"\0\0" + ACK + b"\0" + ROUTER), (5, "10.0.3.17", {53: b"\x05", 3: b"\x0a\x00\x03\x01"})),  # pads
    (reply(options=b""), (0, "10.0.3.17", {})),  # no message type
    (reply(op=1, options=ACK), None),  # a request, not a reply
    (reply(xid=XID + 1, options=ACK), None),  # someone else's exchange
    (reply(cookie=b"\0\0\0\0", options=ACK), None),  # BOOTP, not DHCP
    (reply(options=ACK)[:239], None),  # truncated
])
def test_parse(packet, parsed):
    assert dhcp._parse(packet, XID) == parsed


@pytest.mark.parametrize("options, lease", [
    (ACK + MASK + ROUTER + DNS2 + LEASE + SERVER, ("10.0.3.17", 24, "10.0.3.1", ["10.0.3.1", "1.1.1.1"], 600, "10.0.3.254")),
    # no mask: /24; no lease time: an hour; no server identifier: the router
    (ACK + ROUTER + opt(6, _socket.inet_aton("10.0.3.1")), ("10.0.3.17", 24, "10.0.3.1", ["10.0.3.1"], 3600, "10.0.3.1")),
    (ACK + opt(1, _socket.inet_aton("255.255.240.0")) + ROUTER + DNS2, ("10.0.3.17", 20, "10.0.3.1", ["10.0.3.1", "1.1.1.1"], 3600, "10.0.3.1")),
])
def test_lease(options, lease):
    kind, address, parsed = dhcp._parse(reply(options=options), XID)
    got = dhcp._lease(kind, address, parsed)
    assert (got.ip, got.prefix, got.router, got.dns, got.seconds, got.server) == lease


@pytest.mark.parametrize("yiaddr, options, message", [
    ("10.0.3.17", opt(53, b"\x06") + ROUTER + DNS2, "did not get DHCPACK"),  # NAK
    ("0.0.0.0", ACK + ROUTER + DNS2, "got no IP address"),
    ("10.0.3.17", ACK + DNS2, "got no Router"),
    ("10.0.3.17", ACK + opt(3, b"\x0a\x00"), "got no Router"),  # too short for an address
    ("10.0.3.17", ACK + ROUTER, "got no DNS"),
])
def test_lease_refuses(yiaddr, options, message):
    kind, address, parsed = dhcp._parse(reply(yiaddr=yiaddr, options=options), XID)
    with pytest.raises(RootlessKitError) as raised:
        dhcp._lease(kind, address, parsed)
    assert raised.value.message == message


def test_request_packet_layout():
    mac = bytes.fromhex("020000000001") + b"\0" * 10
    packet = dhcp._packet(3, XID, mac, ciaddr="10.0.3.17", options=opt(50, _socket.inet_aton("10.0.3.17")))
    op, htype, hlen, _, xid, _, flags = struct.unpack_from("!BBBBIHH", packet)
    assert (op, htype, hlen, xid, flags) == (1, 1, 6, XID, 0x8000)  # BOOTREQUEST, ethernet, BROADCAST
    assert packet[12:16] == _socket.inet_aton("10.0.3.17") and packet[28:44] == mac
    assert packet[236:240] == b"\x63\x82\x53\x63"
    assert packet[240:] == bytes([53, 1, 3, 55, 5, 1, 3, 6, 51, 54]) + opt(50, _socket.inet_aton("10.0.3.17")) + b"\xff"
