"""Shared fixtures: which implementation to run, the Go reference, and the root helper.

Every integration test runs twice, against the compiled binary (the product) and the Python entry
point, as an unprivileged user. A missing prerequisite fails the test with the command that fixes
it; nothing here skips.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
BIN_DIR = pathlib.Path(os.environ.get("RKPY_BIN_DIR", REPO / "dist" / "bin"))
GO_ROOTLESSKIT = "/usr/bin/rootlesskit"
# tests/run installs one helper per checkout and says which
ROOT_HELPER = os.environ.get("RKPY_ROOT_HELPER", "/usr/local/libexec/rootlesskit-py-test-roothelper")
SETUP_HINT = "run the README's test command as root once (sudo tests/run) to prepare this machine"


def _require(condition: bool, what: str) -> None:
    if not condition:
        pytest.fail(f"test prerequisite missing: {what}; {SETUP_HINT}", pytrace=False)


class Impl:
    """One implementation of the five programs: the argv prefix that runs program `name`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def argv(self, name: str = "rootlesskit") -> list[str]:
        if self.kind == "binary":
            return [str(BIN_DIR / name)]
        if self.kind == "go":  # Debian's package; never a PATH lookup, which could find ours installed
            return [f"/usr/bin/{name}"]
        if self.kind == "go2":
            return [engine_file(f"trixie/root/usr/bin/{name}")]
        return [sys.executable, "-m", "rootlesskit_py.cli", name]

    def __repr__(self) -> str:
        return self.kind


def run(argv: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """Run a command to completion and capture text output (cwd: the repo, for the Python entry point)."""
    kwargs.setdefault("cwd", REPO)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


def refused(argv: list[str], tmp_path: pathlib.Path) -> str:
    """Run argv expecting a refusal: exit 1 and nothing left in $TMPDIR (no half-made state dir).
    Returns stderr for the message checks."""
    result = run(argv, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 1, result.stderr
    assert list(tmp_path.iterdir()) == []
    return result.stderr


def wait_for_file(path: pathlib.Path, timeout: float = 20) -> str:
    """The text of `path` once it exists (state files such as child_pid appear when a step is done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return path.read_text()
        except FileNotFoundError:
            time.sleep(0.02)
    raise AssertionError(f"{path} did not appear")


@pytest.fixture(scope="session", autouse=True)
def rootless_prerequisites() -> None:
    _require(os.geteuid() != 0, "the rootless tests must run as an unprivileged user, not root")
    _require(shutil.which("newuidmap") is not None, "newuidmap (apt-get install uidmap)")
    user = pwd_name()
    with open("/etc/subuid") as f:
        _require(any(line.split(":")[0] in (user, str(os.getuid())) for line in f), f"/etc/subuid range for {user}")


def pwd_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


# Every process a test starts inherits this marker, so leftovers can be found even after they were
# re-parented away from pytest (the "no stray processes" rule).
LEAK_MARKER = f"RKPY_TEST_SESSION={os.getpid()}"
os.environ["RKPY_TEST_SESSION"] = str(os.getpid())


def _our_processes() -> set[int]:
    return {int(e) for e in os.listdir("/proc") if e.isdigit() and _owner(e) == os.getuid()}


def _owner(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


def _session_of(pid: int) -> str | None:
    """The test session marker in a process's environment: ours, another session's, "" for none,
    or None when the environment can't be read (daemons such as pasta make themselves undumpable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for entry in f.read().split(b"\0"):
                if entry.startswith(b"RKPY_TEST_SESSION="):
                    return entry.decode(errors="replace")
        return ""
    except PermissionError:
        return None


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:  # readable even for an undumpable process
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def _is_ours(pid: int) -> bool:
    """Our marker, or, for a process whose environment can't be read, the first readable ancestor's
    (so a concurrent session's pasta is its own); one re-parented away to PID 1 still counts as
    ours: that is what a leaked daemon looks like."""
    while pid > 1:
        session = _session_of(pid)
        if session is not None:
            return session == LEAK_MARKER
        pid = _parent(pid)
    return True


def _marked_processes(candidates: set[int]) -> list[tuple[int, str]]:
    """Processes with our marker, or new ones whose environment can't be read and whose nearest
    readable ancestor is ours (or who have none left)."""
    found = []
    for pid in candidates - {os.getpid()}:
        try:
            if not _is_ours(pid):
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found.append((pid, f.read().replace(b"\0", b" ").decode(errors="replace").strip()))
        except OSError:
            continue
    return found


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """Fail a test that leaves any process of its own running (after a short grace period)."""
    before = _our_processes()
    yield
    deadline = time.monotonic() + 3
    while (left := _marked_processes(_our_processes() - before)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        for pid, _ in left:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        pytest.fail(f"processes left running: {left}")


@pytest.fixture(params=["binary", "python"])
def impl(request) -> Impl:
    """Our implementation, as compiled binary and as Python entry point."""
    if request.param == "binary":
        _require((BIN_DIR / "rootlesskit").is_file(), f"compiled binaries in {BIN_DIR} (python3 build.py)")
    return Impl(request.param)


@pytest.fixture
def binary() -> Impl:
    """The compiled binary alone, for tests about the shipped file (capabilities, other users, sysctls)."""
    _require((BIN_DIR / "rootlesskit").is_file(), f"compiled binaries in {BIN_DIR} (python3 build.py)")
    return Impl("binary")


@pytest.fixture
def go() -> Impl:
    """Debian's Go RootlessKit, the reference we compare against."""
    _require(os.path.exists(GO_ROOTLESSKIT), "Go reference /usr/bin/rootlesskit (apt-get install rootlesskit)")
    return Impl("go")


ENGINE_CACHE = pathlib.Path(os.environ.get("RKPY_ENGINE_CACHE", "/var/cache/rootlesskit-py-tests"))
# Docker 29's programs, unpacked by tests/docker29.sh from the tarball tests/run was given; None when
# it was given none (no registry here carries Docker 29)
DOCKER29_DIR = pathlib.Path(os.environ["RKPY_DOCKER29_DIR"]) if os.environ.get("RKPY_DOCKER29_DIR") else None


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "engine(version): a test run on that Docker engine (the summary counts them)")
    config.addinivalue_line("markers", "docker29: needs the Docker 29 tarball (tests/run --docker29=PATH); "
                                       "deselect with -m 'not docker29' when there is none")


_engine_outcomes: dict[str, dict[str, str]] = {}  # engine version -> test id -> its worst outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        from dockerutil import RootlessDocker  # it imports this module
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, RootlessDocker):
                report.sections.append((f"rootless Docker daemon of fixture {name!r}", value.post_mortem()))
    marker = item.get_closest_marker("engine")
    if marker is not None and (report.failed or report.when == "call"):
        outcomes = _engine_outcomes.setdefault(marker.args[0], {})
        if outcomes.get(item.nodeid) != "failed":
            outcomes[item.nodeid] = report.outcome
    return report


def pytest_terminal_summary(terminalreporter) -> None:
    """Which Docker engines the run exercised, loudly: a run without one is not a run on it."""
    write = terminalreporter.write_line
    terminalreporter.section("Docker engines")
    if not _engine_outcomes:
        write("no Docker engine test was selected")
        return
    for version in ("20.10", "26.1", "28", "29"):
        outcomes = list(_engine_outcomes.get(version, {}).values())
        counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("passed", "failed", "skipped") if outcomes.count(o))
        where = f" from {DOCKER29_DIR}" if version == "29" and DOCKER29_DIR else ""
        if not outcomes:
            write(f"Docker {version}: NOT TESTED (no test of it selected)", red=True, bold=True)
        elif version == "29" and DOCKER29_DIR is None:
            write(f"Docker 29: NOT AVAILABLE: {counts} (tests/run --docker29=PATH gives it)", red=True, bold=True)
        else:
            write(f"Docker {version}{where}: {counts}", red="failed" in outcomes, green="failed" not in outcomes)


