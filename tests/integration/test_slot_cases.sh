#!/bin/sh
# test_slot_cases.sh - the agent in slot mode, the cases test_slot_agent.sh
# does not drive (issue 18, "Fail safe at every instant" and "Boot counting
# and rollback, end to end"), each on its own simulated device (slot files,
# bootloader environment and state directory under $T/DEVICE):
#   uboot   U-Boot end to end: an fw_env.config naming a redundant
#           environment in a file (written and read here from the format,
#           as bootsim does): update, boot, confirm; a failing health check
#           (exit 4) falls back; a slot never confirmed falls back after its
#           three tries; mark-bad falls back at once;
#   custom  a boot script of docs/images.md ("A custom bootloader") over
#           state files: update, boot, confirm;
#   small   a slot smaller than the image: exit 1 naming the slot and both
#           sizes, bootloader and slot untouched;
#   full    a sparse slot file on a small tmpfs: exit 1 "no space left"
#           (fallocate at open finds it, before the first byte is written),
#           bootloader untouched, old slot boots; freeing space, a re-run
#           completes;
#   wrong   slot.b a directory, a link in nobody's directory, a file in
#           nobody's directory, a file nobody owns, slot.a itself, a hard
#           link to slot.a, a missing file: exit 1, a message naming
#           slot.b (pawl.conf's reader refuses them, before the slot code
#           runs), nothing written, bootloader and state untouched;
#   kill    kill -9 during the switch (the boot script holds in
#           set-primary), before it lands: the old slot boots and a re-run
#           completes; after it lands: the new slot, written and verified,
#           boots and a re-run finishes the commit.
# Needs root (slots must be root's), e2fsprogs, grub-editenv, nginx.
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
	echo "1..0 # SKIP slots must belong to root (and tmpfs needs mount): run as root"
	exit 0
fi
if [ ! -x "$MKFS" ] || [ ! -x "$DEBUGFS" ] || [ ! -x "$EDITENV" ]; then
	echo "1..0 # SKIP e2fsprogs or grub-editenv missing: scripts/install-deps"
	exit 0
fi

