#!/bin/sh
# repo-add.sh - how long pawl-repo takes to add N small targets as one
# batch and publish them, next to sha256sum over the same files (the floor:
# every file must be read and hashed once) and cp -r (the content store
# must hold a copy of every file).
#
#   sh bench/repo-add.sh [N] [BUILD] [RUNS]   (N defaults to 100000, RUNS to 1)
#
# Prints one line per step with wall-clock seconds, for each of RUNS runs
# over the same files (fresh workspaces each time; "# run K" before each
# run when RUNS > 1). bench/run reads these lines. Uses a temporary
# directory under $TMPDIR (or /tmp) and removes it afterwards.
#
# Nothing is deleted between runs: each run writes to directories of its
# own. On ext4 without a journal (the development VM's root file system),
# inodes freed in the last 60 s (360 s while their inode-table block is
# dirty) are skipped, one buffer-cache lookup each, when a new inode is
# allocated (recently_deleted() in fs/ext4/ialloc.c), so creating 100,000
# files right after deleting 400,000 took 40-60 s of kernel time instead
# of 5.
set -eu
N=${1:-100000}
RUNS=${3:-1}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${2:-$SRC/build}" && pwd)
R=$BUILD/pawl-repo
[ -x "$R" ] || { echo "repo-add.sh: build first ($R missing)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-bench-repo-XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T"

now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

# N files of 64..575 bytes in 100 directories, made by one awk process.
mkdir -p files
awk -v n="$N" 'BEGIN {
	for (d = 0; d < 100; d++) system("mkdir -p files/d" d);
	for (i = 0; i < n; i++) {
		f = sprintf("files/d%d/pkg-%06d.bin", i % 100, i);
		printf "package %d ", i > f;
		for (k = 0; k < 64 + (i * 7919) % 512; k++) printf "%c", 97 + (i + k) % 26 > f;
		close(f);
	}
}'
du -sh files | awk '{ print "# " $1 " in files/" }'
for k in root targets snap ts; do "$R" -q keygen --out $k.pem --no-passphrase >/dev/null; done
run=1
while [ "$run" -le "$RUNS" ]; do
ws=ws.$run ws2=ws2.$run out=out.$run copy=files-copy.$run
"$R" -q init $ws --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem
"$R" -q init $ws2 --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem
sync

t0=$(now)
find files -type f -print0 | xargs -0 sha256sum >/dev/null
t1=$(now)
"$R" -q add $ws --from-dir files --key targets.pem
sync
t2=$(now)
"$R" -q timestamp $ws --key snap.pem --key ts.pem
t3=$(now)
"$R" -q publish $ws $out
t4=$(now)
"$R" -q add $ws extra/one.bin files/d0/pkg-000000.bin --key targets.pem
t5=$(now)
"$R" verify $out --root $ws/root.json --downloads 1000 >/dev/null
t6=$(now)
"$R" -q add $ws2 --from-dir files --link --key targets.pem
sync
t7=$(now)
cp -r files $copy
sync
t8=$(now)

[ "$RUNS" -gt 1 ] && echo "# run $run"
echo "targets: $N ($(wc -c <$ws/metadata/targets.json) bytes of targets.json)"
echo "sha256sum over the files:         $(secs $t0 $t1) s"
echo "cp -r of the files (+ sync):      $(secs $t7 $t8) s   (creating N files: the floor for a copy)"
echo "pawl-repo add (one batch):        $(secs $t1 $t2) s   (read, hash, copy into the store, sign, sync)"
echo "pawl-repo add --link (one batch): $(secs $t6 $t7) s   (read, hash, hard-link into the store, sign)"
echo "pawl-repo timestamp:              $(secs $t2 $t3) s"
echo "pawl-repo publish:                $(secs $t3 $t4) s   (copy + re-hash every target, write metadata)"
echo "pawl-repo add (1 more target):    $(secs $t4 $t5) s   (load, change and sign the big role)"
echo "pawl-repo verify:                 $(secs $t5 $t6) s   (every file re-hashed, 1000 through the client)"
run=$((run + 1))
done
