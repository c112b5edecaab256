"""Network drivers: the interface every `--net` value implements, and the registry of them.

A driver has a parent half (host side, once the child's namespaces exist, e.g. starting
slirp4netns) and a child half (inside the namespaces, before the command runs):

    parent: start_probes()            e.g. start `slirp4netns --help`, whose answer validate() reads
    parent: validate()                flag checks, before anything else starts
    child:  prepare_child()          e.g. create the tap the helper attaches to
    parent: setup_parent(pid, state)  -> NetworkConfig sent to the child (or None)
    child:  setup_child(config, ...)  addresses, routes, resolv.conf, hosts
    parent: cleanup()                 stop the helper
"""

from __future__ import annotations

import _signal as signal
import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import GoError, look_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.messages import NetworkConfig

KNOWN_DRIVERS = ("host", "none", "pasta", "slirp4netns", "vpnkit", "lxc-user-nic", "gvisor-tap-vsock")


class Options:
    """What a network driver is given, typed (upstream's drivers take constructor arguments): built
    from the flags by cli/, so no driver reads a flag. `port_driver` is the port driver the network
    serves (pasta forwards for `implicit`, slirp4netns opens its API socket for `slirp4netns`)."""

    def __init__(self, *, mtu: int = 0, cidr: str = "", ifname: str = "", disable_host_loopback: bool = False,
                 ipv6: bool = False, detach_netns: bool = False, debug: bool = False, port_driver: str = "none",
                 binary: str = "") -> None:
        self.mtu, self.cidr, self.ifname = mtu, cidr, ifname
        self.disable_host_loopback, self.ipv6, self.detach_netns = disable_host_loopback, ipv6, detach_netns
        self.debug, self.port_driver, self.binary = debug, port_driver, binary


class NetworkDriver:
    """Base class; the defaults fit a driver with nothing to do in one of the halves."""

    name = ""
    creates_netns = True
    fresh_sysfs = False  # upstream remounts /sys for every driver but host and none
    pid: int | None = None  # the helper process setup_parent started and the parent reaps (slirp4netns, vpnkit)
    # --ipv6 shows in the API's networkDriver.ipv6: upstream's slirp4netns and pasta drivers (and its
    # gvisor-tap-vsock, which this build does not have) set it; the others ignore the flag
    reports_ipv6 = False

    def __init__(self, options: Options) -> None:
        self.options = options

    def start_probes(self) -> None:
        """Start the helper programs validate() will ask (proc.start_early), ahead of the rest of
        start-up; nothing may fail here: errors wait for validate(), in upstream's order."""

    def validate(self) -> None:
        """Parent-side flag checks, run before anything is started (upstream's order)."""

    def prepare_child(self) -> None:
        """Inside the new namespaces, before the parent's half runs."""

    def setup_parent(self, child_pid: int, state_dir: str) -> "NetworkConfig | None":
        """Host-side set-up once the child's namespaces exist; what the child must configure."""
        return None

    def setup_child(self, config: "NetworkConfig | None", state_dir: str, etc_copied_up: bool,
                    detached: bool) -> None:
        """Inside the network namespace (the detached one with --detach-netns), before the command runs."""

    def api_info(self, config: "NetworkConfig | None") -> dict | None:
        """The API's `networkDriver` object: what the child got, None for --net=host."""
        from rootlesskit_py.api.schema import network_driver_info

        if config is None:
            return network_driver_info(self.name)
        return network_driver_info(self.name, config.dns, config.ip, ipv6=self.reports_ipv6 and self.options.ipv6)

    def helpers(self) -> dict[int, str]:
        """pid -> name of helper processes the parent must watch (their death cuts the network)."""
        return {self.pid: self.name} if self.pid else {}

    def helper_exited(self, pid: int, status: int) -> None:
        """A helper from helpers() ended while the command runs: say so; the command keeps running."""
        from rootlesskit_py.util.signals import describe_status

        log.error(f"{self.helpers().get(pid, pid)} exited ({describe_status(status) or 'exit status 0'}): the "
                  f"namespace has no network connectivity any more; restart rootlesskit to get it back")
        self.forget_helper(pid)

    def forget_helper(self, pid: int) -> None:
        """Drop a helper that has been reaped, so cleanup() does not signal a recycled pid."""
        if pid == self.pid:
            self.pid = None

    def cleanup(self) -> None:
        """Stop whatever setup_parent started."""
        self.stop_helper()

    def kill_helper(self) -> None:
        """SIGKILL the helper process, if one still runs, without waiting: the parent's own teardown
        goes on while it dies, and cleanup() reaps it."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop_helper(self) -> None:
        """Kill and reap the helper process, if one still runs."""
        if self.pid:
            self.kill_helper()
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None


def look_up_binary(name: str) -> str:
    """PATH lookup of a helper with Go's error text (`exec: "pasta": executable file not found in $PATH`)."""
    try:
        return look_path(name)
    except GoError as e:
        raise RootlessKitError(str(e)) from None


def reject_namespace_options(options: Options, net: str) -> None:
    """host and none have no device: upstream warns about --mtu and refuses --cidr/--ifname."""
    if options.mtu:
        log.warn(f"unsupported mtu for --net={net}: {options.mtu}")
    if options.cidr:
        raise RootlessKitError(f"custom cidr is not supported for --net={net}")
    if options.ifname:
        raise RootlessKitError(f"ifname cannot be specified for --net={net}")


def detached_netns_path(child_pid: int, state_dir: str) -> str:
    """The child's $STATE/netns as the parent reaches it: the bind mount exists only in the child's
    mount namespace."""
    return f"/proc/{child_pid}/root{state_dir}/netns"


def get_driver(name: str, options: Options) -> NetworkDriver:
    """The driver for `--net=name`, its module imported only now; an unknown name is refused as
    upstream words it."""
    if name not in KNOWN_DRIVERS:
        raise RootlessKitError(f"unknown network mode: {name}")
    return __import__(f"rootlesskit_py.network.{name.replace('-', '_')}", fromlist=["Driver"]).Driver(options)


def start_probes(name: str, options: Options) -> None:
    """Start driver `name`'s probes (NetworkDriver.start_probes) if there is such a driver."""
    if name in KNOWN_DRIVERS:
        get_driver(name, options).start_probes()
