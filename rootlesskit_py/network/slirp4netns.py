"""`--net=slirp4netns`: user-mode networking by slirp4netns (v0.4.0 or later)."""

from __future__ import annotations

import errno
import os
import select

from rootlesskit_py import native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.messages import NetworkConfig
from rootlesskit_py.network import Options as CommonOptions, detached_netns_path, look_up_binary
from rootlesskit_py.network.usermode import UserModeDriver
from rootlesskit_py.util.gocompat import GoError, go_quote, look_path, strerror
from rootlesskit_py.util.proc import decode, fork_exec, run, start_early
from rootlesskit_py.util.signals import describe_status

_PR_GET_SECCOMP, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 21, 22, 2


def kernel_supports_seccomp() -> bool:
    """Both prctl calls are known to the kernel (EINVAL means seccomp is compiled out)."""
    for option, arg in ((_PR_GET_SECCOMP, 0), (_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER)):
        try:
            native.prctl(option, arg)
        except OSError as e:
            if e.errno == errno.EINVAL:
                return False
    return True


class Options(CommonOptions):
    """`sandbox` and `seccomp`: auto, true or false (validated by the driver, in upstream's order)."""

    def __init__(self, *, sandbox: str = "false", seccomp: str = "false", **common) -> None:
        super().__init__(**common)
        self.sandbox, self.seccomp = sandbox, seccomp


class Driver(UserModeDriver):
    name = "slirp4netns"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.sandbox = self.seccomp = False

    def start_probes(self) -> None:
        try:
            binary = look_path(self.options.binary)
        except GoError:
            return  # validate() says so
        start_early(binary, [binary, "--help"], combined=True)

    def validate(self) -> None:
        options = self.options
        self.binary = look_up_binary(options.binary)
        err, out, _ = run(self.binary, [self.binary, "--help"], combined=True)
        if err is not None:
            raise RootlessKitError(f'command "{self.binary} --help" failed, make sure slirp4netns v0.4.0+ is '
                                   f"installed: {go_quote(decode(out))}: {err}")
        text = decode(out)
        if "--netns-type" not in text:
            raise RootlessKitError("slirp4netns seems older than v0.4.0")
        for wanted, option in ((options.ipv6, "--enable-ipv6"), (options.cidr, "--cidr"),
                               (options.disable_host_loopback, "--disable-host-loopback")):
            if wanted and option not in text:
                raise RootlessKitError(f"this version of slirp4netns does not support {option}")
        sandbox_mode = self._mode("slirp4netns-sandbox", options.sandbox)
        seccomp_mode = self._mode("slirp4netns-seccomp", options.seccomp)
        if sandbox_mode == "true" and options.detach_netns:
            raise RootlessKitError("--slirp4netns-sandbox conflicts with --detach-netns "
                                   "(https://github.com/rootless-containers/slirp4netns/issues/317)")
        self.sandbox = self._feature(sandbox_mode, "--enable-sandbox" in text, "SupportsEnableSandbox",
                                     auto_allowed=not options.detach_netns)
        self.seccomp = self._feature(seccomp_mode, "--enable-seccomp" in text, "SupportsEnableSeccomp")
        if self.seccomp and not kernel_supports_seccomp():
            if seccomp_mode == "true":
                raise RootlessKitError("kernel doesn't support seccomp")
            self.seccomp = False

    @staticmethod
    def _mode(flag: str, value: str) -> str:
        mode = value or "false"
        if mode not in ("auto", "true", "false"):
            raise RootlessKitError(f"unsupported {flag} mode: {go_quote(value)}")
        return mode

    @staticmethod
    def _feature(mode: str, supported: bool, feature: str, auto_allowed: bool = True) -> bool:
        if mode == "true" and not supported:
            raise RootlessKitError(f"unsupported slirp4netns version: lacks {feature}")
        return mode == "true" or (mode == "auto" and supported and auto_allowed)

    def prepare_child(self) -> None:
        from rootlesskit_py.util.netlink import create_tap  # the child's: loaded there

        create_tap(self.ifname)

    def command_line(self, child_pid: int, state_dir: str) -> list[str]:
        """slirp4netns's arguments, in upstream's order."""
        options = self.options
        argv = [self.binary, "--mtu", str(self.mtu), "-r", "3"]
        if options.disable_host_loopback:
            argv.append("--disable-host-loopback")
        if options.cidr:
            argv += ["--cidr", options.cidr]
        if options.port_driver == "slirp4netns":
            argv += ["--api-socket", os.path.join(state_dir, ".s4nn.sock")]
        if self.sandbox:
            argv.append("--enable-sandbox")
        if self.seccomp:
            argv.append("--enable-seccomp")
        if options.ipv6:
            argv.append("--enable-ipv6")
        if options.detach_netns:
            return argv + [f"--userns-path=/proc/{child_pid}/ns/user", "--netns-type=path",
                           detached_netns_path(child_pid, state_dir), self.ifname]
        return argv + [str(child_pid), self.ifname]

    def setup_parent(self, child_pid: int, state_dir: str) -> NetworkConfig:
        argv = self.command_line(child_pid, state_dir)
        ready_r, ready_w = os.pipe()
        try:
            try:
                self.pid = fork_exec(self.binary, argv, dict(os.environ), fds={3: ready_w},
                                     quiet=not self.options.debug)
            except OSError as e:
                raise RootlessKitError(f"failed to setup network slirp4netns: executing {argv}: {strerror(e)}") from None
            os.close(ready_w)
            ready_w = -1
            self._wait_ready(ready_r, argv)
        finally:
            os.close(ready_r)
            if ready_w >= 0:
                os.close(ready_w)
        # slirp4netns answers IPv6 DNS on fd00::3 only
        return self.config(["fd00::3"] if self.options.ipv6 else [])

    def _wait_ready(self, ready_r: int, argv: list[str]) -> None:
        """slirp4netns writes to fd 3 once the tap is attached; notice its death instead of hanging."""
        while True:
            readable, _, _ = select.select([ready_r], [], [], 1.0)
            if readable and os.read(ready_r, 1):
                return
            reaped, status = os.waitpid(self.pid, 0 if readable else os.WNOHANG)
            if reaped:
                self.pid = None
                what = "slirp4netns killed by signal" if os.WIFSIGNALED(status) else "slirp4netns failed"
                raise RootlessKitError(f"failed to setup network slirp4netns: waiting for ready fd "
                                       f"({' '.join(argv)}): {what} ({describe_status(status)})")

    def setup_child(self, config: NetworkConfig | None, state_dir: str, etc_copied_up: bool, detached: bool) -> None:
        from rootlesskit_py.network.namespace import configure_namespace  # the child's: loaded there

        configure_namespace(config, state_dir, etc_copied_up, detached)

