"""Port forwarding: the builtin driver's data path and Go semantics, the slirp4netns driver, the REST
API on api.sock (wire-compared with Go RootlessKit), Go's rootlessctl against our socket, and the
faults users hit (ports in use, privileged ports, refusing targets, crashes)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import REPO, ROOT_HELPER, run
from portutil import (SLIRP, Running, comparable_ctl_output, echo, echo_closed, first_reply, free_port, refuses, server_command,
                      udp_echo, wait_echo)

BUILTIN = SLIRP + ["--port-driver=builtin"]


def started(impl, tmp_path, flags: list[str], command: list[str] | None = None, name: str = "state") -> Running:
    return Running(impl.argv(), flags + (command or server_command()), tmp_path / name)


# --- the data path ------------------------------------------------------------------------------

def test_tcp_reaches_the_server_inside_and_half_close_passes(impl, tmp_path):
    port = free_port()
    with started(impl, tmp_path, BUILTIN + ["-p", f"127.0.0.1:{port}:8080/tcp"]):
        peer, echoed = wait_echo(("127.0.0.1", port), payload=b"x" * 1_000_000)
        assert echoed == b"x" * 1_000_000  # all of it came back after our half-close
        assert peer == "127.0.0.1"  # loopback clients are never made transparent


def _congestion_controls(child_pid: int, ss_filter: str) -> list[str]:
    """The congestion control of each established TCP socket in the child's namespace that matches."""
    result = run(["nsenter", "-U", "--preserve-credentials", "-n", "-t", str(child_pid),
                  "ss", "-tinH", "state", "established", ss_filter])
    assert result.returncode == 0, result.stderr
    known = {"cubic", "reno", "bbr", "htcp", "vegas", "westwood", "dctcp", "bic", "illinois", "yeah"}
    return [word for word in result.stdout.split() if word in known]


def test_the_dialled_leg_never_paces(impl, tmp_path):
    """The pump's connection inside the namespace uses cubic, whatever the namespace's default. A pacing
    default (BBR here) held TCP through the pump well below what the CPUs allow (BENCHMARKS.md). The
    command sets the namespace's default to reno first, so the check holds on a cubic host as well,
    and the server's end shows that default."""
    port = free_port()
    server = " ".join(server_command())
    command = ["sh", "-c", f"echo reno > /proc/sys/net/ipv4/tcp_congestion_control && exec {server}"]
    with started(impl, tmp_path, BUILTIN + ["-p", f"127.0.0.1:{port}:8080/tcp"], command) as kit:
        wait_echo(("127.0.0.1", port))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            assert client.recv(100).endswith(b"\n")  # the server's greeting: both legs are up
            assert _congestion_controls(kit.child_pid(), "dport = :8080") == ["cubic"]
            assert _congestion_controls(kit.child_pid(), "sport = :8080") == ["reno"]


@pytest.mark.parametrize("spec, reach_v4, reach_v6", [
    ("0.0.0.0:{p}:8080/tcp", True, True),    # Go: tcp on an unspecified address is dual-stack
    (":{p}:8080/tcp", True, True),
    ("0.0.0.0:{p}:8080/tcp4", True, False),
    ("[::]:{p}:8080/tcp6", False, True),
    ("[::]:{p}:[127.0.0.1]:8080/tcp6", False, True),  # v6 -> v4 inside
    ("0.0.0.0:{p}:[::1]:8080/tcp4", True, False),     # v4 -> v6 inside
    ("[127.0.0.1]:{p}:8080/tcp", True, False),        # brackets allowed for IPv4
])
def test_listen_families_follow_go(impl, tmp_path, spec, reach_v4, reach_v6):
    """upstream hack/integration-port.sh's matrix."""
    port = free_port()
    with started(impl, tmp_path, BUILTIN + ["-p", spec.format(p=port)]):
        for host, expected in (("127.0.0.1", reach_v4), ("::1", reach_v6)):
            if expected:
                assert wait_echo((host, port))[1] == b"ping"
            else:
                assert refuses((host, port))


def test_tcp4_and_tcp6_on_the_same_port_coexist(impl, tmp_path):
    port = free_port()
    with started(impl, tmp_path, BUILTIN + ["-p", f"0.0.0.0:{port}:8080/tcp4", "-p", f"[::]:{port}:8080/tcp6"]):
        assert wait_echo(("127.0.0.1", port))[1] == b"ping"
        assert wait_echo(("::1", port))[1] == b"ping"


