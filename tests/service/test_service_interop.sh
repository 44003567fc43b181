#!/bin/sh
# test_service_interop.sh - pawl-repod's published metadata in other
# clients' hands, and across key ceremonies (TAP).
#
#  - build/pawl, tuf-js (the TUF client of npm and sigstore-js, installed
#    with `npm ci` from tests/service/tufjs/package-lock.json) and
#    securesystemslib (the reference implementation's crypto layer, through
#    tests/integration/tuf_interop.py, on `pawl-repod export`) all verify
#    what the service publishes, and all refuse a copy in which one signed
#    entry was changed, or a root from another ceremony;
#  - `pawl-repod export` makes a mirror that serves clients, and refuses to
#    overwrite a signed version that differs;
#  - rotations done with pawl-repo are picked up: root keys, then targets
#    keys (a new targets version), then the timestamp key moved into a
#    PKCS#11 token (SoftHSM2) that the instances were configured with
#    beforehand; every client follows each new root;
#  - a new root is not served until a timestamp was published under it.
#
# 1,024 bins instead of service-up's 16,384: tuf-js (every version through
# 6.0.2) builds the snapshot's "meta" with an object spread inside
# reduce(), which is quadratic in the number of entries: a 16,384-bin
# snapshot takes it about two minutes of CPU to load here (docs/service.md,
# "Clients"). The format does not depend on the number of bins.
#
# tuf-js needs node and npm (scripts/install-deps installs them); its
# checks are skipped, with the reason, only when npm cannot reach the
# registry. Everything this test starts is stopped by pid on exit.
set -u

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${PAWL_BUILDDIR:-$SRC/build}
export PAWL_BUILDDIR=$B
PAWL=$B/pawl
REPO=$B/pawl-repo
REPOD=$B/pawl-repod
T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-svci.XXXXXX")
S=$T/svc
chmod 711 "$T" # the service runs as nobody when the test is root
PSQL=/usr/lib/postgresql/15/bin/psql
MODULE=${PAWL_TEST_SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
bgpids=""

cleanup() {
	trap '' INT TERM
	for p in $bgpids; do kill "$p" 2>/dev/null; done
	for p in $bgpids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	done
	[ -d "$S" ] && sh "$SRC/scripts/service-down" "$S" >/dev/null 2>&1
	cd /
	if [ "${PAWL_KEEP:-}" = 1 ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$T"
. "$SRC/tests/integration/tap.sh"
diag() { echo "# $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

if [ "$(id -u)" -eq 0 ]; then
	AS="setpriv --reuid=nobody --regid=$(id -gn nobody) --clear-groups --"
	RUSER=nobody
else
	AS=""
	RUSER=$(id -un)
fi
pick_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
PORT=$(pick_port)
URL=http://127.0.0.1:$PORT
MURL=$URL/metadata/

if ! PAWL_SERVICE_BINS=1024 sh "$SRC/scripts/service-up" "$S" "$PORT" >up.out 2>up.err; then
	flunk "service-up"
	sed 's/^/# /' up.err
	echo "1..$n"
	exit 1
fi
pass "service-up with 1,024 bins"
TOKEN=$(cat "$S/token")
repod() { $AS "$REPOD" --config "$S/repod-1.conf" "$@"; }
psql_q() { $AS "$PSQL" -h "$S/pg" -U pawl -d pawl -tAq -c "$1"; }

# ---- a web server for the artifacts and the mirror ----
mkdir -p www/targets www/mirror
chown "$RUSER" www/mirror
WPORT=$(pick_port)
python3 -m http.server --bind 127.0.0.1 "$WPORT" --directory "$T/www" >www.log 2>&1 &
bgpids="$bgpids $!"
WURL=http://127.0.0.1:$WPORT
i=0
until curl -fsS -o /dev/null "$WURL/" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || break
	sleep 0.1
done

# publish PATH CONTENT: the file under www/targets (and its consistent-
# snapshot name), then POST it and wait for SUCCESS.
post_json() { # BODY_FILE -> task id
	curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data-binary "@$1" "$URL/api/v1/artifacts" >post.out &&
		jget post.out 'd["data"]["task_id"]'
}
wait_task() {
	i=0
	while [ $i -lt 300 ]; do
		curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/task?task_id=$1" >task.json
		case "$(jget task.json 'd["data"]["state"]' 2>/dev/null)" in
		SUCCESS) return 0 ;;
		ERRORED | FAILURE) return 1 ;;
		esac
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}
publish() {
	mkdir -p "www/targets/$(dirname "$1")"
	printf '%s' "$2" >"www/targets/$1"
	h=$(sha256sum "www/targets/$1" | cut -c1-64)
	cp "www/targets/$1" "www/targets/$(dirname "$1")/$h.$(basename "$1")"
	python3 -c 'import json, sys
print(json.dumps({"artifacts": [{"path": sys.argv[1], "info": {"length": int(sys.argv[2]),
    "hashes": {"sha256": sys.argv[3]}, "custom": {"by": "interop"}}}]}))' \
		"$1" "$(wc -c <"www/targets/$1")" "$h" >add.json
	id=$(post_json add.json) && wait_task "$id"
}
ok "publish app/1.0/app.tar.gz" publish app/1.0/app.tar.gz "app one"
ok "publish lib/lib.so" publish lib/lib.so "lib"

# ---- pawl ----
pawl_get() { # METADATA_DIR METADATA_URL PATH...
	pg_d=$1 pg_u=$2
	shift 2
	pg_args=""
	for pg_p in "$@"; do pg_args="$pg_args --target-name $pg_p"; done
	rm -rf "$pg_d.dl"
	# shellcheck disable=SC2086
	"$PAWL" --metadata-dir "$pg_d" --metadata-url "$pg_u" $pg_args --target-base-url "$WURL/targets/" \
		--target-dir "$pg_d.dl" download
}
ok "pawl init" "$PAWL" --metadata-dir pm init "$S/root.json"
ok "pawl verifies and downloads from the service" pawl_get pm "$MURL" app/1.0/app.tar.gz lib/lib.so
check "pawl got the published bytes" cmp -s pm.dl/app%2F1.0%2Fapp.tar.gz www/targets/app/1.0/app.tar.gz

# ---- tuf-js ----
TJ=$B/tufjs-interop
TJOK=""
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	[ "$(id -u)" -eq 0 ] && sh "$SRC/scripts/install-deps" >install-deps.log 2>&1
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	flunk "node and npm are installed (scripts/install-deps: nodejs npm)"
else
	mkdir -p "$TJ"
	cp "$SRC/tests/service/tufjs/client.mjs" "$TJ/"
	if [ -d "$TJ/node_modules/tuf-js" ] && cmp -s "$SRC/tests/service/tufjs/package-lock.json" "$TJ/package-lock.json"; then
		TJOK=1
	else
		cp "$SRC/tests/service/tufjs/package.json" "$SRC/tests/service/tufjs/package-lock.json" "$TJ/"
		if (cd "$TJ" && timeout 300 npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier \
			--cache "$TJ/.npm-cache") >npm.log 2>&1; then
			TJOK=1
		elif ! (cd "$TJ" && timeout 60 npm view --cache "$TJ/.npm-cache" tuf-js@3.1.0 version) >/dev/null 2>&1; then
			TJOK=offline
		else
			sed 's/^/# /' npm.log | tail -n 20
			flunk "npm ci installs tuf-js from tests/service/tufjs/package-lock.json"
		fi
	fi
fi
tufjs() { # METADATA_DIR METADATA_URL PATH...
	tj_d=$1 tj_u=$2
	shift 2
	rm -rf "$tj_d.dl"
	mkdir -p "$tj_d.dl"
	node "$TJ/client.mjs" "$tj_d" "$tj_u" "$tj_d.dl" "$WURL/targets/" "$@" >tufjs.out 2>&1
	tj_rc=$?
	cat tufjs.out
	return $tj_rc
}
tj() { # DESC CMD... (skipped when npm could not reach the registry)
	if [ "$TJOK" = 1 ]; then
		ok "$@"
	elif [ "$TJOK" = offline ]; then
		skip "$1" "npm cannot reach the registry to install tuf-js"
	else
		flunk "$1 (tuf-js is not installed)"
	fi
}
tj_refuses() { # DESC CMD...
	if [ "$TJOK" = 1 ]; then
		tr_d=$1
		shift
		if "$@" >out.log 2>&1; then flunk "$tr_d"; else pass "$tr_d ($(tail -n 1 out.log))"; fi
	else
		tj "$1" true
	fi
}
mkdir -p tm
cp "$S/root.json" tm/root.json
tj "tuf-js verifies the service's metadata and downloads through the bins" \
	tufjs tm "$MURL" app/1.0/app.tar.gz lib/lib.so
[ "$TJOK" = 1 ] && check "tuf-js got the published bytes" \
	cmp -s tm.dl/app%2F1.0%2Fapp.tar.gz www/targets/app/1.0/app.tar.gz

# A root from another ceremony: every client refuses the service's files.
mkdir -p other
for k in root targets snapshot timestamp; do
	"$REPO" -q keygen --out "other/$k.pem" --no-passphrase >/dev/null
done
"$REPO" -q --no-syslog init other/ws --root-key other/root.pem --targets-key other/targets.pem \
	--snapshot-key other/snapshot.pem --timestamp-key other/timestamp.pem >/dev/null 2>&1
mkdir -p om
cp other/ws/root.json om/root.json
tj_refuses "tuf-js refuses the service's metadata under another ceremony's root" \
	tufjs om "$MURL" app/1.0/app.tar.gz
"$PAWL" --metadata-dir pom init other/ws/root.json >/dev/null 2>&1
if pawl_get pom "$MURL" app/1.0/app.tar.gz >out.log 2>&1; then
	flunk "pawl refuses it too"
else pass "pawl refuses it too"; fi

# ---- export, securesystemslib, a tampered mirror ----
SSL_PY=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import securesystemslib' 2>/dev/null; then SSL_PY=$py; break; fi
done
ssl() { # DESC DIR
	if [ -n "$SSL_PY" ]; then
		ok "$1" "$SSL_PY" "$SRC/tests/integration/tuf_interop.py" "$2"
	else
		skip "$1" "python3-securesystemslib is not installed"
	fi
}
ok "pawl-repod export --current writes a static mirror" repod export --current "$T/www/mirror"
check "the mirror has timestamp.json, the root, snapshot, targets and 1,024 bins" \
	[ "$(find www/mirror -name '*.json' | wc -l)" -eq 1028 ]
ssl "securesystemslib verifies every signature of the service's files (1,024 bins)" www/mirror
"$PAWL" --metadata-dir pm2 init "$S/root.json" >/dev/null 2>&1
ok "pawl verifies and downloads from the exported mirror" pawl_get pm2 "$WURL/mirror/" lib/lib.so
mkdir -p tm2
cp "$S/root.json" tm2/root.json
tj "tuf-js verifies and downloads from the exported mirror" tufjs tm2 "$WURL/mirror/" lib/lib.so
ok "export again: nothing to write" repod export --current "$T/www/mirror"
grep -q "0 files written" out.log && pass "... every file was already there" || flunk "... every file was already there"

# One signed entry changed in the mirror's bin of app/1.0/app.tar.gz.
BIN=$(python3 - "$T/www/mirror" <<'EOF'
import hashlib, json, os, sys
m = sys.argv[1]
ts = json.load(open(os.path.join(m, "timestamp.json")))
sv = ts["signed"]["meta"]["snapshot.json"]["version"]
snap = json.load(open(os.path.join(m, "%d.snapshot.json" % sv)))
b = int.from_bytes(hashlib.sha256(b"app/1.0/app.tar.gz").digest()[:4], "big") >> (32 - 10)
name = "bins-%03x" % b
print("%d.%s.json" % (snap["signed"]["meta"][name + ".json"]["version"], name))
EOF
)
cp -r www/mirror tampered
chown -R "$RUSER" tampered
python3 - "tampered/$BIN" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["signed"]["targets"]["app/1.0/app.tar.gz"]["length"] += 1
json.dump(d, open(sys.argv[1], "w"))
EOF
mv www/mirror www/good && mv tampered www/mirror
rm -rf pm2 tm2
"$PAWL" --metadata-dir pm2 init "$S/root.json" >/dev/null 2>&1
if pawl_get pm2 "$WURL/mirror/" app/1.0/app.tar.gz >out.log 2>&1; then
	flunk "pawl refuses a bin whose signed entry was changed"
else pass "pawl refuses a bin whose signed entry was changed"; fi
mkdir -p tm2
cp "$S/root.json" tm2/root.json
tj_refuses "tuf-js refuses it" tufjs tm2 "$WURL/mirror/" app/1.0/app.tar.gz
if [ -n "$SSL_PY" ]; then
	if "$SSL_PY" "$SRC/tests/integration/tuf_interop.py" www/mirror >out.log 2>&1; then
		flunk "securesystemslib refuses it"
	else pass "securesystemslib refuses it ($(tail -n 1 out.log))"; fi
else skip "securesystemslib refuses it" "python3-securesystemslib is not installed"; fi
refuses "export refuses to overwrite a signed version that differs" 1 "differs from the version" \
	repod export --current "$T/www/mirror"
rm -rf www/mirror && mv www/good www/mirror

# ---- rotations with pawl-repo, picked up by import ----
# hold_leader SECONDS: keep the leader from publishing (it waits for a
# lock on dirty_bins, which only publication takes) for a while.
hold_leader() {
	$AS "$PSQL" -h "$S/pg" -U pawl -d pawl -q -c \
		"BEGIN; LOCK TABLE dirty_bins IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($1); COMMIT;" \
		>/dev/null 2>&1 &
	HOLD=$!
	bgpids="$bgpids $HOLD"
	sleep 0.5
}
# release_leader: wait for the hold to end; its pid is no longer ours.
release_leader() {
	wait "$HOLD"
	bgpids=$(echo "$bgpids" | sed "s/ $HOLD\b//")
}
root_version_served() { jget "$1/root.json" 'd["signed"]["version"]'; }
follow_all() { # VERSION: every client ends with root VERSION and downloads
	fa_v=$1
	ok "pawl follows the rotation to root v$fa_v" pawl_get pm "$MURL" app/1.0/app.tar.gz
	check "... and trusts root v$fa_v" [ "$(root_version_served pm)" = "$fa_v" ]
	tj "tuf-js follows the rotation to root v$fa_v" tufjs tm "$MURL" lib/lib.so
	[ "$TJOK" = 1 ] && check "... and trusts root v$fa_v" [ "$(root_version_served tm)" = "$fa_v" ]
	rm -rf www/mirror/*
	ok "export after the rotation" repod export --current "$T/www/mirror"
	ssl "securesystemslib verifies the root chain 1..$fa_v and every file" www/mirror
}
K=$S/keys
"$REPO" -q keygen --out root2.pem --no-passphrase >/dev/null
ok "pawl-repo rotates the root key (signed by the old and the new)" \
	"$REPO" -q --no-syslog rotate "$S/repo" root --old-key "$K/root.pub" --new-key root2.pub \
	--key "$K/root.pem" --key root2.pem
curl -s "$URL/metadata/timestamp.json" >ts-before.json
hold_leader 3
ok "pawl-repod import takes root v2" repod import "$S/repo"
ok "pawl-repo handed: the workspace knows what the service took" "$REPO" -q --no-syslog handed "$S/repo"
# The hold makes it likely that nothing was published yet, but a loaded
# machine may take longer than the hold to get here; what must hold
# either way: 2.root.json is served only under a timestamp published
# after the import (the leader commits both in one transaction, so a
# timestamp fetched after seeing 2.root.json is at least that new).
root2=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metadata/2.root.json")
curl -s "$URL/metadata/timestamp.json" >ts-after.json
if [ "$root2" = 404 ]; then
	pass "2.root.json is not served before a timestamp is published under it (not yet published)"
elif [ "$root2" = 200 ] &&
	[ "$(jget ts-after.json 'd["signed"]["version"]')" -gt "$(jget ts-before.json 'd["signed"]["version"]')" ]; then
	pass "2.root.json is not served before a timestamp is published under it (published already, under a new timestamp)"
else
	flunk "2.root.json is not served before a timestamp is published under it (2.root.json: HTTP $root2; timestamp v$(jget ts-before.json 'd["signed"]["version"]') -> v$(jget ts-after.json 'd["signed"]["version"]'))"
fi
ok "pawl refresh meanwhile: still root v1, still valid" \
	"$PAWL" --metadata-dir pm --metadata-url "$MURL" refresh
release_leader
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metadata/2.root.json")" = 200 ] || [ $i -gt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "2.root.json is served once the leader published under it" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metadata/2.root.json")" = 200 ]
follow_all 2

"$REPO" -q keygen --out targets2.pem --no-passphrase >/dev/null
ok "pawl-repo rotates the targets key (root v3, targets signed by the new key)" \
	"$REPO" -q --no-syslog rotate "$S/repo" targets --old-key "$K/targets.pub" \
	--new-key targets2.pub --key root2.pem --key targets2.pem
ok "pawl-repod import takes root v3 and the new targets" repod import "$S/repo"
ok "pawl-repo handed: the workspace knows what the service took" "$REPO" -q --no-syslog handed "$S/repo"
tv=$(jget "$S/repo/metadata/targets.json" 'd["signed"]["version"]')
i=0
until curl -s "$URL/metadata/timestamp.json" >ts.json &&
	[ "$(curl -s "$URL/metadata/$(jget ts.json 'd["signed"]["meta"]["snapshot.json"]["version"]').snapshot.json" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["signed"]["meta"]["targets.json"]["version"])')" = "$tv" ] ||
	[ $i -gt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "the published snapshot names targets v$tv" [ $i -le 100 ]
ok "publish after the targets rotation" publish app/1.1/app.tar.gz "app one point one"
follow_all 3

# The timestamp key into a PKCS#11 token: the instances get the new key
# beside the old first, then the rotated root is imported.
if [ -f "$MODULE" ] && command -v softhsm2-util >/dev/null 2>&1 && command -v pkcs11-tool >/dev/null 2>&1; then
	mkdir -p hsm/tokens
	cat >hsm/softhsm2.conf <<EOF
directories.tokendir = $T/hsm/tokens
objectstore.backend = file
log.level = ERROR
EOF
	export SOFTHSM2_CONF="$T/hsm/softhsm2.conf"
	PIN=svc-Pin-2718
	printf '%s\n' "$PIN" >hsm/pin
	softhsm2-util --init-token --free --label pawl-svc --pin "$PIN" --so-pin 5678-so >/dev/null 2>&1
	p11() { pkcs11-tool --module "$MODULE" --token-label pawl-svc --login --pin "$PIN" "$@"; }
	p11 --keypairgen --key-type EC:edwards25519 --label ts-hsm --id 21 --usage-sign >/dev/null 2>&1 ||
		p11 --keypairgen --key-type EC:prime256v1 --label ts-hsm --id 21 --usage-sign >/dev/null 2>&1
	chown -R "$RUSER" hsm
	chmod 600 hsm/pin
	HSMKEY="pkcs11:token=pawl-svc;object=ts-hsm?module-path=$MODULE"
	for i in 1 2; do
		printf 'key.timestamp = %s\npin_file = %s\n' "$HSMKEY" "$T/hsm/pin" >>"$S/repod-$i.conf"
	done
	# Restart both instances by pid with their config; service-down finds
	# the new pids where service-up left the old ones.
	restart_instances() {
		for i in 1 2; do
			old=$(cat "$S/repod-$i.pid")
			kill "$old"
			j=0
			while kill -0 "$old" 2>/dev/null && [ $j -lt 100 ]; do sleep 0.1; j=$((j + 1)); done
			$AS "$REPOD" --config "$S/repod-$i.conf" serve >>"$S/log/repod-$i.log" 2>&1 </dev/null &
			echo $! >"$S/repod-$i.pid"
		done
		sleep 1
	}
	for i in 1 2; do cp "$S/repod-$i.conf" "$S/repod-$i.conf.hsm"; done
	restart_instances
	ok "the instances run with the token's key configured beside the file key" publish extra/1.txt "one"
	ok "pawl-repo rotates the timestamp key into the token (root v4)" \
		"$REPO" -q --no-syslog rotate "$S/repo" timestamp --old-key "$K/timestamp.pub" \
		--new-key "$HSMKEY" --key root2.pem --pin-file hsm/pin
	ok "pawl-repod import takes root v4" repod import "$S/repo"
	ok "pawl-repo handed: the workspace knows what the service took" "$REPO" -q --no-syslog handed "$S/repo"
	ok "the service publishes under root v4" publish extra/2.txt "two"
	hk=$(jget "$S/repo/metadata/root-history/4.root.json" 'd["signed"]["roles"]["timestamp"]["keyids"][0]')
	curl -s "$URL/metadata/timestamp.json" >ts.json
	check "timestamp.json is signed by the token's key" [ "$(jget ts.json 'd["signatures"][0]["keyid"]')" = "$hk" ]
	check "the leader's log names no PIN" sh -c "! grep -qF -- '$PIN' '$S'/log/repod-*.log"
	follow_all 4
	# Without the token's key the leader refuses to sign, says what it
	# needs, and takes the task up again once the key is back.
	for i in 1 2; do grep -v '^key.timestamp = pkcs11:' "$S/repod-$i.conf.hsm" >"$S/repod-$i.conf"; done
	restart_instances
	mkdir -p www/targets/extra
	printf 'three' >www/targets/extra/3.txt
	h=$(sha256sum www/targets/extra/3.txt | cut -c1-64)
	printf '{"artifacts":[{"path":"extra/3.txt","info":{"length":5,"hashes":{"sha256":"%s"}}}]}' "$h" >add3.json
	id3=$(post_json add3.json)
	sleep 2
	curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/task?task_id=$id3" >task.json
	check "without the key root v4 names, the task is not published ($(jget task.json 'd["data"]["state"]'))" \
		[ "$(jget task.json 'd["data"]["state"]')" != SUCCESS ]
	check "... and the leader says which key it needs" \
		grep -q "none of the 1 configured timestamp keys.*is a timestamp key in the imported root" \
		"$S"/log/repod-1.log "$S"/log/repod-2.log
	ok "... while clients still verify what was published" \
		"$PAWL" --metadata-dir pm --metadata-url "$MURL" refresh
	for i in 1 2; do cp "$S/repod-$i.conf.hsm" "$S/repod-$i.conf"; done
	restart_instances
	ok "with the key back, the waiting task is published" wait_task "$id3"
else
	skip "the timestamp key in a PKCS#11 token" "SoftHSM2 or pkcs11-tool (opensc) is not installed"
fi

if repod log verify >lv.out 2>&1; then
	pass "log verify: the audit chain is intact after the ceremonies ($(cat lv.out))"
else flunk "log verify ($(cat lv.out))"; fi
for t in import.root import.targets sign.bins; do
	c=$(psql_q "SELECT count(*) FROM audit_log WHERE line LIKE '%\"type\":\"$t\"%'")
	check "the audit log has $t entries ($c)" [ "${c:-0}" -ge 1 ]
done

echo "1..$n"
[ "$failed" -eq 0 ]
