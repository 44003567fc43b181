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
