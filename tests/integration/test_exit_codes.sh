#!/bin/sh
# test_exit_codes.sh - one exit-code table for pawl and pawl-repo
# (docs/exit-codes.md), and both programs keep to it.
#
# 1. The table is one: the rows of docs/exit-codes.md (between its
#    "exit-codes: begin/end" markers) are the rows of docs/agent.md, of
#    pawl(1) and pawl-repo(1), and of `pawl --help` and `pawl-repo --help`
#    (each program: the codes it uses), word for word.
# 2. Every documented code is driven in each program that uses it, and the
#    exit status is asserted.
#
# Output is TAP. Repositories are local (file://); nothing is served.
set -eu
SRC=${PAWL_SRCDIR:?}
BUILD=${PAWL_BUILDDIR:?}
P=$BUILD/pawl
R=$BUILD/pawl-repo
T=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-exit-XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
cd "$T"
chmod 755 "$T"
. "$SRC/tests/integration/tap.sh"
# exits DESC CODE CMD...: CMD must exit CODE (whatever it prints)
exits() {
	d=$1 code=$2
	shift 2
	set +e
	"$@" >out.log 2>&1
	rc=$?
	set -e
	if [ "$rc" -eq "$code" ]; then pass "$d"; else flunk "$d (exit $rc, wanted $code)"; fi
}

# ---------------------------------------------------------------- one table
# rows KIND FILE: "CODE<TAB>MEANING[<TAB>PROGRAMS]" per row, whitespace and
# markup normalised.
rows() {
	python3 - "$1" "$2" <<'PY'
import re, sys
kind, path = sys.argv[1], sys.argv[2]
text = open(path).read()
def norm(s):
    s = s.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")
    return re.sub(r"\s+", " ", s.replace("`", "")).strip()
out = []
if kind in ("md", "man"):
    m = re.search(r"exit-codes: begin.*?\n(.*?)\n[^\n]*exit-codes: end", text, re.S)
    if not m:
        sys.exit("%s: no exit-codes markers" % path)
    body = m.group(1)
if kind == "md":
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].isdigit():
            progs = "+".join(p for p, c in zip(("pawl", "pawl-repo"), cells[2:4]) if c == "yes")
            out.append("%s\t%s\t%s" % (cells[0], norm(cells[1]), progs))
elif kind == "man":
    for m in re.finditer(r"^\.TP\n\.B (\d+)\n(.*?)(?=^\.TP|\Z)", body + "\n", re.S | re.M):
        out.append("%s\t%s" % (m.group(1), norm(m.group(2))))
else:  # --help: "Exit status" block, rows "  NN  meaning" with indented continuations
    m = re.search(r"^Exit status[^\n]*\n((?:[ ]{2,}[^\n]*\n?)+)", text, re.M)
    if not m:
        sys.exit("%s: no Exit status block" % path)
    cur = None
    for line in m.group(1).splitlines():
        r = re.match(r"^\s{1,4}(\d+)\s{2}(.*)$", line)
        if r:
            cur = [r.group(1), r.group(2)]
            out.append(cur)
        elif cur:
            cur[1] += " " + line.strip()
    out = ["%s\t%s" % (c, norm(t)) for c, t in out]
print("\n".join(out))
PY
}
rows md "$SRC/docs/exit-codes.md" >doc.rows
check "docs/exit-codes.md has the table (0, 1, 2, 3, 4, 5, 6, 64)" \
	[ "$(cut -f1 doc.rows | tr '\n' ' ')" = "0 1 2 3 4 5 6 64 " ]
cut -f1,2 doc.rows >doc.all
grep -P '\tpawl-repo$|\+pawl-repo$' doc.rows | cut -f1,2 >doc.repo
rows md "$SRC/docs/agent.md" >agent.rows
check "docs/agent.md has the same rows" cmp doc.rows agent.rows
rows man "$SRC/man/pawl.1" >man1.rows
check "pawl(1) has the same rows" cmp doc.all man1.rows
rows man "$SRC/man/pawl-repo.1" >man2.rows
check "pawl-repo(1) has pawl-repo's rows, the same words" cmp doc.repo man2.rows
"$P" --help >phelp.txt
rows help phelp.txt >phelp.rows
check "pawl --help prints the same rows" cmp doc.all phelp.rows
"$R" --help >rhelp.txt
rows help rhelp.txt >rhelp.rows
check "pawl-repo --help prints pawl-repo's rows" cmp doc.repo rhelp.rows
for f in agent.rows man1.rows man2.rows phelp.rows rhelp.rows; do
	cmp -s doc.all "$f" || cmp -s doc.rows "$f" || cmp -s doc.repo "$f" ||
		{ echo "# $f differs from docs/exit-codes.md:"; diff doc.all "$f" | sed 's/^/#   /' || true; }
done

# ---------------------------------------------------------------- a repository
for k in root targets snapshot timestamp; do "$R" -q keygen --type ed25519 --out $k.pem --no-passphrase >/dev/null; done
"$R" -q --no-syslog init repo --root-key root.pem --targets-key targets.pem --snapshot-key snapshot.pem --timestamp-key timestamp.pem
rel() { # VERSION [broken]
	mkdir -p "src-$1"
	echo "$1" >"src-$1/VERSION"
	[ "${2:-}" = broken ] && touch "src-$1/BROKEN"
	tar czf "app-$1.tar.gz" -C "src-$1" .
	"$R" -q --no-syslog release repo app "$1" "app-$1.tar.gz" --key targets.pem &&
		"$R" -q --no-syslog timestamp repo --key snapshot.pem --key timestamp.pem &&
		"$R" -q --no-syslog publish repo srv
}
rel 1.0.0
cat >a.conf <<EOC
metadata_url = file://$T/srv/metadata/
target_base_url = file://$T/srv/targets/
trusted_root = $T/repo/root.json
state_dir = $T/state
app = app
install_dir = $T/install
health_check = test ! -e $T/install/current/BROKEN
syslog = no
EOC
MD="--metadata-dir md --metadata-url file://$T/srv/metadata/"

