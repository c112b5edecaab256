"""`rootlesskit [flags] COMMAND...`: flag handling in upstream's order, then the parent."""

from __future__ import annotations

import sys

from rootlesskit_py.cli.rootlesskit_flags import ROOTLESSKIT_APP, ROOTLESSKIT_FLAGS
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import flags, log
from rootlesskit_py.util.gocompat import go_quote
from rootlesskit_py.version import VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py import network, port


def main(argv: list[str]) -> int:
    log.configure("parent")
    try:
        opts, command = flags.parse(ROOTLESSKIT_FLAGS, argv)
    except flags.FlagError as e:
        from rootlesskit_py.util import helptext

        sys.stdout.write(f"Incorrect Usage: {e}\n\n{helptext.render_help(ROOTLESSKIT_APP)}")
        sys.stdout.flush()
        log.fatal(str(e))
        return 1
    if opts["help"]:
        from rootlesskit_py.util import helptext

        sys.stdout.write(helptext.render_help(ROOTLESSKIT_APP))
        return 0
    if opts["version"]:
        sys.stdout.write(f"rootlesskit version {VERSION}\n")
        return 0
    log.configure("parent", debug=bool(opts["debug"]))
    try:
        if opts["print-semver"]:
            sys.stdout.write(f"{semver_component(opts['print-semver'])}\n")
            return 0
        if not command:
            raise RootlessKitError("no command specified")
        from rootlesskit_py import network

        net_options, port_opts = network_options(opts), port_options(opts)
        network.start_probes(opts["net"], net_options)  # they run while the parent's modules load
        from rootlesskit_py.cli import self_launcher
        from rootlesskit_py.parent.run import run

        sys.stdout.flush()
        return run(opts, command, net_options, port_opts, self_launcher)
    except RootlessKitError as e:
        log.fatal(e.message)
        return e.code


def network_options(opts: dict) -> network.Options:
    """The network driver's typed options from the flags; the driver itself is chosen (and an
    unknown --net refused) later, in upstream's order."""
    from rootlesskit_py import network

    net = opts["net"]
    common = dict(mtu=opts["mtu"], cidr=opts["cidr"], ifname=opts["ifname"],
                  disable_host_loopback=opts["disable-host-loopback"], ipv6=opts["ipv6"],
                  detach_netns=opts["detach-netns"], debug=bool(opts["debug"]), port_driver=opts["port-driver"])
    if net == "slirp4netns":
        from rootlesskit_py.network import slirp4netns

        return slirp4netns.Options(binary=opts["slirp4netns-binary"], sandbox=opts["slirp4netns-sandbox"],
                                   seccomp=opts["slirp4netns-seccomp"], **common)
    if net == "lxc-user-nic":
        from rootlesskit_py.network import lxc_user_nic

        return lxc_user_nic.Options(binary=opts["lxc-user-nic-binary"], bridge=opts["lxc-user-nic-bridge"], **common)
    binaries = {"pasta": opts["pasta-binary"], "vpnkit": opts["vpnkit-binary"]}
    return network.Options(binary=binaries.get(net, ""), **common)


def port_options(opts: dict) -> port.Options:
    """The port driver's typed options from the flags."""
    from rootlesskit_py import port

    return port.Options(source_ip_transparent=opts["source-ip-transparent"],
                        source_ip_transparent_backend=opts["source-ip-transparent-backend"], ipv6=opts["ipv6"],
                        pasta_binary=opts["pasta-binary"])


def semver_component(which: str) -> int:
    """`--print-semver major|minor|patch`."""
    parts = {"major": 0, "minor": 1, "patch": 2}
    if which not in parts:
        raise RootlessKitError(f'expected --print-semver=(major|minor|patch), got {go_quote(which)}')
    core = VERSION.split("+")[0].split("-")[0].split(".")
    try:
        return int(core[parts[which]])
    except (IndexError, ValueError):
        raise RootlessKitError(f"failed to parse version {go_quote(VERSION)}: invalid semantic version") from None
