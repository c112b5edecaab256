"""The REST API under hostile input: malformed framing, smuggling, unbounded bodies, deep JSON; and
rootlessctl against a server that answers garbage.

Each request of HOSTILE goes to one running rootlesskit per implementation (ours compiled, ours from
Python, and Go RootlessKit 2.0.2) on a connection of its own; the answer's status must be the one in
the table, never a silent close, and the server must answer `GET /v1/info` afterwards with nothing
in its log. Go must give the same status except where the table names Go's own (those differences
are deliberate and listed in the README).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import time

import pytest

from conftest import BIN_DIR, Impl, run
from portutil import SLIRP, Running, free_port
from rawhttp import CannedServer, exchange

FLAGS = SLIRP + ["--port-driver=builtin", "sleep", "infinity"]
H = b"Host: rootlesskit\r\n"
MiB = 1 << 20
SAME = None  # Go answers the same status
SMUGGLED = b"DELETE /v1/ports/1 HTTP/1.1\r\nHost: rootlesskit\r\n\r\n"


def post(body: bytes, path: bytes = b"/v1/ports") -> bytes:
    return b"POST " + path + b" HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n\r\n" % len(body) + body


def with_length(value: bytes, body: bytes = b"{}") -> bytes:
    return b"POST /v1/ports HTTP/1.1\r\n" + H + b"Content-Length: " + value + b"\r\n\r\n" + body


def chunked(chunks: bytes, method: bytes = b"POST", path: bytes = b"/v1/ports", extra: bytes = b"") -> bytes:
    return method + b" " + path + b" HTTP/1.1\r\n" + H + extra + b"Transfer-Encoding: chunked\r\n\r\n" + chunks


def get(line: bytes = b"GET /v1/info HTTP/1.1", headers: bytes = H) -> bytes:
    return line + b"\r\n" + headers + b"\r\n"


# (name, bytes sent, our status, Go 2.0.2's status where it differs on purpose)
HOSTILE = [
    # JSON: depth is bounded before decoding (no RecursionError), and junk is a 400 with a message
    ("deep json array", post(b"[" * 100000), 400, SAME),
    ("deep json object", post(b'{"a":' * 20000), 400, SAME),
    ("json trailing junk", post(b'{"proto":"tcp"} xx'), 400, SAME),
    ("json not utf-8", post(b'{"proto":"\xff"}'), 400, SAME),
    ("json huge number", post(b'{"parentPort":' + b"9" * 5000 + b"}"), 400, SAME),
    ("json NaN", post(b'{"parentPort":NaN}'), 400, SAME),
    ("json empty", post(b""), 400, SAME),
    # chunked framing
    ("chunk size zz", chunked(b"zz\r\n{}\r\n0\r\n\r\n"), 400, SAME),
    ("chunk size empty", chunked(b"\r\n{}\r\n0\r\n\r\n"), 400, SAME),
    ("chunk data without its CRLF", chunked(b"2\r\n{}XX0\r\n\r\n"), 400, SAME),
    ("chunk size over 64 bits", chunked(b"1" + b"0" * 20 + b"\r\n"), 400, SAME),
    ("chunk truncated by EOF", chunked(b"10\r\n{\"pro"), 400, SAME),
    ("chunk size zz on GET", chunked(b"zz\r\n\r\n", b"GET", b"/v1/info"), 400, 200),  # Go never reads that body
    ("chunk of 7fffffff cut short", chunked(b"7fffffff\r\n" + b" " * 1000), 400, SAME),
    ("chunk of 7fffffff cut short on GET", chunked(b"7fffffff\r\n" + b" " * 1000, b"GET", b"/v1/info"), 400, 200),
    # bodies are bounded at 1 MiB whatever their framing, and refused before they are buffered
    ("chunks over 1 MiB", chunked((b"10000\r\n" + b" " * 0x10000 + b"\r\n") * 17 + b"0\r\n\r\n"), 413, 400),
    ("Content-Length over 1 MiB", with_length(b"%d" % (MiB + 1)), 413, 400),
    # Content-Length is digits only, and alone
    ("Content-Length -34 smuggling", with_length(b"-%d" % len(SMUGGLED), SMUGGLED), 400, SAME),
    ("Content-Length +2", with_length(b"+2"), 400, SAME),
    ("Content-Length 0_2", with_length(b"0_2"), 400, SAME),
    ("Content-Length 0x2", with_length(b"0x2"), 400, SAME),
    ("Content-Length 2^63", with_length(b"9223372036854775808"), 400, SAME),
    ("Content-Length 2^64", with_length(b"18446744073709551616"), 400, SAME),
    ("Content-Length twice, different", with_length(b"2\r\nContent-Length: 3"), 400, SAME),
    ("Content-Length and Transfer-Encoding", with_length(b"3\r\nTransfer-Encoding: chunked", b"0\r\n\r\n"), 400, SAME),
    ("Transfer-Encoding gzip", chunked(b"{}").replace(b"chunked", b"gzip"), 501, SAME),
    ("Transfer-Encoding twice", chunked(b"0\r\n\r\n", extra=b"Transfer-Encoding: chunked\r\n"), 501, SAME),
    ("Transfer-Encoding gzip, chunked", chunked(b"0\r\n\r\n").replace(b"chunked", b"gzip, chunked"), 501, SAME),
    ("body truncated by EOF", with_length(b"100", b'{"proto"'), 400, SAME),
    # request line
    ("request line one word", b"GARBAGE\r\n\r\n", 400, SAME),
    ("request line two words", b"GET /v1/info\r\n\r\n", 400, SAME),
    ("request line double space", get(b"GET  /v1/info HTTP/1.1"), 400, SAME),
    ("request line NUL", get(b"GET /v1/\x00info HTTP/1.1"), 400, SAME),
    ("request target not a path", get(b"GET v1/info HTTP/1.1"), 400, SAME),
    ("request target high byte", get(b"GET /v1/\xffinfo HTTP/1.1"), 400, 404),  # Go looks the path up
    ("method with @", get(b"G@T /v1/info HTTP/1.1"), 400, SAME),
    ("request line truncated by EOF", b"GET /v1/in", 400, SAME),
    ("headers truncated by EOF", b"GET /v1/info HTTP/1.1\r\n" + H, 400, SAME),
    ("blank lines before the request", b"\r\n\r\n" + get(), 400, SAME),
    ("random bytes", bytes(range(256)) * 4, 400, SAME),
    ("NUL bytes", b"\x00" * 1000, 400, SAME),
    ("TLS client hello", bytes.fromhex("16030100a5010000a10303") + b"\x00" * 160, 400, SAME),
    # versions
    ("HTTP/9.9", get(b"GET /v1/info HTTP/9.9"), 505, SAME),
    ("HTTP/2.0", get(b"GET /v1/info HTTP/2.0"), 505, SAME),
    ("HTTP/0.9", get(b"GET /v1/info HTTP/0.9"), 505, SAME),
    ("HTTP/10.0", get(b"GET /v1/info HTTP/10.0"), 400, SAME),
    ("http/1.1 in lower case", get(b"GET /v1/info http/1.1"), 400, SAME),
    # headers
    ("Host missing", get(headers=b""), 400, SAME),
    ("Host twice", get(headers=H + H), 400, SAME),
    ("Host with a space", get(headers=b"Host: a b\r\n"), 400, SAME),
    ("header without colon", get(headers=H + b"Foo bar\r\n"), 400, SAME),
    ("header space before colon", get(headers=H + b"Foo : bar\r\n"), 400, SAME),
    ("header name with (", get(headers=H + b"Fo(o: bar\r\n"), 400, SAME),
    ("header name empty", get(headers=H + b": bar\r\n"), 400, SAME),
    ("header value NUL", get(headers=H + b"Foo: b\x00r\r\n"), 400, SAME),
    ("header value bare CR", get(headers=H + b"Foo: b\rr\r\n"), 400, SAME),
    ("first header continued", get(headers=b" " + H), 400, SAME),
    ("headers over 2 MiB", get(headers=H + (b"X-Pad: " + b"a" * 1000 + b"\r\n") * 2100), 431, SAME),  # bound: 1 MiB
    # well-formed but unusual: answered as Go answers them
    ("HTTP/1.2", get(b"GET /v1/info HTTP/1.2"), 200, SAME),
    ("HTTP/1.0 without Host", get(b"GET /v1/info HTTP/1.0", b""), 200, SAME),
    ("continued header line", get(headers=H + b"Foo: bar\r\n baz\r\n"), 200, SAME),
    ("bare LF line ends", b"GET /v1/info HTTP/1.1\nHost: rootlesskit\n\n", 200, SAME),
    ("absolute-form target", get(b"GET http://rootlesskit/v1/info HTTP/1.1"), 200, SAME),
    ("OPTIONS *", get(b"OPTIONS * HTTP/1.1"), 200, SAME),
    ("method in lower case", get(b"get /v1/info HTTP/1.1"), 405, SAME),
    ("two requests pipelined", get() + get(b"GET /v1/ports HTTP/1.1"), 200, SAME),
]


def _server(kind: str, base: pathlib.Path) -> Running:
    argv = Impl("go2" if kind == "go" else kind).argv()  # Go 2.0.2: engine_file fails naming the fix if missing
    return Running(argv, FLAGS, base / kind).ready()


@pytest.fixture(scope="module", params=["binary", "python", "go"])
def server(request, tmp_path_factory):
    """One rootlesskit for the whole table: each request must leave it serving the next."""
    if request.param == "binary":
        assert (BIN_DIR / "rootlesskit").is_file(), f"compiled binaries missing in {BIN_DIR} (python3 build.py)"
    rk = _server(request.param, tmp_path_factory.mktemp("api"))
    rk.kind = request.param
    yield rk
    rk.stop()


def _log_is_clean(rk: Running) -> None:
    text = rk.stderr()
    assert "Traceback" not in text and "Error:" not in text and "api:" not in text, text


@pytest.mark.parametrize("name, data, status, go_status", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_request(server, name, data, status, go_status):
    answer = exchange(str(server.state / "api.sock"), data)
    expected = go_status if server.kind == "go" and go_status is not SAME else status
    assert answer.status == expected, answer
    if server.kind != "go" and status >= 400 and status != 405:  # 405 has an empty body, as upstream's
        content_type = answer.headers.get("content-type", "")
        assert content_type.startswith("text/plain") and answer.body, answer
        assert answer.headers.get("connection") == "close" or b'"message"' in answer.body, answer
    assert exchange(str(server.state / "api.sock"), get(b"GET /v1/info HTTP/1.1")).status == 200
    _log_is_clean(server)


def test_head_is_answered_without_a_body(server):
    """HEAD gets upstream's status and no body: 405 on a GET route, 404 (with the length GET's body
    would have) on an unknown path, not a logged internal error (h11 refuses a body after HEAD)."""
    for path, status in ((b"/v1/info", 405), (b"/v1/no-such-route", 404)):
        answer = exchange(str(server.state / "api.sock"), get(b"HEAD " + path + b" HTTP/1.1"))
        assert answer.status == status, answer
        assert answer.data.endswith(b"\r\n\r\n"), answer  # nothing after the headers
    assert int(answer.headers["content-length"]) > 0, answer
    _log_is_clean(server)


def test_hostile_requests_leak_no_descriptors(server):
    """The table sent ten times over leaves the server with no more descriptors than it had (Go's
    may close idle ones from earlier tests meanwhile)."""
    pid = server.proc.pid
    before = len(os.listdir(f"/proc/{pid}/fd"))
    for _ in range(10):
        for _, data, _, _ in HOSTILE:
            exchange(str(server.state / "api.sock"), data)
    deadline = time.monotonic() + 10
    while len(os.listdir(f"/proc/{pid}/fd")) > before and time.monotonic() < deadline:
        time.sleep(0.1)  # connection threads finish after the client has read its answer
    assert len(os.listdir(f"/proc/{pid}/fd")) <= before
    _log_is_clean(server)


def test_negative_content_length_smuggles_nothing(server):
    """The bytes after a refused Content-Length are never read as a request of their own."""
    sock = str(server.state / "api.sock")
    spec = {"proto": "tcp", "parentIP": "127.0.0.1", "parentPort": free_port(), "childPort": 80}
    added = exchange(sock, post(json.dumps(spec).encode()))
    assert added.status == 201, added
    port_id = json.loads(added.body)["id"]
    smuggled = b"DELETE /v1/ports/%d HTTP/1.1\r\nHost: rootlesskit\r\n\r\n" % port_id
    assert exchange(sock, with_length(b"-%d" % len(smuggled), smuggled)).status == 400
    listed = exchange(sock, get(b"GET /v1/ports HTTP/1.1"))
    assert port_id in [status["id"] for status in json.loads(listed.body)], listed
    assert exchange(sock, get(b"DELETE /v1/ports/%d HTTP/1.1" % port_id)).status == 200


def _rss_kib(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.parametrize("server", ["binary", "python"], indirect=True)  # Go decodes as it reads: no bound
def test_a_huge_chunk_is_refused_without_buffering_it(server):
    """A chunk declared 7fffffff and 64 MiB actually sent: ours answers 413 once 1 MiB is in, and
    does not grow."""
    sock_path = str(server.state / "api.sock")
    before = _rss_kib(server.proc.pid)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(sock_path)
        s.sendall(chunked(b"7fffffff\r\n"))
        try:
            for _ in range(1024):
                s.sendall(b" " * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed before all of it was sent
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert _rss_kib(server.proc.pid) - before < 8 * 1024
    _log_is_clean(server)


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_of_exactly_1_mib_is_read(server, framing):
    """The bound is 1 MiB of body, not less: a spec padded with JSON whitespace to exactly 1 MiB,
    in 4 KiB chunks or with a Content-Length, is decoded (and refused only for its content)."""
    spec = b'{"proto":"tcp","parentPort":0,"childPort":80}'
    body = spec + b" " * (MiB - len(spec))
    if framing == "length":
        data = post(body)
    else:
        data = chunked(b"".join(b"1000\r\n" + body[i:i + 4096] + b"\r\n" for i in range(0, MiB, 4096)) + b"0\r\n\r\n")
    answer = exchange(str(server.state / "api.sock"), data)
    assert (answer.status, json.loads(answer.body)) == (400, {"message": "invalid ParentPort: '\\x00'"}), answer


def test_keep_alive_serves_many_requests_on_one_connection(server):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(server.state / "api.sock"))
        s.sendall(get() * 50 + get(headers=H + b"Connection: close\r\n"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK\r\n") == 51


def test_expect_100_continue_is_answered_before_the_body(server):
    """curl sends `Expect: 100-continue` for larger bodies and waits for the interim answer."""
    body = b'{"proto":"tcp","parentPort":0,"childPort":80}'
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(server.state / "api.sock"))
        s.sendall(b"POST /v1/ports HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        interim = b""
        while b"\r\n\r\n" not in interim:
            interim += s.recv(1)
        s.sendall(body)
        final = s.recv(65536)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"invalid ParentPort" in final, final


# (name, what the broken server sends, what rootlessctl prints on stderr; None: Go's differs, e.g. it
# decodes the `[]` before a framing error and succeeds)
BROKEN_SERVERS = [
    ("garbage", b"garbage\r\n\r\n", 'Get "URL": net/http: HTTP/1.x transport connection broken: '
                                     'malformed HTTP response "garbage"'),
    ("status code abc", b"HTTP/1.1 abc OK\r\n\r\n", 'Get "URL": net/http: HTTP/1.x transport connection broken: '
                                                    'malformed HTTP status code "abc"'),
    ("Content-Length +2", b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n[]",
     'Get "URL": net/http: HTTP/1.x transport connection broken: bad Content-Length "+2"'),
    ("Content-Length -2", b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n[]",
     'Get "URL": net/http: HTTP/1.x transport connection broken: bad Content-Length "-2"'),
    ("header without colon", b"HTTP/1.1 200 OK\r\nFoo bar\r\nContent-Length: 2\r\n\r\n[]",
     'Get "URL": net/http: HTTP/1.x transport connection broken: malformed MIME header: missing colon: "Foo bar"'),
    ("Transfer-Encoding gzip", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n[]",
     'Get "URL": net/http: HTTP/1.x transport connection broken: unsupported transfer encoding: "gzip"'),
    ("chunk size zz", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid byte in chunk length"),
    ("body cut short", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n[", "unexpected EOF"),
    ("closed at once", b"", 'Get "URL": EOF'),
    ("an object for a list", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
     "json: cannot unmarshal object into Go value of type []port.Status"),
    ("500 in plain text", b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
     'unexpected HTTP status Internal Server Error, body="oops"'),
    ("chunk data without its CRLF", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]XX0\r\n\r\n", None),
    ("chunk of 7fffffff cut short", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffff\r\n[]", None),
    ("deep json", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"[" * 100000, None),
    ("headers cut short", b"HTTP/1.1 200 OK\r\nContent-Len", None),
]


@pytest.mark.parametrize("name, response, message", BROKEN_SERVERS, ids=[row[0] for row in BROKEN_SERVERS])
def test_rootlessctl_against_a_broken_server(impl, tmp_path, name, response, message):
    """One `error: ...` line and exit 1, never a traceback; Go 2.0.2's rootlessctl words it the same."""
    sock = str(tmp_path / "api.sock")
    with CannedServer(sock, response):
        ours = run([*impl.argv("rootlessctl"), "--socket", sock, "list-ports"], timeout=30)
        go = run([*Impl("go2").argv("rootlessctl"), "--socket", sock, "list-ports"], timeout=30) if message else None
    assert (ours.returncode, ours.stdout) == (1, ""), ours
    assert ours.stderr.startswith("error: ") and ours.stderr.count("\n") == 1, ours.stderr
    assert "Traceback" not in ours.stderr
    if go is not None:
        expected = "error: " + message.replace("URL", "http://rootlesskit/v1/ports") + "\n"
        assert (ours.stderr, go.stderr, go.returncode) == (expected, expected, 1)


