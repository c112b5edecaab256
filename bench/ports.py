#!/usr/bin/env python3
"""Port forwarding of rootlesskit-py next to Go RootlessKit 1.1.0 and 2.0.2, in one run.

    runuser -u rkpytest -- python3 bench/ports.py [--quick] [--repeats R] [--seconds T] [--udp-rate RATE]
                                                  [--only tcp|http|udp|slirp|memory ...] [--busy-loops N]
                                                  [--markdown]
                                                  [--ours PATH] [--go PATH] [--go2 PATH]

What and why (all through `--net=slirp4netns --mtu=65520 --disable-host-loopback --copy-up=/etc`):
  * TCP throughput, host -> namespace, through the builtin port driver: `iperf3 -s` inside,
    `-p 127.0.0.1:PORT:5201/tcp`, host `iperf3 -c`, as upstream's hack/benchmark-iperf3-port.sh;
    plain loopback iperf3 (no rootlesskit) is the ceiling.
  * New-connection rate: `busybox httpd` inside, `wrk` on the host with `Connection: close`, so every
    request is a new connection through the forwarder; req/s and p99 latency; the same httpd on the
    host without any forwarder is the ceiling.
  * UDP round trips per second through the builtin driver: an echo server inside
    (tests/helpers/portserver.py), one client doing request/response back to back.
  * UDP bulk through the builtin driver: `iperf3 -s` inside, published as tcp (its control
    connection) and udp on one port, host `iperf3 -c -u -b RATE -l 1400`: what arrives per second and
    the share lost, at a fixed sending rate (--udp-rate); the same on plain loopback is the ceiling.
    Where they were lost: the drops the kernel counted on the published port's socket (the
    forwarder's, in the host's /proc/net/udp) and on iperf3's socket inside (the child's; udp6 too).
  * The slirp4netns port driver's TCP throughput (slirp4netns moves the bytes: ~1.0 expected).
  * Peak memory (sum of VmHWM) of rootlesskit's own two processes, the parent and the child named in
    child_pid (not the command, not slirp4netns), with 100 published ports and 1,000 idle open
    connections through them.
With --busy-loops N, N busy loops (nice 0) run beside everything: a machine with no idle CPU, where
each wake-up of a forwarder waits for the scheduler.
Each measurement runs ours and both Go versions back to back, the order reversed every other repeat;
each ratio is against the better Go. A failed run aborts with its stderr. Run as an unprivileged
user with /etc/subuid entries. Stdlib only.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Iterator

from network import LoadMeter, fail, free_port, kill_group, listening, tool_version
from startup import bench_parser, binaries, environment, print_table, read_kib, Runner, loadavg

REPO = pathlib.Path(__file__).resolve().parents[1]
PORTSERVER = str(REPO / "tests" / "helpers" / "portserver.py")
BASE = ["--net=slirp4netns", "--mtu=65520", "--disable-host-loopback", "--copy-up=/etc"]


class Kit:
    """One rootlesskit running a command in the background with a state dir; ready once child_pid exists."""

    def __init__(self, exe: str, flags: list[str], command: list[str]) -> None:
        self.state = pathlib.Path(tempfile.mkdtemp(prefix="rk-bench-state-"))
        shutil.rmtree(self.state)
        self.argv = [exe, f"--state-dir={self.state}", *BASE, *flags, *command]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)

    def __enter__(self) -> "Kit":
        deadline = time.monotonic() + 30
        while not (self.state / "child_pid").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                kill_group(self.proc)
                fail(" ".join(self.argv), self.proc.stderr.read())
            time.sleep(0.01)
        return self

    def child_pid(self) -> int:
        return int((self.state / "child_pid").read_text())

    def __exit__(self, *exc: object) -> None:
        kill_group(self.proc)
        shutil.rmtree(self.state, ignore_errors=True)


@contextlib.contextmanager
def host_server(argv: list[str], port: int) -> Iterator[None]:
    """A server on the host with no rootlesskit in front of it (the ceiling), listening on `port`."""
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not listening(port):
            if server.poll() is not None:
                fail(" ".join(argv), "exited before listening")
            time.sleep(0.01)
        yield
    finally:
        kill_group(server)


def wait_tcp(port: int, timeout: float = 20) -> None:
    """Until the server inside answers through the forwarder (a connection that stays open)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(0.2)
                try:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        raise OSError("closed")
                except socket.timeout:
                    pass  # open and silent: the server accepted
                return
        except OSError:
            time.sleep(0.05)
    fail(f"nothing answered on 127.0.0.1:{port}", "")


