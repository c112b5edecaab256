"""Port drivers: the registry of `--port-driver` values (`none` here; the rest with the port issue)."""

from __future__ import annotations

from rootlesskit_py.errors import RootlessKitError

KNOWN_DRIVERS = ("none", "implicit", "builtin", "slirp4netns", "gvisor-tap-vsock")


def validate(opts: dict) -> None:
    """Upstream's port-driver checks, in its order, against the chosen network."""
    name, net = opts["port-driver"], opts["net"]
    if name == "none":
        if opts["publish"]:
            raise RootlessKitError('port driver "none" does not support publishing ports')
        return
    if name not in KNOWN_DRIVERS:
        raise RootlessKitError(f"unknown port driver: {name}")
    if name == "implicit" and net != "pasta":
        raise RootlessKitError("port driver requires pasta network")
    if name == "slirp4netns" and net != "slirp4netns":
        raise RootlessKitError("port driver requires slirp4netns network")
    if name in ("builtin", "gvisor-tap-vsock") and net == "host":
        raise RootlessKitError("port driver requires non-host network")
    raise RootlessKitError(
        f"port driver {name!r} is not implemented yet in this build of rootlesskit-py; use --port-driver=none"
    )