def engine_file(relative: str) -> str:
    """A program tests/engines.sh unpacked (Debian 13's and sid's Docker, Go RootlessKit 2.0.2, pasta)."""
    path = ENGINE_CACHE / relative
    _require(os.access(path, os.X_OK), f"{path} (tests/engines.sh, run by sudo tests/run, unpacks it)")
    return str(path)


DEBIAN_PASTAS = {"trixie": "passt-trixie/pasta", "sid": "passt-sid/pasta"}
DEBIAN_12_PASTA = "/usr/bin/pasta"


@pytest.fixture
def current_pasta() -> str:
    """trixie's pasta, built by tests/engines.sh as Debian builds it (VERSION=$(DEB_VERSION)): what
    Debian 13 and Ubuntu users run."""
    return engine_file(DEBIAN_PASTAS["trixie"])


@pytest.fixture
def sid_pasta() -> str:
    """sid's newest passt package as Debian ships it (it carries pesto, beside pasta in the same folder),
    run with sid's own libc."""
    return engine_file(DEBIAN_PASTAS["sid"])


@pytest.fixture(params=sorted(DEBIAN_PASTAS))
def debian_pasta(request) -> str:
    """Each pasta Debian ships that rootlesskit runs, for the tests where the build matters."""
    return engine_file(DEBIAN_PASTAS[request.param])


@pytest.fixture
def debian_12_pasta() -> str:
    """Debian 12's own pasta (2023_03_09, "unknown version"), which rootlesskit refuses."""
    _require(os.access(DEBIAN_12_PASTA, os.X_OK), f"Debian 12's pasta {DEBIAN_12_PASTA} (apt-get install passt)")
    return DEBIAN_12_PASTA


@pytest.fixture
def bundled_pasta() -> str:
    """The static pasta `python3 build.py` puts beside dist/bin, where the programs look for it."""
    path = os.path.realpath(BIN_DIR.joinpath("..", "libexec", "rootlesskit-py", "pasta"))
    _require(os.access(path, os.X_OK), f"{path} (python3 build.py builds it)")
    return path


@pytest.fixture
def go2() -> Impl:
    """Debian 13's Go RootlessKit 2.0.2, the second reference."""
    return Impl("go2")


@pytest.fixture
def root_helper():
    """Run one root-side step through the sudoers rule tests/run installs."""
    _require(os.path.exists(ROOT_HELPER), f"root helper {ROOT_HELPER}")

    def call(*args: str, check: bool = True, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
        result = run(["sudo", "-n", ROOT_HELPER, *args], timeout=timeout, input=input)
        if check and result.returncode != 0:
            pytest.fail(f"root helper {args} failed: {result.stderr}")
        return result

    return call


def one_line_server(address: str, line: bytes, port: int = 0) -> socket.socket:
    """A TCP server on the host that answers every connection with `line` (close it when done)."""
    server = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    server.bind((address, port))
    server.listen()
    server.settimeout(30)

    def serve():
        try:
            while True:
                conn, _ = server.accept()
                conn.sendall(line)
                conn.close()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    return server


@pytest.fixture
def host_server():
    """The port of a server on the host's 127.0.0.1 answering "hello from the host"."""
    server = one_line_server("127.0.0.1", b"hello from the host\n")
    yield server.getsockname()[1]
    server.close()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def process_name(pid: int) -> str:
    """/proc/PID/comm, "" once the process is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
