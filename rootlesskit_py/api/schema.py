"""The JSON documents of the API on `$STATE/api.sock` (RootlessKit API 1.1.x), in one place.

Server, clients and drivers build these types; only this module knows their keys, key order and
omission rules. Output is byte for byte what Go's encoding/json writes (scripts diff our output with
upstream's): struct field order, compact separators, `<`, `>`, `&` escaped as \\u003c, \\u003e,
\\u0026, and `omitempty` fields left out when empty. Input is read as Go reads it: unknown keys
ignored, keys matched case-insensitively, numbers where the Go field is an int.

Plain classes, not dataclasses: `rootlessctl` imports this on every run, and `dataclasses` pulls in
`inspect` (several milliseconds of start-up). For the same reason `json` (which pulls in `re` and
`enum`, ~5 ms and over 1 MiB that an idle daemon would keep) is not imported at all for a valid
document: the json module's own C writer and reader (`_json`) do the work, and `json` comes in only
to word an error.
"""

from __future__ import annotations

from _json import encode_basestring as _json_string  # the json module's own C string writer (no import of json)
from _json import make_scanner as _json_scanner  # and its reader

from rootlesskit_py.version import API_VERSION

_INF = float("inf")

# Deeper JSON is refused before decoding: the documents nest two levels; Python's decoder recurses
# in C per level, on a thread stack that musl makes small.
MAX_NESTING = 100
_GO_HTML_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def go_json(value: object, indent: str = "") -> str:
    """`json.Marshal` (or `json.MarshalIndent(v, "", indent)`) of a JSON-ready value: dicts, lists
    and tuples, strings, numbers, booleans and None, written as `json.dumps(ensure_ascii=False)`
    writes them, then escaped as Go escapes. Not the json module itself: its import (re, enum) was
    most of the time the API's first answer took; only decoding a body needs it."""
    out: list[str] = []
    _encode(value, indent, "\n", out)
    return "".join(out).translate(_GO_HTML_ESCAPES).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _encode(value: object, indent: str, newline: str, out: list[str]) -> None:
    """`newline` is the line break and indentation before an item at this level's end."""
    if isinstance(value, str):
        out.append(_json_string(value))
    elif value is None or isinstance(value, (int, float)):
        out.append(_json_scalar(value))
    elif isinstance(value, (dict, list, tuple)):
        is_dict = isinstance(value, dict)
        opener, closer = "{}" if is_dict else "[]"
        if not value:
            out.append(opener + closer)
            return
        inner = newline + indent
        out.append(opener)
        for i, item in enumerate(value.items() if is_dict else value):
            if i:
                out.append(",")
            if indent:
                out.append(inner)
            if is_dict:
                key, item = item
                out.append(_json_string(_json_key(key)) + (": " if indent else ":"))
            _encode(item, indent, inner, out)
        out.append((newline if indent else "") + closer)
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_key(key: object) -> str:
    """A dict key's text as json.dumps writes it."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (int, float)):
        return _json_scalar(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _json_scalar(value: None | bool | int | float) -> str:
    """None, a boolean or a number as json.dumps writes it (as a value, and as a dict key's text)."""
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if value != value:
        return "NaN"
    return float.__repr__(value) if value not in (_INF, -_INF) else "Infinity" if value > 0 else "-Infinity"


def error_body(message: str) -> bytes:
    """Upstream's error document: `{"message":...}` and the newline json.Encoder adds."""
    return (go_json({"message": message}) + "\n").encode()


def decode(data: bytes) -> object:
    """The first JSON value of a request or response body, read as Go's json.Decoder reads it:
    whatever follows that value is not looked at, nothing but white space is "EOF", and a value cut
    short is "unexpected EOF". Other errors keep Python's text. ValueError as well when the value
    nests deeper than MAX_NESTING."""
    if nesting(data) > MAX_NESTING:
        raise ValueError(f"JSON nested deeper than {MAX_NESTING} levels")
    text = data.decode("utf-8", "replace")  # Go too decodes invalid UTF-8 in strings as U+FFFD
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise ValueError("EOF")
    try:
        return _json_scanner(_DECODER)(text, start)[0]
    except Exception:  # not a JSON value: json.JSONDecoder says why (_json finds the words there)
        pass
    import json

    try:
        return json.JSONDecoder(parse_constant=_not_json).raw_decode(text, start)[0]
    except json.JSONDecodeError as e:
        if e.pos >= len(text.rstrip(" \t\r\n")) or e.msg.startswith("Unterminated string"):
            raise ValueError("unexpected EOF") from None
        raise


def _not_json(constant: str) -> object:
    """NaN and Infinity, which Python's decoder takes and JSON (and Go) do not."""
    raise ValueError(f"invalid character {constant.lstrip('-')[0]!r} looking for beginning of value")


class _Decoder:
    """What `_json`'s reader takes from `json.JSONDecoder(parse_constant=_not_json)`: its settings."""

    strict, object_hook, object_pairs_hook, parse_float, parse_int = True, None, None, float, int

    def __init__(self) -> None:
        self.parse_constant = _not_json


_DECODER = _Decoder()


_OPENERS_CLOSERS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[{]}")


def nesting(data: bytes) -> int:
    """How deep `[` and `{` nest outside strings, in linear time and in C (no per-byte Python loop,
    no `re`): pairs of backslashes removed, then escaped quotes, so every quote left opens or closes
    a string; the text between every other quote kept (outside the strings; after a last quote that
    opens a string it never ends, so that text counts), every byte of it but brackets deleted, and
    the running sum of +1/-1 taken. (A body that is not JSON may count otherwise than a decoder would
    read it; the decoder then refuses it anyway.)"""
    import itertools

    parts = data.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')
    outside_strings = b"".join(parts[::2]) + (parts[-1] if len(parts) % 2 == 0 else b"")
    brackets = outside_strings.translate(_OPENERS_CLOSERS, _NOT_BRACKETS)
    return max(itertools.accumulate(memoryview(brackets).cast("b")), default=0)


def _kind(value: object) -> str:
    """How Go's decoder names a JSON value's type in its errors."""
    return {bool: "bool", str: "string", list: "array", dict: "object", int: "number", float: "number"}.get(
        type(value), "value")


def _number(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def expect(value: object, kind: type, go_type: str) -> object:
    """`value` decoded into a Go value of `go_type`, which only a JSON `kind` (or null) fits."""
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"json: cannot unmarshal {_kind(value)} into Go value of type {go_type}")
    return value


class PortSpec:
    """port.Spec: `-p`, `rootlessctl add-ports` and the body of `POST /v1/ports`."""

    __slots__ = ("proto", "parent_ip", "parent_port", "child_port", "child_ip")
    # (JSON key in Go's field order, attribute, Go type); every field is `omitempty`
    FIELDS = (("proto", "proto", str), ("parentIP", "parent_ip", str), ("parentPort", "parent_port", int),
              ("childPort", "child_port", int), ("childIP", "child_ip", str))

    def __init__(self, proto: str = "", parent_ip: str = "", parent_port: int = 0, child_port: int = 0,
                 child_ip: str = "") -> None:
        self.proto, self.parent_ip, self.parent_port = proto, parent_ip, parent_port
        self.child_port, self.child_ip = child_port, child_ip

    def _values(self) -> tuple:
        return tuple(getattr(self, attr) for _, attr, _ in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortSpec) and self._values() == other._values()

    def __repr__(self) -> str:
        return "PortSpec(" + ", ".join(f"{attr}={getattr(self, attr)!r}" for _, attr, _ in self.FIELDS) + ")"

    def __str__(self) -> str:
        """Go's `%v` of the struct, as upstream prints it in `failed to expose port {...}`."""
        return f"{{{self.proto} {self.parent_ip} {self.parent_port} {self.child_port} {self.child_ip}}}"

    def to_json(self) -> dict:
        return {key: getattr(self, attr) for key, attr, _ in self.FIELDS if getattr(self, attr)}

    @classmethod
    def from_json(cls, obj: object) -> PortSpec:
        """ValueError with Go's text for a value Go would not decode into port.Spec (null leaves
        every field empty, as in Go)."""
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise ValueError(f"json: cannot unmarshal {_kind(obj)} into Go value of type port.Spec")
        spec = cls()
        fields = {key.lower(): (key, attr, kind) for key, attr, kind in cls.FIELDS}
        for key, value in obj.items():  # the last case-insensitive match wins, as in Go
            if key.lower() not in fields or value is None:
                continue
            name, attr, kind = fields[key.lower()]
            if kind is int and (type(value) is not int or not -(1 << 63) <= value < (1 << 63)):
                shown = "number " + _number(value) if type(value) in (int, float) else _kind(value)
                raise ValueError(f"json: cannot unmarshal {shown} into Go struct field Spec.{name} of type int")
            if kind is str and not isinstance(value, str):
                raise ValueError(f"json: cannot unmarshal {_kind(value)} into Go struct field Spec.{name} "
                                 "of type string")
            setattr(spec, attr, value)
        return spec


def port_status(port_id: int, spec: PortSpec) -> dict:
    """port.Status: the answer to `POST /v1/ports` and an element of `GET /v1/ports`."""
    return {"id": port_id, "spec": spec.to_json()}


def port_statuses(ports: dict[int, PortSpec]) -> list[dict] | None:
    """`GET /v1/ports`: by id (upstream's map order is random), and `null`, not `[]`, when empty."""
    return [port_status(port_id, spec) for port_id, spec in sorted(ports.items())] or None


def reencode_port_status(raw: object) -> dict:
    """A port.Status received, as Go's rootlessctl prints it: decoded into the struct, then encoded."""
    raw = raw if isinstance(raw, dict) else {}
    port_id = raw.get("id", 0)
    return port_status(port_id if type(port_id) is int else 0, PortSpec.from_json(raw.get("spec") or {}))


def network_driver_info(driver: str, dns: list[str] | tuple[str, ...] = (), child_ip: str = "",
                        dynamic_child_ip: bool = False, ipv6: bool = False) -> dict:
    """api.NetworkDriverInfo (`networkDriver` of `GET /v1/info`); absent for --net=host. `ipv6`
    (API 1.1.2): the driver routes IPv6 (--ipv6 given to a driver that supports it); nerdctl reads it."""
    info: dict = {"driver": driver}
    if dns:
        info["dns"] = list(dns)
    if child_ip:
        info["childIP"] = child_ip
    if dynamic_child_ip:
        info["dynamicChildIP"] = True
    if ipv6:
        info["ipv6"] = True
    return info


# The key of portDriver.extra naming the backend the builtin driver's source IP routing uses
EXTRA_SOURCE_IP_TRANSPARENT_BACKEND = "sourceIPTransparentBackend"


def port_driver_info(driver: str, protos: list[str] | tuple[str, ...] | None,
                     disallow_loopback_child_ip: bool = False, extra: dict[str, str] | None = None) -> dict:
    """api.PortDriverInfo (`portDriver`); `protos` is always present (`null` if Go's slice is nil).
    `extra` (API 1.1.3) holds driver-specific strings, keys sorted as Go writes a map."""
    info: dict = {"driver": driver, "protos": list(protos) if protos is not None else None}
    if disallow_loopback_child_ip:
        info["disallowLoopbackChildIP"] = True
    if extra:
        info["extra"] = dict(sorted(extra.items()))
    return info


def info(version: str, state_dir: str, child_pid: int, network_driver: dict | None,
         port_driver: dict | None, api_version: str = API_VERSION) -> dict:
    """api.Info, `GET /v1/info`: a driver without information is an absent key, not an empty one."""
    document: dict = {"apiVersion": api_version, "version": version, "stateDir": state_dir, "childPID": child_pid}
    if network_driver is not None:
        document["networkDriver"] = network_driver
    if port_driver is not None:
        document["portDriver"] = port_driver
    return document


def reencode_info(raw: object) -> dict:
    """An api.Info received, as Go's rootlessctl prints it: known fields in struct order, empty
    `omitempty` ones left out."""
    raw = raw if isinstance(raw, dict) else {}
    network, port_driver = raw.get("networkDriver"), raw.get("portDriver")
    return info(raw.get("version", ""), raw.get("stateDir", ""), raw.get("childPID", 0),
                network_driver_info(network.get("driver", ""), network.get("dns") or (), network.get("childIP", ""),
                                    bool(network.get("dynamicChildIP")), bool(network.get("ipv6")))
                if isinstance(network, dict) else None,
                port_driver_info(port_driver.get("driver", ""), port_driver.get("protos"),
                                 bool(port_driver.get("disallowLoopbackChildIP")), _strings(port_driver.get("extra")))
                if isinstance(port_driver, dict) else None, raw.get("apiVersion", ""))


def _strings(value: object) -> dict[str, str]:
    """A map[string]string received: its string entries (a newer server may add others)."""
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}
