"""Rootless Docker engines for the tests: Debian 12's 20.10 (installed), Debian 13's 26.1 and sid's
28.x (unpacked by tests/engines.sh), and Docker 29 (unpacked by tests/docker29.sh from the tarball
tests/run is given), each run by a dockerd-rootless.sh on top of a rootlesskit, with a private HOME
and XDG_RUNTIME_DIR so that nothing of the test user's own is touched."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import BIN_DIR, DOCKER29_DIR, ENGINE_CACHE, _require, engine_file, run
from portutil import terminate

IMAGE = "rkpy-busybox"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


ENGINE_PROGRAMS = ["dockerd", "docker", "docker-proxy", "containerd", "containerd-shim-runc-v2", "ctr", "runc"]


class Engine:
    """One Docker generation: where its programs are, its own contrib script, and the Go
    RootlessKit of its generation (the reference the upstream script runs with)."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "20.10":
            self.dirs: list[str] = []
            self.docker = "/usr/bin/docker"  # Debian 12's client: a newer docker on PATH must not be used
            self.script = "/usr/share/docker.io/contrib/dockerd-rootless.sh"
            self.go_kit = "/usr/bin"
            for tool in (self.script, "/usr/sbin/dockerd", self.docker, "/usr/sbin/docker-proxy"):
                assert os.path.exists(tool), f"{tool} missing (apt-get install docker.io; sudo tests/run does)"
        elif name == "29":
            # dockerd, docker-proxy, the CLI, runc 1.4.3 (Debian 12's runc refuses the time namespace
            # every 29 container gets) and upstream's scripts; containerd is sid's 2.x
            _require(DOCKER29_DIR is not None and (DOCKER29_DIR / "dockerd").is_file(),
                     "the Docker 29 engine: give its tarball, tests/run --docker29=PATH/docker-29.x.y-amd64.tar.xz, "
                     "or deselect these tests with -m 'not docker29'")
            containerd = os.path.dirname(engine_file("sid/root/usr/bin/containerd"))
            self.dirs = [str(DOCKER29_DIR), containerd]
            self.docker = str(DOCKER29_DIR / "docker")
            self.script = str(DOCKER29_DIR / "dockerd-rootless.sh")
            self.go_kit = os.path.dirname(engine_file("trixie/root/usr/bin/rootlesskit"))
        else:
            suite = {"26.1": "trixie", "28": "sid"}[name]
            root = ENGINE_CACHE / suite / "root"
            self.dirs = [str(root / "usr/bin"), str(root / "usr/sbin")]
            self.docker = engine_file(f"{suite}/root/usr/bin/docker")
            engine_file(f"{suite}/root/usr/sbin/dockerd")
            self.script = str(root / "usr/share/docker.io/contrib/dockerd-rootless.sh")
            self.go_kit = os.path.dirname(engine_file("trixie/root/usr/bin/rootlesskit"))

    def programs(self) -> dict[str, str]:
        """Name -> path of the engine's programs that take the place of a system's Docker (the names
        of Docker's static tarball): those found in its directories, where the host tests find them
        ahead of the system's. None for 20.10, which is the system's; runc only for 29 (its
        containers need runc 1.4's time namespace; the others run Debian 12's)."""
        found = {name: shutil.which(name, path=":".join(self.dirs)) for name in ENGINE_PROGRAMS}
        return {name: path for name, path in found.items() if path}

    def server_version(self) -> str:
        """The version its daemon reports (`docker version`'s Server.Version), from its dockerd's
        --version ("Docker version 26.1.5+dfsg1, build 411e817"): tells that this engine answered."""
        dockerd = shutil.which("dockerd", path=":".join([*self.dirs, "/usr/sbin"]))
        return run([str(dockerd), "--version"]).stdout.split()[2].rstrip(",")

    def __repr__(self) -> str:
        return self.name


ENGINES = ["20.10", "26.1", "28", "29"]
# the engines whose dockerd runs its helpers through nsenter, so that dockerd-rootless.sh passes
# --detach-netns by default (29.5 and later)
DETACHED = ["29"]


