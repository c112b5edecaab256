#!/usr/bin/env python3
"""dockerd-rootless.sh: ours (with our rootlesskit) next to each engine's upstream script (with the
Go RootlessKit of that generation), in one run.

    runuser -u rkpytest -- python3 bench/docker.py [--runs N] [--ready-runs N] [--publish-runs N]
                                                   [--docker29 DIR] [--publish-engines E,...]
                                                   [--only-publish] [--markdown]

Three measurements, each paired and interleaved so drift hits both sides alike:
  * **wrapper**: `DOCKERD=true dockerd-rootless.sh`, spawn to reap. That is everything before
    dockerd starts (checks, driver detection, rootlesskit with Docker's flags, the child phase), the
    part this project owns; upstream is sid's 28.x script (and 29.x's, with --docker29) with Go
    RootlessKit 2.0.2, and, as a third column, that same script on our rootlesskit.
  * **ready**: seconds from start to the first `docker version` that succeeds (tried from the moment
    dockerd's socket exists), for each engine
    (20.10 with Go 1.1.0, 26.1, 28.x and 29.x with Go 2.0.2). dockerd and containerd dominate it.
  * **publish**: `docker run -d -p A-B:A-B` with 1, 10 and 100 ports on each engine of
    --publish-engines (default 26.1). Engines before 28 start one rootlesskit-docker-proxy per port
    (and family); ours next to the engine's script with its Go RootlessKit and proxy. Timed from
    spawn to the CLI's exit (the container runs, every port published); then `docker rm -f`, timed
    too. Each side's dockerd is started once per round, the order of the sides reversed every round.
The engines 20.10 to 28 come from tests/engines.sh's cache (sudo tests/run sets it up); Docker 29
from the directory tests/docker29.sh unpacks its tarball into (it prints it), given as --docker29 DIR:
without it the 29 rows are not measured, and the output says so. Docker 29 runs as its script's
default has it (--detach-netns); the others with DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS=false.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

from startup import ENGINE_CACHE as CACHE, REPO, bench_parser, fmt_ms, loadavg, print_table

OURS = REPO / "dist" / "bin"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
ENGINES = {  # name: (PATH dirs of the engine, its docker CLI, its upstream script, Go RootlessKit's dir)
    "20.10": ([], "/usr/bin/docker", "/usr/share/docker.io/contrib/dockerd-rootless.sh", "/usr/bin"),
    "26.1": ([str(CACHE / "trixie/root/usr/bin"), str(CACHE / "trixie/root/usr/sbin")],
             str(CACHE / "trixie/root/usr/bin/docker"),
             str(CACHE / "trixie/root/usr/share/docker.io/contrib/dockerd-rootless.sh"), str(CACHE / "trixie/root/usr/bin")),
    "28": ([str(CACHE / "sid/root/usr/bin"), str(CACHE / "sid/root/usr/sbin")], str(CACHE / "sid/root/usr/bin/docker"),
           str(CACHE / "sid/root/usr/share/docker.io/contrib/dockerd-rootless.sh"), str(CACHE / "trixie/root/usr/bin")),
}


# the engines whose upstream script passes --detach-netns by default; the others run without it
DETACHED = {"29"}


def add_docker29(directory: str) -> None:
    """Docker 29's programs (dockerd, docker, docker-proxy, runc 1.4.3, upstream's scripts) from the
    directory tests/docker29.sh unpacked them into; containerd is sid's, as in the tests."""
    ENGINES["29"] = ([directory, str(CACHE / "sid/root/usr/bin")], os.path.join(directory, "docker"),
                     os.path.join(directory, "dockerd-rootless.sh"), str(CACHE / "trixie/root/usr/bin"))


