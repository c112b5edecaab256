"""--net=pasta with pasta exactly as Debian ships it: trixie's 2025_05_03 (built from its source package
by its own debian/rules, so it prints Debian's package version, as Debian 13's and Ubuntu's do) and
sid's newest (the binary package); Debian 12's own pasta is refused with this host's way out."""

from __future__ import annotations

import os
import random
import socket
import subprocess

import pytest

from conftest import REPO, child_pids, one_line_server, process_name, refused, run, wait_for_file
from portutil import first_reply

SHOW = "ip -4 -o addr show dev tap0 | awk '{print $4}'; ip route | sort; cat /etc/resolv.conf; cat /sys/class/net/tap0/mtu"
PASTA_COMMS = ("pasta", "pasta.avx2")  # passt re-executes its .avx2 build on AVX2 CPUs


def pasta_flags(pasta: str) -> list[str]:
    return ["--net=pasta", f"--pasta-binary={pasta}", "--copy-up=/etc"]


def _debian_12_host() -> bool:
    with open("/etc/os-release") as f:
        fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    return fields.get("ID") == "debian" and fields.get("VERSION_ID", "").strip('"') == "12"


def test_debian_12_pasta_is_refused_with_this_hosts_way_out(impl, debian_12_pasta, tmp_path):
    stderr = refused(impl.argv() + ["--net=pasta", f"--pasta-binary={debian_12_pasta}", "--disable-host-loopback",
                                    "true"], tmp_path)
    assert ('[rootlesskit:parent] error: pasta is too old or does not report its version ("pasta unknown '
            'version"): rootlesskit needs passt 2023_06_25.32660ce or later') in stderr
    if _debian_12_host():  # bookworm has no newer passt, not even in bookworm-backports
        assert stderr.rstrip().endswith("Debian 12 has no newer passt: use --net=slirp4netns instead.")
    else:
        assert "Install a newer passt (" in stderr
    assert "backports" not in stderr and "Traceback" not in stderr


def test_debian_pastas_print_debians_package_version(debian_pasta):
    """What hid the bug: a pasta built with upstream's VERSION. These print what Debian's do."""
    version = run(["script", "-qc", f"{debian_pasta} --version", "/dev/null"]).stdout.split("\n")[0].strip()
    assert version.startswith("pasta 0.0~git20") and version.count("-") >= 1, version


def test_debian_pastas_configure_the_namespace(impl, debian_pasta):
    result = run(impl.argv() + pasta_flags(debian_pasta) + ["--disable-host-loopback", "sh", "-c", SHOW])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "10.0.2.100/24"
    assert "default via 10.0.2.2 dev tap0" in result.stdout
    assert "nameserver 10.0.2.3\n" in result.stdout
    assert result.stdout.rstrip().endswith("65520")
    # pasta runs in the foreground with its messages on rootlesskit's stderr (a unit's journal), as under Go
    assert "Namespace interface" in result.stderr or "Template interface" in result.stderr, result.stderr


def test_pasta_custom_cidr_and_mtu(impl, current_pasta):
    result = run(impl.argv() + pasta_flags(current_pasta) + ["--disable-host-loopback", "--cidr=10.0.5.0/24",
                                                             "--mtu=1500", "sh", "-c", SHOW])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("10.0.5.100/24\n") and "nameserver 10.0.5.3" in result.stdout
    assert result.stdout.rstrip().endswith("1500")


def test_pasta_requires_a_matching_port_driver(impl):
    result = run(impl.argv() + ["--net=pasta", "--port-driver=builtin", "true"])
    assert result.returncode == 1
    assert 'network "pasta" requires port driver "none", "implicit" or "pesto"' in result.stderr


