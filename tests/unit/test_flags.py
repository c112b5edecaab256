"""Go-flag / urfave-cli-v2 parsing semantics and byte-exact help rendering
(rootlesskit, rootlessctl and rootlesskit-docker-proxy)."""

import copy
import pathlib

import pytest

from rootlesskit_py.cli.rootlesskit_flags import ROOTLESSKIT_APP, ROOTLESSKIT_FLAGS
from rootlesskit_py.util.flags import App, Command, Flag, FlagError, FlagHelp, help_command, help_flag, parse, version_flag
from rootlesskit_py.util.gocompat import go_quote
from rootlesskit_py.util.helptext import render_command_help, render_go_usage, render_help
from rootlesskit_py.util.strconv import parse_go_int
from rootlesskit_py.util.tabwriter import tabwrite

GOLDEN = pathlib.Path(__file__).resolve().parent.parent / "golden" / "rootlesskit-help.txt"


def _app_without_lxc_default() -> App:
    """The golden text was made on a host without lxc-user-nic: pin that flag's default to ""."""
    app = copy.copy(ROOTLESSKIT_APP)
    flags = []
    for f in ROOTLESSKIT_FLAGS:
        if f.name == "lxc-user-nic-binary":
            f = copy.copy(f)
            f.default = ""
        flags.append(f)
    app.flags = flags
    return app


def p(*argv: str):
    return parse(ROOTLESSKIT_FLAGS, list(argv))


# --- help -----------------------------------------------------------------------------------------

def test_golden_help_byte_exact():
    assert render_help(_app_without_lxc_default()) == GOLDEN.read_text()


def test_golden_file_options_padded_to_column_61():
    text = GOLDEN.read_text()
    opts = text.split("OPTIONS:\n", 1)[1].split("\n")[:-1]
    assert opts and all(len(ln) >= 61 and ln[:61].rstrip(" ") == ln[:61].rstrip() for ln in opts)
    assert opts[-1] == " " * 61
    assert "\n   \n" in text  # blank DESCRIPTION lines are 3 spaces


def test_help_shows_existing_lxc_user_nic_default():
    app = copy.copy(ROOTLESSKIT_APP)
    app.flags = [copy.copy(f) for f in ROOTLESSKIT_FLAGS]
    next(f for f in app.flags if f.name == "lxc-user-nic-binary").default = "/usr/lib/lxc/lxc-user-nic"
    assert ('path of lxc-user-nic binary for --net=lxc-user-nic (default: "/usr/lib/lxc/lxc-user-nic")'
            in render_help(app))


def test_flag_help_texts():
    by = {f.name: f for f in ROOTLESSKIT_FLAGS}
    assert by["debug"].help_text() == "--debug\tdebug mode (default: false)"
    assert by["help"].help_text() == "--help, -h\tshow help"
    assert by["mtu"].help_text().endswith("(default: 0)")
    assert by["cidr"].help_text().endswith("(default: 10.0.2.0/24)")  # from the usage, not a default
    assert by["publish"].help_text().startswith("--publish value, -p value [ --publish value, -p value ]\t")
    assert by["detach-netns"].help_text() == "--detach-netns\tdetach network namespaces  (default: false)"
    assert Flag("xy", "string", "", "trailing ").help_text() == "--xy value\ttrailing"
    assert Flag("x", "string", "a", "u", default_text="D").help_text() == "-x value\tu (default: D)"
    assert Flag("xy", "string", "", "the `FILE` path").help_text() == "--xy FILE\tthe FILE path"
    assert Flag("xy", "slice", ["a", ""], "u").help_text() == '--xy value [ --xy value ]\tu (default: "a")'


ROOTLESSCTL = App(
    "rootlessctl", "RootlessKit API client", version="3.2.0",
    flags=[
        Flag("debug", "bool", False, "debug mode"),
        Flag("socket", "string", "", 'Path to api.sock (under the "rootlesskit --state-dir" directory), '
             "defaults to $ROOTLESSKIT_STATE_DIR/api.sock"),
        help_flag(), version_flag(),
    ],
    commands=[
        Command("list-ports", "List ports", args_usage="[flags]",
                flags=[Flag("json", "bool", False, "Prints as JSON"), help_flag()]),
        Command("add-ports", "Add ports", args_usage="[flags] PARENTIP:PARENTPORT:CHILDPORT/PROTO "
                "[PARENTIP:PARENTPORT:CHILDPORT/PROTO...]",
                description='Add exposed ports. The port spec is similar to `docker run -p`. e.g. '
                '"127.0.0.1:8080:80/tcp".',
                flags=[Flag("json", "bool", False, "Prints as JSON"), help_flag()]),
        Command("remove-ports", "Remove ports", args_usage="[flags] ID [ID...]", flags=[help_flag()]),
        Command("info", "Show info", args_usage="[flags]",
                flags=[Flag("json", "bool", False, "Prints as JSON"), help_flag()]),
        help_command(),
    ],
)


