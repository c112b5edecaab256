"""Which pastas rootlesskit runs and the setup tool accepts (host.network.Pasta, one judgement for
both): the release date is read from every packager's version format; a date at or after the minimum
passes; an older date, or none at all (Debian 12's "unknown version"), is refused."""

from __future__ import annotations

import pytest

from rootlesskit_py.errors import RootlessKitError
from rootlesskit_py.host import network
from rootlesskit_py.host.network import Pasta, pasta_release
from rootlesskit_py.network.pasta import check_version


@pytest.mark.parametrize("line, release", [
    ("pasta 2025_05_03.587980c", "2025_05_03"),                      # upstream's own build (git describe)
    ("pasta 0.0~git20250503.587980c-2+deb13u1", "2025_05_03"),       # Debian 13 (VERSION=$(DEB_VERSION))
    ("pasta 0.0~git20261002.cba3570-1", "2026_10_02"),               # Debian sid
    ("pasta 0.0~git20240220.1e6f92b-1", "2024_02_20"),               # Ubuntu 24.04, inherited from Debian
    ("pasta 0.0~git20250503.587980c-2~bpo12+1", "2025_05_03"),       # a Debian backport
    ("pasta 0^20250507.g1afd4ed-1.fc42.x86_64", "2025_05_07"),       # Fedora
    ("pasta 20250503.587980c-1.1", "2025_05_03"),                    # openSUSE-style
    ("pasta 2025.05.03-r0", "2025_05_03"),                           # dotted
    ("pasta 2023_12_04.b86afe3\r", "2023_12_04"),
    ("pasta unknown version", None),                                 # Debian 12 (2023_03_09)
    ("pasta unknown\\ version", None),
    ("pasta 12345678", None),                                        # eight digits, but no date
    ("pasta 2025_13_03.587980c", None),
    ("pasta 2025_05.03", None),                                      # mixed separators
    ("pasta", None),
    ("", None),
])
def test_release_from_every_packagers_format(line, release):
    assert pasta_release(line) == release


@pytest.mark.parametrize("line", ["pasta 2023_06_25.32660ce", "pasta 2023_12_04.b86afe3",
                                  "pasta 0.0~git20250503.587980c-2+deb13u1", "pasta 0^20250507.g1afd4ed-1.fc42",
                                  # our release's static build
                                  "pasta 0.0~git20250503.587980c-2+deb13u1+rootlesskitpy.static.musl"])
def test_new_enough(line):
    check_version(Pasta("/usr/bin/pasta", line + "\nCopyright Red Hat\n"))


@pytest.mark.parametrize("line", ["pasta unknown version", "pasta 2023_03_09.7c7625d", "pasta 2022_11_16.ace074c",
                                  "pasta 0.0~git20230309.7c7625d-1", ""])
def test_refused(line):
    with pytest.raises(RootlessKitError, match="needs passt 2023_06_25.32660ce or later"):
        check_version(Pasta("/usr/bin/pasta", line))


def test_a_failed_version_probe_is_not_usable():
    assert not Pasta("/usr/bin/pasta", "pasta 2025_05_03.587980c", "exit status 1").usable


@pytest.mark.parametrize("line, usable, recommended", [
    ("pasta 2023_03_09.7c7625d", False, False), ("pasta 2023_10_01.abcdef0", True, False),
    ("pasta 0.0~git20231204.b86afe3-1", True, True)])
def test_usable_and_recommended(line, usable, recommended):
    pasta = Pasta("/usr/bin/pasta", line)
    assert (pasta.usable, pasta.recommended) == (usable, recommended)


def _host(tmp_path, os_release: str, manager: str):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(os_release)
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin" / manager).write_text("#!/bin/sh\n")
    (tmp_path / "usr/bin" / manager).chmod(0o755)
    return str(tmp_path)


@pytest.mark.parametrize("os_release, manager, fix", [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
     "apt-get", None),
    ('ID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n', "apt-get", "apt-get install -y passt"),
    ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n', "apt-get", "apt-get install -y passt"),
    ('ID=fedora\nVERSION_ID=42\n', "dnf", "dnf install -y passt"),
    ('ID=alpine\nVERSION_ID=3.22.0\n', "apk", "apk add passt"),
])
def test_the_fix_names_the_hosts_own_packages(tmp_path, os_release, manager, fix):
    """Debian 12 has no newer passt anywhere (bookworm-backports carries none): its fix is slirp4netns.
    No host is told to install from bookworm-backports."""
    root = _host(tmp_path, os_release, manager)
    assert network.passt_upgrade(root) == fix
    text = network.pasta_fix(root)
    assert "backports passt" not in text
    assert text == (fix or "# Debian 12 has no newer passt (bookworm-backports has none either): use slirp4netns\n"
                           "apt-get install -y slirp4netns")


def test_os_release_falls_back_to_usr_lib(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text("ID=debian\nVERSION_ID='13'\n# ID=other\n")
    from rootlesskit_py.host import os_release

    assert os_release(str(tmp_path / "etc")) == {"ID": "debian", "VERSION_ID": "13"}
