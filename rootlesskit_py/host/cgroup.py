"""Resource limits for rootless containers: cgroup v2 with controllers delegated to the user."""

from __future__ import annotations

import os

from rootlesskit_py.host import WARNING, Finding, read_text

CGROUP_ROOT = "/sys/fs/cgroup"
# each controller a rootless daemon needs, and the `docker run` options that fail or are ignored without it
OPTIONS = {
    "cpu": "--cpus, --cpu-shares, --cpu-period, --cpu-quota",
    "cpuset": "--cpuset-cpus, --cpuset-mems",
    "io": "--blkio-weight, --blkio-weight-device, --device-read-bps, --device-write-bps, --device-read-iops, "
          "--device-write-iops",
    "memory": "--memory, --memory-swap, --memory-reservation, --oom-kill-disable",
    "pids": "--pids-limit",
}
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
    delegated = read_text(os.path.join(service, "cgroup.controllers"))
    if delegated is None:
        # no user@UID.service running (no linger, no session): nothing to read, and the session
        # findings already say how to start it; guessing here would name controllers that may be fine
        return []
    available = (read_text(os.path.join(cgroup_root, "cgroup.controllers")) or "").split()
    # a controller the kernel does not offer cannot be delegated: no drop-in would fix it
    missing = [c for c in OPTIONS if c in available and c not in delegated.split()]
    if not missing:
        return []
    return [Finding("cgroup-delegation", WARNING,
                    f"cgroup v2 delegates {delegated.strip() or 'no controllers'} to user@{uid}.service; "
                    f"{' '.join(missing)} {'is' if len(missing) == 1 else 'are'} not delegated.",
                    "Docker then refuses or ignores "
                    + "; ".join(f"without {c}: {OPTIONS[c]}" for c in missing) + ".",
                    DELEGATE_FIX)]
