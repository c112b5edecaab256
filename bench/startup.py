#!/usr/bin/env python3
"""Start-up, memory and size of rootlesskit-py's compiled binary next to Go RootlessKit, in one run.

    runuser -u rkpytest -- python3 bench/startup.py [--runs N] [--markdown] [--ours PATH] [--go PATH]

Why this shape:
  * Both binaries are measured in the same run, interleaved pair by pair (ours, Go, then Go, ours, ...),
    so CPU frequency, page cache and load drift hit both alike; the ratio ours/Go is the figure that
    matters (the issue's bound: start-up at most 1.5x Go, target 1.0x), not the absolute times.
  * Processes are started with os.posix_spawn and reaped with os.waitpid: the harness overhead is small
    and identical for both.
  * Peak memory is read from /proc (VmHWM, VmRSS, Pss), not from wait4's ru_maxrss: glibc's posix_spawn
    is a vfork, and the kernel records the harness's own peak RSS (the mm the child ran on until it
    exec'd) into the child's maxrss, so ru_maxrss is never below the harness's ~14 MiB (a plain fork
    still leaves ~8 MiB). Go's rootlesskit --version needs less than either, so ru_maxrss would
    report the harness, not rootlesskit.
  * It must run as an unprivileged user with /etc/subuid and /etc/subgid entries: as root, user
    namespaces need no subordinate ids, which is not the path rootless users run.
Python 3 standard library only, so it runs with the system python3 of any test machine.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import os
import pathlib
import platform
import pwd
import re
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
# where tests/engines.sh unpacks Debian 13's and sid's engines (with Go RootlessKit 2.0.2), and
# tests/debroots.sh its mmdebstrap roots
ENGINE_CACHE = pathlib.Path(os.environ.get("RKPY_ENGINE_CACHE", "/var/cache/rootlesskit-py-tests"))
# Debian 13's Go programs there: RootlessKit 2.0.2, its rootlessctl, the 26.1 engine
GO2_DIR = ENGINE_CACHE / "trixie/root/usr/bin"
TIMED = [("--version", ["--version"]),  # no namespace at all: pure start-up of the executable
         ("true", ["true"]),  # the full path: userns, newuidmap/newgidmap, fork, exec
         ("--pidns true", ["--pidns", "true"]),
         ("--copy-up=/etc true", ["--copy-up=/etc", "true"])]
GO_TOOLS = ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy"]
OUR_TOOLS = GO_TOOLS + ["dockerd-rootless.sh", "dockerd-rootless-setuptool.sh"]
SAMPLE_EVERY = 0.020  # seconds between /proc samples while `rootlesskit sleep 2` runs


class Runner:
    """Spawns one command the same way for both binaries: stdin/stdout /dev/null, stderr to a file."""

    def __init__(self) -> None:
        fd, self.stderr_path = tempfile.mkstemp(prefix="rk-bench-stderr-")
        os.close(fd)

    def spawn(self, argv: list[str]) -> int:
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 2, self.stderr_path, os.O_WRONLY | os.O_TRUNC, 0)]
        return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)

    def check(self, argv: list[str], status: int) -> None:
        """Exit non-zero with the binary's stderr if it failed: a failed run's time means nothing."""
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.stderr.write(f"FAILED (exit {code}): {' '.join(argv)}\n"
                             f"{pathlib.Path(self.stderr_path).read_text(errors='replace')}")
            sys.exit(1)

    def timed(self, argv: list[str]) -> int:
        """Wall time in ns of one run, spawn to reap."""
        t0 = time.perf_counter_ns()
        pid = self.spawn(argv)
        _, status = os.waitpid(pid, 0)
        t1 = time.perf_counter_ns()
        self.check(argv, status)
        return t1 - t0


def bench_time(runner: Runner, exes: dict[str, str], args: list[str], runs: int, warmup: int) -> dict:
    """Paired, interleaved runs; the order alternates each pair so neither side always goes first."""
    times: dict[str, list[int]] = {k: [] for k in exes}
    for i in range(warmup + runs):
        for side in (list(exes) if i % 2 == 0 else list(exes)[::-1]):
            ns = runner.timed([exes[side], *args])
            if i >= warmup:
                times[side].append(ns)
    return {side: {"median": statistics.median(times[side]), "p10": pct(times[side], 0),
                   "p90": pct(times[side], 8)} for side in exes}


def pct(values: list[int], index: int) -> float:
    """Deciles: index 0 is p10, 8 is p90."""
    return statistics.quantiles(values, n=10, method="inclusive")[index]


def proc_tree(top: int) -> list[int]:
    """`top` and its descendants, from /proc/*/stat (/proc/PID/task/*/children is often not built in)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [top]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def read_kib(path: str, key: str) -> int | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:  # gone, or (smaps_rollup) not readable
        return None
    return None


