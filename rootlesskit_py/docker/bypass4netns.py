"""dockerd-rootless.sh's bypass4netns mode (DOCKERD_ROOTLESS_BYPASS4NETNS=1, our extension).

Containers' outbound TCP then runs on host sockets: rootlesskit's parent serves the seccomp
notifications (--bypass4netns, network/bypass4netns.py), and dockerd gives every container with
the default seccomp profile a copy of that profile whose `connect` rule notifies rootlesskit's
socket (`listenerPath`). Containers that do not get the default profile (--privileged,
`--security-opt seccomp=unconfined` or their own profile) keep the normal stack.

The parent phase decides whether the mode can apply on this host (`reason_not_applied`: one line in
the daemon's log says why not, and the daemon starts as without the mode); the child phase, inside
the namespaces, writes the profile into rootlesskit's state dir, where the listening socket is.
"""

from __future__ import annotations

import os

from rootlesskit_py import names

# dockerd passes a profile's listenerPath to runc from 23.0 on (its seccomp type embeds the OCI one)
LISTENER_PATH_SINCE = (23, 0)
KERNEL_SINCE = (5, 14)         # SO_NETNS_COOKIE, which tells our sockets from the container's
RUNC_SINCE = (1, 1)            # SCMP_ACT_NOTIFY and listenerPath
LIBSECCOMP_SINCE = (2, 5)
PROFILE_FILE = "bypass4netns-seccomp.json"
_ON, _OFF = ("1", "true"), ("", "0", "false")


class InvalidValue(ValueError):
    """DOCKERD_ROOTLESS_BYPASS4NETNS holds neither an on nor an off value."""


def requested(env: dict[str, str]) -> bool:
    """DOCKERD_ROOTLESS_BYPASS4NETNS: 1/true on, 0/false/unset off; anything else is refused."""
    value = env.get(names.ENV_DR_BYPASS4NETNS, "")
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise InvalidValue(f"Unknown {names.ENV_DR_BYPASS4NETNS} value: {value} (accepted: 1, true, 0, false)")


def reason_not_applied(env: dict[str, str], dockerd_argv: list[str], engine: tuple[int, int],
                       runc_version_text: str | None, kernel_release: str) -> str | None:
    """Why the mode cannot apply to this daemon on this host, or None when it can."""
    kernel = _numbers(kernel_release, 2)
    if kernel < KERNEL_SINCE:
        return f"it needs Linux {_dotted(KERNEL_SINCE)} or later, this kernel is {kernel_release}"
    if engine != (0, 0) and engine < LISTENER_PATH_SINCE:
        return (f"dockerd {_dotted(engine)} drops a seccomp profile's listenerPath; "
                f"it needs dockerd {_dotted(LISTENER_PATH_SINCE)} or later")
    if runc_version_text is None:
        return "runc was not found on PATH (dockerd's default runtime)"
    runc, libseccomp = runc_versions(runc_version_text)
    if runc < RUNC_SINCE or libseccomp < LIBSECCOMP_SINCE:
        return (f"it needs runc >= {_dotted(RUNC_SINCE)} built with libseccomp >= {_dotted(LIBSECCOMP_SINCE)}, "
                f"found runc {_dotted(runc)} with libseccomp {_dotted(libseccomp)}")
    if any(arg == "--seccomp-profile" or arg.startswith("--seccomp-profile=") for arg in dockerd_argv):
        return "dockerd is given its own --seccomp-profile"
    config = daemon_json_path(env, dockerd_argv)
    try:
        with open(config, "rb") as f:
            if b'"seccomp-profile"' in f.read():
                return f"{config} sets seccomp-profile"
    except OSError:
        pass
    return None


def runc_versions(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(runc, libseccomp) versions from `runc --version`: "runc version 1.1.5" ... "libseccomp: 2.5.4"."""
    runc = libseccomp = (0, 0)
    for line in text.splitlines():
        words = line.split()
        if words[:2] == ["runc", "version"] and len(words) > 2:
            runc = _numbers(words[2], 3)
        elif words[:1] == ["libseccomp:"] and len(words) > 1:
            libseccomp = _numbers(words[1], 3)
    return runc, libseccomp


def daemon_json_path(env: dict[str, str], dockerd_argv: list[str]) -> str:
    """The daemon.json rootless dockerd reads: --config-file, else $XDG_CONFIG_HOME/docker/daemon.json."""
    for i, arg in enumerate(dockerd_argv):
        if arg.startswith("--config-file="):
            return arg.split("=", 1)[1]
        if arg == "--config-file" and i + 1 < len(dockerd_argv):
            return dockerd_argv[i + 1]
    config_home = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", ""), ".config")
    return os.path.join(config_home, "docker", "daemon.json")


# connect, and i386's socketcall, through which a 32-bit program connects too: rootlesskit must see
# every connect, if only to refuse one on a socket it made (network/bypass4netns.py says why)
NOTIFIED = ["connect", "socketcall"]


def profile(listener_path: str) -> dict:
    """Docker's default profile with NOTIFIED moved from the allow rule to a notify rule."""
    import json

    from rootlesskit_py.docker.seccomp_default import DEFAULT_PROFILE_JSON

    data = json.loads(DEFAULT_PROFILE_JSON)
    for name in NOTIFIED:
        for rule in data["syscalls"]:
            if name in rule["names"] and rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args") \
                    and not rule.get("includes") and not rule.get("excludes"):
                rule["names"].remove(name)
                break
        else:
            raise AssertionError(f"the default profile has no unconditional allow rule for {name}")
    data["syscalls"].append({"names": list(NOTIFIED), "action": "SCMP_ACT_NOTIFY"})
    data["listenerPath"] = listener_path
    return data


def write_profile(rootlesskit_state_dir: str) -> str | None:
    """In the child phase: the profile for dockerd's --seccomp-profile, in the state dir, when
    rootlesskit serves bypass4netns there (its socket exists); None otherwise."""
    import json

    listener = os.path.join(rootlesskit_state_dir, names.STATE_BYPASS4NETNS_SOCK)
    if not os.path.exists(listener):
        return None
    path = os.path.join(rootlesskit_state_dir, PROFILE_FILE)
    with open(path, "w") as f:
        json.dump(profile(listener), f)
    return path


def _numbers(text: str, count: int) -> tuple[int, ...]:
    """The leading dotted numbers of a version ("6.18.0-1-amd64" -> (6, 18)); missing ones are 0."""
    parts = []
    for part in text.split(".")[:count]:
        digits = ""
        for c in part:
            if not c.isdigit():
                break
            digits += c
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts + [0] * (count - len(parts)))


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(n) for n in version)
