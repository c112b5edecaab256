"""Port drivers: the interface every `--port-driver` with a port API implements, and the registry.

A driver has a parent half (the ports API: add, list, remove) and may have a child half that runs
inside the namespaces before the command starts:

    parent: before_fork()                       e.g. the socket pair to the child half
    child:  start_child(netns_path)             inside the namespaces (netns_path: --detach-netns)
    parent: after_fork()                        drop what belongs to the child
    parent: start(child_pid, network_config)    once the network is up; then -p are published
    parent: add_port / remove_port / ports      the API's operations
    parent: cleanup()                           every listener closed

`none` and `implicit` (pasta forwards by itself) have no port API: get_driver returns None.
"""

from __future__ import annotations

from rootlesskit_py.api.ports import PortManager
from rootlesskit_py.errors import RootlessKitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.messages import NetworkConfig
    from rootlesskit_py.port.spec import PortSpec

KNOWN_DRIVERS = ("none", "implicit", "builtin", "slirp4netns", "pesto", "gvisor-tap-vsock")


class Options:
    """What a port driver is given, typed, from the flags (built by the parent's caller in cli/).
    `pasta_binary` (--pasta-binary) is where pesto finds the pesto of the same passt build."""

    def __init__(self, *, source_ip_transparent: bool = True, source_ip_transparent_backend: str = "auto",
                 ipv6: bool = False, pasta_binary: str = "pasta") -> None:
        from rootlesskit_py.port.transparent import check_backend

        check_backend(source_ip_transparent_backend)
        self.source_ip_transparent = source_ip_transparent
        self.source_ip_transparent_backend = source_ip_transparent_backend
        self.ipv6 = ipv6
        self.pasta_binary = pasta_binary


class PortDriver(PortManager):
    """Base class: ids start at 1 and are never reused, as upstream's. The API's operations
    (add_port, remove_port, info) are api.ports.PortManager's."""

    name = ""
    protos: tuple[str, ...] = ()
    disallow_loopback_child_ip = False

    def __init__(self, options: Options, state_dir: str) -> None:
        self.options = options
        self.state_dir = state_dir
        self.ports: dict[int, PortSpec] = {}
        self._next_id = 1

    def before_fork(self) -> None:
        """Parent, before the child is forked."""

    def after_fork(self) -> None:
        """Parent, right after the fork."""

    def start_child(self, netns_path: str) -> None:
        """Child, in its namespaces, while the parent sets up the network; nothing is served until
        the network is configured (ports are only added after that)."""

    def start(self, child_pid: int, network: NetworkConfig | None) -> None:
        """Parent, once the child's network is up; ports can be added from here on."""

    def info(self) -> dict:
        """The API's `portDriver` object, from the driver's class attributes."""
        from rootlesskit_py.api.schema import port_driver_info

        return port_driver_info(self.name, self.protos, self.disallow_loopback_child_ip)

    def cleanup(self) -> None:
        """Parent, at exit: release every host port."""

    def _take_id(self, spec: PortSpec) -> int:
        port_id, self._next_id = self._next_id, self._next_id + 1
        self.ports[port_id] = spec
        return port_id


def validate(name: str, net: str, publish: list[str]) -> None:
    """Upstream's checks of port driver `name`, in its order, against network `net`; then the -p specs."""
    if name == "none":
        if publish:
            raise RootlessKitError('port driver "none" does not support publishing ports')
        return
    if name not in KNOWN_DRIVERS:
        raise RootlessKitError(f"unknown port driver: {name}")
    if name in ("implicit", "pesto") and net != "pasta":
        raise RootlessKitError("port driver requires pasta network")
    if name == "slirp4netns" and net != "slirp4netns":
        raise RootlessKitError("port driver requires slirp4netns network")
    if name in ("builtin", "gvisor-tap-vsock") and net == "host":
        raise RootlessKitError("port driver requires non-host network")
    if name == "gvisor-tap-vsock":
        raise RootlessKitError('port driver "gvisor-tap-vsock" needs --net=gvisor-tap-vsock, which this build '
                               'does not have (see --help); use --port-driver=builtin')
    if publish:  # (the spec module and the API schema it uses load only when there is one)
        from rootlesskit_py.port import spec

        for text in publish:  # each one alone, as upstream: conflicts show up when publishing
            spec.validate(spec.parse(text), {})


def get_driver(name: str, options: Options, state_dir: str) -> PortDriver | None:
    """The driver with a port API for `--port-driver=name`, or None (none, implicit)."""
    if name in ("none", "implicit"):
        return None
    module = __import__(f"rootlesskit_py.port.{name}", fromlist=["Driver"])
    return module.Driver(options, state_dir)
