#!/bin/sh
# test_deb.sh - debian/ builds the binary packages libpawl0, libpawl-dev,
# pawl and pawl-repo with `dpkg-buildpackage -us -uc -b`, in a plain clone
# of the committed tree (never in the source directory), with the package contents and
# dependencies they promise; unpacked with `dpkg-deb -x` into an empty
# directory tree, the programs run, the man pages render, and the example
# from libpawl-dev builds through the packaged pawl.pc and updates from a
# repository made with the packaged pawl-repo.
#
# The package build skips its own unit tests (DEB_BUILD_OPTIONS=nocheck):
# `make check` has just run them on the same code. Set PAWL_DEB_CHECK=1 to
# run them inside the package build too.
#
# Output is TAP. Environment: PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version 2>/dev/null ||
	sed -n '1s/.*(\(.*\)).*/\1/p' "$SRC/debian/changelog")
UPSTREAM=${VERSION%-*}
ARCH=$(dpkg --print-architecture)

skip_all() { echo "1..0 # SKIP $1"; exit 0; }

if ! command -v dpkg-buildpackage >/dev/null 2>&1 || ! command -v dh >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "# installing the package build tools (scripts/install-deps --package)"
		sh "$SRC/scripts/install-deps" --package >&2 || skip_all "cannot install debhelper"
	else
		skip_all "dpkg-buildpackage or dh missing: run scripts/install-deps --package as root"
	fi
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-deb-XXXXXX")
cleanup() {
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
cd "$T"

n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
flunk() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -s out.log ] && sed 's/^/#   /' out.log | tail -n 40
	return 0
}
ok() { # DESC CMD...
	d=$1
	shift
	if "$@" >out.log 2>&1; then pass "$d"; else flunk "$d (exit $?)"; fi
}
. "$SRC/tests/integration/flip_byte.sh"
refuses() { # DESC PATTERN CMD...: CMD must fail and print PATTERN
	d=$1 pat=$2
	shift 2
	set +e
	"$@" >out.log 2>&1
	rc=$?
	set -e
	if [ $rc -ne 0 ] && grep -qiE -- "$pat" out.log; then pass "$d"; else
		flunk "$d (exit $rc, wanted failure and /$pat/)"
	fi
}
# contains DEB PATH...: every PATH is in the package
contains() {
	deb=$1
	shift
	dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >list
	: >out.log
	for p in "$@"; do
		grep -qxF -- "$p" list || echo "$deb lacks $p" >>out.log
	done
	[ ! -s out.log ]
}

# ---------------------------------------------------------------- build
# Built from a plain clone of the committed tree, exactly as a user or CI
# gets it: whatever the working tree has that git does not (build
# directories, untracked files, files beside the checkout) cannot hide a
# missing file. Without git (an unpacked source package) the tree itself
# is copied, build directories left out. Commit before running this test.
S=$T/pawl-$UPSTREAM
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	git clone -q --no-hardlinks "$SRC" "$S"
	rm -rf "$S/.git"
	echo "# building from a clone of $(git -C "$SRC" rev-parse --short HEAD)"
else
	mkdir "$S"
	tar -C "$SRC" --exclude=./.git --exclude='./build*' --exclude='./obj-*' -cf - . |
		tar -C "$S" -xf -
fi

opts="nocheck"
profiles="nocheck"
if [ "${PAWL_DEB_CHECK:-0}" = 1 ]; then opts="" profiles=""; fi
start=$(date +%s)
if (cd "$S" && DEB_BUILD_OPTIONS="$opts parallel=$(nproc)" DEB_BUILD_PROFILES="$profiles" \
	dpkg-buildpackage -us -uc -b) >build.log 2>&1; then
	pass "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
else
	cp build.log out.log
	flunk "dpkg-buildpackage -us -uc -b"
	echo "1..$n"
	exit 1
fi
if grep -E 'dpkg-gensymbols: warning|dh_missing: warning|dpkg-shlibdeps: warning' build.log >out.log; then
	flunk "no symbols, missing-file or shlibdeps warnings"
else
	pass "no symbols, missing-file or shlibdeps warnings"
fi

deb() { echo "$T/${1}_${VERSION}_${ARCH}.deb"; }
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ok "libpawl0: the versioned library only" contains "$(deb libpawl0)" \
	"/usr/lib/$MA/libpawl.so.0" "/usr/lib/$MA/libpawl.so.$UPSTREAM"
