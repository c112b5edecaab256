"""A server for the port tests, run inside the namespace: says who connected, then echoes.

    portserver.py tcp|udp PORT [ADDRESS]      (ADDRESS defaults to "::", dual-stack)

TCP: each connection first gets the client's address and a newline, then its own bytes back until
it half-closes. UDP: each datagram is sent back to where it came from.
"""

import socket
import sys
import threading


def unmapped(host: str) -> str:
    return host[7:] if host.startswith("::ffff:") and "." in host else host


def serve_tcp(conn: socket.socket, peer: tuple) -> None:
    with conn:
        conn.sendall(f"{unmapped(peer[0])}\n".encode())
        while data := conn.recv(65536):
            conn.sendall(data)


def main() -> None:
    proto, port = sys.argv[1], int(sys.argv[2])
    host = sys.argv[3] if len(sys.argv) > 3 else "::"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    if family == socket.AF_INET6 and host == "::":
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    if proto == "udp":
        # the most an unprivileged socket may have (rmem_max, doubled): a test's burst fits
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        while True:
            data, peer = sock.recvfrom(65535)
            sock.sendto(data, peer)
    sock.listen(512)
    while True:
        conn, peer = sock.accept()
        threading.Thread(target=serve_tcp, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    main()
