"""What Docker 29.5 changed for rootless users, on Docker 29.7.2, with our dockerd-rootless.sh over
our rootlesskit ("ours-29") and, beside it, upstream's 29.7.2 script over Go RootlessKit 2.0.2
("go-29"), which must behave the same:

- both scripts pass --detach-netns by default: dockerd, and so `docker run --net=host`, stay in the
  host's network namespace, while tap0, the MTU and the containers' bridge are in the detached one
  at $ROOTLESSKIT_STATE_DIR/netns;
- `dockerd-rootless-setuptool.sh nsenter` enters the user and mount namespaces, not the detached one;
- HUP reloads dockerd, and TERM with a container running leaves no process, mount or state
  directory behind (`-p` on IPv4 and IPv6 is in test_docker.py for upstream's script over both
  kits, in test_dockerd_rootless.py for ours);
- each container start logs one error, `libnetwork: restoring thread network namespace failed:
  operation not permitted`, and no other (the README says why no rootlesskit can avoid it).
"""

from __future__ import annotations

import os

import pytest

from conftest import BIN_DIR, DOCKER29_DIR, run
from dockerutil import IMAGE, Engine, RootlessDocker, engine_params, http_get, kit_dir, user_namespace
from portutil import free_port

MTU = "1400"  # not slirp4netns's default (65520), so seeing it on tap0 shows the variable was used
SETNS_ERROR = "libnetwork: restoring thread network namespace failed"


def _start(base, which: str) -> RootlessDocker:
    engine = Engine("29")
    ours = which == "ours"
    script = str(BIN_DIR / "dockerd-rootless.sh") if ours else engine.script
    daemon = RootlessDocker(base, engine, script, kit_dir(base, ours, engine),
                            env={"DOCKERD_ROOTLESS_ROOTLESSKIT_MTU": MTU})
    daemon.setuptool = str(BIN_DIR if ours else DOCKER29_DIR) + "/dockerd-rootless-setuptool.sh"
    daemon.wait_ready()
    daemon.import_busybox()
    return daemon


@pytest.fixture(scope="module", params=engine_params(["ours-29", "go-29"]))
def which(request) -> str:
    return request.param.split("-")[0]


@pytest.fixture(scope="module")
def dockerd(which, tmp_path_factory):
    daemon = _start(tmp_path_factory.mktemp(f"detach-{which}"), which)
    try:
        yield daemon
    finally:
        daemon.stop()


def _netns_id(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def test_detach_netns_is_the_default(dockerd):
    """Nothing set, and the script passes --detach-netns: dockerd runs in the host's network
    namespace (inside the user namespace), the detached one is bound at $STATE/netns."""
    assert "--detach-netns " in dockerd.log_text()
    # dockerd's own pid file (Go RootlessKit runs dockerd as a child of child_pid, ours execs it)
    daemon = int((dockerd.xdg / "docker.pid").read_text())
    assert _netns_id(f"/proc/{daemon}/ns/net") == _netns_id("/proc/self/ns/net")
    assert user_namespace(daemon) != user_namespace(os.getpid())
    assert dockerd.netns().endswith("/netns")
    assert os.stat(dockerd.netns()).st_dev == os.stat("/proc/self/ns/net").st_dev  # a namespace (nsfs)
    assert _netns_id(dockerd.netns()) != _netns_id("/proc/self/ns/net")


def test_net_host_container_answers_on_the_host(dockerd):
    """`docker run --net=host` shares dockerd's namespace, which is the host's: its server is
    reached on the host's 127.0.0.1 without any port forwarding."""
    port = free_port()
    container = dockerd.docker("run", "-d", "--net=host", IMAGE, "/bin/busybox", "sh", "-c",
                               "mkdir /www && echo hello-from-the-host-network > /www/index.html && "
                               f"exec /bin/busybox httpd -f -p 127.0.0.1:{port} -h /www")
    assert container.returncode == 0, container.stderr
    try:
        assert "hello-from-the-host-network" in http_get("127.0.0.1", port)
    finally:
        dockerd.docker("rm", "-f", container.stdout.strip())


def test_tap0_mtu_and_bridge_are_in_the_detached_namespace(dockerd):
    result = run(["nsenter", "-U", "--preserve-credentials", f"--net={dockerd.netns()}", "-t",
                  str(dockerd.child_pid()), "ip", "-o", "link"])
    assert result.returncode == 0, result.stderr
    links = {line.split(":")[1].strip().split("@")[0]: line for line in result.stdout.splitlines()}
    assert f" mtu {MTU} " in links["tap0"]
    assert "docker0" in links
    host = run(["ip", "-o", "link"]).stdout
    assert " tap0:" not in host and " docker0:" not in host


def test_setuptool_nsenter_does_not_enter_the_detached_namespace(dockerd):
    """As upstream's: the user and mount namespaces of the daemon, the host's network namespace."""
    result = run([dockerd.setuptool, "nsenter", "--", "sh", "-c", "id -u; readlink /proc/self/ns/user /proc/self/ns/net"],
                 env=dockerd.env)
    assert result.returncode == 0, result.stderr
    uid, userns, netns = result.stdout.split()
    assert uid == "0"
    assert userns == os.readlink(f"/proc/{dockerd.child_pid()}/ns/user")
    assert netns == os.readlink("/proc/self/ns/net")


def test_hup_reloads_dockerd(dockerd):
    dockerd.assert_hup_reloads()


def test_container_start_logs_only_the_setns_error(dockerd):
    """dockerd turns IPv6 off on the container's eth0 from a thread it moves into the container's
    namespace; moving that thread back into the host's namespace needs CAP_SYS_ADMIN over the
    initial user namespace, so it fails (EPERM) and Go discards the thread. That error is the only
    one dockerd logs for a container start, with Go RootlessKit as with ours. (containerd's shim
    logs its own, `add cg to OOM monitor`: a rootless shim cannot arm cgroup v1's OOM notification.)"""
    before = len(dockerd.log_text().splitlines())
    assert dockerd.docker("run", "--rm", IMAGE, "echo", "hi").stdout == "hi\n"
    errors = [line for line in dockerd.log_text().splitlines()[before:]
              if "level=error" in line and "runtime=io.containerd.runc.v2" not in line]
    assert [SETNS_ERROR in line and "operation not permitted" in line for line in errors] == [True], errors


@pytest.mark.parametrize("kit", engine_params(["go-29"]))
def test_term_with_a_container_running_leaves_nothing_behind(kit, tmp_path):
    """Upstream's script over Go RootlessKit, as ours is in test_dockerd_rootless.py's TERM test."""
    daemon = _start(tmp_path, kit.split("-")[0])
    try:
        container = daemon.docker("run", "-d", IMAGE, "sleep", "1000")
        assert container.returncode == 0, container.stderr
        daemon.assert_term_leaves_nothing()
    finally:
        daemon.stop()
