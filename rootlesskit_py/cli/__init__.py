"""One executable, five programs: dispatch on the name we were started as (a multi-call binary)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# name -> module with `main(argv) -> int`; None: the name is reserved, the program not written yet
ROOTLESSKIT = "rootlesskit_py.cli.rootlesskit"
PROGRAMS = {
    "rootlesskit": ROOTLESSKIT,
    "docker-rootlesskit": ROOTLESSKIT,  # the name some distributions install it under
    "rootlessctl": "rootlesskit_py.cli.rootlessctl",
    "rootlesskit-docker-proxy": "rootlesskit_py.cli.docker_proxy",
    "dockerd-rootless.sh": "rootlesskit_py.cli.dockerd_rootless",
    "dockerd-rootless-setuptool.sh": None,
}


# the program main() dispatched to (upstream's messages that depend on basename(argv[0]) use it)
program = ""


def invoked_as() -> str:
    """argv[0] as given to execve: a compiled binary's sys.argv[0] is the resolved file, which
    loses the name of a symlink (upstream, and scripts, go by the name used)."""
    try:
        with open("/proc/self/cmdline", "rb") as f:
            return os.fsdecode(f.read().split(b"\0", 1)[0]) or sys.argv[0]
    except OSError:
        return sys.argv[0]


# programs a rootlesskit child may run in the process it forked instead of exec'ing this file again:
# dockerd-rootless.sh's child phase does a few mounts and sysctls, then execs dockerd itself
IN_PROCESS = {"dockerd-rootless.sh"}


def self_launcher(path: str, argv: list[str]) -> "Callable[[list[str], dict[str, str]], None] | None":
    """For a command that is this very executable under a name in IN_PROCESS, the function that
    runs it in a freshly forked process (an interpreter start saved); else None: exec it."""
    if os.path.basename(argv[0]) not in IN_PROCESS or "__compiled__" not in globals():
        return None
    try:
        if not os.path.samestat(os.stat(path), os.stat("/proc/self/exe")):
            return None
    except OSError:
        return None
    return _run_forked


def _run_forked(argv: list[str], env: dict[str, str]) -> None:
    """What exec would have started, in this process: the environment and argv it would have had."""
    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(argv)
    _finish(__import__(PROGRAMS[os.path.basename(argv[0])], fromlist=["main"]).main(argv[1:]))


def _finish(code: int) -> None:
    # Skip interpreter finalization (~5 ms of every run): nothing is left to clean up but buffers.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code)


def main() -> None:
    """Run the program named by argv[0]; `rootlesskit-py NAME ARGS...` selects one explicitly."""
    name = os.path.basename(invoked_as())
    argv = sys.argv[1:]
    if name not in PROGRAMS and argv and argv[0] in PROGRAMS:
        name, argv = argv[0], argv[1:]
        sys.argv = [name] + argv
    if name not in PROGRAMS:
        sys.stderr.write(f"rootlesskit-py: unknown program name {name!r}; run as one of: {', '.join(PROGRAMS)}\n")
        sys.exit(2)
    if PROGRAMS[name] != ROOTLESSKIT:  # first: a setcap on the shared file is for the rootlesskit parent alone
        from rootlesskit_py import native

        native.drop_file_capabilities()
    if PROGRAMS[name] is None:
        sys.stderr.write(f"{name}: not implemented yet in rootlesskit-py\n")
        sys.exit(1)
    global program
    program = name
    module = __import__(PROGRAMS[name], fromlist=["main"])
    _finish(module.main(argv))
