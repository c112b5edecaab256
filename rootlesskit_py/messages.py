"""The parent<->child channel: one line per message, `KIND [payload]`, and what travels on it.

Upstream re-executes itself and speaks length-prefixed JSON over inherited fds; we fork, so the two
ends share the parsed configuration and only need to say where each step stands. The sequence
(child: the forked child; with --pidns, CHILD_PID comes from it and the rest from its child, PID 1):

    child  -> parent  USERNS            namespaces made (or UNSHARE_FAILED "errno text", and the end)
    parent -> child   IDMAP_DONE        uid/gid maps written, cgroup evacuated
    child  -> parent  CHILD_PID pid     the command's host pid (signals go there)
    child  -> parent  PREPARED          the network driver's child half is ready for the parent's
                                        (CHILD_PID and PREPARED may come in either order)
    parent -> child   NETWORK config    NetworkConfig.encode(), or empty for none/host
    child  -> parent  READY             network configured, port forwarder running
    parent -> child   PUBLISHED         the -p ports are published, child_pid written, api.sock
                                        listening: the command may start

Any other message, or EOF, means the other side failed and prints why itself.
"""

from __future__ import annotations

import os

USERNS = "userns"
UNSHARE_FAILED = "unshare-failed"
IDMAP_DONE = "idmap-done"
CHILD_PID = "child-pid"
PREPARED = "prepared"
NETWORK = "network"
READY = "ready"
PUBLISHED = "published"
EOF = "eof"  # recv() only: the other side closed the channel


class Channel:
    """One direction-pair of pipes between the parent and the child."""

    def __init__(self) -> None:
        self._to_child_r, self._to_child_w = os.pipe()
        self._to_parent_r, self._to_parent_w = os.pipe()
        self._rfd = self._wfd = -1
        self._buffer = b""

    def as_parent(self) -> "Channel":
        os.close(self._to_child_r)
        os.close(self._to_parent_w)
        self._rfd, self._wfd = self._to_parent_r, self._to_child_w
        return self

    def as_child(self) -> "Channel":
        os.close(self._to_child_w)
        os.close(self._to_parent_r)
        self._rfd, self._wfd = self._to_child_r, self._to_parent_w
        return self

    def send(self, kind: str, payload: str = "") -> None:
        os.write(self._wfd, f"{kind} {payload}".rstrip(" ").replace("\n", "\\n").encode() + b"\n")

    def recv(self) -> tuple[str, str]:
        """The next message; (EOF, "") when the other side is gone."""
        while b"\n" not in self._buffer:
            chunk = os.read(self._rfd, 65536)
            if not chunk:
                return EOF, ""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        kind, _, payload = line.decode().partition(" ")
        return kind, payload.replace("\\n", "\n")

    def close(self) -> None:
        for fd in (self._rfd, self._wfd):
            if fd >= 0:
                os.close(fd)
        self._rfd = self._wfd = -1


class NetworkConfig:
    """What the parent's half of a driver tells the child: the device and its addresses, plus
    `opaque` strings for the driver's child half (upstream's NetworkDriverOpaque, e.g. vpnkit's MAC).

    Sent as one line of `key=value` words (the channel's format) rather than JSON: importing json
    pulls in `re`, a cost every start would pay. Opaque values are %-escaped.
    """

    __slots__ = ("dev", "ip", "prefix", "gateway", "dns", "mtu", "opaque")

    def __init__(self, dev: str = "", ip: str = "", prefix: int = 0, gateway: str = "",
                 dns: list[str] | None = None, mtu: int = 0, opaque: dict[str, str] | None = None) -> None:
        self.dev, self.ip, self.prefix, self.gateway, self.mtu = dev, ip, prefix, gateway, mtu
        self.dns = dns or []
        self.opaque = opaque or {}

    def encode(self) -> str:
        extra = "".join(f" o.{k}={_escape(v)}" for k, v in self.opaque.items())
        return f"dev={self.dev} ip={self.ip} prefix={self.prefix} gateway={self.gateway} " \
               f"dns={','.join(self.dns)} mtu={self.mtu}{extra}"

    @classmethod
    def decode(cls, text: str) -> "NetworkConfig":
        fields = dict(word.split("=", 1) for word in text.split())
        opaque = {k[2:]: _unescape(v) for k, v in fields.items() if k.startswith("o.")}
        return cls(fields["dev"], fields["ip"], int(fields["prefix"]), fields["gateway"],
                   [d for d in fields["dns"].split(",") if d], int(fields["mtu"]), opaque)


def _escape(value: str) -> str:
    return value.replace("%", "%25").replace(" ", "%20").replace("\n", "%0A").replace("\t", "%09")


def _unescape(value: str) -> str:
    return value.replace("%09", "\t").replace("%0A", "\n").replace("%20", " ").replace("%25", "%")
