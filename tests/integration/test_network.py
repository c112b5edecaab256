"""Network drivers: slirp4netns for real, and the clear failures of the drivers not available."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import REPO, refused, run

SLIRP = ["--net=slirp4netns", "--disable-host-loopback", "--copy-up=/etc"]
SHOW = "ip -4 -o addr show dev tap0 | awk '{print $4}'; ip route | sort; cat /etc/resolv.conf; cat /sys/class/net/tap0/mtu"


def test_slirp4netns_namespace_matches_go(impl, go):
    ours, ref = run(impl.argv() + SLIRP + ["sh", "-c", SHOW]), run(go.argv() + SLIRP + ["sh", "-c", SHOW])
    assert ours.returncode == ref.returncode == 0, ours.stderr
    assert ours.stdout == ref.stdout
    assert ours.stdout.split("\n")[0] == "10.0.2.100/24"
    assert "default via 10.0.2.2 dev tap0" in ours.stdout
    assert "nameserver 10.0.2.3\n" in ours.stdout
    assert ours.stdout.rstrip().endswith("65520")


def test_slirp4netns_custom_cidr_and_mtu(impl, go):
    argv = SLIRP + ["--cidr=10.0.3.0/24", "--mtu=1500", "sh", "-c", SHOW]
    ours, ref = run(impl.argv() + argv), run(go.argv() + argv)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == ref.stdout
    assert ours.stdout.startswith("10.0.3.100/24\n") and "nameserver 10.0.3.3" in ours.stdout
    assert ours.stdout.rstrip().endswith("1500")


def test_slirp4netns_ipv6_adds_the_v6_nameserver(impl):
    result = run(impl.argv() + SLIRP + ["--ipv6", "cat", "/etc/resolv.conf"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nameserver 10.0.2.3\nnameserver fd00::3\n"
    assert "ipv6 is experimental" in result.stderr


def test_sysfs_shows_the_namespace_and_hosts_names_the_host(impl):
    result = run(impl.argv() + SLIRP + ["sh", "-c", "ls /sys/class/net; tail -n 2 /etc/hosts"])
    assert result.returncode == 0, result.stderr
    hostname = os.uname().nodename
    assert result.stdout == f"lo\ntap0\n127.0.0.1 {hostname}\n::1 {hostname}\n"


def one_line_server(address: str, line: bytes) -> socket.socket:
    """A TCP server on the host that answers every connection with `line` (close it when done)."""
    server = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    server.bind((address, 0))
    server.listen()
    server.settimeout(30)

    def serve():
        try:
            while True:
                conn, _ = server.accept()
                conn.sendall(line)
                conn.close()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    return server


@pytest.fixture
def host_server():
    """The port of a server on the host's 127.0.0.1 answering "hello from the host"."""
    server = one_line_server("127.0.0.1", b"hello from the host\n")
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("disable,reachable", [(False, True), (True, False)])
def test_host_loopback_through_10_0_2_2(impl, go, host_server, disable, reachable):
    flags = ["--net=slirp4netns"] + (["--disable-host-loopback"] if disable else [])
    probe = ["busybox", "nc", "-w", "3", "10.0.2.2", str(host_server)]
    for which in (impl, go):
        result = run(which.argv() + flags + probe, input="")
        assert ("hello from the host" in result.stdout) == reachable, (which, result.stderr)
    if not disable:
        assert "specifying --disable-host-loopback is highly recommended" in result.stderr


def test_etc_without_copy_up_warns_and_binds(impl, go):
    ours = run(impl.argv() + ["--net=slirp4netns", "--disable-host-loopback", "cat", "/etc/resolv.conf"])
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == "nameserver 10.0.2.3\n"
    assert "Mounting /etc/resolv.conf without copying-up /etc." in ours.stderr
    ref = run(go.argv() + ["--net=slirp4netns", "--disable-host-loopback", "true"])
    assert "Mounting /etc/resolv.conf without copying-up /etc." in ref.stderr