@pytest.mark.parametrize("proto, host", [("udp", "127.0.0.1"), ("udp", "::1"), ("udp4", "127.0.0.1"), ("udp6", "::1")])
def test_udp_round_trips(impl, tmp_path, proto, host):
    port = free_port(socket.SOCK_DGRAM)
    parent = "[::]" if proto == "udp6" else "0.0.0.0"
    with started(impl, tmp_path, BUILTIN + ["-p", f"{parent}:{port}:9000/{proto}"], server_command("udp", 9000)):
        deadline = time.monotonic() + 20
        while (reply := udp_echo((host, port), b"hello")) is None:
            assert time.monotonic() < deadline, "no UDP echo"
        assert reply == b"hello"
        # a second client gets its own flow, and the first still works
        assert udp_echo((host, port), b"second") == b"second"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_udp_bursts_from_many_clients_each_come_back_to_their_client(impl, tmp_path, host):
    """The relay takes datagrams in batches and groups them per client: bursts of 4 clients at once,
    interleaved, each datagram a different size, and the largest UDP payload, all come back to the
    client that sent them, in order (each client has its own socket inside, as upstream). A burst
    stays well under the echo server's receive buffer: UDP may drop what overflows it."""
    port = free_port(socket.SOCK_DGRAM)
    largest = 65507 if ":" not in host else 65527
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with started(impl, tmp_path, BUILTIN + ["-p", f"{'[::]' if ':' in host else '0.0.0.0'}:{port}:9000/udp"],
                 server_command("udp", 9000)):
        deadline = time.monotonic() + 20
        while udp_echo((host, port), b"up") is None:
            assert time.monotonic() < deadline, "no UDP echo"
        clients = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(20)]
        try:
            for first in range(0, len(clients), 4):
                group = list(enumerate(clients))[first:first + 4]
                sent = {i: [bytes([i]) * (1 + 37 * i + 101 * n) for n in range(8)] for i, _ in group}
                for n in range(8):
                    for i, c in group:
                        c.sendto(sent[i][n], (host, port))
                for i, c in group:
                    c.settimeout(5)
                    got = [c.recv(65535) for _ in sent[i]]
                    assert [len(d) for d in got] == [len(d) for d in sent[i]] and got == sent[i], f"client {i}"
            clients[0].sendto(b"L" * largest, (host, port))
            assert clients[0].recv(65535) == b"L" * largest
        finally:
            for c in clients:
                c.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_udp_runs_of_equal_sizes_keep_their_boundaries(impl, tmp_path, host):
    """A bulk sender's runs of equal-sized datagrams (which the relay sends segmented, as one packet
    cut up by the kernel) arrive as the same datagrams, in order, both ways: a run ended by a shorter
    datagram, runs longer than a batch, and empty datagrams."""
    port = free_port(socket.SOCK_DGRAM)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sizes = [1400] * 12 + [600] + [1400] * 34 + [200] * 7 + [9000] * 3 + [0] * 3 + [1]
    sent = [bytes([n % 251]) * size for n, size in enumerate(sizes)]
    with started(impl, tmp_path, BUILTIN + ["-p", f"{'[::]' if ':' in host else '0.0.0.0'}:{port}:9000/udp"],
                 server_command("udp", 9000)):
        deadline = time.monotonic() + 20
        while udp_echo((host, port), b"up") is None:
            assert time.monotonic() < deadline, "no UDP echo"
        with socket.socket(family, socket.SOCK_DGRAM) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            client.settimeout(5)
            for datagram in sent:
                client.sendto(datagram, (host, port))
            got = [client.recv(65535) for _ in sent]
        assert [len(d) for d in got] == sizes
        assert got == sent


