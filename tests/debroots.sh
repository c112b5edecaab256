#!/usr/bin/env bash
# Debian roots for the package tests, made with mmdebstrap and cached under
# $CACHE/mmdebstrap/<name>-<key> (packaging/mmdebstrap-root.sh): a second run finds them and costs
# nothing. <name> is a symlink to the current one (tests/roothelper.sh uses it).
#   bookworm-docker  Debian 12 with docker.io (a Docker engine) and what the .deb depends on: dpkg -i/-r
#   trixie-apparmor  Debian 13 with apparmor: its apparmor_parser knows abi 4.0 (Debian 12's 3.0 does not,
#                    and Debian 13's needs a newer glibc than Debian 12 has, so it runs in its own root)
# Run as root by tests/run.
set -euo pipefail
. "$(dirname "$0")/../packaging/mmdebstrap-root.sh"
CACHE=${RKPY_ENGINE_CACHE:-/var/cache/rootlesskit-py-tests}/mmdebstrap
docker=$(cached_root "$CACHE" bookworm-docker bookworm apt "docker.io,uidmap,dbus-user-session")
apparmor=$(cached_root "$CACHE" trixie-apparmor trixie essential "apparmor")
echo "tests/debroots.sh: $(cat "$docker/.complete"); $(cat "$apparmor/.complete")"
