"""The release files `python3 build.py package` writes into dist/: the tarball and its SHA-256 file,
install.sh, a .deb and an .rpm, all holding the one executable under the five names, and the source
tarballs of the static pasta the tarball carries (static_pasta.py).

The tarball carries that pasta because its user (install.sh, no root) may have no network helper and
cannot install one. The .deb and the .rpm do not: their users have a package manager, and the
distribution's passt or slirp4netns (Recommends) gets the distribution's security updates, which a
copy inside our package would not.

Every form installs one inode: the names are hard links (the tarball's, deb's and rpm's archive
formats all record hard links). The executable drops file capabilities for every program but the
rootlesskit parent (rootlesskit_py/cli), so a `setcap` on the shared file is no wider than one on a
separate rootlesskit.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pathlib
import platform
import shutil
import subprocess
import tarfile
import time

import static_pasta
from static_python import run

HERE = pathlib.Path(__file__).resolve().parent
NAME = "rootlesskit-py"
MAINTAINER = "rootlesskit-py <dev@rootlesskit-py.invalid>"
HOMEPAGE = "https://github.com/rootlesskit-py/rootlesskit-py"
# install.sh's DOWNLOAD_URL unless `build.py package --download-url` says otherwise ({version} filled in)
DEFAULT_DOWNLOAD_URL = HOMEPAGE + "/releases/download/v{version}"
LICENSE = "Apache-2.0"
APPARMOR_PROFILE = "usr.bin.rootlesskit"  # /etc/apparmor.d/<file>: the path it attaches to, '/' as '.'
# Debian's and Docker's packages of the same programs: ours takes their place (dpkg Conflicts+Replaces,
# rpm Conflicts). Provides: rootlesskit only; Debian's docker.io conflicts with docker-ce-rootless-extras,
# so providing that name would keep ours from installing beside Debian's Docker engine. No rpm
# Obsoletes: dnf would then swap an installed package for ours at every upgrade with our repository
# enabled; Debian's Replaces only lets the files change hands when the user installs ours (rpm users:
# `dnf swap`).
REPLACED = ["rootlesskit", "docker-ce-rootless-extras"]
SUMMARY = "RootlessKit and Docker's rootless-mode programs, in Python"
DESCRIPTION = """\
RootlessKit runs a program as "fake root" in a user namespace, with its own
network and port forwarding: rootlesskit, rootlessctl and
rootlesskit-docker-proxy. With Docker's rootless-mode programs, all five in
one statically linked executable.
Use dockerd-rootless.sh to run the daemon.
Use dockerd-rootless-setuptool.sh to setup systemd for dockerd-rootless.sh."""
ARCHES = {"x86_64": ("amd64", "x86_64"), "aarch64": ("arm64", "aarch64")}  # uname -m: (deb, rpm)


def source_date_epoch(root: pathlib.Path) -> int:
    """The time stamp of every packaged file: the last commit's, so a rebuild gives the same bytes."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    out = subprocess.run(["git", "-C", root, "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else 0


