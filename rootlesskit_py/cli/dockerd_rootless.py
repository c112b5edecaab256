"""`dockerd-rootless.sh [DOCKERD ARGS...]`: the logic is in docker/dockerd_rootless.py."""

from __future__ import annotations

import os
import sys

from rootlesskit_py.cli import COMPILED, invoked_as, same_file_runner
from rootlesskit_py.docker import dockerd_rootless


def main(argv: list[str]) -> int:
    # the child phase runs this program again: the compiled file by the name it was started as,
    # or, from a source checkout, the interpreter with the multi-call entry point
    self_command = [invoked_as()] if COMPILED else [sys.executable, "-m", "rootlesskit_py.cli", "dockerd-rootless.sh"]
    return dockerd_rootless.main(argv, dict(os.environ), self_command, same_file_runner)
