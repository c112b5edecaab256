"""Command-line flags with the semantics of Go's `flag` package as driven by urfave/cli v2.

Upstream's three programs parse their arguments with Go's `flag` (rootlesskit-docker-proxy directly,
rootlesskit and rootlessctl through urfave/cli v2.27), and scripts depend on the quirks: `-x` equals
`--x`, a bool takes a value only as `--x=v`, parsing stops at the first positional, string slices split
on commas, and the error texts are printed verbatim. argparse can do none of that, and start-up time
matters (this module is imported by every run, including the re-executed child), so this module is
stdlib-free and small.

Help output reproduces urfave/cli v2's templates run through Go's text/tabwriter (minwidth 1,
tabwidth 8, padding 2, pad char space). Two app layouts exist:

* flags with categories: rootlesskit's own CustomAppHelpTemplate plus its `formatFlags` (categories
  sorted bytewise, `OPTIONS:`, tab-terminated header/separator lines that the tabwriter pads);
* no categories: urfave's stock AppHelpTemplate (`GLOBAL OPTIONS:`, `COMMANDS:`), as rootlessctl uses.

An app's flag list is exactly what gets parsed and rendered: help/version are ordinary bool flags the
caller puts in the table (see `help_flag`/`version_flag`) and interprets itself, help before version.
"""

__all__ = [
    "App", "Command", "Flag", "FlagError", "FlagHelp", "help_command", "help_flag", "parse",
    "parse_go_bool", "parse_go_int", "render_command_help", "render_go_usage", "render_help",
    "tabwrite", "version_flag",
]

from rootlesskit_py.util.gocompat import go_quote

_KINDS = ("bool", "string", "int", "slice")
_PARSE_ERROR = "parse error"  # Go flag's errParse
_RANGE_ERROR = "value out of range"  # Go flag's errRange
# Go's unicode.IsSpace set, used by strings.TrimSpace on each slice piece (Python's str.strip() also
# strips U+001C..U+001F, which Go keeps).
_GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
             "\u2028\u2029\u202f\u205f\u3000")


