"""Exit codes, signals, namespaces and id maps: the process behaviour scripts rely on."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conftest import REPO, run, wait_for_file

PIDNS_MODES = [[], ["--pidns"], ["--pidns", "--reaper=true"], ["--pidns", "--reaper=false"]]


def test_uid_and_gid_maps_match_go(impl, go):
    ours = run(impl.argv() + ["cat", "/proc/self/uid_map", "/proc/self/gid_map"])
    ref = run(go.argv() + ["cat", "/proc/self/uid_map", "/proc/self/gid_map"])
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == ref.stdout
    lines = ours.stdout.split("\n")
    assert lines[0].split() == ["0", str(os.getuid()), "1"]


def test_command_runs_as_root_with_full_capabilities(impl):
    result = run(impl.argv() + ["sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"])
    assert result.returncode == 0, result.stderr
    uid, gid, capeff = result.stdout.split("\n")[:3]
    assert (uid, gid) == ("0", "0")
    assert int(capeff.split()[1], 16) >= 0x1FFFFFFFFF  # every capability through CAP_CHECKPOINT_RESTORE


@pytest.mark.parametrize("mode", PIDNS_MODES, ids=lambda m: " ".join(m) or "no-pidns")
@pytest.mark.parametrize("code", [0, 42])
def test_exit_code_passes_through(impl, go, mode, code):
    ours = run(impl.argv() + mode + ["sh", "-exc", f"exit {code}"])
    ref = run(go.argv() + mode + ["sh", "-exc", f"exit {code}"])
    assert ours.returncode == ref.returncode == code
    if code:
        assert f"[rootlesskit:child ] error: command [sh -exc exit {code}] exited: exit status {code}" in ours.stderr
        assert f"[rootlesskit:parent] error: child exited: exit status {code}" in ours.stderr


@pytest.mark.parametrize("mode", PIDNS_MODES, ids=lambda m: " ".join(m) or "no-pidns")
def test_signal_to_child_pid_kills_command_and_exits_255(impl, go, mode, tmp_path):
    """upstream hack/integration-exit-code.sh: SIGUSR1 to child_pid is relayed to the command."""
    for which in (impl, go):
        state = tmp_path / f"state-{which.kind}"
        proc = subprocess.Popen(which.argv() + mode + [f"--state-dir={state}", "sleep", "infinity"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        child_pid = int(wait_for_file(state / "child_pid"))
        try:
            if which is impl:  # ours holds a signal sent this early until the command can get it
                os.kill(child_pid, signal.SIGUSR1)
                _, err = proc.communicate(timeout=20)
            else:  # Go 1.1.0 writes child_pid before its relay exists and drops early signals
                err = _signal_until_exit(proc, child_pid, signal.SIGUSR1)
        finally:
            proc.kill()
            proc.communicate()
        assert proc.returncode == 255, (which, err)
        assert "user defined signal 1" in err
        if which is impl:
            assert "command [sleep infinity] exited: signal: user defined signal 1" in err
            assert "child exited: exit status 255" in err


@pytest.mark.parametrize("sig", ["TERM", "INT", "HUP", "USR1", "USR2", "QUIT"])
def test_signals_sent_to_rootlesskit_reach_the_command(impl, tmp_path, sig):
    script = f"trap 'echo got-{sig}; exit 7' {sig}; echo ready; while :; do sleep 0.05; done"
    proc = subprocess.Popen(impl.argv() + ["--debug", f"--state-dir={tmp_path}/s", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout.readline() == "ready\n"
    os.kill(proc.pid, getattr(signal, "SIG" + sig))
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        states = {p: _signal_state(p) for p in [proc.pid, *_descendants(proc.pid)]}
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"SIG{sig} was not relayed; signal state {states}; rootlesskit --debug said:\n{err}")
    assert f"got-{sig}" in out, err
    assert proc.returncode == 7
    signum = getattr(signal, "SIG" + sig)
    assert f"[rootlesskit:parent] forwarded signal {signum} to pid" in err  # --debug shows the relay
    assert f"[rootlesskit:child ] forwarded signal {signum} to pid" in err


def test_command_not_found(impl, go):
    ours = run(impl.argv() + ["no-such-command-xyz"])
    ref = run(go.argv() + ["no-such-command-xyz"])
    assert ours.returncode == ref.returncode == 1
    msg = 'command [no-such-command-xyz] exited: exec: "no-such-command-xyz": executable file not found in $PATH'
    assert msg in ours.stderr and msg in ref.stderr


def test_pid_namespace_makes_child_pid_one_and_remounts_proc(impl):
    result = run(impl.argv() + ["--pidns", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'"])
    assert result.returncode == 0, result.stderr
    pid, init_cmdline, nprocs = result.stdout.split("\n")[:3]
    assert pid == "2"  # our child is 1, the command is its first child
    assert int(nprocs) <= 4  # only the namespace's own processes are visible


def test_reaper_collects_orphans(impl):
    # the orphaned `sleep` gets re-parented to PID 1 (our child) and must not stay a zombie
    script = "sh -c 'sleep 0.2 &' ; sleep 0.6; ps -o stat= -e 2>/dev/null | grep -c Z || true"
    result = run(impl.argv() + ["--pidns", "sh", "-c", script])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split("\n")[-1] == "0"


@pytest.mark.parametrize("flag,ns", [("--cgroupns", "cgroup"), ("--utsns", "uts"), ("--ipcns", "ipc"),
                                     ("--pidns", "pid_for_children"), ("--net=none", "net")])
def test_namespace_flags_create_namespaces(impl, flag, ns):
    host = os.readlink(f"/proc/self/ns/{ns}")
    without = run(impl.argv() + ["readlink", f"/proc/self/ns/{ns}"])
    with_flag = run(impl.argv() + [flag, "readlink", f"/proc/self/ns/{ns}"])
    assert without.returncode == with_flag.returncode == 0, with_flag.stderr
    if ns != "net":
        assert without.stdout.strip() == host
    assert with_flag.stdout.strip() != host


def test_net_none_has_only_loopback_up(impl):
    result = run(impl.argv() + ["--net=none", "sh", "-c", "cat /sys/class/net/*/operstate; ls /sys/class/net"])
    assert result.returncode == 0, result.stderr
    assert "lo" in result.stdout.split()
    # lo reports "unknown" as its operstate when up; it answers pings only when up
    ping = run(impl.argv() + ["--net=none", "busybox", "ping", "-c1", "-W1", "127.0.0.1"])
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_environment_for_the_command(impl, tmp_path):
    state = tmp_path / "st"
    result = run(impl.argv() + [f"--state-dir={state}", "env"], env={**os.environ, "KEEPME": "1"})
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert env["ROOTLESSKIT_STATE_DIR"] == str(state)
    assert env["ROOTLESSKIT_PARENT_EUID"] == str(os.geteuid())
    assert env["ROOTLESSKIT_PARENT_EGID"] == str(os.getegid())
    assert env["KEEPME"] == "1"
    assert not any(k.startswith("_ROOTLESSKIT") for k in env)


def test_parent_death_kills_child_and_command(impl, tmp_path):
    """upstream hack/integration-pdeathsig.sh: kill -9 of the parent leaves nothing behind."""
    for mode in (["--pidns", "--reaper=true"], ["--reaper=false"]):
        state = tmp_path / ("s" + str(len(mode)))
        proc = subprocess.Popen(impl.argv() + mode + [f"--state-dir={state}", "sleep", "infinity"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        child = int(wait_for_file(state / "child_pid"))
        descendants = _descendants(proc.pid)
        assert child in descendants
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(_alive(p) for p in descendants):
            time.sleep(0.05)
        assert not [p for p in descendants if _alive(p)]


def test_dollar_bang_is_rootlesskit_running_the_installed_file(impl, tmp_path):
    """`$!` and systemd's MAINPID are the rootlesskit process itself, executing our file."""
    state = tmp_path / "st"
    out = run(["sh", "-c", f'{" ".join(impl.argv())} --state-dir={state} sleep 30 & echo $!; '
               f'while [ ! -e {state}/child_pid ]; do sleep 0.02; done; '
               f'readlink /proc/$!/exe; readlink /proc/$(cat {state}/child_pid)/exe; kill $!; wait'], timeout=30)
    pid, parent_exe, child_exe = out.stdout.split("\n")[:3]
    if impl.kind == "binary":
        expected = impl.argv()[0]
        assert parent_exe == expected
        assert child_exe == expected  # the process that created the user namespace
    else:
        assert parent_exe == child_exe  # the same interpreter: no re-exec of another program


def _signal_until_exit(proc: subprocess.Popen, pid: int, signum: int, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        os.kill(pid, signum)
        try:
            return proc.communicate(timeout=0.5)[1]
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError(f"{proc.args} did not end on signal {signum}")


def _signal_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as f:
            return " ".join(l.strip() for l in f if l.startswith(("Name", "SigPnd", "ShdPnd", "SigBlk", "SigCgt")))
    except OSError as e:
        return str(e)


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_pid_one_killed_by_a_signal_is_reported_as_that_signal(impl, tmp_path):
    """With --pidns the process in child_pid is PID 1 of the namespace; if it is killed, the parent
    must report the signal, as upstream does for its child."""
    state = tmp_path / "st"
    proc = subprocess.Popen(impl.argv() + ["--pidns", f"--state-dir={state}", "sleep", "infinity"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        os.kill(int(wait_for_file(state / "child_pid")), signal.SIGKILL)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 255
    assert "[rootlesskit:parent] error: child exited: signal: killed" in err
