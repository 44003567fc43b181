#!/bin/sh
# test_install.sh - what `meson install` ships works from where it lands:
# the file list, libpawl.so's soname and exported symbols (exactly the
# PAWL_API functions of the installed headers), pawl.pc, headers that
# compile on their own (C and C++), the embedding example
# (examples/update-data.c) built through the installed pawl.pc and run
# against a repository made with the installed pawl-repo over file:// (a
# download, a cached run, a tampered target refused, an update), the
# installed programs, man pages that render without a warning and that
# mention every command and option the programs list in --help, and the
# bash completion.
#
# The build directory is installed with --destdir into a temporary tree,
# without reconfiguring it (other tests run from it at the same time).
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-install-XXXXXX")
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
	[ -s out.log ] && sed 's/^/#   /' out.log
	return 0
}
ok() { # DESC CMD...: CMD must succeed
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
	if [ $rc -ne 0 ] && grep -qiE -- "$pat" out.log; then
		pass "$d"
	else
		flunk "$d (exit $rc, wanted failure and /$pat/)"
	fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # DESC TEST...: TEST must succeed
	d=$1
	shift
	if "$@"; then pass "$d"; else flunk "$d"; fi
}

# ---------------------------------------------------------------- install
if ! meson install -C "$BUILD" --no-rebuild --destdir "$T/dest" >out.log 2>&1; then
	flunk "meson install --destdir"
	echo "1..$n"
	exit 1
fi
pass "meson install --destdir"

pcfile=$(find "$T/dest" -name pawl.pc -path '*/pkgconfig/*' | head -n 1)
# The configured prefix (what the .pc file says) and where it landed.
PREFIX=$(sed -n 's/^prefix=//p' "$pcfile")
D=$T/dest$PREFIX
PCDIR=$(dirname "$pcfile")
LIBDIR=$(dirname "$PCDIR")
echo "# prefix $PREFIX, libdir ${LIBDIR#"$T/dest"}"

missing=""
for f in bin/pawl bin/pawl-repo include/pawl/common.h include/pawl/updater.h \
	share/man/man1/pawl.1 share/man/man1/pawl-repo.1 share/man/man5/pawl.conf.5 \
	share/bash-completion/completions/pawl share/bash-completion/completions/pawl-repo \
	share/pawl/systemd/pawl-update.service share/pawl/systemd/pawl-update.timer \
	share/pawl/nginx/pawl.conf share/pawl/examples/pawl.conf; do
	[ -f "$D/$f" ] || missing="$missing $f"
done
for f in libpawl.so libpawl.so.0; do
	[ -L "$LIBDIR/$f" ] || missing="$missing ${LIBDIR#"$D/"}/$f"
done
if [ -z "$missing" ]; then pass "programs, library, headers, pawl.pc, man pages, completion, deploy files"; else
	echo "missing:$missing" >out.log
	flunk "installed files"
fi
if [ -z "$(find "$D" -name '*.a')" ]; then pass "no static archive installed (it would export internals)"; else
	find "$D" -name '*.a' >out.log
	flunk "no static archive installed"
fi

# ---------------------------------------------------------------- ABI
so=$(readlink -f "$LIBDIR/libpawl.so.0")
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = libpawl.so.0 ] && [ "$(readlink "$LIBDIR/libpawl.so")" = libpawl.so.0 ]; then
	pass "soname libpawl.so.0, libpawl.so -> libpawl.so.0"
else
	echo "soname '$soname', libpawl.so -> $(readlink "$LIBDIR/libpawl.so")" >out.log
	flunk "soname"
