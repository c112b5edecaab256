"""Networking for rootless containers: the tun device, the user-mode network drivers, iptables in
the namespace, ping and low ports."""

from __future__ import annotations

import os

from rootlesskit_py import names
from rootlesskit_py.host import (ERROR, WARNING, Finding, file_capabilities, os_release, package_install, read_text,
                                 sysctl_fix, which)
from rootlesskit_py.util.gocompat import go_quote
from rootlesskit_py.util.proc import decode, finish, run, spawn

TUN = "/dev/net/tun"
PASTA_MINIMUM = "2023_06_25"  # what rootlesskit accepts (passt's releases are dated; the tag is 2023_06_25.32660ce)
PASTA_RECOMMENDED = "2023_12_04"
PASTA_FAST_MTU = 65520  # below it pasta is several times slower than slirp4netns (see pasta_mtu)
PASST_PACKAGE = {"apt-get": "passt", "dnf": "passt", "yum": "passt", "zypper": "passt", "apk": "passt"}
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


def _date_at(text: str, i: int) -> str | None:
    """The date starting at text[i] as YYYY_MM_DD: eight digits (20250503) or four, two and two joined
    by one separator used twice (2025_05_03, 2025.05.03, 2025-05-03); None when there is none there."""
    digits = "0123456789"

    def run_at(j: int) -> str:
        end = j
        while end < len(text) and text[end] in digits:
            end += 1
        return text[j:end]

    year = run_at(i)
    if len(year) == 8:
        year, month, day = year[:4], year[4:6], year[6:]
    elif len(year) == 4 and text[i + 4:i + 5] in ("_", ".", "-") and text[i + 4:i + 5]:
        sep = text[i + 4]
        month = run_at(i + 5)
        day = run_at(i + 8) if len(month) == 2 and text[i + 7:i + 8] == sep else ""
        if len(day) != 2:
            return None
    else:
        return None
    if not ("1970" <= year <= "2099" and "01" <= month <= "12" and "01" <= day <= "31"):
        return None
    return f"{year}_{month}_{day}"


def pasta_release(version_line: str) -> str | None:
    """The release date in the first line of `pasta --version`, in whichever form its packager wrote
    it: upstream's `pasta 2025_05_03.587980c`, Debian's and Ubuntu's package version (debian/rules
    builds with VERSION=$(DEB_VERSION)) `pasta 0.0~git20250503.587980c-2+deb13u1`, Fedora's
    `pasta 0^20250507.g1afd4ed-1.fc42`... -> 2025_05_03. passt has no other version number than the
    date of its snapshot. None when the line names no date: Debian 12's `pasta unknown version`."""
    words = version_line.split()
    text = " ".join(words[1:])  # not the program's own name
    for i, c in enumerate(text):
        if c.isdigit() and (i == 0 or not text[i - 1].isdigit()):
            date = _date_at(text, i)
            if date is not None:
                return date
    return None


def passt_upgrade(root: str = "/") -> str | None:
    """The command that installs a pasta rootlesskit runs on this host ("" when its package manager is
    unknown); None on Debian 12, which has none: bookworm's passt is 2023_03_09 and bookworm-backports
    carries no passt. Elsewhere the distribution's own package is new enough (Debian 13's 2025_05_03,
    Ubuntu 24.04's 2024_02_20, Fedora's)."""
    release = os_release(os.path.join(root, "etc"))
    if release.get("ID") == "debian" and release.get("VERSION_ID") == "12":
        return None
    return package_install(PASST_PACKAGE, root)


def pasta_fix(root: str = "/") -> str:
    """The setup tool's fix for a pasta rootlesskit refuses or warns about, for this host."""
    upgrade = passt_upgrade(root)
    if upgrade is None:
        return "# Debian 12 has no newer passt (bookworm-backports has none either): use slirp4netns\napt-get install -y slirp4netns"
    return upgrade or "# install passt with the package manager, or use slirp4netns"


