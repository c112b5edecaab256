"""dockerd-rootless.sh's parent phase against the engine's own upstream script (sid's 28.x copy):
the same rootlesskit command line for the same environment, and the same message for each bad
variable. The rootlesskit on PATH here records the command line it was given and exits, so both
scripts stop right at the exec; everything before it is the real programs."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import time

import pytest

from conftest import BIN_DIR, ENGINE_CACHE, engine_file, run

RECORDER = '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$RECORD"\n'


@pytest.fixture
def upstream() -> list[str]:
    """moby's v28.5 contrib script (the newest packaged), run by Debian's /bin/sh (dash)."""
    engine_file("sid/root/usr/sbin/dockerd")
    return ["/bin/sh", str(ENGINE_CACHE / "sid/root/usr/share/docker.io/contrib/dockerd-rootless.sh")]


class Sandbox:
    """A HOME, an XDG_RUNTIME_DIR and a PATH whose rootlesskit is the recorder."""

    def __init__(self, tmp_path) -> None:
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        (self.bin / "rootlesskit").write_text(RECORDER)
        (self.bin / "rootlesskit").chmod(0o755)
        self.record = tmp_path / "record"
        for d in ("xdg", "home"):
            (tmp_path / d).mkdir(mode=0o700)
        self.env = {"PATH": f"{self.bin}:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(tmp_path / "home"),
                    "XDG_RUNTIME_DIR": str(tmp_path / "xdg"), "RECORD": str(self.record),
                    "DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS": "false"}

    def run(self, argv: list[str], env: dict[str, str] | None = None, args: list[str] = ()):
        if self.record.exists():
            self.record.unlink()
        result = run(argv + list(args), env={**self.env, **(env or {})})
        recorded = self.record.read_text().split("\n")[:-1] if self.record.exists() else None
        return result, recorded


ENVIRONMENTS = [
    {},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "slirp4netns"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "pasta"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "vpnkit", "DOCKERD_ROOTLESS_ROOTLESSKIT_MTU": "9000"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "lxc-user-nic", "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER": "slirp4netns"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER": "slirp4netns", "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX": "true",
     "DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SECCOMP": ""},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK": "false"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_DISABLE_HOST_LOOPBACK": "0"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_STATE_DIR": "/tmp/elsewhere"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS": "-p 0.0.0.0:2376:2376/tcp  --debug\t--cidr=10.0.9.0/24"},
    {"DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS": "--copy-up=/nonexistent-glob-*"},
]


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda e: ",".join(f"{k[28:] or k}={v}" for k, v in e.items()) or "default")
def test_same_rootlesskit_command_line_as_upstream(impl, upstream, tmp_path, env):
    box = Sandbox(tmp_path)
    args = ["--debug", "-H", "unix:///x y.sock", "--data-root=/d"]
    theirs, their_line = box.run(upstream, env, args)
    ours, our_line = box.run(impl.argv("dockerd-rootless.sh"), env, args)
    assert theirs.returncode == ours.returncode == 0, (theirs.stdout, ours.stderr)
    # the last words differ only in how each script runs itself again ($0)
    script_words = 1 if impl.kind == "binary" else 4
    assert our_line[:-len(args) - script_words] == their_line[:-len(args) - 1]
    assert our_line[-len(args):] == their_line[-len(args):] == args
    assert ours.stdout == theirs.stdout  # the detection messages, if any
    assert f"+ exec rootlesskit {' '.join(our_line[:3])}" in ours.stderr


@pytest.mark.parametrize("case, env, args", [
    ("typo", {}, ["install", "--force"]),
    ("typo-check", {}, ["check"]),
    ("no-xdg", {"XDG_RUNTIME_DIR": ""}, []),
    ("xdg-missing", {"XDG_RUNTIME_DIR": "/nonexistent/xdg"}, []),
    ("no-home", {"HOME": "/nonexistent/home"}, []),
    ("no-rootlesskit", {"PATH": "/nonexistent"}, []),
    ("net-host", {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "host"}, []),
    ("root", {}, []),  # uid 0 of a user namespace of our own (unshare -r), as `id -u` sees it
])
def test_same_message_as_upstream(impl, upstream, tmp_path, case, env, args):
    box = Sandbox(tmp_path)
    prefix = ["unshare", "--map-root-user"] if case == "root" else []
    theirs, _ = box.run(prefix + upstream, env, args)
    ours, recorded = box.run(prefix + impl.argv("dockerd-rootless.sh"), env, args)
    assert recorded is None
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (1, theirs.stdout)
    assert ours.stdout.strip(), theirs.stderr
    assert "Traceback" not in ours.stderr


def test_newer_checks(impl, tmp_path):
    """The checks moby added after 28.x: detach-netns values, the containerd-rootless conflict,
    and a hard stop when no network stack is installed."""
    box = Sandbox(tmp_path)
    ours = impl.argv("dockerd-rootless.sh")
    result, recorded = box.run(ours, {"DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS": "maybe"})
    assert (result.returncode, result.stdout, recorded) == (
        1, "Unknown DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS value: maybe\n", None)
    for value, flag in (("1", True), ("true", True), ("0", False), ("false", False)):
        result, recorded = box.run(ours, {"DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS": value,
                                          "DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS": "--debug"})
        assert result.returncode == 0, result.stderr
        assert ("--detach-netns" in recorded) is flag
        if flag:  # after the fixed flags, before the user's
            assert recorded.index("--detach-netns") == recorded.index("--propagation=rslave") + 1
            assert recorded.index("--debug") == recorded.index("--detach-netns") + 1
    conflict = tmp_path / "xdg" / "containerd-rootless"
    conflict.mkdir()
    result, recorded = box.run(ours)
    assert (result.returncode, recorded) == (1, None)
    assert result.stdout == ("dockerd-rootless.sh conflicts with containerd-rootless.sh. Stop containerd-rootless.sh if "
                             f"it's running, and remove {conflict} if it still exists.\n")
    conflict.rmdir()
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "rootlesskit").symlink_to(box.bin / "rootlesskit")
    if impl.kind == "binary":  # a copy with no libexec/rootlesskit-py beside it: the .deb's and .rpm's case
        (bare / "dockerd-rootless.sh").write_bytes((BIN_DIR / "dockerd-rootless.sh").read_bytes())
        (bare / "dockerd-rootless.sh").chmod(0o755)
        ours = [str(bare / "dockerd-rootless.sh")]
    result, recorded = box.run(ours, {"PATH": str(bare)})
    assert (result.returncode, recorded) == (1, None)
    assert result.stdout == ("One of slirp4netns (>= v0.4.0), pasta (passt >= 2023_12_04), or vpnkit needs to be "
                             "installed\n")


def test_no_helper_falls_back_to_the_bundled_pasta(binary, bundled_pasta, tmp_path):
    """Where upstream's script picks gvisor-tap-vsock (none of slirp4netns, pasta, vpnkit on PATH),
    ours runs the release's pasta, with pasta's defaults (MTU 65520, the implicit port driver); and
    ..._NET=pasta with no pasta on PATH runs it too."""
    box = Sandbox(tmp_path)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "rootlesskit").symlink_to(box.bin / "rootlesskit")
    for env in ({"PATH": str(bare)}, {"PATH": str(bare), "DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "pasta"}):
        result, recorded = box.run(binary.argv("dockerd-rootless.sh"), env)
        assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr
        assert recorded[1:3] == ["--net=pasta", "--mtu=65520"] and "--port-driver=implicit" in recorded
        # after upstream's flags, before the user's
        assert recorded[recorded.index("--propagation=rslave") + 1] == f"--pasta-binary={bundled_pasta}"
    # a pasta on PATH is rootlesskit's own business, as upstream's
    result, recorded = box.run(binary.argv("dockerd-rootless.sh"), {"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "pasta"})
    assert not any(word.startswith("--pasta-binary") for word in recorded)


def test_detach_netns_default_follows_the_engine(impl, tmp_path):
    """Unset, --detach-netns is passed only for a dockerd that runs its helpers through nsenter
    (29.5 and later): sid's 28.x does not, so an upgrade of the script alone keeps ports working.
    The version is asked once per binary: the answer is kept in $XDG_RUNTIME_DIR."""
    box = Sandbox(tmp_path)
    del box.env["DOCKERD_ROOTLESS_ROOTLESSKIT_DETACH_NETNS"]
    dockerd = engine_file("sid/root/usr/sbin/dockerd")
    result, recorded = box.run(impl.argv("dockerd-rootless.sh"), {"DOCKERD": dockerd})
    assert result.returncode == 0, result.stderr
    assert "--detach-netns" not in recorded
    cache = tmp_path / "xdg" / ".dockerd-rootless-engine"
    assert cache.read_text().endswith(" 28.5\n")
    # a newer engine at the same path is asked again: a copy is a new file (inode, mtime)
    fake = tmp_path / "dockerd"
    fake.write_text('#!/bin/sh\necho "Docker version 29.5.0, build 0123456"\n')
    fake.chmod(0o755)
    result, recorded = box.run(impl.argv("dockerd-rootless.sh"), {"DOCKERD": str(fake)})
    assert result.returncode == 0, result.stderr
    assert recorded.index("--detach-netns") == recorded.index("--propagation=rslave") + 1
    assert cache.read_text().endswith(" 29.5\n")


def test_both_phases_under_our_rootlesskit(impl, tmp_path):
    """`DOCKERD=true dockerd-rootless.sh` on our rootlesskit: the child phase runs in the namespaces
    (in the process rootlesskit forked, for the compiled binary) and execs $DOCKERD with the args."""
    box = Sandbox(tmp_path)
    (box.bin / "rootlesskit").unlink()
    (box.bin / "rootlesskit").symlink_to(BIN_DIR / "rootlesskit")
    result, _ = box.run(impl.argv("dockerd-rootless.sh"), {"DOCKERD": "sh"}, ["-c", 'echo "dockerd as $(id -u): $0"', "x y"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\ndockerd as 0: x y\n")
    assert "+ rm -f /run/docker /run/containerd /run/xtables.lock\n" in result.stderr
    assert "+ exec sh -c 'echo \"dockerd as $(id -u): $0\"' 'x y'\n" in result.stderr


@pytest.mark.parametrize("rootlesskit_on_path", ["this file", "a copy"])
def test_rootlesskit_runs_in_the_wrappers_process_only_when_it_is_this_file(binary, tmp_path, rootlesskit_on_path):
    """The rootlesskit on PATH is exec'd, unless it is this very executable and the exec could give
    nothing more (no file capabilities; this kernel has no AppArmor or SELinux): then it runs in the
    wrapper's process, named rootlesskit, without a second interpreter start. The process is the
    same either way (systemd's main pid); only its command line tells the two apart."""
    box = Sandbox(tmp_path)
    (box.bin / "rootlesskit").unlink()
    if rootlesskit_on_path == "this file":
        (box.bin / "rootlesskit").symlink_to(BIN_DIR / "rootlesskit")
    else:
        shutil.copy2(BIN_DIR / "rootlesskit", box.bin / "rootlesskit")
    child_pid = tmp_path / "xdg" / "dockerd-rootless" / "child_pid"
    wrapper = subprocess.Popen([*binary.argv("dockerd-rootless.sh"), "-c", "sleep 60"], env={**box.env, "DOCKERD": "sh"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not child_pid.exists():
            assert wrapper.poll() is None and time.monotonic() < deadline, wrapper.stderr.read()
            time.sleep(0.02)
        comm = pathlib.Path(f"/proc/{wrapper.pid}/comm").read_text()
        cmdline = pathlib.Path(f"/proc/{wrapper.pid}/cmdline").read_bytes().split(b"\0")
    finally:
        wrapper.terminate()
        _, stderr = wrapper.communicate(timeout=20)
    assert comm == "rootlesskit\n"
    if rootlesskit_on_path == "this file":
        assert cmdline[0] == str(BIN_DIR / "dockerd-rootless.sh").encode()
    else:
        assert cmdline[:2] == [b"rootlesskit", f"--state-dir={tmp_path}/xdg/dockerd-rootless".encode()]
    assert f"+ exec rootlesskit --state-dir={tmp_path}/xdg/dockerd-rootless --net=slirp4netns " in stderr
