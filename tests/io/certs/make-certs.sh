#!/bin/sh
# Regenerates the test certificates here (see README.md). Needs the openssl CLI.
set -e
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/db" && touch "$work/db/index.txt" && echo 1000 >"$work/db/serial"
cfg="$PWD/make-certs.cnf"
S=20000101000000Z E=21000101000000Z # 100 years, valid on any sane clock
key() { openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$1"; }
sign() { # name subject extensions [issuer-cert issuer-key]
    openssl req -new -key "$1.key" -subj "$2" -config "$cfg" -out "$work/$1.csr"
    if [ -n "$4" ]; then set -- "$1" "$2" "$3" -cert "$4" -keyfile "$5"; else set -- "$1" "$2" "$3" -selfsign -keyfile "$PWD/$1.key"; fi
    n=$1 x=$3; shift 3
    (cd "$work" && openssl ca -batch -config "$cfg" "$@" -startdate $S -enddate $E \
        -extensions "$x" -in "$n.csr" -out "$OLDPWD/$n.pem" -notext 2>/dev/null)
}
key "$work/ca.key"; cp "$work/ca.key" ca.key
sign ca "/CN=cio test CA" ca_ext
key server.key; sign server "/CN=localhost" server_ext "$PWD/ca.pem" "$PWD/ca.key"
key untrusted.key; sign untrusted "/CN=localhost" untrusted_ext
rm -f ca.key # the CA's key is not kept
chmod 644 ./*.key
openssl verify -CAfile ca.pem server.pem
