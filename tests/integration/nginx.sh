#!/bin/sh
# nginx.sh - a throwaway nginx for the transport and end-to-end tests.
#
#   nginx.sh start DOCROOT [--tls CERT KEY] [--tls-protocols "TLSv1.2 ..."]
#                          [--owner PID]
#       Serves DOCROOT on 127.0.0.1 (never any other address) on a free
#       port it picks itself, and prints one line: "PORT STATEDIR".
#       STATEDIR holds the config, pid file, error.log and access.log.
#       With --owner, a watchdog stops this nginx once process PID is gone,
#       so that a crashed test run leaves no server behind.
#   nginx.sh stop STATEDIR
#       Stops that nginx and removes STATEDIR (kept if PAWL_KEEP_NGINX=1).
#   nginx.sh watch OWNER_PID STATEDIR
#       The watchdog behind --owner (also for servers a test started with
#       its own config, given a STATEDIR with .pawl-nginx and nginx.pid).
#
# The nginx binary is $PAWL_NGINX, else nginx on PATH, else /usr/sbin/nginx.
#
# Besides static files (with byte ranges, nginx's default) every server has
# a few fixed locations for tests:
#   /slow/FILE             FILE, dripped at 256 bytes/s (slow retrieval)
#   /drip/FILE             FILE, dripped at 1,200 bytes/s: just above libpawl's
#                          default low-speed limit (1,024 bytes/s), so that
#                          only the transfer deadline can stop it
#   /norange/FILE          FILE, ignoring Range headers (always 200)
#   /redirect-same/FILE    302 to /FILE (relative Location, same origin)
#   /redirect-abs/FILE     302 to SCHEME://HOST:PORT/FILE (same origin)
#   /redirect-cross/FILE   302 to SCHEME://localhost:PORT/FILE: the same
#                          server under another host name, so following it
#                          would work; only the origin rule refuses it
#   /redirect-http/FILE    302 to http://HOST:PORT/FILE (a downgrade when
#                          the server speaks TLS)
#   /redirect-loop/        302 to itself, forever
#   /status/403 /status/410 /status/500 /status/503   that status
# The access log has one line per request:
#   ADDR CONNECTION_SERIAL REQUEST_NO_ON_CONNECTION "REQUEST" STATUS BYTES
#   "RANGE" "USER_AGENT"
# so that tests can count requests and see connection reuse.
#
# A TLS protocol list with TLSv1 or TLSv1.1 also lowers the server's
# OpenSSL security level to 0, because OpenSSL 3 will not speak those
# versions otherwise: the point of such a server is to prove that the
# client refuses them, so the server must really offer them.
set -eu

die() {
	echo "nginx.sh: $*" >&2
	exit 1
}

find_nginx() {
	if [ -n "${PAWL_NGINX:-}" ]; then
		echo "$PAWL_NGINX"
	elif command -v nginx >/dev/null 2>&1; then
		command -v nginx
	elif [ -x /usr/sbin/nginx ]; then
		echo /usr/sbin/nginx
	else
		die "nginx is not installed (apt-get install nginx-light)"
	fi
}

# Temp path directives exist only for modules nginx was built with.
temp_paths() {
	state=$1
	echo "client_body_temp_path $state/tmp/body;"
	for m in proxy fastcgi uwsgi scgi; do
		case "$NGINX_V" in
		*--without-http_${m}_module*) ;;
		*) echo "${m}_temp_path $state/tmp/$m;" ;;
		esac
	done
}

write_conf() { # state port
	state=$1
	port=$2
	if [ -n "$tls_cert" ]; then
		listen="listen 127.0.0.1:$port ssl;"
		scheme=https
	else
		listen="listen 127.0.0.1:$port;"
		scheme=http
	fi
	{
		if [ "$(id -u)" -eq 0 ]; then
			# Workers read the docroot and write the logs in STATEDIR.
			echo "user root;"
		fi
		cat <<EOF
daemon on;
master_process on;
worker_processes 1;
pid $state/nginx.pid;
error_log $state/error.log notice;
events { worker_connections 128; }
http {
    $(temp_paths "$state")
    types { application/json json; text/plain txt; }
    default_type application/octet-stream;
    log_format pawl '\$remote_addr \$connection \$connection_requests "\$request" \$status \$body_bytes_sent "\$http_range" "\$http_user_agent"';
    access_log $state/access.log pawl;
    server_tokens off;
    sendfile on;
    keepalive_timeout 60s;
    keepalive_requests 10000;
    server {
        $listen
        server_name localhost;
        root "$docroot";
EOF
		if [ -n "$tls_cert" ]; then
			cat <<EOF
        ssl_certificate "$tls_cert";
        ssl_certificate_key "$tls_key";
        ssl_protocols $tls_protocols;
EOF
			case " $tls_protocols " in
			*" TLSv1 "* | *" TLSv1.1 "*)
				echo '        ssl_ciphers "DEFAULT:@SECLEVEL=0";'
				;;
			esac
		fi
		cat <<EOF
        location / { }
        location /slow/ { alias "$docroot/"; limit_rate 256; }
        location /drip/ { alias "$docroot/"; limit_rate 1200; }
        location /norange/ { alias "$docroot/"; max_ranges 0; }
        location /redirect-same/ {
            absolute_redirect off;
            rewrite ^/redirect-same/(.*)\$ /\$1 redirect;
        }
        location /redirect-abs/ {
            rewrite ^/redirect-abs/(.*)\$ $scheme://\$host:\$server_port/\$1 redirect;
        }
        location /redirect-cross/ {
            rewrite ^/redirect-cross/(.*)\$ $scheme://localhost:\$server_port/\$1 redirect;
        }
        location /redirect-http/ {
            rewrite ^/redirect-http/(.*)\$ http://\$host:\$server_port/\$1 redirect;
        }
        location = /redirect-loop/ { rewrite ^ /redirect-loop/ redirect; }
        location = /status/403 { return 403; }
        location = /status/410 { return 410; }
        location = /status/500 { return 500; }
        location = /status/503 { return 503; }
    }
}
EOF
	} >"$state/nginx.conf"
}