if dpkg-deb -c "$(deb libpawl0)" | grep -qE 'include/|\.pc$|libpawl\.so$'; then
	echo "development files in libpawl0" >out.log
	flunk "libpawl0 holds no development files"
else
	pass "libpawl0 holds no development files"
fi
ok "libpawl-dev: headers, libpawl.so, pawl.pc, example" contains "$(deb libpawl-dev)" \
	/usr/include/pawl/common.h /usr/include/pawl/updater.h "/usr/lib/$MA/libpawl.so" \
	"/usr/lib/$MA/pkgconfig/pawl.pc" /usr/share/doc/libpawl-dev/examples/update-data.c
ok "pawl: program, man pages, completion, systemd units, example config" \
	contains "$(deb pawl)" /usr/bin/pawl /usr/share/man/man1/pawl.1.gz \
	/usr/share/man/man5/pawl.conf.5.gz /usr/share/bash-completion/completions/pawl \
	/lib/systemd/system/pawl-update.service /lib/systemd/system/pawl-update.timer \
	/lib/systemd/system/pawl-confirm.service /usr/share/pawl/examples/pawl.conf
ok "pawl-repo: program, man page, completion, nginx example" \
	contains "$(deb pawl-repo)" /usr/bin/pawl-repo /usr/share/man/man1/pawl-repo.1.gz \
	/usr/share/bash-completion/completions/pawl-repo /usr/share/pawl/nginx/pawl.conf

depends() { dpkg-deb -f "$(deb "$1")" Depends; }
if depends libpawl-dev | grep -qF "libpawl0 (= $VERSION)" &&
	depends pawl | grep -q libarchive13 && depends pawl | grep -q libssl3 &&
	depends libpawl0 | grep -q libcurl4; then
	pass "dependencies: libpawl-dev on libpawl0 (= $VERSION), pawl on libarchive13 (dlopen'd) and libssl3"
else
	for p in libpawl0 libpawl-dev pawl pawl-repo; do echo "$p: $(depends $p)"; done >out.log
	flunk "dependencies"
fi
# dh_installsystemd --no-enable --no-start: a unit is enabled again on
# upgrade only when it was installed and enabled before (the
# "debian-installed" guard), and nothing is started.
dpkg-deb -I "$(deb pawl)" postinst >postinst 2>/dev/null || :
units=$(grep -c '^usr/share/pawl/systemd/.* lib/systemd/system$' "$SRC/debian/pawl.install")
if [ "$units" -ge 3 ] && [ "$(grep -c 'deb-systemd-helper enable' postinst)" = "$units" ] &&
	[ "$(grep -c 'deb-systemd-helper debian-installed' postinst)" = "$units" ] &&
	! grep -qE 'deb-systemd-invoke (start|restart)|systemctl (start|restart)' postinst; then
	pass "the systemd units are installed, not enabled or started"
else
	cp postinst out.log
	flunk "the systemd units are installed, not enabled or started"
fi

# The postinst creates the "pawl" account on configure, once. Run it with
# getent, adduser and the systemd helpers replaced by stubs that record
# their arguments, so that the machine's accounts are never touched.
mkdir stubs
cat >stubs/getent <<'STUB'
#!/bin/sh
echo "getent $*" >>"$STUBLOG"
[ -n "${PAWL_HAS_USER:-}" ] && { echo "pawl:x:999:999::/nonexistent:/usr/sbin/nologin"; exit 0; }
exit 2
STUB
for c in adduser deb-systemd-helper deb-systemd-invoke systemctl; do
	printf '#!/bin/sh\necho "%s $*" >>"$STUBLOG"\nexit 0\n' "$c" >stubs/$c
