"""rootlessctl: byte-compared with Debian's Go rootlessctl, against Go's rootlesskit and against ours."""

from __future__ import annotations

import json

import pytest

from conftest import run
from portutil import SLIRP, Running, comparable_ctl_output, free_port

BUILTIN = SLIRP + ["--port-driver=builtin", "sleep", "infinity"]


def _session(ctl: list[str], port: int) -> list[list[str]]:
    return [
        ctl + ["list-ports"],
        ctl + ["add-ports", f"127.0.0.1:{port}:80/tcp", f"[::1]:{port}:[127.0.0.1]:81/tcp6"],
        ctl + ["add-ports", "--json", f"0.0.0.0:{port + 1}:82/udp"],
        ctl + ["list-ports"],
        ctl + ["list-ports", "--json"],
        ctl + ["add-ports", f"127.0.0.1:{port}:80/tcp"],  # conflict
        ctl + ["add-ports", "bad"],
        ctl + ["add-ports"],
        ctl + ["remove-ports", "x"],
        ctl + ["remove-ports", "2", "99"],
        ctl + ["remove-ports"],
        ctl + ["list-ports"],
        ctl + ["info"],
        ctl + ["info", "--json"],
    ]


@pytest.mark.parametrize("kit", ["go", "ours"])
def test_ours_prints_what_go_prints(impl, go, tmp_path, kit):
    """Our rootlessctl and Go's, the same commands against the same rootlesskit (Go's, then ours)."""
    port, outputs = free_port(), {}
    for name, ctl in (("ours", impl.argv("rootlessctl")), ("go", go.argv("rootlessctl"))):
        with Running((go if kit == "go" else impl).argv(), BUILTIN, tmp_path / name) as rk:
            results = [run(argv) for argv in _session(ctl + ["--socket", str(rk.state / "api.sock")], port)]
        outputs[name] = [(r.returncode, comparable_ctl_output(r.stdout, str(tmp_path / name)), r.stderr) for r in results]
    for mine, theirs in zip(outputs["ours"], outputs["go"]):
        assert mine == theirs


def test_table_pads_every_column(impl, go, tmp_path):
    port = free_port()
    with Running(impl.argv(), BUILTIN, tmp_path / "state") as rk:
        ctl = impl.argv("rootlessctl") + ["--socket", str(rk.state / "api.sock")]
        assert run(ctl + ["add-ports", f"127.0.0.1:{port}:80/tcp"]).stdout == "1\n"
        table = run(ctl + ["list-ports"]).stdout
    assert table == ("ID    PROTO    PARENTIP     PARENTPORT    CHILDIP    CHILDPORT    \n"
                     f"1     tcp      127.0.0.1    {port:<14}{'':11}{'80':<13}\n")


def test_socket_from_state_dir_env_and_errors(impl, go, tmp_path):
    cases = [({}, ["list-ports"]), ({"ROOTLESSKIT_STATE_DIR": str(tmp_path / "none")}, ["info"]),
             ({}, ["--socket", str(tmp_path / "missing.sock"), "info"])]
    for env, args in cases:
        mine = run(impl.argv("rootlessctl") + args, env={"PATH": "/usr/bin:/bin", **env})
        theirs = run(go.argv("rootlessctl") + args, env={"PATH": "/usr/bin:/bin", **env})
        assert (mine.returncode, mine.stdout, mine.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
        assert mine.returncode == 1 and mine.stderr.startswith("error: ")


def test_info_text_and_json(impl, tmp_path):
    with Running(impl.argv(), BUILTIN, tmp_path / "state") as rk:
        ctl = impl.argv("rootlessctl") + ["--socket", str(rk.state / "api.sock")]
        text, as_json = run(ctl + ["info"]).stdout, run(ctl + ["info", "--json"]).stdout
        pid = rk.child_pid()
    assert text == (f"- REST API version: 1.1.3\n- Implementation version: 3.2.0\n- State Directory: {tmp_path / 'state'}\n"
                    f"- Child PID: {pid}\n- Network Driver: slirp4netns\n  - DNS: [10.0.2.3]\n  - IP: 10.0.2.100\n"
                    "- Port Driver: builtin\n  - Supported protocols: [tcp tcp4 tcp6 udp udp4 udp6]\n")
    assert as_json.startswith('{\n    "apiVersion": "1.1.3",\n') and json.loads(as_json)["childPID"] == pid
    assert as_json.endswith('\n        "extra": {\n            "sourceIPTransparentBackend": "nft"\n        }\n    }\n}\n')


@pytest.mark.parametrize("args, code, stream, text", [
    (["--version"], 0, "stdout", "rootlessctl version 3.2.0\n"),
    (["bogus"], 3, "stderr", "No help topic for 'bogus'\n"),
    (["help", "bogus"], 3, "stderr", "No help topic for 'bogus'\n"),
    (["--bogus"], 1, "stderr", "error: flag provided but not defined: -bogus\n"),
    (["list-ports", "--bogus"], 1, "stderr", "error: flag provided but not defined: -bogus\n"),
])
def test_cli_edges(impl, args, code, stream, text):
    result = run(impl.argv("rootlessctl") + args)
    assert result.returncode == code
    assert getattr(result, stream) == text


def test_help_lists_the_commands(impl):
    out = run(impl.argv("rootlessctl") + ["--help"]).stdout
    assert out.startswith("NAME:\n   rootlessctl - RootlessKit API client\n\nUSAGE:\n   "
                          "rootlessctl [global options] command [command options]")
    for line in ("   list-ports    List ports", "   add-ports     Add ports", "   remove-ports  Remove ports",
                 "   info          Show info", "   --socket value  Path to api.sock"):
        assert line in out
    sub = run(impl.argv("rootlessctl") + ["add-ports", "--help"]).stdout
    assert "rootlessctl add-ports [command options] [flags] PARENTIP:PARENTPORT:CHILDPORT/PROTO" in sub
    assert "--json      Prints as JSON (default: false)" in sub
