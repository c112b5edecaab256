"""Host probes on prepared trees: conditions this machine cannot have (cgroup v2, AppArmor's
user-namespace restriction, a nested map, other users' subid ranges, NFS)."""

from __future__ import annotations

import os
import subprocess

import pytest

from rootlesskit_py.host import ERROR, WARNING, cgroup, netspeed, network, storage, subid, userns


def write(root, name: str, content: str) -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return str(path)


def test_cgroup_v2_reports_missing_delegation_and_prints_the_dropin(tmp_path):
    write(tmp_path, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
    write(tmp_path, "user.slice/user-1000.slice/user@1000.service/cgroup.controllers", "memory pids\n")
    [f] = cgroup.delegation(1000, str(tmp_path))
    assert (f.id, f.level) == ("cgroup-delegation", WARNING)
    assert "delegates memory pids to user@1000.service; cpu cpuset io are not delegated" in f.message
    assert "without cpu: --cpus, --cpu-shares, --cpu-period, --cpu-quota;" in f.why
    assert "without cpuset: --cpuset-cpus, --cpuset-mems;" in f.why
    assert "--memory" not in f.why and "--pids-limit" not in f.why
    assert "/etc/systemd/system/user@.service.d/delegate.conf" in f.fix
    assert "Delegate=cpu cpuset io memory pids" in f.fix


def test_cgroup_v2_names_only_the_options_the_missing_controllers_break(tmp_path):
    # Debian 13's default: user@.service delegates cpu memory pids (issue 23: the old text blamed all four)
    write(tmp_path, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
    write(tmp_path, "user.slice/user-1000.slice/user@1000.service/cgroup.controllers", "cpu memory pids\n")
    [f] = cgroup.delegation(1000, str(tmp_path))
    assert "; cpuset io are not delegated." in f.message
    assert f.why == ("Docker then refuses or ignores without cpuset: --cpuset-cpus, --cpuset-mems; without io: "
                     "--blkio-weight, --blkio-weight-device, --device-read-bps, --device-write-bps, "
                     "--device-read-iops, --device-write-iops.")


def test_cgroup_v2_controllers_the_kernel_lacks_or_no_user_manager_are_not_findings(tmp_path):
    write(tmp_path, "cgroup.controllers", "cpu memory pids\n")
    write(tmp_path, "user.slice/user-1000.slice/user@1000.service/cgroup.controllers", "cpu memory pids\n")
    assert cgroup.delegation(1000, str(tmp_path)) == []
    assert cgroup.delegation(1001, str(tmp_path)) == []


def test_cgroup_v2_fully_delegated_says_nothing(tmp_path):
    write(tmp_path, "cgroup.controllers", "cpu io memory pids\n")
    write(tmp_path, "user.slice/user-7.slice/user@7.service/cgroup.controllers", "cpuset cpu io memory pids\n")
    assert cgroup.delegation(7, str(tmp_path)) == []


def test_cgroup_v1_on_this_host():
    # this machine mounts v1 hierarchies under a tmpfs /sys/fs/cgroup
    [f] = cgroup.delegation(os.getuid())
    assert f.id == "cgroup-v1" and "no resource limits" in f.why


def test_apparmor_restriction_without_profile_prints_profile_and_parser(tmp_path):
    proc_sys = tmp_path / "sys"
    write(proc_sys, "kernel/apparmor_restrict_unprivileged_userns", "1\n")
    [f] = userns.apparmor_userns("/home/u/bin/rootlesskit", str(proc_sys), str(tmp_path / "none"), str(tmp_path / "none"))
    assert f.level == ERROR
    assert "profile home.u.bin.rootlesskit /home/u/bin/rootlesskit flags=(unconfined) {\n  userns,\n}" in f.fix
    assert f.fix.endswith("apparmor_parser -r /etc/apparmor.d/home.u.bin.rootlesskit")


def test_apparmor_profile_found_loaded_or_in_sources(tmp_path):
    proc_sys = tmp_path / "sys"
    write(proc_sys, "kernel/apparmor_restrict_unprivileged_userns", "1\n")
    write(tmp_path, "policy/rootlesskit.3/attach", "/usr/bin/rootlesskit\n")
    assert userns.apparmor_userns("/usr/bin/rootlesskit", str(proc_sys), str(tmp_path / "policy"), "/nonexistent") == []
    assert userns.apparmor_userns("/opt/rootlesskit", str(proc_sys), str(tmp_path / "policy"), "/nonexistent") != []
    _, text = userns.apparmor_profile("/opt/rootlesskit")
    write(tmp_path, "apparmor.d/opt.rootlesskit", text)
    assert userns.apparmor_userns("/opt/rootlesskit", str(proc_sys), "/nonexistent", str(tmp_path / "apparmor.d")) == []


def test_userns_sysctls(tmp_path):
    write(tmp_path, "kernel/unprivileged_userns_clone", "0\n")
    write(tmp_path, "user/max_user_namespaces", "0\n")
    found = {f.id: f for f in userns.userns_sysctls(str(tmp_path))}
    assert found["userns-clone"].level == ERROR
    assert "kernel.unprivileged_userns_clone = 1" in found["userns-clone"].fix
    assert "user.max_user_namespaces = 28633" in found["max-user-namespaces"].fix
    write(tmp_path, "user/max_user_namespaces", "100\n")
    write(tmp_path, "kernel/unprivileged_userns_clone", "1\n")
    [f] = userns.userns_sysctls(str(tmp_path))
    assert f.level == WARNING and "may be low" in f.message


def test_nested_small_map(tmp_path):
    write(tmp_path, "uid_map", "         0       1000          1\n         1     100000      65535\n")
    write(tmp_path, "gid_map", "         0          0 4294967295\n")
    [f] = userns.nested_map(str(tmp_path))
    assert f.id == "nested-uid-map" and "holds 65536 ids" in f.message and f.level == ERROR
    write(tmp_path, "uid_map", "0 1000 1\n1 100000 65536\n1000000 2000000 1\n")
    assert userns.nested_map(str(tmp_path)) == []


def test_nested_map_of_this_process_is_the_initial_one():
    assert userns.nested_map() == []


def test_subid_missing_small_overlap_by_name_or_uid(tmp_path):
    write(tmp_path, "subuid", "alice:100000:65536\nbob:165536:65536\n")
    write(tmp_path, "subgid", "1003:100000:1000\nalice:100000:65536\n")
    found = {f.id: f for f in subid.subid_ranges("carol", 1003, str(tmp_path))}
    assert found["subuid-missing"].fix == "usermod --add-subuids 231072-296607 carol"
    assert found["subgid-small"].level == ERROR and "1000 ids" in found["subgid-small"].message
    assert "overlaps alice's range 100000-165535" in found["subgid-overlap"].message
    assert subid.subid_ranges("bob", 1002, str(tmp_path))[0].id == "subgid-missing"


def test_ping_range_and_low_ports(tmp_path):
    write(tmp_path, "net/ipv4/ping_group_range", "1\t0\n")
    write(tmp_path, "net/ipv4/ip_unprivileged_port_start", "1024\n")
    [f] = network.ping_range([1001], str(tmp_path))
    assert "net.ipv4.ping_group_range = 0 2147483647" in f.fix
    [f] = network.unprivileged_ports("/usr/bin/rootlesskit", str(tmp_path))
    assert "net.ipv4.ip_unprivileged_port_start = 0" in f.fix
    assert "setcap cap_net_bind_service=ep /usr/bin/rootlesskit" in f.fix
    write(tmp_path, "net/ipv4/ping_group_range", "0\t2147483647\n")
    assert network.ping_range([1001], str(tmp_path)) == []


def test_iptables_modules_fallback(tmp_path):
    write(tmp_path, "proc/modules", "nf_tables 2 - Live 0x0\n")
    assert network.iptables_modules("/usr/sbin/iptables", "6.1", str(tmp_path / "proc"), str(tmp_path / "lib")) == []
    write(tmp_path, "proc/modules", "veth 1 - Live 0x0\n")
    [f] = network.iptables_modules("/usr/sbin/iptables", "6.1", str(tmp_path / "proc"), str(tmp_path / "lib"))
    assert f.fix == "modprobe nf_tables"
    # neither list exists (modules built in, as on this machine): no claim either way
    assert network.iptables_modules("/usr/sbin/iptables", "6.1", str(tmp_path / "x"), str(tmp_path / "y")) == []


def test_data_root_on_nfs_and_overlay(tmp_path):
    mountinfo = write(tmp_path, "mountinfo",
                      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                      "40 22 0:50 / /home rw - nfs4 srv:/home rw\n"
                      "41 40 0:51 / /home/u/.local rw - overlay overlay rw\n")
    f = storage.data_root_fs("/home/x/.local/share/docker", mountinfo)[0]
    assert f.level == ERROR and "nfs4 (/home)" in f.message and "data-root" in f.fix
    f = storage.data_root_fs("/home/u/.local/share/docker", mountinfo)[0]
    assert f.level == WARNING and ("vfs" in f.why or "fuse-overlayfs" in f.why)
    assert storage.data_root_fs("/var/lib/docker", mountinfo) == []


def test_data_root_from_daemon_json(tmp_path):
    write(tmp_path, "docker/daemon.json", '{"data-root": "/srv/docker"}')
    assert storage.data_root("/home/u", str(tmp_path)) == "/srv/docker"
    assert storage.data_root("/home/u", str(tmp_path / "none")) == "/home/u/.local/share/docker"


def test_unit_file_passes_systemd_analyze_verify(tmp_path):
    from rootlesskit_py.docker.setuptool import Setup

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "dockerd-rootless.sh").write_text("#!/bin/sh\n")
    (bindir / "dockerd-rootless.sh").chmod(0o755)
    setup = Setup("dockerd-rootless-setuptool.sh", False, False, False)
    setup.bin, setup.flags = str(bindir), " --iptables=false"
    text = setup.unit_text()
    assert f"ExecStart={bindir}/dockerd-rootless.sh  --iptables=false\n" in text
    assert "ExecReload=/bin/kill -s HUP $MAINPID\n" in text
    unit = tmp_path / "docker.service"
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "--user", "verify", str(unit)], capture_output=True, text=True,
                            env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning", "XDG_RUNTIME_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "docker.service" not in result.stderr, result.stderr