# Every directory above a slot must be root's and writable by no one else.
T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-slotcases-XXXXXX")
chmod 755 "$T"
NG=""
AGENT_PID=""
HELD=""
MNT=""
cleanup() {
	[ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
	for p in $HELD; do kill -9 "$p" 2>/dev/null || true; done
	[ -n "$NG" ] && sh "$SRC/tests/integration/nginx.sh" stop "$NG" >/dev/null 2>&1 || true
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null || true
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$T"

. "$SRC/tests/integration/tap.sh"

sha() { sha256sum "$1" | cut -c1-64; }
# image VERSION HEALTH: a 3 MiB ext4 image whose /health says HEALTH
image() {
	rm -rf "fs-$1" && mkdir -p "fs-$1/etc"
	echo "$2" >"fs-$1/health"
	echo "os $1" >"fs-$1/etc/os-release"
	cp -R "$SRC/docs" "fs-$1/docs"
	truncate -s 3M "img-$1.ext4"
	"$MKFS" -q -F -E root_owner=0:0 -d "fs-$1" "img-$1.ext4"
}
release() {
	image "$1" "$2"
	$R -q release repo os "$1" "img-$1.ext4" --image --key targets.pem &&
		$R -q timestamp repo --key snap.pem --key ts.pem && $R -q publish repo srv
}

# uenv create FILE VAR=VALUE...: a redundant U-Boot environment of two
# 0x4000 copies in FILE, copy 0 valid (flag 1), copy 1 never written (a bad
# CRC). uenv get FILE NAME: NAME's value in the copy in force, chosen as
# U-Boot (and bootsim) choose it: a good CRC, then the newer flag byte.
uenv() {
	python3 - "$@" <<'EOP'
import struct, sys, zlib
SIZE = 0x4000
cmd, f = sys.argv[1], sys.argv[2]
if cmd == 'create':
    data = b''.join(a.encode() + b'\0' for a in sys.argv[3:]) + b'\0'
    data = data.ljust(SIZE - 5, b'\0')
    open(f, 'wb').write(struct.pack('<IB', zlib.crc32(data), 1) + data + b'\xff' * SIZE)
    sys.exit(0)
b = open(f, 'rb').read()
cps = []
for i in range(2):
    c = b[i * SIZE:(i + 1) * SIZE]
    crc, fl = struct.unpack('<IB', c[:5])
    cps.append((zlib.crc32(c[5:]) == crc, fl, c[5:]))
if cps[0][0] and not cps[1][0]:
    cur = 0
elif cps[1][0] and not cps[0][0]:
    cur = 1
else:
    f0, f1 = cps[0][1], cps[1][1]
    cur = 1 if f1 > f0 else 0
    if f0 == 0xff and f1 == 0:
        cur = 1
    elif f1 == 0xff and f0 == 0:
        cur = 0
if not cps[cur][0]:
    sys.exit('no valid copy')
for e in cps[cur][2].split(b'\0'):
    if not e:
        break
    k, _, v = e.decode().partition('=')
    if k == sys.argv[3]:
        print(v)
        sys.exit(0)
print('')
EOP
}

# The custom boot script of docs/images.md over state files in its own
# directory (primary, state_a, state_b). With hold-before (or hold-after)
# present there, set-primary writes its pid and its sleep's to "held" and
# waits before (after) changing anything: the test kills the agent there.
custom_script() { # DIR
	cat >"$1/boot-script" <<EOS
#!/bin/sh
d='$1'
hold() { sleep 120 & echo "\$\$ \$!" >"\$d/held.new"; mv "\$d/held.new" "\$d/held"; wait; }
case "\$1" in
get-primary) cat "\$d/primary" ;;
set-primary)
	[ -f "\$d/hold-before" ] && hold
	echo "\$2" >"\$d/primary"; echo good >"\$d/state_\$2"
	[ -f "\$d/hold-after" ] && hold
	: ;;
get-state) cat "\$d/state_\$2" ;;
set-state) echo "\$3" >"\$d/state_\$2" ;;
get-current) cat "\$d/current" ;;
*) exit 1 ;;
esac
EOS
	chmod 755 "$1/boot-script"
	echo a >"$1/primary"
	echo good >"$1/state_a"
	echo bad >"$1/state_b"
}

# device NAME BOOTLOADER [SLOT_B]: a fresh device in $T/NAME, made the
# current one (DEV): slot a holds the factory image 0.1.0, slot b 6 MiB of
# zeros; BOOTLOADER is grub, uboot or custom, set up to boot slot a.
device() {
	DEV=$T/$1
	mkdir -m 755 "$DEV" "$DEV/state"
	truncate -s 6M "$DEV/slot-a" "$DEV/slot-b"
	dd if=img-0.1.0.ext4 of="$DEV/slot-a" conv=notrunc 2>/dev/null
	chmod 600 "$DEV/slot-a" "$DEV/slot-b"
	echo "$2" >"$DEV/kind"
	case $2 in
	grub)
		"$EDITENV" "$DEV/grubenv" create
		"$EDITENV" "$DEV/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
		BL=grub:$DEV/grubenv ENV=$DEV/grubenv ;;
	uboot)
		uenv create "$DEV/uboot.env" "bootcmd=run pawl_boot" "BOOT_ORDER=A B" \
			BOOT_A_LEFT=3 BOOT_B_LEFT=0
		printf '# test device\n%s 0x0000 0x4000\n%s 0x4000 0x4000\n' \
			"$DEV/uboot.env" "$DEV/uboot.env" >"$DEV/fw_env.config"
		BL=uboot:$DEV/fw_env.config ENV=$DEV/uboot.env ;;
	custom)
		mkdir -m 755 "$DEV/cb"
		custom_script "$DEV/cb"
		BL=custom:$DEV/cb/boot-script ENV=$DEV/cb/primary ;;
	esac
	conf "$DEV/pawl.conf" "${3:-$DEV/slot-b}"
	echo a >"$DEV/booted"
}
conf() { # conf FILE SLOT_B
	cat >"$1" <<EOC
app = os
metadata_url = http://127.0.0.1:$PORT/metadata/
target_base_url = http://127.0.0.1:$PORT/targets/
trusted_root = $T/repo/root.json
state_dir = $DEV/state
slot.a = $DEV/slot-a
slot.b = $2
bootloader = $BL
health_check = d=\$(cat $DEV/booted); $DEBUGFS -R 'cat /health' $DEV/slot-\$d 2>/dev/null | grep -qx ok
health_timeout = 20
syslog = no
EOC
}

