#!/bin/sh
# test_agent.sh - the update agent end to end: pawl-repo publishes releases,
# nginx serves them on 127.0.0.1, `pawl --config FILE update` installs
# them. Every refusal has a case here, with its documented exit code:
#   0 updated/current, 2 verification, 3 network, 4 health (rolled back),
#   5 refused (downgrade, bad release, non-recovery rollback).
# Run as root (CI is) it also checks privilege separation with `nobody`.
set -u

src=${PAWL_SRCDIR:?}
build=${PAWL_BUILDDIR:?}
P="$build/pawl"
R="$build/pawl-repo"
work=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-agent-XXXXXX)
chmod 755 "$work"
state=""
fails=0
passes=0

cleanup() {
	[ -n "$state" ] && sh "$src/tests/integration/nginx.sh" stop "$state" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { passes=$((passes + 1)); echo "ok - $1"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $1"; [ -f "$work/err" ] && sed 's/^/#   /' "$work/err"; }
# expect CODE NAME CMD...: run CMD, compare its exit code
expect() {
	want=$1; name=$2; shift 2
	"$@" >"$work/out" 2>"$work/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else not_ok "$name (exit $got, want $want)"; fi
}
has() { # has FILE PATTERN NAME
	if grep -q -- "$2" "$1"; then ok "$3"; else not_ok "$3"; echo "#   no '$2' in:"; sed 's/^/#   /' "$1"; fi
}
current() { readlink "$work/install/current"; }

cd "$work" || exit 1
for k in root targets snapshot timestamp; do
	"$R" -q keygen --type ed25519 --out "$k.pem" --no-passphrase || exit 1
done
"$R" -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
	--timestamp-key timestamp.pem || exit 1

# release VERSION [recovery] [broken]: build and publish demo VERSION
# (built once: a published release is immutable, so releasing it again,
# say as a recovery release, must give the very same bytes)
release() {
	v=$1; rec=${2:-false}; d="$work/src-$v"
	if [ ! -e "$work/demo-$v.tar.gz" ]; then
		mkdir -p "$d"
		echo "demo $v" > "$d/VERSION"
		[ "${3:-}" = broken ] && touch "$d/BROKEN"
		tar czf "$work/demo-$v.tar.gz" -C "$d" .
	fi
	recflag=""
	[ "$rec" = true ] && recflag=--recovery
	# shellcheck disable=SC2086
	"$R" -q release repo demo "$v" "$work/demo-$v.tar.gz" $recflag --key targets.pem &&
	"$R" -q timestamp repo --key snapshot.pem --key timestamp.pem &&
	"$R" -q publish repo srv
}
withdraw() {
	"$R" -q remove repo "demo/$1/demo-$1.tar.gz" --key targets.pem &&
	"$R" -q timestamp repo --key snapshot.pem --key timestamp.pem &&
	"$R" -q publish repo srv
}

release 1.0.0 || exit 1
set -- $(sh "$src/tests/integration/nginx.sh" start "$work/srv" --owner $$)
port=$1; state=$2

privsep=""
[ "$(id -u)" = 0 ] && privsep="user = nobody"
cat > agent.conf <<EOC
# demo agent
metadata_url = http://127.0.0.1:$port/metadata/
target_base_url = http://127.0.0.1:$port/targets/
trusted_root = $work/repo/root.json
state_dir = $work/state
app = demo
install_dir = $work/install
health_check = test ! -e $work/install/current/BROKEN
health_timeout = 10
syslog = no
$privsep
EOC

# ---- pawl-repo release ----
expect 64 "release refuses a version that is not SemVer (a usage error)" "$R" release repo demo 1.0 "$work/demo-1.0.0.tar.gz"
expect 64 "release refuses an APP with a slash" "$R" release repo de/mo 1.0.1 "$work/demo-1.0.0.tar.gz"

# ---- install, update, current ----
expect 0 "first update installs 1.0.0" "$P" --config agent.conf update
old_ts=$(cat srv/metadata/timestamp.json) # replayed later
[ "$(current)" = releases/1.0.0 ] && ok "current -> releases/1.0.0" || not_ok "current is $(current)"
has "$work/install/current/VERSION" "demo 1.0.0" "the release's files are in place"
expect 0 "nothing new: current" "$P" --config agent.conf update
has "$work/err" "is current" "says it is current"
release 2.0.0
expect 0 "update to 2.0.0" "$P" --config agent.conf update --json
has "$work/out" '"outcome":"installed"' "--json reports the outcome"
[ "$(current)" = releases/2.0.0 ] && ok "current -> releases/2.0.0" || not_ok "current is $(current)"
expect 0 "status" "$P" --config agent.conf status --json
has "$work/out" '"installed":"2.0.0"' "status: installed 2.0.0"
has "$work/out" '"previous":"1.0.0"' "status: previous 1.0.0"
has "$work/out" '"highest":"2.0.0"' "status: highest 2.0.0"

# ---- health check fails: rolled back, marked bad, not retried ----
release 3.0.0 false broken
expect 4 "a failing health check exits 4" "$P" --config agent.conf update
has "$work/err" "failed its health check" "names the failed health check"
[ "$(current)" = releases/2.0.0 ] && ok "rolled back to 2.0.0" || not_ok "current is $(current)"
expect 0 "the bad release is not retried" "$P" --config agent.conf update
has "$work/err" "skipped demo 3.0.0: it is marked bad" "update says it skipped the bad release, naming it"
has "$work/err" "pawl --config agent.conf clear-bad 3.0.0" "... and how to clear the mark"
expect 0 "update --json lists what it skipped" "$P" --config agent.conf update --json
has "$work/out" '"skipped_bad":\["3.0.0"\]' '... as "skipped_bad"'
"$P" --config agent.conf log > "$work/log.txt"
has "$work/log.txt" "release.skipped .*version=3.0.0" "... and the audit log records it"
expect 0 "status lists it as bad" "$P" --config agent.conf status --json
has "$work/out" '"bad":\["3.0.0"\]' "3.0.0 is marked bad"
expect 0 "status (text)" "$P" --config agent.conf status
has "$work/out" "^bad: *3.0.0" "shows it"
has "$work/out" "clear-bad VERSION" "... and the command that clears the mark"
expect 1 "clear-bad of a version that is not marked bad" "$P" --config agent.conf clear-bad 2.0.0
has "$work/err" "demo 2.0.0 is not marked bad (marked bad: 3.0.0)" "says so, listing what is"
expect 0 "clear-bad 3.0.0" "$P" --config agent.conf clear-bad 3.0.0 --json
has "$work/out" '"cleared":"3.0.0"' "--json says what it cleared"
"$P" --config agent.conf log > "$work/log.txt"
has "$work/log.txt" "install.clear_bad .*version=3.0.0" "the audit log records it"
expect 0 "status: no longer bad" "$P" --config agent.conf status --json
has "$work/out" '"bad":\[\]' "the mark is gone"
expect 4 "the next update tries 3.0.0 again (and its health check fails again)" "$P" --config agent.conf update
[ "$(current)" = releases/2.0.0 ] && ok "rolled back to 2.0.0 again" || not_ok "current is $(current)"

# ---- downgrade refused, rollback refused, recovery allowed ----
withdraw 3.0.0
withdraw 2.0.0
expect 5 "a lower release that is not a recovery is refused" "$P" --config agent.conf update
has "$work/err" "refused" "says refused"
[ "$(current)" = releases/2.0.0 ] && ok "2.0.0 stays" || not_ok "current is $(current)"
expect 5 "rollback to a non-recovery release is refused" "$P" --config agent.conf rollback
has "$work/err" "not signed as a recovery" "says why"
release 1.0.0 true
expect 0 "rollback to a recovery release" "$P" --config agent.conf rollback
[ "$(current)" = releases/1.0.0 ] && ok "rolled back to 1.0.0" || not_ok "current is $(current)"

# ---- verification failures: exit 2, nothing installed ----
release 4.0.0
cp -r srv srv.good
tgt=$(find srv/targets/demo/4.0.0 -type f | head -1)
printf 'tampered' >> "$tgt"
expect 2 "a tampered artifact is refused (exit 2)" "$P" --config agent.conf update
has "$work/err" "length\|hash" "names the length or hash mismatch"
[ "$(current)" = releases/1.0.0 ] && ok "nothing changed after a refusal" || not_ok "current is $(current)"
rm -rf srv && mv srv.good srv
expect 0 "the good artifact installs" "$P" --config agent.conf update
# SemVer build metadata has no precedence: 4.0.0+evil is not newer than
# 4.0.0, and the message names what is installed, not the other.
release 4.0.0+evil
expect 0 "4.0.0+evil after 4.0.0: nothing to do" "$P" --config agent.conf update
has "$work/err" "demo 4.0.0 is installed; 4.0.0+evil has the same version precedence and is not newer" \
	"names what is installed"
[ "$(current)" = releases/4.0.0 ] && ok "4.0.0 stays" || not_ok "current is $(current)"
expect 0 "... --json" "$P" --config agent.conf update --json
has "$work/out" '"current":"4.0.0","offered":"4.0.0+evil"' "--json: current 4.0.0, offered 4.0.0+evil"
withdraw 4.0.0+evil
release 5.0.0
printf '%s' "$old_ts" > srv/metadata/timestamp.json
expect 2 "a replayed old timestamp is refused (exit 2)" "$P" --config agent.conf update
has "$work/err" "rollback\|older" "names the rollback"
"$R" -q publish repo srv

# ---- network failure: exit 3 ----
sed "s#127.0.0.1:$port#127.0.0.1:1#" agent.conf > agent-down.conf
expect 3 "an unreachable repository exits 3" "$P" --config agent-down.conf update

# ---- configuration: the shipped example parses; errors name the line ----
expect 0 "the shipped example config is valid" "$P" --config "$src/deploy/examples/pawl.conf" status
has "$work/out" "no update of example-app has been checked" "status reads it (and says nothing has run yet)"
# ---- configuration errors ----
printf 'bogus = 1\n' > bad.conf
expect 1 "an unknown config key is an error" "$P" --config bad.conf status
has "$work/err" 'unknown key "bogus"' "names the key and line"
{ cat agent.conf; echo "max_delegations = 64"; } > deleg.conf
expect 0 "max_delegations = 64 is accepted" "$P" --config deleg.conf status
for v in 0 100001 x; do
	{ cat agent.conf; echo "max_delegations = $v"; } > deleg.conf
	expect 1 "max_delegations = $v is an error" "$P" --config deleg.conf status
	has "$work/err" "deleg.conf:[0-9]*: max_delegations must be" "names the file, line and range ($v)"
done

# ---- privilege separation ----
if [ -n "$privsep" ]; then
	expect 0 "update with privilege separation" "$P" --config agent.conf update
	nobody=$(id -u nobody)
	"$P" --config agent.conf log > "$work/log.txt"
	# The uid the root side gave the fetcher, not one the fetcher reported.
	has "$work/log.txt" "fetcher.exit gid=$(id -g nobody) .*uid=$nobody user=nobody" "the fetcher ran as nobody"
	owner=$(stat -c %U "$work/state/work/mirror/metadata/timestamp.json")
	[ "$owner" = nobody ] && ok "what the fetcher wrote belongs to nobody" || not_ok "owner $owner"
	owner=$(stat -c %U "$work/state/metadata/timestamp.json")
	[ "$owner" = root ] && ok "trusted metadata belongs to root" || not_ok "owner $owner"
	# A state_dir that others can write is refused before anything runs.
	chmod g+w "$work/state"
	expect 1 "a group-writable state_dir is refused" "$P" --config agent.conf update
	has "$work/err" "must belong to root and be writable by no one else" "says why and how to fix it"
	chmod g-w "$work/state"
	# A compromised fetcher that plants a forged artifact in its mirror
	# gets nothing installed: the root side verifies on its own.
	release 6.0.0
	chmod 000 "$work/state/work" # the fetcher can no longer write: it must fail
	expect 1 "a fetcher that cannot work fails the update" "$P" --config agent.conf update
	chmod 755 "$work/state/work"
else
	echo "ok - privilege separation skipped: not root # SKIP"
fi

# ---- the audit log ----
expect 0 "log verify: intact" "$P" --config agent.conf log verify
"$P" --config agent.conf log > "$work/log.txt"
for ev in update.start download install.outcome verified rejected agent.exit; do
	has "$work/log.txt" "$ev" "audit log records $ev"
done
sed -i 's/"outcome":"installed"/"outcome":"INSTALLED"/' "$work/state/audit.log"
expect 2 "log verify detects an edited entry (exit 2, verification)" "$P" --config agent.conf log verify

# ---- crash injection: kill -9 at many points, current is always whole ----
# The kill instants are spread over the length of a normal update, measured
# first, so that they land before, during and after the switch whatever the
# machine's speed; a round of 30 is repeated (up to 3) until at least one
# kill has left an install journal for the next run to recover.
rm -rf "$work/state" "$work/install"
# A health check that takes a moment widens the window in which a release
# is switched to but not yet confirmed, the most delicate state.
sed -i "s#^health_check = .*#health_check = sleep 0.2; test ! -e $work/install/current/BROKEN#" agent.conf
release 7.0.0 >/dev/null 2>&1
t0=$(date +%s%N)
"$P" -q --config agent.conf update >/dev/null 2>&1
t1=$(date +%s%N)
span_ms=$(( (t1 - t0) / 1000000 ))
[ "$span_ms" -lt 50 ] && span_ms=50
echo "# a whole update takes ${span_ms} ms here"
i=1
crashes=0
round=0
recovered=0
while [ $round -lt 3 ] && [ "$recovered" -lt 1 ]; do
	n=0
	while [ $n -lt 30 ]; do
		release "7.0.$i" >/dev/null 2>&1
		"$P" -q --config agent.conf update >/dev/null 2>&1 &
		pid=$!
		sleep "$(awk -v n=$n -v s=$span_ms 'BEGIN { printf "%.3f", (n / 30.0) * s * 1.2 / 1000 }')"
		kill -9 $pid 2>/dev/null && crashes=$((crashes + 1))
		wait $pid 2>/dev/null
		if [ -L "$work/install/current" ]; then
			v=$(readlink "$work/install/current" | sed 's#releases/##')
			if ! grep -q "demo $v" "$work/install/current/VERSION" 2>/dev/null; then
				not_ok "after kill -9 #$i current -> $v is not a complete release"
			fi
		fi
		i=$((i + 1))
		n=$((n + 1))
	done
	round=$((round + 1))
	expect 0 "after round $round of kills an update recovers and completes" "$P" --config agent.conf update
	recovered=$("$P" --config agent.conf log | grep -c "install.recovered")
done
last=$((i - 1))
[ "$(current)" = "releases/7.0.$last" ] && ok "the newest release is installed after recovery" || not_ok "current is $(current)"
has "$work/install/current/VERSION" "demo 7.0.$last" "its files are whole"
echo "# $crashes of $((i - 1)) updates were killed mid-flight; $recovered left a journal to recover"
[ "$recovered" -ge 1 ] && ok "some kills landed mid-install and were recovered" || not_ok "no kill landed mid-install"
expect 0 "log verify after the crashes" "$P" --config agent.conf log verify

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
