#!/usr/bin/env python3
"""Start-up and idle memory with the flags rootless Docker passes, against Go RootlessKit 1.1.0 and 2.0.2, in one run.

    runuser -u rkpytest -- python3 bench/flags.py [--runs N] [--memory-runs N] [--markdown]

Why a sibling of bench/startup.py: startup.py's rows use the flags its own tests use, where ours
starts faster than Go's; dockerd-rootless.sh adds slirp4netns, the builtin port driver, two copy-ups
and --propagation, and a Docker daemon idles for days, so those are the rows a Docker user pays for.
  * Three binaries per row, interleaved (the order rotates every round) so drift and the other
    load on the machine hit all alike; the figure is ours over the faster of the two Go versions.
  * Idle memory is read once the command runs (child_pid exists) and has had IDLE_SECONDS to
    settle, again after the API call Docker makes as it starts, and again after the one a
    `docker run -p` makes (the daemon then idles, with a container published, for days): summed
    Pss (shared pages split between the processes sharing them) and summed VmRSS of
    rootlesskit's own processes, slirp4netns and the command excluded. Pss is the fair figure for
    two processes of one executable; RSS counts their shared pages twice.
Same harness as startup.py (posix_spawn, waitpid); stdlib only; refuses root for the same reason.
"""

from __future__ import annotations

import gc
import json
import os
import pathlib
import shutil
import socket
import statistics
import sys
import tempfile
import time

from network import free_port
from startup import (Runner, bench_parser, binaries, cpu_stall_us, fmt_ms, loadavg, pct, print_table, proc_tree,
                     read_kib)

SLIRP = ["--net=slirp4netns", "--copy-up=/etc"]
BUILTIN = ["--disable-host-loopback", "--port-driver=builtin"]
# dockerd-rootless.sh's command line (moby 28.x) without --detach-netns, which Go 1.1.0 lacks
DOCKER = ["--net=slirp4netns", "--mtu=65520", "--slirp4netns-sandbox=auto", "--slirp4netns-seccomp=auto",
          "--disable-host-loopback", "--port-driver=builtin", "--copy-up=/etc", "--copy-up=/run",
          "--propagation=rslave"]
TIMED = [("--version", ["--version"]),
         ("--help", ["--help"]),
         (" ".join(SLIRP) + " true", [*SLIRP, "true"]),
         ("the same with " + " ".join(BUILTIN), [*SLIRP, *BUILTIN, "true"]),
         ("Docker's flag set: --state-dir=DIR " + " ".join(DOCKER) + " true", None)]
IDLE_FLAGS = ["--net=slirp4netns", "--port-driver=builtin", "--copy-up=/etc", "-p", "127.0.0.1:{port}:80/tcp"]
IDLE_SECONDS = 1.0
NOT_OURS = ("slirp4netns", "sleep")


def timed_rows(runner: Runner, exes: dict[str, str], runs: int, warmup: int, work: pathlib.Path) -> dict:
    results = {}
    for label, args in TIMED:
        print(f"timing rootlesskit {label} ...", file=sys.stderr, flush=True)
        times: dict[str, list[int]] = {k: [] for k in exes}
        retried: dict[str, int] = {}
        for i in range(warmup + runs):
            order = list(exes)
            order = order[i % len(order):] + order[:i % len(order)]
            for side in order:
                argv = args
                if argv is None:  # a fresh state dir per run, as a daemon start has
                    state = work / f"state-{side}-{i}"
                    argv = [f"--state-dir={state}", *DOCKER, "true"]
                ns = timed_retrying(runner, [exes[side], *argv], side, retried)
                if i >= warmup:
                    times[side].append(ns)
        results[label] = {side: {"median": statistics.median(t), "p10": pct(t, 0), "p90": pct(t, 8),
                                 "retried": retried.get(side, 0)} for side, t in times.items()}
    return results


def timed_retrying(runner: Runner, argv: list[str], side: str, retried: dict[str, int]) -> int:
    """One timed run; Go 1.1.0's builtin driver sometimes loses a race with its own child under load
    ("dial unix .../.bp.sock: connect: no such file or directory"), so a Go run that fails is run
    again (counted in the table); ours gets no second chance."""
    for _ in range(3 if side != "ours" else 1):
        t0 = time.perf_counter_ns()
        pid = runner.spawn(argv)
        _, status = os.waitpid(pid, 0)
        ns = time.perf_counter_ns() - t0
        if status == 0:
            return ns
        retried[side] = retried.get(side, 0) + 1
    runner.check(argv, status)
    return ns


