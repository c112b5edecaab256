"""`--detach-netns`: a network namespace of its own at $STATE/netns, while the child and the
command stay in the host's (inside the new user namespace), so `docker pull` skips slirp4netns.

The child cannot setns() back into the host's network namespace (it is owned by the initial user
namespace), so creating and configuring the detached one happens in short-lived forks.
"""

from __future__ import annotations

import os

from rootlesskit_py import names, native
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util.gocompat import go_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def in_fork(body: "Callable[[], None]") -> None:
    """Run `body` in a forked process and wait; its RootlessKitError (or OSError) is raised here."""
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(err_r)
        try:
            body()
            code = 0
        except (RootlessKitError, OSError) as e:
            os.write(err_w, str(e).encode())
            code = 1
        os._exit(code)
    os.close(err_w)
    message = b""
    while chunk := os.read(err_r, 65536):
        message += chunk
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    if message or status:
        raise RootlessKitError(message.decode() or f"helper process ended with wait status {status}")


def create_detached_netns(state_dir: str) -> str:
    """`unshare -n mount --bind /proc/self/ns/net $STATE/netns`; returns the path."""
    path = os.path.join(state_dir, names.STATE_NETNS)

    def bind_new_netns() -> None:
        native.unshare(native.CLONE_NEWNET)
        native.mount("/proc/self/ns/net", path, None, native.MS_BIND)

    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o400))
        in_fork(bind_new_netns)
    except (RootlessKitError, OSError) as e:
        raise RootlessKitError(f"failed to create a detached netns on {go_quote(path)}: {e}") from None
    return path


def in_netns(path: str, body: "Callable[[], None]") -> None:
    """Run `body` inside the network namespace bound at `path`."""

    def enter_and_run() -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        native.setns(fd, native.CLONE_NEWNET)
        os.close(fd)
        body()

    in_fork(enter_and_run)