def test_udp_port_removed_stops_relaying_and_can_come_back(impl, tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    with started(impl, tmp_path, BUILTIN + ["-p", f"127.0.0.1:{port}:9000/udp"], server_command("udp", 9000)) as rk:
        deadline = time.monotonic() + 20
        while udp_echo(("127.0.0.1", port), b"up") is None:
            assert time.monotonic() < deadline, "no UDP echo"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:  # a flow open when the port goes
            client.settimeout(2)
            client.sendto(b"before", ("127.0.0.1", port))
            assert client.recv(100) == b"before"
            [status] = json.loads(rk.api("GET", "/v1/ports")[2])
            assert rk.api("DELETE", f"/v1/ports/{status['id']}")[0] == 200
            with pytest.raises(OSError):  # the host socket is closed: an ICMP unreachable, or nothing
                client.sendto(b"after", ("127.0.0.1", port))
                client.recv(100)
        spec = {"proto": "udp", "parentIP": "127.0.0.1", "parentPort": port, "childPort": 9000}
        assert rk.api("POST", "/v1/ports", spec)[0] == 201
        assert udp_echo(("127.0.0.1", port), b"again") == b"again"


def _host_ipv4() -> str:
    """A non-loopback IPv4 address of this machine (tests/run brings up lxcbr0 at 10.0.3.1)."""
    from rootlesskit_py.util.netlink import Netlink

    with Netlink() as netlink:
        addresses = [a for a in netlink.ipv4_addresses() if not a.startswith("127.")]
    assert addresses, "no non-loopback IPv4 address on this machine"
    return addresses[0]


@pytest.mark.parametrize("transparent", [True, False])
def test_source_ip_is_propagated_for_tcp(impl, tmp_path, transparent):
    """v3 --source-ip-transparent (default true): the server inside sees the real client address."""
    port, source = free_port(), _host_ipv4()
    flags = BUILTIN + ["--debug", "-p", f"0.0.0.0:{port}:8080/tcp", f"--source-ip-transparent={str(transparent).lower()}"]
    with started(impl, tmp_path, flags, server_command("tcp", 8080, "0.0.0.0")) as rk:
        assert wait_echo(("127.0.0.1", port))[0] == "127.0.0.1"  # loopback clients stay as they are
        peer, echoed = echo((source, port), source=source)
        assert echoed == b"ping"
        assert peer == (source if transparent else "127.0.0.1"), rk.stderr()


def _path_without(tmp_path: pathlib.Path, hidden: tuple[str, ...]) -> str:
    """A PATH of one directory linking every program of ours but `hidden` (nft, or iptables and
    ip6tables): a host where that firewall tool is not installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        for program in (pathlib.Path(directory).iterdir() if os.path.isdir(directory) else ()):
            link = bin_dir / program.name
            if program.name not in hidden and not link.exists():
                link.symlink_to(program)
    return str(bin_dir)


@pytest.mark.parametrize("backend, hidden, expected", [
    ("auto", (), "nft"),  # nft first
    ("auto", ("nft",), "iptables"),  # the fallback
    ("auto", ("iptables", "ip6tables"), "nft"),  # a host with nftables only (rootlesskit#589)
    ("nft", ("iptables", "ip6tables"), "nft"),
    ("iptables", ("nft",), "iptables"),
    ("iptables", ("iptables", "ip6tables"), "none"),  # the one asked for is missing: source IPs are lost
])
def test_source_ip_transparent_backend(impl, tmp_path, backend, hidden, expected):
    """v3.2 --source-ip-transparent-backend: the backend that marks the forwarder's connections, and
    the one in use reported as portDriver.extra.sourceIPTransparentBackend (API 1.1.3)."""
    for tool in ("nft", "iptables", "ip6tables"):
        assert shutil.which(tool), f"test prerequisite missing: {tool} (apt-get install nftables iptables)"
    port, source = free_port(), _host_ipv4()
    env = {**os.environ, "PATH": _path_without(tmp_path, hidden)}
    flags = BUILTIN + ["--debug", "-p", f"0.0.0.0:{port}:8080/tcp", f"--source-ip-transparent-backend={backend}"]
    with Running(impl.argv(), flags + server_command("tcp", 8080, "0.0.0.0"), tmp_path / "state", env=env) as rk:
        # a connection made before the server inside listens is refused on its transparent dial and
        # may reach the server on the fallback dial (127.0.0.1) once it listens: wait for it first
        wait_echo((source, port), source=source)
        peer, echoed = echo((source, port), source=source)
        assert echoed == b"ping"
        assert peer == (source if expected != "none" else "127.0.0.1"), rk.stderr()
        ctl = run(impl.argv("rootlessctl") + ["--socket", str(rk.state / "api.sock"), "info", "--json"])
        listed = run(["nsenter", "-U", "-n", "--preserve-credentials", "-t", str(rk.child_pid()),
                      "nft", "list", "ruleset"])
    assert json.loads(ctl.stdout)["portDriver"]["extra"] == {"sourceIPTransparentBackend": expected}, ctl.stderr
    assert ("table inet rootlesskit" in listed.stdout) == (expected == "nft"), listed
    if expected == "none":
        assert "source IP transparent: falling back to non-transparent mode" in rk.stderr()
        assert 'iptables\\": executable file not found in $PATH' in rk.stderr()  # quotes escaped by the log format


def test_transparent_dial_to_a_refusing_target_fails_fast(impl, tmp_path):
    """Nothing listens inside: with source IP propagation the client is closed at once (no 1 s wait)."""
    port, source = free_port(), _host_ipv4()
    with started(impl, tmp_path, BUILTIN + ["--debug", "-p", f"0.0.0.0:{port}:8080/tcp"], ["sleep", "infinity"]) as rk:
        for client in ("127.0.0.1", source):  # loopback first: the source-IP set-up is not timed
            started_at = time.monotonic()
            echo_closed((client, port), source=client)
        assert time.monotonic() - started_at < 0.9, rk.stderr()
        assert "transparent dial failed, falling back: dial tcp 127.0.0.1:8080: connect: connection refused" in rk.stderr()


def test_refusing_target_closes_the_client_and_keeps_serving(impl, tmp_path):
    """Nothing listens inside at first: the client is closed; the forwarder still serves afterwards."""
    port, ready = free_port(), tmp_path / "go"
    command = ["sh", "-c", f"while [ ! -e {ready} ]; do sleep 0.05; done; exec " + " ".join(server_command())]
    with started(impl, tmp_path, BUILTIN + ["-p", f"127.0.0.1:{port}:8080/tcp"], command):
        for _ in range(3):  # accepted on the host, then closed (reset: our bytes were never read)
            echo_closed(("127.0.0.1", port))
        ready.touch()
        assert wait_echo(("127.0.0.1", port))[1] == b"ping"


def _fds(pid: int) -> tuple[int, int]:
    """(sockets, other descriptors) of a process: pipes come and go with the pump's small pool."""
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:  # closed meanwhile
            pass
    sockets = sum(link.startswith("socket:") for link in links)
    return sockets, len(links) - sockets


def test_ten_thousand_connections_leak_nothing(impl, tmp_path):
    """Clients that finish, and clients that connect and vanish: no descriptor or process is left."""
    port = free_port()
    with started(impl, tmp_path, BUILTIN + ["-p", f"127.0.0.1:{port}:8080/tcp"]) as rk:
        wait_echo(("127.0.0.1", port))
        child, parent = rk.child_pid(), rk.proc.pid
        time.sleep(0.2)  # the probe connection's teardown
        before = (_fds(child), _fds(parent))
        for i in range(10_000):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                if i % 2:  # vanish without a word, half of them with a reset
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                    continue
                s.sendall(b"x")
                s.shutdown(socket.SHUT_WR)
                while s.recv(4096):
                    pass
        deadline = time.monotonic() + 10
        while (_fds(child)[0], _fds(parent)) != (before[0][0], before[1]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (_fds(child)[0], _fds(parent)) == (before[0][0], before[1])
        assert _fds(child)[1] <= before[0][1] + 2 * 32  # at most the pump's pipe pool
        assert wait_echo(("127.0.0.1", port))[1] == b"ping"


def test_forwarder_lifts_nofile_and_the_command_keeps_its_own(impl, tmp_path):
    """The child (the forwarder, two descriptors per connection) runs with soft NOFILE = hard, as Go
    programs do; the command gets the soft limit rootlesskit was started with."""
    import resource

    original = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = min(original[0], 1000), original[1]
    assert soft < hard
    report = tmp_path / "nofile"
    command = ["sh", "-c", f"ulimit -Sn > {report}; exec sleep 30"]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))  # what rootlesskit inherits
    try:
        rk = started(impl, tmp_path, BUILTIN + ["-p", f"127.0.0.1:{free_port()}:8080/tcp"], command)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, original)
    with rk:
        deadline = time.monotonic() + 10
        while not report.exists() or not report.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert report.read_text().strip() == str(soft)
        limits = pathlib.Path(f"/proc/{rk.child_pid()}/limits").read_text()
        assert re.search(rf"Max open files\s+{hard}\s+{hard}", limits), limits


