"""Source IP propagation for the builtin driver (RootlessKit v3, `--source-ip-transparent`).

The forwarder dials from the client's own address (IP_TRANSPARENT), so the server inside sees who
connected instead of 127.0.0.1. Replies to that foreign address must come back to the forwarder's
socket rather than leave through the default route: connections the forwarder opened are marked,
and marked packets are looked up in a table that delivers everything locally. Set up once, on the
first client that is not on loopback, inside the network namespace (this thread is in it).
"""

from __future__ import annotations

import _socket

from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import GoError, look_path
from rootlesskit_py.util.proc import run

MARK = TABLE = PRIORITY = 100
FALLBACK = "source IP transparent: falling back to non-transparent mode, client source IPs will not be preserved"


def set_up_source_ip_routing() -> bool:
    """Policy routing and marking for transparent dials; False (and one warning) if iptables is unusable."""
    try:
        iptables = look_path("iptables")
    except GoError:
        log.warn(FALLBACK)
        return False
    if run(iptables, ["iptables", "-t", "mangle", "-L", "-n"], combined=True)[0] is not None:
        log.warn(FALLBACK)
        return False
    from rootlesskit_py.util.netlink import Netlink

    with Netlink() as netlink:
        for family in (_socket.AF_INET, _socket.AF_INET6):
            for what, step in (("route", lambda: netlink.add_local_default_route(family, TABLE)),
                               ("rule", lambda: netlink.add_fwmark_rule(family, MARK, TABLE, PRIORITY))):
                try:
                    step()
                except OSError as e:
                    log.debug(f"port/builtin: source IP {what} (family {family}): {e}")
    # tcp_fwmark_accept: the server's accepted socket answers with the SYN's mark (upstream's);
    # fwmark_reflect (ours): so do the kernel's resets, so a refusing target fails the dial at once
    # instead of after the dial's timeout.
    for sysctl in ("ipv4/tcp_fwmark_accept", "ipv4/fwmark_reflect", "ipv6/fwmark_reflect"):
        try:
            with open(f"/proc/sys/net/{sysctl}", "w") as f:
                f.write("1")
        except OSError as e:
            log.debug(f"port/builtin: net.{sysctl.replace('/', '.')}=1: {e}")
    for tool in ("iptables", "ip6tables"):
        try:
            path = iptables if tool == "iptables" else look_path(tool)
        except GoError:
            continue
        for rule in (["OUTPUT", "-p", "tcp", "-m", "addrtype", "!", "--src-type", "LOCAL",
                      "-j", "CONNMARK", "--set-mark", str(MARK)],
                     ["PREROUTING", "-p", "tcp", "-m", "connmark", "--mark", str(MARK),
                      "-j", "MARK", "--set-mark", str(MARK)]):
            error, output, _ = run(path, [tool, "-t", "mangle", "-A", *rule], combined=True)
            if error is not None:
                log.debug(f"port/builtin: {tool} {' '.join(rule)}: {error}: {output.decode(errors='replace').strip()}")
    return True
