#!/bin/sh
# test_privsep_race.sh - the fetcher account against the root side (issue
# 15, section 1). The agent runs as root with `user = nobody`; meanwhile a
# process running as nobody (hostile_racer.c) keeps swapping every file in
# every directory nobody owns under state_dir/work for a symbolic link to a
# root-only file (the canary) or to the trusted root, and swaps those
# directories for links now and then, over many `pawl update` runs against
# a real repository served by nginx on 127.0.0.1. New releases are
# published between runs, so that the runs download and install too.
#
# What must hold (the hostile-directory rule, docs/threat-model.md):
#  - the canary and state_dir/metadata/root.json stay byte-identical, with
#    the same owner and mode (before the fix, root's chown followed the
#    link and handed them to nobody);
#  - no output of any run, and nothing in the audit log, mentions the
#    canary's content or its size (before the fix, root read the canary
#    through a link in the mirror and its error named size and structure);
#  - current only ever names a release that was published, with the
#    published content;
#  - once the racer is gone, an update goes through.
# First, with the fetcher held up by nginx's /slow/ location, what the
# kernel says about it (not what it says about itself): it runs as
# nobody, in state_dir/work, holding none of root's descriptors (the audit
# log, the lock, state_dir, install_dir).
# Needs root (CI runs as root); otherwise a TAP skip.
set -u

src=${PAWL_SRCDIR:?}
build=${PAWL_BUILDDIR:?}
P="$build/pawl"
R="$build/pawl-repo"
RUNS=${PAWL_RACE_RUNS:-40}

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root: the agent's fetcher runs as nobody"
	exit 0
fi
if ! getent passwd nobody >/dev/null || ! getent group nogroup >/dev/null ||
	! command -v setpriv >/dev/null; then
	echo "1..0 # SKIP needs the nobody user, the nogroup group and setpriv(1)"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-race-XXXXXX)
chmod 755 "$work"
ngx=""
racer_pid=""
slow_pid=""
fetcher_pid=""
cleanup() {
	if [ -n "$racer_pid" ]; then
		kill "$racer_pid" 2>/dev/null
		wait "$racer_pid" 2>/dev/null
	fi
	[ -n "$fetcher_pid" ] && kill "$fetcher_pid" 2>/dev/null
	if [ -n "$slow_pid" ]; then
		kill "$slow_pid" 2>/dev/null
		wait "$slow_pid" 2>/dev/null
	fi
	[ -n "$ngx" ] && sh "$src/tests/integration/nginx.sh" stop "$ngx" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cd "$work" || exit 1
. "$src/tests/integration/tap.sh"

# The racer runs as nobody, who may not reach the build tree.
cp "$build/tests/integration/hostile_racer" "$work/racer" && chmod 755 "$work/racer" || exit 1

for k in root targets snapshot timestamp; do
	"$R" -q keygen --type ed25519 --out "$k.pem" --no-passphrase >/dev/null || exit 1
done
"$R" -q init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem \
	--timestamp-key timestamp.pem || exit 1
published=""
release() { # VERSION
	d="$work/src-$1"
	mkdir -p "$d"
	echo "demo $1" >"$d/VERSION"
	tar czf "$work/demo-$1.tar.gz" -C "$d" . &&
		"$R" -q release repo demo "$1" "$work/demo-$1.tar.gz" --key targets.pem &&
		"$R" -q timestamp repo --key snapshot.pem --key timestamp.pem &&
		"$R" -q publish repo srv && published="$published $1"
}
release 1.0.0 || exit 1
set -- $(sh "$src/tests/integration/nginx.sh" start "$work/srv" --owner $$)
port=$1
ngx=$2
cat >agent.conf <<EOC
metadata_url = http://127.0.0.1:$port/metadata/
target_base_url = http://127.0.0.1:$port/targets/
trusted_root = $work/repo/root.json
state_dir = $work/state
app = demo
install_dir = $work/install
syslog = no
user = nobody
EOC

ok "a first update, without the racer, installs 1.0.0" "$P" --config agent.conf update
check "current -> releases/1.0.0" [ "$(readlink install/current)" = releases/1.0.0 ]

# ---- the fetcher, seen from outside ----
sed 's#/metadata/$#/slow/metadata/#' agent.conf >slow.conf
"$P" --config slow.conf update >/dev/null 2>&1 &
slow_pid=$!
tries=0
while [ -z "$fetcher_pid" ] && [ $tries -lt 200 ]; do
	# A child of pawl that the kernel says runs as nobody.
	for st in $(grep -l "^PPid:[[:space:]]*$slow_pid\$" /proc/[0-9]*/status 2>/dev/null); do
		grep -q "^Uid:[[:space:]]*$(id -u nobody)[[:space:]]" "$st" && fetcher_pid=$(basename "$(dirname "$st")")
	done
	[ -z "$fetcher_pid" ] && sleep 0.05
	tries=$((tries + 1))
done
if [ -n "$fetcher_pid" ]; then
	pass "the fetcher runs as nobody (the kernel says so)"
	grep '^[UG]id:' "/proc/$fetcher_pid/status" | sed 's/^/# /'
	check "its real, effective, saved and file system ids are all nobody's" \
		grep -q "^Uid:[[:space:]]*$(id -u nobody)[[:space:]]*$(id -u nobody)[[:space:]]*$(id -u nobody)[[:space:]]*$(id -u nobody)\$" \
		"/proc/$fetcher_pid/status"
	check "it works in state_dir/work" [ "$(readlink "/proc/$fetcher_pid/cwd")" = "$work/state/work" ]
	ls -l "/proc/$fetcher_pid/fd/" 2>/dev/null | sed -n 's/.* \([0-9]*\) -> /\1 -> /p' >fds.txt
	sed 's/^/#   fd /' fds.txt
	# (Its own files in state_dir/work are its business.)
	inherited=$(grep -e "$work/state" -e "$work/install" fds.txt | grep -v "$work/state/work/" |
		tr '\n' ' ')
	check "it holds none of root's descriptors${inherited:+: $inherited}" [ -z "$inherited" ]
else
	flunk "no child of pawl ran as nobody"
fi
[ -n "$fetcher_pid" ] && kill "$fetcher_pid" 2>/dev/null
fetcher_pid=""
kill "$slow_pid" 2>/dev/null
wait "$slow_pid" 2>/dev/null
slow_pid=""

# The canary: root-only, 0600, with a secret that must never be printed,
# padded to a size that must never be printed either. It is metadata-like
# JSON under the timestamp's size limit, with the secret as its _type, so
# that a parser that reads it complains about that very value.
secret="CANARY-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
size=9973
printf '{"signatures":[],"signed":{"_type":"%s","pad":"' "$secret" >canary
have=$(wc -c <canary)
head -c $((size - have - 3)) /dev/zero | tr '\0' x >>canary
printf '"}}' >>canary
chown 0:0 canary
chmod 600 canary
check "the canary is $size bytes" [ "$(wc -c <canary)" -eq "$size" ]
trusted="$work/state/metadata/root.json"
fingerprint() { echo "$(sha256sum <"$1") $(stat -c '%u:%g:%a:%s:%F' "$1")"; }
canary0=$(fingerprint canary)
root0=$(fingerprint "$trusted")

setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$work/racer" 300 "$work/state/work" "$work/canary" "$trusted" >racer.out 2>&1 &
racer_pid=$!

touched="" bad_current="" codes=""
k=1
i=1
t0=$(date +%s)
while [ "$i" -le "$RUNS" ]; do
	if [ $((i % 8)) = 0 ]; then
		release "1.0.$k" >/dev/null 2>&1 || flunk "publishing 1.0.$k"
		k=$((k + 1))
	fi
	"$P" --config agent.conf update >"run-$i.out" 2>&1
	codes="$codes $?"
	[ -z "$touched" ] && [ "$(fingerprint canary)" != "$canary0" ] && touched="canary after run $i"
	[ -z "$touched" ] && [ "$(fingerprint "$trusted")" != "$root0" ] &&
		touched="trusted root after run $i"
	if [ -L install/current ]; then
		v=$(readlink install/current | sed 's#^releases/##')
		case " $published " in
		*" $v "*) grep -qx "demo $v" install/current/VERSION 2>/dev/null ||
			bad_current="$bad_current $v(content)" ;;
		*) bad_current="$bad_current $v(unpublished)" ;;
		esac
	fi
	i=$((i + 1))
