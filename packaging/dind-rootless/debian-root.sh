#!/usr/bin/env bash
# The Debian root the Debian variant of the dind-rootless image starts from, made once with mmdebstrap
# (about half a minute) and cached as CACHE/mmdebstrap/bookworm-dind-<key>/root.tar, the key being
# the suite, variant and package list, with a bookworm-dind symlink to the current one. Prints the
# tar's path, which `docker import` reads (a tar, so any user can import it: the root's own files
# include some only root may read).
#   packaging/dind-rootless/debian-root.sh [CACHE]   (CACHE: /var/cache/rootlesskit-py-tests)
# The packages: what the official image has (a Docker engine, newuidmap, iptables, slirp4netns,
# fuse-overlayfs, iproute2 for the tap device, CA certificates), procps, Debian's Go RootlessKit as
# the image's own rootlesskit (the official image ships Go's; the drop-in replaces it), and
# busybox-static to make a test image from (no registry is needed).
set -euo pipefail
CACHE=${1:-${RKPY_ENGINE_CACHE:-/var/cache/rootlesskit-py-tests}}/mmdebstrap
SUITE=bookworm VARIANT=minbase
PACKAGES=docker.io,uidmap,iptables,slirp4netns,fuse-overlayfs,ca-certificates,iproute2,procps,rootlesskit,busybox-static
MIRROR=${MIRROR:-http://deb.debian.org/debian}
name=bookworm-dind
key=$(printf '%s\n' "$SUITE" "$VARIANT" "$PACKAGES" | sha256sum | cut -c1-16)
dir="$CACHE/$name-$key"
if [ ! -e "$dir/.complete" ]; then
  mkdir -p "$CACHE"
  find "$CACHE" -maxdepth 1 -name "$name-*" -exec rm -rf {} +
  mkdir "$dir.tmp"
  mmdebstrap --quiet --variant="$VARIANT" --include="$PACKAGES" \
    --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$SUITE" "$dir.tmp/root.tar" "deb $MIRROR $SUITE main" >&2
  chmod 0644 "$dir.tmp/root.tar"
  mv "$dir.tmp" "$dir"
  echo "$SUITE $VARIANT $PACKAGES" > "$dir/.complete"
fi
ln -sfn "$name-$key" "$CACHE/$name"
echo "$dir/root.tar"
