"""Names that other programs depend on: state-dir files and environment variables.

These are an interface, not an implementation detail: dockerd, systemd units, the setup tool and
users' scripts find rootlesskit's state by these exact names, so every module takes them from here.
"""

from __future__ import annotations

# Files rootlesskit publishes in its state directory (--state-dir).
STATE_LOCK = "lock"            # exclusive flock: one instance per state dir
STATE_CHILD_PID = "child_pid"  # pid of the child in the new namespaces (written atomically, by rename)
STATE_API_SOCK = "api.sock"    # the REST API (dockerd and rootlessctl connect here)
STATE_NETNS = "netns"          # the bind-mounted network namespace under --detach-netns
STATE_BYPASS4NETNS_SOCK = "bypass4netns.sock"  # runc's seccomp listenerPath under --bypass4netns (our extension)
STATE_PASTA_CONTROL = ".pasta.sock"  # pasta's control socket (`-c`) under --port-driver=pesto; `pesto` talks to it

# Set by rootlesskit for the command it runs; dockerd detects rootless mode by the first one.
ENV_STATE_DIR = "ROOTLESSKIT_STATE_DIR"
ENV_PARENT_EUID = "ROOTLESSKIT_PARENT_EUID"
ENV_PARENT_EGID = "ROOTLESSKIT_PARENT_EGID"

# dockerd-rootless.sh's knobs, documented for systemd override.conf files.
ENV_DOCKERD = "DOCKERD"
ENV_DR_STATE_DIR = "DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR"
ENV_DR_NET = "DOCKERD_ROOTLESS_ROOTLESSKIT_NET"
ENV_DR_MTU = "DOCKERD_ROOTLESS_ROOTLESSKIT_MTU"
ENV_DR_PORT_DRIVER = "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER"
ENV_DR_SLIRP4NETNS_SANDBOX = "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX"
ENV_DR_SLIRP4NETNS_SECCOMP = "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SECCOMP"
ENV_DR_DISABLE_HOST_LOOPBACK = "DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK"
ENV_DR_DETACH_NETNS = "DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS"
ENV_DR_BYPASS4NETNS = "DOCKERD_ROOTLESS_BYPASS4NETNS"  # our extension: 1 turns bypass4netns on (docker/bypass4netns.py)
ENV_DR_FLAGS = "DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS"
ENV_CONTAINERD_STATE_DIR = "CONTAINERD_ROOTLESS_ROOTLESSKIT_STATE_DIR"
# markers the parent phase exports to the child phase of the same program
ENV_DR_CHILD = "_DOCKERD_ROOTLESS_CHILD"
ENV_DR_SELINUX = "_DOCKERD_ROOTLESS_SELINUX"
# rootlesskit-docker-proxy's phase across its own execs: "wait PID ID" (native/docker_proxy.h waits
# without the interpreter), then "remove ID" (the interpreter removes the port)
ENV_PROXY_PHASE = "_ROOTLESSKIT_PY_PROXY_PHASE"

# dockerd-rootless.sh's default state directory, under $XDG_RUNTIME_DIR
DOCKERD_ROOTLESS_STATE = "dockerd-rootless"
# beside it: the dockerd version last seen, keyed by the binary's identity (see dockerd_version)
DOCKERD_VERSION_CACHE = ".dockerd-rootless-engine"

# the rootlesskit dockerd-rootless.sh runs, looked up on PATH in this order (some distributions
# install it as docker-rootlesskit); the setup tool checks the same file
ROOTLESSKIT_ON_PATH = ("docker-rootlesskit", "rootlesskit")

# The release's own network helper (a static pasta; build.py, install.sh and the tarball put it
# there): this directory, relative to the directory of the programs (~/bin -> ~/libexec/rootlesskit-py,
# /usr/local/bin -> /usr/local/libexec/rootlesskit-py), so it is found wherever the programs are and
# stays off PATH. dockerd-rootless.sh falls back to it when no helper is installed.
BUNDLED_DIR = ("..", "libexec", "rootlesskit-py")
BUNDLED_PASTA = "pasta"