# --- the API ------------------------------------------------------------------------------------

def test_api_adds_lists_and_removes_ports(impl, tmp_path):
    port = free_port()
    with started(impl, tmp_path, BUILTIN, ["sleep", "infinity"]) as rk:
        assert rk.api("GET", "/v1/ports")[2] == b"null"
        status, headers, body = rk.api("POST", "/v1/ports", {"proto": "tcp", "parentIP": "127.0.0.1",
                                                             "parentPort": port, "childPort": 80})
        assert (status, headers["content-type"]) == (201, "application/json")
        assert body == b'{"id":1,"spec":{"proto":"tcp","parentIP":"127.0.0.1","parentPort":%d,"childPort":80}}' % port
        assert json.loads(rk.api("GET", "/v1/ports")[2]) == [json.loads(body)]
        assert not refuses(("127.0.0.1", port))
        assert rk.api("DELETE", "/v1/ports/1")[:3:2] == (200, b"")
        assert refuses(("127.0.0.1", port))  # the host port is free at once
        socket.create_server(("127.0.0.1", port)).close()
        # ids are never reused
        assert json.loads(rk.api("POST", "/v1/ports", {"proto": "tcp", "parentPort": port, "childPort": 80})[2])["id"] == 2


API_ERRORS = [
    ("DELETE", "/v1/ports/abc", None, 400, {"message": 'bad id abc: strconv.Atoi: parsing "abc": invalid syntax'}),
    ("DELETE", "/v1/ports/42", None, 400, {"message": "unknown id: 42"}),
    ("POST", "/v1/ports", {"proto": "tcp", "parentPort": 0, "childPort": 80}, 400, None),
    ("GET", "/v1/nothing", None, 404, None),
    ("PUT", "/v1/ports", None, 405, None),
    ("POST", "/v1/info", None, 405, None),
]


