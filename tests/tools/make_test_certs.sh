#!/usr/bin/env bash
# Test certificates, made at test time (never committed): a CA, a server
# certificate it signs for 127.0.0.1 and localhost, a client certificate it
# signs, and a second CA that signed nothing here (the "wrong CA").
#   make_test_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
ssl() { openssl "$@" 2>/dev/null; }
for ca in ca other-ca; do
  ssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nio test $ca" \
    -keyout "$ca.key" -out "$ca.pem"
done
sign() {  # name subject extensions
  ssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  ssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 2 -extfile "$1.ext" -out "$1.pem"
}
sign server "/CN=localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost"
sign client "/CN=nio test client" "extendedKeyUsage=clientAuth"
chmod 600 ./*.key