def bench_memory(runner: Runner, exe: str, seconds: int = 2) -> dict:
    """Peak RSS of the top process, and peak summed VmRSS (and Pss) of rootlesskit's own processes,
    while `rootlesskit sleep N` runs.

    The top process's VmHWM is its own high-water mark since exec, start-up included, so sampling it
    while the command sleeps catches its peak even though the samples come late.

    The `sleep` command itself is excluded (by its Name, so a forked rootlesskit child still counts
    until it execs). VmRSS counts pages shared between processes once per process, which penalises
    two processes of the same executable; Pss splits shared pages and is the fairer sum, so both are given.
    """
    argv = [exe, "sleep", str(seconds)]
    pid = runner.spawn(argv)
    peak_rss = peak_pss = peak_procs = top_hwm = 0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        top_hwm = max(top_hwm, read_kib(f"/proc/{pid}/status", "VmHWM:") or 0)
        rss = pss = procs = 0
        for p in proc_tree(pid):
            kib = read_kib(f"/proc/{p}/status", "VmRSS:")  # None: gone, or a zombie
            try:
                name = pathlib.Path(f"/proc/{p}/comm").read_text().strip()
            except OSError:
                continue
            if kib is None or name == "sleep":
                continue
            rss += kib
            pss += read_kib(f"/proc/{p}/smaps_rollup", "Pss:") or 0
            procs += 1
        peak_rss, peak_pss, peak_procs = max(peak_rss, rss), max(peak_pss, pss), max(peak_procs, procs)
        time.sleep(SAMPLE_EVERY)
    runner.check(argv, status)
    return {"hwm": top_hwm, "rss": peak_rss, "pss": peak_pss, "procs": peak_procs}


def sizes(exe: str, names: list[str]) -> tuple[int, int, int]:
    """(size of exe, total size of the tools found beside it counting each inode once, number of inodes)."""
    seen: dict[tuple[int, int], int] = {}
    for name in names:
        try:
            st = os.stat(pathlib.Path(exe).parent / name)
        except FileNotFoundError:
            continue
        seen[(st.st_dev, st.st_ino)] = st.st_size
    return os.stat(exe).st_size, sum(seen.values()), len(seen)


def go_toolchain(exe: str) -> str:
    """The Go release an executable was built with, read from its embedded build info."""
    data = pathlib.Path(exe).read_bytes()
    found = re.search(rb"\xff Go buildinf:.{2,40}?(go1\.[\w.]+)", data, re.S) or re.search(rb"go1\.\d+(?:\.\d+)?", data)
    return found.group(found.lastindex or 0).decode() if found else "unknown Go"


def version_line(runner: Runner, exe: str) -> str:
    pid = os.posix_spawn(exe, [exe, "--version"], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, runner.stderr_path, os.O_WRONLY | os.O_TRUNC, 0)])
    os.waitpid(pid, 0)
    return pathlib.Path(runner.stderr_path).read_text().strip().splitlines()[0]


def fmt_ms(ns: float) -> str:
    ms = ns / 1e6
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def fmt_mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def rows(timings: dict, memory: dict, size: dict) -> list[tuple[str, str, str, str]]:
    out = []
    for label, result in timings.items():
        o, g = result["ours"], result["go"]
        cell = lambda r: f"{fmt_ms(r['median'])} ms ({fmt_ms(r['p10'])}-{fmt_ms(r['p90'])})"
        ratio = f"{o['median'] / g['median']:.2f}x"
        out.append((f"`rootlesskit {label}` wall, median (p10-p90)", cell(o), cell(g), ratio))
    o, g = memory["ours"], memory["go"]
    out.append(("peak RSS of the top rootlesskit process (VmHWM), `rootlesskit sleep 2`",
                fmt_mib(o["hwm"]), fmt_mib(g["hwm"]), f"{o['hwm'] / g['hwm']:.2f}x"))
    out.append(("peak sum of VmRSS of rootlesskit processes during `rootlesskit sleep 2`",
                f"{fmt_mib(o['rss'])} ({o['procs']} procs)", f"{fmt_mib(g['rss'])} ({g['procs']} procs)",
                f"{o['rss'] / g['rss']:.2f}x"))
    if o["pss"] and g["pss"]:
        out.append(("peak sum of Pss, same processes", fmt_mib(o["pss"]), fmt_mib(g["pss"]), f"{o['pss'] / g['pss']:.2f}x"))
    o, g = size["ours"], size["go"]
    out.append(("size of `rootlesskit`", fmt_mb(o[0]), fmt_mb(g[0]), f"{o[0] / g[0]:.2f}x"))
    out.append(("size of all tools (each inode once)", f"{fmt_mb(o[1])} ({o[2]} file(s), {len(OUR_TOOLS)} names)",
                f"{fmt_mb(g[1])} ({g[2]} binaries)", f"{o[1] / g[1]:.2f}x"))
    return out


GO_HEADER = ("Measurement", "ours (rootlesskit-py)", "Go (rootlesskit 1.1.0)", "ours/Go")


