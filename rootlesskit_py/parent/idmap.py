"""UID/GID maps for the child's user namespace: the invoking user as 0, then its sub-ID ranges from 1.

The parent finds the invoking user, gets that user's sub-ID ranges (from /etc/sub{u,g}id or from
`getsubids`) and hands them to the setuid `newuidmap`/`newgidmap` helpers.  Every error text imitates
upstream RootlessKit (Go) byte for byte (Go's wording lives in util.gocompat).

It runs on every start, so helpers are started through util.proc (posix_spawn into memfds), never
`subprocess`, whose import alone costs ~4-13 ms.
"""

from __future__ import annotations

import os

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.host.subid import nss_has_subid_service
from rootlesskit_py.util import log
from rootlesskit_py.util.gocompat import GoError, go_atoi, go_quote, look_path, strerror
from rootlesskit_py.util.proc import decode, finish, spawn

TYPE_CHECKING = False
if TYPE_CHECKING:  # `typing` costs ~13 ms to import; only type checkers need it.
    from collections.abc import Callable, Sequence

SUBUID_FILE = "/etc/subuid"
SUBGID_FILE = "/etc/subgid"
_COMPUTE_FAILED = "failed to setup UID/GID map: failed to compute uid/gid map: "

# Go's unicode.IsSpace, used by strings.TrimSpace/Fields (Python's str.split() also splits on \x1c-\x1f).
_WS = " \t\n\v\f\r\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
_WS_TO_SPACE = str.maketrans(dict.fromkeys(_WS, " "))


class SubIDRange(tuple):
    """A sub-ID range `(start, count)`; a tuple so that equal ranges dedupe via hashing like Go's map key."""

    __slots__ = ()

    def __new__(cls, start: int, count: int) -> SubIDRange:
        return tuple.__new__(cls, (start, count))

    @property
    def start(self) -> int:
        return self[0]

    @property
    def count(self) -> int:
        return self[1]

    def __repr__(self) -> str:
        return f"SubIDRange(start={self[0]}, count={self[1]})"


def lookup_user() -> tuple[int, int, str]:
    """Return `(uid, gid, username)` for the real uid, like Go's `user.Current()` in a CGO_ENABLED=0 build.

    The gid is the passwd primary gid, not getgid().  Without a passwd entry Go falls back to getgid()
    and `$USER`, and fails unless both `$USER` and `$HOME` are set.
    """
    import pwd  # built in: no file system import cost

    uid = os.getuid()
    try:
        pw = pwd.getpwuid(uid)
    except KeyError:
        username = os.environ.get("USER", "")
        missing = ", ".join(n for n, v in (("$USER", username), ("$HOME", os.environ.get("HOME", ""))) if not v)
        if missing:
            raise RootlessKitError(f"user: Current requires cgo or {missing} set in environment") from None
        return uid, os.getgid(), username
    return uid, pw.pw_gid, pw.pw_name


