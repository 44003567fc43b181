#!/bin/sh
# test_trust.sh - trust is never replaced silently (issue 15, 3).
#   pawl --metadata-dir DIR init ROOT over an existing trusted root:
#     byte-identical: exit 0, nothing written; anything else (an older
#     root, another repository's root): exit 1 naming both and the way to
#     replace it on purpose, --force-replace-trusted-root, which warns.
#   The agent: trusted_root in pawl.conf is the initial root only; after a
#   root rotation an older file there never wins. `pawl --config FILE
#   init` follows the same rules and records a forced replacement in the
#   audit log.
# Repositories are read over file:// (init itself makes no request).
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-trust-XXXXXX")
cleanup() { rm -rf "$T"; }
trap cleanup EXIT INT TERM
cd "$T"
. "$SRC/tests/integration/tap.sh"

# version FILE: the "version" of a root.json's signed part.
version() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"]["version"])' "$1"; }

for k in root root2 targets snapshot timestamp; do
	$R -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null
done
$R -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
	--timestamp-key timestamp.pem
mkdir a && echo "app 1" >a/VERSION && tar cf app.tar -C a .
$R -q release repo app 1.0.0 app.tar --key targets.pem
$R -q timestamp repo --key snapshot.pem --key timestamp.pem
$R -q publish repo srv
cp repo/root.json v1.json
# Another repository, with other keys: its root is version 1 too.
for k in o-root o-targets o-snapshot o-timestamp; do
	$R -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null
done
$R -q init other --root-key o-root.pem --targets-key o-targets.pem \
	--snapshot-key o-snapshot.pem --timestamp-key o-timestamp.pem
MURL=file://$T/srv/metadata/

# ---------------------------------------------------------------- pawl init
ok "init a new metadata directory" $P --metadata-dir md init v1.json
check "it holds exactly root.json" [ "$(ls -A md)" = root.json ]
ino=$(stat -c %i md/root.json)
ok "init again with the same root: exit 0" $P --metadata-dir md init v1.json
check "... says nothing changed" grep -q "already trusts v1.json (root version 1); nothing changed" out.log
check "... and wrote nothing" [ "$(stat -c %i md/root.json)" = "$ino" ]
ok "init --json with the same root" sh -c "$P --json --metadata-dir md init v1.json >init.json"
check "... reports changed: false" [ "$(jget init.json 'd["changed"]')" = False ]
refuses "init with another repository's root is refused (exit 1)" 1 \
	"md/root.json already holds a trusted root \(version 1, .*the root given differs \(version 1, .*never replaced silently" \
	$P --metadata-dir md init other/root.json
check "... the message names the file given" grep -q "To replace it with other/root.json on purpose" out.log
check "... and the way to replace it" \
	grep -q "pawl --metadata-dir md --force-replace-trusted-root init other/root.json" out.log
check "... and the trusted root is untouched" cmp -s md/root.json v1.json

# Rotate the root: the client follows it to version 2.
$R -q rotate repo root --old-key root.pem --new-key root2.pem --key root.pem --key root2.pem
$R -q timestamp repo --key snapshot.pem --key timestamp.pem
$R -q publish repo srv
cp repo/root.json v2.json
check "the repository's root is now version 2" [ "$(version v2.json)" = 2 ]
ok "refresh follows the rotation" $P --metadata-dir md --metadata-url "$MURL" refresh
check "... the trusted root is version 2" cmp -s md/root.json v2.json
refuses "init with the older root (a re-run provisioning script) is refused" 1 \
	"already holds a trusted root \(version 2, .*\(version 1, .*an older version\)" \
	$P --metadata-dir md init v1.json
check "... the trusted root stays at version 2" cmp -s md/root.json v2.json
ok "init with the newer root it already holds: exit 0" $P --metadata-dir md init v2.json
ok "--force-replace-trusted-root replaces it" $P --metadata-dir md --force-replace-trusted-root init v1.json
check "... with a warning naming both roots" \
	grep -q "WARNING: replaced the trusted root md/root.json (version 2, sha256 .*) with v1.json (version 1, sha256 " out.log
check "... and the file is the one given" cmp -s md/root.json v1.json
ok "from the replaced root, refresh rotates forward again" $P --metadata-dir md --metadata-url "$MURL" refresh
check "... to version 2" cmp -s md/root.json v2.json
refuses "--force-replace-trusted-root is for init only" 1 "goes with init only" \
	$P --metadata-dir md --metadata-url "$MURL" --force-replace-trusted-root refresh
refuses "init of a root not signed by itself is refused" 1 "not signed by its own keys" \
	sh -c "python3 -c 'import json,sys; d=json.load(open(\"v2.json\")); d[\"signed\"][\"version\"]=9; json.dump(d, open(\"bad.json\",\"w\"))' && $P --metadata-dir fresh init bad.json"

# ---------------------------------------------------------------- the agent
cat >agent.conf <<EOC
metadata_url = $MURL
target_base_url = file://$T/srv/targets/
trusted_root = $T/v1.json
state_dir = $T/state
app = app
install_dir = $T/install
syslog = no
EOC
ok "agent: the first update seeds trust from trusted_root (v1) and follows the rotation" \
	$P --config agent.conf update
check "... the state's root is version 2" cmp -s state/metadata/root.json v2.json
ok "agent: a second run, trusted_root still the version 1 file" $P --config agent.conf update
check "... the state's root stays at version 2 (the older file never wins)" \
	cmp -s state/metadata/root.json v2.json
rm state/metadata/timestamp.json state/metadata/snapshot.json state/metadata/targets.json
ok "agent: a run with only root.json left in the state" $P --config agent.conf update
check "... still version 2" cmp -s state/metadata/root.json v2.json
$P --config agent.conf log >log.txt
check "the audit log records the seeding once, with its version" \
	[ "$(grep -c 'trust.init' log.txt)" = 1 ]
refuses "agent init with the configured (older) root is refused (exit 5)" 5 \
	"init refused: .*state/metadata/root.json already holds a trusted root \(version 2.*an older version" \
	$P --config agent.conf init
check "... it names the way to replace it" grep -q -- "--force-replace-trusted-root init $T/v1.json" out.log
check "... the state's root is untouched" cmp -s state/metadata/root.json v2.json
ok "agent init with the root it holds: exit 0" $P --config agent.conf init "$T/v2.json"
ok "agent init --force-replace-trusted-root" $P --config agent.conf init --force-replace-trusted-root
check "... warns" grep -q "WARNING: replaced the trusted root .*(version 2, .*with $T/v1.json (version 1" out.log
check "... and replaced it" cmp -s state/metadata/root.json v1.json
$P --config agent.conf log >log.txt
check "the audit log records the refusal" grep -q "trust.refused" log.txt
check "the audit log records the intent to replace, naming what it found, before the replacement" \
	awk '/trust.replacing .*already holds a trusted root/ { i = NR } /trust.replaced / { r = NR } END { exit !(i && r && i < r) }' log.txt
check "the audit log records the replacement with both versions" \
	grep -q "trust.replaced.*old_version=2.*version=1" log.txt
ok "the audit log still verifies" $P --config agent.conf log verify

echo "1..$n"
[ "$failed" -eq 0 ]
