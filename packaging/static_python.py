"""The recipe for the static interpreter the binaries are linked against (musl, no shared libraries).

A Nuitka binary links libpython; to need no libc at run time, that libpython must be a static
CPython built with musl, with every C module the program (and Nuitka, which runs on it) imports
compiled in: the standard library's (Modules/Setup.stdlib, turned static), cffi's backend, ctypes,
zlib, and our own `_native` (native/, through cffi). libffi and zlib are built with musl too.
Sources come from Debian's archive (deb-src, pinned by sha256) and PyPI (cffi's sdist).

The result is cached in build/musl/ under a key of this recipe; a changed native/ only recompiles
those files in the kept CPython tree (seconds). `interpreter()` returns the install prefix.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
MUSL = ROOT / "build" / "musl"
PREFIX = MUSL / "python"
STAMPS = [MUSL / ".recipe", MUSL / ".native"]  # what a binary built on this interpreter depends on
CC = MUSL / "bin" / "x86_64-linux-musl-gcc"  # Nuitka recognises gcc by the name's ending
# (apt source package, orig tarball, sha256): Debian 12's versions
APT_SOURCES = {
    "python": ("python3.11/bookworm", "python3.11_3.11.2.orig.tar.gz",
               "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"),
    "libffi": ("libffi/bookworm", "libffi_3.4.4.orig.tar.gz",
               "d66c56ad259a82cf2a9dfc408b32bf5da52371500b84745f7fb8b645712df676"),
    "zlib": ("zlib/bookworm", "zlib_1.2.13.dfsg.orig.tar.bz2",
             "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1"),
}
CFFI_SDIST = ("cffi==1.15.1", "cffi-1.15.1.tar.gz", "d400bfb9a37b1351253cb402671cea7e89bdecc294e8016a707f6d1d8ac934f9")
DEB_SRC_LIST = "/etc/apt/sources.list.d/rootlesskit-py-src.sources"
DEB_SRC = """Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# musl's default thread stack is 128 KiB; the linker note raises it (musl reads PT_GNU_STACK)
LDFLAGS = "-static -Wl,-z,stack-size=1048576"
# Setup.stdlib modules left out: nothing imports them, or they need libraries musl builds lack
LEFT_OUT = {"audioop", "ossaudiodev", "_xxsubinterpreters", "nis", "spwd", "_crypt"}
# a static interpreter cannot dlopen: ctypes' one import-time dlopen (the Python API handle) is made optional
CTYPES_PATCH = ("    pythonapi = PyDLL(None)\n",
                "    try:\n        pythonapi = PyDLL(None)\n    except OSError:  # static interpreter (rootlesskit-py)\n"
                "        pythonapi = None\n")
# The binaries start with the garbage collector off from the interpreter's first allocation: start-up
# allocates tens of thousands of objects that all live, and the collections they trigger were about
# a tenth of a bare start (perf), half of it inside Py_Initialize. The switch is a variable the
# binary's main() sets (build.py's Nuitka patch), so this interpreter running Nuitka keeps
# collecting; each long-lived program turns collection on again once it settles (util/idle.py).
GC_PATCH = ("PyStatus\n_PyGC_Init(PyInterpreterState *interp)\n{\n    GCState *gcstate = &interp->gc;\n",
            "int _Py_rootlesskit_gc_off_at_start = 0;  /* rootlesskit-py: set by the binary's main() */\n\n"
            "PyStatus\n_PyGC_Init(PyInterpreterState *interp)\n{\n    GCState *gcstate = &interp->gc;\n"
            "    if (_Py_rootlesskit_gc_off_at_start) {\n        gcstate->enabled = 0;\n    }\n")

# CPython freezes the standard library's start-up modules (os, io, codecs, site, runpy...) into itself,
# and builds all their code objects on every start (_Py_Deepfreeze_Init). A Nuitka binary never uses
# those copies: Nuitka ships the modules the program needs as its own frozen bytecode, which the
# import system finds first. Only the import system itself stays frozen; the interpreter running
# Nuitka reads the rest from its Lib/.
FREEZE_MODULES_PATCHES = [
    (re.compile(r"^FROZEN = \[\n.*?^\]\n", re.M | re.S),
     "FROZEN = [\n    ('import system', [\n        'importlib._bootstrap : _frozen_importlib',\n"
     "        'importlib._bootstrap_external : _frozen_importlib_external',\n        ]),\n]\n"),
    # the generator indexes each section's first line, and the stdlib and test sections are now empty
    ("        if not lines[0]:\n", "        if lines and not lines[0]:\n"),
]