def _gzip(path: pathlib.Path, data: bytes, mtime: int) -> None:
    """gzip -9n: no file name, the given time stamp (the same bytes from the same input)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime, compresslevel=9) as gz:
        gz.write(data)


def tarball(exe: pathlib.Path, helpers: pathlib.Path, tools: list[str], out: pathlib.Path, stem: str,
            mtime: int) -> pathlib.Path:
    """`<stem>.tgz`: one top folder `rootlesskit-py/` holding the five names of one file (hard links),
    as Docker's docker-rootless-extras-<ver>.tgz holds its programs in `docker-rootless-extras/`; and
    `libexec/rootlesskit-py/` with the static pasta and its licence, where the programs look for it
    (names.BUNDLED_DIR): unpacked anywhere, the programs find it; install.sh keeps that layout."""
    path = out / f"{stem}.tgz"

    def info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
        entry = tarfile.TarInfo(name)
        entry.type, entry.mode, entry.size, entry.linkname, entry.mtime = kind, mode, size, link, mtime
        entry.uname = entry.gname = "root"
        return entry

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(info(f"{NAME}/", tarfile.DIRTYPE, 0o755))
        with open(exe, "rb") as f:
            tar.addfile(info(f"{NAME}/{tools[0]}", tarfile.REGTYPE, 0o755, exe.stat().st_size), f)
        for name in tools[1:]:
            tar.addfile(info(f"{NAME}/{name}", tarfile.LNKTYPE, 0o755, link=f"{NAME}/{tools[0]}"))
        for directory in ("libexec/", f"libexec/{NAME}/"):
            tar.addfile(info(directory, tarfile.DIRTYPE, 0o755))
        for file in sorted(helpers.rglob("*")):
            name = f"libexec/{NAME}/{file.relative_to(helpers)}"
            if file.is_dir():
                tar.addfile(info(name + "/", tarfile.DIRTYPE, 0o755))
                continue
            with open(file, "rb") as f:
                mode = 0o755 if file.name in static_pasta.PROGRAMS else 0o644
                tar.addfile(info(name, tarfile.REGTYPE, mode, file.stat().st_size), f)
    _gzip(path, buffer.getvalue(), mtime)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / f"{path.name}.sha256").write_text(f"{digest}  {path.name}\n")
    return path


def install_script(out: pathlib.Path, version: str, arch: str, download_url: str) -> pathlib.Path:
    path = out / "install.sh"
    text = (HERE / "install.sh").read_text()
    for key, value in (("@VERSION@", version), ("@ARCHITECTURES@", arch), ("@DOWNLOAD_URL@", download_url)):
        text = text.replace(key, value)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _tree(exe: pathlib.Path, tools: list[str], root: pathlib.Path) -> None:
    """The installed files under `root`: /usr/bin's five names (one inode) and the AppArmor profile."""
    if root.exists():
        shutil.rmtree(root)
    bindir = root / "usr" / "bin"
    bindir.mkdir(parents=True)
    shutil.copyfile(exe, bindir / tools[0])
    (bindir / tools[0]).chmod(0o755)
    for name in tools[1:]:
        os.link(bindir / tools[0], bindir / name)
    profile = root / "etc" / "apparmor.d" / APPARMOR_PROFILE
    profile.parent.mkdir(parents=True)
    shutil.copyfile(HERE / "apparmor" / APPARMOR_PROFILE, profile)
    profile.chmod(0o644)


def _touch_all(root: pathlib.Path, mtime: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)


# Maintainer scripts of both packages: load the profile now, not only at the next boot, where
# AppArmor is enabled (a failure to load must not fail the installation).
POSTINST_APPARMOR = f"""\
if aa-enabled --quiet 2>/dev/null; then
    apparmor_parser -r -T -W /etc/apparmor.d/{APPARMOR_PROFILE} || true
fi
"""


def deb(exe: pathlib.Path, tools: list[str], out: pathlib.Path, build: pathlib.Path, version: str,
        deb_arch: str, mtime: int) -> pathlib.Path:
    root = build / "deb"
    _tree(exe, tools, root)
    doc = root / "usr" / "share" / "doc" / NAME
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {NAME}\nSource: {HOMEPAGE}\n\n"
        f"Files: *\nCopyright: {time.gmtime(mtime).tm_year} the {NAME} authors\n"
        f"License: {LICENSE}\n On Debian systems, the full text of the Apache License, Version 2.0 can be found in\n"
        " /usr/share/common-licenses/Apache-2.0.\n")
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(mtime))
    changelog = f"{NAME} ({version}) unstable; urgency=medium\n\n  * Release {version}.\n\n -- {MAINTAINER}  {date}\n"
    _gzip(doc / "changelog.gz", changelog.encode(), mtime)
    overrides = root / "usr" / "share" / "lintian" / "overrides" / NAME
    overrides.parent.mkdir(parents=True)
    shutil.copyfile(HERE / "lintian-overrides", overrides)
    for path in [*doc.iterdir(), overrides]:
        path.chmod(0o644)
    control = root / "DEBIAN"
    control.mkdir()
    # what dpkg-gencontrol would count: each file once (the five names are one inode), in KiB
    files = {p.stat().st_ino: p.stat().st_size for p in root.rglob("*") if p.is_file()}
    installed_kib = sum((size + 1023) // 1024 for size in files.values())
    description = "\n".join(" " + line for line in DESCRIPTION.splitlines())
    (control / "control").write_text(
        f"Package: {NAME}\nVersion: {version}\nArchitecture: {deb_arch}\nMaintainer: {MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\nDepends: uidmap, dbus-user-session\nRecommends: slirp4netns | passt\n"
        f"Provides: rootlesskit (= {version})\n"
        f"Conflicts: {', '.join(REPLACED)}\nReplaces: {', '.join(REPLACED)}\nEnhances: docker-ce, docker.io\n"
        f"Section: admin\nPriority: optional\nHomepage: {HOMEPAGE}\nDescription: {SUMMARY}\n{description}\n")
    (control / "conffiles").write_text(f"/etc/apparmor.d/{APPARMOR_PROFILE}\n")
    (control / "postinst").write_text(f'#!/bin/sh\nset -e\nif [ "$1" = configure ]; then\n'
                                      + "".join("    " + line + "\n" for line in POSTINST_APPARMOR.splitlines())
                                      + "fi\n")
    (control / "postinst").chmod(0o755)
    for path in (control / "control", control / "conffiles"):
        path.chmod(0o644)
    _touch_all(root, mtime)
    path = out / f"{NAME}_{version}_{deb_arch}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, path],
        env={**os.environ, "SOURCE_DATE_EPOCH": str(mtime)})
    return path