class Side:
    """One dockerd-rootless.sh set-up: the script, and a PATH whose first entry holds its rootlesskit."""

    def __init__(self, work: pathlib.Path, name: str, script: str, kit: str, engine: str) -> None:
        self.name, self.script, self.engine = name, script, engine
        self.dir = work / name
        bin_dir = self.dir / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("rootlesskit", "rootlesskit-docker-proxy"):
            (bin_dir / tool).symlink_to(os.path.join(kit, tool))
        dirs, self.docker, _, _ = ENGINES[engine]
        self.path = ":".join([str(bin_dir), *dirs, SYSTEM_PATH])

    def env(self, **extra: str) -> dict[str, str]:
        xdg, home, tmp = self.dir / "xdg", self.dir / "home", self.dir / "tmp"  # tmp: containerd's stack dumps
        for d in (xdg, home, tmp):
            d.mkdir(mode=0o700, exist_ok=True)
        return {**os.environ, "PATH": self.path, "XDG_RUNTIME_DIR": str(xdg), "HOME": str(home), "TMPDIR": str(tmp),
                "DOCKER_HOST": f"unix://{xdg}/docker.sock", **extra}


def wrapper_cost(work: pathlib.Path, engine: str, runs: int, warmup: int) -> dict[str, list[float]]:
    """Nanoseconds of `DOCKERD=true dockerd-rootless.sh`: ours, `engine`'s script with Go 2.0.2, and
    that script with our rootlesskit."""
    work = work / f"wrapper-{engine}"
    sides = [Side(work, "ours", str(OURS / "dockerd-rootless.sh"), str(OURS), engine),
             Side(work, "upstream+go2", ENGINES[engine][2], ENGINES[engine][3], engine),
             Side(work, "upstream+ours", ENGINES[engine][2], str(OURS), engine)]
    times: dict[str, list[float]] = {s.name: [] for s in sides}
    retried: dict[str, int] = {}
    for i in range(warmup + runs):
        for side in (sides if i % 2 == 0 else sides[::-1]):
            env = side.env(DOCKERD="true")
            argv = [side.script] if side.name == "ours" else ["/bin/sh", side.script]
            # Go RootlessKit's builtin port driver sometimes loses a race with its own child under
            # load ("dial unix .../.bp.sock: connect: no such file or directory"): upstream's runs
            # get two more tries (counted in `retried`), ours none
            for _ in range(1 if side.script.startswith(str(OURS)) else 3):
                t0 = time.perf_counter_ns()
                proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
                elapsed = time.perf_counter_ns() - t0
                if proc.returncode == 0:
                    break
                retried[side.name] = retried.get(side.name, 0) + 1
            if proc.returncode != 0:
                sys.exit(f"FAILED: {side.name}: {proc.stderr.decode(errors='replace')[-2000:]}")
            if i >= warmup:
                times[side.name].append(elapsed)
    if retried:
        print(f"failed runs retried: {retried}", file=sys.stderr)
    return times


def readiness(work: pathlib.Path, engine: str, runs: int) -> dict[str, list[float]]:
    _, _, script, go_kit = ENGINES[engine]
    sides = [Side(work / engine, "ours", str(OURS / "dockerd-rootless.sh"), str(OURS), engine),
             Side(work / engine, "upstream", script, go_kit, engine)]
    seconds: dict[str, list[float]] = {s.name: [] for s in sides}
    for i in range(runs):
        for side in (sides if i % 2 == 0 else sides[::-1]):
            seconds[side.name].append(ready_once(side))
    return seconds


def ready_once(side: Side) -> float:
    with running(side) as seconds:
        return seconds


