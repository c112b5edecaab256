"""`--net=pasta`: user-mode networking by pasta (passt), which configures the interface itself.

Upstream asks for passt 2023_06_25 or later. Debian 12's build (2023_03_09) reports "unknown
version" and, tried here, configures the namespace but intermittently replays data on TCP
connections to the host: it is refused with the minimum named, like any older or unversioned pasta.
"""

from __future__ import annotations

import _signal as signal
import os

from rootlesskit_py import names
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.host.network import PASTA_MINIMUM, pasta_release
from rootlesskit_py.messages import NetworkConfig
from rootlesskit_py.network import Options, detached_netns_path, look_up_binary
from rootlesskit_py.network.usermode import UserModeDriver
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import go_quote
from rootlesskit_py.util.proc import decode, finish, run, spawn

_NEEDED_OPTIONS = ("--ns-ifname", "--mtu", "--config-net", "--address", "--netmask", "--gateway",
                   "--dns-forward", "--no-map-gw", "--ipv4-only", "--tcp-ports", "--udp-ports")


def check_version(version_line: str) -> None:
    """Refuse a pasta older than PASTA_MINIMUM, or one that does not say which it is."""
    release = pasta_release(version_line)
    if release is None or release < PASTA_MINIMUM:
        raise RootlessKitError(
            f"pasta is too old or does not report its version ({go_quote(version_line.strip())}): rootlesskit "
            f"needs passt {PASTA_MINIMUM}.32660ce or later (2023_12_04.b86afe3 or later recommended); Debian "
            "12's passt 2023_03_09 loses TCP connections. Use --net=slirp4netns instead.")


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
        # the three probes are independent: run them at once, judge them in upstream's order; on a
        # terminal, since a current pasta prints nothing (or 4 KiB of --help) into a pipe or file
        probes = [[self.binary, "--version"], [self.binary, "--help"], [self.binary, "--host-lo-to-ns-lo", "--version"]]
        (err, out, _), (_, usage, _), (lo_err, _, _) = [finish(job) for job in
                                                        [spawn(self.binary, argv, combined=True, tty=True) for argv in probes]]
        if err is not None:
            raise RootlessKitError(f'command "{self.binary} --version" failed, make sure pasta is installed: '
                                   f"{go_quote(decode(out))}: {err}")
        check_version(decode(out).split("\n")[0])
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
        """pasta's arguments, in upstream's order, plus --pid: upstream relies on pasta exiting with the
        namespace, which Debian 12's does not; with its pid we stop it ourselves."""
        options = self.options
        argv = [self.binary, *self.log_to_stderr, f"--ns-ifname={self.ifname}", f"--mtu={self.mtu}", "--config-net",
                f"--address={config.ip}", f"--netmask={config.prefix}", f"--gateway={config.gateway}",
                f"--dns-forward={config.dns[0]}"]
        if options.disable_host_loopback:
            argv.append("--no-map-gw")
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
        err, out, _ = run(self.binary, argv, combined=True)  # pasta daemonizes once the namespace is set up
        if err is not None:
            code = err.rpartition(" ")[2]
            raise RootlessKitError(f"failed to setup network pasta: pasta failed with exit code {code}:\n"
                                   f"{decode(out)}")
        return config

    def setup_child(self, config: NetworkConfig | None, state_dir: str, etc_copied_up: bool, detached: bool) -> None:
        from rootlesskit_py.network.namespace import configure_namespace  # the child's: loaded there

        configure_namespace(config, state_dir, etc_copied_up, detached, configure_device=False)

    @staticmethod
    def _pid_file(state_dir: str) -> str:
        return os.path.join(state_dir, ".pasta.pid")

    def cleanup(self) -> None:
        """Stop the daemonized pasta (not our child: it detached itself)."""
        if not self.state_dir:
            return
        try:
            with open(self._pid_file(self.state_dir)) as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass  # never started, or already gone with the namespace
