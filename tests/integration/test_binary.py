"""The shipped artifact: five regular files, one self-sufficient executable."""

from __future__ import annotations

import os
import stat

from conftest import BIN_DIR, run

TOOLS = ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy", "dockerd-rootless.sh",
         "dockerd-rootless-setuptool.sh"]


def test_five_regular_executable_files(binary):
    for name in TOOLS:
        st = os.lstat(BIN_DIR / name)
        assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o111, name  # setcap refuses symlinks
    assert len({os.stat(BIN_DIR / name).st_ino for name in TOOLS}) == 1  # one file (capabilities: test_privileges)


def test_statically_linked(binary):
    """No ELF interpreter and no dynamic section: nothing is loaded at run time, not even a libc."""
    for name in ("rootlesskit", "rootlessctl"):
        ldd = run(["ldd", str(BIN_DIR / name)])
        assert "not a dynamic executable" in ldd.stdout + ldd.stderr
        headers = run(["readelf", "--program-headers", "--wide", str(BIN_DIR / name)]).stdout.split()
        assert "LOAD" in headers and "INTERP" not in headers and "DYNAMIC" not in headers


def test_runs_in_a_root_without_libc(binary, root_helper):
    """As in an image with no libc: a new mount namespace whose root (pivot_root, not chroot: the
    kernel refuses user namespaces to a chrooted process) holds the two tools, /etc's user and subid
    files, /proc, /dev, /sys, and the uidmap helpers with their own libraries under /helpers (see
    tests/roothelper.sh). A dynamically linked program cannot start there. The release's static pasta
    (in /libexec/rootlesskit-py, where the programs look) gives the namespace its network there too."""
    script = ("/bin/rootlesskit --version; /bin/rootlessctl --help | head -n 2; /bin/rootlesskit true; echo true=$?; "
              "/bin/rootlesskit /bin/busybox cat /proc/self/uid_map; /bin/busybox ls / /bin; /helpers/dynamic-true; echo dynamic=$?; "
              "/bin/rootlesskit --net=pasta --pasta-binary=/libexec/rootlesskit-py/pasta --disable-host-loopback --copy-up=/etc "
              "/bin/busybox sh -c '/bin/busybox ip -4 -o addr show dev tap0; /bin/busybox ip route'; echo pasta=$?")
    result = root_helper("libc-free-root", str(BIN_DIR / "rootlesskit"), script, check=False)
    out = result.stdout
    assert out.startswith("rootlesskit version 3.2.0\nNAME:\n   rootlessctl - RootlessKit API client\n"), result
    assert "true=0\n" in out, result
    uid_map = [line.split() for line in out.split("true=0\n")[1].splitlines()[:2]]
    assert uid_map[0] == ["0", str(os.getuid()), "1"] and uid_map[1][0] == "1", result
    listing = out.split("/:\n")[1].split("\n\n")[0].split()
    assert sorted(listing) == ["bin", "dev", "etc", "helpers", "libexec", "proc", "sys", "tmp"], result
    assert "dynamic=127" in out, result  # its ELF interpreter /lib64/ld-linux-x86-64.so.2 is not there
    network = out.split("dynamic=127\n")[1]
    assert "inet 10.0.2.100/24" in network and "default via 10.0.2.2 dev tap0" in network, result
    assert network.endswith("pasta=0\n"), result
    assert result.returncode == 0, result


def test_runs_with_every_python_hidden(binary, tmp_path):
    """No interpreter, standard library or site-packages is read: hide them all and run from a copy."""
    copy = tmp_path / "rootlesskit"
    copy.write_bytes((BIN_DIR / "rootlesskit").read_bytes())
    copy.chmod(0o755)
    hide = " ".join(f"mount -t tmpfs none {d};" for d in ("/usr/lib/python3", "/usr/lib/python3.11",
                                                           "/usr/local/lib", "/opt") if os.path.isdir(d))
    # --mtu=70000 goes through the parent's imports and the native module (loaded from memory)
    script = f"{hide} {copy} --version && {copy} --help >/dev/null && {copy} --state-dir={tmp_path}/s --mtu=70000 true"
    result = run(["unshare", "-Urm", "sh", "-c", script], env={"PATH": "/usr/bin:/bin"})
    assert result.stdout == "rootlesskit version 3.2.0\n"
    assert result.returncode == 1
    assert result.stderr.strip().endswith("[rootlesskit:parent] error: mtu must be <= 65521, got 70000"), result.stderr


def test_unknown_program_name(binary, tmp_path):
    alias = tmp_path / "something-else"
    alias.symlink_to(BIN_DIR / "rootlesskit")
    result = run([str(alias)])
    assert result.returncode == 2
    assert "unknown program name 'something-else'" in result.stderr
