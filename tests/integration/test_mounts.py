"""Mount namespace behaviour: --copy-up and --propagation."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import REPO, run, wait_for_file


def test_copy_up_makes_etc_writable_without_touching_the_host(impl, go):
    script = "echo hello > /etc/rkpy-new && cat /etc/rkpy-new && readlink /etc/os-release && readlink /etc/passwd"
    ours = run(impl.argv() + ["--copy-up=/etc", "sh", "-c", script])
    ref = run(go.argv() + ["--copy-up=/etc", "sh", "-c", script])
    assert ours.returncode == ref.returncode == 0, ours.stderr
    hello, os_release, passwd = ours.stdout.split("\n")[:3]
    assert hello == "hello"
    assert os_release == os.readlink("/etc/os-release")  # a symlink keeps its own target text
    assert passwd.startswith(".ro") and passwd.endswith("/passwd")  # relative link into the moved original
    assert ours.stdout.split("\n")[1] == ref.stdout.split("\n")[1]
    assert not os.path.exists("/etc/rkpy-new")


def test_copy_up_keeps_original_contents_reachable(impl):
    result = run(impl.argv() + ["--copy-up=/etc", "sh", "-c", "cat /etc/hostname; grep -c . /etc/passwd"])
    assert result.returncode == 0, result.stderr
    with open("/etc/hostname") as f:
        assert result.stdout.split("\n")[0] == f.read().strip()


def test_copy_up_of_tmp_is_refused(impl, go):
    ours, ref = run(impl.argv() + ["--copy-up=/tmp", "true"]), run(go.argv() + ["--copy-up=/tmp", "true"])
    assert ours.returncode == ref.returncode == 1
    assert "[rootlesskit:child ] error: /tmp cannot be copied up" in ours.stderr
    assert "/tmp cannot be copied up" in ref.stderr


def test_copy_up_of_a_missing_directory_fails_clearly(impl):
    result = run(impl.argv() + ["--copy-up=/nonexistent-dir", "true"])
    assert result.returncode == 1
    assert "failed to create bind mount on /nonexistent-dir: no such file or directory" in result.stderr


@pytest.mark.parametrize("propagation,sees_host_mount", [
    ("private", False), ("rprivate", False), ("slave", True), ("rslave", True), ("shared", True), ("rshared", True),
])
def test_propagation_of_host_mounts(impl, root_helper, tmp_path, propagation, sees_host_mount):
    """upstream hack/integration-propagation.sh, observed through the child's mountinfo."""
    target = tmp_path / "mnt"
    target.mkdir()
    state = tmp_path / "st"
    proc = subprocess.Popen(impl.argv() + [f"--propagation={propagation}", f"--state-dir={state}", "sleep", "infinity"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        child = wait_for_file(state / "child_pid")
        root_helper("mount-tmpfs", str(target))
        try:
            with open(f"/proc/{child}/mountinfo") as f:
                mounted = any(line.split()[4] == str(target) for line in f)
        finally:
            root_helper("umount", str(target))
        assert mounted == sees_host_mount
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@pytest.mark.parametrize("propagation", ["private", "rslave"])
def test_copy_up_works_with_private_and_slave_propagation(impl, propagation):
    result = run(impl.argv() + [f"--propagation={propagation}", "--copy-up=/run", "echo", "test"])
    assert (result.returncode, result.stdout) == (0, "test\n"), result.stderr


def test_unknown_propagation_is_ignored_like_upstream(impl, go):
    ours, ref = run(impl.argv() + ["--propagation=bogus", "true"]), run(go.argv() + ["--propagation=bogus", "true"])
    assert ours.returncode == ref.returncode == 0