# boot: one power-on of the current device; records the slot booted.
# GRUB and U-Boot: bootsim runs the shipped logic. custom: the primary
# slot if good, else the other one if good (what a custom bootloader
# following the script's answers would do).
boot() {
	case $(cat "$DEV/kind") in
	grub) "$SIM" grub "$DEV/grubenv" >"$DEV/booted.out" 2>&1 ;;
	uboot) "$SIM" uboot "$DEV/fw_env.config" >"$DEV/booted.out" 2>&1 ;;
	custom)
		p=$(cat "$DEV/cb/primary")
		[ "$p" = a ] && o=b || o=a
		if [ "$(cat "$DEV/cb/state_$p")" = good ]; then echo "$p"
		elif [ "$(cat "$DEV/cb/state_$o")" = good ]; then echo "$o"
		else echo none; return 2; fi >"$DEV/booted.out"
		cp "$DEV/booted.out" "$DEV/cb/current" ;;
	esac || return $?
	cp "$DEV/booted.out" "$DEV/booted"
}
booted() { cat "$DEV/booted"; }
pawl() { "$P" --config "$DEV/pawl.conf" --booted-slot "$(booted)" "$@"; }
uvar() { uenv get "$DEV/uboot.env" "$1"; }
# audit_has TYPE [KEY=VALUE ...]: the current device's audit log has an
# entry of TYPE with those fields
audit_has() {
	python3 - "$DEV/state/audit.log" "$@" <<'EOP'
import json, sys
want = dict(a.split('=', 1) for a in sys.argv[3:])
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get('type') == sys.argv[2] and all(str(e['fields'].get(k)) == v for k, v in want.items()):
        sys.exit(0)
sys.exit(1)
EOP
}
holds_image() { cmp -s -n "$(stat -c %s "img-$1.ext4")" "img-$1.ext4" "$2"; }
# boots_as N SLOT: N power-ons in a row, each booting SLOT
boots_as() {
	i=0
	while [ $i -lt "$1" ]; do
		boot && [ "$(booted)" = "$2" ] || return 1
		i=$((i + 1))
	done
}

for k in root targets snap ts; do
	$R -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null
done
$R -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snap.pem \
	--timestamp-key ts.pem
image 0.1.0 ok
release 1.0.0 ok
set -- $(sh "$SRC/tests/integration/nginx.sh" start "$T/srv" --owner $$)
PORT=$1 NG=$2

# ================================================================ U-Boot
device uboot uboot
ok "uboot: the factory slot boots" boot
check "... it is a" [ "$(booted)" = a ]
check "... one try spent (BOOT_A_LEFT=2)" [ "$(uvar BOOT_A_LEFT)" = 2 ]
ok "uboot: confirm a" pawl confirm
check "... gives a its 3 tries back" [ "$(uvar BOOT_A_LEFT)" = 3 ]
A0=$(sha "$DEV/slot-a")
ok "uboot: update writes 1.0.0" pawl update
check "... to slot b" grep -q "to slot b" out.log
check "... slot a untouched" [ "$(sha "$DEV/slot-a")" = "$A0" ]
check "... slot b holds the image" holds_image 1.0.0 "$DEV/slot-b"
check "... BOOT_ORDER is \"B A\"" [ "$(uvar BOOT_ORDER)" = "B A" ]
check "... BOOT_B_LEFT is 3" [ "$(uvar BOOT_B_LEFT)" = 3 ]
ok "uboot: bootsim boots" boot
check "... slot b" [ "$(booted)" = b ]
ok "uboot: confirm b (health ok)" pawl confirm
check "... slot b is marked good (the message names it)" grep -q "in slot b passed its health check and is marked good" out.log
check "... the audit log names slot b" audit_has slot.confirm outcome=confirmed slot=b
check "... BOOT_B_LEFT back to 3" [ "$(uvar BOOT_B_LEFT)" = 3 ]
ok "uboot: b boots again after confirm" boots_as 1 b

