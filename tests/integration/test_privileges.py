"""Sub-id sources, file capabilities, sysctl hints, and removing subordinate-owned trees."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conftest import BIN_DIR, GO_ROOTLESSKIT, REPO, run, wait_for_file
from rootlesskit_py import names

CAPS_DIR = "/usr/local/libexec/rootlesskit-py-test-caps"


@pytest.mark.parametrize("source", ["static", "dynamic", "auto"])
def test_subid_sources_give_the_same_maps_as_go(impl, go, source):
    argv = [f"--subid-source={source}", "cat", "/proc/self/uid_map", "/proc/self/gid_map"]
    ours, ref = run(impl.argv() + argv), run(go.argv() + argv)
    assert ours.returncode == ref.returncode == 0, ours.stderr
    assert ours.stdout == ref.stdout


def test_unknown_subid_source(impl, go):
    ours, ref = run(impl.argv() + ["--subid-source=bogus", "true"]), run(go.argv() + ["--subid-source=bogus", "true"])
    assert ours.returncode == ref.returncode == 1
    message = ('[rootlesskit:parent] error: failed to setup UID/GID map: failed to compute uid/gid map: '
               'unknown subid source "bogus"')
    assert message in ours.stderr and message in ref.stderr


def test_user_without_subordinate_ids(binary, go, root_helper):
    ours = root_helper("as-user-without-subids", *binary.argv(), "--subid-source=static", "true", check=False)
    ref = root_helper("as-user-without-subids", GO_ROOTLESSKIT, "--subid-source=static", "true", check=False)
    assert ours.returncode == ref.returncode == 1
    uid = subprocess.run(["id", "-u", "rkpytest-nosubid"], capture_output=True, text=True).stdout.strip()
    message = (f"failed to setup UID/GID map: failed to compute uid/gid map: "
               f'No subuid ranges found for user {uid} ("rkpytest-nosubid")')
    assert message in ours.stderr and message in ref.stderr
    assert "[rootlesskit:parent] error: " + message in ours.stderr


def test_rm_rf_removes_trees_owned_by_subordinate_ids(impl, tmp_path):
    """The documented uninstall step: `rootlesskit rm -rf ~/.local/share/docker`."""
    tree = tmp_path / "data"
    made = run(impl.argv() + ["sh", "-c", f"mkdir -p {tree}/a/b && touch {tree}/a/b/f && chown -R 1000:1000 {tree}/a"])
    assert made.returncode == 0, made.stderr
    assert os.stat(tree / "a").st_uid != os.getuid()  # owned by a subordinate uid on the host
    assert run(["rm", "-rf", str(tree)]).returncode != 0
    removed = run(impl.argv() + ["rm", "-rf", str(tree)])
    assert removed.returncode == 0, removed.stderr
    assert not tree.exists()


@pytest.fixture
def setcap_rootlesskit(root_helper):
    """A root-owned copy of the compiled binary with `setcap cap_net_bind_service=ep`."""
    target = f"{CAPS_DIR}/rootlesskit"
    root_helper("setcap-copy", str(BIN_DIR / "rootlesskit"), target)
    yield target
    root_helper("remove", target)


def test_file_capability_reaches_the_parent_but_not_the_command(setcap_rootlesskit, tmp_path):
    """After the documented setcap, the process that will bind host ports holds CAP_NET_BIND_SERVICE;
    the command (in the host network namespace here) must not be able to use it."""
    state = tmp_path / "st"
    bind80 = ("import socket\ns = socket.socket()\ntry:\n    s.bind(('127.0.0.1', 80))\n    print('bound')\n"
              "except OSError as e:\n    print('refused', e.errno)")
    proc = subprocess.Popen([setcap_rootlesskit, f"--state-dir={state}", "sh", "-c",
                             f'{REPO}/.venv/bin/python -c "{bind80}"; cat'],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        with open(f"/proc/{proc.pid}/status") as f:
            capeff = int(next(l for l in f if l.startswith("CapEff:")).split()[1], 16)
        # only executing the setcap'd file itself grants this (a onefile bootstrap's payload would lack it)
        assert capeff & (1 << 10), "the rootlesskit parent lost cap_net_bind_service"
        assert line.strip() == "refused 13", line  # EACCES: the capability did not leak to the command
    finally:
        out, err = proc.communicate("", timeout=20)
    assert proc.returncode == 0, err


def _with_max_user_namespaces(value: int, argv: list[str]):
    """Run argv where the user-namespace limit is `value`: the limit is per user namespace, so an
    outer namespace of our own (unshare -Ur) can lower it without root."""
    return run(["unshare", "-Ur", "sh", "-c", f'echo {value} > /proc/sys/user/max_user_namespaces && exec "$@"',
                "sh", *argv, "true"])


def test_max_user_namespaces_zero_hint(impl, go):
    ours, ref = _with_max_user_namespaces(0, impl.argv()), _with_max_user_namespaces(0, go.argv())
    hint = "/proc/sys/user/max_user_namespaces needs to be set to non-zero."
    assert ours.returncode == ref.returncode == 1
    assert hint in ours.stderr and hint in ref.stderr
    assert "[rootlesskit:parent] error: failed to start the child: no space left on device" in ours.stderr


def test_low_max_user_namespaces_warns(impl, go):
    warning = "/proc/sys/user/max_user_namespaces=1000 may be low. Consider setting to >= 1024."
    for which in (impl, go):
        assert warning in _with_max_user_namespaces(1000, which.argv()).stderr


def _status_caps(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as f:
        return {key: int(value, 16) for key, value in (line.split(":") for line in f)
                if key in ("CapInh", "CapPrm", "CapEff", "CapAmb")}


def _full_pipe() -> tuple[int, int]:
    """A pipe with no room left: a process writing to it blocks until the test reads."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    return r, w


