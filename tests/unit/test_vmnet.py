"""VPNKit's vmnet protocol (network/vmnet.py): the handshake, the length-prefixed frames, and the
DHCP frames the parent sends and reads, over real unix sockets."""

from __future__ import annotations

import _socket
import struct
import threading

import pytest

from rootlesskit_py.network import vmnet

MAC = bytes.fromhex("025000000003")
UUID = "0b7c5b44-9d2e-4f5a-8a9f-4b8c3e2d1f00"


def serve_once(path: str, answer: bytes) -> list[bytes]:
    """A vmnet server for one connection: swap init messages, read the VIF request, send `answer`."""
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    seen: list[bytes] = []

    def run() -> None:
        fd, _ = listener._accept()
        conn = _socket.socket(fileno=fd)
        try:
            seen.append(vmnet._read_exactly(conn, len(vmnet._INIT)))
            conn.sendall(vmnet._INIT)
            seen.append(vmnet._read_exactly(conn, 1 + 36 + 4))
            conn.sendall(answer)
            conn.recv(1)  # until the client closes
        finally:
            conn.close()
            listener.close()

    threading.Thread(target=run, daemon=True).start()
    return seen


def test_connect_gets_mtu_and_mac(tmp_path):
    path = str(tmp_path / "vpnkit.sock")
    seen = serve_once(path, b"\x01" + struct.pack("<HH", 1500, 1550) + MAC + b"\0" * 247)
    vif = vmnet.connect(path, UUID)
    vif.sock.close()
    assert (vif.mtu, vif.mac) == (1500, MAC)
    assert seen == [b"VMN3T" + struct.pack("<I", 22) + b"0123456789" * 4, b"\x01" + UUID.encode() + b"\0\0\0\0"]


def test_connect_refused_says_why(tmp_path):
    path = str(tmp_path / "vpnkit.sock")
    serve_once(path, b"\x02" + bytes([12]) + b"no such UUID")
    with pytest.raises(OSError) as raised:
        vmnet.connect(path, UUID)
    assert str(raised.value) == f"vpnkit refused VIF {UUID}: no such UUID"


@pytest.mark.parametrize("frame", [b"\x01", b"x" * 1514, bytes(range(256)) * 200])
def test_frames_are_length_prefixed(frame):
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        vif, peer = vmnet.Vif(ours, 1500, MAC), vmnet.Vif(theirs, 1500, MAC)
        writer = threading.Thread(target=vif.write, args=(memoryview(frame),))
        writer.start()
        assert vmnet._read_exactly(theirs, 2) == struct.pack("<H", len(frame))  # little-endian uint16
        peer_frame = vmnet._read_exactly(theirs, len(frame))
        writer.join()
        assert peer_frame == frame
        peer.write(frame)
        assert vif.read() == frame
    finally:
        ours.close()
        theirs.close()


def test_dhcp_discover_frame():
    frame = vmnet._dhcp_discover(MAC)
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == MAC and frame[12:14] == b"\x08\x00"
    ip = frame[14:34]
    assert ip[0] == 0x45 and ip[9] == 17 and ip[12:16] == b"\0" * 4 and ip[16:20] == b"\xff" * 4
    assert vmnet._checksum(ip) == 0  # the header checksum is right
    assert struct.unpack_from("!H", ip, 2)[0] == len(frame) - 14
    udp = frame[34:]
    assert struct.unpack_from("!HHH", udp) == (68, 67, len(udp))
    dhcp = udp[8:]
    assert dhcp[0] == 1 and dhcp[4:8] == b"\x01\0\0\0" and dhcp[28:34] == MAC
    assert dhcp[236:] == b"\x63\x82\x53\x63" + bytes([53, 1, 1, 255])


def offer(dest_mac: bytes = MAC, ethertype: bytes = b"\x08\x00", proto: int = 17, ports: tuple = (67, 68),
          op: int = 2, xid: bytes = b"\x01\0\0\0", yiaddr: str = "192.168.65.3") -> bytes:
    dhcp = bytes([op, 1, 6, 0]) + xid + b"\0" * 8 + _socket.inet_aton(yiaddr) + b"\0" * 220 + b"\x63\x82\x53\x63\xff"
    udp = struct.pack("!HHHH", *ports, 8 + len(dhcp), 0) + dhcp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, proto, 0,
                     _socket.inet_aton("192.168.65.1"), b"\xff" * 4)
    return dest_mac + bytes.fromhex("5a94ef000001") + ethertype + ip + udp


@pytest.mark.parametrize("frame, address", [
    (offer(), "192.168.65.3"),
    (offer(dest_mac=b"\xff" * 6), "192.168.65.3"),  # broadcast to everyone
    (offer(dest_mac=bytes.fromhex("025000000004")), ""),  # another VIF's
    (offer(ethertype=b"\x86\xdd"), ""),  # IPv6
    (offer(proto=6), ""),  # TCP
    (offer(ports=(53, 68)), ""),
    (offer(op=1), ""),  # a request
    (offer(xid=b"\x02\0\0\0"), ""),
    (offer()[:100], ""),  # truncated
])
def test_offered_address(frame, address):
    assert vmnet._offered_address(frame, MAC) == address


def test_new_uuid_is_version_4():
    uuid = vmnet.new_uuid()
    parts = uuid.split("-")
    assert [len(p) for p in parts] == [8, 4, 4, 4, 12] and parts[2][0] == "4" and parts[3][0] in "89ab"
    assert vmnet.new_uuid() != uuid
