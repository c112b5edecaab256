"""dockerd-rootless-setuptool.sh: the logic is in rootlesskit_py.docker.setuptool."""

from __future__ import annotations

from rootlesskit_py.cli import invoked_as
from rootlesskit_py.docker import setuptool


def main(argv: list[str]) -> int:
    return setuptool.main(argv, invoked_as())
