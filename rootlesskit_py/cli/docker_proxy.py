"""`rootlesskit-docker-proxy`: the userland proxy Docker 20.10-27 runs in rootless mode.

dockerd starts it inside RootlessKit's namespaces in place of `docker-proxy`, with docker-proxy's
flags and a pipe at fd 3 on which it expects `0\\n` (ready) or `1\\n<error>`. We publish the host
side through the API, then hand over to the real docker-proxy, which listens on the child side and
writes the `0\\n` itself. SIGINT (dockerd's way to stop a proxy) removes the port again.

The compiled executable does the usual start and the wait in C before any Python runs
(native/docker_proxy.h); this module runs for the rest (errors, unusual flags, the Python entry
point), and its messages are the only ones the proxy gives.
"""

from __future__ import annotations

import os
import sys
import time

from rootlesskit_py import names
from rootlesskit_py.cli import COMPILED
from rootlesskit_py.util import flags, helptext, log
from rootlesskit_py.util.flags import Flag

REAL_PROXY = "docker-proxy"
FLAGS = [
    Flag("container-ip", "string", "", "container ip"),
    Flag("container-port", "int", -1, "container port"),
    Flag("host-ip", "string", "", "host ip"),
    Flag("host-port", "int", -1, "host port"),
    Flag("proto", "string", "tcp", "proxy protocol"),
]
_READY_FD = 3


class _Failure(Exception):
    pass


class _Unsupported(Exception):
    """The port driver lacks the protocol: warn, report ready, and do nothing (as upstream)."""


def main(argv: list[str]) -> int:
    log.configure("")
    phase = os.environ.pop(names.ENV_PROXY_PHASE, "").split()
    if len(phase) == 2 and phase[0] == "remove" and phase[1].isdigit():  # back from the wait in C
        try:
            _remove_port(_client(), int(phase[1]))
        except _Failure as e:
            log.warn(f"error while calling PortManager.RemovePort(): {e}")
        return 0
    prog = sys.argv[0] if sys.argv else "rootlesskit-docker-proxy"
    try:
        opts, _ = flags.parse(FLAGS, argv)
    except flags.FlagHelp:
        sys.stderr.write(helptext.render_go_usage(prog, FLAGS))
        return 0
    except flags.FlagError as e:
        sys.stderr.write(f"{e}\n{helptext.render_go_usage(prog, FLAGS)}")
        return 2
    try:
        return _run(opts, argv)
    except _Failure as e:
        _tell_dockerd(f"1\n{e}")
        sys.stderr.write(time.strftime("%Y/%m/%d %H:%M:%S ") + f"{e}\n")  # Go's log.Fatal
        return 1


def _tell_dockerd(text: str) -> None:
    try:
        os.write(_READY_FD, text.encode())
    except OSError:
        pass


def is_ipv6(text: str) -> bool:
    """Go's `ParseIP(s) != nil && To4() == nil`: an IPv6 address that is not v4-mapped."""
    from rootlesskit_py.port.spec import is_go_ip

    return ":" in text and is_go_ip(text) and not (text.lower().startswith("::ffff:") and "." in text)


def _client():
    from rootlesskit_py.api.client import ApiError, Client

    state_dir = os.environ.get(names.ENV_STATE_DIR, "")
    if not state_dir:
        raise _Failure("$ROOTLESSKIT_STATE_DIR needs to be set")
    try:
        return Client(os.path.join(state_dir, names.STATE_API_SOCK))
    except ApiError as e:
        raise _Failure(f"error while connecting to RootlessKit API socket: {e}") from None


def _remove_port(client, port_id: int) -> None:
    from rootlesskit_py.api.client import ApiError

    try:
        client.remove_port(port_id)
    except ApiError as e:
        log.warn(f"error while calling PortManager.RemovePort(): {e}")


