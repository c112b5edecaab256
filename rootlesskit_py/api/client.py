"""A client of the API on `$STATE/api.sock`, for rootlessctl and rootlesskit-docker-proxy.

Plain HTTP/1.1 over a unix socket with the stdlib `socket` module: http.client would add ~10 ms of
imports to every `rootlessctl` run. One connection per request (`Connection: close`), as the calls
are few. Errors read as Go's client words them, since scripts see them on stderr.
"""

from __future__ import annotations

import json
import os
import socket

from rootlesskit_py.api import go_json
from rootlesskit_py.util.gocompat import go_quote, path_error, strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.port.spec import PortSpec

_STATUS_TEXT = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                500: "Internal Server Error", 503: "Service Unavailable"}


class ApiError(Exception):
    """A failed call; str() is what upstream's client prints."""


class Client:
    def __init__(self, socket_path: str) -> None:
        """Upstream stats the socket first, so a wrong path fails before any request."""
        try:
            os.stat(socket_path)
        except OSError as e:
            raise ApiError(path_error("stat", e)) from None
        self.socket_path = socket_path

    def info(self) -> dict:
        return self._call("GET", "/v1/info")

    def list_ports(self) -> list[dict]:
        return self._call("GET", "/v1/ports") or []

    def add_port(self, spec: PortSpec) -> dict:
        return self._call("POST", "/v1/ports", go_json(spec.to_json()).encode())

    def remove_port(self, port_id: int) -> None:
        self._call("DELETE", f"/v1/ports/{port_id}")

    def _call(self, method: str, path: str, body: bytes | None = None):
        url = f"http://rootlesskit{path}"
        request = f"{method} {path} HTTP/1.1\r\nHost: rootlesskit\r\nUser-Agent: rootlessctl\r\nConnection: close\r\n"
        if body is not None:
            request += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        shown_method = method.capitalize()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(self.socket_path)
            except OSError as e:
                raise ApiError(f'{shown_method} "{url}": dial unix {self.socket_path}: connect: {strerror(e)}') from None
            try:
                sock.sendall(request.encode() + b"\r\n" + (body or b""))
                status, payload = _read_response(sock)
            except (OSError, ValueError) as e:
                raise ApiError(f'{shown_method} "{url}": {e}') from None
        if status // 100 != 2:
            raise ApiError(_status_error(status, payload))
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError as e:
            raise ApiError(str(e)) from None


def _status_error(status: int, payload: bytes) -> str:
    """Upstream's HTTPStatusError: the JSON `message` when the body has one."""
    text = payload.decode("utf-8", "replace")
    try:
        message = json.loads(text).get("message")
        if isinstance(message, str):
            return message
    except (ValueError, AttributeError):
        pass
    return f"unexpected HTTP status {_STATUS_TEXT.get(status, str(status))}, body={go_quote(text)}"


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ValueError("EOF")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while chunk := sock.recv(65536):  # the server closes after its answer (Connection: close)
        rest += chunk
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body, rest = body + rest[:size], rest[size + 2:]
        return status, body
    if "content-length" in headers:
        rest = rest[:int(headers["content-length"])]
    return status, rest
