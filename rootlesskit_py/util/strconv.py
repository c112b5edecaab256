"""Go's strconv.ParseBool and ParseInt(s, 0, 64), with the error texts Go's flag package prints."""

_PARSE_ERROR = "parse error"  # Go flag's errParse
_RANGE_ERROR = "value out of range"  # Go flag's errRange


def parse_go_bool(s: str) -> bool:
    """strconv.ParseBool; ValueError("parse error") for anything else (the text Go's flag prints)."""
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(_PARSE_ERROR)


def parse_go_int(s: str) -> int:
    """strconv.ParseInt(s, 0, 64) as used by Go's flag.Int: optional sign, then 0x/0o/0b prefixes or
    a leading 0 for octal, and `_` digit separators per Go literal syntax (`1_000`, `0x_ff`, `0_7`).

    Raises ValueError with Go flag's wording: "parse error" or "value out of range". As in Go, an
    overflow detected while scanning wins over a later bad character.
    """
    if not s:
        raise ValueError(_PARSE_ERROR)
    neg = s[0] == "-"
    body = s[1:] if s[0] in "+-" else s
    n = _parse_go_uint(body)
    if n > (1 << 63) - (0 if neg else 1):
        raise ValueError(_RANGE_ERROR)
    return -n if neg else n


def _parse_go_uint(s0: str) -> int:
    """strconv.ParseUint(s, 0, 64)."""
    if not s0:
        raise ValueError(_PARSE_ERROR)
    s, base = s0, 10
    if s[0] == "0":
        p = s[1:2].lower()
        if len(s) >= 3 and p in ("b", "o", "x"):
            base, s = {"b": 2, "o": 8, "x": 16}[p], s[2:]
        else:
            base, s = 8, s[1:]
    n, underscores = 0, False
    for c in s:
        if c == "_":
            underscores = True
            continue
        d = "0123456789abcdefghijklmnopqrstuvwxyz".find(c.lower()) if c.isascii() and c.isalnum() else -1
        if d < 0 or d >= base:
            raise ValueError(_PARSE_ERROR)
        n = n * base + d
        if n >> 64:
            raise ValueError(_RANGE_ERROR)
    if underscores and not _underscore_ok(s0):
        raise ValueError(_PARSE_ERROR)
    return n


def _underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: `_` only between digits, or between a base prefix and a digit."""
    saw, i = "^", 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in ("b", "o", "x"):
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    for c in s[i:]:
        if "0" <= c <= "9" or (hexa and "a" <= c.lower() <= "f" and c.isascii()):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"
