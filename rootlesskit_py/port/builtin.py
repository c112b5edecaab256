"""The builtin port driver, parent half: binds the host ports and hands the listening sockets over.

Upstream's parent accepts every connection itself, asks the child over a unix socket to dial the
target inside the namespace, receives the dialled socket back and copies the bytes between the two
in user space: one round trip between processes and two goroutines per connection. Here the parent
only binds (it is the process that may hold CAP_NET_BIND_SERVICE from `setcap`) and passes each
listening socket to the child half (port/forwarder.py), which accepts on it from inside the network
namespace, dials locally and gives both ends to a splice pump in C. No per-connection messages, and
the bytes never cross into user space.

The socket pair to the child is SOCK_SEQPACKET: one request (and its descriptor) per packet, one
answer per request, so the API's callers are served in order with nothing to frame.
"""

from __future__ import annotations

import _socket

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.port import Options, PortDriver
from rootlesskit_py.util import fdpass
from rootlesskit_py.util.gocompat import strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.port.spec import PortSpec

_UNSPECIFIED = ("", "0.0.0.0", "::")


class Driver(PortDriver):
    name = "builtin"
    protos = ("tcp", "tcp4", "tcp6", "udp", "udp4", "udp6")

    def __init__(self, options: Options, state_dir: str) -> None:
        super().__init__(options, state_dir)
        self._parent_end: _socket.socket | None = None
        self._child_end: _socket.socket | None = None
        self._listeners: dict[int, _socket.socket] = {}
        self._host_gateway_ip: str | None = None
        self._source_ip_backend: str | None = None

    def before_fork(self) -> None:
        self._parent_end, self._child_end = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)

    def after_fork(self) -> None:
        self._child_end.close()

    def start_child(self, netns_path: str) -> None:
        from rootlesskit_py.port.forwarder import Forwarder

        self._parent_end.close()
        Forwarder(self._child_end, netns_path, self.options.source_ip_transparent,
                  self.options.source_ip_transparent_backend).start()

    def add_port(self, spec: PortSpec) -> int:
        from rootlesskit_py.port.spec import validate  # loaded with the first port, not at every start

        validate(spec, self.ports)
        if not spec.proto.startswith(("tcp", "udp")):
            raise RootlessKitError(f"unsupported port protocol {spec.proto.rstrip('46')}")
        listener = _listen(spec)
        try:
            port_id = self._next_id
            self._ask(f"add {port_id} {spec.proto[:3]} {self._dial_ip(spec)} {spec.child_port}", listener.fileno())
        except BaseException:
            listener.close()
            raise
        self._take_id(spec)
        self._listeners[port_id] = listener
        return port_id

    def remove_port(self, port_id: int) -> None:
        if port_id not in self.ports:
            raise RootlessKitError(f"unknown id: {port_id}")
        self._ask(f"remove {port_id}")  # the child's copy of the listener is closed when this returns
        self._listeners.pop(port_id).close()
        del self.ports[port_id]

    def info(self) -> dict:
        """With `extra.sourceIPTransparentBackend` (API 1.1.3): the backend the child half resolved
        (nft, iptables, or none when source IPs are not kept), asked once; left out if the child is gone."""
        from rootlesskit_py.api.schema import EXTRA_SOURCE_IP_TRANSPARENT_BACKEND, port_driver_info

        if self._source_ip_backend is None:
            try:
                self._source_ip_backend = self._ask("backend")
            except RootlessKitError:
                pass
        extra = {EXTRA_SOURCE_IP_TRANSPARENT_BACKEND: self._source_ip_backend} if self._source_ip_backend else None
        return port_driver_info(self.name, self.protos, self.disallow_loopback_child_ip, extra)

    def cleanup(self) -> None:
        for listener in self._listeners.values():
            listener.close()
        self._listeners.clear()
        if self._parent_end is not None:
            self._parent_end.close()

    def _dial_ip(self, spec: PortSpec) -> str:
        """Where the child connects: the child IP if given, else upstream's rule, including its quirk that a specific
        parent IP other than the host's gateway address is dialled as is inside the namespace."""
        if spec.child_ip:
            return spec.child_ip
        if spec.parent_ip and spec.parent_ip not in ("0.0.0.0", self._gateway_ip()):
            return spec.parent_ip
        return "127.0.0.1"

    def _gateway_ip(self) -> str:
        """Looked up when a port first needs it, not at start: the netlink dump (and its import)
        would sit between the child's "ready" and the command's start."""
        if self._host_gateway_ip is None:
            self._host_gateway_ip = _host_gateway_ip()
        return self._host_gateway_ip

    def _ask(self, request: str, fd: int = -1) -> str:
        """One request to the forwarder; returns what follows its "ok", raises with its error text."""
        try:
            self._parent_end.sendmsg([request.encode()], fdpass.ancillary(fd) if fd >= 0 else [])
            answer = self._parent_end.recv(65536).decode()
        except OSError as e:
            raise RootlessKitError(f"port forwarder in the child is gone: {strerror(e)}") from None
        if not answer:
            raise RootlessKitError("port forwarder in the child is gone (the child exited)")
        if answer != "ok" and not answer.startswith("ok "):
            raise RootlessKitError(answer.removeprefix("error "))
        return answer[3:]


