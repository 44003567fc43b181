#!/bin/sh
# test_delegation_limit.sh - pawl --max-delegations: a target deeper in a
# delegation chain than the search may go is not found (and the message
# says so), the option lets the search go deeper, and the option refuses
# values it cannot honour.
set -eu
build=${PAWL_BUILDDIR:?}
P="$build/pawl"
work=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-deleglimit-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
. "${PAWL_SRCDIR:?}/tests/integration/tap.sh"

# targets -> role1 -> ... -> role40; the target is in role40, so finding
# it takes 40 delegated roles, past the default of 32.
target=$("$build/bench/gen_repo" repo chain 40)
"$P" -q --metadata-dir md init repo/root.json
dl() {
	rm -rf out
	"$P" --metadata-dir md --metadata-url "file://$work/repo/metadata/" \
		--target-base-url "file://$work/repo/targets/" --target-dir out \
		--target-name "$target" "$@" download
}
refuses "40 roles deep: not found with the default search limit" 1 \
	'not found.*search limit reached' dl
refuses "nor with --max-delegations 39" 1 'search limit reached' dl --max-delegations 39
ok "found with --max-delegations 40" dl --max-delegations 40
check "and the file is there" test -s out/"$(printf '%s' "$target" | sed 's,/,%2F,g')"
refuses "--max-delegations 0 is refused" 1 'max-delegations: 0 is out of range \(1 to 100000\)' dl --max-delegations 0
refuses "--max-delegations 100001 is refused" 1 'max-delegations: 100001 is out of range' \
	dl --max-delegations 100001
refuses "--max-delegations x is refused" 1 'max-delegations: "x" is not a whole number from 1 to 100000' dl --max-delegations x
echo "1..$n"
[ "$failed" -eq 0 ]
