"""Unit tests for rootlesskit_py.parent.idmap; none of them needs root."""

import os
import pwd
import shutil
import subprocess
import time

import pytest

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.parent import idmap
from rootlesskit_py.util import proc
from rootlesskit_py.parent.idmap import SubIDRange as R

REAL_GETSUBIDS = "/usr/bin/getsubids"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def static(tmp_path, subuid, subgid, uid=1000, username="alice"):
    return idmap.get_subid_ranges_static(uid, username, write(tmp_path, "subuid", subuid),
                                         write(tmp_path, "subgid", subgid))


def write_id_maps(child_pid, uid, gid, username, source):
    """What the parent does in two steps (prepare_invoking_user): the helpers' arguments, then the helpers."""
    idmap.run_id_map_commands(child_pid, idmap.id_map_commands(uid, gid, username, source))


def raises(fn, *args, **kw):
    with pytest.raises(RootlessKitError) as ei:
        fn(*args, **kw)
    assert ei.value.code == 1
    return str(ei.value)


# --- lookup_user -------------------------------------------------------------------------------

def test_lookup_user_uses_passwd_primary_gid():
    pw = pwd.getpwuid(os.getuid())
    assert idmap.lookup_user() == (os.getuid(), pw.pw_gid, pw.pw_name)


def test_lookup_user_without_passwd_entry(monkeypatch):
    def missing(uid):
        raise KeyError(uid)
    monkeypatch.setattr(pwd, "getpwuid", missing)
    monkeypatch.setenv("USER", "ghost")
    monkeypatch.setenv("HOME", "/nonexistent")
    assert idmap.lookup_user() == (os.getuid(), os.getgid(), "ghost")
    monkeypatch.delenv("USER")
    assert raises(idmap.lookup_user) == "user: Current requires cgo or $USER set in environment"
    monkeypatch.setenv("HOME", "")
    assert raises(idmap.lookup_user) == "user: Current requires cgo or $USER, $HOME set in environment"


# --- static ------------------------------------------------------------------------------------

def test_static_by_uid_and_by_name_multiple_ranges_in_file_order(tmp_path):
    subuid = "alice:100000:65536\nbob:300000:65536\n1000:200000:65536\nalice:400000:10"
    u, g = static(tmp_path, subuid, "1000:500000:65536\n")
    assert u == [R(100000, 65536), R(200000, 65536), R(400000, 10)]
    assert g == [R(500000, 65536)]
    assert (u[0].start, u[0].count) == (100000, 65536)


def test_static_skips_comments_and_blank_lines_and_trims(tmp_path):
    text = "# comment\n\n   \n  alice:100000:65536  \r\n\t# also:a:comment:line\n"
    assert static(tmp_path, text, text) == ([R(100000, 65536)], [R(100000, 65536)])


def test_static_empty_username_matches_only_uid(tmp_path):
    assert static(tmp_path, ":1:2\n1000:5:6\n", "1000:5:6\n", username="") == ([R(5, 6)], [R(5, 6)])


def test_static_bad_format_fails_whole_file_even_for_other_users(tmp_path):
    msg = raises(static, tmp_path, "alice:100000:65536\nbob:1\n", "alice:1:2\n")
    assert msg == f"Cannot parse subuid/gid information: Format not correct for {tmp_path}/subuid file"
    msg = raises(static, tmp_path, "alice:1:2\n", "alice:1:2:3\n")
    assert msg == f"Cannot parse subuid/gid information: Format not correct for {tmp_path}/subgid file"


def test_static_bad_int(tmp_path):
    msg = raises(static, tmp_path, "alice:10x:65536\n", "alice:1:2\n")
    assert msg == (f"String to int conversion failed during subuid/gid parsing of {tmp_path}/subuid: "
                   'strconv.Atoi: parsing "10x": invalid syntax')
    msg = raises(static, tmp_path, "alice: 1:2\n", "alice:1:2\n")
    assert msg.endswith('strconv.Atoi: parsing " 1": invalid syntax')
    msg = raises(static, tmp_path, "alice:1:99999999999999999999\n", "alice:1:2\n")
    assert msg.endswith('strconv.Atoi: parsing "99999999999999999999": value out of range')
    # only matching lines are converted
    assert static(tmp_path, "bob:x:y\nalice:+1:2\n", "alice:1:2\n") == ([R(1, 2)], [R(1, 2)])


def test_static_none_found(tmp_path):
    assert raises(static, tmp_path, "bob:1:2\n", "alice:1:2\n") == 'No subuid ranges found for user 1000 ("alice")'
    assert raises(static, tmp_path, "alice:1:2\n", "") == 'No subgid ranges found for user 1000 ("alice")'
    assert raises(static, tmp_path, "", "", username='a"b') == 'No subuid ranges found for user 1000 ("a\\"b")'