def _mutations(count: int, seed: int = 14) -> list[bytes]:
    """Valid requests with bytes flipped, inserted, deleted or cut off: reproducible (seeded)."""
    import random

    rng = random.Random(seed)
    valid = [get(), post(b'{"proto":"tcp","parentPort":0,"childPort":80}'), chunked(b"2\r\n{}\r\n0\r\n\r\n"),
             get(b"DELETE /v1/ports/7 HTTP/1.1")]
    out = []
    for _ in range(count):
        data = bytearray(rng.choice(valid))
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(len(data))
            kind = rng.randrange(4)
            if kind == 0:
                data[where] = rng.randrange(256)
            elif kind == 1:
                data[where:where] = rng.choice([b"\r\n", b" ", b":", b"\x00", b"-1", b"\xff", b"9" * 30])
            elif kind == 2:
                del data[where:where + rng.randint(1, 8)]
            else:
                del data[max(where, 1):]
        if data:  # nothing sent is nothing to answer
            out.append(bytes(data))
    return out


@pytest.mark.parametrize("server", ["binary", "python"], indirect=True)
def test_generated_bad_requests_are_all_answered(server):
    """About 300 mutated requests: each one gets a status line back (no silent close), nothing reaches the
    log, and the server still answers afterwards."""
    silent = [data for data in _mutations(300) if exchange(str(server.state / "api.sock"), data).status is None]
    assert silent == []
    assert exchange(str(server.state / "api.sock"), get()).status == 200
    _log_is_clean(server)


