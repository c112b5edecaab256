"""The end of start-up, for a process that from now on mostly waits (the rootlesskit parent, its
child once the command runs), and the end of each kind of request's first (the API server's, the
builtin port driver's child half).

The binaries start with the garbage collector off (packaging/static_python.py's GC_PATCH): what
start-up allocates lives until the end, so collecting it only costs time. A process that runs for
days must collect again, or the cycles its requests leave would pile up. Everything alive now goes
to the permanent generation first, so later collections neither scan it nor write to its pages
(which would unshare them between parent and child). Then the executable's start-up pages go back
(native.release_start_up_pages).

The first request of a kind is start-up too: it imports modules and runs code once (the API's
first POST imports h11 and json; the child's first source-IP set-up runs nft). After it the same
happens, once per kind, so a daemon that idles for days after `docker run -p` does not keep the
5.4 MiB of the executable that request read. Later requests of the kind only touch again the pages
they need.
"""

from __future__ import annotations

import gc

from rootlesskit_py import native

_start_up_is_over = False
_kinds_done: set[str] = set()


def start_up_over() -> None:
    global _start_up_is_over
    gc.freeze()
    gc.enable()
    native.release_start_up_pages()
    _start_up_is_over = True


def first_of_its_kind_over(*kinds: str) -> None:
    """Called after each request of one of `kinds`: after the first of a kind once start-up is over,
    the pages go back (those served during start-up are start_up_over's)."""
    new = set(kinds) - _kinds_done
    if not _start_up_is_over or not new:
        return
    _kinds_done.update(new)
    gc.freeze()
    native.release_start_up_pages()
