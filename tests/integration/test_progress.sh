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
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