def iperf_client(port: int, seconds: int) -> float:
    """One iperf3 run; retried for a while when the server inside is not listening yet."""
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"]
    deadline = time.monotonic() + 20
    while True:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
        try:
            return json.loads(result.stdout)["end"]["sum_received"]["bits_per_second"]
        except (ValueError, KeyError):
            if time.monotonic() > deadline:
                fail(" ".join(argv), result.stdout[-2000:] + result.stderr)
            time.sleep(0.2)


def iperf_through(exe: str | None, port_driver: str, seconds: int) -> float:
    """bits/s host -> namespace through the port driver; exe None: plain loopback."""
    port = free_port()
    if exe is None:
        with host_server(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)], port):
            return iperf_client(port, seconds)
    with Kit(exe, [f"--port-driver={port_driver}", "-p", f"127.0.0.1:{port}:5201/tcp"], ["iperf3", "-s", "-p", "5201"]):
        return iperf_client(port, seconds)


def wrk(port: int, seconds: int) -> tuple[float, float]:
    """(requests/s, p99 latency ms) with a new connection per request."""
    argv = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", "-H", "Connection: close", f"http://127.0.0.1:{port}/"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if not rate or not p99 or errors:
        fail(" ".join(argv), out)
    return float(rate.group(1)), float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]


def httpd_rate(exe: str | None, www: str, seconds: int) -> tuple[float, float]:
    port = free_port()
    if exe is None:
        with host_server(["busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", www], port):
            return wrk(port, seconds)
    with Kit(exe, ["--port-driver=builtin", "-p", f"127.0.0.1:{port}:80/tcp"], ["busybox", "httpd", "-f", "-p", "80", "-h", www]):
        wait_tcp(port)
        return wrk(port, seconds)


def iperf_udp_client(port: int, seconds: int, rate: str) -> tuple[float, float]:
    """(bits/s received, percent lost) of one `iperf3 -u` run at `rate`; retried while the server
    inside is not listening yet."""
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-u", "-b", rate, "-l", "1400", "-t", str(seconds), "-J"]
    deadline = time.monotonic() + 20
    while True:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
        try:
            received = json.loads(result.stdout)["end"]["sum_received"]
            return received["bits_per_second"], received["lost_percent"]
        except (ValueError, KeyError):
            if time.monotonic() > deadline:
                fail(" ".join(argv), result.stdout[-2000:] + result.stderr)
            time.sleep(0.2)


def iperf_udp_through(exe: str | None, seconds: int, rate: str) -> tuple[float, float, int, int]:
    """UDP host -> namespace through the builtin driver: (bits/s received, percent lost, datagrams
    dropped at the published port's socket, at iperf3's socket inside); exe None: plain loopback
    (its drops all iperf3's)."""
    port = free_port()
    if exe is None:
        with host_server(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)], port):
            with DropCounter("/proc/self/net/udp", port) as inside:
                received, lost = iperf_udp_client(port, seconds, rate)
            return received, lost, 0, inside.drops
    with Kit(exe, ["--port-driver=builtin", "-p", f"127.0.0.1:{port}:5201/tcp", "-p", f"127.0.0.1:{port}:5201/udp"],
             ["iperf3", "-s", "-p", "5201"]) as kit:
        with DropCounter("/proc/self/net/udp", port) as forwarder, \
                DropCounter(f"/proc/{kit.child_pid()}/net/udp", 5201) as inside:
            received, lost = iperf_udp_client(port, seconds, rate)
        return received, lost, forwarder.drops, inside.drops


class DropCounter(threading.Thread):
    """Datagrams the kernel dropped (a full receive buffer) on the UDP sockets bound to `port` in the
    network namespace whose /proc/net/udp is `table` (and udp6; their last column), sampled every
    SAMPLE_SECONDS while the block runs: iperf3 closes its data socket, and with it the count, as
    soon as a test ends, so drops in the last sample period may be missed."""
    SAMPLE_SECONDS = 0.05

    def __init__(self, table: str, port: int) -> None:
        super().__init__(daemon=True)
        self.table, self.port, self.drops = table, port, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        try:  # iperf3 -s inside listens on a dual-stack IPv6 socket
            lines = [line for t in (self.table, self.table + "6") for line in pathlib.Path(t).read_text().splitlines()[1:]]
        except OSError:
            return  # the namespace's last process is gone
        now = sum(int(f[-1]) for f in map(str.split, lines) if int(f[1].split(":")[1], 16) == self.port)
        self.drops = max(self.drops, now)

    def __enter__(self) -> "DropCounter":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()
        self.sample()