def print_table(table: list[tuple[str, ...]], markdown: bool, header: tuple[str, ...] = GO_HEADER) -> None:
    """A Markdown table for BENCHMARKS.md (first column text, the others right-aligned figures), or aligned columns."""
    if markdown:
        print("| " + " | ".join(header) + " |\n|---|" + "---:|" * (len(header) - 1))
        for row in table:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def environment(runner: Runner, args: argparse.Namespace, load_before: str, stall: str) -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    user = pwd.getpwuid(os.getuid()).pw_name
    return [f"- command: `{' '.join([sys.executable, *sys.argv])}` (as user `{user}`, uid {os.getuid()})",
            f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
            f"- kernel: {platform.release()}; CPU: {cpu} ({os.cpu_count()} cpus); "
            f"load average before/after: {load_before} / {loadavg()}; CPU pressure (PSI some) during the run: {stall}",
            f"- ours: `{args.ours}` (`{version_line(runner, args.ours)}`, "
            f"sha256 {hashlib.sha256(pathlib.Path(args.ours).read_bytes()).hexdigest()[:16]} as build.py prints it)",
            *(f"- Go: `{exe}` (`{version_line(runner, exe)}`, built with {go_toolchain(exe)})"
              for exe in (args.go, getattr(args, "go2", None)) if exe),
            f"- {args.runs} paired interleaved runs per command after {args.warmup} warm-up runs each; "
            f"memory sampled from /proc every {SAMPLE_EVERY * 1000:.0f} ms"]


def loadavg() -> str:
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def cpu_stall_us() -> int | None:
    """Total microseconds some task waited for a CPU (PSI); its growth over the run shows competing load."""
    try:
        return int(pathlib.Path("/proc/pressure/cpu").read_text().split("total=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def bench_parser(doc: str, runs: int, warmup: int, go2: bool = False) -> argparse.ArgumentParser:
    """The options every benchmark here takes: the binaries (Go 2.x as well with `go2`), pair counts,
    Markdown output."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", default=str(REPO / "dist" / "bin" / "rootlesskit"))
    parser.add_argument("--go", default="/usr/bin/rootlesskit")
    if go2:
        parser.add_argument("--go2", default=str(GO2_DIR / "rootlesskit"),
                            help="Go RootlessKit 2.x (default: tests/engines.sh's Debian 13 copy)")
    parser.add_argument("--runs", type=int, default=runs, help=f"measured pairs per command (default {runs})")
    parser.add_argument("--warmup", type=int, default=warmup, help=f"unmeasured pairs first (default {warmup})")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table for BENCHMARKS.md")
    return parser


def binaries(script: str, args: argparse.Namespace) -> dict[str, str]:
    """Refuse root and bad arguments (exiting with why); the binaries to compare: ours, go and, when
    the parser has --go2, go2."""
    if os.geteuid() == 0:
        sys.exit(f"{script}: refusing to run as root: as root, user namespaces need no subordinate ids, "
                 "which is not the rootless path being measured.\nRun it as an unprivileged user with "
                 f"/etc/subuid and /etc/subgid entries, e.g.: runuser -u rkpytest -- python3 {script}")
    if args.runs < 2:
        sys.exit("--runs must be at least 2")
    exes = {"ours": args.ours, "go": args.go, **({"go2": args.go2} if "go2" in args else {})}
    for side, exe in exes.items():
        if not os.access(exe, os.X_OK):
            hint = " (Go 2.0.2: run sudo tests/run once, tests/engines.sh unpacks it)" if side == "go2" else ""
            sys.exit(f"{script}: {exe} is not an executable file readable by this user{hint}")
    return exes


def main() -> None:
    args = bench_parser(__doc__, runs=60, warmup=5).parse_args()
    exes = binaries("bench/startup.py", args)
    runner = Runner()
    load_before, stall_before, t0 = loadavg(), cpu_stall_us(), time.monotonic()
    gc.disable()  # no collector pauses inside the timed loops
    try:
        timings = {}
        for label, cmd_args in TIMED:
            print(f"timing rootlesskit {label} ...", file=sys.stderr, flush=True)
            timings[label] = bench_time(runner, exes, cmd_args, args.runs, args.warmup)
        print("sampling memory of rootlesskit sleep 2 ...", file=sys.stderr, flush=True)
        memory = {side: bench_memory(runner, exe) for side, exe in exes.items()}
        size = {"ours": sizes(args.ours, OUR_TOOLS), "go": sizes(args.go, GO_TOOLS)}
        stall_after = cpu_stall_us()
        stall = ("n/a" if stall_before is None or stall_after is None else
                 f"{(stall_after - stall_before) / 1e4 / (time.monotonic() - t0):.0f}%")
        print(f"CPU pressure (PSI some) during the run: {stall}; compare across runs: more means other load competed",
              file=sys.stderr)
        if args.markdown:
            print("\n".join(environment(runner, args, load_before, stall)) + "\n")
        print_table(rows(timings, memory, size), args.markdown)
    finally:
        os.unlink(runner.stderr_path)


if __name__ == "__main__":
    main()