def test_rootlessctl_app_help():
    assert render_help(ROOTLESSCTL) == (
        "NAME:\n"
        "   rootlessctl - RootlessKit API client\n"
        "\n"
        "USAGE:\n"
        "   rootlessctl [global options] command [command options]\n"
        "\n"
        "VERSION:\n"
        "   3.2.0\n"
        "\n"
        "COMMANDS:\n"
        "   list-ports    List ports\n"
        "   add-ports     Add ports\n"
        "   remove-ports  Remove ports\n"
        "   info          Show info\n"
        "   help, h       Shows a list of commands or help for one command\n"
        "\n"
        "GLOBAL OPTIONS:\n"
        "   --debug         debug mode (default: false)\n"
        '   --socket value  Path to api.sock (under the "rootlesskit --state-dir" directory), defaults to '
        "$ROOTLESSKIT_STATE_DIR/api.sock\n"
        "   --help, -h      show help\n"
        "   --version, -v   print the version\n"
    )


def test_rootlessctl_command_help():
    assert render_command_help(ROOTLESSCTL, ROOTLESSCTL.commands[1]) == (
        "NAME:\n"
        "   rootlessctl add-ports - Add ports\n"
        "\n"
        "USAGE:\n"
        "   rootlessctl add-ports [command options] [flags] PARENTIP:PARENTPORT:CHILDPORT/PROTO "
        "[PARENTIP:PARENTPORT:CHILDPORT/PROTO...]\n"
        "\n"
        "DESCRIPTION:\n"
        '   Add exposed ports. The port spec is similar to `docker run -p`. e.g. "127.0.0.1:8080:80/tcp".\n'
        "\n"
        "OPTIONS:\n"
        "   --json      Prints as JSON (default: false)\n"
        "   --help, -h  show help\n"
    )


def test_go_usage_docker_proxy():
    flags = [Flag("container-ip", "string", "", "container ip"), Flag("container-port", "int", -1, "container port"),
             Flag("host-ip", "string", "", "host ip"), Flag("host-port", "int", -1, "host port"),
             Flag("proto", "string", "tcp", "proxy protocol")]
    assert render_go_usage("rootlesskit-docker-proxy", flags) == (
        "Usage of rootlesskit-docker-proxy:\n"
        "  -container-ip string\n    \tcontainer ip\n"
        "  -container-port int\n    \tcontainer port (default -1)\n"
        "  -host-ip string\n    \thost ip\n"
        "  -host-port int\n    \thost port (default -1)\n"
        '  -proto string\n    \tproxy protocol (default "tcp")\n'
    )
    assert parse(flags, ["-host-port", "80", "--proto=udp"])[0]["host-port"] == 80
    with pytest.raises(FlagHelp):
        parse(flags, ["-help"])


def test_tabwrite_blocks_and_padding():
    # Columns are aligned per block of consecutive tabbed lines; the last cell is never padded.
    assert tabwrite("a\tb\nccc\td\nx\nlong\tz\n") == "a    b\nccc  d\nx\nlong  z\n"
    # rootlessctl list-ports: minwidth 4, padding 4, every cell tab-terminated.
    t = "ID\tPROTO\tPARENTIP\tPARENTPORT\tCHILDIP\tCHILDPORT\t\n1\ttcp\t127.0.0.1\t8080\t\t80\t\n"
    assert tabwrite(t, minwidth=4, padding=4) == (
        "ID    PROTO    PARENTIP     PARENTPORT    CHILDIP    CHILDPORT    \n"
        "1     tcp      127.0.0.1    8080                     80           \n")


# --- parsing --------------------------------------------------------------------------------------

def test_defaults():
    values, args = p("sh")
    assert args == ["sh"]
    assert values["net"] == "host" and values["mtu"] == 0 and values["source-ip-transparent"] is True
    assert values["copy-up"] == [] and values["publish"] == [] and values["pidns"] is False
    assert values["help"] is False and values["version"] is False


def test_comma_split_trim_and_accumulate():
    values, args = p("--copy-up=/etc, /run", "--copy-up", " /var ,/opt", "-p", "a,b", "-p= c ", "sh")
    assert values["copy-up"] == ["/etc", "/run", "/var", "/opt"]
    assert values["publish"] == ["a", "b", "c"]
    assert args == ["sh"]
    assert p("--copy-up=a,,b", "x")[0]["copy-up"] == ["a", "", "b"]


def test_p_alias_and_single_dash_long_flags():
    values, args = p("-p", "127.0.0.1:8080:80/tcp", "-net=slirp4netns", "-mtu", "1500", "-pidns", "cmd", "-x")
    assert values["publish"] == ["127.0.0.1:8080:80/tcp"]
    assert values["net"] == "slirp4netns" and values["mtu"] == 1500 and values["pidns"] is True
    assert args == ["cmd", "-x"]
    assert p("--p=x", "c")[0]["publish"] == ["x"]


