#!/bin/sh
# Regenerates the certificate fixtures of crates/ike/tests/cert.rs with the openssl command line
# (OpenSSL 3). The outputs are committed: run this only to change them, then re-run the tests.
#
# Validity is 100 years (36500 days) so that the committed fixtures keep working, except
# expired.pem (2000-2001).
#
#   ca.pem            RSA 2048 root, CA:TRUE                      key: ca.key.pem (PKCS#8)
#   intermediate.pem  RSA 2048, CA:TRUE pathlen:0, by ca          key: intermediate.key.pem
#   server.pem        CN=sras-server, DNS:vpn.example.test, IP:192.0.2.1, by intermediate
#                                                                 key: server.key.pem (PKCS#8)
#   client.pem        CN=client, IP:192.0.2.3, email:client@example.test, by intermediate
#                                                                 key: client.key.pem (PKCS#1)
#   expired.pem       CN=expired, by intermediate, valid 2000-01-01 .. 2001-01-01
#   other-ca.pem      another root                                key: other-ca.key.pem
#   impostor-ca.pem   a root with ca.pem's name and another key
#   other-client.pem  CN=other-client, by other-ca
#   by-leaf.pem       CN=by-leaf, issued and signed by server (CA:FALSE)
#   sub-intermediate.pem  CA:TRUE by intermediate (whose pathlen:0 forbids it)
#   deep.pem          CN=deep, by sub-intermediate
#   critical-ext.pem  CN=critical-ext with an unknown critical extension, by intermediate
#   pss.pem           CN=pss, signed with RSASSA-PSS by intermediate
#   ec-ca.pem         ECDSA P-256 root                            key: ec-ca.key.pem (PKCS#8)
#   ec-leaf.pem       CN=ec-leaf, RSA key (server's), signed with ecdsa-with-SHA256 by ec-ca
#   ec-key-leaf.pem   CN=ec-key-leaf, P-256 key, by intermediate (no IKE signatures with it)
#   long-chain.pem    9 intermediates (CA:TRUE, no pathlen), the first by ca, each by the previous
#   long-leaf8.pem    CN=long-leaf8, by the 8th (a path of 8 intermediates)
#   long-leaf9.pem    CN=long-leaf9, by the 9th (too long)
#   chain.p7b         PKCS#7 SignedData (DER) with intermediate.pem then server.pem
#   kat-hash.bin      20 bytes: SHA-1 of "sras IKEv1 RSA signature KAT"
#   kat-server.sig    openssl pkeyutl -sign, rsa_padding_mode:pkcs1, no digest: PKCS#1 v1.5
#                     type 1 over the raw 20 bytes without DigestInfo, with server.key.pem
#   kat-client.sig    the same with client.key.pem
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
days=36500

rsa_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

ext() { # name, extension lines
    name=$1; shift
    printf '%s\n' "[ext]" "$@" > "$tmp/$name.ext"
}

# issue <out> <subject> <key> <issuer-cert> <issuer-key> <ext-file> [extra x509 options]
issue() {
    out=$1 subj=$2 key=$3 icert=$4 ikey=$5 extfile=$6; shift 6
    openssl req -new -key "$key" -subj "$subj" -out "$tmp/req.csr"
    openssl x509 -req -in "$tmp/req.csr" -CA "$icert" -CAkey "$ikey" -set_serial "0x$(openssl rand -hex 8)" \
        -days "$days" -sha256 -extfile "$extfile" -extensions ext -out "$out" "$@" 2>/dev/null
}

ext ca "basicConstraints=critical,CA:TRUE" "keyUsage=critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
ext intermediate "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
ext server "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,1.3.6.1.5.5.8.2.2" "subjectAltName=DNS:vpn.example.test,IP:192.0.2.1" \
    "authorityKeyIdentifier=keyid"
ext client "basicConstraints=CA:FALSE" "keyUsage=digitalSignature" "extendedKeyUsage=clientAuth" \
    "subjectAltName=IP:192.0.2.3,email:client@example.test"
ext leaf "basicConstraints=CA:FALSE" "keyUsage=digitalSignature"
ext critical "basicConstraints=CA:FALSE" "1.3.6.1.4.1.55555.1=critical,ASN1:UTF8String:unknown"

# Roots
rsa_key ca.key.pem
openssl req -new -x509 -key ca.key.pem -subj "/C=CH/O=sras/CN=sras Test Root CA" -days $days -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -set_serial 1 -out ca.pem
rsa_key other-ca.key.pem
openssl req -new -x509 -key other-ca.key.pem -subj "/C=CH/O=elsewhere/CN=Other Root CA" -days $days \
    -sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -set_serial 1 -out other-ca.pem
rsa_key "$tmp/impostor.key"
openssl req -new -x509 -key "$tmp/impostor.key" -subj "/C=CH/O=sras/CN=sras Test Root CA" -days $days \
    -sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -set_serial 2 -out impostor-ca.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-ca.key.pem
