"""The pesto port driver (`--net=pasta` only): pasta forwards, we only tell it what.

pasta is started with a control socket (`-c $STATE/.pasta.sock`, see network/pasta.py), and each
add or remove runs passt's own client on it: `pesto -A|-D --tcp-ports=IP/PARENT:CHILD SOCKET`.
Nothing runs in the namespace. pasta delivers a forwarded connection to the namespace's address
(10.0.2.100 by default), so that is the only child IP, as the API's `disallowLoopbackChildIP`
tells Docker.
"""

from __future__ import annotations

import os

from rootlesskit_py import names
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.port import Options, PortDriver
from rootlesskit_py.port.spec import PortSpec, canonical_ip, validate
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import GoError, go_quote, look_path
from rootlesskit_py.util.proc import HelperTimedOut, decode, run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.messages import NetworkConfig

_PROTOS = ("tcp", "tcp4", "udp", "udp4")
_PROTOS_V6 = ("tcp6", "udp6")

# pesto returns in milliseconds; one still waiting on pasta then is killed, so the API call fails
# and says why instead of hanging dockerd's `docker run -p`. (sid's pasta 2026_10_02 can spin
# for good after a UDP rule is deleted, never answering again.)
PESTO_TIMEOUT = 10.0


class Driver(PortDriver):
    name = "pesto"
    disallow_loopback_child_ip = True

    def __init__(self, options: Options, state_dir: str) -> None:
        super().__init__(options, state_dir)
        self.protos = _PROTOS + (_PROTOS_V6 if options.ipv6 else ())
        self._socket = os.path.join(state_dir, names.STATE_PASTA_CONTROL)
        self._child_ip = ""
        shown, self._binary, err = _find_pesto(options.pasta_binary)
        out = b""
        if err is None:
            err, out, _ = run(self._binary, [self._binary, "--version"], combined=True)
        if err is not None:
            raise RootlessKitError(f'command "{shown} --version" failed, make sure pesto is installed: '
                                   f"{go_quote(decode(out))}: {err}")

    def start(self, child_pid: int, network: NetworkConfig | None) -> None:
        self._child_ip = network.ip if network is not None else ""

    def add_port(self, spec: PortSpec) -> int:
        validate(spec, self.ports)
        # dockerd 28 writes the namespace address IPv4-mapped (::ffff:10.0.2.100): the same address
        if spec.child_ip and canonical_ip(spec.child_ip)[0] != self._child_ip:
            raise RootlessKitError(f"unsupported ChildIP {go_quote(spec.child_ip)}: the pesto port driver only "
                                   f"supports the namespace address {go_quote(self._child_ip)}")
        self._pesto("-A", spec)
        return self._take_id(spec)

    def remove_port(self, port_id: int) -> None:
        spec = self.ports.get(port_id)
        if spec is None:
            raise RootlessKitError(f"invalid ID: {port_id}")
        self._pesto("-D", spec)
        del self.ports[port_id]

    def _pesto(self, method: str, spec: PortSpec) -> None:
        """One forwarding rule added (-A) or deleted (-D) on the running pasta; pasta has bound or
        closed the host socket when pesto returns."""
        argv = [self._binary, method, self._rule(spec), self._socket]
        log.debug(f"Executing {argv}")
        try:
            err, out, _ = run(self._binary, argv, combined=True, timeout=PESTO_TIMEOUT)
        except HelperTimedOut as e:
            raise RootlessKitError(
                f"pesto failed: no answer from pasta on {self._socket} in {e.seconds:g}s (pesto was killed); "
                f"pasta may be stuck: restart rootlesskit (for rootless Docker: systemctl --user restart docker)"
                f"\noutput: {decode(e.output)}") from None
        if err is not None:
            raise RootlessKitError(f"pesto failed: {err}\noutput: {decode(out)}")

    def _rule(self, spec: PortSpec) -> str:
        """`--tcp-ports=IP/PARENT:CHILD` (or --udp-ports), with upstream's checks in its order."""
        if spec.proto in ("tcp", "tcp4", "tcp6"):
            option = "--tcp-ports="
        elif spec.proto in ("udp", "udp4", "udp6"):
            option = "--udp-ports="
        else:
            raise RootlessKitError(f"unsupported protocol: {spec.proto}")
        parent_ip = spec.parent_ip or ("::" if spec.proto.endswith("6") else "0.0.0.0")
        address, is_v4 = canonical_ip(parent_ip)
        if not self.options.ipv6 and not is_v4:
            raise RootlessKitError(f"IPv6 port forwarding (proto {go_quote(spec.proto)}, parent IP "
                                   f"{go_quote(parent_ip)}) requires --ipv6")
        if (spec.proto.endswith("4") and not is_v4) or (spec.proto.endswith("6") and is_v4):
            raise RootlessKitError(f"unsupported IP: {parent_ip}")
        return f"{option}{address}/{spec.parent_port}:{spec.child_port}"


def _find_pesto(pasta_binary: str) -> tuple[str, str, str | None]:
    """(name to show, path, Go's lookup error or None) of the pesto to run. pesto and pasta speak a
    control protocol of their own build, and passt's packages install them side by side: the pesto
    beside the pasta in use (as given, or as its symlink resolves) comes first, then PATH's."""
    try:
        pasta = look_path(pasta_binary)
    except GoError:
        pasta = ""
    if pasta:
        for folder in dict.fromkeys((os.path.dirname(pasta), os.path.dirname(os.path.realpath(pasta)))):
            beside = os.path.join(folder, "pesto")
            if os.path.isfile(beside) and os.access(beside, os.X_OK):
                return beside, beside, None
    try:
        return "pesto", look_path("pesto"), None
    except GoError as e:
        return "pesto", "", str(e)

