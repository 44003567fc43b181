#!/bin/sh
# test_json.sh - every --json output parses and has the fields and types
# docs/json.md documents.
set -eu
SRC=${PAWL_SRCDIR:?}
BUILD=${PAWL_BUILDDIR:?}
P=$BUILD/pawl
R=$BUILD/pawl-repo
T=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-json-XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
chmod 755 "$T"
. "$SRC/tests/integration/tap.sh"

# schema FILE SPEC: SPEC is python: a dict of key -> type, checked against
# the JSON value in FILE (first line with --lines).
schema() {
	python3 - "$@" <<'PY'
import json, sys
path, spec = sys.argv[1], sys.argv[2]
lines = sys.argv[3:] == ["--lines"]
text = open(path).read()
docs = [json.loads(l) for l in text.splitlines() if l.strip()] if lines else [json.loads(text)]
want = eval(spec)
for d in docs:
    for k, t in want.items():
        if k not in d or not isinstance(d[k], t) or (t is int and isinstance(d[k], bool)):
            sys.exit("%s: %r missing or not %s in %r" % (path, k, t, d))
PY
}

for k in root targets snapshot timestamp; do "$R" -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null; done
"$R" -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem --timestamp-key timestamp.pem
mkdir -p a && echo hi > a/f && tar czf app.tar.gz -C a .
"$R" -q release repo app 1.0.0 app.tar.gz --key targets.pem
"$R" -q timestamp repo --key snapshot.pem --key timestamp.pem
"$R" -q publish repo srv

ok "init --json" sh -c "'$P' --json --metadata-dir md init repo/root.json > init.json"
check "init: {ok, changed, version}" schema init.json "{'ok': bool, 'changed': bool, 'version': int}"
ok "refresh --json" sh -c "'$P' --json --metadata-dir md --metadata-url file://$T/srv/metadata/ refresh > refresh.json"
check "refresh: {ok, root, timestamp, snapshot, targets}" schema refresh.json \
	"{'ok': bool, 'root': int, 'timestamp': int, 'snapshot': int, 'targets': int}"
ok "download --json" sh -c "'$P' --json --metadata-dir md --metadata-url file://$T/srv/metadata/ \
	--target-base-url file://$T/srv/targets/ --target-dir out --target-name app/1.0.0/app.tar.gz download > dl.json"
check "download: {ok, targets[]}" schema dl.json "{'ok': bool, 'targets': list}"
check "download: each target has path, file, length, cached" python3 -c "
import json; t = json.load(open('dl.json'))['targets'][0]
assert isinstance(t['path'], str) and isinstance(t['file'], str)
assert isinstance(t['length'], int) and isinstance(t['cached'], bool)"
refuses "a failing refresh --json" 1 "" sh -c "'$P' --json --metadata-dir md --metadata-url file://$T/nowhere/ refresh > fail.json"
check "failure: {ok, error, code}" schema fail.json "{'ok': bool, 'error': str, 'code': int}"

cat > agent.conf <<EOC
metadata_url = file://$T/srv/metadata/
target_base_url = file://$T/srv/targets/
trusted_root = $T/repo/root.json
state_dir = $T/state
app = app
install_dir = $T/install
syslog = no
EOC
ok "update --json" sh -c "'$P' --config agent.conf update --json > update.json"
check "update: {ok, outcome, version, current, target, health_ran}" schema update.json \
	"{'ok': bool, 'outcome': str, 'version': str, 'current': str, 'target': str, 'health_ran': bool}"
ok "update again --json" sh -c "'$P' --config agent.conf update --json > current.json"
check "already current: {ok, outcome, current}" schema current.json "{'ok': bool, 'outcome': str, 'current': str}"
ok "status --json" sh -c "'$P' --config agent.conf status --json > status.json"
check "status: documented fields" schema status.json \
	"{'app': str, 'installed': str, 'previous': str, 'highest': str, 'installed_recovery': bool, 'bad': list, 'last_check': int, 'last_outcome': str, 'last_exit': int}"
refuses "rollback --json without a previous release" 5 "no previous" sh -c "'$P' --config agent.conf rollback --json > rb.json"
check "agent failure: {ok, step, error, exit}" schema rb.json "{'ok': bool, 'step': str, 'error': str, 'exit': int}"
ok "log --json" sh -c "'$P' --config agent.conf log --json > log.jsonl"
check "log: JSON Lines of {fields, prev, seq, time, type}" schema log.jsonl \
	"{'fields': dict, 'prev': str, 'seq': int, 'time': str, 'type': str}" --lines