done
chmod +x stubs/*
run_postinst() { # LOG [ENV...]
	log=$1
	shift
	: >"$log"
	env "$@" STUBLOG="$T/$log" PATH="$T/stubs:$PATH" DPKG_MAINTSCRIPT_PACKAGE=pawl \
		sh ./postinst configure >/dev/null 2>&1
}
if depends pawl | grep -q adduser && run_postinst new.log &&
	grep -q '^adduser --system --group --no-create-home --home /nonexistent .*pawl$' new.log &&
	run_postinst have.log PAWL_HAS_USER=1 && grep -q '^getent passwd pawl' have.log &&
	! grep -q '^adduser' have.log; then
	pass "postinst creates the system account pawl, only when it is missing"
else
	{ echo "Depends: $(depends pawl)"; cat new.log have.log; } >out.log 2>&1
	flunk "postinst creates the system account pawl, only when it is missing"
fi
# pawl-repo's postinst does the same for pawl-repod's account.
dpkg-deb -I "$(deb pawl-repo)" postinst >postinst 2>/dev/null || :
if depends pawl-repo | grep -q adduser && run_postinst rnew.log &&
	grep -q '^adduser --system --group --no-create-home --home /nonexistent .*pawl-repod$' rnew.log &&
	run_postinst rhave.log PAWL_HAS_USER=1 && grep -q '^getent passwd pawl-repod' rhave.log &&
	! grep -q '^adduser' rhave.log &&
	! grep -qE '^deb-systemd-invoke (start|restart)|^systemctl (start|restart)' rnew.log; then
	pass "pawl-repo's postinst creates the system account pawl-repod, only when it is missing, and starts nothing"
else
	{ echo "Depends: $(depends pawl-repo)"; cat postinst rnew.log rhave.log; } >out.log 2>&1
	flunk "pawl-repo's postinst creates the system account pawl-repod, only when it is missing, and starts nothing"
fi

# ---------------------------------------------------------------- unpacked
ROOT=$T/root
mkdir "$ROOT"
for p in libpawl0 libpawl-dev pawl pawl-repo; do
	dpkg-deb -x "$(deb $p)" "$ROOT"
done
export LD_LIBRARY_PATH="$ROOT/usr/lib/$MA"
ok "the unpacked pawl --version" "$ROOT/usr/bin/pawl" --version
grep -q "^pawl $UPSTREAM " out.log || flunk "pawl --version says $UPSTREAM"
ok "the unpacked pawl-repo --version" "$ROOT/usr/bin/pawl-repo" --version

if command -v man >/dev/null 2>&1; then
	for m in man1/pawl.1.gz man1/pawl-repo.1.gz man5/pawl.conf.5.gz; do
		ok "man -l $m renders without a message" sh -c \
			"MANWIDTH=80 man -l '$ROOT/usr/share/man/$m' >/dev/null 2>err && test ! -s err"
	done
fi

# libpawl-dev's example, through the packaged pawl.pc (sysroot: the tree
# as if it were installed at /), run with the packaged libpawl.so.0.
mkdir ex
cp "$ROOT/usr/share/doc/libpawl-dev/examples/update-data.c" \
	"$ROOT/usr/share/doc/libpawl-dev/examples/Makefile" ex/
ok "the packaged example builds through the packaged pawl.pc" env \
	PKG_CONFIG_PATH="$ROOT/usr/lib/$MA/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$ROOT" \
	make -C ex CFLAGS="-O2 -Wall -Wextra -Werror"
R="$ROOT/usr/bin/pawl-repo -q"
for k in root targets snapshot timestamp; do
	$R keygen --out $k.pem --no-passphrase >/dev/null 2>&1
done
head -c 50000 /dev/urandom >data.bin
ok "the packaged pawl-repo makes and publishes a repository" sh -c "
	$R init repo --root-key root.pem --targets-key targets.pem \
		--snapshot-key snapshot.pem --timestamp-key timestamp.pem &&
	$R add repo data/data.bin data.bin --key targets.pem &&
	$R timestamp repo --key snapshot.pem --key timestamp.pem &&
	$R publish repo www"
ok "the example updates from it with the packaged libpawl.so.0" \
	ex/update-data repo/root.json "file://$T/www" app data/data.bin
if cmp -s data.bin app/data%2Fdata.bin && ldd ex/update-data | grep -q "$ROOT/usr/lib/$MA/libpawl.so.0"; then
	pass "verified data file in place, loaded from the package"
else
	ldd ex/update-data >out.log 2>&1 || true
	flunk "verified data file in place, loaded from the package"
fi
pub=$(find www/targets -name '*.data.bin')
cp "$pub" pub.bak
flip_byte "$pub" 100
cmp -s "$pub" pub.bak && flunk "the published file was not changed"
rm -f app/data%2Fdata.bin
refuses "a tampered target is refused" 'hash' \
	ex/update-data repo/root.json "file://$T/www" app data/data.bin

echo "# total $(($(date +%s) - start)) s"
echo "1..$n"
[ "$failed" -eq 0 ]
