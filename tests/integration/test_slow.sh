#!/bin/sh
# test_slow.sh - the transfer deadline through the programs (slow
# retrieval, issue 15): `pawl --min-rate/--deadline-base` and the agent's
# min_rate/deadline_base keys, against nginx.sh's /drip/ location, which
# sends 1,200 bytes/s: just above libpawl's default low-speed limit
# (1,024 bytes/s), so only the deadline can stop it. A small deadline
# keeps the test quick: 1 s + LENGTH at 64 KiB/s, under 2 s for the 60 KiB
# artifact, which the drip would take 50 s to deliver.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl
NGINX_SH=$SRC/tests/integration/nginx.sh

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-slow-XXXXXX")
chmod 755 "$T"
NGINX_STATE=
cleanup() {
	if [ -n "$NGINX_STATE" ]; then sh "$NGINX_SH" stop "$NGINX_STATE" || true; fi
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
cd "$T"
. "$SRC/tests/integration/tap.sh"

# within SECONDS CMD...: CMD (any outcome) ends within SECONDS.
within() {
	lim=$1
	shift
	t0=$(date +%s)
	set +e
	"$@" >out.log 2>&1
	rc=$?
	set -e
	took=$(($(date +%s) - t0))
	echo "$rc" >rc.txt
	[ "$took" -le "$lim" ] || { echo "took $took s, more than $lim" >>out.log; return 1; }
}

for k in root targets snapshot timestamp; do
	$R -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null
done
$R -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
	--timestamp-key timestamp.pem
mkdir app
head -c 57344 /dev/urandom >app/payload
tar cf app.tar -C app . # 60 KiB
$R -q release repo app 1.0.0 app.tar --key targets.pem
$R -q timestamp repo --key snapshot.pem --key timestamp.pem
$R -q publish repo srv
set -- $(sh "$NGINX_SH" start "$T/srv" --owner $$)
PORT=$1
NGINX_STATE=$2
BASE=http://127.0.0.1:$PORT
DRIP=$BASE/drip/targets/
FAST="--min-rate 65536 --deadline-base 1"

# ---------------------------------------------------------------- pawl
ok "init" $P --metadata-dir md init repo/root.json
# shellcheck disable=SC2086
check "a target dripped just above the low-speed limit is cut off at its deadline" \
	within 20 $P $FAST --metadata-dir md --metadata-url $BASE/metadata/ \
	--target-base-url $DRIP --target-dir dl --target-name app/1.0.0/app.tar download
check "... and the download fails (exit 1)" [ "$(cat rc.txt)" = 1 ]
check "... with a message naming the URL" grep -q "$DRIP" out.log
check "... and the deadline (of the last resume attempt)" \
	grep -q "too slow: not complete within its deadline of [0-9.]* s (1 s + [0-9]* bytes at 65536 bytes/s)" out.log
check "nothing was stored" [ ! -e dl/app%2F1.0.0%2Fapp.tar ]
# shellcheck disable=SC2086
check "a dripping mirror first, a good one second: downloaded from the second" \
	within 20 $P $FAST -v --metadata-dir md --metadata-url $BASE/metadata/ \
	--target-base-url $DRIP --target-base-url $BASE/targets/ --target-dir dl \
	--target-name app/1.0.0/app.tar download
check "... exit 0" [ "$(cat rc.txt)" = 0 ]
check "... after rejecting the drip for its deadline" grep -q "rejected $DRIP.*deadline of" out.log
check "... and the bytes are the release's" cmp -s dl/app%2F1.0.0%2Fapp.tar app.tar
refuses "--min-rate 0 is a usage error" 1 "min-rate takes bytes per second" \
	$P --min-rate 0 --metadata-dir md --metadata-url $BASE/metadata/ refresh
refuses "--deadline-base x is a usage error" 1 "bad --deadline-base .x. \\(SECONDS, or a number with d, h, m or s\\)" \
	$P --deadline-base x --metadata-dir md --metadata-url $BASE/metadata/ refresh
check "--help documents both" sh -c "$P --help | grep -q -- '--min-rate BPS' && $P --help | grep -q -- '--deadline-base SEC'"

# ---------------------------------------------------------------- agent
conf() { # FILE TARGET_URL...
	f=$1
	shift
	{
		echo "metadata_url = $BASE/metadata/"
		for u in "$@"; do echo "target_base_url = $u"; done
		echo "trusted_root = $T/repo/root.json"
		echo "state_dir = $T/state"
		echo "app = app"
		echo "install_dir = $T/install"
		echo "syslog = no"
		echo "min_rate = 65536"
		echo "deadline_base = 1"
	} >"$f"
}
conf drip.conf "$DRIP"
check "agent: min_rate/deadline_base cut the drip off" within 20 $P --config drip.conf update
check "... a network failure (exit 3)" [ "$(cat rc.txt)" = 3 ]
check "... naming the deadline" grep -q "deadline of" out.log
check "... and nothing is installed" [ ! -e install/current ]
$P --config drip.conf log >log.txt
check "the audit log records the rejection with its deadline" grep -q "deadline of" log.txt
conf both.conf "$DRIP" "$BASE/targets/"
check "agent: the next mirror serves the release" within 20 $P --config both.conf update
check "... installed (exit 0)" [ "$(cat rc.txt)" = 0 ]
check "... app 1.0.0 is current" [ "$(readlink install/current)" = releases/1.0.0 ]
for bad in "min_rate = 0" "min_rate = 1073741825" "deadline_base = 0" "deadline_base = 86401"; do
	{ grep -v "^min_rate\|^deadline_base" both.conf; echo "$bad"; } >bad.conf
	refuses "config: $bad is refused, naming the line" 1 "bad.conf:[0-9]+: (min_rate|deadline_base) must be" \
		$P --config bad.conf status
done

echo "1..$n"
[ "$failed" -eq 0 ]
