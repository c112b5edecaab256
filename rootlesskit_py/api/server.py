"""The API server on `$STATE/api.sock`: routes as upstream's, HTTP/1.1 framing by h11.

h11 (the HTTP/1.1 state machine under httpx and uvicorn) reads requests strictly: Content-Length is
digits only, chunk sizes are hex digits and the CRLF after each chunk is required, header names and
values are checked, a missing or doubled Host is refused, and it reads in linear time. On top of it,
this module refuses what h11 leaves to its user: HTTP versions other than 1.x (505), Content-Length
together with Transfer-Encoding, bodies over MAX_BODY (413, chunked or not, before they are buffered),
and JSON nested deeper than schema.MAX_NESTING. Each refusal is answered as Go's net/http answers
it, a status with a text/plain body and the connection closed, so no client sees a silent close.

h11 is imported on the first connection that needs it: it costs milliseconds that `rootlesskit`
start-up must not pay, and about 40 ms and 4.6 MiB the first request would (BENCHMARKS.md), which
a daemon then keeps for as long as it runs. The requests Docker and rootlessctl send, plain GETs,
DELETEs and POSTs with a Content-Length, are read without it: `_plain_request` accepts only
requests that h11 would read the same way (a strict subset of its grammar) and answers them byte
for byte as the h11 path would; anything else, from its first byte on, goes to h11.

One thread per connection, so a client that connects and says nothing holds up no one; driver
operations are serialised by one lock. Served from threads of the parent while its main thread
relays signals.
"""

from __future__ import annotations

import _socket
import _thread
import errno
import os
import time

from rootlesskit_py.api import schema
from rootlesskit_py.api.wire import HTTP_TOKEN, STATUS_TEXT
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import go_atoi
from rootlesskit_py.util.idle import first_of_its_kind_over
from rootlesskit_py.version import VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.api.ports import PortManager

IDLE_SECONDS = 120
MAX_HEADER = 1 << 20  # request line and headers: 431 once more has come without their end (Go: the same 1 MiB)
MAX_BODY = 1 << 20
_RECV = 1 << 16
_TEXT = "text/plain; charset=utf-8"
# Go's ValidHostHeader: the bytes a Host header may hold
_HOST_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&'()*+,-.:;=[]_~")


