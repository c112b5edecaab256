"""dockerd-rootless-setuptool.sh: the logic is in rootlesskit_py.docker.setuptool."""

from __future__ import annotations

import os
import sys

from rootlesskit_py.cli import invoked_as
from rootlesskit_py.docker import setuptool


def main(argv: list[str]) -> int:
    # upstream's messages show $0; started as `rootlesskit-py NAME` (or python -m) that is NAME
    argv0 = invoked_as()
    if os.path.basename(argv0) != setuptool.PROGRAM:
        argv0 = sys.argv[0]
    return setuptool.main(argv, argv0)
