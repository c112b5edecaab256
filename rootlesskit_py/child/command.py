"""Run the user's command inside the namespaces and turn its end into rootlesskit's exit status."""

from __future__ import annotations

import os
import _signal as signal  # signal.py only adds enum wrappers (~6 ms of imports)

from rootlesskit_py import native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util.gocompat import GoError, look_path, strerror
from rootlesskit_py.util.signals import describe_status, exit_code_of, relay_until_exit, reset_signals


def run_command(argv: list[str], env: dict[str, str], reaper: bool, keep_fds: list[int],
                socket_activation: bool = False) -> None:
    """Start `argv`, relay signals to it, wait; raise RootlessKitError unless it exits 0.

    Relayed signals are blocked (inherited from the parent); they wait for relay_until_exit.

    With the reaper we are PID 1 of a PID namespace: the command gets its own session (as upstream)
    and every orphan that lands on us is reaped until the command itself ends.
    """
    shown = f"command [{' '.join(argv)}] exited"
    try:
        path = look_path(argv[0], env.get("PATH", ""))
    except GoError as e:
        raise RootlessKitError(f"{shown}: {e}") from None
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _exec_child(path, argv, env, reaper, keep_fds, socket_activation, err_w)
    os.close(err_w)
    failure = os.read(err_r, 4096)
    os.close(err_r)
    if failure:
        os.waitpid(pid, 0)
        raise RootlessKitError(f"{shown}: fork/exec {path}: {failure.decode()}")
    status = relay_until_exit(pid, lambda: pid, reap_all=reaper)
    description = describe_status(status, core_suffix=not reaper)
    if description is not None:
        raise RootlessKitError(f"{shown}: {description}", exit_code_of(status))


def _exec_child(path: str, argv: list[str], env: dict[str, str], reaper: bool, keep_fds: list[int],
                socket_activation: bool, err_w: int) -> None:
    """In the forked child: die with our parent, detach if reaping, exec; report exec errors on err_w."""
    try:
        if socket_activation:
            env = {**env, "LISTEN_PID": str(os.getpid())}
        native.set_pdeathsig(signal.SIGKILL)
        if reaper:
            os.setsid()
        for fd in keep_fds:
            os.set_inheritable(fd, True)
        reset_signals()
        os.execve(path, argv, env)
    except OSError as e:
        os.write(err_w, strerror(e).encode())
    finally:
        os._exit(127)
