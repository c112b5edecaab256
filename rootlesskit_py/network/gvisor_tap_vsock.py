"""`--net=gvisor-tap-vsock`: not available in rootlesskit-py.

Upstream links gvisor-tap-vsock's Go network stack into its own process; there is no standalone
binary to run and no Python equivalent of that stack, so the driver is refused with the reason and
the alternatives on this host (the release's own pasta among them: what dockerd-rootless.sh runs
where upstream's runs gvisor-tap-vsock). Upstream's warnings and flag checks still come first.
"""

from __future__ import annotations

import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.host import which
from rootlesskit_py.host.network import bundled_pasta
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
            f"equivalent to run instead; use one of these with the same flags: {', '.join(working_networks())}")


def working_networks() -> list[str]:
    """The --net flags that would run here: a helper found on PATH, and the release's pasta; with none,
    the three rootlesskit can run once one is installed."""
    path_dirs = os.environ.get("PATH", "").split(":")
    found = [f"--net={name}" for name in ("slirp4netns", "pasta", "vpnkit") if which(name, path_dirs)]
    bundled = bundled_pasta()
    if bundled:
        found.append(f"--net=pasta --pasta-binary={bundled} (the pasta shipped with rootlesskit-py)")
    return found or ["--net=slirp4netns, --net=pasta or --net=vpnkit (none of slirp4netns, pasta and vpnkit "
                     "is installed)"]