def test_subids_from_getsubids_when_nsswitch_names_a_service(tmp_path):
    """With `subid: sss` the files need not list the user: getsubids (the host's real one, which
    answers from this machine's files) is asked instead."""
    import pwd

    name = pwd.getpwuid(os.getuid()).pw_name
    write(tmp_path, "subuid", "")
    write(tmp_path, "subgid", "")
    assert {f.id for f in subid.subid_ranges(name, os.getuid(), str(tmp_path))} == {"subuid-missing", "subgid-missing"}
    write(tmp_path, "nsswitch.conf", "passwd: files\nsubid:   sss   # from the directory\n")
    assert subid.subid_ranges(name, os.getuid(), str(tmp_path)) == []
    write(tmp_path, "nsswitch.conf", "subid:sss\n")  # no blank after the colon: still the service
    assert subid.subid_ranges(name, os.getuid(), str(tmp_path)) == []


def test_user_manager_on_a_prepared_systemd_host(tmp_path):
    from rootlesskit_py.host import session

    (tmp_path / "run/systemd/system").mkdir(parents=True)
    found = {f.id: f for f in session.user_manager("alice", 1000, False, {"SUDO_USER": "root"}, str(tmp_path))}
    assert set(found) == {"systemd-user-session", "linger", "dbus-user-session"}
    assert "came through su or sudo" in found["systemd-user-session"].message
    assert found["systemd-user-session"].fix.startswith("machinectl shell alice@")
    assert found["dbus-user-session"].fix == "apt-get install -y dbus-user-session"
    # su inside root's own session (issue 23's VM): root's runtime directory is kept
    [found] = [f for f in session.user_manager("alice", 1000, False, {"XDG_RUNTIME_DIR": "/run/user/0"}, str(tmp_path))
               if f.id == "systemd-user-session"]
    assert "came through su or sudo" in found.message
    assert not session.came_through_su({"XDG_RUNTIME_DIR": "/run/user/1000"}, 1000, str(tmp_path))
    write(tmp_path, "var/lib/systemd/linger/alice", "")
    write(tmp_path, "usr/lib/systemd/user/dbus.socket", "[Socket]\n")
    assert session.user_manager("alice", 1000, True, {}, str(tmp_path)) == []
    # not a systemd host: nothing to say about user managers
    assert session.user_manager("alice", 1000, False, {}, str(tmp_path / "none")) == []


