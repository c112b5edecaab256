"""Where Docker keeps its images: the file system under the data root decides the storage driver."""

from __future__ import annotations

import os

from rootlesskit_py.host import ERROR, WARNING, Finding, read_text

# file systems on which a rootless overlay mount (kernel 5.11+) works as overlay2's upper layer
OVERLAY_OK = {"ext4", "ext3", "ext2", "xfs", "tmpfs", "f2fs"}
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "9p", "fuse.sshfs", "ceph", "glusterfs", "lustre"}


def data_root(home: str, config_home: str) -> str:
    """daemon.json's data-root, else ~/.local/share/docker (rootless dockerd's default)."""
    text = read_text(os.path.join(config_home, "docker/daemon.json"))
    if not text:
        return os.path.join(home, ".local/share/docker")
    import json  # only when there is a daemon.json: its import is a few ms of every check

    try:
        configured = json.loads(text).get("data-root")
    except (ValueError, AttributeError):
        configured = None
    return configured or os.path.join(home, ".local/share/docker")


def fs_type(path: str, mountinfo: str = "/proc/self/mountinfo") -> tuple[str, str]:
    """(file system type, mount point) of the mount that holds `path` (which need not exist yet)."""
    path = os.path.realpath(path)
    best = ("", "")
    for line in (read_text(mountinfo) or "").splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        point = _unescape(fields[4])
        fstype = fields[fields.index("-") + 1]
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[1]):
            best = (fstype, point)
    return best


def _unescape(field: str) -> str:
    """mountinfo(5) writes space, tab, newline and backslash in paths as octal escapes (\\040)."""
    parts = field.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:3]
        out.append(chr(int(code, 8)) + part[3:] if len(code) == 3 and set(code) <= set("01234567") else "\\" + part)
    return "".join(out)


def data_root_fs(root_dir: str, mountinfo: str = "/proc/self/mountinfo") -> list[Finding]:
    fstype, point = fs_type(root_dir, mountinfo)
    if fstype in OVERLAY_OK or fstype == "":
        return []
    if fstype == "btrfs":
        return []  # dockerd picks its btrfs driver, which works rootless
    fix = ('mkdir -p ~/.config/docker && echo \'{"data-root": "/PATH/ON/LOCAL/DISK/docker"}\' > ~/.config/docker/daemon.json')
    if fstype in NETWORK_FS:
        return [Finding("data-root-fs", ERROR, f"The data root {root_dir} is on {fstype} ({point}).",
                        "Rootless Docker cannot use a network file system: ownership of the mapped ids cannot be set, "
                        "and no overlay driver works on it.", fix, as_root=False)]
    driver = "fuse-overlayfs" if os.path.exists("/usr/bin/fuse-overlayfs") else "vfs"
    return [Finding("data-root-fs", WARNING, f"The data root {root_dir} is on {fstype} ({point}).",
                    f"Rootless overlay2 cannot use it, so dockerd uses {driver}"
                    f"{' (a full copy of every layer: slow and big)' if driver == 'vfs' else ''}.", fix, as_root=False)]