@pytest.mark.parametrize("server", ["binary", "python"], indirect=True)
@pytest.mark.parametrize("connection", [b"keep-alive", b"close"])
@pytest.mark.parametrize("target", [b"/v1/info", b"/v1/ports", b"/v1/ports/1", b"/nowhere", b"/v1/info?x=1"])
def test_plain_gets_are_answered_as_h11_answers_them(server, target, connection):
    """A plain GET is read without h11 (its import costs the first request about 40 ms); the answer
    must be the same, byte for byte, as for the same request that h11 reads (an extra token in the
    Connection header sends it there without changing its meaning)."""
    sock = str(server.state / "api.sock")
    plain = exchange(sock, get(b"GET " + target + b" HTTP/1.1", H + b"Connection: " + connection + b"\r\n"))
    via_h11 = exchange(sock, get(b"GET " + target + b" HTTP/1.1", H + b"Connection: " + connection + b", x-h11\r\n"))
    assert plain.status in (200, 404, 405) and plain.data == via_h11.data, (plain, via_h11)
    # and on one connection, a plain GET, then a request only h11 reads, then a plain GET again
    answers = exchange(sock, get() + chunked(b"0\r\n\r\n", b"POST", b"/v1/ports") + get(b"GET /v1/ports HTTP/1.1"))
    assert answers.data.count(b"HTTP/1.1 ") == 3, answers
    _log_is_clean(server)


