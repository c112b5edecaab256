"""The shipped artifact: five regular files, one self-sufficient executable."""

from __future__ import annotations

import os
import stat

import pytest

from conftest import BIN_DIR, run

TOOLS = ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy", "dockerd-rootless.sh",
         "dockerd-rootless-setuptool.sh"]


def test_five_regular_executable_files(binary):
    for name in TOOLS:
        st = os.lstat(BIN_DIR / name)
        assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o111, name  # setcap refuses symlinks
    assert os.stat(BIN_DIR / "rootlesskit").st_ino != os.stat(BIN_DIR / "rootlessctl").st_ino  # setcap marks one


def test_needs_only_the_c_library(binary):
    needed = run(["patchelf", "--print-needed", str(BIN_DIR / "rootlesskit")]).stdout.split()
    assert needed and all(lib.startswith(("libc.so", "libm.so", "libz.so")) for lib in needed), needed


def test_runs_with_every_python_hidden(binary, tmp_path):
    """No interpreter, standard library or site-packages is read: hide them all and run from a copy."""
    copy = tmp_path / "rootlesskit"
    copy.write_bytes((BIN_DIR / "rootlesskit").read_bytes())
    copy.chmod(0o755)
    hide = " ".join(f"mount -t tmpfs none {d};" for d in ("/usr/lib/python3", "/usr/lib/python3.11",
                                                           "/usr/local/lib", "/opt") if os.path.isdir(d))
    # --mtu=70000 goes through the parent's imports and the native module (loaded from memory)
    script = f"{hide} {copy} --version && {copy} --help >/dev/null && {copy} --state-dir={tmp_path}/s --mtu=70000 true"
    result = run(["unshare", "-Urm", "sh", "-c", script], env={"PATH": "/usr/bin:/bin"})
    assert result.stdout == "rootlesskit version 3.0.1\n"
    assert result.returncode == 1
    assert result.stderr.strip().endswith("[rootlesskit:parent] error: mtu must be <= 65521, got 70000"), result.stderr


@pytest.mark.parametrize("name", TOOLS[3:])
def test_reserved_names_say_they_are_not_implemented_yet(impl, name):
    result = run(impl.argv(name) + ["--help"])
    assert result.returncode == 1
    assert result.stderr == f"{name}: not implemented yet in rootlesskit-py\n"


def test_unknown_program_name(binary, tmp_path):
    alias = tmp_path / "something-else"
    alias.symlink_to(BIN_DIR / "rootlesskit")
    result = run([str(alias)])
    assert result.returncode == 2
    assert "unknown program name 'something-else'" in result.stderr
