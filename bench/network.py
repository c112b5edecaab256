#!/usr/bin/env python3
"""Network bring-up time and slirp4netns throughput of rootlesskit-py next to Go RootlessKit, in one run.

    runuser -u rkpytest -- python3 bench/network.py [--runs N] [--iperf-seconds T] [--iperf-repeats R]
                                                    [--markdown] [--ours PATH] [--go PATH]

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
  * It must run as an unprivileged user with /etc/subuid and /etc/subgid entries (see bench/startup.py).
Python 3 standard library only.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

from startup import Runner, bench_parser, bench_time, binaries, cpu_stall_us, environment, fmt_ms, loadavg, print_table

BRINGUP = ["--net=slirp4netns", "--disable-host-loopback", "--copy-up=/etc", "true"]
MTUS = [1500, 65520]


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
    client = None
    try:
        deadline = time.monotonic() + 5
        while not listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                kill_group(server)
                fail(" ".join(server_argv), server.stderr.read())
            time.sleep(0.01)
        client = subprocess.Popen(client_argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = client.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            kill_group(client)
            fail(f"timed out: {' '.join(client_argv)}", client.communicate()[1])
        try:
            result = json.loads(out)
        except ValueError:
            result = {}
        if client.returncode != 0 or "error" in result:
            fail(f"exit {client.returncode}: {' '.join(client_argv)}", f"{err}{result.get('error', '')}")
        try:
            server.wait(timeout=10)  # -1: exits once the test is over
        except subprocess.TimeoutExpired:
            fail(f"iperf3 server still running after the client ended: {' '.join(server_argv)}", "")
        if server.returncode != 0:
            fail(f"exit {server.returncode}: {' '.join(server_argv)}", server.stderr.read())
        return result["end"]["sum_received"]["bits_per_second"]
    finally:
        for proc in (client, server):
            if proc is not None:
                kill_group(proc)


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
    parser = bench_parser(__doc__, runs=30, warmup=3)
    parser.add_argument("--iperf-seconds", type=int, default=10, help="iperf3 -t (default 10)")
    parser.add_argument("--iperf-repeats", type=int, default=3, help="iperf3 runs per side per MTU (default 3)")
    args = parser.parse_args()
    exes = binaries("bench/network.py", args)
    if args.iperf_repeats < 1 or args.iperf_seconds < 1:
        sys.exit("--iperf-repeats and --iperf-seconds must be at least 1")
    runner = Runner()
    load_before = loadavg()
    try:
        print(f"timing rootlesskit {' '.join(BRINGUP)} ...", file=sys.stderr, flush=True)
        meter = LoadMeter()
        gc.disable()  # no collector pauses inside the timed loop
        bringup = bench_time(runner, exes, BRINGUP, args.runs, args.warmup)
        gc.enable()
        load = f"bring-up: {meter.report()}"
        meter = LoadMeter()
        bps = bench_iperf(exes, args.iperf_seconds, args.iperf_repeats)
        load += f"; iperf3: {meter.report()}"
        print(f"load during the run: {load}", file=sys.stderr)
        if args.markdown:
            env = environment(runner, args, load_before, "")[:-1]  # its last line describes startup.py's runs
            env[2] = env[2].split("; CPU pressure")[0] + f"; load during the run: {load}"
            env.append(f"- {args.runs} paired interleaved bring-up runs after {args.warmup} warm-up pairs; iperf3: "
                       f"{args.iperf_repeats} runs per side per MTU, interleaved, `-t {args.iperf_seconds}`; "
                       f"{tool_version(['slirp4netns', '--version'])}; {tool_version(['iperf3', '--version'])}")
            print("\n".join(env) + "\n")
        print_table(rows(bringup, bps, args.iperf_seconds), args.markdown)
    finally:
        os.unlink(runner.stderr_path)


if __name__ == "__main__":
    main()