# ---- exactly one JSON value on stdout, for every command, errors included ----
# one DESC CODE CMD...: CMD exits CODE and its stdout (one.json) is exactly
# one JSON value (json.loads of the whole output: two values fail).
one() {
	d=$1 want=$2
	shift 2
	set +e
	"$@" >one.json 2>one.err
	rc=$?
	set -e
	if [ "$rc" -eq "$want" ] && python3 -c 'import json,sys; json.loads(sys.stdin.read())' <one.json; then
		pass "$d: exit $want, one JSON value"
	else
		cp one.json out.log
		sed 's/^/stderr: /' one.err >>out.log
		flunk "$d (exit $rc, wanted $want and one JSON value)"
	fi
}
MD="--metadata-dir md --metadata-url file://$T/srv/metadata/"
TG="--target-base-url file://$T/srv/targets/ --target-dir out2"
one "init (again, unchanged)" 0 "$P" --metadata-dir md init repo/root.json --json
one "init with a missing file" 1 "$P" --metadata-dir md2 init nowhere.json --json
check "... the failure form with a message" schema one.json "{'ok': bool, 'error': str, 'code': int, 'message': str, 'exit': int}"
cp repo/root.json other-root.json && sed -i 's/"version": *1/"version":1 /' other-root.json
one "init over a different root" 1 "$P" --metadata-dir md init other-root.json --json
one "refresh" 0 "$P" $MD refresh --json
one "refresh before init" 1 "$P" --metadata-dir md3 --metadata-url "file://$T/srv/metadata/" refresh --json
check "... with the hint" schema one.json "{'ok': bool, 'hint': str}"
one "download" 0 "$P" $MD $TG --target-name app/1.0.0/app.tar.gz download --json
one "download of two targets, the second unknown" 1 "$P" $MD $TG --target-name app/1.0.0/app.tar.gz --target-name nope download --json
check "... names the target and holds the one done" python3 -c "
import json; d = json.load(open('one.json'))
assert d['ok'] is False and d['target'] == 'nope' and len(d['targets']) == 1, d"
one "a usage error of a client command" 1 "$P" $MD refresh --bogus --json
check "... the usage failure form" schema one.json "{'ok': bool, 'error': str, 'message': str, 'exit': int}"
one "download without --target-dir" 1 "$P" $MD --target-name x download --json
one "an unknown command" 64 "$P" --json frobnicate
one "agent init (unchanged)" 0 "$P" --config agent.conf init --json
one "agent init over a different root (refused)" 5 "$P" --config agent.conf init other-root.json --json
one "update (current)" 0 "$P" --config agent.conf update --json
one "update with a bad config" 1 "$P" --config nowhere.conf update --json
check "... the agent failure form" schema one.json "{'ok': bool, 'step': str, 'error': str, 'message': str, 'exit': int}"
sed "s#file://$T/srv/metadata/#http://127.0.0.1:1/metadata/#" agent.conf > down.conf
one "update from an unreachable repository" 3 "$P" --config down.conf update --json
sed "s#^trusted_root = .*#trusted_root = $T/nowhere.json#; s#$T/state#$T/state2#" agent.conf > noroot.conf
one "update with a missing trusted_root (a local file: exit 1)" 1 "$P" --config noroot.conf update --json
one "status" 0 "$P" --config agent.conf status --json
one "status with a bad config" 1 "$P" --config nowhere.conf status --json
sed "s#$T/state#$T/state3#" agent.conf > fresh.conf
one "status before the first run" 0 "$P" --config fresh.conf status --json
check "... says so" python3 -c "import json; assert json.load(open('one.json'))['ran'] is False"
one "rollback without a previous release" 5 "$P" --config agent.conf rollback --json
one "log verify" 0 "$P" --config agent.conf log verify --json
check "... {ok, entries}" schema one.json "{'ok': bool, 'entries': int}"
one "clear-bad of a version not marked bad" 1 "$P" --config agent.conf clear-bad 9.9.9 --json
one "an agent usage error" 64 "$P" --config agent.conf status --bogus --json
one "an agent command without --config" 64 "$P" update --json
one "log with a bad config" 1 "$P" --config nowhere.conf log --json
ok "log --json: JSON Lines, one entry per line" sh -c "'$P' --config agent.conf log --json > log2.jsonl"
check "... every line is one JSON value" python3 -c "
import json
for l in open('log2.jsonl'): json.loads(l)"
cp state/audit.log audit.keep
sed -i 's/"outcome":"installed"/"outcome":"INSTALLED"/' state/audit.log
one "log verify of an altered log" 2 "$P" --config agent.conf log verify --json
check "... says what failed" python3 -c "
import json; d = json.load(open('one.json')); assert d['ok'] is False and d['problem'], d"
cp audit.keep state/audit.log
one "pawl-repo status" 0 "$R" status repo --json
one "pawl-repo status of a missing workspace" 1 "$R" status nowhere --json
one "pawl-repo log verify" 0 "$R" log repo verify --json
one "pawl-repo usage error" 64 "$R" status repo --bogus --json

ok "pawl-repo status --json" sh -c "'$R' status repo --json > rstatus.json"
check "pawl-repo status: {workspace, consistent_snapshot, ready, roles}" schema rstatus.json \
	"{'workspace': str, 'consistent_snapshot': bool, 'ready': bool, 'roles': list}"
check "pawl-repo status: each role" python3 -c "
import json
for r in json.load(open('rstatus.json'))['roles']:
    assert {'name', 'version', 'state', 'expires', 'signatures', 'threshold', 'ready'} <= set(r), r
    assert r['state'] in ('new', 'changed', 'live'), r"
ok "pawl-repo log --json" sh -c "'$R' log repo --json > rlog.jsonl"
check "pawl-repo log: JSON Lines" schema rlog.jsonl \
	"{'fields': dict, 'prev': str, 'seq': int, 'time': str, 'type': str}" --lines

echo "1..$n"
[ "$failed" -eq 0 ]