def _host_gateway_ip() -> str:
    """The first non-loopback IPv4 address of the host (upstream's "host gateway IP")."""
    from rootlesskit_py.util.netlink import Netlink

    try:
        with Netlink() as netlink:
            return next((a for a in netlink.ipv4_addresses() if not a.startswith("127.")), "")
    except OSError:
        return ""


def _listen(spec: PortSpec) -> _socket.socket:
    """Bind the host side with Go's semantics: `tcp`/`udp` on an unspecified address is
    dual-stack, the 4/6 suffixes pin the family; errors in Go's words plus our hints."""
    proto, ip = spec.proto, spec.parent_ip
    shown = f"[{ip}]:{spec.parent_port}" if ":" in ip else f"{ip}:{spec.parent_port}"
    if proto.endswith("4"):
        family, host, v6only = _socket.AF_INET, ip or "0.0.0.0", None
    elif proto.endswith("6"):
        family, host, v6only = _socket.AF_INET6, "::" if ip in _UNSPECIFIED else ip, 1
    elif ip in _UNSPECIFIED:
        family, host, v6only = _socket.AF_INET6, "::", 0
    else:
        family, host, v6only = (_socket.AF_INET6 if ":" in ip else _socket.AF_INET), ip, None
    if (family == _socket.AF_INET) == (":" in host):
        raise RootlessKitError(f"listen {proto} {shown}: address {ip}: not an IPv{4 if family == _socket.AF_INET else 6} "
                               f"address (use tcp/udp, or the other suffix)")
    kind = _socket.SOCK_STREAM if proto.startswith("tcp") else _socket.SOCK_DGRAM
    try:
        sock = _socket.socket(family, kind)
    except OSError as e:
        if v6only != 0:
            raise RootlessKitError(f"listen {proto} {shown}: socket: {strerror(e)}") from None
        family, host, v6only = _socket.AF_INET, "0.0.0.0", None  # a host without IPv6, as Go falls back
        sock = _socket.socket(family, kind)
    try:
        if v6only is not None:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, v6only)
        if kind == _socket.SOCK_STREAM:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)  # as Go's listeners
        sock.bind((host, spec.parent_port))
        if kind == _socket.SOCK_STREAM:
            sock.listen(4096)
    except OSError as e:
        sock.close()
        raise RootlessKitError(_bind_error(spec, f"listen {proto} {shown}: bind: {strerror(e)}", e)) from None
    return sock


def _bind_error(spec: PortSpec, text: str, error: OSError) -> str:
    """Upstream's hint for a privileged port; for a port in use, who holds it (moby/moby#52903)."""
    import errno

    if error.errno in (errno.EACCES, errno.EPERM):
        start = _unprivileged_port_start()
        if start is not None and spec.parent_port < start:
            return (f"cannot expose privileged port {spec.parent_port}, you can add "
                    f"'net.ipv4.ip_unprivileged_port_start={spec.parent_port}' to /etc/sysctl.conf "
                    f"(currently {start}), or set CAP_NET_BIND_SERVICE on rootlesskit binary, "
                    f"or choose a larger port number (>= {start}): {text}")
    if error.errno == errno.EADDRINUSE:
        from rootlesskit_py.port.holder import describe_holder  # only ever asked on this error

        return f"{text} ({describe_holder(spec.proto[:3], spec.parent_port)})"
    return text


def _unprivileged_port_start() -> int | None:
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None
