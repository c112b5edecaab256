"""Each program in a broken environment ends with one error line and exit 1, never a traceback:
unreadable cgroup files, a user with no /etc/passwd entry, a read-only state dir, no /proc."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import BIN_DIR, REPO, run


def assert_one_error_line(result: subprocess.CompletedProcess, prefix: str, wanted: str) -> None:
    """Exit 1, no traceback, and the program's last error (after `prefix`) says `wanted`."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr, result.stderr
    # the error is the last thing said (a helper's output quoted in it may span lines, as upstream's)
    start = result.stderr.rfind(prefix) if prefix else 0
    assert start >= 0 and wanted in result.stderr[start:], result.stderr


@pytest.fixture
def read_only_state_dir(tmp_path):
    """A state dir the user cannot write to; `lock` already exists, so the lock is still taken."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "lock").touch()
    state.chmod(0o555)
    yield state
    state.chmod(0o755)


def test_rootlesskit_with_unreadable_cgroup_files(impl, root_helper):
    """--evacuate-cgroup2 in a delegated group whose cgroup.procs the user made unreadable."""
    shell = subprocess.Popen(["sh", "-c", 'read go; exec "$@"', "sh", *impl.argv(), "--cgroupns", "--pidns",
                              "--evacuate-cgroup2=evac", "true"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        group = root_helper("cgroup-delegate", str(shell.pid)).stdout.strip()
        os.chmod(f"{group}/cgroup.procs", 0)
        out, err = shell.communicate("go\n", timeout=30)
    finally:
        shell.kill()
        shell.communicate()
        root_helper("cgroup-release")
    assert_one_error_line(subprocess.CompletedProcess(shell.args, shell.returncode, out, err),
                          "[rootlesskit:parent] error: ",
                          f"cgroup2 evacuation: open {group}/cgroup.procs: permission denied")


@pytest.mark.parametrize("program, args, prefix, wanted", [
    ("rootlesskit", ["true"], "[rootlesskit:parent] error: ", "failed to setup UID/GID map"),
    ("rootlessctl", ["info"], "error: ", "please specify --socket or set $ROOTLESSKIT_STATE_DIR"),
    ("rootlesskit-docker-proxy", ["-host-port", "8080", "-container-port", "80"], "",
     "$ROOTLESSKIT_STATE_DIR needs to be set"),
], ids=["rootlesskit", "rootlessctl", "docker-proxy"])
def test_user_without_a_passwd_entry(impl, program, args, prefix, wanted):
    """Run as uid 4242, which /etc/passwd does not name (a user namespace maps us there)."""
    env = {k: v for k, v in os.environ.items() if k != "ROOTLESSKIT_STATE_DIR"}
    result = run(["unshare", "--user", "--map-user=4242", "--map-group=4242", *impl.argv(program), *args], env=env)
    assert_one_error_line(result, prefix, wanted)


@pytest.mark.parametrize("program, args, prefix, wanted", [
    ("rootlesskit", ["true"], "[rootlesskit:parent] error: ",
     "writing the state directory's child_pid: open {state}/.child_pid.tmp: permission denied"),
    ("rootlessctl", ["info"], "error: ", "{state}/api.sock: no such file or directory"),
    ("rootlesskit-docker-proxy", ["-host-port", "8080", "-container-port", "80"], "",
     "error while connecting to RootlessKit API socket: stat {state}/api.sock: no such file or directory"),
], ids=["rootlesskit", "rootlessctl", "docker-proxy"])
def test_read_only_state_dir(impl, read_only_state_dir, program, args, prefix, wanted):
    state = str(read_only_state_dir)
    extra = [f"--state-dir={state}"] if program == "rootlesskit" else []
    result = run(impl.argv(program) + extra + args, env={**os.environ, "ROOTLESSKIT_STATE_DIR": state})
    assert_one_error_line(result, prefix, wanted.format(state=state))


@pytest.mark.parametrize("program", ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy"])
def test_binary_without_proc_says_so(binary, program):
    """The executable finds itself through /proc/self/exe before any Python runs: with an empty
    /proc it says what is missing (and exits 1) instead of dying of SIGABRT without a word."""
    # `--debug --version`: a plain --version is answered before the interpreter (test_fixed_answers)
    result = run(["unshare", "-Urm", "sh", "-c", 'mount -t tmpfs none /proc && exec "$@"', "sh",
                  str(BIN_DIR / program), "--debug", "--version"])
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert result.stderr == ("rootlesskit-py: /proc must be mounted: the executable finds itself through "
                             "/proc/self/exe (mount -t proc proc /proc)\n")
