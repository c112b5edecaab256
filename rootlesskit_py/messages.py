"""The parent<->child channel: one line per message, `KIND [payload]`.

Upstream re-executes itself and speaks length-prefixed JSON over inherited fds; we fork, so the two
ends share the parsed configuration and only need to say where each step stands.
"""

from __future__ import annotations

import os


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
        """The next message; ("eof", "") when the other side is gone."""
        while b"\n" not in self._buffer:
            chunk = os.read(self._rfd, 65536)
            if not chunk:
                return "eof", ""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        kind, _, payload = line.decode().partition(" ")
        return kind, payload.replace("\\n", "\n")

    def close(self) -> None:
        for fd in (self._rfd, self._wfd):
            if fd >= 0:
                os.close(fd)
        self._rfd = self._wfd = -1