class Pasta:
    """A pasta binary, judged by what its `--version` prints: the one judgement both rootlesskit's
    pasta driver and the setup tool's check use, so they accept and refuse the same pastas.
    `--version` runs on a terminal: a current pasta exits without flushing stdio, so into a pipe or
    a file it prints nothing."""

    __slots__ = ("path", "error", "output", "line", "release")

    def __init__(self, path: str, output: str, error: str | None = None) -> None:
        """`output`: what `path --version` printed; `error`: how it failed to run or exit 0."""
        self.path, self.error, self.output = path, error, output
        self.line = output.split("\n")[0].strip()
        self.release = pasta_release(self.line)

    _probed: dict[str, Pasta] = {}

    @classmethod
    def probe(cls, path: str) -> Pasta:
        """Run `path --version` once per process: the check judges the pasta on PATH, then may time it."""
        if path not in cls._probed:
            err, out, _ = run(path, [path, "--version"], combined=True, tty=True)
            cls._probed[path] = cls(path, decode(out), err)
        return cls._probed[path]

    @property
    def usable(self) -> bool:
        """rootlesskit runs it: it answers --version and is PASTA_MINIMUM or newer."""
        return self.error is None and self.release is not None and self.release >= PASTA_MINIMUM

    @property
    def recommended(self) -> bool:
        return self.usable and self.release >= PASTA_RECOMMENDED

    def refusal(self) -> str:
        """Why rootlesskit refuses it (when not `usable`), with what to do on this host."""
        return (f"pasta is too old or does not report its version ({go_quote(self.line)}): rootlesskit "
                f"needs passt {PASTA_MINIMUM}.32660ce or later ({PASTA_RECOMMENDED}.b86afe3 or later recommended); "
                f"Debian 12's passt 2023_03_09 loses TCP connections. {self._remedy()}")

    @staticmethod
    def _remedy() -> str:
        upgrade = passt_upgrade()
        if upgrade is None:
            return "Debian 12 has no newer passt: use --net=slirp4netns instead."
        return f"Install a newer passt ({upgrade or 'passt from the distribution'}) or use --net=slirp4netns instead."


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


def bundled_pasta(exe: str = "/proc/self/exe") -> str | None:
    """The static pasta shipped with this release (names.BUNDLED_DIR from the directory of the running
    executable, physically, as install.sh resolves it), or None: the .deb and the .rpm, and the Python
    package, have none."""
    try:
        program_dir = os.path.dirname(os.readlink(exe))
    except OSError:
        return None
    path = os.path.normpath(os.path.join(program_dir, *names.BUNDLED_DIR, names.BUNDLED_PASTA))
    return path if os.access(path, os.X_OK) else None


class NetworkChoice:
    """The network dockerd-rootless.sh runs when DOCKERD_ROOTLESS_ROOTLESSKIT_NET is unset: `driver`
    ("" when there is none), the helper's `binary`, `bundled` when that is the release's own pasta,
    `reason` (the setup tool shows it), and a slirp4netns on PATH skipped as older than v0.4.0."""

    __slots__ = ("driver", "binary", "bundled", "reason", "old_slirp4netns")

    def __init__(self, driver: str, binary: str | None, reason: str, bundled: bool = False,
                 old_slirp4netns: str | None = None) -> None:
        self.driver, self.binary, self.reason = driver, binary, reason
        self.bundled, self.old_slirp4netns = bundled, old_slirp4netns


def choose_network(path_dirs: list[str]) -> NetworkChoice:
    """Upstream's order: slirp4netns >= v0.4.0, then pasta, then vpnkit, found on PATH. Where upstream
    then falls back to gvisor-tap-vsock (linked into Go rootlesskit, which this rootlesskit cannot
    run), the pasta shipped with this release: a `curl | sh` user without root has no other."""
    old = None
    slirp = which("slirp4netns", path_dirs)
    if slirp:
        if slirp4netns_has_netns_type(slirp):
            return NetworkChoice("slirp4netns", slirp, "slirp4netns (>= v0.4.0) is installed, and comes first")
        old = slirp
    skipped = f"{old} is older than v0.4.0; " if old else ""
    for rank, name in enumerate(("pasta", "vpnkit")):
        path = which(name, path_dirs)
        if path:
            before = "no usable slirp4netns" if rank == 0 else "neither a usable slirp4netns nor pasta"
            return NetworkChoice(name, path, f"{skipped}{name} is installed, and {before} is", old_slirp4netns=old)
    bundled = bundled_pasta()
    if bundled:
        return NetworkChoice("pasta", bundled, f"{skipped}none of slirp4netns, pasta and vpnkit is installed, so the "
                             "pasta shipped with rootlesskit-py (where upstream falls back to gvisor-tap-vsock)",
                             bundled=True, old_slirp4netns=old)
    return NetworkChoice("", None, f"{skipped}none of slirp4netns (>= v0.4.0), pasta and vpnkit is installed",
                         old_slirp4netns=old)


