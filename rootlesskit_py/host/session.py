"""The user's login session: HOME, XDG_RUNTIME_DIR, the systemd user manager, linger, D-Bus."""

from __future__ import annotations

import os
import socket
import stat

from rootlesskit_py.host import ERROR, WARNING, Finding, read_text

LINGER_DIR = "/var/lib/systemd/linger"


def home_dir(home: str | None) -> list[Finding]:
    if not home or not os.path.isdir(home):
        return [Finding("home", ERROR, "HOME needs to be set",
                        "Docker keeps its data and configuration under it (~/.local/share/docker, ~/.config/docker).",
                        "export HOME=$(getent passwd $(id -un) | cut -d: -f6)", as_root=False)]
    if not os.access(home, os.W_OK):
        return [Finding("home", ERROR, "HOME needs to be writable",
                        "Docker keeps its data and configuration under it.", f"sudo chown $(id -un) {home}", as_root=False)]
    return []


def runtime_dir(value: str | None, uid: int, systemd: bool, home: str) -> list[Finding]:
    """XDG_RUNTIME_DIR holds docker.sock and rootlesskit's state: it must be the user's own, private,
    and not in /tmp (tmp cleaners delete the socket; other users can pre-create names there)."""
    fallback = os.path.join(home, ".docker/run")
    if not value:
        if systemd:
            return [Finding("xdg-runtime-dir", ERROR, "XDG_RUNTIME_DIR is not set.",
                            "systemd was detected, and the daemon's socket lives in the user's runtime directory.",
                            f"export XDG_RUNTIME_DIR=/run/user/{uid}", as_root=False)]
        return [Finding("xdg-runtime-dir", WARNING, "XDG_RUNTIME_DIR is not set.",
                        f"Without systemd, install uses {fallback}, which must be removed by hand on every logout.",
                        f"export XDG_RUNTIME_DIR={fallback}", as_root=False)]
    try:
        st = os.stat(value)
    except OSError as e:
        return [Finding("xdg-runtime-dir", ERROR, f"XDG_RUNTIME_DIR ({value}) does not exist ({e.strerror}).",
                        "The daemon's socket and rootlesskit's state directory are created in it.",
                        f"mkdir -m 700 -p {value}" if not systemd else f"loginctl enable-linger $(id -un)",
                        as_root=systemd)]
    if not stat.S_ISDIR(st.st_mode):
        return [Finding("xdg-runtime-dir", ERROR, f"XDG_RUNTIME_DIR ({value}) is not a directory.",
                        "The daemon's socket and rootlesskit's state directory are created in it.",
                        f"export XDG_RUNTIME_DIR=/run/user/{uid}", as_root=False)]
    findings = []
    if st.st_uid != uid or not os.access(value, os.W_OK):
        findings.append(Finding("xdg-runtime-dir", ERROR, f"XDG_RUNTIME_DIR ({value}) is not owned by and writable for uid {uid}.",
                                "It must be the user's own: the daemon creates its socket and state there.",
                                f"export XDG_RUNTIME_DIR=/run/user/{uid}", as_root=False))
    elif stat.S_IMODE(st.st_mode) != 0o700:
        findings.append(Finding("xdg-runtime-dir-mode", WARNING,
                                f"XDG_RUNTIME_DIR ({value}) has mode {stat.S_IMODE(st.st_mode):04o}, not 0700.",
                                "Other users could reach the daemon's socket and rootlesskit's API.",
                                f"chmod 0700 {value}", as_root=False))
    if os.path.realpath(value).startswith("/tmp/") or os.path.realpath(value) == "/tmp":
        findings.append(Finding("xdg-runtime-dir-tmp", WARNING, f"XDG_RUNTIME_DIR ({value}) is under /tmp.",
                                "Temporary-file cleaners remove the daemon's socket and state while it runs.",
                                f"mkdir -m 700 -p {fallback} && export XDG_RUNTIME_DIR={fallback}", as_root=False))
    return findings


def systemd_booted(root: str = "/") -> bool:
    """systemd is the init system (sd_booted's test)."""
    return os.path.isdir(os.path.join(root, "run/systemd/system"))


def came_through_su(environ: dict[str, str], uid: int, proc_self: str = "/proc/self", run_user: str = "/run/user") -> bool:
    """The shell was started by another user (su, sudo, runuser) rather than by a login: sudo says so,
    or the audit login uid is someone else's, or XDG_RUNTIME_DIR is another user's (su inside a
    session keeps the caller's; a root session opened without pam_loginuid leaves no login uid), or
    the user has a runtime directory from logind that this environment was never told about."""
    if "SUDO_USER" in environ:
        return True
    loginuid = (read_text(os.path.join(proc_self, "loginuid")) or "").strip()
    if loginuid.isdigit() and loginuid != "4294967295" and int(loginuid) != uid:
        return True
    xdg = environ.get("XDG_RUNTIME_DIR", "").rstrip("/")
    if os.path.dirname(xdg) == run_user and os.path.basename(xdg) != str(uid):
        return True
    return not xdg and os.path.isdir(os.path.join(run_user, str(uid)))


