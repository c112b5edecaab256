"""A client of the API on `$STATE/api.sock`, for rootlessctl and rootlesskit-docker-proxy.

HTTP/1.1 over a unix socket with `_socket`, one connection per request (`Connection: close`), as
the calls are few. Not http.client (~10 ms of imports), not h11 (whose import costs more than the
rest of a `rootlessctl list-ports` run: BENCHMARKS.md), and neither `socket` nor `re`, which load
`enum` and `selectors` for nothing this client uses (a few ms of every rootlessctl run); the response is
read as strictly as the server reads requests: a well-formed status line, Content-Length digits
only, hex chunk sizes with their CRLFs, bounded sizes, linear time. Errors read as Go's client words
them, since scripts see them on stderr.
"""

from __future__ import annotations

import _socket
import os

from rootlesskit_py.api import schema
from rootlesskit_py.api.wire import HTTP_TOKEN, STATUS_TEXT
from rootlesskit_py.util.gocompat import go_quote, path_error, strerror

MAX_HEAD = 1 << 20
MAX_BODY = 64 << 20  # a list of every port a user could have is far smaller
_BROKEN = "net/http: HTTP/1.x transport connection broken: "


class ApiError(Exception):
    """A failed call; str() is what upstream's client prints."""


class _BodyError(ValueError):
    """The response head was fine, its body was not: Go's client reports these without the URL,
    from the JSON decoder that was reading it."""


class Client:
    def __init__(self, socket_path: str) -> None:
        """Upstream stats the socket first, so a wrong path fails before any request."""
        try:
            os.stat(socket_path)
        except OSError as e:
            raise ApiError(path_error("stat", e)) from None
        self.socket_path = socket_path

    def info(self) -> dict:
        return self._call("GET", "/v1/info", expect=(dict, "api.Info")) or {}

    def list_ports(self) -> list[dict]:
        return self._call("GET", "/v1/ports", expect=(list, "[]port.Status")) or []

    def add_port(self, spec: schema.PortSpec) -> dict:
        return self._call("POST", "/v1/ports", schema.go_json(spec.to_json()).encode(),
                          expect=(dict, "port.Status")) or {}

    def remove_port(self, port_id: int) -> None:
        self._call("DELETE", f"/v1/ports/{port_id}")

    def _call(self, method: str, path: str, body: bytes | None = None, expect: tuple[type, str] | None = None):
        url = f"http://rootlesskit{path}"
        request = f"{method} {path} HTTP/1.1\r\nHost: rootlesskit\r\nUser-Agent: rootlessctl\r\nConnection: close\r\n"
        if body is not None:
            request += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        shown_method = method.capitalize()
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            try:
                sock.connect(self.socket_path)
            except OSError as e:
                raise ApiError(f'{shown_method} "{url}": dial unix {self.socket_path}: connect: {strerror(e)}') from None
            try:
                sock.sendall(request.encode() + b"\r\n" + (body or b""))
                status, payload = _read_response(_Reader(sock))
            except EOFError:
                raise ApiError(f'{shown_method} "{url}": EOF') from None
            except _BodyError as e:
                raise ApiError(str(e)) from None
            except (OSError, ValueError) as e:
                raise ApiError(f'{shown_method} "{url}": {e}') from None
        finally:
            sock.close()
        if status // 100 != 2:
            raise ApiError(_status_error(status, payload))
        if not payload and not expect:
            return None
        try:
            value = schema.decode(payload)
            return schema.expect(value, *expect) if expect else value
        except ValueError as e:
            raise ApiError(str(e)) from None


def _status_error(status: int, payload: bytes) -> str:
    """Upstream's HTTPStatusError: the JSON `message` when the body has one."""
    text = payload.decode("utf-8", "replace")
    try:
        message = schema.decode(payload).get("message")
        if isinstance(message, str):
            return message
    except (ValueError, AttributeError):
        pass
    return f"unexpected HTTP status {STATUS_TEXT.get(status, str(status))}, body={go_quote(text)}"


