#!/usr/bin/env python3
"""The REST API on api.sock and rootlessctl: rootlesskit-py's compiled binary next to Go RootlessKit.

    runuser -u rkpytest -- python3 bench/api.py [--runs N] [--seconds S] [--markdown] [--ours DIR] [--go DIR]
                                                [--ctl NAME=PATH ...]

What it measures, ours and Go side by side (the ratio ours/Go is the figure; absolute times drift
with load):
  * the first `GET /v1/info` on a fresh rootlesskit, and the second one: our server imports its
    HTTP parser (h11) on the first connection, so the difference is what that import costs,
    compiled, once per rootlesskit;
  * `GET /v1/info` requests per second, one client, a new connection per request and all on one
    keep-alive connection (the per-request cost of the parser);
  * `rootlessctl list-ports` and `rootlessctl --version`, wall time and CPU time (user + system from
    wait4), against the same kind of kit: scripts run these in loops. `--ctl NAME=PATH` adds another
    rootlessctl to that table (e.g. a build whose client imports h11, to measure that choice).
Runs are interleaved (ours, Go, Go, ours, ...) so that drift hits both alike. Loops are bounded in
count and time. Python 3 standard library only; as an unprivileged user with subordinate ids.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

from network import free_port
from startup import GO2_DIR, print_table

REPO = pathlib.Path(__file__).resolve().parent.parent
FLAGS = ["--net=slirp4netns", "--disable-host-loopback", "--copy-up=/etc", "--port-driver=builtin"]
INFO = b"GET /v1/info HTTP/1.1\r\nHost: rootlesskit\r\n\r\n"


class Kit:
    """A rootlesskit running `sleep infinity`, ready once child_pid and api.sock exist."""

    def __init__(self, exe: str, base: str, publish: list[str] = ()) -> None:
        self.state = os.path.join(base, f"state-{time.monotonic_ns()}")
        argv = [exe, f"--state-dir={self.state}", *FLAGS, *[f"-p={p}" for p in publish], "sleep", "infinity"]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr, start_new_session=True)
        self.sock = os.path.join(self.state, "api.sock")
        deadline = time.monotonic() + 30
        while not (os.path.exists(os.path.join(self.state, "child_pid")) and os.path.exists(self.sock)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                self.stderr.seek(0)
                raise SystemExit(f"{exe} did not get ready: {self.stderr.read().decode(errors='replace')}")
            time.sleep(0.005)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def request(sock_path: str, conn: socket.socket | None = None) -> float:
    """One GET /v1/info (on `conn`, or a new connection); seconds until the whole answer is in."""
    start = time.perf_counter()
    s = conn or socket.socket(socket.AF_UNIX)
    try:
        while conn is None:
            try:
                s.connect(sock_path)
                break
            except ConnectionRefusedError:  # Go binds api.sock a moment before it listens on it
                time.sleep(0.001)
                start = time.perf_counter()
        s.sendall(INFO)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit(f"{sock_path} closed the connection")
            data += chunk
        if not data.startswith(b"HTTP/1.1 200 "):
            raise SystemExit(f"{sock_path} answered {data[:60]!r}")
    finally:
        if conn is None:
            s.close()
    return time.perf_counter() - start


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])


def first_requests(exes: dict[str, str], base: str, runs: int) -> dict[str, tuple[list[float], list[float]]]:
    results = {name: ([], []) for name in exes}
    order = list(exes)
    for i in range(runs):
        for name in order if i % 2 == 0 else order[::-1]:
            kit = Kit(exes[name], base)
            try:
                results[name][0].append(request(kit.sock))
                results[name][1].append(request(kit.sock))
            finally:
                kit.stop()
    return results


def rates(exes: dict[str, str], base: str, seconds: float) -> dict[str, tuple[float, float]]:
    results = {}
    for name, exe in exes.items():
        kit = Kit(exe, base)
        try:
            request(kit.sock)  # the first connection's one-off cost is measured above
            count, deadline = 0, time.monotonic() + seconds
            while time.monotonic() < deadline and count < 1_000_000:
                request(kit.sock)
                count += 1
            new_connections = count / seconds
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(kit.sock)
                count, deadline = 0, time.monotonic() + seconds
                while time.monotonic() < deadline and count < 1_000_000:
                    request(kit.sock, conn)
                    count += 1
            results[name] = (new_connections, count / seconds)
        finally:
            kit.stop()
    return results


def run_timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; it must exit 0."""
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed")
    return wall, usage.ru_utime + usage.ru_stime