release 2.0.0 broken
ok "uboot: update writes 2.0.0 (health broken)" pawl update
check "... to slot a" grep -q "to slot a" out.log
ok "uboot: bootsim boots" boot
check "... slot a" [ "$(booted)" = a ]
refuses "uboot: confirm fails the health check: exit 4, reboot" 4 "reboot" pawl confirm
check "... slot a taken out of BOOT_ORDER" [ "$(uvar BOOT_ORDER)" = "B" ]
ok "uboot: bootsim boots" boot
check "... back to slot b" [ "$(booted)" = b ]
ok "uboot: confirm b" pawl confirm

release 3.0.0 ok
ok "uboot: update writes 3.0.0" pawl update
check "... to slot a" grep -q "to slot a" out.log
ok "uboot: never confirmed, a boots three times" boots_as 3 a
check "... and has no tries left (BOOT_A_LEFT=0)" [ "$(uvar BOOT_A_LEFT)" = 0 ]
ok "uboot: the fourth power-on" boot
check "... falls back to b" [ "$(booted)" = b ]
ok "uboot: confirm on b" pawl confirm
check "... says the bootloader fell back from 3.0.0" grep -q "fell back from 3.0.0" out.log
ok "uboot: update does not take 3.0.0 again" pawl update
check "... 1.0.0 is current" grep -q "1.0.0 is current" out.log

release 4.0.0 ok
ok "uboot: update writes 4.0.0" pawl update
check "... to slot a" grep -q "to slot a" out.log
ok "uboot: bootsim boots" boot
check "... slot a" [ "$(booted)" = a ]
ok "uboot: mark-bad on a" pawl mark-bad
check "... asks for a reboot" grep -q "reboot" out.log
check "... BOOT_A_LEFT=0" [ "$(uvar BOOT_A_LEFT)" = 0 ]
ok "uboot: bootsim boots" boot
check "... at once back to b" [ "$(booted)" = b ]

# ================================================================ custom
device custom custom
ok "custom: the factory slot boots" boot
check "... a" [ "$(booted)" = a ]
ok "custom: confirm a" pawl confirm
ok "custom: update writes 4.0.0" pawl update
check "... to slot b" grep -q "to slot b" out.log
check "... slot b holds the image" holds_image 4.0.0 "$DEV/slot-b"
check "... the script was told: primary b, b good" \
	sh -c "[ \"\$(cat '$DEV/cb/primary')\" = b ] && [ \"\$(cat '$DEV/cb/state_b')\" = good ]"
ok "custom: boots" boot
check "... slot b" [ "$(booted)" = b ]
ok "custom: confirm b" pawl confirm
check "... slot b is marked good (the message names it)" grep -q "in slot b passed its health check and is marked good" out.log
ok "custom: status --json" sh -c "'$P' --config '$DEV/pawl.conf' --booted-slot b status --json >st.json"
check "... b holds 4.0.0, good, primary" python3 -c "
import json; d=json.load(open('st.json')); b=d['slots'][1]
assert b['version']=='4.0.0' and b['state']=='good' and b['primary'] and d['pending'] is None, d"

# ======================================== a slot smaller than the image
device small grub
truncate -s 1M "$DEV/slot-b"
ok "small: the factory slot boots" boot
ok "small: confirm a" pawl confirm
E0=$(sha "$ENV") B0=$(sha "$DEV/slot-b") A0=$(sha "$DEV/slot-a")
refuses "small: slot b of 1 MiB for a 3 MiB image: exit 1, the slot and both sizes" 1 \
	"slot $DEV/slot-b has 1048576 bytes; the image needs 3145728" pawl update
