"""rootlesskit's global flag table and help metadata (all flags are global, as upstream's).

Declaration order is upstream's (cmd/rootlesskit/main.go), with help and version appended at the end
in "Misc" as upstream's help template does; the help groups by category, so within each category this
is the order the golden `--help` shows. Usage texts are verbatim, including the trailing space of
--detach-netns. Every run (parent, child, activation helper) loads this: what it imports stays light.
"""

from rootlesskit_py.network.lxc_user_nic import default_binary as lxc_user_nic_default_binary
from rootlesskit_py.util.flags import App, Flag, help_flag, version_flag
from rootlesskit_py.version import VERSION

CATEGORY_STATE = "State"
CATEGORY_NETWORK = "Network"
CATEGORY_PASTA = "Network [pasta]"
CATEGORY_SLIRP4NETNS = "Network [slirp4netns]"
CATEGORY_VPNKIT = "Network [vpnkit]"
CATEGORY_LXC_USER_NIC = "Network [lxc-user-nic]"
CATEGORY_PORT = "Port"
CATEGORY_MOUNT = "Mount"
CATEGORY_PROCESS = "Process"
CATEGORY_SUBID = "SubID"
CATEGORY_MISC = "Misc"

NET_DRIVERS_HELP = ("host, none, pasta(experimental), slirp4netns, vpnkit, lxc-user-nic(experimental), "
                    "gvisor-tap-vsock(experimental)")
PORT_DRIVERS_HELP = "none, implicit (for pasta), pesto (for pasta), builtin, slirp4netns, gvisor-tap-vsock(experimental)"

DESCRIPTION = """RootlessKit is a Linux-native implementation of "fake root" using user_namespaces(7).

Web site: https://github.com/rootless-containers/rootlesskit

Examples:
  # spawn a shell with a new user namespace and a mount namespace
  rootlesskit bash

  # make /etc writable
  rootlesskit --copy-up=/etc bash

  # set mount propagation to rslave
  rootlesskit --propagation=rslave bash

  # create a network namespace with slirp4netns, and expose 80/tcp on the namespace as 8080/tcp on the host
  rootlesskit --copy-up=/etc --net=slirp4netns --disable-host-loopback --port-driver=builtin -p 127.0.0.1:8080:80/tcp bash

Note: RootlessKit requires /etc/subuid and /etc/subgid to be configured by the real root user.
See https://rootlesscontaine.rs/getting-started/common/ .
"""


def _f(name: str, kind: str, default: object, usage: str, category: str, **kw: object) -> Flag:
    return Flag(name, kind, default, usage, category=category, **kw)


