#!/bin/sh
# test_deploy.sh - the shipped nginx example (deploy/nginx/pawl.conf) really
# serves a repository that pawl can update from over TLS, with a private CA
# and a public-key pin, and sends the cache headers it promises.
#
# The example is used as shipped except for what must differ on a test
# machine: certificate paths, the document root, and a loopback port.
set -eu

src=${PAWL_SRCDIR:?}
build=${PAWL_BUILDDIR:?}
vectors=${PAWL_VECTORS:?}
pawl="$build/pawl"
work=$(mktemp -d "${TMPDIR:-/tmp}"/pawl-deploy-XXXXXX)
state=""
fails=0
passes=0

cleanup() {
	[ -n "$state" ] && [ -f "$state/nginx.pid" ] && kill "$(cat "$state/nginx.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { passes=$((passes + 1)); echo "ok - $1"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $1"; }
check() { # check NAME CMD...
	name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

sh "$src/tests/integration/certs.sh" "$work/pki" >/dev/null

# The tuf-on-ci vector is a complete published repository.
mkdir -p "$work/srv"
cp -r "$vectors/tuf-on-ci-0.11/metadata" "$vectors/tuf-on-ci-0.11/targets" "$work/srv/"

state="$work/nginx"
mkdir -p "$state"
port=""
for try in 1 2 3 4 5 6 7 8; do
	p=$(( (($$ + try * 7919) % 20000) + 30000 ))
	sed -e "s#listen 443 ssl http2;#listen 127.0.0.1:$p ssl http2;#" \
	    -e "/listen \[::\]:443/d" -e "/listen 80;/d" -e "/listen \[::\]:80;/d" \
	    -e "s#server_name updates.example.com;#server_name localhost 127.0.0.1;#" \
	    -e "s#/etc/ssl/pawl/fullchain.pem#$work/pki/server.pem#" \
	    -e "s#/etc/ssl/pawl/privkey.pem#$work/pki/server.key#" \
	    -e "s#root /srv/pawl;#root $work/srv;#" \
	    "$src/deploy/nginx/pawl.conf" > "$state/site.conf"
	# The plain-HTTP redirect server is not needed here.
	awk 'BEGIN{n=0} /^server \{/{n++} n<2{print}' "$state/site.conf" > "$state/site1.conf"
	cat > "$state/nginx.conf" <<EOC
daemon on;
user root;
pid $state/nginx.pid;
error_log $state/error.log;
events { worker_connections 64; }
http {
    access_log $state/access.log;
    client_body_temp_path $state/tmp;
    proxy_temp_path $state/tmp;
    fastcgi_temp_path $state/tmp;
    uwsgi_temp_path $state/tmp;
    scgi_temp_path $state/tmp;
    include $state/site1.conf;
}
EOC
	mkdir -p "$state/tmp"
	if nginx -c "$state/nginx.conf" -p "$state" 2>/dev/null; then
		port=$p
		break
	fi
done
[ -n "$port" ] || { echo "not ok - nginx with deploy/nginx/pawl.conf did not start"; cat "$state/error.log" 2>/dev/null; exit 1; }
ok "nginx starts with deploy/nginx/pawl.conf"
# Should this script be killed before its trap runs, nginx.sh's watchdog
# stops the server (it needs the marker and finds the pid file).
: >"$state/.pawl-nginx"
setsid sh "$src/tests/integration/nginx.sh" watch $$ "$state" </dev/null >/dev/null 2>&1 &

base="https://localhost:$port"
# tuf-on-ci metadata is valid until 2044, so the clock is not moved here:
# that would also move the clock that judges the fresh test certificates.
tp=$(cat "$vectors/tuf-on-ci-0.11/targetpath")

"$pawl" -q --metadata-dir "$work/md" init "$vectors/tuf-on-ci-0.11/initial_root.json"
check "download over TLS with the private CA and the right pin" \
	"$pawl" -q --metadata-dir "$work/md" --metadata-url "$base/metadata/" \
	--target-base-url "$base/targets/" --target-dir "$work/out" --target-name "$tp" \
	--ca-file "$work/pki/ca.pem" --pin "$(cat "$work/pki/server.pin")" download
check "the downloaded artifact is there" test -s "$work/out/delegatedrole%2Fartifact"

if "$pawl" -q --metadata-dir "$work/md2" --metadata-url "$base/metadata/" refresh 2>/dev/null; then
	not_ok "refuses to run without an initialised metadata dir"
else
	ok "refuses to run without an initialised metadata dir"
fi
"$pawl" -q --metadata-dir "$work/md2" init "$vectors/tuf-on-ci-0.11/initial_root.json"
if "$pawl" --metadata-dir "$work/md2" --metadata-url "$base/metadata/" \
	--ca-file "$work/pki/ca.pem" --pin "$(cat "$work/pki/other.pin")" refresh 2>"$work/err"; then
	not_ok "a pin mismatch is refused"
else
	grep -qi "pin\|public key" "$work/err" && ok "a pin mismatch is refused" || { not_ok "pin mismatch message"; cat "$work/err"; }
fi
if "$pawl" --metadata-dir "$work/md2" --metadata-url "$base/metadata/" refresh 2>"$work/err"; then
	not_ok "the system trust store does not trust the test CA"
else
	grep -qi "certificate" "$work/err" && ok "without --ca-file the test CA is not trusted" || { not_ok "untrusted CA message"; cat "$work/err"; }
fi

hdr() { curl -sS -o /dev/null -D - --cacert "$work/pki/ca.pem" "$base$1" | tr -d '\r' | grep -i "^$2:" | head -1; }
case "$(hdr /metadata/timestamp.json cache-control)" in
*max-age=60*) ok "timestamp.json: Cache-Control max-age=60" ;;
*) not_ok "timestamp.json cache header: $(hdr /metadata/timestamp.json cache-control)" ;;
esac
case "$(hdr /metadata/1.targets.json cache-control)" in
*immutable*) ok "versioned metadata is immutable" ;;
*) not_ok "versioned metadata cache header" ;;
esac
case "$(hdr /targets/delegatedrole/45f337ee451b4c098d121d09cc224bacc7794503ac58a47a78cfe7ebefb7fab3.artifact cache-control)" in
*immutable*) ok "targets are immutable" ;;
*) not_ok "target cache header" ;;
esac
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/pki/ca.pem" -X POST "$base/metadata/timestamp.json")
[ "$code" = 405 ] && ok "only GET and HEAD" || not_ok "POST answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/pki/ca.pem" --tls-max 1.1 "$base/metadata/timestamp.json" || true)
[ "$code" = 000 ] && ok "TLS 1.1 is not offered" || not_ok "TLS 1.1 answered $code"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
