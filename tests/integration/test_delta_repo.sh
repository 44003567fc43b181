#!/bin/sh
# test_delta_repo.sh - the device side of delta updates (#19) against the
# real publisher: `pawl-repo release --image --index-format 2` publishes
# v1 and v2 of a 24 MiB ext4 image (a few files rewritten in v2), and
# delta_install (test-only, on slot_install_source) installs them into
# file-backed slots from the published files, with what targets.json signs:
#  - v2 with v1 booted and an empty target: the unchanged pieces come from
#    the booted slot, the frames asked for are no more than v2's own pack;
#  - v2 again over a target that holds v1: most pieces in place;
#  - v1 onto slots that hold nothing of it (zeros): the data from frames,
#    and only the sample of the sums;
#  - a tampered v2 pack: refused, nothing switched.
# Root only (slots must be root's): a TAP skip otherwise.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
INSTALL=$BUILD/tests/integration/delta_install

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP slots must be root's files: run as root"
	exit 0
fi
MKFS=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
if [ ! -x "$MKFS" ]; then
	echo "1..0 # SKIP mkfs.ext4 (e2fsprogs) missing: scripts/install-deps"
	exit 0
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-delta-XXXXXX")
cleanup() {
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
cd "$T"

. "$SRC/tests/integration/tap.sh"
. "$SRC/tests/integration/flip_byte.sh"

size() { stat -c %s "$1"; }
targets_json() { echo "out/metadata/$(ls out/metadata | grep -E '^[0-9]+\.targets\.json$' | sort -n | tail -1)"; }
published() {
	h=$(jget "$(targets_json)" "d['signed']['targets']['$1']['hashes']['sha256']")
	echo "out/targets/$(dirname "$1")/$h.$(basename "$1")"
}
# slots A B: slot-a and slot-b of 32 MiB from image files (or "zero")
slots() {
	rm -rf s && mkdir s
	for x in a b; do
		if [ "$1" = zero ]; then truncate -s 32M s/slot-$x; else cp "$1" s/slot-$x && truncate -s 32M s/slot-$x; fi
		chmod 600 s/slot-$x
		shift
	done
}
install() { "$INSTALL" "$(targets_json)" out/targets os "$1" "$T/s"; }
val() { sed -n "s/^$1 //p" out.log; }
holds() { cmp -s -n "$(size "$1")" "$1" s/slot-b; }

for k in root targets snap ts; do
	$R -q keygen --out $k.pem --no-passphrase >/dev/null
done
$R -q init ws --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem
export E2FSPROGS_FAKE_TIME=1700000000
mkimg() {
	rm -f "$1"
	truncate -s 24M "$1"
	"$MKFS" -q -F -b 4096 -U 5b1b4f3c-0c6e-4d1e-9a53-5f0d6c1e0719 \
		-E root_owner=0:0,hash_seed=3f6c2a1e-8d4b-4c7a-b2e9-0a1d5c7e9f24 -d fs "$1"
}
mkdir -p fs/usr/share/pawl
cp -R "$SRC/src" "$SRC/docs" fs/usr/share/pawl/
find fs -exec touch -h -d @1700000000 {} +
mkimg v1.img
for f in $(find fs/usr/share/pawl/src/lib/slot -type f | sort | head -3); do
	sed 's/slot/SLOT/g' "$f" >"$f.new" && mv "$f.new" "$f"
done
find fs -exec touch -h -d @1700000000 {} +
mkimg v2.img
ok "release v1 and v2 in format 2, publish" sh -c "
	$R release ws os 1.0.0 v1.img --image --index-format 2 --key targets.pem &&
	$R release ws os 2.0.0 v2.img --image --index-format 2 --key targets.pem &&
	$R -q timestamp ws --key snap.pem --key ts.pem && $R -q publish ws out"
P2=$(size "$(published os/2.0.0/image.pack)")
P1=$(size "$(published os/1.0.0/image.pack)")

slots v1.img zero
ok "v2 with v1 booted and an empty target" install 2.0.0
check "slot b holds v2" holds v2.img
check "format 2, 6144 pieces, all accounted for" sh -c "[ $(val format) = 2 ] && [ $(val pieces) = 6144 ] &&
	[ $(($(val in_place) + $(val from_booted) + $(val from_target) + $(val fetched))) = 6144 ]"
echo "# from booted $(val from_booted), in place $(val in_place), fetched $(val fetched); frames $(val bytes_frames) bytes (v2's pack $P2), sums $(val bytes_sums)"
# (an ext4 image is mostly zero blocks, which the empty target holds in place)
check "all but a few pieces from the seeds, some from the booted slot, none rejected" sh -c \
	"[ $(($(val from_booted) + $(val in_place))) -gt 6000 ] && [ $(val from_booted) -gt 0 ] &&
	 [ $(val seed_rejected) = 0 ]"
check "frames asked for: no more than v2's own pack" [ "$(val bytes_frames)" -le "$P2" ]
check "four streams at most (index, sums sample, the rest, frames)" [ "$(val streams)" -le 4 ]

slots v1.img v1.img
ok "v2 over a target holding v1" install 2.0.0
check "slot b holds v2" holds v2.img
check "most pieces in place" [ "$(val in_place)" -gt 5000 ]

slots zero zero
ok "v1 onto slots that hold nothing of it" install 1.0.0
check "slot b holds v1" holds v1.img
check "nothing from the booted slot, the rest from frames; sums of one sample at most (32 groups of 64)" sh -c \
	"[ $(val fetched) -gt 0 ] && [ $(val from_booted) = 0 ] && [ $(val bytes_sums) -le $((32 * 64 * 32)) ]"
echo "# frames $(val bytes_frames) bytes, v1's pack $P1"

slots v1.img zero
flip_byte "$(published os/2.0.0/image.pack)" 1000
refuses "a tampered v2 pack: refused" 1 "do not match" install 2.0.0
check "nothing switched" sh -c "! grep -q '\"pending\": *\"b\"' s/state/slots.json"

# pawl-repo remove keeps what a remaining release reads: v2's index names
# v1's pack (v2 stores only its new pieces).
wsv=ws/metadata/targets.json
before=$(cksum <"$wsv")
check "v2's index reads v1's pack" grep -q os/1.0.0/image.pack "$(published os/2.0.0/image.idx)"
refuses "remove v1's pack while v2 reads it: refused" 1 \
	"os/1.0.0/image.pack is still needed: the image release os/2.0.0/image.idx" \
	$R remove ws os/1.0.0/image.pack --key targets.pem
refuses "remove the whole of v1 while v2 reads its pack: refused" 1 "is still needed" \
	$R remove ws os/1.0.0/image.idx os/1.0.0/image.sums os/1.0.0/image.pack --key targets.pem
refuses "remove v2's pack but not its index: refused" 1 \
	"os/2.0.0/image.pack is part of the image release whose index is os/2.0.0/image.idx" \
	$R remove ws os/2.0.0/image.pack --key targets.pem
check "the refusals changed nothing" [ "$(cksum <"$wsv")" = "$before" ]
ok "remove v2 whole, then v1 whole" sh -c "
	$R -q remove ws os/2.0.0/image.idx os/2.0.0/image.sums os/2.0.0/image.pack --key targets.pem &&
	$R -q remove ws os/1.0.0/image.idx os/1.0.0/image.sums os/1.0.0/image.pack --key targets.pem"
check "no image target is left" sh -c "! grep -q image $wsv"

echo "1..$n"
[ "$failed" -eq 0 ]
