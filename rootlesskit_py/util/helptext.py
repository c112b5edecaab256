"""urfave/cli v2's help templates and Go flag's usage text, byte for byte.

Help output reproduces urfave/cli v2's templates run through Go's text/tabwriter (minwidth 1,
tabwidth 8, padding 2, pad char space). Two app layouts exist:

* flags with categories: rootlesskit's own CustomAppHelpTemplate plus its `formatFlags` (categories
  sorted bytewise, `OPTIONS:`, tab-terminated header/separator lines that the tabwriter pads);
* no categories: urfave's stock AppHelpTemplate (`GLOBAL OPTIONS:`, `COMMANDS:`), as rootlessctl uses.
"""

from rootlesskit_py.util.flags import GO_SPACE, App, Command, Flag, unquote_usage
from rootlesskit_py.util.gocompat import go_quote
from rootlesskit_py.util.tabwriter import tabwrite


def _wrap(text: str, offset: int) -> str:
    """urfave's template `wrap` at its 10000-column limit: continuation lines get `offset` spaces.
    (Lines longer than ~10000 characters are not re-flowed; urfave would word-wrap them.)"""
    pad = " " * offset
    lines = text.split("\n")
    return "\n".join([lines[0]] + [pad + ln if ln else ln for ln in lines[1:]])


def _visible_flags(flags: "list[Flag]") -> str:
    """urfave's visibleFlagTemplate: one `\\n   <flag>` per flag."""
    return "".join("\n   " + _wrap(f.help_text(), 6) for f in flags if not f.hidden)


def _categorized_flags(flags: "list[Flag]") -> str:
    """rootlesskit's formatFlags: bytewise-sorted categories, declaration order inside each."""
    cats: "dict[str, list[Flag]]" = {}
    for f in flags:
        if not f.hidden:
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
            desc = ("\n" + "   " + app.description.replace("\n", "\n   ")).strip(GO_SPACE)
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
        name, usage = unquote_usage(f.usage)
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