def _caps_once_dropped(proc: subprocess.Popen, timeout: float = 10) -> dict:
    """The process's capability sets once its permitted set is empty, or as they are when it exits
    or `timeout` passes (a program drops them first thing, but not before the kernel granted them)."""
    caps = _status_caps(proc.pid)
    deadline = time.monotonic() + timeout
    while caps["CapPrm"] and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        caps = _status_caps(proc.pid)
    return caps


# each program run so that it writes something (and so blocks on the full pipe) without exec'ing
PROGRAM_ARGS = {"rootlessctl": ["--help"], "rootlesskit-docker-proxy": ["--help"],
                "dockerd-rootless.sh": [], "dockerd-rootless-setuptool.sh": ["--help"]}


@pytest.mark.parametrize("name", list(PROGRAM_ARGS))
def test_no_file_capability_reaches_the_other_programs(setcap_rootlesskit, tmp_path, name):
    """All five programs are one file: after `setcap cap_net_bind_service=ep` on it, each program but
    rootlesskit drops what the file grants before it does anything else. The program runs by a
    symlink to the setcap'd file (the kernel grants the file's capabilities, the name picks the
    program) with stdout and stderr on a full pipe, so it stays alive at its first write."""
    link = tmp_path / name
    link.symlink_to(setcap_rootlesskit)
    r, w = _full_pipe()
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}  # no XDG_RUNTIME_DIR: no daemon
    proc = subprocess.Popen([str(link), *PROGRAM_ARGS[name]], stdin=subprocess.DEVNULL, stdout=w, stderr=w, env=env)
    os.close(w)
    try:
        caps = _caps_once_dropped(proc)
        assert proc.poll() is None, f"{name} exited ({proc.returncode}) before its first write"
        assert caps == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapAmb": 0}, f"{name} kept capabilities: {caps}"
    finally:
        proc.kill()
        proc.wait()
        os.close(r)


def test_the_docker_proxys_wait_drops_the_file_capability_too(setcap_rootlesskit, tmp_path):
    """rootlesskit-docker-proxy's wait in C (native/docker_proxy.h), which the proxy reaches by
    exec'ing the file again once its port is published, drops what the file grants as well. At SIGINT
    it kills the real proxy (a stand-in here); with no API to remove the port from, the interpreter
    comes back to warn, and the proxy exits 0."""
    link = tmp_path / "rootlesskit-docker-proxy"
    link.symlink_to(setcap_rootlesskit)
    stand_in = subprocess.Popen(["sleep", "60"])
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], names.ENV_PROXY_PHASE: f"wait {stand_in.pid} 7"}
    proc = subprocess.Popen([str(link)], env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}))
    try:
        caps = _caps_once_dropped(proc)
        assert proc.poll() is None, proc.stderr.read()
        assert caps == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapAmb": 0}, f"the wait kept capabilities: {caps}"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        assert stand_in.wait(20) == -signal.SIGKILL
        assert ('msg="error while calling PortManager.RemovePort(): $ROOTLESSKIT_STATE_DIR needs to be set"'
                in proc.stderr.read())
    finally:
        for p in (proc, stand_in):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_the_rootlesskit_parent_keeps_the_file_capability_and_passes_none_on(setcap_rootlesskit, tmp_path):
    """The parent holds cap_net_bind_service (to bind host ports) in its permitted and effective sets
    only: nothing inheritable or ambient, so no program it executes (slirp4netns, the command) gets it."""
    proc = subprocess.Popen([setcap_rootlesskit, f"--state-dir={tmp_path / 'st'}", "cat"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        wait_for_file(tmp_path / "st" / "child_pid", 10)
        caps = _status_caps(proc.pid)
        assert caps["CapPrm"] == caps["CapEff"] == 1 << 10, caps
        assert caps["CapInh"] == caps["CapAmb"] == 0, caps
    finally:
        proc.communicate(b"", timeout=20)
    assert proc.returncode == 0
