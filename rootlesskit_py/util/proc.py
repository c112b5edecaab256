"""Running helper programs (newuidmap, getsubids, nsenter, slirp4netns, ...) the cheap way.

`os.posix_spawn` with output captured in memfds instead of `subprocess` (whose import costs ~4-13 ms
on every start): nothing has to be read while a helper runs, so several can run at once.
"""

from __future__ import annotations

import _signal
import os

from rootlesskit_py import native
from rootlesskit_py.util.gocompat import strerror
from rootlesskit_py.util.signals import describe_status, reset_signals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_nofile_to_restore: tuple[int, int] | None = None


def raise_nofile_limit() -> None:
    """Lift this process's soft RLIMIT_NOFILE to the hard limit (a forwarder holds two descriptors
    per connection; 1024 is too few), as Go programs do; fork_exec gives commands the old limit back."""
    import resource

    global _nofile_to_restore
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        _nofile_to_restore = (soft, hard)


# Python starts with SIGPIPE and SIGXFSZ ignored and exec keeps that; helpers get them back at default
# (and an empty signal mask: the caller may hold relayed signals blocked).
_PY_IGNORED_SIGNALS = (13, 25)


def decode(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def spawn(path: str, argv: Sequence[str], combined: bool, tty: bool = False) -> tuple[int, int, int] | str:
    """Start `path` with `argv`; return `(pid, out_fd, err_fd)` for `finish`, or Go's start error text.

    Output goes to memfds rather than pipes: nothing has to be read while the helper runs (no
    deadlock, no threads/selectors), so several helpers can run at once and be collected later.
    Stdin is /dev/null, as in Go.  With `combined`, stdout and stderr share one memfd (CombinedOutput).
    With `tty`, both go to a pseudo-terminal instead: some helpers (current pasta) exit without
    flushing stdio, so into a file or pipe they lose everything past the first 4 KiB buffer, or
    all of it; onto a terminal stdio is line-buffered and nothing is lost.
    """
    if tty:
        out_fd, slave = os.openpty()
        os.set_inheritable(out_fd, False)
        err_fd = out_fd
    else:
        out_fd = os.memfd_create("stdout", os.MFD_CLOEXEC)
        err_fd = out_fd if combined else os.memfd_create("stderr", os.MFD_CLOEXEC)
        slave = -1
    try:
        pid = os.posix_spawn(path, list(argv), os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, slave if tty else out_fd, 1),
            (os.POSIX_SPAWN_DUP2, slave if tty else err_fd, 2),
        ], setsigdef=_PY_IGNORED_SIGNALS, setsigmask=[])
    except OSError as e:
        close_outputs(out_fd, err_fd)
        return f"fork/exec {path}: {strerror(e)}"
    finally:
        if tty:
            os.close(slave)
    return pid, out_fd, err_fd


def _read_terminal(master: int) -> bytes:
    """Everything the helper wrote to its terminal: read until the last slave fd closes (EIO)."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).replace(b"\r\n", b"\n")


def close_outputs(out_fd: int, err_fd: int) -> None:
    os.close(out_fd)
    if err_fd != out_fd:
        os.close(err_fd)


def finish(job: tuple[int, int, int] | str, timeout: float | None = None) -> tuple[str | None, bytes, bytes]:
    """Wait for a `spawn`ed helper; return `(go_error_text_or_None, stdout, stderr)` (stderr b"" if combined).

    With `timeout` (seconds), a helper still running then is killed and `HelperTimedOut` raised, so
    the caller can say what the helper was waiting for: for helpers that talk to a daemon which may
    not answer. (Not for `tty` jobs: their terminal is read to the end first.)
    """
    if isinstance(job, str):
        return job, b"", b""
    pid, out_fd, err_fd = job
    try:
        terminal = os.isatty(out_fd)
        out = _read_terminal(out_fd) if terminal else b""
        timed_out = timeout is not None and not exits_within(pid, timeout)
        if timed_out:
            os.kill(pid, _signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
        if not terminal:
            out = os.pread(out_fd, os.fstat(out_fd).st_size, 0)
        err_out = b"" if err_fd == out_fd else os.pread(err_fd, os.fstat(err_fd).st_size, 0)
    finally:
        close_outputs(out_fd, err_fd)
    if timed_out:
        raise HelperTimedOut(timeout, out + err_out)
    return describe_status(status), out, err_out


class HelperTimedOut(Exception):
    """A helper `finish` killed at its timeout; `output` is what it wrote until then."""

    def __init__(self, seconds: float, output: bytes) -> None:
        super().__init__(f"still running after {seconds:g}s")
        self.seconds = seconds
        self.output = output


def exits_within(pid: int, seconds: float) -> bool:
    """Whether our child `pid` exits within `seconds`, told the moment it does (a pidfd, not polling
    waitpid); it is not reaped, so the caller's waitpid still gets its status."""
    import select
    import time

    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # a kernel before 5.3: ask every 5 ms instead, still without reaping
        deadline = time.monotonic() + seconds
        while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            if time.monotonic() > deadline:
                return False
            select.select([], [], [], 0.005)
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(seconds * 1000))
    finally:
        os.close(pidfd)


