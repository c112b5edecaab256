# Sourced, not run: the one cache of mmdebstrap roots, shared by packaging/dind-rootless/debian-root.sh
# (the dind image's root) and tests/debroots.sh (the package tests' roots).
#   cached_root CACHE NAME SUITE VARIANT PACKAGES [TAR]
# makes, once, CACHE/NAME-KEY (KEY: a hash of the suite, variant and package list, so a changed list
# makes a new root and a second run costs nothing), holding the root itself or, given TAR, the root
# as that tar file (any user can `docker import` a tar; some of the root's own files only root may
# read). Links CACHE/NAME to it, and prints the root's path or the tar's.
# The archive: $MIRROR, else the one this machine's apt sources name, else deb.debian.org.

debian_mirror() {
  local uri
  uri=$(sed -n 's/^URIs: *\(.*debian\/*\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
  uri=${uri:-$(sed -n 's/^deb \(http[^ ]*debian\/*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)}
  echo "${MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

cached_root() {
  local cache=$1 name=$2 suite=$3 variant=$4 packages=$5 tar=${6:-} key dir target
  key=$(printf '%s\n' "$suite" "$variant" "$packages" | sha256sum | cut -c1-16)
  dir="$cache/$name-$key"
  if [ ! -e "$dir/.complete" ]; then
    mkdir -p "$cache"
    find "$cache" -maxdepth 1 -name "$name-*" -exec rm -rf {} +
    target=$dir.tmp
    if [ -n "$tar" ]; then
      mkdir "$dir.tmp"
      target=$dir.tmp/$tar
    fi
    mmdebstrap --quiet --variant="$variant" --include="$packages" \
      --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$suite" "$target" "deb $(debian_mirror) $suite main" >&2
    [ -z "$tar" ] || chmod 0644 "$target"
    mv "$dir.tmp" "$dir"
    echo "$suite $variant $packages" > "$dir/.complete"
  fi
  ln -sfn "$name-$key" "$cache/$name"
  echo "$dir${tar:+/$tar}"
}
