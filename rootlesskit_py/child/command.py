"""Run the user's command inside the namespaces and turn its end into rootlesskit's exit status."""

from __future__ import annotations

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util.gocompat import GoError, look_path, strerror
from rootlesskit_py.util.idle import start_up_over
from rootlesskit_py.util.proc import fork_exec
from rootlesskit_py.util.signals import describe_status, exit_code_of, relay_until_exit


TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    # (resolved path, argv) -> a function that runs the command in the forked process, or None
    Launcher = Callable[[str, list[str]], "Callable[[list[str], dict[str, str]], None] | None"]


def run_command(argv: list[str], env: dict[str, str], reaper: bool, keep_fds: list[int],
                socket_activation: bool = False, launcher: Launcher | None = None) -> None:
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
    try:
        pid = fork_exec(path, argv, env, keep_fds=keep_fds, setsid=reaper, set_listen_pid=socket_activation,
                        in_process=launcher(path, argv) if launcher else None)
    except OSError as e:
        raise RootlessKitError(f"{shown}: fork/exec {path}: {strerror(e)}") from None
    status = relay_until_exit(pid, lambda: pid, reap_all=reaper, on_idle=start_up_over)
    description = describe_status(status, core_suffix=not reaper)
    if description is not None:
        raise RootlessKitError(f"{shown}: {description}", exit_code_of(status))

