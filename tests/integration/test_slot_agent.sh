#!/bin/sh
# test_slot_agent.sh - the agent in slot mode end to end (issue 18):
# pawl-repo publishes ext4 images built with mkfs.ext4 -d (release
# --image), nginx serves them on 127.0.0.1, two file-backed slots and a
# GRUB environment made with grub-editenv stand for the device, and
# bootsim (the shipped GRUB logic) boots it. The health check reads /health
# from the booted slot's file system (debugfs), so a release decides its
# own health. Checked:
#   update writes the inactive slot while the other one runs (never the
#   booted one), makes it primary, and bootsim boots it; confirm with a
#   passing health check marks it good; a release failing its health check
#   is marked bad by confirm (exit 4) and bootsim falls back; a downgrade is
#   refused (exit 5), a --recovery release is taken; a tampered pack piece
#   on the server exits 2 and leaves the old slot primary; kill -9 during
#   the write leaves the old slot booting and a re-run completes; status
#   --json shows both slots; mark-bad falls back at once; with `user =
#   nobody` (privilege separation) the update streams through the fetcher.
# Needs root (slots must be root's) and e2fsprogs, grub-editenv, nginx.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl
SIM=$BUILD/tests/integration/bootsim
MKFS=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
DEBUGFS=$(command -v debugfs || echo /sbin/debugfs)
EDITENV=/usr/bin/grub-editenv

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP slots must belong to root: run as root"
	exit 0
fi
if [ ! -x "$MKFS" ] || [ ! -x "$DEBUGFS" ] || [ ! -x "$EDITENV" ]; then
	echo "1..0 # SKIP e2fsprogs or grub-editenv missing: scripts/install-deps"
	exit 0
fi

# Every directory above a slot must be root's and writable by no one
# else, or sticky (boot_check_device, pawl.conf's slot.a/slot.b).
T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-slot-XXXXXX")
chmod 755 "$T"
NG=""
AGENT_PID=""
cleanup() {
	[ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
	[ -n "$NG" ] && sh "$SRC/tests/integration/nginx.sh" stop "$NG" >/dev/null 2>&1 || true
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$T"

. "$SRC/tests/integration/tap.sh"
. "$SRC/tests/integration/flip_byte.sh"

sha() { sha256sum "$1" | cut -c1-64; }
published() { # the file nginx serves for target PATH (consistent snapshots)
	tj=srv/metadata/$(ls srv/metadata | grep -E '^[0-9]+\.targets\.json$' | sort -n | tail -1)
	h=$(jget "$tj" "d['signed']['targets']['$1']['hashes']['sha256']")
	echo "srv/targets/$(dirname "$1")/$h.$(basename "$1")"
}
# image VERSION HEALTH [random]: an ext4 image of 3 MiB whose /health says
# HEALTH ("ok" or "broken"); random adds 1 MiB of random bytes (a pack that
# does not compress, for a slow transfer)
image() {
	rm -rf "fs-$1" && mkdir -p "fs-$1/etc"
	echo "$2" >"fs-$1/health"
	echo "os $1" >"fs-$1/etc/os-release"
	cp -R "$SRC/docs" "fs-$1/docs"
	[ "${3:-}" = random ] && head -c 1048576 /dev/urandom >"fs-$1/random"
	truncate -s 3M "img-$1.ext4"
	"$MKFS" -q -F -E root_owner=0:0 -d "fs-$1" "img-$1.ext4"
}
# release VERSION HEALTH [--recovery] [random]
release() {
	v=$1 h=$2
	shift 2
	rec="" rnd=""
	for x in "$@"; do
		case $x in --recovery) rec=--recovery ;; random) rnd=random ;; esac
	done
	image "$v" "$h" $rnd
	$R -q release repo os "$v" "img-$v.ext4" --image $rec --key targets.pem &&
		$R -q timestamp repo --key snap.pem --key ts.pem && $R -q publish repo srv
}
withdraw() {
	$R -q remove repo "os/$1/image.idx" --key targets.pem &&
		$R -q remove repo "os/$1/image.pack" --key targets.pem &&
		$R -q timestamp repo --key snap.pem --key ts.pem && $R -q publish repo srv
}
# boot: one power-on under the shipped GRUB logic; records the slot booted
boot() { "$SIM" grub "$T/grubenv" >booted.out 2>&1 && cp booted.out booted; }
booted() { cat "$T/booted"; }
# audit_has TYPE [KEY=VALUE ...]: an entry of TYPE with those fields
audit_has() {
	python3 - "$T/state/audit.log" "$@" <<'EOP'
import json, sys
want = dict(a.split('=', 1) for a in sys.argv[3:])
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get('type') == sys.argv[2] and all(str(e['fields'].get(k)) == v for k, v in want.items()):
        sys.exit(0)
sys.exit(1)
EOP
}
pawl() { "$P" --config "$T/pawl.conf" --booted-slot "$(booted)" "$@"; }
env_of() { "$EDITENV" "$T/grubenv" list | grep "^$1=" | cut -d= -f2-; }
# the slot the bootloader tries first, as status --json reports it
primary() {
	"$P" --config "$T/pawl.conf" --booted-slot "$(booted)" status --json >prim.json 2>/dev/null
	jget prim.json "d['primary']"
}

