#!/bin/sh
# rootlesskit-py installer: `curl -fsSL <DOWNLOAD_URL>/install.sh | sh`, run as the user who will run
# rootless Docker. It installs rootlesskit, rootlessctl, rootlesskit-docker-proxy, dockerd-rootless.sh
# and dockerd-rootless-setuptool.sh (one file, five names) into $DOCKER_BIN, default ~/bin, and a static
# pasta (the network helper dockerd-rootless.sh falls back to when none is installed) with its licence
# into $DOCKER_BIN/../libexec/rootlesskit-py (off PATH), then runs `dockerd-rootless-setuptool.sh install`
# when a Docker engine is present.
#
# Environment: DOWNLOAD_URL (the base URL of the tarball and its .sha256; default below), DOCKER_BIN,
# FORCE_ROOTLESS_INSTALL (install as root; passes --force to the setup tool), SKIP_IPTABLES (passes
# --skip-iptables). Arguments (`sh -s -- ARGS`) go to the setup tool first.
#
# Nothing is written outside a temporary directory until the download's checksum is verified; each
# program is then replaced by rename(2), so a running rootlesskit keeps the file it was started from
# and nothing ever sees a half-written binary. ~/.local/share/docker (Docker's data) is not touched.
set -eu

VERSION="@VERSION@"
ARCHITECTURES="@ARCHITECTURES@"
DOWNLOAD_URL="${DOWNLOAD_URL:-@DOWNLOAD_URL@}"
PROGRAMS="rootlesskit rootlessctl rootlesskit-docker-proxy dockerd-rootless.sh dockerd-rootless-setuptool.sh"

fail() {
	>&2 echo "$1"
	exit 1
}

