"""bypass4netns (DOCKERD_ROOTLESS_BYPASS4NETNS=1, our extension) on real engines, with our
dockerd-rootless.sh over our rootlesskit, against an outside world: a network namespace that root
joined to the host by a veth pair (tests/run's outside_world: 198.18.2.2, HTTP on 80, a server on
8080 that answers and holds the connection 3 s, DNS for outside.test, and 8081, which an nftables
rule forbids the test user).

Whether a connection was bypassed is read from inside the container, from the kernel: a socket
made on the host is not in the container's /proc/net/tcp, one on the normal stack is.

Docker 26.1, 28 and 29 (29 with --detach-netns, its default) run the mode; 20.10 cannot (its
dockerd drops the profile's listenerPath), says so once in the daemon's log and runs as without it.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from conftest import BIN_DIR, run
from dockerutil import IMAGE, Engine, RootlessDocker, engine_params, kit_dir, processes_in, user_namespace
from portutil import free_port

OUTSIDE = "198.18.2.2"
# --debug: rootlesskit logs each decision ("connect A port P: not outside: normal stack"), so a
# destination that must not be bypassed is shown not even tried (a failed try would fall back)
MODE = {"DOCKERD_ROOTLESS_BYPASS4NETNS": "1", "DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS": "--debug"}
# the image holds busybox and four applets: the rest are linked first
APPLETS = "/bin/busybox mkdir -p /tmp /usr/bin /sbin /usr/sbin && /bin/busybox --install -s || exit 1\n"
# connects with busybox nc, waits for the answer, then says where the socket lives
PROBE = APPLETS + """
sleep 4 | nc {host} {port} > /tmp/answer 2>/tmp/error & pid=$!
i=0; while [ ! -s /tmp/answer ] && [ $i -lt 50 ] && kill -0 $pid 2>/dev/null; do sleep 0.1; i=$((i+1)); done
inode=$(ls -l /proc/$pid/fd 2>/dev/null | sed -n 's/.*socket:\\[\\([0-9]*\\)\\].*/\\1/p' | head -n 1)
if [ -z "$inode" ]; then echo "NO-SOCKET"
elif grep -q " $inode " /proc/net/tcp /proc/net/tcp6; then echo "NORMAL"
else echo "BYPASSED"; fi
cat /tmp/answer /tmp/error
kill $pid 2>/dev/null; wait $pid 2>/dev/null; true
"""


def _start(base, version: str, env: dict[str, str] | None = None) -> RootlessDocker:
    engine = Engine(version)
    daemon = RootlessDocker(base, engine, str(BIN_DIR / "dockerd-rootless.sh"), kit_dir(base, True, engine),
                            env={**MODE, **(env or {})})
    daemon.wait_ready()
    daemon.import_busybox()
    return daemon


@pytest.fixture(scope="module", params=engine_params(["26.1", "28", "29"]))
def dockerd(request, tmp_path_factory):
    daemon = _start(tmp_path_factory.mktemp(f"b4n-{request.param}"), request.param)
    try:
        yield daemon
    finally:
        daemon.stop()


def probe(daemon: RootlessDocker, host: str, port: int, *options: str) -> list[str]:
    result = daemon.docker("run", "--rm", *options, IMAGE, "sh", "-c", PROBE.format(host=host, port=port),
                           timeout=90)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")


def decisions(daemon: RootlessDocker, host: str, port: int) -> list[str]:
    marker = f"bypass4netns: pid "
    return [line.split(": ", 2)[-1] for line in daemon.log_text().splitlines()
            if marker in line and f" connect {host} port {port}: " in line]


def assert_never_tried(daemon: RootlessDocker, host: str, port: int) -> None:
    seen = decisions(daemon, host, port)
    assert seen, f"no decision logged for {host} port {port}"
    assert all(text.endswith("not outside: normal stack") for text in seen), seen


def test_the_log_says_the_mode_is_on_once(dockerd):
    log = dockerd.log_text()
    assert log.count("bypass4netns is enabled") == 1, log[-3000:]
    assert "--bypass4netns" in log and "--seccomp-profile=" in log


def test_outbound_tcp_runs_on_a_host_socket(dockerd):
    lines = probe(dockerd, OUTSIDE, 8080)
    assert lines[:2] == ["BYPASSED", "hello-from-outside"], lines
    assert "outside: connecting on the host" in decisions(dockerd, OUTSIDE, 8080)


def test_the_same_fetch_on_the_normal_stack_where_the_mode_cannot_apply(dockerd, tmp_path):
    # --privileged and seccomp=unconfined: no seccomp filter at all; a profile of the user's own: not ours
    own = tmp_path / "own.json"
    own.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}')
    for options in (["--privileged"], ["--security-opt", "seccomp=unconfined"], ["--security-opt", f"seccomp={own}"]):
        lines = probe(dockerd, OUTSIDE, 8080, *options)
        assert lines[:2] == ["NORMAL", "hello-from-outside"], (options, lines)


def test_http_fetch_through_the_mode(dockerd):
    result = dockerd.docker("run", "--rm", IMAGE, "sh", "-c", APPLETS + f"wget -q -O - http://{OUTSIDE}/", timeout=90)
    assert (result.returncode, result.stdout) == (0, "hello-from-outside\n"), result.stderr


def test_dns_and_udp_keep_working(dockerd):
    """The name comes over UDP (not bypassed: through the namespace's stack), the page over TCP."""
    result = dockerd.docker("run", "--rm", "--dns", OUTSIDE, IMAGE, "sh", "-c",
                            APPLETS + "nslookup -type=a outside.test && wget -q -O - http://outside.test/", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Address: {OUTSIDE}" in result.stdout and "hello-from-outside" in result.stdout


def test_traffic_between_containers_stays_on_the_container_network(dockerd):
    server = dockerd.docker("run", "-d", IMAGE, "sh", "-c",
                            APPLETS + "while true; do (echo hello-from-a-container; sleep 3) | nc -l -p 9000; done")
    assert server.returncode == 0, server.stderr
    try:
        address = dockerd.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                 server.stdout.strip())
        ip = address.stdout.strip()
        assert ip, address.stderr
        lines = probe(dockerd, ip, 9000)
        assert lines[:2] == ["NORMAL", "hello-from-a-container"], lines
        assert_never_tried(dockerd, ip, 9000)
    finally:
        dockerd.docker("rm", "-f", server.stdout.strip())


def test_the_namespace_own_addresses_are_not_bypassed(dockerd):
    """10.0.2.3 (the user-mode stack's DNS, TCP here) and the namespace's own address on the tap."""
    for host in ("10.0.2.100", "10.0.2.3"):
        lines = probe(dockerd, host, 53)
        assert "BYPASSED" not in lines, (host, lines)
        assert_never_tried(dockerd, host, 53)


def test_host_loopback_stays_out_of_reach(dockerd):
    """--disable-host-loopback (on by default): a host service on 127.0.0.1 and ::1 is reached
    neither through 10.0.2.2 nor as the container's own loopback."""
    port = free_port()
    with socket.socket(socket.AF_INET) as v4, socket.socket(socket.AF_INET6) as v6:
        v4.bind(("127.0.0.1", port))
        v6.bind(("::1", port))
        for s in (v4, v6):
            s.listen(8)
            s.setblocking(False)
        for host in ("10.0.2.2", "127.0.0.1", "::1"):
            result = dockerd.docker("run", "--rm", IMAGE, "sh", "-c", APPLETS +
                                    f"echo x | nc -w 3 {host} {port} && echo CONNECTED || echo REFUSED", timeout=90)
            assert "REFUSED" in result.stdout, (host, result.stdout, result.stderr)
            assert_never_tried(dockerd, host, port)
        for s in (v4, v6):
            with pytest.raises(BlockingIOError):
                s.accept()


def test_no_access_the_user_lacks(dockerd):
    """nftables rejects the test user's own connections to 198.18.2.2:8081: a container's too."""
    lines = probe(dockerd, OUTSIDE, 8081)
    assert "hello-from-outside" not in lines, lines
    assert probe(dockerd, OUTSIDE, 8080)[:2] == ["BYPASSED", "hello-from-outside"]


def _remote_addr_server(dockerd: RootlessDocker, port: int, *options: str) -> str:
    """A container whose HTTP answer is the client address it sees (busybox httpd's CGI REMOTE_ADDR)."""
    script = APPLETS + "\n".join([
        "mkdir -p /www/cgi-bin",
        "echo '#!/bin/sh' > /www/cgi-bin/ip",
        "echo 'echo Content-Type: text/plain; echo; echo addr=$REMOTE_ADDR' >> /www/cgi-bin/ip",
        "chmod 755 /www/cgi-bin/ip",
        "exec httpd -f -p 80 -h /www"])
    result = dockerd.docker("run", "-d", *options, "-p", f"0.0.0.0:{port}:80", IMAGE, "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _seen_address(port: int) -> str:
    """GET /cgi-bin/ip from the host's own non-loopback address (the outside veth's end here)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("198.18.2.1", port), timeout=5, source_address=("198.18.2.1", 0)) as s:
                s.sendall(b"GET /cgi-bin/ip HTTP/1.0\r\n\r\n")
                answer = b""
                while chunk := s.recv(4096):
                    answer += chunk
            text = answer.decode(errors="replace")
            if "addr=" in text:
                return text.split("addr=", 1)[1].split()[0]
        except OSError:
            pass
        assert time.monotonic() < deadline, "nothing answered on the published port"
        time.sleep(0.2)


def test_published_ports_keep_working_with_the_same_source_addresses(dockerd):
    """-p is inbound: the mode must not change it. The client address a container sees is the same
    with the mode's profile as without a filter at all: whatever the port driver and the engine's
    proxy give."""
    seen = {}
    for options in ([], ["--security-opt", "seccomp=unconfined"]):
        port = free_port()
        container = _remote_addr_server(dockerd, port, *options)
        try:
            seen[bool(options)] = _seen_address(port)
        finally:
            dockerd.docker("rm", "-f", container)
    assert seen[False] == seen[True], seen
    assert seen[False], seen


@pytest.mark.parametrize("version", [pytest.param("20.10", marks=pytest.mark.engine("20.10"))])
def test_an_engine_that_cannot_says_why_and_runs_without(version, tmp_path):
    daemon = _start(tmp_path, version)
    try:
        log = daemon.log_text()
        assert log.count("bypass4netns is not enabled: dockerd 20.10 drops a seccomp profile's listenerPath; "
                         "it needs dockerd 23.0 or later. Containers use the normal network stack.") == 1, log[-3000:]
        assert "--bypass4netns" not in log
        lines = probe(daemon, OUTSIDE, 8080)
        assert lines[:2] == ["NORMAL", "hello-from-outside"], lines
    finally:
        daemon.stop()


@pytest.mark.parametrize("version", engine_params(["29"]))
def test_when_the_handler_dies_containers_see_it_and_the_next_start_bypasses_again(version, tmp_path):
    """The handler is a thread of rootlesskit's parent: it cannot die alone. When the parent dies
    (kill -9), dockerd goes with it, while a container keeps running in its shim, as upstream: its
    network is gone (slirp4netns exits with the parent), and its connects fail at once with ENOSYS
    (the kernel's answer when nobody serves the notification), not hang. systemd's unit then kills
    what is left and starts again: containers of the next start are bypassed again."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    daemon = _start(tmp_path / "first", version)
    try:
        loop = (APPLETS + f"while true; do wget -q -O /dev/null http://{OUTSIDE}/ 2>>/out/log && echo OK >>/out/log; "
                "sleep 0.3; done")
        running = daemon.docker("run", "-d", "-v", f"{out}:/out", IMAGE, "sh", "-c", loop)
        assert running.returncode == 0, running.stderr
        deadline = time.monotonic() + 30
        while "OK" not in _read(out / "log"):
            assert time.monotonic() < deadline, _read(out / "log")
            time.sleep(0.2)
        userns = user_namespace(daemon.child_pid())
        os.kill(daemon.proc.pid, signal.SIGKILL)  # the service pid is rootlesskit's parent (the script execs it)
        daemon.proc.wait(30)
        before = len(_read(out / "log"))
        deadline = time.monotonic() + 30
        while "Function not implemented" not in _read(out / "log")[before:]:
            assert time.monotonic() < deadline, _read(out / "log")[before:]
            time.sleep(0.2)
        assert "OK" not in _read(out / "log")[before:].split("Function not implemented", 1)[1]
        # what systemd's KillMode does to the unit's cgroup
        for line in processes_in(userns):
            try:
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        daemon.stop()
    again = _start(tmp_path / "second", version)
    try:
        assert probe(again, OUTSIDE, 8080)[:2] == ["BYPASSED", "hello-from-outside"]
    finally:
        again.stop()


def _read(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_a_bad_value_is_refused_naming_it(tmp_path):
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(xdg), "HOME": str(tmp_path), "DOCKERD_ROOTLESS_BYPASS4NETNS": "yes",
           "PATH": f"{BIN_DIR}:{os.environ['PATH']}"}
    result = run([str(BIN_DIR / "dockerd-rootless.sh")], env=env, timeout=30)
    assert result.returncode != 0
    assert "Unknown DOCKERD_ROOTLESS_BYPASS4NETNS value: yes (accepted: 1, true, 0, false)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert os.listdir(xdg) == []


def test_rootlesskit_refuses_the_flag_without_a_network_namespace(tmp_path):
    result = run([str(BIN_DIR / "rootlesskit"), "--state-dir", str(tmp_path / "s"), "--bypass4netns", "true"],
                 timeout=30)
    assert result.returncode == 1
    assert "--bypass4netns needs --net to be one of slirp4netns, pasta, vpnkit, lxc-user-nic, got 'host'" \
        in result.stderr
    assert not (tmp_path / "s").exists()
    assert "Traceback" not in result.stderr
