"""Signal forwarding and Go-compatible descriptions of how a process ended.

Scripts grep rootlesskit's output for Go's wording (`signal: user defined signal 1`), so the names
below follow Go's syscall signal table rather than Python's or strsignal(3).
"""

from __future__ import annotations

import os
import signal

from rootlesskit_py.util import log

TYPE_CHECKING = False
if TYPE_CHECKING:  # `typing` costs ~10 ms to import; only type checkers need it
    from collections.abc import Callable

GO_SIGNAL_NAMES = {
    1: "hangup", 2: "interrupt", 3: "quit", 4: "illegal instruction", 5: "trace/breakpoint trap",
    6: "aborted", 7: "bus error", 8: "floating point exception", 9: "killed",
    10: "user defined signal 1", 11: "segmentation fault", 12: "user defined signal 2",
    13: "broken pipe", 14: "alarm clock", 15: "terminated", 16: "stack fault", 17: "child exited",
    18: "continued", 19: "stopped (signal)", 20: "stopped", 21: "stopped (tty input)",
    22: "stopped (tty output)", 23: "urgent I/O condition", 24: "CPU time limit exceeded",
    25: "file size limit exceeded", 26: "virtual timer expired", 27: "profiling timer expired",
    28: "window changed", 29: "I/O possible", 30: "power failure", 31: "bad system call",
}

# Never forwarded: CHLD, PIPE and URG concern the receiving process itself; KILL and STOP can't be caught.
_NOT_FORWARDED = {signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG, signal.SIGKILL, signal.SIGSTOP}
FORWARDED_SIGNALS = [s for s in range(1, 32) if s not in _NOT_FORWARDED] + list(range(34, 65))


def signal_name(signum: int) -> str:
    return GO_SIGNAL_NAMES.get(signum, f"signal {signum}")


def describe_status(status: int, core_suffix: bool = True) -> str | None:
    """Go's os.ProcessState text for a wait status, or None for a clean exit 0."""
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return None if code == 0 else f"exit status {code}"
    if os.WIFSIGNALED(status):
        text = f"signal: {signal_name(os.WTERMSIG(status))}"
        if core_suffix and os.WCOREDUMP(status):
            text += " (core dumped)"
        return text
    return f"exited with WAITSTATUS=0x{status:08x}"


def exit_code_of(status: int) -> int:
    """The exit code Go gives a process state: the code, or 255 (-1) for anything else."""
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 255


def forward_signals(target_pid: Callable[[], int]) -> None:
    """Relay every catchable signal (but CHLD, PIPE, URG) to the process `target_pid()` names."""

    def relay(signum: int, _frame: object) -> None:
        pid = target_pid()
        try:
            os.kill(pid, signum)
            log.debug(f"forwarded signal {signum} to pid {pid}")
        except OSError as e:
            log.debug(f"failed to forward signal {signum} to pid {pid}: {e}")

    for signum in FORWARDED_SIGNALS:
        try:
            signal.signal(signum, relay)
        except (OSError, ValueError):
            pass  # signals reserved by the C library (32, 33) can't be caught


def reset_signals() -> None:
    """Default dispositions and an empty mask, for a process about to exec a user's command."""
    for signum in FORWARDED_SIGNALS + [signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG]:
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
