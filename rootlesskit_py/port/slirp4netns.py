"""The slirp4netns port driver: slirp4netns itself forwards; we only talk to its API socket.

Each request is one JSON object written to `$STATE/.s4nn.sock`, then a half-close, then the whole
reply is read (slirp4netns's API is one request per connection). slirp4netns's forwarding id is
the port's id.
"""

from __future__ import annotations

import _socket
import json
import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.port import Options, PortDriver
from rootlesskit_py.port.spec import PortSpec, canonical_ip, validate
from rootlesskit_py.util.gocompat import strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.messages import NetworkConfig


class Driver(PortDriver):
    name = "slirp4netns"
    protos = ("tcp", "tcp4", "udp", "udp4")
    disallow_loopback_child_ip = True

    def __init__(self, options: Options, state_dir: str) -> None:
        super().__init__(options, state_dir)
        self._api_socket = os.path.join(state_dir, ".s4nn.sock")
        self._child_ip = ""

    def start(self, child_pid: int, network: NetworkConfig | None) -> None:
        self._child_ip = network.ip if network is not None else ""

    def add_port(self, spec: PortSpec) -> int:
        validate(spec, self.ports)
        if spec.proto.endswith("6"):
            raise RootlessKitError(f'unsupported protocol "{spec.proto}"')
        guest = _ipv4(spec.child_ip) if spec.child_ip else self._child_ip
        reply = self._call("add_hostfwd", {"proto": spec.proto.rstrip("4"), "host_addr": spec.parent_ip,
                                           "host_port": spec.parent_port, "guest_addr": guest,
                                           "guest_port": spec.child_port})
        try:
            port_id = int(reply["return"]["id"])
        except (KeyError, TypeError, ValueError):
            raise RootlessKitError(f"unexpected reply from slirp4netns: {reply!r}") from None
        self.ports[port_id] = spec
        return port_id

    def remove_port(self, port_id: int) -> None:
        if port_id not in self.ports:
            raise RootlessKitError(f"unknown id: {port_id}")
        self._call("remove_hostfwd", {"id": port_id})
        del self.ports[port_id]

    def _call(self, command: str, arguments: dict) -> dict:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(self._api_socket)
            sock.sendall(json.dumps({"execute": command, "arguments": arguments}).encode())
            sock.shutdown(_socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        except OSError as e:
            raise RootlessKitError(f"slirp4netns API {self._api_socket}: {strerror(e)}") from None
        finally:
            sock.close()
        try:
            reply = json.loads(data)
        except ValueError:
            raise RootlessKitError(f"slirp4netns API: unparsable reply {data[:200]!r}") from None
        if isinstance(reply, dict) and "error" in reply:
            error = reply["error"]
            if isinstance(error, dict):  # Go prints the map with sorted keys: map[desc:...]
                error = "map[" + " ".join(f"{k}:{error[k]}" for k in sorted(error)) + "]"
            raise RootlessKitError(f"reply.Error: {error}")
        return reply



def _ipv4(address: str) -> str:
    """The child address as slirp4netns takes it: IPv4, also when written IPv4-mapped."""
    text, is_v4 = canonical_ip(address)
    if not is_v4:
        raise RootlessKitError(f"unsupported IP (v6?): {address}")
    return text