@pytest.mark.parametrize("method, path, body, status, message", API_ERRORS)
def test_api_errors_match_go(impl, go, tmp_path, method, path, body, status, message):
    """Same status and body as Go RootlessKit for the same request."""
    flags = BUILTIN + ["sleep", "infinity"]
    with Running(impl.argv(), flags, tmp_path / "ours") as ours, Running(go.argv(), flags, tmp_path / "go") as ref:
        mine, theirs = ours.api(method, path, body), ref.api(method, path, body)
    assert mine[0] == theirs[0] == status
    if message is not None:
        assert json.loads(mine[2]) == json.loads(theirs[2]) == message
        assert mine[2].endswith(b"\n")
    if status == 404:
        assert mine[2] == theirs[2] == b"404 page not found\n"


@pytest.mark.parametrize("raw", [b"", b"  \n", b"null", b"{", b'{"proto":"tc', b"{} and more", b"[1,2]"])
def test_api_reads_a_body_as_gos_decoder_does(impl, go, tmp_path, raw):
    """Only the first JSON value counts, null is an empty spec, and nothing or a value cut short is an
    EOF: the same status and message as Go RootlessKit."""
    flags = BUILTIN + ["sleep", "infinity"]
    with Running(impl.argv(), flags, tmp_path / "ours") as ours, Running(go.argv(), flags, tmp_path / "go") as ref:
        mine, theirs = ours.api("POST", "/v1/ports", raw=raw), ref.api("POST", "/v1/ports", raw=raw)
    assert mine[0] == theirs[0] == 400
    assert json.loads(mine[2]) == json.loads(theirs[2])


def test_api_refuses_sctp_as_v3_does(impl, tmp_path):
    """(Go 1.1.0 answers "spec was not validated?" here; v3's text is the target.)"""
    with started(impl, tmp_path, BUILTIN, ["sleep", "infinity"]) as rk:
        status, _, body = rk.api("POST", "/v1/ports", {"proto": "sctp", "parentPort": free_port(), "childPort": 1})
    assert (status, json.loads(body)) == (400, {"message": "unsupported port protocol sctp"})


