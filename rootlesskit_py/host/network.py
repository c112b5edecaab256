"""Networking for rootless containers: the tun device, the user-mode network drivers, iptables in
the namespace, ping and low ports."""

from __future__ import annotations

import os

from rootlesskit_py.host import ERROR, WARNING, Finding, file_capabilities, package_install, read_text, sysctl_fix, which
from rootlesskit_py.util.proc import decode, finish, run, spawn

TUN = "/dev/net/tun"
PASTA_MINIMUM = "2023_06_25"  # what rootlesskit accepts (passt's releases are dated; the tag is 2023_06_25.32660ce)
PASTA_RECOMMENDED = "2023_12_04"
IPTABLES_DIRS = ["/sbin", "/usr/sbin"]
IPTABLES_PACKAGE = {"apt-get": "iptables", "dnf": "iptables", "yum": "iptables", "zypper": "iptables", "apk": "iptables"}
# what the probe runs as rootlesskit's command: dockerd needs the nat and the filter table, in a network
# namespace of its own (unshare -n: every rootlesskit version has --net=host, not all have --net=none)
_PROBE_SCRIPT = ('echo rootlesskit-ok; unshare -n "$0" -w -t nat -n -L >/dev/null && '
                 'exec unshare -n "$0" -w -t filter -n -L >/dev/null')
PROBE_MARKER = "rootlesskit-ok"


def tun_device(path: str = TUN) -> list[Finding]:
    """slirp4netns, pasta and vpnkit all give the namespace its interface through a tap device."""
    if not os.path.exists(path):
        return [Finding("tun-missing", ERROR, f"{path} does not exist.",
                        "The network drivers (slirp4netns, pasta, vpnkit) create the namespace's interface with it.",
                        f"mkdir -p {os.path.dirname(path)}\nmknod {path} c 10 200\nchmod 0666 {path}")]
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        return [Finding("tun-access", ERROR, f"{path} cannot be opened by this user ({e.strerror}).",
                        "The network drivers (slirp4netns, pasta, vpnkit) create the namespace's interface with it.",
                        f"chmod 0666 {path}")]
    return []


def pasta_release(version_line: str) -> str | None:
    """The release date passt prints (`pasta 2023_12_04.b86afe3` -> 2023_12_04), also as Debian's
    build prints its package version (`pasta 0.0~git20261002.cba3570-1` -> 2026_10_02); None for
    unversioned builds."""
    for word in version_line.split():
        if word[:4].isdigit() and word[4:5] == "_":
            return word.split(".")[0]
        day = word.partition("~git")[2][:8]
        if len(day) == 8 and day.isdigit():
            return f"{day[:4]}_{day[4:6]}_{day[6:]}"
    return None


def _version_output(argv: list[str]) -> str:
    return decode(run(argv[0], argv, combined=False)[1])


def slirp4netns_has_netns_type(slirp4netns: str) -> bool:
    """slirp4netns v0.4.0 or later: its help has the word --netns-type (`--help | grep -qw`, as the
    scripts test it: stdout only)."""
    return _contains_word(_version_output([slirp4netns, "--help"]), "--netns-type")


def _contains_word(text: str, word: str) -> bool:
    """`grep -w`: `word` not preceded or followed by a letter, digit or underscore."""
    start = text.find(word)
    while start >= 0:
        before = text[start - 1] if start else " "
        end = start + len(word)
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
            return True
        start = text.find(word, start + 1)
    return False


def network_drivers(path_dirs: list[str]) -> list[Finding]:
    """One usable user-mode network: slirp4netns >= 0.4 (it has --netns-type), pasta (recommended
    from 2023_12_04), or vpnkit."""
    slirp, pasta, vpnkit = (which(name, path_dirs) for name in ("slirp4netns", "pasta", "vpnkit"))
    findings = []
    slirp_ok = slirp is not None and slirp4netns_has_netns_type(slirp)
    if slirp and not slirp_ok:
        findings.append(Finding("slirp4netns-old", WARNING, f"{slirp} is older than v0.4.0.",
                                "dockerd-rootless.sh skips it and looks for pasta or vpnkit.",
                                "apt-get install -y slirp4netns  # 0.4.0 or later"))
    pasta_ok = False
    if pasta:
        # on a terminal, as rootlesskit's pasta driver reads it: a current pasta prints nothing into a file
        release = pasta_release(decode(run(pasta, [pasta, "--version"], combined=True, tty=True)[1]).split("\n")[0])
        # dockerd-rootless.sh takes any pasta and rootlesskit one from PASTA_MINIMUM on: only an older
        # one counts as no driver; one before PASTA_RECOMMENDED is worth a warning
        pasta_ok = release is not None and release >= PASTA_MINIMUM
        if release is None or release < PASTA_RECOMMENDED:
            findings.append(Finding("pasta-old", WARNING,
                                    f"{pasta} is {'unversioned' if release is None else release}, older than {PASTA_RECOMMENDED}.",
                                    f"Older pasta loses or replays TCP data; rootlesskit refuses passt before {PASTA_MINIMUM}.",
                                    "apt-get install -y -t bookworm-backports passt  # or use slirp4netns"))
    if not (slirp_ok or pasta_ok or vpnkit):
        findings.append(Finding("network-driver", ERROR,
                                "None of slirp4netns (>= v0.4.0), pasta (passt >= 2023_12_04) and vpnkit is installed.",
                                "Containers would have no network.", "apt-get install -y slirp4netns"))
    return findings


