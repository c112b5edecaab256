"""cgroup2 evacuation's readers: a strange mountinfo or cgroup file is an error message, not a traceback."""

from __future__ import annotations

import pytest

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.parent import cgroup

REAL_LINE = "36 25 0:31 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw\n"


@pytest.mark.parametrize("mountinfo, points", [
    (REAL_LINE, ["/sys/fs/cgroup"]),
    ("", []),
    ("garbage\n\n  \n", []),  # lines too short to be mountinfo
    ("1 2 3 4 5 6 -\n", []),  # a separator with nothing after it
    ("1 2 0:1 / /a rw - tmpfs tmpfs rw\n" + REAL_LINE, ["/sys/fs/cgroup"]),
    ("1 2 0:1 / /a rw opt1 opt2 - cgroup2 none rw\n" + REAL_LINE, ["/a", "/sys/fs/cgroup"]),
])
def test_cgroup2_mountpoints(tmp_path, mountinfo, points):
    path = tmp_path / "mountinfo"
    path.write_text(mountinfo)
    assert cgroup._cgroup2_mountpoints(str(path)) == points


def test_unreadable_mountinfo_is_an_error_message(tmp_path):
    with pytest.raises(RootlessKitError) as raised:
        cgroup.evacuate("evac", mountinfo=str(tmp_path / "missing"))
    assert raised.value.message == f"cgroup2 evacuation: open {tmp_path}/missing: no such file or directory"


def test_unreadable_group_is_an_error_message(tmp_path):
    """The mountinfo names a cgroup2 mount whose group files are not there."""
    mountinfo, proc_cgroup = tmp_path / "mountinfo", tmp_path / "cgroup"
    mountinfo.write_text(f"36 25 0:31 / {tmp_path}/cg rw - cgroup2 cgroup2 rw\n")
    proc_cgroup.write_text("0::/user.slice\n")
    with pytest.raises(RootlessKitError) as raised:
        cgroup.evacuate("evac", mountinfo=str(mountinfo), proc_cgroup=str(proc_cgroup))
    assert raised.value.message == (f"cgroup2 evacuation: open {tmp_path}/cg/user.slice/cgroup.procs: "
                                    "no such file or directory")
