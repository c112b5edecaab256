#!/usr/bin/env python3
"""Idle footprint of rootlesskit-docker-proxy, ours next to Go RootlessKit 1.1.0's and 2.0.2's, in one run.

    runuser -u rkpytest -- python3 bench/proxy.py [--proxies N] [--runs R] [--markdown]
                                                  [--ours PATH] [--go PATH] [--go2 PATH]

Why: Docker 20.10 to 27 start one rootlesskit-docker-proxy per published port (and address family)
inside RootlessKit's namespaces, and it waits there for as long as the container runs. What each one
holds while it waits is what a user pays per port.

How: one of our rootlesskit (bench/ports.py's Kit) serves the API for every side; the proxies only
call it. N proxies of one side start one after the other, as dockerd starts them, through nsenter
into its namespaces. Each publishes its own port and runs Debian's docker-proxy on the child side.
Once every one has reported ready on fd 3 and a second has passed, the Pss and RSS of the proxies
(not their docker-proxy children) are summed. Then SIGINT stops them one after the other, as dockerd
does, each timed until it has exited. The sides alternate, the order reversed every other run;
medians.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time

from network import fail, free_port
from ports import Kit
from startup import bench_parser, binaries, print_table, read_kib

DOCKER_PROXY_PATH = "/usr/sbin:/usr/bin:/bin"  # Debian's docker-proxy is /usr/sbin/docker-proxy


def proxies_idle(rootlesskit: str, proxy: str, count: int) -> tuple[int, int, float, float]:
    """`count` proxies of `proxy` behind one rootlesskit, started and stopped one after the other:
    the median seconds from spawn to ready, the summed Pss and RSS in KiB while they wait, and the
    median seconds from SIGINT to a proxy's exit (it removes its port first)."""
    started: list[int] = []
    with Kit(rootlesskit, ["--port-driver=builtin"], ["sleep", "infinity"]) as kit:
        child = str(kit.child_pid())
        env = {**os.environ, "ROOTLESSKIT_STATE_DIR": str(kit.state), "PATH": DOCKER_PROXY_PATH}
        try:
            starts = []
            for _ in range(count):
                ready_r, ready_w = os.pipe()
                start = time.perf_counter()
                argv = ["nsenter", "-U", "--preserve-credentials", "-n", "-m", "-t", child, proxy, "-proto", "tcp",
                        "-host-ip", "127.0.0.1", "-host-port", str(free_port()), "-container-ip", "127.0.0.1",
                        "-container-port", "80"]
                started.append(os.posix_spawnp("nsenter", argv, env, file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, ready_w, 3)]))
                os.close(ready_w)
                with os.fdopen(ready_r, "rb") as ready:
                    answer = ready.read(2)
                if answer != b"0\n":
                    fail(f"{proxy} did not report ready", repr(answer))
                starts.append(time.perf_counter() - start)
            time.sleep(1)
            pss = sum(read_kib(f"/proc/{pid}/smaps_rollup", "Pss:") or 0 for pid in started)
            rss = sum(read_kib(f"/proc/{pid}/status", "VmRSS:") or 0 for pid in started)
            stops = []
            while started:
                start = time.perf_counter()
                os.kill(started[0], signal.SIGINT)
                os.waitpid(started.pop(0), 0)
                stops.append(time.perf_counter() - start)
            return statistics.median(starts), pss, rss, statistics.median(stops)
        finally:  # a failed run still stops what it started
            for pid in started:
                os.kill(pid, signal.SIGINT)
            for pid in started:
                os.waitpid(pid, 0)


def main() -> None:
    parser = bench_parser(__doc__, runs=5, warmup=0, go2=True)
    parser.add_argument("--proxies", type=int, default=5, help="proxies waiting at once (default 5)")
    args = parser.parse_args()
    exes = binaries("bench/proxy.py", args)
    proxies = {side: os.path.join(os.path.dirname(exe), "rootlesskit-docker-proxy") for side, exe in exes.items()}
    results: dict[str, list[tuple[float, int, int, float]]] = {side: [] for side in exes}
    for run in range(args.runs):
        for side in list(exes) if run % 2 == 0 else list(exes)[::-1]:
            results[side].append(proxies_idle(args.ours, proxies[side], args.proxies))
    table = []
    for index, what in ((1, "summed Pss"), (2, "summed RSS")):
        med = {side: statistics.median(r[index] for r in results[side]) for side in exes}
        table.append((f"{args.proxies} idle `rootlesskit-docker-proxy`, {what}",
                      *(f"{med[side] / 1024:.1f} MiB" for side in exes), f"{med['ours'] / min(med['go'], med['go2']):.2f}x"))
    for index, what in ((0, "start: spawn to ready on fd 3 (its port published), median"),
                        (3, "stop: SIGINT to the proxy's exit (its port removed), median")):
        med = {side: statistics.median(r[index] for r in results[side]) for side in exes}
        table.append((what, *(f"{med[side] * 1000:.1f} ms" for side in exes),
                      f"{med['ours'] / min(med['go'], med['go2']):.2f}x"))
    print_table(table, args.markdown, ("Measurement", "ours", "Go 1.1.0", "Go 2.0.2", "ours / best Go"))
    print(f"\n- command: `{' '.join([sys.executable, *sys.argv])}`; {args.runs} runs per side, interleaved, "
          f"medians; proxies: {', '.join(proxies.values())}")


if __name__ == "__main__":
    main()