# POST bodies the routes refuse, each for another reason (the JSON reader's errors and Go's)
REFUSED_BODIES = [b"", b" \r\n", b"{", b'{"proto":"tcp"', b"[]", b"null x", b"nul", b'{"parentPort":NaN}',
                  b'{"parentPort":-Infinity}', b'{"parentPort":1.5}', b'{"parentPort":"1"}', b'{"proto":7}',
                  b'{"proto":"sctp","parentPort":1,"childPort":1}', b"[" * 101 + b"]" * 101,
                  b'{"proto":"\\"[[[[","parentPort":0,"childPort":0}', b'{"parentIP":"\xff\xfe","childPort":80}']


@pytest.mark.parametrize("server", ["binary", "python"], indirect=True)
@pytest.mark.parametrize("connection", [b"keep-alive", b"close"])
def test_plain_posts_and_deletes_are_answered_as_h11_answers_them(server, connection):
    """POST and DELETE, as Docker sends them, are read without h11 too (its import stays in an
    idle daemon); each answer must be the same, byte for byte, as when h11 reads the request."""
    sock = str(server.state / "api.sock")
    plain_headers = H + b"Connection: " + connection + b"\r\n"
    h11_headers = H + b"Connection: " + connection + b", x-h11\r\n"

    def request(method: bytes, path: bytes, headers: bytes, body: bytes | None = None) -> bytes:
        length = b"" if body is None else b"Content-Length: %d\r\n" % len(body)
        return method + b" " + path + b" HTTP/1.1\r\n" + headers + length + b"\r\n" + (body or b"")

    for body in REFUSED_BODIES:
        plain = exchange(sock, request(b"POST", b"/v1/ports", plain_headers, body))
        via_h11 = exchange(sock, request(b"POST", b"/v1/ports", h11_headers, body))
        assert plain.status == 400 and plain.data == via_h11.data, (body, plain, via_h11)
    for path in (b"/v1/ports/99999", b"/v1/ports/x", b"/v1/info"):
        plain = exchange(sock, request(b"DELETE", path, plain_headers))
        assert plain.data == exchange(sock, request(b"DELETE", path, h11_headers)).data, (path, plain)
    # a port published and removed both ways: the same answers but for its id
    spec = json.dumps({"proto": "tcp", "parentIP": "127.0.0.1", "parentPort": free_port(), "childPort": 80}).encode()
    answers = {}
    for way, headers in (("plain", plain_headers), ("h11", h11_headers)):
        added = exchange(sock, request(b"POST", b"/v1/ports", headers, spec))
        assert added.status == 201, added
        port_id = json.loads(added.body)["id"]
        removed = exchange(sock, request(b"DELETE", b"/v1/ports/%d" % port_id, headers))
        answers[way] = (json.loads(added.body)["spec"], added.data.split(b"\r\n")[0], removed.data)
    assert answers["plain"] == answers["h11"], answers
    # and on one connection: a plain POST, a request only h11 reads, then a plain DELETE
    both = exchange(sock, request(b"POST", b"/v1/ports", H, b"{}") + chunked(b"0\r\n\r\n")
                    + request(b"DELETE", b"/v1/ports/99999", H + b"Connection: close\r\n"))
    assert both.data.count(b"HTTP/1.1 400 ") == 3, both
    _log_is_clean(server)


