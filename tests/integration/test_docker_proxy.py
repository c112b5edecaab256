"""rootlesskit-docker-proxy: the fd-3 protocol with dockerd, publishing through the API, the real
docker-proxy behind it, SIGINT removing the port; errors compared with Go's."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import time

import pytest

from conftest import REPO, run
from portutil import SLIRP, Running, free_port, refuses, server_command, wait_echo

REAL_PROXY_DIR = "/usr/sbin"  # Debian's docker.io


def _wait_file(path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} stayed empty"
        time.sleep(0.05)
    return path.read_text()


def _proxy_script(proxy: list[str], args: list[str], tmp_path) -> list[str]:
    """The rootlesskit command: the stand-in container (portserver) and the proxy dockerd would start."""
    ready, pid = tmp_path / "ready", tmp_path / "proxy.pid"
    server = " ".join(shlex.quote(a) for a in server_command("tcp", 9080, "127.0.0.1"))
    line = " ".join(shlex.quote(a) for a in proxy + args)
    script = (f"{server} & S=$!; PATH={REAL_PROXY_DIR}:$PATH {line} 3>{ready} & P=$!; echo $P > {pid}; "
              'trap "kill $S $P 2>/dev/null" TERM; wait')
    return ["sh", "-c", script]


def _wait_rss_below(pid: int, kib: int, timeout: float = 10) -> None:
    """Until the process's VmRSS is under `kib` (an interpreter alone holds several MiB; Go's proxy 6)."""
    deadline = time.monotonic() + timeout
    while True:
        status = open(f"/proc/{pid}/status").read()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        if rss < kib:
            return
        assert time.monotonic() < deadline, f"the waiting proxy holds {rss} KiB"
        time.sleep(0.05)


@pytest.mark.parametrize("kit", ["ours", "go"])
def test_publishes_then_removes_on_sigint(impl, go, tmp_path, kit):
    assert os.path.exists(f"{REAL_PROXY_DIR}/docker-proxy"), "docker-proxy (apt-get install docker.io)"
    port = free_port()
    args = ["-container-ip", "127.0.0.1", "-container-port", "9080", "-host-ip", "127.0.0.1",
            "-host-port", str(port), "-proto", "tcp"]
    command = _proxy_script(impl.argv("rootlesskit-docker-proxy"), args, tmp_path)
    with Running((impl if kit == "ours" else go).argv(), SLIRP + ["--port-driver=builtin"] + command,
                 tmp_path / "state") as rk:
        assert _wait_file(tmp_path / "ready") == "0\n"  # written by the real docker-proxy
        ports = json.loads(rk.api("GET", "/v1/ports")[2])
        assert [p["spec"] for p in ports] == [{"proto": "tcp4", "parentIP": "127.0.0.1", "parentPort": port,
                                              "childPort": port, "childIP": "127.0.0.1"}]
        assert wait_echo(("127.0.0.1", port))[1] == b"ping"  # host -> rootlesskit -> docker-proxy -> server
        proxy_pid = int(_wait_file(tmp_path / "proxy.pid"))
        if impl.kind == "binary":  # the executable waits without its interpreter (native/docker_proxy.h)
            _wait_rss_below(proxy_pid, 2048)
        os.kill(proxy_pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        while rk.api("GET", "/v1/ports")[2] != b"null":
            assert time.monotonic() < deadline, "the port was not removed after SIGINT"
            time.sleep(0.05)
        assert refuses(("127.0.0.1", port))


@pytest.mark.parametrize("host, container_port, in_c", [("127.0.0.1", "9080", True), ("::1", "9080", True),
                                                         ("127.0.0.1", "0x2378", False)])
def test_the_usual_start_runs_without_the_interpreter(impl, tmp_path, host, container_port, in_c):
    """The executable publishes and starts the real proxy in C (native/docker_proxy.h) for the flags
    dockerd writes; a form Go's flag package reads differently from plain decimal (0x2378 is 9080)
    goes to the interpreter, which execs itself into the same wait: the phase variable in its
    environment tells which path ran."""
    port = free_port()
    args = ["-container-ip", "127.0.0.1", "-container-port", container_port, "-host-ip", host,
            "-host-port", str(port), "-proto", "tcp"]
    command = _proxy_script(impl.argv("rootlesskit-docker-proxy"), args, tmp_path)
    with Running(impl.argv(), SLIRP + ["--port-driver=builtin"] + command, tmp_path / "state") as rk:
        assert _wait_file(tmp_path / "ready") == "0\n"
        ports = json.loads(rk.api("GET", "/v1/ports")[2])
        assert [p["spec"] for p in ports] == [{"proto": "tcp6" if ":" in host else "tcp4", "parentIP": host,
                                              "parentPort": port, "childPort": port, "childIP": host}]
        assert wait_echo((host, port))[1] == b"ping"
        proxy_pid = int(_wait_file(tmp_path / "proxy.pid"))
        if impl.kind == "binary":
            environ = open(f"/proc/{proxy_pid}/environ", "rb").read().split(b"\0")
            assert any(e.startswith(b"_ROOTLESSKIT_PY_PROXY_PHASE=wait ") for e in environ) != in_c
        os.kill(proxy_pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        while rk.api("GET", "/v1/ports")[2] != b"null":
            assert time.monotonic() < deadline, "the port was not removed after SIGINT"
            time.sleep(0.05)


def test_a_port_taken_is_reported_like_go_and_nothing_is_left_behind(impl, go, tmp_path):
    """The API refuses the port (published already): the start in C hands over to the interpreter,
    which asks again and reports the API's message on fd 3 and stderr, as Go's proxy does."""
    port = free_port()
    with Running(impl.argv(), SLIRP + ["--port-driver=builtin", "-p", f"127.0.0.1:{port}:9080/tcp", "sleep", "infinity"],
                 tmp_path / "state") as rk:
        results = {}
        for name, kit in (("ours", impl), ("go", go)):
            ready = tmp_path / f"{name}.ready"
            argv = " ".join(shlex.quote(a) for a in kit.argv("rootlesskit-docker-proxy"))
            result = run(["nsenter", "-U", "--preserve-credentials", "-n", "-m", "-t", str(rk.child_pid()), "sh", "-c",
                          f"cd {shlex.quote(str(REPO))} && {argv} -container-ip 127.0.0.1 -container-port 80 -host-ip 127.0.0.1 -host-port {port} "
                          f"-proto tcp 3>{ready}"],
                         env={"PATH": f"{REAL_PROXY_DIR}:/usr/bin:/bin", "ROOTLESSKIT_STATE_DIR": str(tmp_path / "state")})
            results[name] = (result.returncode, _go_log(result.stderr), ready.read_text())
        assert results["ours"] == results["go"]
        assert results["ours"][0] == 1 and results["ours"][2].startswith("1\n"), results["ours"]
        assert len(json.loads(rk.api("GET", "/v1/ports")[2])) == 1


@pytest.mark.parametrize("proxy", ["ours", "go"])
def test_a_port_already_gone_at_sigint_is_a_warning_as_in_go(impl, go, tmp_path, proxy):
    """Removed behind the proxy's back (rootlessctl remove-ports): at SIGINT the proxy warns and exits
    0. Ours comes back from its wait in C to the interpreter for that, and names the API's answer
    where Go 1.1.0 prints `%!w(<nil>)`."""
    port = free_port()
    args = ["-container-ip", "127.0.0.1", "-container-port", "9080", "-host-ip", "127.0.0.1",
            "-host-port", str(port), "-proto", "tcp"]
    script = _proxy_script((impl if proxy == "ours" else go).argv("rootlesskit-docker-proxy"), args, tmp_path)
    script[-1] = script[-1].replace("wait", 'wait $P; echo "proxy exit $?" >&2; wait')
    with Running(impl.argv(), SLIRP + ["--port-driver=builtin"] + script, tmp_path / "state") as rk:
        assert _wait_file(tmp_path / "ready") == "0\n"
        [status] = json.loads(rk.api("GET", "/v1/ports")[2])
        assert rk.api("DELETE", f"/v1/ports/{status['id']}")[0] == 200
        os.kill(int(_wait_file(tmp_path / "proxy.pid")), signal.SIGINT)
        deadline = time.monotonic() + 10
        while "proxy exit" not in rk.stderr():
            assert time.monotonic() < deadline, rk.stderr()
            time.sleep(0.05)
    assert "proxy exit 0" in rk.stderr()
    reason = f"unknown id: {status['id']}" if proxy == "ours" else "%!w(<nil>)"
    assert f'level=warning msg="error while calling PortManager.RemovePort(): {reason}"' in rk.stderr()


def test_unsupported_protocol_is_discarded_with_a_warning(impl, tmp_path):
    """slirp4netns's port driver has no tcp6: warn, report ready, exit 0 (as upstream)."""
    args = ["-container-ip", "127.0.0.1", "-container-port", "9080", "-host-ip", "::",
            "-host-port", str(free_port()), "-proto", "tcp"]
    command = _proxy_script(impl.argv("rootlesskit-docker-proxy"), args, tmp_path)
    with Running(impl.argv(), ["--net=slirp4netns", "--copy-up=/etc", "--port-driver=slirp4netns"] + command,
                 tmp_path / "state") as rk:
        assert _wait_file(tmp_path / "ready") == "0\n"
        deadline = time.monotonic() + 10
        while "discarding request" not in rk.stderr():
            assert time.monotonic() < deadline, rk.stderr()
            time.sleep(0.05)
        assert ('protocol \\"tcp6\\" is not supported by the RootlessKit port driver \\"slirp4netns\\", '
                'discarding request for \\"[::]:') in rk.stderr()


