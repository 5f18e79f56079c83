#!/bin/sh
# t/mock/certs.sh DIR: create a test CA and a server certificate for the
# llmgw mock provider (and any other local TLS listener of the tests).
#
#   DIR/ca.crt, DIR/ca.key          test CA (RSA 2048, 10 years)
#   DIR/server.crt, DIR/server.key  server cert, SAN localhost, 127.0.0.1,
#                                   mock.llmgw.test, signed by the CA
#
# Idempotent: files that exist and still fit together are kept; a missing or
# broken piece is regenerated (a new CA re-signs the server certificate).
# Test material only: the keys are unencrypted.

set -eu

dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
umask 077

# Parallel test runs may share DIR: one generator at a time.
exec 9>"$dir/.certs.lock"
flock 9

ca_ok() {
    [ -s "$dir/ca.crt" ] && [ -s "$dir/ca.key" ] || return 1
    openssl x509 -in "$dir/ca.crt" -noout -checkend 86400 >/dev/null 2>&1 \
        || return 1
    [ "$(openssl x509 -in "$dir/ca.crt" -noout -pubkey 2>/dev/null)" = \
      "$(openssl pkey -in "$dir/ca.key" -pubout 2>/dev/null)" ]
}

server_ok() {
    [ -s "$dir/server.crt" ] && [ -s "$dir/server.key" ] || return 1
    openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null 2>&1 \
        || return 1
    openssl x509 -in "$dir/server.crt" -noout -checkend 86400 >/dev/null 2>&1 \
        || return 1
    openssl x509 -in "$dir/server.crt" -noout -ext subjectAltName \
        2>/dev/null | grep -q 'DNS:mock.llmgw.test' || return 1
    [ "$(openssl x509 -in "$dir/server.crt" -noout -pubkey 2>/dev/null)" = \
      "$(openssl pkey -in "$dir/server.key" -pubout 2>/dev/null)" ]
}

if ! ca_ok; then
    rm -f "$dir/ca.crt" "$dir/ca.key" "$dir/ca.srl" \
          "$dir/server.crt" "$dir/server.key"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" \
        -subj "/O=llmgw tests/CN=llmgw test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >/dev/null 2>&1
fi

if ! server_ok; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cat > "$tmp/ext.cnf" <<'EXT'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,DNS:mock.llmgw.test
EXT
    openssl req -newkey rsa:2048 -nodes -sha256 \
        -keyout "$tmp/server.key" -out "$tmp/server.csr" \
        -subj "/O=llmgw tests/CN=mock.llmgw.test" >/dev/null 2>&1
    openssl x509 -req -in "$tmp/server.csr" -sha256 -days 825 \
        -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
        -CAserial "$dir/ca.srl" -extfile "$tmp/ext.cnf" \
        -out "$tmp/server.crt" >/dev/null 2>&1
    mv "$tmp/server.key" "$dir/server.key"
    mv "$tmp/server.crt" "$dir/server.crt"
fi

# Certificates are public; the keys stay readable by the owner only.
chmod 644 "$dir/ca.crt" "$dir/server.crt"
chmod 600 "$dir/ca.key" "$dir/server.key"
