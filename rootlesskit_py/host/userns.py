"""Can this user create a user namespace, and a big enough one?"""

from __future__ import annotations

import os

from rootlesskit_py.host import ERROR, WARNING, Finding, read_int, read_text, sysctl_fix
from rootlesskit_py.util.gocompat import go_quote

PROC_SYS = "/proc/sys"
APPARMOR_POLICY = "/sys/kernel/security/apparmor/policy/profiles"
APPARMOR_DIR = "/etc/apparmor.d"
# a map of 65536 subordinate ids plus the user's own: what one rootless Docker needs from its parent
NESTED_MIN_IDS = 65537


def _clone_switch(path: str, value: int) -> Finding | None:
    if value != 0:
        return None
    return Finding("userns-clone", ERROR, f"{path} needs to be set to 1.",
                   "The kernel refuses user namespaces to unprivileged users, and rootless Docker runs in one.",
                   sysctl_fix("kernel.unprivileged_userns_clone", "1", "50-rootless.conf"))


def _namespace_limit(path: str, value: int) -> Finding | None:
    fix = sysctl_fix("user.max_user_namespaces", "28633", "51-rootless.conf")
    if value == 0:
        return Finding("max-user-namespaces", ERROR, f"{path} needs to be set to non-zero.",
                       "No user namespace can be created at all.", fix)
    if value < 1024:
        return Finding("max-user-namespaces", WARNING, f"{path}={value} may be low. Consider setting to >= 1024.",
                       "Every rootless container engine and every container with its own user namespace uses one.", fix)
    return None


def userns_sysctls(proc_sys: str = PROC_SYS) -> list[Finding]:
    """Debian/Ubuntu's unprivileged_userns_clone switch (absent on other kernels) and the namespace
    count limit; rootlesskit warns with the message alone, the setup tool adds why and the fix."""
    found = []
    for name, ident, judge in (("kernel/unprivileged_userns_clone", "userns-clone", _clone_switch),
                               ("user/max_user_namespaces", "max-user-namespaces", _namespace_limit)):
        path = os.path.join(proc_sys, name)
        value, raw = read_int(path)
        if raw is not None and value is None:
            found.append(Finding(ident, WARNING, f"Failed to parse {path} ({go_quote(raw)})"))
        elif value is not None and (finding := judge(path, value)):
            found.append(finding)
    return found


def apparmor_restricts_userns(proc_sys: str = PROC_SYS) -> bool:
    """Ubuntu 23.10+: only programs with an AppArmor profile allowing `userns` may create one."""
    return read_int(os.path.join(proc_sys, "kernel/apparmor_restrict_unprivileged_userns"))[0] == 1


def apparmor_profile(exe: str) -> tuple[str, str]:
    """(name, text) of the profile that lets `exe` (the real path: AppArmor attaches by path) create
    user namespaces; the name is the path with dots, as distributions name theirs."""
    name = exe.lstrip("/").replace("/", ".")
    text = ("abi <abi/4.0>,\ninclude <tunables/global>\n\n"
            f"profile {name} {exe} flags=(unconfined) {{\n  userns,\n}}\n")
    return name, text


def apparmor_attached(exe: str, policy: str = APPARMOR_POLICY, profiles_dir: str = APPARMOR_DIR) -> bool:
    """Is some profile attached to `exe`? The loaded policy says (each profile's `attach` file);
    when it cannot be read (it needs root on some kernels), the profile sources in /etc/apparmor.d."""
    try:
        loaded = os.listdir(policy)
    except OSError:
        loaded = None
    if loaded is not None:
        return any((read_text(os.path.join(policy, p, "attach")) or "").strip() == exe for p in loaded)
    try:
        sources = os.listdir(profiles_dir)
    except OSError:
        return False
    for source in sources:
        text = read_text(os.path.join(profiles_dir, source)) or ""
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "profile" and words[2] == exe and "userns" in text:
                return True
    return False


def apparmor_userns(exe: str, proc_sys: str = PROC_SYS, policy: str = APPARMOR_POLICY,
                    profiles_dir: str = APPARMOR_DIR) -> list[Finding]:
    """The restriction is on and no profile names the installed rootlesskit."""
    if not apparmor_restricts_userns(proc_sys) or apparmor_attached(exe, policy, profiles_dir):
        return []
    name, text = apparmor_profile(exe)
    return [Finding(
        "apparmor-userns", ERROR,
        f"kernel.apparmor_restrict_unprivileged_userns is 1 and no AppArmor profile is attached to {exe}.",
        "The kernel then denies rootlesskit the user namespace it needs.",
        f"cat <<EOT > /etc/apparmor.d/{name}\n{text}EOT\napparmor_parser -r /etc/apparmor.d/{name}")]


def nested_map(proc_self: str = "/proc/self") -> list[Finding]:
    """Already inside a user namespace (rootless Docker in a container): a small outer map leaves no
    room for the 65536 ids of an inner one."""
    findings = []
    for kind in ("uid", "gid"):
        text = read_text(os.path.join(proc_self, f"{kind}_map")) or ""
        rows = [line.split() for line in text.splitlines() if len(line.split()) == 3]
        total = sum(int(r[2]) for r in rows)
        if not rows or total == 4294967295:
            continue  # the initial namespace
        if total < NESTED_MIN_IDS:
            findings.append(Finding(
                f"nested-{kind}-map", ERROR,
                f"This process already runs in a user namespace whose {kind} map holds {total} ids (/proc/self/{kind}_map).",
                f"A nested rootless Docker needs at least {NESTED_MIN_IDS}: its own id and 65536 subordinate ids.",
                f"# on the outer host, give the outer user a bigger range, e.g.:\n"
                f"usermod --add-sub{kind}s 1000000-1999999 OUTER_USER", as_root=True))
    return findings