done
t1=$(date +%s)
kill "$racer_pid" 2>/dev/null
wait "$racer_pid" 2>/dev/null
racer_pid=""
echo "# $RUNS updates under the racer in $((t1 - t0)) s; exit codes:$codes"
echo "# racer: $(cat racer.out)"
echo "# the root side refused $(cat run-*.out | grep -c "the fetcher's \(mirror\|download\).*refused") planted links; $(grep -l '^pawl: installed' run-*.out | wc -l) runs installed a release"

swaps=$(sed -n 's/^swaps \([0-9]*\) .*/\1/p' racer.out)
check "the racer really swapped files for links (${swaps:-0} swaps)" [ "${swaps:-0}" -gt 0 ]
if [ -z "$touched" ]; then pass "the canary and the trusted root were never touched"; else
	flunk "changed: $touched"
	echo "#   canary before: $canary0"
	echo "#   canary after:  $(fingerprint canary)"
	echo "#   root before:   $root0"
	echo "#   root after:    $(fingerprint "$trusted")"
fi
check "the canary is still root's, 0600, same bytes" [ "$(fingerprint canary)" = "$canary0" ]
check "the trusted root is still root's, same mode, same bytes" \
	[ "$(fingerprint "$trusted")" = "$root0" ]
check "current only ever named a published release with its content${bad_current:+:$bad_current}" \
	[ -z "$bad_current" ]

"$P" --config agent.conf log >audit.txt 2>&1
leaks=$(grep -l -e "$secret" -e "xxxxxxxx" -e '\bpad\b' run-*.out audit.txt 2>/dev/null | tr '\n' ' ')
check "no output and no audit entry shows the canary's content${leaks:+ (in $leaks)}" [ -z "$leaks" ]
[ -n "$leaks" ] && grep -h -e "$secret" -e "xxxxxxxx" -e '\bpad\b' run-*.out audit.txt | head -3 | cut -c1-300 |
	sed 's/^/#   /'
leaks=$(grep -lw "$size" run-*.out audit.txt 2>/dev/null | tr '\n' ' ')
check "no output and no audit entry shows the canary's size${leaks:+ (in $leaks)}" [ -z "$leaks" ]
[ -n "$leaks" ] && grep -hw "$size" run-*.out audit.txt | head -3 | cut -c1-300 | sed 's/^/#   /'
ok "log verify: the audit log is intact" "$P" --config agent.conf log verify

# The racer is gone: whatever it left in state_dir/work, the next update
# goes through and installs the newest signed release.
newest=$(echo "$published" | awk '{ print $NF }')
ok "without the racer, an update goes through" "$P" --config agent.conf update
check "current -> releases/$newest" [ "$(readlink install/current)" = "releases/$newest" ]
check "its content is the published one" grep -qx "demo $newest" install/current/VERSION

echo "1..$n"
[ "$failed" -eq 0 ]
