"""Our dockerd-rootless.sh (the compiled binary, with our rootlesskit) running real Docker engines of
the four generations in use: 20.10 (runs rootlesskit-docker-proxy), 26.1 (calls GET /v1/info for
`docker version`), 28.x (the daemon itself adds and removes ports through the API) and 29 (in the
host's network namespace, --detach-netns; what that changes is tested in test_detach_netns.py)."""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import BIN_DIR, run
from dockerutil import (DETACHED, ENGINES, IMAGE, Engine, RootlessDocker, engine_params, http_get, kit_dir,
                        processes_in, user_namespace)
from portutil import api_call, free_port, refuses

SCRIPT = str(BIN_DIR / "dockerd-rootless.sh")
MTU = "1400"  # not any driver's default, so seeing it on tap0 shows the variable was used


def _start(base, engine: Engine, env: dict[str, str] | None = None, args: list[str] | None = None,
           extra_path: list[str] | None = None) -> RootlessDocker:
    daemon = RootlessDocker(base, engine, SCRIPT, kit_dir(base, True, engine), env, args, extra_path)
    daemon.wait_ready()
    daemon.import_busybox()
    return daemon


@pytest.fixture(scope="module", params=engine_params(ENGINES))
def engine(request) -> Engine:
    return Engine(request.param)


@pytest.fixture(scope="module")
def dockerd(engine, tmp_path_factory):
    """The default set-up (slirp4netns detected, builtin port driver), with a custom MTU and the
    documented remote-API recipe: a rootlesskit -p for dockerd's TCP listener. With --detach-netns
    dockerd listens in the host's network namespace itself, where that -p would hold the port first."""
    tcp = free_port()
    base = tmp_path_factory.mktemp(f"dr-{engine}")
    flags = {} if engine.name in DETACHED else {"DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS": f"-p 0.0.0.0:{tcp}:{tcp}/tcp"}
    daemon = _start(base, engine, env={"DOCKERD_ROOTLESS_ROOTLESSKIT_MTU": MTU, **flags},
                    args=["-H", "unix://{xdg}/docker.sock", "-H", f"tcp://0.0.0.0:{tcp}", "--tls=false"])
    daemon.tcp_port = tcp
    try:
        yield daemon
    finally:
        daemon.stop()


def test_info_shows_rootless(dockerd):
    result = dockerd.docker("info", "--format", "{{json .SecurityOptions}}")
    assert result.returncode == 0, result.stderr
    assert "name=rootless" in result.stdout


def test_version_shows_the_rootlesskit_component(dockerd):
    """26.1 and later ask GET /v1/info for `docker version`; 20.10 has no such component."""
    result = dockerd.docker("version", "--format", "{{range .Server.Components}}{{.Name}}={{.Version}};{{end}}")
    assert result.returncode == 0, result.stderr
    ours = run([str(BIN_DIR / "rootlesskit"), "--version"]).stdout.split()[-1]
    if dockerd.engine.name == "20.10":
        assert "rootlesskit" not in result.stdout
    else:
        assert f"rootlesskit={ours};" in result.stdout


def test_trace_shows_the_commands(dockerd):
    log = dockerd.log_text()
    assert f"+ exec rootlesskit --state-dir={dockerd.xdg}/dockerd-rootless --net=slirp4netns --mtu={MTU} " in log
    assert "+ rm -f /run/docker /run/containerd /run/xtables.lock\n" in log
    assert "+ exec dockerd -H " in log
    assert "net.ipv4.ip_forward = 1\n" in log


def test_run_and_exec(dockerd):
    assert dockerd.docker("run", "--rm", IMAGE, "echo", "hi").stdout == "hi\n"
    container = dockerd.docker("run", "-d", IMAGE, "sleep", "1000").stdout.strip()
    try:
        result = dockerd.docker("exec", container, "cat", "/proc/1/cmdline")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("sleep")
    finally:
        dockerd.docker("rm", "-f", container)


def test_publish_reaches_the_container_on_v4_and_v6(dockerd):
    port = free_port()
    container = dockerd.serve(f"{port}:80")
    try:
        assert "hello-from-the-container" in http_get("127.0.0.1", port)
        assert "hello-from-the-container" in http_get("::1", port)
    finally:
        dockerd.docker("rm", "-f", container)
    deadline = time.monotonic() + 10
    while not refuses(("127.0.0.1", port)):
        assert time.monotonic() < deadline, "the host port stayed published after docker rm"
        time.sleep(0.1)


def test_mtu_shows_on_tap0(dockerd):
    """tap0 is in the namespace the containers' bridge is in: the child's, or the detached one."""
    result = run(["nsenter", "-U", "--preserve-credentials", f"--net={dockerd.netns()}", "-t",
                  str(dockerd.child_pid()), "ip", "-o", "link", "show", "tap0"])
    assert result.returncode == 0, result.stderr
    assert f" mtu {MTU} " in result.stdout