def rpm(exe: pathlib.Path, tools: list[str], out: pathlib.Path, build: pathlib.Path, version: str,
        rpm_arch: str, mtime: int) -> pathlib.Path:
    """rpmbuild (Debian's rpm package) from the prebuilt tree: no %build, nothing stripped or rewritten."""
    top = build / "rpm"
    if top.exists():
        shutil.rmtree(top)
    tree = top / "tree"
    _tree(exe, tools, tree)
    (top / "SPECS").mkdir(parents=True)
    relations = "".join(f"Conflicts: {p}\n" for p in REPLACED)
    date = time.strftime("%a %b %d %Y", time.gmtime(mtime))
    files = "\n".join(f"%{{_bindir}}/{name}" for name in tools)
    spec = f"""\
Name: {NAME}
Version: {version}
Release: 1
Summary: {SUMMARY}
License: {LICENSE}
URL: {HOMEPAGE}
Group: Tools/Docker
Packager: {MAINTAINER}
BuildArch: {rpm_arch}
Requires: /usr/bin/newuidmap
Requires: /usr/bin/newgidmap
Requires: (dbus-broker or dbus-daemon or dbus-1)
Recommends: (slirp4netns or passt)
Provides: rootlesskit = {version}
{relations}
%global debug_package %{{nil}}
%global __os_install_post %{{nil}}
%global _build_id_links none

%description
{DESCRIPTION}

%install
cp -a {tree}/. %{{buildroot}}/

%post
{POSTINST_APPARMOR}
%files
{files}
%config(noreplace) %{{_sysconfdir}}/apparmor.d/{APPARMOR_PROFILE}

%changelog
* {date} {MAINTAINER} - {version}-1
- Release {version}.
"""
    spec_path = top / "SPECS" / f"{NAME}.spec"
    spec_path.write_text(spec)
    run(["rpmbuild", "--quiet", "-bb", f"--target={rpm_arch}", "--define", f"_topdir {top}",
         "--define", "use_source_date_epoch_as_buildtime 1", "--define", "clamp_mtime_to_source_date_epoch 1",
         "--define", "_buildhost reproducible", spec_path],
        env={**os.environ, "SOURCE_DATE_EPOCH": str(mtime)})
    built = top / "RPMS" / rpm_arch / f"{NAME}-{version}-1.{rpm_arch}.rpm"
    path = out / built.name
    shutil.copyfile(built, path)
    return path


def package(exe: pathlib.Path, helpers: pathlib.Path, tools: list[str], root: pathlib.Path, version: str,
            download_url: str | None) -> list[pathlib.Path]:
    """Write every release file into root/dist; returns their paths."""
    missing = [tool for tool in ("dpkg-deb", "rpmbuild") if not shutil.which(tool)]
    if missing:
        raise SystemExit(f"build.py package needs {', '.join(missing)}: sudo apt-get install -y dpkg-dev rpm")
    machine = platform.machine()
    if machine not in ARCHES:
        raise SystemExit(f"cannot package for {machine}: build.py knows the package architectures of "
                         f"{', '.join(ARCHES)}")
    deb_arch, rpm_arch = ARCHES[machine]
    out = root / "dist"
    mtime = source_date_epoch(root)
    build = root / "build" / "package"
    build.mkdir(parents=True, exist_ok=True)
    url = download_url or DEFAULT_DOWNLOAD_URL.format(version=version)
    tgz = tarball(exe, helpers, tools, out, f"{NAME}-{version}-{machine}", mtime)
    sources = []
    for source in static_pasta.fetch_sources():  # the GPL's corresponding source of the tarball's pasta
        shutil.copyfile(source, out / source.name)
        sources.append(out / source.name)
    return [tgz, tgz.with_name(tgz.name + ".sha256"), install_script(out, version, machine, url),
            deb(exe, tools, out, build, version, deb_arch, mtime),
            rpm(exe, tools, out, build, version, rpm_arch, mtime), *sources]
