"""Real Docker engines in rootless mode (each with its own dockerd-rootless.sh) on top of a
rootlesskit: `docker run -p` must reach the container from the host. Debian 12's Docker 20.10 on
Go's rootlesskit and on ours; Docker 26.1 (Debian 13's, which publishes through
rootlesskit-docker-proxy) and Docker 28 (sid's, whose daemon calls the port API itself) on ours. The
engines find `rootlesskit` and `rootlesskit-docker-proxy` by name on PATH, so each variant puts its
pair first.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tarfile
import time

import pytest

from conftest import BIN_DIR, GO_ROOTLESSKIT, run
from portutil import free_port, refuses, terminate

ENGINE_CACHE = os.environ.get("RKPY_ENGINE_CACHE", "/var/cache/rootlesskit-py-tests")
# engine -> the root its files are under; each engine is driven by its own docker client, never a PATH lookup
ENGINES = {"20.10": "/", "26.1": f"{ENGINE_CACHE}/trixie/root", "28": f"{ENGINE_CACHE}/sid/root"}
SCRIPT = "usr/share/docker.io/contrib/dockerd-rootless.sh"
IMAGE = "rkpy-busybox"


class RootlessDocker:
    """dockerd-rootless.sh with a private XDG_RUNTIME_DIR, HOME and data root under `base`."""

    def __init__(self, base, kit_dir: str, engine: str) -> None:
        self.base, self.root = base, ENGINES[engine]
        self.client = os.path.join(self.root, "usr/bin/docker")
        engine_path = "" if engine == "20.10" else f"{self.root}/usr/bin:{self.root}/usr/sbin:"
        self.xdg, home, self.data = base / "xdg", base / "home", base / "data"
        for path in (self.xdg, home, self.data):
            path.mkdir(mode=0o700)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.xdg), "HOME": str(home),
                    "PATH": f"{kit_dir}:{engine_path}/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                    "DOCKER_HOST": f"unix://{self.xdg}/docker.sock",
                    "DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS": f"--state-dir={base / 'state'}"}
        self.log = open(base / "dockerd.log", "w")
        self.proc = subprocess.Popen(
            [os.path.join(self.root, SCRIPT), "--data-root", str(self.data), "--exec-root", str(self.xdg / "exec"),
             "--pidfile", str(self.xdg / "docker.pid"), "--host", self.env["DOCKER_HOST"]],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.docker("version").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"rootless dockerd did not start:\n{(self.base / 'dockerd.log').read_text()[-3000:]}")
            time.sleep(0.2)

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return run([self.client, *args], env=self.env, timeout=60, **kwargs)

    def import_busybox(self) -> None:
        """No registry here: an image made of busybox-static alone."""
        rootfs = self.base / "rootfs.tar"
        with tarfile.open(rootfs, "w") as tar:
            tar.add("/bin/busybox", "bin/busybox")
            link = tarfile.TarInfo("bin/sh")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        with open(rootfs, "rb") as f:
            result = subprocess.run([self.client, "import", "-", IMAGE], env=self.env, stdin=f, capture_output=True,
                                    text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    def stop(self) -> None:
        """SIGTERM to rootlesskit (the script execs it), which relays it to dockerd; then wait."""
        terminate(self.proc, 30)
        self.log.close()
        # images and containers belong to subordinate ids: remove them from inside a user namespace
        run([GO_ROOTLESSKIT, "rm", "-rf", str(self.data), str(self.xdg)], timeout=120)


@pytest.fixture(scope="module", params=["go-20.10", "binary-20.10", "binary-26.1", "binary-28"])
def dockerd(request, tmp_path_factory):
    kit, version = request.param.split("-")
    root = ENGINES[version]
    for tool in (SCRIPT, "usr/sbin/dockerd", "usr/bin/docker", "usr/sbin/docker-proxy"):
        assert os.path.exists(os.path.join(root, tool)), (
            f"{os.path.join(root, tool)} missing (apt-get install docker.io for 20.10; tests/engines.sh, run by "
            "sudo tests/run, for the others)")
    base = tmp_path_factory.mktemp(f"docker-{request.param}")
    kit_dir = base / "kit"
    kit_dir.mkdir()
    source = os.path.dirname(GO_ROOTLESSKIT) if kit == "go" else str(BIN_DIR)
    for name in ("rootlesskit", "rootlesskit-docker-proxy"):
        (kit_dir / name).symlink_to(os.path.join(source, name))
    engine = RootlessDocker(base, str(kit_dir), version)
    try:
        engine.wait_ready()
        engine.import_busybox()
        yield engine
    finally:
        for container in engine.docker("ps", "-aq").stdout.split():
            engine.docker("rm", "-f", container)
        engine.stop()


def _get(host: str, port: int, timeout: float = 20) -> str:
    """The index page through the published port, retried while the container starts."""
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


def _serve(dockerd, publish: str) -> str:
    result = dockerd.docker("run", "-d", "-p", publish, IMAGE, "/bin/busybox", "sh", "-c",
                            "mkdir /www && echo hello-from-the-container > /www/index.html && "
                            "exec /bin/busybox httpd -f -p 80 -h /www")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_docker_run_p_reaches_the_container(dockerd):
    port = free_port()
    container = _serve(dockerd, f"127.0.0.1:{port}:80")
    assert "hello-from-the-container" in _get("127.0.0.1", port)
    assert dockerd.docker("rm", "-f", container).returncode == 0
    deadline = time.monotonic() + 10
    while not refuses(("127.0.0.1", port)):  # the proxy got SIGINT and removed the port
        assert time.monotonic() < deadline, "the host port stayed published after docker rm"
        time.sleep(0.1)


def test_docker_run_p_on_all_addresses_answers_v4_and_v6(dockerd):
    port = free_port()
    container = _serve(dockerd, f"{port}:80")
    assert "hello-from-the-container" in _get("127.0.0.1", port)
    assert "hello-from-the-container" in _get("::1", port)
    dockerd.docker("rm", "-f", container)


def test_rootlesskit_api_lists_dockers_ports(dockerd):
    """What dockerd published shows in `rootlessctl list-ports` of the same kit."""
    port = free_port()
    container = _serve(dockerd, f"127.0.0.1:{port}:80")
    _get("127.0.0.1", port)
    listing = run([str(BIN_DIR / "rootlessctl"), "--socket", str(dockerd.base / "state" / "api.sock"), "list-ports"])
    assert listing.returncode == 0, listing.stderr
    assert f"tcp4     127.0.0.1    {port}" in listing.stdout
    dockerd.docker("rm", "-f", container)


@pytest.mark.parametrize("dockerd", ["binary-26.1", "binary-28"], indirect=True)  # 20.10 does not list it
def test_docker_version_shows_the_rootlesskit_it_runs_on(dockerd):
    """dockerd asks the kit's API (GET /v1/info) for the component `docker version` lists."""
    result = dockerd.docker("version", "--format", "{{json .Server.Components}}")
    assert result.returncode == 0, result.stderr
    component = next(c for c in json.loads(result.stdout) if c["Name"] == "rootlesskit")
    assert component["Version"] == "3.0.1"
    assert (component["Details"]["ApiVersion"], component["Details"]["NetworkDriver"]) == ("1.1.1", "slirp4netns")
