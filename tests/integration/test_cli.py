"""Flags, --help, --version, --print-semver and validation messages of `rootlesskit`."""

from __future__ import annotations

import pathlib

import pytest

from conftest import refused, run

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden"


def test_version(impl):
    result = run(impl.argv() + ["--version"])
    assert (result.returncode, result.stdout) == (0, "rootlesskit version 3.2.0\n")
    assert run(impl.argv() + ["-v"]).stdout == result.stdout


@pytest.mark.parametrize("part,value", [("major", "3"), ("minor", "2"), ("patch", "0")])
def test_print_semver(impl, part, value):
    result = run(impl.argv() + [f"--print-semver={part}"])
    assert (result.returncode, result.stdout) == (0, value + "\n")


def test_print_semver_rejects_other_values(impl):
    result = run(impl.argv() + ["--print-semver=build", "true"])
    assert result.returncode == 1
    assert '[rootlesskit:parent] error: expected --print-semver=(major|minor|patch), got "build"' in result.stderr


def test_help_is_upstreams_layout(impl, tmp_path):
    result = run(impl.argv() + ["--help"])
    assert result.returncode == 0
    golden = (GOLDEN / "rootlesskit-help.txt").read_text()
    lxc = [line for line in result.stdout.splitlines() if "--lxc-user-nic-binary" in line]
    # the only machine-dependent line: the default lxc-user-nic path, when lxc is installed
    assert result.stdout.replace(lxc[0], [g for g in golden.splitlines() if "--lxc-user-nic-binary" in g][0]) == golden


def test_no_command(impl, go):
    ours, ref = run(impl.argv()), run(go.argv())
    assert ours.returncode == ref.returncode == 1
    assert ours.stderr.strip() == ref.stderr.strip() == "[rootlesskit:parent] error: no command specified"


@pytest.mark.parametrize("argv,message", [
    (["--foo", "true"], "flag provided but not defined: -foo"),
    (["--mtu=abc", "true"], 'invalid value "abc" for flag -mtu: parse error'),
    (["--pidns=x", "true"], 'invalid boolean value "x" for -pidns: parse error'),
])
def test_flag_errors_match_go(impl, go, argv, message):
    ours, ref = run(impl.argv() + argv), run(go.argv() + argv)
    assert ours.returncode == ref.returncode == 1
    assert ours.stdout.startswith(f"Incorrect Usage: {message}\n\nNAME:\n")  # v3; Go 1.1.0 says "Incorrect Usage."
    assert ref.stdout.startswith("Incorrect Usage") and f" {message}\n\nNAME:\n" in ref.stdout
    assert ours.stderr.strip() == ref.stderr.strip() == f"[rootlesskit:parent] error: {message}"


def test_bool_flag_takes_value_only_with_equals(impl):
    # `--pidns true` makes `true` the command (Go flag rules)
    result = run(impl.argv() + ["--pidns", "true"])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("argv,message", [
    (["--mtu=-1"], "mtu must be <= 65521, got -1"),
    (["--net=none", "--cidr=10.0.3.0/24"], "custom cidr is not supported for --net=none"),
    (["--cidr=10.0.2.100/24"], "cidr must be like 10.0.2.0/24, not like 10.0.2.100/24"),
    (["--cidr=bogus"], "invalid CIDR address: bogus"),
    (["--ifname=a/b"], 'ifname must not contain "/"'),
    (["--net=host", "--ifname=eth9"], "ifname cannot be specified for --net=host"),
    (["--net=bogus"], "unknown network mode: bogus"),
    (["--port-driver=bogus"], "unknown port driver: bogus"),
    (["--source-ip-transparent-backend=ipfw"], 'unknown source IP transparent backend "ipfw" '
     "(--source-ip-transparent-backend): expected one of auto, nft, iptables"),
    (["-p", "127.0.0.1:8080:80/tcp"], 'port driver "none" does not support publishing ports'),
    (["--net=host", "--port-driver=builtin"], "port driver requires non-host network"),
    (["--evacuate-cgroup2=x", "--pidns"], "evacuate-cgroup2 requires --cgroupns"),
    (["--evacuate-cgroup2=x", "--cgroupns"], "evacuate-cgroup2 requires --pidns"),
])
def test_parent_validation_messages(impl, argv, message, tmp_path):
    stderr = refused(impl.argv() + argv + ["true"], tmp_path)
    assert stderr.strip().endswith(f"[rootlesskit:parent] error: {message}")


@pytest.mark.parametrize("argv,message", [
    (["--reaper=true"], "reaper requires --pidns"),
    (["--reaper=maybe"], "unknown reaper mode: maybe"),
    (["--copy-up-mode=overlay"], "unknown copy-up mode: overlay"),
    (["--propagation=rshared", "--copy-up=/etc"], "propagation rshared does not support copy-up driver tmpfs+symlink"),
])
def test_child_validation_messages(impl, go, argv, message):
    ours, ref = run(impl.argv() + argv + ["true"]), run(go.argv() + argv + ["true"])
    assert ours.returncode == ref.returncode == 1
    assert f"[rootlesskit:child ] error: {message}" in ours.stderr
    assert "[rootlesskit:parent] error: child exited: exit status 1" in ours.stderr
    assert f"[rootlesskit:child ] error: {message}" in ref.stderr


def test_mtu_warning_for_host(impl):
    result = run(impl.argv() + ["--mtu=1400", "true"])
    assert result.returncode == 0
    assert "unsupported mtu for --net=host: 1400" in result.stderr


def test_comma_separated_copy_up(impl):
    result = run(impl.argv() + ["--copy-up=/etc, /opt", "sh", "-c", "touch /etc/x /opt/y && echo ok"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
