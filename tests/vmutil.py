"""The VM tier's driver: boots the image tests/vm/image.sh made under qemu's TCG (this machine kind's KVM cannot
run stock kernels) and runs shell jobs in it through the 9p job agent (tests/vm/agent.sh).

One boot serves every VM test (a session fixture); a job is a shell script run as root in the guest, and returns
its exit code and output. Every wait has its own deadline, sized for TCG (20-50x slower than native), and a VM
that does not start is an error that names the reason and shows the end of the serial console, never a skip.

Also a command for tests/vm/image.sh: `python3 tests/vmutil.py bake DIR` boots DIR/base.img itself once
(writable), so the image keeps what the first boot computes (AppArmor's policy cache above all).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import time

# s: boot to `running` took 81-92 s on an idle machine, 47 s of it AppArmor compiling (the baked image skips that);
# TCG slows down with every other process on the 2 cores, so the deadlines leave room for a busy machine
BOOT_DEADLINE = 600
BAKE_BOOT_DEADLINE = 1200
POWEROFF_DEADLINE = 90
GUEST_USER = "alice"
GUEST_UID = 1000


class VMError(Exception):
    """The VM did not start, did not answer, or did not stop in time."""


class VM:
    """One running guest: `run` a job, `poweroff` at the end."""

    def __init__(self, image_dir: pathlib.Path, work: pathlib.Path, dist: pathlib.Path | None = None,
                 writable_base: bool = False, boot_deadline: float = BOOT_DEADLINE) -> None:
        self.work = work
        self.jobs = work / "jobs"
        self.jobs.mkdir(parents=True)
        self.jobs.chmod(0o777)
        self.console = work / "console.log"
        self.seq = 0
        qemu = shutil.which("qemu-system-x86_64")
        if qemu is None:
            raise VMError("qemu-system-x86_64 is missing (apt-get install qemu-system-x86 qemu-utils; sudo tests/run does it)")
        for name in ("base.img", "vmlinuz", "initrd.img"):
            if not os.access(image_dir / name, os.R_OK):
                raise VMError(f"{image_dir / name} is missing or unreadable: tests/vm/image.sh (run by sudo tests/run) makes it")
        if writable_base:
            drive = f"file={image_dir / 'base.img'},format=raw,if=virtio"
        else:
            disk = work / "disk.qcow2"
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image_dir / "base.img"),
                            str(disk)], check=True, capture_output=True, text=True)
            drive = f"file={disk},format=qcow2,if=virtio,discard=unmap"
        argv = [qemu, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "3072",
                "-kernel", str(image_dir / "vmlinuz"), "-initrd", str(image_dir / "initrd.img"),
                # panic=1 with -no-reboot: a guest kernel panic ends qemu at once, so every job after it fails
                # now instead of waiting out its limit. Seen once under full load: an int3 oops in the guest's
                # scheduler under qemu's multi-threaded TCG, its job waited out its limit (11 min), and each one after it its own.
                "-append", "root=/dev/vda rw console=ttyS0 quiet apparmor=1 security=apparmor panic=1",
                "-drive", drive, "-nic", "user,model=virtio-net-pci,ipv6=on",
                "-virtfs", f"local,path={self.jobs},mount_tag=jobs,security_model=none",
                "-display", "none", "-serial", f"file:{self.console}", "-monitor", "none", "-no-reboot"]
        if dist is not None:
            argv += ["-virtfs", f"local,path={dist},mount_tag=dist,security_model=none,readonly=on"]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.boot_report = self._wait_ready(boot_deadline)
        self.boot_seconds = time.monotonic() - self.started

    def _console_tail(self, lines: int = 40) -> str:
        try:
            text = self.console.read_text(errors="replace")
        except FileNotFoundError:
            return "(no console output)"
        return "\n".join(text.splitlines()[-lines:])

    def _fail(self, why: str) -> VMError:
        qemu_out = ""
        if self.proc.poll() is not None and self.proc.stdout is not None:
            qemu_out = f"\nqemu said: {self.proc.stdout.read().decode(errors='replace').strip()}"
        return VMError(f"{why}{qemu_out}\nlast console lines:\n{self._console_tail()}")

    def _wait_ready(self, limit: float) -> str:
        ready = self.jobs / "ready"
        deadline = time.monotonic() + limit
        while not ready.exists():
            if self.proc.poll() is not None:
                self.close()
                raise self._fail(f"qemu exited with {self.proc.returncode} before the guest's job agent was ready")
            if time.monotonic() > deadline:
                self.close()
                raise self._fail(f"the guest's job agent was not ready {limit:.0f} s after qemu started")
            time.sleep(0.5)
        return ready.read_text()

    def run(self, script: str, timeout: float = 300) -> tuple[int, str]:
        """Run `script` (sh) as root in the guest; its exit code (124: the guest's `timeout` ended it) and output."""
        self.seq += 1
        name = self.jobs / f"{self.seq:03d}"
        name.with_suffix(".limit").write_text(f"{int(timeout)}\n")
        tmp = name.with_suffix(".tmp")
        tmp.write_text(script)
        tmp.rename(name.with_suffix(".sh"))
        rc_file = name.with_suffix(".rc")
        deadline = time.monotonic() + timeout + 60  # the guest's own timeout ends the job first
        while not rc_file.exists():
            if self.proc.poll() is not None:
                raise self._fail(f"qemu exited with {self.proc.returncode} during job {name.name}")
            if time.monotonic() > deadline:
                raise self._fail(f"job {name.name} gave no exit code {timeout + 60:.0f} s after it was queued")
            time.sleep(0.2)
        return int(rc_file.read_text()), name.with_suffix(".out").read_text(errors="replace")

    def poweroff(self) -> None:
        """Ask the agent to power off and wait for qemu to exit; kill it past the deadline."""
        if self.proc.poll() is None:
            (self.jobs / "poweroff").write_text("")
            try:
                self.proc.wait(POWEROFF_DEADLINE)
            except subprocess.TimeoutExpired:
                self.close()
                raise self._fail(f"the guest did not power off within {POWEROFF_DEADLINE} s; qemu was killed")

    def close(self) -> None:
        """Kill qemu (after a failure), and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def bake(image_dir: pathlib.Path) -> None:
    """tests/vm/image.sh's last step: boot the new image once, writable, so AppArmor compiles its cache onto it."""
    work = image_dir / "bake"
    shutil.rmtree(work, ignore_errors=True)
    vm = VM(image_dir, work, writable_base=True, boot_deadline=BAKE_BOOT_DEADLINE)
    print(f"bake boot: {vm.boot_seconds:.0f} s\n{vm.boot_report}", file=sys.stderr)
    rc, out = vm.run("set -e\naa-enabled\nls /var/cache/apparmor/*/ | grep -c .\n", timeout=60)
    vm.poweroff()
    shutil.rmtree(work)
    if rc != 0:
        raise SystemExit(f"bake: AppArmor's cache was not written: {out}")
    print(f"bake: AppArmor cache holds {out.split()[-1]} entries", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "bake":
        raise SystemExit("usage: vmutil.py bake IMAGE_DIR")
    bake(pathlib.Path(sys.argv[2]))
