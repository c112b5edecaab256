#!/usr/bin/env bash
# The VM tier's disk image (tests/vmutil.py boots it): Debian 13 with systemd as PID 1, pure cgroup v2,
# AppArmor enforcing and Debian's docker.io, made once and cached under $CACHE/vm/<key>, where <key> hashes
# this recipe (this script and the job agent), so a changed recipe makes a new image and a second run costs
# nothing. $CACHE/vm/current links to it. Prints the image's directory.
#   mmdebstrap root -> a few files (agent unit, user, static network, busybox image) -> mkfs.ext4 -d (no loop
#   mounts) -> one "bake" boot, which compiles AppArmor's policy cache into the image (47 s of every boot
#   otherwise) and commits the first boot's one-time work (machine-id, ...).
# Run as root by tests/run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../packaging/mmdebstrap-root.sh"
CACHE=${RKPY_ENGINE_CACHE:-/var/cache/rootlesskit-py-tests}/vm
PACKAGES=systemd,systemd-sysv,systemd-container,dbus,dbus-user-session,libpam-systemd,udev,kmod,linux-image-amd64,initramfs-tools,zstd,uidmap,iptables,apparmor,apparmor-utils,sudo,busybox-static,procps,iproute2,psmisc,libcap2-bin,docker.io,docker-cli,containerd,runc,tini,rootlesskit,slirp4netns,passt,fuse-overlayfs,ca-certificates,curl
key=$( (cat "$HERE/image.sh" "$HERE/agent.sh" "$HERE/rkpy-vm-agent.service"; echo "$PACKAGES") | sha256sum | cut -c1-16)
dir=$CACHE/$key
if [ -e "$dir/.complete" ]; then
	ln -sfn "$key" "$CACHE/current"
	echo "$dir"
	exit 0
fi
mkdir -p "$CACHE"
find "$CACHE" -mindepth 1 -maxdepth 1 ! -name current -exec rm -rf {} +
tmp=$dir.tmp
root=$tmp/root
mkdir -p "$tmp"
start=$(date +%s)
mmdebstrap --quiet --mode=root --variant=minbase --include="$PACKAGES" \
	--keyring=/usr/share/keyrings/debian-archive-keyring.gpg trixie "$root" "deb $(debian_mirror) trixie main" >&2

# the system daemon stays off: the tests are about the rootless one
systemctl --root="$root" disable -q docker.service docker.socket containerd.service
# nothing may wake up in the middle of a test; networkd's wait-online costs 21 s of every boot for a static address,
# and the console's getty waits up to 90 s for udev to announce ttyS0 (nobody logs in there)
systemctl --root="$root" mask -q systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
	dpkg-db-backup.timer e2scrub_all.timer fstrim.timer logrotate.timer man-db.timer systemd-tmpfiles-clean.timer \
	serial-getty@ttyS0.service getty@tty1.service
echo rkpy-vm > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 rkpy-vm\n::1 localhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
# qemu's user network, configured statically (its DHCP and router advertisements would only add waiting)
cat > "$root/etc/systemd/network/10-rkpy-vm.network" <<'NET'
[Match]
Name=en*

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
Address=fec0::15/64
Gateway=fec0::2
IPv6AcceptRA=no
LinkLocalAddressing=ipv6
NET
systemctl --root="$root" enable -q systemd-networkd.service
rm -f "$root/etc/resolv.conf"
echo "nameserver 10.0.2.3" > "$root/etc/resolv.conf"
# the user, with the subordinate ids useradd allocates, as on a fresh install
chroot "$root" useradd -m -s /bin/bash -u 1000 alice
# the agent
install -m 0755 "$HERE/agent.sh" "$root/usr/local/sbin/rkpy-vm-agent"
install -m 0644 "$HERE/rkpy-vm-agent.service" "$root/etc/systemd/system/rkpy-vm-agent.service"
systemctl --root="$root" enable -q rkpy-vm-agent.service
# a container image to `docker load`/`import` (no registry is reachable): the static busybox and its applets
img=$(mktemp -d)
mkdir -p "$img/bin" "$img/tmp" "$img/etc"
cp "$root/bin/busybox" "$img/bin/busybox"
for a in $(chroot "$root" /bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$img/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$img/etc/passwd"
mkdir -p "$root/usr/local/share/rkpy-vm"
tar -C "$img" -cf "$root/usr/local/share/rkpy-vm/busybox.tar" .
rm -rf "$img"
# Debian's kernel and initrd, read by qemu as the test user
cp "$root"/boot/vmlinuz-* "$tmp/vmlinuz"
cp "$root"/boot/initrd.img-* "$tmp/initrd.img"
chmod 0644 "$tmp/vmlinuz" "$tmp/initrd.img"
built=$(date +%s)
mkfs.ext4 -q -L rkpy-vm -d "$root" "$tmp/base.img" 10G
rm -rf "$root"
python3 "$HERE/../vmutil.py" bake "$tmp" >&2
chmod 0644 "$tmp/base.img"
echo "trixie mmdebstrap+mkfs $((built - start))s bake $(($(date +%s) - built))s" > "$tmp/.complete"
mv "$tmp" "$dir"
ln -sfn "$key" "$CACHE/current"
echo "$dir"
