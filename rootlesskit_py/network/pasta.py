"""`--net=pasta`: user-mode networking by pasta (passt), which configures the interface itself.

Which pastas run is host.network.Pasta's judgement (shared with the setup tool): upstream asks for
passt 2023_06_25 or later; Debian 12's build (2023_03_09) reports "unknown version" and, tried here,
configures the namespace but intermittently replays data on TCP connections to the host.

pasta runs in the foreground as rootlesskit's child, its messages on rootlesskit's stderr (so in the
unit's journal, as under Go RootlessKit 2.0.2, which passes no --quiet either). It is never signalled:
Debian's AppArmor profile for pasta denies signals from rootlesskit. It exits with its namespace:
the child's, which it checks every second, or, with --detach-netns, the $STATE/netns it watches,
which rootlesskit unlinks at stop.
"""

from __future__ import annotations

import _signal as signal
import os
import select

from rootlesskit_py import names
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.host.network import Pasta
from rootlesskit_py.messages import NetworkConfig
from rootlesskit_py.network import Options, detached_netns_path, look_up_binary
from rootlesskit_py.network.usermode import UserModeDriver
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import go_quote, strerror
from rootlesskit_py.util.proc import decode, exits_within, finish, fork_exec, spawn
from rootlesskit_py.util.signals import describe_status

_NEEDED_OPTIONS = ("--foreground", "--ns-ifname", "--mtu", "--config-net", "--address", "--netmask",
                   "--gateway", "--dns-forward", "--no-map-gw", "--ipv4-only", "--tcp-ports", "--udp-ports",
                   "--tcp-ns", "--udp-ns")
# how long stop waits for pasta to notice its namespace is gone (it looks every second) before it
# tries SIGKILL, which an AppArmor-confined pasta does not receive
_EXIT_GRACE_SECONDS = 5.0


def check_version(pasta: Pasta) -> None:
    """Refuse a pasta Pasta does not call usable (older than PASTA_MINIMUM, or no date in its version)."""
    if not pasta.usable:
        raise RootlessKitError(pasta.refusal())