def idle_memory(runner: Runner, exe: str, work: pathlib.Path, port: int) -> dict:
    """Pss and RSS (KiB) of rootlesskit's processes once `sleep` runs and IDLE_SECONDS have passed
    ("idle"), then again IDLE_SECONDS after one `GET /v1/info` on api.sock ("api": Docker 28's
    daemon calls it as it starts), then again IDLE_SECONDS after one `POST /v1/ports` ("publish":
    what `docker run -p` sends; ours answers plain GETs without h11, and imports it here)."""
    state = work / f"idle-{port}"
    flags = [f.format(port=port) for f in IDLE_FLAGS]
    argv = [exe, f"--state-dir={state}", *flags, "sleep", "30"]
    pid = runner.spawn(argv)
    try:
        deadline = time.monotonic() + 20
        while not (state / "child_pid").exists() or not (state / "api.sock").exists():
            if os.waitpid(pid, os.WNOHANG)[0] or time.monotonic() > deadline:
                sys.exit(f"FAILED: {' '.join(argv)}: {pathlib.Path(runner.stderr_path).read_text(errors='replace')}")
            time.sleep(0.01)
        time.sleep(IDLE_SECONDS)
        idle = _footprint(pid)
        _ask_api(state, exe, b"GET /v1/info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", b"200")
        time.sleep(IDLE_SECONDS)
        after_info = _footprint(pid)
        spec = json.dumps({"proto": "tcp", "parentIP": "127.0.0.1", "parentPort": free_port(), "childPort": 81}).encode()
        _ask_api(state, exe, b"POST /v1/ports HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(spec), spec), b"201")
        time.sleep(IDLE_SECONDS)
        return {"idle": idle, "api": after_info, "publish": _footprint(pid)}
    finally:
        os.kill(pid, 15)
        os.waitpid(pid, 0)


def _ask_api(state: pathlib.Path, exe: str, request: bytes, status: bytes) -> None:
    with socket.socket(socket.AF_UNIX) as api:
        api.connect(str(state / "api.sock"))
        api.sendall(request)
        answer = b"".join(iter(lambda: api.recv(65536), b""))
    if not answer.startswith(b"HTTP/1.1 " + status):
        sys.exit(f"FAILED: {request.split(b' HTTP')[0].decode()} of {exe}: {answer[:200]!r}")


def _footprint(pid: int) -> dict:
    rss = pss = procs = 0
    for p in proc_tree(pid):
        try:
            name = pathlib.Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            continue
        kib = read_kib(f"/proc/{p}/status", "VmRSS:")
        if kib is None or name in NOT_OURS:
            continue
        rss += kib
        pss += read_kib(f"/proc/{p}/smaps_rollup", "Pss:") or 0
        procs += 1
    return {"rss": rss, "pss": pss, "procs": procs}


def main() -> None:
    parser = bench_parser(__doc__, runs=21, warmup=3, go2=True)
    parser.add_argument("--memory-runs", type=int, default=5, help="idle-memory rounds (default 5)")
    args = parser.parse_args()
    exes = binaries("bench/flags.py", args)
    runner = Runner()
    work = pathlib.Path(tempfile.mkdtemp(prefix="rkpy-bench-flags-"))
    load_before, stall_before, t0 = loadavg(), cpu_stall_us(), time.monotonic()
    gc.disable()
    try:
        timings = timed_rows(runner, exes, args.runs, args.warmup, work)
        print("idle memory ...", file=sys.stderr, flush=True)
        memory: dict[str, list[dict]] = {k: [] for k in exes}
        for i in range(args.memory_runs):
            for side in exes:
                memory[side].append(idle_memory(runner, exes[side], work, free_port()))
    finally:
        os.unlink(runner.stderr_path)
        shutil.rmtree(work, ignore_errors=True)
    stall_after = cpu_stall_us()
    stall = ("n/a" if stall_before is None or stall_after is None else
             f"{(stall_after - stall_before) / 1e4 / (time.monotonic() - t0):.0f}%")
    table = []
    for label, r in timings.items():
        best = min(r["go"]["median"], r["go2"]["median"])
        table.append((f"`rootlesskit {label}`", *(f"{fmt_ms(r[s]['median'])} ms" +
                                                   (f" ({r[s]['retried']} failed, rerun)" if r[s]["retried"] else "")
                                                   for s in exes),
                      f"{r['ours']['median'] / best:.2f}x"))
    for when, after in (("idle", ""), ("api", ", after one `GET /v1/info`"),
                        ("publish", ", after that and one `POST /v1/ports`")):
        for key, what in (("pss", "summed Pss"), ("rss", "summed RSS")):
            med = {s: statistics.median(m[when][key] for m in memory[s]) for s in exes}
            procs = {s: memory[s][0][when]["procs"] for s in exes}
            table.append((f"idle{after}, `{' '.join(IDLE_FLAGS).format(port='P')} sleep`, {what} of rootlesskit's "
                          "processes", *(f"{med[s] / 1024:.1f} MiB ({procs[s]})" for s in exes),
                          f"{med['ours'] / min(med['go'], med['go2']):.2f}x"))
    header = ("Measurement", "ours", "Go 1.1.0", "Go 2.0.2", "ours / best Go")
    print_table(table, args.markdown, header)
    print(f"\n- command: `{' '.join([sys.executable, *sys.argv])}`; {args.runs} interleaved rounds per row after "
          f"{args.warmup} warm-up, medians; {args.memory_runs} idle-memory rounds, medians (processes counted in "
          f"brackets); load average before/after: {load_before} / {loadavg()}; CPU pressure (PSI some): {stall}")


if __name__ == "__main__":
    main()
