"""`--net=lxc-user-nic` (experimental): a veth on an LXC bridge, configured by DHCP.

The setuid `lxc-user-nic` helper (allowed by /etc/lxc/lxc-usernet) moves one end of a veth pair
into our namespace; the child asks the bridge's DHCP server (dnsmasq of lxc-net) for an address and
keeps renewing it from a small process that dies with the child.
"""

from __future__ import annotations

import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network import NetworkDriver, Options as CommonOptions, look_up_binary
from rootlesskit_py.util import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.messages import NetworkConfig
    from rootlesskit_py.network import dhcp

# upstream's three locations (Debian/Fedora, Ubuntu, Arch), in its order
BINARY_PATHS = ("/usr/libexec/lxc/lxc-user-nic", "/usr/lib/" + os.uname().machine + "-linux-gnu/lxc/lxc-user-nic",
                "/usr/lib/lxc/lxc-user-nic")


def default_binary() -> str:
    """The first of BINARY_PATHS that exists, else "": the flag table's default, so the module
    imports nothing more at the top (every start, --version included, loads the flag table)."""
    for path in BINARY_PATHS:
        try:
            os.stat(path)
        except OSError:
            continue
        return path
    return ""


class Options(CommonOptions):
    def __init__(self, *, bridge: str = "lxcbr0", **common) -> None:
        super().__init__(**common)
        self.bridge = bridge


class Driver(NetworkDriver):
    name = "lxc-user-nic"
    fresh_sysfs = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.mtu = options.mtu or 1500
        self.ifname = options.ifname or "eth0"
        self.binary = ""

    def validate(self) -> None:
        log.warn('"lxc-user-nic" network driver is experimental')
        if self.options.cidr:
            raise RootlessKitError("custom cidr is not supported for --net=lxc-user-nic")
        if not self.options.disable_host_loopback:
            log.warn("--disable-host-loopback is implicitly set for lxc-user-nic")
        if not self.options.binary:  # upstream says `exec: "": executable file not found`
            raise RootlessKitError(f"lxc-user-nic not found in {', '.join(BINARY_PATHS)}: install lxc "
                                   "(apt-get install lxc) or pass --lxc-user-nic-binary=PATH")
        self.binary = look_up_binary(self.options.binary)
        if self.options.detach_netns:
            raise RootlessKitError("--detach-netns is not supported with --net=lxc-user-nic in rootlesskit-py yet")

    def api_info(self, config: object) -> dict:
        from rootlesskit_py.api.schema import network_driver_info

        return network_driver_info(self.name, dynamic_child_ip=True)  # the child's address comes from DHCP

    def setup_parent(self, child_pid: int, state_dir: str) -> None:
        from rootlesskit_py.util.proc import decode, run

        argv = [self.binary, "create", "/dev/null", "dummy", str(child_pid), "veth",
                self.options.bridge, self.ifname]
        err, out, _ = run(self.binary, argv, combined=True)
        if err is not None:
            raise RootlessKitError(f"failed to setup network lxc-user-nic: {self.binary} failed: {decode(out)}: {err}")
        return None

    def setup_child(self, config: NetworkConfig | None, state_dir: str, etc_copied_up: bool, detached: bool) -> None:
        from rootlesskit_py.messages import NetworkConfig
        from rootlesskit_py.network import dhcp
        from rootlesskit_py.network.namespace import configure_namespace
        from rootlesskit_py.util.netlink import Netlink

        with Netlink() as netlink:
            netlink.set_link(self.ifname, mtu=self.mtu)
        client = dhcp.Client(self.ifname)
        try:
            lease = client.obtain()
            configure_namespace(NetworkConfig(self.ifname, lease.ip, lease.prefix, lease.router, lease.dns[:1],
                                              self.mtu), state_dir, etc_copied_up, detached)
            if os.fork() == 0:
                _keep_renewing(client, lease)
        finally:
            client.close()


def _keep_renewing(client: dhcp.Client, lease: dhcp.Lease) -> None:
    """The renewer process: renew at 90% of each lease; give up (loudly) if the address changes."""
    import _signal as signal
    import time

    from rootlesskit_py import native

    try:
        native.set_pdeathsig(signal.SIGKILL)
        while True:
            time.sleep(lease.seconds * 0.9)
            renewed = client.renew(lease)
            if renewed.ip != lease.ip:
                log.error(f"DHCP: the address of {client.ifname} changed from {lease.ip} to {renewed.ip}; "
                          "restart rootlesskit")
                break
            lease = renewed
    except (RootlessKitError, OSError) as e:
        log.error(f"DHCP: renewing the lease of {client.ifname} failed: {e}")
    finally:
        os._exit(1)  # the lease could not be kept