for k in root targets snap ts; do
	$R -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null
done
$R -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem
release 1.0.0 ok
set -- $(sh "$SRC/tests/integration/nginx.sh" start "$T/srv" --owner $$)
PORT=$1 NG=$2

# The device: slot a holds the factory image, slot b nothing; GRUB boots a.
image 0.1.0 ok
truncate -s 6M slot-a slot-b
dd if=img-0.1.0.ext4 of=slot-a conv=notrunc 2>/dev/null
chmod 600 slot-a slot-b
"$EDITENV" grubenv create
"$EDITENV" grubenv set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
mkdir -m 755 state

conf() { # conf FILE [TARGET_PREFIX] [EXTRA LINE]
	cat >"$1" <<EOC
app = os
metadata_url = http://127.0.0.1:$PORT/metadata/
target_base_url = http://127.0.0.1:$PORT/${2:-}targets/
trusted_root = $T/repo/root.json
state_dir = $T/state
slot.a = $T/slot-a
slot.b = $T/slot-b
bootloader = grub:$T/grubenv
health_check = d=\$(cat $T/booted); $DEBUGFS -R 'cat /health' $T/slot-\$d 2>/dev/null | grep -qx ok
health_timeout = 20
syslog = no
${3:-}
EOC
}
conf pawl.conf

ok "the factory slot boots" boot
check "... it is a" [ "$(booted)" = a ]
ok "confirm the factory slot (health ok)" pawl confirm

# ---------------------------------------------------------------- update
A0=$(sha slot-a)
ok "update writes 1.0.0" pawl update
check "update says it wrote slot b" grep -q "to slot b" out.log
check "the booted slot a was not written" [ "$(sha slot-a)" = "$A0" ]
check "slot b holds the image" cmp -s -n "$(stat -c %s img-1.0.0.ext4)" img-1.0.0.ext4 slot-b
check "GRUB tries B first (ORDER)" [ "$(env_of ORDER)" = "B A" ]
check "... and status says b is primary" [ "$(primary)" = b ]
ok "bootsim boots" boot
check "... slot b" [ "$(booted)" = b ]
ok "confirm passes the health check" pawl confirm
check "confirm says marked good" grep -q "marked good" out.log
ok "status --json" sh -c "'$P' --config '$T/pawl.conf' --booted-slot b status --json >st.json"
check "status: b holds 1.0.0, good, booted, primary" python3 -c "
import json; d=json.load(open('st.json')); b=d['slots'][1]
assert d['mode']=='slot' and d['booted']=='b' and d['pending'] is None, d
assert b['name']=='b' and b['version']=='1.0.0' and b['state']=='good' and b['booted'] and b['primary'], b"
check "status: a is the other slot, good, neither booted nor pending" python3 -c "
import json; d=json.load(open('st.json')); a=d['slots'][0]
assert a['name']=='a' and a['state']=='good' and not a['booted'] and not a['pending'], a"
ok "status (text) lists both slots" pawl status
check "... with their versions" grep -q "b  1.0.0" out.log
check "the audit log has update.start" audit_has update.start app=os mode=slot
check "... install.outcome pending_reboot 1.0.0" audit_has install.outcome outcome=pending_reboot version=1.0.0
check "... slot.switched to b" audit_has slot.switched slot=b version=1.0.0
check "... slot.confirm confirmed on b" audit_has slot.confirm outcome=confirmed slot=b
ok "nothing new: update says current" pawl update
check "... 1.0.0 is current" grep -q "1.0.0 is current" out.log

