#!/bin/sh
# test_service.sh - pawl-repod end to end (TAP): scripts/service-up in a
# temporary directory, RSTUF's API with curl, the published metadata with
# build/pawl, every refusal, kill -9 of the leader under load with a
# client refreshing throughout, the audit log, and service-down leaving
# no process behind. Everything is stopped by pid in the exit trap.
set -u

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${PAWL_BUILDDIR:-$SRC/build}
export PAWL_BUILDDIR=$B
PAWL="$B/pawl"
T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-svc.XXXXXX")
S=$T/svc
chmod 711 "$T" # the service runs as nobody when the test is root
PSQL=/usr/lib/postgresql/15/bin/psql
n=0
failed=0
bgpids=""

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # description, then a command
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { echo "# $*"; }

cleanup() {
	trap '' INT TERM
	for p in $bgpids; do kill "$p" 2>/dev/null; done
	[ -d "$S" ] && sh "$SRC/scripts/service-down" "$S" >/dev/null 2>&1
	if [ "${PAWL_KEEP:-}" = 1 ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pick_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
PORT=$(pick_port)
URL=http://127.0.0.1:$PORT

# Tight limits so that the timeouts are quick to show.
export PAWL_REPOD_EXTRA_CONF="max_body = 64K
timeout = 2s
deadline = 3s"
if ! sh "$SRC/scripts/service-up" "$S" "$PORT" >"$T/up.out" 2>"$T/up.err"; then
	echo "1..1"
	echo "not ok 1 - service-up"
	sed 's/^/# /' "$T/up.err"
	for f in "$S"/log/*.log; do diag "$f"; tail -n 20 "$f" | sed 's/^/# /'; done
	exit 1
fi
TOKEN=$(cat "$S/token")

psql_q() { # query -> value
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups -- \
			"$PSQL" -h "$S/pg" -U pawl -d pawl -tAq -c "$1"
	else
		"$PSQL" -h "$S/pg" -U pawl -d pawl -tAq -c "$1"
	fi
}
counts() { psql_q "SELECT (SELECT count(*) FROM tasks) || '/' || (SELECT count(*) FROM artifacts)"; }

# post ENDPOINT BODY_FILE [TOKEN] -> "STATUS" on stdout, body in $T/resp
post() {
	tok=${3-$TOKEN}
	if [ -n "$tok" ]; then
		curl -s -o "$T/resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/json' --data-binary "@$2" "$URL$1"
	else
		curl -s -o "$T/resp" -w '%{http_code}' -X POST \
			-H 'Content-Type: application/json' --data-binary "@$2" "$URL$1"
	fi
}
json_get() { # file, python expression on j
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}
task_state() {
	curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/task?task_id=$1" >"$T/task.json" &&
		json_get "$T/task.json" 'j["data"]["state"]'
}
wait_task() { # id [seconds] -> succeeds when SUCCESS
	i=0
	lim=$((${2:-20} * 10))
	while [ $i -lt $lim ]; do
		st=$(task_state "$1" 2>/dev/null)
		[ "$st" = SUCCESS ] && return 0
		case "$st" in ERRORED | FAILURE) return 1 ;; esac
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}

artifact_body() { # out path content...
	out=$1
	shift
	python3 - "$out" "$@" <<'EOF'
import hashlib, json, sys
out = sys.argv[1]
arts = []
for i in range(2, len(sys.argv), 2):
    data = sys.argv[i + 1].encode()
    arts.append({"path": sys.argv[i], "info": {"length": len(data),
        "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
        "custom": {"n": i}}})
json.dump({"artifacts": arts, "publish_artifacts": True}, open(out, "w"))
EOF
}


# ---- service-up's promises ----
check "service-up prints one pid line per instance" \
	test "$(grep -c '^pawl-repod pid [0-9][0-9]*$' "$T/up.out")" = 2
PIDS=$(sed -n 's/^pawl-repod pid //p' "$T/up.out")
alive=0
for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "both instances run" test "$alive" = 2
check "DIR/root.json and DIR/token exist" test -s "$S/root.json" -a -s "$S/token"
check "the root has 16384 succinct bins" \
	sh -c "grep -q '\"bit_length\": *14' '$S/repo/metadata/targets.json' || grep -q '\"bit_length\":14' '$S/repo/metadata/targets.json'"

# ---- add, publish, verify with pawl ----
mkdir -p "$T/targets/app/1.0" "$T/targets/lib"
printf 'first artifact' >"$T/targets/app/1.0/app.tar.gz"
printf 'second' >"$T/targets/lib/lib.so"
# Consistent snapshots: clients fetch targets as DIR/SHA256.NAME.
for f in app/1.0/app.tar.gz lib/lib.so; do
	h=$(sha256sum "$T/targets/$f" | cut -c1-64)
	cp "$T/targets/$f" "$T/targets/$(dirname "$f")/$h.$(basename "$f")"
done
artifact_body "$T/add.json" app/1.0/app.tar.gz "$(cat "$T/targets/app/1.0/app.tar.gz")" \
	lib/lib.so "$(cat "$T/targets/lib/lib.so")"
st=$(post /api/v1/artifacts "$T/add.json")
check "POST /api/v1/artifacts is 202" test "$st" = 202
TASK=$(json_get "$T/resp" 'j["data"]["task_id"]')
check "the answer has RSTUF's shape" test "$(json_get "$T/resp" \
	'sorted(j["data"]["artifacts"]) == ["app/1.0/app.tar.gz", "lib/lib.so"] and bool(j["data"]["last_update"]) and j["message"] == "New Artifact(s) successfully submitted."')" = True
check "the task reaches SUCCESS" wait_task "$TASK"
check "the task result names the added artifacts and bins" test "$(json_get "$T/task.json" \
	'j["data"]["result"]["status"] and sorted(j["data"]["result"]["details"]["added_artifacts"]) == ["app/1.0/app.tar.gz", "lib/lib.so"] and len(j["data"]["result"]["details"]["target_roles"]) >= 1')" = True

M=$T/client
check "pawl init with DIR/root.json" "$PAWL" --metadata-dir "$M" init "$S/root.json"
check "pawl refresh verifies the service's metadata" \
	"$PAWL" --metadata-dir "$M" --metadata-url "$URL/metadata/" refresh
check "pawl download of a published artifact verifies" \
	"$PAWL" --metadata-dir "$M" --metadata-url "$URL/metadata/" \
	--target-name app/1.0/app.tar.gz --target-name lib/lib.so \
	--target-base-url "file://$T/targets/" --target-dir "$T/out" download
same_file() { # wanted, directory: some file in it has the same bytes
	for f in $(find "$2" -type f); do cmp -s "$1" "$f" && return 0; done
	return 1
}
check "the downloaded artifact is the one published" same_file "$T/targets/app/1.0/app.tar.gz" "$T/out"
for f in "$T"/targets/lib/*.lib.so; do printf 'tampered\n' >"$f"; done
rm -rf "$T/out"
if "$PAWL" --metadata-dir "$M" --metadata-url "$URL/metadata/" --target-name lib/lib.so \
	--target-base-url "file://$T/targets/" --target-dir "$T/out" download 2>/dev/null; then
	not_ok "a changed artifact is refused"
else ok "a changed artifact is refused"; fi

# ---- auth ----
before=$(counts)
check "no token: 401" test "$(post /api/v1/artifacts "$T/add.json" '')" = 401
# The token with its last character changed for certain (the old
# rewrite to '1' left a token ending in '1' as it was: a flaky test).
WRONG=$(printf '%s' "$TOKEN" | python3 -c 'import sys; t = sys.stdin.read(); print(t[:-1] + ("A" if t[-1] != "A" else "B"))')
check "a wrong token differs from the token" test "$WRONG" != "$TOKEN"
check "a wrong token: 401" test "$(post /api/v1/artifacts "$T/add.json" "$WRONG")" = 401
check "a garbage token: 401" test "$(post /api/v1/artifacts "$T/add.json" 'not-a-token')" = 401
SCOPED=$("$B/pawl-repod" --config "$S/repod-1.conf" token create --scope team-a/ 2>/dev/null ||
	setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups -- \
		"$B/pawl-repod" --config "$S/repod-1.conf" token create --scope team-a/)
artifact_body "$T/scoped-ok.json" team-a/x.bin x
artifact_body "$T/scoped-bad.json" team-a/y.bin y team-b/z.bin z
check "a path outside the token's scope: 403" test "$(post /api/v1/artifacts "$T/scoped-bad.json" "$SCOPED")" = 403
check "... and the error is JSON naming the path" test "$(json_get "$T/resp" \
	'"team-b/z.bin" in j["detail"]["error"]')" = True
check "nothing was stored by refused requests" test "$(counts)" = "$before"
check "the scoped token may change its own paths" test "$(post /api/v1/artifacts "$T/scoped-ok.json" "$SCOPED")" = 202
check "... and its task succeeds" wait_task "$(json_get "$T/resp" 'j["data"]["task_id"]')"
check "GET /api/v1/task needs a token" test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/task?task_id=$TASK")" = 401

# ---- RSTUF's other endpoints ----
# The read-only ones RSTUF's CLI and CI integrations ask, in RSTUF's
# shapes, without a token (as in RSTUF); values from the imported root
# and targets and the instances' config.
get() { curl -s -o "$T/resp" -w '%{http_code}' "$URL$1"; }
st=$(get /api/v1/bootstrap/)
check "GET /api/v1/bootstrap/: 200, bootstrap done ($st $(head -c 100 "$T/resp"))" \
	test "$st" = 200 -a \
	"$(json_get "$T/resp" '[j["data"]["bootstrap"], j["data"]["state"], j["message"]]')" = \
	"[True, 'finished', 'System LOCKED for bootstrap.']"
st=$(get /api/v1/config)
check "GET /api/v1/config: 200 with the settings ($st)" test "$st" = 200
want=$(json_get "$S/root.json" '[16384, 1, 1, len(j["signed"]["roles"]["root"]["keyids"]), j["signed"]["roles"]["root"]["threshold"], 1, 7, 30, False]')
check "... bins, thresholds and keys from the metadata, expirations from the config" \
	test "$(json_get "$T/resp" '[j["data"][k] for k in ("number_of_delegated_bins",
	"bins_threshold", "timestamp_num_keys", "root_num_keys", "root_threshold",
	"timestamp_expiration", "snapshot_expiration", "bins_expiration", "targets_online_key")]')" = "$want"
st=$(get /api/v1/metadata/sign/)
check "GET /api/v1/metadata/sign/: 200, nothing pending, as RSTUF says it ($st)" \
	test "$st" = 200 -a "$(json_get "$T/resp" '(j.get("data"), j["message"])')" = \
	"(None, 'No metadata pending signing available')"
before=$(counts)
nimpl=""
for mp in "POST /api/v1/bootstrap/" "PUT /api/v1/config/" "POST /api/v1/metadata/" \
	"POST /api/v1/metadata/online" "POST /api/v1/metadata/sign/" "POST /api/v1/metadata/sign/delete" \
	"POST /api/v1/delegations/" "PUT /api/v1/delegations" "POST /api/v1/delegations/delete"; do
	st=$(curl -s -o "$T/resp" -w '%{http_code}' -X "${mp% *}" -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' -d '{}' "$URL${mp#* }")
	err=$(json_get "$T/resp" 'j["detail"]["error"]' 2>/dev/null)
	[ "$st" = 501 ] && [ -n "$err" ] || nimpl="$nimpl [$mp: $st $(head -c 80 "$T/resp")]"
done
check "RSTUF's endpoints not served here: 501 in JSON saying why ($nimpl)" test -z "$nimpl"
check "... and they stored nothing" test "$(counts)" = "$before"
check "a method an endpoint does not take: 405" \
	test "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/api/v1/config/")" = 405
check "an unknown endpoint: 404 in JSON" sh -c "[ \"\$(curl -s -o '$T/resp' -w '%{http_code}' '$URL/api/v1/nothing')\" = 404 ] && grep -q '\"detail\"' '$T/resp'"

# ---- bad input: 4xx JSON, nothing stored ----
before=$(counts)
bad() { # description status body
	printf '%s' "$3" >"$T/bad.json"
	st=$(post /api/v1/artifacts "$T/bad.json")
	if [ "$st" = "$2" ] && json_get "$T/resp" 'j["detail"]["error"]' >/dev/null 2>&1; then
		ok "$1: $st"
	else
		not_ok "$1: $st (wanted $2) $(head -c 200 "$T/resp")"
	fi
}
H=$(printf x | sha256sum | cut -c1-64)
art() { printf '{"artifacts":[{"path":%s,"info":{"length":%s,"hashes":%s}}]}' "$1" "$2" "$3"; }
bad "malformed JSON" 400 '{"artifacts": [,]}'
bad "not JSON at all" 400 'artifacts=1'
bad "unknown hash algorithm" 422 "$(art '"a"' 1 '{"md5":"0123456789abcdef0123456789abcdef"}')"
bad "malformed hex" 422 "$(art '"a"' 1 '{"sha256":"zz'"$(echo "$H" | cut -c3-)"'"}')"
bad "short hex" 422 "$(art '"a"' 1 '{"sha256":"abcd"}')"
bad "negative length" 422 "$(art '"a"' -1 "{\"sha256\":\"$H\"}")"
bad "absurd length" 422 "$(art '"a"' 99999999999999999 "{\"sha256\":\"$H\"}")"
bad "path with .." 422 "$(art '"a/../../etc/passwd"' 1 "{\"sha256\":\"$H\"}")"
bad "path with a leading /" 422 "$(art '"/etc/passwd"' 1 "{\"sha256\":\"$H\"}")"
bad "path with NUL" 422 "$(art '"a\u0000b"' 1 "{\"sha256\":\"$H\"}")"
bad "path with a control character" 422 "$(art '"a\u001bb"' 1 "{\"sha256\":\"$H\"}")"
bad "path over the length limit" 422 "$(art "\"$(head -c 1100 /dev/zero | tr '\0' a)\"" 1 "{\"sha256\":\"$H\"}")"
bad "duplicate paths" 422 "{\"artifacts\":[{\"path\":\"d\",\"info\":{\"length\":1,\"hashes\":{\"sha256\":\"$H\"}}},{\"path\":\"d\",\"info\":{\"length\":2,\"hashes\":{\"sha256\":\"$H\"}}}]}"
# The instance's own limit, asked of an instance directly, with the body
# held back until it answers (Expect: 100-continue). Through nginx the
# same limit is nginx's (next check).
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
BPORT=$(awk 'NR == 1 { print $2 }' "$S/instances")
st=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -H 'Expect: 100-continue' \
	--data-binary "@$T/big.json" "http://127.0.0.1:$BPORT/api/v1/artifacts")
check "a payload over the size limit: 413 ($st)" test "$st" = 413
# The same through nginx: it holds the instances' max_body and answers
# 413 itself, in the instances' JSON. With nginx's limit above max_body it
# streamed the body to an instance that refused it and closed, and the
# client got nginx's 502 (HTML) for most of these.
head -c 1000000 /dev/zero | tr '\0' ' ' >"$T/big1m.json"
nx=""
for te in "" "" "" "Transfer-Encoding: chunked" "Transfer-Encoding: chunked"; do
	st=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' ${te:+-H "$te"} \
		--data-binary "@$T/big1m.json" "$URL/api/v1/artifacts")
	json_get "$T/resp" 'j["detail"]["error"]' >/dev/null 2>&1 || st="$st-not-json"
	nx="$nx $st"
done
check "through nginx, a payload over max_body: 413 in JSON each time ($nx)" \
	test "$nx" = " 413 413 413 413 413"
check "bad input stored nothing" test "$(counts)" = "$before"

# A body sent slowly is cut off at the deadline (straight to an instance,
# since nginx would buffer it).
IPORT=$(awk 'NR == 1 { print $2 }' "$S/instances")
slow=$(python3 - "$IPORT" "$TOKEN" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("POST /api/v1/artifacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" % sys.argv[2]).encode())
t0 = time.time()
s.settimeout(1)
resp = b""
try:
    while time.time() - t0 < 15:
        s.sendall(b" ")
        try:
            d = s.recv(4096)
            if not d:
                break
            resp += d
            break
        except socket.timeout:
            pass
except (BrokenPipeError, ConnectionResetError):
    pass
print("%s %.0f" % (resp.split(b" ")[1].decode() if resp else "closed", time.time() - t0))
EOF
)
check "a body sent slowly is cut off at the deadline ($slow)" sh -c "case '$slow' in 408\ [345]|closed\ [345]) true;; *) false;; esac"

# ---- kill -9 of the leader under load, with a client refreshing ----
LEADER=$(grep -l 'leader: this instance publishes' "$S"/log/repod-*.log | head -n 1)
LPID=$(sed -n 's/.*pawl-repod\[\([0-9]*\)\] info: leader.*/\1/p' "$LEADER" | head -n 1)
(
	fails=0
	while [ ! -f "$T/stop-refresh" ]; do
		if ! "$PAWL" --metadata-dir "$M" --metadata-url "$URL/metadata/" refresh >/dev/null 2>"$T/refresh.err"; then
			fails=$((fails + 1))
			cat "$T/refresh.err" >>"$T/refresh.fail"
		fi
		echo x >>"$T/refreshes"
	done
	echo "$fails" >"$T/refresh.fails"
) &
RPID=$!
bgpids="$bgpids $RPID"
: >"$T/accepted"
i=0
while [ $i -lt 40 ]; do
	args=""
	j=0
	while [ $j -lt 10 ]; do
		args="$args load/$i/$j.bin c$i.$j"
		j=$((j + 1))
	done
	# shellcheck disable=SC2086
	artifact_body "$T/load.json" $args
	st=$(post /api/v1/artifacts "$T/load.json")
	[ "$st" = 202 ] && json_get "$T/resp" 'j["data"]["task_id"]' >>"$T/accepted"
	[ $i -eq 12 ] && kill -9 "$LPID"
	i=$((i + 1))
done
check "the leader was killed with SIGKILL" sh -c "! kill -0 $LPID 2>/dev/null"
acc=$(wc -l <"$T/accepted")
diag "$acc of 40 batches accepted"
check "the surviving instance keeps accepting" test "$acc" -ge 30
allok=1
while read -r id; do wait_task "$id" 30 || { allok=0; diag "task $id: $(task_state "$id")"; }; done <"$T/accepted"
check "every accepted task ends in SUCCESS" test $allok = 1
grep -q 'leader: this instance publishes' "$(ls "$S"/log/repod-*.log | grep -v "$(basename "$LEADER")")"
check "the other instance took over publishing" test $? = 0
sleep 1
touch "$T/stop-refresh"
wait_bg() { while [ ! -f "$T/refresh.fails" ]; do sleep 0.1; done; }
wait_bg
# Reaped: its pid is no longer ours to signal.
wait "$RPID"
bgpids=$(echo "$bgpids" | sed "s/ $RPID\b//")
diag "$(wc -l <"$T/refreshes") refreshes during the load"
check "no refresh during the load failed verification" test "$(cat "$T/refresh.fails")" = 0
[ -f "$T/refresh.fail" ] && sed 's/^/# /' "$T/refresh.fail" | head -n 5

# ---- PostgreSQL restarted under load ----
# Two publishers offer 600 artifacts/s through nginx for 5 s (one instance
# was killed above; nginx sends everything to the other); after 2 s
# PostgreSQL is restarted (fast shutdown: every session is cut). POSTs
# refused meanwhile (503) are posted again, as a client does; every task
# that was accepted must end in SUCCESS (or a stated error, counted), and
# the artifacts must be in the published chain.
PGBIN=/usr/lib/postgresql/15/bin
AS=""
[ "$(id -u)" -eq 0 ] && AS="setpriv --reuid=nobody --regid=$(id -gn nobody) --clear-groups --"
"$B/bench/service_load" --rate 600 --prefix pg-restart --check 5 --metadata "$URL/metadata" \
	"$S/token" 3000 2 100 "$URL" >"$T/pgload.out" 2>"$T/pgload.err" &
LPID=$!
bgpids="$bgpids $LPID"
sleep 2
if $AS "$PGBIN/pg_ctl" -D "$S/pg/data" -l "$S/log/postgres.log" -m fast -w -t 60 restart >/dev/null 2>&1; then
	ok "PostgreSQL restarted under load"
else not_ok "PostgreSQL restarted under load"; fi
i=0
while kill -0 "$LPID" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$LPID" 2>/dev/null; then
	not_ok "every accepted task ends within 120 s of the restart"
	kill "$LPID"
else
	ok "every accepted task ends within 120 s of the restart"
fi
wait "$LPID"
bgpids=$(echo "$bgpids" | sed "s/ $LPID\b//")
PGL=$(cat "$T/pgload.out")
diag "$PGL"
kv() { echo "$PGL" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
check "all 30 batches were accepted, each once (POSTs tried again: $(kv post_retries))" \
	test "$(kv artifacts)" = 3000 -a "$(kv tasks)" = 30
check "every accepted task ended in SUCCESS, none in an error ($(kv errored) errored)" \
	test "$(kv errored)" = 0
check "sampled artifacts are in the published chain ($(kv chain_ok) of $(kv chain_checked))" \
	test "$(kv chain_ok)" = "$(kv chain_checked)" -a "$(kv chain_checked)" -ge 1
check "no task is left PENDING or RUNNING" \
	test "$(psql_q "SELECT count(*) FROM tasks WHERE state IN ('PENDING', 'RUNNING')")" = 0
check "the artifacts table and the published bins agree, artifact by artifact" \
	test "$(psql_q "WITH cur AS (SELECT m.role, m.data::jsonb AS j FROM heads h
	JOIN metadata m USING (role, version) WHERE h.role LIKE 'bins-%'),
	docs AS (SELECT k AS path, j->'signed'->'targets'->k AS e FROM cur,
	jsonb_object_keys(j->'signed'->'targets') k)
	SELECT count(*) FROM docs d FULL JOIN artifacts a ON a.path = d.path
	WHERE a.path IS NULL OR d.path IS NULL OR a.entry::jsonb <> d.e")" = 0
check "pawl refresh verifies after the restart" \
	"$PAWL" --metadata-dir "$M" --metadata-url "$URL/metadata/" refresh

# ---- task states, as RSTUF shows them ----
# While the leader works on a task it is RUNNING: hold the leader before it
# can publish (dirty_bins, which only publication locks) and look.
$AS "$PSQL" -h "$S/pg" -U pawl -d pawl -q -c \
	"BEGIN; LOCK TABLE dirty_bins IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;" \
	>/dev/null 2>&1 &
HOLD=$!
bgpids="$bgpids $HOLD"
sleep 0.3
artifact_body "$T/run.json" states/a.bin "state a"
post /api/v1/artifacts "$T/run.json" >/dev/null
RTASK=$(json_get "$T/resp" 'j["data"]["task_id"]')
seen=""
i=0
while [ $i -lt 25 ]; do
	st=$(task_state "$RTASK")
	case " $seen " in *" $st "*) ;; *) seen="$seen $st" ;; esac
	[ "$st" = RUNNING ] && break
	i=$((i + 1))
	sleep 0.1
done
check "a task the leader is working on is RUNNING (seen:$seen)" test "$st" = RUNNING
wait "$HOLD"
bgpids=$(echo "$bgpids" | sed "s/ $HOLD\b//")
check "... then SUCCESS" wait_task "$RTASK"
curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/task?task_id=0123456789abcdef0123456789abcdef" >"$T/unknown.json"
check "an unknown task id is PENDING with no result, as RSTUF answers" test "$(json_get "$T/unknown.json" \
	'j["data"] == {"task_id": "0123456789abcdef0123456789abcdef", "state": "PENDING"}')" = True

# ---- token revocation ----
NEWTOK=$($AS "$B/pawl-repod" --config "$S/repod-1.conf" token create --scope '*' 2>/dev/null)
TID=$(echo "$NEWTOK" | sed -n 's/^prd_\([0-9]*\)_.*/\1/p')
artifact_body "$T/rev.json" revoked/a.bin "revoked a"
check "a new token may post" test "$(post /api/v1/artifacts "$T/rev.json" "$NEWTOK")" = 202
if $AS "$B/pawl-repod" --config "$S/repod-1.conf" token revoke "$TID" >/dev/null 2>&1; then
	ok "pawl-repod token revoke $TID"
else not_ok "pawl-repod token revoke $TID"; fi
before=$(psql_q "SELECT count(*) FROM tasks")
artifact_body "$T/rev2.json" revoked/b.bin "revoked b"
check "the revoked token: 401" test "$(post /api/v1/artifacts "$T/rev2.json" "$NEWTOK")" = 401
check "... and nothing was stored" test "$(psql_q "SELECT count(*) FROM tasks")" = "$before"
check "the revocation is in the audit log" \
	test "$(psql_q "SELECT count(*) FROM audit_log WHERE line LIKE '%\"type\":\"token.revoked\"%'")" -ge 1

# ---- delete ----
printf '{"artifacts":["app/1.0/app.tar.gz"]}' >"$T/del.json"
st=$(post /api/v1/artifacts/delete "$T/del.json")
DTASK=$(json_get "$T/resp" 'j["data"]["task_id"]')
check "delete is accepted and succeeds" sh -c "[ $st = 202 ]" && wait_task "$DTASK" || not_ok "delete task"
rm -rf "$T/out"
if "$PAWL" --metadata-dir "$M" --metadata-url "$URL/metadata/" --target-name app/1.0/app.tar.gz \
	--target-base-url "file://$T/targets/" --target-dir "$T/out" download 2>/dev/null; then
	not_ok "a deleted artifact is no longer listed"
else ok "a deleted artifact is no longer listed"; fi

# ---- audit ----
AS=""
[ "$(id -u)" -eq 0 ] && AS="setpriv --reuid=nobody --regid=$(id -gn nobody) --clear-groups --"
if $AS "$B/pawl-repod" --config "$S/repod-1.conf" log verify >"$T/lv0.out" 2>&1; then
	ok "log verify: the audit chain is intact ($(cat "$T/lv0.out"))"
else not_ok "log verify: the audit chain is intact ($(cat "$T/lv0.out"))"; fi
psql_q "UPDATE audit_log SET line = replace(line, '\"seq\":3,', '\"seq\":3, ') WHERE seq = 3" >/dev/null
if $AS "$B/pawl-repod" --config "$S/repod-1.conf" log verify >"$T/lv.out" 2>&1; then
	not_ok "log verify finds an edited entry"
else ok "log verify finds an edited entry ($(cat "$T/lv.out"))"; fi

# ---- nginx's own errors are JSON ----
# Both instances stopped (by pid; service-down below finds them gone):
# nginx has no upstream left and answers 502 itself.
# (The leader killed above is long gone: only a live pawl-repod is signalled.)
for p in $PIDS; do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = pawl-repod ] || continue
	kill "$p"
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
done
st=$(curl -s -o "$T/resp" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"$URL/api/v1/task?task_id=$TASK")
check "no instance left: nginx answers 502 ($st)" test "$st" = 502
check "... in JSON, the instances' error shape ($(head -c 100 "$T/resp"))" \
	test "$(json_get "$T/resp" 'j["detail"]["message"]' 2>/dev/null)" = "Bad gateway."

# ---- service-down ----
NGPID=$(cat "$S/nginx/nginx.pid")
PGPID=$(head -n 1 "$S/pg/data/postmaster.pid")
sh "$SRC/scripts/service-down" "$S"
left=""
for p in $PIDS $NGPID $PGPID; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
check "service-down leaves no process ($left)" test -z "$left"

echo "1..$n"
[ $failed -eq 0 ]
