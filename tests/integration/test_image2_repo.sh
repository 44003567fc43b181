#!/bin/sh
# test_image2_repo.sh - `pawl-repo release ... --image --index-format 2`
# (delta updates, #19) end to end: v1 and v2 of a 24 MiB ext4 image built
# with mkfs.ext4 -d from the repository's own files, v2 changing a few of
# them. v2's pack holds only its new frames and its index points the rest
# into v1's pack; image2_rebuild (test-only, on the library) rebuilds each
# version from its published index, sums and packs, checking every group,
# frame and piece; the custom data is as documented; `pawl-repo verify`
# and the TUF client accept the targets; a version with nothing new has no
# pack; --base / --no-base; a tampered base in the store is refused;
# usage errors.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl
REBUILD=$BUILD/tests/integration/image2_rebuild

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-image2-XXXXXX")
cleanup() {
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
cd "$T"

. "$SRC/tests/integration/tap.sh"
. "$SRC/tests/integration/flip_byte.sh"

MKFS=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
if [ ! -x "$MKFS" ]; then
	echo "1..0 # SKIP mkfs.ext4 (e2fsprogs) missing: scripts/install-deps"
	exit 0
fi

size() { stat -c %s "$1"; }
targets_json() { echo "out/metadata/$(ls out/metadata | grep -E '^[0-9]+\.targets\.json$' | sort -n | tail -1)"; }
# The published file of target PATH (consistent snapshots: HASH.NAME).
published() {
	h=$(jget "$(targets_json)" "d['signed']['targets']['$1']['hashes']['sha256']")
	echo "out/targets/$(dirname "$1")/$h.$(basename "$1")"
}
publish() {
	$R -q timestamp ws --key snap.pem --key ts.pem && $R -q publish ws out
}
# rebuild VERSION OUT: image2_rebuild over the published targets of VERSION
rebuild() {
	idx=$(published os/$1/image.idx)
	set -- "$1" "$2" "$idx"
	args=""
	for t in $(python3 -c "
import json, sys
t = json.load(open('$(targets_json)'))['signed']['targets']
print(' '.join(k for k in sorted(t) if k.endswith(('.pack', '.sums'))))"); do
		args="$args $t=$(published "$t")"
	done
	# shellcheck disable=SC2086
	"$REBUILD" "$3" "$2" $args
}

for k in root targets snap ts; do
	$R -q keygen --out $k.pem --no-passphrase >/dev/null
done
$R -q init ws --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem

# Deterministic images: fixed times, UUID and hash seed; 4 KiB blocks.
export E2FSPROGS_FAKE_TIME=1700000000
mkimg() {
	rm -f "$1"
	truncate -s 24M "$1"
	"$MKFS" -q -F -b 4096 -U 5b1b4f3c-0c6e-4d1e-9a53-5f0d6c1e0719 \
		-E root_owner=0:0,hash_seed=3f6c2a1e-8d4b-4c7a-b2e9-0a1d5c7e9f24 -d fs "$1"
}
mkdir -p fs/usr/share/pawl
cp -R "$SRC/src" "$SRC/docs" "$SRC/tests/unit" fs/usr/share/pawl/
find fs -exec touch -h -d @1700000000 {} +
mkimg v1.img
# v2: a handful of files rewritten (a small update)
for f in $(find fs/usr/share/pawl/src/lib/image -type f | sort | head -4); do
	sed 's/image/IMAGE/g' "$f" >"$f.new" && mv "$f.new" "$f"
done
find fs -exec touch -h -d @1700000000 {} +
mkimg v2.img
check "two 24 MiB ext4 images that differ in a few blocks" sh -c \
	"[ $(size v1.img) = 25165824 ] && ! cmp -s v1.img v2.img"

# ---------------------------------------------------------------- publishing
ok "release v1 in format 2" $R release ws os 1.0.0 v1.img --image --index-format 2 --key targets.pem
check "v1 has no base" grep -q "6144 pieces of 4 KiB; base none" out.log
ok "release v2 in format 2" $R release ws os 2.0.0 v2.img --image --index-format 2 --key targets.pem
check "v2's base is v1, most pieces reused" grep -qE "base 1\.0\.0 \([0-9]{4} pieces reused\)" out.log
REUSED=$(sed -n 's/.*base 1\.0\.0 (\([0-9]*\) pieces reused).*/\1/p' out.log)
check "every piece of v2 whose bytes v1 has is reused, no other ($REUSED)" python3 -c "
import hashlib
h = lambda f: [hashlib.sha256(d[i:i + 4096]).digest() for d in [open(f, 'rb').read()] for i in range(0, len(d), 4096)]
old = set(h('v1.img'))
assert sum(x in old for x in h('v2.img')) == int('$REUSED')"
ok "timestamp and publish" publish
ok "pawl-repo verify accepts the publication" $R verify out --root ws/root.json
check "verify saw the six targets" grep -q "6 targets present" out.log

P1=$(size "$(published os/1.0.0/image.pack)")
P2=$(size "$(published os/2.0.0/image.pack)")
echo "# v1 pack $P1 bytes, v2 pack $P2 bytes"
check "v2's pack holds only its new frames: under a tenth of v1's" [ $((P2 * 10)) -lt "$P1" ]
check "the index starts with PAWLIDX, format version 2" \
	[ "$(head -c 8 "$(published os/2.0.0/image.idx)" | od -An -c | tr -d ' \n')" = 'PAWLIDX002' ]

cat >custom.py <<'PY'
import hashlib, json, sys
t = json.load(open(sys.argv[1]))["signed"]["targets"]
for v, img in (("1.0.0", "v1.img"), ("2.0.0", "v2.img")):
    data = open(img, "rb").read()
    want = {"version": v,
            "image": {"format": 2, "index": "os/%s/image.idx" % v,
                      "sums": "os/%s/image.sums" % v, "pack": "os/%s/image.pack" % v,
                      "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    assert t["os/%s/image.idx" % v]["custom"] == want, t["os/%s/image.idx" % v]["custom"]
    sums = t["os/%s/image.sums" % v]
    assert "custom" not in sums and "custom" not in t["os/%s/image.pack" % v]
    assert sums["length"] == 32 * ((len(data) + 4095) // 4096), sums["length"]
PY
ok "custom data: format 2, index, sums, pack, length, sha256; sums of 32 bytes a piece" \
	python3 custom.py "$(targets_json)"
check "the published sums are the sha256 of every 4 KiB piece" python3 -c "
import hashlib
d = open('v2.img', 'rb').read()
s = b''.join(hashlib.sha256(d[i:i + 4096]).digest() for i in range(0, len(d), 4096))
assert open('$(published os/2.0.0/image.sums)', 'rb').read() == s"

ok "v1 rebuilds from its index, sums and pack" rebuild 1.0.0 r1.img
check "the rebuilt v1 is v1" cmp -s r1.img v1.img
ok "v2 rebuilds from its index, sums and both packs" rebuild 2.0.0 r2.img
check "the rebuilt v2 is v2" cmp -s r2.img v2.img
check "v2 takes frames from v1's pack and from its own" sh -c \
	"grep -qE 'pack os/1.0.0/image.pack: [1-9][0-9]* frames' out.log &&
	 grep -qE 'pack os/2.0.0/image.pack: [1-9][0-9]* frames' out.log"
check "v2 uses every byte of its own pack" sh -c \
	"grep -qE 'pack os/2.0.0/image.pack: [0-9]+ frames, ([0-9]+) of its \\1 bytes' out.log"

ok "the TUF client downloads v2's index and sums over file://" sh -c \
	"$P --metadata-dir md init ws/root.json && $P --metadata-dir md --metadata-url file://$T/out/metadata \
	--target-base-url file://$T/out/targets --target-dir dl --target-name os/2.0.0/image.idx \
	--target-name os/2.0.0/image.sums download"

# ---------------------------------------------------------------- bases
ok "v3, the same image as v2: nothing new" $R release ws os 3.0.0 v2.img --image --index-format 2 --key targets.pem
check "v3 reuses every piece and adds no frame" grep -qE "base 2\.0\.0 \(6144 pieces reused\); 0 new frames" out.log
check "v3 has no pack target and no pack in its custom data" python3 -c "
import json; t = json.load(open('ws/metadata/targets.json'))['signed']['targets']
assert 'os/3.0.0/image.pack' not in t and 'pack' not in t['os/3.0.0/image.idx']['custom']['image']
assert t['os/3.0.0/image.idx']['custom']['image']['format'] == 2"
ok "--no-base publishes every frame again" $R release ws os 3.1.0 v2.img --image --index-format 2 --no-base --key targets.pem
check "--no-base: base none" grep -q "base none (0 pieces reused)" out.log
ok "--base 1.0.0 for v2's image" $R release ws os 3.2.0 v2.img --image --index-format 2 --base 1.0.0 --key targets.pem
check "--base 1.0.0 is the base" grep -qE "base 1\.0\.0 \([0-9]+ pieces reused\)" out.log
publish
ok "v3 (no pack of its own) rebuilds" rebuild 3.0.0 r3.img
check "the rebuilt v3 is v2's image" cmp -s r3.img v2.img
ok "v3.2.0 (--base 1.0.0) rebuilds" rebuild 3.2.0 r32.img
check "the rebuilt v3.2.0 is v2's image" cmp -s r32.img v2.img

ok "a format 2 recovery release" $R release ws os 3.3.0 v1.img --image --index-format 2 --recovery --key targets.pem
check "its custom data says recovery, format 2" python3 -c "
import json; c = json.load(open('ws/metadata/targets.json'))['signed']['targets']['os/3.3.0/image.idx']['custom']
assert c['recovery'] is True and c['image']['format'] == 2, c"
before=$(sha256sum ws/metadata/targets.json)
ok "v2 again under 2.0.0" $R release ws os 2.0.0 v2.img --image --index-format 2 --key targets.pem
check "the same image again under its version changes nothing" sh -c \
	"grep -q 'nothing changed' out.log && [ \"\$(sha256sum ws/metadata/targets.json)\" = '$before' ]"
refuses "another image under a released version is refused (immutable)" 1 "immutable" \
	$R release ws os 2.0.0 v1.img --image --index-format 2 --key targets.pem
ok "a format 1 release, asked for" $R release ws os 0.5.0 v1.img --image --index-format 1 --key targets.pem
check "its index is format 1" python3 -c "
import json; t = json.load(open('ws/metadata/targets.json'))['signed']['targets']
c = t['os/0.5.0/image.idx']['custom']['image']
assert 'format' not in c and 'sums' not in c and c['pack'] == 'os/0.5.0/image.pack'"
refuses "--base of a format 1 release is refused" 1 "not a format 2 image release" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --base 0.5.0
refuses "--base of a version not released is refused" 1 "not a format 2 image release" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --base 9.9.9
refuses "--base with other piece sizes is refused" 1 "same --piece-size" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --base 2.0.0 --piece-size 8K

# The base is read from the store and checked against the targets
# metadata: a tampered sums file in the store is refused.
SUMS=$(jget ws/metadata/targets.json "d['signed']['targets']['os/3.2.0/image.sums']['hashes']['sha256']")
STORED=ws/targets/$(echo "$SUMS" | cut -c1-2)/$SUMS
cp "$STORED" sums.orig
flip_byte "$STORED" 100
refuses "a tampered base in the store is refused" 1 "os/3.2.0/image.sums.*(hash|sha256)" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --base 3.2.0
cp sums.orig "$STORED"
check "no refused release left a target behind" python3 -c "
import json; t = json.load(open('ws/metadata/targets.json'))['signed']['targets']
assert not any(k.startswith('os/4.') for k in t), sorted(t)"

# ---------------------------------------------------------------- usage
refuses "--frame-size is not for --index-format 1" 64 "index-format 2" $R release ws os 4.0.0 v2.img --image --index-format 1 --frame-size 1M
refuses "--no-base is not for --index-format 1" 64 "index-format 2" $R release ws os 4.0.0 v2.img --image --index-format 1 --no-base
refuses "--index-format 3 is a usage error" 64 "1 or 2" $R release ws os 4.0.0 v2.img --image --index-format 3
refuses "format 2 pieces over 64K are a usage error" 64 "4K to 64K" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --piece-size 128K
refuses "a frame size over 4M is a usage error" 64 "frame-size" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --frame-size 8M
refuses "a frame size not a multiple of the piece size is a usage error" 64 "multiple of the piece" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --piece-size 12K --frame-size 16K
refuses "--base and --no-base together are a usage error" 64 "not both" \
	$R release ws os 4.0.0 v2.img --image --index-format 2 --base 1.0.0 --no-base
check "no temporary file left in the store" sh -c "! find ws/targets -name '.pawl-tmp-*' | grep -q ."

echo "1..$n"
[ "$failed" -eq 0 ]