def publish_cost(work: pathlib.Path, engine: str, counts: list[int], rounds: int,
                 runs: int) -> dict[tuple[str, int, str], list[float]]:
    """Seconds of `docker run -d -p` with `count` ports and of its `docker rm -f`, keyed by (side,
    count, "run" or "rm"), on `engine`."""
    _, _, script, go_kit = ENGINES[engine]
    sides = [Side(work / f"publish-{engine}", "ours", str(OURS / "dockerd-rootless.sh"), str(OURS), engine),
             Side(work / f"publish-{engine}", "upstream", script, go_kit, engine)]
    seconds: dict[tuple[str, int, str], list[float]] = {}
    rootfs = work / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:  # no registry here: an image of busybox-static alone
        tar.add("/bin/busybox", "bin/busybox")
    for r in range(rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):
            with running(side):
                env = side.env()
                with open(rootfs, "rb") as f:
                    docker(side, env, "import", "-", "rkpy-bench-busybox", stdin=f)
                for count in counts:
                    first = 20000 if side.name == "ours" else 30000  # distinct from the other side's leftovers
                    publish = f"127.0.0.1:{first}-{first + count - 1}:{first}-{first + count - 1}"
                    for _ in range(runs):
                        t0 = time.monotonic()
                        container = docker(side, env, "run", "-d", "-p", publish, "rkpy-bench-busybox",
                                           "/bin/busybox", "sleep", "1000").strip()
                        t1 = time.monotonic()
                        docker(side, env, "rm", "-f", container)
                        t2 = time.monotonic()
                        seconds.setdefault((side.name, count, "run"), []).append(t1 - t0)
                        seconds.setdefault((side.name, count, "rm"), []).append(t2 - t1)
    return seconds


def docker(side: Side, env: dict[str, str], *args: str, stdin=None) -> str:
    result = subprocess.run([side.docker, *args], env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"FAILED: {side.name}: docker {' '.join(args)}: {result.stderr[-2000:]}")
    return result.stdout


