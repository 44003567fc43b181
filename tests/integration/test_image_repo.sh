#!/bin/sh
# test_image_repo.sh - `pawl-repo release ... --image` end to end: an 8 MiB
# ext4 image built with mkfs.ext4 -d from the repository's own files is
# published as a pack and an index (docs/image-format.md, format 1: the
# default until #19 flips it, so given explicitly here); `pawl-repo
# verify` and the TUF client accept both as ordinary targets; `zstd -d` of
# the pack gives the image back; the release's custom data is as
# documented; the library's decoder streams the published pack into a file
# slot (bench/image_stream) and refuses a tampered one; bad input is refused.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl
STREAM=$BUILD/bench/image_stream

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-image-XXXXXX")
cleanup() {
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
cd "$T"

. "$SRC/tests/integration/tap.sh"
. "$SRC/tests/integration/flip_byte.sh"

MKFS=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
if [ ! -x "$MKFS" ] || ! command -v zstd >/dev/null; then
	echo "1..0 # SKIP mkfs.ext4 (e2fsprogs) or zstd missing: scripts/install-deps"
	exit 0
fi

size() { stat -c %s "$1"; }
sha() { sha256sum "$1" | cut -c1-64; }
# The published file of target PATH (consistent snapshots: HASH.NAME).
published() {
	h=$(jget out/metadata/$(ls out/metadata | grep -E '^[0-9]+\.targets\.json$' | sort -n | tail -1) \
		"d['signed']['targets']['$1']['hashes']['sha256']")
	echo "out/targets/$(dirname "$1")/$h.$(basename "$1")"
}
targets_json() { echo "out/metadata/$(ls out/metadata | grep -E '^[0-9]+\.targets\.json$' | sort -n | tail -1)"; }
publish() {
	$R -q timestamp ws --key snap.pem --key ts.pem && $R -q publish ws out
}

for k in root targets snap ts; do
	$R -q keygen --out $k.pem --no-passphrase >/dev/null
done
$R -q init ws --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem

# The image: real files (this repository's sources and docs), 8 MiB ext4.
mkdir -p fs/usr/share/pawl
cp -R "$SRC/src" "$SRC/docs" "$SRC/tests/unit" fs/usr/share/pawl/
truncate -s 8M img.ext4
"$MKFS" -q -F -E root_owner=0:0 -d fs img.ext4
check "an 8 MiB ext4 image built with mkfs.ext4 -d" [ "$(size img.ext4)" = 8388608 ]

# ---------------------------------------------------------------- publishing
ok "release --image --index-format 1 publishes the image" $R release ws os 1.0.0 img.ext4 --image --index-format 1 --key targets.pem
check "it says how many pieces and how large the pack is" grep -q "pieces of 2048 KiB; pack" out.log
ok "timestamp and publish" publish
ok "pawl-repo verify accepts the publication" $R verify out --root ws/root.json
check "verify saw both targets" grep -q "2 targets present" out.log

PACK=$(published os/1.0.0/image.pack)
IDX=$(published os/1.0.0/image.idx)
check "the pack is a target" [ -f "$PACK" ]
check "the index is a target" [ -f "$IDX" ]
check "zstd -d of the pack is the image" sh -c "zstd -q -d -c '$PACK' | cmp -s - img.ext4"
check "the pack is smaller than the image" [ "$(size "$PACK")" -lt 8388608 ]
check "the index starts with PAWLIDX, format version 1" \
	[ "$(head -c 8 "$IDX" | od -An -c | tr -d ' \n')" = 'PAWLIDX001' ]

# The custom data, exactly as docs/image-format.md documents it.
TJ=$(targets_json)
cat >custom.py <<'EOF'
import hashlib, json, os, sys
tj, img = sys.argv[1], sys.argv[2]
t = json.load(open(tj))["signed"]["targets"]
idx, pack = t["os/1.0.0/image.idx"], t["os/1.0.0/image.pack"]
want = {"version": "1.0.0",
        "image": {"index": "os/1.0.0/image.idx", "pack": "os/1.0.0/image.pack",
                  "length": os.path.getsize(img),
                  "sha256": hashlib.sha256(open(img, "rb").read()).hexdigest()}}
assert idx["custom"] == want, idx["custom"]
assert "custom" not in pack, pack
assert set(idx) == {"length", "hashes", "custom"} and set(pack) == {"length", "hashes"}
EOF
ok "custom data: version, image {index, pack, length, sha256}; none on the pack" python3 custom.py "$TJ" img.ext4

# ---------------------------------------------------------------- clients
ok "the TUF client downloads both targets over file://" sh -c \
	"$P --metadata-dir md init ws/root.json && $P --metadata-dir md --metadata-url file://$T/out/metadata \
	--target-base-url file://$T/out/targets --target-dir dl --target-name os/1.0.0/image.idx \
	--target-name os/1.0.0/image.pack download"
check "the downloaded pack is the published one" cmp -s dl/os%2F1.0.0%2Fimage.pack "$PACK"

# A file slot larger than the image, full of 0xa5: the verified image
# lands in front, the rest is left alone.
python3 -c "open('slot.b','wb').write(b'\xa5' * (9 << 20))"
ok "the decoder streams the published pack into a file slot" "$STREAM" "$IDX" "$PACK" slot.b
check "the slot holds the image" cmp -s -n 8388608 slot.b img.ext4
check "the slot's bytes past the image are untouched" python3 -c "
d = open('slot.b', 'rb').read()
assert d[8 << 20:] == b'\xa5' * (1 << 20)"
ok "the decoder reads the pack from a pipe too" sh -c "cat '$PACK' | '$STREAM' '$IDX' - slot.b --chunk 4096"
refuses "the decoder refuses the booted slot" 1 "is the booted slot" "$STREAM" "$IDX" "$PACK" slot.b --booted slot.b

cp "$PACK" bad.pack
flip_byte bad.pack $(( $(size bad.pack) / 2 ))
python3 -c "open('slot.c','wb').write(b'\xa5' * (8 << 20))"
refuses "a flipped byte in the pack is refused, naming the piece" 1 "image piece [0-9]+ \(offset [0-9]+\)" \
	"$STREAM" "$IDX" bad.pack slot.c
head -c $(( $(size "$PACK") - 10 )) "$PACK" >short.pack
refuses "a truncated pack is refused" 1 "ended after" "$STREAM" "$IDX" short.pack slot.c
cp "$PACK" "$PACK.orig"
flip_byte "$PACK" 100
refuses "pawl-repo verify catches a tampered published pack" 2 "hash|sha256" $R verify out --root ws/root.json
mv "$PACK.orig" "$PACK"

# ---------------------------------------------------------------- options and refusals
ok "release --image --index-format 1 --recovery" $R release ws os 0.9.0 img.ext4 --image --index-format 1 --recovery --key targets.pem
check "a recovery image release says so in its custom data" python3 -c "
import json; t = json.load(open('ws/metadata/targets.json'))['signed']['targets']
assert t['os/0.9.0/image.idx']['custom']['recovery'] is True"
ok "--piece-size 64K --level 3" $R release ws os 1.1.0 img.ext4 --image --index-format 1 --piece-size 64K --level 3 --key targets.pem
check "128 pieces of 64 KiB" grep -q "128 pieces of 64 KiB" out.log
publish
ok "the 64 KiB-piece release streams into a slot" "$STREAM" "$(published os/1.1.0/image.idx)" "$(published os/1.1.0/image.pack)" slot.c
check "and the slot holds the image" cmp -s slot.c img.ext4

: >empty.img
refuses "an empty image is refused" 1 "empty" $R release ws os 2.0.0 empty.img --image --index-format 1
ln -s img.ext4 link.img
refuses "an image given as a symbolic link is refused" 1 "symbolic link" $R release ws os 2.0.0 link.img --image --index-format 1
refuses "a directory is refused" 1 "not a regular file" $R release ws os 2.0.0 fs --image --index-format 1
refuses "a missing image is refused" 1 "cannot open" $R release ws os 2.0.0 nothing.img --image --index-format 1
refuses "a piece size that is not a multiple of 4K is a usage error" 64 "piece-size" $R release ws os 2.0.0 img.ext4 --image --index-format 1 --piece-size 5000
refuses "a piece size over 4M is a usage error" 64 "piece-size" $R release ws os 2.0.0 img.ext4 --image --index-format 1 --piece-size 8M
refuses "a zstd level over 22 is a usage error" 64 "level" $R release ws os 2.0.0 img.ext4 --image --index-format 1 --level 23
truncate -s 1025M sparse.img
refuses "an image of more pieces than devices accept is refused before compressing" 1 "262144 pieces" \
	$R release ws os 2.0.0 sparse.img --image --index-format 1 --piece-size 4K
rm -f sparse.img
refuses "VERSION must be SemVer" 64 "Semantic Versioning" $R release ws os 2.0 img.ext4 --image --index-format 1
check "no refused release left a target behind" python3 -c "
import json; t = json.load(open('ws/metadata/targets.json'))['signed']['targets']
assert not any(k.startswith('os/2.0') for k in t), sorted(t)"
check "no temporary file left in the store" sh -c "! find ws/targets -name '.pawl-tmp-*' | grep -q ."

# Releasing 1.0.0 again with another image is refused (releases are
# immutable), and index and pack still describe the one image published.
printf 'changed' | dd of=img.ext4 bs=1 seek=4000000 conv=notrunc 2>/dev/null
set +e
$R release ws os 1.0.0 img.ext4 --image --index-format 1 --key targets.pem >out.log 2>&1
rr=$?
set -e
publish
python3 - "$(targets_json)" "$(published os/1.0.0/image.pack)" >check.log 2>&1 <<'EOF' && pass "a second 1.0.0 (exit $rr) leaves index and pack of one image" || flunk "a second 1.0.0 (exit $rr) leaves index and pack of one image"
import hashlib, json, subprocess, sys
t = json.load(open(sys.argv[1]))["signed"]["targets"]["os/1.0.0/image.idx"]["custom"]["image"]
img = subprocess.run(["zstd", "-q", "-d", "-c", sys.argv[2]], capture_output=True, check=True).stdout
assert hashlib.sha256(img).hexdigest() == t["sha256"] and len(img) == t["length"]
EOF
if [ "$rr" -ne 0 ] && grep -q "immutable" out.log; then
	pass "a second 1.0.0 with another image is refused (immutable)"
else
	cp out.log check.log 2>/dev/null || true
	flunk "a second 1.0.0 with another image is refused (exit $rr)"
fi
# The same image again under its version changes nothing.
$R release ws os 1.0.1 img.ext4 --image --index-format 1 --key targets.pem >out.log 2>&1
before=$(sha256sum ws/metadata/targets.json)
set +e
$R release ws os 1.0.1 img.ext4 --image --index-format 1 --key targets.pem >out.log 2>&1
rr=$?
set -e
if [ "$rr" -eq 0 ] && grep -q "nothing changed" out.log &&
	[ "$(sha256sum ws/metadata/targets.json)" = "$before" ]; then
	pass "the same image again under its version changes nothing"
else
	flunk "the same image again under its version changes nothing (exit $rr)"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
