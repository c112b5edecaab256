"""`--net=vpnkit`: validated like upstream; the vmnet protocol is not implemented yet."""

from __future__ import annotations

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network import NetworkDriver
from rootlesskit_py.network.common import look_up_binary


class Driver(NetworkDriver):
    name = "vpnkit"

    def validate(self) -> None:
        if self.opts["cidr"]:
            raise RootlessKitError("custom cidr is not supported for --net=vpnkit")
        look_up_binary(self.opts["vpnkit-binary"])
        raise RootlessKitError('network driver "vpnkit" is not implemented yet in rootlesskit-py; '
                               "use --net=slirp4netns, --net=none or --net=host")
