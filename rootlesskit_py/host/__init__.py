"""Facts about the machine that decide whether rootless containers work, each with its fix.

Both rootlesskit's preflight hints and the setup tool's `check` ask these probes, so a user sees the
same diagnosis, worded the same way, whichever program found it. Probes that only read files take
the directory they read (`/proc/sys`, `/etc`, ...) as a parameter: conditions this machine cannot
have (cgroup v2 delegation, AppArmor's user-namespace restriction) are then tested on a prepared
tree, the others for real.
"""

from __future__ import annotations

import os

from rootlesskit_py.util.gocompat import GoError, look_path
from rootlesskit_py.util.proc import decode, run

ERROR = "error"      # blocking: rootless Docker will not start, or not usefully
WARNING = "warning"  # it starts, but something documented will not work


class Finding:
    """One problem: `message` says what is wrong (rootlesskit's own warnings print it alone), `why`
    why it matters, `fix` is the exact command (one per line) with the user's names filled in;
    `as_root` says whether it needs root (the setup tool prints those inside a `sudo sh` block).
    A plain class: dataclasses imports inspect, a tenth of the setup tool's start-up."""

    __slots__ = ("id", "level", "message", "why", "fix", "as_root")

    def __init__(self, id: str, level: str, message: str, why: str = "", fix: str = "", as_root: bool = True) -> None:
        self.id, self.level, self.message, self.why, self.fix, self.as_root = id, level, message, why, fix, as_root

    def __repr__(self) -> str:
        return f"Finding({self.id!r}, {self.level!r}, {self.text()!r})"

    def text(self) -> str:
        return f"{self.message} {self.why}".strip()

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "level": self.level, "message": self.text(), "fix": self.fix}


def read_text(path: str) -> str | None:
    """The file's content, or None when it cannot be read (absent, no permission)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def read_int(path: str) -> tuple[int | None, str | None]:
    """(value, raw text): value None when the file is absent (raw None) or not an integer."""
    raw = read_text(path)
    if raw is None:
        return None, None
    try:
        return int(raw.strip()), raw
    except ValueError:
        return None, raw


def sysctl_fix(name: str, value: str, conf: str) -> str:
    """The persistent sysctl recipe upstream's setup tool prints (a file in /etc/sysctl.d, then reload)."""
    return f"cat <<EOT > /etc/sysctl.d/{conf}\n{name} = {value}\nEOT\nsysctl --system"


def package_install(package: dict[str, str], root: str = "/") -> str:
    """The install command with the distribution's package manager ("" when none is known)."""
    for manager in ("apt-get", "dnf", "yum", "zypper", "apk"):
        if manager in package and any(os.access(os.path.join(root, d, manager), os.X_OK)
                                      for d in ("usr/bin", "bin", "usr/sbin", "sbin")):
            verb = "add" if manager == "apk" else "install -y"
            return f"{manager} {verb} {package[manager]}"
    return ""


def os_release(etc: str = "/etc") -> dict[str, str]:
    """os-release(5) as a dict (ID, VERSION_ID, ...): /etc/os-release, else /usr/lib/os-release, as
    systemd reads it; empty when neither exists. The fix hints name the host's own distribution."""
    text = read_text(os.path.join(etc, "os-release"))
    if text is None:
        text = read_text(os.path.join(os.path.dirname(etc.rstrip("/")) or "/", "usr/lib/os-release")) or ""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            fields[key] = value.strip().strip("\"'")
    return fields


_CAP_BITS = {"cap_setgid": 6, "cap_setuid": 7, "cap_net_bind_service": 10}


def file_capabilities(path: str) -> set[str]:
    """The permitted file capabilities of `path` among those the probes care about (setuid, setgid,
    net_bind_service). From the security.capability attribute; the static build's os module has no
    getxattr, so there `getcap` answers (no getcap: none known)."""
    getxattr = getattr(os, "getxattr", None)
    if getxattr is not None:
        try:
            raw = getxattr(path, "security.capability")
        except OSError:
            return set()
        permitted = int.from_bytes(raw[4:8], "little") if len(raw) >= 8 else 0
        return {name for name, bit in _CAP_BITS.items() if permitted & (1 << bit)}
    getcap = which("getcap", ["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    if getcap is None:
        return set()
    err, out, _ = run(getcap, [getcap, path], combined=False)
    words = decode(out).replace(",", " ").replace("=", " ").replace("+", " ").split()
    return set(words) & set(_CAP_BITS) if err is None else set()


def is_this_executable(path: str) -> bool:
    """Whether exec'ing `path` would start the very file this process runs (the multi-call
    executable under another of its names), not another program of the same name."""
    try:
        return os.path.samestat(os.stat(path), os.stat("/proc/self/exe"))
    except OSError:
        return False


def exec_changes_security_context(sys_dir: str = "/sys") -> bool:
    """Whether a security module that picks a process's profile or domain at exec is active: AppArmor
    (by the path exec'd: Ubuntu's rootlesskit profile grants `userns`) or SELinux (by the file's
    label). Then only an exec of the installed file gets what was set up for it."""
    enabled = read_text(os.path.join(sys_dir, "module/apparmor/parameters/enabled"))
    return (enabled or "").strip() == "Y" or os.path.exists(os.path.join(sys_dir, "fs/selinux/enforce"))


def which(name: str, path_dirs: list[str]) -> str | None:
    """The shell's `command -v`: the first executable `name` in `path_dirs`, or None. The same search
    as the one rootlesskit runs its helpers by (Go's LookPath), so both programs find the same file."""
    try:
        return look_path(name, ":".join(path_dirs))
    except GoError:
        return None
