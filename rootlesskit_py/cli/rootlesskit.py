"""`rootlesskit [flags] COMMAND...`: flag handling in upstream's order, then the parent."""

from __future__ import annotations

import sys

from rootlesskit_py.cli.rootlesskit_flags import ROOTLESSKIT_APP, ROOTLESSKIT_FLAGS
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util import flags, log
from rootlesskit_py.util.gocompat import go_quote
from rootlesskit_py.version import VERSION


def main(argv: list[str]) -> int:
    log.configure("parent")
    try:
        opts, command = flags.parse(ROOTLESSKIT_FLAGS, argv)
    except flags.FlagError as e:
        sys.stdout.write(f"Incorrect Usage: {e}\n\n{flags.render_help(ROOTLESSKIT_APP)}")
        sys.stdout.flush()
        log.fatal(str(e))
        return 1
    if opts["help"]:
        sys.stdout.write(flags.render_help(ROOTLESSKIT_APP))
        return 0
    if opts["version"]:
        sys.stdout.write(f"rootlesskit version {VERSION}\n")
        return 0
    log.configure("parent", debug=bool(opts["debug"]))
    try:
        if opts["print-semver"]:
            sys.stdout.write(f"{semver_component(opts['print-semver'])}\n")
            return 0
        if not command:
            raise RootlessKitError("no command specified")
        from rootlesskit_py.cli import self_launcher
        from rootlesskit_py.parent.run import run

        sys.stdout.flush()
        return run(opts, command, self_launcher)
    except RootlessKitError as e:
        log.fatal(e.message)
        return e.code


def semver_component(which: str) -> int:
    """`--print-semver major|minor|patch`."""
    parts = {"major": 0, "minor": 1, "patch": 2}
    if which not in parts:
        raise RootlessKitError(f'expected --print-semver=(major|minor|patch), got {go_quote(which)}')
    core = VERSION.split("+")[0].split("-")[0].split(".")
    try:
        return int(core[parts[which]])
    except (IndexError, ValueError):
        raise RootlessKitError(f"failed to parse version {go_quote(VERSION)}: invalid semantic version") from None