class Driver(UserModeDriver):
    name = "pasta"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.host_lo_to_ns_lo = False
        self.log_to_stderr: list[str] = []
        self.state_dir = ""

    def validate(self) -> None:
        log.warn('"pasta" network driver is experimental. Needs very recent version of pasta (see docs/network.md).')
        self.binary = look_up_binary(self.options.binary)
        if self.options.port_driver not in ("none", "implicit", "pesto"):
            raise RootlessKitError('network "pasta" requires port driver "none", "implicit" or "pesto"')
        # the probes are independent: --help and the feature probe run while --version is judged; all
        # on a terminal, since a current pasta prints nothing (or 4 KiB of --help) into a pipe or file
        probes = [spawn(self.binary, argv, combined=True, tty=True)
                  for argv in ([self.binary, "--help"], [self.binary, "--host-lo-to-ns-lo", "--version"])]
        pasta = Pasta.probe(self.binary)
        (_, usage, _), (lo_err, _, _) = [finish(job) for job in probes]
        if pasta.error is not None:
            raise RootlessKitError(f'command "{self.binary} --version" failed, make sure pasta is installed: '
                                   f"{go_quote(pasta.output)}: {pasta.error}")
        check_version(pasta)
        usage_text = decode(usage)
        missing = [option for option in _NEEDED_OPTIONS if option not in usage_text]
        if missing:
            raise RootlessKitError(f"{self.binary} lacks {', '.join(missing)}: install passt 2023_06_25 or later")
        if self.options.port_driver == "pesto" and "--conf-path" not in usage_text:
            raise RootlessKitError(f"{self.binary} lacks --conf-path (the control socket pesto talks to), which "
                                   "--port-driver=pesto needs: install passt 2026_05_07 or later")
        self.host_lo_to_ns_lo = lo_err is None
        # older pastas log to syslog unless told; newer ones log to stderr and warn that --stderr goes away
        self.log_to_stderr = ["--stderr"] if "--stderr" in usage_text else []

    def command_line(self, child_pid: int, state_dir: str, config: NetworkConfig) -> list[str]:
        """pasta's arguments, in upstream's order, in the foreground (with --pid: pasta writes it once
        the namespace is configured, which is when setup_parent returns).

        --disable-host-loopback: --no-map-gw stops the gateway address reaching the host's loopback,
        and --tcp-ns=none/--udp-ns=none the other way there: by default pasta listens in the
        namespace's loopback on every port the host's loopback listens on and splices it across."""
        options = self.options
        argv = [self.binary, "--foreground", *self.log_to_stderr,
                f"--ns-ifname={self.ifname}", f"--mtu={self.mtu}", "--config-net",
                f"--address={config.ip}", f"--netmask={config.prefix}", f"--gateway={config.gateway}",
                f"--dns-forward={config.dns[0]}"]
        if options.disable_host_loopback:
            argv += ["--no-map-gw", "--tcp-ns=none", "--udp-ns=none"]
        if not options.ipv6:
            argv.append("--ipv4-only")
        ports = "auto" if options.port_driver == "implicit" else "none"
        argv += [f"--tcp-ports={ports}", f"--udp-ports={ports}"]
        if options.port_driver == "pesto":
            # ports come and go through this socket; connections from the host's loopback are left
            # to reach the namespace address (no --host-lo-to-ns-lo), the child IP pesto publishes to
            argv += ["-c", os.path.join(state_dir, names.STATE_PASTA_CONTROL)]
        elif self.host_lo_to_ns_lo:
            argv.append("--host-lo-to-ns-lo")
        argv.append(f"--pid={self._pid_file(state_dir)}")
        if options.detach_netns:
            return argv + [f"--userns=/proc/{child_pid}/ns/user", f"--netns={detached_netns_path(child_pid, state_dir)}"]
        return argv + [str(child_pid)]

    def setup_parent(self, child_pid: int, state_dir: str) -> NetworkConfig:
        config = self.config([])
        argv = self.command_line(child_pid, state_dir, config)
        log.debug(f"network/pasta: executing {argv}")
        self.state_dir = state_dir
        pid_file = self._pid_file(state_dir)
        try:
            self.pid = fork_exec(self.binary, argv, dict(os.environ), fds={1: 2})  # its stdout too: ours is the command's
        except OSError as e:
            raise RootlessKitError(f"failed to setup network pasta: executing {argv}: {strerror(e)}") from None
        while not _written(pid_file):
            reaped, status = os.waitpid(self.pid, os.WNOHANG)
            if reaped:
                self.pid = None
                raise RootlessKitError(f"failed to setup network pasta: pasta failed ({describe_status(status)}); "
                                       "its messages are above")
            select.select([], [], [], 0.002)
        return config

    def setup_child(self, config: NetworkConfig | None, state_dir: str, etc_copied_up: bool, detached: bool) -> None:
        from rootlesskit_py.network.namespace import configure_namespace  # the child's: loaded there

        configure_namespace(config, state_dir, etc_copied_up, detached, configure_device=False)

    @staticmethod
    def _pid_file(state_dir: str) -> str:
        return os.path.join(state_dir, ".pasta.pid")

    def kill_helper(self) -> None:
        """The command is gone: end pasta's namespace rather than signal it. With --detach-netns pasta
        watches $STATE/netns, whose bind mount lives only in the child's mount namespace: here it is
        a plain file, unlinked now. Otherwise the child's exit already ended it."""
        if self.pid and self.options.detach_netns and self.state_dir:
            try:
                os.unlink(os.path.join(self.state_dir, names.STATE_NETNS))
            except OSError:
                pass

    def cleanup(self) -> None:
        """Wait for pasta to leave with its namespace; SIGKILL only one that outstays the grace time."""
        if not self.pid:
            return
        self.kill_helper()
        if exits_within(self.pid, _EXIT_GRACE_SECONDS):
            os.waitpid(self.pid, 0)
            self.pid = None
            return
        log.warn(f"pasta (pid {self.pid}) did not exit with its namespace within {_EXIT_GRACE_SECONDS:g}s: killing it")
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError as e:
            log.warn(f"failed to kill pasta (pid {self.pid}): {strerror(e)}")
        self.pid = None


def _written(path: str) -> bool:
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False
