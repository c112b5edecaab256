"""rootlessctl: byte-compared with Debian's Go rootlessctl, against Go's rootlesskit and against ours."""

from __future__ import annotations

import json
import os

import pytest

from conftest import Impl, run
from portutil import SLIRP, Running, comparable_ctl_output, free_port
from rawhttp import CannedServer

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


# `GET /v1/ports` bodies, and whether the executable answers `list-ports` on them without its
# interpreter (native/rootlessctl.h: JSON read as plainly as the interpreter would read it); where it
# does not, it sends its interpreter, which asks again: a second connection
# An interpreter that cannot start: what shows that the executable answered without one.
NO_INTERPRETER = {"PYTHONIOENCODING": "no-such-codec"}
LISTED = [
    ("none", b"[]", True),
    ("one", b'[{"id":1,"spec":{"proto":"tcp","parentIP":"127.0.0.1","parentPort":8080,"childPort":80}}]', True),
    ("spaced, keys reordered, keys missing, a huge id",
     b' [ {"spec" : {"childIP": "10.0.2.100", "childPort": 65535, "proto": "udp"}, "id": 12345678901234567890123} ,'
     b'\n\t{} , {"id": 0, "spec": {}} ] ', True),
    ("a repeated spec replaces the last", b'[{"id":2,"spec":{"proto":"tcp"},"spec":{"parentPort":9}}]', True),
    ("a repeated key", b'[{"id":2,"id":3,"spec":{"proto":"tcp","proto":"udp"}}]', True),
    ("an empty spec before the id", b'[{"spec":{},"id":4}]', True),
    ("a null spec", b'[{"id":1,"spec":null}]', False),
    ("an id as a string", b'[{"id":"1"}]', False),
    ("an id with a fraction", b'[{"id":1.0}]', False),
    ("a negative id", b'[{"id":-1}]', False),
    ("an escape", b'[{"id":1,"spec":{"proto":"t\\u0063p"}}]', False),
    ("not ASCII (a cell's width is its characters)", b'[{"id":1,"spec":{"parentIP":"caf\xc3\xa9"}}]', False),
    ("a key Go matches without case", b'[{"ID":1}]', False),
    ("a key not in the table", b'[{"id":1,"spec":{"childNamespacePath":"/proc/1/ns/net"}}]', False),
    ("a trailing comma", b'[{"id":1},]', False),
    ("a leading comma", b'[{,"id":1}]', False),
    ("a missing comma", b'[{"id":1 "spec":{}}]', False),
    ("a missing comma after a spec", b'[{"spec":{} "id":1}]', False),
    ("a leading zero", b'[{"id":01}]', False),
    ("text after the list", b"[] x", False),
    ("null", b"null", False),
]


