"""The end of start-up, for a process that from now on mostly waits (the rootlesskit parent, its
child once the command runs, the API server after its first request).

The binaries start with the garbage collector off (packaging/static_python.py's GC_PATCH): what
start-up allocates lives until the end, so collecting it only costs time. A process that runs for
days must collect again, or the cycles its requests leave would pile up. Everything alive now goes
to the permanent generation first, so later collections neither scan it nor write to its pages
(which would unshare them between parent and child). Then the executable's start-up pages go back
(native.release_start_up_pages).
"""

from __future__ import annotations

import gc

from rootlesskit_py import native


def start_up_over() -> None:
    gc.freeze()
    gc.enable()
    native.release_start_up_pages()
