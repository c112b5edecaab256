#!/usr/bin/env python3
"""Network bring-up time, slirp4netns throughput to the host, and the containers' own network (a
namespace talking to the outside through slirp4netns, pasta or lxc-user-nic) of rootlesskit-py next to
Go RootlessKit, in one run.

    sudo python3 bench/network.py --outside up      # once, as root: the outside network namespace
    runuser -u rkpytest -- python3 bench/network.py [--runs N] [--iperf-seconds T] [--iperf-repeats R]
                    [--helpers slirp4netns,pasta,lxc-user-nic] [--pasta PATH] [--outside-only]
                    [--markdown] [--ours PATH] [--go PATH] [--go2 PATH]
    sudo python3 bench/network.py --outside down    # afterwards: the namespace and its iperf3 servers go

What and why:
  * Bring-up: wall time of `rootlesskit --net=slirp4netns --disable-host-loopback --copy-up=/etc true`,
    i.e. user namespace, network namespace, slirp4netns started and waited for, tap device configured,
    /etc copied up. Paired interleaved runs as in bench/startup.py (same Runner), so drift hits both
    sides alike; the issue's bound is ours/Go <= 1.5x.
  * Throughput: iperf3 from the namespace to the host (child -> parent) through slirp4netns, at MTU 1500
    and 65520, as upstream's hack/benchmark-iperf3-net.sh does. That script runs WITHOUT
    --disable-host-loopback and connects to 10.0.2.2, which slirp4netns maps to the host's 127.0.0.1, so
    the host server binds 127.0.0.1 only. slirp4netns moves the bytes, so the expected ratio is ~1.0:
    the figure checks that our parent (which starts slirp4netns and sets up the device) does not slow it.
    Each (MTU, repeat) runs ours and Go back to back, the order alternating; a fresh free port each time.
  * Every iperf3 server and rootlesskit process is bounded by a timeout and killed (its whole process
    group) on error; a failed run aborts the benchmark with its stderr, since its figure would mean nothing.
  * Load: iperf3 and slirp4netns keep both CPUs of a small machine busy, so CPU pressure (PSI) during
    the iperf3 phase is mostly the benchmark's own. Each phase therefore also reports "other CPU": busy
    CPU time in /proc/stat minus the CPU time of this process and its reaped descendants, in CPUs; a
    quiet machine shows ~0 (kernel work for the loopback traffic that is not charged to a process
    shows up here too). Rerun if it is well above a quiet run's.
  * The outside (issue 24): what a container's own traffic (`docker pull`, `apt-get`) goes through is
    the namespace's helper talking to the world, not `-p` forwarding and not the host's loopback. So an
    iperf3 server listens on 198.18.0.2 in a second network namespace, joined to the host by a veth
    pair (198.18.0.1/30 on the host; RFC 2544's benchmark range). Root makes it (`--outside up`), with
    eight iperf3 servers run as daemons in it, taken in turn; it refuses to start if any address or route of
    198.18.0.0/24 already exists on the host, and the measuring run refuses to start unless
    198.18.0.2 is routed through that veth. Both directions run from the namespace's client:
    namespace -> outside is plain iperf3, outside -> namespace is `-R` (the server sends), so no
    port has to be published. Each helper at MTU 1500 and 65520, ours against Go 2.0.2 (`--go2`)
    with the same helper binary; pasta is tests/engines.sh's build of Debian 13's passt (`--pasta`).
    lxc-user-nic is the SUID helper: a veth on lxcbr0 (its bridge's MTU is 1500; both sides set the
    namespace's end to --mtu all the same). Each figure also gives the median of the sender's TCP
    retransmissions, which is where a helper that drops segments shows. A client not done 30 s after
    its -t stalled (pasta here, both rootlesskits): it is killed, counted as 0 bit/s in the median
    and shown as "k of n stalled".
  * Run it as a user no test suite runs as (e.g. rkpybench) while tests run: the suite's leftover
    check counts every undumpable process of its user, which is what pasta makes itself.
  * It must run as an unprivileged user with /etc/subuid and /etc/subgid entries (see bench/startup.py).
Python 3 standard library only.
"""

