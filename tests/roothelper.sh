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
  *) echo "usage: $0 mount-tmpfs|umount|setcap-copy|remove|as-user-without-subids|cgroup-delegate|cgroup-release|activate-port" >&2
     exit 2 ;;
esac
