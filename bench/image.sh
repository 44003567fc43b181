#!/bin/sh
# bench/image.sh - slot image figures (#18), every ratio taken in one run:
#
#  - a root image of real files: BENCH_IMAGE_MB (default 256) MiB of ext4
#    built with mkfs.ext4 -d from BENCH_IMAGE_DIRS (default python3.11,
#    both perl trees and vim: about 139 MiB of files, like the RAUC figure
#    in the issue);
#  - pawl-repo release --image at each piece size of BENCH_IMAGE_PIECES
#    (default 64K 256K 1M 2M 4M; level 19): pieces, pack and index bytes
#    against `zstd -19` of the whole image (and --long=27), publishing time;
#  - streaming each pack from a file into a file-backed slot through the
#    library's decoder (bench/image_stream: every piece verified before it
#    is decompressed and again after, the whole image hashed, fsync at the
#    end): wall time and peak RSS (/usr/bin/time -v), next to
#    `zstd -d < pack | dd of=slot conv=fsync` and `openssl dgst -sha256`
#    of the raw image, each the median of BENCH_RUNS (default 3) runs.
#
# Not part of `make check` (a few minutes on two cores). Prints a Markdown
# report and writes it to bench/out/image.md.
#   PAWL_BUILDDIR=DIR   the build to measure (default: build)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${PAWL_BUILDDIR:-$top/build}
R=$build/pawl-repo
S=$build/bench/image_stream
mb=${BENCH_IMAGE_MB:-256}
dirs=${BENCH_IMAGE_DIRS:-"/usr/lib/python3.11 /usr/share/perl /usr/lib/x86_64-linux-gnu/perl /usr/share/vim"}
pieces=${BENCH_IMAGE_PIECES:-"64K 256K 1M 2M 4M"}
default_piece=2M
runs=${BENCH_RUNS:-3}
MKFS=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
for p in "$R" "$S" "$MKFS" /usr/bin/time; do
	[ -x "$p" ] || { echo "bench/image.sh: $p missing (ninja -C $build; scripts/install-deps)" >&2; exit 1; }
done
command -v zstd >/dev/null && command -v openssl >/dev/null || {
	echo "bench/image.sh: zstd and openssl are needed" >&2; exit 1; }
