"""Each engine's own upstream dockerd-rootless.sh on top of a rootlesskit pair: Debian 12's Docker
20.10 on Go's pair and on ours, Docker 26.1 (publishes through rootlesskit-docker-proxy), Docker
28 (whose daemon calls the port API itself) on ours, and Docker 29.7.2 (--detach-netns by default)
on Go RootlessKit 2.0.2 and on ours. `docker run -p` must reach the container from the host. (Our
own dockerd-rootless.sh is tested in test_dockerd_rootless.py.)"""

from __future__ import annotations

import json
import time

import pytest

from conftest import BIN_DIR, run
from dockerutil import Engine, RootlessDocker, engine_params, http_get, kit_dir
from portutil import free_port, refuses


@pytest.fixture(scope="module", params=engine_params(["go-20.10", "binary-20.10", "binary-26.1", "binary-28",
                                                      "go-29", "binary-29"]))
def dockerd(request, tmp_path_factory):
    kit, version = request.param.split("-")
    engine = Engine(version)
    base = tmp_path_factory.mktemp(f"docker-{request.param}")
    # 20.10's script passes no --state-dir (rootlesskit then makes a fresh /tmp one): name it for all
    state = str(base / "state")
    daemon = RootlessDocker(base, engine, engine.script, kit_dir(base, kit == "binary", engine),
                            env={"DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR": state,
                                 "DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS": f"--state-dir={state}"})
    try:
        daemon.wait_ready()
        daemon.import_busybox()
        yield daemon
    finally:
        daemon.stop()


def test_docker_run_p_reaches_the_container(dockerd):
    port = free_port()
    container = dockerd.serve(f"127.0.0.1:{port}:80")
    assert "hello-from-the-container" in http_get("127.0.0.1", port)
    assert dockerd.docker("rm", "-f", container).returncode == 0
    deadline = time.monotonic() + 10
    while not refuses(("127.0.0.1", port)):  # the proxy got SIGINT, or dockerd removed the port
        assert time.monotonic() < deadline, "the host port stayed published after docker rm"
        time.sleep(0.1)


def test_docker_run_p_on_all_addresses_answers_v4_and_v6(dockerd):
    port = free_port()
    container = dockerd.serve(f"{port}:80")
    assert "hello-from-the-container" in http_get("127.0.0.1", port)
    assert "hello-from-the-container" in http_get("::1", port)
    dockerd.docker("rm", "-f", container)


def test_rootlesskit_api_lists_dockers_ports(dockerd):
    """What dockerd published shows in `rootlessctl list-ports` of the same kit."""
    port = free_port()
    container = dockerd.serve(f"127.0.0.1:{port}:80")
    http_get("127.0.0.1", port)
    listing = run([str(BIN_DIR / "rootlessctl"), "--socket", str(dockerd.state / "api.sock"), "list-ports"])
    assert listing.returncode == 0, listing.stderr
    assert f"tcp4     127.0.0.1    {port}" in listing.stdout
    dockerd.docker("rm", "-f", container)


@pytest.mark.parametrize("dockerd", engine_params(["binary-26.1", "binary-28", "binary-29"]),
                         indirect=True)  # 20.10 does not list it
def test_docker_version_shows_the_rootlesskit_it_runs_on(dockerd):
    """dockerd asks the kit's API (GET /v1/info) for the component `docker version` lists."""
    result = dockerd.docker("version", "--format", "{{json .Server.Components}}")
    assert result.returncode == 0, result.stderr
    component = next(c for c in json.loads(result.stdout) if c["Name"] == "rootlesskit")
    ours = run([str(BIN_DIR / "rootlesskit"), "--version"]).stdout.split()[-1]
    assert component["Version"] == ours
    assert (component["Details"]["ApiVersion"], component["Details"]["NetworkDriver"]) == ("1.1.3", "slirp4netns")
