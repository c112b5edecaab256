"""dockerd-rootless-setuptool.sh: check the host for rootless Docker, install or remove the systemd
user unit and the CLI context, enter the running daemon's namespaces.

Everything users and scripts parse stays as upstream prints it: the coloured `[INFO]`/`[WARNING]`/
`[ERROR]` tags (always coloured, even into a pipe), the `sudo sh -eux <<EOF` block between
`########## BEGIN/END ##########`, the unit file byte for byte, the context name and description.
What differs is the diagnosis: every problem rootless Docker's troubleshooting pages describe is
probed for real (iptables is tried inside a rootlesskit namespace instead of grepping
/proc/modules, which kernels with built-in modules do not have), each with the command that fixes
it, and only blocking problems fail.
"""

from __future__ import annotations

import os
import pwd
import sys
import time

from rootlesskit_py import names
from rootlesskit_py.host import ERROR, WARNING, Finding, which
from rootlesskit_py.host import cgroup, network, rootful, session, storage, subid, userns
from rootlesskit_py.util.proc import finish, spawn

# `check` is run by configuration tools in loops: json, socket and subprocess (a third of its
# start-up) are imported only by the commands and output modes that use them

PROGRAM = "dockerd-rootless-setuptool.sh"
DOCKERD_ROOTLESS_SH = "dockerd-rootless.sh"
SYSTEMD_UNIT = "docker.service"
CLI_CONTEXT = "rootless"
COMMON_PROBLEMS = "https://rootlesscontaine.rs/getting-started/common/"
# how long install waits for the started daemon to answer on its socket
DAEMON_WAIT = 60.0

USAGE = """Usage: {argv0} [OPTIONS] COMMAND

A setup tool for Rootless Docker (dockerd-rootless.sh).

Documentation: https://docs.docker.com/go/rootless/

Options:
  -f, --force                Ignore rootful Docker (/var/run/docker.sock)
      --skip-iptables        Ignore missing iptables
      --json                 With check: print the findings as JSON objects (id, level, message, fix)

Commands:
  check        Check prerequisites
  nsenter      Enter into RootlessKit namespaces (mostly for debugging)
  install      Install systemd unit (if systemd is available) and show how to manage the service
  uninstall    Uninstall systemd unit
"""

UNIT = """[Unit]
Description=Docker Application Container Engine (Rootless)
Documentation=https://docs.docker.com/go/rootless/
Requires=dbus.socket

[Service]
Environment=PATH={bin}:/sbin:/usr/sbin:{path}
ExecStart={bin}/dockerd-rootless.sh {flags}
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
Type=notify
NotifyAccess=all
KillMode=mixed

[Install]
WantedBy=default.target
"""


def _say(stream, colour: str, tag: str, msg: str) -> None:
    stream.write(f"\x1b[{colour}m\x1b[97m[{tag}]\x1b[49m\x1b[39m {msg}\n")
    stream.flush()


def info(msg: str = "") -> None:
    _say(sys.stdout, "104", "INFO", msg)


def warning(msg: str) -> None:
    _say(sys.stderr, "101", "WARNING", msg)


def error(msg: str) -> None:
    _say(sys.stderr, "101", "ERROR", msg)


def trace(argv: list[str]) -> int:
    """Run a command shown the way upstream's `set -x` shows it (`+ cmd` on stderr)."""
    import subprocess

    sys.stderr.write("+ " + " ".join(argv) + "\n")
    sys.stderr.flush()
    return subprocess.run(argv).returncode


class Abort(Exception):
    """Stop with exit status 1 after the messages already printed."""


