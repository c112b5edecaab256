"""The API server on `$STATE/api.sock`: HTTP/1.1 as Go's net/http speaks it, routes as upstream's.

Enough HTTP for RootlessKit's clients (Go's rootlessctl and docker-proxy, ours, curl): requests with
Content-Length bodies, keep-alive, one thread per connection so a client that connects and says
nothing holds up no one. Driver operations are serialised by one lock. Served from threads of the
parent while its main thread relays signals.
"""

from __future__ import annotations

import _socket
import _thread
import os

from rootlesskit_py.api import go_json
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import go_atoi
from rootlesskit_py.version import API_VERSION, VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.port import PortDriver

IDLE_SECONDS = 120
MAX_HEADER = 1 << 16
MAX_BODY = 1 << 20
_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            411: "Length Required", 413: "Request Entity Too Large", 500: "Internal Server Error"}


class Response:
    def __init__(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.status, self.body, self.content_type = status, body, content_type


def json_response(status: int, value: object) -> Response:
    return Response(status, go_json(value).encode())


def error_response(status: int, message: str) -> Response:
    """Upstream's error body: `{"message":...}` and a newline (json.Encoder), text/plain content type."""
    return Response(status, (go_json({"message": message}) + "\n").encode(), "text/plain; charset=utf-8")


class Api:
    """The routes, independent of the transport (so they read like upstream's router)."""

    def __init__(self, info: dict, port_driver: PortDriver | None) -> None:
        self._info = info
        self._ports = port_driver
        self._lock = _thread.allocate_lock()

    def handle(self, method: str, path: str, body: bytes) -> Response:
        path = path.split("?", 1)[0]
        if path == "/v1/info":
            return json_response(200, self._info) if method == "GET" else Response(405)
        if path == "/v1/ports":
            if method == "GET":
                return self._with_ports(lambda d: json_response(200, _statuses(d) or None))
            if method == "POST":
                return self._with_ports(lambda d: self._add(d, body))
            return Response(405)
        if path.startswith("/v1/ports/") and "/" not in path[len("/v1/ports/"):] and path != "/v1/ports/":
            if method != "DELETE":
                return Response(405)
            text = path[len("/v1/ports/"):]
            try:
                port_id = go_atoi(text)
            except ValueError as e:
                return error_response(400, f"bad id {text}: {e}")
            return self._with_ports(lambda d: self._remove(d, port_id))
        return Response(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _with_ports(self, operation) -> Response:
        if self._ports is None:
            return error_response(400, "no PortDriver is available")
        with self._lock:
            try:
                return operation(self._ports)
            except RootlessKitError as e:
                return error_response(400, e.message)

    def _add(self, driver: PortDriver, body: bytes) -> Response:
        import json  # not at start-up (see go_json)

        from rootlesskit_py.port.spec import PortSpec

        try:
            spec = PortSpec.from_json(json.loads(body))
        except ValueError as e:  # json.JSONDecodeError is a ValueError too
            return error_response(400, str(e))
        port_id = driver.add_port(spec)
        return json_response(201, {"id": port_id, "spec": spec.to_json()})

    @staticmethod
    def _remove(driver: PortDriver, port_id: int) -> Response:
        driver.remove_port(port_id)
        return Response(200, b"")


def _statuses(driver: PortDriver) -> list[dict]:
    return [{"id": port_id, "spec": spec.to_json()} for port_id, spec in sorted(driver.ports.items())]


def serve(path: str, api: Api) -> _socket.socket:
    """Listen on `path` (a stale file is replaced; only our user may connect) and serve from a thread.

    The socket is bound and listening under a temporary name first: a client that sees `path`
    must never get "connection refused" from the moment between bind and listen."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    pending = path + ".new"
    old_umask = os.umask(0o177)
    try:
        try:
            os.unlink(pending)
        except FileNotFoundError:
            pass
        sock.bind(pending)
    finally:
        os.umask(old_umask)
    sock.listen(128)
    os.rename(pending, path)
    _thread.start_new_thread(_accept_loop, (sock, api))
    return sock


def _accept_loop(sock: _socket.socket, api: Api) -> None:
    while True:
        try:
            fd, _ = sock._accept()
        except OSError:
            return  # closed at exit
        _thread.start_new_thread(_serve_connection, (_socket.socket(fileno=fd), api))


def _serve_connection(conn: _socket.socket, api: Api) -> None:
    conn.settimeout(IDLE_SECONDS)
    buffer = b""
    try:
        while True:
            request, buffer = _read_request(conn, buffer)
            if request is None:
                return
            method, path, version, headers, body = request
            if isinstance(body, Response):
                response = body
            else:
                response = api.handle(method, path, body)
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            conn.sendall(_render(response, close))
            if close or response.status in (411, 413):
                return
    except OSError:
        return
    except Exception as e:  # a bug must not take the API down for everyone else
        log.error(f"api: {type(e).__name__}: {e}")
    finally:
        conn.close()


def _read_request(conn: _socket.socket, buffer: bytes):
    """One request: (method, path, version, headers, body or an error Response), and what follows it."""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_HEADER:
            return None, b""
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, path, version = lines[0].split(" ")
    except ValueError:
        return None, b""
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, buffer = _read_chunked(conn, buffer)
        return (method, path, version, headers, body), buffer
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return (method, path, version, headers, Response(400)), b""
    if length > MAX_BODY:
        return (method, path, version, headers, Response(413)), b""
    while len(buffer) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    return (method, path, version, headers, buffer[:length]), buffer[length:]


def _read_chunked(conn: _socket.socket, buffer: bytes) -> tuple[bytes | Response, bytes]:
    body = b""
    while True:
        while b"\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return Response(400), b""
            buffer += chunk
        size_line, buffer = buffer.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(buffer) < size + 2:
            chunk = conn.recv(65536)
            if not chunk:
                return Response(400), b""
            buffer += chunk
        if size == 0:
            return body, buffer[2:]
        body += buffer[:size]
        if len(body) > MAX_BODY:
            return Response(413), b""
        buffer = buffer[size + 2:]


def _render(response: Response, close: bool) -> bytes:
    head = f"HTTP/1.1 {response.status} {_REASONS.get(response.status, '')}\r\n"
    if response.body or response.status not in (200, 405):
        head += f"Content-Type: {response.content_type}\r\n"
    if response.status == 404:
        head += "X-Content-Type-Options: nosniff\r\n"
    head += f"Content-Length: {len(response.body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + response.body


def info(state_dir: str, child_pid: int, network: dict | None, port_driver: PortDriver | None) -> dict:
    """The `GET /v1/info` document (COMPAT §8): absent drivers are absent keys."""
    document: dict = {"apiVersion": API_VERSION, "version": VERSION, "stateDir": state_dir, "childPID": child_pid}
    if network is not None:
        document["networkDriver"] = network
    if port_driver is not None:
        document["portDriver"] = port_driver.info()
    return document