fi
nm -D --defined-only "$so" | awk '{ print $NF }' | sort >exported
# Every function the installed headers declare with PAWL_API (outside the
# preprocessor lines that define it).
grep -hv '^[[:space:]]*#' "$D"/include/pawl/*.h | tr '\n' ' ' | grep -o 'PAWL_API[^;(]*(' |
	sed 's/[[:space:]]*($//; s/.*[^a-z0-9_]//' | sort -u >declared
if diff -u declared exported >out.log; then
	pass "libpawl.so exports exactly the $(wc -l <declared) PAWL_API functions of include/pawl/*.h"
else
	flunk "libpawl.so exports exactly the PAWL_API functions (- declared only, + exported only)"
fi

# ---------------------------------------------------------------- pawl.pc
pc() { PKG_CONFIG_PATH=$PCDIR pkg-config "$@"; }
if [ "$(pc --variable=includedir pawl)" = "$PREFIX/include" ] &&
	[ "$(pc --variable=libdir pawl)" = "${LIBDIR#"$T/dest"}" ] &&
	[ "$(pc --modversion pawl)" = "$("$D/bin/pawl" --version | cut -d' ' -f2)" ] &&
	pc --libs pawl | grep -q -- '-lpawl'; then
	pass "pawl.pc: includedir, libdir, version, -lpawl"
else
	{ cat "$pcfile"; pc --cflags --libs pawl; } >out.log 2>&1
	flunk "pawl.pc: includedir, libdir, version, -lpawl"
fi
req=$(pc --print-requires-private pawl | awk '{ print $1 }' | sort | tr '\n' ' ')
if [ "$req" = "libarchive libcrypto libcurl libssl libzstd " ]; then
	pass "pawl.pc Requires.private: $req"
else
	echo "Requires.private: $req" >out.log
	flunk "pawl.pc Requires.private lists libcrypto libssl libcurl libarchive libzstd"
fi

# From here on, pkg-config sees the tree as if it were installed at / (the
# standard way to build against a DESTDIR staging tree).
export PKG_CONFIG_PATH="$PCDIR" PKG_CONFIG_SYSROOT_DIR="$T/dest"
CC=${CC:-cc}
for h in common updater; do
	printf '#include <pawl/%s.h>\n' "$h" >h_$h.c
	ok "<pawl/$h.h> compiles on its own (C99, -Wall -Wextra -pedantic -Werror)" \
		$CC -std=c99 -Wall -Wextra -pedantic -Werror $(pkg-config --cflags pawl) -c h_$h.c -o h_$h.o
done
if command -v c++ >/dev/null 2>&1; then
	printf '#include <pawl/updater.h>\nint main() { return pawl_version() == 0; }\n' >h.cc
	ok "the headers compile and link as C++" \
		c++ -Wall -Wextra -Werror $(pkg-config --cflags pawl) h.cc -o h_cc $(pkg-config --libs pawl)
else
	skip "the headers compile and link as C++" "no c++ compiler"
fi

# ---------------------------------------------------------------- example
mkdir ex
cp "$SRC/examples/update-data.c" "$SRC/examples/Makefile" ex/
# make clean needs no pkg-config, pawl.pc or stage (it used to fail with
# "cannot find pawl.pc" before removing anything).
touch ex/update-data
ok "make clean in examples/ works without pawl.pc" \
	env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR PKG_CONFIG=false make -C ex clean
check "... and removes the program" [ ! -e ex/update-data ]
refuses "building without pawl.pc says which variables to set" "also PKG_CONFIG_SYSROOT_DIR=STAGE" \
	env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR=/nonexistent make -C ex CC="$CC"
check "examples/README.md documents PKG_CONFIG_SYSROOT_DIR for a DESTDIR stage" \
	grep -q "PKG_CONFIG_SYSROOT_DIR=/tmp/stage make" "$SRC/examples/README.md"
check "... and so do README.md and docs/abi.md" sh -c \
	"grep -q PKG_CONFIG_SYSROOT_DIR '$SRC/README.md' && grep -q PKG_CONFIG_SYSROOT_DIR '$SRC/docs/abi.md'"
ok "examples/Makefile builds update-data.c through the installed pawl.pc" \
	make -C ex CC="$CC" CFLAGS="-O2 -Wall -Wextra -Werror"
ok "make clean in examples/ after a build" make -C ex clean
check "... removes it" [ ! -e ex/update-data ]
ok "and it builds again, as the stage's own Makefile says (PKG_CONFIG_SYSROOT_DIR)" \
	make -C ex CC="$CC" CFLAGS="-O2 -Wall -Wextra -Werror"
export LD_LIBRARY_PATH="$LIBDIR"
if ldd ex/update-data 2>&1 | grep -q "libpawl.so.0 => $LIBDIR/libpawl.so.0"; then
	pass "update-data loads the installed libpawl.so.0"
else
	ldd ex/update-data >out.log 2>&1 || true
	flunk "update-data loads the installed libpawl.so.0"
fi

# A repository made with the installed pawl-repo, served over file://.
R="$D/bin/pawl-repo -q"
for k in root targets snapshot timestamp; do
	$R keygen --out $k.pem --no-passphrase >/dev/null 2>&1
done
publish() { # FILE VERSION
	$R add repo data/map.bin "$1" --custom "{\"version\":\"$2\"}" --key targets.pem &&
		$R timestamp repo --key snapshot.pem --key timestamp.pem && $R publish repo www
}
head -c 100000 /dev/urandom >map1.bin
head -c 120000 /dev/urandom >map2.bin
ok "installed pawl-repo: keygen, init" $R init repo --root-key root.pem \
	--targets-key targets.pem --snapshot-key snapshot.pem --timestamp-key timestamp.pem
ok "installed pawl-repo: add, timestamp, publish release 1.0.0" publish map1.bin 1.0.0
URL="file://$T/www"
got=app/data%2Fmap.bin
ok "update-data downloads and verifies data/map.bin" ex/update-data repo/root.json "$URL" app data/map.bin
if grep -q '^updated data/map.bin' out.log && cmp -s map1.bin "$got"; then
	pass "the downloaded file is the published one"
else
	flunk "the downloaded file is the published one"
fi
ok "a second run finds it current" ex/update-data repo/root.json "$URL" app data/map.bin
grep -q '^current data/map.bin' out.log || flunk "second run reports current"

# Release 2, with its published target corrupted on the "mirror".
ok "installed pawl-repo: add, timestamp, publish release 2.0.0" publish map2.bin 2.0.0
pub=$(find www/targets/data -name "$(sha256sum map2.bin | cut -c1-64).map.bin")
cp "$pub" pub.bak
flip_byte "$pub" 5000
cmp -s "$pub" pub.bak && flunk "the published file was not changed"
refuses "a tampered target is refused (hash)" 'hash' \
	ex/update-data repo/root.json "$URL" app data/map.bin
if cmp -s map1.bin "$got"; then pass "the refused download left the old file in place"; else
	flunk "the refused download left the old file in place"
fi
cp pub.bak "$pub"
ok "the repaired release is installed" ex/update-data repo/root.json "$URL" app data/map.bin
if grep -q '"version":"2.0.0"' out.log && cmp -s map2.bin "$got"; then
	pass "data/map.bin is now release 2.0.0"
else
	flunk "data/map.bin is now release 2.0.0"
fi
refuses "an unknown target is refused" 'not.found' \
	ex/update-data repo/root.json "$URL" app data/none.bin

# ---------------------------------------------------------------- programs
ok "installed pawl --version" "$D/bin/pawl" --version
grep -q '^pawl [0-9]' out.log || flunk "pawl --version prints the version"
ok "installed pawl-repo --version" "$D/bin/pawl-repo" --version
ok "installed pawl follows the repository (init, download)" sh -c "
	'$D/bin/pawl' -q --metadata-dir meta init repo/root.json &&
	'$D/bin/pawl' -q --metadata-dir meta --metadata-url '$URL/metadata/' \
		--target-base-url '$URL/targets/' --target-dir dl --target-name data/map.bin download &&
	cmp map2.bin dl/data%2Fmap.bin"

# ---------------------------------------------------------------- man pages
MAN1=$D/share/man/man1
MAN5=$D/share/man/man5
for m in "$MAN1/pawl.1" "$MAN1/pawl-repo.1" "$MAN5/pawl.conf.5"; do
	name=$(basename "$m")
	if command -v groff >/dev/null 2>&1; then
		ok "$name: groff -man -ww reports no warning" sh -c \
			"groff -man -Tutf8 -ww -z '$m' 2>&1 | { ! grep .; }"
	else
		skip "$name: groff -man -ww" "groff not installed (groff-base)"
	fi
	if command -v man >/dev/null 2>&1; then
		ok "$name: man -l renders it without a message" sh -c \
			"MANWIDTH=80 man -l '$m' >'$name.txt' 2>err && test ! -s err && test -s '$name.txt'"
	else
		skip "$name: man -l" "man not installed (man-db)"
	fi
done

# roff spells a literal '-' as '\-'.
roff() { printf '%s\n' "$1" | sed 's/-/\\-/g'; }
undocumented=""
for o in $("$D/bin/pawl" --help | sed "/^Exit status/,\$d" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
	grep -qF -- "$(roff "$o")" "$MAN1/pawl.1" || undocumented="$undocumented pawl.1:$o"
	grep -qF -- "$o" "$D/share/bash-completion/completions/pawl" ||
		undocumented="$undocumented completions/pawl:$o"
done
pcmds=$("$D/bin/pawl" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
[ -n "$pcmds" ] || undocumented="$undocumented (no commands in pawl --help?)"
for c in $pcmds; do
	rc=$(roff "$c" | sed 's/\\/\\\\/g')
	grep -q "^\.B.* $rc\b\|^\.BI* $rc\b" "$MAN1/pawl.1" || undocumented="$undocumented pawl.1:$c"
	grep -qE "(^|[[:space:]\"])$c([[:space:]\")]|$)" "$D/share/bash-completion/completions/pawl" ||
		undocumented="$undocumented completions/pawl:$c"
	for o in $("$D/bin/pawl" help "$c" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "$(roff "$o")" "$MAN1/pawl.1" || undocumented="$undocumented pawl.1:$c:$o"
		grep -qF -- "$o" "$D/share/bash-completion/completions/pawl" ||
			undocumented="$undocumented completions/pawl:$c:$o"
	done
done
for o in $("$D/bin/pawl-repo" --help | sed "/^Exit status/,\$d" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
	grep -qF -- "$(roff "$o")" "$MAN1/pawl-repo.1" || undocumented="$undocumented pawl-repo.1:$o"
	grep -qF -- "$o" "$D/share/bash-completion/completions/pawl-repo" ||
		undocumented="$undocumented completions/pawl-repo:$o"
done
cmds=$("$D/bin/pawl-repo" --help | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p')
[ -n "$cmds" ] || undocumented="$undocumented (no commands in pawl-repo --help?)"
for c in $cmds; do
	grep -q "^\.SS \"$(roff "$c") " "$MAN1/pawl-repo.1" || undocumented="$undocumented pawl-repo.1:$c"
	grep -qE "(^|[[:space:]\"])$c([[:space:]\")]|$)" "$D/share/bash-completion/completions/pawl-repo" ||
		undocumented="$undocumented completions/pawl-repo:$c"
	for o in $("$D/bin/pawl-repo" "$c" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "$(roff "$o")" "$MAN1/pawl-repo.1" ||
			undocumented="$undocumented pawl-repo.1:$c:$o"
		grep -qF -- "$o" "$D/share/bash-completion/completions/pawl-repo" ||
			undocumented="$undocumented completions/pawl-repo:$c:$o"
	done
done
if [ -z "$undocumented" ]; then
	pass "man pages and completions cover every command and option in --help"
else
	echo "not documented (add to man/ and completions/):$undocumented" >out.log
	flunk "man pages and completions cover every command and option in --help"
fi

# ---------------------------------------------------------------- completion
if command -v bash >/dev/null 2>&1; then
	cat >comp.bash <<'EOF'
set -u
comp() { # expected-word words...: complete the last word, print COMPREPLY
	local want=$1 f
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	f=$(complete -p "$1" | sed -E 's/.*-F ([^ ]+) .*/\1/')
	"$f" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
	case " ${COMPREPLY[*]} " in
	*" $want "*) echo "ok: '$*' -> ${COMPREPLY[*]}" ;;
	*) echo "FAIL: '$*' -> '${COMPREPLY[*]}', wanted $want"; return 1 ;;
	esac
}
source "$1/pawl"
source "$1/pawl-repo"
complete -p pawl | grep -q -- '-F _pawl pawl$'
complete -p pawl-repo | grep -q -- '-F _pawl_repo pawl-repo$'
comp --config pawl --conf
comp download pawl --metadata-dir meta --metadata-url u down
comp update pawl --config /etc/pawl/pawl.conf up
comp verify pawl --config c log ver
comp clear-bad pawl --config c clear
comp clear-bad pawl help cle
comp --json pawl --metadata-dir m refresh --js
comp --help pawl --config c update --he
comp snapshot= pawl --max-bytes snap
comp timestamp pawl-repo -q time
comp ed25519 pawl-repo keygen --type ed
comp --custom pawl-repo add repo --cus
comp --path-hash-prefix pawl-repo delegate repo role --path-h
comp targets pawl-repo sign repo tar
comp verify pawl-repo log repo ver
comp --no-syslog pawl-repo add --no-s
EOF
	ok "bash completion: complete -p, commands, options and their values" \
		bash --norc --noprofile comp.bash "$D/share/bash-completion/completions"
else
	skip "bash completion" "no bash"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
