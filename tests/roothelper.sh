#!/bin/sh
# Root-side steps of the rootless test suite, run by the test user through one sudoers rule that
# tests/run installs. Each subcommand does one narrowly scoped thing on the host.
set -eu
TEST_USER="${SUDO_USER:?run through sudo}"
case "${1:-}" in
  mount-tmpfs)   # DIR: mount a tmpfs on a directory the test user owns (to observe propagation)
    [ "$(stat -c %U "$2")" = "$TEST_USER" ] || { echo "not owned by $TEST_USER: $2" >&2; exit 1; }
    mount -t tmpfs -o size=1m rkpytest "$2" ;;
  umount)        # DIR: undo mount-tmpfs
    [ "$(stat -c %U "$2")" = "$TEST_USER" ] || [ "$(findmnt -no SOURCE "$2")" = rkpytest ]
    umount "$2" ;;
  setcap-copy)   # SRC DST: copy a binary to DST (a new root-owned file) and give it cap_net_bind_service
    install -D -o root -g root -m 0755 "$2" "$3"
    setcap cap_net_bind_service=ep "$3" ;;
  remove)        # FILE: remove a file made by setcap-copy
    rm -f "$2" ;;
  as-user-without-subids)  # BIN ARGS...: run a world-readable copy of BIN as rkpytest-nosubid (no /etc/subuid entry)
    shift
    tmp=$(mktemp -d /tmp/rkpy-nosubid.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    chmod 0755 "$tmp"
    install -m 0755 "$1" "$tmp/rootlesskit"
    shift
    runuser -u rkpytest-nosubid -- "$tmp/rootlesskit" "$@" ;;
  cgroup-delegate)  # PID: create <cgroup2>/rkpytest owned by the test user and move PID into it
    base=$(findmnt -t cgroup2 -no TARGET | head -n1)
    mkdir -p "$base/rkpytest"
    chown -R "$TEST_USER" "$base/rkpytest"
    echo "$2" > "$base/rkpytest/cgroup.procs"
    echo "$base/rkpytest" ;;
  cgroup-release)   # move everything out of <cgroup2>/rkpytest and remove it
    base=$(findmnt -t cgroup2 -no TARGET | head -n1)
    find "$base/rkpytest" -depth -type d | while read -r d; do
      for p in $(cat "$d/cgroup.procs"); do echo "$p" > "$base/cgroup.procs" 2>/dev/null || true; done
      rmdir "$d"
    done ;;
  activate-port)    # PORT ARGS...: bind 127.0.0.1:PORT as root (< 1024 allowed) as a systemd socket unit would,
                    # and on the first connection run ARGS as the test user with that listener (LISTEN_FDS=1)
    port=$2; shift 2
    case "$port" in *[!0-9]*|"") echo "not a port: $port" >&2; exit 2 ;; esac
    home=$(getent passwd "$TEST_USER" | cut -d: -f6)
    exec systemd-socket-activate -l "127.0.0.1:$port" \
      setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups --inh-caps=-all \
      env HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" LANG=C.UTF-8 "$@" ;;  # sudo's env, plus LISTEN_*
  libc-free-root)   # BIN SCRIPT: SCRIPT (busybox sh) as the test user in a new mount namespace whose root holds no
                    # libc: BIN as /bin/rootlesskit and /bin/rootlessctl, the release's static pasta beside BIN's
                    # directory (../libexec/rootlesskit-py) as /libexec/rootlesskit-py, a static busybox, /etc's user and subid
                    # files, /proc, /dev, /sys, and newuidmap/newgidmap in /helpers with their libraries (interpreter
                    # and rpath rewritten to /helpers/lib, so no libc is at a standard path); pivot_root, not chroot
    root=$(mktemp -d /tmp/rkpy-nolibc.XXXXXX)
    trap 'rmdir "$root"' EXIT
    unshare --mount --propagation private /bin/busybox sh -euc '
      root=$1 user=$2 bin=$3 script=$4
      mount -t tmpfs -o mode=0755 rkpy-nolibc "$root"
      mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/dev" "$root/tmp" "$root/helpers/lib" "$root/oldroot"
      chmod 1777 "$root/tmp"
      cp "$bin" "$root/bin/rootlesskit"; cp "$bin" "$root/bin/rootlessctl"
      helpers="$(dirname "$bin")/../libexec/rootlesskit-py"
      if [ -d "$helpers" ]; then mkdir -p "$root/libexec"; cp -R "$helpers" "$root/libexec/rootlesskit-py"; fi
      cp /bin/busybox "$root/bin/busybox"; ln "$root/bin/busybox" "$root/bin/true"
      ln "$root/bin/busybox" "$root/helpers/busybox"  # the shell run as the user: start-stop-daemon refuses a path already running
      cp /etc/passwd /etc/group /etc/subuid /etc/subgid "$root/etc/"
      for helper in /usr/bin/newuidmap /usr/bin/newgidmap; do
        cp -p "$helper" "$root/helpers/"
        for lib in $(ldd "$helper" | grep -o "/[^ ]*"); do cp -n "$lib" "$root/helpers/lib/"; done
        patchelf --set-interpreter /helpers/lib/ld-linux-x86-64.so.2 --force-rpath --set-rpath /helpers/lib "$root/helpers/${helper##*/}"
        chmod 4755 "$root/helpers/${helper##*/}"
      done
      cp /bin/true "$root/helpers/dynamic-true"  # not rewritten: its interpreter is missing here
      mount -t proc proc "$root/proc"
      mount --rbind /dev "$root/dev"
      mkdir "$root/sys"; mount --rbind /sys "$root/sys"  # a network namespace gets its own sysfs there
      cd "$root"
      pivot_root . oldroot
      /bin/busybox umount -l /oldroot
      /bin/busybox rmdir /oldroot
      exec /bin/busybox env -i HOME=/tmp PATH=/bin:/helpers /bin/busybox start-stop-daemon -S -c "$user" -x /helpers/busybox -- sh -c "$script"
    ' sh "$root" "$TEST_USER" "$2" "$3" ;;
  deb-in-debian12)  # DEB: dpkg -i, then dpkg -r and dpkg -P, of DEB (a file the test user owns) in a throwaway
                    # overlay on the cached Debian 12 root with docker.io (tests/debroots.sh), in a private mount
                    # namespace; prints "== section" blocks: what the test checks
    [ "$(stat -c %U "$2")" = "$TEST_USER" ] || { echo "not owned by $TEST_USER: $2" >&2; exit 1; }
    base=/var/cache/rootlesskit-py-tests/mmdebstrap/bookworm-docker
    [ -e "$base/.complete" ] || { echo "no cached Debian 12 root at $base: run tests/run as root once" >&2; exit 1; }
    work=$(mktemp -d /tmp/rkpy-deb.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    unshare --mount --propagation private sh -euc '
      base=$1 work=$2 deb=$3
      mkdir "$work/upper" "$work/work" "$work/root"
      mount -t overlay rkpy-deb -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
      mount -t proc proc "$work/root/proc"
      r=$work/root
      listing() { (cd "$r" && find . -xdev ! -path "./var/lib/dpkg/*" ! -path "./var/log/*" ! -path ./tmp/pkg.deb | sort); }
      listing > "$work/before"
      cp "$deb" "$r/tmp/pkg.deb"
      echo "== dpkg -i"; chroot "$r" dpkg -i /tmp/pkg.deb 2>&1 && echo rc=0 || echo "rc=$?"
      echo "== files"; chroot "$r" dpkg -L rootlesskit-py
      echo "== stat"; chroot "$r" sh -c "stat -c \"%i %h %a %U %s %n\" /usr/bin/rootlesskit /usr/bin/rootlessctl /usr/bin/rootlesskit-docker-proxy /usr/bin/dockerd-rootless.sh /usr/bin/dockerd-rootless-setuptool.sh /etc/apparmor.d/usr.bin.rootlesskit"
      echo "== version"; chroot "$r" rootlesskit --version 2>&1 && echo rc=0 || echo "rc=$?"
      echo "== dockerd"; chroot "$r" dockerd --version 2>&1
      echo "== dpkg -r"; chroot "$r" dpkg -r rootlesskit-py 2>&1 && echo rc=0 || echo "rc=$?"
      listing > "$work/removed"
      echo "== left after dpkg -r"; comm -13 "$work/before" "$work/removed"
      echo "== gone after dpkg -r"; comm -23 "$work/before" "$work/removed"
      echo "== dpkg -P"; chroot "$r" dpkg -P rootlesskit-py 2>&1 && echo rc=0 || echo "rc=$?"
      listing > "$work/purged"
      echo "== left after dpkg -P"; comm -13 "$work/before" "$work/purged"
      echo "== dpkg database after dpkg -P"; ls "$r/var/lib/dpkg/info" | grep "^rootlesskit-py\." || true
      echo "== end"
    ' sh "$base" "$work" "$2" ;;
  apparmor-parse)   # parse the AppArmor profile on stdin with Debian 13's apparmor_parser (abi 4.0), in the cached
                    # Debian 13 root (tests/debroots.sh): compile only, no cache, nothing loaded into the kernel
    base=/var/cache/rootlesskit-py-tests/mmdebstrap/trixie-apparmor
    [ -e "$base/.complete" ] || { echo "no cached Debian 13 root at $base: run tests/run as root once" >&2; exit 1; }
    exec chroot "$base" apparmor_parser --skip-kernel-load --skip-cache --skip-read-cache --skip-bad-cache ;;
  setuptool-in)     # SCENARIO BINDIR ARGS...: BINDIR/dockerd-rootless-setuptool.sh ARGS as the test user, in private mount
                    # and network namespaces where one host condition is real (nothing outside them changes):
                    # tun-0600, tun-missing, no-subuid, small-subuid, overlap-subuid, newuidmap-plain, ping-all,
                    # data-on-overlay, rootful-sock, no-network-driver, only-bundled-pasta, no-iptables,
                    # iptables-fails, as-is;
                    # as-root runs it as root instead
    scenario=$2 bindir=$3; shift 3
    [ "$(stat -c %U "$bindir")" = "$TEST_USER" ] || { echo "not owned by $TEST_USER: $bindir" >&2; exit 1; }
    home=$(getent passwd "$TEST_USER" | cut -d: -f6)
    exec unshare --mount --net --propagation private /bin/sh -euc '
      scenario=$1 user=$2 home=$3 bindir=$4; shift 4
      t=/mnt
      mount -t tmpfs -o mode=0755 rkpy-scenario "$t"
      ip link set lo up
      subuid() { cat > "$t/subuid"; mount --bind "$t/subuid" /etc/subuid; }
      case "$scenario" in
        tun-0600)        mknod "$t/tun" c 10 200; chmod 0600 "$t/tun"; mount --bind "$t/tun" /dev/net/tun ;;
        tun-missing)     mount -t tmpfs -o mode=0755 rkpy-nonet /dev/net ;;
        no-subuid)       grep -v "^$user:" /etc/subuid | subuid ;;
        small-subuid)    { grep -v "^$user:" /etc/subuid; echo "$user:100000:1000"; } | subuid ;;
        overlap-subuid)  { cat /etc/subuid; grep "^$user:" /etc/subuid | sed "s/^$user:\([0-9]*\):/rkpytest-nosubid:\1:/"; } | subuid ;;
        newuidmap-plain) cp /usr/bin/newuidmap "$t/newuidmap"; chmod 0755 "$t/newuidmap"; mount --bind "$t/newuidmap" /usr/bin/newuidmap ;;
        ping-all)        sysctl -qw net.ipv4.ping_group_range="0 2147483647" net.ipv4.ip_unprivileged_port_start=0 ;;
        data-on-overlay) mkdir "$t/l" "$t/u" "$t/w"; chown "$user" "$t/u"
                         mount -t overlay rkpy-overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$home/.local/share" ;;
        rootful-sock)    mount -t tmpfs -o mode=0755 rkpy-run /run
                         python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\"/run/docker.sock\")"
                         chmod 0666 /run/docker.sock ;;
        no-network-driver|only-bundled-pasta) touch "$t/none"
                         for b in slirp4netns pasta vpnkit; do p=$(command -v $b) && mount --bind "$t/none" "$p"; done
                         bundled="$bindir/../libexec/rootlesskit-py/pasta"  # the pasta of the release, beside the programs
                         if [ "$scenario" = no-network-driver ] && [ -e "$bundled" ]; then mount --bind "$t/none" "$bundled"; fi ;;
        no-iptables)     touch "$t/none"; mount --bind "$t/none" /usr/sbin/iptables ;;  # (/sbin is /usr/sbin here)
        iptables-fails)  mount --bind /bin/false /usr/sbin/iptables ;;
        as-is|as-root)   ;;
        *) echo "unknown scenario: $scenario" >&2; exit 2 ;;
      esac
      env="HOME=$home USER=$user LANG=C.UTF-8 PATH=$bindir:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
      [ "$scenario" = as-root ] && exec env -i HOME=/root USER=root PATH="$bindir:/usr/bin:/bin" "$bindir/dockerd-rootless-setuptool.sh" "$@"
      exec setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all env -i $env "$bindir/dockerd-rootless-setuptool.sh" "$@"
    ' sh "$scenario" "$TEST_USER" "$home" "$bindir" "$@" ;;
  systemd-flow)     # BINDIR SCRIPT1 SCRIPT2 [ENGINE]: boot a real systemd (PID 1 of its own pid, mount, uts, ipc, net and
                    # cgroup namespaces, on an overlay of / whose upper layer is a tmpfs, so the host is untouched), enable
                    # linger for rkpytest-flow, run SCRIPT1 as that user in a machinectl login session, restart
                    # user@UID.service, run SCRIPT2 the same way, power off. BINDIR is copied to /opt/rkpy-flow/bin.
                    # ENGINE: a directory of symlinks to another Docker engine's programs (dockerd, docker, containerd, runc...),
                    # each bind-mounted over Debian 12's program of that name in the throw-away root, as if installed there
    bindir=$2 script1=$3 script2=$4 engine=${5:-} flow_user=rkpytest-flow
    for f in "$bindir" "$script1" "$script2" ${engine:+"$engine"}; do
      [ "$(stat -c %U "$f")" = "$TEST_USER" ] || { echo "not owned by $TEST_USER: $f" >&2; exit 1; }
    done
    uid=$(id -u "$flow_user")
    log=$(mktemp /tmp/rkpy-flow-boot.XXXXXX)
    cgdirs=""
    # cgroups first: a child cgroup of our own in every hierarchy, so that everything systemd creates
    # lands below it (the cgroup namespace's root)
    while IFS=: read -r _ ctrl path; do
      case "$ctrl" in
        "") mp=$(findmnt -t cgroup2 -no TARGET | head -n1) ;;
        name=systemd) mp=/sys/fs/cgroup/systemd ;;
        *) mp=/sys/fs/cgroup/$ctrl ;;
      esac
      [ -d "$mp" ] || continue
      d="$mp${path%/}/rkpy-flow-$$"
      mkdir -p "$d"; echo $$ > "$d/cgroup.procs"; cgdirs="$cgdirs $d"
    done < /proc/self/cgroup
    kit=""
    cleanup() {
      if [ -n "$kit" ] && kill -0 "$kit" 2>/dev/null; then
        pid1=$(pgrep -P "$kit" | head -n1); [ -n "$pid1" ] && kill -s RTMIN+4 "$pid1" 2>/dev/null
        i=0; while kill -0 "$kit" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$kit" 2>/dev/null || true; wait "$kit" 2>/dev/null || true
      fi
      for d in $cgdirs; do
        top=${d%/*}
        [ -w "$top/cgroup.procs" ] && echo $$ > "$top/cgroup.procs" 2>/dev/null || true
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
      done
      rm -f "$log"
    }
    trap cleanup EXIT
    trap 'exit 1' INT TERM
    setsid unshare --pid --fork --kill-child --mount --propagation private --uts --ipc --net --cgroup \
      "$0" systemd-stage2 "$bindir" "$flow_user" "$engine" >"$log" 2>&1 < /dev/null &
    kit=$!
    in_ns() { nsenter -t "$pid1" -m -u -i -n -p -C -r -w "$@"; }
    i=0; pid1=""
    while [ -z "$pid1" ] || [ "$(cat /proc/$pid1/comm 2>/dev/null)" != systemd ]; do
      sleep 0.05; i=$((i + 1)); pid1=$(pgrep -P "$kit" | head -n1)
      [ $i -lt 200 ] || { echo "systemd did not start:"; cat "$log"; exit 1; } >&2
    done
    i=0; until [ -S "/proc/$pid1/root/run/systemd/private" ] || [ $i -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
    state=$(in_ns timeout 30 systemctl is-system-running --wait || true)
    echo "SYSTEM=$state"
    if [ "$state" != running ]; then
      { echo "systemd is not running ($state); its console:"; cat "$log"; in_ns systemctl --failed --no-pager; } >&2 || true
    fi
    install -m 0755 "$script1" "/proc/$pid1/root/opt/rkpy-flow/flow1.sh"
    install -m 0755 "$script2" "/proc/$pid1/root/opt/rkpy-flow/flow2.sh"
    # the setup tool's check from a shell that came through runuser (no login session): before and after linger
    su_check() {
      echo "SU-CHECK-BEGIN"
      in_ns runuser -u "$flow_user" -- env -i HOME="$(getent passwd "$flow_user" | cut -d: -f6)" \
        PATH=/opt/rkpy-flow/bin:/usr/bin:/bin:/usr/sbin:/sbin dockerd-rootless-setuptool.sh check --json || true
      echo "SU-CHECK-END"
    }
    su_check
    in_ns loginctl enable-linger "$flow_user"
    in_ns timeout 20 sh -c "until systemctl is-active -q user@$uid.service; do sleep 0.1; done"
    echo "LINGER=$(in_ns loginctl show-user -P Linger "$flow_user")"
    su_check
    # machinectl shell reports only success or failure; its output goes through a pipe (with a file, the
    # session's writes land at offset 0 over what came before)
    { in_ns timeout 120 machinectl shell "$flow_user@" /bin/sh /opt/rkpy-flow/flow1.sh || echo "FLOW1=failed"; } | cat
    in_ns systemctl restart "user@$uid.service"; echo "USER-MANAGER-RESTARTED=$?"
    { in_ns timeout 120 machinectl shell "$flow_user@" /bin/sh /opt/rkpy-flow/flow2.sh || echo "FLOW2=failed"; } | cat ;;
  systemd-stage2)   # (internal, PID 1 of systemd-flow's namespaces only) build the throw-away root and exec systemd
    [ $$ = 1 ] || { echo "systemd-stage2 runs only as PID 1 of systemd-flow's namespaces" >&2; exit 2; }
    bindir=$2 flow_user=$3 engine=$4
    home=$(getent passwd "$flow_user" | cut -d: -f6)
    mount -t tmpfs -o mode=0755 rkpy-flow /mnt
    mkdir /mnt/upper /mnt/work /mnt/root
    mount -t overlay rkpy-flow-root -o lowerdir=/,upperdir=/mnt/upper,workdir=/mnt/work /mnt/root
    r=/mnt/root
    mount --bind "$home" "$r$home"                  # the user's real home: ext4, so Docker's overlay2 works
    mount -t proc proc "$r/proc"
    mount --bind "$r/proc/sys" "$r/proc/sys"; mount -o remount,bind,ro "$r/proc/sys"
    mount --bind "$r/proc/sys/net" "$r/proc/sys/net"  # per network namespace, and this one is private
    mount -t sysfs -o ro sysfs "$r/sys"
    # the hierarchies as the host has them, each mounted from inside the cgroup namespace
    if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
      mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup"     # unified only (most CI hosts)
    else
      mount -t tmpfs -o mode=0755 cgroup "$r/sys/fs/cgroup"
      # v1 hierarchies (column 2 of /proc/cgroups), co-mounted controllers together ("cpu,cpuacct" and links)
      for h in $(awk '!/^#/ && $2 != 0 {c[$2] = c[$2] ? c[$2] "," $1 : $1} END {for (i in c) print c[i]}' /proc/cgroups); do
        mkdir "$r/sys/fs/cgroup/$h"; mount -t cgroup -o "$h" cgroup "$r/sys/fs/cgroup/$h"
        case "$h" in *,*) for c in $(echo "$h" | tr , ' '); do ln -s "$h" "$r/sys/fs/cgroup/$c"; done ;; esac
      done
      mkdir "$r/sys/fs/cgroup/systemd" "$r/sys/fs/cgroup/unified"
      mount -t cgroup -o none,name=systemd cgroup "$r/sys/fs/cgroup/systemd"
      mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup/unified"
      mount -o remount,ro "$r/sys/fs/cgroup" 2>/dev/null || true
    fi
    mount -t tmpfs -o mode=0755 dev "$r/dev"
    for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
      set -- $n; mknod -m 0666 "$r/dev/$1" c "$2" "$3"
    done
    mkdir "$r/dev/net" "$r/dev/pts" "$r/dev/shm" "$r/dev/.proc"; mknod -m 0666 "$r/dev/net/tun" c 10 200
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$r/dev/pts"; ln -s pts/ptmx "$r/dev/ptmx"
    mount -t tmpfs -o mode=1777 shm "$r/dev/shm"
    ln -s /proc/self/fd "$r/dev/fd"
    # a fully visible proc: the kernel refuses new proc mounts (docker run) while every proc it sees is partly covered
    mount -t proc proc "$r/dev/.proc"
    mount -t tmpfs -o mode=0755 run "$r/run"
    # trim the root: nothing of the host's services runs, the journal stays in memory
    for u in docker.service docker.socket containerd.service postgresql.service lxc.service lxc-net.service \
             lxc-monitord.service lxcfs.service apparmor.service systemd-timesyncd.service systemd-sysctl.service \
             systemd-binfmt.service systemd-modules-load.service systemd-firstboot.service systemd-pstore.service \
             e2scrub_reap.service uuidd.socket getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
             dpkg-db-backup.timer e2scrub_all.timer fstrim.timer man-db.timer systemd-tmpfiles-clean.timer; do
      ln -sf /dev/null "$r/etc/systemd/system/$u"
    done
    mkdir -p "$r/etc/systemd/journald.conf.d" "$r/opt/rkpy-flow"
    printf '[Journal]\nStorage=volatile\n' > "$r/etc/systemd/journald.conf.d/volatile.conf"
    cp -a "$bindir" "$r/opt/rkpy-flow/bin"; chown -R root:root "$r/opt/rkpy-flow/bin"
    # the engine under test in place of Debian 12's docker.io, at the same paths (PATH order and the unit stay as they are)
    # (only those names, and only root-owned files: the test user does not choose what the root's systemd could run)
    for link in "$engine"/*; do
      [ -n "$engine" ] && [ -L "$link" ] || continue  # none given, or none in it (the glob stays unexpanded)
      name=${link##*/} target=$(readlink -f "$link") found=""
      case "$name" in dockerd|docker|docker-proxy|containerd|containerd-shim-runc-v2|ctr|runc) ;;
        *) echo "systemd-stage2: $name is not a Docker engine program" >&2; exit 1 ;; esac
      [ "$(stat -c %U "$target")" = root ] || { echo "systemd-stage2: $target is not owned by root" >&2; exit 1; }
      for d in usr/sbin usr/bin; do [ -e "$r/$d/$name" ] && { found=$r/$d/$name; break; }; done
      [ -n "$found" ] || { echo "systemd-stage2: no $name in the root to replace with $target" >&2; exit 1; }
      mount --bind "$target" "$found"
    done
    cd "$r"; mkdir -p oldroot; pivot_root . oldroot; umount -l /oldroot; rmdir /oldroot
    exec setpriv --bounding-set=-sys_module,-sys_time,-sys_rawio,-syslog,-wake_alarm,-mac_admin,-mac_override,-sys_pacct,-block_suspend,-bpf,-perfmon \
      env -i container=other /lib/systemd/systemd --unit=multi-user.target ;;
  as-dind-user)     # ARGS...: run ARGS as rkpydind, the outer user of the nested rootless Docker test (1,000,000
                    # subordinate ids, enough to map an inner user's 65,536 at 100000), with its own empty environment
    shift
    home=$(getent passwd rkpydind | cut -d: -f6)
    exec setpriv --reuid=rkpydind --regid=rkpydind --init-groups --inh-caps=-all \
      env -i HOME="$home" USER=rkpydind LOGNAME=rkpydind LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$@" ;;
  *) echo "usage: $0 mount-tmpfs|umount|setcap-copy|remove|as-user-without-subids|cgroup-delegate|cgroup-release|activate-port|libc-free-root|deb-in-debian12|apparmor-parse|setuptool-in|systemd-flow|as-dind-user" >&2
     exit 2 ;;
esac
