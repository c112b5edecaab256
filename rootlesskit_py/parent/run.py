"""The rootlesskit parent: validates flags, owns the state dir, starts the child, relays its end."""

from __future__ import annotations

import errno
import gc
import os
import _signal as signal  # signal.py only adds enum wrappers (~6 ms of imports)

from rootlesskit_py import messages, names, port
from rootlesskit_py.child.run import ChildSpec, child_main
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.messages import Channel
from rootlesskit_py.network import NetworkDriver, Options as NetworkOptions, get_driver
from rootlesskit_py.parent import idmap, leftovers, preflight
from rootlesskit_py.parent.statedir import StateDir
from rootlesskit_py.port import PortDriver
from rootlesskit_py.util import log
from rootlesskit_py.util.idle import start_up_over
from rootlesskit_py.util.signals import block_relayed_signals, describe_status, exit_code_of, relay_until_exit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from rootlesskit_py.child.command import Launcher
    from rootlesskit_py.messages import NetworkConfig

MAX_MTU = 65521


def run(opts: dict, command: list[str], network_options: NetworkOptions, port_options: port.Options,
        launcher: Launcher | None = None) -> int:
    """Run `command` in new namespaces; returns the exit code (raises RootlessKitError on failure).
    The drivers get their typed options, built from the flags by the caller; `launcher` may offer
    to run the command in the forked process instead of exec'ing it."""
    if opts["evacuate-cgroup2"]:
        if not opts["cgroupns"]:
            raise RootlessKitError("evacuate-cgroup2 requires --cgroupns")
        if not opts["pidns"]:
            raise RootlessKitError("evacuate-cgroup2 requires --pidns")
    # Upstream creates (and wipes) the state dir before any other check; unlike upstream we also
    # remove it again when a later check fails, so bad flags leave nothing behind.
    state = StateDir.create(opts["state-dir"])
    try:
        network_driver = validate(opts, network_options)
        if os.geteuid() == 0:
            log.warn("Running RootlessKit as the root user is unsupported.")
        preflight.check_userns_sysctls()
        preflight.check_propagation(opts["propagation"])
        state.lock()
        return _supervise(opts, command, state, network_driver,
                          port.get_driver(opts["port-driver"], port_options, state.path), launcher)
    finally:
        state.cleanup()


def validate(opts: dict, network_options: NetworkOptions) -> NetworkDriver:
    """The parent's flag checks after the state dir, in upstream's order: mtu, cidr, ifname,
    the network driver's own checks, then the port driver's."""
    mtu = opts["mtu"]
    if mtu < 0 or mtu > MAX_MTU:
        raise RootlessKitError(f"mtu must be <= {MAX_MTU}, got {mtu}")
    if opts["cidr"]:
        _validate_cidr(opts["cidr"])
    if "/" in opts["ifname"]:
        raise RootlessKitError('ifname must not contain "/"')
    net = opts["net"]
    if opts["ipv6"]:
        log.warn("ipv6 is experimental")
        if net not in ("pasta", "slirp4netns"):
            log.warn(f"--ipv6 is discarded for --net={net}")
    if net not in ("host", "none") and not opts["disable-host-loopback"]:
        log.warn(
            "specifying --disable-host-loopback is highly recommended to prohibit connecting to 127.0.0.1:* "
            "on the host namespace (requires pasta, slirp4netns, or VPNKit)"
        )
    if opts["bypass4netns"]:
        from rootlesskit_py.network import bypass4netns

        bypass4netns.validate(net)
    driver = get_driver(net, network_options)
    driver.validate()
    port.validate(opts["port-driver"], net, opts["publish"])
    return driver


def _validate_cidr(cidr: str) -> None:
    import ipaddress

    try:
        iface = ipaddress.ip_interface(cidr)
        if "/" not in cidr:
            raise ValueError(cidr)
    except ValueError:
        raise RootlessKitError(f"invalid CIDR address: {cidr}") from None
    if iface.ip != iface.network.network_address:
        raise RootlessKitError("cidr must be like 10.0.2.0/24, not like 10.0.2.100/24")


