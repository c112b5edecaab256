"""The release files of `python3 build.py package`: the tarball and its checksum, install.sh run as
`curl | sh` against a local http.server, the .deb in a Debian 12 root with Docker (dpkg -i/-r/-P),
the AppArmor profile under Debian 13's parser, and the .rpm's contents and relations.

install.sh runs as the test user with a fresh HOME and the environment a login gives (no sbin in
PATH). Where the test needs "no Docker engine", it runs in a user namespace (mapped to the user's own
uid) whose mount namespace hides /usr/sbin/dockerd behind /dev/null: everything else is the host's.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import pathlib
import pty
import re
import shutil
import subprocess
import tarfile
import threading

import pytest

from conftest import BIN_DIR, GO_ROOTLESSKIT, REPO, _require, run
from dockerutil import ENGINES, Engine, RootlessDocker, http_get, path_without
from portutil import free_port
from rootlesskit_py.version import VERSION

DIST = REPO / "dist"
ARCH = os.uname().machine
TARBALL = f"rootlesskit-py-{VERSION}-{ARCH}.tgz"
DEB = f"rootlesskit-py_{VERSION}_amd64.deb"
RPM = f"rootlesskit-py-{VERSION}-1.{ARCH}.rpm"
PROGRAMS = ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy", "dockerd-rootless.sh",
            "dockerd-rootless-setuptool.sh"]
LOGIN_PATH = "/usr/local/bin:/usr/bin:/bin"  # Debian's PATH for a user: no /usr/sbin
# the network helper the tarball carries, beside the programs' directory, and its licence files
HELPER_FILES = ["passt-LICENSES", "passt-LICENSES/BSD-3-Clause.txt", "passt-LICENSES/GPL-2.0-or-later.txt",
                "passt-copyright", "pasta", "pasta.avx2"]
PASTA_SOURCES = ["passt_0.0~git20250503.587980c.orig.tar.xz", "passt_0.0~git20250503.587980c-2+deb13u1.debian.tar.xz"]
# every program that would give rootless Docker a network (Debian's passt and slirp4netns packages, vpnkit)
NETWORK_HELPERS = {"slirp4netns", "pasta", "pasta.avx2", "passt", "passt.avx2", "vpnkit"}
HIDE_DOCKERD = "/usr/bin/mount --bind /dev/null /usr/sbin/dockerd"


@pytest.fixture(scope="module")
def release() -> pathlib.Path:
    for name in ("install.sh", TARBALL, TARBALL + ".sha256", DEB, RPM, *PASTA_SOURCES):
        _require((DIST / name).is_file(), f"{DIST / name} (python3 build.py package)")
    return DIST


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's signature)
        pass


class Server:
    """python's http.server on 127.0.0.1 serving a copy of the release files."""

    def __init__(self, release: pathlib.Path, root: pathlib.Path) -> None:
        root.mkdir()
        for name in ("install.sh", TARBALL, TARBALL + ".sha256"):
            shutil.copy(release / name, root / name)
        self.root = root
        handler = functools.partial(QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(release, tmp_path):
    srv = Server(release, tmp_path / "srv")
    yield srv
    srv.close()


@pytest.fixture
def home(tmp_path) -> pathlib.Path:
    path = tmp_path / "home"
    path.mkdir()
    (tmp_path / "tmp").mkdir()
    return path


def user_env(home: pathlib.Path, **extra: str) -> dict[str, str]:
    """What a fresh login session of the user has (plus a TMPDIR of the test's, to see leftovers)."""
    return {"HOME": str(home), "USER": os.environ.get("USER", "rkpytest"), "PATH": LOGIN_PATH, "LANG": "C.UTF-8",
            "TMPDIR": str(home.parent / "tmp"), **extra}


def curl_sh(srv: Server, home: pathlib.Path, engine: bool, shell_env: str = "", **extra: str):
    """`curl -fsSL URL/install.sh | sh` as the docs run it (DOWNLOAD_URL pointing at the server)."""
    pipeline = f"curl -fsSL {srv.url}/install.sh | DOWNLOAD_URL={srv.url} {shell_env} sh"
    return run(in_session(pipeline, engine), env=user_env(home, **extra), timeout=120)


def in_session(script: str, engine: bool) -> list[str]:
    if engine:
        return ["sh", "-c", script]
    # a user namespace mapping our own uid (id -u is unchanged): mount there, then drop the namespace's
    # capabilities before running the script as the plain user
    return ["/usr/bin/unshare", "--user", "--map-current-user", "--mount", "--keep-caps", "/bin/sh", "-c",
            f'{HIDE_DOCKERD} && exec /usr/bin/setpriv --inh-caps=-all --ambient-caps=-all -- /bin/sh -c "$0"', script]


def installed_pasta_line(bin_dir: pathlib.Path) -> str:
    return ("# Installed pasta (the network helper dockerd-rootless.sh uses when no slirp4netns, pasta or vpnkit "
            f"is installed) into {bin_dir.parent / 'libexec' / 'rootlesskit-py'}\n")


def expected_fresh_install(home: pathlib.Path) -> str:
    bin_dir = home / "bin"
    return (f"# Installing rootlesskit-py version {VERSION}\n"
            f"# Installed rootlesskit version {VERSION} into {bin_dir}: {' '.join(PROGRAMS)}\n"
            + installed_pasta_line(bin_dir) +
            f"# No Docker engine (dockerd) was found in {bin_dir}, $PATH, /usr/sbin or /sbin. Install one, for example:\n"
            "#   sudo apt-get install -y docker.io    (Debian, Ubuntu)\n"
            "#   sudo dnf install -y moby-engine      (Fedora)\n"
            "#   or Docker's packages or static binaries: https://docs.docker.com/engine/install/\n"
            f"# then set up the rootless daemon with: {bin_dir}/dockerd-rootless-setuptool.sh install\n"
            "\n"
            "[INFO] Make sure the following environment variable(s) are set (or add them to ~/.bashrc):\n"
            f"export PATH={bin_dir}:$PATH\n"
            "\n"
            "[INFO] Some applications may require the following environment variable too:\n"
            f"export DOCKER_HOST=unix:///run/user/{os.getuid()}/docker.sock\n"
            "\n")


def installed(bin_dir: pathlib.Path) -> set[int]:
    """The inodes of the five programs in bin_dir (all must be executable regular files)."""
    inodes = set()
    for name in PROGRAMS:
        st = os.stat(bin_dir / name)
        assert st.st_mode & 0o777 == 0o755, name
        inodes.add(st.st_ino)
    return inodes


def test_sh_is_dash():
    assert os.path.realpath("/bin/sh") == "/usr/bin/dash", "the installer tests need dash as sh (Debian's default)"


def test_tarball_layout_and_checksum(release, tmp_path):
    with tarfile.open(release / TARBALL) as tar:
        members = tar.getmembers()
        tar.extractall(tmp_path / "x")
    assert [m.name for m in members] == ["rootlesskit-py", *[f"rootlesskit-py/{n}" for n in PROGRAMS], "libexec",
                                         "libexec/rootlesskit-py", *[f"libexec/rootlesskit-py/{n}" for n in HELPER_FILES]]
    assert members[1].isreg() and members[1].mode == 0o755
    assert all(m.islnk() and m.linkname == "rootlesskit-py/rootlesskit" for m in members[2:6])
    helpers = {m.name.rsplit("/", 1)[1]: m for m in members[8:]}
    assert all(helpers[n].isreg() and helpers[n].mode == 0o755 for n in ("pasta", "pasta.avx2"))
    assert helpers["passt-copyright"].mode == 0o644
    # unpacked anywhere, the programs find the pasta beside their folder (and say so)
    where = run([str(tmp_path / "x" / "rootlesskit-py" / "rootlesskit"), "--net=gvisor-tap-vsock", "true"]).stderr
    assert f"--pasta-binary={tmp_path / 'x' / 'libexec' / 'rootlesskit-py' / 'pasta'} " in where, where
    # the GPL's corresponding source of that pasta is released with it
    assert (release / PASTA_SOURCES[0]).stat().st_size > 100_000
    check = run(["sha256sum", "--check", "--strict", TARBALL + ".sha256"], cwd=release)
    assert check.returncode == 0 and check.stdout == f"{TARBALL}: OK\n", check.stdout + check.stderr


def test_install_script_defaults(release):
    text = (release / "install.sh").read_text()
    assert f'VERSION="{VERSION}"' in text and f'ARCHITECTURES="{ARCH}"' in text
    assert re.search(r'DOWNLOAD_URL="\$\{DOWNLOAD_URL:-[^}]+\}"', text)


def test_curl_sh_installs_into_home_bin(server, home, tmp_path):
    data = home / ".local" / "share" / "docker"
    data.mkdir(parents=True)
    (data / "keep").write_text("data")
    before = sorted((p.relative_to(data), p.stat().st_mtime_ns) for p in [data, *data.rglob("*")])
    result = curl_sh(server, home, engine=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_fresh_install(home)
    assert result.stderr == ""  # no progress bar: stderr is not a terminal
    assert len(installed(home / "bin")) == 1  # one inode, five names
    assert sorted(os.listdir(home / "bin")) == sorted(PROGRAMS)
    assert sorted(os.listdir(home)) == [".local", "bin", "libexec"]
    helpers = home / "libexec" / "rootlesskit-py"
    assert sorted(str(p.relative_to(helpers)) for p in helpers.rglob("*")) == HELPER_FILES
    assert (helpers / "pasta").read_bytes() == (BIN_DIR.parent / "libexec" / "rootlesskit-py" / "pasta").read_bytes()
    for name in ("rootlesskit", "rootlessctl"):
        out = run([str(home / "bin" / name), "--version"])
        assert out.returncode == 0 and out.stdout == f"{name} version {VERSION}\n", out.stderr
    works = run([str(home / "bin" / "rootlesskit"), f"--state-dir={tmp_path / 'st'}", "id", "-u"])
    assert works.returncode == 0 and works.stdout == "0\n", works.stderr
    assert os.listdir(tmp_path / "tmp") == []  # the download directory is gone
    assert sorted((p.relative_to(data), p.stat().st_mtime_ns) for p in [data, *data.rglob("*")]) == before


def test_docker_bin_is_honoured(server, home, tmp_path):
    target = tmp_path / "custom"
    result = curl_sh(server, home, engine=False, DOCKER_BIN=str(target))
    assert result.returncode == 0, result.stderr
    assert f"export PATH={target}:$PATH\n" in result.stdout
    assert len(installed(target)) == 1
    assert os.access(tmp_path / "libexec" / "rootlesskit-py" / "pasta", os.X_OK)  # beside the programs' directory
    assert not (home / "bin").exists()


def test_tampered_tarball_is_refused_and_nothing_installed(server, home, tmp_path):
    blob = bytearray((server.root / TARBALL).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (server.root / TARBALL).write_bytes(bytes(blob))
    result = curl_sh(server, home, engine=False)
    assert result.returncode == 1
    expected = (server.root / (TARBALL + ".sha256")).read_text().split()[0]
    assert result.stderr == (f"Aborting because {TARBALL} does not match its checksum (expected {expected}, "
                             f"got {hashlib.sha256(bytes(blob)).hexdigest()}): nothing was installed\n")
    assert os.listdir(home) == [] and os.listdir(tmp_path / "tmp") == []


def test_missing_tarball_is_a_clear_error(server, home, tmp_path):
    (server.root / TARBALL).unlink()
    result = curl_sh(server, home, engine=False)
    assert result.returncode == 1
    assert result.stderr.endswith(f"Aborting because {server.url}/{TARBALL} could not be downloaded "
                                  "(set DOWNLOAD_URL to the directory holding it)\n"), result.stderr
    assert "404" in result.stderr  # curl's own reason comes first
    assert os.listdir(home) == [] and os.listdir(tmp_path / "tmp") == []


def test_upgrade_in_place_while_rootlesskit_runs_and_a_lost_setcap_is_reported(server, home, tmp_path, root_helper):
    assert curl_sh(server, home, engine=False).returncode == 0
    bin_dir = home / "bin"
    # what `sudo setcap cap_net_bind_service=ep ~/bin/rootlesskit` leaves: a file with the capability
    root_helper("setcap-copy", str(BIN_DIR / "rootlesskit"), str(bin_dir / "rootlesskit"))
    old = {name: os.stat(bin_dir / name).st_ino for name in PROGRAMS}
    service = subprocess.Popen([str(bin_dir / "rootlesskit"), f"--state-dir={tmp_path / 'st'}", "cat"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        result = curl_sh(server, home, engine=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(
            f"# Installing rootlesskit-py version {VERSION}\n"
            f"# Existing rootlesskit version {VERSION} detected at {bin_dir}/rootlesskit: upgrading it in place\n"
            f"# Installed rootlesskit version {VERSION} into {bin_dir}: {' '.join(PROGRAMS)}\n"
            + installed_pasta_line(bin_dir) +
            f"# WARNING: the previous {bin_dir}/rootlesskit had the file capabilities cap_net_bind_service=ep, "
            "which the new file lacks (only root can set them).\n"
            "# To set them again, run:\n"
            f"sudo setcap cap_net_bind_service=ep {bin_dir}/rootlesskit\n"
            "# No Docker engine"), result.stdout
        new = installed(bin_dir)
        assert len(new) == 1 and not new & set(old.values())  # every name renamed onto the new file
        assert sorted(os.listdir(bin_dir)) == sorted(PROGRAMS)  # no staged file left
        assert sorted(os.listdir(home / "libexec")) == ["rootlesskit-py"]  # nor a staged helper directory
        assert run(["/usr/sbin/getcap", str(bin_dir / "rootlesskit")]).stdout == ""
        assert service.poll() is None  # still running from the old file, which was replaced, not rewritten
        out, err = service.communicate(b"still here\n", timeout=20)
        assert service.returncode == 0 and out == b"still here\n", err
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()


def test_engine_present_runs_the_setuptool(server, home):
    """With a Docker engine on the host (Debian's docker.io: /usr/sbin/dockerd), the installer ends with
    the traced `dockerd-rootless-setuptool.sh install`, passing SKIP_IPTABLES on as --skip-iptables,
    and exits with its status."""
    _require(os.access("/usr/sbin/dockerd", os.X_OK), "Debian's Docker engine (apt-get install docker.io)")
    result = curl_sh(server, home, engine=True, SKIP_IPTABLES="1")
    bin_dir = home / "bin"
    trace = f"+ PATH={bin_dir}:{LOGIN_PATH} {bin_dir}/dockerd-rootless-setuptool.sh install --skip-iptables\n"
    assert trace in result.stderr, result.stderr
    direct = run([str(bin_dir / "dockerd-rootless-setuptool.sh"), "install", "--skip-iptables"],
                 env={**user_env(home, SKIP_IPTABLES="1"), "PATH": f"{bin_dir}:{LOGIN_PATH}"})
    assert result.returncode == direct.returncode
    # the installer's run created the CLI context; the second run only switches to it
    assert result.stderr.split(trace, 1)[1].replace('Successfully created context "rootless"\n', "") == direct.stderr
    assert "No Docker engine" not in result.stdout


@pytest.mark.parametrize("version", ENGINES)
def test_curl_sh_without_a_network_helper_then_docker_run_p(server, home, tmp_path, version):
    """Docker's packages stopped pulling in slirp4netns (29.5), and the `curl | sh` user has no root
    to install a helper: with none of slirp4netns, pasta and vpnkit on PATH, install.sh's own pasta
    is the network (where upstream falls back to gvisor-tap-vsock), the setup tool says so, and a
    published port answers."""
    engine = Engine(version)
    path = ":".join([*engine.dirs, path_without(tmp_path / "farm", NETWORK_HELPERS)])
    bin_dir, helpers = home / "bin", home / "libexec" / "rootlesskit-py"
    result = curl_sh(server, home, engine=True, PATH=path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"[INFO]\x1b[49m\x1b[39m Network: pasta ({helpers}/pasta): none of slirp4netns, pasta and vpnkit is "
            "installed, so the pasta shipped with rootlesskit-py (where upstream falls back to gvisor-tap-vsock)\n"
            ) in result.stdout, result.stdout
    base = tmp_path / "docker"
    base.mkdir()
    daemon = RootlessDocker(base, engine, str(bin_dir / "dockerd-rootless.sh"), bin_dir,
                            env={"PATH": f"{bin_dir}:{path}"})
    try:
        daemon.wait_ready()
        assert f" --net=pasta --mtu=65520 " in daemon.log_text()
        assert f" --port-driver=implicit " in daemon.log_text() and f" --pasta-binary={helpers}/pasta " in daemon.log_text()
        running = []  # argv[0]s (pasta makes itself non-dumpable: its /proc/PID/exe is root's to read)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                running.append(pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode())
            except OSError:
                continue
        assert str(helpers / "pasta") in running, [a for a in running if "pasta" in a]
        daemon.import_busybox()
        port = free_port()
        daemon.serve(f"127.0.0.1:{port}:80")
        assert "hello-from-the-container" in http_get("127.0.0.1", port)
    finally:
        daemon.stop()


def test_progress_bar_when_stderr_is_a_terminal(server, home):
    master, slave = pty.openpty()
    proc = subprocess.Popen(in_session(f"curl -fsSL {server.url}/install.sh | DOWNLOAD_URL={server.url} sh", False),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=user_env(home))
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert b"100.0%" in tty and b"####" in tty, tty  # curl --progress-bar


def _tools_without_downloaders(tmp_path: pathlib.Path) -> pathlib.Path:
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("sh", "uname", "id", "cut", "mktemp", "sha256sum", "tar", "gzip", "cp", "chmod", "ln", "mv", "rm",
                 "rmdir", "mkdir", "cat"):
        (tools / name).symlink_to(shutil.which(name, path=LOGIN_PATH))
    return tools


def test_wget_when_there_is_no_curl(release, server, home, tmp_path):
    tools = _tools_without_downloaders(tmp_path)
    (tools / "wget").symlink_to("/usr/bin/wget")
    result = run(in_session(f"DOWNLOAD_URL={server.url} sh {release / 'install.sh'}", engine=False),
                 env=user_env(home, PATH=str(tools)))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(installed(home / "bin")) == 1
    assert f"# Installed rootlesskit version {VERSION} into {home / 'bin'}: " in result.stdout


def test_no_curl_or_wget(release, home, tmp_path):
    tools = _tools_without_downloaders(tmp_path)
    result = run(["sh", str(release / "install.sh")], env=user_env(home, PATH=str(tools)))
    assert result.returncode == 1
    assert result.stderr == ("Aborting because neither curl nor wget was found; install one (e.g. apt-get install -y "
                             "curl) and run this installer again\n")
    assert os.listdir(home) == []


def test_unsupported_architecture(release, home):
    result = run(["setarch", "i686", "sh", str(release / "install.sh")], env=user_env(home))
    assert result.returncode == 1
    assert result.stderr == (f"Aborting because rootlesskit-py {VERSION} is not built for this machine's architecture "
                             f"i686 (uname -m); it is built for: {ARCH}\n")
    assert os.listdir(home) == []


def test_root_is_refused_unless_forced(release, home):
    as_root = ["unshare", "--user", "--map-root-user", "sh", str(release / "install.sh")]
    result = run(as_root, env=user_env(home))
    assert result.returncode == 1
    assert result.stderr == "Refusing to install rootless Docker as the root user\n"
    assert os.listdir(home) == []


def test_root_installs_with_force_rootless_install(server, home):
    """Root of a user namespace of our own is root to the installer (id -u is 0)."""
    script = f"{HIDE_DOCKERD} && curl -fsSL {server.url}/install.sh | DOWNLOAD_URL={server.url} sh"
    result = run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                 env=user_env(home, FORCE_ROOTLESS_INSTALL="1"))
    assert result.returncode == 0, result.stderr
    assert len(installed(home / "bin")) == 1


# --- the .deb ---------------------------------------------------------------------------------

def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^== (.*)\n", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_deb_installs_and_removes_cleanly_in_debian12_with_docker(release, root_helper, tmp_path):
    deb = tmp_path / DEB
    shutil.copy(release / DEB, deb)
    out = _sections(root_helper("deb-in-debian12", str(deb)).stdout)
    assert out["dpkg -i"].endswith("rc=0\n"), out["dpkg -i"]
    files = set(out["files"].split())
    assert {f"/usr/bin/{name}" for name in PROGRAMS} | {"/etc/apparmor.d/usr.bin.rootlesskit"} <= files
    stats = [line.split() for line in out["stat"].splitlines()]
    size = str((release / "bin" / "rootlesskit").stat().st_size)
    assert len({s[0] for s in stats[:5]}) == 1  # one inode
    assert all(s[1:5] == ["5", "755", "root", size] for s in stats[:5]), stats
    assert stats[5][2:4] == ["644", "root"]
    assert out["version"] == f"rootlesskit version {VERSION}\nrc=0\n"
    assert out["dockerd"].startswith("Docker version 20.10.")
    assert out["dpkg -r"].endswith("rc=0\n")
    # dpkg -r keeps conffiles (the AppArmor profile) until purge; nothing else is left, nothing else removed
    assert out["left after dpkg -r"].split() == ["./etc/apparmor.d", "./etc/apparmor.d/usr.bin.rootlesskit"]
    assert out["gone after dpkg -r"] == ""
    assert out["dpkg -P"].endswith("rc=0\n")
    assert out["left after dpkg -P"] == "" and out["dpkg database after dpkg -P"] == ""


def test_deb_control_relations(release):
    fields = run(["dpkg-deb", "--field", str(release / DEB)]).stdout
    assert "\nDepends: uidmap, dbus-user-session\n" in fields
    assert "\nRecommends: slirp4netns | passt\n" in fields
    assert f"\nProvides: rootlesskit (= {VERSION})\n" in fields
    assert "\nConflicts: rootlesskit, docker-ce-rootless-extras\n" in fields
    assert "\nReplaces: rootlesskit, docker-ce-rootless-extras\n" in fields


def test_lintian_reports_no_errors(release, tmp_path):
    # lintian leaves its ELF index databases (mldbm-elf-*) in $TMPDIR: in the test's own directory
    result = run(["lintian", "--fail-on", "error", str(release / DEB)], timeout=300,
                 env={**os.environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.search(r"^E: ", result.stdout, re.M), result.stdout


def test_apparmor_profile_parses_with_abi_4(release, root_helper):
    profile = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(release / DEB)], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(profile.stdout)) as tar:
        text = tar.extractfile("./etc/apparmor.d/usr.bin.rootlesskit").read().decode()
    assert "abi <abi/4.0>," in text and "profile rootlesskit /usr/bin/rootlesskit flags=(unconfined) {" in text
    assert "  userns,\n" in text
    kernel_note = "Cache read/write disabled: interface file missing. (Kernel needs AppArmor 2.4 compatibility patch.)"
    parsed = root_helper("apparmor-parse", input=text, check=False)
    assert parsed.returncode == 0, parsed.stderr
    assert [line for line in parsed.stderr.splitlines() if line != kernel_note] == []
    broken = root_helper("apparmor-parse", input=text.replace("userns,", "usernss,"), check=False)
    line = text.splitlines().index("  userns,") + 1
    assert broken.returncode != 0 and f"AppArmor parser error at line {line}: " in broken.stderr  # rules are checked


# --- the .rpm ---------------------------------------------------------------------------------

def test_rpm_files_and_relations(release):
    files = run(["rpm", "-qlp", str(release / RPM)])
    assert files.returncode == 0, files.stderr
    assert files.stdout.split() == ["/etc/apparmor.d/usr.bin.rootlesskit",
                                    *sorted(f"/usr/bin/{name}" for name in PROGRAMS)]
    def query(*tags: str) -> list[str]:
        out = run(["rpm", "-qp", *tags, str(release / RPM)])
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()

    assert query("--provides") == [f"config(rootlesskit-py) = {VERSION}-1", f"rootlesskit = {VERSION}",
                                   f"rootlesskit-py = {VERSION}-1", f"rootlesskit-py(x86-64) = {VERSION}-1"]
    assert sorted(query("--conflicts")) == ["docker-ce-rootless-extras", "rootlesskit"]
    assert query("--obsoletes") == []
    assert query("--provides", "--conflicts", "--obsoletes") == query("--provides") + query("--conflicts")
    requires = run(["rpm", "-qp", "--requires", "--recommends", str(release / RPM)]).stdout.splitlines()
    assert {"/usr/bin/newuidmap", "/usr/bin/newgidmap", "(dbus-broker or dbus-daemon or dbus-1)",
            "(slirp4netns or passt)"} <= set(requires)


def test_rpm_installs_into_a_root(release, tmp_path):
    root = tmp_path / "rpmroot"
    result = run(["rpm", "-i", f"--root={root}", "--nodeps", "--noscripts", str(release / RPM)],
                 env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    inodes = {os.stat(root / "usr" / "bin" / name).st_ino for name in PROGRAMS}
    assert len(inodes) == 1
    out = run([str(root / "usr" / "bin" / "rootlesskit"), "--version"])
    assert out.stdout == f"rootlesskit version {VERSION}\n"
    listed = run(["rpm", f"--root={root}", "-ql", "rootlesskit-py"], env={**os.environ, "HOME": str(tmp_path)})
    assert listed.stdout.split() == run(["rpm", "-qlp", str(release / RPM)]).stdout.split()


def test_rpmlint_reports_no_errors(release):
    result = run(["rpmlint", "-r", str(REPO / "packaging" / "rootlesskit-py.rpmlintrc"), str(release / RPM)],
                 env={**os.environ, "HOME": str(REPO)}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 errors, " in result.stdout, result.stdout


# --- size -------------------------------------------------------------------------------------

def test_every_form_installs_in_less_than_go_rootlesskit(release, server, home, tmp_path):
    """Tarball, ~/bin (curl | sh), deb and rpm: all five programs (and, in the tarball and ~/libexec,
    the static pasta) in at most the size of Go RootlessKit's three binaries (Debian 12's 1.1.0)."""
    go = sum(os.stat(f"{os.path.dirname(GO_ROOTLESSKIT)}/{n}").st_size
             for n in ("rootlesskit", "rootlessctl", "rootlesskit-docker-proxy"))

    def du(path: pathlib.Path) -> int:
        return int(run(["du", "-s", "-B1", "--apparent-size", str(path)]).stdout.split()[0])

    with tarfile.open(release / TARBALL) as tar:
        tar.extractall(tmp_path / "x")
    assert curl_sh(server, home, engine=False).returncode == 0
    rpmroot = tmp_path / "rpmroot"
    assert run(["rpm", "-i", f"--root={rpmroot}", "--nodeps", "--noscripts", str(release / RPM)],
               env={**os.environ, "HOME": str(tmp_path)}).returncode == 0
    fields = run(["dpkg-deb", "--field", str(release / DEB), "Installed-Size"]).stdout
    sizes = {"tarball": du(tmp_path / "x"), "~/bin": du(home / "bin") + du(home / "libexec"),
             "rpm": du(rpmroot / "usr" / "bin"),
             "deb": int(fields) * 1024}
    assert all(size <= go for size in sizes.values()), (sizes, go)
