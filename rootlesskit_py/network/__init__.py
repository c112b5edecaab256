"""Network drivers: the interface every `--net` value implements, and the registry of them.

A driver has a parent half (runs in the host namespaces once the child's user namespace exists,
e.g. starting slirp4netns) and a child half (runs inside the namespaces before the command).
"""

from __future__ import annotations

from rootlesskit_py.errors import RootlessKitError

KNOWN_DRIVERS = ("host", "none", "pasta", "slirp4netns", "vpnkit", "lxc-user-nic", "gvisor-tap-vsock")


class NetworkDriver:
    """Base class: `name`, whether the child gets a network namespace, and the two set-up halves."""

    name = ""
    creates_netns = True

    def __init__(self, opts: dict) -> None:
        self.opts = opts

    def validate(self) -> None:
        """Parent-side flag checks, run before anything is started (upstream's order)."""

    def setup_parent(self, child_pid: int, state_dir: str) -> None:
        """Host-side set-up once the child's namespaces exist."""

    def setup_child(self) -> None:
        """Inside the namespaces, before the command runs."""

    def cleanup(self) -> None:
        """Stop whatever setup_parent started."""


def get_driver(opts: dict) -> NetworkDriver:
    """The driver for `--net`; errors as upstream words them."""
    name = opts["net"]
    if name == "host":
        from rootlesskit_py.network.host import HostDriver

        return HostDriver(opts)
    if name == "none":
        from rootlesskit_py.network.none import NoneDriver

        return NoneDriver(opts)
    if name in KNOWN_DRIVERS:
        raise RootlessKitError(
            f"network driver {name!r} is not implemented yet in this build of rootlesskit-py; "
            "use --net=host or --net=none"
        )
    raise RootlessKitError(f"unknown network mode: {name}")
