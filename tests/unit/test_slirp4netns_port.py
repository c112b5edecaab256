"""The slirp4netns port driver's child addresses: IPv4 only, also when written IPv4-mapped."""

import pytest

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.port.slirp4netns import _ipv4


@pytest.mark.parametrize("given, expected", [
    ("10.0.2.100", "10.0.2.100"),
    ("::ffff:10.0.2.100", "10.0.2.100"),  # dockerd 28 sends the child IP this way
    ("::FFFF:127.0.0.1", "127.0.0.1"),
])
def test_accepted(given, expected):
    assert _ipv4(given) == expected


@pytest.mark.parametrize("given, message", [
    ("::1", "unsupported IP (v6?): ::1"),
    ("fd00::100", "unsupported IP (v6?): fd00::100"),
    ("10.0.2", 'invalid IP: "10.0.2"'),
    ("nonsense", 'invalid IP: "nonsense"'),
])
def test_refused(given, message):
    with pytest.raises(RootlessKitError) as e:
        _ipv4(given)
    assert e.value.message == message
