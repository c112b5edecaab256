"""`--net=lxc-user-nic`: validated like upstream; the veth/DHCP set-up is not implemented yet."""

from __future__ import annotations

from rootlesskit_py.cli.rootlesskit_flags import LXC_USER_NIC_PATHS
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network import NetworkDriver
from rootlesskit_py.network.common import look_up_binary, not_implemented
from rootlesskit_py.util import log


class Driver(NetworkDriver):
    name = "lxc-user-nic"

    def validate(self) -> None:
        log.warn('"lxc-user-nic" network driver is experimental')
        if self.opts["cidr"]:
            raise RootlessKitError("custom cidr is not supported for --net=lxc-user-nic")
        if not self.opts["disable-host-loopback"]:
            log.warn("--disable-host-loopback is implicitly set for lxc-user-nic")
        if not self.opts["lxc-user-nic-binary"]:  # upstream says `exec: "": executable file not found`
            raise RootlessKitError(f"lxc-user-nic not found in {', '.join(LXC_USER_NIC_PATHS)}: install lxc "
                                   "(apt-get install lxc) or pass --lxc-user-nic-binary=PATH")
        look_up_binary(self.opts["lxc-user-nic-binary"])
        raise not_implemented(self.name)
