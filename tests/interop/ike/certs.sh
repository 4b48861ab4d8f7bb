#!/bin/bash
# Writes a throw-away PKI for the ike suites into DIR (tests/interop/run.sh calls it at run time,
# DIR = target/interop/ike-certs):
#   ca.pem / ca.key            "CN=sras interop CA", self-signed, CA:TRUE
#   sras.pem / sras.key        sras (192.0.2.1):   CN=192.0.2.1, SAN IP:192.0.2.1
#   srv.pem / srv.key          charon in VM srv:   CN=192.0.2.2, SAN IP:192.0.2.2
#   cli.pem / cli.key          charon in VM cli:   CN=192.0.2.3, SAN IP:192.0.2.3
# RSA 2048, SHA-256 signatures, 30 days. Keys are PKCS#8 PEM ("BEGIN PRIVATE KEY"), and also
# PKCS#1 ("BEGIN RSA PRIVATE KEY") as NAME.rsa.key. EKU serverAuth, clientAuth and
# iKEIntermediate (1.3.6.1.5.5.8.2.2, which Windows wants of an L2TP/IPsec server).
set -euo pipefail
DIR=${1:?usage: certs.sh DIR}
mkdir -p "$DIR"
cd "$DIR"
rm -f ./*.pem ./*.key ./*.csr ./*.srl ./*.ext
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 30 -keyout ca.key -out ca.pem \
  -subj "/O=sras interop/CN=sras interop CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
for n in sras:192.0.2.1 srv:192.0.2.2 cli:192.0.2.3; do
  name=${n%%:*} ip=${n#*:}
  openssl req -newkey rsa:2048 -sha256 -nodes -keyout "$name.key" -out "$name.csr" \
    -subj "/O=sras interop/CN=$ip" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:%s\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth,1.3.6.1.5.5.8.2.2\n' "$ip" >"$name.ext"
  openssl x509 -req -sha256 -days 30 -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  openssl rsa -in "$name.key" -traditional -out "$name.rsa.key" 2>/dev/null
  openssl verify -CAfile ca.pem "$name.pem" >/dev/null
done
rm -f ./*.csr ./*.srl ./*.ext
chmod 600 ./*.key
