#!/bin/sh
# test_release.sh - published releases are immutable (issue 15, 4).
#   pawl-repo release of an existing APP/VERSION: other content (another
#   file, or the same name with other bytes) is refused; the same content
#   is a no-op that says so; --recovery still marks it.
#   pawl-repo add over an existing path with other content warns, and for
#   a release needs --replace (recorded in the audit log); so does a
#   second release of one APP/VERSION. A refused batch changes nothing.
# Every refusal also leaves the metadata byte for byte as it was.
#
# Output is TAP. Environment: PAWL_BUILDDIR, PAWL_SRCDIR (set by meson).
set -eu

SRC=${PAWL_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${PAWL_BUILDDIR:-$SRC/build}
R=$BUILD/pawl-repo
P=$BUILD/pawl

T=$(mktemp -d "${TMPDIR:-/tmp}/pawl-test-release-XXXXXX")
cleanup() { rm -rf "$T"; }
trap cleanup EXIT INT TERM
cd "$T"
. "$SRC/tests/integration/tap.sh"

# entry PATH EXPR: a field of a target entry in the staged targets role.
entry() {
	python3 -c 'import json,sys; t=json.load(open("repo/metadata/targets.json"))["signed"]["targets"]; e=t.get(sys.argv[1]); print(eval(sys.argv[2]) if e is not None else "absent")' "$1" "$2"
}
snap() { cp repo/metadata/targets.json before.json; }
unchanged() { cmp -s before.json repo/metadata/targets.json; }

for k in root targets snapshot timestamp; do
	$R -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null
done
$R -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
	--timestamp-key timestamp.pem
mkdir v1 v1b d
echo "myapp 1.3.0" >v1/VERSION
tar cf app.tar.gz -C v1 .
echo "something else" >v1b/VERSION
tar cf other-file.tar.gz -C v1b .
cp other-file.tar.gz d/app.tar.gz # the same name, other bytes
cp app.tar.gz same-bytes.tar.gz   # the same bytes, another name
SHA=$(sha256sum app.tar.gz | cut -c1-16)

# ---------------------------------------------------------------- release
ok "release myapp 1.3.0" $R release repo myapp 1.3.0 app.tar.gz --key targets.pem
$R -q timestamp repo --key snapshot.pem --key timestamp.pem
$R -q publish repo srv
ok "a client downloads it" $P -q --metadata-dir md init repo/root.json
ok "... and verifies it" $P -q --metadata-dir md --metadata-url "file://$T/srv/metadata/" \
	--target-base-url "file://$T/srv/targets/" --target-dir dl --target-name myapp/1.3.0/app.tar.gz download
snap
refuses "re-releasing 1.3.0 as another file is refused" 1 \
	"myapp 1.3.0 is already released: myapp/1.3.0/app.tar.gz \([0-9]+ bytes, sha256 $SHA\.\.\.\), and other-file.tar.gz .* is different\. A published release is immutable" \
	$R release repo myapp 1.3.0 other-file.tar.gz --key targets.pem
check "... the metadata is unchanged" unchanged
check "... no second artifact is listed" [ "$(entry myapp/1.3.0/other-file.tar.gz 'e')" = absent ]
refuses "re-releasing 1.3.0 with the same name and other bytes is refused" 1 \
	"already released: myapp/1.3.0/app.tar.gz .* and d/app.tar.gz .* is different" \
	$R release repo myapp 1.3.0 d/app.tar.gz --key targets.pem
check "... the metadata is unchanged" unchanged
check "... the refusal is in the publisher's audit log" sh -c "$R log repo | grep -q 'failure.*already released'"
ok "re-releasing the same content: exit 0" $R release repo myapp 1.3.0 app.tar.gz --key targets.pem
check "... says so" grep -q "myapp 1.3.0 is already released with this content (myapp/1.3.0/app.tar.gz, sha256 $SHA...); nothing changed" out.log
check "... and changes nothing" unchanged
ok "the same bytes under another name: exit 0, nothing changed" \
	$R release repo myapp 1.3.0 same-bytes.tar.gz --key targets.pem
check "... naming the release it already is" grep -q "already released with this content (myapp/1.3.0/app.tar.gz" out.log
check "... and changes nothing" unchanged
ok "--recovery marks the existing identical release" \
	$R release repo myapp 1.3.0 app.tar.gz --recovery --key targets.pem
check "... the entry is a recovery release" [ "$(entry myapp/1.3.0/app.tar.gz 'e["custom"].get("recovery")')" = True ]
check "... with the same bytes" [ "$(entry myapp/1.3.0/app.tar.gz 'e["hashes"]["sha256"][:16]')" = "$SHA" ]
snap
ok "--recovery again: nothing changed" $R release repo myapp 1.3.0 app.tar.gz --recovery --key targets.pem
check "... says it is a recovery release already" grep -q "as a recovery release; nothing changed" out.log
check "... and changes nothing" unchanged
ok "release 1.4.0" $R -q release repo myapp 1.4.0 app.tar.gz --key targets.pem
ok "--recovery with the same bytes under another name marks the existing entry" \
	$R release repo myapp 1.4.0 same-bytes.tar.gz --recovery --key targets.pem
check "... myapp/1.4.0/app.tar.gz is a recovery release" \
	[ "$(entry myapp/1.4.0/app.tar.gz 'e["custom"].get("recovery")')" = True ]
check "... and no second entry appeared" [ "$(entry myapp/1.4.0/same-bytes.tar.gz 'e')" = absent ]
$R -q timestamp repo --key snapshot.pem --key timestamp.pem
$R -q publish repo srv
check "the published 1.3.0 is still the first artifact" \
	cmp -s srv/targets/myapp/1.3.0/"$(sha256sum app.tar.gz | cut -d' ' -f1)".app.tar.gz app.tar.gz

# ---------------------------------------------------------------- add
snap
refuses "add over a release with other content is refused without --replace" 1 \
	"target myapp/1.3.0/app.tar.gz is a published release .* and other-file.tar.gz .* is different.*--replace" \
	$R add repo myapp/1.3.0/app.tar.gz other-file.tar.gz --custom '{"version": "1.3.0"}' --key targets.pem
check "... the metadata is unchanged" unchanged
refuses "add of a second release of 1.3.0 under another name is refused" 1 \
	"myapp 1.3.0 is already released as myapp/1.3.0/app.tar.gz; adding myapp/1.3.0/x.tar.gz as the same version" \
	$R add repo myapp/1.3.0/x.tar.gz other-file.tar.gz --custom '{"version": "1.3.0"}' --key targets.pem
check "... the metadata is unchanged" unchanged
printf 'myapp/2.0.0/app.tar.gz\tapp.tar.gz\t{"version": "2.0.0"}\nmyapp/1.3.0/app.tar.gz\tother-file.tar.gz\t{"version": "1.3.0"}\n' >batch.tsv
refuses "a batch with one such file is refused as a whole" 1 "batch.tsv:2: target myapp/1.3.0/app.tar.gz is a published release" \
	$R add repo --manifest batch.tsv --key targets.pem
check "... and nothing of it is added" unchanged
ok "add of the same content again: no warning" \
	$R add repo myapp/1.3.0/app.tar.gz app.tar.gz --custom '{"version": "1.3.0", "recovery": true}' --key targets.pem
check "... none" sh -c "! grep -q warning out.log"
check "... and the bytes are the same" [ "$(entry myapp/1.3.0/app.tar.gz 'e["hashes"]["sha256"][:16]')" = "$SHA" ]
ok "add --replace replaces the release" \
	$R -q add repo myapp/1.3.0/app.tar.gz other-file.tar.gz --custom '{"version": "1.3.0"}' --replace --key targets.pem
check "... with a warning, even with -q" grep -q "warning: replacing release myapp/1.3.0/app.tar.gz .*(--replace); devices that installed it keep the old bytes" out.log
check "... the entry has the new bytes" \
	[ "$(entry myapp/1.3.0/app.tar.gz 'e["hashes"]["sha256"]')" = "$(sha256sum other-file.tar.gz | cut -d' ' -f1)" ]
check "... recorded in the audit log" sh -c "$R log repo | grep -q 'target.replaced .*path=myapp/1.3.0/app.tar.gz.*release=true'"
ok "add --replace of a second release of 1.4.0" \
	$R add repo myapp/1.4.0/x.tar.gz other-file.tar.gz --custom '{"version": "1.4.0"}' --replace --key targets.pem
check "... warns that both are listed" grep -q "warning: myapp 1.4.0 is already released as myapp/1.4.0/app.tar.gz; myapp/1.4.0/x.tar.gz is added as the same version too" out.log
refuses "release of an APP/VERSION listed twice is refused" 1 "myapp 1.4.0 is already released as 2 targets" \
	$R release repo myapp 1.4.0 app.tar.gz --key targets.pem
ok "add of a plain target" $R -q add repo files/readme.txt app.tar.gz --key targets.pem
ok "add over it with other content" $R add repo files/readme.txt other-file.tar.gz --key targets.pem
check "... warns" grep -q "warning: replacing target files/readme.txt (.* bytes, sha256 $SHA...) with different content from other-file.tar.gz" out.log
check "... recorded in the audit log" sh -c "$R log repo | grep -q 'target.replaced .*path=files/readme.txt.*release=false'"
ok "add --from-dir over identical content" $R add repo --from-dir v1 --prefix same --key targets.pem
ok "... again" $R add repo --from-dir v1 --prefix same --key targets.pem
check "... without a warning" sh -c "! grep -q warning out.log"
ok "the publisher's audit log verifies" $R log repo verify
check "--help: add lists --replace" sh -c "$R add --help | grep -q -- --replace"
check "--help: release says a release is immutable" sh -c "$R release --help | grep -q immutable"

echo "1..$n"
[ "$failed" -eq 0 ]
