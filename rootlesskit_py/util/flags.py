"""Command-line flags with the semantics of Go's `flag` package as driven by urfave/cli v2.

Upstream's three programs parse their arguments with Go's `flag` (rootlesskit-docker-proxy directly,
rootlesskit and rootlessctl through urfave/cli v2.27), and scripts depend on the quirks: `-x` equals
`--x`, a bool takes a value only as `--x=v`, parsing stops at the first positional, string slices split
on commas, and the error texts are printed verbatim. argparse can do none of that, and start-up time
matters (this module is imported by every run, including the re-executed child), so this module is
stdlib-free and small; the help templates (util/helptext.py) are imported only to print help.

An app's flag list is exactly what gets parsed and rendered: help/version are ordinary bool flags the
caller puts in the table (see `help_flag`/`version_flag`) and interprets itself, help before version.
"""

from rootlesskit_py.util.gocompat import go_quote
from rootlesskit_py.util.strconv import parse_go_bool, parse_go_int

_KINDS = ("bool", "string", "int", "slice")
# Go's unicode.IsSpace set, used by strings.TrimSpace on each slice piece (Python's str.strip() also
# strips U+001C..U+001F, which Go keeps).
GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
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
    DisableDefaultText, used by help/version). A `hidden` flag (urfave's Hidden) is accepted but not
    shown: our extensions stay out of a help text that is upstream's. The default is otherwise shown per urfave's
    GetDefaultText: bools and ints always, strings `%q`-quoted only when non-empty, slices only when
    non-empty.
    """

    __slots__ = ("name", "aliases", "kind", "default", "usage", "category", "default_text", "hide_default",
                 "hidden")

    def __init__(self, name: str, kind: str = "string", default: object = None, usage: str = "", *,
                 aliases: "tuple[str, ...] | list[str]" = (), category: str = "", default_text: str = "",
                 hide_default: bool = False, hidden: bool = False) -> None:
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
        self.hidden = hidden

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
        placeholder, usage = unquote_usage(self.usage)
        if self.kind != "bool" and not placeholder:
            placeholder = "value"
        shown = self.shown_default()
        text = (usage + (f" (default: {shown})" if shown else "")).strip(GO_SPACE)
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


def unquote_usage(usage: str) -> "tuple[str, str]":
    """urfave's unquoteUsage: the first `word` in backquotes is the placeholder; quotes removed."""
    i = usage.find("`")
    if i >= 0:
        j = usage.find("`", i + 1)
        if j >= 0:
            name = usage[i + 1:j]
            return name, usage[:i] + name + usage[j + 1:]
    return "", usage


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
    by_name = {n: f for f in flags for n in f.names}
    values: "dict[str, object]" = {f.name: list(f.default) if f.kind == "slice" else f.default for f in flags}
    replaced: "set[str]" = set()  # slices whose default their first value replaced
    seen: "set[str]" = set()
    i = 0
    while i < len(argv):
        token = _flag_token(argv[i])
        if token is None:
            i += argv[i] == "--"  # `--` is consumed, a positional is not
            break
        name, value = token
        i += 1
        f = by_name.get(name)
        if f is None:
            if name in ("help", "h"):
                raise FlagHelp()
            raise FlagError(f"flag provided but not defined: -{name}")
        if value is None and f.kind != "bool":
            if i >= len(argv):
                raise FlagError(f"flag needs an argument: -{name}")
            value, i = argv[i], i + 1
        _set(values, replaced, f, name, value)
        seen.add(name)
    _refuse_two_forms(flags, seen)
    return values, list(argv[i:])


def _flag_token(s: str) -> "tuple[str, str | None] | None":
    """(name, value after `=` or None) of a flag argument; None where parsing stops (a positional,
    a lone `-`, or `--`)."""
    if len(s) < 2 or s[0] != "-" or s == "--":
        return None
    name = s[2:] if s[1] == "-" else s[1:]
    if not name or name[0] in "-=":
        raise FlagError(f"bad flag syntax: {s}")
    eq = name.find("=", 1)
    return (name[:eq], name[eq + 1:]) if eq > 0 else (name, None)


def _set(values: "dict[str, object]", replaced: "set[str]", f: Flag, name: str, value: "str | None") -> None:
    """Store one occurrence of `f` (given as `name`), with Go's texts for a bad value."""
    if f.kind == "bool":
        if value is None:
            values[f.name] = True
            return
        try:
            values[f.name] = parse_go_bool(value)
        except ValueError as e:
            raise FlagError(f"invalid boolean value {go_quote(value)} for -{name}: {e}") from None
    elif f.kind == "string":
        values[f.name] = value
    elif f.kind == "int":
        try:
            values[f.name] = parse_go_int(value)
        except ValueError as e:
            raise FlagError(f"invalid value {go_quote(value)} for flag -{name}: {e}") from None
    else:
        if f.name not in replaced:  # the first Set replaces the default
            replaced.add(f.name)
            values[f.name] = []
        values[f.name].extend(p.strip(GO_SPACE) for p in value.split(","))


def _refuse_two_forms(flags: "list[Flag] | tuple[Flag, ...]", seen: "set[str]") -> None:
    """urfave's normalizeFlags: one flag given under two of its names is an error."""
    for f in flags:
        if f.aliases:
            first = ""
            for n in f.names:
                if n in seen:
                    if first:
                        raise FlagError(f"Cannot use two forms of the same flag: {n} {first}")
                    first = n
