#!/usr/bin/env python3
"""Build the five binaries into dist/bin/ (and optionally install them).

    python3 build.py                 # build dist/bin/
    python3 build.py --install       # build, then install to /usr/local/bin (root) or ~/bin
    python3 build.py --install-apt   # as root: first apt-get install what the build needs

Why this shape (see README "The binaries"): Nuitka *standalone* mode with a static libpython, not
onefile, because a onefile bootstrap forks the real program (so `$!` is the wrong pid, AppArmor
path profiles and setcap'd capabilities don't reach it). Standalone leaves extension modules as
separate .so files; the only two we need (cffi's backend and our `_native`) are embedded in the
executable as bytes and loaded from a memfd at start (rootlesskit_py/native/__init__.py), so the
executable is self-sufficient and `dist/bin/*` are plain regular files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent
BUILD = ROOT / "build"
VENV = ROOT / ".venv"
DIST_BIN = ROOT / "dist" / "bin"
BASE_PYTHON = "/usr/bin/python3.11"
# Debian's python3-cffi-backend is what gets embedded; the cffi that generates our module must match it.
SYSTEM_CFFI_BACKEND = "/usr/lib/python3/dist-packages/_cffi_backend.cpython-311-x86_64-linux-gnu.so"
REQUIREMENTS = ["nuitka==4.3.3", "ordered-set==4.1.0", "cffi==1.15.1", "pytest==9.2.0"]
APT_PACKAGES = ["python3.11-dev", "python3.11-venv", "libpython3.11-dev", "python3-cffi-backend", "libffi-dev",
                "libexpat1-dev", "zlib1g-dev", "gcc", "ccache", "patchelf"]
TOOLS = ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy", "dockerd-rootless.sh",
         "dockerd-rootless-setuptool.sh"]
# Libraries linked statically so the executable runs where they are not installed (slim images
# have no libexpat); zlib and libc are everywhere a glibc binary can run.
STATIC_LIBS = ["libexpat.a"]


def run(cmd: list[str], **kwargs) -> None:
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def install_apt() -> None:
    if os.geteuid() != 0:
        sys.exit("--install-apt needs root (it runs apt-get install)")
    run(["apt-get", "update", "-qq"])
    run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def check_prerequisites() -> None:
    missing = [p for p in (BASE_PYTHON, SYSTEM_CFFI_BACKEND, "/usr/lib/python3.11/config-3.11-x86_64-linux-gnu/libpython3.11.a",
                           "/usr/lib/x86_64-linux-gnu/libexpat.a") if not os.path.exists(p)]
    if missing or not shutil.which("gcc"):
        sys.exit(f"build prerequisites missing: {', '.join(missing) or 'gcc'}\n"
                 f"fix: sudo apt-get install -y {' '.join(APT_PACKAGES)}  (or: sudo python3 build.py --install-apt)")


def ensure_venv() -> pathlib.Path:
    """The private build venv; reinstalled only when REQUIREMENTS change."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements"
    wanted = "\n".join(REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    run([BASE_PYTHON, "-m", "venv", "--clear", VENV])
    run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS])
    stamp.write_text(wanted)
    return python


def patch_nuitka(python: pathlib.Path) -> None:
    """Stop Nuitka from importing `inspect` at every start.

    Nuitka 4.3.3's main() imports the whole `inspect` module only to patch it for compiled
    generators (its own TODO says this should be an import hook). Measured here: 22 ms of a 38 ms
    start of a hello-world binary. Nothing in this project inspects compiled generators, so the call
    is removed from the pinned Nuitka in our private venv; the build fails if that line changes.
    """
    source = subprocess.run([python, "-c", "import nuitka, os; print(os.path.dirname(nuitka.__file__))"],
                            check=True, capture_output=True, text=True).stdout.strip()
    main_program = pathlib.Path(source) / "build" / "static_src" / "MainProgram.c"
    text = main_program.read_text()
    call, patched = "    patchInspectModule(tstate);\n", "    /* rootlesskit-py build.py: inspect is not patched at start-up */\n"
    if patched in text:
        return
    if text.count(call) != 1:
        sys.exit(f"{main_program}: the patchInspectModule call build.py removes was not found; "
                 "check patch_nuitka() against this Nuitka version")
    main_program.write_text(text.replace(call, patched))


def build_native(python: pathlib.Path) -> pathlib.Path:
    """Compile native/ through cffi and place `_native*.so` in the package (for the Python entry point too)."""
    out = BUILD / "native"
    out.mkdir(parents=True, exist_ok=True)
    code = "import sys, builder; print(builder.build(sys.argv[1]))"
    so = subprocess.run([python, "-c", code, out], check=True, capture_output=True, text=True,
                        cwd=ROOT / "native").stdout.strip()
    target = ROOT / "rootlesskit_py" / "native" / pathlib.Path(so).name
    if not target.exists() or target.read_bytes() != pathlib.Path(so).read_bytes():
        shutil.copy2(so, target)
    return target


