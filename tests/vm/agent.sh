#!/bin/sh
# The VM's job agent (rkpy-vm-agent.service): the host's test driver (tests/vmutil.py) talks to the guest only
# through the 9p share "jobs". Once the boot is over it writes `ready` (with the boot's state and timings); then
# it runs each NAME.sh that appears, as root, one at a time, under `timeout` with the limit in NAME.limit, and
# writes NAME.out (stdout and stderr) and NAME.rc (the exit code, written last); a `poweroff` file powers off.
# The release files are on the read-only share "dist", mounted at /mnt/dist.
set -u
J=/run/rkpy-jobs
mkdir -p "$J" /mnt/dist
modprobe -a 9pnet_virtio 9p
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 jobs "$J" || { echo "rkpy-vm-agent: no 9p share 'jobs'" >&2; exit 1; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,ro dist /mnt/dist 2>/dev/null || true
state=$(systemctl is-system-running --wait)
{ echo "state=$state"; systemd-analyze time; systemd-analyze blame | head -n 8; systemctl --failed --no-legend; } > "$J/ready.tmp" 2>&1
mv "$J/ready.tmp" "$J/ready"
while :; do
	for job in "$J"/*.sh; do
		[ -e "$job" ] || continue
		name=${job%.sh}
		[ -e "$name.started" ] && continue
		: > "$name.started"
		timeout -k 10 "$(cat "$name.limit" 2>/dev/null || echo 300)" sh "$job" > "$name.out" 2>&1 < /dev/null
		echo $? > "$name.rc.tmp"
		mv "$name.rc.tmp" "$name.rc"
	done
	[ -e "$J/poweroff" ] && exec systemctl poweroff
	sleep 0.2
done
