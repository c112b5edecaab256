"""Signal relaying and Go-compatible descriptions of how a process ended.

Scripts grep rootlesskit's output for Go's wording (`signal: user defined signal 1`), so the names
below follow Go's syscall signal table rather than Python's or strsignal(3).
"""

from __future__ import annotations

import os
import _signal as signal  # signal.py only adds enum wrappers (~6 ms of imports)

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
# real-time signals from the libc's SIGRTMIN: glibc keeps 32-33 for itself, musl 32-34
FORWARDED_SIGNALS = [s for s in range(1, 32) if s not in _NOT_FORWARDED] + list(range(signal.SIGRTMIN, signal.SIGRTMAX + 1))
_WAITED = FORWARDED_SIGNALS + [signal.SIGCHLD]


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


def die_of(signum: int) -> None:
    """End this process by `signum` with its default action, as a process the signal killed: a
    parent then sees the same status (and a shell the same 128+n) as from a Go program."""
    if signum not in (signal.SIGKILL, signal.SIGSTOP):  # the only two that can't be caught or blocked
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
    os.kill(os.getpid(), signum)


def block_relayed_signals() -> None:
    """Hold every relayed signal (and SIGCHLD) pending until relay_until_exit takes them.

    Call before forking the process signals will be relayed to; it inherits the mask, so nothing
    sent early is lost or acted on before its target exists. Taking signals synchronously with
    sigwaitinfo, rather than in handlers, matters in compiled code: a Python-level handler only runs
    when something checks for it, and a signal landing just before a blocking waitpid() would
    otherwise sit unhandled for as long as the wait lasts.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)


# how long relay_until_exit waits for anything to happen before it calls `on_idle`
IDLE_AFTER_SECONDS = 0.1


def relay_until_exit(pid: int, target: Callable[[], int], reap_all: bool = False,
                     watch: dict[int, Callable[[int, int], None]] | None = None,
                     on_idle: Callable[[], None] | None = None) -> int:
    """Relay signals to `target()` until `pid` ends; return its wait status.

    With `reap_all` (PID 1 of a namespace) every other child that ends is reaped too. `watch` maps
    other children (network helpers) to a callback(pid, status) called if they end first.
    `on_idle` is called once, when nothing has happened for IDLE_AFTER_SECONDS: work for a process
    that settles down, which would otherwise delay the first signal or the end of a short command,
    and hold the CPU the command starts on.
    """
    watch = dict(watch or {})
    while True:
        for other in list(watch):
            reaped, other_status = os.waitpid(other, os.WNOHANG)
            if reaped:
                watch.pop(other)(other, other_status)
        status = _reap(pid, reap_all)
        if status is not None:
            return status
        if on_idle is not None:
            info = signal.sigtimedwait(_WAITED, IDLE_AFTER_SECONDS)
            if info is None:
                on_idle()
                on_idle = None
                continue
        else:
            info = signal.sigwaitinfo(_WAITED)
        signum = info.si_signo
        if signum == signal.SIGCHLD:
            continue
        to = target()
        try:
            os.kill(to, signum)
            log.debug(f"forwarded signal {signum} to pid {to}")
        except OSError as e:
            log.debug(f"failed to forward signal {signum} to pid {to}: {e}")


def _reap(pid: int, reap_all: bool) -> int | None:
    """The status of `pid` if it has ended (reaping the others too with reap_all), else None."""
    while True:
        try:
            reaped, status = os.waitpid(-1 if reap_all else pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if reaped == pid:
            return status
        if reaped == 0 or not reap_all:
            return None


def reset_signals() -> None:
    """Default dispositions and an empty mask, for a process about to exec a user's command."""
    for signum in FORWARDED_SIGNALS + [signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG]:
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
