"""Go's wording for errors and quoting, so our messages match upstream RootlessKit byte for byte.

Scripts and users grep these texts (`executable file not found in $PATH`, `strconv.Atoi: parsing
"x": invalid syntax`); one module owns them. Imports nothing beyond `os`: every run loads it.
"""

from __future__ import annotations

import os


class GoError(Exception):
    """An error whose str() is the Go error text."""


def go_quote(s: str) -> str:
    """Go's strconv.Quote / `%q`: `"` and `\\` escaped, C escapes, \\xNN for other ASCII controls,
    \\uNNNN/\\UNNNNNNNN for non-printable runes. Lone surrogates from os.fsdecode's surrogateescape
    (undecodable argv bytes) print as the original byte, \\xNN, as Go does for invalid UTF-8."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif 0x20 <= o < 0x7F:
            out.append(c)
        elif c in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(c)])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif c.isprintable():
            out.append(c)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def go_atoi(s: str) -> int:
    """Go's strconv.Atoi: ASCII digits with an optional sign, int64 range; ValueError carries Go's text."""
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"strconv.Atoi: parsing {go_quote(s)}: invalid syntax")
    n = int(s) if len(digits) <= 20 else 1 << 64
    if not -(1 << 63) <= n < (1 << 63):
        raise ValueError(f"strconv.Atoi: parsing {go_quote(s)}: value out of range")
    return n


def errno_text(number: int) -> str:
    """Go's text for an errno (`no such file or directory`), whatever the libc says."""
    from rootlesskit_py.util.errnotext import TEXTS

    if number in TEXTS:
        return TEXTS[number]
    text = os.strerror(number)
    return text[:1].lower() + text[1:]


def strerror(e: OSError) -> str:
    """Go's text for an OSError: its errno's (see errno_text), or the message when it has none."""
    return errno_text(e.errno) if e.errno else str(e)


def path_error(op: str, e: OSError) -> str:
    """Go's *PathError text (`mkdir /x: permission denied`) for an OSError raised by `op`."""
    return f"{op} {e.filename}: {strerror(e)}" if e.filename else strerror(e)


def look_path(file: str, path_env: str | None = None) -> str:
    """Go's exec.LookPath (Go ≥ 1.19, including the ErrDot refusal); raises with Go's error text."""

    def find(path: str, explain: bool = True) -> str | None:
        try:
            st = os.stat(path)
        except OSError as e:  # the text only for the error shown: the PATH walk drops its misses
            return f"stat {path}: {strerror(e)}" if explain else "missing"
        if st.st_mode & 0o170000 == 0o040000:
            return "is a directory"
        return None if os.access(path, os.X_OK, effective_ids=True) else "permission denied"

    if "/" in file:
        err = find(file)
        if err is None:
            return file
        raise GoError(f"exec: {go_quote(file)}: {err}")
    if path_env is None:
        path_env = os.environ.get("PATH", "")
    for d in path_env.split(":") if path_env else ():
        path = os.path.normpath(os.path.join(d or ".", file))
        if find(path, explain=False) is None:
            if not path.startswith("/"):
                raise GoError(
                    f"exec: {go_quote(file)}: cannot run executable found relative to current directory")
            return path
    raise GoError(f"exec: {go_quote(file)}: executable file not found in $PATH")
