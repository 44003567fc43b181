#!/bin/sh
# bench/delta_pairs.sh - the measurements that choose how delta updates (#19)
# cut images and fetch pieces, every figure taken side by side in one run.
#
# Two pairs of real ext4 images (BENCH_DELTA_MB, default 192 MiB, built with
# mkfs.ext4 -d from BENCH_DELTA_DIRS: python3.11, both perl trees and vim,
# about 141 MiB of files):
#   pair 1  v2 rewrites one package: every file of BENCH_DELTA_PKG
#           (distutils and unittest of python3.11: 126 files, 1.8 MB, like
#           the issue's 122 files, 1.7 MiB) gets the bytes of another real
#           file of similar size;
#   pair 2  the same for a third of all files (every third file in path
#           order).
# Donors come from BENCH_DELTA_DONORS (files not in the image); each changed
# file gets an unused donor with the same number of 4 KiB blocks and the
# closest size, so that, as in a package update that keeps sizes, ext4 keeps
# every other file where it was. The builds are deterministic: fixed UUID,
# directory hash seed, 4 KiB blocks, root owner, mke2fs clock (E2FSPROGS_FAKE_TIME,
# SOURCE_DATE_EPOCH) and modification times (touch -d); access times are
# an hour after the run's start (so that reading the tree does not move
# them), and files
# are changed in place, so unchanged inodes keep even their ctime.
#
# For each pair:
#   casync  casync make of v1 and v2 into one chunk store (its defaults:
#           chunks of 16K/64K/256K min/avg/max, zstd), served by nginx on
#           127.0.0.1; then casync extract --seed=v1.img of v2 with the index
#           (.caibx) and the chunks over HTTP: bytes and requests from the
#           access log, wall time and peak RSS (/usr/bin/time -v);
#   zchunk  zck of both images and zck_delta_size: its bytes;
#   zstd    zstd -19 of the whole v2: its bytes;
#   pawl    the real thing: pawl-repo publishes v1 and v2 as format 2 releases
#           (v2 deduplicated against v1) into a repository nginx serves, and
#           `pawl update` runs on a device whose booted slot holds v1 and
#           whose target slot is empty (zeros): bytes and requests from the
#           access log (metadata, index, sums and frames: everything), wall
#           time and peak RSS (/usr/bin/time -v); the slot must equal v2;
#   model   bench/delta_model (see its header) for each of BENCH_DELTA_SPECS
#           (BENCH_DELTA_MODEL=0 skips it):
#           fixed pieces aligned to the file system and content-defined
#           ones: missing pieces, their zstd -19 bytes, the index (flat,
#           compressed, two-level) and HTTP Range requests with neighbours
#           coalesced against one request per piece from a chunk store.
#
# Not part of `make check` (about ten minutes on two cores, nice -n 15).
# Writes bench/out/delta_pairs.md and prints it.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${PAWL_BUILDDIR:-$top/build}
model=$build/bench/delta_model
mb=${BENCH_DELTA_MB:-192}
dirs=${BENCH_DELTA_DIRS:-/usr/lib/python3.11 /usr/share/perl /usr/lib/x86_64-linux-gnu/perl /usr/share/vim}
pkg=${BENCH_DELTA_PKG:-/usr/lib/python3.11/distutils /usr/lib/python3.11/unittest}
donors=${BENCH_DELTA_DONORS:-/usr/lib/python3/dist-packages /usr/include /usr/share/perl5 /usr/lib/x86_64-linux-gnu/perl5 /usr/share/X11 /usr/share/i18n}
specs=${BENCH_DELTA_SPECS:-fixed:4K fixed:16K fixed:64K fixed:256K fixed:1M cdc:16K cdc:64K cdc:256K cdcblk:64K cdcblk:256K}
MKFS=${MKFS:-$(command -v mkfs.ext4 || echo /usr/sbin/mkfs.ext4)}
NICE="nice -n 15"
run_model=${BENCH_DELTA_MODEL:-1}
R=$build/pawl-repo
P=$build/pawl

