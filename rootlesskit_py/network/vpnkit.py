"""`--net=vpnkit`: VPNKit (Docker for Mac's network stack) serving a tap through its vmnet socket.

The parent starts `vpnkit --ethernet $STATE/vpnkit-ethernet.sock`, connects a VIF with a fresh
UUID and asks vpnkit's DHCP for its address. The child creates the tap with the MAC vpnkit chose,
connects the same UUID again and relays frames between the two in two threads (network/vmnet.py
has the protocol). Fixed layout as upstream: 192.168.65.0/24, gateway and DNS at .1.
"""

from __future__ import annotations

import _thread
import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.messages import NetworkConfig
from rootlesskit_py.network import NetworkDriver, Options, look_up_binary
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import strerror
from rootlesskit_py.util.proc import fork_exec

GATEWAY = "192.168.65.1"


class Driver(NetworkDriver):
    name = "vpnkit"
    fresh_sysfs = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.mtu = options.mtu or 1500
        self.ifname = options.ifname or "tap0"
        self.binary = ""
        self._vif = None

    def validate(self) -> None:
        if self.options.cidr:
            raise RootlessKitError("custom cidr is not supported for --net=vpnkit")
        if self.mtu != 1500:
            log.warn(f"vpnkit is known to have issues with non-1500 MTU (current: {self.mtu}), see "
                     "https://github.com/rootless-containers/rootlesskit/issues/6#issuecomment-403531453")
        self.binary = look_up_binary(self.options.binary)
        if self.options.detach_netns:
            raise RootlessKitError("--detach-netns is not supported with --net=vpnkit in rootlesskit-py yet; "
                                   "use --net=slirp4netns --detach-netns")

    def setup_parent(self, child_pid: int, state_dir: str) -> NetworkConfig:
        from rootlesskit_py.network import vmnet

        socket_path = os.path.join(state_dir, "vpnkit-ethernet.sock")
        argv = [self.binary, "--ethernet", socket_path, "--mtu", str(self.mtu)]
        if self.options.disable_host_loopback:
            argv += ["--host-ip", "0.0.0.0"]
        try:
            self.pid = fork_exec(self.binary, argv, dict(os.environ), quiet=True)
        except OSError as e:
            raise RootlessKitError(f"executing {' '.join(argv)}: fork/exec {self.binary}: {strerror(e)}") from None
        uuid = vmnet.new_uuid()
        log.debug(f"connecting to VPNKit vmnet at {socket_path} as {uuid}")
        self._vif = vmnet.connect_with_retry(socket_path, uuid, self._exited)
        ip = vmnet.dhcp_address(self._vif)
        log.debug(f"connected to VPNKit vmnet: {ip}, MAC {vmnet.format_mac(self._vif.mac)}")
        return NetworkConfig(self.ifname, ip, 24, GATEWAY, [GATEWAY], self.mtu,
                             {"mac": vmnet.format_mac(self._vif.mac), "socket": socket_path, "uuid": uuid})

    def setup_child(self, config: NetworkConfig | None, state_dir: str, etc_copied_up: bool, detached: bool) -> None:
        from rootlesskit_py.network import vmnet
        from rootlesskit_py.network.namespace import configure_namespace
        from rootlesskit_py.util.netlink import Netlink, create_tap, open_tap

        try:
            create_tap(config.dev)
            with Netlink() as netlink:
                netlink.set_link(config.dev, up=False, mac=bytes.fromhex(config.opaque["mac"].replace(":", "")))
            tap = open_tap(config.dev)
        except OSError as e:
            raise RootlessKitError(f"creating tap {config.dev}: {strerror(e)}") from None
        configure_namespace(config, state_dir, etc_copied_up, detached)
        try:
            vif = vmnet.connect(config.opaque["socket"], config.opaque["uuid"])
        except OSError as e:
            raise RootlessKitError(f"connecting to {config.opaque['socket']}: {e}") from None
        _thread.start_new_thread(_tap_to_vif, (tap, vif))
        _thread.start_new_thread(_vif_to_tap, (vif, tap))

    def _exited(self) -> str:
        """How vpnkit ended, or "" while it runs."""
        from rootlesskit_py.util.signals import describe_status

        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if not pid:
            return ""
        self.pid = None
        return describe_status(status) or "exit status 0"

    def cleanup(self) -> None:
        if self._vif is not None:
            self._vif.sock.close()
        self.stop_helper()


def _tap_to_vif(tap: int, vif) -> None:
    """Frames the namespace sends, to vpnkit; ends when either side is gone. One buffer for all
    frames: a 64 KiB allocation per read costs an mmap and munmap under musl."""
    buffer = bytearray(65536)
    frame = memoryview(buffer)
    try:
        while size := os.readv(tap, [buffer]):
            vif.write(frame[:size])
    except OSError as e:
        log.debug(f"network/vpnkit: tap -> vpnkit stopped: {e}")


def _vif_to_tap(vif, tap: int) -> None:
    try:
        while True:
            os.write(tap, vif.read())
    except OSError as e:
        log.debug(f"network/vpnkit: vpnkit -> tap stopped: {e}")
