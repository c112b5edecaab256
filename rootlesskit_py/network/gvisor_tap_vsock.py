"""`--net=gvisor-tap-vsock`: not available in rootlesskit-py.

Upstream links gvisor-tap-vsock's Go network stack into its own process; there is no standalone
binary to run and no Python equivalent of that stack, so the driver is refused with the reason and
the alternatives. Upstream's warnings and flag checks still come first.
"""

from __future__ import annotations

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network import NetworkDriver
from rootlesskit_py.util import log


class Driver(NetworkDriver):
    name = "gvisor-tap-vsock"

    def validate(self) -> None:
        log.warn('"gvisor-tap-vsock" network driver is experimental')
        if self.options.disable_host_loopback:
            log.warn('"--disable-host-loopback" is not yet supported for gvisor-tap-vsock')
        if self.options.ipv6:
            raise RootlessKitError("--ipv6 is not supported for gvisor-tap-vsock")
        raise RootlessKitError(
            'network driver "gvisor-tap-vsock" is not supported by rootlesskit-py: upstream runs '
            "gvisor-tap-vsock's Go network stack inside its own process, and there is no binary or Python "
            "equivalent to run instead; use --net=slirp4netns (or --net=pasta) with the same flags")
