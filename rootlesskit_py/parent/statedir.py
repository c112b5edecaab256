"""The state directory: where rootlesskit publishes `child_pid`, `api.sock`, `netns`, ...

Upstream semantics, which scripts and systemd units depend on:
- an explicit dir is created (0755) and wiped of everything but `lock` (recovering from a crashed
  run); a default one is a fresh `mkdtemp("rootlesskit")`;
- a shared flock on the directory keeps systemd-tmpfiles away, an exclusive one on `lock` refuses a
  second instance; both fds are close-on-exec so a SIGKILLed parent frees the lock;
- the whole directory is removed when the parent returns, even an explicit one.
"""

from __future__ import annotations

import fcntl
import os

from rootlesskit_py import names
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import log
from rootlesskit_py.util.fs import make_temp_dir, remove_tree
from rootlesskit_py.util.gocompat import path_error


class StateDir:
    """A created state directory; `lock()` then `cleanup()` bracket the parent's life."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._dir_fd: int | None = None
        self._lock_fd: int | None = None

    @classmethod
    def create(cls, requested: str) -> "StateDir":
        """Create (and for an explicit path, wipe) the directory; errors as upstream words them."""
        try:
            if not requested:
                return cls(make_temp_dir("rootlesskit"))
            path = os.path.abspath(requested)
            os.makedirs(path, mode=0o755, exist_ok=True)
            state = cls(path)
            state._wipe()
            return state
        except OSError as e:
            raise RootlessKitError(f"creating a state directory: {path_error('mkdir', e)}") from None

    def _wipe(self) -> None:
        self.lock()
        try:
            for entry in os.listdir(self.path):
                if entry == names.STATE_LOCK:
                    continue
                victim = os.path.join(self.path, entry)
                try:
                    if os.path.isdir(victim) and not os.path.islink(victim):
                        remove_tree(victim)
                    else:
                        os.unlink(victim)
                except OSError as e:
                    raise RootlessKitError(f"failed to remove {victim}: {path_error('unlinkat', e)}") from None
        finally:
            self.unlock()

    def lock(self) -> None:
        """Take both locks; a busy `lock` file means another instance owns this directory."""
        if not os.path.isdir(self.path):
            raise RootlessKitError(f"state dir is inaccessible: stat {self.path}: not a directory")
        try:
            self._dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            fcntl.flock(self._dir_fd, fcntl.LOCK_SH)
        except OSError:
            log.warn(f"Failed to lock the state dir {self.path}")
        lock_path = os.path.join(self.path, names.STATE_LOCK)
        try:
            self._lock_fd = os.open(lock_path, os.O_CREAT | os.O_RDONLY | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise RootlessKitError(f"failed to lock {lock_path}: {path_error('open', e)}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.unlock()
            raise RootlessKitError(
                f"failed to lock {lock_path}, another RootlessKit is running with the same state directory?"
            ) from None

    def unlock(self) -> None:
        for attr in ("_lock_fd", "_dir_fd"):
            fd = getattr(self, attr)
            if fd is not None:
                os.close(fd)  # closing releases the flock
                setattr(self, attr, None)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def write_child_pid(self, pid: int) -> None:
        """Written last, read-only, no newline: scripts poll for it as the readiness marker."""
        tmp = self.file(".child_pid.tmp")
        try:
            with open(tmp, "w") as f:
                f.write(str(pid))
            os.chmod(tmp, 0o444)
            os.rename(tmp, self.file(names.STATE_CHILD_PID))
        except OSError as e:
            raise RootlessKitError(f"writing the state directory's child_pid: {path_error('open', e)}") from None

    def cleanup(self) -> None:
        self.unlock()
        try:
            remove_tree(self.path)
        except OSError as e:
            log.warn(f"failed to remove the state directory {self.path}: {path_error('unlinkat', e)}")

