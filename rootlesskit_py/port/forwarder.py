"""The builtin port driver, child half: accept on the host's listening sockets from inside the namespace.

A socket stays in the network namespace it was created in, so the listeners the parent bound on the
host keep serving the host while this thread, which lives in the child's network namespace, accepts
on them and dials the target next to it. Established TCP pairs go to the C splice pump
(native.pump_add); UDP ports go whole to the C relay (native.udp_add), which keeps one connected
socket per client as upstream's conntrack, and closes it after 90 s unused.

One thread with one epoll loop: requests from the parent (add/remove, with the listener's descriptor),
accepts, connects in progress. With --detach-netns only this thread enters the detached namespace
(setns(2) is per thread), so the command stays in the host's; the UDP relay's thread is started
from it (at the first UDP port), so it lives there too.
"""

from __future__ import annotations

import _socket
import _thread
import errno
import os
import select
import time

from rootlesskit_py import native
from rootlesskit_py.port.transparent import NONE, set_up_source_ip_routing
from rootlesskit_py.util import fdpass, log
from rootlesskit_py.util.gocompat import errno_text, strerror
from rootlesskit_py.util.idle import first_of_its_kind_over

TRANSPARENT_DIAL_SECONDS = 1.0
_IP_TRANSPARENT, _IPV6_TRANSPARENT = 19, 75
_ACCEPT_BATCH = 64


def _log(text: str) -> None:
    log.debug(f"port/builtin: {text}")


class _Port:
    """One published port as the child sees it."""

    def __init__(self, port_id: int, proto: str, listener: _socket.socket | None, dial_ip: str,
                 dial_port: int) -> None:
        self.id, self.proto, self.listener = port_id, proto, listener  # no listener here: UDP's is the relay's
        self.dial = (dial_ip, dial_port)
        self.dial_family = _socket.AF_INET6 if ":" in dial_ip else _socket.AF_INET


class _Dial:
    """A connect in progress: the accepted client waits for it."""

    def __init__(self, port: _Port, client_fd: int, sock: _socket.socket, source: tuple | None) -> None:
        self.port, self.client_fd, self.sock, self.source = port, client_fd, sock, source
        self.deadline = time.monotonic() + TRANSPARENT_DIAL_SECONDS if source else None


