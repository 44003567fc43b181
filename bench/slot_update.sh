#!/bin/sh
# bench/slot_update.sh - the A/B image update as a device runs it (issue
# 18), next to the simplest pipeline that does the same transfer, in one
# run:
#
#  - a root image of real files: BENCH_IMAGE_MB (default 256) MiB of ext4
#    built with mkfs.ext4 -d from BENCH_IMAGE_DIRS (python3.11, both perl
#    trees and vim: about 139 MiB of files, like the RAUC figure);
#  - published with `pawl-repo release --image` (index format 2: 4 KiB
#    pieces, frames of up to 2 MiB at zstd -19)
#    and served by nginx on 127.0.0.1 over plain HTTP;
#  - `pawl --config F --booted-slot a update` into a file-backed slot b
#    with a GRUB environment file: the full agent (TUF refresh, index,
#    every piece verified before it is decompressed, written, fsynced, read
#    back, bootloader switch): wall time, peak RSS (GNU time), and bytes
#    sent by nginx (its access log);
#  - beside it: `curl URL | zstd -d | dd of=slot conv=fsync` of the whole
#    image compressed with `zstd -19` (served by the same nginx), and
#    `openssl dgst -sha256` of the raw image. The slots are blank (zeros),
#    so pawl's seeds explain only the image's empty blocks: a full update.
#
# Each figure is the median of BENCH_RUNS (default 3). Not part of make
# check (minutes on two cores). Prints Markdown and writes it to
# bench/out/slot_update.md.
#   PAWL_BUILDDIR=DIR   the build to measure (default: build)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${PAWL_BUILDDIR:-$top/build}
R=$build/pawl-repo
P=$build/pawl
mb=${BENCH_IMAGE_MB:-256}
dirs=${BENCH_IMAGE_DIRS:-"/usr/lib/python3.11 /usr/share/perl /usr/lib/x86_64-linux-gnu/perl /usr/share/vim"}
runs=${BENCH_RUNS:-3}
# How the target slots are made blank before each run: "sparse" (a file
# truncated to the image's size, as a file-backed slot is usually made)
# or "zeroed" (zeros written through to the disk, like a blank partition:
# every block allocated and none in the page cache, so that pawl's scan
# of the target reads the whole slot from the disk).
prep=${BENCH_SLOT_PREP:-sparse}
case $prep in sparse | zeroed) ;; *) echo "bench/slot_update.sh: BENCH_SLOT_PREP is sparse or zeroed" >&2; exit 1 ;; esac
MKFS=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
for p in "$R" "$P" "$MKFS" /usr/bin/time; do
	[ -x "$p" ] || { echo "bench/slot_update.sh: $p missing (ninja -C $build; scripts/install-deps)" >&2; exit 1; }
done
for c in zstd openssl curl grub-editenv; do
	command -v $c >/dev/null || { echo "bench/slot_update.sh: $c is needed (scripts/install-deps)" >&2; exit 1; }
