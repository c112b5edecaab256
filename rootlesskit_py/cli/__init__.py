"""One executable, five programs: dispatch on the name we were started as (a multi-call binary)."""

from __future__ import annotations

import os
import sys

# name -> module with `main(argv) -> int`; None: the name is reserved, the program not written yet
PROGRAMS = {
    "rootlesskit": "rootlesskit_py.cli.rootlesskit",
    "rootlessctl": "rootlesskit_py.cli.rootlessctl",
    "rootlesskit-docker-proxy": "rootlesskit_py.cli.docker_proxy",
    "dockerd-rootless.sh": None,
    "dockerd-rootless-setuptool.sh": "rootlesskit_py.cli.setuptool",
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
    global program
    program = name
    module = __import__(PROGRAMS[name], fromlist=["main"])
    code = module.main(argv)
    # Skip interpreter finalization (~5 ms of every run): nothing is left to clean up but buffers.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code)