# helpers start_early started, by (path, argv, combined), for run to finish
_started_early: dict[tuple[str, tuple[str, ...], bool], tuple[int, int, int] | str] = {}


def start_early(path: str, argv: Sequence[str], combined: bool) -> None:
    """Start a helper whose answer `run` will be asked for later with the same arguments, so it runs
    while start-up goes on instead of in front of it (slirp4netns --help: 1.5 ms of rootlesskit's
    start). One that is never asked for is left to finish on its own."""
    _started_early[(path, tuple(argv), combined)] = spawn(path, argv, combined)


def run(path: str, argv: Sequence[str], combined: bool, tty: bool = False,
        timeout: float | None = None) -> tuple[str | None, bytes, bytes]:
    job = None if tty else _started_early.pop((path, tuple(argv), combined), None)
    return finish(job if job is not None else spawn(path, argv, combined, tty), timeout)


def fork_exec(path: str, argv: Sequence[str], env: dict[str, str], *, fds: dict[int, int] | None = None,
              keep_fds: Sequence[int] = (), setsid: bool = False, quiet: bool = False,
              set_listen_pid: bool = False, in_process: Callable[[list[str], dict[str, str]], None] | None = None) -> int:
    """Start a long-lived process that dies with us (pdeathsig SIGKILL) and starts with default
    signal handling; returns its pid, or raises OSError if exec failed.

    `fds` maps target fd -> our fd (slirp4netns's ready pipe at 3); `keep_fds` stay open at their
    numbers (socket activation); `quiet` points stdout/stderr at /dev/null; `set_listen_pid` sets
    LISTEN_PID to the new process's own pid, as systemd does for the process it activates.
    `in_process`, if given, is called in the new process instead of execve (it must not return).

    Without `in_process` nothing of ours runs in the new process, so it is started by native.spawn,
    which shares our memory until the exec instead of forking the interpreter; `in_process` needs a
    real fork, with everything below redone in Python.
    """
    if in_process is None:
        return native.spawn(path, argv, env, fds=fds or {}, keep_fds=keep_fds, setsid=setsid, quiet=quiet,
                            set_listen_pid=set_listen_pid, nofile=_nofile_to_restore, pdeathsig=_signal.SIGKILL)
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            native.set_pdeathsig(_signal.SIGKILL)
            if setsid:
                os.setsid()
            if quiet:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 1)
                os.dup2(null, 2)
            for target, source in (fds or {}).items():
                os.dup2(source, target)  # dup2 leaves the copy inheritable
            for fd in keep_fds:
                os.set_inheritable(fd, True)
            if set_listen_pid:
                env = {**env, "LISTEN_PID": str(os.getpid())}
            if _nofile_to_restore is not None:
                import resource  # imported already by raise_nofile_limit

                resource.setrlimit(resource.RLIMIT_NOFILE, _nofile_to_restore)
            reset_signals()
            os.close(err_w)  # started: from here on it is the command's own business
            err_w = -1
            in_process(list(argv), env)
        except OSError as e:
            if err_w >= 0:
                os.write(err_w, str(e.errno).encode())
        finally:
            os._exit(127)
    os.close(err_w)
    failure = os.read(err_r, 64)
    os.close(err_r)
    if failure:
        os.waitpid(pid, 0)
        errno = int(failure)
        raise OSError(errno, os.strerror(errno), path)
    return pid
