# tap.sh - TAP helpers shared by the shell integration tests; source it
# after `cd` into the test's work directory (command output goes to
# out.log there, and is shown under a failing check).
#   pass DESC / flunk DESC          record a result
#   ok DESC CMD...                  CMD must succeed
#   refuses DESC CODE PATTERN CMD...  CMD must exit CODE and print PATTERN
#   check DESC TEST...              TEST (any command) must succeed
#   jget FILE EXPR                  a value from a JSON file (python3)
# The caller ends with: echo "1..$n"; [ "$failed" -eq 0 ]

n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
flunk() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -f out.log ] && sed 's/^/#   /' out.log
	return 0
}
ok() {
	d=$1
	shift
	if "$@" >out.log 2>&1; then pass "$d"; else flunk "$d (exit $?)"; fi
}
refuses() {
	d=$1 code=$2 pat=$3
	shift 3
	set +e
	"$@" >out.log 2>&1
	rc=$?
	set -e
	if [ $rc -eq "$code" ] && grep -qiE -- "$pat" out.log; then
		pass "$d"
	else
		flunk "$d (exit $rc, wanted $code and /$pat/)"
	fi
}
check() {
	d=$1
	shift
	if "$@"; then pass "$d"; else flunk "$d"; fi
}
jget() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