class FlagError(Exception):
    """A command-line error whose str() is Go's exact message (`flag provided but not defined: -foo`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class FlagHelp(FlagError):
    """Go's flag.ErrHelp: `-h`/`-help` given while no such flag is defined (plain Go `flag` programs).

    urfave/cli apps define help themselves, so only rootlesskit-docker-proxy ever sees this; Go then
    prints the usage and exits 0.
    """

    def __init__(self) -> None:
        super().__init__("flag: help requested")


class Flag:
    """One flag definition: a urfave BoolFlag/StringFlag/IntFlag/StringSliceFlag (or a Go flag).

    `default_text` replaces the help's default display; `hide_default` suppresses it (urfave's
    DisableDefaultText, used by help/version). The default is otherwise shown per urfave's
    GetDefaultText: bools and ints always, strings `%q`-quoted only when non-empty, slices only when
    non-empty.
    """

    __slots__ = ("name", "aliases", "kind", "default", "usage", "category", "default_text", "hide_default")

    def __init__(self, name: str, kind: str = "string", default: object = None, usage: str = "", *,
                 aliases: "tuple[str, ...] | list[str]" = (), category: str = "", default_text: str = "",
                 hide_default: bool = False) -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown flag kind {kind!r}")
        if default is None:
            default = {"bool": False, "string": "", "int": 0, "slice": ()}[kind]
        self.name = name
        self.aliases = tuple(aliases)
        self.kind = kind
        self.default = tuple(default) if kind == "slice" else default
        self.usage = usage
        self.category = category
        self.default_text = default_text
        self.hide_default = hide_default

    @property
    def names(self) -> "tuple[str, ...]":
        """Primary name first, then aliases (urfave's Names())."""
        return (self.name,) + self.aliases

    def shown_default(self) -> str:
        """urfave's GetDefaultText (honouring DisableDefaultText); "" means none is shown."""
        if self.hide_default:
            return ""
        if self.default_text:
            return self.default_text
        d = self.default
        if self.kind == "bool":
            return "true" if d else "false"
        if self.kind == "int":
            return str(d)
        if self.kind == "string":
            return go_quote(d) if d else ""
        return ", ".join(go_quote(s) for s in d if s)

    def help_text(self) -> str:
        """urfave's stringifyFlag: `--name value, -n value<TAB>usage (default: x)`.

        A backquoted word in the usage becomes the placeholder (urfave's unquoteUsage). The usage plus
        default is TrimSpace'd, so a usage ending in a space keeps it only when a default follows.
        """
        placeholder, usage = _unquote_usage(self.usage)
        if self.kind != "bool" and not placeholder:
            placeholder = "value"
        shown = self.shown_default()
        text = (usage + (f" (default: {shown})" if shown else "")).strip(_GO_SPACE)
        parts = []
        for n in self.names:
            if n:
                parts.append(("-" if len(n) == 1 else "--") + n + (" " + placeholder if placeholder else ""))
        pn = ", ".join(parts)
        if self.kind == "slice":
            pn = f"{pn} [ {pn} ]"
        return f"{pn}\t{text}"

    def __repr__(self) -> str:
        return f"Flag({self.name!r}, {self.kind!r}, {self.default!r})"


class Command:
    """A urfave/cli subcommand, for help rendering (rootlessctl). `flags` should include help_flag()."""

    __slots__ = ("name", "aliases", "usage", "usage_text", "args_usage", "description", "flags", "args")

    def __init__(self, name: str, usage: str = "", *, aliases: "tuple[str, ...] | list[str]" = (),
                 usage_text: str = "", args_usage: str = "", description: str = "",
                 flags: "list[Flag] | tuple[Flag, ...]" = (), args: bool = False) -> None:
        self.name = name
        self.aliases = tuple(aliases)
        self.usage = usage
        self.usage_text = usage_text
        self.args_usage = args_usage
        self.description = description
        self.flags = list(flags)
        self.args = args


class App:
    """A urfave/cli App as seen by the help templates. `help_name` defaults to `name`."""

    __slots__ = ("name", "usage", "usage_text", "version", "description", "flags", "commands",
                 "args_usage", "args", "help_name")

    def __init__(self, name: str, usage: str = "", *, usage_text: str = "", version: str = "",
                 description: str = "", flags: "list[Flag] | tuple[Flag, ...]" = (),
                 commands: "list[Command] | tuple[Command, ...]" = (), args_usage: str = "",
                 args: bool = False, help_name: str = "") -> None:
        self.name = name
        self.usage = usage
        self.usage_text = usage_text
        self.version = version
        self.description = description
        self.flags = list(flags)
        self.commands = list(commands)
        self.args_usage = args_usage
        self.args = args
        self.help_name = help_name or name


def help_flag(category: str = "") -> Flag:
    """urfave's HelpFlag (`--help, -h`, "show help", no default shown)."""
    return Flag("help", "bool", False, "show help", aliases=("h",), category=category, hide_default=True)


def help_command() -> Command:
    """urfave's `help, h` command, which it appends to every app with commands (HideHelpCommand off)."""
    return Command("help", "Shows a list of commands or help for one command", aliases=("h",),
                   args_usage="[command]")


def version_flag(category: str = "") -> Flag:
    """urfave's VersionFlag (`--version, -v`, "print the version", no default shown)."""
    return Flag("version", "bool", False, "print the version", aliases=("v",), category=category,
                hide_default=True)


# ---------------------------------------------------------------------------------------------------
# Value parsing (Go strconv)

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



# ---------------------------------------------------------------------------------------------------
# Argument parsing (Go flag.FlagSet.Parse + urfave normalizeFlags)

def parse(flags: "list[Flag] | tuple[Flag, ...]", argv: "list[str]") -> "tuple[dict[str, object], list[str]]":
    """Parse `argv` (without the program name) the way Go's FlagSet.Parse does under urfave/cli v2.

    Returns (values keyed by each flag's primary name, remaining positional args). Every flag gets a
    value: its default when absent (slices as fresh lists). `-x` and `--x` are equivalent; values come
    as `-x=v` or `-x v`, except bools, which take one only with `=`. Parsing stops at the first
    non-flag (a lone `-` counts as one) or after a consumed `--`. Slice values split on `,` with each
    piece TrimSpace'd, and accumulate across repeats and aliases. Afterwards, like urfave's
    normalizeFlags, giving two names of one flag (`--publish a -p b`) is an error.

    Raises FlagError with Go's text, or FlagHelp for an undefined `-h`/`-help`.
    """
    by_name = {}
    for f in flags:
        for n in f.names:
            by_name[n] = f
    values: "dict[str, object]" = {}
    for f in flags:
        values[f.name] = list(f.default) if f.kind == "slice" else f.default
    touched_slices = set()
    seen_names = set()
    i, n_args = 0, len(argv)
    while i < n_args:
        s = argv[i]
        if len(s) < 2 or s[0] != "-":
            break
        if s[1] == "-":
            if len(s) == 2:
                i += 1
                break
            name = s[2:]
        else:
            name = s[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {s}")
        i += 1
        eq = name.find("=", 1)
        has_value = eq > 0
        value = ""
        if has_value:
            name, value = name[:eq], name[eq + 1:]
        f = by_name.get(name)
        if f is None:
            if name in ("help", "h"):
                raise FlagHelp()
            raise FlagError(f"flag provided but not defined: -{name}")
        if f.kind == "bool":
            if has_value:
                try:
                    values[f.name] = parse_go_bool(value)
                except ValueError as e:
                    raise FlagError(f"invalid boolean value {go_quote(value)} for -{name}: {e}") from None
            else:
                values[f.name] = True
        else:
            if not has_value:
                if i >= n_args:
                    raise FlagError(f"flag needs an argument: -{name}")
                value = argv[i]
                i += 1
            if f.kind == "string":
                values[f.name] = value
            elif f.kind == "int":
                try:
                    values[f.name] = parse_go_int(value)
                except ValueError as e:
                    raise FlagError(f"invalid value {go_quote(value)} for flag -{name}: {e}") from None
            else:
                if f.name not in touched_slices:  # the first Set replaces the default
                    touched_slices.add(f.name)
                    values[f.name] = []
                values[f.name].extend(p.strip(_GO_SPACE) for p in value.split(","))
        seen_names.add(name)
    for f in flags:
        if f.aliases:
            first = ""
            for n in f.names:
                if n in seen_names:
                    if first:
                        raise FlagError(f"Cannot use two forms of the same flag: {n} {first}")
                    first = n
    return values, list(argv[i:])


# ---------------------------------------------------------------------------------------------------
# Help rendering

def tabwrite(text: str, minwidth: int = 1, padding: int = 2) -> str:
    """Go's text/tabwriter with pad char ' ' and no flags, applied to a complete text.

    Tab-terminated cells are padded to their column width (widest cell of the column block plus
    `padding`, at least `minwidth`), where a column block is a run of consecutive lines having that
    cell; the text after a line's last tab is never padded. Tabwidth is irrelevant with a space pad
    char. Not handled: '\\v' soft cells, '\\f' and 0xff escapes (none occur in our texts).
    """
    lines = [ln.split("\t") for ln in text.split("\n")]
    out: "list[str]" = []
    widths: "list[int]" = []

    def write_lines(lo: int, hi: int) -> None:
        for cells in lines[lo:hi]:
            last = len(cells) - 1
            out.append("".join(c + " " * (widths[j] - len(c)) if j < last and j < len(widths) else c
                               for j, c in enumerate(cells)))

    def fmt(lo: int, hi: int) -> None:
        col = len(widths)
        this = lo
        while this < hi:
            if col >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(lo, this)
            lo = this
            width = minwidth
            while this < hi and col < len(lines[this]) - 1:
                width = max(width, len(lines[this][col]) + padding)
                this += 1
            widths.append(width)
            fmt(lo, this)
            widths.pop()
            lo = this
        write_lines(lo, hi)

    fmt(0, len(lines))
    return "\n".join(out)


def _unquote_usage(usage: str) -> "tuple[str, str]":
    """urfave's unquoteUsage: the first `word` in backquotes is the placeholder; quotes removed."""
    i = usage.find("`")
    if i >= 0:
        j = usage.find("`", i + 1)
        if j >= 0:
            name = usage[i + 1:j]
            return name, usage[:i] + name + usage[j + 1:]
    return "", usage


def _wrap(text: str, offset: int) -> str:
    """urfave's template `wrap` at its 10000-column limit: continuation lines get `offset` spaces.
    (Lines longer than ~10000 characters are not re-flowed; urfave would word-wrap them.)"""
    pad = " " * offset
    lines = text.split("\n")
    return "\n".join([lines[0]] + [pad + ln if ln else ln for ln in lines[1:]])


def _visible_flags(flags: "list[Flag]") -> str:
    """urfave's visibleFlagTemplate: one `\\n   <flag>` per flag."""
    return "".join("\n   " + _wrap(f.help_text(), 6) for f in flags)


def _categorized_flags(flags: "list[Flag]") -> str:
    """rootlesskit's formatFlags: bytewise-sorted categories, declaration order inside each."""
    cats: "dict[str, list[Flag]]" = {}
    for f in flags:
        cats.setdefault(f.category or "(Uncategorized)", []).append(f)
    res = []
    for cat in sorted(cats, key=lambda c: c.encode("utf-8", "surrogateescape")):
        res.append(f"  {cat}:\t\n")
        res.extend(f"    {f.help_text()}\n" for f in cats[cat])
        res.append("  \t\n")
    return "".join(res)


def _name_line(help_name: str, usage: str) -> str:
    """urfave's helpNameTemplate."""
    return _wrap(help_name, 3) + (" - " + _wrap(usage, len(help_name) + 6) if usage else "")


def render_help(app: App) -> str:
    """The app's `--help` text, byte for byte as upstream prints it (see the module docstring)."""
    usage = app.usage or "A new cli application"  # urfave's App.Setup default
    if any(f.category for f in app.flags):
        # rootlesskit's CustomAppHelpTemplate (no wrapping; `nindent 3 | trim` on the description).
        parts = ["NAME:\n   ", app.name, " - " + usage, "\n\nUSAGE:\n   "]
        if app.usage_text:
            parts.append(app.usage_text)
        else:
            parts.append(app.help_name + " " + ("[global options]" if app.flags else "")
                         + (" command [command options]" if app.commands else "") + " "
                         + (app.args_usage or "[arguments...]"))
        if app.version:
            parts.append("\n\nVERSION:\n   " + app.version)
        if app.description:
            desc = ("\n" + "   " + app.description.replace("\n", "\n   ")).strip(_GO_SPACE)
            parts.append("\n\nDESCRIPTION:\n   " + desc)
        parts.append("\n\nOPTIONS:\n" + _categorized_flags(app.flags))
        return tabwrite("".join(parts))
    # urfave/cli v2.27 AppHelpTemplate.
    parts = ["NAME:\n   ", _name_line(app.help_name, usage), "\n\nUSAGE:\n   "]
    if app.usage_text:
        parts.append(_wrap(app.usage_text, 3))
    else:
        parts.append(app.help_name + " " + ("[global options]" if app.flags else "")
                     + (" command [command options]" if app.commands else "")
                     + (" " + app.args_usage if app.args_usage else (" [arguments...]" if app.args else "")))
    if app.version:
        parts.append("\n\nVERSION:\n   " + app.version)
    if app.description:
        parts.append("\n\nDESCRIPTION:\n   " + _wrap(app.description, 3))
    if app.commands:
        names = [", ".join((c.name,) + c.aliases) for c in app.commands]
        cv = max(len(n) for n in names) + 5
        parts.append("\n\nCOMMANDS:")
        for n, c in zip(names, app.commands):
            parts.append("\n   " + n + " " * max(cv - (len(n) + 3), 0) + _wrap(c.usage, cv))
    if app.flags:
        parts.append("\n\nGLOBAL OPTIONS:" + _visible_flags(app.flags))
    parts.append("\n")
    return tabwrite("".join(parts))


def render_command_help(app: App, cmd: Command) -> str:
    """urfave/cli v2.27 CommandHelpTemplate for `app cmd --help` / `app help cmd` (no subcommands)."""
    help_name = f"{app.help_name} {cmd.name}"
    parts = ["NAME:\n   ", _name_line(help_name, cmd.usage), "\n\nUSAGE:\n   "]
    if cmd.usage_text:
        parts.append(_wrap(cmd.usage_text, 3))
    else:
        parts.append(help_name + (" [command options]" if cmd.flags else "")
                     + (" " + cmd.args_usage if cmd.args_usage else (" [arguments...]" if cmd.args else "")))
    if cmd.description:
        parts.append("\n\nDESCRIPTION:\n   " + _wrap(cmd.description, 3))
    if cmd.flags:
        parts.append("\n\nOPTIONS:" + _visible_flags(cmd.flags))
    parts.append("\n")
    return tabwrite("".join(parts))


def render_go_usage(prog: str, flags: "list[Flag] | tuple[Flag, ...]") -> str:
    """Go's default flag usage (`Usage of <prog>:` + PrintDefaults), for plain Go `flag` programs.

    Flags are sorted by name; each prints `  -name type` then the usage on a `    \\t` line, with
    ` (default <v>)` only when the default is not the zero value (strings `%q`-quoted). `prog` is
    os.Args[0] as given. Go writes this to stderr after the error line, then exits 2 (0 for -h).
    """
    out = [f"Usage of {prog}:\n"]
    for f in sorted(flags, key=lambda f: f.name):
        name, usage = _unquote_usage(f.usage)
        if not name:
            name = {"bool": "", "int": "int", "string": "string", "slice": "value"}[f.kind]
        line = f"  -{f.name}" + (" " + name if name else "")
        line += "\t" if len(line) <= 4 else "\n    \t"
        line += usage.replace("\n", "\n    \t")
        d = f.default
        if f.kind == "string" and d != "":
            line += f" (default {go_quote(d)})"
        elif f.kind in ("bool", "int") and d:
            line += f" (default {str(d).lower() if f.kind == 'bool' else d})"
        out.append(line + "\n")
    return "".join(out)