def _go_log(text: str) -> str:
    return re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ", "DATE ", text, flags=re.M)


@pytest.mark.parametrize("env", [{}, {"ROOTLESSKIT_STATE_DIR": "/nonexistent"}])
def test_errors_reach_dockerd_and_stderr_like_go(impl, go, tmp_path, env):
    results = {}
    for name, kit in (("ours", impl), ("go", go)):
        ready = tmp_path / f"{name}.ready"
        argv = " ".join(shlex.quote(a) for a in kit.argv("rootlesskit-docker-proxy"))
        result = run(["sh", "-c", f"{argv} -host-port 80 3>{ready}"], env={"PATH": "/usr/bin:/bin", **env})
        results[name] = (result.returncode, _go_log(result.stderr), ready.read_text())
    assert results["ours"] == results["go"]
    assert results["ours"][0] == 1 and results["ours"][2].startswith("1\n")


def test_bad_flags_print_go_usage(impl, go):
    mine, theirs = run(impl.argv("rootlesskit-docker-proxy") + ["-bogus"]), run(go.argv("rootlesskit-docker-proxy") + ["-bogus"])
    assert mine.returncode == theirs.returncode == 2
    strip = lambda text: re.sub(r"Usage of .*:", "Usage of PROG:", text)  # noqa: E731 (argv[0] differs)
    assert strip(mine.stderr) == strip(theirs.stderr)
    assert mine.stderr.startswith("flag provided but not defined: -bogus\nUsage of ")