def test_static_missing_file(tmp_path):
    sub = write(tmp_path, "subgid", "alice:1:2\n")
    missing = str(tmp_path / "nope")
    assert raises(idmap.get_subid_ranges_static, 1000, "alice", missing, sub) == \
        f"open {missing}: no such file or directory"
    # both files are read before the emptiness check, as upstream
    assert raises(idmap.get_subid_ranges_static, 1000, "alice", sub.replace("subgid", "x"), missing) == \
        f"open {tmp_path}/x: no such file or directory"


def test_static_default_paths():
    assert (idmap.SUBUID_FILE, idmap.SUBGID_FILE) == ("/etc/subuid", "/etc/subgid")


# --- compute_map_args --------------------------------------------------------------------------

def test_compute_map_args():
    assert idmap.compute_map_args(1000, [R(100000, 65536), R(200000, 65536)]) == \
        ["0", "1000", "1", "1", "100000", "65536", "65537", "200000", "65536"]
    assert idmap.compute_map_args(1001, []) == ["0", "1001", "1"]


# --- dynamic -----------------------------------------------------------------------------------

@pytest.fixture
def fake_getsubids(tmp_path, monkeypatch):
    """Install a stand-in for shadow's getsubids via $GETSUBIDS; `answers` maps "args" -> stdout."""

    def make(answers):
        cases = "".join(f"  {a!r}) printf '%b' {out!r};;\n" for a, out in answers.items())
        script = tmp_path / "getsubids"
        script.write_text('#!/bin/sh\ncase "$*" in\n' + cases +
                          "  *) echo 'Error fetching ranges' >&2; exit 1;;\nesac\n")
        script.chmod(0o755)
        monkeypatch.setenv("GETSUBIDS", str(script))
        return str(script)

    return make


def test_dynamic_order_and_dedupe(fake_getsubids):
    fake_getsubids({
        "alice": "0: alice 100000 65536\n1: alice 200000 65536\n",
        "1000": "# header\n\n0: 1000 300000 10\n0: 1000 100000 65536\n",
        "-g alice": "0: alice 500000 65536\n",
    })
    u, g = idmap.get_subid_ranges_dynamic(1000, "alice")
    assert u == [R(100000, 65536), R(200000, 65536), R(300000, 10)]
    assert g == [R(500000, 65536)]


def test_dynamic_both_queries_fail(fake_getsubids):
    exe = fake_getsubids({})
    err = '(stdout="", stderr="Error fetching ranges\\n")'
    assert raises(idmap.get_subid_ranges_dynamic, 1000, "alice") == (
        'subid-source:dynamic: failed to get subuids by the username "alice": '
        f"failed to exec [{exe} alice]: exit status 1 {err}; also failed to get subuids by the UID 1000: "
        f"failed to exec [{exe} 1000]: exit status 1 {err}")
    fake_getsubids({"alice": "0: alice 1 2\n"})
    assert raises(idmap.get_subid_ranges_dynamic, 1000, "alice") == (
        'subid-source:dynamic: failed to get subgids by the username "alice": '
        f"failed to exec [{exe} -g alice]: exit status 1 {err}; also failed to get subuids by the UID 1000: "
        f"failed to exec [{exe} -g 1000]: exit status 1 {err}")


def test_dynamic_unparsable_and_warnings(fake_getsubids):
    fake_getsubids({"alice": "0: alice 1 2\nbogus\n", "1000": "0: a 1 2 3\n0: a 5 6 :x\n",
                    "-g alice": "0: alice 7 8\n"})
    warnings = []
    # a parse error counts as a failed query; only both failing is fatal, partial results are kept
    assert idmap.get_subid_ranges_dynamic(1000, "alice", warnings.append) == (
        [R(1, 2), R(5, 6)], [R(7, 8)])
    assert len(warnings) == 2
    assert 'line 1: line "0: a 1 2 3" contains unknown fields (stdout=' in warnings[0]
    assert 'line 2: line "0: a 5 6 :x" contains unknown fields' in warnings[1]
    assert idmap._parse_getsubids_output("0: alice 1 2\nbogus\n") == (
        [R(1, 2)], [], 'line 2: unparsable line "bogus"')
    assert idmap._parse_getsubids_output("0:x: a 5 6\n")[2] == 'line 1: unparsable line "0:x: a 5 6"'
    assert idmap._parse_getsubids_output("0: a 1\n")[2] == 'line 1: unparsable line "0: a 1"'
    assert idmap._parse_getsubids_output("0: a 1 2x\n")[2] == (
        'line 1: unparsable line "0: a 1 2x": failed to Atoi("2x"): strconv.Atoi: parsing "2x": invalid syntax')


