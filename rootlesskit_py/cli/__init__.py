"""One executable, five programs: dispatch on the name we were started as (a multi-call binary)."""

from __future__ import annotations

import os
import sys

# name -> module with `main(argv) -> int`; None: the name is reserved, the program not written yet
PROGRAMS = {
    "rootlesskit": "rootlesskit_py.cli.rootlesskit",
    "rootlessctl": None,
    "rootlesskit-docker-proxy": None,
    "dockerd-rootless.sh": None,
    "dockerd-rootless-setuptool.sh": None,
}


def main() -> None:
    """Run the program named by argv[0]; `rootlesskit-py NAME ARGS...` selects one explicitly."""
    name = os.path.basename(sys.argv[0])
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
    code = module.main(argv)
    # Skip interpreter finalization (~5 ms of every run): nothing is left to clean up but buffers.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code)