def udp_round_trips(exe: str, seconds: int) -> float:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Kit(exe, ["--port-driver=builtin", "-p", f"127.0.0.1:{port}:9000/udp"],
             [sys.executable, PORTSERVER, "udp", "9000", "0.0.0.0"]):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.connect(("127.0.0.1", port))
            deadline = time.monotonic() + 20
            while True:  # until the server inside answers
                s.send(b"x" * 64)
                try:
                    s.recv(2048)
                    break
                except (socket.timeout, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        fail("UDP echo through the builtin driver never answered", "")
            count, end = 0, time.monotonic() + seconds
            s.settimeout(2)
            while time.monotonic() < end:
                s.send(b"x" * 64)
                s.recv(2048)
                count += 1
    return count / seconds


def memory_with_load(exe: str, ports: int = 100, connections: int = 1000) -> int:
    """Peak KiB (VmHWM, parent + child) with `ports` published and `connections` idle open through them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    numbers: list[int] = []
    while len(numbers) < ports:  # distinct: free_port() may hand out a port twice
        if (port := free_port()) not in numbers:
            numbers.append(port)
    publish = [a for p in numbers for a in ("-p", f"127.0.0.1:{p}:8080/tcp")]
    with Kit(exe, ["--port-driver=builtin", *publish], [sys.executable, PORTSERVER, "tcp", "8080", "0.0.0.0"]) as kit:
        wait_tcp(numbers[0])
        clients = []
        try:
            for i in range(connections):
                s = socket.create_connection(("127.0.0.1", numbers[i % ports]), timeout=10)
                clients.append(s)
            for s in clients:  # every one reached the server (it greets with the client address)
                if not s.recv(64):
                    fail("a connection through the forwarder was closed", "")
            pids = [kit.proc.pid, kit.child_pid()]
            return sum(read_kib(f"/proc/{pid}/status", "VmHWM:") or 0 for pid in pids)
        finally:
            for s in clients:
                s.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def alternate(exes: dict[str, str], repeats: int, measure) -> dict[str, list]:
    results: dict[str, list] = {side: [] for side in exes}
    for r in range(repeats):
        for side in (list(exes) if r % 2 == 0 else list(exes)[::-1]):
            results[side].append(measure(exes[side]))
    return results


def main() -> None:
    parser = bench_parser(__doc__, runs=2, warmup=0, go2=True)
    parser.add_argument("--quick", action="store_true", help="short runs (smoke check): 2 s each, one repeat")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side per measurement (default 3)")
    parser.add_argument("--seconds", type=int, default=10, help="iperf3 -t and wrk -d (default 10)")
    parser.add_argument("--udp-rate", default="1G", help="iperf3 -u -b: the fixed sending rate (default 1G)")
    parser.add_argument("--only", choices=["tcp", "http", "udp", "slirp", "memory"], action="append",
                        help="measure only these (repeatable; default: all)")
    parser.add_argument("--busy-loops", type=int, default=0, metavar="N",
                        help="run N busy loops at nice 0 beside the measurements (default 0: a quiet machine)")
    args = parser.parse_args()
    exes = binaries("bench/ports.py", args)
    if args.quick:
        args.repeats, args.seconds = 1, 2
    load_before = loadavg()
    www = tempfile.mkdtemp(prefix="rk-bench-www-")
    pathlib.Path(www, "index.html").write_text("hello\n")
    meter = LoadMeter()
    progress = lambda what: print(what + " ...", file=sys.stderr, flush=True)  # noqa: E731
    wanted = set(args.only or ["tcp", "http", "udp", "slirp", "memory"])
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy_loops)]
    try:
        if "tcp" in wanted:
            progress("iperf3 through the builtin driver")
            tcp = alternate(exes, args.repeats, lambda exe: iperf_through(exe, "builtin", args.seconds))
            loopback = [iperf_through(None, "", args.seconds) for _ in range(args.repeats)]
        if "http" in wanted:
            progress("wrk, a new connection per request")
            http = alternate(exes, args.repeats, lambda exe: httpd_rate(exe, www, args.seconds))
            bare = [httpd_rate(None, www, args.seconds) for _ in range(args.repeats)]
        if "udp" in wanted:
            progress("UDP round trips")
            udp = alternate(exes, args.repeats, lambda exe: udp_round_trips(exe, args.seconds))
            progress("iperf3 -u through the builtin driver")
            udp_bulk = alternate(exes, args.repeats, lambda exe: iperf_udp_through(exe, args.seconds, args.udp_rate))
            udp_loopback = [iperf_udp_through(None, args.seconds, args.udp_rate) for _ in range(args.repeats)]
        if "slirp" in wanted:
            progress("iperf3 through the slirp4netns port driver")
            slirp = alternate(exes, args.repeats, lambda exe: iperf_through(exe, "slirp4netns", args.seconds))
        if "memory" in wanted:
            progress("memory with 100 ports and 1,000 connections")
            memory = alternate(exes, 1, memory_with_load)
    finally:
        for loop in busy:
            loop.kill()
            loop.wait()
        shutil.rmtree(www, ignore_errors=True)
    load = meter.report()
    print(f"load during the run: {load}", file=sys.stderr)

    med = statistics.median
    gbit = lambda v: f"{med(v) / 1e9:.2f} Gbit/s ({min(v) / 1e9:.2f}-{max(v) / 1e9:.2f})"  # noqa: E731
    rows = []  # label, results per side, format, whether more is better
    if "tcp" in wanted:
        rows.append((f"TCP host -> namespace, builtin, iperf3 -t {args.seconds}, median (min-max); loopback "
                     f"{med(loopback) / 1e9:.2f} Gbit/s, ours = {med(tcp['ours']) / med(loopback) * 100:.0f}% of it",
                     tcp, gbit, True))
    if "http" in wanted:
        rates = {side: [r for r, _ in v] for side, v in http.items()}
        p99 = {side: [p for _, p in v] for side, v in http.items()}
        rows += [(f"new connections/s (wrk, Connection: close, busybox httpd); without forwarder "
                  f"{med([r for r, _ in bare]):.0f}/s", rates, lambda v: f"{med(v):.0f}/s", True),
                 ("latency p99 of those requests (lower is better)", p99, lambda v: f"{med(v):.2f} ms", False)]
    if "udp" in wanted:
        rows += [("UDP round trips/s through builtin (64-byte datagrams, one client)", udp, lambda v: f"{med(v):.0f}/s",
                  True),
                 (f"UDP host -> namespace, builtin, iperf3 -u -b {args.udp_rate} -l 1400 -t {args.seconds}: received, "
                  f"median (min-max); loopback {med([b for b, *_ in udp_loopback]) / 1e9:.2f} Gbit/s",
                  {side: [b for b, *_ in v] for side, v in udp_bulk.items()}, gbit, True),
                 ("... and the share of datagrams lost (lower is better)",
                  {side: [lost for _, lost, *_ in v] for side, v in udp_bulk.items()}, lambda v: f"{med(v):.1f}%", False),
                 ("... of those, dropped by the forwarder (a full buffer on the published port's socket), median",
                  {side: [host for *_, host, _ in v] for side, v in udp_bulk.items()}, lambda v: f"{med(v):.0f}", False),
                 ("... and dropped by iperf3 inside (a full buffer on its own socket; on loopback "
                  f"{med([inside for *_, inside in udp_loopback]):.0f}), median",
                  {side: [inside for *_, inside in v] for side, v in udp_bulk.items()}, lambda v: f"{med(v):.0f}", False)]
    if "slirp" in wanted:
        rows.append((f"TCP host -> namespace, slirp4netns port driver, iperf3 -t {args.seconds}", slirp, gbit, True))
    if "memory" in wanted:
        mib = {side: [kib / 1024 for kib in v] for side, v in memory.items()}
        rows.append(("peak memory, parent + child (VmHWM), 100 ports + 1,000 open connections", mib,
                     lambda v: f"{med(v):.1f} MiB", False))
    table = []
    for label, results, fmt, more_is_better in rows:
        best = (max if more_is_better else min)(med(results["go"]), med(results["go2"]))
        ratio = f"{med(results['ours']) / best:.2f}x" if best else "-"  # none lost on the better Go's side
        table.append((label, *(fmt(results[side]) for side in exes), ratio))
    if args.markdown:
        runner = Runner()
        try:
            env = environment(runner, args, load_before, "")[:-1]
        finally:
            os.unlink(runner.stderr_path)
        env[2] = env[2].split("; CPU pressure")[0] + f"; load during the run: {load}"
        env.append(f"- {args.repeats} runs per side per measurement, interleaved; {tool_version(['iperf3', '--version'])}; "
                   f"{tool_version(['wrk', '--version'])}; {tool_version(['slirp4netns', '--version'])}"
                   + (f"; {args.busy_loops} busy loops at nice 0 beside it" if args.busy_loops else ""))
        print("\n".join(env) + "\n")
    print_table(table, args.markdown, ("Measurement", "ours", "Go 1.1.0", "Go 2.0.2", "ours / best Go"))


if __name__ == "__main__":
    main()