mkdir -p "$top/bench/out"
report=$top/bench/out/image.md
work=$(mktemp -d /tmp/pawl-bench-image-XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
cd "$work"

# "wall_seconds max_rss_kb" of a command, from GNU time -v.
timed() {
	/usr/bin/time -v -o time.log "$@" >cmd.log 2>&1 || {
		cat cmd.log >&2
		echo "bench/image.sh: failed: $*" >&2
		exit 1
	}
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
		/Maximum resident set size/ { rss = $2 }
		END { printf "%.3f %d\n", wall, rss }' time.log
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# the median of field $1 over $runs runs of a command
runs_of() {
	f=$1
	shift
	i=0
	: >runs.txt
	while [ $i -lt "$runs" ]; do
		timed "$@" >>runs.txt
		i=$((i + 1))
	done
	cut -d' ' -f"$f" runs.txt | median
}
stored() { # the workspace's store file of target $1
	h=$(python3 -c 'import json,sys; print(json.load(open("ws/metadata/targets.json"))["signed"]["targets"][sys.argv[1]]["hashes"]["sha256"])' "$1")
	echo "ws/targets/$(echo "$h" | cut -c1-2)/$h"
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'; }

# ---------------------------------------------------------------- the image
mkdir root
for d in $dirs; do
	mkdir -p "root$(dirname "$d")"
	cp -a "$d" "root$d"
done
files=$(du -sb root | cut -f1)
nfiles=$(find root -type f | wc -l)
truncate -s "${mb}M" img
"$MKFS" -q -F -E root_owner=0:0 -d root img
rm -rf root
imgsize=$(stat -c %s img)

zt=$(timed zstd -19 --no-check -q -f img -o whole.zst | cut -d' ' -f1)
whole=$(stat -c %s whole.zst)
zstd -19 --long=27 --no-check -q -f img -o long.zst
long=$(stat -c %s long.zst)

# ---------------------------------------------------------------- publishing
for k in root targets snap ts; do
	"$R" -q keygen --out $k.pem --no-passphrase >/dev/null
done
"$R" -q init ws --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem
: >rows.txt
minor=0
for ps in $pieces; do
	minor=$((minor + 1))
	v=1.$minor.0
	pt=$(timed "$R" release ws os "$v" img --image --piece-size "$ps" --key targets.pem | cut -d' ' -f1)
	n=$(grep -o '[0-9]* pieces of' cmd.log | cut -d' ' -f1)
	pack=$(stored os/$v/image.pack)
	idx=$(stored os/$v/image.idx)
	packb=$(stat -c %s "$pack")
	idxb=$(stat -c %s "$idx")
	truncate -s "$imgsize" slot
	st=$(timed "$S" "$idx" "$pack" slot)
	cmp -s slot img || { echo "bench/image.sh: the slot does not hold the image ($ps)" >&2; exit 1; }
	echo "$ps $n $packb $idxb $pt $st $pack $idx" >>rows.txt
done

# ---------------------------------------------------------------- streaming, default piece size
set -- $(grep "^$default_piece " rows.txt)
pack=$8
idx=$9
truncate -s "$imgsize" slot
truncate -s "$imgsize" slot2
s_wall=$(runs_of 1 "$S" "$idx" "$pack" slot)
s_rss=$(cut -d' ' -f2 runs.txt | median)
z_wall=$(runs_of 1 sh -c "zstd -q -d -c '$pack' | dd of=slot2 bs=1M conv=fsync,notrunc status=none")
z_rss=$(cut -d' ' -f2 runs.txt | median)
o_wall=$(runs_of 1 openssl dgst -sha256 img)
o_rss=$(cut -d' ' -f2 runs.txt | median)
cmp -s slot slot2 && cmp -s slot img || { echo "bench/image.sh: slots differ" >&2; exit 1; }

mbps() { awk -v b="$imgsize" -v s="$1" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
	echo "# Slot images: pieces, pack size and streaming (bench/image.sh)"
	echo
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -m)), zstd $(zstd -V | grep -o 'v[0-9.]*')."
	echo "Image: ${mb} MiB ext4 (\`mkfs.ext4 -d\`), $nfiles files, $files bytes of files, from: $dirs."
	echo
	echo "| | bytes | vs zstd -19 of the whole image |"
	echo "|---|---:|---:|"
	echo "| image | $imgsize | |"
	echo "| \`zstd -19\` of the whole image (${zt} s) | $whole | |"
	echo "| \`zstd -19 --long=27\` of the whole image | $long | $(pct "$long" "$whole") |"
	echo
	echo "| piece size | pieces | pack bytes | pack vs zstd -19 | index bytes | pack + index vs zstd -19 | publish s | stream s | stream peak RSS |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	while read -r ps n packb idxb pt swall srss _ _; do
		echo "| $ps | $n | $packb | $(pct "$packb" "$whole") | $idxb | $(pct $((packb + idxb)) "$whole") | $pt | $swall | $((srss / 1024)) MiB |"
	done <rows.txt
	echo
	echo "Streaming the $default_piece-piece pack from a file into a file-backed slot (median of $runs, warm page cache):"
	echo
	echo "| | wall s | image MB/s | peak RSS | vs the zstd pipeline |"
	echo "|---|---:|---:|---:|---:|"
	echo "| pawl decoder (bench/image_stream: verify, decompress, verify, hash, pwrite, fsync) | $s_wall | $(mbps "$s_wall") | $((s_rss / 1024)) MiB | $(ratio "$s_wall" "$z_wall") |"
	echo "| \`zstd -d < pack \| dd of=slot conv=fsync\` | $z_wall | $(mbps "$z_wall") | $((z_rss / 1024)) MiB | 1.00 |"
	echo "| \`openssl dgst -sha256\` of the raw image | $o_wall | $(mbps "$o_wall") | $((o_rss / 1024)) MiB | $(ratio "$o_wall" "$z_wall") |"
} >"$report"
cat "$report"
