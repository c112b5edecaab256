"""cffi build script for `rootlesskit_py.native._native`: the only C in the project lives in native/."""

from __future__ import annotations

import pathlib

import cffi

NATIVE_DIR = pathlib.Path(__file__).resolve().parent
MODULE_NAME = "rootlesskit_py.native._native"


def make_ffi() -> cffi.FFI:
    """An FFI whose cdef is the shared header, so C and Python cannot disagree on signatures."""
    ffi = cffi.FFI()
    header = (NATIVE_DIR / "rootlesskit_native.h").read_text()
    ffi.cdef("\n".join(line for line in header.splitlines() if not line.lstrip().startswith(("/*", "*"))))
    ffi.set_source(
        MODULE_NAME,
        '#include "rootlesskit_native.h"',
        sources=[str(path) for path in sorted(NATIVE_DIR.glob("*.c"))],
        include_dirs=[str(NATIVE_DIR)],
        extra_compile_args=["-O2", "-Wall"],
    )
    return ffi


def build(tmpdir: str) -> str:
    """Compile the extension under `tmpdir` (as rootlesskit_py/native/_native*.so); returns its path."""
    return make_ffi().compile(tmpdir=tmpdir, verbose=False, target=None)
