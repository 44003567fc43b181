#!/bin/sh
# test_repo_hsm.sh - pawl-repo with root and targets keys in a PKCS#11 token
# (SoftHSM2, PRODUCT.md practice 6): keys generated inside the token with
# OpenSC's pkcs11-tool, then init, add, delegate, sign, rotate, timestamp and
# publish with `pkcs11:` URIs, and build/pawl over nginx verifying the
# result. Refusals: a wrong PIN, no PIN. The PIN never reaches the output,
# the audit log or the workspace; the audit log records the token
# signatures with signer kind "pkcs11".
#
# Skipped when SoftHSM2 or pkcs11-tool (package opensc) is missing.
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson);
# PAWL_TEST_SOFTHSM overrides the module path.
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl
NGINX_SH=$SRC/tests/integration/nginx.sh
MODULE=${PAWL_TEST_SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}

if [ ! -f "$MODULE" ] || ! command -v pkcs11-tool >/dev/null 2>&1 ||
	! command -v softhsm2-util >/dev/null 2>&1; then
	echo "1..0 # SKIP SoftHSM2 ($MODULE) or pkcs11-tool (opensc) not installed"
	exit 0
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-repo-hsm-XXXXXX")
NGINX_STATE=
cleanup() {
	if [ -n "$NGINX_STATE" ]; then sh "$NGINX_SH" stop "$NGINX_STATE" || true; fi
	if [ "${PAWL_KEEP_TEST:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM
cd "$T"

# A throwaway token store, and the module pawl-repo loads.
mkdir -p hsm/tokens
cat >hsm/softhsm2.conf <<EOF
directories.tokendir = $T/hsm/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF="$T/hsm/softhsm2.conf"
export PAWL_PKCS11_MODULE="$MODULE"
export PAWL_SYSLOG_SOCKET="$T/no-syslog-here"
# Under AddressSanitizer: SoftHSM2 leaks inside C_SignInit
# (tests/data/pkcs11/lsan.supp). pawl-repo unloads the module before exit
# (dlclose with the last signer), so those frames show as <unknown module>
# and "leak:libsofthsm2.so" cannot match them; token_sign is the one pawl
# frame above C_SignInit/C_Sign, and allocates nothing itself.
cat "$SRC/tests/data/pkcs11/lsan.supp" - >lsan.supp <<'EOF'
leak:token_sign
EOF
export LSAN_OPTIONS="suppressions=$T/lsan.supp:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

. "$SRC/tests/integration/tap.sh"
SSL_PY=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import securesystemslib' 2>/dev/null; then SSL_PY=$py; break; fi
done

# A PIN no hash or key id will contain by chance, so that grepping for it
# finds only leaks.
PIN=hsm-Pin-4711
printf '%s\n' "$PIN" >pin.txt
echo "0000-wrong" >wrong-pin.txt
p11() { pkcs11-tool --module "$MODULE" --token-label pawl-test --login --pin "$PIN" "$@"; }
keypair() { # TYPE LABEL ID
	p11 --keypairgen --key-type "$1" --label "$2" --id "$3" --usage-sign >/dev/null 2>&1
}
ok "SoftHSM2 token" softhsm2-util --init-token --free --label pawl-test --pin "$PIN" --so-pin 5678-so
# Ed25519 (pawl's default algorithm) when this OpenSC can make it in the
# token, else ECDSA P-256; RSA-3072 and P-256 for the other roles.
if keypair EC:edwards25519 root-1 01; then
	ROOT_TYPE=ed25519
else
	echo "# this pkcs11-tool cannot make Ed25519 keys: the root key is ECDSA P-256"
	keypair EC:prime256v1 root-1 01
	ROOT_TYPE=ecdsa
fi
ok "targets key pair (ECDSA P-256) generated in the token" keypair EC:prime256v1 targets-1 02
ok "a second targets key pair (RSA-3072)" keypair rsa:3072 targets-2 03
ok "a delegated role's key pair (ECDSA P-256)" keypair EC:prime256v1 dev-1 04
ROOT="pkcs11:token=pawl-test;object=root-1"
TG="pkcs11:token=pawl-test;object=targets-1"
TG2="pkcs11:token=pawl-test;object=targets-2"
DEV="pkcs11:token=pawl-test;id=%04"
for k in snap ts; do $R -q keygen --out $k.pem --no-passphrase >/dev/null; done

# ---------------------------------------------------------------- refusals
refuses "a wrong PIN is refused, naming the key and the token" 1 \
	"pkcs11:token=pawl-test;object=root-1: wrong PIN for token \"pawl-test\"" \
	$R init ws --root-key "$ROOT" --targets-key "$TG" --snapshot-key snap.pem --timestamp-key ts.pem \
	--pin-file wrong-pin.txt
check "nothing was created" [ ! -e ws ]
refuses "no PIN: the message says how to give one" 1 "needs a PIN.*--pin-file.*PAWL_PKCS11_PIN" \
	$R init ws --root-key "$ROOT" --targets-key "$TG" --snapshot-key snap.pem --timestamp-key ts.pem
refuses "an unknown key label is refused" 1 "no such private key" \
	$R init ws --root-key "pkcs11:token=pawl-test;object=nope" --targets-key "$TG" \
	--snapshot-key snap.pem --timestamp-key ts.pem --pin-file pin.txt
refuses "a pin-file that is a symbolic link is refused" 1 "pin-file" \
	sh -c "ln -sf pin.txt pin-link && $R init ws --root-key '$ROOT' --targets-key '$TG' --snapshot-key snap.pem --timestamp-key ts.pem --pin-file pin-link"
rm -rf ws

# ---------------------------------------------------------------- the workflow
ok "init with the root and targets keys in the token (--pin-file)" \
	$R init ws --root-key "$ROOT" --targets-key "$TG" --snapshot-key snap.pem --timestamp-key ts.pem \
	--pin-file pin.txt
check "root v1 is fully signed by the token" [ -f ws/root.json ]
rk=$(jget ws/root.json 'd["signed"]["roles"]["root"]["keyids"][0]')
tk=$(jget ws/root.json 'd["signed"]["roles"]["targets"]["keyids"][0]')
check "root's key is the token's $ROOT_TYPE key" [ "$(jget ws/root.json "d['signed']['keys']['$rk']['keytype']")" = "$ROOT_TYPE" ]
check "targets' key is the token's ECDSA key" [ "$(jget ws/root.json "d['signed']['keys']['$tk']['keytype']")" = ecdsa ]
printf 'app 1.0\n' >app1.bin
ok "add, signed by the token (PIN from PAWL_PKCS11_PIN)" \
	env PAWL_PKCS11_PIN="$PIN" $R add ws app/1.0/app.bin app1.bin --key "$TG"
ok "delegate: the role's public key read from the token" \
	$R delegate ws dev --key "$DEV" --path 'plugins/*' --sign-key "$TG" --pin-file pin.txt
dk=$(jget ws/metadata/targets.json 'd["signed"]["delegations"]["roles"][0]["keyids"][0]')
check "the delegation names the token key, which signed the new role" \
	[ "$(jget ws/metadata/dev.json 'd["signatures"][0]["keyid"]')" = "$dk" ]
printf 'plugin\n' >plugin.so
ok "add to the delegated role, signed in the token" \
	$R add ws plugins/plugin.so plugin.so --role dev --key "$DEV" --pin-file pin.txt
printf 'app 1.1\n' >app11.bin
ok "add without signing (an offline signer signs later)" $R add ws app/1.1/app.bin app11.bin
ok "sign with a URI that carries its own pin-value" $R sign ws targets --key "$TG?pin-value=$PIN"
ok "timestamp (online file keys)" $R timestamp ws --key snap.pem --key ts.pem
ok "publish" $R publish ws out
ok "verify the published tree" $R verify out --root ws/root.json
cp ws/root.json trusted-root.json

set -- $(sh "$NGINX_SH" start "$T/out" --owner $$)
PORT=$1
NGINX_STATE=$2
URL=http://127.0.0.1:$PORT
client() {
	d=$1
	shift
	$P --metadata-dir "$d" --metadata-url "$URL/metadata" --target-base-url "$URL/targets" \
		--target-dir "$d.dl" "$@"
}
ok "client init" $P --metadata-dir c1 init trusted-root.json
ok "build/pawl downloads over nginx what the token signed" \
	client c1 --target-name app/1.1/app.bin --target-name plugins/plugin.so download
check "right bytes (app)" cmp -s c1.dl/app%2F1.1%2Fapp.bin app11.bin
check "right bytes (plugin)" cmp -s c1.dl/plugins%2Fplugin.so plugin.so

# ---------------------------------------------------------------- rotation in the token
ok "rotate targets to the token's RSA-3072 key, root signed in the token" \
	$R rotate ws targets --old-key "$TG" --new-key "$TG2" --key "$ROOT" --key "$TG2" --pin-file pin.txt
ok "timestamp" $R timestamp ws --key snap.pem --key ts.pem
ok "publish the rotation" $R publish ws out
ok "verify from the first root" $R verify out --root trusted-root.json
ok "the client follows the rotation" client c1 --target-name app/1.0/app.bin download
check "the client trusts root v2" [ "$(jget c1/root.json 'd["signed"]["version"]')" = 2 ]
if [ -n "$SSL_PY" ]; then
	ok "securesystemslib verifies the token's signatures (key ids, canonical JSON, root chain)" \
		"$SSL_PY" "$SRC/tests/integration/tuf_interop.py" out/metadata
else
	n=$((n + 1))
	echo "ok $n - securesystemslib check # SKIP python3-securesystemslib not installed"
fi

# ---------------------------------------------------------------- the audit log
ok "log" sh -c "$R log ws >log.txt"
check "token signatures are logged with signer kind pkcs11 (root)" \
	grep -qE "sign key=\"pkcs11:token=pawl-test;object=root-1\" keyid=$rk role=root signer=pkcs11 version=1" log.txt
check "token signatures are logged with signer kind pkcs11 (targets)" \
	grep -qE "sign key=\"pkcs11:token=pawl-test;object=targets-1\" keyid=$tk role=targets signer=pkcs11" log.txt
check "file keys are logged as file" grep -qE "sign key=snap.pem .*role=snapshot signer=file" log.txt
check "the URI is logged without its pin-value" sh -c "! grep -q pin-value log.txt"
ok "log verify" $R log ws verify
check "the PIN is in no output, log or workspace file" \
	sh -c "! grep -rqF -- '$PIN' ws out log.txt out.log"
refuses "a wrong PIN against an existing workspace is refused..." 1 "wrong PIN" \
	$R sign ws targets --key "$TG2" --pin-file wrong-pin.txt
ok "log" sh -c "$R log ws >log.txt"
check "...and logged as a failure" \
	grep -qE "failure command=sign error=.* reason=\"pkcs11:token=pawl-test;object=targets-2: wrong PIN" log.txt

echo "1..$n"
[ $failed -eq 0 ]