check "... the GRUB environment is byte for byte the same" [ "$(sha "$ENV")" = "$E0" ]
check "... slot b untouched (refused before the first byte)" [ "$(sha "$DEV/slot-b")" = "$B0" ]
check "... slot a untouched" [ "$(sha "$DEV/slot-a")" = "$A0" ]
ok "small: bootsim boots" boot
check "... the old slot a" [ "$(booted)" = a ]

# ================================================================ full disk
# Slot b is a sparse 6 MiB file on an 8 MiB tmpfs that a 6 MiB filler
# leaves 2 MiB free: the 3 MiB image does not fit.
mkdir -m 755 "$T/fullmnt"
mount -t tmpfs -o size=8M,mode=755 pawl-test "$T/fullmnt"
MNT=$T/fullmnt
truncate -s 6M "$MNT/slot-b"
chmod 600 "$MNT/slot-b"
head -c 6291456 /dev/zero >"$MNT/filler"
device full grub "$MNT/slot-b"
check "full: slot b is sparse (6 MiB, no blocks)" \
	sh -c "[ \$(stat -c %s '$MNT/slot-b') = 6291456 ] && [ \$(stat -c %b '$MNT/slot-b') = 0 ]"
check "... and the free space is under the image's 3 MiB" \
	sh -c "[ \$(df -B1 --output=avail '$MNT' | tail -1) -lt 3145728 ]"
ok "full: the factory slot boots" boot
ok "full: confirm a" pawl confirm
E0=$(sha "$ENV") A0=$(sha "$DEV/slot-a")
refuses "full: exit 1, no space left on the slot's file system" 1 \
	"no space left on the file system of slot $MNT/slot-b" pawl update
check "... the GRUB environment is byte for byte the same" [ "$(sha "$ENV")" = "$E0" ]
check "... slot a untouched" [ "$(sha "$DEV/slot-a")" = "$A0" ]
check "... slot b still has no blocks" [ "$(stat -c %b "$MNT/slot-b")" = 0 ]
ok "full: bootsim boots" boot
check "... the old slot a" [ "$(booted)" = a ]
ok "full: confirm a" pawl confirm
rm -f "$MNT/filler"
ok "full: with space freed, a re-run writes 4.0.0" pawl update
check "... to slot b" grep -q "to slot b" out.log
check "... which holds the image" holds_image 4.0.0 "$MNT/slot-b"
ok "full: bootsim boots" boot
check "... slot b" [ "$(booted)" = b ]
umount "$MNT"
MNT=""

# ======================================================= wrong slot devices
device wrong grub
ok "wrong: the factory slot boots" boot
ok "wrong: confirm a" pawl confirm
mkdir -m 755 "$DEV/dir" "$DEV/nob"
ln -s "$DEV/slot-b" "$DEV/nob/link"
truncate -s 6M "$DEV/nob/file" "$DEV/slot-nobody"
chmod 600 "$DEV/nob/file" "$DEV/slot-nobody"
chown nobody "$DEV/nob" "$DEV/slot-nobody"
ln "$DEV/slot-a" "$DEV/slot-a-link"
# wrong WHAT SLOT_B PATTERN: refused with exit 1, nothing written
wrong() {
	conf "$DEV/wrong.conf" "$2"
	E0=$(sha "$ENV") A0=$(sha "$DEV/slot-a") B0=$(sha "$DEV/slot-b")
	S0=$(sha "$DEV/state/slots.json")
	refuses "wrong: slot b $1: exit 1" 1 "$3" \
		"$P" --config "$DEV/wrong.conf" --booted-slot a update
	check "... the GRUB environment, slot a and slot-b untouched" \
		[ "$(sha "$ENV")$(sha "$DEV/slot-a")$(sha "$DEV/slot-b")" = "$E0$A0$B0" ]
	check "... the slot state unchanged" [ "$(sha "$DEV/state/slots.json")" = "$S0" ]
}
wrong "a directory" "$DEV/dir" "slot.b: $DEV/dir: $DEV/dir is not a block device or regular file"
wrong "a symbolic link in nobody's directory" "$DEV/nob/link" \
	"slot.b: $DEV/nob/link: directory $DEV/nob is owned by uid $(id -u nobody), not root"