def test_flags_publish_dockerds_tcp_listener(dockerd):
    """DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS='-p 0.0.0.0:PORT:PORT/tcp' with dockerd -H tcp://0.0.0.0:PORT;
    with --detach-netns, -H tcp://0.0.0.0:PORT alone."""
    result = run([dockerd.engine.docker, "-H", f"tcp://127.0.0.1:{dockerd.tcp_port}", "info", "--format",
                  "{{json .SecurityOptions}}"], env={**dockerd.env, "DOCKER_HOST": ""})
    assert result.returncode == 0, result.stderr
    assert "name=rootless" in result.stdout


def test_hup_reloads_dockerd(dockerd):
    dockerd.assert_hup_reloads()


@pytest.mark.parametrize("net, port_driver", [
    ("slirp4netns", "slirp4netns"),  # slirp4netns forwards IPv4 only
    ("pasta", "implicit"),  # pasta runs --ipv4-only unless rootlesskit has --ipv6
])
def test_other_port_drivers_reach_the_container(engine, tmp_path, current_pasta, net, port_driver):
    """On 29, pasta's automatic forwarding does not see the listeners docker-proxy opens in a
    detached namespace (with Go RootlessKit 2.0.2 neither; see the README): tested as the README
    tells users to run it, with DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS=false."""
    pasta_dir = os.path.dirname(current_pasta)  # trixie's pasta: Debian 12's is too old
    attach = {"DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS": "false"} if engine.name in DETACHED and net == "pasta" else {}
    daemon = _start(tmp_path, engine, env={"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": net,
                                           "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER": port_driver, **attach},
                    extra_path=[pasta_dir])
    try:
        assert f"--net={net} " in daemon.log_text() and f"--port-driver={port_driver} " in daemon.log_text()
        port = free_port()
        daemon.serve(f"{port}:80")
        assert "hello-from-the-container" in http_get("127.0.0.1", port)
    finally:
        daemon.stop()


def test_pesto_publishes_through_dockers_port_api(engine, tmp_path, sid_pasta):
    """NET=pasta PORT_DRIVER=pesto with sid's passt: 20.10 and 26.1 publish through
    rootlesskit-docker-proxy, 28 from dockerd itself, both through the API at the namespace address.
    The port answers while the container runs, and neither before nor after it."""
    daemon = _start(tmp_path, engine, env={"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "pasta",
                                           "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER": "pesto"},
                    extra_path=[os.path.dirname(sid_pasta)])
    try:
        assert "--net=pasta " in daemon.log_text() and "--port-driver=pesto " in daemon.log_text()
        port = free_port()
        assert refuses(("127.0.0.1", port))
        container = daemon.serve(f"{port}:80")
        assert "hello-from-the-container" in http_get("127.0.0.1", port)
        status, _, body = api_call(str(daemon.state / "api.sock"), "GET", "/v1/ports")
        assert status == 200
        assert [(p["spec"]["parentPort"], p["spec"]["proto"]) for p in json.loads(body)] == [(port, "tcp4")]
        assert daemon.docker("rm", "-f", container).returncode == 0
        deadline = time.monotonic() + 10
        while not refuses(("127.0.0.1", port)):
            assert time.monotonic() < deadline, "the host port stayed published after docker rm"
            time.sleep(0.1)
        assert api_call(str(daemon.state / "api.sock"), "GET", "/v1/ports")[2] == b"null"  # Go's empty list
    finally:
        daemon.stop()


def test_term_leaves_nothing_behind_and_data_can_be_removed(engine, tmp_path):
    """A privileged port is refused with the documented hint (Docker 28 then leaks the container's
    shim, upstream's rootlesskit too); TERM with a container running: dockerd, containerd, the
    shims, the container and slirp4netns are all gone 10 s after the service pid exited, with the
    state directory, and no mount under the daemon's directories is left in the host's table; then
    `rootlesskit rm -rf` removes the data."""
    daemon = _start(tmp_path, engine)
    refused = daemon.docker("run", "-d", "-p", "127.0.0.1:80:80", IMAGE, "sleep", "1000")
    assert refused.returncode != 0
    assert ("cannot expose privileged port 80, you can add 'net.ipv4.ip_unprivileged_port_start=80' to "
            "/etc/sysctl.conf (currently 1024), or set CAP_NET_BIND_SERVICE on rootlesskit binary, or choose "
            "a larger port number (>= 1024)") in refused.stderr
    container = daemon.docker("run", "-d", IMAGE, "sleep", "1000")
    assert container.returncode == 0, container.stderr
    daemon.assert_term_leaves_nothing()
    assert daemon.data.is_dir()
    result = run([str(BIN_DIR / "rootlesskit"), "rm", "-rf", str(daemon.data)], timeout=120)
    assert result.returncode == 0, result.stderr
    assert not daemon.data.exists()
    daemon.stop()