# Every start also imports zipimport, to put its path hook in place for modules in zip files. The
# binary's modules are in the binary and Nuitka's are in directories, so no zip file is ever on
# sys.path. (Nuitka freezes whatever the interpreter imports at start, so zipimport's body would
# otherwise run from the binary's own copy.) Without the unused frozen modules and zipimport, a
# rootlesskit start with Docker's flags was 0.6-1.3 ms shorter, measured interleaved (BENCHMARKS.md).
ZIPIMPORT_PATCH = ("    return _PyImportZip_Init(tstate);\n}\n",
                   "    return _PyStatus_OK();  /* rootlesskit-py: no zipimport path hook */\n}\n")


def run(cmd: list, **kwargs) -> None:
    """Run a build step, echoing it first (build.py uses this too)."""
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def quiet(cmd: list, log: pathlib.Path, **kwargs) -> None:
    """A long, noisy step: output to `log`, shown (its end) only if the step fails."""
    print(f"+ {' '.join(str(c) for c in cmd)}  (log: {log})", flush=True)
    with open(log, "ab") as f:
        if subprocess.run([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, **kwargs).returncode:
            raise SystemExit(f"failed: {' '.join(str(c) for c in cmd)}\n" + log.read_text(errors="replace")[-4000:])


def add_deb_src() -> None:
    """As root: let apt-get source reach Debian's source packages (main archive only)."""
    if not os.path.exists(DEB_SRC_LIST):
        pathlib.Path(DEB_SRC_LIST).write_text(DEB_SRC)
        run(["apt-get", "update", "-qq"])


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sources(venv_python: pathlib.Path) -> dict[str, pathlib.Path]:
    """The pinned tarballs in build/musl/downloads (apt-get source --download-only; pip download)."""
    downloads = MUSL / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    wanted = {name: (downloads / file, digest) for name, (_, file, digest) in APT_SOURCES.items()}
    wanted["cffi"] = (downloads / CFFI_SDIST[1], CFFI_SDIST[2])
    missing = [APT_SOURCES[name][0] for name in APT_SOURCES if not wanted[name][0].exists()]
    if missing:
        result = subprocess.run(["apt-get", "source", "--download-only", "-qq", *missing], cwd=downloads,
                                capture_output=True, text=True)
        if result.returncode:
            raise SystemExit(f"apt-get source {' '.join(missing)} failed: {result.stderr.strip()}\nfix: sudo python3 "
                             f"build.py --install-apt (adds {DEB_SRC_LIST} for Debian's source packages)")
    if not wanted["cffi"][0].exists():
        run([venv_python, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
             "--no-binary", ":all:", CFFI_SDIST[0], "-d", downloads])
    for name, (path, digest) in wanted.items():
        if _sha256(path) != digest:
            raise SystemExit(f"{path}: sha256 {_sha256(path)}, expected {digest}")
    return {name: path for name, (path, _) in wanted.items()}


def _extract(tarball: pathlib.Path, into: pathlib.Path) -> pathlib.Path:
    """Unpack into a fresh `into`; returns the tarball's top directory."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(into)
    (top,) = into.iterdir()
    return top


def _compiler() -> None:
    """musl-gcc plus the kernel's headers (linux/, asm/: socket, netlink), and no multiarch answer
    (CPython's configure refuses gcc's x86_64-linux-gnu next to a musl triplet)."""
    headers = MUSL / "kheaders"
    headers.mkdir(parents=True, exist_ok=True)
    for name, target in (("linux", "/usr/include/linux"), ("asm", "/usr/include/x86_64-linux-gnu/asm"),
                         ("asm-generic", "/usr/include/asm-generic")):
        if not (headers / name).is_symlink():
            (headers / name).symlink_to(target)
    CC.parent.mkdir(parents=True, exist_ok=True)
    CC.write_text(f'#!/bin/sh\ncase "$1" in --print-multiarch) exit 0 ;; esac\nexec musl-gcc -isystem {headers} "$@"\n')
    CC.chmod(0o755)


def _autotools_library(tarball: pathlib.Path, name: str, configure: list[str]) -> pathlib.Path:
    prefix = MUSL / name
    src = _extract(tarball, MUSL / "src" / name)
    env = {**os.environ, "CC": str(CC), "CFLAGS": "-O2 -fPIC"}
    log = MUSL / f"{name}.log"
    quiet(["./configure", f"--prefix={prefix}", *configure], log, cwd=src, env=env)
    quiet(["make", f"-j{os.cpu_count()}"], log, cwd=src, env=env)
    quiet(["make", "install"], log, cwd=src, env=env)
    return prefix


def _setup_local(stdlib_setup: str, ffi: pathlib.Path, zlib: pathlib.Path) -> str:
    """Modules/Setup.local: our modules, then Setup.stdlib's module lines, all built in."""
    ffi_flags = f"-I{ffi}/include -L{ffi}/lib -lffi"
    ours = [
        f"_cffi_backend _cffi_backend/_cffi_backend.c {ffi_flags}",
        "_ctypes _ctypes/_ctypes.c _ctypes/callbacks.c _ctypes/callproc.c _ctypes/stgdict.c _ctypes/cfield.c "
        f"-DHAVE_FFI_PREP_CIF_VAR -DHAVE_FFI_PREP_CLOSURE_LOC -DHAVE_FFI_CLOSURE_ALLOC {ffi_flags}",
        f"zlib zlibmodule.c -I{zlib}/include -L{zlib}/lib -lz",
        " ".join(["_native _rootlesskit/_native.c", *(f"_rootlesskit/{name}" for name in _native_sources()),
                  "-I$(srcdir)/Modules/_rootlesskit"]),
    ]
    section = stdlib_setup.split("*static*", 1)[1].split("*shared*", 1)[0]
    stdlib = [line for line in section.splitlines()
              if line.strip() and not line.startswith("#") and line.split()[0] not in LEFT_OUT]
    return "\n".join(["*static*", *ours, *stdlib, "*disabled*", *sorted(LEFT_OUT)]) + "\n"


def _copy_native(cpython: pathlib.Path, venv_python: pathlib.Path) -> None:
    """native/*.c and the cffi-generated `_native.c` into Modules/_rootlesskit (only files that changed,
    so make recompiles only those)."""
    target = cpython / "Modules" / "_rootlesskit"
    target.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        generated = pathlib.Path(tmp) / "_native.c"
        subprocess.run([venv_python, "-c", f"import builder; builder.make_ffi().emit_c_code({str(generated)!r})"],
                       check=True, capture_output=True, cwd=ROOT / "native")
        for path in [generated, *sorted((ROOT / "native").glob("*.[ch]"))]:
            dest = target / path.name
            if not dest.exists() or dest.read_bytes() != path.read_bytes():
                shutil.copy(path, dest)


def _make_install(cpython: pathlib.Path, env: dict | None = None) -> None:
    """make, make install, then put every library the built-in modules link into the installed
    libpython3.11.a itself, so the static link needs nothing but it (Nuitka links libpython and the
    interpreter's own LIBS only)."""
    log = MUSL / "python.log"
    quiet(["make", f"-j{os.cpu_count()}"], log, cwd=cpython, env=env)
    quiet(["make", "install"], log, cwd=cpython, env=env)
    archives = [cpython / "Modules/expat/libexpat.a", cpython / "Modules/_decimal/libmpdec/libmpdec.a",
                MUSL / "libffi/lib/libffi.a", MUSL / "zlib/lib/libz.a"]
    lib = PREFIX / "lib" / "libpython3.11.a"
    for archive in archives:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["ar", "x", archive], check=True, cwd=tmp)
            subprocess.run(["ar", "q", lib, *sorted(os.listdir(tmp))], check=True, cwd=tmp)
    subprocess.run(["ranlib", lib], check=True)
    shutil.copy(lib, PREFIX / "lib" / "python3.11" / "config-3.11-x86_64-linux-musl" / "libpython3.11.a")


