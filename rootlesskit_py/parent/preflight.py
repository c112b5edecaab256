"""Checks before the child starts, and the hints printed when the kernel refuses a user namespace.

Each hint names the knob and the command that fixes it, as upstream does: these are the first
messages a user on a locked-down distribution (Debian < 11, Ubuntu 24.04 AppArmor) sees.
"""

from __future__ import annotations

import os

from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import go_quote

PROC_SYS = "/proc/sys"


def _read_int(path: str) -> tuple[int | None, str]:
    try:
        with open(path) as f:
            raw = f.read()
    except OSError:
        return None, ""
    try:
        return int(raw.strip()), raw
    except ValueError:
        return None, raw


def _clone_complaint(path: str, value: int) -> str | None:
    return f"{path} needs to be set to 1." if value == 0 else None


def _max_namespaces_complaint(path: str, value: int) -> str | None:
    if value == 0:
        return f"{path} needs to be set to non-zero."
    return f"{path}={value} may be low. Consider setting to >= 1024." if value < 1024 else None


def check_userns_sysctls(proc_sys: str = PROC_SYS) -> None:
    """Warn about sysctls that make user namespaces fail (the child start would error out later)."""
    for name, complaint in (("kernel/unprivileged_userns_clone", _clone_complaint),
                            ("user/max_user_namespaces", _max_namespaces_complaint)):
        path = os.path.join(proc_sys, name)
        if not os.path.exists(path):
            continue  # unprivileged_userns_clone exists on Debian kernels only
        value, raw = _read_int(path)
        message = f"Failed to parse {path} ({go_quote(raw)})" if value is None else complaint(path, value)
        if message:
            log.warn(message)


def check_propagation(propagation: str, mountinfo: str = "/proc/self/mountinfo") -> None:
    """A non-private propagation only works when the host's / is a shared mount."""
    if "private" in propagation:
        return
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        log.warn("Failed to parse mountinfo")
        return
    for line in lines:
        fields = line.split()
        if len(fields) > 6 and fields[4] == "/":
            optional = " ".join(fields[6 : fields.index("-")])
            if "shared" not in optional:
                log.warn(
                    f'The host root filesystem is mounted as "{optional}". '
                    f'Setting child propagation to "{propagation}" is not supported.'
                )
            return


def apparmor_hint(exe: str, proc_sys: str = PROC_SYS) -> None:
    """After EACCES/EPERM from creating the user namespace: print the AppArmor profile that fixes it."""
    value, _ = _read_int(os.path.join(proc_sys, "kernel/apparmor_restrict_unprivileged_userns"))
    if value != 1:
        return
    profile = exe.lstrip("/").replace("/", ".")
    log.warn(
        f"This error might have happened because {proc_sys}/kernel/apparmor_restrict_unprivileged_userns is set to 1"
    )
    log.warn(
        "Hint: try running the following commands:\n\n"
        "########## BEGIN ##########\n"
        f'cat <<EOT | sudo tee "/etc/apparmor.d/{profile}"\n'
        "abi <abi/4.0>,\n"
        "include <tunables/global>\n\n"
        f"profile {profile} {exe} flags=(unconfined) {{\n"
        "  userns,\n"
        "}\n"
        "EOT\n"
        "sudo systemctl restart apparmor.service\n"
        "########## END ##########\n"
    )