def engine_params(ids: list[str]) -> list:
    """Fixture params for `ids` ("29", "go-29", ...), each marked `engine(<version>)` (counted in the
    run's summary), and the Docker 29 ones `docker29` too: `-m 'not docker29'` deselects them when
    no Docker 29 tarball is at hand, where they would otherwise fail."""
    params = []
    for id_ in ids:
        version = id_.rsplit("-", 1)[-1]
        marks = [pytest.mark.engine(version)] + ([pytest.mark.docker29] if version == "29" else [])
        params.append(pytest.param(id_, marks=marks, id=id_))
    return params


def kit_dir(base: pathlib.Path, ours: bool, engine: Engine) -> pathlib.Path:
    """A PATH entry holding the rootlesskit pair under test (and, for ours, the Docker scripts)."""
    kit = base / "kit"
    kit.mkdir()
    source = str(BIN_DIR) if ours else engine.go_kit
    names = ["rootlesskit", "rootlesskit-docker-proxy"] + (["dockerd-rootless.sh"] if ours else [])
    for name in names:
        (kit / name).symlink_to(os.path.join(source, name))
    return kit


def path_without(farm: pathlib.Path, hidden: set[str]) -> str:
    """A PATH like SYSTEM_PATH on which the programs `hidden` are not found: one directory of
    symlinks to every other program of SYSTEM_PATH's directories (the first of each name, as the
    shell would find it). Programs look helpers up on PATH only, so this is a host without them."""
    farm.mkdir()
    for directory in SYSTEM_PATH.split(":"):
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            if name not in hidden and not (farm / name).is_symlink():
                (farm / name).symlink_to(os.path.join(directory, name))
    return str(farm)


