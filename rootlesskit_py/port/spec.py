"""Port specs (`-p`, `rootlessctl add-ports`): parsing, validation, conflicts (their JSON: api.schema).

Messages are upstream's, including its swapped labels (a bad parent port is reported as ChildPort
and vice versa): scripts match on them.
"""

from __future__ import annotations

from rootlesskit_py.api.schema import PortSpec  # the API's JSON shape; parsed and validated here
from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.util.gocompat import go_atoi, go_quote

PROTOS = ("tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "sctp", "sctp4", "sctp6")


def _split_brackets(text: str) -> list[str]:
    """Split on ':' outside [...] (IPv6 addresses must be bracketed)."""
    parts, current, depth = [], "", 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _unbracket(ip: str) -> str:
    return ip[1:-1] if ip.startswith("[") and ip.endswith("]") else ip


def parse(text: str) -> PortSpec:
    """`[PARENTIP]:PARENTPORT[:CHILDIP]:CHILDPORT/PROTO`, parsed as upstream's portutil does."""
    quoted = go_quote(text)
    slash = text.rfind("/")
    if slash < 0:
        raise RootlessKitError(f"missing proto in PortSpec string: {quoted}")
    rest, proto = text[:slash], text[slash + 1:]
    if proto not in PROTOS:
        raise RootlessKitError(f"invalid PortSpec string: {quoted}: unknown proto: {go_quote(proto)}")
    colon = rest.rfind(":")
    if colon < 0:
        raise RootlessKitError(f"unexpected PortSpec string: {quoted}")
    head, child_port_text = rest[:colon], rest[colon + 1:]
    parts = _split_brackets(head)
    if len(parts) not in (2, 3):
        raise RootlessKitError(f"unexpected PortSpec string: {quoted}")
    parent_ip, parent_port_text = _unbracket(parts[0]), parts[1]
    child_ip = _unbracket(parts[2]) if len(parts) == 3 else ""
    for ip in (parent_ip, child_ip):
        if ip and not is_go_ip(ip):
            raise RootlessKitError(f"unexpected ParentIP in PortSpec string: {quoted}")
    try:
        parent_port = go_atoi(parent_port_text)
    except ValueError as e:
        raise RootlessKitError(f"unexpected ChildPort in PortSpec string: {quoted}: {e}") from None
    try:
        child_port = go_atoi(child_port_text)
    except ValueError as e:
        raise RootlessKitError(f"unexpected ParentPort in PortSpec string: {quoted}: {e}") from None
    return PortSpec(proto, parent_ip, parent_port, child_port, child_ip)


def is_go_ip(text: str) -> bool:
    """Go's net.ParseIP: dotted quads without leading zeros, or IPv6 without a zone."""
    import _socket

    if "%" in text:
        return False
    if ":" in text:
        try:
            _socket.inet_pton(_socket.AF_INET6, text)
            return True
        except OSError:
            return False
    parts = text.split(".")
    return (len(parts) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3 and (p == "0" or p[0] != "0")
                                    and int(p) <= 255 for p in parts))


def canonical_ip(ip: str) -> tuple[str, bool]:
    """Go's net.IP String() of `ip` and whether it is IPv4: an IPv4-mapped IPv6 address is (dockerd
    28 writes the child IP so, `::ffff:10.0.2.100`), as net.IP.To4() says."""
    import _socket

    try:
        if ":" not in ip:
            return _socket.inet_ntop(_socket.AF_INET, _socket.inet_pton(_socket.AF_INET, ip)), True
        packed = _socket.inet_pton(_socket.AF_INET6, ip)
    except OSError:
        raise RootlessKitError(f"invalid IP: {go_quote(ip)}") from None
    if packed[:12] == bytes(10) + b"\xff\xff":
        return _socket.inet_ntop(_socket.AF_INET, packed[12:]), True
    return _socket.inet_ntop(_socket.AF_INET6, packed), False


def validate(spec: PortSpec, existing: dict[int, PortSpec]) -> None:
    """Upstream's ValidatePortSpec: known proto, valid addresses, ports 1..65535, no conflict."""
    if spec.proto not in PROTOS:
        raise RootlessKitError(f"unknown proto: {go_quote(spec.proto)}")
    if spec.parent_ip and not is_go_ip(spec.parent_ip):
        raise RootlessKitError(f"invalid ParentIP: {go_quote(spec.parent_ip)}")
    if spec.child_ip and not is_go_ip(spec.child_ip):
        raise RootlessKitError(f"invalid ChildIP: {go_quote(spec.child_ip)}")
    if not 0 < spec.parent_port <= 65535:
        raise RootlessKitError(f"invalid ParentPort: {_go_rune_quote(spec.parent_port)}")
    if not 0 < spec.child_port <= 65535:
        raise RootlessKitError(f"invalid ChildPort: {_go_rune_quote(spec.child_port)}")
    for port_id, other in sorted(existing.items()):
        if (other.proto, other.parent_ip, other.parent_port) == (spec.proto, spec.parent_ip, spec.parent_port):
            raise RootlessKitError(f"conflict with ID {port_id}")


def _go_rune_quote(n: int) -> str:
    """Go's %q of an int: the quoted rune ('\\x00' for 0, '�' for invalid code points)."""
    if n < 0 or n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
        return "'\ufffd'"
    if n < 0x20 or n == 0x7F:
        return f"'\\x{n:02x}'"
    if n > 0xFFFF and not chr(n).isprintable():
        return f"'\\U{n:08x}'"
    return repr(chr(n)) if chr(n).isprintable() else f"'\\u{n:04x}'"
