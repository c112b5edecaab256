#!/usr/bin/env bash
# Newer Docker engines and Go RootlessKit for the tests, without installing anything: Debian 13's
# (trixie: Docker 26.1, containerd 1.7, RootlessKit 2.0.2) and sid's (Docker >= 28, containerd 2.x)
# .debs are fetched with an apt configuration of our own (sources, lists, cache) and unpacked with
# dpkg-deb -x under $CACHE/<suite>/root. Their Go programs need only GLIBC 2.34, so they run on
# Debian 12; their runc needs a newer glibc, so the tests use Debian 12's /usr/sbin/runc.
# trixie's passt is C and needs GLIBC 2.38 there, so it is built here from its source package; sid's
# comes with sid's libc.
# Run as root by tests/run; a second run with the cache in place costs a few seconds.
set -euo pipefail
CACHE=${RKPY_ENGINE_CACHE:-/var/cache/rootlesskit-py-tests}
ARCHIVE=$(sed -n 's/^URIs: *\(.*debian\/*\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
ARCHIVE=${ARCHIVE:-$(sed -n 's/^deb \(http[^ ]*debian\/*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)}
[ -n "$ARCHIVE" ] || { echo "tests/engines.sh: no Debian archive URI found in /etc/apt/sources.list*" >&2; exit 1; }

APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc/preferences.d" "$APT/etc/sources.list.d"
cat > "$APT/etc/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $ARCHIVE trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $ARCHIVE sid main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $ARCHIVE trixie main
EOF
APT_OPTS=(-o Dir::Etc="$APT/etc" -o Dir::Etc::sourcelist="$APT/etc/sources.list" \
    -o Dir::Etc::sourceparts="$APT/etc/sources.list.d" -o Dir::Etc::preferencesparts="$APT/etc/preferences.d" \
    -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o Dir::State::status=/var/lib/dpkg/status \
    -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
apt_() { apt-get -q "${APT_OPTS[@]}" "$@"; }
# refresh the lists once a day at most (sid moves; trixie's point releases do not change the versions we pin)
if [ -z "$(find "$APT/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
  apt_ update >/dev/null
fi

# fetch NAME SUITE PACKAGE...: unpack the suite's current version of each package into $CACHE/NAME/root
fetch() {
  local name=$1 suite=$2; shift 2
  local dir="$CACHE/$name" want="" pkg ver
  mkdir -p "$dir/debs"
  for pkg in "$@"; do
    ver=$(apt-cache "${APT_OPTS[@]}" madison "$pkg" | awk -F' *[|] *' -v s=" $suite/" 'index($3, s) { print $2; exit }')
    [ -n "$ver" ] || { echo "tests/engines.sh: $pkg not found in $suite" >&2; exit 1; }
    want="$want $pkg=$ver"
  done
  # the cache key is the exact versions: a new sid upload gives a fresh root
  local key; key=$(echo "$want" | sha256sum | cut -c1-16)
  if [ ! -e "$dir/root-$key/.complete" ]; then
    rm -rf "$dir"/root-*
    (cd "$dir/debs" && for w in $want; do
       ls "${w%%=*}_"*.deb >/dev/null 2>&1 && [ -n "$(ls "${w%%=*}_$(echo "${w#*=}" | sed 's/^[0-9]*://')"_*.deb 2>/dev/null)" ] \
         || apt_ download "$w" >/dev/null
     done)
    mkdir -p "$dir/root-$key"
    for w in $want; do
      dpkg-deb -x "$dir/debs/${w%%=*}_$(echo "${w#*=}" | sed 's/^[0-9]*://')"_*.deb "$dir/root-$key"
    done
    echo "$want" > "$dir/root-$key/.complete"
  fi
  ln -sfn "root-$key" "$dir/root"
}

fetch trixie trixie docker.io docker-cli containerd rootlesskit
fetch sid sid docker.io docker-cli containerd
fetch sid-passt sid passt libc6

sid_docker=$("$CACHE/sid/root/usr/sbin/dockerd" --version | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
[ "${sid_docker:-0}" -ge 28 ] || { echo "tests/engines.sh: sid's docker.io is $sid_docker, the tests need >= 28" >&2; exit 1; }

# trixie's passt as Debian builds it: its source package (the two tarballs, checked against the Sources
# index by apt; the archive may no longer hold the .dsc) built by its own debian/rules with
# dpkg-buildpackage, so with Debian's patches, hardening flags and VERSION=$(DEB_VERSION): this pasta
# prints "pasta 0.0~git20250503.587980c-2+deb13u1", as Debian 13's and Ubuntu's do. The binaries
# are the .deb's own (pasta a hard link to passt, as packaged); only the compiler is Debian 12's.
trixie_passt="$CACHE/passt-trixie"
passt_version=$(apt-cache "${APT_OPTS[@]}" madison passt | awk -F' *[|] *' '$3 ~ / trixie\/main Sources$/ { print $2; exit }')
[ -n "$passt_version" ] || { echo "tests/engines.sh: no passt source in trixie's Sources index" >&2; exit 1; }
if [ "$(cat "$trixie_passt/.complete" 2>/dev/null)" != "$passt_version" ]; then
  src="$CACHE/passt-trixie-src"
  rm -rf "$src" "$trixie_passt"; mkdir -p "$src/tree"
  (cd "$src" && apt_ source --download-only "passt=$passt_version" >/dev/null 2>&1) || true
  orig=$(ls "$src"/passt_*.orig.tar.* 2>/dev/null | head -n1)
  deb=$(ls "$src"/passt_*.debian.tar.* 2>/dev/null | head -n1)
  [ -n "$orig" ] && [ -n "$deb" ] || { echo "tests/engines.sh: could not fetch trixie's passt source tarballs" >&2; exit 1; }
  tar -C "$src/tree" --strip-components=1 -xf "$orig"
  tar -C "$src/tree" -xf "$deb"
  (cd "$src/tree" && dpkg-buildpackage -b -uc -us >"$src/build.log" 2>&1) \
    || { tail -n 30 "$src/build.log" >&2; echo "tests/engines.sh: dpkg-buildpackage of passt $passt_version failed" >&2; exit 1; }
  dpkg-deb -x "$src/passt_${passt_version#*:}_$(dpkg --print-architecture).deb" "$src/pkg"
  mkdir -p "$trixie_passt"
  cp -a "$src/pkg/usr/bin/." "$trixie_passt/"
  rm -rf "$src"
  echo "$passt_version" > "$trixie_passt/.complete"
fi

# sid's passt (with pesto) exactly as Debian ships it: sid's source tarballs are gone from the mirror,
# so the binary package, given sid's own ld.so and libc (it needs GLIBC 2.38) by patchelf, nothing
# else changed. pasta and pasta.avx2 are hard links, as in the package; passt re-executes
# <its own path>.avx2 on AVX2 CPUs, so both builds are patched.
sid_root="$CACHE/sid-passt/root" sid_passt="$CACHE/passt-sid"
if ! cmp -s "$sid_root/.complete" "$sid_passt/.complete"; then
  rm -rf "$sid_passt"; mkdir -p "$sid_passt/lib"
  cp "$sid_root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$sid_root/usr/lib/x86_64-linux-gnu/libc.so.6" "$sid_passt/lib/"
  for b in passt passt.avx2 pesto passt-repair; do
    install -m 0755 "$sid_root/usr/bin/$b" "$sid_passt/$b"
    patchelf --set-interpreter "$sid_passt/lib/ld-linux-x86-64.so.2" --set-rpath "$sid_passt/lib" "$sid_passt/$b"
  done
  ln "$sid_passt/passt" "$sid_passt/pasta"
  ln "$sid_passt/passt.avx2" "$sid_passt/pasta.avx2"
  cp "$sid_root/.complete" "$sid_passt/.complete"
fi
# the test user reads what this script made, and only that: other scripts keep roots of their own here
chmod a+rX "$CACHE"
chmod -R a+rX "$CACHE/trixie" "$CACHE/sid" "$CACHE/sid-passt" "$trixie_passt" "$sid_passt"

for suite in trixie sid; do
  printf 'tests/engines.sh: %s: %s, %s, containerd %s\n' "$suite" \
    "$("$CACHE/$suite/root/usr/sbin/dockerd" --version)" \
    "$("$CACHE/$suite/root/usr/bin/docker" --version)" \
    "$("$CACHE/$suite/root/usr/bin/containerd" --version | awk '{print $3}')"
done
echo "tests/engines.sh: Go rootlesskit $("$CACHE/trixie/root/usr/bin/rootlesskit" --version | awk '{print $NF}'), trixie's $(script -qc "$trixie_passt/pasta --version" /dev/null | head -n1 | tr -d '\r')"
echo "tests/engines.sh: sid's $(script -qc "$sid_passt/pasta --version" /dev/null | head -n1 | tr -d '\r'), $("$sid_passt/pesto" --version 2>&1 | head -n1)"