def _read_file(path: str) -> str:
    """Read via os.open/os.read so errors word like Go's (`open X: ...`; a directory fails as `read X: ...`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise RootlessKitError(f"open {path}: {strerror(e)}") from None
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as e:
        raise RootlessKitError(f"read {path}: {strerror(e)}") from None
    finally:
        os.close(fd)
    return decode(b"".join(chunks))


def _parse_subid_file(path: str, uid: int, username: str) -> list[SubIDRange]:
    uid_s = str(uid)
    ranges = []
    for line in _read_file(path).split("\n"):
        text = line.strip(_WS)
        if not text or text.startswith("#"):
            continue
        parts = text.split(":")
        if len(parts) != 3:
            raise RootlessKitError(f"Cannot parse subuid/gid information: Format not correct for {path} file")
        if parts[0] == uid_s or (username != "" and parts[0] == username):
            try:
                ranges.append(SubIDRange(go_atoi(parts[1]), go_atoi(parts[2])))
            except ValueError as e:
                raise RootlessKitError(
                    f"String to int conversion failed during subuid/gid parsing of {path}: {e}") from None
    return ranges


def get_subid_ranges_static(uid: int, username: str, subuid_file: str = SUBUID_FILE,
                            subgid_file: str = SUBGID_FILE) -> tuple[list[SubIDRange], list[SubIDRange]]:
    """`--subid-source=static`: every line of the files naming the uid or the username, in file order.

    Both files are parsed before either is checked for emptiness, as upstream does.
    """
    subuid = _parse_subid_file(subuid_file, uid, username)
    subgid = _parse_subid_file(subgid_file, uid, username)
    if not subuid:
        raise RootlessKitError(f"No subuid ranges found for user {uid} ({go_quote(username)})")
    if not subgid:
        raise RootlessKitError(f"No subgid ranges found for user {uid} ({go_quote(username)})")
    return subuid, subgid


def _parse_getsubids_output(out: str) -> tuple[list[SubIDRange], list[str], str | None]:
    """Parse `getsubids` lines like `0: rkuser 100000 65536`; returns (ranges so far, warnings, error)."""
    res: list[SubIDRange] = []
    warns: list[str] = []
    for i, raw in enumerate(out.split("\n"), 1):
        line = raw.strip(_WS)
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 2:
            return res, warns, f"line {i}: unparsable line {go_quote(line)}"
        if len(parts) > 2:
            warns.append(f"line {i}: line {go_quote(line)} contains unknown fields")
        triplet = [f for f in parts[1].translate(_WS_TO_SPACE).split(" ") if f]
        if len(triplet) < 3:
            return res, warns, f"line {i}: unparsable line {go_quote(line)}"
        if len(triplet) > 3:
            warns.append(f"line {i}: line {go_quote(line)} contains unknown fields")
        try:
            start = go_atoi(triplet[1])
        except ValueError as e:
            return res, warns, f"line {i}: unparsable line {go_quote(line)}: failed to Atoi({go_quote(triplet[1])}): {e}"
        try:
            count = go_atoi(triplet[2])
        except ValueError as e:
            return res, warns, f"line {i}: unparsable line {go_quote(line)}: failed to Atoi({go_quote(triplet[2])}): {e}"
        res.append(SubIDRange(start, count))
    return res, warns, None


def _getsubids_result(argv: list[str], done: tuple[str | None, bytes, bytes],
                       warn: Callable[[str], None]) -> tuple[list[SubIDRange], str | None]:
    """Interpret one finished `getsubids [-g] <who>` query: (ranges, Go-worded error or None)."""
    shown = "[" + " ".join(argv) + "]"
    err, out, err_out = done
    if err is not None:
        return [], f"failed to exec {shown}: {err} (stdout={go_quote(decode(out))}, stderr={go_quote(decode(err_out))})"
    ranges, warns, perr = _parse_getsubids_output(decode(out))
    for w in warns:
        warn(f"Error while parsing the result of {shown}: {w} (stdout={go_quote(decode(out))}, stderr={go_quote(decode(err_out))})")
    return ranges, perr


def _dedupe(ranges: list[SubIDRange]) -> list[SubIDRange]:
    return list(dict.fromkeys(ranges))


def get_subid_ranges_dynamic(uid: int, username: str, warn: Callable[[str], None] | None = None
                             ) -> tuple[list[SubIDRange], list[SubIDRange]]:
    """`--subid-source=dynamic`: ask `getsubids` (PATH or `$GETSUBIDS`) by username and by uid.

    Shadow's getsubids usually fails for the numeric query ("Error fetching ranges", exit 1), so a kind
    fails only when both of its queries fail; ranges by username come first, duplicates dropped.
    Lists may be empty without an error (the auto source then falls back to static).
    Upstream runs the four queries one after another; here they run at once (~5 ms each on Debian)
    and are interpreted in upstream's order, so only the wasted gid queries after a fatal uid failure
    differ (their output is dropped unseen).
    """
    warn = warn or log.warn
    try:
        exe = look_path(os.environ.get("GETSUBIDS") or "getsubids")
    except GoError as e:
        raise RootlessKitError(f"subid-source:dynamic: {e}") from None
    argvs = [[exe, username], [exe, str(uid)], [exe, "-g", username], [exe, "-g", str(uid)]]
    jobs = [spawn(exe, argv, combined=False) for argv in argvs]
    done = [finish(job) for job in jobs]  # reap all four before any early return
    lists = []
    for i, kind in ((0, "subuids"), (2, "subgids")):
        by_name, name_err = _getsubids_result(argvs[i], done[i], warn)
        by_uid, uid_err = _getsubids_result(argvs[i + 1], done[i + 1], warn)
        if name_err is not None and uid_err is not None:
            # upstream says "subuids by the UID" for the gid variant too (sic)
            raise RootlessKitError(f"subid-source:dynamic: failed to get {kind} by the username {go_quote(username)}: "
                                   f"{name_err}; also failed to get subuids by the UID {uid}: {uid_err}")
        lists.append(_dedupe(by_name + by_uid))
    return lists[0], lists[1]


def get_subid_ranges(uid: int, username: str, source: str, *, subuid_file: str = SUBUID_FILE,
                     subgid_file: str = SUBGID_FILE, nsswitch: str = "/etc/nsswitch.conf",
                     warn: Callable[[str], None] | None = None
                     ) -> tuple[list[SubIDRange], list[SubIDRange]]:
    """Dispatch on `--subid-source`; auto (or "") uses dynamic only if it yields both lists non-empty."""
    if source == "static":
        return get_subid_ranges_static(uid, username, subuid_file, subgid_file)
    if source == "dynamic":
        return get_subid_ranges_dynamic(uid, username, warn)
    if source in ("auto", ""):
        if not nss_has_subid_service(nsswitch):
            # getsubids would only read these same files: skip four helper runs (~9 ms per start)
            return get_subid_ranges_static(uid, username, subuid_file, subgid_file)
        try:
            subuid, subgid = get_subid_ranges_dynamic(uid, username, warn)
            if subuid and subgid:
                return subuid, subgid
        except RootlessKitError:
            pass  # upstream only logs this at debug level
        return get_subid_ranges_static(uid, username, subuid_file, subgid_file)
    raise RootlessKitError(f"unknown subid source {go_quote(source)}")


def compute_map_args(own_id: int, ranges: Sequence[SubIDRange]) -> list[str]:
    """newuidmap/newgidmap arguments: `0 <own_id> 1`, then the ranges packed from inner id 1 upwards."""
    args = ["0", str(own_id), "1"]
    nxt = 1
    for start, count in ranges:
        args += (str(nxt), str(start), str(count))
        nxt += count
    return args


def id_map_commands(uid: int, gid: int, username: str, subid_source: str,
                    warn: Callable[[str], None] | None = None) -> list[tuple[str, list[str]]]:
    """`(helper, arguments after the pid)` for newuidmap and newgidmap; a failed sub-ID lookup
    raises, fully wrapped (`failed to setup UID/GID map: failed to compute uid/gid map: ...`)."""
    try:
        subuid, subgid = get_subid_ranges(uid, username, subid_source, warn=warn)
    except RootlessKitError as e:
        raise RootlessKitError(f"{_COMPUTE_FAILED}{e}") from None
    return [("newuidmap", compute_map_args(uid, subuid)), ("newgidmap", compute_map_args(gid, subgid))]


def run_id_map_commands(child_pid: int, commands: list[tuple[str, list[str]]]) -> None:
    """Write the child's uid_map and gid_map with the helpers (both from PATH).

    Errors come fully wrapped (`failed to setup UID/GID map: ...`) so the parent can raise them as is.
    Note that it waits for its helpers by pid: a SIGCHLD handler reaping every child would race it.
    """
    pid_s = str(child_pid)
    # The two helpers write independent files, so they run at once; errors are reported uid first.
    jobs = []
    for tool, args in commands:
        try:
            job = spawn(look_path(tool), [tool, pid_s, *args], combined=True)
        except GoError as e:
            job = str(e)
        jobs.append((tool, args, job))
    results = [(tool, args, finish(job)) for tool, args, job in jobs]
    for tool, args, (err, out, _) in results:
        if err is not None:
            raise RootlessKitError(
                f"failed to setup UID/GID map: {tool} {pid_s} [{' '.join(args)}] failed: {decode(out)}: {err}")


def prepare_invoking_user(subid_source: str) -> Callable[[int], None]:
    """Map the invoking user into the child's user namespace in two steps: the user and sub-ID
    lookup now, the helpers later, by the function returned, given the child's pid. The parent
    looks up right after the fork, while the child unshares (it has nothing else to do then), and
    maps once the namespace exists. A lookup error is raised by the returned function: where
    upstream reports it, after the child started."""
    try:
        try:
            uid, gid, username = lookup_user()
        except RootlessKitError as e:  # like upstream, a failed user lookup is a map error
            raise RootlessKitError(f"{_COMPUTE_FAILED}{e}") from None
        commands = id_map_commands(uid, gid, username, subid_source)
    except RootlessKitError as e:
        error = e

        def fail(child_pid: int) -> None:
            raise error

        return fail
    return lambda child_pid: run_id_map_commands(child_pid, commands)