openssl req -new -x509 -key ec-ca.key.pem -subj "/C=CH/O=sras/CN=sras Test ECDSA CA" -days $days \
    -sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -set_serial 1 -out ec-ca.pem

# Intermediates
rsa_key intermediate.key.pem
issue intermediate.pem "/C=CH/O=sras/CN=sras Test Intermediate CA" intermediate.key.pem \
    ca.pem ca.key.pem "$tmp/intermediate.ext"
rsa_key "$tmp/sub.key"
issue sub-intermediate.pem "/C=CH/O=sras/CN=sras Test Sub-Intermediate CA" "$tmp/sub.key" \
    intermediate.pem intermediate.key.pem "$tmp/ca.ext"

# End entities
rsa_key server.key.pem
issue server.pem "/C=CH/O=sras/CN=sras-server" server.key.pem \
    intermediate.pem intermediate.key.pem "$tmp/server.ext"
rsa_key "$tmp/client.p8"
openssl pkey -in "$tmp/client.p8" -traditional -out client.key.pem
issue client.pem "/C=CH/O=sras/OU=users/CN=client" client.key.pem \
    intermediate.pem intermediate.key.pem "$tmp/client.ext"
rsa_key "$tmp/other.key"
issue other-client.pem "/C=CH/O=elsewhere/CN=other-client" "$tmp/other.key" \
    other-ca.pem other-ca.key.pem "$tmp/leaf.ext"
rsa_key "$tmp/leaf.key"
issue by-leaf.pem "/C=CH/O=sras/CN=by-leaf" "$tmp/leaf.key" server.pem server.key.pem "$tmp/leaf.ext"
issue deep.pem "/C=CH/O=sras/CN=deep" "$tmp/leaf.key" sub-intermediate.pem "$tmp/sub.key" "$tmp/leaf.ext"
issue critical-ext.pem "/C=CH/O=sras/CN=critical-ext" "$tmp/leaf.key" \
    intermediate.pem intermediate.key.pem "$tmp/critical.ext"
issue pss.pem "/C=CH/O=sras/CN=pss" "$tmp/leaf.key" intermediate.pem intermediate.key.pem \
    "$tmp/leaf.ext" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
issue ec-leaf.pem "/C=CH/O=sras/CN=ec-leaf" server.key.pem ec-ca.pem ec-ca.key.pem "$tmp/leaf.ext"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ec-leaf.key"
issue ec-key-leaf.pem "/C=CH/O=sras/CN=ec-key-leaf" "$tmp/ec-leaf.key" \
    intermediate.pem intermediate.key.pem "$tmp/leaf.ext"

# A long path.
: > long-chain.pem
prev=ca.pem prevkey=ca.key.pem
for i in 1 2 3 4 5 6 7 8 9; do
    issue "$tmp/long$i.pem" "/C=CH/O=sras/CN=sras Long Chain $i" "$tmp/sub.key" "$prev" "$prevkey" \
        "$tmp/ca.ext"
    cat "$tmp/long$i.pem" >> long-chain.pem
    prev=$tmp/long$i.pem prevkey=$tmp/sub.key
    if [ $i -ge 8 ]; then
        issue "long-leaf$i.pem" "/C=CH/O=sras/CN=long-leaf$i" "$tmp/leaf.key" "$prev" "$prevkey" \
            "$tmp/leaf.ext"
    fi
done

# Expired: openssl x509 cannot backdate, openssl ca can.
mkdir "$tmp/db"
: > "$tmp/db/index.txt"
cat > "$tmp/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $tmp/db/index.txt
new_certs_dir = $tmp/db
serial = $tmp/db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
EOF
openssl rand -hex 8 > "$tmp/db/serial"
openssl req -new -key "$tmp/leaf.key" -subj "/C=CH/O=sras/CN=expired" -out "$tmp/expired.csr"
openssl ca -batch -config "$tmp/ca.cnf" -cert intermediate.pem -keyfile intermediate.key.pem \
    -startdate 20000101000000Z -enddate 20010101000000Z -extensions ext -notext \
    -in "$tmp/expired.csr" -out expired.pem 2>/dev/null

# A PKCS#7 wrapped chain (CERT encoding 1), end entity last.
openssl crl2pkcs7 -nocrl -certfile intermediate.pem -certfile server.pem -outform DER -out chain.p7b

# Known-answer test of the IKEv1 signature from an independent implementation.
printf 'sras IKEv1 RSA signature KAT' | openssl dgst -sha1 -binary > kat-hash.bin
openssl pkeyutl -sign -inkey server.key.pem -pkeyopt rsa_padding_mode:pkcs1 -in kat-hash.bin \
    -out kat-server.sig
openssl pkeyutl -sign -inkey client.key.pem -pkeyopt rsa_padding_mode:pkcs1 -in kat-hash.bin \
    -out kat-client.sig

for c in *.pem; do
    case $c in *.key.pem) ;; *) openssl x509 -in "$c" -noout -subject -issuer -enddate >/dev/null ;; esac
done
echo "fixtures regenerated in $(pwd)"