@contextlib.contextmanager
def running(side: Side, extra_env: dict[str, str] | None = None):
    """The side's rootless dockerd, from start to the first `docker version` that succeeds (the
    seconds that took are yielded); stopped and its data removed afterwards. `extra_env` adds to
    (or replaces) the script's environment."""
    base = {} if side.engine in DETACHED else {"DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS": "false"}
    env = side.env(**base, **(extra_env or {}))
    with open(side.script, "rb") as f:  # ours is the executable, upstream's a shell script
        argv = [side.script] if f.read(4) == b"\x7fELF" else ["/bin/sh", side.script]
    log = open(side.dir / "dockerd.log", "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    socket = pathlib.Path(env["DOCKER_HOST"].removeprefix("unix://"))
    try:
        # Until dockerd's socket exists no `docker version` can work: a cheap stat every 2 ms instead
        # of a docker CLI start (~20 ms of CPU each) every 20 ms, which competed with dockerd for the
        # two CPUs and made the moment of readiness a multiple of the poll period
        while True:
            listening = socket.exists()
            if listening and subprocess.run([side.docker, "version"], env=env, capture_output=True).returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() - t0 > 90:
                sys.exit(f"FAILED: {side.name} did not start: {(side.dir / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.02 if listening else 0.002)
        yield time.monotonic() - t0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        subprocess.run([str(OURS / "rootlesskit"), "rm", "-rf", str(side.dir / "home"), str(side.dir / "xdg")],
                       capture_output=True)


def median_ms(values: list[float]) -> str:
    return fmt_ms(statistics.median(values))


def main() -> None:
    parser = bench_parser(__doc__, runs=30, warmup=3)
    parser.add_argument("--ready-runs", type=int, default=5, help="start-to-ready pairs per engine (default 5)")
    parser.add_argument("--publish-rounds", type=int, default=2, help="dockerd starts per side for `publish` (default 2)")
    parser.add_argument("--publish-runs", type=int, default=3, help="`docker run -p` per port count per round (default 3)")
    parser.add_argument("--publish-engines", default="26.1",
                        help="comma-separated engines to measure `publish` on (default 26.1; all: 20.10,26.1,28,29)")
    parser.add_argument("--docker29", metavar="DIR",
                        help="Docker 29's programs, as tests/docker29.sh unpacks them (it prints the directory)")
    parser.add_argument("--only-publish", action="store_true", help="measure `publish` alone")
    args = parser.parse_args()
    if os.geteuid() == 0:
        sys.exit("bench/docker.py: refusing to run as root (rootless Docker runs as a user with subordinate ids); "
                 "run it as e.g.: runuser -u rkpytest -- python3 bench/docker.py")
    if args.docker29:
        add_docker29(args.docker29)
    publish_engines = args.publish_engines.split(",")
    for engine in publish_engines:
        if engine not in ENGINES:
            sys.exit(f"bench/docker.py: --publish-engines: no engine {engine!r}; accepted: {', '.join(ENGINES)}"
                     + ("" if args.docker29 else " (29 needs --docker29 DIR)"))
    for engine, (_, docker, script, kit) in ENGINES.items():
        for path in (docker, script, os.path.join(kit, "rootlesskit")):
            if not os.path.exists(path):
                fix = ("check --docker29 (tests/docker29.sh prints the directory)" if engine == "29"
                       else "run sudo tests/run (tests/engines.sh) first")
                sys.exit(f"bench/docker.py: {path} missing ({engine}): {fix}")
    load_before = loadavg()
    work = pathlib.Path(tempfile.mkdtemp(prefix="rkpy-bench-docker-"))
    counts = [1, 10, 100]
    wrapped = [e for e in ("28", "29") if e in ENGINES]
    try:
        wrap = {} if args.only_publish else {e: wrapper_cost(work, e, args.runs, args.warmup) for e in wrapped}
        ready = {} if args.only_publish else {engine: readiness(work, engine, args.ready_runs) for engine in ENGINES}
        published = {engine: publish_cost(work, engine, counts, args.publish_rounds, args.publish_runs)
                     for engine in publish_engines}
    finally:
        subprocess.run([str(OURS / "rootlesskit"), "rm", "-rf", str(work)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for engine, times in wrap.items():
        ours, go2, mixed = (statistics.median(times[k]) for k in ("ours", "upstream+go2", "upstream+ours"))
        rows += [(f"wrapper: `DOCKERD=true dockerd-rootless.sh` (vs {engine}.x script + Go 2.0.2)",
                  median_ms(times["ours"]) + " ms", median_ms(times["upstream+go2"]) + " ms", f"{ours / go2:.2f}x"),
                 (f"wrapper: {engine}.x script on our rootlesskit (for reference)", median_ms(times["upstream+ours"]) + " ms",
                  median_ms(times["upstream+go2"]) + " ms", f"{mixed / go2:.2f}x")]
    for engine, seconds in ready.items():
        o, u = statistics.median(seconds["ours"]), statistics.median(seconds["upstream"])
        rows.append((f"ready: start to first `docker version`, Docker {engine} (vs its script + {go_of(engine)})",
                     f"{o:.2f} s", f"{u:.2f} s", f"{o / u:.2f}x"))
    for engine, seconds in published.items():
        for count in counts:
            proxy = " and its proxy" if engine in ("20.10", "26.1") else ""
            for what, label in (("run", f"publish: `docker run -d -p` with {count} port{'s' if count > 1 else ''}, "
                                        f"Docker {engine} (vs its script + {go_of(engine)}{proxy})"),
                                ("rm", f"... and its `docker rm -f` ({count} port{'s' if count > 1 else ''} removed)")):
                o, u = (statistics.median(seconds[(side, count, what)]) for side in ("ours", "upstream"))
                rows.append((label, f"{o:.2f} s", f"{u:.2f} s", f"{o / u:.2f}x"))
    print_table(rows, args.markdown, ("Measurement", "ours", "upstream", "ours/upstream"))
    done = [] if args.only_publish else [f"{args.runs} wrapper triples after {args.warmup} warm-up per script",
                                         f"{args.ready_runs} readiness pairs per engine"]
    done.append(f"{args.publish_rounds} rounds of {args.publish_runs} `docker run -p` per port count, side and engine")
    if not args.docker29:
        done.append("Docker 29 NOT measured (give --docker29 DIR)")
    print(f"\n- command: `{' '.join([sys.executable, *sys.argv])}`; {', '.join(done)}; "
          f"load average before/after: {load_before} / {loadavg()}")


def go_of(engine: str) -> str:
    """The Go RootlessKit the engine's script runs with here."""
    return "Go 1.1.0" if engine == "20.10" else "Go 2.0.2"


if __name__ == "__main__":
    main()
