"""The rootlesskit child: a fork of the parent that enters the new namespaces and runs the command.

Upstream re-executes /proc/self/exe because Go cannot fork; we fork, so the child executes the same
installed file (AppArmor path profiles apply) and skips a second interpreter start.

Shape with --pidns: unshare(CLONE_NEWPID) only affects children, so the forked child forks once
more and that grandchild is PID 1 of the new namespace; it is the one named in `child_pid` and the
one signals are relayed to, as upstream. The intermediate only relays the grandchild's end.
"""

from __future__ import annotations

import os
import _signal as signal  # signal.py only adds enum wrappers (~6 ms of imports)

from rootlesskit_py import messages, names, native
from rootlesskit_py.errors import RootlessKitError, describe
from rootlesskit_py.messages import Channel, NetworkConfig
from rootlesskit_py.network import NetworkDriver
from rootlesskit_py.port import PortDriver
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import strerror
from rootlesskit_py.util.signals import die_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rootlesskit_py.child.command import Launcher
    from rootlesskit_py.network.bypass4netns import Bypass4netns

_PROPAGATION = {
    "private": native.MS_PRIVATE,
    "rprivate": native.MS_PRIVATE | native.MS_REC,
    "shared": native.MS_SHARED,
    "rshared": native.MS_SHARED | native.MS_REC,
    "slave": native.MS_SLAVE,
    "rslave": native.MS_SLAVE | native.MS_REC,
}


def namespace_flags(opts: dict, network: NetworkDriver) -> int:
    flags = native.CLONE_NEWUSER | native.CLONE_NEWNS
    for option, flag in (("pidns", native.CLONE_NEWPID), ("cgroupns", native.CLONE_NEWCGROUP),
                         ("utsns", native.CLONE_NEWUTS), ("ipcns", native.CLONE_NEWIPC)):
        if opts[option]:
            flags |= flag
    if network.creates_netns and not opts["detach-netns"]:
        flags |= native.CLONE_NEWNET
    return flags


class ChildSpec:
    """Everything the parent decided that the child needs (shared by fork, never serialised)."""

    def __init__(self, opts: dict, command: list[str], state_dir: str, network: NetworkDriver,
                 channel: Channel, port_driver: PortDriver | None, launcher: Launcher | None = None,
                 bypass: Bypass4netns | None = None) -> None:
        self.opts = opts
        self.launcher = launcher
        self.command = command
        self.state_dir = state_dir
        self.network = network
        self.port_driver = port_driver
        self.bypass = bypass
        self.channel = channel
        self.parent_pid = os.getpid()
        self.parent_euid = os.geteuid()
        self.parent_egid = os.getegid()
        # systemd socket activation aimed at us: the command must see LISTEN_PID = its own pid
        self.socket_activation = os.environ.get("LISTEN_PID") == str(self.parent_pid)
        self.netns_path = ""  # set by the child with --detach-netns

    def in_network(self, body) -> None:
        """Run a network step where the network is: here, or in the detached namespace."""
        if self.netns_path:
            from rootlesskit_py.child.netns import in_netns

            in_netns(self.netns_path, body)
        else:
            body()


def child_main(spec: ChildSpec) -> None:
    """Entry point right after fork; never returns."""
    _run_and_exit(_enter_namespaces, spec, check_parent=True)


def _run_and_exit(body, spec: ChildSpec, check_parent: bool = False) -> None:
    """Run one process's part and _exit with its code; errors print in the child's format."""
    log.configure("child ")
    code = 1
    try:
        native.set_pdeathsig(signal.SIGKILL)
        if check_parent and os.getppid() != spec.parent_pid:  # died before pdeathsig was armed
            os._exit(1)
        code = body(spec)
    except RootlessKitError as e:
        log.fatal(e.message)
        code = e.code
    except BaseException as e:  # never let a child unwind into the parent's code
        log.fatal(describe(e))
    finally:
        os._exit(code)


def _enter_namespaces(spec: ChildSpec) -> int:
    opts, channel = spec.opts, spec.channel
    channel.as_child()
    try:
        native.unshare(namespace_flags(opts, spec.network))
    except OSError as e:
        channel.send(messages.UNSHARE_FAILED, f"{e.errno} {strerror(e)}")
        return 1
    # After a setcap'd parent, this process is not dumpable and /proc/<pid> is root's, which
    # newuidmap refuses; being dumpable again is harmless because nothing privileged is left.
    native.prctl(native.PR_SET_DUMPABLE, 1)
    channel.send(messages.USERNS)
    _load_child_modules()
    kind, _ = channel.recv()
    if kind != messages.IDMAP_DONE:
        return 1  # the parent failed and prints why
    if not opts["pidns"]:
        channel.send(messages.CHILD_PID, str(os.getpid()))
        return _prepare_and_run(spec)
    pid = os.fork()
    if pid == 0:
        _run_and_exit(_prepare_and_run, spec)
    channel.send(messages.CHILD_PID, str(pid))  # inside the new PID namespace it only knows itself as 1
    channel.close()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):  # die the same way, so the parent reports the same thing
        die_of(os.WTERMSIG(status))
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 255


