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
                    # libc: BIN as /bin/rootlesskit and /bin/rootlessctl, a static busybox, /etc's user and subid
                    # files, /proc, /dev, and newuidmap/newgidmap in /helpers with their libraries (interpreter
                    # and rpath rewritten to /helpers/lib, so no libc is at a standard path); pivot_root, not chroot
    root=$(mktemp -d /tmp/rkpy-nolibc.XXXXXX)
    trap 'rmdir "$root"' EXIT
    unshare --mount --propagation private /bin/busybox sh -euc '
      root=$1 user=$2 bin=$3 script=$4
      mount -t tmpfs -o mode=0755 rkpy-nolibc "$root"
      mkdir -p "$root/bin" "$root/etc" "$root/proc" "$root/dev" "$root/tmp" "$root/helpers/lib" "$root/oldroot"
      chmod 1777 "$root/tmp"
      cp "$bin" "$root/bin/rootlesskit"; cp "$bin" "$root/bin/rootlessctl"
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
      cd "$root"
      pivot_root . oldroot
      /bin/busybox umount -l /oldroot
      /bin/busybox rmdir /oldroot
      exec /bin/busybox env -i HOME=/tmp PATH=/bin:/helpers /bin/busybox start-stop-daemon -S -c "$user" -x /helpers/busybox -- sh -c "$script"
    ' sh "$root" "$TEST_USER" "$2" "$3" ;;
  as-dind-user)     # ARGS...: run ARGS as rkpydind, the outer user of the nested rootless Docker test (1,000,000
                    # subordinate ids, enough to map an inner user's 65,536 at 100000), with its own empty environment
    shift
    home=$(getent passwd rkpydind | cut -d: -f6)
    exec setpriv --reuid=rkpydind --regid=rkpydind --init-groups --inh-caps=-all \
      env -i HOME="$home" USER=rkpydind LOGNAME=rkpydind LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$@" ;;
  *) echo "usage: $0 mount-tmpfs|umount|setcap-copy|remove|as-user-without-subids|cgroup-delegate|cgroup-release|activate-port|libc-free-root|as-dind-user" >&2
     exit 2 ;;
esac
