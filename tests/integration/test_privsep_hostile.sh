#!/bin/sh
# test_privsep_hostile.sh - a compromised fetcher against the root side
# (issue 17): the fetcher's stream is hostile, and nothing it says about
# itself or its run is believed unless the whole stream is well-formed and
# agrees with its exit status.
#
# pawl_hostile is the real agent with the fetcher's message writer wrapped
# (hostile_fetcher.c): the child refreshes and downloads a real, signed
# release 2.0.0 into its mirror as nobody, then PAWL_HOSTILE=MODE makes it
# lie about the outcome or break the protocol. Had the root side believed
# any part of such a stream, it would go on and install 2.0.0 (the bytes in
# the mirror are genuine). What must hold for every mode:
#  - exit 1 (the shared table: a failure of the fetcher, a local process),
#    with a message that says what was wrong;
#  - nothing installed: current stays releases/1.0.0, no releases/2.0.0;
#  - no escape byte from the fetcher reaches the terminal;
#  - the audit log names the uid root gave the fetcher, and no record the
#    fetcher forged in a malformed stream.
# Then the control: a well-formed stream with an extra "rejected" record
# installs 2.0.0, and that record is in the log under the fetcher's name.
# Needs root (CI runs as root); otherwise a TAP skip.
set -u

src=${PAWL_SRCDIR:?}
build=${PAWL_BUILDDIR:?}
P="$build/pawl"
H="$build/tests/integration/pawl_hostile"
R="$build/pawl-repo"

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root: the agent's fetcher runs as nobody"
	exit 0
fi
if ! getent passwd nobody >/dev/null; then
	echo "1..0 # SKIP needs the nobody user"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-hostile-XXXXXX)
chmod 755 "$work"
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP
cd "$work" || exit 1
. "$src/tests/integration/tap.sh"

for k in root targets snapshot timestamp; do
	"$R" -q keygen --type ed25519 --out "$k.pem" --no-passphrase >/dev/null || exit 1
done
"$R" -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
	--timestamp-key timestamp.pem || exit 1
release() { # VERSION
	d="$work/src-$1"
	mkdir -p "$d"
	echo "demo $1" >"$d/VERSION"
	tar czf "$work/demo-$1.tar.gz" -C "$d" . &&
		"$R" -q release repo demo "$1" "$work/demo-$1.tar.gz" --key targets.pem &&
		"$R" -q timestamp repo --key snapshot.pem --key timestamp.pem &&
		"$R" -q publish repo srv
}
release 1.0.0 || exit 1
cat >agent.conf <<EOC
metadata_url = file://$work/srv/metadata/
target_base_url = file://$work/srv/targets/
trusted_root = $work/repo/root.json
state_dir = $work/state
app = demo
install_dir = $work/install
syslog = no
user = nobody
EOC

ok "pawl_hostile without a mode is pawl: it installs 1.0.0" "$H" --config agent.conf update
check "current -> releases/1.0.0" [ "$(readlink install/current)" = releases/1.0.0 ]
release 2.0.0 || exit 1

nobody=$(id -u nobody)
esc=$(printf '\033')
bel=$(printf '\007')
for mode in silent ok-exit1 error-exit0 twice truncated trailing data badcode escape oversize \
	forged flood; do
	case $mode in
	silent) why="exited without saying how its run ended" ;;
	ok-exit1) why="fetcher failed \\(status" ;;
	error-exit0) why="reported a failure \\(hash.*\\) but exited with status 0" ;;
	twice) why="broke the protocol: .*after the outcome" ;;
	truncated) why="broke the protocol: .*ends inside it" ;;
	trailing) why="broke the protocol: .*unknown type 127" ;;
	data) why="broke the protocol: .*\\(data\\): not taken" ;;
	badcode) why="broke the protocol: .*code out of range" ;;
	escape) why="broke the protocol: .*control character" ;;
	oversize) why="broke the protocol: .*more than the 65536 a data message may hold" ;;
	forged) why="broke the protocol: .*the stream ends inside it" ;;
	flood) why="broke the protocol: .*more than 4096 rejected files" ;;
	esac
	PAWL_HOSTILE=$mode refuses "$mode: the update fails (exit 1), saying why" 1 "$why" \
		"$H" --config agent.conf update
	cp out.log "run-$mode.log"
	check "$mode: nothing installed" sh -c \
		'[ "$(readlink install/current)" = releases/1.0.0 ] && [ ! -e install/releases/2.0.0 ]'
	check "$mode: no escape byte from the fetcher on the terminal" \
		sh -c "! grep -q '[$esc$bel]' run-$mode.log"
done

"$P" --config agent.conf log >log.txt 2>&1
check "the audit log has each failure (step fetch)" \
	[ "$(grep -c 'agent.failure.*step=fetch' log.txt)" -ge 12 ]
grep ' fetcher\.exit ' log.txt | tail -n 1 | sed 's/^/# /'
check "every fetcher.exit names the uid root gave it" \
	sh -c "[ \$(grep -c ' fetcher\.exit ' log.txt) -ge 13 ] && ! grep ' fetcher\.exit ' log.txt | grep -qv 'gid=$(id -g nobody) .*uid=$nobody user=nobody'"
check "no record forged in a malformed stream reached the log" \
	sh -c "! grep -q 'FORGED-RECORD\\|http://flood/' log.txt"
check "no escape byte reached the log" sh -c "! grep -q '[$esc$bel]' state/audit.log"

# The control: a well-formed stream, with one extra record, is taken.
PAWL_HOSTILE=record ok "a well-formed stream: 2.0.0 is installed" "$H" --config agent.conf update
check "current -> releases/2.0.0" [ "$(readlink install/current)" = releases/2.0.0 ]
check "with the published content" grep -qx "demo 2.0.0" install/current/VERSION
"$P" --config agent.conf log >log.txt 2>&1
check "its record is logged as the fetcher's (fetcher.rejected, side unprivileged)" \
	grep -q 'fetcher.rejected.*FORGED-RECORD.*side=unprivileged\|fetcher.rejected.*side=unprivileged.*FORGED-RECORD' log.txt

echo "1..$n"
[ "$failed" -eq 0 ]