# ------------------------------------------------- a release that fails health
release 2.0.0 broken
B1=$(sha slot-b)
ok "update writes 2.0.0 into slot a" pawl update
check "the booted slot b was not written" [ "$(sha slot-b)" = "$B1" ]
ok "bootsim boots" boot
check "... slot a (2.0.0)" [ "$(booted)" = a ]
refuses "confirm: the health check fails, exit 4, reboot" 4 "reboot" pawl confirm
ok "bootsim boots" boot
check "... back to slot b: the fallback" [ "$(booted)" = b ]
ok "confirm on b" pawl confirm
ok "update does not try 2.0.0 again" pawl update
check "... 1.0.0 stays current" grep -q "1.0.0 is current" out.log
check "... slot b is still primary after it" [ "$(primary)" = b ]

# --------------------------------------------------- downgrade and recovery
withdraw 2.0.0 && withdraw 1.0.0 && release 0.9.0 ok
refuses "a downgrade to 0.9.0 is refused (exit 5)" 5 "refused os 0.9.0" pawl update
check "(the access log names the packs fetched: 1.0.0's is there)" \
	grep -q 'os/1.0.0/[^ ]*image.pack' "$NG/access.log"
check "... decided before downloading: nothing of 0.9.0 was requested" \
	sh -c "[ -s '$NG/access.log' ] && ! grep -q 'os/0.9.0/' '$NG/access.log'"
check "... slot b stays primary" [ "$(primary)" = b ]
withdraw 0.9.0 && release 0.8.0 ok --recovery
ok "a --recovery release (0.8.0) is accepted" pawl update
check "... written to slot a" grep -q "to slot a" out.log
ok "bootsim boots" boot
check "... slot a (0.8.0)" [ "$(booted)" = a ]
ok "confirm 0.8.0" pawl confirm

# ------------------------------------------------------- a tampered pack piece
release 3.0.0 ok
PACK=$(published os/3.0.0/image.pack)
flip_byte "$PACK" 100
ORDER0=$(env_of ORDER)
refuses "a tampered pack piece: exit 2" 2 "hash" pawl update
check "... the bootloader order is unchanged" [ "$(env_of ORDER)" = "$ORDER0" ]
check "... slot b is not primary: B_OK=0" [ "$(env_of B_OK)" = 0 ]
ok "bootsim boots" boot
check "... the old slot a" [ "$(booted)" = a ]
ok "confirm a" pawl confirm
flip_byte "$PACK" 100

# ----------------------------------------------------- kill -9 during the write
withdraw 3.0.0 && release 4.0.0 ok random
conf slow.conf drip/
"$P" --config "$T/slow.conf" --booted-slot a update >kill.log 2>&1 &
AGENT_PID=$!
i=0
while [ $i -lt 300 ] && ! grep -q '"journal": {' state/slots.json 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
check "the write started (journal written)" grep -q '"journal": {' state/slots.json
kill -9 "$AGENT_PID" 2>/dev/null || true
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=""
check "... killed before the switch: B is not primary" [ "$(env_of B_OK)" = 0 ]
ok "bootsim boots" boot
check "... the old slot a" [ "$(booted)" = a ]
ok "confirm a" pawl confirm
ok "a re-run completes the update" pawl update
check "... wrote slot b" grep -q "to slot b" out.log
check "... whose contents are the image" cmp -s -n "$(stat -c %s img-4.0.0.ext4)" img-4.0.0.ext4 slot-b
ok "bootsim boots" boot
check "... slot b (4.0.0)" [ "$(booted)" = b ]

# --------------------------------------------------------------- mark-bad
ok "mark-bad on b" pawl mark-bad
check "... asks for a reboot" grep -q "reboot" out.log
ok "bootsim boots" boot
check "... at once back to a" [ "$(booted)" = a ]
ok "mark-good on a" pawl mark-good
refuses "rollback is for folder mode (exit 1, says what to do)" 1 "mark-bad" pawl rollback
refuses "clear-bad is for folder mode (exit 1)" 1 "stays bad" pawl clear-bad 4.0.0

