#!/bin/sh
# test_repo_audit.sh - the publisher's audit log (REPO/audit.log) through the
# pawl-repo CLI: a full workflow records every kind of event with its
# fields, `log --json` is JSON Lines, `log verify` passes; then each kind of
# tampering fails verify: an edited, a deleted, a reordered entry, and a
# truncated tail even with audit.head rewritten to match (the anchor that
# state.json keeps catches it, and the next command records it). Also: a
# batch add is one entry whose list hash anyone can recompute, failures are
# logged (wrong passphrase, refused publish), syslog gets a copy unless
# --no-syslog, and a removed log starts anew with a record of the anchor.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-repo-audit-XXXXXX")
LISTENER=
cleanup() {
	if [ -n "$LISTENER" ]; then kill "$LISTENER" 2>/dev/null || true; fi
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
cd "$T"
# No test writes to the machine's syslog: a socket of our own, or none.
export PAWL_SYSLOG_SOCKET="$T/no-syslog-here"

. "$SRC/tests/integration/tap.sh"
# has DESC PATTERN: the last `log` output (log.txt) has a line matching PATTERN.
has() {
	if grep -qE -- "$2" log.txt; then pass "$1"; else
		flunk "$1 (no line matches /$2/)"
		sed 's/^/#   /' log.txt | tail -20
	fi
}
count() { grep -cE -- "$1" log.txt || true; }
py() { python3 -c "$@"; }

echo "correct horse battery staple" >pass.txt
echo "wrong passphrase" >wrong.txt
$R -q keygen --out root.pem --passphrase-file pass.txt >root.id
for k in targets snap ts dev targets2; do $R -q keygen --out $k.pem --no-passphrase >$k.id; done
R1=$(cat root.id)
TG=$(cat targets.id)

# ---------------------------------------------------------------- a full workflow
ok "init" $R init ws --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem --passphrase-file pass.txt
printf 'app 1.0\n' >app1.bin
ok "add one target" $R add ws app/1.0/app.bin app1.bin --key targets.pem
mkdir batch
i=0
while [ $i -lt 40 ]; do echo "file $i" >batch/f$i.txt; i=$((i + 1)); done
ok "add 40 targets as one batch" $R add ws --from-dir batch --prefix pkg --key targets.pem
ok "remove a target" $R remove ws pkg/f7.txt --key targets.pem
ok "delegate to dev" $R delegate ws dev --key dev.pub --path 'plugins/*' --sign-key targets.pem
ok "sign the delegated role" $R sign ws dev --key dev.pem
refuses "a wrong passphrase is refused" 1 "wrong passphrase" \
	$R sign ws root --key root.pem --passphrase-file wrong.txt
ok "expire: targets 30 days" $R expire ws targets 30 --key targets.pem
ok "timestamp" $R timestamp ws --key snap.pem --key ts.pem
ok "publish" $R publish ws out
ok "rotate the targets key" $R rotate ws targets --old-key targets.pub --new-key targets2.pem \
	--key root.pem --key targets2.pem --passphrase-file pass.txt
refuses "publish refuses a stale snapshot" 1 "refusing to publish" $R publish ws out
ok "timestamp after the rotation" $R timestamp ws --key snap.pem --key ts.pem
ok "publish the rotation" $R publish ws out

ok "log" sh -c "$R log ws >log.txt"
for ev in command init sign targets.add targets.remove delegate expire snapshot timestamp \
	rotate root.ready publish failure; do
	has "log shows a $ev entry" "^#[0-9]+ [0-9TZ:-]+ $ev( |\$)"
done
has "sign: role, version, full key id, signer kind file, key file" \
	"sign key=root.pem keyid=$R1 role=root signer=file version=1"
has "sign: the targets key too" "sign key=targets.pem keyid=$TG role=targets signer=file"
has "command: which command and which user" "command name=publish .*uid=[0-9]+ user="
has "one target: path, length and sha256 listed" \
	"targets.add bytes=8 count=1 .*\"path\\\\\":\\\\\"app/1.0/app.bin\\\\\".*\"sha256\\\\\":\\\\\"$(sha256sum app1.bin | cut -c1-64)"
has "removal: the removed target's hash" "targets.remove count=1 .*pkg/f7.txt.*$(sha256sum batch/f7.txt | cut -c1-64)"
has "delegation: keys, threshold, paths" "delegate from=targets .*keyids=.*$(cat dev.id).*paths=.*plugins/\\*.*role=dev .*threshold=1"
has "rotation: removed and added key ids, new root version" \
	"rotate added=.*$(cat targets2.id).*in=root in_version=2 .*removed=.*$TG.*role=targets"
has "expire: period and renewed version" "expire expires=.* period_s=2592000 renewed=true role=targets version="
has "timestamp: versions and the snapshot's hash" "timestamp expires=.* new_snapshot=true snapshot_length=[0-9]+ snapshot_sha256=[0-9a-f]{64} snapshot_version=[0-9]+ version=[0-9]+"
has "publish: versions and the timestamp's hash" "publish consistent_snapshot=true .*outdir=$T/out roles=[0-9]+ root=2 .*timestamp_sha256=$(sha256sum out/metadata/timestamp.json | cut -c1-64)"
has "a wrong passphrase is logged" "failure command=sign error=.* reason=.*root.pem.*wrong passphrase"
has "a refused publish is logged with its reason" "failure command=publish .*reason=\"refusing to publish"
check "the 40-file batch is one entry, with the count and no per-target list" \
	sh -c "grep -E 'targets.add .*count=40 ' log.txt | grep -qv 'targets='"
list=$(cd batch && for f in *; do printf 'pkg/%s\t%s\n' "$f" "$(sha256sum "$f" | cut -c1-64)"; done |
	LC_ALL=C sort | sha256sum | cut -c1-64)
has "list_sha256 = sha256 of the sorted PATH<TAB>SHA256 lines (recomputed here)" \
	"targets.add bytes=[0-9]+ count=40 list_sha256=$list "
check "entries of one command are contiguous and start with a command entry" \
	py 'import json,sys
e=[json.loads(l) for l in open("ws/audit.log")]
cur=None
for x in e[1:]:
    if x["type"]=="command": cur=x["fields"]["name"]
    elif cur is None: sys.exit(1)
    elif x["type"]=="failure" and x["fields"]["command"]!=cur: sys.exit(1)'

ok "log --json" sh -c "$R log ws --json >log.json"
check "--json is JSON Lines (python json.loads on every line)" \
	sh -c "python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <log.json"
check "--json: the same entries as the log file" cmp -s log.json ws/audit.log
check "--json: seq, time, type, fields, prev" py 'import json
for i,l in enumerate(open("log.json")):
    d=json.loads(l); assert d["seq"]==i and set(d)=={"seq","time","type","fields","prev"}'
ok "log --since 1h" sh -c "$R log ws --since 1h | grep -q publish"
ok "log verify: intact" $R log ws verify
check "log verify names the anchor state.json keeps" grep -q "anchor: state.json names entry" out.log
check "state.json keeps the last entry as the anchor" py 'import json
s=json.load(open("ws/state.json"))["audit"]; h=json.load(open("ws/audit.head"))
assert s==h, (s,h)'
check "the log is not world-readable" [ "$(stat -c %a ws/audit.log)" = 640 ]
ok "pawl-repo --help lists log" sh -c "$R --help | grep -q '^  log '"
ok "log --help" sh -c "$R log --help | grep -q 'usage: pawl-repo log REPO'"
refuses "log with a bad action is a usage error" 64 "only .verify" $R log ws frobnicate
a=$(wc -l <ws/audit.log)
$R status ws >/dev/null 2>&1 || true
check "status (read-only) does not write the log" [ "$(wc -l <ws/audit.log)" = "$a" ]

# ---------------------------------------------------------------- syslog
# A datagram socket of our own stands in for /dev/log.
python3 - "$T/syslog.sock" "$T/syslog.txt" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")
EOF
LISTENER=$!
i=0
while [ ! -e "$T/syslog.sock.ready" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
before=$(wc -l <ws/audit.log)
ok "timestamp with syslog on (the default)" env PAWL_SYSLOG_SOCKET="$T/syslog.sock" \
	$R timestamp ws --key snap.pem --key ts.pem
sleep 0.3
check "every new entry went to syslog" [ "$(wc -l <syslog.txt)" -eq $(($(wc -l <ws/audit.log) - before)) ]
check "syslog lines: facility authpriv, ident pawl-repo, seq, type and hash" \
	grep -qE '^<85>.* pawl-repo\[[0-9]+\]: audit seq=[0-9]+ type=timestamp hash=[0-9a-f]{64}' syslog.txt
lines=$(wc -l <syslog.txt)
before=$(wc -l <ws/audit.log)
ok "timestamp --no-syslog" env PAWL_SYSLOG_SOCKET="$T/syslog.sock" \
	$R timestamp ws --key snap.pem --key ts.pem --no-syslog
ok "pawl-repo --no-syslog COMMAND" env PAWL_SYSLOG_SOCKET="$T/syslog.sock" \
	$R --no-syslog timestamp ws --key snap.pem --key ts.pem
sleep 0.3
check "--no-syslog: nothing sent to syslog" [ "$(wc -l <syslog.txt)" -eq "$lines" ]
check "--no-syslog: the file log still has the entries" [ "$(wc -l <ws/audit.log)" -gt "$before" ]
kill "$LISTENER" 2>/dev/null || true
LISTENER=
ok "publish" $R publish ws out
ok "log verify after all that" $R log ws verify

# ---------------------------------------------------------------- tampering
nl=$(wc -l <ws/audit.log)

cp -a ws t-edit
sed -i '3s/"threshold":1/"threshold":0/' t-edit/audit.log
check "(the edit changed the init entry)" sh -c '! cmp -s ws/audit.log t-edit/audit.log'
refuses "verify catches an edited entry (exit 2)" 2 "FAILED.*edited" $R log t-edit verify

cp -a ws t-del
sed -i '6d' t-del/audit.log
refuses "verify catches a deleted entry" 2 "FAILED.*deleted" $R log t-del verify

cp -a ws t-swap
sed -i '7{h;d};8G' t-swap/audit.log
refuses "verify catches reordered entries" 2 "FAILED.*(reordered|edited|deleted)" $R log t-swap verify

# Cut the last three entries and write the head the chain alone would
# accept: only the anchor in state.json still knows.
cut_tail() { # DIR
	head -n $((nl - 3)) "$1/audit.log" >"$1/audit.log.new"
	mv "$1/audit.log.new" "$1/audit.log"
	python3 - "$1" <<'EOF'
import hashlib, json, sys
d = sys.argv[1]
lines = open(d + "/audit.log", "rb").read().split(b"\n")[:-1]
last = json.loads(lines[-1])
first = json.loads(lines[0])
head = {"hash": hashlib.sha256(lines[-1]).hexdigest(), "log": first["fields"]["log"], "seq": last["seq"]}
open(d + "/audit.head", "w").write(json.dumps(head, separators=(",", ":"), sort_keys=True) + "\n")
EOF
}
cp -a ws t-trunc
cut_tail t-trunc
refuses "verify catches a truncated tail, even with audit.head rewritten to match" 2 \
	"FAILED.*truncated" $R log t-trunc verify
cp -a t-trunc t-noanchor
python3 - t-noanchor/state.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); del d["audit"]; json.dump(d, open(sys.argv[1], "w"))
EOF
refuses "(without the anchor the rewritten head hides the cut: the anchor is what catches it)" 0 \
	"intact" $R log t-noanchor verify
ok "a command on the truncated workspace still works" $R timestamp t-trunc --key snap.pem --key ts.pem
check "it warned" grep -q "does not hold the entry state.json names" out.log
ok "log" sh -c "$R log t-trunc >log.txt"
has "and recorded the cut as log.damaged, with the anchor it could not find" \
	"log.damaged anchor_hash=[0-9a-f]{64} anchor_log=[0-9a-f]{32} anchor_seq=$((nl - 1)) .*problem=truncated"
refuses "verify afterwards: the chain is intact, the recorded damage is reported (exit 6)" 6 \
	"log.damaged" $R log t-trunc verify

cp -a ws t-gone
rm t-gone/audit.log t-gone/audit.head
refuses "verify of a removed log fails: the anchor names entries that are gone (exit 2)" 2 "FAILED.*missing" $R log t-gone verify
ok "a command on it starts a new log" $R timestamp t-gone --key snap.pem --key ts.pem
ok "log" sh -c "$R log t-gone >log.txt"
has "the new log records the anchor of the log that is gone" \
	"anchor.other-log anchor_hash=[0-9a-f]{64} anchor_log=[0-9a-f]{32} anchor_seq=$((nl - 1)) log=[0-9a-f]{32} reason=.* started=true"
ok "the new log verifies" $R log t-gone verify

# The offline signing ceremony copies state.json (and with it the online
# log's anchor) to a machine with a log of its own, again and again: that is
# recorded, not an incident.
mkdir offline
cp -a ws/metadata ws/config.json ws/state.json offline/
ok "expire on the offline copy (a first ceremony)" $R expire offline targets 30 --key targets2.pem
cp ws/state.json offline/
ok "a second ceremony over the same offline log" $R expire offline targets 31 --key targets2.pem
ok "log" sh -c "$R log offline >log.txt"
has "the offline log records the online log's anchor (started=false the second time)" \
	"anchor.other-log .* started=false"
ok "verify on the offline machine: intact, exit 0" $R log offline verify

ok "the untouched log still verifies" $R log ws verify

echo "1..$n"
[ $failed -eq 0 ]
