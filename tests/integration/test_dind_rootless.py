"""The dind-rootless drop-in (packaging/dind-rootless), run nested: the Debian variant of the official
docker:<version>-dind-rootless image, built here from an mmdebstrap root, with our programs on top,
inside a container of an outer rootless Docker, on each of the four engines. The image carries the
engine, as docker:<version>-dind-rootless does: Debian 12's docker.io 20.10 is the root's own; for
26.1, 28 and 29 the engine's programs as the host tests run them (Debian 13's and sid's packages as
tests/engines.sh unpacks them; Docker 29's static tarball, the closest to what the official image
carries, with its runc 1.4.3 and sid's containerd) go to /usr/local/bin, where the official image
keeps its static binaries. The outer daemon is the same engine under our dockerd-rootless.sh and
rootlesskit, run by rkpydind, whose 1,000,000 subordinate ids leave room to map the inner user's
65,536 at 100000; the inner daemon is started by the image's entrypoint, which runs rootlesskit with
the official image's fixed flags (no --detach-netns on 29 either: the official entrypoint passes none).
Cost, with the root cached (the root itself: under a minute, once): about 20-30 s an engine, 75 s on
29, whose outer daemon keeps images in containerd's store by default, where importing the root and
building the image (the engine's 200 MB in a layer) take half a minute each."""

from __future__ import annotations

import hashlib
import json
import pathlib
import pwd
import subprocess
import time

import pytest

from conftest import BIN_DIR, ENGINE_CACHE, REPO, ROOT_HELPER, _require, run
from dockerutil import ENGINES, SYSTEM_PATH, Engine, busybox_rootfs, engine_params, http_get
from portutil import free_port

ROOT_TAR = ENGINE_CACHE / "mmdebstrap/bookworm-dind/root.tar"
CONTEXT = REPO / "packaging/dind-rootless"
NAMES = ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy", "dockerd-rootless.sh", "dockerd-rootless-setuptool.sh"]
GO_IMAGE, IMAGE = "rkpy-dind-go", "rkpy-dind"  # the Debian variant as built (Go RootlessKit), and with the drop-in
INNER_HOST = "DOCKER_HOST=unix:///run/user/1000/docker.sock"  # the entrypoint's default socket for uid 1000