class Response:
    def __init__(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.status, self.body, self.content_type = status, body, content_type


def json_response(status: int, value: object) -> Response:
    return Response(status, schema.go_json(value).encode())


def error_response(status: int, message: str) -> Response:
    """Upstream writes the status before the content type, so its JSON errors say text/plain."""
    return Response(status, schema.error_body(message), _TEXT)


class Api:
    """The routes, independent of the transport (so they read like upstream's router)."""

    def __init__(self, state_dir: str, child_pid: int, network: dict | None, ports: PortManager | None) -> None:
        self._state_dir, self._child_pid, self._network = state_dir, child_pid, network
        self._ports = ports
        self._lock = _thread.allocate_lock()

    def info(self) -> dict:
        """The `GET /v1/info` document. The port driver's part is asked for each time: what it reports
        (the builtin driver's source IP backend) is only known once its child half has set it up."""
        port_driver = None
        if self._ports is not None:
            with self._lock:
                port_driver = self._ports.info()
        return schema.info(VERSION, self._state_dir, self._child_pid, self._network, port_driver)

    def handle(self, method: str, path: str, body: bytes) -> Response:
        """The answer to one request; the query is not part of the route (as Go's mux), and "*" is only
        for `OPTIONS *`, which Go's server answers itself."""
        path = path.partition("?")[0]
        if path == "*":
            return Response(200)
        if path == "/v1/info":
            return json_response(200, self.info()) if method == "GET" else Response(405)
        if path == "/v1/ports":
            if method == "GET":
                return self._with_ports(lambda d: json_response(200, schema.port_statuses(d.ports)))
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
        return Response(404, b"404 page not found\n", _TEXT)

    def _with_ports(self, operation) -> Response:
        if self._ports is None:
            return error_response(400, "no PortDriver is available")
        with self._lock:
            try:
                return operation(self._ports)
            except RootlessKitError as e:
                return error_response(400, e.message)

    def _add(self, driver: PortManager, body: bytes) -> Response:
        try:
            spec = schema.PortSpec.from_json(schema.decode(body))
        except ValueError as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too
            return error_response(400, str(e))
        port_id = driver.add_port(spec)
        return json_response(201, schema.port_status(port_id, spec))

    @staticmethod
    def _remove(driver: PortManager, port_id: int) -> Response:
        driver.remove_port(port_id)
        return Response(200, b"")


def serve(path: str, api: Api) -> _socket.socket:
    """Listen on `path` (a stale file is replaced; only our user may connect) and serve from a thread.
    The socket is bound and listening under a temporary name first: a client that sees `path` can
    connect (a bound socket that does not listen yet refuses)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    pending = os.path.join(os.path.dirname(path), ".api.tmp")  # no longer than api.sock: the same length limit
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


# accept errors that pass: the API waits them out instead of ending
_TRANSIENT = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def _accept_loop(sock: _socket.socket, api: Api) -> None:
    while True:
        try:
            fd, _ = sock._accept()
        except OSError as e:
            if e.errno in _TRANSIENT:  # e.g. idle clients hold every descriptor until they time out
                time.sleep(0.1)
                continue
            return  # closed at exit
        conn = _socket.socket(fileno=fd)
        try:
            _thread.start_new_thread(_serve_connection, (conn, api))
        except RuntimeError:  # no thread to serve it: the client sees its connection closed
            conn.close()


class _Refused(Exception):
    """A request that is not answered by the routes: (status, why), the connection then closed."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(status, why)
        self.status, self.why = status, why


def _serve_connection(conn: _socket.socket, api: Api) -> None:
    kinds: set[str] = set()  # of the requests served: each method's route runs code of its own, h11 imports h11
    try:
        conn.settimeout(IDLE_SECONDS)
        rest = _serve_plain(conn, api, kinds)
        if rest is not None:
            kinds.add("h11")
            _Connection(conn, rest).serve(api)
    except OSError:
        pass  # the client went away, or stayed idle too long
    except Exception as e:  # a bug: one line in the log, not a traceback, and the API keeps serving
        _internal_error("a connection", e)
        try:
            _send_plain(conn, 500, "500 Internal Server Error")
        except OSError:
            pass
    finally:
        conn.close()
        first_of_its_kind_over(*(f"API: {kind}" for kind in kinds))


# bytes of a header value as _plain_request accepts it
_PLAIN_VALUE = frozenset(range(0x20, 0x7F)) | {0x09}
_MAX_PLAIN_HEAD = 8192
_PLAIN_METHODS = (b"GET", b"DELETE", b"POST")


def _serve_plain(conn: _socket.socket, api: Api, methods: set[str]) -> bytes | None:
    """Answer the plain requests at the start of the connection, adding their methods to `methods`;
    returns what h11 must read from there on (None: the connection is done). A body not received
    whole with its head goes to h11 too, which waits for the rest as it waits for any request."""
    data = b""
    while True:
        if not data:
            data = conn.recv(_RECV)  # idle between requests: a timeout closes, as on the h11 path
            if not data:
                return None
        end = data.find(b"\r\n\r\n", 0, _MAX_PLAIN_HEAD)
        request = _plain_request(data[:end]) if end >= 0 else None
        if request is None or len(data) < end + 4 + request[2]:
            return data
        method, target, length, keep_alive = request
        body, data = data[end + 4:end + 4 + length], data[end + 4 + length:]
        try:
            response = api.handle(method, target, body)
        except Exception as e:  # a bug must not take the API down
            _internal_error(f"{method} {target}", e)
            response = error_response(500, "internal error")
        conn.sendall(_response_head(response, keep_alive) + response.body)
        methods.add(method)
        if not keep_alive:
            return None


def _plain_request(head: bytes) -> tuple[str, str, int, bool] | None:
    """(method, target, body length, keep-alive) of `GET|DELETE|POST /path HTTP/1.1` with one valid
    Host, header names that are tokens, values of visible ASCII, no Expect, Upgrade or
    Transfer-Encoding, and one Content-Length of at most MAX_BODY for a POST (none otherwise); None
    for anything else. Each of these h11 reads exactly so, and the routes need nothing more."""
    lines = head.split(b"\r\n")
    words = lines[0].split(b" ")
    if len(words) != 3 or words[0] not in _PLAIN_METHODS or words[2] != b"HTTP/1.1":
        return None
    target = words[1]
    if not target.startswith(b"/") or not all(0x21 <= c <= 0x7E for c in target):
        return None
    hosts, keep_alive, lengths = 0, True, []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not name or not HTTP_TOKEN.issuperset(name) or not _PLAIN_VALUE.issuperset(value):
            return None
        name = name.lower()
        if name == b"host":
            hosts += 1
            if not value or not _HOST_BYTES.issuperset(value):
                return None
        elif name == b"connection":
            if value.lower() not in (b"close", b"keep-alive"):
                return None
            keep_alive = keep_alive and value.lower() == b"keep-alive"
        elif name == b"content-length":
            lengths.append(value)
        elif name in (b"transfer-encoding", b"expect", b"upgrade"):
            return None
    if hosts != 1 or len(lengths) != (words[0] == b"POST"):
        return None
    length = 0
    if lengths:
        if not lengths[0].isdigit() or len(lengths[0]) > 7 or int(lengths[0]) > MAX_BODY:
            return None
        length = int(lengths[0])
    return words[0].decode("ascii"), target.decode("ascii"), length, keep_alive


def _response_head(response: Response, keep_alive: bool) -> bytes:
    """The status line and headers of `response`, as h11 writes them for _Connection._send."""
    head = f"HTTP/1.1 {response.status} {STATUS_TEXT.get(response.status, '')}\r\n"
    for name, value in _response_headers(response):
        head += f"{name}: {value}\r\n"
    if not keep_alive:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode()


def _response_headers(response: Response) -> list[tuple[str, str]]:
    headers = []
    if response.body or response.status not in (200, 405):
        headers.append(("Content-Type", response.content_type))
    if response.status == 404:
        headers.append(("X-Content-Type-Options", "nosniff"))
    headers.append(("Content-Length", str(len(response.body))))
    return headers


def _internal_error(what: str, error: Exception) -> None:
    log.error(f"api: {what} failed with an internal error (a bug in rootlesskit-py; run rootlesskit with "
              "--debug for its details)")
    log.debug(f"api: {what}: {type(error).__name__}: {error}")


class _Connection:
    """One client connection: requests read through h11, answered in order (keep-alive, pipelining)."""

    def __init__(self, sock: _socket.socket, received: bytes = b"") -> None:
        import h11

        self.h11, self.sock = h11, sock
        self.state = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER)
        if received:  # (receive_data of nothing would mean end of stream)
            self.state.receive_data(received)
        self.received = len(received)  # bytes of the request in progress, to tell a stalled request from an idle connection

    def serve(self, api: Api) -> None:
        while True:
            try:
                request = self._read_request()
            except _Refused as refusal:
                self._refuse(refusal)
                return
            if request is None:
                return
            method, path, body = request
            try:
                response = api.handle(method, path, body)
            except Exception as e:  # a bug must not take the API down
                _internal_error(f"{method} {path}", e)
                response = error_response(500, "internal error")
            self._send(response, head=method == "HEAD")
            if self.state.our_state is not self.h11.DONE or self.state.their_state is not self.h11.DONE:
                return  # Connection: close, HTTP/1.0
            self.state.start_next_cycle()
            self.received = 0

    def _read_request(self) -> tuple[str, str, bytes] | None:
        """The next request as (method, path, body), or None when the client closed between requests."""
        h11, state = self.h11, self.state
        method = path = ""
        body = bytearray()
        while True:
            try:
                event = state.next_event()
            except h11.RemoteProtocolError as e:
                raise _Refused(e.error_status_hint, _plain(str(e))) from None
            if event is h11.NEED_DATA:
                state.receive_data(self._recv())
            elif type(event) is h11.Request:
                method, path = event.method.decode("ascii"), _path(event)
                if state.they_are_waiting_for_100_continue:
                    self.sock.sendall(state.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")))
            elif type(event) is h11.Data:
                body += event.data
                if len(body) > MAX_BODY:
                    raise _Refused(413, f"the body is larger than {MAX_BODY} bytes")
            elif type(event) is h11.EndOfMessage:
                return method, path, bytes(body)
            else:  # ConnectionClosed before a request began
                return None

    def _recv(self) -> bytes:
        try:
            data = self.sock.recv(_RECV)
        except TimeoutError:
            if self.received:
                raise _Refused(408, f"the request was not complete after {IDLE_SECONDS} s") from None
            raise
        self.received += len(data)
        return data

    def _send(self, response: Response, head: bool) -> None:
        """The response; to HEAD without its body (h11 refuses one), Content-Length still says its size."""
        h11 = self.h11
        data = self.state.send(h11.Response(status_code=response.status, headers=_response_headers(response),
                                            reason=STATUS_TEXT.get(response.status, "")))
        if response.body and not head:
            data += self.state.send(h11.Data(data=response.body))
        self.sock.sendall(data + self.state.send(h11.EndOfMessage()))

    def _refuse(self, refusal: _Refused) -> None:
        """Go's net/http answer to a request it cannot read, with the reason in the body."""
        reason = STATUS_TEXT.get(refusal.status, "")
        if refusal.status == 431:
            text = f"{refusal.status} {reason}"  # h11's "Receive buffer too long" says less than this
        elif refusal.status == 501:
            text = "Unsupported transfer encoding"
        else:
            text = f"{refusal.status} {reason}: {refusal.why}"
        _send_plain(self.sock, refusal.status, text)
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass


def _send_plain(sock: _socket.socket, status: int, text: str) -> None:
    """A plain-text answer written without h11 (its state machine may be what broke), then close."""
    body = text.encode()
    sock.sendall(f"HTTP/1.1 {status} {STATUS_TEXT.get(status, '')}\r\nContent-Type: {_TEXT}\r\nConnection: close\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def _path(request) -> str:
    """The path of a request target, after the checks h11 leaves to us (as Go's server makes them)."""
    if not request.http_version.startswith(b"1."):
        raise _Refused(505, "unsupported protocol version")
    lengths = [value for name, value in request.headers if name == b"content-length"]
    if lengths and any(name == b"transfer-encoding" for name, _ in request.headers):
        raise _Refused(400, "Content-Length and Transfer-Encoding together")
    if lengths:  # h11 checked: digits only, and one value
        length = int(lengths[0]) if len(lengths[0]) <= 19 else 1 << 63
        if length >= 1 << 63:  # Go's int64 overflow
            raise _Refused(400, "bad Content-Length")
        if length > MAX_BODY:
            raise _Refused(413, f"the body is larger than {MAX_BODY} bytes")
    for name, value in request.headers:
        if name == b"host" and not _HOST_BYTES.issuperset(value):
            raise _Refused(400, "malformed Host header")
    target = request.target.decode("ascii")  # h11 lets through visible ASCII only
    if target.startswith(("http://", "https://")):  # absolute form: the path after the authority
        authority_and_path = target.split("//", 1)[1]
        target = "/" + authority_and_path.split("/", 1)[1] if "/" in authority_and_path else "/"
    elif target == "*" and request.method == b"OPTIONS":
        return "*"
    elif not target.startswith("/"):
        raise _Refused(400, "the request target is not a path")
    return target  # Api.handle leaves the query out of the route


def _plain(text: str) -> str:
    """h11's reason without the Python repr of the offending bytes it may append."""
    for marker in (": b'", ': b"', ": bytearray("):
        text = text.split(marker, 1)[0]
    return text
