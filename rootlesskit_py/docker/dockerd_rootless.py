"""dockerd-rootless.sh: start dockerd inside rootlesskit's namespaces, as moby's newest script does.

It runs twice, like upstream's shell script. The *parent* phase (no `_DOCKERD_ROOTLESS_CHILD` in
the environment) checks the environment, picks the network and port drivers and execs the
`rootlesskit` found on PATH with this program as the command, so that a `setcap` or an AppArmor
profile on that file applies. When that file is this very executable and the exec could give
nothing this process lacks (no file capabilities, no AppArmor or SELinux), rootlesskit runs in
this process instead: the same program with the same argv and environment, without a second
interpreter start (about 12 ms, a fifth of the wrapper's whole cost).

The *child* phase runs inside the namespaces: it gives the copied-up /run its own docker,
containerd and xtables entries, works around a symlinked /etc/ssl, turns on IP forwarding in the
right network namespace and execs dockerd, which keeps the child's pid (signals and sd_notify from
systemd go straight to it).

Users read the `+ ...` lines of upstream's `set -x` trace in their journal, and scripts grep the
`echo`ed messages on stdout, so both are kept; the steps done in-process are traced as the
command they stand for.
"""

from __future__ import annotations

import os
import sys

from rootlesskit_py import host, names
from rootlesskit_py.util.gocompat import strerror

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    # path -> a function that runs that executable's program (argv, env) in this process, or None
    Runner = Callable[[str], "Callable[[list[str], dict[str, str]], None] | None"]

PROGRAM = "dockerd-rootless.sh"
SETUPTOOL = "dockerd-rootless-setuptool.sh"
# network drivers whose default MTU is 65520 (a user-mode stack: bigger frames, fewer syscalls)
_BIG_MTU_DRIVERS = ("slirp4netns", "pasta", "gvisor-tap-vsock")
# dockerd understands --detach-netns (runs its helpers through nsenter) from this version on
DETACH_NETNS_SINCE = (29, 5)


