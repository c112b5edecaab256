"""The setuid helpers and the subordinate id ranges a user namespace maps."""

from __future__ import annotations

import os

from rootlesskit_py.host import ERROR, WARNING, Finding, file_capabilities, package_install, read_text, which
from rootlesskit_py.util.proc import decode, run

# ids a rootless Docker maps besides the user's own: what images' files and users need (0-65535)
MIN_SUBIDS = 65536
SUBID_DEFAULT_START = 100000


UIDMAP_PACKAGE = {"apt-get": "uidmap", "dnf": "shadow-utils", "yum": "shadow-utils", "zypper": "shadow", "apk": "shadow-uidmap"}


def id_helpers(path_dirs: list[str]) -> list[Finding]:
    """newuidmap/newgidmap present, and able to write maps (setuid root, or file capabilities)."""
    findings = []
    for helper, cap in (("newuidmap", "cap_setuid"), ("newgidmap", "cap_setgid")):
        exe = which(helper, path_dirs)
        if exe is None:
            findings.append(Finding(
                f"{helper}-missing", ERROR, f"{helper} is not installed (looked in {':'.join(path_dirs)}).",
                "Without it only the user's own id can be mapped, and images with other users fail to unpack.",
                package_install(UIDMAP_PACKAGE) or "# install newuidmap and newgidmap with the package manager"))
            continue
        st = os.stat(exe)
        if not (st.st_mode & 0o4000 and st.st_uid == 0) and cap not in file_capabilities(exe):
            findings.append(Finding(
                f"{helper}-privilege", ERROR, f"{exe} has neither the setuid bit nor file capabilities.",
                "It cannot write the subordinate ids into the namespace's map.",
                f"chmod u+s {exe}\n# or: setcap {cap}=ep {exe}"))
    return findings


def parse_subid(text: str) -> list[tuple[str, int, int]]:
    """Every `owner:start:count` line (owner is a name or a uid); malformed lines are skipped."""
    entries = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) == 3 and not parts[0].startswith("#"):
            try:
                entries.append((parts[0], int(parts[1]), int(parts[2])))
            except ValueError:
                continue
    return entries


def _free_start(entries: list[tuple[str, int, int]]) -> int:
    """A start for a new range of MIN_SUBIDS ids that overlaps no existing one."""
    start = SUBID_DEFAULT_START
    for _, s, c in sorted(entries, key=lambda e: e[1]):
        if s < start + MIN_SUBIDS and start < s + c:
            start = s + c
    return start


def nss_has_subid_service(nsswitch: str = "/etc/nsswitch.conf") -> bool:
    """Whether nsswitch.conf names a `subid:` service other than files (sssd, FreeIPA, ...).

    Without one, shadow's getsubids answers from /etc/subuid and /etc/subgid itself.
    """
    try:
        with open(nsswitch) as f:
            for line in f:
                key, _, value = line.partition("#")[0].partition(":")
                if key.strip() == "subid":
                    return value.split() not in ([], ["files"])
    except OSError:
        pass
    return False


def _getsubids(kind: str, name: str) -> list[tuple[str, int, int]]:
    """The user's ranges as `getsubids` reports them (`0: NAME START COUNT` lines)."""
    exe = which("getsubids", ["/usr/bin", "/bin", "/usr/sbin", "/sbin"])
    if exe is None:
        return []
    err, out, _ = run(exe, [exe, *(["-g"] if kind == "gid" else []), name], combined=False)
    if err is not None:
        return []
    return [(name, int(w[1]), int(w[2])) for line in decode(out).splitlines()
            if len(w := line.partition(":")[2].split()) == 3 and w[1].isdigit() and w[2].isdigit()]


def subid_ranges(name: str, uid: int, etc: str = "/etc") -> list[Finding]:
    """The user's /etc/subuid and /etc/subgid entries (by name or uid; from getsubids when
    nsswitch.conf names a subid service): present, big enough, and not shared with another user."""
    findings = []
    nss = nss_has_subid_service(os.path.join(etc, "nsswitch.conf"))
    for kind, flag in (("uid", "--add-subuids"), ("gid", "--add-subgids")):
        path = os.path.join(etc, f"sub{kind}")
        entries = parse_subid(read_text(path) or "")
        mine = _getsubids(kind, name) if nss else [e for e in entries if e[0] in (name, str(uid))]
        others = [e for e in entries if e[0] not in (name, str(uid))]
        total = sum(c for _, _, c in mine)
        start = _free_start(entries)
        fix = f"usermod {flag} {start}-{start + MIN_SUBIDS - 1} {name}"
        if not mine:
            findings.append(Finding(
                f"sub{kind}-missing", ERROR, f"{path} has no entry for {name} (uid {uid}).",
                f"Without subordinate {kind}s only the user's own {kind} can be mapped: images with other users fail to unpack.",
                fix))
            continue
        if total < MIN_SUBIDS:
            findings.append(Finding(
                f"sub{kind}-small", ERROR, f"{path} gives {name} {total} ids, fewer than {MIN_SUBIDS}.",
                f"Files and processes of images with {kind}s above {total} cannot be mapped (e.g. nobody, 65534).",
                fix))
        for me, s, c in mine:
            for owner, os_, oc in others:
                if s < os_ + oc and os_ < s + c:
                    findings.append(Finding(
                        f"sub{kind}-overlap", WARNING,
                        f"{path}: {name}'s range {s}-{s + c - 1} overlaps {owner}'s range {os_}-{os_ + oc - 1}.",
                        f"Both users' containers then run as the same host {kind}s and can reach each other's files.",
                        f"sed -i '/^{me}:{s}:{c}$/d' {path}\n{fix}"))
    return findings
