"""Checks before the child starts, and the hints printed when the kernel refuses a user namespace.

Each hint names the knob and the command that fixes it, as upstream does: these are the first
messages a user on a locked-down distribution (Debian < 11, Ubuntu 24.04 AppArmor) sees.
"""

from __future__ import annotations

from rootlesskit_py.host import userns
from rootlesskit_py.util import log

PROC_SYS = userns.PROC_SYS


def check_userns_sysctls(proc_sys: str = PROC_SYS) -> None:
    """Warn about sysctls that make user namespaces fail (the child start would error out later)."""
    for finding in userns.userns_sysctls(proc_sys):
        log.warn(finding.message)


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
    if not userns.apparmor_restricts_userns(proc_sys):
        return
    name, profile = userns.apparmor_profile(exe)
    log.warn(
        f"This error might have happened because {proc_sys}/kernel/apparmor_restrict_unprivileged_userns is set to 1"
    )
    log.warn(
        "Hint: try running the following commands:\n\n"
        "########## BEGIN ##########\n"
        f'cat <<EOT | sudo tee "/etc/apparmor.d/{name}"\n'
        f"{profile}"
        "EOT\n"
        "sudo systemctl restart apparmor.service\n"
        "########## END ##########\n"
    )
