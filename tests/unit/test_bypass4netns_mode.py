"""dockerd-rootless.sh's bypass4netns mode: the switch's values, each reason it cannot apply, and
the profile it gives dockerd (Docker's default with `connect` notifying rootlesskit)."""

import json

import pytest

from rootlesskit_py.docker import bypass4netns as mode
from rootlesskit_py.docker.seccomp_default import DEFAULT_PROFILE_JSON

RUNC_115 = "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n"
RUNC_143 = "runc version 1.4.3\ncommit: v1.4.3-0-gbb14dab\nspec: 1.2.1\ngo: go1.26.10\nlibseccomp: 2.5.4\n"


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("0", False), ("false", False), ("", False)])
def test_the_switch(value, on):
    assert mode.requested({"DOCKERD_ROOTLESS_BYPASS4NETNS": value}) is on
    assert mode.requested({}) is False


def test_a_bad_switch_value_is_named():
    with pytest.raises(mode.InvalidValue, match=r"Unknown DOCKERD_ROOTLESS_BYPASS4NETNS value: yes \(accepted: 1, true, 0, false\)"):
        mode.requested({"DOCKERD_ROOTLESS_BYPASS4NETNS": "yes"})


def test_runc_versions():
    assert mode.runc_versions(RUNC_115) == ((1, 1, 5), (2, 5, 4))
    assert mode.runc_versions(RUNC_143) == ((1, 4, 3), (2, 5, 4))
    assert mode.runc_versions("runc version 1.0.0-rc93\nlibseccomp: 2.4.4\n") == ((1, 0, 0), (2, 4, 4))


def _reason(tmp_path, argv=(), engine=(26, 1), runc=RUNC_115, kernel="6.18.0-1-amd64"):
    env = {"HOME": str(tmp_path)}
    return mode.reason_not_applied(env, list(argv), engine, runc, kernel)


def test_it_applies_where_everything_is_there(tmp_path):
    assert _reason(tmp_path) is None
    assert _reason(tmp_path, engine=(29, 7), runc=RUNC_143) is None


def test_each_reason(tmp_path):
    assert _reason(tmp_path, kernel="5.10.0-28-amd64") == "it needs Linux 5.14 or later, this kernel is 5.10.0-28-amd64"
    assert _reason(tmp_path, engine=(20, 10)) == \
        "dockerd 20.10 drops a seccomp profile's listenerPath; it needs dockerd 23.0 or later"
    assert _reason(tmp_path, runc=None) == "runc was not found on PATH (dockerd's default runtime)"
    assert _reason(tmp_path, runc="runc version 1.0.3\nlibseccomp: 2.5.1\n") == \
        "it needs runc >= 1.1 built with libseccomp >= 2.5, found runc 1.0.3 with libseccomp 2.5.1"
    assert _reason(tmp_path, argv=["--seccomp-profile=/x.json"]) == "dockerd is given its own --seccomp-profile"
    config = tmp_path / ".config/docker"
    config.mkdir(parents=True)
    (config / "daemon.json").write_text('{"seccomp-profile": "/etc/x.json"}')
    assert _reason(tmp_path) == f"{config}/daemon.json sets seccomp-profile"
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert _reason(tmp_path, argv=["--config-file", str(other)]) is None


def test_the_profile_is_the_default_with_connect_notifying():
    default = json.loads(DEFAULT_PROFILE_JSON)
    profile = mode.profile("/run/user/1000/dockerd-rootless/bypass4netns.sock")
    assert profile["listenerPath"] == "/run/user/1000/dockerd-rootless/bypass4netns.sock"
    notify = [rule for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_NOTIFY"]
    assert notify == [{"names": ["connect", "socketcall"], "action": "SCMP_ACT_NOTIFY"}]
    for name in ("connect", "socketcall"):
        assert [r for r in profile["syscalls"] if name in r["names"]] == notify
    # everything else is the default's, unchanged
    rest = [r for r in profile["syscalls"] if r is not notify[0]]
    for rule in default["syscalls"]:
        for name in ("connect", "socketcall"):
            if name in rule["names"]:
                rule["names"].remove(name)
    assert rest == default["syscalls"]
    assert {k: v for k, v in profile.items() if k not in ("syscalls", "listenerPath")} == \
        {k: v for k, v in default.items() if k != "syscalls"}