# A port in 20000..60999 that nothing listens on right now. A race with
# another process is still possible; start() retries on EADDRINUSE.
pick_port() {
	while :; do
		n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		port=$((20000 + n % 41000))
		if command -v ss >/dev/null 2>&1 &&
			[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
			continue
		fi
		echo "$port"
		return
	done
}

start() {
	[ $# -ge 1 ] || die "usage: nginx.sh start DOCROOT [--tls CERT KEY] [--tls-protocols LIST] [--owner PID]"
	[ -d "$1" ] || die "no such directory: $1"
	docroot=$(cd "$1" && pwd)
	shift
	tls_cert=
	tls_key=
	tls_protocols="TLSv1.2 TLSv1.3"
	owner=
	while [ $# -gt 0 ]; do
		case "$1" in
		--tls)
			[ $# -ge 3 ] || die "--tls needs CERT and KEY"
			tls_cert=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
			tls_key=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
			[ -r "$tls_cert" ] && [ -r "$tls_key" ] || die "cannot read $2 or $3"
			shift 3
			;;
		--tls-protocols)
			[ $# -ge 2 ] || die "--tls-protocols needs a list"
			tls_protocols=$2
			shift 2
			;;
		--owner)
			[ $# -ge 2 ] || die "--owner needs a PID"
			case "$2" in
			'' | *[!0-9]*) die "--owner needs a PID, not $2" ;;
			esac
			owner=$2
			shift 2
			;;
		*) die "unknown option: $1" ;;
		esac
	done
	# The values go into nginx.conf inside double quotes.
	for v in "$docroot" "$tls_cert" "$tls_key" "$tls_protocols"; do
		case "$v" in
		*[\"\;\$\\{}]* | *"
"*) die "unsupported character in: $v" ;;
		esac
	done

	nginx=$(find_nginx)
	NGINX_V=$("$nginx" -V 2>&1)
	state=$(mktemp -d "${TMPDIR:-/tmp}/pawl-nginx-XXXXXX")
	chmod 755 "$state"
	: >"$state/.pawl-nginx"
	mkdir -p "$state/tmp"

	attempt=0
	while [ $attempt -lt 30 ]; do
		attempt=$((attempt + 1))
		port=$(pick_port)
		write_conf "$state" "$port"
		: >"$state/start.log"
		# nginx binds before it daemonizes, so a taken port shows up
		# as a failed start here. Its stdout and stderr must not stay
		# attached to our caller's pipe.
		if "$nginx" -p "$state" -c "$state/nginx.conf" -e "$state/error.log" \
			</dev/null >>"$state/start.log" 2>&1; then
			i=0
			while [ ! -s "$state/nginx.pid" ]; do
				i=$((i + 1))
				[ $i -le 100 ] || die "nginx started but wrote no pid file ($state)"
				sleep 0.05
			done
			if [ -n "$owner" ]; then
				# In a session of its own (setsid): a test
				# runner that kills the test's process group
				# on a timeout must not kill the watchdog
				# too, or nginx (which daemonized out of that
				# group) would outlive the test. Its output
				# goes nowhere: a caller reading our stdout
				# must not wait for it.
				setsid sh "$0" watch "$owner" "$state" </dev/null >/dev/null 2>&1 &
			fi
			echo "$port $state"
			return 0
		fi
		if grep -q "Address already in use" "$state/start.log" "$state/error.log" 2>/dev/null; then
			continue
		fi
		cat "$state/start.log" >&2
		die "nginx failed to start; config and logs in $state"
	done
	die "no free port found after $attempt attempts"
}

# A zombie has exited; whoever reaps it (PID 1 in a container may be slow
# to) does not matter to us.
running() {
	kill -0 "$1" 2>/dev/null || return 1
	case "$(ps -o stat= -p "$1" 2>/dev/null)" in
	Z*) return 1 ;;
	esac
	return 0
}

# Stop the server when its owner is gone; end quietly when the server was
# stopped the normal way (its state directory is gone).
watchdog() {
	while [ -d "$2" ]; do
		if ! running "$1"; then
			stop "$2"
			return
		fi
		sleep 1
	done
}

stop() {
	[ $# -eq 1 ] || die "usage: nginx.sh stop STATEDIR"
	state=$1
	[ -f "$state/.pawl-nginx" ] || die "$state is not a nginx.sh state directory"
	if [ -s "$state/nginx.pid" ]; then
		pid=$(cat "$state/nginx.pid")
		case "$pid" in
		'' | *[!0-9]*) die "bad pid file in $state" ;;
		esac
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while running "$pid"; do
			i=$((i + 1))
			if [ $i -gt 100 ]; then
				kill -KILL "$pid" 2>/dev/null || true
				break
			fi
			sleep 0.05
		done
	fi
	if [ "${PAWL_KEEP_NGINX:-0}" != 1 ]; then
		rm -rf "$state"
	fi
}

[ $# -ge 1 ] || die "usage: nginx.sh start DOCROOT [options] | stop STATEDIR"
cmd=$1
shift
case "$cmd" in
start) start "$@" ;;
stop) stop "$@" ;;
watch)
	[ $# -eq 2 ] || die "usage: nginx.sh watch OWNER_PID STATEDIR"
	watchdog "$@"
	;;
*) die "unknown command: $cmd" ;;
esac