def _free_fixed_port() -> int:
    """A free TCP port below the ephemeral range: sid's pasta (2026_10_02) leaves ephemeral ports out
    of its `auto` forwarding, in both directions (trixie's forwards them)."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for port in random.sample(range(20000, low), 200):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
                return port
            except OSError:
                continue
    raise AssertionError(f"no free port between 20000 and {low}")


@pytest.fixture
def host_loopback_server():
    """The port of a server on the host's 127.0.0.1 answering "hello from the host", below the
    ephemeral range, so that every pasta's -T auto carries it into the namespace's loopback."""
    server = one_line_server("127.0.0.1", b"hello from the host\n", _free_fixed_port())
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("disable", [False, True], ids=["host-loopback", "disable-host-loopback"])
def test_disable_host_loopback_blocks_the_hosts_127_0_0_1(impl, debian_pasta, host_loopback_server, disable):
    """RootlessKit v3.1 (PR #612): with the flag, neither the gateway (10.0.2.2, pasta's map to the host)
    nor the namespace's own 127.0.0.1 (pasta's splice of the host's loopback ports, -T/-U auto) reaches
    a service on the host's 127.0.0.1; without it, both do."""
    probe = (f"busybox nc -w 3 127.0.0.1 {host_loopback_server} </dev/null; echo ---; "
             f"busybox nc -w 3 10.0.2.2 {host_loopback_server} </dev/null; echo ---")
    flags = pasta_flags(debian_pasta) + (["--disable-host-loopback"] if disable else [])
    result = run(impl.argv() + flags + ["sh", "-c", probe])
    assert result.returncode == 0, result.stderr
    via_loopback, via_gateway, _ = result.stdout.split("---\n")
    expected = "" if disable else "hello from the host\n"
    assert (via_loopback, via_gateway) == (expected, expected), result.stderr


def test_disable_host_loopback_keeps_the_way_out_and_published_ports(impl, debian_pasta, tmp_path):
    """What --tcp-ns=none/--udp-ns=none leave alone: connections out to a host address that is not
    loopback, and (implicit port driver) a port the namespace listens on, reached from the host."""
    outside = one_line_server("0.0.0.0", b"hello from outside\n")
    host_ip = run(["ip", "-4", "-o", "route", "get", "1.1.1.1"]).stdout.split(" src ")[1].split()[0]
    inside = _free_fixed_port()
    script = (f"busybox nc -w 3 {host_ip} {outside.getsockname()[1]} </dev/null; "
              f"echo hello from the namespace | busybox nc -l -p {inside}")
    out, err = tmp_path / "out", tmp_path / "err"  # files, not pipes: a hung nc must not hang the test
    with open(out, "w") as out_f, open(err, "w") as err_f:
        proc = subprocess.Popen(impl.argv() + pasta_flags(debian_pasta) + ["--disable-host-loopback",
                                                                           "--port-driver=implicit", "sh", "-c", script],
                                stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f, cwd=REPO)
    try:
        answer = first_reply(inside)  # pasta looks for new listening ports in the namespace every second
        proc.wait(timeout=30)
    finally:
        outside.close()
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err.read_text()
    assert out.read_text() == "hello from outside\n"
    assert answer == b"hello from the namespace\n"


@pytest.mark.parametrize("detach", [False, True], ids=["child-netns", "detach-netns"])
def test_pasta_runs_in_the_foreground_and_leaves_with_its_namespace(impl, debian_pasta, tmp_path, detach):
    """pasta stays rootlesskit's child (--foreground), its messages on rootlesskit's stderr (a unit's
    journal); at stop it is not signalled (Debian's AppArmor profile for pasta denies that) but exits
    by itself once its namespace is gone, and is gone when rootlesskit is."""
    state = tmp_path / "st"
    argv = impl.argv() + pasta_flags(debian_pasta) + ["--disable-host-loopback", "--debug", f"--state-dir={state}"]
    argv += (["--detach-netns"] if detach else []) + ["sh", "-c", "read line; echo done"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO)
    try:
        wait_for_file(state / "child_pid")
        pastas = [p for p in child_pids(proc.pid) if process_name(p) in PASTA_COMMS]
        assert len(pastas) == 1, [(p, process_name(p)) for p in child_pids(proc.pid)]
        out, err = proc.communicate("go\n", timeout=30)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 0 and out == "done\n", err
    assert not os.path.exists(f"/proc/{pastas[0]}"), "pasta outlived rootlesskit"
    assert "Namespace interface: tap0" in err  # pasta's own message, on rootlesskit's stderr
    # rootlesskit signals pasta only when it outstays the grace time, and says so; pasta itself
    # usually says "Namespace ... is gone, exiting" (not asserted: the tap may close first)
    assert "killing it" not in err
    assert not state.exists()


def test_gvisor_tap_vsock_refusal_names_the_bundled_pasta(binary, bundled_pasta, tmp_path):
    """Where upstream's dockerd-rootless.sh runs gvisor-tap-vsock, ours runs the release's pasta: the
    refusal names it as a working stack, with the flags that run it."""
    stderr = refused(binary.argv() + ["--net=gvisor-tap-vsock", "true"], tmp_path)
    assert (f"--net=pasta --pasta-binary={bundled_pasta} (the pasta shipped with rootlesskit-py)") in stderr, stderr


def test_bundled_pasta_says_what_it_is_and_configures_the_namespace(binary, bundled_pasta):
    """The release's static pasta: Debian 13's version plus our marker (rootlesskit's version gate
    reads the date of Debian's form), and the namespace as with any current pasta."""
    version = run(["script", "-qc", f"{bundled_pasta} --version", "/dev/null"])  # it prints on a terminal only
    assert version.stdout.startswith("pasta 0.0~git20250503.587980c-2+deb13u1+rootlesskitpy.static.musl\n"), version
    for name in ("pasta", "pasta.avx2"):  # what pasta execs on AVX2 CPUs
        path = os.path.join(os.path.dirname(bundled_pasta), name)
        headers = run(["readelf", "--program-headers", "--wide", path])
        assert "LOAD" in headers.stdout and "INTERP" not in headers.stdout and "DYNAMIC" not in headers.stdout
        # AVX2 (256-bit ymm registers) in pasta.avx2 only: pasta itself runs on any x86-64
        assert ("%ymm" in run(["objdump", "-d", path]).stdout) == (name == "pasta.avx2"), name
    result = run(binary.argv() + ["--net=pasta", f"--pasta-binary={bundled_pasta}", "--disable-host-loopback",
                                  "--copy-up=/etc", "sh", "-c", SHOW])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "10.0.2.100/24"
    assert "default via 10.0.2.2 dev tap0" in result.stdout and result.stdout.rstrip().endswith("65520")
    assert "AVX2" not in result.stderr  # pasta found its .avx2 build (it warns when that is missing)
