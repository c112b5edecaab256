"""Running helper programs (newuidmap, getsubids, nsenter, slirp4netns, ...) the cheap way.

`os.posix_spawn` with output captured in memfds instead of `subprocess` (whose import costs ~4-13 ms
on every start): nothing has to be read while a helper runs, so several can run at once.
"""

from __future__ import annotations

import os

from rootlesskit_py.util.gocompat import strerror
from rootlesskit_py.util.signals import describe_status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# Python starts with SIGPIPE and SIGXFSZ ignored and exec keeps that; helpers get them back at default
# (and an empty signal mask: the caller may hold relayed signals blocked).
_PY_IGNORED_SIGNALS = (13, 25)


def decode(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def spawn(path: str, argv: Sequence[str], combined: bool) -> tuple[int, int, int] | str:
    """Start `path` with `argv`; return `(pid, out_fd, err_fd)` for `finish`, or Go's start error text.

    Output goes to memfds rather than pipes: nothing has to be read while the helper runs (no
    deadlock, no threads/selectors), so several helpers can run at once and be collected later.
    Stdin is /dev/null, as in Go.  With `combined`, stdout and stderr share one memfd (CombinedOutput).
    """
    out_fd = os.memfd_create("stdout", os.MFD_CLOEXEC)
    err_fd = out_fd if combined else os.memfd_create("stderr", os.MFD_CLOEXEC)
    try:
        pid = os.posix_spawn(path, list(argv), os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_fd, 1),
            (os.POSIX_SPAWN_DUP2, err_fd, 2),
        ], setsigdef=_PY_IGNORED_SIGNALS, setsigmask=[])
    except OSError as e:
        close_outputs(out_fd, err_fd)
        return f"fork/exec {path}: {strerror(e)}"
    return pid, out_fd, err_fd


def close_outputs(out_fd: int, err_fd: int) -> None:
    os.close(out_fd)
    if err_fd != out_fd:
        os.close(err_fd)


def finish(job: tuple[int, int, int] | str) -> tuple[str | None, bytes, bytes]:
    """Wait for a `spawn`ed helper; return `(go_error_text_or_None, stdout, stderr)` (stderr b"" if combined)."""
    if isinstance(job, str):
        return job, b"", b""
    pid, out_fd, err_fd = job
    try:
        status = os.waitpid(pid, 0)[1]
        out = os.pread(out_fd, os.fstat(out_fd).st_size, 0)
        err_out = b"" if err_fd == out_fd else os.pread(err_fd, os.fstat(err_fd).st_size, 0)
    finally:
        close_outputs(out_fd, err_fd)
    return describe_status(status), out, err_out


def run(path: str, argv: Sequence[str], combined: bool) -> tuple[str | None, bytes, bytes]:
    return finish(spawn(path, argv, combined))
