"""Raw HTTP/1.1 over the API socket, for the hostile-request tests: the bytes go out exactly as
given (no client library that would fix them up), and the answer is split without trusting it."""

from __future__ import annotations

import socket


class Answer:
    """What came back on one connection: the first response's status (None: nothing at all), its
    lower-case headers and body, and every byte received."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        head, found, rest = data.partition(b"\r\n\r\n")
        if not found:
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            return
        self.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        length = self.headers.get("content-length")
        self.body = rest[:int(length)] if length is not None and length.isdigit() else rest

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.data[:300]!r})"


def exchange(socket_path: str, *parts: bytes, timeout: float = 10) -> Answer:
    """Send `parts` (one send each), half-close, and read until the server closes."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(socket_path)
        try:
            for part in parts:
                s.sendall(part)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read everything
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    return Answer(data)


class CannedServer:
    """A unix-socket server that answers every request with the same bytes, then closes: a broken or
    hostile API server for the clients' tests. `connections` counts the connections it accepted."""

    def __init__(self, path: str, response: bytes) -> None:
        import threading

        self.path, self.response = path, response
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            with conn:
                conn.settimeout(10)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                        data += chunk
                    conn.sendall(self.response)
                except OSError:
                    pass

    def __enter__(self) -> "CannedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(10)