from __future__ import annotations

import gc
import ipaddress
import itertools
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

from startup import (ENGINE_CACHE, GO_HEADER, Runner, bench_parser, bench_time, binaries, cpu_stall_us, environment,
                     fmt_ms, loadavg, print_table)

BRINGUP = ["--net=slirp4netns", "--disable-host-loopback", "--copy-up=/etc", "true"]
MTUS = [1500, 65520]
HELPERS = ("slirp4netns", "pasta", "lxc-user-nic")
PASTA = ENGINE_CACHE / "passt-trixie" / "pasta"  # tests/engines.sh builds it as Debian 13 does (debian/rules)
# the outside: a network namespace on a veth pair, in RFC 2544's benchmark range
# (its first /24: the test suite's outside, tests/run, takes 198.18.2.0/30 of the same range)
BENCH_RANGE = ipaddress.ip_network("198.18.0.0/24")
OUTSIDE_NETNS, HOST_VETH, OUTSIDE_VETH = "rkpy-bench-outside", "rkpyb0", "rkpyb1"
HOST_ADDR, OUTSIDE_ADDR = "198.18.0.1", "198.18.0.2"
# one iperf3 server per port, the runs taking them in turn: a server still busy with a stalled run's
# killed client resets itself (--idle-timeout) long before its next turn, so one stall cannot
# stall the runs after it
OUTSIDE_PORTS = range(5201, 5209)
OUTSIDE_PIDFILE = "/run/rkpy-bench-outside-iperf3-{port}.pid"
# and a small page over HTTP on port 80, for connection set-up times (bench/bypass4netns.py)
OUTSIDE_HTTPD_PIDFILE, OUTSIDE_WWW = "/run/rkpy-bench-outside-httpd.pid", "/run/rkpy-bench-outside-www"
STALL_GRACE = 30  # seconds past -t before a client counts as stalled


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether 127.0.0.1:port is in LISTEN state, from /proc/net/tcp (a probe connection would use up `-s -1`)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(cols[1] == want and cols[3] == "0A" for cols in (line.split() for line in f))


class LoadMeter:
    """CPU pressure (PSI some) and CPU use by other processes over one phase of the run."""

    def __init__(self) -> None:
        self.t0, self.stall0, self.busy0, self.own0 = time.monotonic(), cpu_stall_us(), busy_seconds(), own_seconds()

    def report(self) -> str:
        wall, stall = time.monotonic() - self.t0, cpu_stall_us()
        psi = "n/a" if stall is None or self.stall0 is None else f"{(stall - self.stall0) / 1e4 / wall:.0f}%"
        other = (busy_seconds() - self.busy0 - (own_seconds() - self.own0)) / wall
        return f"CPU pressure (PSI some) {psi}, other CPU {max(other, 0):.2f} CPUs over {wall:.0f} s"