def stage_sources(native_so: pathlib.Path) -> pathlib.Path:
    """A copy of the package plus `_embedded.py` holding the extension modules' bytes."""
    src = BUILD / "src"
    staged = src / "rootlesskit_py"
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(ROOT / "rootlesskit_py", staged, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    blobs = {"_cffi_backend": pathlib.Path(SYSTEM_CFFI_BACKEND).read_bytes(),
             "rootlesskit_py.native._native": native_so.read_bytes()}
    with open(staged / "native" / "_embedded.py", "w") as f:
        f.write('"""Generated by build.py: extension modules embedded in the executable."""\n\nBLOBS = {\n')
        for name, blob in blobs.items():
            f.write(f"    {name!r}: {blob!r},\n")
        f.write("}\n")
    (src / "rootlesskit_main.py").write_text(
        "from rootlesskit_py.cli import main\n\nif __name__ == '__main__':\n    main()\n")
    return src


def static_lib_dir() -> pathlib.Path:
    """A -L directory holding only the .a files, so `-lexpat` resolves to the static archive."""
    libdir = BUILD / "staticlibs"
    libdir.mkdir(parents=True, exist_ok=True)
    for name in STATIC_LIBS:
        link = libdir / name
        if not link.exists():
            link.symlink_to(f"/usr/lib/x86_64-linux-gnu/{name}")
    return libdir


# Modules the standard library imports optionally (inside try/except) whose C parts would be
# separate .so files beside the executable: left out, so the lone executable never half-works.
NOT_SHIPPED = ["bz2", "lzma", "hashlib", "decimal", "_pydecimal", "contextvars", "typing",
               "_typing",
               "_cffi_backend", "rootlesskit_py.native._native", "cffi", "pytest", "unittest", "pydoc"]

# Nuitka freezes every `encodings` module (the locale could name any of them), and with them the C
# parts of the CJK codecs. Not shipped: only a legacy non-UTF-8 CJK locale (EUC-JP, GBK, Big5, ...)
# would need them, and the README tells those users to run with LANG=C.UTF-8.
LEGACY_CJK_CODECS = {"_codecs_cn.so", "_codecs_hk.so", "_codecs_iso2022.so", "_codecs_jp.so",
                            "_codecs_kr.so", "_codecs_tw.so", "_multibytecodec.so"}


def nuitka(python: pathlib.Path, src: pathlib.Path) -> pathlib.Path:
    """Compile the staged sources; skipped when nothing that goes into the executable changed."""
    out = BUILD / "nuitka"
    exe = out / "rootlesskit_main.dist" / "rootlesskit-py"
    cmd = [str(python), "-m", "nuitka", "--standalone", "--static-libpython=yes", "--deployment", "--quiet",
           "--assume-yes-for-downloads", "--python-flag=no_site", "--python-flag=no_docstrings",
           "--include-package=rootlesskit_py", *[f"--nofollow-import-to={m}" for m in NOT_SHIPPED],
           f"--output-dir={out}", "--output-filename=rootlesskit-py", str(src / "rootlesskit_main.py")]
    digest = hashlib.sha256("\0".join(cmd + REQUIREMENTS).encode())
    for path in sorted(src.rglob("*.py")):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    stamp = out / ".inputs-sha256"
    if exe.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        print(f"{exe}: up to date")
        return exe
    if exe.parent.exists():
        shutil.rmtree(exe.parent)  # Nuitka leaves files of earlier builds in place
    run(cmd, cwd=src, env={**os.environ, "LDFLAGS": f"-L{static_lib_dir()}"})
    extra = sorted(p.name for p in exe.parent.iterdir() if p != exe and p.name not in LEGACY_CJK_CODECS)
    if extra:
        sys.exit(f"files beside the executable would not ship with it: {extra}; add their importers to NOT_SHIPPED")
    needed = subprocess.run(["patchelf", "--print-needed", exe], check=True, capture_output=True, text=True).stdout.split()
    unexpected = [lib for lib in needed if not lib.startswith(("libc.so", "libm.so", "libz.so", "ld-linux"))]
    if unexpected:
        sys.exit(f"the executable needs shared libraries a bare glibc system may lack: {unexpected}")
    stamp.write_text(digest.hexdigest())
    return exe


def assemble(exe: pathlib.Path) -> None:
    """dist/bin: `rootlesskit` a file of its own (setcap marks the inode), the other names one hard-linked inode."""
    if DIST_BIN.exists():
        shutil.rmtree(DIST_BIN)
    DIST_BIN.mkdir(parents=True)
    shutil.copy2(exe, DIST_BIN / "rootlesskit")
    shutil.copy2(exe, DIST_BIN / TOOLS[1])
    for name in TOOLS[2:]:
        os.link(DIST_BIN / TOOLS[1], DIST_BIN / name)
    digest = hashlib.sha256(exe.read_bytes()).hexdigest()[:16]
    print(f"built {DIST_BIN} ({exe.stat().st_size / 1e6:.1f} MB, sha256 {digest}): {', '.join(TOOLS)}")


def install(prefix: pathlib.Path) -> None:
    """Install with dist/bin's layout (rootlesskit its own file, the other four one inode), each name
    replaced atomically so a running rootlesskit keeps its old inode."""
    prefix.mkdir(parents=True, exist_ok=True)
    for name in TOOLS:
        tmp = prefix / f".{name}.tmp"
        tmp.unlink(missing_ok=True)
        if name in TOOLS[:2]:
            shutil.copy2(DIST_BIN / name, tmp)
        else:
            os.link(prefix / TOOLS[1], tmp)
        os.replace(tmp, prefix / name)
    print(f"installed {', '.join(TOOLS)} into {prefix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install-apt", action="store_true", help="apt-get install the build prerequisites (root)")
    parser.add_argument("--install", action="store_true", help="install into --prefix after building")
    parser.add_argument("--prefix", type=pathlib.Path,
                        default=pathlib.Path("/usr/local/bin") if os.geteuid() == 0 else pathlib.Path.home() / "bin")
    args = parser.parse_args()
    if args.install_apt:
        install_apt()
    check_prerequisites()
    python = ensure_venv()
    patch_nuitka(python)
    native_so = build_native(python)
    assemble(nuitka(python, stage_sources(native_so)))
    if args.install:
        install(args.prefix)


if __name__ == "__main__":
    main()