# the temporary download directory, the staged files in BIN (.NAME.<pid>.new) and the staged helper
# directory in LIBEXEC's parent (.rootlesskit-py.<pid>.new): removed on every exit
TMP=""
STAGED=""
CREATED_BIN=""
HELPERS=""
cleanup() {
	[ -z "$TMP" ] || rm -rf "$TMP"
	[ -z "$STAGED" ] || rm -f "$BIN"/.*."$$".new
	[ -z "$HELPERS" ] || rm -rf "$HELPERS.$$.new" "$HELPERS.$$.old"
	if [ -n "$CREATED_BIN" ]; then rmdir "$BIN" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# All steps are in one function, called on the last line: sh has read the whole script before
# anything runs (under `curl | sh` a command reading stdin would otherwise eat the rest of it).
do_install() {
	echo "# Installing rootlesskit-py version $VERSION"

	os=$(uname)
	[ "$os" = Linux ] || fail "Rootless Docker cannot be installed on $os"
	if [ "$(id -u)" = 0 ] && [ -z "${FORCE_ROOTLESS_INSTALL:-}" ]; then
		fail "Refusing to install rootless Docker as the root user"
	fi
	arch=$(uname -m)
	case " $ARCHITECTURES " in
		*" $arch "*) ;;
		*) fail "Aborting because rootlesskit-py $VERSION is not built for this machine's architecture $arch (uname -m); it is built for: $ARCHITECTURES" ;;
	esac
	[ -d "${HOME:-}" ] || fail "Aborting because HOME directory ${HOME:-} does not exist"
	BIN="${DOCKER_BIN:-$HOME/bin}"
	if [ -d "$BIN" ]; then
		[ -w "$BIN" ] || fail "Aborting because $BIN is not writable"
	else
		[ -w "$HOME" ] || fail "Aborting because HOME (\"$HOME\") is not writable"
	fi

	if command -v curl >/dev/null 2>&1; then
		download() {
			if [ -t 2 ]; then curl -fL --progress-bar -o "$1" "$2"; else curl -fsSL -o "$1" "$2"; fi
		}
	elif command -v wget >/dev/null 2>&1; then
		download() {
			if [ -t 2 ]; then wget -O "$1" "$2"; else wget -q -O "$1" "$2"; fi
		}
	else
		fail "Aborting because neither curl nor wget was found; install one (e.g. apt-get install -y curl) and run this installer again"
	fi
	if command -v sha256sum >/dev/null 2>&1; then
		sha256() { sha256sum "$1" | cut -d' ' -f1; }
	elif command -v shasum >/dev/null 2>&1; then
		sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
	else
		fail "Aborting because neither sha256sum nor shasum was found to verify the download; install coreutils and run this installer again"
	fi

	tarball="rootlesskit-py-$VERSION-$arch.tgz"
	TMP=$(mktemp -d)
	download "$TMP/$tarball.sha256" "$DOWNLOAD_URL/$tarball.sha256" ||
		fail "Aborting because $DOWNLOAD_URL/$tarball.sha256 could not be downloaded (set DOWNLOAD_URL to the directory holding $tarball)"
	download "$TMP/$tarball" "$DOWNLOAD_URL/$tarball" ||
		fail "Aborting because $DOWNLOAD_URL/$tarball could not be downloaded (set DOWNLOAD_URL to the directory holding it)"
	expected=$(cut -d' ' -f1 "$TMP/$tarball.sha256")
	actual=$(sha256 "$TMP/$tarball")
	case "$expected" in
		*[!0-9a-f]* | "") fail "Aborting because $DOWNLOAD_URL/$tarball.sha256 holds no SHA-256 checksum" ;;
	esac
	[ "${#expected}" = 64 ] || fail "Aborting because $DOWNLOAD_URL/$tarball.sha256 holds no SHA-256 checksum"
	[ "$actual" = "$expected" ] ||
		fail "Aborting because $tarball does not match its checksum (expected $expected, got $actual): nothing was installed"
	mkdir "$TMP/x"
	tar -xzf "$TMP/$tarball" -C "$TMP/x"
	for name in $PROGRAMS; do
		[ -f "$TMP/x/rootlesskit-py/$name" ] || fail "Aborting because $tarball has no rootlesskit-py/$name"
	done
	[ -f "$TMP/x/libexec/rootlesskit-py/pasta" ] || fail "Aborting because $tarball has no libexec/rootlesskit-py/pasta"

	if [ -e "$BIN/rootlesskit" ]; then
		old=$("$BIN/rootlesskit" --version 2>/dev/null || echo "an unknown version")
		echo "# Existing $old detected at $BIN/rootlesskit: upgrading it in place"
		getcap=$(PATH="$PATH:/usr/sbin:/sbin" command -v getcap || true)
		caps=""
		if [ -n "$getcap" ]; then
			# `getcap FILE` prints "FILE cap_x=ep" (libcap >= 2.41) or "FILE = cap_x+ep"; nothing without capabilities
			caps=$("$getcap" "$BIN/rootlesskit")
			caps=${caps#"$BIN/rootlesskit"}
			caps=${caps# }
			caps=${caps#= }
		fi
	fi
	if [ ! -d "$BIN" ]; then
		mkdir -p "$BIN"
		CREATED_BIN=1
	fi
	# one file under five names: each name is a hard link, put in place by rename
	stage="$BIN/.rootlesskit-py.$$.new"
	STAGED=1
	cp "$TMP/x/rootlesskit-py/rootlesskit" "$stage"
	chmod 0755 "$stage"
	for name in $PROGRAMS; do
		ln -f "$stage" "$BIN/.$name.$$.new" 2>/dev/null || cp -p "$stage" "$BIN/.$name.$$.new"
	done
	for name in $PROGRAMS; do
		mv -f "$BIN/.$name.$$.new" "$BIN/$name"
	done
	rm -f "$stage"
	STAGED=""
	# the network helper, where the programs look for it (../libexec/rootlesskit-py from their directory,
	# resolved as the kernel resolves it: physically); the directory is swapped whole (a running pasta
	# keeps the file it was started from)
	mkdir -p "$BIN/../libexec"
	HELPERS="$(cd -P "$BIN/../libexec" && pwd)/rootlesskit-py"
	cp -R "$TMP/x/libexec/rootlesskit-py" "$HELPERS.$$.new"
	if [ -e "$HELPERS" ]; then mv "$HELPERS" "$HELPERS.$$.old"; fi
	mv "$HELPERS.$$.new" "$HELPERS"
	rm -rf "$HELPERS.$$.old"
	CREATED_BIN=""
	rm -rf "$TMP"
	TMP=""
	echo "# Installed $("$BIN/rootlesskit" --version) into $BIN: $PROGRAMS"
	echo "# Installed pasta (the network helper dockerd-rootless.sh uses when no slirp4netns, pasta or vpnkit is installed) into $HELPERS"
	HELPERS=""
	if [ -n "${caps:-}" ]; then
		echo "# WARNING: the previous $BIN/rootlesskit had the file capabilities $caps, which the new file lacks (only root can set them)."
		echo "# To set them again, run:"
		echo "sudo setcap $caps $BIN/rootlesskit"
	fi

	if PATH="$BIN:$PATH:/usr/sbin:/sbin" command -v dockerd >/dev/null 2>&1; then
		[ -z "${FORCE_ROOTLESS_INSTALL:-}" ] || set -- "$@" --force
		[ -z "${SKIP_IPTABLES:-}" ] || set -- "$@" --skip-iptables
		# traced as upstream's installer does; its exit status is the installer's
		(
			set -x
			PATH="$BIN:$PATH" "$BIN/dockerd-rootless-setuptool.sh" install "$@"
		)
		exit
	fi
	echo "# No Docker engine (dockerd) was found in $BIN, \$PATH, /usr/sbin or /sbin. Install one, for example:"
	echo "#   sudo apt-get install -y docker.io    (Debian, Ubuntu)"
	echo "#   sudo dnf install -y moby-engine      (Fedora)"
	echo "#   or Docker's packages or static binaries: https://docs.docker.com/engine/install/"
	echo "# then set up the rootless daemon with: $BIN/dockerd-rootless-setuptool.sh install"
	echo
	echo "[INFO] Make sure the following environment variable(s) are set (or add them to ~/.bashrc):"
	echo "export PATH=$BIN:\$PATH"
	echo
	echo "[INFO] Some applications may require the following environment variable too:"
	echo "export DOCKER_HOST=unix://${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/docker.sock"
	echo
}

do_install "$@"
