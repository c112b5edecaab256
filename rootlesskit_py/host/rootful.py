"""A rootful Docker on the same machine: the CLI talks to it unless told otherwise."""

from __future__ import annotations

import os

from rootlesskit_py.host import ERROR, WARNING, Finding, read_text

ROOTFUL_SOCK = "/var/run/docker.sock"


def rootful_dockerd(proc: str = "/proc") -> int | None:
    """The pid of a dockerd running as root in this pid namespace, if any."""
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        if (read_text(os.path.join(proc, pid, "comm")) or "").strip() != "dockerd":
            continue
        try:
            if os.stat(os.path.join(proc, pid)).st_uid == 0:
                return int(pid)
        except OSError:
            continue
    return None


def rootful_docker(environ: dict[str, str], force: bool, sock: str = ROOTFUL_SOCK, proc: str = "/proc") -> list[Finding]:
    """Upstream refuses to go on while the rootful socket is writable (unless --force); a socket
    or daemon the user cannot use still captures a CLI that has no DOCKER_HOST or context."""
    stop = "systemctl disable --now docker.service docker.socket\nrm -f /var/run/docker.sock"
    if os.access(sock, os.W_OK) and not force:
        return [Finding("rootful-docker", ERROR,
                        f"Aborting because rootful Docker ({sock}) is running and accessible. Set --force to ignore.",
                        "", stop)]
    if environ.get("DOCKER_HOST"):
        return []
    pid = rootful_dockerd(proc)
    if pid is None and not os.path.exists(sock):
        return []
    what = f"A rootful dockerd is running (pid {pid})" if pid else f"{sock} exists"
    return [Finding("rootful-docker", WARNING, f"{what} and DOCKER_HOST is unset.",
                    "A docker CLI without the rootless context or DOCKER_HOST talks to the rootful daemon.",
                    "docker context use rootless\n# or: export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock\n"
                    f"# or stop the rootful daemon (as root):\n# {stop.replace(chr(10), ' && ')}", as_root=False)]
