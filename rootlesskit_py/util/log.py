"""Logging in RootlessKit's shape: `[rootlesskit:<role>] ` prefixed messages on stderr.

Upstream logs through logrus: on a terminal `WARN[0000] msg`, otherwise
`time="..." level=warning msg="..."`. Only the message text is normative, but keeping the shape lets
existing log scrapers and journal filters work unchanged.
"""

from __future__ import annotations

import os
import sys
import time

from rootlesskit_py.util.gocompat import go_quote

_LEVELS = {"debug": "DEBU", "info": "INFO", "warning": "WARN", "error": "ERRO"}
_state = {"role": "parent", "debug": False, "start": time.monotonic()}


def configure(role: str, debug: bool | None = None) -> None:
    """Set the role shown in every message ("parent", "child "; "" for none, as in the helper
    programs); optionally the debug switch."""
    _state["role"] = role
    if debug is not None:
        _state["debug"] = debug


def _emit(level: str, msg: str) -> None:
    text = f"[rootlesskit:{_state['role']}] {msg}" if _state["role"] else msg
    if sys.stderr.isatty():
        elapsed = int(time.monotonic() - _state["start"])
        line = f"{_LEVELS[level]}[{elapsed:04d}] {text}\n"
    else:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        stamp = stamp[:-2] + ":" + stamp[-2:]
        line = f"time={go_quote(stamp)} level={level} msg={go_quote(text)}\n"
    os.write(2, line.encode(errors="replace"))


def debug(msg: str) -> None:
    if _state["debug"]:
        _emit("debug", msg)


def info(msg: str) -> None:
    _emit("info", msg)


def warn(msg: str) -> None:
    _emit("warning", msg)


def error(msg: str) -> None:
    _emit("error", msg)


def fatal(msg: str) -> None:
    """The last line of a failing program, exactly as upstream prints it."""
    os.write(2, f"[rootlesskit:{_state['role']}] error: {msg}\n".encode(errors="replace"))
