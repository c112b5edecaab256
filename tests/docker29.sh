#!/usr/bin/env bash
# Docker 29 for the tests, from a tarball given by path: no registry reachable here carries it.
#   tests/docker29.sh TARBALL   prints the directory holding its programs (dockerd, docker,
#                               docker-proxy, runc 1.4.3, upstream's two scripts)
# A TARBALL.sha256 beside it (sha256sum's format) is checked first. The programs are unpacked
# into $RKPY_ENGINE_CACHE/docker29/<first 16 hex digits of the tarball's sha256>, so a second run
# with the same tarball only hashes it, and a different tarball never mixes with the first.
# Run by tests/run (as root, or as the user when the cache is writable); messages go to stderr.
set -euo pipefail
CACHE=${RKPY_ENGINE_CACHE:-/var/cache/rootlesskit-py-tests}
die() { echo "tests/docker29.sh: $*" >&2; exit 1; }
[ $# = 1 ] || die "usage: tests/docker29.sh PATH/docker-29.x.y-amd64.tar.xz"
tarball=$1
[ -f "$tarball" ] || die "no Docker 29 tarball at $tarball (give the path of docker-29.x.y-amd64.tar.xz)"
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ -f "$tarball.sha256" ]; then
  want=$(awk 'NR == 1 { print $1 }' "$tarball.sha256")
  [ "$sum" = "$want" ] || die "$tarball has sha256 $sum, but $tarball.sha256 says $want: a damaged or different file"
fi
dir="$CACHE/docker29/${sum:0:16}"
if [ ! -e "$dir/.complete" ]; then
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp"
  tar -C "$dir.tmp" -xf "$tarball"
  for prog in dockerd docker docker-proxy runc dockerd-rootless.sh dockerd-rootless-setuptool.sh; do
    [ -x "$dir.tmp/$prog" ] || { rm -rf "$dir.tmp"; die "$tarball has no executable $prog at its top level"; }
  done
  version=$("$dir.tmp/dockerd" --version)
  case "$version" in
    "Docker version 29."*) ;;
    *) rm -rf "$dir.tmp"; die "$tarball's dockerd says '$version', not Docker version 29.x" ;;
  esac
  echo "$version" > "$dir.tmp/.complete"
  mv "$dir.tmp" "$dir"
  chmod -R a+rX "$CACHE/docker29"
fi
echo "tests/docker29.sh: $(cat "$dir/.complete"), runc $("$dir/runc" --version | awk 'NR == 1 { print $3 }'), from $tarball" >&2
echo "$dir"