ROOTLESSKIT_FLAGS = [
    _f("debug", "bool", False, "debug mode", CATEGORY_MISC),
    _f("print-semver", "string", "", "print a version component as a decimal integer [major, minor, patch]",
       CATEGORY_MISC),
    _f("state-dir", "string", "", "state directory", CATEGORY_STATE),
    _f("net", "string", "host", f"network driver [{NET_DRIVERS_HELP}]", CATEGORY_NETWORK),
    _f("pasta-binary", "string", "pasta", "path of pasta binary for --net=pasta", CATEGORY_PASTA),
    _f("slirp4netns-binary", "string", "slirp4netns", "path of slirp4netns binary for --net=slirp4netns",
       CATEGORY_SLIRP4NETNS),
    _f("slirp4netns-sandbox", "string", "false", "enable slirp4netns sandbox (experimental) [auto, true, false] "
       '(the default is planned to be "auto" in future)', CATEGORY_SLIRP4NETNS),
    _f("slirp4netns-seccomp", "string", "false", "enable slirp4netns seccomp (experimental) [auto, true, false] "
       '(the default is planned to be "auto" in future)', CATEGORY_SLIRP4NETNS),
    _f("vpnkit-binary", "string", "vpnkit", "path of VPNKit binary for --net=vpnkit", CATEGORY_VPNKIT),
    _f("lxc-user-nic-binary", "string", lxc_user_nic_default_binary(),
       "path of lxc-user-nic binary for --net=lxc-user-nic", CATEGORY_LXC_USER_NIC),
    _f("lxc-user-nic-bridge", "string", "lxcbr0", "lxc-user-nic bridge name", CATEGORY_LXC_USER_NIC),
    _f("mtu", "int", 0, "MTU for non-host network (default: 65520 for pasta and slirp4netns, 1500 for others)",
       CATEGORY_NETWORK),
    _f("cidr", "string", "", "CIDR for pasta, slirp4netns and gvisor-tap-vsock networks (default: 10.0.2.0/24)",
       CATEGORY_NETWORK),
    _f("ifname", "string", "", "Network interface name (default: tap0 for pasta, slirp4netns, and vpnkit; "
       "eth0 for lxc-user-nic)", CATEGORY_NETWORK),
    _f("disable-host-loopback", "bool", False, "prohibit connecting to 127.0.0.1:* on the host namespace",
       CATEGORY_NETWORK),
    _f("ipv6", "bool", False, "enable IPv6 routing. Unrelated to port forwarding. Only supported for pasta "
       "and slirp4netns. (experimental)", CATEGORY_NETWORK),
    _f("copy-up", "slice", (), 'mount a filesystem and copy-up the contents. e.g. "--copy-up=/etc" '
       "(typically required for non-host network)", CATEGORY_MOUNT),
    _f("copy-up-mode", "string", "tmpfs+symlink", "copy-up mode [tmpfs+symlink]", CATEGORY_MOUNT),
    _f("port-driver", "string", "none", f"port driver for non-host network. [{PORT_DRIVERS_HELP}]", CATEGORY_PORT),
    _f("publish", "slice", (), 'publish ports. e.g. "127.0.0.1:8080:80/tcp"', CATEGORY_PORT, aliases=("p",)),
    _f("source-ip-transparent", "bool", True, "preserve real client source IP using IP_TRANSPARENT "
       "(builtin port driver, TCP only)", CATEGORY_PORT),
    _f("source-ip-transparent-backend", "string", "auto", "backend for --source-ip-transparent: nft or iptables, "
       "or auto to try nft first, then iptables [auto, nft, iptables]", CATEGORY_PORT),
    _f("pidns", "bool", False, "create a PID namespace", CATEGORY_PROCESS),
    _f("cgroupns", "bool", False, "create a cgroup namespace", CATEGORY_PROCESS),
    _f("utsns", "bool", False, "create a UTS namespace", CATEGORY_PROCESS),
    _f("ipcns", "bool", False, "create an IPC namespace", CATEGORY_PROCESS),
    _f("detach-netns", "bool", False, "detach network namespaces ", CATEGORY_NETWORK),
    # our extension (dockerd-rootless.sh's DOCKERD_ROOTLESS_BYPASS4NETNS=1): hidden, as upstream has no such flag
    _f("bypass4netns", "bool", False, "serve bypass4netns: make containers' outbound TCP connections on host "
       "sockets, for runc's seccomp notifications on $STATE/bypass4netns.sock", CATEGORY_NETWORK, hidden=True),
    _f("propagation", "string", "rprivate", "mount propagation [rprivate, rslave]", CATEGORY_MOUNT),
    _f("reaper", "string", "auto", "enable process reaper. Requires --pidns. [auto,true,false]", CATEGORY_PROCESS),
    _f("evacuate-cgroup2", "string", "", "evacuate processes into the specified subgroup. Requires --pidns "
       "and --cgroupns", CATEGORY_PROCESS),
    _f("subid-source", "string", "auto", 'the source of the subids. "dynamic" executes /usr/bin/getsubids. '
       '"static" reads /etc/{subuid,subgid}. [auto,dynamic,static]', CATEGORY_SUBID),
    help_flag(CATEGORY_MISC),
    version_flag(CATEGORY_MISC),
]

ROOTLESSKIT_APP = App(
    "rootlesskit",
    "Linux-native fakeroot using user namespaces",
    usage_text="rootlesskit [global options] [arguments...]",
    version=VERSION,
    description=DESCRIPTION,
    flags=ROOTLESSKIT_FLAGS,
)
