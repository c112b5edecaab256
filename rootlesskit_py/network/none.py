"""`--net=none`: a new network namespace holding only a loopback interface."""

from __future__ import annotations

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network import NetworkDriver, reject_namespace_options
from rootlesskit_py.network.namespace import bring_loopback_up


class Driver(NetworkDriver):
    name = "none"

    def validate(self) -> None:
        reject_namespace_options(self.options, self.name)
        if self.options.port_driver not in ("none", "builtin"):
            raise RootlessKitError('network "none" requires either port driver "none" or "builtin"')

    def setup_child(self, config, state_dir: str, etc_copied_up: bool, detached: bool) -> None:
        bring_loopback_up()
