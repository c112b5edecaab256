"""What the API server needs from a port driver, defined here so that api/ depends on nothing above it.

port/'s drivers implement this interface (port.PortDriver derives from it); the server only calls
these methods, one at a time (it holds one lock around them).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.api.schema import PortSpec


class PortManager:
    """Upstream's port.Manager plus Info: the operations behind `/v1/ports` and `portDriver` of `/v1/info`.
    `ports` maps each published port's id to its spec, as `GET /v1/ports` lists them."""

    ports: dict[int, PortSpec]

    def add_port(self, spec: PortSpec) -> int:
        """Publish `spec`; returns its id. Raises RootlessKitError with upstream's wording."""
        raise NotImplementedError

    def remove_port(self, port_id: int) -> None:
        """Stop publishing port `port_id`; the host port is free when this returns."""
        raise NotImplementedError

    def info(self) -> dict:
        """The API's `portDriver` object (api.schema.port_driver_info), asked for at each `GET /v1/info`."""
        raise NotImplementedError
