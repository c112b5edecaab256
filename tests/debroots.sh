#!/usr/bin/env bash
# Debian roots for the package tests, made with mmdebstrap and cached under
# $CACHE/mmdebstrap/<name>-<key>, the key being the suite, variant and package list: a second run
# finds them and costs nothing. <name> is a symlink to the current one (tests/roothelper.sh uses it).
#   bookworm-docker  Debian 12 with docker.io (a Docker engine) and what the .deb depends on: dpkg -i/-r
#   trixie-apparmor  Debian 13 with apparmor: its apparmor_parser knows abi 4.0 (Debian 12's 3.0 does not,
#                    and Debian 13's needs a newer glibc than Debian 12 has, so it runs in its own root)
# Run as root by tests/run.
set -euo pipefail
CACHE=${RKPY_ENGINE_CACHE:-/var/cache/rootlesskit-py-tests}/mmdebstrap
ARCHIVE=$(sed -n 's/^URIs: *\(.*debian\/*\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
ARCHIVE=${ARCHIVE:-$(sed -n 's/^deb \(http[^ ]*debian\/*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)}
[ -n "$ARCHIVE" ] || { echo "tests/debroots.sh: no Debian archive URI found in /etc/apt/sources.list*" >&2; exit 1; }
mkdir -p "$CACHE"

# root NAME SUITE VARIANT PACKAGES: make (once) and link $CACHE/NAME
root() {
  local name=$1 suite=$2 variant=$3 packages=$4 key dir
  key=$(printf '%s\n' "$suite" "$variant" "$packages" | sha256sum | cut -c1-16)
  dir="$CACHE/$name-$key"
  if [ ! -e "$dir/.complete" ]; then
    find "$CACHE" -maxdepth 1 -name "$name-*" -exec rm -rf {} +
    mmdebstrap --quiet --variant="$variant" --include="$packages" \
      --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$suite" "$dir.tmp" "deb $ARCHIVE $suite main"
    mv "$dir.tmp" "$dir"
    echo "$suite $variant $packages" > "$dir/.complete"
  fi
  ln -sfn "$name-$key" "$CACHE/$name"
}

root bookworm-docker bookworm apt "docker.io,uidmap,dbus-user-session"
root trixie-apparmor trixie essential "apparmor"
echo "tests/debroots.sh: $(cat "$CACHE/bookworm-docker/.complete"); $(cat "$CACHE/trixie-apparmor/.complete")"
