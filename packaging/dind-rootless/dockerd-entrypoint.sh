#!/bin/sh
# The Debian variant's entrypoint: the official dind-rootless image's behaviour for a non-root user,
# written afresh. It runs rootlesskit itself, with the official entrypoint's fixed flags, rather
# than dockerd-rootless.sh, because that is what the official image does: the drop-in has to work
# under exactly that command line (no --state-dir, no --propagation, builtin port driver).
#   no arguments, or options first:  dockerd with a unix socket and a TCP listener, then those options
#   dockerd ...:                     as given, under rootlesskit
#   anything else:                   run as is, with DOCKER_HOST pointing at the daemon's socket
set -eu
uid=$(id -u)
[ "$uid" != 0 ] || { echo >&2 "error: this image runs dockerd rootless; run it as a non-root user (its default, rootless)"; exit 1; }
: "${XDG_RUNTIME_DIR:=/run/user/$uid}"
export XDG_RUNTIME_DIR
socket="unix://$XDG_RUNTIME_DIR/docker.sock"
case "${DOCKER_HOST:-}" in unix://*) socket=$DOCKER_HOST ;; esac

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  certs=${DOCKER_TLS_CERTDIR:-}
  if [ -n "$certs" ]; then
    for f in ca.pem cert.pem key.pem; do
      [ -s "$certs/server/$f" ] || { echo >&2 "error: DOCKER_TLS_CERTDIR=$certs but $certs/server/$f is missing: mount the server certificates there, or set DOCKER_TLS_CERTDIR= to listen without TLS"; exit 1; }
    done
    set -- dockerd --host="$socket" --host=tcp://0.0.0.0:2376 --tlsverify \
      --tlscacert "$certs/server/ca.pem" --tlscert "$certs/server/cert.pem" --tlskey "$certs/server/key.pem" "$@"
    DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS="${DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS:-} -p 0.0.0.0:2376:2376/tcp"
  else
    set -- dockerd --host="$socket" --host=tcp://0.0.0.0:2375 "$@"
    DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS="${DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS:-} -p 0.0.0.0:2375:2375/tcp"
  fi
fi

if [ "$1" != dockerd ]; then
  [ -n "${DOCKER_HOST:-}" ] || [ ! -S "$XDG_RUNTIME_DIR/docker.sock" ] || export DOCKER_HOST="unix://$XDG_RUNTIME_DIR/docker.sock"
  exec "$@"
fi

# a daemon stopped uncleanly leaves its pid file, and the next one would refuse to start
find /run /var/run -iname 'docker*.pid' -delete 2>/dev/null || :
iptables --version
command -v rootlesskit >/dev/null || { echo >&2 "error: attempting to run rootless dockerd but missing 'rootlesskit' (perhaps the 'docker:dind-rootless' image variant is intended?)"; exit 1; }
user=$(id -un 2>/dev/null || :)
if ! grep -qE "^($uid${user:+|$user}):" /etc/subuid || ! grep -qE "^($uid${user:+|$user}):" /etc/subgid; then
  echo >&2 "error: attempting to run rootless dockerd but missing necessary entries in /etc/subuid and/or /etc/subgid for $uid"
  exit 1
fi
if ! mkdir -p "$XDG_RUNTIME_DIR" "$HOME/.local/share/docker" 2>/dev/null || [ ! -w "$XDG_RUNTIME_DIR" ] || [ ! -w "$HOME/.local/share/docker" ]; then
  echo >&2 "error: attempting to run rootless dockerd but need writable HOME ($HOME) and XDG_RUNTIME_DIR ($XDG_RUNTIME_DIR) for user $uid"
  exit 1
fi
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" != 1 ]; then
  echo >&2 "error: attempting to run rootless dockerd but need 'kernel.unprivileged_userns_clone' (/proc/sys/kernel/unprivileged_userns_clone) set to 1"
  exit 1
fi
if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
  echo >&2 "error: attempting to run rootless dockerd but need 'user.max_user_namespaces' (/proc/sys/user/max_user_namespaces) set to a sufficiently large value"
  exit 1
fi
# docker-init (tini) as the daemon's parent reaps the shims' orphans; FLAGS is split into words on purpose
# shellcheck disable=SC2086
exec rootlesskit --net="${DOCKERD_ROOTLESS_ROOTLESSKIT_NET:-slirp4netns}" --mtu="${DOCKERD_ROOTLESS_ROOTLESSKIT_MTU:-1500}" \
  --disable-host-loopback --port-driver=builtin --copy-up=/etc --copy-up=/run \
  ${DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS:-} docker-init -- "$@"