class Exit(Exception):
    """End the program with `code`, after printing `message` (stdout, as the script's echo)."""

    def __init__(self, message: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def main(argv: list[str], env: dict[str, str], self_command: list[str],
         same_file_runner: Runner | None = None) -> int:
    """Run one phase; `self_command` runs this program again (upstream's `$0`); `same_file_runner`
    (cli's) offers to run the rootlesskit on PATH in this process when it is this executable."""
    try:
        if env.get(names.ENV_DR_CHILD):
            child_phase(argv, env)
        else:
            parent_phase(argv, env, self_command, same_file_runner)
    except Exit as e:
        if e.message:
            sys.stdout.write(e.message + "\n")
        return e.code
    return 0  # not reached: both phases end in exec


def trace(argv: list[str]) -> None:
    """One line of `set -x`: `+ cmd args`, each word quoted as a POSIX shell would need it."""
    sys.stderr.write("+ " + " ".join(shell_quote(word) for word in argv) + "\n")
    sys.stderr.flush()


def shell_quote(word: str) -> str:
    if word and all(c.isalnum() or c in "@%+=:,./-_" for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def which(name: str, env: dict[str, str]) -> str | None:
    """`command -v NAME` on the PATH of `env`."""
    return host.which(name, env.get("PATH", "").split(":"))


# ---- parent phase ----------------------------------------------------------------------------


def parent_phase(argv: list[str], env: dict[str, str], self_command: list[str],
                 same_file_runner: Runner | None = None) -> None:
    check_environment(argv, env)
    rootlesskit = find_rootlesskit(env)
    check_containerd_conflict(env)
    net = network_driver(env)
    pasta_binary = bundled_pasta_for(net, env)
    if os.geteuid() == 0:
        raise Exit("This script must be executed as a non-privileged user")
    child_env = dict(env)
    child_env[names.ENV_DR_CHILD] = "1"
    if _selinux_enabled(env):
        child_env[names.ENV_DR_SELINUX] = "1"
    bypass = bypass4netns_applies(env, argv, rootlesskit)  # its switch is checked before anything is written
    detach = detach_netns(env)
    script = [script_path(self_command[0], env), *self_command[1:]]
    command = rootlesskit_command(env, os.path.basename(rootlesskit), net, detach, script, argv, pasta_binary,
                                  bypass)
    trace(["exec", *command])
    run_here = same_file_runner(rootlesskit) if same_file_runner is not None else None
    if run_here is not None:
        if not host.exec_changes_security_context():
            sys.stdout.flush()
            run_here(command, child_env)  # does not return
    _exec(rootlesskit, command, child_env)


def check_environment(argv: list[str], env: dict[str, str]) -> None:
    """The checks upstream runs first, in its order: the setup-tool typo, XDG_RUNTIME_DIR, HOME."""
    if argv and argv[0] in ("check", "install", "uninstall"):
        raise Exit(f"Did you mean '{SETUPTOOL} {' '.join(argv)}' ?")
    runtime_dir = env.get("XDG_RUNTIME_DIR", "")
    if not runtime_dir or not os.access(runtime_dir, os.W_OK):
        raise Exit("XDG_RUNTIME_DIR needs to be set and writable")
    home = env.get("HOME", "")
    if not home or not os.path.isdir(home):
        raise Exit("HOME needs to be set and exist.")


def find_rootlesskit(env: dict[str, str]) -> str:
    for name in names.ROOTLESSKIT_ON_PATH:
        path = which(name, env)
        if path:
            return path
    raise Exit("rootlesskit needs to be installed")


def check_containerd_conflict(env: dict[str, str]) -> None:
    """A containerd-rootless.sh instance (nerdctl) would share $XDG_RUNTIME_DIR's containerd paths."""
    state = env.get(names.ENV_CONTAINERD_STATE_DIR) or os.path.join(env["XDG_RUNTIME_DIR"], "containerd-rootless")
    if os.path.lexists(state):
        raise Exit(f"{PROGRAM} conflicts with containerd-rootless.sh. Stop containerd-rootless.sh if it's running, "
                   f"and remove {state} if it still exists.")


def network_driver(env: dict[str, str]) -> str:
    """`..._NET`, or the first user-mode network stack installed (slirp4netns >= 0.4, pasta, vpnkit),
    else the pasta shipped with the release (host.network.choose_network)."""
    net = env.get(names.ENV_DR_NET, "")
    if not net:
        net = _detect_network(env)
    if net == "host":
        raise Exit(f"Unsupported RootlessKit network driver: {net}")
    return net


def _detect_network(env: dict[str, str]) -> str:
    from rootlesskit_py.host.network import choose_network

    choice = choose_network(env.get("PATH", "").split(":"))
    if choice.old_slirp4netns:
        sys.stdout.write("slirp4netns found but seems older than v0.4.0. Checking for other network drivers.\n")
    if not choice.driver:
        # upstream falls back to gvisor-tap-vsock, which RootlessKit 3 links in; this rootlesskit cannot,
        # and this installation has no pasta of its own (a .deb, an .rpm, the Python package)
        raise Exit("One of slirp4netns (>= v0.4.0), pasta (passt >= 2023_12_04), or vpnkit needs to be installed")
    return choice.driver


def bundled_pasta_for(net: str, env: dict[str, str]) -> str | None:
    """The release's pasta, for rootlesskit's --pasta-binary, when pasta is the network and none is on
    PATH (chosen as the fallback, or by ..._NET=pasta); None otherwise: rootlesskit then runs the
    `pasta` on PATH, as upstream's."""
    if net != "pasta" or which("pasta", env):
        return None
    from rootlesskit_py.host.network import bundled_pasta

    return bundled_pasta()


def _selinux_enabled(env: dict[str, str]) -> bool:
    """Asked in the parent: `selinuxenabled` always fails inside the namespaces."""
    path = which("selinuxenabled", env)
    if not path:
        return False
    from rootlesskit_py.util.proc import run

    err, _, _ = run(path, [path], combined=True)
    return err is None


def detach_netns(env: dict[str, str]) -> bool:
    """`..._DETACH_NETNS`: 1/true or 0/false; unset or empty means "if this dockerd understands it".

    Upstream's newest script defaults to true, which only dockerd >= 29.5 can use (it must run its
    proxy and iptables through nsenter); older engines would lose their port forwarding.
    """
    value = env.get(names.ENV_DR_DETACH_NETNS, "")
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    if value:
        raise Exit(f"Unknown {names.ENV_DR_DETACH_NETNS} value: {value}")
    return dockerd_version(env) >= DETACH_NETNS_SINCE


def bypass4netns_applies(env: dict[str, str], dockerd_argv: list[str], rootlesskit: str) -> bool:
    """DOCKERD_ROOTLESS_BYPASS4NETNS=1 (our extension) and nothing on this host stands in the way.
    When something does, the daemon's log says why, once, and the daemon starts without the mode.
    `rootlesskit` is the one on PATH, which must be this program (Go's has no --bypass4netns)."""
    from rootlesskit_py.docker import bypass4netns

    try:
        if not bypass4netns.requested(env):
            return False
    except bypass4netns.InvalidValue as e:
        raise Exit(str(e)) from None
    runc = which("runc", env)
    runc_text = None
    if runc:
        from rootlesskit_py.util.proc import decode, run

        _, out, _ = run(runc, [runc, "--version"], combined=False)
        runc_text = decode(out)
    reason = bypass4netns.reason_not_applied(env, dockerd_argv, dockerd_version(env), runc_text, os.uname().release)
    if reason is None and not host.is_this_executable(rootlesskit):
        reason = f"the rootlesskit on PATH ({rootlesskit}) is not rootlesskit-py's, which serves it"
    if reason:
        sys.stderr.write(f"[{PROGRAM}] bypass4netns is not enabled: {reason}. "
                         "Containers use the normal network stack.\n")
        return False
    sys.stderr.write(f"[{PROGRAM}] bypass4netns is enabled: containers' outbound TCP connections use host "
                     "sockets, except in containers run with --privileged, --security-opt seccomp=unconfined or "
                     "their own seccomp profile, which use the normal network stack.\n")
    return True


def dockerd_version(env: dict[str, str]) -> tuple[int, int]:
    """(major, minor) of `$DOCKERD`, or (0, 0) if it cannot be told.

    `dockerd --version` costs 45-50 ms (an 80 MB Go program), a tenth of the daemon's whole start,
    so the answer is kept in $XDG_RUNTIME_DIR (a per-user tmpfs, gone at logout) keyed by the
    file's identity, size and mtime: it is asked again only when the binary changes."""
    path = which(env.get(names.ENV_DOCKERD) or "dockerd", env)
    if not path:
        return (0, 0)
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    key = f"{path} {st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}"
    cache = os.path.join(env["XDG_RUNTIME_DIR"], names.DOCKERD_VERSION_CACHE)
    try:
        with open(cache) as f:
            cached_key, _, version = f.read().rstrip("\n").rpartition(" ")
        if cached_key == key:
            major, minor = version.split(".")
            return (int(major), int(minor))
    except (OSError, ValueError):
        pass
    from rootlesskit_py.util.proc import decode, run

    err, out, _ = run(path, [path, "--version"], combined=False)
    found = parse_docker_version(decode(out))
    if err is not None:  # not cached: a failed probe would otherwise stand until the binary changes
        return found
    try:
        with open(cache + ".tmp", "w") as f:
            f.write(f"{key} {found[0]}.{found[1]}\n")
        os.rename(cache + ".tmp", cache)
    except OSError:
        pass  # a read-only runtime dir only costs the probe next time
    return found


def parse_docker_version(text: str) -> tuple[int, int]:
    """(major, minor) of "Docker version 28.5.2+dfsg4, build ...", or (0, 0)."""
    words = text.split()
    if len(words) < 3 or words[:2] != ["Docker", "version"]:
        return (0, 0)
    parts = words[2].rstrip(",").split(".")
    try:
        return (int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0))
    except (IndexError, ValueError):
        return (0, 0)


def state_dir(env: dict[str, str]) -> str:
    """rootlesskit's state directory for this daemon (child_pid, api.sock, netns): the setup tool's
    nsenter finds the running instance there too."""
    return env.get(names.ENV_DR_STATE_DIR) or os.path.join(env["XDG_RUNTIME_DIR"], names.DOCKERD_ROOTLESS_STATE)


def mtu_for(net: str, env: dict[str, str]) -> str:
    """The --mtu the script gives rootlesskit for `net`: the variable's, or the driver's default."""
    return env.get(names.ENV_DR_MTU) or ("65520" if net in _BIG_MTU_DRIVERS else "1500")


def rootlesskit_command(env: dict[str, str], rootlesskit: str, net: str, detach: bool, script: list[str],
                        argv: list[str], pasta_binary: str | None, bypass4netns: bool = False) -> list[str]:
    """rootlesskit's command line, in upstream's order: the user's extra flags come last, so they win.
    `pasta_binary` (the release's pasta, bundled_pasta_for) and our --bypass4netns come after
    upstream's flags, before those."""
    state = state_dir(env)
    mtu = mtu_for(net, env)
    port_driver = env.get(names.ENV_DR_PORT_DRIVER) or ("implicit" if net == "pasta" else "builtin")
    command = [rootlesskit, f"--state-dir={state}", f"--net={net}", f"--mtu={mtu}",
               f"--slirp4netns-sandbox={env.get(names.ENV_DR_SLIRP4NETNS_SANDBOX) or 'auto'}",
               f"--slirp4netns-seccomp={env.get(names.ENV_DR_SLIRP4NETNS_SECCOMP) or 'auto'}"]
    if env.get(names.ENV_DR_DISABLE_HOST_LOOPBACK, "") != "false":
        command.append("--disable-host-loopback")
    command += [f"--port-driver={port_driver}", "--copy-up=/etc", "--copy-up=/run", "--propagation=rslave"]
    if detach:
        command.append("--detach-netns")
    if pasta_binary:
        command.append(f"--pasta-binary={pasta_binary}")
    if bypass4netns:
        command.append("--bypass4netns")
    command += split_unquoted(env.get(names.ENV_DR_FLAGS, ""))
    return command + [*script, *argv]


def split_unquoted(value: str) -> list[str]:
    """What an unquoted `$VAR` becomes in sh: fields split on blanks, then each one glob-expanded
    (a pattern that matches nothing stays as written). Docs rely on it: `-p 0.0.0.0:2376:2376/tcp`."""
    words = value.split()
    if not any(c in word for word in words for c in "*?["):
        return words
    import glob

    expanded: list[str] = []
    for word in words:
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        expanded += matches or [word]
    return expanded


def script_path(self_path: str, env: dict[str, str]) -> str:
    """The path rootlesskit runs in the child phase: `$0` as a shell gets it, i.e. the PATH entry
    the program was found under when it was started by bare name."""
    if "/" in self_path:
        return self_path
    return which(self_path, env) or self_path


def _exec(path: str, argv: list[str], env: dict[str, str]) -> None:
    sys.stdout.flush()
    try:
        os.execve(path, argv, env)
    except OSError as e:
        sys.stderr.write(f"{PROGRAM}: exec: {argv[0]}: {strerror(e)}\n")
        raise Exit(code=126 if os.path.exists(path) else 127) from None


# ---- child phase -----------------------------------------------------------------------------


def child_phase(argv: list[str], env: dict[str, str]) -> None:
    marker = env.get(names.ENV_DR_CHILD, "")
    if marker != "1":
        trace(["[", marker, "=", "1", "]"])
        raise Exit()
    rootlesskit_state = env.get(names.ENV_STATE_DIR, "")
    if not rootlesskit_state:
        sys.stderr.write(f"{PROGRAM}: {names.ENV_STATE_DIR} is not set: this phase runs under rootlesskit only\n")
        raise Exit()
    remove_run_entries()
    if env.get(names.ENV_DR_SELINUX):
        _run_or_exit(["chcon", "system_u:object_r:iptables_var_run_t:s0", "/run"], env)
    bind_real_etc_ssl()
    netns = os.path.join(rootlesskit_state, names.STATE_NETNS)
    enable_forwarding(netns if os.path.exists(netns) else None)
    dockerd = env.get(names.ENV_DOCKERD) or "dockerd"
    path = which(dockerd, env)
    if path is None:
        sys.stderr.write(f"{PROGRAM}: exec: {dockerd}: not found\n")
        raise Exit(code=127)
    from rootlesskit_py.docker.bypass4netns import write_profile

    profile = write_profile(rootlesskit_state)
    if profile:  # rootlesskit serves bypass4netns: dockerd's containers get the profile that uses it
        argv = [f"--seccomp-profile={profile}", *argv]
    trace(["exec", dockerd, *argv])
    _exec(path, [dockerd, *argv], env)


def remove_run_entries() -> None:
    """Under --copy-up=/run these are symlinks to the host's: dockerd needs its own."""
    entries = ["/run/docker", "/run/containerd", "/run/xtables.lock"]
    trace(["rm", "-f", *entries])
    for entry in entries:
        try:
            os.unlink(entry)
        except FileNotFoundError:
            pass
        except OSError as e:
            sys.stderr.write(f"rm: cannot remove '{entry}': {strerror(e).capitalize()}\n")
            raise Exit() from None


def bind_real_etc_ssl() -> None:
    """A copied-up /etc holds symlinks, and Go's TLS code (and some distros' CA bundles) do not
    follow a symlinked /etc/ssl ("x509: certificate signed by unknown authority"): put the real
    directory there with a recursive bind mount."""
    if not os.path.islink("/etc/ssl"):
        return
    from rootlesskit_py.host.storage import fs_type

    if fs_type("/etc")[0] != "tmpfs":
        return
    from rootlesskit_py import native

    real = os.path.realpath("/etc/ssl")
    if not os.path.isdir(real):
        return
    trace(["rm", "-f", "/etc/ssl"])
    os.unlink("/etc/ssl")
    trace(["mkdir", "-p", "/etc/ssl"])
    os.makedirs("/etc/ssl", exist_ok=True)
    trace(["mount", "--rbind", real, "/etc/ssl"])
    try:
        native.mount(real, "/etc/ssl", None, native.MS_BIND | native.MS_REC)
    except OSError as e:
        sys.stderr.write(f"mount: /etc/ssl: {strerror(e)}\n")
        raise Exit() from None


_FORWARDING = (("net.ipv4.ip_forward", True), ("net.ipv6.conf.all.forwarding", False))


def enable_forwarding(netns: str | None) -> None:
    """Forwarding on, in the namespace dockerd's bridge lives in: dockerd's nftables firewall
    backend does not do it itself. IPv4 is required, IPv6 best effort (a kernel may lack it)."""
    if netns is None:
        for key, required in _FORWARDING:
            _write_sysctl(key, required)
        return
    # another network namespace: only a process of its own can enter it (setns is per thread)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            from rootlesskit_py import native

            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            native.setns(fd, native.CLONE_NEWNET)
            for key, required in _FORWARDING:
                _write_sysctl(key, required)
        except Exit as e:
            code = e.code
        except OSError as e:
            sys.stderr.write(f"nsenter: {netns}: {strerror(e)}\n")
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise Exit()


def _write_sysctl(key: str, required: bool) -> None:
    trace(["sysctl", "-w", f"{key}=1"])
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path, "w") as f:
            f.write("1")
    except OSError as e:
        if not required:
            return
        import errno

        # procps sysctl's wording for the same failures
        if e.errno in (errno.EPERM, errno.EACCES):
            sys.stderr.write(f'sysctl: permission denied on key "{key}"\n')
        elif e.errno == errno.ENOENT:
            sys.stderr.write(f"sysctl: cannot stat {path}: {strerror(e).capitalize()}\n")
        else:
            sys.stderr.write(f'sysctl: setting key "{key}": {strerror(e).capitalize()}\n')
        if e.errno != errno.EROFS:
            raise Exit() from None
        # a runtime that mounts /proc/sys read-only (systemd's container set-ups, some CI sandboxes):
        # the scripts before moby 29 never wrote it there, and dockerd's iptables backend turns
        # forwarding on itself, so go on, saying what is lost
        sys.stderr.write(f"{PROGRAM}: /proc/sys is read-only here, so {key} stays as it is: dockerd's iptables "
                         "backend enables forwarding itself; with --firewall-backend=nftables containers get no "
                         "outbound network\n")
        return
    sys.stdout.write(f"{key} = 1\n")


def _run_or_exit(argv: list[str], env: dict[str, str]) -> None:
    """A helper step whose failure ends the script (upstream's `set -e`)."""
    trace(argv)
    path = which(argv[0], env)
    if path is None:
        sys.stderr.write(f"{PROGRAM}: {argv[0]}: not found\n")
        raise Exit(code=127)
    from rootlesskit_py.util.proc import decode, run

    err, out, _ = run(path, argv, combined=True)
    sys.stderr.write(decode(out))
    if err is not None:
        raise Exit()
