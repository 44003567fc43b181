#!/bin/sh
# test_repo.sh - the publisher's workflow through the pawl-repo CLI, end to
# end: keys and passphrases, threshold root, offline signing across
# separate directories, delegations, hash bins, key rotation (root and
# targets) followed by a client, expiry refresh by `timestamp`, refusals
# (below threshold, stale snapshot, rollback), and `verify` catching each
# kind of broken publication. Clients are build/pawl over nginx on
# 127.0.0.1 (tests/integration/nginx.sh) and over file://.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl
NGINX_SH=$SRC/tests/integration/nginx.sh

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-repo-XXXXXX")
NGINX_STATE=
cleanup() {
	if [ -n "$NGINX_STATE" ]; then sh "$NGINX_SH" stop "$NGINX_STATE" || true; fi
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
cd "$T"

. "$SRC/tests/integration/tap.sh"
mode() { stat -c %a "$1"; }
# Interoperability: the reference implementation's crypto layer checks what
# pawl-repo published (tuf_interop.py), when securesystemslib is installed.
SSL_PY=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import securesystemslib' 2>/dev/null; then SSL_PY=$py; break; fi
done
interop() { # DESC DIR
	if [ -n "$SSL_PY" ]; then
		ok "$1" "$SSL_PY" "$SRC/tests/integration/tuf_interop.py" "$2/metadata"
	else
		n=$((n + 1))
		echo "ok $n - $1 # SKIP securesystemslib (python3-securesystemslib) not installed"
	fi
}

echo "correct horse battery staple" >pass.txt
PASS=$(cat pass.txt)

# ---------------------------------------------------------------- keys
ok "keygen ed25519, encrypted with --passphrase-file" $R keygen --type ed25519 --out root1.pem --passphrase-file pass.txt
check "private key file is mode 0600" [ "$(mode root1.pem)" = 600 ]
check "public key written next to it (KEY.pub)" [ -f root1.pub ]
check "private key is encrypted PKCS#8" grep -q "BEGIN ENCRYPTED PRIVATE KEY" root1.pem
ok "keygen with PAWL_PASSPHRASE" env PAWL_PASSPHRASE="$PASS" $R keygen --type ecdsa-p256 --out root2.pem
check "keygen prints only the key id" sh -c "env PAWL_PASSPHRASE='$PASS' $R -q keygen --out root3.pem | grep -qxE '[0-9a-f]{64}'"
refuses "keygen refuses to overwrite a key" 1 "exists" $R keygen --out root1.pem --no-passphrase
refuses "keygen without a passphrase source is a usage error (64)" 64 "passphrase" $R keygen --out x.pem
check "no key file left behind by the refused keygen" [ ! -e x.pem ]
refuses "keygen refuses unknown key types" 1 "unsupported" $R keygen --type rsa-1024 --out weak.pem --no-passphrase
ok "keygen ecdsa-p384" $R keygen --type ecdsa-p384 --out p384.pem --no-passphrase
ok "keygen rsa-3072" $R keygen --type rsa-3072 --out rsa.pem --no-passphrase
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out weak-rsa.pem 2>/dev/null
for k in targets snap ts dev dev2 bins targets2 root4 snap2; do
	$R -q keygen --out $k.pem --no-passphrase >/dev/null
done
echo "wrong passphrase" >wrong.txt

# ---------------------------------------------------------------- exposed keys
# As ssh does: signing with an unencrypted private key file that others can
# read warns (even with -q), naming the file and the chmod that fixes it.
$R -q keygen --out open.pem --no-passphrase >/dev/null
chmod 644 open.pem
ok "init signs with a world-readable unencrypted key" $R -q init warn1 --root-key open.pem \
	--targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem
check "... and warns, naming the file, who can read it and the chmod that fixes it" \
	grep -q "UNPROTECTED PRIVATE KEY FILE: open.pem is not encrypted and is readable by every user (mode 0644).*chmod 600 open.pem" out.log
check "... once, though it is loaded for more than one role" [ "$(grep -c UNPROTECTED out.log)" = 1 ]
chmod 640 open.pem
ok "a group-readable unencrypted key" $R -q init warn2 --root-key open.pem \
	--targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem
check "... warns too (its group)" grep -q "open.pem is not encrypted and is readable by its group (mode 0640)" out.log
chmod 600 open.pem
ok "a 0600 unencrypted key" $R -q init warn3 --root-key open.pem \
	--targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem
check "... signs without a warning" sh -c "! grep -q UNPROTECTED out.log"
cp root1.pem enc.pem && chmod 644 enc.pem
ok "an encrypted key that others can read" $R -q init warn4 --root-key enc.pem \
	--targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem --passphrase-file pass.txt
check "... is not warned about (the passphrase still protects it)" sh -c "! grep -q UNPROTECTED out.log"
rm -rf warn1 warn2 warn3 warn4

# ---------------------------------------------------------------- init: 2-of-3 root
refuses "init needs every top-level key" 64 "timestamp-key" $R init ws --root-key root1.pem --targets-key targets.pem --snapshot-key snap.pem
refuses "wrong passphrase is refused" 1 "wrong passphrase" \
	$R init ws --root-key root1.pem --root-key root2.pub --root-key root3.pub --root-threshold 2 \
	--targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem --passphrase-file wrong.txt
rm -rf ws
refuses "an encrypted key without a passphrase says how to give one" 1 "passphrase-file" \
	$R init ws --root-key root1.pem --root-key root2.pub --root-key root3.pub --root-threshold 2 \
	--targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem
rm -rf ws
ok "init with a 2-of-3 root (one private root key, two public)" \
	$R init ws --root-key root1.pem --root-key root2.pub --root-key root3.pub --root-threshold 2 \
	--targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem \
	--passphrase-file pass.txt --expires targets=30
check "root.json is not handed out while root is below threshold" [ ! -e ws/root.json ]
refuses "status says not ready" 1 "not ready" $R status ws
refuses "publish refuses root below threshold, naming the role and the count" 1 "root v1 has 1 of the 2 signatures" $R publish ws out
check "nothing was published" [ ! -e out/metadata/timestamp.json ]
ok "second root signature (PAWL_PASSPHRASE)" env PAWL_PASSPHRASE="$PASS" $R sign ws root --key root2.pem
check "REPO/root.json exists once root is fully signed" [ -f ws/root.json ]
check "targets expiry follows --expires targets=30" [ "$(jget ws/metadata/targets.json 'd["signed"]["expires"][:4]')" -ge 2024 ]
refuses "sign refuses a key that is not the role's" 1 "is not a key of targets" $R sign ws targets --key dev.pem
refuses "an RSA-1024 key is refused" 1 "2048|weak|too small|bits" $R sign ws targets --key weak-rsa.pem
refuses "a pkcs11: URI goes to the token module, not the file system (test_repo_hsm.sh signs with one)" 1 \
	"PKCS#11 module /nonexistent/module.so" env PAWL_PKCS11_MODULE=/nonexistent/module.so $R sign ws targets --key "pkcs11:token=t;object=k"

# ---------------------------------------------------------------- release 1
printf 'demo app 1.0.0\n' >app1.tar.gz
ok "add a target with custom metadata, signed at once" \
	$R add ws demo-app/1.0.0/demo-app.tar.gz app1.tar.gz --custom '{"version": "1.0.0"}' --key targets.pem
check "the custom field is stored" [ "$(jget ws/metadata/targets.json 'd["signed"]["targets"]["demo-app/1.0.0/demo-app.tar.gz"]["custom"]["version"]')" = 1.0.0 ]
refuses "publish refuses a snapshot that does not name the current targets" 1 "snapshot v1 (does not name|names other bytes for) targets v1" $R publish ws out
ok "timestamp (online keys only)" $R timestamp ws --key snap.pem --key ts.pem
ok "publish" $R publish ws out
check "versioned metadata names" [ -f out/metadata/1.root.json ] && [ -f out/metadata/1.snapshot.json ] && [ -f out/metadata/timestamp.json ]
check "hash-prefixed target file" sh -c "ls out/targets/demo-app/1.0.0/ | grep -qE '^[0-9a-f]{64}\.demo-app\.tar\.gz$'"
ok "verify accepts the published tree" $R verify out --root ws/root.json
cp ws/root.json trusted-root-v1.json

# Serve it with nginx and let the real client fetch it.
set -- $(sh "$NGINX_SH" start "$T/out" --owner $$)
PORT=$1
NGINX_STATE=$2
URL=http://127.0.0.1:$PORT
client() { # DIR ARGS...: build/pawl against the nginx-served tree
	d=$1
	shift
	$P --metadata-dir "$d" --metadata-url "$URL/metadata" --target-base-url "$URL/targets" --target-dir "$d.dl" "$@"
}
ok "client init with the v1 root" $P --metadata-dir c1 init trusted-root-v1.json
ok "client downloads release 1 over HTTP" client c1 --target-name demo-app/1.0.0/demo-app.tar.gz download
check "client got the right bytes" cmp -s c1.dl/demo-app%2F1.0.0%2Fdemo-app.tar.gz app1.tar.gz

# ---------------------------------------------------------------- offline signing across directories
printf 'demo app 2.0.0\n' >app2.tar.gz
ok "prepare release 2 without the (offline) targets key" \
	$R add ws demo-app/2.0.0/demo-app.tar.gz app2.tar.gz --custom '{"version": "2.0.0"}'
refuses "publish refuses unsigned targets" 1 "targets v2 has 0 of the 1 signatures" $R publish ws out
mkdir offline
cp -a ws/metadata ws/config.json ws/state.json offline/   # only metadata travels
ok "sign on the offline machine (a workspace without content)" $R sign offline targets --key targets.pem
cp -a offline/metadata/. ws/metadata/                      # and comes back
cp -a ws online                                            # the online machine's copy
ok "timestamp on the online machine" $R timestamp online --key snap.pem --key ts.pem
ok "publish from the third directory" $R publish online out
ok "verify release 2" $R verify out --root trusted-root-v1.json
ok "client downloads release 2" client c1 --target-name demo-app/2.0.0/demo-app.tar.gz download
check "release 2 bytes" cmp -s c1.dl/demo-app%2F2.0.0%2Fdemo-app.tar.gz app2.tar.gz
# The online copy is authoritative now.
rm -rf ws && mv online ws

# ---------------------------------------------------------------- broken publications
cp -a out bad-sig
python3 - bad-sig/metadata/timestamp.json <<'EOF'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["signatures"] = []
json.dump(d, open(p, "w"))
EOF
refuses "verify catches a missing signature (exit 2, verification)" 2 "signature" $R verify bad-sig --root trusted-root-v1.json

cp -a out bad-hash
f=$(ls bad-hash/targets/demo-app/2.0.0/*.demo-app.tar.gz | head -1)
printf 'demo app 2.0.1\n' >"$f" # same length, other bytes
refuses "verify catches a target with the wrong hash" 2 "hash" $R verify bad-hash --root trusted-root-v1.json

cp -a ws ws-stale
printf 'demo app 3.0.0\n' >app3.tar.gz
ok "stale: a targets change without a new snapshot" $R add ws-stale demo-app/3.0.0/demo-app.tar.gz app3.tar.gz --key targets.pem
refuses "publish refuses a stale snapshot" 1 "does not name targets" $R publish ws-stale out
cp -a out bad-stale
v=$(jget ws-stale/metadata/targets.json 'd["signed"]["version"]')
cp ws-stale/metadata/targets.json bad-stale/metadata/$v.targets.json
refuses "verify catches a stale snapshot" 2 "stale snapshot" $R verify bad-stale --root trusted-root-v1.json

cp -a ws ws-exp
ok "expire: a 3-second timestamp" $R expire ws-exp timestamp 3s
ok "timestamp with the short period" $R timestamp ws-exp --key snap.pem --key ts.pem
ok "publish the short-lived tree" $R publish ws-exp bad-expired
sleep 4
refuses "verify catches expired metadata" 2 "expired" $R verify bad-expired --root trusted-root-v1.json
refuses "publish refuses expired metadata" 1 "expired" $R publish ws-exp bad-expired2

# An older workspace must not roll the published tree back.
cp -a ws ws-old
ok "timestamp again" $R timestamp ws --key snap.pem --key ts.pem
ok "publish the newer timestamp" $R publish ws out
refuses "publish refuses to roll timestamp.json back" 1 "roll" $R publish ws-old out

# ---------------------------------------------------------------- expiry refresh by timestamp
ts_v() { jget "$1/metadata/timestamp.json" 'd["signed"]["version"]'; }
snap_v() { jget "$1/metadata/snapshot.json" 'd["signed"]["version"]'; }
ok "snapshot period 6 s" $R expire ws snapshot 6s
t0=$(ts_v ws)
s0=$(snap_v ws)
ok "timestamp renews a snapshot that outlives the new period" $R timestamp ws --key snap.pem --key ts.pem
s1=$(snap_v ws)
check "new snapshot" [ "$s1" -gt "$s0" ]
ok "publish" $R publish ws out
ok "timestamp again at once" $R timestamp ws --key snap.pem --key ts.pem
check "timestamp gets a new version in each publication" [ "$(ts_v ws)" -eq $((t0 + 2)) ]
check "a fresh snapshot is kept" [ "$(snap_v ws)" -eq "$s1" ]
ok "publish" $R publish ws out
sleep 4
ok "timestamp after half the snapshot period" $R timestamp ws --key snap.pem --key ts.pem
check "the snapshot was renewed before it expired" [ "$(snap_v ws)" -gt "$s1" ]
ok "publish" $R publish ws out
ok "snapshot period back to 7 days" $R expire ws snapshot 7
ok "timestamp" $R timestamp ws --key snap.pem --key ts.pem --force
ok "publish" $R publish ws out

# ---------------------------------------------------------------- delegations
ok "delegate demo-app/plugins/* to dev (public key only)" \
	$R delegate ws dev --key dev.pub --path 'demo-app/plugins/*' --sign-key targets.pem
refuses "publish refuses the unsigned new role" 1 "dev v1 has 0 of the 1" $R publish ws out
ok "the dev key holder signs" $R sign ws dev --key dev.pem
printf 'plugin\n' >plugin.so
ok "add a target to the delegated role" $R add ws demo-app/plugins/plugin.so plugin.so --role dev --key dev.pem
refuses "a path outside the delegation is refused" 1 "does not trust dev" $R add ws other/x plugin.so --role dev
ok "nested delegation, 2 of 3 keys (Ed25519, ECDSA P-384, RSA-3072)" \
	$R delegate ws dev-beta --from dev --key dev2.pub --key p384.pub --key rsa.pub --threshold 2 --path 'demo-app/plugins/beta-*' --terminating --sign-key dev.pem
ok "add to the nested role, signed by P-384 and RSA-PSS" $R add ws demo-app/plugins/beta-1.so plugin.so --role dev-beta --key p384.pem --key rsa.pem
ok "timestamp" $R timestamp ws --key snap.pem --key ts.pem
ok "publish with delegations" $R publish ws out
check "delegated roles are published under versioned names" [ -f out/metadata/1.dev-beta.json ]
ok "verify with delegations" $R verify out --root trusted-root-v1.json
ok "client downloads a target of the nested delegated role" client c1 --target-name demo-app/plugins/beta-1.so download

# ---------------------------------------------------------------- rotation: targets key
ok "rotate the targets key (new root version, signed by 2 old root keys)" \
	$R rotate ws targets --old-key targets.pub --new-key targets2.pem --key root1.pem --key root2.pem --key targets2.pem --passphrase-file pass.txt
refuses "the old targets key no longer signs" 1 "not a key of targets" $R sign ws targets --key targets.pem
ok "timestamp" $R timestamp ws --key snap.pem --key ts.pem
ok "publish the rotated repository" $R publish ws out
check "root v2 is published" [ -f out/metadata/2.root.json ]
ok "verify from the old trusted root (follows the rotation)" $R verify out --root trusted-root-v1.json
ok "client follows the targets rotation" client c1 refresh
check "client now trusts root v2" [ "$(jget c1/root.json 'd["signed"]["version"]')" = 2 ]

# ---------------------------------------------------------------- rotation: root keys
ok "rotate root: replace root3 with root4" \
	$R rotate ws root --old-key root3.pub --new-key root4.pem --key root1.pem --passphrase-file pass.txt
refuses "publish refuses a root with only one signature" 1 "root v3 has 1 of the 2" $R publish ws out
ok "a second root key signs (old and new threshold met)" env PAWL_PASSPHRASE="$PASS" $R sign ws root --key root2.pem
ok "publish root v3" $R publish ws out
ok "rotate root to two new keys (threshold 2)" \
	$R rotate ws root --old-key root1.pub --old-key root2.pub --new-key targets.pem --new-key snap2.pem --key targets.pem --key snap2.pem --key root4.pem
refuses "new keys alone are not enough: the old root's threshold is missing" 1 "root v3 requires" $R publish ws out
ok "an old root key signs the new root" $R sign ws root --key root1.pem --passphrase-file pass.txt
ok "publish root v4" $R publish ws out
ok "verify from root v1 through v4" $R verify out --root trusted-root-v1.json
ok "client follows the root rotations" client c1 --target-name demo-app/2.0.0/demo-app.tar.gz download
check "client now trusts root v4" [ "$(jget c1/root.json 'd["signed"]["version"]')" = 4 ]
ok "a fresh client from root v1 gets there too" $P --metadata-dir c2 init trusted-root-v1.json
ok "fresh client download" client c2 --target-name demo-app/plugins/plugin.so download
interop "securesystemslib verifies key ids, canonical JSON and signatures (root chain, delegations)" out

# ---------------------------------------------------------------- rotation: snapshot key
ok "rotate the snapshot key" $R rotate ws snapshot --old-key snap.pub --new-key snap2.pem --key targets.pem --key snap2.pem
ok "timestamp with the new snapshot key" $R timestamp ws --key snap2.pem --key ts.pem
ok "publish" $R publish ws out
ok "client follows the snapshot rotation" client c1 refresh

# ---------------------------------------------------------------- hash bins, batches
ok "a second workspace" $R init wb --root-key root4.pem --targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem --sha512
ok "16 hash bins (TAP 15)" $R bins wb --count 16 --key bins.pem --sign-key targets.pem
refuses "bin count must be a power of two" 64 "power of two" $R bins wb --count 12 --key bins.pem
mkdir -p batch/sub
i=0
while [ $i -lt 60 ]; do echo "file $i" >batch/f$i.txt; i=$((i + 1)); done
echo deep >batch/sub/deep.txt
ok "add a directory as one batch (routed to bins)" $R add wb --from-dir batch --prefix pkg --key bins.pem
printf 'pkg/m1\tbatch/f1.txt\t{"n": 1}\npkg/m2\tbatch/f2.txt\n' >manifest.tsv
ok "add from a manifest" $R add wb --manifest manifest.tsv --key bins.pem
ok "timestamp" $R timestamp wb --key snap.pem --key ts.pem
ok "publish the binned repository" $R publish wb outb
ok "verify the binned repository (every target downloaded)" $R verify outb --root wb/root.json --downloads 0
check "sha512-prefixed names too" sh -c "ls outb/targets/pkg | grep -qE '^[0-9a-f]{128}\.f1\.txt$'"
interop "securesystemslib verifies the hash-bin repository" outb
ok "client init (bins)" $P --metadata-dir cb init wb/root.json
ok "client downloads a binned target over file://" $P --metadata-dir cb --metadata-url "file://$T/outb/metadata" --target-base-url "file://$T/outb/targets" --target-dir cb.dl --target-name pkg/sub/deep.txt --target-name pkg/m1 download
ok "remove a binned target" $R remove wb pkg/f3.txt --key bins.pem
mkdir linked
echo one >linked/a
echo two >linked/b
ok "add --link (hard links into the store)" $R add wb --from-dir linked --prefix lk --link --key bins.pem
check "the store holds a hard link, not a copy" [ "$(stat -c %h linked/a)" = 2 ]
ok "timestamp" $R timestamp wb --key snap.pem --key ts.pem
echo tampered >linked/a
refuses "publish refuses content changed in place after add --link" 1 "damaged" $R publish wb outb
echo one >linked/a
ok "publish once the content is back" $R publish wb outb
ok "verify" $R verify outb --root wb/root.json

# ---------------------------------------------------------------- without consistent snapshots
ok "init without consistent snapshots" $R init wn --root-key root4.pem --targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem --no-consistent-snapshot
ok "add" $R add wn app.tar.gz app1.tar.gz --key targets.pem
ok "timestamp" $R timestamp wn --key snap.pem --key ts.pem
ok "publish" $R publish wn outn
check "unversioned names" [ -f outn/metadata/targets.json ] && [ -f outn/targets/app.tar.gz ]
ok "verify" $R verify outn --root wn/root.json
ok "client over file://" sh -c "$P --metadata-dir cn init wn/root.json && $P --metadata-dir cn --metadata-url file://$T/outn/metadata --target-base-url file://$T/outn/targets --target-dir cn.dl --target-name app.tar.gz download"

# ---------------------------------------------------------------- a published tree others can write
# A web root shared with the server's account: whoever else can write it
# may plant links in it. The publisher must not write (or hard-link) a
# target through a link, at any component of the target's directory.
ok "init" $R init wl --root-key root4.pem --targets-key targets.pem --snapshot-key snap.pem --timestamp-key ts.pem
ok "add a target under two directories" $R add wl app/1.0/app.tar.gz app1.tar.gz --key targets.pem
ok "timestamp" $R timestamp wl --key snap.pem --key ts.pem
mkdir -p outl/targets victim
ln -s "$T/victim" outl/targets/app
refuses "publish refuses a link for the target's directory" 1 "outl/targets/: app/1.0: refused: a symbolic link" $R publish wl outl
check "nothing was written through it" [ -z "$(ls -A victim)" ]
rm outl/targets/app
mkdir outl/targets/app
ln -s "$T/victim" outl/targets/app/1.0
refuses "publish refuses a link deeper down" 1 "refused: a symbolic link" $R publish wl outl
check "still nothing written through it" [ -z "$(ls -A victim)" ]
rm outl/targets/app/1.0
ok "publish once the links are gone" $R publish wl outl
ok "verify" $R verify outl --root wl/root.json

# ---------------------------------------------------------------- usage
for c in keygen init add remove delegate bins sign rotate expire timestamp publish verify status; do
	if $R $c --help | grep -q "usage: pawl-repo $c"; then :; else flunk "$c --help"; fi
done
pass "--help for every command"
refuses "unknown option is a usage error (exit 64)" 64 "^pawl-repo publish: unknown option '--bogus'$" $R publish --bogus ws out
check "... one line naming it, then the hint" sh -c "[ \$(wc -l < out.log) -eq 2 ] && grep -qx \"Try 'pawl-repo publish --help'.\" out.log"
refuses "an option without its argument is named" 64 "^pawl-repo verify: option '--root' needs an argument$" $R verify out --root
refuses "an argument given to a flag is named" 64 "^pawl-repo status: option '--json' takes no argument$" $R status ws --json=1
refuses "unknown command is a usage error" 64 "unknown command 'frobnicate'" $R frobnicate
refuses "a mistyped command is named, with the nearest one" 64 "^pawl-repo: unknown command 'publsh' \(did you mean 'publish'\?\)$" $R publsh
refuses "... also after help" 64 "unknown command 'stauts' \(did you mean 'status'\?\)" $R help stauts

echo "1..$n"
[ $failed -eq 0 ]
