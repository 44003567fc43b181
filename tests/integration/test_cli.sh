#!/bin/sh
# test_cli.sh - pawl's command line as a new user meets it (issue 16):
# options before or after the command, help for every command, the right
# message for a client or an agent command given in the wrong mode, a
# mistyped command named with the nearest one, one line for a bad option,
# the same --since rule as pawl-repo, a sentence before the first run, and
# hints that say the fix (init first, --ca-file for a private CA, the clock
# or `pawl-repo timestamp` for an expired timestamp).
#
# Output is TAP. The TLS case serves over nginx on 127.0.0.1, stopped by
# its pid on every exit (nginx.sh stop).
set -eu
SRC=${PAWL_SRCDIR:?}
BUILD=${PAWL_BUILDDIR:?}
P=$BUILD/pawl
R=$BUILD/pawl-repo
T=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-cli-XXXXXX)
NGINX_STATE=
cleanup() {
	if [ -n "$NGINX_STATE" ]; then sh "$SRC/tests/integration/nginx.sh" stop "$NGINX_STATE" >/dev/null 2>&1 || true; fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$T"
chmod 755 "$T"
. "$SRC/tests/integration/tap.sh"
# one_json FILE: FILE holds exactly one JSON value
one_json() { python3 -c 'import json,sys; json.loads(sys.stdin.read())' < "$1"; }

for k in root targets snapshot timestamp; do "$R" -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null; done
"$R" -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem --timestamp-key timestamp.pem
mkdir -p a && echo hi > a/f && tar czf app.tar.gz -C a .
"$R" -q release repo app 1.0.0 app.tar.gz --key targets.pem
"$R" -q timestamp repo --key snapshot.pem --key timestamp.pem
"$R" -q publish repo srv
MURL=file://$T/srv/metadata/
TURL=file://$T/srv/targets/
cat > a.conf <<EOC
metadata_url = $MURL
target_base_url = $TURL
trusted_root = $T/repo/root.json
state_dir = $T/state
app = app
install_dir = $T/install
syslog = no
EOC
sed -e "s#$T/state#$T/state-new#" -e "s#$T/install#$T/install-new#" a.conf > new.conf

# ---------------------------------------------------------------- options anywhere
ok "options after the command: init ROOT --metadata-dir DIR" $P init repo/root.json --metadata-dir md
ok "refresh --json, as docs/json.md writes it" sh -c "$P --metadata-dir md --metadata-url $MURL refresh --json > r.json"
check "... prints the refresh result" python3 -c "import json; assert json.load(open('r.json'))['ok'] is True"
ok "options on both sides of the command" $P --metadata-dir md refresh -q --metadata-url "$MURL"
ok "download with every option after the command" $P download --metadata-dir md --metadata-url "$MURL" \
	--target-base-url "$TURL" --target-dir out --target-name app/1.0.0/app.tar.gz
check "... downloads the target" test -f out/app%2F1.0.0%2Fapp.tar.gz
ok "agent: status --json after the command, --config last" sh -c "$P status --json --config a.conf > s.json"
check "... one JSON value" one_json s.json
refuses "'--' ends the options: what follows is an argument" 1 "init takes one argument" \
	$P --metadata-dir md init -- repo/root.json --json

# ---------------------------------------------------------------- help everywhere
ok "pawl help" sh -c "$P help > help.txt"
ok "pawl --help" sh -c "$P --help > help2.txt"
check "... the same text" cmp -s help.txt help2.txt
check "the help lists every command" sh -c 'for c in init refresh download update status rollback log clear-bad; do grep -q "^  $c" help.txt || exit 1; done'
check "the help holds the exit status table" sh -c 'for c in 0 1 2 3 4 5 6 64; do grep -qE "^ +$c  " help.txt || exit 1; done'
for c in init refresh download update status rollback log clear-bad; do
	ok "pawl help $c" sh -c "$P help $c > h1.txt"
	check "... starts with its usage" sh -c "head -1 h1.txt | grep -q \"^usage: pawl \" && head -3 h1.txt | grep -qw -- $c"
	ok "pawl $c --help" sh -c "$P $c --help > h2.txt"
	check "... the same text as pawl help $c" cmp -s h1.txt h2.txt
done
ok "help with a mode and other options given" sh -c "$P --config a.conf update --help > h3.txt"
check "... is still the command's help" grep -q "^usage: pawl --config FILE update" h3.txt
refuses "pawl help bogus names the word" 64 "unknown command 'bogus'" $P help bogus

# ---------------------------------------------------------------- the right message for the mode
for c in update status rollback log clear-bad; do
	refuses "$c without --config: an agent command that needs --config FILE (pawl.conf(5))" 64 \
		"$c is an agent command: it needs --config FILE.*pawl\\.conf\\(5\\)" $P $c
done
refuses "refresh without --metadata-dir says so and that init comes first (exit 1: the protocol)" 1 \
	"refresh needs --metadata-dir DIR.*'pawl --metadata-dir DIR init ROOT.json' comes first" $P refresh
refuses "download without --metadata-dir, too" 1 "download needs --metadata-dir DIR.*init ROOT.json' comes first" $P download
refuses "init with neither mode names both" 1 "init needs --metadata-dir DIR .* or --config FILE" $P init root.json
refuses "an agent command with --metadata-dir" 64 "update is an agent command: it needs --config FILE" $P --metadata-dir md update
refuses "a client command with --config" 64 "refresh is a client command" $P --config a.conf refresh
refuses "a client option given to the agent names it and where the agent's setting lives" 64 \
	"--ca-file is an option of the client commands .*a.conf \\(pawl.conf\\(5\\)\\)" $P --config a.conf --ca-file x.pem update
refuses "--config and --metadata-dir together" 64 "do not go together" $P --config a.conf --metadata-dir md status

# ---------------------------------------------------------------- unknown words
refuses "a mistyped command is named, with the nearest command" 64 \
	"^pawl: unknown command 'refesh' \\(did you mean 'refresh'\\?\\)$" $P --metadata-dir md refesh
check "... in one line, plus the hint" sh -c "[ \$(wc -l < out.log) -eq 2 ] && grep -qx \"Try 'pawl --help'.\" out.log"
refuses "a swapped pair of letters: stauts" 64 "did you mean 'status'" $P --config a.conf stauts
refuses "a word far from every command lists them" 64 "unknown command 'frobnicate'; the commands are" $P frobnicate
refuses "an unknown option after an agent command: exit 64" 64 "^pawl: unknown option '--bogus'$" \
	$P --config a.conf status --bogus
check "... one line naming it, plus the hint for that command" sh -c \
	"[ \$(wc -l < out.log) -eq 2 ] && [ \"\$(sed -n 2p out.log)\" = \"Try 'pawl status --help'.\" ]"
refuses "an unknown option to refresh: exit 1 (the protocol)" 1 "^pawl: unknown option '--bogus'$" \
	$P --metadata-dir md --metadata-url "$MURL" refresh --bogus
check "... one line, plus the hint" sh -c "[ \$(wc -l < out.log) -eq 2 ]"
refuses "an unknown short option" 64 "^pawl: unknown option '-x'$" $P --config a.conf -x status
refuses "an option without its argument" 64 "^pawl: option '--since' needs an argument$" $P --config a.conf log --since
refuses "an argument given to a flag" 64 "^pawl: option '--json' takes no argument$" $P --config a.conf status --json=yes
refuses "an extra argument" 64 "unexpected argument 'now' for status" $P --config a.conf status now
refuses "log takes only 'verify'" 64 "log takes no argument but 'verify'" $P --config a.conf log check
refuses "clear-bad without VERSION" 64 "clear-bad takes the VERSION" $P --config a.conf clear-bad

# ---------------------------------------------------------------- numbers and times: one rule
ok "agent: first update" $P -q --config a.conf update
ok "log --since 24h, as pawl-repo log --since takes it" sh -c "$P --config a.conf log --since 24h > since.txt"
check "... shows the run just made" grep -q "update.start" since.txt
ok "log --since with a date" sh -c "$P --config a.conf log --since 2000-01-01 > since2.txt"
check "... the same entries" cmp -s since.txt since2.txt
ok "pawl-repo log --since 24h" $R log repo --since 24h
refuses "log --since 24x is a usage error naming what is accepted" 64 "24x.*YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or a duration" \
	$P --config a.conf log --since 24x
refuses "a bad --timeout is refused (exit 1 for refresh)" 1 "--timeout" \
	$P --metadata-dir md --metadata-url "$MURL" --timeout 10x refresh
ok "--timeout 5m: a duration with a unit, as pawl-repo takes periods" \
	$P --metadata-dir md --metadata-url "$MURL" --timeout 5m --connect-timeout 30s refresh
refuses "' 5' is not a number (strtoull took it)" 1 "bad --timeout \" 5\"" \
	$P --metadata-dir md --metadata-url "$MURL" --timeout " 5" refresh
refuses "'+5' is not a number either" 1 "max-delegations: \"\\+5\" is not a whole number" \
	$P --metadata-dir md --metadata-url "$MURL" --max-delegations +5 refresh
{ cat a.conf; echo "health_timeout = 5m"; echo "lock_timeout = 0"; echo "deadline_base = 1m"; } > units.conf
ok "pawl.conf takes the same durations (health_timeout = 5m)" $P --config units.conf status
{ cat a.conf; echo "health_timeout = 0x10"; } > hex.conf
refuses "... and refuses what the rule refuses (0x10)" 1 "hex.conf:[0-9]*: health_timeout must be" $P --config hex.conf status
{ cat a.conf; echo "min_rate = 1 000"; } > space.conf
refuses "... (a number with a space)" 1 "space.conf:[0-9]*: min_rate must be" $P --config space.conf status

# ---------------------------------------------------------------- before the first run
ok "status before the first run: exit 0" sh -c "$P --config new.conf status > st.txt"
check "... a sentence saying nothing has run yet" grep -q "^Nothing has run yet with new.conf: no update of app has been checked" st.txt
check "... and not 'never, never (exit -1)'" sh -c "! grep -q 'exit -1' st.txt"
ok "log before the first run: exit 0" sh -c "$P --config new.conf log > lg.txt"
check "... says nothing has run yet" grep -q "^Nothing has run yet with new.conf: the audit log .* starts with the first" lg.txt
ok "log verify before the first run: exit 0" sh -c "$P --config new.conf log verify > lv.txt"
check "... says there is nothing to verify yet" grep -q "Nothing has run yet" lv.txt
check "... and neither created anything" test ! -e state-new/audit.log

# ---------------------------------------------------------------- hints that say the fix
refuses "refresh before init: run init first" 1 \
	"hint: fresh holds no trusted root: run 'pawl --metadata-dir fresh init ROOT.json' first" \
	$P --metadata-dir fresh --metadata-url "$MURL" refresh
refuses "an expired timestamp: check the clock or ask for pawl-repo timestamp" 1 \
	"hint: check this machine's clock, or ask the publisher to run pawl-repo timestamp" \
	env LD_PRELOAD="$PAWL_FAKECLOCK" PAWL_FAKECLOCK_OFFSET=$((30 * 86400)) \
	$P --metadata-dir md --metadata-url "$MURL" refresh
refuses "the agent gives the same hint (exit 2, verification)" 2 \
	"hint: check this machine's clock, or ask the publisher to run pawl-repo timestamp" \
	env LD_PRELOAD="$PAWL_FAKECLOCK" PAWL_FAKECLOCK_OFFSET=$((30 * 86400)) $P --config a.conf update

sh "$SRC/tests/integration/certs.sh" pki >/dev/null
set -- $(sh "$SRC/tests/integration/nginx.sh" start "$T/srv" --tls pki/server.pem pki/server.key --owner $$)
port=$1
NGINX_STATE=$2
refuses "a private CA without --ca-file: use --ca-file FILE (or ca_file in pawl.conf)" 1 \
	"hint: .*use --ca-file FILE \\(or ca_file in pawl.conf\\)" \
	$P --metadata-dir md --metadata-url "https://127.0.0.1:$port/metadata/" refresh
ok "... and with --ca-file it works" $P --metadata-dir md --metadata-url "https://127.0.0.1:$port/metadata/" --ca-file pki/ca.pem refresh
sed -e "s#$MURL#https://127.0.0.1:$port/metadata/#" -e "s#$TURL#https://127.0.0.1:$port/targets/#" a.conf > tls.conf
refuses "the agent says the same (exit 3, network)" 3 "hint: .*use --ca-file FILE \\(or ca_file in pawl.conf\\)" \
	$P --config tls.conf update
echo "ca_file = $T/pki/ca.pem" >> tls.conf
ok "... and with ca_file it works" $P --config tls.conf update
echo "1..$n"
[ "$failed" -eq 0 ]
