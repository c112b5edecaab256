"""Preflight warnings for kernels and distributions this machine isn't (fake /proc/sys trees)."""

from __future__ import annotations

import pytest

from rootlesskit_py.parent import preflight


@pytest.fixture
def proc_sys(tmp_path):
    def make(**files: str) -> str:
        for name, content in files.items():
            path = tmp_path / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        return str(tmp_path)
    return make


def test_debian_userns_clone_switch(proc_sys, capfd):
    preflight.check_userns_sysctls(proc_sys(kernel__unprivileged_userns_clone="0\n"))
    assert "unprivileged_userns_clone needs to be set to 1." in capfd.readouterr().err


def test_unparsable_values(proc_sys, capfd):
    root = proc_sys(kernel__unprivileged_userns_clone="x\n", user__max_user_namespaces="y\n")
    preflight.check_userns_sysctls(root)
    err = capfd.readouterr().err
    assert f'Failed to parse {root}/kernel/unprivileged_userns_clone (\\"x\\\\n\\")' in err
    assert f"Failed to parse {root}/user/max_user_namespaces" in err


def test_healthy_sysctls_say_nothing(proc_sys, capfd):
    preflight.check_userns_sysctls(proc_sys(kernel__unprivileged_userns_clone="1\n", user__max_user_namespaces="63000\n"))
    assert capfd.readouterr().err == ""


def test_apparmor_hint_names_the_profile_and_the_fix(proc_sys, capfd):
    preflight.apparmor_hint("/home/u/bin/rootlesskit", proc_sys(kernel__apparmor_restrict_unprivileged_userns="1\n"))
    err = capfd.readouterr().err
    assert "apparmor_restrict_unprivileged_userns is set to 1" in err
    assert 'sudo tee \\"/etc/apparmor.d/home.u.bin.rootlesskit\\"' in err
    assert "profile home.u.bin.rootlesskit /home/u/bin/rootlesskit flags=(unconfined)" in err
    assert "userns," in err and "sudo systemctl restart apparmor.service" in err


def test_no_apparmor_hint_without_the_restriction(proc_sys, capfd):
    preflight.apparmor_hint("/usr/bin/rootlesskit", proc_sys(kernel__apparmor_restrict_unprivileged_userns="0\n"))
    assert capfd.readouterr().err == ""


def test_propagation_warning_when_host_root_is_not_shared(tmp_path, capfd):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("22 1 8:1 / / rw,relatime master:363 - ext4 /dev/sda1 rw\n")
    preflight.check_propagation("rslave", str(mountinfo))
    assert ('The host root filesystem is mounted as \\"master:363\\". '
            'Setting child propagation to \\"rslave\\" is not supported.') in capfd.readouterr().err
    preflight.check_propagation("rprivate", str(mountinfo))
    mountinfo.write_text("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n")
    preflight.check_propagation("rslave", str(mountinfo))
    assert capfd.readouterr().err == ""