def as_dind(*args: str, timeout: float = 60, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """ARGS as rkpydind, through the root helper's one step for it."""
    result = run(["sudo", "-n", ROOT_HELPER, "as-dind-user", *args], timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        pytest.fail(f"as rkpydind: {args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


ORPHAN_REAP_SECONDS = 15
"""containerd's shims leave containerd when they start, so a shim that exits after its daemon
is a zombie of PID 1 (no rootlesskit reaps without --pidns, upstream's neither; on a systemd host the
user's systemd, a subreaper, takes them). This machine's PID 1 reaps orphans every few seconds, so
such a zombie is awaited that long; anything else left fails at once."""


def rkpydind_processes() -> list[str]:
    return run(["ps", "-o", "pid=,ppid=,stat=,args=", "-u", "rkpydind"]).stdout.splitlines()


def orphaned_zombie(ps_line: str) -> bool:
    _, ppid, stat, _ = ps_line.split(None, 3)
    return ppid == "1" and stat.startswith("Z")


class Outer:
    """rkpydind's rootless Docker: our dockerd-rootless.sh with our rootlesskit in front of the
    engine's dockerd, its HOME, XDG_RUNTIME_DIR and data root in one directory under /tmp (short:
    containerd's socket paths must fit in 108 bytes)."""

    def __init__(self, engine: Engine, log_path) -> None:
        self.engine = engine
        self.base = as_dind("mktemp", "-d", "/tmp/rkpy-dind.XXXXXX").stdout.strip()
        self.log_path = log_path
        as_dind("sh", "-euc", 'chmod 0755 "$1"; mkdir "$1/kit" "$1/home" "$1/xdg" "$1/ctx"; chmod 0700 "$1/xdg"\n'
                'for n in rootlesskit rootlesskit-docker-proxy dockerd-rootless.sh; do ln -s "$2/$n" "$1/kit/$n"; done',
                "sh", self.base, str(BIN_DIR))
        self.env = [f"HOME={self.base}/home", f"DOCKER_HOST=unix://{self.base}/xdg/docker.sock"]
        with open(log_path, "w") as log:
            self.proc = subprocess.Popen(
                ["sudo", "-n", ROOT_HELPER, "as-dind-user", "env", *self.env, f"XDG_RUNTIME_DIR={self.base}/xdg",
                 f"PATH={':'.join([f'{self.base}/kit', *engine.dirs, SYSTEM_PATH])}", f"{self.base}/kit/dockerd-rootless.sh"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def docker(self, *args: str, timeout: float = 120, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        return as_dind("env", *self.env, self.engine.docker, *args, timeout=timeout, check=check, **kwargs)

    def inner(self, container: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """ARGS in the container as its user (rootless), talking to the inner daemon."""
        return self.docker("exec", "-i", "-e", INNER_HOST, container, *args, **kwargs)

    def wait(self, probe, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while probe().returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not come up; outer daemon's log:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def rootlesskit_pid(self) -> str:
        """The first process under sudo that rkpydind owns (sudo runs a root-owned monitor in
        between, with `use_pty`): the helper, env and the script exec, so it is rootlesskit."""
        uid, pending = pwd.getpwnam("rkpydind").pw_uid, [str(self.proc.pid)]
        while pending:
            pid = pending.pop(0)
            try:
                if pid != str(self.proc.pid) and pathlib.Path(f"/proc/{pid}").stat().st_uid == uid:
                    return pid
                pending += pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except FileNotFoundError:
                continue
        pytest.fail("the outer daemon's rootlesskit is gone")

    def stop(self) -> None:
        """Containers removed, SIGTERM to rootlesskit (sudo's child: the helper and the script exec),
        the directory removed from inside a user namespace (the data is owned by subordinate ids),
        and no rkpydind process left."""
        if self.proc.poll() is None:
            for container in self.docker("ps", "-aq", check=False).stdout.split():
                self.docker("rm", "-f", container, check=False)
            kit = self.rootlesskit_pid()
            as_dind("kill", "-TERM", kit)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                as_dind("kill", "-KILL", kit)
                self.proc.wait(10)
        as_dind(str(BIN_DIR / "rootlesskit"), "rm", "-rf", self.base, timeout=120)
        deadline = time.monotonic() + ORPHAN_REAP_SECONDS
        while (left := rkpydind_processes()) and all(orphaned_zombie(line) for line in left) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, "rkpydind processes left behind (pid ppid stat command):\n" + "\n".join(left)


@pytest.fixture(scope="module", params=engine_params(ENGINES))
def nested(request, tmp_path_factory):
    _require(ROOT_TAR.is_file(), f"{ROOT_TAR} (packaging/dind-rootless/debian-root.sh, run by sudo tests/run, makes it)")
    _require(run(["id", "rkpydind"]).returncode == 0, "user rkpydind (sudo tests/run creates it)")
    engine = Engine(request.param)
    programs = engine.programs()
    base = tmp_path_factory.mktemp(f"dind-{engine}")
    outer = Outer(engine, base / "outer.log")
    try:
        outer.wait(lambda: outer.docker("version", check=False), "the outer rootless dockerd")
        outer.docker("import", str(ROOT_TAR), "rkpy-bookworm-dind-root", timeout=180)
        ctx = f"{outer.base}/ctx"
        as_dind("sh", "-euc", 'cp "$1"/Dockerfile* "$1"/dockerd-entrypoint.sh "$2/"; mkdir "$2/bin" "$2/engine"; cp "$3/rootlesskit" "$2/bin/"\n'
                'for n in rootlessctl rootlesskit-docker-proxy dockerd-rootless.sh dockerd-rootless-setuptool.sh; do ln -s rootlesskit "$2/bin/$n"; done\n'
                'ctx=$2; shift 3; for p in "$@"; do cp "$p" "$ctx/engine/"; done',
                "sh", str(CONTEXT), ctx, str(BIN_DIR), *programs.values())
        outer.docker("build", "-q", "-f", f"{ctx}/Dockerfile.debian", "-t", GO_IMAGE, ctx, timeout=300)
        outer.docker("build", "-q", "--build-arg", f"BASE={GO_IMAGE}", "-t", IMAGE, ctx, timeout=300)
        outer.programs = programs
        outer.port = free_port()
        outer.container = outer.docker("run", "-d", "--privileged", "--device", "/dev/net/tun",
                                       "-p", f"{outer.port}:8080", IMAGE, "--tls=false").stdout.strip()
        outer.wait(lambda: outer.inner(outer.container, "docker", "version", check=False), "the inner rootless dockerd")
        yield outer
    finally:
        outer.stop()


def test_dropin_keeps_the_base_image_as_it_is(nested):
    """Only /usr/local/bin changes: entrypoint, command, user, volumes, environment and ports are the
    base image's; the five names are one file there, our rootlesskit."""
    configs = [json.loads(nested.docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
               for image in (GO_IMAGE, IMAGE)]
    kept = [{key: config.get(key) for key in ("Entrypoint", "Cmd", "User", "Volumes", "Env", "ExposedPorts", "WorkingDir")}
            for config in configs]
    assert kept[0] == kept[1]
    assert configs[1]["User"] == "rootless"
    assert configs[1]["Volumes"] == {"/home/rootless/.local/share/docker": {}}
    result = nested.docker("run", "--rm", IMAGE, "rootlesskit", "--version")
    assert result.stdout == run([str(BIN_DIR / "rootlesskit"), "--version"]).stdout
    result = nested.docker("run", "--rm", "--entrypoint", "sh", IMAGE, "-c",
                           'for n in "$@"; do readlink -f "$(command -v "$n")"; done', "sh", *NAMES)
    assert result.stdout.split() == ["/usr/local/bin/rootlesskit"] * len(NAMES)


def test_inner_daemon_is_rootless_on_our_rootlesskit(nested):
    info = nested.inner(nested.container, "docker", "info", "--format", "{{json .SecurityOptions}} {{.Driver}}")
    # the kernel's overlay on the volume, not fuse-overlayfs or vfs: 29 keeps images in containerd's
    # store by default, whose snapshotter of it is named overlayfs
    driver = "overlayfs" if nested.engine.name == "29" else "overlay2"
    assert "name=rootless" in info.stdout and info.stdout.split()[-1] == driver, info.stdout
    # the engine the image carries answers, through its own CLI; the outer daemon is the same engine
    version = nested.engine.server_version()
    inner = nested.inner(nested.container, "docker", "version", "--format", "{{.Server.Version}}")
    assert inner.stdout.strip() == version, inner.stdout
    assert nested.docker("version", "--format", "{{.Server.Version}}").stdout.strip() == version
    # dockerd's parent is docker-init (the entrypoint puts it first); the process above that is rootlesskit's child
    chain = nested.inner(nested.container, "sh", "-euc",
                         'p=$(pgrep -x dockerd); while [ "$p" != 0 ]; do echo "$p $(readlink /proc/$p/exe)"; '
                         'p=$(ps -o ppid= -p "$p" | tr -d " "); done').stdout.splitlines()
    exes = [line.split()[1] for line in chain]
    dockerd = "/usr/local/bin/dockerd" if "dockerd" in nested.programs else "/usr/sbin/dockerd"
    assert exes[0] == dockerd and exes[1].endswith("/tini-static"), chain
    assert exes[2:] == ["/usr/local/bin/rootlesskit"] * 2, chain  # child, then the parent (the container's pid 1)
    digest = nested.inner(nested.container, "sha256sum", f"/proc/{chain[2].split()[0]}/exe").stdout.split()[0]
    assert digest == hashlib.sha256((BIN_DIR / "rootlesskit").read_bytes()).hexdigest()


def test_inner_containers_run_and_publish_through_both_daemons(nested, tmp_path):
    with open(busybox_rootfs(tmp_path / "busybox.tar"), "rb") as f:
        nested.inner(nested.container, "docker", "import", "-", "bb", stdin=f)
    assert nested.inner(nested.container, "docker", "run", "--rm", "bb", "echo", "hi").stdout == "hi\n"
    nested.inner(nested.container, "docker", "run", "-d", "-p", "8080:80", "bb", "sh", "-c",
                 "mkdir /www && echo hello-from-the-inner-container > /www/index.html && "
                 "exec /bin/busybox httpd -f -p 80 -h /www")
    assert "hello-from-the-inner-container" in http_get("127.0.0.1", nested.port)


def test_entrypoint_refuses_what_cannot_work(nested):
    """The official entrypoint's checks, with its messages: a user without subordinate ids, and TLS
    asked for with no certificates (which this entrypoint does not generate)."""
    result = nested.docker("run", "--rm", "--user", "1001", IMAGE, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("error: attempting to run rootless dockerd but missing necessary entries "
                                          "in /etc/subuid and/or /etc/subgid for 1001"), result.stderr
    result = nested.docker("run", "--rm", "-e", "DOCKER_TLS_CERTDIR=/certs", IMAGE, check=False)
    assert result.returncode == 1
    assert "DOCKER_TLS_CERTDIR=/certs but /certs/server/ca.pem is missing" in result.stderr, result.stderr