wrong "a file in nobody's directory" "$DEV/nob/file" \
	"slot.b: $DEV/nob/file: directory $DEV/nob is owned by uid $(id -u nobody), not root"
wrong "a file nobody owns" "$DEV/slot-nobody" \
	"slot.b: $DEV/slot-nobody: $DEV/slot-nobody is owned by uid $(id -u nobody), not root"
check "... (still nobody's, still zeros)" \
	sh -c "[ \$(stat -c %U '$DEV/slot-nobody') = nobody ] && cmp -s '$DEV/slot-nobody' '$DEV/slot-b'"
wrong "slot a itself" "$DEV/slot-a" "slot.a and slot.b are the same file \\($DEV/slot-a\\)"
wrong "a hard link to slot a" "$DEV/slot-a-link" "slot.a and slot.b are the same file"
wrong "missing" "$DEV/nothing" "slot.b: $DEV/nothing: cannot resolve .*No such file"
ok "wrong: bootsim boots" boot
check "... the old slot a" [ "$(booted)" = a ]

# ======================================== kill -9 during the switch
# The boot script holds in set-primary; the agent is killed there.
# hold_and_kill WHEN: run update with hold-WHEN, kill -9 the agent inside
# set-primary, then the script and its sleep (by pid).
hold_and_kill() {
	rm -f "$DEV/cb/held"
	touch "$DEV/cb/hold-$1"
	"$P" --config "$DEV/pawl.conf" --booted-slot "$(booted)" update >"$DEV/kill.log" 2>&1 &
	AGENT_PID=$!
	i=0
	while [ $i -lt 600 ] && [ ! -s "$DEV/cb/held" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	HELD=$(cat "$DEV/cb/held" 2>/dev/null || true)
	kill -9 "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=""
	for p in $HELD; do kill -9 "$p" 2>/dev/null || true; done
	rm -f "$DEV/cb/hold-$1"
	[ -n "$HELD" ]
}
device kill custom
ok "kill: the factory slot boots" boot
ok "kill: confirm a" pawl confirm
ok "kill: update held in set-primary before it lands, killed -9" hold_and_kill before
check "... the agent was inside the switch (journal written, slot b complete)" \
	sh -c "grep -q '\"journal\": {' '$DEV/state/slots.json' && cmp -s -n 3145728 img-4.0.0.ext4 '$DEV/slot-b'"
check "... primary is still a, b still bad" \
	sh -c "[ \"\$(cat '$DEV/cb/primary')\" = a ] && [ \"\$(cat '$DEV/cb/state_b')\" = bad ]"
ok "kill: boots" boot
check "... the old slot a" [ "$(booted)" = a ]
ok "kill: a re-run completes the update" pawl update
check "... wrote slot b again" grep -q "wrote os 4.0.0 to slot b" out.log
check "... the interrupted write is in the audit log" audit_has install.recovered outcome=interrupted
ok "kill: boots" boot
check "... slot b (4.0.0)" [ "$(booted)" = b ]
ok "kill: confirm b" pawl confirm

release 5.0.0 ok
ok "kill: update held in set-primary after it landed, killed -9" hold_and_kill after
check "... primary is a, good: the switch landed" \
	sh -c "[ \"\$(cat '$DEV/cb/primary')\" = a ] && [ \"\$(cat '$DEV/cb/state_a')\" = good ]"
check "... and slot a holds all of 5.0.0 (verified before the switch)" \
	holds_image 5.0.0 "$DEV/slot-a"
ok "kill: a re-run finishes the commit" pawl update
check "... 5.0.0 waits for a reboot in slot a" \
	grep -q "5.0.0 is written to slot a already and waits for a reboot" out.log
check "... recovered as switched (audit log)" audit_has install.recovered outcome=pending_reboot version=5.0.0
ok "kill: boots" boot
check "... slot a (5.0.0)" [ "$(booted)" = a ]
ok "kill: confirm a" pawl confirm
check "... 5.0.0 marked good" grep -q "5.0.0 in slot a passed its health check" out.log

echo "1..$n"
[ "$failed" -eq 0 ]