def ping_range(gids: list[int], proc_sys: str = "/proc/sys") -> list[Finding]:
    """Containers ping with ICMP sockets, which the kernel allows only to the gids in the range."""
    text = read_text(os.path.join(proc_sys, "net/ipv4/ping_group_range"))
    if text is None or len(text.split()) != 2:
        return []
    low, high = (int(v) for v in text.split())
    if any(low <= g <= high for g in gids):
        return []
    return [Finding("ping-group-range", WARNING,
                    f"net.ipv4.ping_group_range ({low} {high}) excludes the user's groups ({' '.join(map(str, gids))}).",
                    "ping does not work in rootless containers.",
                    sysctl_fix("net.ipv4.ping_group_range", "0 2147483647", "99-rootless-ping.conf"))]


def unprivileged_ports(rootlesskit: str | None, proc_sys: str = "/proc/sys") -> list[Finding]:
    """Ports below ip_unprivileged_port_start cannot be published unless rootlesskit holds
    cap_net_bind_service (the parent binds the host side)."""
    text = read_text(os.path.join(proc_sys, "net/ipv4/ip_unprivileged_port_start"))
    if text is None or not text.strip().isdigit() or int(text) == 0:
        return []
    start = int(text)
    if rootlesskit and "cap_net_bind_service" in file_capabilities(rootlesskit):
        return []
    fix = sysctl_fix("net.ipv4.ip_unprivileged_port_start", "0", "99-rootless-ports.conf")
    if rootlesskit:
        fix += f"\n# or, for rootlesskit alone:\nsetcap cap_net_bind_service=ep {rootlesskit}"
    return [Finding("unprivileged-port-start", WARNING,
                    f"net.ipv4.ip_unprivileged_port_start is {start}.",
                    f"Ports below {start} (e.g. docker run -p 80:80) cannot be published.", fix)]


def find_iptables(path_dirs: list[str]) -> str | None:
    return which("iptables", path_dirs + IPTABLES_DIRS)


def start_namespace_probe(rootlesskit: str, iptables: str) -> tuple[int, int, int] | str:
    """Start rootlesskit the way dockerd-rootless.sh does (/etc and /run copied up, so that
    /run/xtables.lock is the namespace's own) and list the nat and filter tables in a new network
    namespace inside: this is what dockerd will do first. It runs while the
    other probes read their files."""
    return spawn(rootlesskit, [rootlesskit, "--copy-up=/etc", "--copy-up=/run", "/bin/sh", "-c", _PROBE_SCRIPT, iptables],
                 combined=False)


def namespace_probe_result(probe: tuple[int, int, int] | str, rootlesskit: str, iptables: str) -> tuple[bool, list[Finding]]:
    """(did rootlesskit itself start, findings). When rootlesskit failed, iptables is not judged here."""
    failed, out_b, err_b = finish(probe)
    out, err = decode(out_b), decode(err_b) or (failed or "")
    if PROBE_MARKER not in out:
        return False, [Finding("rootlesskit-failed", ERROR, f"{rootlesskit} cannot start: {err.strip()[-400:]}",
                               "RootlessKit failed, see the error messages and "
                               "https://rootlesscontaine.rs/getting-started/common/ . Set --force to ignore.")]
    if failed is None:
        return True, []
    return True, [iptables_broken(f"{iptables} fails inside a rootlesskit namespace: {err.strip()[-400:]}")]


def iptables_broken(message: str) -> Finding:
    return Finding("iptables", ERROR, message,
                   "dockerd sets up container networking (NAT, published ports, isolation) with iptables.",
                   "# either make iptables work in the namespace:\n"
                   f"{package_install(IPTABLES_PACKAGE) or '# install iptables with the package manager'}\n"
                   "# or run without it: no NAT between networks, no isolation between them, ports only via rootlesskit:\n"
                   "#   run this tool with --skip-iptables (ExecStart gets --iptables=false), or add\n"
                   '#   "iptables": false to ~/.config/docker/daemon.json')


def iptables_modules(iptables: str | None, release: str, proc: str = "/proc", lib_modules: str = "/lib/modules") -> list[Finding]:
    """Only when the namespace probe cannot run: the kernel module iptables needs, from the module
    lists. A kernel with the module built in and no /proc/modules says nothing either way."""
    if iptables is None:
        return [iptables_broken("iptables is not installed.")]
    version = _version_output([iptables, "--version"])
    module = "ip_tables" if "legacy" in version else "nf_tables"
    loaded = read_text(os.path.join(proc, "modules"))
    builtin = read_text(os.path.join(lib_modules, release, "modules.builtin"))
    if loaded is None and builtin is None:
        return []
    names = {line.split()[0] for line in (loaded or "").splitlines() if line.split()}
    names |= {os.path.basename(line).split(".")[0] for line in (builtin or "").splitlines()}
    if module in names:
        return []
    return [Finding("iptables-module", ERROR, f"The kernel module {module} is neither loaded nor built in.",
                    "iptables cannot work without it.", f"modprobe {module}")]
