"""dockerd-rootless-setuptool.sh against this machine: its CLI and messages as upstream's, `check`
on the real host, each host condition made real (in private namespaces, through the root helper,
so that nothing outside the one test changes), install/uninstall without systemd with a real
docker CLI, and nsenter into a running rootlesskit.

Cost: about 10 s in all (the namespace probe is ~50 ms a run).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time

import pytest

from conftest import BIN_DIR, DEBIAN_12_PASTA, DEBIAN_PASTAS, REPO, ROOT_HELPER, engine_file, run
from portutil import terminate

NAME = "dockerd-rootless-setuptool.sh"
INFO, WARN, ERR = ("\x1b[104m\x1b[97m[INFO]\x1b[49m\x1b[39m ", "\x1b[101m\x1b[97m[WARNING]\x1b[49m\x1b[39m ",
                   "\x1b[101m\x1b[97m[ERROR]\x1b[49m\x1b[39m ")
UPSTREAM = "/usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh"


@pytest.fixture
def env(tmp_path):
    """A private HOME, XDG_RUNTIME_DIR and docker CLI config; PATH finds our programs first and the
    docker CLI where the distribution put it."""
    for d in ("home", "xdg", "dockercfg"):
        (tmp_path / d).mkdir(mode=0o700)
    return {"HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": str(tmp_path / "xdg"),
            "DOCKER_CONFIG": str(tmp_path / "dockercfg"), "LANG": "C.UTF-8", "USER": os.environ["USER"],
            "PATH": f"{BIN_DIR}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "RKPY_TEST_SESSION": os.environ["RKPY_TEST_SESSION"]}


def tool(impl, env, *args: str) -> subprocess.CompletedProcess:
    return run(impl.argv(NAME) + list(args), env=env)


def test_usage_and_command_errors(impl, env):
    result = tool(impl, env, "--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage: ") and lines[0].endswith(f"{NAME} [OPTIONS] COMMAND")
    assert "  -f, --force                Ignore rootful Docker (/var/run/docker.sock)" in lines
    assert "  nsenter      Enter into RootlessKit namespaces (mostly for debugging)" in lines
    result = tool(impl, env)
    assert result.returncode == 1
    assert result.stderr.startswith(ERR + "No command was specified. Run with --help to see the usage. Maybe you want to run `")
    result = tool(impl, env, "frobnicate")
    assert (result.returncode, result.stderr) == (1, ERR + "Unknown command: frobnicate. Run with --help to see the usage.\n")
    result = tool(impl, env, "--bogus", "check")
    assert result.returncode == 1
    assert result.stderr.endswith(f": unrecognized option '--bogus'\n") and result.stdout.startswith("Usage: ")
    # GNU getopt: options anywhere, long options abbreviated
    assert tool(impl, env, "check", "--forc", "--skip-ipt").returncode == 0


def test_check_on_this_host_passes_where_upstream_fails(impl, env):
    """This kernel has its modules built in and no /proc/modules: upstream's check demands a
    `modprobe ip_tables` that cannot help; ours runs iptables in a rootlesskit namespace instead."""
    upstream = run(["sh", UPSTREAM, "check"], env={**env, "PATH": f"{BIN_DIR}:/usr/bin:/bin:/usr/sbin:/sbin"})
    assert upstream.returncode == 1 and "modprobe ip_tables" in upstream.stdout
    result = tool(impl, env, "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (INFO + "Network: slirp4netns (/usr/bin/slirp4netns): slirp4netns (>= v0.4.0) is "
                             "installed, and comes first\n" + INFO + "Requirements are satisfied\n")
    assert "modprobe" not in result.stdout + result.stderr
    # the real conditions of this host, each a warning with its fix
    assert WARN + "The host uses cgroup v1." in result.stderr
    assert WARN + "net.ipv4.ping_group_range (1 0) excludes the user's groups" in result.stderr
    findings = json.loads(tool(impl, env, "check", "--json").stdout)
    assert all(set(f) == {"id", "level", "message", "fix"} for f in findings)
    ids = {f["id"]: f for f in findings}
    assert {"cgroup-v1", "ping-group-range", "unprivileged-port-start"} <= set(ids)
    assert all(f["level"] == "warning" for f in findings)
    assert f"setcap cap_net_bind_service=ep {os.path.realpath(BIN_DIR / 'rootlesskit')}" in ids["unprivileged-port-start"]["fix"]


def test_check_names_slirp4netns_when_pasta_is_configured_below_65520(impl, env, current_pasta):
    """pasta at MTU 1500 is several times slower than slirp4netns (bench/network.py, upstream's CI):
    check says so, with the variable for each way out; at its default MTU it says nothing. Both
    stacks are usable here, so check also times them on this host (host/netspeed.py): at 1500,
    pasta sends 0.002-0.04 Gbit/s out of the namespace here, and slirp4netns is named."""
    env = {**env, "PATH": f"{os.path.dirname(current_pasta)}:{env['PATH']}",
           "DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "pasta", "DOCKERD_ROOTLESS_ROOTLESSKIT_MTU": "1500"}
    started = time.monotonic()
    result = tool(impl, env, "check")
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert (WARN + "pasta is configured with MTU 1500 (DOCKERD_ROOTLESS_ROOTLESSKIT_MTU). Below 65520 pasta is "
            "several times slower than slirp4netns") in result.stderr
    assert "export DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns" in result.stderr
    assert WARN + "On this host, containers' own traffic through pasta (MTU 1500) moved " in result.stderr
    assert (INFO + "Network speed to the host, measured now: pasta (MTU 1500) moved ") in result.stdout
    assert "; slirp4netns (MTU 1500) moved " in result.stdout
    assert took < 5, took  # two stacks timed: about 1.3 s here
    ids = {f["id"]: f for f in json.loads(tool(impl, env, "check", "--json").stdout)}
    assert ids["pasta-mtu"]["level"] == "warning"
    assert ids["pasta-mtu"]["fix"].splitlines()[0] == "export DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520"
    slow = ids["network-slow"]
    assert (slow["level"], slow["fix"]) == ("warning", "export DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns")
    assert "; slirp4netns (MTU 1500) moved " in slow["message"]
    # nothing of the measurement stays behind (the session's leftover check covers the processes)
    assert not [name for name in os.listdir(tempfile.gettempdir()) if name.startswith("rootlesskit-netspeed-")]
    del env["DOCKERD_ROOTLESS_ROOTLESSKIT_MTU"]
    assert "pasta-mtu" not in {f["id"] for f in json.loads(tool(impl, env, "check", "--json").stdout)}


def test_the_stacks_check_would_time_are_the_ones_dockerd_rootless_sh_would_run(current_pasta):
    """Debian 12's pasta, first on PATH here, is one rootlesskit refuses: with it slirp4netns is the
    only stack, so check times nothing (compare_stacks needs two). A current pasta makes two."""
    from rootlesskit_py.host import netspeed, network

    system = ["/usr/local/bin", "/usr/bin", "/bin"]
    stacks = netspeed.usable_stacks(system, network.choose_network(system))
    assert stacks == {"slirp4netns": "/usr/bin/slirp4netns"}
    assert netspeed.compare_stacks(str(BIN_DIR / "rootlesskit"), stacks, "slirp4netns", 65520) == []
    with_current = [os.path.dirname(current_pasta), *system]
    assert netspeed.usable_stacks(with_current, network.choose_network(with_current)) == {
        "slirp4netns": "/usr/bin/slirp4netns", "pasta": current_pasta}


def scenario(name: str, *args: str) -> subprocess.CompletedProcess:
    return run(["sudo", "-n", ROOT_HELPER, "setuptool-in", name, str(BIN_DIR), *args])


def findings_in(name: str) -> tuple[int, dict[str, dict]]:
    return findings_in_args(name, "check", "--json")


def findings_in_args(name: str, *args: str) -> tuple[int, dict[str, dict]]:
    result = scenario(name, *args)
    return result.returncode, {f["id"]: f for f in json.loads(result.stdout)}


USER = os.environ.get("USER", "")


@pytest.mark.parametrize("name, finding, level, fix", [
    ("tun-0600", "tun-access", "error", "chmod 0666 /dev/net/tun"),
    ("tun-missing", "tun-missing", "error", "mknod /dev/net/tun c 10 200"),
    ("no-subuid", "subuid-missing", "error", f"usermod --add-subuids "),
    ("small-subuid", "subuid-small", "error", "usermod --add-subuids "),
    ("overlap-subuid", "subuid-overlap", "warning", "sed -i "),
    ("newuidmap-plain", "newuidmap-privilege", "error", "chmod u+s /usr/bin/newuidmap"),
    ("data-on-overlay", "data-root-fs", "warning", '{"data-root": '),
    ("no-network-driver", "network-driver", "error", "apt-get install -y slirp4netns"),
    ("no-iptables", "iptables", "error", "apt-get install -y iptables"),
    ("iptables-fails", "iptables", "error", "--skip-iptables"),
])
def test_each_condition_made_real(binary, name, finding, level, fix):
    # the overlay is mounted (in the private mount namespace only) on the data root's parent
    os.makedirs(os.path.expanduser("~/.local/share"), exist_ok=True)
    code, found = findings_in(name)
    assert finding in found, found
    assert found[finding]["level"] == level and fix in found[finding]["fix"], found[finding]
    assert code == (1 if level == "error" else 0)


def test_no_network_helper_installed_means_the_bundled_pasta(binary, bundled_pasta):
    """slirp4netns, pasta and vpnkit all absent: not an error for the release, whose own pasta is the
    network (where upstream's script falls back to gvisor-tap-vsock); `check` says which and why."""
    code, found = findings_in("only-bundled-pasta")
    assert "network-driver" not in found and "pasta-old" not in found, found
    result = scenario("only-bundled-pasta", "check")
    assert (INFO + f"Network: pasta ({bundled_pasta}): none of slirp4netns, pasta and vpnkit is installed, so the "
            "pasta shipped with rootlesskit-py (where upstream falls back to gvisor-tap-vsock)\n") in result.stdout
    assert result.returncode == code == 0, result.stdout + result.stderr


def test_network_named_by_the_variable(impl, env):
    result = tool(impl, {**env, "DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "vpnkit"}, "check")
    assert INFO + "Network: vpnkit, as DOCKERD_ROOTLESS_ROOTLESSKIT_NET says\n" in result.stdout


def test_subuid_fix_names_the_user_and_a_free_range(binary):
    result = scenario("no-subuid", "check")
    assert result.returncode == 1
    block = result.stdout.split("########## BEGIN ##########\nsudo sh -eux <<EOF\n", 1)[1].split("\nEOF\n########## END ##########\n")[0]
    assert f"# /etc/subuid has no entry for {USER} (uid {os.getuid()})." in block.splitlines()
    fix = next(line for line in block.splitlines() if line.startswith("usermod --add-subuids"))
    start, end = (int(v) for v in fix.split()[2].split("-"))
    assert end - start + 1 == 65536 and fix.endswith(f" {USER}")
    with open("/etc/subuid") as f:  # the host's file, unchanged: the suggested range is free in it
        for line in f:
            owner, s, c = line.strip().split(":")
            if owner != USER:
                assert start >= int(s) + int(c) or end < int(s)
    assert ERR + "Missing system requirements. Run the following commands to\n" in result.stderr


def test_rootlesskit_with_bind_capability_can_publish_low_ports(impl, env, tmp_path):
    """`setcap cap_net_bind_service=ep` on the rootlesskit found on PATH is the documented alternative
    to the sysctl: then the low-ports finding goes away."""
    kit = tmp_path / "capbin" / "rootlesskit"
    (tmp_path / "capbin").mkdir()
    assert run(["sudo", "-n", ROOT_HELPER, "setcap-copy", str(BIN_DIR / "rootlesskit"), str(kit)]).returncode == 0
    try:
        env = {**env, "PATH": f"{kit.parent}:{env['PATH']}"}
        findings = {f["id"] for f in json.loads(tool(impl, env, "check", "--json").stdout)}
        assert "unprivileged-port-start" not in findings
    finally:
        run(["sudo", "-n", ROOT_HELPER, "remove", str(kit)])
    findings = {f["id"] for f in json.loads(tool(impl, env, "check", "--json").stdout)}
    assert "unprivileged-port-start" in findings


def test_iptables_problems_skipped_on_request(binary):
    for name, message in (("no-iptables", "iptables is not installed."),
                          ("iptables-fails", "fails inside a rootlesskit namespace")):
        code, found = findings_in(name)
        assert code == 1 and found["iptables"]["level"] == "error", found
        assert message in found["iptables"]["message"], found["iptables"]
        assert "iptables false" in found["iptables"]["fix"].replace('"', "").replace(":", "")
        result = scenario(name, "check", "--skip-iptables", "--json")
        assert result.returncode == 0 and "iptables" not in {f["id"] for f in json.loads(result.stdout)}
    result = scenario("no-iptables", "check")
    assert ERR + "Alternatively iptables checks can be disabled with --skip-iptables .\n" in result.stderr


def test_rootful_socket(binary):
    result = scenario("rootful-sock", "check")
    assert result.returncode == 1
    assert result.stderr == (ERR + "Aborting because rootful Docker (/var/run/docker.sock) is running and accessible. "
                             "Set --force to ignore.\n")
    code, found = findings_in_args("rootful-sock", "check", "--force", "--json")
    assert code == 0 and found["rootful-docker"]["level"] == "warning", found
    assert "/var/run/docker.sock exists and DOCKER_HOST is unset" in found["rootful-docker"]["message"]
    assert "docker context use rootless" in found["rootful-docker"]["fix"]


def test_nested_user_namespace_with_a_small_map(impl, env):
    """Inside a user namespace that maps only the user's own id, a nested rootless Docker has no room."""
    uid, gid = os.getuid(), os.getgid()
    result = run(["unshare", "--user", f"--map-user={uid}", f"--map-group={gid}", *impl.argv(NAME), "check", "--json"],
                 env=env)
    found = {f["id"]: f for f in json.loads(result.stdout)}
    assert result.returncode == 1
    assert "holds 1 ids" in found["nested-uid-map"]["message"] and found["nested-uid-map"]["level"] == "error"


def test_runtime_dir_problems(impl, env, tmp_path):
    ids = lambda e: {f["id"]: f for f in json.loads(tool(impl, e, "check", "--json").stdout)}  # noqa: E731
    found = ids(env)  # the fixture's directory is under /tmp
    assert "under /tmp" in found["xdg-runtime-dir-tmp"]["message"]
    os.chmod(env["XDG_RUNTIME_DIR"], 0o755)
    assert ids(env)["xdg-runtime-dir-mode"]["fix"] == f"chmod 0700 {env['XDG_RUNTIME_DIR']}"
    result = tool(impl, {**env, "XDG_RUNTIME_DIR": "/run"}, "check", "--json")
    found = {f["id"]: f for f in json.loads(result.stdout)}
    assert result.returncode == 1 and found["xdg-runtime-dir"]["level"] == "error"
    regular_file = tmp_path / "not-a-dir"
    regular_file.write_text("")
    result = tool(impl, {**env, "XDG_RUNTIME_DIR": str(regular_file)}, "check", "--json")
    found = {f["id"]: f for f in json.loads(result.stdout)}
    assert result.returncode == 1 and found["xdg-runtime-dir"]["message"] == f"XDG_RUNTIME_DIR ({regular_file}) is not a directory. The daemon's socket and rootlesskit's state directory are created in it.", found
    result = tool(impl, {**env, "HOME": str(tmp_path / "missing")}, "check")
    assert (result.returncode, result.stderr) == (1, ERR + "HOME needs to be set\n")


def test_ping_and_low_ports_open_say_nothing(binary):
    code, found = findings_in("ping-all")
    assert code == 0 and "ping-group-range" not in found and "unprivileged-port-start" not in found


def test_root_is_refused(binary):
    result = scenario("as-root", "check")
    assert (result.returncode, result.stderr) == (1, ERR + "Refusing to install rootless Docker as the root user\n")


def test_install_and_uninstall_without_systemd(impl, env):
    result = tool(impl, env, "install")
    assert result.returncode == 0, result.stderr
    xdg, home = env["XDG_RUNTIME_DIR"], env["HOME"]
    out = result.stdout
    assert (INFO + "systemd not detected, dockerd-rootless.sh needs to be started manually:\n\n"
            f"PATH={BIN_DIR}:/sbin:/usr/sbin:$PATH dockerd-rootless.sh \n\n") in out
    assert INFO + 'Creating CLI context "rootless"\n' + INFO + 'Using CLI context "rootless"\n' in out
    assert 'Successfully created context "rootless"' in result.stderr
    assert out.endswith("\n" + INFO + "Make sure the following environment variable(s) are set (or add them to ~/.bashrc):\n"
                        f"export PATH={BIN_DIR}:$PATH\n\n"
                        + INFO + "Some applications may require the following environment variable too:\n"
                        f"export DOCKER_HOST=unix://{xdg}/docker.sock\n\n")
    ctx = run(["docker", "context", "inspect", "-f", "{{.Name}} {{.Endpoints.docker.Host}}", "rootless"], env=env)
    assert ctx.stdout.strip() == f"rootless unix://{xdg}/docker.sock"
    assert run(["docker", "context", "inspect", "-f", "{{.Name}}"], env=env).stdout.strip() == "rootless"
    again = tool(impl, env, "install")
    assert INFO + 'CLI context "rootless" already exists\n' in again.stdout

    result = tool(impl, env, "uninstall")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        INFO + "systemd not detected, dockerd-rootless.sh needs to be stopped manually:\n"
        + INFO + 'Deleted CLI context "rootless"\n' + INFO + 'Configured CLI to use the "default" context.\n' + INFO + "\n"
        + INFO + "Make sure to unset or update the environment PATH, DOCKER_HOST, and DOCKER_CONTEXT environment variables if you have added them to `~/.bashrc`.\n"
        + INFO + "This uninstallation tool does NOT remove Docker binaries and data.\n"
        + INFO + f"To remove data, run: `{BIN_DIR}/rootlesskit rm -rf {home}/.local/share/docker`\n")
    assert run(["docker", "context", "inspect", "-f", "{{.Name}}"], env=env).stdout.strip() == "default"
    assert run(["docker", "context", "inspect", "rootless"], env=env).returncode != 0


def test_install_without_runtime_dir_creates_one(impl, env):
    env = {k: v for k, v in env.items() if k != "XDG_RUNTIME_DIR"}
    result = tool(impl, env, "install")
    assert result.returncode == 0, result.stderr
    xdg = os.path.join(env["HOME"], ".docker/run")
    assert os.stat(xdg).st_mode & 0o777 == 0o700
    assert ("# WARNING: systemd not found. You have to remove XDG_RUNTIME_DIR manually on every logout.\n"
            f"export XDG_RUNTIME_DIR={xdg}\n") in result.stdout


def test_nsenter_enters_the_running_namespaces(impl, env, tmp_path):
    state = tmp_path / "xdg" / "dockerd-rootless"
    kit = subprocess.Popen([str(BIN_DIR / "rootlesskit"), f"--state-dir={state}", "--net=none",
                            "--copy-up=/etc", "sleep", "60"], env=env, start_new_session=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not (state / "child_pid").exists():
            assert kit.poll() is None and time.monotonic() < deadline, kit.stderr.read()
            time.sleep(0.05)
        pid = (state / "child_pid").read_text().strip()
        result = tool(impl, env, "nsenter", "--", "sh", "-c", "id -u; readlink /proc/self/ns/mnt /proc/self/ns/net; pwd")
        assert result.returncode == 0, result.stderr
        uid, mnt, net, cwd = result.stdout.split()
        assert uid == "0"
        assert mnt == os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        assert net == os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
        assert cwd == str(REPO)  # --wd: the caller's directory
    finally:
        terminate(kit, 5)


def test_nsenter_without_a_daemon(impl, env):
    result = tool(impl, env, "nsenter")
    assert result.returncode == 1
    assert result.stderr.startswith(ERR + f"Cannot read {env['XDG_RUNTIME_DIR']}/dockerd-rootless/child_pid")


@pytest.mark.parametrize("which", ["debian-12", "trixie", "sid"])
def test_check_judges_a_pasta_as_rootlesskit_does(impl, env, which):
    """One judgement for both programs, on the pastas Debian ships: Debian 12's ("unknown version") is
    refused by rootlesskit and reported by the check with this host's fix (bookworm has no newer passt,
    not even in bookworm-backports: slirp4netns); trixie's and sid's print Debian's package version
    (0.0~git20250503.587980c-2+deb13u1), which both accept. The version is read on a terminal: a
    current pasta writes nothing for --version into a pipe or file."""
    pasta = DEBIAN_12_PASTA if which == "debian-12" else engine_file(DEBIAN_PASTAS[which])
    env = {**env, "PATH": f"{os.path.dirname(pasta)}:{env['PATH']}"}
    found = {f["id"]: f for f in json.loads(tool(impl, env, "check", "--json").stdout)}
    kit = run(impl.argv() + ["--net=pasta", "--disable-host-loopback", "true"], env=env)
    if which == "debian-12":
        assert kit.returncode == 1 and "pasta is too old or does not report its version" in kit.stderr, kit.stderr
        assert f"{pasta} is refused by rootlesskit (pasta unknown version)" in found["pasta-old"]["message"], found
        assert found["pasta-old"]["fix"].endswith("\napt-get install -y slirp4netns")
        assert "backports passt" not in found["pasta-old"]["fix"]
        assert "network-driver" not in found  # slirp4netns is installed
    else:
        assert kit.returncode == 0, kit.stderr
        assert "pasta-old" not in found, found["pasta-old"]