def _native_sources() -> list[str]:
    """native/*.c: each is a source of the `_native` module's line in Modules/Setup.local."""
    return sorted(path.name for path in (ROOT / "native").glob("*.c"))


def _recipe_key() -> str:
    """The recipe's text and compiler; the names of native/'s C files as well, since Setup.local,
    written once at configure time, lists them (their contents only recompile: interpreter())."""
    text = pathlib.Path(__file__).read_text() + subprocess.run(["musl-gcc", "--version"], capture_output=True,
                                                                text=True).stdout + " ".join(_native_sources())
    return hashlib.sha256(text.encode()).hexdigest()


def _patch(path: pathlib.Path, what: str, patches: list[tuple[str | re.Pattern, str]]) -> None:
    """Apply each (text or pattern, replacement) of `what` to the file; each must match exactly once,
    so a source that changed under a patch stops the build instead of building something else."""
    text = path.read_text()
    for old, replacement in patches:
        pattern = old if isinstance(old, re.Pattern) else re.compile(re.escape(old))
        if len(pattern.findall(text)) != 1:
            raise SystemExit(f"{path}: the text {what} changes was not found")
        text = pattern.sub(lambda _: replacement, text)
    path.write_text(text)


def _configure(venv_python: pathlib.Path) -> tuple[pathlib.Path, dict]:
    """Everything before make: sources, musl libffi and zlib, the CPython tree with cffi's backend and
    our module in Modules/, configure, Setup.local. Returns the tree and the environment to build in."""
    sources = fetch_sources(venv_python)
    _compiler()
    ffi = _autotools_library(sources["libffi"], "libffi",
                             ["--disable-shared", "--enable-static", "--disable-docs", "--disable-multi-os-directory"])
    zlib = _autotools_library(sources["zlib"], "zlib", ["--static"])
    cpython = _extract(sources["python"], MUSL / "src" / "python")
    cffi = _extract(sources["cffi"], MUSL / "src" / "cffi")
    shutil.copytree(cffi / "c", cpython / "Modules" / "_cffi_backend")
    shutil.copytree(cffi / "cffi", cpython / "Modules" / "cffi", ignore=shutil.ignore_patterns("*.py"))
    _copy_native(cpython, venv_python)
    _patch(cpython / "Lib" / "ctypes" / "__init__.py", "CTYPES_PATCH", [CTYPES_PATCH])
    _patch(cpython / "Modules" / "gcmodule.c", "GC_PATCH", [GC_PATCH])
    _patch(cpython / "Python" / "pylifecycle.c", "ZIPIMPORT_PATCH", [ZIPIMPORT_PATCH])
    _patch(cpython / "Tools" / "scripts" / "freeze_modules.py", "FREEZE_MODULES_PATCHES", FREEZE_MODULES_PATCHES)
    # regenerates Python/frozen.c and the Makefile's deepfreeze list from the shortened FROZEN
    quiet([venv_python, "Tools/scripts/freeze_modules.py"], MUSL / "python.log", cwd=cpython)
    env = {**os.environ, "CC": str(CC), "CFLAGS": "-O2", "LDFLAGS": LDFLAGS, "MODULE_BUILDTYPE": "static",
           "PKG_CONFIG": "/bin/false"}  # pkg-config would report glibc-side libraries musl cannot link
    shutil.rmtree(PREFIX, ignore_errors=True)
    quiet(["./configure", f"--prefix={PREFIX}", "--disable-shared", "--without-ensurepip", "--disable-test-modules"],
          MUSL / "python.log", cwd=cpython, env=env)
    (cpython / "Modules" / "Setup.local").write_text(
        _setup_local((cpython / "Modules" / "Setup.stdlib").read_text(), ffi, zlib))
    return cpython, env


