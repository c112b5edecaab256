#!/usr/bin/env python3
"""bypass4netns (DOCKERD_ROOTLESS_BYPASS4NETNS=1) against the user-mode stacks, in one run: what a
container's own outbound traffic gets.

    sudo python3 bench/network.py --outside up     # once, as root: the outside namespace (iperf3, HTTP)
    runuser -u rkpybench -- python3 bench/bypass4netns.py [--engine 26.1|28] [--seconds T] [--repeats R]
                                                          [--fetches N] [--starts N] [--markdown]

Our dockerd-rootless.sh with our rootlesskit on Docker 26.1 (tests/engines.sh's cache), MTU 65520,
`--detach-netns` off, three ways: slirp4netns, pasta (Debian 13's, as tests/engines.sh builds it),
and slirp4netns with bypass4netns. In each, containers of an image holding busybox and the host's
iperf3 (with the libraries it links) measure:
  * **throughput**: iperf3 from the container to the outside server (198.18.0.2, in a second network
    namespace on a veth pair: bench/network.py --outside), and back (`-R`), T seconds, R repeats,
    the stacks interleaved; the reference is the same iperf3 run by this process on the host, the
    path a bypassed connection takes (the issue's "veth between two namespaces").
  * **connection setup**: N sequential `wget` of a small page from the outside's HTTP server in one
    container, per fetch (a busybox process start each, the same on every stack).
  * **container start**: `docker run --rm IMAGE true`, N times, with and without the mode (the mode
    adds runc's hand-over of the notification descriptor).
Python 3 standard library only.
"""

from __future__ import annotations

import itertools
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

from docker import OURS, Side, docker, running
from network import OUTSIDE_ADDR, OUTSIDE_PORTS, PASTA, check_outside
from startup import bench_parser, loadavg, print_table

STACKS = {  # name: dockerd-rootless.sh's environment
    "slirp4netns": {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "slirp4netns"},
    "pasta": {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "pasta"},
    "bypass4netns": {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "slirp4netns", "DOCKERD_ROOTLESS_BYPASS4NETNS": "1"},
}
IMAGE = "rkpy-bench-iperf3"


def image_tar(path: pathlib.Path) -> pathlib.Path:
    """busybox-static, and iperf3 with every library `ldd` names, as a root for `docker import`."""
    files = {"/bin/busybox": "/bin/busybox", "/usr/bin/iperf3": shutil.which("iperf3")}
    ldd = subprocess.run(["ldd", files["/usr/bin/iperf3"]], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        words = line.split()
        for word in words:
            if word.startswith("/"):
                files[word] = os.path.realpath(word)
    with tarfile.open(path, "w") as tar:
        for name, source in files.items():
            tar.add(source, arcname=name.lstrip("/"))
        tmp = tarfile.TarInfo("tmp")  # iperf3 keeps its buffer in a file there
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
        for applet in ("sh", "wget", "true", "cat", "seq"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return path


def iperf3(argv_prefix: list[str], port: int, seconds: int, reverse: bool) -> float:
    """Gbit/s the receiver got."""
    argv = [*argv_prefix, "iperf3", "-c", OUTSIDE_ADDR, "-p", str(port), "-t", str(seconds), "-J",
            *(["-R"] if reverse else [])]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(argv)}: {result.stdout[-1500:]} {result.stderr[-1500:]}")
    report = json.loads(result.stdout)
    if "sum_received" not in report.get("end", {}):
        sys.exit(f"FAILED: {' '.join(argv)}: {report.get('error') or result.stdout[-1500:]}")
    return report["end"]["sum_received"]["bits_per_second"] / 1e9


def main() -> None:
    parser = bench_parser(__doc__, runs=0, warmup=0)
    parser.add_argument("--engine", default="26.1", choices=["26.1", "28"])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fetches", type=int, default=200)
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args()
    check_outside()
    load_before = loadavg()
    ports = itertools.cycle(OUTSIDE_PORTS)
    work = pathlib.Path(tempfile.mkdtemp(prefix="rkpy-b4n-bench-"))
    results: dict[str, dict[str, list[float]]] = {name: {} for name in [*STACKS, "host (veth)"]}
    try:
        tar = image_tar(work / "image.tar")
        sides = {name: Side(work, name, str(OURS / "dockerd-rootless.sh"), str(OURS), args.engine) for name in STACKS}
        for repeat in range(args.repeats):
            order = list(STACKS) if repeat % 2 == 0 else list(reversed(STACKS))
            for name in order:
                side = sides[name]
                # pasta: Debian 13's, as tests/engines.sh builds it, first on PATH
                with running(side, STACKS[name] | {"PATH": f"{PASTA.parent}:{side.path}"}):
                    env = side.env()
                    with open(tar, "rb") as f:
                        docker(side, env, "import", "-", IMAGE, stdin=f)
                    run = [side.docker, "run", "--rm", IMAGE]
                    env_run = [*("env", *(f"{k}={v}" for k, v in env.items() if k in ("PATH", "DOCKER_HOST")))]
                    for reverse in (False, True):
                        key = "in" if reverse else "out"
                        gbps = iperf3([*env_run, *run], next(ports), args.seconds, reverse)
                        results[name].setdefault(key, []).append(gbps)
                    script_text = (f"s=$(cat /proc/uptime); for i in $(seq {args.fetches}); do "
                                   f"wget -q -O /dev/null http://{OUTSIDE_ADDR}/ || exit 1; done; "
                                   "e=$(cat /proc/uptime); echo ${s%% *} ${e%% *}")
                    out = docker(side, env, "run", "--rm", IMAGE, "sh", "-c", script_text).split()
                    results[name].setdefault("fetch", []).append((float(out[1]) - float(out[0])) / args.fetches * 1000)
                    for _ in range(args.starts):
                        t0 = time.monotonic()
                        docker(side, env, "run", "--rm", IMAGE, "true")
                        results[name].setdefault("start", []).append(time.monotonic() - t0)
            for reverse in (False, True):
                results["host (veth)"].setdefault("in" if reverse else "out", []).append(
                    iperf3([], next(ports), args.seconds, reverse))
    finally:
        subprocess.run([str(OURS / "rootlesskit"), "rm", "-rf", str(work)], capture_output=True)
    slirp = results["slirp4netns"]
    table = []
    for name, figures in results.items():
        row = [name]
        for key in ("out", "in"):
            median = statistics.median(figures[key])
            row.append(f"{median:.2f} Gbit/s ({median / statistics.median(slirp[key]):.1f}x slirp4netns)")
        row.append(f"{statistics.median(figures['fetch']):.2f} ms" if "fetch" in figures else "")
        row.append(f"{statistics.median(figures['start']) * 1000:.0f} ms" if "start" in figures else "")
        table.append(tuple(row))
    print(f"engine {args.engine}, MTU 65520, {args.seconds} s x {args.repeats}, load before {load_before}, "
          f"after {loadavg()}")
    print_table(table, args.markdown, header=("stack", "container -> outside", "outside -> container",
                                              "HTTP fetch (setup)", "docker run --rm true"))


if __name__ == "__main__":
    main()