def test_api_rejects_malformed_json_and_keeps_serving(impl, tmp_path):
    port = free_port()
    with started(impl, tmp_path, BUILTIN + ["-p", f"127.0.0.1:{port}:8080/tcp"]) as rk:
        for raw in (b"{", b"[1,2]", b'{"parentPort":"80"}', b'{"parentPort":80.5}'):
            status, _, body = rk.api("POST", "/v1/ports", raw=raw)
            assert status == 400 and json.loads(body)["message"], body
        # a client that connects and vanishes mid-request
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(rk.state / "api.sock"))
            s.sendall(b"POST /v1/ports HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        assert rk.api("GET", "/v1/info")[0] == 200
        assert wait_echo(("127.0.0.1", port))[1] == b"ping"


def test_api_conflicts_and_a_port_taken_on_the_host(impl, tmp_path):
    port, taken = free_port(), socket.create_server(("127.0.0.1", 0))
    try:
        with started(impl, tmp_path, BUILTIN, ["sleep", "infinity"]) as rk:
            spec = {"proto": "tcp", "parentIP": "127.0.0.1", "parentPort": port, "childPort": 80}
            assert rk.api("POST", "/v1/ports", spec)[0] == 201
            status, _, body = rk.api("POST", "/v1/ports", spec)
            assert (status, json.loads(body)) == (400, {"message": "conflict with ID 1"})
            busy = {**spec, "parentPort": taken.getsockname()[1]}
            status, _, body = rk.api("POST", "/v1/ports", busy)
            message = json.loads(body)["message"]
            assert status == 400
            assert message.startswith(f"listen tcp 127.0.0.1:{busy['parentPort']}: bind: address already in use")
            assert f"held by pid {os.getpid()} (" in message  # beyond upstream: who holds it
    finally:
        taken.close()


def test_info_matches_go(impl, go, tmp_path):
    flags = BUILTIN + ["sleep", "infinity"]
    with Running(impl.argv(), flags, tmp_path / "ours") as ours, Running(go.argv(), flags, tmp_path / "go") as ref:
        mine, theirs = (json.loads(r.api("GET", "/v1/info")[2]) for r in (ours, ref))
        assert mine.pop("stateDir") == str(tmp_path / "ours") and mine.pop("childPID") == ours.child_pid()
    for key in ("stateDir", "childPID", "version", "apiVersion"):
        theirs.pop(key)
    assert (mine.pop("version"), mine.pop("apiVersion")) == ("3.2.0", "1.1.3")
    # API 1.1.3 (v3.2) adds the resolved source IP backend; the Go here is older (API 1.1.1)
    assert mine["portDriver"].pop("extra") == {"sourceIPTransparentBackend": "nft"}
    assert mine == theirs == {"networkDriver": {"driver": "slirp4netns", "dns": ["10.0.2.3"], "childIP": "10.0.2.100"},
                              "portDriver": {"driver": "builtin", "protos": ["tcp", "tcp4", "tcp6", "udp", "udp4", "udp6"]}}


@pytest.mark.parametrize("flags, expected", [
    (["--net=host"], {}),
    (["--net=none"], {"networkDriver": {"driver": "none"}}),
    (["--net=vpnkit", f"--vpnkit-binary={REPO / 'tests' / 'helpers' / 'fakevpnkit.py'}"],
     {"networkDriver": {"driver": "vpnkit", "dns": ["192.168.65.1"], "childIP": "192.168.65.3"}}),
    (["--net=slirp4netns", "--port-driver=slirp4netns"],
     {"networkDriver": {"driver": "slirp4netns", "dns": ["10.0.2.3"], "childIP": "10.0.2.100"},
      "portDriver": {"driver": "slirp4netns", "protos": ["tcp", "tcp4", "udp", "udp4"], "disallowLoopbackChildIP": True}}),
])
def test_info_for_other_drivers(impl, tmp_path, flags, expected):
    with started(impl, tmp_path, flags, ["sleep", "infinity"]) as rk:
        info = json.loads(rk.api("GET", "/v1/info")[2])
        assert rk.api("GET", "/v1/ports")[0] == (200 if "portDriver" in expected else 400)
    assert {k: v for k, v in info.items() if k in ("networkDriver", "portDriver")} == expected


@pytest.mark.parametrize("net", ["slirp4netns", "pasta"])
def test_info_reports_ipv6(impl, tmp_path, current_pasta, net):
    """API 1.1.2 (v3.0.2): networkDriver.ipv6 is true with --ipv6 for slirp4netns and pasta, and left out without."""
    flags = [f"--net={net}", f"--pasta-binary={current_pasta}", "--port-driver=none", "--disable-host-loopback"]
    for ipv6, name in ((["--ipv6"], "v6"), ([], "v4")):
        with started(impl, tmp_path, flags + ipv6, ["sleep", "infinity"], name) as rk:
            network = json.loads(rk.api("GET", "/v1/info")[2])["networkDriver"]
            text = run(impl.argv("rootlessctl") + ["--socket", str(rk.state / "api.sock"), "info", "--json"]).stdout
        assert (network["driver"], network.get("ipv6")) == (net, True if ipv6 else None), rk.stderr()
        assert ('"ipv6": true' in text) == bool(ipv6), text


def test_api_socket_is_for_its_owner_only(impl, tmp_path):
    with started(impl, tmp_path, BUILTIN, ["sleep", "infinity"]) as rk:
        assert (rk.state / "api.sock").stat().st_mode & 0o777 == 0o600


def test_go_rootlessctl_drives_our_api(impl, go, tmp_path):
    """Debian's Go rootlessctl against our api.sock prints what it prints against Go's."""
    port = free_port()
    outputs = {}
    for name, kit in (("ours", impl), ("go", go)):
        with Running(kit.argv(), BUILTIN + ["sleep", "infinity"], tmp_path / name) as rk:
            ctl = [go.argv("rootlessctl")[0], f"--socket={rk.state / 'api.sock'}"]
            steps = [run(ctl + ["add-ports", f"127.0.0.1:{port}:80/tcp", f"[::1]:{port}:80/tcp6"]),
                     run(ctl + ["list-ports"]), run(ctl + ["list-ports", "--json"]),
                     run(ctl + ["add-ports", f"127.0.0.1:{port}:80/tcp"]),
                     run(ctl + ["remove-ports", "1"]), run(ctl + ["remove-ports", "7"]), run(ctl + ["list-ports"])]
            outputs[name] = [(r.returncode, comparable_ctl_output(r.stdout, str(rk.state)), r.stderr) for r in steps]
    assert outputs["ours"] == outputs["go"]


# --- privileged ports, capabilities, restarts ---------------------------------------------------

def test_privileged_port_is_refused_with_upstreams_hint(impl, tmp_path):
    result = run(impl.argv() + BUILTIN + [f"--state-dir={tmp_path / 's'}", "-p", "127.0.0.1:80:8080/tcp", "true"])
    assert result.returncode == 1
    start = open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read().strip()
    hint = (f"failed to expose port {{tcp 127.0.0.1 80 8080 }}: cannot expose privileged port 80, you can add "
            f"'net.ipv4.ip_unprivileged_port_start=80' to /etc/sysctl.conf (currently {start}), or set "
            f"CAP_NET_BIND_SERVICE on rootlesskit binary, or choose a larger port number (>= {start}): "
            f"listen tcp 127.0.0.1:80: bind: permission denied")
    assert hint in result.stderr
    assert not (tmp_path / "s").exists()


def test_cap_net_bind_service_on_the_binary_exposes_a_low_port(binary, root_helper, tmp_path):
    """The documented way: setcap cap_net_bind_service=ep on rootlesskit. The parent holds the
    capability and binds port 80; the command does not get it: it runs in its own user namespace,
    where no capability reaches the host's (so it cannot bind a low host port itself)."""
    copy = tmp_path / "bin" / "rootlesskit"
    copy.parent.mkdir()
    root_helper("setcap-copy", str(binary.argv()[0]), str(copy))
    try:
        port = 80
        with Running([str(copy)], BUILTIN + ["-p", f"127.0.0.1:{port}:8080/tcp"] + server_command(),
                     tmp_path / "state") as running:
            assert wait_echo(("127.0.0.1", port))[1] == b"ping"
            assert _effective_caps(running.proc.pid) & (1 << CAP_NET_BIND_SERVICE)
            assert os.readlink(f"/proc/{running.child_pid()}/ns/user") != os.readlink("/proc/self/ns/user")
    finally:
        root_helper("remove", str(copy))


CAP_NET_BIND_SERVICE = 10


def _effective_caps(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))