def _configured_here(cpython: pathlib.Path) -> bool:
    """Whether the kept CPython tree was configured for this checkout: a build/ copied from another
    checkout holds a tree whose `make install` writes into that checkout's prefix (and uses its compiler)."""
    makefile = cpython / "Makefile"
    return makefile.exists() and f"\nprefix=\t\t{PREFIX}\n" in makefile.read_text()


def interpreter(venv_python: pathlib.Path) -> pathlib.Path:
    """The static musl CPython prefix, built on first use, refreshed when native/ changes (the kept
    CPython tree recompiles only the changed files)."""
    stamp, native_stamp = STAMPS
    native_key = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((ROOT / "native").glob("*")) if p.is_file()))
    cpython = MUSL / "src" / "python" / "Python-3.11.2"
    if stamp.exists() and stamp.read_text() == _recipe_key() and _configured_here(cpython):
        if native_stamp.exists() and native_stamp.read_text() == native_key.hexdigest():
            return PREFIX
        _copy_native(cpython, venv_python)
        _make_install(cpython)
    else:
        stamp.unlink(missing_ok=True)
        cpython, env = _configure(venv_python)
        _make_install(cpython, env)
        stamp.write_text(_recipe_key())
    native_stamp.write_text(native_key.hexdigest())
    return PREFIX