class Forwarder:
    def __init__(self, control: _socket.socket, netns_path: str, source_ip_transparent: bool, backend: str) -> None:
        """`backend`: --source-ip-transparent-backend (auto, nft, iptables)."""
        self._control = control
        self._netns_path = netns_path
        self._want_transparent = source_ip_transparent
        self._backend = backend
        self._transparent_backend: str | None = None  # None: not set up yet (see _source_ip_backend)
        self._epoll = select.epoll()
        self._handlers: dict[int, object] = {}
        self._ports: dict[int, _Port] = {}
        self._dials: dict[int, _Dial] = {}

    def start(self) -> None:
        """Run in a thread of this process: the caller goes on to run and wait for the command."""
        from rootlesskit_py.util.proc import raise_nofile_limit

        raise_nofile_limit()
        native.pump_start()
        _thread.start_new_thread(self._run, ())

    # --- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._netns_path:
                fd = os.open(self._netns_path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    native.setns(fd, native.CLONE_NEWNET)
                finally:
                    os.close(fd)
            self._control.setblocking(False)
            self._watch(self._control.fileno(), select.EPOLLIN, self._on_request)
            while True:
                for fd, events in self._epoll.poll(self._next_timeout()):
                    handler = self._handlers.get(fd)
                    if handler is not None:
                        handler(fd, events)
                self._expire_dials(time.monotonic())
        except _ControlClosed:
            pass
        except BaseException as e:  # a dead forwarder must say why; the command keeps running
            log.error(f"port/builtin: forwarder stopped: {type(e).__name__}: {e}")

    def _next_timeout(self) -> float:
        """Until the first transparent dial gives up; -1 (no timeout) when none is in progress."""
        deadlines = [d.deadline for d in self._dials.values() if d.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else -1

    def _watch(self, fd: int, events: int, handler) -> None:
        self._handlers[fd] = handler
        self._epoll.register(fd, events)

    def _unwatch(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    # --- requests from the parent ---------------------------------------------------------------

    def _on_request(self, _fd: int, _events: int) -> None:
        while True:
            try:
                data, ancillary, _, _ = self._control.recvmsg(4096, fdpass.SPACE_FOR_ONE)
            except BlockingIOError:
                return
            except OSError:
                raise _ControlClosed from None
            if not data:
                raise _ControlClosed
            fds = fdpass.received(ancillary)
            words = data.decode().split()
            try:
                answer = self._handle(words, fds)
            except OSError as e:
                answer = f"error {strerror(e)}"
            self._control.send(answer.encode())
            if words[0] == "add" and len(words) == 5:  # Docker's first `docker run -p` (udp: the relay's start)
                first_of_its_kind_over(f"port: add {words[2]}")
            elif words[0] == "remove":
                first_of_its_kind_over("port: remove")

    def _handle(self, words: list[str], fds: list[int]) -> str:
        if words[0] == "add" and len(fds) == 1:
            _, port_id, proto, dial_ip, dial_port = words
            os.set_inheritable(fds[0], False)  # received descriptors are not close-on-exec
            if proto != "tcp":
                try:
                    native.udp_start()  # from this thread: the relay's shares its network namespace
                    native.udp_add(fds[0], int(port_id), dial_ip, int(dial_port))
                except OSError:
                    os.close(fds[0])
                    raise
                self._ports[int(port_id)] = _Port(int(port_id), proto, None, dial_ip, int(dial_port))
                return "ok"
            port = _Port(int(port_id), proto, _socket.socket(fileno=fds[0]), dial_ip, int(dial_port))
            port.listener.setblocking(False)
            self._ports[port.id] = port
            self._watch(port.listener.fileno(), select.EPOLLIN, lambda _fd, _ev, p=port: self._on_accept(p))
            return "ok"
        if words[0] == "backend":
            return f"ok {self._source_ip_backend()}"
        if words[0] == "remove":
            port = self._ports.pop(int(words[1]), None)
            if port is not None:
                self._remove(port)
            return "ok"
        for fd in fds:
            os.close(fd)
        return f"error bad request to the port forwarder: {' '.join(words)!r}"

    def _remove(self, port: _Port) -> None:
        """Removing a port closes its listener and every connection through it, as upstream."""
        if port.listener is None:
            native.udp_close_group(port.id)
            return
        self._unwatch(port.listener.fileno())
        port.listener.close()
        native.pump_close_group(port.id)
        for fd, dial in list(self._dials.items()):
            if dial.port is port:
                self._drop_dial(fd)

    # --- TCP ------------------------------------------------------------------------------------

    def _on_accept(self, port: _Port) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                client_fd, client = port.listener._accept()
            except BlockingIOError:
                return
            except OSError as e:  # e.g. EMFILE: the connection waits in the backlog
                _log(f"accept on port {port.id}: {strerror(e)}")
                return
            source = self._transparent_source(port, client)
            self._dial(port, client_fd, source)

    def _transparent_source(self, port: _Port, client: tuple) -> tuple | None:
        """The client's address to dial from (upstream v3's source IP propagation), or None."""
        if not self._want_transparent:
            return None
        host = client[0]
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]
        family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
        if family != port.dial_family or host in ("::1",) or host.startswith("127."):
            return None
        return (host, client[1]) if self._source_ip_backend() != NONE else None

    def _source_ip_backend(self) -> str:
        """The backend marking transparent connections (nft, iptables, none), set up at the first
        question: the first client not on loopback, or the API's `portDriver.extra`. Not at start,
        where running nft or iptables would delay the command. It touches about 1.4 MiB of the
        executable, which an idle child kept (util.idle)."""
        if self._transparent_backend is None:
            self._transparent_backend = (set_up_source_ip_routing(self._backend) if self._want_transparent
                                         else NONE)
            first_of_its_kind_over("source IP set-up")
        return self._transparent_backend

    def _dial(self, port: _Port, client_fd: int, source: tuple | None) -> None:
        try:
            sock = _socket.socket(port.dial_family, _socket.SOCK_STREAM)
        except OSError as e:  # out of descriptors or buffers: this connection is dropped, not the forwarder
            _log(f"port {port.id}: dial tcp {_join(port.dial)}: socket: {strerror(e)}")
            os.close(client_fd)
            return
        sock.setblocking(False)
        try:
            # The dialled leg ends on this machine: at a server in the namespace, a container behind
            # its bridge, or the user-mode TCP of slirp4netns, pasta or vpnkit. A pacing algorithm
            # such as BBR, a common host default that namespaces inherit, holds the sender to the
            # rate of a bottleneck that is not there, and leaves idle the CPU the pump could use.
            # Root of the namespace may pick any algorithm the kernel has; a kernel without cubic
            # keeps its default.
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_CONGESTION, b"cubic")
        except OSError:
            pass
        try:
            if source is not None:
                level, option = ((_socket.SOL_IP, _IP_TRANSPARENT) if port.dial_family == _socket.AF_INET
                                 else (_socket.SOL_IPV6, _IPV6_TRANSPARENT))
                sock.setsockopt(level, option, 1)
                sock.bind(source)
            error = sock.connect_ex(port.dial)
        except OSError as e:
            error = e.errno
        if error == 0 or (error == errno.EINPROGRESS and source is None):
            # The pump finishes a connect in progress by itself: writes wait for it, and a refusal
            # closes both ends, as a failed dial does. Only a transparent dial needs its outcome here.
            self._established(port, client_fd, sock)
        elif error == errno.EINPROGRESS:
            self._dials[sock.fileno()] = _Dial(port, client_fd, sock, source)
            self._watch(sock.fileno(), select.EPOLLOUT, self._on_connected)
        else:
            self._dial_failed(_Dial(port, client_fd, sock, source), error)

    def _on_connected(self, fd: int, _events: int) -> None:
        dial = self._dials.pop(fd)
        self._unwatch(fd)
        error = dial.sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if error:
            self._dial_failed(dial, error)
        else:
            self._established(dial.port, dial.client_fd, dial.sock)

    def _dial_failed(self, dial: _Dial, error: int) -> None:
        dial.sock.close()
        text = f"dial tcp {_join(dial.port.dial)}: connect: {errno_text(error)}"
        if dial.source is not None:
            _log(f"transparent dial failed, falling back: {text}")
            self._dial(dial.port, dial.client_fd, None)
            return
        _log(f"port {dial.port.id}: {text}")  # the client sees its connection closed
        os.close(dial.client_fd)

    def _established(self, port: _Port, client_fd: int, sock: _socket.socket) -> None:
        native.pump_add(client_fd, sock.detach(), port.id)

    def _expire_dials(self, now: float) -> None:
        for fd, dial in list(self._dials.items()):
            if dial.deadline is not None and now >= dial.deadline:
                self._dials.pop(fd)
                self._unwatch(fd)
                self._dial_failed(dial, errno.ETIMEDOUT)

    def _drop_dial(self, fd: int) -> None:
        dial = self._dials.pop(fd)
        self._unwatch(fd)
        dial.sock.close()
        os.close(dial.client_fd)


class _ControlClosed(Exception):
    """The parent is gone; the child dies with it (pdeathsig), nothing left to serve."""


def _join(address: tuple) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
