"""One executable, five programs: dispatch on the name we were started as (a multi-call binary)."""

from __future__ import annotations

import _signal as signal
import os
import sys

# name -> module with `main(argv) -> int`; None: the name is reserved, the program not written yet
PROGRAMS = {
    "rootlesskit": "rootlesskit_py.cli.rootlesskit",
    "rootlessctl": "rootlesskit_py.cli.rootlessctl",
    "rootlesskit-docker-proxy": "rootlesskit_py.cli.docker_proxy",
    "dockerd-rootless.sh": None,
    "dockerd-rootless-setuptool.sh": None,
}


def invoked_as() -> str:
    """argv[0] as given to execve: a compiled binary's sys.argv[0] is the resolved file, which
    loses the name of a symlink (upstream, and scripts, go by the name used)."""
    try:
        with open("/proc/self/cmdline", "rb") as f:
            return os.fsdecode(f.read().split(b"\0", 1)[0]) or sys.argv[0]
    except OSError:
        return sys.argv[0]


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
    if PROGRAMS[name] is None:
        sys.stderr.write(f"{name}: not implemented yet in rootlesskit-py\n")
        sys.exit(1)
    module = __import__(PROGRAMS[name], fromlist=["main"])
    try:
        code = module.main(argv)
    except KeyboardInterrupt:  # Python's SIGINT handler: die of the signal, as a Go program does
        _die_of(signal.SIGINT)
    except BrokenPipeError:  # stdout's reader went away: Go dies of SIGPIPE there
        _die_of(signal.SIGPIPE)
    except Exception as e:  # whatever no layer foresaw still ends in one line, never a traceback
        from rootlesskit_py.errors import describe
        from rootlesskit_py.util import log

        if name == "rootlesskit":
            log.fatal(describe(e))
        else:
            sys.stderr.write(f"error: {describe(e)}\n")
        code = 1
    # Skip interpreter finalization (~5 ms of every run): nothing is left to clean up but buffers.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code)
