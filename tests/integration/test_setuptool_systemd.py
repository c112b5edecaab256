"""The setup tool's systemd flow for real: a systemd 252 with logind and user@UID.service booted as
PID 1 of its own namespaces on a throw-away overlay root (tests/roothelper.sh systemd-flow), and
the documented sequence run as a user in a real login session (machinectl shell): an override.conf
drop-in, install (the unit byte for byte, systemd-analyze verify), status, docker info through the
context, restart, nsenter into the daemon's namespaces, a second install that changes nothing,
user@UID restarted (docker comes back through enable + linger), uninstall (the drop-in kept), and
the data removed with the printed `rootlesskit rm -rf` hint; and the check from a runuser shell,
before and after linger.

It runs on each of the four engines (Debian 12's 20.10, Debian 13's 26.1, sid's 28.x, Docker 29),
each installed in the throw-away root where Debian 12's docker.io is (its programs bind-mounted over
those paths), as a user of that engine has it; our setup tool writes the unit and our
dockerd-rootless.sh starts the engine's dockerd.

The user is the throw-away rkpytest-flow (tests/run creates it), so no other test's docker CLI
context or home is touched; the host must be the same afterwards. Cost: about 8-11 s an engine.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil

import pytest

from conftest import BIN_DIR, ROOT_HELPER, run
from dockerutil import DETACHED, ENGINES, Engine, engine_params
from rootlesskit_py.docker.setuptool import UNIT

# Our dockerd-rootless.sh starts the daemon (on our rootlesskit): the unit's ExecStart names the
# dockerd-rootless.sh beside the setup tool
FLOW1 = """#!/bin/sh
export PATH=/opt/rkpy-flow/bin:/usr/bin:/bin:/usr/sbin:/sbin
cd
echo "XDG=$XDG_RUNTIME_DIR"
# the documented tuning drop-in; 20.10's script passes no --state-dir, newer ones pass this one (nsenter reads it)
mkdir -p ~/.config/systemd/user/docker.service.d
printf '[Service]\nEnvironment="DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS=--state-dir=%%t/dockerd-rootless"\n' \
  > ~/.config/systemd/user/docker.service.d/override.conf
# the user has no journal to read here: the daemon's output goes to a file, shown if install fails
printf '[Service]\nStandardOutput=append:%%h/dockerd.log\nStandardError=append:%%h/dockerd.log\n' \
  > ~/.config/systemd/user/docker.service.d/log.conf
