"""One executable, five programs: dispatch on the name we were started as (a multi-call binary)."""

from __future__ import annotations

import _signal as signal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# name -> module with `main(argv) -> int`
ROOTLESSKIT = "rootlesskit_py.cli.rootlesskit"
PROGRAMS = {
    "rootlesskit": ROOTLESSKIT,
    "docker-rootlesskit": ROOTLESSKIT,  # the name some distributions install it under
    "rootlessctl": "rootlesskit_py.cli.rootlessctl",
    "rootlesskit-docker-proxy": "rootlesskit_py.cli.docker_proxy",
    "dockerd-rootless.sh": "rootlesskit_py.cli.dockerd_rootless",
    "dockerd-rootless-setuptool.sh": "rootlesskit_py.cli.setuptool",
}


def invoked_as() -> str:
    """argv[0] as given to execve: a compiled binary's sys.argv[0] is the resolved file, which
    loses the name of a symlink (upstream, and scripts, go by the name used)."""
    try:
        with open("/proc/self/cmdline", "rb") as f:
            return os.fsdecode(f.read().split(b"\0", 1)[0]) or sys.argv[0]
    except OSError:
        return sys.argv[0]


# True in the Nuitka-compiled executable (Nuitka defines __compiled__ in every module it compiles),
# False when run from a source checkout through the interpreter
COMPILED = "__compiled__" in globals()

# programs a rootlesskit child may run in the process it forked instead of exec'ing this file again:
# dockerd-rootless.sh's child phase does a few mounts and sysctls, then execs dockerd itself
IN_PROCESS = {"dockerd-rootless.sh"}

# whether this process was started holding capabilities of the file (setcap), which it dropped
_dropped_file_capabilities = False


def self_launcher(path: str, argv: list[str]) -> "Callable[[list[str], dict[str, str]], None] | None":
    """For a command that is this very executable under a name in IN_PROCESS, the function that
    runs it in a freshly forked process (an interpreter start saved); else None: exec it."""
    if os.path.basename(argv[0]) not in IN_PROCESS:
        return None
    return same_file_runner(path)


def same_file_runner(path: str) -> "Callable[[list[str], dict[str, str]], None] | None":
    """If exec'ing `path` would start this very executable, and with nothing this process lacks
    (it dropped no file capabilities: setcap'd programs are exec'd, so the kernel grants them), the
    function that runs a program of it here instead, as the exec would have, without a second
    interpreter start. Else None. Whether a security module would pick another profile at exec is
    for the caller to ask (host.exec_changes_security_context)."""
    from rootlesskit_py.host import is_this_executable

    if not COMPILED or _dropped_file_capabilities or not is_this_executable(path):
        return None
    return _run_here


def _run_here(argv: list[str], env: dict[str, str]) -> None:
    """What exec would have started, in this process: the environment, argv and process name it
    would have had (`ps`, `pgrep` and systemd's status show the program's name)."""
    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(argv)
    name = os.path.basename(argv[0])
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass
    _finish(run_program(name, argv[1:]))


def _finish(code: int) -> None:
    # Skip interpreter finalization (~5 ms of every run): nothing is left to clean up but buffers.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code)


def run_program(name: str, argv: list[str]) -> int:
    """Program `name`'s exit code; whatever no layer foresaw still ends in one line, never a traceback."""
    try:
        if PROGRAMS[name] != ROOTLESSKIT:  # first: a setcap on the shared file is for the rootlesskit parent alone
            from rootlesskit_py import native

            global _dropped_file_capabilities
            _dropped_file_capabilities = native.drop_file_capabilities() or _dropped_file_capabilities
        return __import__(PROGRAMS[name], fromlist=["main"]).main(argv)
    except KeyboardInterrupt:  # Python's SIGINT handler: die of the signal, as a Go program does
        _die_of(signal.SIGINT)
    except BrokenPipeError:  # stdout's reader went away: Go dies of SIGPIPE there
        _die_of(signal.SIGPIPE)
    except Exception as e:
        from rootlesskit_py.errors import describe
        from rootlesskit_py.util import log

        if PROGRAMS[name] == ROOTLESSKIT:
            log.fatal(describe(e))
        else:
            sys.stderr.write(f"error: {describe(e)}\n")
    return 1


def _die_of(signum: int) -> None:
    from rootlesskit_py.util.signals import die_of

    die_of(signum)
    os._exit(128 + signum)  # not reached


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
    _finish(run_program(name, argv))