def ctl_runs(ctls: dict[str, str], kit_exe: str, base: str, runs: int) -> dict[str, dict[str, list]]:
    kit = Kit(kit_exe, base, publish=[f"127.0.0.1:{free_port()}:80/tcp", f"127.0.0.1:{free_port()}:81/tcp"])
    commands = {"--version": ["--version"], "list-ports": ["--socket", kit.sock, "list-ports"]}
    results = {name: {command: [] for command in commands} for name in ctls}
    try:
        order = list(ctls)
        for i in range(runs + 5):
            for name in order if i % 2 == 0 else order[::-1]:
                for command, args in commands.items():
                    timing = run_timed([ctls[name], *args])
                    if i >= 5:  # warm-up first
                        results[name][command].append(timing)
    finally:
        kit.stop()
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", default=str(REPO / "dist" / "bin"), help="directory of our binaries")
    parser.add_argument("--go", default=str(GO2_DIR), help="directory of Go RootlessKit's binaries")
    parser.add_argument("--runs", type=int, default=20, help="fresh kits per side for the first request; "
                        "rootlessctl runs per side are 3x this (default 20)")
    parser.add_argument("--seconds", type=float, default=3, help="seconds per request-rate measurement")
    parser.add_argument("--ctl", action="append", default=[], metavar="NAME=PATH", help="another rootlessctl")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if os.geteuid() == 0:
        raise SystemExit("run as an unprivileged user (runuser -u rkpytest -- ...): rootless is the measured path")
    exes = {"ours": os.path.join(args.ours, "rootlesskit"), "Go": os.path.join(args.go, "rootlesskit")}
    ctls = {"ours": os.path.join(args.ours, "rootlessctl"), "Go": os.path.join(args.go, "rootlessctl")}
    ctls.update(item.split("=", 1) for item in args.ctl)
    base = tempfile.mkdtemp(prefix="rk-bench-api-")
    try:
        load = open("/proc/loadavg").read().split()[:3]
        first = first_requests(exes, base, args.runs)
        rate = rates(exes, base, args.seconds)
        ctl = ctl_runs(ctls, exes["ours"], base, args.runs * 3)
        load_after = open("/proc/loadavg").read().split()[:3]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = []
    for label, index in (("first GET /v1/info on a fresh kit", 0), ("second GET /v1/info", 1)):
        values = {name: statistics.median(first[name][index]) for name in exes}
        rows.append((label + ", median", ms(values["ours"]), ms(values["Go"]), f"{values['ours'] / values['Go']:.2f}x"))
    for label, index in (("GET /v1/info per second, new connection each", 0), ("GET /v1/info per second, keep-alive", 1)):
        rows.append((label, f"{rate['ours'][index]:.0f}/s", f"{rate['Go'][index]:.0f}/s",
                     f"{rate['ours'][index] / rate['Go'][index]:.2f}x"))
    for command in ("--version", "list-ports"):
        for what, index in (("wall", 0), ("CPU", 1)):
            values = {name: statistics.median(t[index] for t in ctl[name][command]) for name in ctls}
            rows.append((f"`rootlessctl {command}` {what}, median", ms(values["ours"]), ms(values["Go"]),
                         f"{values['ours'] / values['Go']:.2f}x"))
            for name in ctls:
                if name not in ("ours", "Go"):
                    rows.append((f"`rootlessctl {command}` {what}, median, {name}", ms(values[name]), ms(values["Go"]),
                                 f"{values[name] / values['Go']:.2f}x"))
    print(f"- command: python3 bench/api.py --runs {args.runs} --seconds {args.seconds:g}"
          + "".join(f" --ctl {c}" for c in args.ctl) + f" (as uid {os.getuid()})")
    print(f"- ours: {exes['ours']}; Go: {exes['Go']}; load average before {' '.join(load)}, after {' '.join(load_after)}")
    print(f"- {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}\n")
    header = ("measurement", "rootlesskit-py", "Go RootlessKit", "ours/Go")
    print_table(rows, args.markdown, header)


if __name__ == "__main__":
    main()
