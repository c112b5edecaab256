#!/usr/bin/env python3
"""`dockerd-rootless-setuptool.sh check` wall time: ours next to upstream's script, in one run.

    runuser -u rkpytest -- python3 bench/setuptool.py [--runs N] [--warmup N] [--markdown]
                                                      [--ours DIR] [--upstream SCRIPT]

What and why:
  * Ours runs every host probe, including the namespace probe (rootlesskit started with /etc and
    /run copied up, iptables listing the nat and filter tables in a fresh network namespace); the
    bound is 1 s.
  * Upstream is Debian's docker.io 20.10 script (`sh SCRIPT check`): uname, id, systemctl, greps of
    /etc/subuid and /proc/modules, `iptables --version`. On this machine it exits 1 (it wants a
    `modprobe ip_tables` for a module that is built in), which is still the time a user waits; the
    exit status is shown beside the figure.
  * `ours, no namespace probe` (`--skip-iptables`) shows what the namespace probe costs.
  * Both find dockerd-rootless.sh and rootlesskit on PATH from the same directory (ours). Paired,
    interleaved runs, the order alternating; median and p10/p90.
  * Run as an unprivileged user with /etc/subuid and /etc/subgid entries (the tool refuses root).
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from startup import REPO, loadavg, print_table


def timed(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    t0 = time.perf_counter_ns()
    code = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode
    return time.perf_counter_ns() - t0, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", default=str(REPO / "dist" / "bin"), help="directory holding our programs")
    parser.add_argument("--upstream", default="/usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if os.geteuid() == 0:
        sys.exit("bench/setuptool.py: run it as an unprivileged user (the setup tool refuses root), "
                 "e.g. runuser -u rkpytest -- python3 bench/setuptool.py")
    env = {"HOME": os.environ.get("HOME", "/"), "USER": os.environ.get("USER", ""), "LANG": "C.UTF-8",
           "PATH": f"{args.ours}:/usr/bin:/bin:/usr/sbin:/sbin"}
    ours = os.path.join(args.ours, "dockerd-rootless-setuptool.sh")
    sides = {"ours": [ours, "check"], "ours, no namespace probe": [ours, "check", "--skip-iptables"],
             "upstream": ["sh", args.upstream, "check"]}
    times: dict[str, list[int]] = {k: [] for k in sides}
    codes: dict[str, set[int]] = {k: set() for k in sides}
    for i in range(args.warmup + args.runs):
        for side in (list(sides) if i % 2 == 0 else list(sides)[::-1]):
            ns, code = timed(sides[side], env)
            if i >= args.warmup:
                times[side].append(ns)
                codes[side].add(code)
    rows = []
    for side in sides:
        t = sorted(times[side])
        rows.append((side, " ".join(sides[side]), f"{statistics.median(t) / 1e6:.1f}",
                     f"{t[len(t) // 10] / 1e6:.1f}", f"{t[(len(t) * 9) // 10] / 1e6:.1f}",
                     ",".join(map(str, sorted(codes[side])))))
    ratio = statistics.median(times["ours"]) / statistics.median(times["upstream"])
    header = ("side", "command", "median ms", "p10 ms", "p90 ms", "exit")
    print_table(rows, args.markdown, header)
    print(f"\nours/upstream (median): {ratio:.2f}; {args.runs} paired runs after {args.warmup} warm-up pairs; "
          f"load average {loadavg()}")


if __name__ == "__main__":
    main()
