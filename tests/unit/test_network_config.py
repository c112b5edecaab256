"""NetworkConfig, the parent's word to the child about its network: one line of key=value words."""

from __future__ import annotations

import pytest

from rootlesskit_py.messages import NetworkConfig

SLIRP = NetworkConfig("tap0", "10.0.2.100", 24, "10.0.2.2", ["10.0.2.3", "fd00::3"], 65520)
VPNKIT = NetworkConfig("tap0", "192.168.65.3", 24, "192.168.65.1", ["192.168.65.1"], 1500,
                       {"mac": "02:50:00:00:00:01", "socket": "/run/user/1000/my state/vpnkit-ethernet.sock",
                        "uuid": "0b7c5b44-9d2e-4f5a-8a9f-4b8c3e2d1f00"})
ODD = NetworkConfig("eth0", "", 0, "", [], 0, {"text": "50% off\ta=b c\nline two %20 %25"})


@pytest.mark.parametrize("config, line", [
    (SLIRP, "dev=tap0 ip=10.0.2.100 prefix=24 gateway=10.0.2.2 dns=10.0.2.3,fd00::3 mtu=65520"),
    (VPNKIT, "dev=tap0 ip=192.168.65.3 prefix=24 gateway=192.168.65.1 dns=192.168.65.1 mtu=1500 "
             "o.mac=02:50:00:00:00:01 o.socket=/run/user/1000/my%20state/vpnkit-ethernet.sock "
             "o.uuid=0b7c5b44-9d2e-4f5a-8a9f-4b8c3e2d1f00"),
    (ODD, "dev=eth0 ip= prefix=0 gateway= dns= mtu=0 o.text=50%25%20off%09a=b%20c%0Aline%20two%20%2520%20%2525"),
])
def test_encode_and_decode(config, line):
    assert config.encode() == line
    assert "\n" not in line  # the channel is line-based
    decoded = NetworkConfig.decode(line)
    assert [getattr(decoded, f) for f in NetworkConfig.__slots__] == [getattr(config, f) for f in NetworkConfig.__slots__]