# ---------------------------------------------------------------- pawl
exits "pawl 0: init" 0 "$P" --metadata-dir md init repo/root.json
exits "pawl 0: refresh" 0 "$P" $MD refresh
refuses "pawl 0: update installs" 0 "installed app 1.0.0" "$P" --config a.conf update
refuses "pawl 0: update again, already current" 0 "is current" "$P" --config a.conf update
refuses "pawl 1: a configuration error" 1 "cannot read config" "$P" --config nowhere.conf status
sed -e "s#^trusted_root = .*#trusted_root = $T/nowhere/root.json#" -e "s#$T/state#$T/state-x#" a.conf >noroot.conf
refuses "pawl 1: a missing trusted_root file (a local file, not the network: it was 3)" 1 \
	"trusted root failed: not found: trusted_root in noroot.conf" "$P" --config noroot.conf update
refuses "pawl 1: init with a root file that is not there" 1 "cannot read" "$P" --metadata-dir md2 init nowhere.json
refuses "pawl 1: refresh from an unreachable repository (the protocol: 1, not 3)" 1 "refresh failed" \
	"$P" --metadata-dir md --metadata-url http://127.0.0.1:1/metadata/ refresh
refuses "pawl 1: a usage error of refresh (the protocol)" 1 "unknown option '--bogus'" "$P" $MD refresh --bogus
refuses "pawl 1: a usage error of download (the protocol)" 1 "download needs --target-dir" "$P" $MD --target-name x download
refuses "pawl 1: a usage error of init (the protocol)" 1 "init takes one argument" "$P" --metadata-dir md init
refuses "pawl 64: an agent usage error" 64 "unknown option '--bogus'" "$P" --config a.conf status --bogus
refuses "pawl 64: an unknown command" 64 "unknown command 'frobnicate'" "$P" frobnicate
refuses "pawl 64: no command" 64 "no command given" "$P"
refuses "pawl 64: an agent command without --config" 64 "agent command" "$P" update
refuses "pawl 3: an unreachable repository" 3 "refresh failed: network" \
	"$P" --config "$(sed "s#file://$T/srv/metadata/#http://127.0.0.1:1/metadata/#" a.conf >down.conf; echo down.conf)" update
refuses "pawl 5: rollback with no previous release" 5 "no previous release" "$P" --config a.conf rollback
rel 2.0.0 broken
refuses "pawl 4: a release that fails its health check" 4 "failed its health check" "$P" --config a.conf update
check "... and 1.0.0 is back" [ "$(readlink install/current)" = releases/1.0.0 ]
cp -r srv srv.good
python3 - srv/metadata/timestamp.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sig = d["signatures"][0]["sig"]
d["signatures"][0]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
json.dump(d, open(sys.argv[1], "w"))
PY
refuses "pawl 2: a forged timestamp signature (agent)" 2 "signature" "$P" --config a.conf update
refuses "pawl 1 for the same with refresh (the protocol)" 1 "signature" "$P" $MD refresh
rm -rf srv && mv srv.good srv
refuses "pawl 0: log verify of an intact log" 0 "intact" "$P" --config a.conf log verify
cp state/audit.log audit.keep
sed -i '1s/"program":"pawl"/"program":"PAWL"/' state/audit.log
check "(the edit changed entry 0)" sh -c "! cmp -s audit.keep state/audit.log"
refuses "pawl 2: log verify of an altered log" 2 "FAILED" "$P" --config a.conf log verify
cp audit.keep state/audit.log
rm state/audit.log
exits "(a run after the log was removed starts a new one, recording the incident)" 0 "$P" -q --config a.conf update
refuses "pawl 6: log verify: intact, but records incidents to review" 6 "incident" "$P" --config a.conf log verify

# ---------------------------------------------------------------- pawl-repo
exits "pawl-repo 0: status of a ready workspace" 0 "$R" status repo
refuses "pawl-repo 0: verify a good tree" 0 "verifies" "$R" verify srv --root repo/root.json
refuses "pawl-repo 1: status of a missing workspace" 1 "nowhere" "$R" status nowhere
refuses "pawl-repo 1: keygen over an existing key" 1 "exists" "$R" keygen --out root.pem --no-passphrase
refuses "pawl-repo 64: an unknown option" 64 "unknown option '--bogus'" "$R" status repo --bogus
refuses "pawl-repo 64: an unknown command" 64 "unknown command" "$R" frobnicate
refuses "pawl-repo 64: a missing argument" 64 "give" "$R" release repo app
cp -r srv srv.bad
printf 'x' >>"$(find srv.bad/targets -type f | head -1)"
refuses "pawl-repo 2: verify a tree with a target that does not match" 2 "NOT safe to serve" \
	"$R" verify srv.bad --root repo/root.json
refuses "pawl-repo 0: log verify" 0 "intact" "$R" log repo verify
cp -a repo repo.edit
sed -i '3s/"threshold":1/"threshold":0/' repo.edit/audit.log
refuses "pawl-repo 2: log verify of an altered log" 2 "FAILED" "$R" log repo.edit verify
cp -a repo repo.inc
rm repo.inc/audit.log
"$R" -q --no-syslog timestamp repo.inc --key snapshot.pem --key timestamp.pem
refuses "pawl-repo 6: log verify: intact, but records incidents" 6 "incident" "$R" log repo.inc verify

echo "1..$n"
[ "$failed" -eq 0 ]