def busy_seconds() -> float:
    """user + nice + system time of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system = (int(v) for v in f.readline().split()[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU time of this process and of the descendants reaped so far."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group a session leader started, then reap the leader."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def fail(what: str, stderr: str) -> None:
    sys.stderr.write(f"FAILED: {what}\n{stderr}\n")
    sys.exit(1)


def iperf_once(exe: str, mtu: int, seconds: int) -> float:
    """bits/s received by the host's iperf3 server from an iperf3 client inside `rootlesskit --mtu=mtu`."""
    port = free_port()
    server_argv = ["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port), "--idle-timeout", str(seconds + 30)]
    client_argv = [exe, "--net=slirp4netns", f"--mtu={mtu}", "--copy-up=/etc",
                   "iperf3", "-c", "10.0.2.2", "-p", str(port), "-t", str(seconds), "-J"]
    server = subprocess.Popen(server_argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                kill_group(server)
                fail(" ".join(server_argv), server.stderr.read())
            time.sleep(0.01)
        result = iperf_client(client_argv, seconds + 30)
        if result is None:
            fail(f"timed out: {' '.join(client_argv)}", "")
        try:
            server.wait(timeout=10)  # -1: exits once the test is over
        except subprocess.TimeoutExpired:
            fail(f"iperf3 server still running after the client ended: {' '.join(server_argv)}", "")
        if server.returncode != 0:
            fail(f"exit {server.returncode}: {' '.join(server_argv)}", server.stderr.read())
        return result["end"]["sum_received"]["bits_per_second"]
    finally:
        kill_group(server)


def iperf_client(argv: list[str], timeout: float) -> dict | None:
    """The JSON result of `rootlesskit ... iperf3 -J` run in a session of its own, or None when it
    has not ended within `timeout` (its process group is then killed); a failure ends the run."""
    client = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        out, err = client.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(client)
        return None
    try:
        result = json.loads(out)
    except ValueError:
        result = {}
    if client.returncode != 0 or "error" in result:
        fail(f"exit {client.returncode}: {' '.join(argv)}", f"{err}{result.get('error', '')}")
    return result


def bench_iperf(exes: dict[str, str], seconds: int, repeats: int) -> dict[int, dict[str, list[float]]]:
    bps: dict[int, dict[str, list[float]]] = {mtu: {side: [] for side in exes} for mtu in MTUS}
    n = 0
    for r in range(repeats):
        for mtu in MTUS:
            for side in (list(exes) if n % 2 == 0 else list(exes)[::-1]):
                print(f"iperf3 MTU {mtu}, {side}, repeat {r + 1}/{repeats} ...", file=sys.stderr, flush=True)
                bps[mtu][side].append(iperf_once(exes[side], mtu, seconds))
            n += 1
    return bps


def ip(*argv: str) -> str:
    """`ip ARGV`'s output; a failure ends the run with its stderr."""
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        fail(f"exit {done.returncode}: ip {' '.join(argv)}", done.stderr)
    return done.stdout


def range_in_use() -> list[str]:
    """Addresses and routes of BENCH_RANGE this host already has (`ip -4 addr`, `ip -4 route`)."""
    taken = []
    for line in ip("-4", "-o", "addr", "show").splitlines():
        cols = line.split()
        address = ipaddress.ip_interface(cols[3])
        if address.network.overlaps(BENCH_RANGE):
            taken.append(f"address {address} on {cols[1]}")
    for line in ip("-4", "route", "show", "table", "all").splitlines():
        dest = line.split()[0]
        if dest not in ("default", "broadcast", "local", "unreachable") and \
                ipaddress.ip_network(dest, strict=False).overlaps(BENCH_RANGE):
            taken.append(f"route {line.strip()}")
    return taken


def outside(action: str) -> None:
    """Root's part: make (`up`) or remove (`down`) the outside namespace and its iperf3 servers."""
    if os.geteuid() != 0:
        sys.exit("bench/network.py --outside: run it as root (sudo python3 bench/network.py --outside up)")
    if action == "down":
        for pidfile in [*(OUTSIDE_PIDFILE.format(port=port) for port in OUTSIDE_PORTS), OUTSIDE_HTTPD_PIDFILE]:
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass  # not running
        if subprocess.run(["ip", "link", "show", "dev", HOST_VETH], capture_output=True).returncode == 0:
            ip("link", "delete", HOST_VETH)  # both ends: the namespace itself goes away only once unused
        if OUTSIDE_NETNS in ip("netns", "list").split():
            ip("netns", "delete", OUTSIDE_NETNS)
        return
    taken = range_in_use()
    if taken:
        sys.exit(f"bench/network.py: {BENCH_RANGE} is already in use here ({'; '.join(taken)}); the outside "
                 f"namespace needs it free. Remove those, or run --outside down if an earlier run left them.")
    ip("netns", "add", OUTSIDE_NETNS)
    ip("link", "add", HOST_VETH, "type", "veth", "peer", "name", OUTSIDE_VETH, "netns", OUTSIDE_NETNS)
    ip("addr", "add", f"{HOST_ADDR}/30", "dev", HOST_VETH)
    ip("link", "set", HOST_VETH, "up")
    for argv in (["addr", "add", f"{OUTSIDE_ADDR}/30", "dev", OUTSIDE_VETH], ["link", "set", OUTSIDE_VETH, "up"],
                 ["link", "set", "lo", "up"], ["route", "add", "default", "via", HOST_ADDR]):
        ip("-n", OUTSIDE_NETNS, *argv)
    for port in OUTSIDE_PORTS:
        server = subprocess.run(["ip", "netns", "exec", OUTSIDE_NETNS, "iperf3", "-s", "-D", "-B", OUTSIDE_ADDR,
                                 "-p", str(port), "-I", OUTSIDE_PIDFILE.format(port=port),
                                 "--idle-timeout", str(STALL_GRACE)], capture_output=True, text=True)
        if server.returncode != 0:
            fail("iperf3 server in the outside namespace", server.stderr)
    os.makedirs(OUTSIDE_WWW, exist_ok=True)
    with open(os.path.join(OUTSIDE_WWW, "index.html"), "w") as f:
        f.write("hello-from-outside\n")
    httpd = subprocess.Popen(["ip", "netns", "exec", OUTSIDE_NETNS, "busybox", "httpd", "-f", "-p", f"{OUTSIDE_ADDR}:80",
                              "-h", OUTSIDE_WWW], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    with open(OUTSIDE_HTTPD_PIDFILE, "w") as f:
        f.write(f"{httpd.pid}\n")
    print(f"outside: {OUTSIDE_ADDR}:{OUTSIDE_PORTS[0]}-{OUTSIDE_PORTS[-1]} in network namespace {OUTSIDE_NETNS}, "
          f"{HOST_ADDR} on {HOST_VETH}; remove it with: sudo python3 bench/network.py --outside down")


def check_outside() -> None:
    """The measuring run's precondition: 198.18.0.2 goes through our veth, nothing else took the range."""
    route = ip("-4", "route", "get", OUTSIDE_ADDR)
    if f"dev {HOST_VETH} " not in route:
        sys.exit(f"bench/network.py: {OUTSIDE_ADDR} is not routed through {HOST_VETH} ({route.strip()}); "
                 "make the outside first, as root: sudo python3 bench/network.py --outside up")
    stray = [t for t in range_in_use() if HOST_VETH not in t]
    if stray:
        sys.exit(f"bench/network.py: {BENCH_RANGE} is also used by {'; '.join(stray)}: figures would not be "
                 "the outside namespace's")


def helper_flags(helper: str, pasta: str) -> list[str]:
    """The flags that give both rootlesskits the same helper binary."""
    if helper == "pasta":
        return ["--net=pasta", f"--pasta-binary={pasta}"]
    if helper == "lxc-user-nic":
        return ["--net=lxc-user-nic", "--disable-host-loopback"]
    return ["--net=slirp4netns", "--disable-host-loopback"]


def outside_once(exe: str, helper: str, pasta: str, mtu: int, reverse: bool, seconds: int,
                 port: int) -> tuple[float, int] | None:
    """bits/s the receiver got and the sender's retransmissions, iperf3 in `rootlesskit --net=helper`
    to the outside server (`-R`: the server sends into the namespace); None when the transfer stalled
    (the client not done STALL_GRACE s after -t: a helper whose TCP backs off for ever), which the
    table counts and shows, since leaving it out would flatter the helper."""
    argv = [exe, *helper_flags(helper, pasta), f"--mtu={mtu}", "--copy-up=/etc",
            "iperf3", "-c", OUTSIDE_ADDR, "-p", str(port), "-t", str(seconds), "-J", *(["-R"] if reverse else [])]
    result = iperf_client(argv, seconds + STALL_GRACE)
    if result is None:
        print(f"stalled: {' '.join(argv)}", file=sys.stderr, flush=True)
        return None
    end = result["end"]
    return end["sum_received"]["bits_per_second"], end["sum_sent"].get("retransmits", 0)


def bench_outside(exes: dict[str, str], helpers: list[str], pasta: str, seconds: int,
                  repeats: int) -> dict[tuple[str, int, bool], dict[str, list[tuple[float, int] | None]]]:
    """Every (helper, MTU, direction), ours and Go's back to back, the order alternating."""
    sides = {"ours": exes["ours"], "go": exes["go2"]}
    results: dict = {(h, m, r): {side: [] for side in sides} for h in helpers for m in MTUS for r in (False, True)}
    ports = itertools.cycle(OUTSIDE_PORTS)
    for n, (rep, key) in enumerate((rep, key) for rep in range(repeats) for key in results):
        for side in (list(sides) if n % 2 == 0 else list(sides)[::-1]):
            helper, mtu, reverse = key
            print(f"outside: {helper} MTU {mtu} {'outside -> namespace' if reverse else 'namespace -> outside'}, "
                  f"{side}, repeat {rep + 1}/{repeats} ...", file=sys.stderr, flush=True)
            results[key][side].append(outside_once(sides[side], helper, pasta, mtu, reverse, seconds, next(ports)))
    return results


def median_bps(samples: list[tuple[float, int] | None]) -> float:
    """The median throughput, a stalled run counting as 0 bit/s."""
    return statistics.median(0.0 if s is None else s[0] for s in samples)


def outside_rows(results: dict, seconds: int) -> list[tuple[str, str, str, str]]:
    """One row per (helper, MTU, direction): medians (min-max) and the sender's median retransmissions."""
    def cell(samples: list[tuple[float, int] | None]) -> str:
        done = [s for s in samples if s is not None]
        stalled = f", {len(samples) - len(done)} of {len(samples)} stalled" if len(done) < len(samples) else ""
        if not done:
            return f"stalled ({len(samples)} of {len(samples)})"
        bps = [b for b, _ in done]
        return (f"{statistics.median(bps) / 1e9:.2f} Gbit/s ({min(bps) / 1e9:.2f}-{max(bps) / 1e9:.2f}), "
                f"{statistics.median(r for _, r in done):.0f} retr.{stalled}")
    out = []
    for (helper, mtu, reverse), sides in results.items():
        ours, go = (median_bps(sides[s]) for s in ("ours", "go"))
        what = "outside -> namespace (`-R`)" if reverse else "namespace -> outside"
        out.append((f"{helper} `--mtu={mtu}`: iperf3 {what}, {seconds} s, median (min-max)",
                    cell(sides["ours"]), cell(sides["go"]), f"{ours / go:.2f}x" if go else "n/a (Go's median 0)"))
    return out


def rows(bringup: dict, bps: dict[int, dict[str, list[float]]], seconds: int) -> list[tuple[str, str, str, str]]:
    cell = lambda r: f"{fmt_ms(r['median'])} ms ({fmt_ms(r['p10'])}-{fmt_ms(r['p90'])})"
    o, g = bringup["ours"], bringup["go"]
    out = [(f"`rootlesskit {' '.join(BRINGUP)}` wall, median (p10-p90)", cell(o), cell(g),
            f"{o['median'] / g['median']:.2f}x")]
    gbit = lambda v: f"{statistics.median(v) / 1e9:.2f} Gbit/s ({min(v) / 1e9:.2f}-{max(v) / 1e9:.2f})"
    for mtu, sides in bps.items():
        out.append((f"iperf3 child -> parent via 10.0.2.2, `--mtu={mtu}`, {seconds} s, median (min-max)",
                    gbit(sides["ours"]), gbit(sides["go"]),
                    f"{statistics.median(sides['ours']) / statistics.median(sides['go']):.2f}x"))
    return out


def tool_version(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.splitlines()[0].strip()


def main() -> None:
    parser = bench_parser(__doc__, runs=30, warmup=3, go2=True)
    parser.add_argument("--iperf-seconds", type=int, default=10, help="iperf3 -t (default 10)")
    parser.add_argument("--iperf-repeats", type=int, default=3, help="iperf3 runs per side per MTU (default 3)")
    parser.add_argument("--outside", choices=("up", "down"),
                        help="as root: make or remove the outside namespace, then exit")
    parser.add_argument("--outside-only", action="store_true",
                        help="only the outside rows (no bring-up, no slirp4netns-to-host rows)")
    parser.add_argument("--helpers", default=",".join(HELPERS),
                        help=f"helpers for the outside rows, comma-separated (default {','.join(HELPERS)})")
    parser.add_argument("--pasta", default=str(PASTA), help=f"pasta for both rootlesskits (default {PASTA})")
    args = parser.parse_args()
    if args.outside:
        outside(args.outside)
        return
    exes = binaries("bench/network.py", args)
    if args.iperf_repeats < 1 or args.iperf_seconds < 1:
        sys.exit("--iperf-repeats and --iperf-seconds must be at least 1")
    helpers = args.helpers.split(",")
    unknown = [h for h in helpers if h not in HELPERS]
    if unknown:
        sys.exit(f"--helpers: unknown {', '.join(unknown)}; accepted: {', '.join(HELPERS)}")
    check_outside()
    runner = Runner()
    load_before = loadavg()
    pair = {"ours": exes["ours"], "go": exes["go"]}
    try:
        table, load = [], []
        if not args.outside_only:
            print(f"timing rootlesskit {' '.join(BRINGUP)} ...", file=sys.stderr, flush=True)
            meter = LoadMeter()
            gc.disable()  # no collector pauses inside the timed loop
            bringup = bench_time(runner, pair, BRINGUP, args.runs, args.warmup)
            gc.enable()
            load.append(f"bring-up: {meter.report()}")
            meter = LoadMeter()
            bps = bench_iperf(pair, args.iperf_seconds, args.iperf_repeats)
            load.append(f"iperf3 to the host: {meter.report()}")
            table += rows(bringup, bps, args.iperf_seconds)
        meter = LoadMeter()
        results = bench_outside(exes, helpers, args.pasta, args.iperf_seconds, args.iperf_repeats)
        load.append(f"iperf3 to the outside: {meter.report()}")
        print(f"load during the run: {'; '.join(load)}", file=sys.stderr)
        if args.markdown:
            env = environment(runner, args, load_before, "")[:-1]  # its last line describes startup.py's runs
            env[2] = env[2].split("; CPU pressure")[0] + f"; load during the run: {'; '.join(load)}"
            bringup_runs = "" if args.outside_only else (f"{args.runs} paired interleaved bring-up runs after "
                                                         f"{args.warmup} warm-up pairs; ")
            env.append(f"- {bringup_runs}iperf3: "
                       f"{args.iperf_repeats} runs per side per row, interleaved, `-t {args.iperf_seconds}`; "
                       f"{tool_version(['slirp4netns', '--version'])}; {tool_version(['iperf3', '--version'])}; "
                       f"{tool_version(['script', '-qc', f'{args.pasta} --version', '/dev/null'])} (`{args.pasta}`); "
                       f"outside rows: Go is `{args.go2}`, ours/Go of the medians")
            print("\n".join(env) + "\n")
        if table:
            print_table(table, args.markdown)
            print()
        print_table(outside_rows(results, args.iperf_seconds), args.markdown, GO_HEADER[:2] + ("Go (rootlesskit 2.0.2)",
                                                                                        "ours/Go"))
        print(fastest_summary(results), file=sys.stdout)
    finally:
        os.unlink(runner.stderr_path)


def fastest_summary(results: dict) -> str:
    """Issue 24's goal, from this run: ours' fastest no-SUID stack against slirp4netns at MTU 65520."""
    def ours(helper: str) -> float:
        return median_bps(results[(helper, 65520, False)]["ours"])
    no_suid = [h for h in ("slirp4netns", "pasta") if (h, 65520, False) in results]
    if "slirp4netns" not in no_suid:
        return "fastest no-SUID stack: not measured (needs slirp4netns in --helpers)"
    best = max(no_suid, key=ours)
    return (f"fastest no-SUID stack, namespace -> outside at MTU 65520 (ours): {best} "
            f"{ours(best) / 1e9:.2f} Gbit/s, {ours(best) / ours('slirp4netns'):.2f}x slirp4netns")


if __name__ == "__main__":
    main()
