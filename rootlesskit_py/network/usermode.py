"""slirp4netns and pasta: a user-mode helper serving the namespace's device, with upstream's shared
defaults (MTU 65520, 10.0.2.0/24 with the child at .100, the gateway at .2 and DNS at .3)."""

from __future__ import annotations

import _socket

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.messages import NetworkConfig
from rootlesskit_py.network import NetworkDriver, Options


def ipv4_plus(cidr: str, n: int) -> tuple[str, int]:
    """The address `n` above a network's own (10.0.2.0/24 + 100 = 10.0.2.100) and the prefix length."""
    network, _, prefix = cidr.partition("/")
    try:
        value = int.from_bytes(_socket.inet_aton(network), "big") + n
    except OSError:
        raise RootlessKitError(f"expected IPv4 address, got {network}") from None
    if value >= 1 << 32:
        raise RootlessKitError(f"{network} + {n} overflows")
    return _socket.inet_ntoa(value.to_bytes(4, "big")), int(prefix)


class UserModeDriver(NetworkDriver):
    """slirp4netns and pasta: a helper program serving a tap; upstream's defaults for both."""

    fresh_sysfs = True
    reports_ipv6 = True
    DEFAULT_MTU = 65520
    DEFAULT_CIDR = "10.0.2.0/24"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.mtu = options.mtu or self.DEFAULT_MTU
        self.ifname = options.ifname or "tap0"
        self.binary = ""

    def config(self, extra_dns: list[str]) -> NetworkConfig:
        """slirp4netns's and pasta's layout: the child at +100, the gateway at +2, DNS at +3."""
        cidr = self.options.cidr or self.DEFAULT_CIDR
        ip, prefix = ipv4_plus(cidr, 100)
        return NetworkConfig(self.ifname, ip, prefix, ipv4_plus(cidr, 2)[0], [ipv4_plus(cidr, 3)[0]] + extra_dns,
                             self.mtu)