# ----------------------------------------------- privilege separation (nobody)
release 5.0.0 ok
conf psep.conf "" "user = nobody"
A1=$(sha slot-a)
ok "with user = nobody, update streams 5.0.0 through the fetcher" \
	"$P" --config "$T/psep.conf" --booted-slot a update
check "... into slot b" grep -q "to slot b" out.log
check "... the booted slot a was not written" [ "$(sha slot-a)" = "$A1" ]
check "... slot b holds the image" cmp -s -n "$(stat -c %s img-5.0.0.ext4)" img-5.0.0.ext4 slot-b
check "... the fetcher's streaming run is in the audit log, as nobody" \
	audit_has fetcher.exit user=nobody run=stream status=0
ok "bootsim boots" boot
check "... slot b (5.0.0)" [ "$(booted)" = b ]
ok "confirm 5.0.0 --json" sh -c "'$P' --config '$T/pawl.conf' --booted-slot b confirm --json >c.json"
check "... one JSON object: confirmed, slot b, no reboot" python3 -c "
import json; d=json.load(open('c.json'))
assert d['ok'] and d['command']=='confirm' and d['outcome']=='confirmed' and d['slot']=='b' and d['reboot'] is False, d"

# ------------------------------------------ a hostile fetcher's image stream
# pawl_hostile: the real agent whose fetcher breaks the DATA frames
# (hostile_fetcher.c). Each time the old slot must stay primary.
H=$BUILD/tests/integration/pawl_hostile
release 6.0.0 ok
conf fast.conf "" "user = nobody
deadline_base = 2
min_rate = 1073741824"
ok "bootsim boots" boot
ok "confirm b" pawl confirm
B2=$(sha slot-b)
refuses "the fetcher flips a byte of a piece: exit 2, the installer refuses it" 2 "hash" \
	env PAWL_HOSTILE_DATA=flip "$H" --config "$T/psep.conf" --booted-slot b update
check "... slot b still primary" [ "$(primary)" = b ]
refuses "the fetcher sends a frame of an unknown type: exit 1, killed" 1 "broke the protocol" \
	env PAWL_HOSTILE_DATA=garbage "$H" --config "$T/psep.conf" --booted-slot b update
check "... slot b still primary" [ "$(primary)" = b ]
# While it stalls, the fetcher is looked at: it holds no descriptor to a
# slot (the root side opens the slot itself).
env PAWL_HOSTILE_DATA=stall timeout 60 "$H" --config "$T/fast.conf" --booted-slot b update \
	>stall.log 2>&1 &
AGENT_PID=$!
FPID="" i=0
while [ $i -lt 100 ] && [ -z "$FPID" ]; do
	FPID=$(pgrep -u nobody -f "pawl_hostile --config $T/" | head -1) || true
	[ -n "$FPID" ] && grep -q "streaming" stall.log || FPID=""
	sleep 0.05
	i=$((i + 1))
done
check "the streaming fetcher runs as nobody" [ -n "$FPID" ]
ls -l /proc/"$FPID"/fd/ >fds.txt 2>&1 || true
# A link's target is compared whole: T's random name may itself hold
# "slot-a", and the fetcher's stderr is a file in T.
no_slot_fd() {
	grep -q . fds.txt && awk -v a="$T/slot-a" -v b="$T/slot-b" '
		$(NF - 1) == "->" && ($NF == a || $NF == b) { f = 1 }
		END { exit f }' fds.txt
}
check "... and holds no descriptor to a slot" no_slot_fd
set +e
wait "$AGENT_PID"
rc=$?
set -e
AGENT_PID=""
cp stall.log out.log
check "the fetcher stalls: the root side's deadline stops it (exit 3)" \
	sh -c "[ $rc = 3 ] && grep -q 'did not deliver' stall.log"
check "... slot b still primary" [ "$(primary)" = b ]
check "... and the booted slot b was never written" [ "$(sha slot-b)" = "$B2" ]
check "no fetcher is left running" sh -c "! pgrep -u nobody -f 'pawl_hostile --config $T/' >/dev/null"
ok "the real agent then installs 6.0.0" "$P" --config "$T/psep.conf" --booted-slot b update
check "... into slot a" grep -q "to slot a" out.log

echo "1..$n"
[ "$failed" -eq 0 ]
