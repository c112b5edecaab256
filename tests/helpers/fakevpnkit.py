#!/usr/bin/env python3
"""A stand-in for vpnkit (not packaged for Debian), enough to test --net=vpnkit for real.

    fakevpnkit.py --ethernet SOCKET --mtu N [--host-ip IP]

Speaks the vmnet protocol on SOCKET (init, VIF by UUID with a MAC derived from it), and as the
switch's other end: answers DHCPDISCOVER with 192.168.65.3, ARP for the gateway 192.168.65.1, and
pings to it. Every connection of one UUID shares the MAC, as vpnkit's does. Writes its argv to
SOCKET.argv for the test to check.
"""

import socket
import struct
import sys
import threading

GATEWAY_IP, CLIENT_IP = bytes([192, 168, 65, 1]), bytes([192, 168, 65, 3])
GATEWAY_MAC = bytes.fromhex("f6160036bc61")


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(proto, src, dst, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, src, dst)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def answer(frame, mac):
    """The reply to one frame from the VIF, or None."""
    kind = frame[12:14]
    if kind == b"\x08\x06" and frame[14 + 24:14 + 28] == GATEWAY_IP:  # ARP who-has gateway
        arp = frame[14:]
        reply = arp[:6] + b"\x00\x02" + GATEWAY_MAC + GATEWAY_IP + arp[8:14] + arp[14:18]
        return frame[6:12] + GATEWAY_MAC + kind + reply
    if kind != b"\x08\x00":
        return None
    ip = frame[14:]
    header_len = (ip[0] & 0x0F) * 4
    payload = ip[header_len:]
    if ip[9] == 17 and struct.unpack_from("!HH", payload) == (68, 67) and payload[8] == 1:  # DHCP
        request = payload[8:]
        dhcp = (bytes([2]) + request[1:4] + request[4:8] + b"\0" * 8 + CLIENT_IP + GATEWAY_IP + b"\0" * 4
                + request[28:44] + b"\0" * 192 + b"\x63\x82\x53\x63"
                + bytes([53, 1, 2, 54, 4]) + GATEWAY_IP + bytes([1, 4, 255, 255, 255, 0, 3, 4]) + GATEWAY_IP
                + bytes([6, 4]) + GATEWAY_IP + b"\xff")
        udp = struct.pack("!HHHH", 67, 68, 8 + len(dhcp), 0) + dhcp
        return b"\xff" * 6 + GATEWAY_MAC + kind + ipv4(17, GATEWAY_IP, b"\xff" * 4, udp)
    if ip[9] == 1 and ip[16:20] == GATEWAY_IP and payload[0] == 8:  # ping the gateway
        icmp = b"\0\0\0\0" + payload[4:]
        icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
        return frame[6:12] + GATEWAY_MAC + kind + ipv4(1, GATEWAY_IP, ip[12:16], icmp)
    return None


def serve(conn):
    with conn:
        try:
            init = read_exactly(conn, 49)
            conn.sendall(init)
            request = read_exactly(conn, 41)
            uuid = request[1:37]
            mac = b"\x02\x50" + bytes.fromhex(uuid[:8].decode())
            conn.sendall(b"\x01" + struct.pack("<HH", 1500, 1550) + mac + b"\0" * 247)
            while True:
                length = struct.unpack("<H", read_exactly(conn, 2))[0]
                reply = answer(read_exactly(conn, length), mac)
                if reply:
                    conn.sendall(struct.pack("<H", len(reply)) + reply)
        except (EOFError, OSError):
            pass


def main():
    args = sys.argv[1:]
    path = args[args.index("--ethernet") + 1]
    with open(path + ".argv", "w") as f:
        f.write(" ".join(args))
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(8)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
