"""VPNKit's vmnet protocol, client side: how a VM (here: our tap device) plugs into vpnkit's switch.

Over vpnkit's `--ethernet` unix socket: both sides send an init message (magic `VMN3T`, version
22, a 40-byte commit), the client asks for an ethernet port with a UUID (type 1, the UUID as its
36-character text, an IPv4 address or 0), and vpnkit answers type 1 plus the VIF (MTU, maximum
packet size, the MAC it assigned, padding to 256 bytes) or an error string. From then on the
socket carries ethernet frames, each prefixed by its length (uint16, little-endian). Integers are
little-endian. The address comes from vpnkit's DHCP server: one DISCOVER, read the OFFER.
"""

from __future__ import annotations

import _socket
import os
import struct
import time

from rootlesskit_py.errors import RootlessKitError

_INIT = b"VMN3T" + struct.pack("<I", 22) + b"0123456789" * 4
_VIF_SIZE = 2 + 2 + 6 + 247
_BROADCAST_MAC = b"\xff" * 6


class Vif:
    """A connected virtual interface: frames in and out of vpnkit's switch."""

    def __init__(self, sock: _socket.socket, mtu: int, mac: bytes) -> None:
        self.sock, self.mtu, self.mac = sock, mtu, mac

    def write(self, frame: bytes | memoryview) -> None:
        self.sock.sendall(struct.pack("<H", len(frame)) + frame)

    def read(self) -> bytes:
        length = struct.unpack("<H", _read_exactly(self.sock, 2))[0]
        return _read_exactly(self.sock, length)


def _read_exactly(sock: _socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("vpnkit closed the connection")
        data += chunk
    return data


def connect(path: str, uuid: str) -> Vif:
    """Negotiate and connect the VIF `uuid` (raises OSError)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        sock.sendall(_INIT)
        _read_exactly(sock, len(_INIT))
        sock.sendall(b"\x01" + uuid.encode() + b"\0\0\0\0")
        if _read_exactly(sock, 1) != b"\x01":
            length = _read_exactly(sock, 1)[0]
            raise OSError(f"vpnkit refused VIF {uuid}: {_read_exactly(sock, length).decode(errors='replace')}")
        vif = _read_exactly(sock, _VIF_SIZE)
    except BaseException:
        sock.close()
        raise
    mtu, _max_packet = struct.unpack_from("<HH", vif)
    return Vif(sock, mtu, vif[4:10])


def connect_with_retry(path: str, uuid: str, gone, seconds: float = 10) -> Vif:
    """vpnkit creates its socket some time after it starts: retry for up to `seconds`, as upstream,
    unless `gone()` says how vpnkit ended meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return connect(path, uuid)
        except OSError as e:
            ended = gone()
            if ended:
                raise RootlessKitError(f"connecting to {path}: vpnkit exited ({ended}) before serving it") from None
            if time.monotonic() > deadline:
                raise RootlessKitError(f"connecting to {path}: last error: {e}: context deadline exceeded") from None
            time.sleep(0.01)


def new_uuid() -> str:
    """A random (version 4) UUID in its text form."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def dhcp_address(vif: Vif, seconds: float = 10) -> str:
    """The address vpnkit's DHCP server offers this VIF (upstream asks the same way, once a second)."""
    discover = _dhcp_discover(vif.mac)
    vif.sock.settimeout(1.0)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            vif.write(discover)
            try:
                while True:
                    address = _offered_address(vif.read(), vif.mac)
                    if address:
                        return address
            except TimeoutError:
                continue
    finally:
        vif.sock.settimeout(None)
    raise RootlessKitError(f"no DHCP answer from vpnkit within {seconds:.0f} s")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _dhcp_discover(mac: bytes) -> bytes:
    """An ethernet frame with a DHCPDISCOVER from 0.0.0.0:68 to 255.255.255.255:67, xid 1."""
    dhcp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x01000000, 0, 0, b"\0" * 4, b"\0" * 4,
                       b"\0" * 4, b"\0" * 4, mac, b"", b"") + b"\x63\x82\x53\x63" + bytes([53, 1, 1, 255])
    udp = struct.pack("!HHHH", 68, 67, 8 + len(dhcp), 0) + dhcp
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0" * 4, b"\xff" * 4)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return _BROADCAST_MAC + mac + b"\x08\x00" + header + udp


def _offered_address(frame: bytes, mac: bytes) -> str:
    """yiaddr of a DHCP reply (xid 1) addressed to us, else ""."""
    if len(frame) < 14 + 20 + 8 + 243 or frame[12:14] != b"\x08\x00" or frame[:6] not in (mac, _BROADCAST_MAC):
        return ""
    ip = frame[14:]
    header_len = (ip[0] & 0x0F) * 4
    if ip[9] != 17:
        return ""
    udp = ip[header_len:]
    source_port, dest_port = struct.unpack_from("!HH", udp)
    dhcp = udp[8:]
    if (source_port, dest_port) != (67, 68) or len(dhcp) < 243 or dhcp[0] != 2 or dhcp[4:8] != b"\x01\0\0\0":
        return ""
    return _socket.inet_ntoa(dhcp[16:20])
