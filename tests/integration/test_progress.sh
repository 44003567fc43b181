#!/bin/sh
# test_progress.sh - the download progress bar appears on a terminal (a
# pseudo-terminal from script(1)), says bytes, rate and time left, and is
# cleared before the closing line; without a terminal nothing of it shows.
set -u
build=${PAWL_BUILDDIR:?}
P="$build/pawl"
work=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-progress-XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $1"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $1"; }

head -c $((48 * 1024 * 1024)) /dev/urandom > "$work/blob"
"$build/bench/gen_repo" "$work/repo" file "$work/blob" >/dev/null || exit 1
"$P" -q --metadata-dir "$work/md" init "$work/repo/root.json" || exit 1
cmd="$P --metadata-dir $work/md --metadata-url file://$work/repo/metadata/ --target-base-url file://$work/repo/targets/ --target-dir $work/out --target-name blob download"

script -qfec "$cmd" "$work/tty.log" >/dev/null 2>&1
rc=$?
[ $rc = 0 ] && ok "download in a pseudo-terminal" || not_ok "download in a pseudo-terminal (exit $rc)"
tr '\r' '\n' < "$work/tty.log" > "$work/tty.lines"
grep -q '\[#*-*\] *[0-9]*% .*/s ' "$work/tty.lines" && ok "the bar shows percentage, bytes and rate" || not_ok "no progress bar"
grep -q 'left\|--' "$work/tty.lines" && ok "and the time left" || not_ok "no time left"
# The last bar is wiped (ESC [ K) before the closing line.
if tr '\r' '\n' < "$work/tty.log" | grep -a -q "$(printf '\033')\[Kpawl: downloaded blob"; then
	ok "the bar is cleared before 'downloaded'"
else
	not_ok "the bar is not cleared"
fi
rm -rf "$work/out"
$cmd >"$work/plain.out" 2>"$work/plain.err"
grep -q "$(printf '\r')" "$work/plain.err" && not_ok "a bar without a terminal" || ok "no bar without a terminal"
grep -q "pawl: downloaded blob" "$work/plain.err" && ok "the closing line is there" || not_ok "no closing line"
rm -rf "$work/out"
script -qfec "$P --json --metadata-dir $work/md --metadata-url file://$work/repo/metadata/ --target-base-url file://$work/repo/targets/ --target-dir $work/out --target-name blob download" "$work/json.log" >/dev/null 2>&1
grep -q '%' "$work/json.log" && not_ok "a bar with --json" || ok "no bar with --json"

# ---- the agent: the same bar, for the release it downloads ----
R="$build/pawl-repo"
chmod 755 "$work"
for k in root targets snapshot timestamp; do
	"$R" -q keygen --type ed25519 --out "$work/$k.pem" --no-passphrase >/dev/null || exit 1
done
"$R" -q init "$work/ws" --root-key "$work/root.pem" --targets-key "$work/targets.pem" \
	--snapshot-key "$work/snapshot.pem" --timestamp-key "$work/timestamp.pem" || exit 1
"$R" -q release "$work/ws" app 1.0.0 "$work/blob" --key "$work/targets.pem" || exit 1
"$R" -q timestamp "$work/ws" --key "$work/snapshot.pem" --key "$work/timestamp.pem" || exit 1
"$R" -q publish "$work/ws" "$work/srv" || exit 1
# agent_conf NAME [EXTRA]: a configuration with its own state and install dirs
agent_conf() {
	cat > "$work/$1.conf" <<EOC
metadata_url = file://$work/srv/metadata/
target_base_url = file://$work/srv/targets/
trusted_root = $work/ws/root.json
state_dir = $work/$1-state
app = app
install_dir = $work/$1-install
syslog = no
${2:-}
EOC
}
agent_conf a
script -qfec "$P --config $work/a.conf update" "$work/agent.log" >/dev/null 2>&1
rc=$?
[ $rc = 0 ] && ok "agent update in a pseudo-terminal" || not_ok "agent update in a pseudo-terminal (exit $rc)"
tr '\r' '\n' < "$work/agent.log" > "$work/agent.lines"
grep -q 'app/1.0.0/blob *\[#*-*\] *[0-9]*% .*/s ' "$work/agent.lines" && ok "the agent shows the bar, naming the release" || not_ok "no progress bar from the agent"
if grep -a -q "$(printf '\033')\[Kpawl: installing app 1.0.0" "$work/agent.lines"; then
	ok "the bar is cleared before 'installing'"
else
	not_ok "the agent's bar is not cleared"
fi
agent_conf b
"$P" --config "$work/b.conf" update >"$work/b.out" 2>"$work/b.err"
grep -q "$(printf '\r')" "$work/b.err" && not_ok "an agent bar without a terminal" || ok "no agent bar without a terminal"
agent_conf c
script -qfec "$P --config $work/c.conf update --json" "$work/c.log" >/dev/null 2>&1
grep -q '%' "$work/c.log" && not_ok "an agent bar with --json" || ok "no agent bar with --json"
agent_conf d
script -qfec "$P -q --config $work/d.conf update" "$work/d.log" >/dev/null 2>&1
grep -q '%' "$work/d.log" && not_ok "an agent bar with -q" || ok "no agent bar with -q"
if [ "$(id -u)" = 0 ]; then
	# Privilege separation: the unprivileged fetcher downloads, and draws.
	agent_conf e "user = nobody"
	script -qfec "$P --config $work/e.conf update" "$work/e.log" >/dev/null 2>&1
	rc=$?
	tr '\r' '\n' < "$work/e.log" > "$work/e.lines"
	[ $rc = 0 ] && grep -q 'app/1.0.0/blob *\[#*-*\] *[0-9]*% ' "$work/e.lines" &&
		ok "with privilege separation the fetcher shows the bar" ||
		not_ok "no bar with privilege separation (exit $rc)"
else
	echo "ok - privilege separation: not root # SKIP"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