class _Child:
    """The forked child as the parent sees it: pid to wait for, pid to signal (PID 1 with --pidns)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signal_target = pid
        self.status: int | None = None

    def wait(self) -> int:
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)
        return self.status

    def has_exited(self) -> bool:
        if self.status is None:
            reaped, status = os.waitpid(self.pid, os.WNOHANG)
            if reaped:
                self.status = status
        return self.status is not None

    def kill(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()


def _supervise(opts: dict, command: list[str], state: StateDir, network: NetworkDriver,
               port_driver: PortDriver | None, launcher: Launcher | None) -> int:
    channel = Channel()
    bypass = None
    if opts["bypass4netns"]:
        from rootlesskit_py.network.bypass4netns import Bypass4netns

        bypass = Bypass4netns(debug=opts["debug"])
        bypass.before_fork()
    spec = ChildSpec(opts, command, state.path, network, channel, port_driver, launcher, bypass)
    if port_driver is not None:
        port_driver.before_fork()
    # From here on, signals for the command are held pending (the child inherits the mask) and
    # relayed once the child is ready, instead of killing a half-set-up parent or child.
    block_relayed_signals()
    # Every object so far moves to the collector's permanent generation: a collection in either
    # process no longer writes to their headers, so their pages stay shared instead of being copied.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        child_main(spec)
    channel.as_parent()
    child = _Child(pid)
    api_socket = None
    try:
        if port_driver is not None:
            port_driver.after_fork()
        if bypass is not None:
            bypass.after_fork()
        map_ids = idmap.prepare_invoking_user(opts["subid-source"])  # while the child unshares
        config = _start_child(opts, child, channel, state, network, map_ids)
        if bypass is not None:
            bypass.start(state.path)
        if port_driver is not None:
            _publish(opts, port_driver, child, config)
        # child_pid and api.sock exist before the command starts: dockerd 28 calls the API as it
        # starts, and scripts read child_pid (upstream lets the command race both)
        state.write_child_pid(child.signal_target)
        api_socket = _serve_api(state.path, child.signal_target, network.api_info(config), port_driver)
        _send(channel, child, messages.PUBLISHED)
        watch = {helper: network.helper_exited for helper in network.helpers()}
        userns = leftovers.namespace_of(child.pid)
        status = child.status = relay_until_exit(child.pid, lambda: child.signal_target, watch=watch,
                                                 on_idle=start_up_over)
        network.kill_helper()  # the command is gone: the helper dies while the namespace is searched
        if userns is not None:
            killed = leftovers.kill_all_in(userns, spare=set(network.helpers()))
            if killed:
                log.debug(f"killed {killed} processes left in the user namespace after the command exited")
    except BaseException:
        child.kill()
        raise
    finally:
        if api_socket is not None:
            api_socket.close()
        if port_driver is not None:
            port_driver.cleanup()
        if bypass is not None:
            bypass.cleanup()
        channel.close()
        network.cleanup()
    description = describe_status(status)
    if description is not None:
        raise RootlessKitError(f"child exited: {description}", exit_code_of(status))
    return 0


def _publish(opts: dict, port_driver: PortDriver, child: _Child, config: NetworkConfig | None) -> None:
    """Start the port driver and publish each -p in order, as upstream before writing child_pid."""
    from rootlesskit_py.port.spec import parse

    port_driver.start(child.signal_target, config)
    for text in opts["publish"]:
        spec = parse(text)
        try:
            port_driver.add_port(spec)
        except RootlessKitError as e:
            if child.has_exited():  # the forwarder went with the child, which printed why
                raise _child_died(child) from None
            raise RootlessKitError(f"failed to expose port {spec}: {e.message}") from None


def _serve_api(state_dir: str, child_pid: int, network_info: dict | None, port_driver: PortDriver | None):
    from rootlesskit_py.api import server

    api = server.Api(state_dir, child_pid, network_info, port_driver)
    return server.serve(os.path.join(state_dir, names.STATE_API_SOCK), api)


def _start_child(opts: dict, child: _Child, channel: Channel, state: StateDir, network: NetworkDriver,
                 map_ids: Callable[[int], None]) -> NetworkConfig | None:
    """The handshake: namespaces made -> id maps written -> network set up -> child ready."""
    kind, payload = channel.recv()
    if kind == messages.UNSHARE_FAILED:
        err, _, text = payload.partition(" ")
        if int(err) in (errno.EACCES, errno.EPERM):
            preflight.apparmor_hint(os.readlink("/proc/self/exe"))
        raise RootlessKitError(f"failed to start the child: {text}")
    if kind != messages.USERNS:
        raise _child_died(child)
    map_ids(child.pid)
    if opts["evacuate-cgroup2"]:  # while the child waits: whatever it forks later starts in the new group
        from rootlesskit_py.parent import cgroup

        cgroup.evacuate(opts["evacuate-cgroup2"])
    _send(channel, child, messages.IDMAP_DONE)
    # CHILD_PID (from the --pidns intermediate, which knows PID 1's host pid) and PREPARED (from the
    # child itself) can arrive in either order; the network's parent half needs both.
    received, config = set(), None
    while True:
        kind, payload = channel.recv()
        if kind == messages.READY:
            break
        if kind not in (messages.CHILD_PID, messages.PREPARED):
            raise _child_died(child)
        if kind == messages.CHILD_PID:
            child.signal_target = int(payload)
        received.add(kind)
        if len(received) == 2:  # the second of the two, exactly once
            try:
                config = network.setup_parent(child.signal_target, state.path)
            except RootlessKitError:
                if child.has_exited():  # the helper failed because the child (and its namespace) went away
                    raise _child_died(child) from None
                raise
            _send(channel, child, messages.NETWORK, config.encode() if config else "")
            # The API is the parent's alone: it loads while the child configures its network
            # (before the fork it would delay the child; where it is used, the command).
            import rootlesskit_py.api.server  # noqa: F401
    return config


def _send(channel: Channel, child: _Child, kind: str, payload: str = "") -> None:
    """A message to the child; if it has gone (its own error already printed), report how it ended."""
    try:
        channel.send(kind, payload)
    except BrokenPipeError:
        raise _child_died(child) from None


def _child_died(child: _Child) -> RootlessKitError:
    """The child closed the channel early: it printed its own error; report how it ended."""
    status = child.wait()
    return RootlessKitError(f"child exited: {describe_status(status) or 'exit status 0'}", exit_code_of(status))
