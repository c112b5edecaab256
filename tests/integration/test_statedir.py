"""The state directory contract: child_pid as readiness marker, lock, wipe, removal."""

from __future__ import annotations

import os
import stat
import subprocess

from conftest import REPO, refused, run, wait_for_file


def _start(impl, state, *extra):
    return subprocess.Popen(impl.argv() + [f"--state-dir={state}", *extra, "sleep", "infinity"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def test_child_pid_file_and_lock(impl, tmp_path):
    state = tmp_path / "st"
    proc = _start(impl, state)
    try:
        content = wait_for_file(state / "child_pid")
        assert content.isdigit() and not content.endswith("\n")
        assert stat.S_IMODE(os.stat(state / "child_pid").st_mode) == 0o444
        assert stat.S_IMODE(os.stat(state / "lock").st_mode) == 0o600
        assert os.readlink(f"/proc/{content}/ns/user") != os.readlink("/proc/self/ns/user")
        second = run(impl.argv() + [f"--state-dir={state}", "true"])
        assert second.returncode == 1
        assert (f"[rootlesskit:parent] error: failed to lock {state}/lock, "
                "another RootlessKit is running with the same state directory?") in second.stderr
        assert (state / "child_pid").exists()  # the refused instance did not wipe the running one's files
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert not state.exists()  # removed on exit, even though it was given explicitly


def test_explicit_state_dir_is_wiped_of_stale_files(impl, go, tmp_path):
    for which in (impl, go):
        state = tmp_path / which.kind
        state.mkdir()
        (state / "child_pid").write_text("999999")
        (state / "stale-dir").mkdir()
        result = run(which.argv() + [f"--state-dir={state}", "sh", "-c", 'ls -A "$ROOTLESSKIT_STATE_DIR"'])
        assert result.returncode == 0, result.stderr
        listed = set(result.stdout.split())
        assert "stale-dir" not in listed
        assert listed <= {"lock", "child_pid", "api.sock"}  # Go 1.1.0 always serves its API


def test_default_state_dir_is_a_fresh_temp_dir_removed_on_exit(impl, tmp_path):
    result = run(impl.argv() + ["sh", "-c", 'echo "$ROOTLESSKIT_STATE_DIR"; stat -c %a "$ROOTLESSKIT_STATE_DIR"'],
                 env={**os.environ, "TMPDIR": str(tmp_path)})
    path, mode = result.stdout.split()
    assert path.startswith(f"{tmp_path}/rootlesskit")
    assert mode == "700"
    assert not os.path.exists(path)


def test_state_dir_after_killed_parent_is_recovered(impl, tmp_path):
    """upstream hack/integration-restart.sh: a SIGKILLed instance's dir is reusable at once."""
    state = tmp_path / "st"
    proc = _start(impl, state)
    wait_for_file(state / "child_pid")
    proc.kill()
    proc.communicate(timeout=20)
    result = run(impl.argv() + [f"--state-dir={state}", "cat", f"{state}/child_pid"], timeout=30)
    assert result.returncode == 0, result.stderr


def test_bad_flags_leave_nothing_behind(impl, tmp_path):
    state = tmp_path / "st"
    stderr = refused(impl.argv() + [f"--state-dir={state}", "--mtu=70000", "true"], tmp_path)
    assert "[rootlesskit:parent] error: mtu must be <= 65521, got 70000" in stderr
