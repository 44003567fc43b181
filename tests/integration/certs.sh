#!/bin/sh
# certs.sh DIR - make a throwaway PKI for the transport tests.
#
# Everything is EC P-256 so that it runs in well under a second. DIR gets:
#   ca.pem ca.key            the test CA (trust this one)
#   other-ca.pem other-ca.key a second CA nobody trusts
#   server.pem server.key    leaf for IP 127.0.0.1, IP ::1 and DNS localhost
#   expired.pem .key         same names, valid 2020-01-01..2020-01-02
#   notyet.pem .key          same names, valid from 2099 on
#   wronghost.pem .key       valid, but only for DNS wrong.example
#   selfsigned.pem .key      names right, but signed by itself
#   server.pin selfsigned.pin other.pin
#                            "sha256//BASE64" SPKI pins (curl's format) of
#                            server.key, selfsigned.key and an unrelated key
# Leaf certificates are issued with `openssl ca`, because OpenSSL 3.0's
# `openssl x509` cannot set an arbitrary notBefore (-not_before came in 3.4).
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"

# A user's OpenSSL config must not change what we generate.
OPENSSL_CONF=/dev/null
export OPENSSL_CONF

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null
	chmod 600 "$1"
}

# SPKI pin: sha256 of the DER SubjectPublicKeyInfo, base64.
pin() {
	printf 'sha256//%s\n' "$(openssl pkey -in "$1" -pubout -outform DER |
		openssl dgst -sha256 -binary | openssl base64 -A)"
}

cat >openssl.cnf <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ ca ]
default_ca = testca
[ testca ]
dir = .
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir/issued
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
commonName = supplied
[ leaf_good ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
authorityKeyIdentifier = keyid
[ leaf_wrong ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
authorityKeyIdentifier = keyid
EOF
OPENSSL_CONF=$PWD/openssl.cnf
export OPENSSL_CONF

rm -rf issued index.txt* serial*
mkdir issued
: >index.txt
echo 1000 >serial

mkca() { # name CN
	newkey "$1.key"
	openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 \
		-subj "/CN=$2" -extensions ca_ext -config openssl.cnf
}
mkca ca "pawl test CA"
mkca other-ca "pawl untrusted CA"

leaf() { # name CN extensions startdate enddate
	newkey "$1.key"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" -config openssl.cnf
	openssl ca -batch -notext -config openssl.cnf -extensions "$3" \
		-startdate "$4" -enddate "$5" -in "$1.csr" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr"
}
# The good leaf is valid from yesterday (clock skew between the
# steps does not matter) until 2099.
yesterday=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
leaf server 127.0.0.1 leaf_good "$yesterday" 20991231000000Z
leaf expired 127.0.0.1 leaf_good 20200101000000Z 20200102000000Z
leaf notyet 127.0.0.1 leaf_good 20990101000000Z 21000101000000Z
leaf wronghost wrong.example leaf_wrong "$yesterday" 20991231000000Z

newkey selfsigned.key
openssl req -new -x509 -key selfsigned.key -out selfsigned.pem -days 3650 \
	-subj "/CN=127.0.0.1" -config openssl.cnf \
	-addext "basicConstraints = critical, CA:FALSE" \
	-addext "subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost"

pin server.key >server.pin
pin selfsigned.key >selfsigned.pin
newkey unrelated.key
pin unrelated.key >other.pin
rm -f unrelated.key
rm -rf issued index.txt* serial*
