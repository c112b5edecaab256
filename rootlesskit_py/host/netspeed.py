"""How fast containers' own traffic moves through each user-mode network on this host, for the setup
tool's check.

Why measure instead of knowing: which stack is faster is a fact of the host, not of the stacks.
Upstream's CI measured pasta at MTU 65520 four times faster than slirp4netns (rootlesskit#615); on
the 2-CPU VM this project is built on, pasta sends 0.01-0.08 Gbit/s out of the namespace, where
slirp4netns sends 1.5-10 (BENCHMARKS.md, "Why pasta is slow from the namespace here"). Docker's
rootless page lists "network is slow" first under networking, and only a measurement on the host
can say which stack to switch to. So when two stacks are usable, `check` times both, the way
dockerd-rootless.sh would run them, and names the other when the configured one is much slower.

How: the rootlesskit dockerd-rootless.sh runs starts each stack around `sleep`; a forked process
of ours joins its user and network namespaces (setns: the namespaces are the user's own) and
connects to the gateway, 10.0.2.2, which both stacks map to the host's loopback, where we listen.
Out of the namespace the process inside sends and we count; into it, the other way round. Each
direction is counted for a fixed window from its first byte, then the connection is reset: a stack
that stalls must not keep the check waiting while it drains.
"""

from __future__ import annotations

import os
import signal
import time

from rootlesskit_py import names
from rootlesskit_py.host import WARNING, Finding, which
from rootlesskit_py.host.network import NetworkChoice, Pasta, bundled_pasta, slirp4netns_has_netns_type
from rootlesskit_py.util.proc import exits_within, fork_exec

OUT_WINDOW = 0.5          # seconds out of the namespace, from the first byte: long enough for a stack
                          # that stalls on lost segments to wait for one retransmission timeout (200 ms)
IN_WINDOW = 0.1           # seconds into it
CONNECT_DEADLINE = 2.0    # the stack's device comes up after the command started
STOP_GRACE = 3.0          # rootlesskit waits for pasta, which looks for its namespace once a second
MUCH_SLOWER = 3.0         # another stack is named when it is this many times faster one way
GATEWAY = "10.0.2.2"      # rootlesskit's default network: the host's loopback seen from inside
_CHUNK = 256 * 1024


class StackSpeed:
    """One stack's measurement: Gbit/s out of the namespace and into it."""

    __slots__ = ("net", "mtu", "out_gbps", "in_gbps")

    def __init__(self, net: str, mtu: int, out_gbps: float, in_gbps: float) -> None:
        self.net, self.mtu, self.out_gbps, self.in_gbps = net, mtu, out_gbps, in_gbps

    def much_faster_than(self, other: StackSpeed) -> bool:
        """MUCH_SLOWER times `other`'s speed one way, and at least half of it the other way: pulls
        come in, pushes and uploads go out, and a switch must not trade one for the other."""
        ratios = sorted((mine / max(theirs, 1e-9)) for mine, theirs in
                        ((self.out_gbps, other.out_gbps), (self.in_gbps, other.in_gbps)))
        return ratios[1] >= MUCH_SLOWER and ratios[0] >= 0.5

    def describe(self) -> str:
        return f"{self.net} (MTU {self.mtu}) moved {self.out_gbps:.2f} Gbit/s out and {self.in_gbps:.2f} in"


def measure(rootlesskit: str, stacks: list[tuple[str, str]], mtu: int) -> list[StackSpeed]:
    """Time each (net, helper binary) in turn, one rootlesskit at a time; a stack that could not be
    measured (it did not start, nothing connected) is left out: the check's other findings say why a
    stack cannot run, this one only compares speeds. A rootlesskit is stopped as soon as its stack is
    measured and waited for at the end: pasta notices its namespace is gone only once a second, so
    its exit overlaps the next measurement."""
    import socket

    speeds, stopping = [], []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(2)
        listener.settimeout(CONNECT_DEADLINE + 1)
        for net, binary in stacks:
            kit = _Kit(rootlesskit, net, binary, mtu)
            stopping.append(kit)
            child = kit.child_pid()
            speed = _measure_through(child, listener, net, mtu) if child else None
            kit.stop()
            if speed:
                speeds.append(speed)
    except OSError:
        pass  # no listener or no state dir here: the stacks measured so far are all there is
    finally:
        listener.close()
        for kit in stopping:
            kit.wait()
    return speeds