done
mkdir -p "$top/bench/out"
report=$top/bench/out/slot_update.md
work=$(mktemp -d /tmp/pawl-bench-slot-XXXXXX)
state=""
cleanup() {
	[ -n "$state" ] && sh "$top/tests/integration/nginx.sh" stop "$state" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$work"

timed() { # "wall_seconds max_rss_kb" of a command, from GNU time -v
	/usr/bin/time -v -o time.log "$@" >cmd.log 2>&1 || {
		cat cmd.log >&2
		echo "bench/slot_update.sh: failed: $*" >&2
		exit 1
	}
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0
			for (i = 1; i <= n; i++) s = s * 60 + t[i]; wall = s }
		/Maximum resident set size/ { rss = $2 }
		END { printf "%.3f %d\n", wall, rss }' time.log
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
range() { sort -n | awk '{ v[NR] = $1 } END { printf "%s..%s", v[1], v[NR] }'; }

# ---------------------------------------------------------------- the image
mkdir root
for d in $dirs; do
	mkdir -p "root$(dirname "$d")"
	cp -a "$d" "root$d"
done
files=$(du -sb root | cut -f1)
truncate -s "${mb}M" img
"$MKFS" -q -F -E root_owner=0:0 -d root img
rm -rf root
imgsize=$(stat -c %s img)
zstd -19 --no-check -q -f img -o whole.zst
whole=$(stat -c %s whole.zst)

# ---------------------------------------------------------------- the repository
for k in root targets snap ts; do
	"$R" -q keygen --out $k.pem --no-passphrase >/dev/null
done
"$R" -q init ws --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem
"$R" -q release ws os 1.0.0 img --image --key targets.pem
"$R" -q timestamp ws --key snap.pem --key ts.pem
"$R" -q publish ws www
set -- $(sh "$top/tests/integration/nginx.sh" start "$work/www" --owner $$)
port=$1
state=$2
url=http://127.0.0.1:$port
# The pipeline fetches the whole image compressed with zstd -19 (a format 2
# pack is not the image: repeated pieces are stored once).
cp whole.zst www/whole.zst
chmod a+r www/whole.zst
packurl=$url/whole.zst
packlen=$(curl -sfI "$packurl" | awk 'tolower($1) == "content-length:" { print $2 + 0 }')
[ "$packlen" = "$whole" ] || { echo "bench/slot_update.sh: nginx does not serve whole.zst" >&2; exit 1; }

# ---------------------------------------------------------------- the device
truncate -s "$imgsize" slot-a slot-b slot-c
chmod 600 slot-a slot-b slot-c
blank() { # the target slot $1, blank again
	if [ "$prep" = zeroed ]; then
		dd if=/dev/zero of="$1" bs=1M count="$((imgsize / 1048576))" conv=notrunc,fsync \
			oflag=direct status=none
	else
		: >"$1"
		truncate -s "$imgsize" "$1"
	fi
}
blank slot-b
blank slot-c
grub-editenv grubenv create
cat >device.conf <<EOC
metadata_url = $url/metadata/
target_base_url = $url/targets/
trusted_root = $work/ws/root.json
state_dir = $work/state
app = os
slot.a = $work/slot-a
slot.b = $work/slot-b
bootloader = grub:$work/grubenv
syslog = no
EOC
fresh_device() {
	rm -rf state
	grub-editenv grubenv set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
	"$P" --config device.conf --booted-slot a mark-good >/dev/null
}
# The image, the pack and the repository were just written: flush them
# now, or the first runs wait for that writeback (ext4 commits the
# journal with other files' data, and pawl fsyncs its state and audit log
# some thirty times where the pipeline fsyncs once).
sync
: >pawl.txt
: >pipe.txt
: >dgst.txt
: >bytes.txt
i=0
while [ $i -lt "$runs" ]; do
	fresh_device
	sync
	before=$(wc -l <"$state/access.log")
	timed "$P" --config device.conf --booted-slot a update >>pawl.txt
	cmp -s slot-b img || { echo "bench/slot_update.sh: slot b does not hold the image" >&2; exit 1; }
	tail -n +"$((before + 1))" "$state/access.log" | awk '{ s += $8 } END { print s + 0 }' >>bytes.txt
	blank slot-b
	# The pipeline overwrites its slot whole: truncating it too would only
	# free its blocks, and on a disk mounted with online discard that
	# work would land on the next runs.
	[ "$prep" = sparse ] || blank slot-c
	sync
	timed sh -c "curl -sf '$packurl' | zstd -q -d | dd of=slot-c bs=1M conv=fsync,notrunc status=none" >>pipe.txt
	cmp -s slot-c img || { echo "bench/slot_update.sh: the pipeline's slot differs" >&2; exit 1; }
	timed openssl dgst -sha256 img >>dgst.txt
	i=$((i + 1))
done
p_wall=$(cut -d' ' -f1 pawl.txt | median)
p_rss=$(cut -d' ' -f2 pawl.txt | median)
c_wall=$(cut -d' ' -f1 pipe.txt | median)
p_range=$(cut -d' ' -f1 pawl.txt | range)
c_range=$(cut -d' ' -f1 pipe.txt | range)
p_rss_max=$(cut -d' ' -f2 pawl.txt | sort -n | tail -n 1)
c_rss=$(cut -d' ' -f2 pipe.txt | median)
o_wall=$(cut -d' ' -f1 dgst.txt | median)
bytes=$(median <bytes.txt)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
yes_no() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "yes" : "**no**" }'; }
{
	echo "## A/B image update over HTTP (bench/slot_update.sh)"
	echo
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Image: ${mb} MiB ext4 (\`mkfs.ext4 -d\`, $files bytes of files from $dirs),"
	echo "published with \`pawl-repo release --image\` (index format 2: 4 KiB pieces, frames of up to 2 MiB at zstd -19), served by nginx on"
	echo "127.0.0.1 (plain HTTP); slots are files, blank before each run ($prep); medians of $runs runs (min..max)."
	echo
	echo "| | wall | peak RSS | bytes transferred |"
	echo "|---|---|---|---|"
	echo "| \`pawl update\` (refresh, index, verify every piece, write, fsync, read back, switch) | $p_wall s ($p_range) | $(mib "$p_rss") MiB (largest $(mib "$p_rss_max")) | $bytes |"
	echo "| \`curl \| zstd -d \| dd conv=fsync\` of the whole image, \`zstd -19\` (nothing verified) | $c_wall s ($c_range) | $(mib "$c_rss") MiB (largest of the three) | $packlen |"
	echo "| \`openssl dgst -sha256\` of the raw image | $o_wall s | | |"
	echo "| \`zstd -19\` of the whole image | | | $whole |"
	echo
	echo "| goal (issue 18) | measured | met |"
	echo "|---|---|---|"
	echo "| peak RSS ≤ 16 MiB (largest run) | $(mib "$p_rss_max") MiB | $(yes_no "$p_rss_max" 16384) |"
	echo "| peak RSS ≤ 16 MB, read as 16,000,000 bytes (largest run) | $(awk -v k="$p_rss_max" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }') MB | $(yes_no "$((p_rss_max * 1024))" 16000000) |"
	echo "| bytes within 10% of \`zstd -19\` of the whole image | $(ratio "$bytes" "$whole") × | $(yes_no "$(ratio "$bytes" "$whole")" 1.10) |"
	echo "| wall ≤ 1.5 × the curl pipeline | $(ratio "$p_wall" "$c_wall") × | $(yes_no "$(ratio "$p_wall" "$c_wall")" 1.5) |"
	echo
	echo "RAUC 1.8 (Debian), on this machine kind, from the issue: a 256 MiB ext4 image (139 MiB of"
	echo "files) installs in 1.0–1.5 s with 14 MB client and 57 MB service memory, after downloading"
	echo "the whole 43 MB bundle to a temporary file first (no streaming in Debian's build); and it"
	echo "accepts a downgrade from 2.0.0 to 1.0.0. pawl streams (no copy of the image anywhere) and"
	echo "refuses the downgrade."
	echo
	echo "Reproduce: \`sh bench/slot_update.sh\` (\`BENCH_RUNS\`, \`BENCH_IMAGE_MB\`, \`BENCH_SLOT_PREP=sparse|zeroed\`)."
} | tee "$report"