class Setup:
    """The state upstream keeps in globals: options, the directory of the scripts, systemd or not."""

    def __init__(self, argv0: str, force: bool, skip_iptables: bool, as_json: bool) -> None:
        self.argv0 = argv0
        self.force = force
        self.skip_iptables = skip_iptables
        self.as_json = as_json
        self.uid = os.getuid()
        try:
            self.username = pwd.getpwuid(self.uid).pw_name
        except KeyError:
            self.username = os.environ.get("USER", str(self.uid))
        self.home = os.environ.get("HOME", "")
        self.cfg_dir = os.environ.get("XDG_CONFIG_HOME") or os.path.join(self.home, ".config")
        self.path_dirs = [d for d in os.environ.get("PATH", "").split(":") if d]
        self.bin = ""
        self.systemd = False
        self.flags = ""
        self.xdg_created = False
        self.network: network.NetworkChoice | None = None  # the stack dockerd-rootless.sh would pick (init)
        self.speeds: list = []  # the stacks check timed (host/netspeed.py's StackSpeed), if it had two

    # ---- init: the checks every command but nsenter starts with
    def fatal(self, finding: Finding) -> None:
        if self.as_json:
            import json

            print(json.dumps([finding.as_dict()], indent=2))
        else:
            error(finding.message)
        raise Abort

    def init(self, probe: bool = True, measure: bool = False) -> list[Finding]:
        """Upstream's fatal checks, in its order, then (with `probe`) every host finding, and (with
        `measure`) the network stacks' speeds (host/netspeed.py). Returns the findings; blocking ones
        have been reported and raise Abort."""
        if os.uname().sysname != "Linux":
            self.fatal(Finding("os", ERROR, f"Rootless Docker cannot be installed on {os.uname().sysname}"))
        if self.uid == 0:
            self.fatal(Finding("root", ERROR, "Refusing to install rootless Docker as the root user",
                               fix="# run this tool as the user who will run Docker", as_root=False))
        script = which(DOCKERD_ROOTLESS_SH, self.path_dirs)
        if script is None:
            self.fatal(Finding("dockerd-rootless-sh", ERROR, f"{DOCKERD_ROOTLESS_SH} needs to be present under $PATH",
                               fix="export PATH=/usr/bin:$PATH  # the directory holding dockerd-rootless.sh",
                               as_root=False))
        self.bin = os.path.dirname(script)
        systemctl = which("systemctl", self.path_dirs)
        self.systemd = systemctl is not None and finish(spawn(systemctl, [systemctl, "--user", "show-environment"],
                                                               combined=True))[0] is None
        for f in session.home_dir(self.home):
            self.fatal(f)
        rootful_findings = rootful.rootful_docker(dict(os.environ), self.force)
        for f in rootful_findings:
            if f.level == ERROR:
                self.fatal(f)
        self._runtime_dir()
        if not probe:
            return []
        # the namespace probe runs while the file probes read
        ns_probe = None
        # the one dockerd-rootless.sh will run
        rootlesskit = next(filter(None, (which(name, self.path_dirs) for name in names.ROOTLESSKIT_ON_PATH)), None)
        iptables = network.find_iptables(self.path_dirs)
        if rootlesskit and iptables and not self.skip_iptables:
            ns_probe = network.start_namespace_probe(rootlesskit, iptables)
        findings = self._findings(rootlesskit, iptables, ns_probe, rootful_findings)
        if measure and rootlesskit and not any(f.level == ERROR for f in findings):
            findings += self._network_speed(rootlesskit)
        self._report(findings)
        return findings

    def _runtime_dir(self) -> None:
        xdg = os.environ.get("XDG_RUNTIME_DIR", "")
        if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
            return
        if self.systemd:
            if not self.as_json:
                for line in (f'Aborting because systemd was detected but XDG_RUNTIME_DIR ("{xdg}") is not set, does not exist, or is not writable',
                             "Hint: this could happen if you changed users with 'su' or 'sudo'. To work around this:",
                             "- try again by first running with root privileges 'loginctl enable-linger <user>' where <user> is the unprivileged user and export XDG_RUNTIME_DIR to the value of RuntimePath as shown by 'loginctl show-user <user>'",
                             "- or simply log back in as the desired unprivileged user (ssh works for remote machines, machinectl shell works for local machines)"):
                    error(line)
                raise Abort
            self.fatal(session.runtime_dir(xdg, self.uid, True, self.home)[0])

    def _findings(self, rootlesskit: str | None, iptables: str | None, ns_probe: tuple[int, int, int] | str | None,
                  rootful_findings: list[Finding]) -> list[Finding]:
        env = os.environ
        findings: list[Finding] = []
        findings += subid.id_helpers(self.path_dirs)
        findings += subid.subid_ranges(self.username, self.uid)
        findings += userns.userns_sysctls()
        findings += userns.nested_map()
        real_rootlesskit = os.path.realpath(rootlesskit) if rootlesskit else None
        if real_rootlesskit:
            findings += userns.apparmor_userns(real_rootlesskit)
        findings += network.tun_device()
        # where systemd runs, a shell without the user's runtime directory is an error even when its systemctl --user
        # cannot reach the manager (a su shell): "without systemd" would be false there
        findings += session.runtime_dir(env.get("XDG_RUNTIME_DIR"), self.uid, self.systemd or session.systemd_booted(),
                                        self.home)
        findings += session.user_manager(self.username, self.uid, self.systemd, dict(env))
        findings += cgroup.delegation(self.uid)
        gids = sorted({os.getgid(), *os.getgroups()})
        findings += network.ping_range(gids)
        findings += network.unprivileged_ports(real_rootlesskit)
        findings += rootful_findings  # probed once, by init's fatal checks
        self.network = network.choose_network(self.path_dirs)
        mtu = env.get(names.ENV_DR_MTU, "")
        findings += network.network_drivers(self.path_dirs, self.network, env.get(names.ENV_DR_NET, ""),
                                            int(mtu) if mtu.isdigit() else 0)
        findings += storage.data_root_fs(storage.data_root(self.home, self.cfg_dir))
        if rootlesskit is None:
            findings.append(Finding("rootlesskit-missing", ERROR, "rootlesskit needs to be present under $PATH",
                                    "dockerd-rootless.sh starts dockerd inside it.",
                                    "export PATH=" + (self.bin or "/usr/bin") + ":$PATH", as_root=False))
        iptables_bad = False
        if ns_probe is not None:
            started, found = network.namespace_probe_result(ns_probe, rootlesskit, iptables)
            findings += found
            iptables_bad = bool(found) and started
            if not started:
                found_mod = network.iptables_modules(iptables, os.uname().release)
                iptables_bad = bool(found_mod)
                findings += found_mod
        elif iptables is None:
            iptables_bad = True
            if not self.skip_iptables:
                findings.append(network.iptables_broken("iptables is not installed."))
        elif self.skip_iptables and rootlesskit:
            # not probed, so that --skip-iptables costs no namespace; judge from the module lists
            iptables_bad = bool(network.iptables_modules(iptables, os.uname().release))
        if self.skip_iptables and iptables_bad:
            self.flags += " --iptables=false"
            findings = [f for f in findings if not f.id.startswith("iptables")]
        if self.force:
            findings = [Finding(f.id, WARNING, f.message, f.why, f.fix, f.as_root) if f.id == "rootlesskit-failed" else f
                        for f in findings]
        return findings

    def _network_speed(self, rootlesskit: str) -> list[Finding]:
        """Whether the stack dockerd-rootless.sh will run is much slower here than the other one: only
        `check` measures (about a second, with two stacks to time), not `install`. The figures are
        kept for _say_network."""
        from rootlesskit_py.host import netspeed

        stacks = netspeed.usable_stacks(self.path_dirs, self.network) if self.network else {}
        if len(stacks) < 2:
            return []  # nothing to compare: no namespace, no import of dockerd-rootless.sh's module
        from rootlesskit_py.docker.dockerd_rootless import mtu_for

        net = os.environ.get(names.ENV_DR_NET) or self.network.driver
        mtu = mtu_for(net, dict(os.environ))
        if not mtu.isdigit():
            return []
        self.speeds = netspeed.compare_stacks(rootlesskit, stacks, net, int(mtu))
        return netspeed.slower_stack(net, self.speeds)

    def _report(self, findings: list[Finding]) -> None:
        errors = [f for f in findings if f.level == ERROR]
        if self.as_json:
            import json

            print(json.dumps([f.as_dict() for f in findings], indent=2))
            if errors:
                raise Abort
            return
        for f in findings:
            if f.level == WARNING:
                warning(f.text())
                if f.fix:
                    sys.stderr.write(_fix_block(f.fix, f.as_root, f"{f.id}: to fix it, run") + "\n")
        if not errors:
            return
        for f in errors:
            error(f.text())
            if f.fix and not f.as_root:
                sys.stderr.write(f.fix + "\n")
        error("Missing system requirements. Run the following commands to")
        error("install the requirements and run this tool again.")
        if any(f.id.startswith("iptables") for f in errors):
            error("Alternatively iptables checks can be disabled with --skip-iptables .")
        lines = []
        for f in errors:
            if f.fix and f.as_root:
                lines.append(f"# {f.message}")
                lines += [line for line in f.fix.splitlines() if line.strip()]
        if lines:
            print("\n########## BEGIN ##########\nsudo sh -eux <<EOF\n" + "\n".join(lines)
                  + "\nEOF\n########## END ##########\n")
        raise Abort

    # ---- commands
    def _say_network(self) -> None:
        """Which user-mode network stack dockerd-rootless.sh will run, and why (not upstream's: its
        script picks one silently, and falls back to a stack linked into its rootlesskit)."""
        chosen = os.environ.get(names.ENV_DR_NET)
        if chosen:
            info(f"Network: {chosen}, as {names.ENV_DR_NET} says")
        elif self.network is not None and self.network.driver:
            info(f"Network: {self.network.driver} ({self.network.binary}): {self.network.reason}")
        if self.speeds:
            info("Network speed to the host, measured now: " + "; ".join(s.describe() for s in self.speeds))

    def check(self) -> None:
        self.init(measure=True)
        if not self.as_json:
            self._say_network()
            info("Requirements are satisfied")

    def install(self) -> None:
        findings = self.init()
        if not self.as_json:
            self._say_network()
        if any(f.id == "rootlesskit-failed" for f in findings):
            warning(f"RootlessKit failed, see the error messages and {COMMON_PROBLEMS} .")
        if not self.systemd and not os.environ.get("XDG_RUNTIME_DIR"):
            self._create_runtime_dir()
        if self.systemd:
            self._install_systemd()
        else:
            info(f"systemd not detected, {DOCKERD_ROOTLESS_SH} needs to be started manually:")
            print(f"\nPATH={self.bin}:/sbin:/usr/sbin:$PATH {DOCKERD_ROOTLESS_SH} {self.flags}\n")
        self._cli_context()
        xdg = os.environ["XDG_RUNTIME_DIR"]
        print()
        info("Make sure the following environment variable(s) are set (or add them to ~/.bashrc):")
        if self.xdg_created:
            print("# WARNING: systemd not found. You have to remove XDG_RUNTIME_DIR manually on every logout.")
            print(f"export XDG_RUNTIME_DIR={xdg}")
        print(f"export PATH={self.bin}:$PATH")
        print()
        info("Some applications may require the following environment variable too:")
        print(f"export DOCKER_HOST=unix://{xdg}/docker.sock")
        print()

    def _create_runtime_dir(self) -> None:
        xdg = os.path.join(self.home, ".docker/run")
        os.makedirs(xdg, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = xdg
        self.xdg_created = True

    def unit_path(self) -> str:
        return os.path.join(self.cfg_dir, "systemd/user", SYSTEMD_UNIT)

    def unit_text(self) -> str:
        return UNIT.format(bin=self.bin, path=os.environ.get("PATH", ""), flags=self.flags)

    def _install_systemd(self) -> None:
        unit = self.unit_path()
        os.makedirs(os.path.dirname(unit), exist_ok=True)
        if os.path.exists(unit):
            warning(f"File already exists, skipping: {unit}")
        else:
            info(f"Creating {unit}")
            with open(unit + ".tmp", "w") as f:
                f.write(self.unit_text())
            os.rename(unit + ".tmp", unit)
            trace(["systemctl", "--user", "daemon-reload"])
        info(f"starting systemd service {SYSTEMD_UNIT}")
        if trace(["systemctl", "--user", "enable", "--now", SYSTEMD_UNIT]) != 0:
            self._systemd_failed()
        sock = os.path.join(os.environ["XDG_RUNTIME_DIR"], "docker.sock")
        if not _wait_for_daemon(sock, DAEMON_WAIT):
            trace(["systemctl", "--user", "--no-pager", "--full", "status", SYSTEMD_UNIT])
            self._systemd_failed()
        if trace(["systemctl", "--user", "--no-pager", "--full", "status", SYSTEMD_UNIT]) != 0:
            self._systemd_failed()
        docker = which("docker", self.path_dirs)
        if docker:
            import subprocess

            subprocess.run([docker, "version"], env={**os.environ, "DOCKER_HOST": f"unix://{sock}"})
        info(f"Installed {SYSTEMD_UNIT} successfully.")
        info(f"To control {SYSTEMD_UNIT}, run: `systemctl --user (start|stop|restart) {SYSTEMD_UNIT}`")
        info(f"To run {SYSTEMD_UNIT} on system startup, run: `sudo loginctl enable-linger {self.username}`")
        print()

    def _systemd_failed(self) -> None:
        error(f"Failed to start {SYSTEMD_UNIT}. Run `journalctl -n 20 --no-pager --user --unit {SYSTEMD_UNIT}` to show the error log.")
        error(f"Before retrying installation, you might need to uninstall the current setup: `{self.argv0} uninstall -f ; "
              f"{self.bin}/rootlesskit rm -rf {self.home}/.local/share/docker`")
        import subprocess

        log = subprocess.run(["journalctl", "-q", "-n", "20", "--user", "--unit", SYSTEMD_UNIT],
                             capture_output=True, text=True).stdout
        if "/run/xtables.lock: Permission denied" in log:
            error("Failure likely related to https://github.com/moby/moby/issues/41230")
            error("This may work as a workaround: `sudo dnf install -y policycoreutils-python-utils && sudo semanage permissive -a iptables_t`")
        raise Abort

    def _docker_context(self, *args: str, quiet: bool = False) -> int:
        """The CLI found on PATH (not beside the scripts), with stdout dropped and stderr shown (dropped
        too for the existence test), as upstream."""
        import subprocess

        return subprocess.run([self.docker, "--context=default", "context", *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL if quiet else None).returncode

    def _cli_context(self) -> None:
        self.docker = which("docker", self.path_dirs)
        if self.docker is None:
            return
        if self._docker_context("inspect", "-f", "{{.Name}}", CLI_CONTEXT, quiet=True) == 0:
            info(f'CLI context "{CLI_CONTEXT}" already exists')
        else:
            info(f'Creating CLI context "{CLI_CONTEXT}"')
            sock = os.path.join(os.environ["XDG_RUNTIME_DIR"], "docker.sock")
            self._docker_context("create", CLI_CONTEXT, "--docker", f"host=unix://{sock}", "--description", "Rootless mode")
        info(f'Using CLI context "{CLI_CONTEXT}"')
        self._docker_context("use", CLI_CONTEXT)

    def uninstall(self) -> None:
        # only the fatal checks: missing requirements must not keep anyone from uninstalling
        self.init(probe=False)
        if self.systemd:
            trace(["systemctl", "--user", "stop", SYSTEMD_UNIT])
            trace(["systemctl", "--user", "disable", SYSTEMD_UNIT])
            try:
                os.unlink(self.unit_path())
            except FileNotFoundError:
                pass
            import subprocess

            subprocess.run(["systemctl", "--user", "daemon-reload"])  # not traced: upstream has no such step
            info(f"Uninstalled {SYSTEMD_UNIT}")
        else:
            info(f"systemd not detected, {DOCKERD_ROOTLESS_SH} needs to be stopped manually:")
        self.docker = which("docker", self.path_dirs)
        if self.docker is not None:
            if self._docker_context("inspect", "-f", "{{.Name}}", CLI_CONTEXT, quiet=True) == 0:
                self._docker_context("rm", "-f", CLI_CONTEXT)
                info(f'Deleted CLI context "{CLI_CONTEXT}"')
            os.environ.pop("DOCKER_HOST", None)
            os.environ.pop("DOCKER_CONTEXT", None)
            self._docker_context("use", "default")
            info('Configured CLI to use the "default" context.')
        info()
        info("Make sure to unset or update the environment PATH, DOCKER_HOST, and DOCKER_CONTEXT environment variables if you have added them to `~/.bashrc`.")
        info("This uninstallation tool does NOT remove Docker binaries and data.")
        info(f"To remove data, run: `{self.bin}/rootlesskit rm -rf {self.home}/.local/share/docker`")

    def nsenter(self, args: list[str]) -> int:
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if not xdg:
            error("XDG_RUNTIME_DIR needs to be set (the daemon's state is in $XDG_RUNTIME_DIR/dockerd-rootless)")
            return 1
        from rootlesskit_py.docker.dockerd_rootless import state_dir

        state = state_dir(dict(os.environ))
        try:
            with open(os.path.join(state, names.STATE_CHILD_PID)) as f:
                pid = f.read().strip()
        except OSError as e:
            error(f"Cannot read {os.path.join(state, names.STATE_CHILD_PID)} ({e.strerror}): is {DOCKERD_ROOTLESS_SH} running?")
            return 1
        # under --detach-netns the daemon runs in the host's network namespace: do not enter the child's
        net = [] if os.path.exists(os.path.join(state, names.STATE_NETNS)) else ["-n"]
        argv = ["nsenter", "--no-fork", f"--wd={os.getcwd()}", "--preserve-credentials", "-m", *net, "-U", "-t", pid, "--", *args]
        sys.stdout.flush()
        try:
            os.execvp("nsenter", argv)
        except OSError as e:
            error(f"Cannot run nsenter ({e.strerror}): apt-get install util-linux")
            return 1


def _wait_for_daemon(sock: str, timeout: float) -> bool:
    """Poll the daemon's socket until GET /_ping answers OK (instead of upstream's fixed sleep 3)."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(sock)
                s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                if s.recv(64).split(b"\r\n")[0].split(b" ")[1:2] == [b"200"]:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _fix_block(fix: str, as_root: bool, title: str) -> str:
    if not as_root:
        return fix
    return f"########## BEGIN {title} ##########\nsudo sh -eux <<EOF\n{fix}\nEOF\n########## END ##########"


LONG_OPTIONS = ("help", "force", "skip-iptables", "json")


class UsageError(Exception):
    pass


def parse_options(argv0: str, argv: list[str]) -> tuple[set[str], list[str]]:
    """GNU getopt as upstream calls it (`-o hf --long help,force,skip-iptables`, plus --json):
    options anywhere, short ones bundled, long ones abbreviated to any unique prefix, `--` ends
    them. Errors are worded as getopt words them. (The getopt module costs 10 ms of imports.)"""
    given: set[str] = set()
    args: list[str] = []
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            args += rest
            break
        if arg.startswith("--"):
            name, eq, _ = arg[2:].partition("=")
            matches = [o for o in LONG_OPTIONS if o.startswith(name)] if name not in LONG_OPTIONS else [name]
            if not matches:
                raise UsageError(f"{argv0}: unrecognized option '{arg}'")
            if len(matches) > 1:
                raise UsageError(f"{argv0}: option '{arg}' is ambiguous; possibilities:"
                                 + "".join(f" '--{m}'" for m in matches))
            if eq:
                raise UsageError(f"{argv0}: option '--{matches[0]}' doesn't allow an argument")
            given.add("--" + matches[0])
        elif arg.startswith("-") and arg != "-":
            for letter in arg[1:]:
                if letter not in "hf":
                    raise UsageError(f"{argv0}: invalid option -- '{letter}'")
                given.add({"h": "--help", "f": "--force"}[letter])
        else:
            args.append(arg)
    return given, args


def main(argv: list[str], argv0: str) -> int:
    try:
        given, args = parse_options(argv0, argv)
    except UsageError as e:
        sys.stderr.write(f"{e}\n")
        sys.stdout.write(USAGE.format(argv0=argv0))
        return 1
    if "--help" in given:
        sys.stdout.write(USAGE.format(argv0=argv0))
        return 0
    setup = Setup(argv0, "--force" in given, "--skip-iptables" in given, "--json" in given)
    if not args:
        error(f"No command was specified. Run with --help to see the usage. Maybe you want to run `{argv0} install`?")
        return 1
    command, rest = args[0], args[1:]
    try:
        if command == "check":
            setup.check()
        elif command == "install":
            setup.install()
        elif command == "uninstall":
            setup.uninstall()
        elif command == "nsenter":
            return setup.nsenter(rest)
        else:
            error(f"Unknown command: {command}. Run with --help to see the usage.")
            return 1
    except Abort:
        return 1
    return 0
