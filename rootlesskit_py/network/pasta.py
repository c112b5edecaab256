"""`--net=pasta`: validated like upstream; not implemented yet."""

from __future__ import annotations

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.network import NetworkDriver
from rootlesskit_py.network.common import look_up_binary, not_implemented
from rootlesskit_py.util import log


class Driver(NetworkDriver):
    name = "pasta"

    def validate(self) -> None:
        log.warn('"pasta" network driver is experimental. Needs very recent version of pasta (see docs/network.md).')
        look_up_binary(self.opts["pasta-binary"])
        if self.opts["port-driver"] not in ("none", "implicit"):
            raise RootlessKitError('network "pasta" requires port driver "none" or "implicit"')
        raise not_implemented(self.name)