def test_etc_copy_up_replaces_the_links(impl):
    result = run(impl.argv() + SLIRP + ["sh", "-c", "stat -c '%F %a' /etc/resolv.conf /etc/hosts"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "regular file 644\nregular file 644\n"
    assert "without copying-up" not in result.stderr


def test_state_dir_has_resolv_conf_and_hosts(impl, tmp_path):
    state = tmp_path / "st"
    result = run(impl.argv() + SLIRP + [f"--state-dir={state}", "sh", "-c", 'ls "$ROOTLESSKIT_STATE_DIR"'])
    # api.sock too: it is served before the command starts (upstream lets the command race it)
    assert set(result.stdout.split()) == {"api.sock", "child_pid", "hosts", "lock", "resolv.conf"}


@pytest.mark.parametrize("flag,message", [
    ("--slirp4netns-sandbox=maybe", 'unsupported slirp4netns-sandbox mode: "maybe"'),
    ("--slirp4netns-seccomp=maybe", 'unsupported slirp4netns-seccomp mode: "maybe"'),
    ("--slirp4netns-binary=/nonexistent/slirp4netns",
     'exec: "/nonexistent/slirp4netns": stat /nonexistent/slirp4netns: no such file or directory'),
])
def test_slirp4netns_flag_errors(impl, flag, message):
    result = run(impl.argv() + ["--net=slirp4netns", "--disable-host-loopback", flag, "true"])
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"[rootlesskit:parent] error: {message}")


@pytest.mark.parametrize("mode", ["sandbox", "seccomp"])
def test_slirp4netns_sandbox_and_seccomp_modes_run(impl, host_server, mode):
    result = run(impl.argv() + ["--net=slirp4netns", f"--slirp4netns-{mode}=true", "busybox", "nc", "-w", "3",
                                "10.0.2.2", str(host_server)], input="")
    assert result.returncode == 0, result.stderr
    assert "hello from the host" in result.stdout


def test_slirp4netns_that_fails_to_start_is_reported(impl, tmp_path):
    """A helper that dies before it is ready: a clear error, no hang, nothing left behind."""
    fake = tmp_path / "slirp4netns"
    fake.write_text('#!/bin/sh\n[ "$1" = --help ] && exec slirp4netns --help\necho "boom" >&2\nexit 3\n')
    fake.chmod(0o755)
    tmpdir = tmp_path / "tmp"  # where the state dir is made
    tmpdir.mkdir()
    result = run(impl.argv() + ["--net=slirp4netns", "--disable-host-loopback", f"--slirp4netns-binary={fake}",
                                "true"], timeout=30, env={**os.environ, "TMPDIR": str(tmpdir)})
    assert result.returncode == 1
    assert "failed to setup network slirp4netns: waiting for ready fd" in result.stderr
    assert "slirp4netns failed (exit status 3)" in result.stderr
    assert list(tmpdir.iterdir()) == []  # and no helper left: the autouse check


def test_slirp4netns_killed_while_running_is_reported(impl, tmp_path):
    state = tmp_path / "st"
    proc = subprocess.Popen(impl.argv() + ["--net=slirp4netns", "--disable-host-loopback", f"--state-dir={state}",
                                           "sh", "-c", "read line; echo still-running"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        while not (state / "child_pid").exists():
            pass
        slirp = [p for p in _children(proc.pid) if _comm(p) == "slirp4netns"]
        assert len(slirp) == 1
        os.kill(slirp[0], 9)
        while os.path.exists(f"/proc/{slirp[0]}"):  # until the parent has noticed and reaped it
            pass
        out, err = proc.communicate("go\n", timeout=20)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 0 and out == "still-running\n"
    assert "slirp4netns exited (signal: killed): the namespace has no network connectivity any more" in err


@pytest.mark.parametrize("net,message", [
    ("vpnkit", 'exec: "vpnkit": executable file not found in $PATH'),
    ("gvisor-tap-vsock", 'network driver "gvisor-tap-vsock" is not supported by rootlesskit-py'),
])
def test_unavailable_drivers_fail_clearly(impl, net, message, tmp_path):
    assert message in refused(impl.argv() + [f"--net={net}", "--disable-host-loopback", "true"], tmp_path)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def test_debian_12_pasta_is_refused(impl, tmp_path):
    stderr = refused(impl.argv() + ["--net=pasta", "--disable-host-loopback", "true"], tmp_path)
    assert ('[rootlesskit:parent] error: pasta is too old or does not report its version ("pasta unknown '
            'version"): rootlesskit needs passt 2023_06_25.32660ce or later') in stderr


def test_pasta_configures_the_namespace(impl, current_pasta):
    """A current pasta (trixie's), whose --version and --help print nothing, or 4 KiB, into a pipe."""
    result = run(impl.argv() + ["--net=pasta", f"--pasta-binary={current_pasta}", "--disable-host-loopback",
                                "--copy-up=/etc", "sh", "-c", SHOW])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "10.0.2.100/24"
    assert "default via 10.0.2.2 dev tap0" in result.stdout
    assert "nameserver 10.0.2.3\n" in result.stdout
    assert result.stdout.rstrip().endswith("65520")


def test_pasta_custom_cidr_and_mtu(impl, current_pasta):
    result = run(impl.argv() + ["--net=pasta", f"--pasta-binary={current_pasta}", "--disable-host-loopback",
                                "--copy-up=/etc", "--cidr=10.0.5.0/24", "--mtu=1500", "sh", "-c", SHOW])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("10.0.5.100/24\n") and "nameserver 10.0.5.3" in result.stdout
    assert result.stdout.rstrip().endswith("1500")


def test_pasta_requires_a_matching_port_driver(impl):
    result = run(impl.argv() + ["--net=pasta", "--port-driver=builtin", "true"])
    assert result.returncode == 1
    assert 'network "pasta" requires port driver "none", "implicit" or "pesto"' in result.stderr


def _host_links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


@pytest.mark.parametrize("mode", [[], ["--pidns"]], ids=["no-pidns", "pidns"])
def test_detach_netns_keeps_the_command_on_the_host_network(impl, host_server, mode):
    script = (f'ls /sys/class/net; echo ---; busybox nc -w 3 127.0.0.1 {host_server} </dev/null; echo ---; '
              f'nsenter -n"$ROOTLESSKIT_STATE_DIR/netns" sh -c "ip -4 -o addr show tap0 | cut -d\\  -f7; '
              f'busybox nc -w 3 10.0.2.2 {host_server} </dev/null"; echo ---; cat /etc/resolv.conf | head -1; '
              'cat "$ROOTLESSKIT_STATE_DIR/resolv.conf"')
    result = run(impl.argv() + mode + ["--net=slirp4netns", "--detach-netns", "sh", "-c", script])
    assert result.returncode == 0, result.stderr
    links, direct, detached, resolv = result.stdout.split("---\n")
    assert set(links.split()) == _host_links()  # the command sees the host's interfaces
    assert direct == "hello from the host\n"  # and reaches the host's loopback directly
    assert detached == "10.0.2.100/24\nhello from the host\n"  # the detached netns has slirp4netns
    assert resolv.split("\n")[1] == "nameserver 10.0.2.3"
    assert "without copying-up" not in result.stderr  # /etc is left alone


@pytest.mark.parametrize("net", ["host", "none"])
def test_detach_netns_file_exists_for_host_and_none(impl, net):
    script = 'nsenter -n"$ROOTLESSKIT_STATE_DIR/netns" ip -o link | cut -d: -f2 | tr -d " "'
    result = run(impl.argv() + [f"--net={net}", "--detach-netns", "sh", "-c", script])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "lo\n"


def test_detach_netns_conflicts_with_slirp4netns_sandbox(impl):
    result = run(impl.argv() + ["--net=slirp4netns", "--detach-netns", "--slirp4netns-sandbox=true", "true"])
    assert result.returncode == 1
    assert "--slirp4netns-sandbox conflicts with --detach-netns" in result.stderr


LXC = ["--net=lxc-user-nic", "--copy-up=/etc"]
LXC_SHOW = "ip -4 -o addr show dev eth0 | awk '{print $4}'; ip route | grep default; cat /etc/resolv.conf; " \
           "cat /sys/class/net/eth0/mtu"


def test_lxc_user_nic_gets_its_address_by_dhcp_like_go(impl, go):
    ours, ref = run(impl.argv() + LXC + ["sh", "-c", LXC_SHOW]), run(go.argv() + LXC + ["sh", "-c", LXC_SHOW])
    assert ours.returncode == ref.returncode == 0, ours.stderr + ref.stderr
    address, route, resolv, mtu = ours.stdout.strip().split("\n")
    assert address.startswith("10.0.3.") and address.endswith("/24")  # lxc-net's DHCP range
    assert route.startswith("default via 10.0.3.1 dev eth0")
    assert (resolv, mtu) == ("nameserver 10.0.3.1", "1500")
    assert ours.stdout.split("\n")[1:] == ref.stdout.split("\n")[1:]  # all but the leased address
    assert "--disable-host-loopback is implicitly set for lxc-user-nic" in ours.stderr


def test_lxc_user_nic_reaches_the_bridge(impl):
    server = one_line_server("10.0.3.1", b"hello from the bridge\n")
    try:
        result = run(impl.argv() + LXC + ["busybox", "nc", "-w", "3", "10.0.3.1", str(server.getsockname()[1])],
                     input="")
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from the bridge\n"


def test_lxc_user_nic_binary_not_found(impl, tmp_path):
    stderr = refused(impl.argv() + ["--net=lxc-user-nic", "--lxc-user-nic-binary=", "true"], tmp_path)
    assert ("[rootlesskit:parent] error: lxc-user-nic not found in /usr/libexec/lxc/lxc-user-nic, "
            "/usr/lib/x86_64-linux-gnu/lxc/lxc-user-nic, /usr/lib/lxc/lxc-user-nic: install lxc") in stderr


def test_child_failing_while_the_network_starts(impl):
    """The child errors out while the parent brings up slirp4netns: upstream's two lines, no
    traceback, no helper left (the autouse check)."""
    result = run(impl.argv() + ["--net=slirp4netns", "--disable-host-loopback", "--copy-up=/tmp", "true"])
    assert result.returncode == 1
    assert result.stderr.strip().split("\n")[-2:] == [
        "[rootlesskit:child ] error: /tmp cannot be copied up",
        "[rootlesskit:parent] error: child exited: exit status 1"]


def test_slirp4netns_ipv6_by_slaac_reaches_the_host(impl, go):
    """--ipv6: the router advertisement gives tap0 an fd00::/64 address, and slirp4netns's fd00::2
    is the host's ::1 (unless --disable-host-loopback)."""
    server = one_line_server("::1", b"hello over ipv6\n")
    wait_for_slaac = ("for i in $(seq 100); do ip -6 -o addr show tap0 | grep -q 'fd00::' && break; sleep 0.1; done; "
                      "ip -6 -o addr show tap0 scope global | awk '{print $4}'; ")
    probe = f"busybox nc -w 3 fd00::2 {server.getsockname()[1]} </dev/null"
    try:
        for which in (impl, go):
            result = run(which.argv() + ["--net=slirp4netns", "--ipv6", "--copy-up=/etc", "sh", "-c",
                                         wait_for_slaac + probe])
            assert result.returncode == 0, (which, result.stderr)
            address, answer = result.stdout.split("\n")[:2]
            assert address.startswith("fd00::") and address.endswith("/64"), (which, result.stdout)
            assert answer == "hello over ipv6"
    finally:
        server.close()


FAKE_VPNKIT = str(REPO / "tests" / "helpers" / "fakevpnkit.py")
VPNKIT_SHOW = ("ip -4 -o addr show dev tap0 | awk '{print $4}'; cat /sys/class/net/tap0/address; ip route | sort; "
               "cat /etc/resolv.conf; busybox ping -c 1 -W 5 192.168.65.1 >/dev/null && echo pong")


def test_vpnkit_serves_the_namespace_through_vmnet(impl, tmp_path):
    """vpnkit is not packaged for Debian: a vmnet server of our own (tests/helpers/fakevpnkit.py)
    plays its part, including DHCP, ARP and ping for the gateway, so the whole path is real."""
    state = tmp_path / "state"
    result = run(impl.argv() + [f"--state-dir={state}", "--net=vpnkit", f"--vpnkit-binary={FAKE_VPNKIT}",
                                "--copy-up=/etc", "--disable-host-loopback", "sh", "-c", VPNKIT_SHOW])
    assert result.returncode == 0, result.stderr
    address, mac, *rest = (line.strip() for line in result.stdout.splitlines())
    assert address == "192.168.65.3/24"
    assert mac.startswith("02:50:")
    assert "default via 192.168.65.1 dev tap0" in rest and "nameserver 192.168.65.1" in rest
    assert rest[-1] == "pong"


def test_vpnkit_command_line_and_mtu_warning(impl, tmp_path):
    flags = [f"--vpnkit-binary={FAKE_VPNKIT}", "--mtu=1400", "--disable-host-loopback"]
    with_state = [f"--state-dir={tmp_path / 'state'}"]
    result = run(impl.argv() + with_state + ["--net=vpnkit"] + flags
                 + ["sh", "-c", f"cat {tmp_path / 'state' / 'vpnkit-ethernet.sock.argv'}"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"--ethernet {tmp_path / 'state' / 'vpnkit-ethernet.sock'} --mtu 1400 --host-ip 0.0.0.0"
    assert "vpnkit is known to have issues with non-1500 MTU (current: 1400)" in result.stderr


def test_vpnkit_that_exits_is_reported_at_once(impl, tmp_path):
    started = time.monotonic()
    stderr = refused(impl.argv() + ["--net=vpnkit", "--vpnkit-binary=/bin/false", "--disable-host-loopback", "true"],
                     tmp_path)
    assert time.monotonic() - started < 5
    assert "vpnkit exited (exit status 1) before serving it" in stderr
