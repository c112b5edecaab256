"""cgroup2 evacuation and systemd socket activation: the two ways rootlesskit meets systemd."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from conftest import REPO


def test_evacuate_cgroup2_moves_processes_into_the_subgroup(impl, root_helper):
    """In a delegated cgroup2 group (what systemd gives a user service), everything moves to `evac`."""
    shell = subprocess.Popen(["sh", "-c", 'read go; exec "$@"', "sh", *impl.argv(), "--cgroupns", "--pidns",
                              "--evacuate-cgroup2=evac", "sh", "-c",
                              "cat /proc/self/cgroup; cat /proc/1/cgroup; test -d /sys/fs/cgroup/evac && echo own-mount"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        group = root_helper("cgroup-delegate", str(shell.pid)).stdout.strip()
        out, err = shell.communicate("go\n", timeout=30)
        assert shell.returncode == 0, err
        unified = [line for line in out.splitlines() if line.startswith("0::")]
        assert unified == ["0::/evac", "0::/evac"], out + err  # the command and PID 1, seen from the cgroup namespace
        # /sys/fs/cgroup is a cgroup2 mount of that namespace (its root: the delegated group, holding evac/)
        assert out.splitlines()[-1] == "own-mount", out + err
        with open(f"{group}/cgroup.procs") as f:
            assert f.read() == ""  # nothing left in the now non-leaf group
    finally:
        shell.kill()
        shell.communicate()
        root_helper("cgroup-release")


def test_evacuate_cgroup2_bad_name(impl):
    result = subprocess.run(impl.argv() + ["--cgroupns", "--pidns", "--evacuate-cgroup2=a/b", "true"],
                            capture_output=True, text=True, cwd=REPO, timeout=30)
    assert result.returncode == 1
    assert '[rootlesskit:parent] error: unexpected evacuation group name "a/b": must not contain "/"' in result.stderr


@pytest.mark.parametrize("mode", [[], ["--pidns"]], ids=["no-pidns", "pidns"])
def test_socket_activation_fds_and_listen_pid(impl, tmp_path, mode):
    """upstream hack/integration-systemd-socket.sh: LISTEN_FDS fds stay at 3.. and LISTEN_PID is the command's pid."""
    socks = [tmp_path / "a.sock", tmp_path / "b.sock"]
    report = tmp_path / "report"
    check = f'echo "$LISTEN_FDS $LISTEN_PID $$ $(readlink /proc/self/fd/3) $(readlink /proc/self/fd/4)" > {report}'
    activator = subprocess.Popen(["systemd-socket-activate", *[f"-l{s}" for s in socks], *impl.argv(), *mode,
                                  "sh", "-c", check], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 20
        while not socks[0].exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(socks[0]))  # the activator starts rootlesskit on the first connection
            _, err = activator.communicate(timeout=30)
    finally:
        activator.kill()
        activator.communicate()
    assert activator.returncode == 0, err
    listen_fds, listen_pid, own_pid, fd3, fd4 = report.read_text().split()
    assert listen_fds == "2"
    assert listen_pid == own_pid
    assert fd3.startswith("socket:") and fd4.startswith("socket:")
