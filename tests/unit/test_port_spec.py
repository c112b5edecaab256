"""port/spec.py: `-p` parsing and ValidatePortSpec, with upstream's texts (scripts match on them,
swapped ChildPort/ParentPort labels included)."""

from __future__ import annotations

import pytest

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.port.spec import PortSpec, canonical_ip, parse, validate


@pytest.mark.parametrize("text, spec", [
    ("127.0.0.1:8080:80/tcp", PortSpec("tcp", "127.0.0.1", 8080, 80)),
    (":8080:80/udp", PortSpec("udp", "", 8080, 80)),
    ("0.0.0.0:8080:10.0.2.100:80/tcp", PortSpec("tcp", "0.0.0.0", 8080, 80, "10.0.2.100")),
    ("[::1]:8080:[::2]:80/tcp6", PortSpec("tcp6", "::1", 8080, 80, "::2")),
    ("[::]:8080:80/tcp", PortSpec("tcp", "::", 8080, 80)),
    ("127.0.0.1:+8080:80/sctp", PortSpec("sctp", "127.0.0.1", 8080, 80)),  # strconv.Atoi takes a sign
])
def test_parse(text, spec):
    assert parse(text) == spec


@pytest.mark.parametrize("text, message", [
    ("bad", 'missing proto in PortSpec string: "bad"'),
    ("8080", 'missing proto in PortSpec string: "8080"'),
    ("127.0.0.1:8080:80/tcp,127.0.0.1:4040:40/tcp",  # one spec per string
     'unexpected PortSpec string: "127.0.0.1:8080:80/tcp,127.0.0.1:4040:40/tcp"'),
    ("8080:80/tcp", 'unexpected PortSpec string: "8080:80/tcp"'),
    ("127.0.0.1:8080/tcp", 'unexpected PortSpec string: "127.0.0.1:8080/tcp"'),
    ("127.0.0.1:8080:80/foo", 'invalid PortSpec string: "127.0.0.1:8080:80/foo": unknown proto: "foo"'),
    ("1.2.3:8080:80/tcp", 'unexpected ParentIP in PortSpec string: "1.2.3:8080:80/tcp"'),
    ("127.0.0.01:1:2/tcp", 'unexpected ParentIP in PortSpec string: "127.0.0.01:1:2/tcp"'),  # no leading zeros
    ("127.0.0.1:1:2:3/tcp", 'unexpected ParentIP in PortSpec string: "127.0.0.1:1:2:3/tcp"'),  # child IP "2"
    ("fe80::1%eth0:1:2/tcp", 'unexpected PortSpec string: "fe80::1%eth0:1:2/tcp"'),  # IPv6 must be bracketed
    ("127.0.0.1:x:80/tcp",
     'unexpected ChildPort in PortSpec string: "127.0.0.1:x:80/tcp": strconv.Atoi: parsing "x": invalid syntax'),
    ("127.0.0.1:8080:y/tcp",
     'unexpected ParentPort in PortSpec string: "127.0.0.1:8080:y/tcp": strconv.Atoi: parsing "y": invalid syntax'),
    ("127.0.0.1:0x10:80/tcp", 'unexpected ChildPort in PortSpec string: "127.0.0.1:0x10:80/tcp": '
                              'strconv.Atoi: parsing "0x10": invalid syntax'),
])
def test_parse_refuses(text, message):
    with pytest.raises(RootlessKitError) as raised:
        parse(text)
    assert raised.value.message == message


EXISTING = {1: PortSpec("tcp", "127.0.0.1", 8080, 80), 2: PortSpec("udp", "", 53, 53)}


@pytest.mark.parametrize("spec", [
    PortSpec("tcp", "", 8080, 80),
    PortSpec("udp", "127.0.0.1", 8080, 81),  # another proto on the same port
    PortSpec("tcp", "0.0.0.0", 8080, 81),  # another address
    PortSpec("tcp6", "::1", 65535, 1, "::1"),
])
def test_validate_accepts(spec):
    validate(spec, EXISTING)


@pytest.mark.parametrize("spec, message", [
    (PortSpec("foo", "", 1, 1), 'unknown proto: "foo"'),
    (PortSpec("", "", 1, 1), 'unknown proto: ""'),
    (PortSpec("tcp", "1.2.3", 1, 1), 'invalid ParentIP: "1.2.3"'),
    (PortSpec("tcp", "", 1, 1, "x"), 'invalid ChildIP: "x"'),
    (PortSpec("tcp", "", 0, 1), "invalid ParentPort: '\\x00'"),  # Go's %q of an int is a rune
    (PortSpec("tcp", "", 1, 0), "invalid ChildPort: '\\x00'"),
    (PortSpec("tcp", "", 70000, 1), "invalid ParentPort: '\U00011170'"),
    (PortSpec("tcp", "", 1, -1), "invalid ChildPort: '\ufffd'"),
    (PortSpec("tcp", "", 1, 0x110000), "invalid ChildPort: '\ufffd'"),
    (PortSpec("tcp", "127.0.0.1", 8080, 81), "conflict with ID 1"),
    (PortSpec("udp", "", 53, 5353), "conflict with ID 2"),
])
def test_validate_refuses(spec, message):
    with pytest.raises(RootlessKitError) as raised:
        validate(spec, EXISTING)
    assert raised.value.message == message


@pytest.mark.parametrize("given, expected", [
    ("10.0.2.100", ("10.0.2.100", True)),
    ("::ffff:10.0.2.100", ("10.0.2.100", True)),  # dockerd 28's child IP: IPv4, as Go's To4() says
    ("0:0:0:0:0:0:0:0", ("::", False)),
    ("FD00:0:0:0::1", ("fd00::1", False)),  # Go prints the RFC 5952 form
])
def test_canonical_ip(given, expected):
    assert canonical_ip(given) == expected
