"""Inside the new network namespace, what every driver with one shares: loopback and the device,
the DNS and hosts files in the state dir and their bind mounts at /etc, as upstream's child does."""

from __future__ import annotations

import os

from rootlesskit_py import native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.messages import NetworkConfig
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import strerror
from rootlesskit_py.util.netlink import Netlink

ETC_RESOLV_CONF_WARNING = (
    "Mounting /etc/resolv.conf without copying-up /etc. Note that /etc/resolv.conf in the namespace will be "
    "unmounted when it is recreated on the host. Unless /etc/resolv.conf is statically configured, copying-up "
    "/etc is highly recommended. Please refer to RootlessKit documentation for further information."
)


def bring_loopback_up() -> None:
    """`ip link set lo up`; the kernel then assigns 127.0.0.1/8 and ::1 itself."""
    with Netlink() as netlink:
        netlink.set_link("lo")


def configure_namespace(config: NetworkConfig, state_dir: str, etc_copied_up: bool, detached: bool,
                        configure_device: bool = True) -> None:
    """Inside the new network namespace: hosts and resolv.conf, lo, the device (unless the helper
    configured it, as pasta does), and the /etc bind mounts (not with --detach-netns: the command
    stays in the host's network, so it keeps the host's resolv.conf)."""
    hosts = _write_state_file(state_dir, "hosts", _hosts_content())
    resolv_conf = _write_state_file(state_dir, "resolv.conf", "".join(f"nameserver {d}\n" for d in config.dns))
    with Netlink() as netlink:
        try:
            netlink.set_link("lo")
            if configure_device:
                netlink.set_link(config.dev, mtu=config.mtu)
                netlink.add_address(config.dev, config.ip, config.prefix)
                netlink.add_default_route(config.dev, config.gateway)
        except OSError as e:
            raise RootlessKitError(f"configuring {config.dev}: {strerror(e)}") from None
    if not detached:
        _mount_over_etc(resolv_conf, hosts, etc_copied_up)


def _hosts_content() -> str:
    try:
        with open("/etc/hosts") as f:
            original = f.read()
    except OSError:
        original = ""
    hostname = os.uname().nodename
    return f"{original}\n127.0.0.1 {hostname}\n::1 {hostname}\n"


def _write_state_file(state_dir: str, name: str, content: str) -> str:
    path = os.path.join(state_dir, name)
    try:
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o644)
    except OSError as e:
        raise RootlessKitError(f"writing {path}: {strerror(e)}") from None
    return path


def _mount_over_etc(resolv_conf: str, hosts: str, etc_copied_up: bool) -> None:
    """Our resolv.conf and hosts appear at /etc; with /etc copied up they replace its symlinks."""
    if etc_copied_up:
        for name in ("/etc/resolv.conf", "/etc/hosts"):
            if os.path.lexists(name):
                os.unlink(name)
            with open(name, "w"):
                pass
            os.chmod(name, 0o644)
    else:
        log.warn(ETC_RESOLV_CONF_WARNING)
    for source, target in ((resolv_conf, "/etc/resolv.conf"), (hosts, "/etc/hosts")):
        try:
            native.mount(source, target, None, native.MS_BIND)
        except OSError as e:
            raise RootlessKitError(f"failed to create bind mount {target} for {source}: {strerror(e)}") from None
