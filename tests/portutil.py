"""Helpers for the port-forwarding tests: a rootlesskit running in the background, the API over
its unix socket, and clients for the echo server (tests/helpers/portserver.py) inside."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

PORTSERVER = str(pathlib.Path(__file__).resolve().parent / "helpers" / "portserver.py")
SLIRP = ["--net=slirp4netns", "--disable-host-loopback", "--copy-up=/etc"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on both 127.0.0.1 and ::1 right now."""
    while True:
        with socket.socket(socket.AF_INET6, kind) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", 0))
            port = s.getsockname()[1]
        if port >= 1024:
            return port


def server_command(proto: str = "tcp", port: int = 8080, address: str = "::") -> list[str]:
    return [sys.executable, PORTSERVER, proto, str(port), address]


def terminate(proc: subprocess.Popen, seconds: float) -> None:
    """SIGTERM (rootlesskit relays it to its command), then SIGKILL to the process group after `seconds`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Running:
    """`program + args` (a rootlesskit, given --state-dir=state) started in the background; `ready()`
    waits for child_pid (written after every -p is published) and api.sock."""

    def __init__(self, program: list[str], args: list[str], state: pathlib.Path, env: dict | None = None) -> None:
        self.state = state
        self.stderr_path = state.parent / f"{state.name}.stderr"
        self._stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen([*program, f"--state-dir={state}", *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True,
                                     env=env)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def ready(self, timeout: float = 30) -> "Running":
        """child_pid and api.sock exist; then, for at most a few seconds, the command's exec is
        awaited too: both files are written before the command starts, and a test's leftover check
        must not count a module-wide server's command as its own."""
        deadline = time.monotonic() + timeout
        while not ((self.state / "child_pid").exists() and (self.state / "api.sock").exists()):
            if self.proc.poll() is not None:
                pytest.fail(f"rootlesskit exited with {self.proc.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"rootlesskit not ready within {timeout} s: {self.stderr()}")
            time.sleep(0.02)
        settled = time.monotonic() + 5
        while not self._command_started() and self.proc.poll() is None and time.monotonic() < settled:
            time.sleep(0.02)
        return self

    def _command_started(self) -> bool:
        """A child of the rootlesskit child runs something else than rootlesskit (its cmdline changed at exec)."""
        try:
            child = self.child_pid()
            own = pathlib.Path(f"/proc/{child}/cmdline").read_bytes()
            kids = [kid for task in pathlib.Path(f"/proc/{child}/task").iterdir()
                    for kid in (task / "children").read_text().split()]
            return any(pathlib.Path(f"/proc/{kid}/cmdline").read_bytes() not in (own, b"") for kid in kids)
        except (OSError, ValueError):
            return False

    def child_pid(self) -> int:
        return int((self.state / "child_pid").read_text())

    def api(self, method: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, dict, bytes]:
        return api_call(str(self.state / "api.sock"), method, path, body, raw)

    def stop(self) -> int:
        terminate(self.proc, 15)
        self._stderr.close()
        return self.proc.returncode

    def __enter__(self) -> "Running":
        return self.ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def api_call(socket_path: str, method: str, path: str, body: object = None,
             raw: bytes | None = None) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 request over the API socket: (status, lower-case headers, body)."""
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    request = f"{method} {path} HTTP/1.1\r\nHost: rootlesskit\r\nConnection: close\r\n"
    if payload or method == "POST":
        request += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(socket_path)
        s.sendall(request.encode() + b"\r\n" + payload)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body_bytes = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            body_bytes, rest = body_bytes + rest[:size], rest[size + 2:]
        rest = body_bytes
    return int(lines[0].split()[1]), headers, rest


def echo(address: tuple, payload: bytes = b"ping", family: int | None = None, timeout: float = 10,
         source: str | None = None) -> tuple[str, bytes]:
    """Connect through the forwarder to portserver: (client address it saw, echoed payload)."""
    family = family or (socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect(address)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    peer, _, echoed = data.partition(b"\n")
    return peer.decode(), echoed


def echo_closed(address: tuple, **kwargs) -> None:
    """echo() to a port whose target refuses: the forwarder closes the client, cleanly or with a reset
    that can land before our send, shutdown or read."""
    try:
        assert echo(address, **kwargs) == ("", b"")
    except OSError as e:
        assert e.errno in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN), e


def wait_echo(address: tuple, timeout: float = 20, **kwargs) -> tuple[str, bytes]:
    """echo(), retried while the server inside is still starting (the forwarder closes the client)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            peer, echoed = echo(address, **kwargs)
            if echoed:
                return peer, echoed
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no echo through {address} within {timeout} s")
        time.sleep(0.1)


def refuses(address: tuple) -> bool:
    """True if nothing listens on the host at `address` (connection refused). A reset is not yet a
    refusal: the connection met a listener that a dying process's exit was closing."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        try:
            s.connect(address)
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:
            return False
    return False


def first_reply(port: int, timeout: float = 20) -> bytes:
    """What a server on 127.0.0.1:port says first to a client, retrying while the port is not served
    yet (b"" if nothing answered within `timeout`)."""
    deadline, reply = time.monotonic() + timeout, b""
    while not reply and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as client:
                reply = client.recv(100)
        except OSError:
            time.sleep(0.05)
    return reply


def udp_echo(address: tuple, payload: bytes, timeout: float = 2) -> bytes | None:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, address)
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def comparable_ctl_output(text: str, state: str) -> str:
    """rootlessctl output with what differs by design made equal: versions (Go 1.1.0 vs our 3.2.0),
    portDriver.extra, the state dir, the child pid, and the order of listed ports (Go's server lists in map order)."""
    text = text.replace("1.1.0", "X").replace("3.2.0", "X").replace(state, "STATE")
    # API 1.1.3's portDriver.extra, which a v3.2 rootlessctl prints and Debian's older Go leaves out
    text = re.sub(r',\n        "extra": \{\n[^}]*\n        \}', "", text)
    text = re.sub(r'(Child PID: |"childPID": )\d+', r"\1PID", text)
    if text.startswith("ID ") or text.startswith('{"id"'):
        lines = text.splitlines(keepends=True)
        header = lines[:1] if text.startswith("ID ") else []
        text = "".join(header + sorted(lines[len(header):]))
    return text