def _run(opts: dict, argv: list[str]) -> int:
    from rootlesskit_py.api.client import ApiError

    client = _client()
    try:
        info = client.info()
    except ApiError as e:
        raise _Failure("failed to call info API, probably RootlessKit binary is too old "
                       f"(needs to be v0.14.0 or later): {e}") from None
    port_driver = info.get("portDriver") or {}
    if port_driver.get("driver", "none") in ("none", "implicit"):
        _exec_real_proxy(argv)
    host_ip, host_port, proto = opts["host-ip"], opts["host-port"], opts["proto"]
    child_ip = "::1" if is_ipv6(host_ip) else "127.0.0.1"
    if port_driver.get("disallowLoopbackChildIP"):
        network = info.get("networkDriver") or {}
        if not network.get("childIP"):
            raise _Failure(f'port driver ("{port_driver.get("driver", "")}") does not allow loopback child IP, '
                           f'but network driver ("{network.get("driver", "")}") has no non-loopback IP')
        child_ip = network["childIP"]
    try:
        port_id = _publish(client, port_driver, host_ip, host_port, proto, child_ip)
    except _Unsupported as e:
        log.warn(str(e))
        _tell_dockerd("0\n")
        return 0
    try:
        return _proxy_until_sigint(opts, child_ip, port_id)
    finally:
        _remove_port(client, port_id)


def _publish(client, port_driver: dict, host_ip: str, host_port: int, proto: str, child_ip: str) -> int:
    from rootlesskit_py.api.client import ApiError
    from rootlesskit_py.api.schema import PortSpec, reencode_port_status

    api_proto = proto if proto.endswith(("4", "6")) else proto + ("6" if is_ipv6(host_ip) else "4")
    if api_proto not in (port_driver.get("protos") or []):
        address = f"[{host_ip}]:{host_port}" if ":" in host_ip else f"{host_ip}:{host_port}"
        raise _Unsupported(f'protocol "{api_proto}" is not supported by the RootlessKit port driver '
                           f'"{port_driver.get("driver", "")}", discarding request for "{address}"')
    try:
        status = client.add_port(PortSpec(api_proto, host_ip, host_port, host_port, child_ip))
    except ApiError as e:
        raise _Failure(f"error while calling PortManager.AddPort(): {e}") from None
    return reencode_port_status(status)["id"]


def _exec_real_proxy(argv: list[str]) -> None:
    from rootlesskit_py.util.gocompat import GoError, look_path

    try:
        path = look_path(REAL_PROXY)
    except GoError as e:
        raise _Failure(str(e)) from None
    sys.stdout.flush()
    os.execv(path, [REAL_PROXY, *argv])


def _proxy_until_sigint(opts: dict, child_ip: str, port_id: int) -> int:
    """Run the real docker-proxy on the child side (it reports readiness on fd 3), wait for SIGINT,
    kill it. Other signals keep their default action, as upstream. The compiled executable waits
    without its interpreter (native/docker_proxy.h), and comes back only to remove the port."""
    import _signal

    from rootlesskit_py.util.gocompat import GoError, look_path, strerror
    from rootlesskit_py.util.proc import fork_exec

    argv = [REAL_PROXY, "-container-ip", opts["container-ip"], "-container-port", str(opts["container-port"]),
            "-host-ip", child_ip, "-host-port", str(opts["host-port"]), "-proto", opts["proto"]]
    _signal.pthread_sigmask(_signal.SIG_BLOCK, [_signal.SIGINT])
    try:
        path = look_path(REAL_PROXY)
        pid = fork_exec(path, argv, dict(os.environ), keep_fds=[_READY_FD] if _fd_open(_READY_FD) else [])
    except (GoError, OSError) as e:
        text = str(e) if isinstance(e, GoError) else f"fork/exec {path}: {strerror(e)}"
        raise _Failure(f"error while starting {REAL_PROXY}: {text}") from None
    if COMPILED:
        env = {**os.environ, names.ENV_PROXY_PHASE: f"wait {pid} {port_id}"}
        try:
            with open("/proc/self/cmdline", "rb") as f:  # the argv dockerd gave, argv[0] included
                original = f.read().split(b"\0")[:-1]
            os.execve("/proc/self/exe", original, env)
        except OSError:
            pass  # then the interpreter waits
    _signal.sigwait([_signal.SIGINT])
    os.kill(pid, _signal.SIGKILL)
    os.waitpid(pid, 0)
    return 0


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
