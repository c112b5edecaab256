"""The network helper the release ships: pasta, built statically against musl from Debian 13's
`passt` source package.

Why: Docker's packages stopped depending on slirp4netns (29.5), and upstream's rootlesskit then falls
back to the gvisor-tap-vsock stack it links in. The user who installs with `curl | sh` into ~/bin
has no root to install a helper, so the tarball carries one. passt needs nothing but libc, so with
musl it is one static file that runs on any distribution.

Built as Debian builds it: trixie's source (the orig and debian tarballs, pinned by sha256), every
patch of debian/patches/series, `dpkg-buildflags` with `hardening=+all` (debian/rules), and
VERSION=$(DEB_VERSION) plus a marker saying that this is our static build, so `pasta --version`
reads `pasta 0.0~git20250503.587980c-2+deb13u1+rootlesskitpy.static.musl`. The `+static` of
passt's own `make static` target (-static -DGLIBC_NO_STATIC_NSS) makes it static; the compiler is
the static interpreter's musl-gcc wrapper (static_python.CC, which has the kernel's headers).
Like Debian on amd64 it builds pasta.avx2 too: pasta execs `<itself>.avx2` on CPUs with AVX2, and
warns at every start when that file is missing.

The result is cached in build/pasta/ under a key of this recipe.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import platform
import shutil
import subprocess

import static_python
from static_python import quiet, run

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "pasta"
SUITE = "trixie"
DEB_VERSION = "0.0~git20250503.587980c-2+deb13u1"
VERSION = DEB_VERSION + "+rootlesskitpy.static.musl"
# the two tarballs of Debian's source package (its .dsc is gone from the mirror: apt fetches and
# checks the tarballs against the Sources index, then fails on the .dsc; the digests decide here)
TARBALLS = {
    "passt_0.0~git20250503.587980c.orig.tar.xz": "69d5eb843f7d648c2cc60bfbca6ea7b5014c6b6f07cdee362c2a8cf490515a49",
    "passt_0.0~git20250503.587980c-2+deb13u1.debian.tar.xz":
        "f8d9fdfc1ba89e7dde48705ae68d1dfa8a40477cb85184d41194487f2902b77d",
}
DEB_SRC_LIST = "/etc/apt/sources.list.d/rootlesskit-py-src-trixie.sources"
# passt's own `make static` flags
STATIC_FLAGS = "-static -DGLIBC_NO_STATIC_NSS"
# what ships, beside the programs under libexec/rootlesskit-py/ (the licence texts under passt-LICENSES/)
PROGRAMS = ["pasta", "pasta.avx2"] if platform.machine() == "x86_64" else ["pasta"]
COPYRIGHT = "passt-copyright"
LICENSES = "passt-LICENSES"


def add_deb_src() -> None:
    """As root: the deb-src entry of trixie, where Debian 13's passt source is (beside bookworm's,
    which static_python.add_deb_src writes)."""
    text = static_python.DEB_SRC.replace("Suites: bookworm", f"Suites: {SUITE}")
    path = pathlib.Path(DEB_SRC_LIST)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        run(["apt-get", "update", "-qq"])


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sources() -> list[pathlib.Path]:
    """The pinned tarballs in build/pasta/downloads (apt-get source --download-only passt/trixie); the
    release carries them too, as the GPL's corresponding source of the binaries."""
    downloads = OUT / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    paths = [downloads / name for name in TARBALLS]
    if not all(p.exists() for p in paths):
        result = subprocess.run(["apt-get", "source", "--download-only", "-qq", f"passt/{SUITE}"], cwd=downloads,
                                capture_output=True, text=True)
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise SystemExit(f"apt-get source passt/{SUITE} did not give {', '.join(missing)}: {result.stderr.strip()}"
                             f"\nfix: sudo python3 build.py --install-apt (adds {DEB_SRC_LIST} for Debian 13's sources)")
    for path in paths:
        if _sha256(path) != TARBALLS[path.name]:
            raise SystemExit(f"{path}: sha256 {_sha256(path)}, expected {TARBALLS[path.name]}")
    return paths


def _buildflags() -> dict[str, str]:
    """CFLAGS, CPPFLAGS and LDFLAGS as debian/rules gets them (DEB_BUILD_MAINT_OPTIONS=hardening=+all)."""
    env = {**os.environ, "DEB_BUILD_MAINT_OPTIONS": "hardening=+all"}
    return {name: subprocess.run(["dpkg-buildflags", "--get", name], check=True, capture_output=True, text=True,
                                 env=env).stdout.strip() for name in ("CFLAGS", "CPPFLAGS", "LDFLAGS")}


def _recipe_key() -> str:
    text = pathlib.Path(__file__).read_text() + repr(_buildflags()) + subprocess.run(
        ["musl-gcc", "--version"], capture_output=True, text=True).stdout
    return hashlib.sha256(text.encode()).hexdigest()


def build() -> pathlib.Path:
    """build/pasta/dist: the programs and passt's licence files, built on first use. Needs
    static_python.CC (written by static_python.interpreter(), which build.py runs first)."""
    dist = OUT / "dist"
    stamp = OUT / ".recipe"
    key = _recipe_key()
    if stamp.exists() and stamp.read_text() == key and all((dist / p).exists() for p in PROGRAMS):
        return dist
    stamp.unlink(missing_ok=True)
    orig, debian = fetch_sources()
    tree = OUT / "src" / "passt"
    shutil.rmtree(tree.parent, ignore_errors=True)
    tree.mkdir(parents=True)
    run(["tar", "-C", tree, "--strip-components=1", "-xf", orig])
    run(["tar", "-C", tree, "-xf", debian])
    series = tree / "debian" / "patches" / "series"
    for patch in series.read_text().splitlines() if series.exists() else []:
        if patch.strip() and not patch.startswith("#"):
            run(["patch", "-d", tree, "-p1", "-s", "-i", tree / "debian" / "patches" / patch.split()[0]])
    flags = _buildflags()
    targets = ["passt", "passt.avx2"][:len(PROGRAMS)]
    # one target per make: passt.avx2 depends on passt, and a make building both at once may build
    # passt as that prerequisite, with passt.avx2's -mavx2 (a pasta that dies on CPUs without AVX2)
    for target in targets:
        quiet(["make", target, f"CC={static_python.CC}", f"VERSION={VERSION}",
               f"CFLAGS={flags['CFLAGS']} {STATIC_FLAGS}", f"CPPFLAGS={flags['CPPFLAGS']}",
               f"LDFLAGS={flags['LDFLAGS']} -s"], OUT / "pasta.log", cwd=tree)
    shutil.rmtree(dist, ignore_errors=True)
    (dist / LICENSES).mkdir(parents=True)
    for target, program in zip(targets, PROGRAMS):
        shutil.copy2(tree / target, dist / program)
    shutil.copyfile(tree / "debian" / "copyright", dist / COPYRIGHT)
    for text in sorted((tree / "LICENSES").iterdir()):
        shutil.copyfile(text, dist / LICENSES / text.name)
    stamp.write_text(key)
    return dist
