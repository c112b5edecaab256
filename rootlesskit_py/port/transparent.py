"""Source IP propagation for the builtin driver (RootlessKit v3, `--source-ip-transparent`).

The forwarder dials from the client's own address (IP_TRANSPARENT), so the server inside sees who
connected instead of 127.0.0.1. Replies to that foreign address must come back to the forwarder's
socket rather than leave through the default route: connections the forwarder opened are marked,
and marked packets are looked up in a table that delivers everything locally. Set up once, inside
the network namespace (this thread is in it), on the first client that is not on loopback or when
the API is first asked which backend marks the packets.

The marking is done by nft or by iptables (`--source-ip-transparent-backend`, RootlessKit v3.2):
`auto` takes nft and falls back to iptables, so a host with nftables alone keeps client addresses.
"""

from __future__ import annotations

import _socket

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import GoError, go_quote, look_path
from rootlesskit_py.util.proc import decode, run

MARK = TABLE = PRIORITY = 100
AUTO, NFT, IPTABLES, NONE = "auto", "nft", "iptables", "none"
BACKENDS = (AUTO, NFT, IPTABLES)  # what --source-ip-transparent-backend accepts
FALLBACK = "source IP transparent: falling back to non-transparent mode, client source IPs will not be preserved"
NFT_TABLE = "rootlesskit"
# The iptables rules below in one nft table (inet: IPv4 and IPv6 alike). `fib saddr type != local`
# is `-m addrtype ! --src-type LOCAL`: the forwarder's sockets bound to a client's address.
_NFT_RULESET = (
    f"table inet {NFT_TABLE} {{ "
    f"chain output {{ type route hook output priority mangle; policy accept; "
    f"meta l4proto tcp fib saddr type != local ct mark set {MARK}; }}; "
    f"chain prerouting {{ type filter hook prerouting priority mangle; policy accept; "
    f"meta l4proto tcp ct mark {MARK} meta mark set {MARK}; }}; }}")
_IPTABLES_RULES = (["OUTPUT", "-p", "tcp", "-m", "addrtype", "!", "--src-type", "LOCAL",
                    "-j", "CONNMARK", "--set-mark", str(MARK)],
                   ["PREROUTING", "-p", "tcp", "-m", "connmark", "--mark", str(MARK),
                    "-j", "MARK", "--set-mark", str(MARK)])


def check_backend(value: str) -> None:
    """Refuse a --source-ip-transparent-backend value that is not one of BACKENDS (before anything starts)."""
    if value not in BACKENDS:
        raise RootlessKitError(f"unknown source IP transparent backend {go_quote(value)} "
                               f"(--source-ip-transparent-backend): expected one of {', '.join(BACKENDS)}")


def set_up_source_ip_routing(backend: str) -> str:
    """Marking by `backend` (auto, nft or iptables), policy routing and sysctls for transparent
    dials; returns the backend in use: nft, iptables, or none (after one warning saying why)."""
    failures: list[str] = []
    used = NONE
    for candidate in ((NFT, IPTABLES) if backend == AUTO else (backend,)):
        failure = _mark_with_nft() if candidate == NFT else _mark_with_iptables()
        if failure is None:
            used = candidate
            break
        failures.append(failure)
    if used == NONE:
        log.warn(f"{FALLBACK}: {'; '.join(failures)}")
        return NONE
    if failures:
        log.debug(f"port/builtin: source IP marking by {used}: {'; '.join(failures)}")
    _route_marked_locally()
    return used


def _mark_with_nft() -> str | None:
    """The nft table that marks the forwarder's connections; None, or why nft cannot."""
    try:
        nft = look_path("nft")
    except GoError as e:
        return str(e)
    error, output, _ = run(nft, ["nft", _NFT_RULESET], combined=True)
    return None if error is None else f"nft: {error}: {decode(output).strip()}"


def _mark_with_iptables() -> str | None:
    """The same marks by iptables (and ip6tables if present); None, or why iptables cannot."""
    try:
        iptables = look_path("iptables")
    except GoError as e:
        return str(e)
    error, output, _ = run(iptables, ["iptables", "-t", "mangle", "-L", "-n"], combined=True)
    if error is not None:
        return f"iptables: {error}: {decode(output).strip()}"
    for tool in ("iptables", "ip6tables"):
        try:
            path = iptables if tool == "iptables" else look_path(tool)
        except GoError:
            continue
        for rule in _IPTABLES_RULES:
            error, output, _ = run(path, [tool, "-t", "mangle", "-A", *rule], combined=True)
            if error is not None:
                log.debug(f"port/builtin: {tool} {' '.join(rule)}: {error}: {decode(output).strip()}")
    return None


def _route_marked_locally() -> None:
    """Marked packets look up a table that delivers everything locally: the replies to a client's
    address reach the forwarder's transparent socket."""
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