def test_user_bus_that_does_not_answer_is_a_finding_with_its_fix(tmp_path):
    """A stopped dbus.socket leaves its socket file: only a connection tells (issue 23's "no user D-Bus")."""
    import socket

    from rootlesskit_py.host import session

    runtime = tmp_path / "run-user"
    runtime.mkdir()
    env = {"HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(runtime)}
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(runtime / "bus"))  # a socket file nobody listens on
    [found] = session.user_bus(env, str(tmp_path))
    assert (found.id, found.level, found.as_root) == ("dbus-user-bus", "warning", False)
    assert found.message == f"The user D-Bus is not running: nothing answers on {runtime}/bus."
    assert found.fix == "systemctl --user start dbus.socket"
    # masked in the user's own configuration: docker.service cannot start
    (tmp_path / "home/.config/systemd/user").mkdir(parents=True)
    (tmp_path / "home/.config/systemd/user/dbus.socket").symlink_to("/dev/null")
    [found] = session.user_bus(env, str(tmp_path))
    assert found.level == "error" and "masked" in found.message
    assert found.fix == "systemctl --user unmask dbus.socket && systemctl --user start dbus.socket"
    # DBUS_SESSION_BUS_ADDRESS names where to look, before XDG_RUNTIME_DIR
    with socket.socket(socket.AF_UNIX) as bus:
        bus.bind(str(tmp_path / "other-bus"))
        bus.listen(1)
        address = f"unix:path={tmp_path}/other-bus,guid=0123"
        assert session.user_bus({**env, "DBUS_SESSION_BUS_ADDRESS": address}, str(tmp_path)) == []
    # nowhere to look (no XDG_RUNTIME_DIR: its own finding says so)
    assert session.user_bus({"HOME": env["HOME"]}, str(tmp_path)) == []


