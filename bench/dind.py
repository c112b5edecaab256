#!/usr/bin/env python3
"""The dind-rootless drop-in: the inner daemon's start with our rootlesskit against the same image
with Debian's Go RootlessKit 1.1.0 (the Debian variant as built, before the drop-in), paired and
interleaved; and the image size the drop-in adds against the one Go `rootlesskit` file it replaces.

    sudo packaging/dind-rootless/debian-root.sh     # once: the cached Debian root (sudo tests/run does it)
    runuser -u rkpydind -- python3 bench/dind.py [--runs N] [--warmup N] [--markdown]

Run it as a user with a large subordinate range (the inner user's 65,536 ids at 100000 must be
mapped inside the outer container: rkpydind, made by sudo tests/run, has 1,000,000). It starts its
own outer rootless Docker (Debian 12's dockerd under our dockerd-rootless.sh and rootlesskit), builds
both images in it, then times each start: `docker run -d --privileged --device /dev/net/tun -p
PORT:2375 IMAGE --tls=false` until the inner daemon answers GET /_ping through the published port.
That covers the container's start, the entrypoint, the inner rootlesskit and dockerd; dockerd
dominates it.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from network import free_port
from startup import ENGINE_CACHE as CACHE, REPO, bench_parser, loadavg, print_table

ROOT_TAR = CACHE / "mmdebstrap/bookworm-dind/root.tar"
CONTEXT = REPO / "packaging/dind-rootless"
OTHER_NAMES = ["rootlessctl", "rootlesskit-docker-proxy", "dockerd-rootless.sh", "dockerd-rootless-setuptool.sh"]
IMAGES = {"go": "rkpy-dind-go", "ours": "rkpy-dind"}


class Outer:
    """A rootless Docker of our own for the run, everything under one /tmp directory."""

    def __init__(self, ours: pathlib.Path) -> None:
        self.ours = ours
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="rkd-", dir="/tmp"))
        kit, xdg, home = self.work / "kit", self.work / "xdg", self.work / "home"
        for d in (kit, xdg, home):
            d.mkdir(mode=0o700)
        for name in ("rootlesskit", "rootlesskit-docker-proxy", "dockerd-rootless.sh"):
            (kit / name).symlink_to(ours / name)
        self.env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(xdg),
                    "DOCKER_HOST": f"unix://{xdg}/docker.sock",
                    "PATH": f"{kit}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
        self.log = open(self.work / "dockerd.log", "w")
        self.proc = subprocess.Popen([str(kit / "dockerd-rootless.sh")], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"bench/dind.py: the outer rootless dockerd did not start: see {self.work}/dockerd.log")
            time.sleep(0.2)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["/usr/bin/docker", *args], env=self.env, capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            sys.exit(f"bench/dind.py: docker {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def build(self) -> None:
        ctx = self.work / "ctx"
        (ctx / "bin").mkdir(parents=True)
        (ctx / "engine").mkdir()  # empty: the root's own Docker 20.10 (Dockerfile.debian)
        for f in ("Dockerfile", "Dockerfile.debian", "dockerd-entrypoint.sh"):
            shutil.copy2(CONTEXT / f, ctx / f)
        shutil.copy2(self.ours / "rootlesskit", ctx / "bin/rootlesskit")
        for name in OTHER_NAMES:
            (ctx / "bin" / name).symlink_to("rootlesskit")
        self.docker("import", str(ROOT_TAR), "rkpy-bookworm-dind-root")
        self.docker("build", "-q", "-f", str(ctx / "Dockerfile.debian"), "-t", IMAGES["go"], str(ctx))
        self.docker("build", "-q", "--build-arg", f"BASE={IMAGES['go']}", "-t", IMAGES["ours"], str(ctx))

    def stop(self) -> None:
        for container in self.docker("ps", "-aq", check=False).stdout.split():
            self.docker("rm", "-f", container, check=False)
        self.proc.terminate()  # the script execs rootlesskit, which relays it to dockerd
        self.proc.wait(60)
        self.log.close()
        subprocess.run([str(self.ours / "rootlesskit"), "rm", "-rf", str(self.work)], check=True)


def pinged(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        return data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n", 1)[0] and data.endswith(b"OK")
    except OSError:
        return False


def stamp(line: str) -> float:
    """Seconds of the day of a `docker logs -t` line (RFC 3339, nanoseconds, UTC)."""
    hours, minutes, seconds = line.split("T", 1)[1].split("Z", 1)[0].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def kit_share(logs: str) -> float:
    """Seconds from the entrypoint's last line before it execs rootlesskit (`iptables --version`) to
    docker-init's first (tini warns that it is not pid 1): rootlesskit's own part of the start."""
    lines = logs.splitlines()
    before = next(line for line in lines if " iptables v" in line)
    after = next(line for line in lines if "Tini is not running as PID 1" in line)
    return stamp(after) - stamp(before)


def start_once(outer: Outer, image: str, check_kit: bool = False) -> tuple[float, float]:
    """Seconds from `docker run` to the inner daemon's first answer, and rootlesskit's share of
    them; the container is removed after."""
    port = free_port()
    started = time.monotonic()
    container = outer.docker("run", "-d", "--privileged", "--device", "/dev/net/tun", "-p", f"{port}:2375",
                             image, "--tls=false").stdout.strip()
    while not pinged(port):
        if time.monotonic() - started > 60:
            sys.exit(f"bench/dind.py: the inner daemon of {image} did not answer: {outer.docker('logs', container).stderr[-2000:]}")
        time.sleep(0.02)
    took = time.monotonic() - started
    logs = outer.docker("logs", "-t", container)
    share = kit_share(logs.stdout + logs.stderr)
    if check_kit:  # the container's pid 1 is the rootlesskit the entrypoint found on PATH
        print(f"# {image}: pid 1 is {outer.docker('exec', container, 'readlink', '/proc/1/exe').stdout.strip()}")
    outer.docker("rm", "-f", container)
    return took, share


def main() -> None:
    parser = bench_parser(__doc__, runs=10, warmup=1)
    args = parser.parse_args()
    if os.getuid() == 0:
        sys.exit("bench/dind.py: run it as an unprivileged user with a large subordinate range "
                 "(runuser -u rkpydind -- python3 bench/dind.py)")
    if not ROOT_TAR.is_file():
        sys.exit(f"bench/dind.py: {ROOT_TAR} is missing: sudo packaging/dind-rootless/debian-root.sh makes it")
    outer = Outer(pathlib.Path(args.ours).parent)
    try:
        outer.build()
        times: dict[str, list[float]] = {side: [] for side in IMAGES}
        shares: dict[str, list[float]] = {side: [] for side in IMAGES}
        for i in range(args.warmup + args.runs):
            for side in (list(IMAGES) if i % 2 == 0 else list(IMAGES)[::-1]):
                took, share = start_once(outer, IMAGES[side], check_kit=i == 0)
                if i >= args.warmup:
                    times[side].append(took)
                    shares[side].append(share)
        size = {side: int(outer.docker("image", "inspect", "-f", "{{.Size}}", image).stdout) for side, image in IMAGES.items()}
        go_file = int(outer.docker("run", "--rm", "--entrypoint", "stat", IMAGES["go"], "-c", "%s",
                                   "/usr/bin/rootlesskit").stdout)
    finally:
        outer.stop()
    med = {side: statistics.median(v) for side, v in times.items()}
    kit = {side: statistics.median(v) * 1000 for side, v in shares.items()}
    ratios = sorted(o / g for o, g in zip(times["ours"], times["go"]))
    rows = [("inner daemon ready, median (s)", f"{med['ours']:.2f}", f"{med['go']:.2f}", f"{med['ours'] / med['go']:.2f}x"),
            ("paired ratio, median (p10-p90)", "", "", f"{statistics.median(ratios):.2f}x "
             f"({ratios[len(ratios) // 10]:.2f}-{ratios[-1 - len(ratios) // 10]:.2f})"),
            ("rootlesskit's share, median (ms)", f"{kit['ours']:.0f}", f"{kit['go']:.0f}", f"{kit['ours'] / kit['go']:.2f}x"),
            ("image size added (MB)", f"{(size['ours'] - size['go']) / 1e6:.1f}", f"{go_file / 1e6:.1f} (one file)",
             f"{(size['ours'] - size['go']) / go_file:.2f}x")]
    header = ("measure", "ours", "Go 1.1.0", "ratio")
    print_table(rows, args.markdown, header)
    print(f"\n- command: `{' '.join([sys.executable, *sys.argv])}`; {args.runs} pairs after {args.warmup}; "
          f"load {loadavg()}")


if __name__ == "__main__":
    main()