def _free_low_port() -> int:
    """A port below 1024 nothing listens on (read from /proc: an unprivileged bind there would fail anyway)."""
    taken = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            taken |= {int(line.split()[1].rsplit(":", 1)[1], 16) for line in list(f)[1:]}
    return next(port for port in range(990, 600, -1) if port not in taken)


def test_socket_activation_serves_a_low_port_with_no_capability(impl, root_helper, tmp_path):
    """A systemd socket unit binds a port < 1024 and hands it over (LISTEN_FDS); the command inside
    rootlesskit serves it: no sysctl, no setcap (root_helper: systemd-socket-activate, then setpriv)."""
    port = _free_low_port()
    serve = ("import os, socket; s = socket.socket(fileno=3); c, _ = s.accept(); "
             "c.sendall(f'{os.environ[\"LISTEN_FDS\"]} {os.getuid()}'.encode()); c.close()")
    activator = subprocess.Popen(["sudo", "-n", ROOT_HELPER, "activate-port", str(port), *impl.argv(),
                                  "--state-dir", str(tmp_path / "state"), "python3", "-c", serve],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        reply = first_reply(port)
        _, err = activator.communicate(timeout=30)
    finally:
        if activator.poll() is None:
            activator.kill()
            activator.communicate()
    assert reply == b"1 0", err  # one inherited listener, served by root inside the user namespace
    assert activator.returncode == 0, err
    assert not (tmp_path / "state").exists()


def test_restart_after_kill_9_on_the_same_state_dir(impl, tmp_path):
    """upstream hack/integration-restart.sh: nothing of the killed instance keeps the port."""
    port = free_port()
    flags = BUILTIN + ["-p", f"127.0.0.1:{port}:8080/tcp"]
    first = started(impl, tmp_path, flags).ready()
    wait_echo(("127.0.0.1", port))
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    first.stop()
    deadline = time.monotonic() + 5
    while not refuses(("127.0.0.1", port)):
        assert time.monotonic() < deadline, "the killed instance's forwarder still holds the port"
        time.sleep(0.05)
    with started(impl, tmp_path, flags):
        assert wait_echo(("127.0.0.1", port))[1] == b"ping"


def test_exit_closes_every_listener(impl, tmp_path):
    ports = [free_port() for _ in range(3)]
    rk = started(impl, tmp_path, BUILTIN + [a for p in ports for a in ("-p", f"127.0.0.1:{p}:8080/tcp")]).ready()
    assert not refuses(("127.0.0.1", ports[0]))
    assert rk.stop() != 1
    assert all(refuses(("127.0.0.1", p)) for p in ports)


def test_publish_errors_match_go(impl, go, tmp_path):
    """-p conflicts among themselves fail at publish time, with upstream's spec dump."""
    port = free_port()
    # a command that outlives publishing: Go starts it first and, if it is gone, fails on a broken pipe
    flags = BUILTIN + ["-p", f"127.0.0.1:{port}:80/tcp", "-p", f"127.0.0.1:{port}:81/tcp", "sleep", "30"]
    ours, ref = run(impl.argv() + flags), run(go.argv() + flags)
    assert ours.returncode == ref.returncode == 1
    line = f"failed to expose port {{tcp 127.0.0.1 {port} 81 }}: conflict with ID 1"
    assert line in ours.stderr and line in ref.stderr


# --- the slirp4netns port driver ----------------------------------------------------------------

def test_slirp4netns_port_driver_forwards_and_refuses_v6(impl, tmp_path):
    port = free_port()
    flags = ["--net=slirp4netns", "--copy-up=/etc", "--port-driver=slirp4netns", "-p", f"127.0.0.1:{port}:8080/tcp"]
    with started(impl, tmp_path, flags) as rk:
        assert wait_echo(("127.0.0.1", port))[1] == b"ping"
        status, _, body = rk.api("POST", "/v1/ports", {"proto": "tcp6", "parentPort": free_port(), "childPort": 80})
        assert (status, json.loads(body)) == (400, {"message": 'unsupported protocol "tcp6"'})
        assert rk.api("DELETE", "/v1/ports/1")[0] == 200  # slirp4netns's own forwarding id
        assert refuses(("127.0.0.1", port))