class _Kit:
    """One rootlesskit around `sleep`, with its stack and a state dir of its own."""

    def __init__(self, rootlesskit: str, net: str, binary: str, mtu: int) -> None:
        import tempfile  # here, not at the top: a check with one stack imports only what it uses

        # in $TMPDIR, not under $XDG_RUNTIME_DIR: a long one would push api.sock past a socket path's 108 bytes
        self.state_dir = tempfile.mkdtemp(prefix="rootlesskit-netspeed-")
        binary_flag = "--slirp4netns-binary" if net == "slirp4netns" else "--pasta-binary"
        argv = [rootlesskit, f"--state-dir={self.state_dir}", f"--net={net}", f"--mtu={mtu}",
                f"{binary_flag}={binary}", "sleep", "30"]
        self.pid = None
        try:  # quiet, and killed with the check if the check is killed
            self.pid = fork_exec(rootlesskit, argv, dict(os.environ), quiet=True)
        except OSError:
            pass  # no pid: child_pid says None, and the stack is left out

    def child_pid(self) -> int | None:
        """The child's pid once rootlesskit has written it; None when rootlesskit exited first or
        took too long."""
        if self.pid is None:
            return None
        deadline = time.monotonic() + CONNECT_DEADLINE
        path = os.path.join(self.state_dir, names.STATE_CHILD_PID)
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    text = f.read().strip()
                if text.isdigit():
                    return int(text)
            except OSError:
                pass
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return None  # exited: reaped by wait
            time.sleep(0.005)
        return None

    def stop(self) -> None:
        """rootlesskit passes SIGTERM on to `sleep`, then stops its helper and exits."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGTERM)

    def wait(self) -> None:
        """Until rootlesskit has gone, SIGKILL after STOP_GRACE; then its state dir goes too."""
        if self.pid is not None:
            self.stop()
            if not exits_within(self.pid, STOP_GRACE):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        import shutil

        shutil.rmtree(self.state_dir, ignore_errors=True)


def _measure_through(child: int, listener, net: str, mtu: int) -> StackSpeed | None:
    """Fork the process that joins the namespaces; it reports what it received through a pipe."""
    port = listener.getsockname()[1]
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(report_r)
            os.write(report_w, str(_inside(child, port)).encode())
            code = 0
        except BaseException:  # noqa: B036 (whatever it was, this process only exits)
            pass
        os._exit(code)
    os.close(report_w)
    try:
        out_bytes = _count_window(listener.accept()[0], OUT_WINDOW)
        _send_until_reset(listener.accept()[0], IN_WINDOW + 1)
        report = os.read(report_r, 64)
    except OSError:
        return None
    finally:
        os.close(report_r)
        os.waitpid(pid, 0)
    if not report.isdigit():
        return None
    return StackSpeed(net, mtu, out_bytes * 8 / OUT_WINDOW / 1e9, int(report) * 8 / IN_WINDOW / 1e9)


def _count_window(conn, window: float) -> int:
    """Bytes received in `window` seconds from the first one; then the connection is reset, since a
    stack that stalls would take seconds to deliver what is still queued."""
    import socket
    import struct

    # one buffer for every read: a new 256 KiB object per read is an mmap and a munmap under the
    # release's musl, and capped what it counted at half of what slirp4netns delivers
    buffer = bytearray(_CHUNK)
    try:
        conn.settimeout(CONNECT_DEADLINE)
        total = conn.recv_into(buffer)
        end = time.monotonic() + window
        while total and (left := end - time.monotonic()) > 0:
            conn.settimeout(left)
            try:
                n = conn.recv_into(buffer)
            except (TimeoutError, ConnectionError):
                break
            if not n:
                break
            total += n
        return total
    finally:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


def _send_until_reset(conn, seconds: float) -> None:
    """Send until the other side has counted its window and reset the connection (at most `seconds`)."""
    data = bytes(_CHUNK)
    end = time.monotonic() + seconds
    try:
        while (left := end - time.monotonic()) > 0:
            conn.settimeout(left)
            conn.send(data)
    except OSError:
        pass  # the reset that ends it, or the time
    finally:
        conn.close()


def _inside(child: int, port: int) -> int:
    """In the forked process: join the namespaces, send out until our side has counted, then count
    what comes in. Returns the bytes received in IN_WINDOW."""
    from rootlesskit_py import native

    for ns, kind in (("user", native.CLONE_NEWUSER), ("net", native.CLONE_NEWNET)):
        fd = os.open(f"/proc/{child}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            native.setns(fd, kind)
        finally:
            os.close(fd)
    _send_until_reset(_connect(port), OUT_WINDOW + 1)
    return _count_window(_connect(port), IN_WINDOW)


def _connect(port: int):
    """To our listener through the gateway, trying again until the stack's device is up."""
    import socket

    deadline = time.monotonic() + CONNECT_DEADLINE
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            s.settimeout(CONNECT_DEADLINE)
            s.connect((GATEWAY, port))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def compare_stacks(rootlesskit: str, stacks: dict[str, str], net: str, mtu: int) -> list[StackSpeed]:
    """The check's measurement: `net` (what dockerd-rootless.sh will run) and every other usable stack
    (usable_stacks), each at `mtu`; nothing when there is no other to compare with. slower_stack
    judges the result."""
    if net not in stacks or len(stacks) < 2:
        return []
    order = sorted(stacks, key=lambda name: name != "pasta")  # pasta first: its slow exit overlaps the rest
    return measure(rootlesskit, [(name, stacks[name]) for name in order], mtu)


def usable_stacks(path_dirs: list[str], choice: NetworkChoice) -> dict[str, str]:
    """The helper binary dockerd-rootless.sh would run for each stack timed here, where rootlesskit
    would accept it: slirp4netns >= v0.4.0 on PATH (`choice` has judged it when it chose it); the
    pasta on PATH, or the release's own when there is none (as bundled_pasta_for picks it)."""
    stacks = {}
    slirp = choice.binary if choice.driver == "slirp4netns" else which("slirp4netns", path_dirs)
    if slirp and (choice.driver == "slirp4netns" or slirp4netns_has_netns_type(slirp)):
        stacks["slirp4netns"] = slirp
    pasta = which("pasta", path_dirs) or bundled_pasta()
    if pasta and Pasta.probe(pasta).usable:
        stacks["pasta"] = pasta
    return stacks


def slower_stack(net: str, speeds: list[StackSpeed]) -> list[Finding]:
    """The finding when another stack was much faster here than `net` (StackSpeed.much_faster_than)."""
    configured = next((s for s in speeds if s.net == net), None)
    faster = next((s for s in speeds if configured and s.net != net and s.much_faster_than(configured)), None)
    if faster is None:
        return []
    return [Finding("network-slow", WARNING,
                    f"On this host, containers' own traffic through {configured.describe()}; "
                    f"{faster.describe()} (measured just now, through each to the host's loopback).",
                    "Pulls, downloads in builds and every connection a container makes go through this stack.",
                    f"export {names.ENV_DR_NET}={faster.net}", as_root=False)]