class _Reader:
    """Lines and counted bytes from the socket; one growing buffer, consumed by an offset."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock, self.buffer, self.offset = sock, bytearray(), 0

    def _fill(self, limit: int) -> None:
        if len(self.buffer) - self.offset > limit:
            raise ValueError(f"the response is larger than {limit} bytes")
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def line(self) -> bytes:
        """One line without its CRLF (or bare LF, as Go accepts)."""
        searched = self.offset
        while (end := self.buffer.find(b"\n", searched)) < 0:
            searched = len(self.buffer)
            self._fill(MAX_HEAD)
        line = bytes(self.buffer[self.offset:end])
        self.offset = end + 1
        return line[:-1] if line.endswith(b"\r") else line

    def take(self, count: int) -> bytes:
        while len(self.buffer) - self.offset < count:
            self._fill(MAX_BODY)
        data = bytes(self.buffer[self.offset:self.offset + count])
        self.offset += count
        return data

    def rest(self) -> bytes:
        """Everything up to EOF (a response without framing ends with the connection)."""
        try:
            while True:
                self._fill(MAX_BODY)
        except EOFError:
            return bytes(self.buffer[self.offset:])


def _read_response(reader: _Reader) -> tuple[int, bytes]:
    """(status, body) of the final response (1xx ones are skipped). ValueError with Go's wording for
    a bad head, _BodyError for a bad body, EOFError if the server closed before saying anything."""
    while True:
        line = reader.line()
        if not _is_status_line(line):
            raise ValueError(_BROKEN + "malformed HTTP response " + go_quote(line.decode("latin-1")))
        code = line[9:].partition(b" ")[0]
        if len(code) != 3 or not code.isdigit():
            raise ValueError(_BROKEN + "malformed HTTP status code " + go_quote(code.decode("latin-1")))
        try:
            headers = _read_headers(reader)
        except EOFError:
            raise ValueError(_BROKEN + "unexpected EOF") from None
        if int(code) >= 200:
            break
    encoding, length = headers.get(b"transfer-encoding"), headers.get(b"content-length")
    if encoding is not None and encoding.lower() != b"chunked":
        raise ValueError(_BROKEN + "unsupported transfer encoding: " + go_quote(encoding.decode("latin-1")))
    if encoding is None and length is not None and (not length.isdigit() or len(length) > 18):
        raise ValueError(_BROKEN + "bad Content-Length " + go_quote(length.decode("latin-1")))
    try:
        if encoding is not None:
            return int(code), _read_chunked(reader)
        if length is None:
            return int(code), reader.rest()
        if int(length) > MAX_BODY:
            raise _BodyError(f"the response body is larger than {MAX_BODY} bytes")
        return int(code), reader.take(int(length))
    except EOFError:
        raise _BodyError("unexpected EOF") from None
    except ValueError as e:
        raise _BodyError(str(e)) from None


def _is_status_line(line: bytes) -> bool:
    """`HTTP/d.d ` and then anything (what Go's client takes for a status line)."""
    return line[:5] == b"HTTP/" and line[5:6].isdigit() and line[6:7] == b"." and line[7:8].isdigit() \
        and line[8:9] == b" "


def _read_headers(reader: _Reader) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {}
    while line := reader.line():
        name, colon, value = line.partition(b":")
        if not colon:
            raise ValueError(_BROKEN + "malformed MIME header: missing colon: " + go_quote(line.decode("latin-1")))
        if not name or not HTTP_TOKEN.issuperset(name):
            raise ValueError(_BROKEN + "malformed MIME header line: " + go_quote(line.decode("latin-1")))
        name, value = name.lower(), value.strip(b" \t")
        if name in (b"content-length", b"transfer-encoding") and headers.get(name, value) != value:
            raise ValueError(_BROKEN + f"more than one {name.decode()} header with different values")
        headers[name] = value
    return headers


def _read_chunked(reader: _Reader) -> bytes:
    body = bytearray()
    while True:
        size_text = reader.line().split(b";", 1)[0].strip(b" \t")
        if not size_text or len(size_text) > 16 or size_text.strip(b"0123456789abcdefABCDEF"):
            raise ValueError("invalid byte in chunk length")
        size = int(size_text, 16)
        if size == 0:
            while reader.line():  # trailers
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY:
            raise ValueError(f"the response body is larger than {MAX_BODY} bytes")
        body += reader.take(size)
        if reader.take(2) != b"\r\n":
            raise ValueError("malformed chunked encoding")