def _load_child_modules() -> None:
    """Import the child's own steps while the parent writes the id maps (the child only waits then,
    for about 3 ms): imported before the fork, they would delay the parent and so the child too."""
    import rootlesskit_py.child.command  # noqa: F401
    import rootlesskit_py.child.copyup  # noqa: F401
    import rootlesskit_py.child.netns  # noqa: F401
    import rootlesskit_py.child.sysfs  # noqa: F401
    import rootlesskit_py.network.namespace  # noqa: F401  (every driver with a namespace configures it)


def _prepare_and_run(spec: ChildSpec) -> int:
    """The child proper (PID 1 with --pidns): everything from the network's first step to the command.

    It must run here and not in the --pidns intermediate: the first process that forks after
    unshare(CLONE_NEWPID) becomes the namespace's PID 1, and a short-lived helper fork would take
    that place and take the namespace down with it.
    """
    from rootlesskit_py.child.command import run_command
    from rootlesskit_py.child.copyup import copy_up
    from rootlesskit_py.child.netns import create_detached_netns
    from rootlesskit_py.child.sysfs import mount_own_cgroup2, remount_sysfs

    opts = spec.opts
    reaper = _reaper_mode(opts)
    if opts["copy-up-mode"] != "tmpfs+symlink":
        raise RootlessKitError(f"unknown copy-up mode: {opts['copy-up-mode']}")
    propagation = opts["propagation"]
    if "shared" in propagation and propagation in _PROPAGATION and opts["copy-up"]:
        raise RootlessKitError(f"propagation {propagation} does not support copy-up driver tmpfs+symlink")
    if opts["detach-netns"]:
        spec.netns_path = create_detached_netns(spec.state_dir)
    spec.in_network(spec.network.prepare_child)
    if not spec.netns_path:
        spec.channel.send(messages.PREPARED)
    if opts["pidns"]:
        _mount_proc()
    if propagation in _PROPAGATION:
        try:
            native.mount("none", "/", None, _PROPAGATION[propagation])
        except OSError as e:
            raise RootlessKitError(f"failed to share mount point: /: {strerror(e)}") from None
    copy_up(opts["copy-up"])
    if spec.netns_path:
        # the parent's helper opens the detached namespace as /proc/<child>/root$STATE/netns: not
        # while copy-up replaces the /run that $STATE usually lies under (slirp4netns then failed
        # at random on restarts of dockerd-rootless.sh under systemd)
        spec.channel.send(messages.PREPARED)
    if not opts["detach-netns"]:
        if spec.network.fresh_sysfs:
            remount_sysfs(own_cgroup2=bool(opts["evacuate-cgroup2"]))
        elif opts["evacuate-cgroup2"]:
            mount_own_cgroup2()
    # The port driver's child half (imports, a thread) starts while the parent waits for slirp4netns
    # to attach the tap, not after: it only serves listeners the parent sends once "ready" is sent.
    if spec.port_driver is not None:
        spec.port_driver.start_child(spec.netns_path)
    kind, payload = spec.channel.recv()  # the parent's half of the network driver is done
    if kind != messages.NETWORK:
        return 1  # the parent failed and prints why
    etc_copied_up = "/etc" in (d.rstrip("/") for d in opts["copy-up"])
    config = NetworkConfig.decode(payload) if payload else None
    spec.in_network(lambda: spec.network.setup_child(config, spec.state_dir, etc_copied_up, bool(spec.netns_path)))
    if spec.bypass is not None:
        spec.in_network(spec.bypass.send_route_socket)
    env = dict(os.environ)
    env[names.ENV_STATE_DIR] = spec.state_dir
    env[names.ENV_PARENT_EUID] = str(spec.parent_euid)
    env[names.ENV_PARENT_EGID] = str(spec.parent_egid)
    # Relayed signals are blocked since before the fork (parent.run): one sent from "ready" on waits
    # until run_command has a command to relay it to, where upstream loses it or dies of it.
    spec.channel.send(messages.READY)
    # the command starts once its ports are published and child_pid and api.sock exist (upstream: racing)
    kind, _ = spec.channel.recv()
    if kind != messages.PUBLISHED:
        return 1  # the parent failed and prints why
    spec.channel.close()
    run_command(spec.command, env, reaper, _listen_fds(env), spec.socket_activation, spec.launcher)
    return 0


def _reaper_mode(opts: dict) -> bool:
    mode = opts["reaper"]
    if mode == "auto":
        return bool(opts["pidns"])
    if mode == "true":
        if not opts["pidns"]:
            raise RootlessKitError("reaper requires --pidns")
        return True
    if mode == "false":
        return False
    raise RootlessKitError(f"unknown reaper mode: {mode}")


def _mount_proc() -> None:
    flags = native.MS_NOSUID | native.MS_NODEV | native.MS_NOEXEC
    try:
        native.mount("proc", "/proc", "proc", flags)
    except OSError as e:
        log.warn(f"failed to mount procfs, falling back to read-only mount: {strerror(e)}")
        try:
            native.mount("proc", "/proc", "proc", flags | native.MS_RDONLY)
        except OSError as e2:
            log.warn(f"failed to mount procfs: {strerror(e2)}")


def _listen_fds(env: dict[str, str]) -> list[int]:
    """Socket-activation fds (LISTEN_FDS) stay open at 3.. for the command."""
    try:
        count = int(env.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    return list(range(3, 3 + count)) if count > 0 else []