def test_parse_getsubids_output_upstream_sample():
    assert idmap._parse_getsubids_output("# foo\n0: foo 100000 655360\n") == ([R(100000, 655360)], [], None)


def test_parse_debian_getsubids_output():
    # what uidmap 4.13 prints on this machine for `getsubids rkuser` and `getsubids -g rkuser`
    assert idmap._parse_getsubids_output("0: rkuser 100000 65536\n") == ([R(100000, 65536)], [], None)


def test_dynamic_not_found(tmp_path, monkeypatch):
    monkeypatch.delenv("GETSUBIDS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert raises(idmap.get_subid_ranges_dynamic, 1000, "alice") == \
        'subid-source:dynamic: exec: "getsubids": executable file not found in $PATH'
    monkeypatch.setenv("GETSUBIDS", str(tmp_path / "gs"))
    assert raises(idmap.get_subid_ranges_dynamic, 1000, "alice") == \
        f'subid-source:dynamic: exec: "{tmp_path}/gs": stat {tmp_path}/gs: no such file or directory'


def test_dynamic_empty_lists_are_not_an_error(fake_getsubids):
    fake_getsubids({"alice": "", "-g alice": ""})
    assert idmap.get_subid_ranges_dynamic(1000, "alice") == ([], [])


# --- source dispatch ---------------------------------------------------------------------------

def test_auto_prefers_dynamic_then_falls_back_to_static(tmp_path, fake_getsubids):
    files = {"subuid_file": write(tmp_path, "su", "alice:1:2\n"), "subgid_file": write(tmp_path, "sg", "alice:3:4\n"),
             "nsswitch": write(tmp_path, "nss", "passwd: files\nsubid: sss  # FreeIPA\n")}
    fake_getsubids({"alice": "0: alice 10 20\n", "-g alice": "0: alice 30 40\n"})
    for source in ("auto", ""):
        assert idmap.get_subid_ranges(1000, "alice", source, **files) == ([R(10, 20)], [R(30, 40)])
    assert idmap.get_subid_ranges(1000, "alice", "static", **files) == ([R(1, 2)], [R(3, 4)])
    fake_getsubids({"alice": "0: alice 10 20\n", "-g alice": ""})  # empty gid list -> static
    assert idmap.get_subid_ranges(1000, "alice", "auto", **files) == ([R(1, 2)], [R(3, 4)])
    assert idmap.get_subid_ranges(1000, "alice", "dynamic", **files) == ([R(10, 20)], [])
    fake_getsubids({})  # dynamic fails -> static
    assert idmap.get_subid_ranges(1000, "alice", "auto", **files) == ([R(1, 2)], [R(3, 4)])


def test_auto_reads_the_files_when_nss_has_no_subid_service(tmp_path, fake_getsubids):
    fake_getsubids({"alice": "0: alice 10 20\n", "-g alice": "0: alice 30 40\n"})
    files = {"subuid_file": write(tmp_path, "su", "alice:1:2\n"), "subgid_file": write(tmp_path, "sg", "alice:3:4\n")}
    for nss in ("passwd: files\n", "subid: files\n", "# subid: sss\n"):
        assert not idmap.nss_has_subid_service(write(tmp_path, "nss", nss))
        assert idmap.get_subid_ranges(1000, "alice", "auto", nsswitch=str(tmp_path / "nss"), **files) == \
            ([R(1, 2)], [R(3, 4)])
    assert idmap.nss_has_subid_service(write(tmp_path, "nss", "subid:sss\n"))
    assert not idmap.nss_has_subid_service(str(tmp_path / "missing"))


def test_unknown_source():
    assert raises(idmap.get_subid_ranges, 1000, "alice", "x") == 'unknown subid source "x"'
    assert raises(write_id_maps, 1, 1000, 1000, "alice", "Static") == \
        'failed to setup UID/GID map: failed to compute uid/gid map: unknown subid source "Static"'


# --- write_id_maps -----------------------------------------------------------------------------

def test_write_id_maps_newuidmap_not_on_path(tmp_path, monkeypatch, fake_getsubids):
    fake_getsubids({"alice": "0: alice 100000 65536\n", "-g alice": "0: alice 100000 65536\n"})
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert raises(write_id_maps, 4242, 1000, 1001, "alice", "dynamic") == (
        "failed to setup UID/GID map: newuidmap 4242 [0 1000 1 1 100000 65536] failed: : "
        'exec: "newuidmap": executable file not found in $PATH')


def test_write_id_maps_real_newuidmap_failure(fake_getsubids):
    # A process outside any fresh user namespace already has a uid_map, so newuidmap must fail.
    fake_getsubids({"alice": "0: alice 100000 65536\n", "-g alice": "0: alice 100000 65536\n"})
    child = subprocess.Popen(["sleep", "30"])
    try:
        msg = raises(write_id_maps, child.pid, 1000, 1001, "alice", "dynamic")
    finally:
        child.kill()
        child.wait()
    prefix = f"failed to setup UID/GID map: newuidmap {child.pid} [0 1000 1 1 100000 65536] failed: newuidmap: "
    assert msg.startswith(prefix)
    assert msg.endswith("\n: exit status 1")


@pytest.mark.skipif(not (os.path.exists("/usr/bin/newuidmap") and shutil.which("unshare")),
                    reason="needs uidmap and util-linux unshare")
@pytest.mark.parametrize("source", ["static", "dynamic", "auto"])
def test_write_id_maps_real_user_namespace(source):
    """End to end with the real helpers: map a fresh user namespace owned by the current user."""
    uid, gid, username = idmap.lookup_user()
    try:
        subuid, subgid = idmap.get_subid_ranges(uid, username, source)
    except RootlessKitError as e:
        pytest.fail(f"no sub-IDs for {username} via {source}: {e}")
    child = subprocess.Popen(["unshare", "--user", "sleep", "30"])
    try:
        own_ns = os.readlink("/proc/self/ns/user")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{child.pid}/ns/user") == own_ns:
            assert time.monotonic() < deadline and child.poll() is None, "unshare --user did not happen"
            time.sleep(0.01)
        write_id_maps(child.pid, uid, gid, username, source)
        with open(f"/proc/{child.pid}/uid_map") as f:
            uid_map = [line.split() for line in f]
        with open(f"/proc/{child.pid}/gid_map") as f:
            gid_map = [line.split() for line in f]
    finally:
        child.kill()
        child.wait()
    flat = [x for row in uid_map for x in row]
    assert flat == idmap.compute_map_args(uid, subuid)
    assert [x for row in gid_map for x in row] == idmap.compute_map_args(gid, subgid)


# --- the real getsubids ------------------------------------------------------------------------

def _users_to_check():
    users = [idmap.lookup_user()[::2]]
    try:
        rk = pwd.getpwnam("rkuser")
        if rk.pw_uid != users[0][0]:
            users.append((rk.pw_uid, rk.pw_name))
    except KeyError:
        pass
    return users


@pytest.mark.parametrize("uid,username", _users_to_check())
def test_real_getsubids_agrees_with_etc_files(monkeypatch, uid, username):
    monkeypatch.setenv("GETSUBIDS", REAL_GETSUBIDS)
    try:
        expected = idmap.get_subid_ranges_static(uid, username)
    except RootlessKitError as e:
        assert "ranges found" in str(e)  # no entry for this user: getsubids must not invent one
        try:
            got = idmap.get_subid_ranges_dynamic(uid, username)
        except RootlessKitError as e2:
            assert "Error fetching ranges" in str(e2)
        else:
            assert not (got[0] and got[1])
        return
    assert idmap.get_subid_ranges_dynamic(uid, username) == expected


def test_helpers_start_with_sigpipe_at_default():
    # Python ignores SIGPIPE; the helpers must not inherit that (Go's children don't).
    err, out, _ = proc.run("/bin/sh", ["sh", "-c", "grep SigIgn /proc/$$/status"], True)
    assert err is None
    ignored = int(out.split()[1], 16)
    assert not ignored & (1 << (13 - 1)) and not ignored & (1 << (25 - 1))


def test_dynamic_fatal_uid_failure_hides_gid_query_warnings(fake_getsubids):
    # all four queries run at once, but gid results are only looked at when the uid ones succeeded
    fake_getsubids({"-g alice": "0: alice 1 2 extra\n"})
    warnings = []
    msg = raises(idmap.get_subid_ranges_dynamic, 1000, "alice", warnings.append)
    assert msg.startswith("subid-source:dynamic: failed to get subuids by the username")
    assert warnings == []


def test_user_without_passwd_entry_is_a_map_error(monkeypatch):
    """A uid with no passwd entry (and no $USER/$HOME) fails the map step with upstream's wording."""
    import pwd

    def no_entry(uid):
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    monkeypatch.delenv("USER", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    assert raises(idmap.prepare_invoking_user("static"), 1) == (
        "failed to setup UID/GID map: failed to compute uid/gid map: "
        "user: Current requires cgo or $USER, $HOME set in environment")