def user_manager(name: str, uid: int, user_systemd: bool, environ: dict[str, str],
                 root: str = "/", proc_self: str = "/proc/self") -> list[Finding]:
    """On a systemd host: is the user's systemd reachable (not when the shell came through su/sudo),
    does it survive logout (linger), and does the user bus that the unit requires exist and answer."""
    if not systemd_booted(root):
        return []
    findings = []
    if not user_systemd:
        how = ("This shell came through su or sudo, so it has no systemd user session."
               if came_through_su(environ, uid, proc_self) else "systemctl --user cannot reach the user's systemd.")
        findings.append(Finding(
            "systemd-user-session", WARNING, how,
            "The docker.service user unit cannot be installed from here; dockerd-rootless.sh would have to be started by hand.",
            f"machinectl shell {name}@\n# or log in over ssh as {name}", as_root=False))
    if not os.path.exists(os.path.join(root, LINGER_DIR.lstrip("/"), name)):
        findings.append(Finding("linger", WARNING, f"Lingering is off for {name}.",
                                "The user's systemd, and docker.service with it, stops at logout and starts only at login.",
                                f"loginctl enable-linger {name}"))
    units = [os.path.join(root, d, "dbus.socket") for d in ("usr/lib/systemd/user", "lib/systemd/user")]
    if not any(os.path.exists(u) for u in units):
        findings.append(Finding("dbus-user-session", ERROR, "The user D-Bus session (dbus.socket user unit) is missing.",
                                "docker.service requires dbus.socket, and dockerd's systemd cgroup driver talks to the user bus.",
                                "apt-get install -y dbus-user-session"))
    elif user_systemd:
        findings += user_bus(environ, root)
    return findings


def _bus_path(environ: dict[str, str]) -> str | None:
    """Where runc's systemd cgroup driver looks for the user bus: DBUS_SESSION_BUS_ADDRESS's unix path,
    else $XDG_RUNTIME_DIR/bus."""
    for part in environ.get("DBUS_SESSION_BUS_ADDRESS", "").split(";"):
        kind, _, params = part.partition(":")
        if kind == "unix":
            for param in params.split(","):
                key, _, value = param.partition("=")
                if key == "path":
                    return value
    runtime = environ.get("XDG_RUNTIME_DIR")
    return os.path.join(runtime, "bus") if runtime else None


def _answers(path: str) -> bool:
    """A listener accepts on the unix socket: a stopped dbus.socket leaves its file behind (systemd
    removes socket files only with RemoveOnStop=), so existing is not enough."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def _masked(unit: str, environ: dict[str, str], root: str) -> bool:
    """A user unit masked (a link to /dev/null) in any directory that overrides the packaged one."""
    config = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME", ""), ".config")
    dirs = [os.path.join(config, "systemd/user"), os.path.join(root, "etc/systemd/user"),
            os.path.join(root, "run/systemd/user")]
    if environ.get("XDG_RUNTIME_DIR"):
        dirs.append(os.path.join(environ["XDG_RUNTIME_DIR"], "systemd/user"))
    return any(os.path.realpath(os.path.join(d, unit)) == "/dev/null" for d in dirs)


def user_bus(environ: dict[str, str], root: str = "/") -> list[Finding]:
    """The user bus answers where dockerd and runc will look for it. With dbus.socket masked, docker.service
    (Requires=dbus.socket) cannot start at all; merely stopped, the unit starts it, but a daemon started by
    hand finds no bus for its systemd cgroup driver."""
    path = _bus_path(environ)
    if path is None or _answers(path):
        return []
    if _masked("dbus.socket", environ, root):
        return [Finding("dbus-user-bus", ERROR, f"The user D-Bus is masked: dbus.socket is linked to /dev/null, and nothing answers on {path}.",
                        "docker.service requires dbus.socket, so systemd refuses to start it (\"Unit dbus.socket is masked\").",
                        "systemctl --user unmask dbus.socket && systemctl --user start dbus.socket", as_root=False)]
    return [Finding("dbus-user-bus", WARNING, f"The user D-Bus is not running: nothing answers on {path}.",
                    "docker.service starts it (Requires=dbus.socket); dockerd-rootless.sh started by hand does not, and "
                    "then finds no bus for the systemd cgroup driver that creates the containers' cgroups.",
                    "systemctl --user start dbus.socket", as_root=False)]
