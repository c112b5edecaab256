#!/usr/bin/env python3
"""Build the five binaries into dist/bin/ (and optionally install them).

    python3 build.py                 # build dist/bin/
    python3 build.py --install       # build, then install to /usr/local/bin (root) or ~/bin
    python3 build.py --install-apt   # as root: first apt-get install what the build needs
    python3 build.py package         # build, then write the release files into dist/ (README "Releases")

Why this shape (see README "The binaries"): Nuitka *standalone* mode, not onefile, because a
onefile bootstrap forks the real program (so `$!` is the wrong pid, AppArmor path profiles and
setcap'd capabilities don't reach it); linked against a static musl CPython with every C module
built in (packaging/static_python.py), so the executable is one statically linked ELF file that
needs no libc, no Python and no extraction.
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
sys.path.insert(0, str(ROOT / "packaging"))
import static_pasta  # noqa: E402 (the recipe of the network helper the release ships)
import static_python  # noqa: E402 (the recipe of the static interpreter)
from static_python import run  # noqa: E402

import dist  # noqa: E402 (the release files of `build.py package`)
import fixed_answers  # noqa: E402 (the texts the executable answers before its interpreter starts)

sys.path.insert(0, str(ROOT))
from rootlesskit_py.names import BUNDLED_DIR  # noqa: E402
from rootlesskit_py.version import VERSION  # noqa: E402

BUILD = ROOT / "build"
VENV = ROOT / ".venv"
DIST_BIN = ROOT / "dist" / "bin"
DIST_HELPERS = pathlib.Path(os.path.normpath(DIST_BIN.joinpath(*BUNDLED_DIR)))  # dist/libexec/rootlesskit-py: where the programs look
BASE_PYTHON = "/usr/bin/python3.11"
# h11: the API server's HTTP/1.1 parser (compiled in; imported on the first API connection)
REQUIREMENTS = ["nuitka==4.3.3", "ordered-set==4.1.0", "cffi==1.15.1", "pytest==9.2.0", "h11==0.16.0"]
# python3.11-dev: the development `_native` module for the Python entry point; musl-tools: the binaries
# dpkg-dev, rpm: `build.py package` (dpkg-deb, rpmbuild); patch, dpkg-dev: pasta (Debian's patches, buildflags)
APT_PACKAGES = ["python3.11-dev", "python3.11-venv", "gcc", "make", "binutils", "ccache", "musl-tools",
                "dpkg-dev", "rpm", "patch", "xz-utils"]
TOOLS = ["rootlesskit", "rootlessctl", "rootlesskit-docker-proxy", "dockerd-rootless.sh",
         "dockerd-rootless-setuptool.sh"]


def install_apt() -> None:
    if os.geteuid() != 0:
        sys.exit("--install-apt needs root (it runs apt-get install)")
    run(["apt-get", "update", "-qq"])
    run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    static_python.add_deb_src()
    static_pasta.add_deb_src()


def check_prerequisites() -> None:
    missing = [p for p in (BASE_PYTHON, "/usr/include/python3.11/Python.h") if not os.path.exists(p)]
    missing += [tool for tool in ("gcc", "make", "ar", "musl-gcc", "patch", "dpkg-buildflags", "xz")
                if not shutil.which(tool)]
    if missing:
        sys.exit(f"build prerequisites missing: {', '.join(missing)}\n"
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


# written into the private Nuitka's include directory for each build, included by its main()
ANSWERS_HEADER = "rootlesskit_py_answers.h"
# Edits to the pinned Nuitka in our private venv: (file under nuitka/, line(s) replaced, replacement)
NUITKA_PATCHES = [
    # Nuitka 4.3.3's main() imports the whole `inspect` module only to patch it for compiled generators
    # (its own TODO says this should be an import hook): 22 ms of a 38 ms hello-world start, measured
    # here. Nothing in this project inspects compiled generators.
    ("build/static_src/MainProgram.c", "    patchInspectModule(tstate);\n",
     "    /* rootlesskit-py build.py: inspect is not patched at start-up */\n"),
    # Nuitka probes perf counters through ctypes' dlopen of libc at import, which a static interpreter
    # cannot do; without the probe it just does not count instructions.
    ("utils/Profiling.py", "            return False\n\n        fd = getPerfFileHandle(PERF_COUNT_HW_INSTRUCTIONS)\n",
     "            return False\n\n        try:\n            fd = getPerfFileHandle(PERF_COUNT_HW_INSTRUCTIONS)\n"
     "        except OSError:  # static interpreter: no dlopen (rootlesskit-py build.py)\n            return False\n"),
    # The executable finds itself through /proc/self/exe before any Python runs; without /proc Nuitka
    # calls abort(): SIGABRT, exit 134 and not a word. Say what is missing instead, and exit 1.
    ("build/static_src/HelpersFilesystemPaths.c",
     '    ssize_t res = readlink("/proc/self/exe", binary_filename, buffer_size - 1);\n\n'
     "    if (unlikely(res == -1)) {\n        abort();\n    }\n",
     '    ssize_t res = readlink("/proc/self/exe", binary_filename, buffer_size - 1);\n\n'
     "    if (unlikely(res == -1)) { /* rootlesskit-py build.py: a message, not abort() */\n"
     '        fputs("rootlesskit-py: /proc must be mounted: the executable finds itself through /proc/self/exe '
     '(mount -t proc proc /proc)\\n", stderr);\n'
     "        exit(1);\n    }\n"),
    # Every import looks its module up in a table of 364 entries, and each comparison first copied
    # the entry's name into a 2 KiB buffer: about a tenth of the CPU time up to rootlesskit's first
    # fork (perf, unstripped build). Plain names (no m_get_name) are compared in place.
    ("build/static_src/MetaPathBasedLoader.c",
     "    char name_buffer[NUITKA_LOADER_NAME_MAX_LEN];\n    Nuitka_LoaderEntryName(entry, name_buffer, sizeof(name_buffer));\n\n"
     "    return strcmp(name, name_buffer) == 0;\n",
     "    if (entry->m_get_name == NULL) { /* rootlesskit-py build.py: no copy of a plain name */\n"
     "        return strcmp(name, entry->m_name) == 0;\n    }\n\n"
     "    char name_buffer[NUITKA_LOADER_NAME_MAX_LEN];\n    Nuitka_LoaderEntryName(entry, name_buffer, sizeof(name_buffer));\n\n"
     "    return strcmp(name, name_buffer) == 0;\n"),
    # An `import` statement goes through builtins.__import__, and for a module not yet loaded that is
    # importlib's Python path: _find_and_load, three finders, the spec, _init_module_attrs. uprobes on
    # rootlesskit's way to its first fork: 127 imports, 33 modules run, and 1.7-2.4 ms in that
    # machinery. Nuitka already has a direct importer for its own modules (its fixed imports use it:
    # parents first, importlib's module lock, sys.modules and the parent binding); an absolute import
    # of a compiled-in module now goes there first. Then __import__ only meets sys.modules hits, and a
    # loaded module whose fromlist names are all bound is returned without importlib's Python
    # _handle_fromlist.
    ("build/static_src/MetaPathBasedLoader.c",
     "PyObject *EXECUTE_EMBEDDED_MODULE(PyThreadState *tstate, PyObject *module) {\n",
     "/* rootlesskit-py build.py: a module of this program's loader table, loaded by its direct importer\n"
     "   (a new reference); NULL without an error when the name is none of them. */\n"
     "PyObject *Nuitka_ImportEntryModule(PyThreadState *tstate, PyObject *module_name) {\n"
     "    struct Nuitka_MetaPathBasedLoaderEntry *entry = findEntry(Nuitka_String_AsString(module_name), false);\n"
     "    if (entry == NULL || entry->m_import_module == NULL || (entry->flags & NUITKA_EXTENSION_MODULE_FLAG) != 0) {\n"
     "        return NULL;\n    }\n    return entry->m_import_module(tstate, entry, NULL);\n}\n\n"
     "PyObject *EXECUTE_EMBEDDED_MODULE(PyThreadState *tstate, PyObject *module) {\n"),
    ("build/static_src/HelpersImport.c",
     "    PyObject *import_result = CALL_FUNCTION_WITH_ARGS5(tstate, import_function, pos_args);\n\n"
     "    return import_result;\n}\n",
     "    if (import_function == tstate->interp->import_func && PyLong_CheckExact(level) && Py_SIZE(level) == 0 &&\n"
     "        PyUnicode_CheckExact(module_name)) { /* rootlesskit-py build.py: the direct importer first */\n"
     "        extern PyObject *Nuitka_ImportEntryModule(PyThreadState * tstate, PyObject * module_name);\n"
     "        PyObject *module = Nuitka_GetModule(tstate, module_name);\n"
     "        if (module == NULL) {\n"
     "            PyObject *loaded = Nuitka_ImportEntryModule(tstate, module_name);\n"
     "            if (loaded == NULL && HAS_ERROR_OCCURRED(tstate)) {\n                return NULL;\n            }\n"
     "            Py_XDECREF(loaded);\n            module = Nuitka_GetModule(tstate, module_name);\n        }\n"
     "        if (module != NULL && PyTuple_CheckExact(import_items) && PyTuple_GET_SIZE(import_items) > 0) {\n"
     "            bool bound = true;\n"
     "            PyObject *spec = PyObject_GetAttr(module, const_str_plain___spec__);\n"
     "            if (spec == NULL) {\n                CLEAR_ERROR_OCCURRED(tstate);\n                bound = false;\n"
     "            } else {\n"
     "                if (spec != Py_None) { /* still running (a circular import): importlib decides */\n"
     "                    PyObject *initializing = PyObject_GetAttr(spec, const_str_plain__initializing);\n"
     "                    if (initializing == NULL) {\n                        CLEAR_ERROR_OCCURRED(tstate);\n"
     "                    } else {\n                        bound = initializing == Py_False;\n"
     "                        Py_DECREF(initializing);\n                    }\n                }\n"
     "                Py_DECREF(spec);\n            }\n"
     "            for (Py_ssize_t i = 0; bound && i < PyTuple_GET_SIZE(import_items); i++) {\n"
     "                PyObject *item = PyTuple_GET_ITEM(import_items, i);\n"
     "                bound = PyUnicode_CheckExact(item) && PyUnicode_CompareWithASCIIString(item, \"*\") != 0;\n"
     "                if (bound && !HAS_ATTR_BOOL(tstate, module, item)) { /* a submodule of ours, not yet loaded? */\n"
     "                    PyObject *full_name = PyUnicode_FromFormat(\"%U.%U\", module_name, item);\n"
     "                    PyObject *loaded = full_name == NULL ? NULL : Nuitka_ImportEntryModule(tstate, full_name);\n"
     "                    Py_XDECREF(full_name);\n"
     "                    if (loaded == NULL && HAS_ERROR_OCCURRED(tstate)) {\n                        return NULL;\n"
     "                    }\n                    Py_XDECREF(loaded);\n"
     "                    bound = HAS_ATTR_BOOL(tstate, module, item);\n                }\n            }\n"
     "            if (bound) {\n                Py_INCREF(module);\n                return module;\n            }\n"
     "        }\n    }\n\n"
     "    PyObject *import_result = CALL_FUNCTION_WITH_ARGS5(tstate, import_function, pos_args);\n\n"
     "    return import_result;\n}\n"),
    # A module run by that direct importer has no __spec__ yet, so each one called importlib's Python
    # _spec_from_module, which raised and caught AttributeErrors to find that the loader has no
    # _ORIGIN and the module no __file__, __cached__ or __path__ yet (its own code sets them, and the
    # spec's, later). The same ModuleSpec is now built from dict lookups; its origin is __file__, as
    # Nuitka's loader type has no _ORIGIN (fixed methods, no instance dict).
    ("code_generation/templates/CodeTemplatesModules.py",
     "        PyObject *_spec_from_module = PyObject_GetAttrString(bootstrap_module, \"_spec_from_module\");\n"
     "        CHECK_OBJECT(_spec_from_module);\n\n"
     "        PyObject *spec_value = CALL_FUNCTION_WITH_SINGLE_ARG(tstate, _spec_from_module, module_%(module_identifier)s);\n"
     "        Py_DECREF(_spec_from_module);\n",
     "        /* rootlesskit-py build.py: importlib._bootstrap._spec_from_module(module), without exceptions */\n"
     "        PyObject *dict = (PyObject *)moduledict_%(module_identifier)s;\n"
     "        PyObject *spec_value = DICT_GET_ITEM0(tstate, dict, const_str_plain___spec__);\n"
     "        if (spec_value != NULL && spec_value != Py_None) {\n            Py_INCREF(spec_value);\n"
     "        } else {\n"
     "            PyObject *location = DICT_GET_ITEM0(tstate, dict, const_str_plain___file__);\n"
     "            PyObject *cached = DICT_GET_ITEM0(tstate, dict, const_str_plain___cached__);\n"
     "            PyObject *path = DICT_GET_ITEM0(tstate, dict, const_str_plain___path__);\n"
     "            PyObject *locations = path == NULL ? NULL : PySequence_List(path);\n"
     "            PyObject *spec_type = PyObject_GetAttrString(bootstrap_module, \"ModuleSpec\");\n"
     "            PyObject *args = PyTuple_Pack(2, DICT_GET_ITEM0(tstate, dict, const_str_plain___name__), module_loader);\n"
     "            PyObject *kwargs = MAKE_DICT_EMPTY(tstate);\n"
     "            PyDict_SetItemString(kwargs, \"origin\", location == NULL ? Py_None : location);\n"
     "            spec_value = spec_type == NULL || args == NULL ? NULL : PyObject_Call(spec_type, args, kwargs);\n"
     "            if (spec_value != NULL) {\n"
     "                if (PyObject_SetAttrString(spec_value, \"_set_fileattr\", location != NULL ? Py_True : Py_False) < 0 ||\n"
     "                    PyObject_SetAttrString(spec_value, \"cached\", cached == NULL ? Py_None : cached) < 0 ||\n"
     "                    PyObject_SetAttrString(spec_value, \"submodule_search_locations\",\n"
     "                                           locations == NULL ? Py_None : locations) < 0) {\n"
     "                    Py_CLEAR(spec_value);\n                }\n            }\n"
     "            Py_XDECREF(locations);\n            Py_XDECREF(spec_type);\n"
     "            Py_XDECREF(args);\n            Py_DECREF(kwargs);\n        }\n"),
    # Nuitka's main() asks for importlib._bootstrap, which imports the `importlib` package and with
    # it `warnings` (about 1 ms with the static interpreter, nothing of this program needs either).
    # The module it wants is the one the interpreter already runs as _frozen_importlib: the
    # `importlib` package only binds that same module under the other name.
    ("build/static_src/MetaPathBasedLoader.c",
     '        importlib = PyImport_ImportModule("importlib._bootstrap");\n',
     '        importlib = PyImport_ImportModule("_frozen_importlib"); /* rootlesskit-py build.py */\n'),
    # `--version` and `--help` are answered before the interpreter starts (native/fixed_answers.h), and
    # rootlesskit-docker-proxy starts and waits without it (native/docker_proxy.h);
    # the header is written by build.py for each build (packaging/fixed_answers.py). And the
    # interpreter starts without garbage collection (packaging/static_python.py's GC_PATCH).
    ("build/static_src/MainProgram.c",
     "int main(int argc, char **argv) {\n    // Call the Nuitka main code.\n    return Nuitka_Main(argc, argv);\n}\n",
     f'#include "nuitka/{ANSWERS_HEADER}" /* rootlesskit-py build.py */\n'
     "extern int _Py_rootlesskit_gc_off_at_start; /* packaging/static_python.py's GC_PATCH */\n"
     "int main(int argc, char **argv) {\n    rootlesskit_py_answer(argc, argv);\n"
     "    _Py_rootlesskit_gc_off_at_start = 1;\n    return Nuitka_Main(argc, argv);\n}\n"),
]


def patch_nuitka(python: pathlib.Path) -> pathlib.Path:
    """Apply NUITKA_PATCHES; the build fails if a patched line is not found. Returns the site-packages
    directory Nuitka lives in (the static interpreter runs it from there)."""
    source = pathlib.Path(subprocess.run([python, "-c", "import nuitka, os; print(os.path.dirname(nuitka.__file__))"],
                                         check=True, capture_output=True, text=True).stdout.strip())
    for relative, old, new in NUITKA_PATCHES:
        path = source / relative
        text = path.read_text()
        if new in text:
            continue
        if text.count(old) != 1:
            sys.exit(f"{path}: the line build.py patches was not found; check NUITKA_PATCHES against this Nuitka")
        path.write_text(text.replace(old, new))
    return source.parent


def build_native(python: pathlib.Path) -> None:
    """Compile native/ through cffi into `_native*.so` in the package, for the Python entry point
    (`python -m rootlesskit_py.cli`; the binaries have it built into their interpreter)."""
    out = BUILD / "native"
    out.mkdir(parents=True, exist_ok=True)
    code = "import sys, builder; print(builder.build(sys.argv[1]))"
    so = subprocess.run([python, "-c", code, out], check=True, capture_output=True, text=True,
                        cwd=ROOT / "native").stdout.strip()
    target = ROOT / "rootlesskit_py" / "native" / pathlib.Path(so).name
    if not target.exists() or target.read_bytes() != pathlib.Path(so).read_bytes():
        shutil.copy2(so, target)


def stage_sources() -> pathlib.Path:
    """A clean copy of the package (no development .so, no caches) and the program's entry file."""
    src = BUILD / "src"
    staged = src / "rootlesskit_py"
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(ROOT / "rootlesskit_py", staged, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (src / "rootlesskit_main.py").write_text(
        "from rootlesskit_py.cli import main\n\nif __name__ == '__main__':\n    main()\n")
    return src


# Modules the standard library imports optionally (inside try/except) that the program never needs:
# not compiled in, for size. `rootlesskit_py.native._native` is the development .so (the binary's is built in).
# `typing` ships: h11 imports it at module level (only the API server loads either).
NOT_SHIPPED = ["bz2", "lzma", "hashlib", "decimal", "_pydecimal", "contextvars",
               "rootlesskit_py.native._native", "cffi", "pytest", "unittest", "pydoc"]


def nuitka(site_packages: pathlib.Path, src: pathlib.Path) -> pathlib.Path:
    """Compile the staged sources with the static interpreter; skipped when no input changed."""
    prefix = static_python.interpreter(VENV / "bin" / "python")
    out = BUILD / "nuitka"
    exe = out / "rootlesskit_main.dist" / "rootlesskit-py"
    cmd = [str(prefix / "bin" / "python3.11"), "-m", "nuitka", "--standalone", "--static-libpython=yes", "--deployment",
           "--quiet", "--assume-yes-for-downloads", "--python-flag=no_site", "--python-flag=no_docstrings",
           "--include-package=rootlesskit_py", *[f"--nofollow-import-to={m}" for m in NOT_SHIPPED],
           f"--output-dir={out}", "--output-filename=rootlesskit-py", str(src / "rootlesskit_main.py")]
    answers = fixed_answers.header(VENV / "bin" / "python", ROOT)
    (site_packages / "nuitka" / "build" / "include" / "nuitka" / ANSWERS_HEADER).write_text(answers)
    digest = hashlib.sha256("\0".join(cmd + REQUIREMENTS + [repr(NUITKA_PATCHES), answers]).encode())
    for path in [*sorted(src.rglob("*.py")), *static_python.STAMPS]:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    stamp = out / ".inputs-sha256"
    if exe.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        print(f"{exe}: up to date")
        return exe
    if exe.parent.exists():
        shutil.rmtree(exe.parent)  # Nuitka leaves files of earlier builds in place
    run(cmd, cwd=src, env={**os.environ, "PYTHONPATH": str(site_packages), "CC": str(static_python.CC),
                           "LDFLAGS": static_python.LDFLAGS})
    extra = sorted(p.name for p in exe.parent.iterdir() if p != exe)
    if extra:
        sys.exit(f"files beside the executable would not ship with it: {extra}; add their importers to NOT_SHIPPED")
    check_static(exe)
    stamp.write_text(digest.hexdigest())
    return exe


def check_static(exe: pathlib.Path) -> None:
    """What ships must run without a libc: no ELF interpreter, no dynamic section."""
    headers = subprocess.run(["readelf", "--program-headers", "--wide", exe], check=True, capture_output=True,
                             text=True).stdout.split()
    if "INTERP" in headers or "DYNAMIC" in headers:
        sys.exit(f"{exe} is dynamically linked; the build must give a static executable")


def assemble(exe: pathlib.Path, helpers: pathlib.Path) -> None:
    """dist/bin: the five names of one inode (hard links). Every program but the rootlesskit parent
    drops file capabilities first thing, so `setcap` on the file reaches rootlesskit alone.
    dist/libexec/rootlesskit-py: the network helper, where the programs look for it."""
    for directory in (DIST_BIN, DIST_HELPERS):
        if directory.exists():
            shutil.rmtree(directory)
    DIST_BIN.mkdir(parents=True)
    shutil.copy2(exe, DIST_BIN / TOOLS[0])
    for name in TOOLS[1:]:
        os.link(DIST_BIN / TOOLS[0], DIST_BIN / name)
    shutil.copytree(helpers, DIST_HELPERS)
    digest = hashlib.sha256(exe.read_bytes()).hexdigest()[:16]
    print(f"built {DIST_BIN} ({exe.stat().st_size / 1e6:.1f} MB, sha256 {digest}): {', '.join(TOOLS)}")
    print(f"built {DIST_HELPERS.resolve()}: pasta {static_pasta.VERSION}")


def install(prefix: pathlib.Path) -> None:
    """Install with dist/bin's layout (one inode, five names), each name replaced atomically
    (rename) so a running rootlesskit keeps its old inode; the network helper beside, as in dist/."""
    helpers = prefix.joinpath(*BUNDLED_DIR).resolve()  # physical, as the programs find it
    staged_helpers = helpers.with_name(".rootlesskit-py.new")
    shutil.rmtree(staged_helpers, ignore_errors=True)
    shutil.copytree(DIST_HELPERS, staged_helpers)
    shutil.rmtree(helpers, ignore_errors=True)
    os.rename(staged_helpers, helpers)
    prefix.mkdir(parents=True, exist_ok=True)
    staged = prefix / ".rootlesskit-py.new"
    staged.unlink(missing_ok=True)
    shutil.copy2(DIST_BIN / TOOLS[0], staged)
    for name in TOOLS:
        tmp = prefix / f".{name}.new"
        tmp.unlink(missing_ok=True)
        os.link(staged, tmp)
        os.replace(tmp, prefix / name)
    staged.unlink()
    print(f"installed {', '.join(TOOLS)} into {prefix}, pasta into {helpers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["package"],
                        help="package: also write the tarball, install.sh, .deb and .rpm into dist/")
    parser.add_argument("--download-url", help="package: the base URL install.sh downloads from "
                        f"(default {dist.DEFAULT_DOWNLOAD_URL})")
    parser.add_argument("--install-apt", action="store_true", help="apt-get install the build prerequisites (root)")
    parser.add_argument("--install", action="store_true", help="install into --prefix after building")
    parser.add_argument("--prefix", type=pathlib.Path,
                        default=pathlib.Path("/usr/local/bin") if os.geteuid() == 0 else pathlib.Path.home() / "bin")
    args = parser.parse_args()
    if args.install_apt:
        install_apt()
    check_prerequisites()
    python = ensure_venv()
    site_packages = patch_nuitka(python)
    build_native(python)
    exe = nuitka(site_packages, stage_sources())
    helpers = static_pasta.build()
    for program in static_pasta.PROGRAMS:
        check_static(helpers / program)
    assemble(exe, helpers)
    if args.command == "package":
        for path in dist.package(exe, helpers, TOOLS, ROOT, VERSION, args.download_url):
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.1f} MB)")
    if args.install:
        install(args.prefix)


if __name__ == "__main__":
    main()