for b in "$model" "$R" "$P"; do
	[ -x "$b" ] || { echo "bench/delta_pairs.sh: $b missing (ninja -C $build)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench/delta_pairs.sh: run as root (pawl's slots must be root's)" >&2; exit 1; }
for t in casync zck zck_delta_size zstd python3 /usr/bin/time "$MKFS"; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "bench/delta_pairs.sh: $t missing (scripts/install-deps --bench)" >&2; exit 1; }
done
mkdir -p "$top/bench/out"
report=$top/bench/out/delta_pairs.md
work=$(mktemp -d /tmp/pawl-bench-delta-XXXXXX)
nginx_state=
cleanup() {
	[ -n "$nginx_state" ] && sh "$top/tests/integration/nginx.sh" stop "$nginx_state" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$work"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%MZ)

T=1700000000 # every file's and the file system's time
export SOURCE_DATE_EPOCH=$T E2FSPROGS_FAKE_TIME=$T
UUID=5b1b4f3c-0c6e-4d1e-9a53-5f0d6c1e0719
SEED=3f6c2a1e-8d4b-4c7a-b2e9-0a1d5c7e9f24

mkimg() { # OUT: root/ into a deterministic ext4 image
	rm -f "$1"
	truncate -s "${mb}M" "$1"
	# -b 4096: below 512 MiB mke2fs picks 1 KiB blocks ("small"), and
	# then nothing is aligned to 4 KiB pieces; devices use 4 KiB.
	$NICE "$MKFS" -q -F -b 4096 -U "$UUID" -E "root_owner=0:0,hash_seed=$SEED" -d root "$1"
}

# ---------------------------------------------------------------- the tree
mkdir root
for d in $dirs; do
	mkdir -p "root$(dirname "$d")"
	cp -a "$d" "root$d"
done
# mtime T; atime A, an hour from now: later than mtime and ctime and within
# a day, so that relatime leaves it alone when mke2fs reads the files (else
# v1 and v2 would differ in every inode). ctime cannot be set; it stays as
# the copy left it, the same in v1 and v2 for every unchanged file.
A=$(($(date +%s) + 3600))
stamp() { touch -h -m -d "@$T" "$@" && touch -h -a -d "@$A" "$@"; }
find root -exec sh -c 't=$0 a=$1; shift; touch -h -m -d "@$t" "$@" && touch -h -a -d "@$a" "$@"' "$T" "$A" {} +
nfiles=$(find root -type f | wc -l)
files=$(du -sb root | cut -f1)

# Assign donors to the files listed in $1 (paths under root/), write
# "TARGET DONOR" lines to $2. Same 4 KiB block count, closest size, each
# donor once; a file with no donor of its block count gets the closest size.
assign() {
	python3 - "$1" "$2" $donors <<'EOF'
import bisect, os, sys
targets = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
pool = []
for top in sys.argv[3:]:
    for dp, dn, fn in os.walk(top):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(dp, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            if p.endswith((".gz", ".xz", ".bz2", ".zst", ".pyc")):
                continue  # compressed files would flatter nobody
            s = os.path.getsize(p)
            if s > 0:
                pool.append((s, p))
pool.sort()
sizes = [s for s, _ in pool]
used = [False] * len(pool)
blocks = lambda s: (s + 4095) // 4096
out = open(sys.argv[2], "w")
for t in sorted(targets, key=lambda t: (-os.path.getsize(t), t)):
    s = os.path.getsize(t)
    i = bisect.bisect_left(sizes, s)
    best = None
    for j in range(max(0, i - 4000), min(len(pool), i + 4000)):
        if used[j]:
            continue
        key = (blocks(pool[j][0]) != blocks(s), abs(pool[j][0] - s))
        if best is None or key < best[0]:
            best = (key, j)
    if best is None:
        sys.exit("delta_pairs: not enough donor files")
    used[best[1]] = True
    out.write("%s\t%s\n" % (t, pool[best[1]][1]))
EOF
}

# Change the files of pair $1 (list in $2), build v1 before and v2 after,
# then put the files back.
mkpair() {
	p=$1
	assign "$2" "p$p.map"
	mkimg "p$p-v1.img"
	mkdir -p "save$p"
	n=0
	while IFS="$(printf '\t')" read -r t d; do
		n=$((n + 1))
		cp "$t" "save$p/$n"
		cat "$d" >"$t"
		stamp "$t"
	done <"p$p.map"
	changed_bytes=$(cut -f1 "p$p.map" | tr '\n' '\0' | xargs -0 stat -c %s | awk '{ s += $1 } END { print s }')
	echo "$n $changed_bytes" >"p$p.changed"
	mkimg "p$p-v2.img"
	n=0
	while IFS="$(printf '\t')" read -r t d; do
		n=$((n + 1))
		cat "save$p/$n" >"$t"
		stamp "$t"
	done <"p$p.map"
	rm -rf "save$p"
}

for d in $pkg; do find "root$d" -type f; done | sort >p1.list
find root -type f | sort | awk 'NR % 3 == 1' >p2.list
mkpair 1 p1.list
mkpair 2 p2.list
rm -rf root

# differing 4 KiB blocks between two images
blocksdiff() {
	python3 - "$1" "$2" <<'EOF'
import sys
a, b = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
n = 0
while True:
    x, y = a.read(1 << 20), b.read(1 << 20)
    if not x:
        break
    for i in range(0, len(x), 4096):
        if x[i:i + 4096] != y[i:i + 4096]:
            n += 1
print(n)
EOF
}

# "wall_seconds max_rss_kb" of a command, from GNU time -v
timed() {
	/usr/bin/time -v -o time.log "$@" >cmd.log 2>&1 || {
		cat cmd.log >&2
		echo "bench/delta_pairs.sh: failed: $*" >&2
		exit 1
	}
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
		/Maximum resident set size/ { rss = $2 }
		END { printf "%.2f %d\n", wall, rss }' time.log
}

# ---------------------------------------------------------------- casync's store, nginx
mkdir srv
for p in 1 2; do
	mkdir -p "srv/p$p"
	for v in v1 v2; do
		timed $NICE casync make --store="srv/p$p/store" "srv/p$p/$v.caibx" "p$p-$v.img" >"p$p-make-$v.t"
	done
done
# pawl's repositories: v1, then v2 deduplicated against it (format 2)
for k in root targets snap ts; do
	"$R" -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null
done
for p in 1 2; do
	"$R" -q init "ws$p" --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
		--timestamp-key ts.pem
	timed $NICE "$R" -q release "ws$p" os 1.0.0 "p$p-v1.img" --image --index-format 2 --key targets.pem >"p$p-pub1.t"
	timed $NICE "$R" -q release "ws$p" os 2.0.0 "p$p-v2.img" --image --index-format 2 --key targets.pem >"p$p-pub2.t"
	"$R" -q timestamp "ws$p" --key snap.pem --key ts.pem
	"$R" -q publish "ws$p" "srv/p$p/pawl"
done
chmod -R a+rX srv
set -- $(sh "$top/tests/integration/nginx.sh" start srv --owner $$)
port=$1
nginx_state=$2
log=$nginx_state/access.log

for p in 1 2; do
	echo "pair $p: $(cat "p$p.changed") changed files/bytes, $(blocksdiff "p$p-v1.img" "p$p-v2.img") 4K blocks differ" >&2
	blocksdiff "p$p-v1.img" "p$p-v2.img" >"p$p.blocks"

	# casync over HTTP, seeded with v1
	: >"$log"
	rm -f out.img
	ct=$(timed $NICE casync extract --store="http://127.0.0.1:$port/p$p/store" \
		--seed="p$p-v1.img" "http://127.0.0.1:$port/p$p/v2.caibx" out.img)
	cmp -s out.img "p$p-v2.img" || { echo "bench/delta_pairs.sh: casync's output differs from v2 (pair $p)" >&2; exit 1; }
	sleep 1 # nginx writes the log line after the response
	awk -v t="$ct" '
		# ADDR CONN REQNO "METHOD PATH PROTO" STATUS BYTES "RANGE" "UA"
		{ n++; b += $8; c[$2] = 1; if ($7 != 200) bad++
		  if ($5 ~ /\.caibx$/) ib += $8 }
		END { k = 0; for (x in c) k++
		      printf "%d %d %d %d %s %d\n", n, b, k, bad + 0, t, ib }' "$log" >"p$p.casync"
	# pawl: the booted slot a holds v1, the target slot b is empty
	rm -rf dev && mkdir -m 755 dev
	cp "p$p-v1.img" dev/slot-a
	truncate -s "$(stat -c %s "p$p-v2.img")" dev/slot-b
	chmod 600 dev/slot-a dev/slot-b
	grub-editenv dev/grubenv create
	grub-editenv dev/grubenv set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
	cat >dev/pawl.conf <<EOC
app = os
metadata_url = http://127.0.0.1:$port/p$p/pawl/metadata/
target_base_url = http://127.0.0.1:$port/p$p/pawl/targets/
trusted_root = $work/ws$p/root.json
state_dir = $work/dev/state
slot.a = $work/dev/slot-a
slot.b = $work/dev/slot-b
bootloader = grub:$work/dev/grubenv
syslog = no
EOC
	"$P" --config dev/pawl.conf --booted-slot a mark-good >/dev/null
	: >"$log"
	pt=$(timed $NICE "$P" --config dev/pawl.conf --booted-slot a update)
	cp cmd.log "p$p.pawl-out"
	cmp -s -n "$(stat -c %s "p$p-v2.img")" dev/slot-b "p$p-v2.img" ||
		{ echo "bench/delta_pairs.sh: pawl's slot differs from v2 (pair $p)" >&2; exit 1; }
	sleep 1
	awk -v t="$pt" '
		{ n++; b += $8; if ($5 ~ /image\.(pack|sums|idx)/) tb += $8; else mb += $8 }
		END { printf "%d %d %s %d %d\n", n, b, t, tb, mb }' "$log" >"p$p.pawl"
	python3 - dev/state/audit.log >"p$p.pawl-transfer" <<'EOP'
import json, sys
last = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get('type') == 'slot.transfer':
        last = e['fields']
print(" ".join("%s=%s" % kv for kv in sorted(last.items())))
EOP
	pack2=$(find "srv/p$p/pawl/targets/os/2.0.0" -name '*image.pack' -exec stat -c %s {} + | head -1)
	pack1=$(find "srv/p$p/pawl/targets/os/1.0.0" -name '*image.pack' -exec stat -c %s {} + | head -1)
	idx2=$(find "srv/p$p/pawl/targets/os/2.0.0" -name '*image.idx' -exec stat -c %s {} + | head -1)
	echo "${pack1:-0} ${pack2:-0} ${idx2:-0}" >"p$p.pawl-store"
	rm -rf dev

	chunks=$(find "srv/p$p/store" -type f -name '*.cacnk' | wc -l)
	cidx1=$(stat -c %s "srv/p$p/v1.caibx")
	cidx2=$(stat -c %s "srv/p$p/v2.caibx")
	echo "$chunks $cidx1 $cidx2" >"p$p.casync-store"

	# zchunk
	$NICE zck -o "p$p-v1.zck" "p$p-v1.img" >/dev/null
	$NICE zck -o "p$p-v2.zck" "p$p-v2.img" >/dev/null
	zck_delta_size "p$p-v1.zck" "p$p-v2.zck" >"p$p.zckout" 2>&1
	zck_read_header "p$p-v2.zck" | sed -n 's/^Header size: //p' >"p$p.zckhdr"
	zck_read_header "p$p-v2.zck" | sed -n 's/^Chunk count: //p' >"p$p.zckchunks"

	# the whole v2, zstd -19
	$NICE zstd -19 -T1 --no-check -q -c "p$p-v2.img" | wc -c >"p$p.zstd"

	# pawl's options
	: >"p$p.model"
	# shellcheck disable=SC2086
	[ "$run_model" = 0 ] || $NICE "$model" "p$p-v1.img" "p$p-v2.img" $specs >"p$p.model"
	rm -f "p$p-v1.zck" "p$p-v2.zck"
done
sh "$top/tests/integration/nginx.sh" stop "$nginx_state" >/dev/null 2>&1 || true
nginx_state=

# ---------------------------------------------------------------- the report
kv() { # KEY < line: the value of KEY=
	tr ' ' '\n' | sed -n "s/^$1=//p"
}
zckbytes() { # zck_delta_size's "Would need to download N of M bytes"-like line
	grep -o '[0-9][0-9]*' "$1" | head -1
}
vs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f%%", (a / b - 1) * 100 }'; }
num() { echo "$1" | sed -e :a -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e ta; }
{
	echo "# Delta updates: pieces, chunking and transport (bench/delta_pairs.sh)"
	echo
	echo "Run $started on $(nproc) cores ($(uname -m)); load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo "$(casync --version 2>&1 | head -1 | tr -s ' '), zchunk $(zck --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1), zstd $(zstd -V | grep -o 'v[0-9.]*'), $("$MKFS" -V 2>&1 | head -1)."
	echo "Command: \`sh bench/delta_pairs.sh\` (BENCH_DELTA_MB=$mb; specs: $specs)."
	echo
	echo "Images: ${mb} MiB ext4 (\`mkfs.ext4 -d\`, fixed UUID, hash seed and times), $nfiles files, $files bytes of files, from: $dirs."
	echo
	echo "| pair | what changes in v2 | files | bytes of files | 4 KiB blocks that differ |"
	echo "|---|---|---:|---:|---:|"
	set -- $(cat p1.changed)
	echo "| 1 | every file of $pkg | $1 | $(num "$2") | $(cat p1.blocks) |"
	set -- $(cat p2.changed)
	echo "| 2 | every third file | $1 | $(num "$2") | $(cat p2.blocks) |"
	for p in 1 2; do
		set -- $(cat "p$p.casync")
		c_req=$1 c_bytes=$2 c_conn=$3 c_bad=$4 c_wall=$5 c_rss=$6 c_idx=$7
		set -- $(cat "p$p.casync-store")
		c_chunks=$1 c_idx1=$2 c_idx2=$3
		zbytes=$(zckbytes "p$p.zckout")
		echo
		echo "## Pair $p"
		echo
		echo "| method | bytes over the wire | requests | wall s | peak RSS |"
		echo "|---|---:|---:|---:|---:|"
		echo "| casync extract --seed=v1 over HTTP (index + chunks; $c_conn connection(s), $c_bad non-200) | $(num "$c_bytes") (index $(num "$c_idx")) | $c_req | $c_wall | $((c_rss / 1024)) MiB |"
		zh=$(cat "p$p.zckhdr")
		echo "| zchunk: zck_delta_size (defaults) + v2's header (its index, $(num "$zh") bytes, $(cat "p$p.zckchunks") chunks) | $(num $((zbytes + zh))) | | | |"
		echo "| zstd -19 of the whole v2 | $(num "$(cat "p$p.zstd")") | 1 | | |"
		set -- $(cat "p$p.pawl")
		p_req=$1 p_bytes=$2 p_wall=$3 p_rss=$4 p_tb=$5 p_mb=$6
		set -- $(cat "p$p.pawl-store")
		echo "| **pawl update** (format 2, seeds: booted v1; metadata $(num "$p_mb"), index + sums + frames $(num "$p_tb")) | **$(num "$p_bytes")** ($(vs "$p_bytes" "$c_bytes") vs casync) | $p_req | $p_wall | $(awk -v k="$p_rss" 'BEGIN { printf "%.1f MiB", k / 1024 }') |"
		echo
		echo "pawl's store: v1's pack $(num "$1") bytes; v2 added a pack of $(num "$2") bytes (its new frames only) and an index of $(num "$3") bytes. The device's account (audit log \`slot.transfer\`): \`$(cat "p$p.pawl-transfer")\`."
		echo
		echo "| goal (issue 19) | pawl | casync | met |"
		echo "|---|---:|---:|---|"
		echo "| bytes, metadata included, no more than casync | $(num "$p_bytes") | $(num "$c_bytes") | $(awk -v a="$p_bytes" -v b="$c_bytes" 'BEGIN { print (a <= b) ? "yes" : "**no**" }') |"
		echo "| wall time no longer than casync's | $p_wall s | $c_wall s | $(awk -v a="$p_wall" -v b="$c_wall" 'BEGIN { print (a <= b) ? "yes" : "**no**" }') |"
		echo "| peak RSS ≤ 16 MB (16,000,000 bytes) | $(awk -v k="$p_rss" 'BEGIN { printf "%.1f MiB = %.1f MB", k / 1024, k * 1024 / 1e6 }') | $((c_rss / 1024)) MiB | $(awk -v a="$p_rss" 'BEGIN { print (a * 1024 <= 16000000) ? "yes" : "**no**" }') |"
		echo
		echo "casync's store holds $c_chunks chunks for v1 and v2; its index is $(num "$c_idx2") bytes for v2. zck_delta_size said: \`$(tr '\n' ' ' <"p$p.zckout" | sed 's/ *$//')\`."
		echo
		[ -s "p$p.model" ] || continue
		echo "pawl's options (bench/delta_model): what is missing from v2, and the index."
		echo
		echo "| pieces | v2 pieces | mean bytes | missing | missing raw | missing, zstd -19 a frame each | missing, zstd -19 in runs (frames) | index (v1 format) | index, zstd -19 | two-level index | two-level, 40-byte records |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		while read -r line; do
			g() { echo "$line" | kv "$1"; }
			echo "| $(g spec) | $(g pieces) | $(num "$(g mean)") | $(g missing) | $(num "$(g miss_raw)") | $(num "$(g miss_z)") | $(num "$(g miss_zrun)") ($(g frames)) | $(num "$(g idx)") | $(num "$(g idx_z)") | $(num "$(g idx2)") | $(num "$(g idx2c)") |"
		done <"p$p.model"
		echo
		echo "Bytes over the wire, metadata included, against casync's $(num "$c_bytes") (A: today's format, a frame per piece and the whole index; B: the same with the index compressed; C: a two-level index of 40-byte records, missing neighbours compressed as one frame):"
		echo
		echo "| pieces | A | A vs casync | B | B vs casync | C | C vs casync |"
		echo "|---|---:|---:|---:|---:|---:|---:|"
		while read -r line; do
			g() { echo "$line" | kv "$1"; }
			a=$(($(g miss_z) + $(g idx)))
			b=$(($(g miss_z) + $(g idx_z)))
			c=$(($(g miss_zrun) + $(g idx2c)))
			echo "| $(g spec) | $(num $a) | $(vs $a "$c_bytes") | $(num $b) | $(vs $b "$c_bytes") | $(num $c) | $(vs $c "$c_bytes") |"
		done <"p$p.model"
		echo
		echo "Requests for the missing pieces (plus one for the index): HTTP Range requests out of v2's full pack (pieces in image order), neighbours coalesced across gaps of up to G bytes, with the bytes those ranges carry; against one request per piece from a chunk store (casync's way, over keep-alive)."
		echo
		echo "| pieces | ranges, G=0 | bytes | ranges, G=16K | bytes | ranges, G=64K | bytes | chunk store requests | frames in runs |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
		while read -r line; do
			echo "| $(echo "$line" | kv spec) | $(echo "$line" | kv rq_0) | $(num "$(echo "$line" | kv rb_0)") | $(echo "$line" | kv rq_16384) | $(num "$(echo "$line" | kv rb_16384)") | $(echo "$line" | kv rq_65536) | $(num "$(echo "$line" | kv rb_65536)") | $(echo "$line" | kv missing) | $(echo "$line" | kv frames) |"
		done <"p$p.model"
	done
} >"$report"
cat "$report"