def _canned_list(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _list_ports_both_ways(tmp_path, response: bytes, answered_without_interpreter: bool) -> list[tuple]:
    """(exit code, stdout, stderr) of `list-ports` from the executable, then from the Python program,
    each against a server answering `response`. The executable runs where no interpreter could start
    if it is to answer alone; otherwise it must have asked twice."""
    results = []
    for impl in (Impl("binary"), Impl("python")):
        sock = str(tmp_path / f"{impl.kind}.sock")
        env = {**os.environ, **NO_INTERPRETER} if impl.kind == "binary" and answered_without_interpreter else None
        with CannedServer(sock, response) as server:
            result = run(impl.argv("rootlessctl") + ["--socket", sock, "list-ports"], env=env)
        results.append((result.returncode, result.stdout, result.stderr))
        if impl.kind == "binary":
            assert server.connections == (1 if answered_without_interpreter else 2)
    return results


@pytest.mark.parametrize("body, answered_without_interpreter", [row[1:] for row in LISTED],
                         ids=[row[0] for row in LISTED])
def test_list_ports_without_the_interpreter_prints_what_the_interpreter_prints(tmp_path, body,
                                                                              answered_without_interpreter):
    """The executable's table, or error, is the Python program's, byte for byte. Bodies read plainly
    are answered where no interpreter could start; the others take two requests (the C side's, then
    the interpreter's)."""
    ours, python = _list_ports_both_ways(tmp_path, _canned_list(body), answered_without_interpreter)
    assert ours == python
    assert "Traceback" not in ours[2]


def test_list_ports_socket_forms_print_the_same_table(tmp_path):
    """`--socket PATH`, `--socket=PATH` and $ROOTLESSKIT_STATE_DIR, with the Python program and with
    the executable, which answers each without its interpreter."""
    body = b'[{"id":7,"spec":{"proto":"tcp","parentIP":"0.0.0.0","parentPort":8080,"childPort":80}}]'
    sock = str(tmp_path / "api.sock")
    forms = [(["--socket", sock, "list-ports"], {}), ([f"--socket={sock}", "list-ports"], {}),
             (["list-ports"], {"ROOTLESSKIT_STATE_DIR": str(tmp_path)})]
    outputs = set()
    with CannedServer(sock, _canned_list(body)):
        for impl in (Impl("binary"), Impl("python")):
            for args, env in forms:
                no_interpreter = NO_INTERPRETER if impl.kind == "binary" else {}
                result = run(impl.argv("rootlessctl") + args, env={"PATH": "/usr/bin:/bin", **env, **no_interpreter})
                assert result.returncode == 0, result.stderr
                outputs.add(result.stdout)
    assert outputs == {"ID    PROTO    PARENTIP    PARENTPORT    CHILDIP    CHILDPORT    \n"
                       "7     tcp      0.0.0.0     8080                     80           \n"}


def test_list_ports_on_generated_bodies_prints_what_the_interpreter_prints(tmp_path):
    """Seeded random port lists, in JSON of several layouts, some with bytes changed, inserted,
    removed or cut off: the executable prints what the Python program prints, for each."""
    import random

    rng = random.Random(26)
    texts = ["tcp", "udp6", "", "127.0.0.1", "::1", "0.0.0.0", "x" * 40]

    def status() -> dict:
        spec = {key: rng.randint(0, 65535) if key.endswith("Port") else rng.choice(texts)
                for key in ("proto", "parentIP", "parentPort", "childIP", "childPort") if rng.random() < 0.8}
        return {"id": rng.randint(0, 10 ** rng.randint(1, 25)), "spec": spec} if rng.random() < 0.9 else {"spec": spec}

    for n in range(60):
        listed = [status() for _ in range(rng.choice([0, 1, 2, 5, 30]))]
        body = bytearray(json.dumps(listed, indent=rng.choice([None, 2]),
                                    separators=rng.choice([None, (",", ":"), (" , ", " : ")])).encode())
        for _ in range(rng.choice([0, 0, 1, 2])):
            where = rng.randrange(len(body))
            change = rng.randrange(3)
            if change == 0:
                body[where] = rng.choice(b'{}[],:"\\ 0-.e\x01\xc3')
            elif change == 1:
                body[where:where] = rng.choice([b",", b'"', b"1", b"-", b".5", b"\xc3\xa9", b'"x":1,', b"null"])
            else:
                del body[where:]
        sock = str(tmp_path / f"{n}.sock")
        with CannedServer(sock, _canned_list(bytes(body))):
            ours, python = (run(impl.argv("rootlessctl") + ["--socket", sock, "list-ports"])
                            for impl in (Impl("binary"), Impl("python")))
        assert (ours.returncode, ours.stdout, ours.stderr) == (python.returncode, python.stdout, python.stderr), body


# response heads around the body `[]`, and whether the executable reads them without its interpreter
HEADS = [
    ("no space after the colon", b"HTTP/1.1 200 OK\r\nContent-Length:2\r\n\r\n", True),
    ("a lower-case name, a space after the value", b"HTTP/1.1 200 OK\r\ncontent-length: 2 \r\n\r\n", True),
    ("a leading zero", b"HTTP/1.1 200 OK\r\nContent-Length: 02\r\n\r\n", True),
    ("no Content-Length: the body ends with the connection", b"HTTP/1.1 200 OK\r\nX-A:\r\n\r\n", True),
    ("Content-Length twice, the same", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", False),
    ("lines ended by LF alone", b"HTTP/1.1 200 OK\nContent-Length: 2\n\r\n", False),
    ("a status line ended by LF alone", b"HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\n", False),
    ("a 100 Continue first", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", False),
    ("HTTP/1.0", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", False),
    ("a folded line", b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\n", False),
]


@pytest.mark.parametrize("head, answered_without_interpreter", [row[1:] for row in HEADS],
                         ids=[row[0] for row in HEADS])
def test_list_ports_reads_response_heads_as_the_interpreter_does(tmp_path, head, answered_without_interpreter):
    """Heads the C side reads are read as the interpreter's client reads them; any other sends the
    interpreter, which asks again and answers as always."""
    ours, python = _list_ports_both_ways(tmp_path, head + b"[]", answered_without_interpreter)
    assert ours == python