def test_two_forms_of_same_flag():
    with pytest.raises(FlagError) as e:
        p("--publish", "a", "-p", "b", "sh")
    assert str(e.value) == "Cannot use two forms of the same flag: p publish"
    with pytest.raises(FlagError) as e:
        p("-h", "--help")
    assert str(e.value) == "Cannot use two forms of the same flag: h help"


def test_slice_default_replaced_by_first_set():
    flags = [Flag("s", "slice", ["d1", "d2"], "u")]
    assert parse(flags, [])[0]["s"] == ["d1", "d2"]
    assert parse(flags, ["-s", "a", "-s", "b,c"])[0]["s"] == ["a", "b", "c"]


def test_bool_takes_value_only_with_equals():
    values, args = p("--pidns", "true", "sh")
    assert values["pidns"] is True and args == ["true", "sh"]
    values, args = p("--pidns=false", "--source-ip-transparent=0", "--debug=T", "sh")
    assert values["pidns"] is False and values["source-ip-transparent"] is False and values["debug"] is True


def test_stop_at_positional_and_double_dash():
    values, args = p("--debug", "--", "--net=x", "sh")
    assert values["debug"] is True and values["net"] == "host" and args == ["--net=x", "sh"]
    assert p("sh", "-exc", "exit 42")[1] == ["sh", "-exc", "exit 42"]
    assert p("-", "--debug")[1] == ["-", "--debug"]
    assert p("--", "--")[1] == ["--"]
    assert p()[1] == []


def test_string_value_may_look_like_flag():
    values, args = p("--state-dir", "--debug", "sh")
    assert values["state-dir"] == "--debug" and values["debug"] is False and args == ["sh"]
    assert p("--net=", "sh")[0]["net"] == ""
    assert p("--cidr=a=b", "sh")[0]["cidr"] == "a=b"


@pytest.mark.parametrize("argv,msg", [
    (["--foo"], "flag provided but not defined: -foo"),
    (["-foo", "sh"], "flag provided but not defined: -foo"),
    (["--foo=bar"], "flag provided but not defined: -foo"),
    (["--mtu=abc", "sh"], 'invalid value "abc" for flag -mtu: parse error'),
    (["--mtu", "abc"], 'invalid value "abc" for flag -mtu: parse error'),
    (["--mtu=99999999999999999999", "sh"], 'invalid value "99999999999999999999" for flag -mtu: value out of range'),
    (["--mtu=9223372036854775808"], 'invalid value "9223372036854775808" for flag -mtu: value out of range'),
    (["--pidns=x", "sh"], 'invalid boolean value "x" for -pidns: parse error'),
    (["--pidns=", "sh"], 'invalid boolean value "" for -pidns: parse error'),
    (["--mtu"], "flag needs an argument: -mtu"),
    (["-p"], "flag needs an argument: -p"),
    (["---net=x"], "bad flag syntax: ---net=x"),
    (["-=x"], "bad flag syntax: -=x"),
    (["--mtu=\"q\""], 'invalid value "\\"q\\"" for flag -mtu: parse error'),
])
def test_errors(argv, msg):
    with pytest.raises(FlagError) as e:
        parse(ROOTLESSKIT_FLAGS, argv)
    assert str(e.value) == msg
    assert not isinstance(e.value, FlagHelp)


def test_help_and_version_are_plain_bools():
    values, args = p("-v", "-h")
    assert values["help"] is True and values["version"] is True and args == []


@pytest.mark.parametrize("s,want", [
    ("0", 0), ("42", 42), ("-42", -42), ("+7", 7), ("0x1F", 31), ("0X1f", 31), ("0o17", 15), ("017", 15),
    ("0b101", 5), ("1_000", 1000), ("0x_ff", 255), ("0_7", 7), ("-9223372036854775808", -(1 << 63)),
    ("9223372036854775807", (1 << 63) - 1),
])
def test_go_int_ok(s, want):
    assert parse_go_int(s) == want


@pytest.mark.parametrize("s,err", [
    ("", "parse error"), ("-", "parse error"), ("08", "parse error"), ("0x", "parse error"), ("1_", "parse error"),
    ("_1", "parse error"), ("1__0", "parse error"), ("0x1g", "parse error"), ("1.0", "parse error"),
    (" 1", "parse error"), ("\u0663", "parse error"), ("+-1", "parse error"),
    ("9223372036854775808", "value out of range"), ("-9223372036854775809", "value out of range"),
    ("0xffffffffffffffffff", "value out of range"),
])
def test_go_int_errors(s, err):
    with pytest.raises(ValueError) as e:
        parse_go_int(s)
    assert str(e.value) == err


def test_go_quote():
    assert go_quote("") == '""'
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\n\t\x01\x7f") == '"\\n\\t\\x01\\x7f"'
    assert go_quote("h\u00e9\u200b") == '"h\u00e9\\u200b"'
    assert go_quote("\udcff") == '"\\xff"'