@pytest.mark.parametrize("release, old, no_driver", [("2023_03_09", True, True), ("2023_10_01", True, False),
                                                     ("2025_05_03", False, False)])
def test_a_pasta_rootlesskit_accepts_counts_as_a_network_driver(tmp_path, release, old, no_driver):
    """The check's error "no network driver" means what rootlesskit means: a pasta from 2023_06_25
    on is one (dockerd-rootless.sh would use it); before 2023_12_04 it is still worth a warning."""
    pasta = tmp_path / "pasta"
    pasta.write_text(f"#!/bin/sh\necho 'pasta {release}.0123abc'\n")
    pasta.chmod(0o755)
    found = {f.id: f for f in network.network_drivers([str(tmp_path)], network.choose_network([str(tmp_path)]))}
    assert ("pasta-old" in found, "network-driver" in found) == (old, no_driver), found


@pytest.mark.parametrize("net, mtu, warned", [("pasta", 1500, True), ("pasta", 9000, True), ("pasta", 65520, False),
                                              ("pasta", 0, False), ("slirp4netns", 1500, False), ("", 1500, False)])
def test_pasta_below_65520_is_named_slower_than_slirp4netns(tmp_path, net, mtu, warned):
    """The check names the faster stack, with the variable that switches to it, when pasta is the
    one dockerd-rootless.sh will use at an MTU where pasta is several times slower than slirp4netns
    (0 is dockerd-rootless.sh's default, 65520; with no ..._NET it picks slirp4netns when it works)."""
    for name, text in (("pasta", "echo 'pasta 2025_05_03.587980c'"), ("slirp4netns", "echo '  --netns-type=TYPE'")):
        (tmp_path / name).write_text(f"#!/bin/sh\n{text}\n")
        (tmp_path / name).chmod(0o755)
    found = {f.id: f for f in network.network_drivers([str(tmp_path)], network.choose_network([str(tmp_path)]), net, mtu)}
    assert ("pasta-mtu" in found) == warned, found
    if warned:
        finding = found["pasta-mtu"]
        assert finding.level == "warning" and not finding.as_root
        assert finding.message == f"pasta is configured with MTU {mtu} (DOCKERD_ROOTLESS_ROOTLESSKIT_MTU)."
        assert finding.fix.splitlines() == ["export DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520",
                                            f"# or the stack that is faster at MTU {mtu}:",
                                            "export DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns"]


def test_pasta_below_65520_without_slirp4netns_only_names_the_mtu(tmp_path):
    pasta = tmp_path / "pasta"
    pasta.write_text("#!/bin/sh\necho 'pasta 2025_05_03.587980c'\n")
    pasta.chmod(0o755)
    found = {f.id: f for f in network.network_drivers([str(tmp_path)], network.choose_network([str(tmp_path)]), "", 1500)}
    assert found["pasta-mtu"].fix == "export DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520"


@pytest.mark.parametrize("configured, other, named", [
    ((0.26, 18.3), (8.7, 11.4), True),     # pasta out of the namespace here: slirp4netns 33x faster, 0.6x in
    ((2.16, 23.6), (11.3, 14.2), True),    # 5.2x out, 0.6x in
    ((8.2, 12.1), (24.8, 16.3), True),     # 3.02x out, 1.3x in: pasta's out when it does not stall
    ((8.2, 12.1), (24.0, 16.3), False),    # 2.9x out, 1.3x in: not much faster
    ((10.0, 1.0), (30.0, 0.4), False),     # 3x out, but 0.4x in: a switch would trade one for the other
    ((1.0, 0.0), (1.0, 0.5), True),        # nothing came in at all
])
def test_the_check_names_a_stack_much_faster_one_way_and_not_much_slower_the_other(configured, other, named):
    """host/netspeed.py's rule for the `network-slow` finding, on figures of the kind measured here."""
    mine = netspeed.StackSpeed("pasta", 65520, *configured)
    theirs = netspeed.StackSpeed("slirp4netns", 65520, *other)
    found = netspeed.slower_stack("pasta", [mine, theirs])
    assert bool(found) == named, found
    if named:
        (finding,) = found
        assert (finding.id, finding.level, finding.as_root) == ("network-slow", WARNING, False)
        assert finding.fix == "export DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns"
        assert finding.message == (
            f"On this host, containers' own traffic through pasta (MTU 65520) moved {configured[0]:.2f} Gbit/s out "
            f"and {configured[1]:.2f} in; slirp4netns (MTU 65520) moved {other[0]:.2f} Gbit/s out and "
            f"{other[1]:.2f} in (measured just now, through each to the host's loopback).")