echo "CONTEXTS-BEFORE=$(docker context ls -q 2>&1 | tr '\\n' ' ')"  # a failure's report shows what install found
dockerd-rootless-setuptool.sh install 2>&1; rc=$?; echo "INSTALL-RC=$rc"
[ "$rc" = 0 ] || tail -n 60 ~/dockerd.log | sed 's/^/DOCKERD-LOG: /'
systemctl --user --no-pager status docker.service >/dev/null; echo "STATUS-RC=$?"
SYSTEMD_LOG_LEVEL=warning systemd-analyze --user verify ~/.config/systemd/user/docker.service 2>&1; echo "VERIFY-RC=$?"
grep '^ExecStart=' ~/.config/systemd/user/docker.service
echo "CONTEXT=$(docker context inspect -f '{{.Name}}')"
docker info --format 'INFO={{.Name}} {{json .SecurityOptions}}'; echo "INFO-RC=$?"
before=$(systemctl --user show -P MainPID docker.service)
systemctl --user restart docker.service; echo "RESTART-RC=$?"
after=$(systemctl --user show -P MainPID docker.service)
[ "$before" != "$after" ] && [ "$after" != 0 ] && echo "NEW-MAINPID"
docker version --format 'SERVER={{.Server.Version}}'; echo "VERSION-RC=$?"
echo "NSENTER=$(dockerd-rootless-setuptool.sh nsenter -- sh -c 'echo $(id -u) $(ip -o link | cut -d: -f2)' 2>&1)"
echo "UNIT-BEGIN"; cat ~/.config/systemd/user/docker.service; echo "UNIT-END"
dockerd-rootless-setuptool.sh install 2>&1 | grep -e 'already exists' -e 'Installed docker.service'; echo "REINSTALL-DONE"
"""
FLOW2 = """#!/bin/sh
export PATH=/opt/rkpy-flow/bin:/usr/bin:/bin:/usr/sbin:/sbin
cd
i=0; until systemctl --user is-active -q docker.service || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
echo "ACTIVE-AFTER-USER-MANAGER-RESTART=$(systemctl --user is-active docker.service)"
i=0; until docker version >/dev/null 2>&1 || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
docker version --format 'SERVER2={{.Server.Version}}'
dockerd-rootless-setuptool.sh uninstall 2>&1; echo "UNINSTALL-RC=$?"
[ -e ~/.config/systemd/user/docker.service ] || echo "UNIT-REMOVED"
[ -e ~/.config/systemd/user/docker.service.d/override.conf ] && echo "DROPIN-KEPT"
echo "STATE=$(systemctl --user is-active docker.service)"
echo "CONTEXT2=$(docker context inspect -f '{{.Name}}')"
[ -d ~/.local/share/docker ] && echo "DATA-KEPT"
rootlesskit rm -rf ~/.local/share/docker; echo "RM-RC=$?"
[ -e ~/.local/share/docker ] || echo "DATA-REMOVED"
rm -rf ~/.docker ~/.config/systemd ~/.config/docker ~/.local/share
"""


def host_facts() -> dict[str, str]:
    read = lambda p: pathlib.Path(p).read_text()  # noqa: E731
    return {"hostname": read("/proc/sys/kernel/hostname"), "pid_max": read("/proc/sys/kernel/pid_max"),
            "subuid": read("/etc/subuid"), "linger": str(sorted(os.listdir("/var/lib/systemd/linger"))
                                                        if os.path.isdir("/var/lib/systemd/linger") else [])}


@pytest.fixture(params=engine_params(ENGINES))
def engine(request) -> Engine:
    return Engine(request.param)


def test_install_restart_linger_uninstall_under_a_real_systemd(binary, engine, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shutil.copy2(BIN_DIR / "rootlesskit", bindir / "rootlesskit")  # one file for all names, as installed
    for name in ("dockerd-rootless.sh", "dockerd-rootless-setuptool.sh", "rootlesskit-docker-proxy", "rootlessctl"):
        os.link(bindir / "rootlesskit", bindir / name)
    bindir.chmod(0o755)
    for i, text in ((1, FLOW1), (2, FLOW2)):
        (tmp_path / f"flow{i}.sh").write_text(text)
    engine_dir = tmp_path / "engine"  # what the root helper puts in place of Debian 12's programs
    engine_dir.mkdir()
    for name, path in engine.programs().items():
        (engine_dir / name).symlink_to(path)
    tmp_marker = pathlib.Path("/tmp") / f"rkpy-flow-marker-{os.getpid()}"
    tmp_marker.write_text("the boot must not empty the host's /tmp")
    before = host_facts()
    try:
        result = run(["sudo", "-n", ROOT_HELPER, "systemd-flow", str(bindir), str(tmp_path / "flow1.sh"),
                      str(tmp_path / "flow2.sh"), str(engine_dir)], timeout=300)
        after = host_facts()
        assert tmp_marker.exists()
    finally:
        tmp_marker.unlink(missing_ok=True)
    out = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout.replace("\r", ""))
    assert result.returncode == 0, out + result.stderr
    assert before == after
    lines = out.splitlines()
    assert "SYSTEM=running" in lines, out + result.stderr
    assert "LINGER=yes" in lines
    # a shell that came through runuser: before linger (which it reports), and after (when the user's
    # runtime directory exists but this shell was never told about it)
    checks = [{f["id"]: f for f in json.loads(part.split("SU-CHECK-END", 1)[0])}
              for part in out.split("SU-CHECK-BEGIN\n")[1:]]
    assert len(checks) == 2, out
    assert checks[0]["linger"]["fix"] == "loginctl enable-linger rkpytest-flow"
    assert "stops at logout" in checks[0]["linger"]["message"]
    assert "linger" not in checks[1]
    assert "came through su or sudo" in checks[1]["systemd-user-session"]["message"]
    assert "machinectl shell rkpytest-flow@" in checks[1]["systemd-user-session"]["fix"]
    uid = next(line for line in lines if line.startswith("XDG=")).split("/")[-1]
    assert f"XDG=/run/user/{uid}" in lines  # pam_systemd's runtime dir: a real login session
    # install: the unit as upstream writes it, started, answering, context created and used
    assert "[INFO] Creating /home/rkpytest-flow/.config/systemd/user/docker.service" in lines, out
    assert "ExecStart=/opt/rkpy-flow/bin/dockerd-rootless.sh " in lines
    assert "+ systemctl --user enable --now docker.service" in lines
    assert "[INFO] Installed docker.service successfully." in lines, out
    assert '[INFO] Creating CLI context "rootless"' in lines and '[INFO] Using CLI context "rootless"' in lines, out
    assert "export PATH=/opt/rkpy-flow/bin:$PATH" in lines
    assert f"export DOCKER_HOST=unix:///run/user/{uid}/docker.sock" in lines
    for marker in ("INSTALL-RC=0", "STATUS-RC=0", "VERIFY-RC=0", "CONTEXT=rootless", "INFO-RC=0", "RESTART-RC=0",
                   "NEW-MAINPID", "VERSION-RC=0", "USER-MANAGER-RESTARTED=0", "ACTIVE-AFTER-USER-MANAGER-RESTART=active",
                   "UNINSTALL-RC=0", "UNIT-REMOVED", "DROPIN-KEPT", "STATE=inactive", "CONTEXT2=default", "DATA-KEPT", "RM-RC=0",
                   "DATA-REMOVED"):
        assert marker in lines, f"{marker} missing:\n{out}\n{result.stderr}"
    assert any(line.startswith("INFO=") and "name=rootless" in line for line in lines), out
    version = engine.server_version()  # the engine's own dockerd answered, before and after the restarts
    assert f"SERVER={version}" in lines and f"SERVER2={version}" in lines, out
    # nsenter: mapped root in the daemon's namespaces, which hold slirp4netns's tap device; under
    # --detach-netns (29) tap0 is in the detached namespace, which nsenter does not enter (as upstream's)
    nsenter = next(line for line in lines if line.startswith("NSENTER=")).split()
    assert nsenter[0] == "NSENTER=0" and "lo" in nsenter, nsenter
    assert ("tap0" in nsenter) == (engine.name not in DETACHED), nsenter
    # the unit byte for byte as upstream writes it (PATH: the installer's at install time)
    unit = out.split("UNIT-BEGIN\n", 1)[1].split("UNIT-END\n", 1)[0]
    assert unit == UNIT.format(bin="/opt/rkpy-flow/bin", path="/opt/rkpy-flow/bin:/usr/bin:/bin:/usr/sbin:/sbin", flags="")
    # a second install changes nothing: the unit is kept, the context reused
    reinstall = out.split("UNIT-END\n", 1)[1].split("REINSTALL-DONE", 1)[0]
    assert "[WARNING] File already exists, skipping: /home/rkpytest-flow/.config/systemd/user/docker.service" in reinstall
    assert '[INFO] CLI context "rootless" already exists' in reinstall and "Installed docker.service" in reinstall
    # uninstall: upstream's trace and texts, the data kept and the hint to remove it
    assert "+ systemctl --user stop docker.service" in lines and "+ systemctl --user disable docker.service" in lines
    assert "[INFO] Uninstalled docker.service" in lines
    assert ("[INFO] To remove data, run: `/opt/rkpy-flow/bin/rootlesskit rm -rf /home/rkpytest-flow/.local/share/docker`"
            in lines)
    assert "FLOW1=failed" not in lines and "FLOW2=failed" not in lines
