#!/usr/bin/env python3
"""The release forms (`python3 build.py package`): installed size of each against Go RootlessKit's
three binaries, the download sizes, and the time from `curl -fsSL URL/install.sh | sh` to a working
`~/bin/rootlesskit --version`, served by python's http.server on 127.0.0.1.

    runuser -u rkpytest -- python3 bench/install.py [--runs N]

Why this shape:
  * Installed size counts each inode once (`du --apparent-size`): the five names are hard links of one
    file. Go's figure is its three files (rootlesskit, rootlessctl, rootlesskit-docker-proxy).
  * The timed run is the documented pipeline with a fresh HOME each time, ending when `rootlesskit
    --version` answers, in a user namespace mapping the user's own uid whose mount namespace hides
    /usr/sbin/dockerd: without an engine the installer stops after installing (with one it would go on
    into `dockerd-rootless-setuptool.sh install`, which sets up a daemon and is not the installer's cost).
  * The deb's and rpm's installed sizes are read from their headers (dpkg Installed-Size, rpm SIZE) and,
    for the rpm, from an `rpm -i --root` into a scratch directory.
Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from rootlesskit_py.version import VERSION  # noqa: E402
from startup import ENGINE_CACHE  # noqa: E402

DIST = REPO / "dist"
ARCH = os.uname().machine
TARBALL = f"rootlesskit-py-{VERSION}-{ARCH}.tgz"
DEB = DIST / f"rootlesskit-py_{VERSION}_amd64.deb"
RPM = DIST / f"rootlesskit-py-{VERSION}-1.{ARCH}.rpm"
GO = {"1.1.0 (Debian 12)": pathlib.Path("/usr/bin"),
      "2.0.2 (Debian 13)": ENGINE_CACHE / "trixie" / "root" / "usr" / "bin"}


def du(path: pathlib.Path) -> int:
    return int(subprocess.run(["du", "-s", "-B1", "--apparent-size", str(path)], check=True,
                              capture_output=True, text=True).stdout.split()[0])


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's signature)
        pass


def serve(root: pathlib.Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def timed_install(url: str, home: pathlib.Path) -> float:
    script = (f"curl -fsSL {url}/install.sh | DOWNLOAD_URL={url} sh >/dev/null && "
              f"{home}/bin/rootlesskit --version >/dev/null")
    argv = ["unshare", "--user", "--map-current-user", "--mount", "--keep-caps", "sh", "-c",
            'mount --bind /dev/null /usr/sbin/dockerd && exec setpriv --inh-caps=-all --ambient-caps=-all -- sh -c "$0"',
            script]
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() == 0:
        sys.exit("run as an unprivileged user (the installer refuses root)")
    for path in (DIST / "install.sh", DIST / TARBALL, DEB, RPM):
        if not path.is_file():
            sys.exit(f"{path} missing: python3 build.py package")
    go = {name: sum((d / n).stat().st_size for n in ("rootlesskit", "rootlessctl", "rootlesskit-docker-proxy"))
          for name, d in GO.items()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        subprocess.run(["tar", "-xzf", str(DIST / TARBALL), "-C", str(tmp)], check=True)
        sizes = {"tarball (extracted)": du(tmp / "rootlesskit-py")}
        rpmroot = tmp / "rpmroot"
        subprocess.run(["rpm", "-i", f"--root={rpmroot}", "--nodeps", "--noscripts", str(RPM)], check=True,
                       env={**os.environ, "HOME": str(tmp)})
        sizes["rpm (/usr/bin)"] = du(rpmroot / "usr" / "bin")
        deb_kib = int(subprocess.run(["dpkg-deb", "--field", str(DEB), "Installed-Size"], check=True,
                                     capture_output=True, text=True).stdout)
        sizes["deb (Installed-Size, all files)"] = deb_kib * 1024
        srv = tmp / "srv"
        srv.mkdir()
        for name in ("install.sh", TARBALL, TARBALL + ".sha256"):
            shutil.copy(DIST / name, srv / name)
        httpd, url = serve(srv)
        times = []
        try:
            for i in range(args.runs):
                home = tmp / f"home{i}"
                home.mkdir()
                times.append(timed_install(url, home))
                if i == 0:
                    sizes["~/bin (install.sh)"] = du(home / "bin")
                shutil.rmtree(home)
        finally:
            httpd.shutdown()
    print("| form | installed | vs Go 1.1.0 | vs Go 2.0.2 |\n|---|---|---|---|")
    for form, size in sizes.items():
        print(f"| {form} | {mb(size)} | {size / go['1.1.0 (Debian 12)']:.2f}x | {size / go['2.0.2 (Debian 13)']:.2f}x |")
    print(f"| Go RootlessKit 1.1.0, three binaries | {mb(go['1.1.0 (Debian 12)'])} | | |")
    print(f"| Go RootlessKit 2.0.2, three binaries | {mb(go['2.0.2 (Debian 13)'])} | | |")
    print("\n| download | size |\n|---|---|")
    for path in (DIST / TARBALL, DEB, RPM, DIST / "install.sh"):
        size = path.stat().st_size
        print(f"| {path.name} | {mb(size) if size > 1e5 else f'{size / 1e3:.1f} kB'} |")
    print(f"\ncurl | sh to a working rootlesskit --version, {args.runs} runs: median {statistics.median(times) * 1000:.0f} ms"
          f" (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")


if __name__ == "__main__":
    main()
