"""Resource limits for rootless containers: cgroup v2 with controllers delegated to the user."""

from __future__ import annotations

import os

from rootlesskit_py.host import WARNING, Finding, read_text

CGROUP_ROOT = "/sys/fs/cgroup"
WANTED = ("cpu", "io", "memory", "pids")
DELEGATE_DROPIN = "/etc/systemd/system/user@.service.d/delegate.conf"
DELEGATE_FIX = (f"mkdir -p {os.path.dirname(DELEGATE_DROPIN)}\n"
                f"cat <<EOT > {DELEGATE_DROPIN}\n[Service]\nDelegate=cpu cpuset io memory pids\nEOT\n"
                "systemctl daemon-reload")


def delegation(uid: int, cgroup_root: str = CGROUP_ROOT) -> list[Finding]:
    """cgroup v1 gives rootless Docker no limits at all; on v2, the user's systemd gets only the
    controllers delegated to user@UID.service (by default memory and pids)."""
    if read_text(os.path.join(cgroup_root, "cgroup.controllers")) is None:
        return [Finding("cgroup-v1", WARNING, "The host uses cgroup v1.",
                        "Rootless containers then get no resource limits: --memory, --cpus and --pids-limit are ignored.",
                        'sed -i \'s/^GRUB_CMDLINE_LINUX="/&systemd.unified_cgroup_hierarchy=1 /\' /etc/default/grub\n'
                        "update-grub\nreboot")]
    service = os.path.join(cgroup_root, f"user.slice/user-{uid}.slice/user@{uid}.service")
    delegated = (read_text(os.path.join(service, "cgroup.controllers")) or "").split()
    missing = [c for c in WANTED if c not in delegated]
    if not missing:
        return []
    return [Finding("cgroup-delegation", WARNING,
                    f"cgroup v2 delegates {' '.join(delegated) or 'no controllers'} to user@{uid}.service; "
                    f"{' '.join(missing)} {'is' if len(missing) == 1 else 'are'} not delegated.",
                    "Limits that need them (--cpus, --blkio-weight, --memory, --pids-limit) fail or are ignored.",
                    DELEGATE_FIX)]
