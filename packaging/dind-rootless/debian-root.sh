#!/usr/bin/env bash
# The Debian root the Debian variant of the dind-rootless image starts from, made once with mmdebstrap
# (about half a minute) and cached as CACHE/mmdebstrap/bookworm-dind-<key>/root.tar (see
# packaging/mmdebstrap-root.sh). Prints the tar's path, which `docker import` reads.
#   packaging/dind-rootless/debian-root.sh [CACHE]   (CACHE: /var/cache/rootlesskit-py-tests)
# The packages: what the official image has (a Docker engine, newuidmap, iptables, slirp4netns,
# fuse-overlayfs, iproute2 for the tap device, CA certificates), procps, Debian's Go RootlessKit as
# the image's own rootlesskit (the official image ships Go's; the drop-in replaces it), and
# busybox-static to make a test image from (no registry is needed).
set -euo pipefail
. "$(dirname "$0")/../mmdebstrap-root.sh"
cached_root "${1:-${RKPY_ENGINE_CACHE:-/var/cache/rootlesskit-py-tests}}/mmdebstrap" bookworm-dind bookworm minbase \
  docker.io,uidmap,iptables,slirp4netns,fuse-overlayfs,ca-certificates,iproute2,procps,rootlesskit,busybox-static root.tar