def _rss_anon_kib(pid: int) -> int:
    return int(pathlib.Path(f"/proc/{pid}/status").read_text().split("RssAnon:")[1].split()[0])


def test_dockers_requests_leave_the_daemon_without_h11(tmp_path):
    """What Docker sends (GET /v1/info, POST and DELETE /v1/ports with a Content-Length) must not load
    h11 and json, which an idle daemon would keep for as long as it runs (a refused body loads json,
    to word the error); one request only h11 reads shows what loading them costs, so the first
    figure can tell."""
    rk = _server("binary", tmp_path)
    try:
        sock, pid = str(rk.state / "api.sock"), rk.proc.pid
        assert exchange(sock, get()).status == 200
        before = _rss_anon_kib(pid)
        for _ in range(5):
            spec = json.dumps({"proto": "tcp", "parentIP": "127.0.0.1", "parentPort": free_port(), "childPort": 80})
            added = exchange(sock, post(spec.encode()))
            assert added.status == 201, added
            assert exchange(sock, get(b"DELETE /v1/ports/%d HTTP/1.1" % json.loads(added.body)["id"])).status == 200
        plain = _rss_anon_kib(pid) - before
        assert exchange(sock, chunked(b"0\r\n\r\n")).status == 400
        with_h11 = _rss_anon_kib(pid) - before - plain
        assert plain < 512 < 1536 < with_h11, (plain, with_h11)
        _log_is_clean(rk)
    finally:
        rk.stop()