def network_drivers(path_dirs: list[str], choice: NetworkChoice, net: str = "", mtu: int = 0) -> list[Finding]:
    """One usable user-mode network (choose_network's): slirp4netns >= 0.4 (it has --netns-type),
    pasta (recommended from 2023_12_04), vpnkit, or the release's pasta. Any pasta on PATH is judged:
    DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta would run it. And whether the one dockerd-rootless.sh will
    use (`net`, or the choice when empty) at `mtu` (0: its default) is much slower than another."""
    findings = []
    if choice.old_slirp4netns:
        findings.append(Finding("slirp4netns-old", WARNING, f"{choice.old_slirp4netns} is older than v0.4.0.",
                                "dockerd-rootless.sh skips it and looks for pasta or vpnkit.",
                                "apt-get install -y slirp4netns  # 0.4.0 or later"))
    pasta = which("pasta", path_dirs)
    if pasta:
        # dockerd-rootless.sh takes any pasta and rootlesskit the ones Pasta calls usable: one it refuses
        # is no driver when it is the one chosen; one before PASTA_RECOMMENDED is worth a warning
        judged = Pasta.probe(pasta)
        if not judged.recommended:
            what = (f"refused by rootlesskit ({judged.line or judged.error}): it is older than passt {PASTA_MINIMUM} "
                    "or does not report its release" if not judged.usable
                    else f"{judged.release}, older than {PASTA_RECOMMENDED}")
            findings.append(Finding("pasta-old", WARNING, f"{pasta} is {what}.",
                                    "Older pasta loses or replays TCP data.", pasta_fix()))
        if choice.binary == pasta and not judged.usable:
            findings.append(Finding("network-driver", ERROR, f"{pasta} is the network helper dockerd-rootless.sh "
                                    "would run, and rootlesskit refuses it.",
                                    "Containers would have no network.", "apt-get install -y slirp4netns"))
    if not choice.driver:
        findings.append(Finding("network-driver", ERROR,
                                "None of slirp4netns (>= v0.4.0), pasta (passt >= 2023_12_04) and vpnkit is installed.",
                                "Containers would have no network.", "apt-get install -y slirp4netns"))
    if (net or choice.driver) == "pasta":
        findings += pasta_mtu(mtu or PASTA_FAST_MTU, choice.driver == "slirp4netns")
    return findings


def pasta_mtu(mtu: int, slirp4netns_usable: bool) -> list[Finding]:
    """pasta below MTU 65520 is several times slower than slirp4netns at the same MTU: upstream's CI
    measured 0.24 against 1.69 Gbit/s at 1500 (rootlesskit#615), and bench/network.py measures the
    same here, in both directions (BENCHMARKS.md, issue 24). Both are measurements of pasta itself,
    not of a host, so the check says it without timing anything."""
    if mtu >= PASTA_FAST_MTU:
        return []
    fix = f"export {names.ENV_DR_MTU}={PASTA_FAST_MTU}"
    if slirp4netns_usable:
        fix += f"\n# or the stack that is faster at MTU {mtu}:\nexport {names.ENV_DR_NET}=slirp4netns"
    return [Finding("pasta-mtu", WARNING, f"pasta is configured with MTU {mtu} ({names.ENV_DR_MTU}).",
                    f"Below {PASTA_FAST_MTU} pasta is several times slower than slirp4netns, for containers' own "
                    "traffic (pulls, package downloads) as much as for published ports.", fix, as_root=False)]


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
