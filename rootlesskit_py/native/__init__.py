"""System calls Python 3.11 lacks (unshare, setns, mount, prctl) and the
data paths of the builtin port driver (the TCP splice pump, the UDP relay), behind one module.

The C lives in native/ and is compiled by cffi into `_native`: built into the static interpreter of
the binaries (packaging/static_python.py), and as a `.so` next to this file for the Python entry point.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

# Namespace flags (linux/sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Mount flags (linux/mount.h)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20

# prctl options (linux/prctl.h)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4

MADV_DONTNEED = 4


def _import_native():
    if "_native" in sys.builtin_module_names:  # the binaries: built into their static interpreter
        import _native

        return _native
    from rootlesskit_py.native import _native  # the Python entry point: the .so build.py compiled

    return _native


_module = _import_native()
_lib = _module.lib
_NULL = _module.ffi.NULL


def _check(ret: int, path: str | None = None) -> int:
    """Turn the C side's -errno convention into OSError (with the path, as os functions do)."""
    if ret < 0:
        if path is None:
            raise OSError(-ret, os.strerror(-ret))
        raise OSError(-ret, os.strerror(-ret), path)
    return ret


def unshare(flags: int) -> None:
    """unshare(2): move this process into new namespaces."""
    _check(_lib.rk_unshare(flags))


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): join the namespace behind `fd`."""
    _check(_lib.rk_setns(fd, nstype))


def _c(value: str | None):
    return value.encode() if value is not None else _NULL


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2); raises OSError naming the target."""
    _check(_lib.rk_mount(_c(source), target.encode(), _c(fstype), flags, _c(data)), target)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2) with integer arguments."""
    return _check(_lib.rk_prctl(option, arg2, arg3, arg4, arg5))


def release_start_up_pages() -> None:
    """Unmap the pages of the executable's read-only data and code, for a process about to idle.

    Why: that data is mostly Nuitka's constants and bytecode, read while modules load, and much of
    the code is the modules' bodies, run once. Looking up each module's part walks the whole blob,
    so after start-up about 5 MiB of it stayed resident in every idle rootlesskit, more than any
    other mapping. How: madvise(MADV_DONTNEED) on the file's read-only private mappings that hold
    no page of their own (Anonymous: 0 in smaps; a dynamic loader's relocated RELRO would, and
    dropping it would undo the relocation). So nothing is lost: a later read (the API server's first
    request imports h11) faults the page in again from the file, which the page cache usually holds."""
    try:  # only a saving: no failure here may stop the program
        exe = os.fsencode(os.readlink("/proc/self/exe"))
        with open("/proc/self/smaps", "rb") as smaps:  # bytes: a mapped file's name need not be UTF-8
            candidates, current = [], None
            for line in smaps:
                fields = line.split(maxsplit=5)
                if not fields:
                    continue
                if b"-" in fields[0]:  # a mapping's first line: range, perms, offset, dev, inode, path
                    current = None
                    if len(fields) == 6 and fields[1] in (b"r--p", b"r-xp") and fields[5].rstrip(b"\n") == exe:
                        current = [int(x, 16) for x in fields[0].split(b"-")]
                        candidates.append(current)
                elif current is not None and fields[0] == b"Anonymous:" and fields[1] != b"0":
                    candidates.remove(current)
                    current = None
        for start, end in candidates:
            _lib.rk_madvise(start, end - start, MADV_DONTNEED)
    except (OSError, ValueError):
        pass


def spawn(path: str, argv: Sequence[str], env: dict[str, str], *, fds: dict[int, int], keep_fds: Sequence[int],
          setsid: bool, quiet: bool, set_listen_pid: bool, nofile: tuple[int, int] | None, pdeathsig: int) -> int:
    """Start `path` as util.proc.fork_exec describes, without forking the interpreter (rk_spawn in
    native/); returns the pid, or raises OSError naming `path` if it could not be exec'd."""
    ffi = _module.ffi
    keep = [ffi.new("char[]", os.fsencode(arg)) for arg in argv]
    c_argv = ffi.new("char *[]", keep + [_NULL])
    entries = [ffi.new("char[]", os.fsencode(k) + b"=" + os.fsencode(v)) for k, v in env.items()
               if not (set_listen_pid and k == "LISTEN_PID")]
    slot = -1
    if set_listen_pid:
        slot = len(entries)
        entries.append(ffi.new("char[]", b"LISTEN_PID="))  # rk_spawn writes the new pid into this slot
    c_env = ffi.new("char *[]", entries + [_NULL])
    pairs = [n for target, source in fds.items() for n in (target, source)]
    soft, hard = nofile if nofile is not None else (-1, -1)
    return _check(_lib.rk_spawn(os.fsencode(path), c_argv, c_env, ffi.new("int[]", pairs) if pairs else _NULL,
                                len(fds), ffi.new("int[]", list(keep_fds)) if keep_fds else _NULL, len(keep_fds),
                                setsid, quiet, slot, soft, hard, pdeathsig), path)


def set_pdeathsig(sig: int) -> None:
    """Have the kernel send `sig` to this process when its parent dies."""
    prctl(PR_SET_PDEATHSIG, sig)


def drop_file_capabilities() -> bool:
    """Clear the permitted, effective, inheritable and ambient capability sets of a process started
    by a user: all five programs are one file, so `setcap cap_net_bind_service=ep` on rootlesskit
    marks the others too, and only the rootlesskit parent may use what it grants. Root keeps its
    capabilities: they are its own (inside rootlesskit's user namespace the Docker programs need them),
    not the file's. Returns whether the process held any permitted capability before."""
    return os.getuid() != 0 and _check(_lib.rk_drop_capabilities()) == 1



def pump_start() -> None:
    """Start this process's splice pump thread (once; later calls do nothing)."""
    _check(_lib.rk_pump_start())


def pump_add(a: int, b: int, group: int) -> None:
    """Hand two connected sockets to the pump, which copies both ways and closes them when done.
    The caller must no longer use (or close) either descriptor."""
    _check(_lib.rk_pump_add(a, b, group))


def pump_close_group(group: int) -> None:
    """Close every connection handed over with `group` (a port being removed)."""
    _check(_lib.rk_pump_close_group(group))


def udp_start() -> None:
    """Start this process's UDP relay thread (once; later calls do nothing). Call it from the thread
    in the child's network namespace: the relay opens its sockets toward the target there."""
    _check(_lib.rk_udp_start())


def udp_add(fd: int, group: int, target_ip: str, target_port: int) -> None:
    """Hand a bound UDP socket to the relay, which forwards its datagrams to target_ip:target_port
    (one connected socket per client) and closes it with its group. The caller must no longer use
    (or close) `fd`."""
    _check(_lib.rk_udp_add(fd, group, target_ip.encode(), target_port))


def udp_close_group(group: int) -> None:
    """Close the UDP ports handed over with `group`, and every client socket of theirs."""
    _check(_lib.rk_udp_close_group(group))


def bypass_start(listen_fd: int, route_fd: int, debug: bool) -> None:
    """Start bypass4netns' thread (native/rootlesskit_bypass.c) on runc's listening socket and the
    namespace's NETLINK_ROUTE socket; it owns both from then on. `debug` logs each decision."""
    _check(_lib.rk_bypass_start(listen_fd, route_fd, int(debug)))