class RootlessDocker:
    """A dockerd-rootless.sh instance with its own HOME, XDG_RUNTIME_DIR and data root under `base`."""

    def __init__(self, base: pathlib.Path, engine: Engine, script: str, kit: pathlib.Path,
                 env: dict[str, str] | None = None, args: list[str] | None = None,
                 extra_path: list[str] | None = None) -> None:
        self.base, self.engine = base, engine
        # short: containerd's sockets under it ($XDG_RUNTIME_DIR/docker/containerd/containerd.sock.ttrpc)
        # must fit in a sockaddr_un's 108 bytes
        self.xdg = pathlib.Path(tempfile.mkdtemp(prefix="rkx-", dir="/tmp"))
        self.home = base / "home"
        self.home.mkdir(mode=0o700)
        # the engine's own temporary files go under the test's directory, not /tmp: containerd
        # writes a containerd.PID.stacks.log to $TMPDIR when dockerd asks it for its stacks
        tmp = base / "tmp"
        tmp.mkdir()
        path = [str(kit), *(extra_path or []), *engine.dirs, SYSTEM_PATH]
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.xdg), "HOME": str(self.home), "TMPDIR": str(tmp),
                    "PATH": ":".join(path), "DOCKER_HOST": f"unix://{self.xdg}/docker.sock", **(env or {})}
        self.data = self.home / ".local/share/docker"
        self.state = pathlib.Path(self.env.get("DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR", self.xdg / "dockerd-rootless"))
        self.log_path = base / "dockerd.log"
        self.log = open(self.log_path, "w")
        self.started = time.monotonic()
        args = [arg.replace("{xdg}", str(self.xdg)) for arg in args or []]
        self.proc = subprocess.Popen([script, *args], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.stopped = False

    def wait_ready(self, timeout: float = 90) -> float:
        """Seconds from start to the first working `docker version`."""
        deadline = time.monotonic() + timeout
        while self.docker("version").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log_text()
                self.stop()
                pytest.fail(f"rootless dockerd (Docker {self.engine.name}) did not start:\n{log[-4000:]}")
            time.sleep(0.1)
        return time.monotonic() - self.started

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def post_mortem(self, lines: int = 60) -> str:
        """Whether the daemon still runs, and its log's last `lines`: what a failed test's report
        carries, since the log itself goes with the test machine."""
        code = self.proc.poll()
        state = "still running" if code is None else f"exited with {code}"
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        return f"Docker {self.engine.name}: dockerd-rootless.sh (pid {self.proc.pid}): {state}; its log's end:\n{tail}"

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return run([self.engine.docker, *args], env=self.env, timeout=timeout)

    def child_pid(self) -> int:
        return int((self.state / "child_pid").read_text())

    def netns(self) -> str:
        """The network namespace of tap0 and the containers' bridge: rootlesskit's detached one
        (--detach-netns), or else the child's. The detached one is bind-mounted on $STATE/netns in
        the child's mount namespace (here that path is an empty file), so it is reached through
        the child's root."""
        child = self.child_pid()
        if (self.state / "netns").exists():
            return f"/proc/{child}/root{self.state}/netns"
        return f"/proc/{child}/ns/net"

    def assert_hup_reloads(self) -> None:
        """HUP on the service pid (rootlesskit: the script execs it) is relayed to dockerd, which
        reloads daemon.json and keeps answering."""
        before = self.log_text().count("Reloaded configuration")
        os.kill(self.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while self.log_text().count("Reloaded configuration") == before:
            assert time.monotonic() < deadline, self.log_text()[-2000:]
            time.sleep(0.1)
        assert self.docker("version").returncode == 0

    def assert_term_leaves_nothing(self) -> None:
        """TERM on the service pid: everything in the daemon's user namespace (dockerd, containerd,
        shims, containers, the network helper) is gone 10 s after it exited, with rootlesskit's state
        directory, and no mount under the daemon's directories is left in the host's table."""
        userns = user_namespace(self.child_pid())
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        deadline = time.monotonic() + 10
        while (left := processes_in(userns)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == [], f"left running after TERM: {left}"
        assert not self.state.exists(), "rootlesskit left its state directory (child_pid, api.sock, netns)"
        assert mounts_under(self.xdg, self.home) == []

    def import_busybox(self) -> None:
        rootfs = busybox_rootfs(self.base / "rootfs.tar")
        with open(rootfs, "rb") as f:
            result = subprocess.run([self.engine.docker, "import", "-", IMAGE], env=self.env, stdin=f,
                                    capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    def serve(self, publish: str) -> str:
        """A container answering HTTP on its port 80, published as `publish`; returns its id."""
        result = self.docker("run", "-d", "-p", publish, IMAGE, "/bin/busybox", "sh", "-c",
                             "mkdir /www && echo hello-from-the-container > /www/index.html && "
                             "exec /bin/busybox httpd -f -p 80 -h /www")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM to the service pid (rootlesskit: the script execs it), then wait; remove the data
        (owned by subordinate ids) from inside a user namespace."""
        if self.stopped:
            return
        self.stopped = True
        if self.proc.poll() is None:
            for container in self.docker("ps", "-aq").stdout.split():
                self.docker("rm", "-f", container)
        terminate(self.proc, 30)
        self.log.close()
        run([str(BIN_DIR / "rootlesskit"), "rm", "-rf", str(self.home), str(self.xdg)], timeout=120)


def busybox_rootfs(path: pathlib.Path) -> pathlib.Path:
    """No registry here: the root of an image made of busybox-static alone, for `docker import`."""
    with tarfile.open(path, "w") as tar:
        tar.add("/bin/busybox", "bin/busybox")
        for name in ("sh", "sleep", "echo", "cat"):
            link = tarfile.TarInfo(f"bin/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return path


def http_get(host: str, port: int, timeout: float = 20) -> str:
    """The index page through a published port, retried while the container starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            if data:
                return data.decode(errors="replace")
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"nothing answered on {host}:{port}")
        time.sleep(0.2)


def user_namespace(pid: int) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/user")
    return st.st_dev, st.st_ino


def processes_in(userns: tuple[int, int]) -> list[str]:
    """Every process (any uid: containers run as subordinate ids) in the user namespace `userns`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if user_namespace(int(entry)) != userns:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry}: {cmdline}")
        except OSError:
            continue
    return found


def mounts_under(*dirs: pathlib.Path) -> list[str]:
    """Mount points in this process's mount table at or below any of `dirs`."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if any(point == str(d) or point.startswith(f"{d}/") for d in dirs):
                found.append(point)
    return found
