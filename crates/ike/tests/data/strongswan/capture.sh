#!/bin/bash
# Regenerates the strongSwan known-answer files of this folder from real exchanges in the test bed
# (../../../../../../shared/testbed, see tests/interop/README.md): charon in VM cli (192.0.2.3)
# initiates Main Mode + Quick Mode to charon in VM srv (192.0.2.2), PSK (h-rsa: RSA signatures,
# throw-away certificates), transport mode, UDP/1701,
# both logging at level 4 (ike 4, enc 4, chd 4: keys, nonces, KE values, KEYMAT);
# extract.py cross-checks both logs, `ip xfrm state` in both VMs and a capture, and writes NAME.txt
# and NAME.log. Needs root and running VMs srv and cli (tests/interop/run.sh ike-reference leaves
# them running, or: run-vm.sh srv 192.0.2.2/24; run-vm.sh cli 192.0.2.3/24).
#
#   sudo crates/ike/tests/data/strongswan/capture.sh            # every suite
#   sudo crates/ike/tests/data/strongswan/capture.sh b-aes128    # the suites whose name matches
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../../../.." && pwd)
TESTBED=$(cd "${SRAS_TESTBED:-$REPO/../shared/testbed}" && pwd)
export TB_DIR=${TB_DIR:-/var/tmp/testbed}
T=$TESTBED/tbctl
NS=${TB_NS:-tbhost}
PSK=tb-preshared-key
ONLY=${1:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# name | ike proposal | esp proposal | prf cipher key_len (for the test) | esp key lengths
SUITES=(
  "a-aes256-sha256-modp2048|aes256-sha256-modp2048|aes256-sha256|auth=psk prf=sha256 cipher=aes256 key_len=32 esp_enc_len=32 esp_auth_len=32"
  "b-aes128-sha1-modp1024|aes128-sha1-modp1024|aes128-sha1|auth=psk prf=sha1 cipher=aes128 key_len=16 esp_enc_len=16 esp_auth_len=20"
  "c-aes256-sha1-modp1024|aes256-sha1-modp1024|aes256-sha1|auth=psk prf=sha1 cipher=aes256 key_len=32 esp_enc_len=32 esp_auth_len=20"
  "d-aes192-md5-modp1536|aes192-md5-modp1536|aes192-md5|auth=psk prf=md5 cipher=aes192 key_len=24 esp_enc_len=24 esp_auth_len=16"
  "e-aes256-sha384-modp3072|aes256-sha384-modp3072|aes256-sha384|auth=psk prf=sha384 cipher=aes256 key_len=32 esp_enc_len=32 esp_auth_len=48"
  "f-aes128-sha512-modp2048|aes128-sha512-modp2048|aes128-sha512|auth=psk prf=sha512 cipher=aes128 key_len=16 esp_enc_len=16 esp_auth_len=64"
  "g-pfs-aes128-sha256-modp2048|aes128-sha256-modp2048|aes128-sha256-modp2048|auth=psk prf=sha256 cipher=aes128 key_len=16 esp_enc_len=16 esp_auth_len=32"
  "h-rsa-aes256-sha256-modp2048|aes256-sha256-modp2048|aes256-sha256|auth=rsa prf=sha256 cipher=aes256 key_len=32 esp_enc_len=32 esp_auth_len=32"
)
# h-rsa: RSA signatures (SKEYID = prf(Ni_b | Nr_b, g^xy)); throw-away PKI from tests/interop/ike/certs.sh.
bash "$REPO/tests/interop/ike/certs.sh" "$WORK/certs"

cat >"$WORK/log.conf" <<'EOF'
# sras KAT capture: charon's debug log at level 4 (prints keys: test only)
charon {
    filelog {
        sras {
            path = /var/log/sras-kat-charon.log
            time_format = %b %e %T
            ike_name = yes
            append = no
            flush_line = yes
            default = 1
            ike = 4
            enc = 4
            chd = 4
            knl = 2
            cfg = 2
            net = 2
        }
    }
}
EOF
printf '%%any %%any : PSK "%s"\n' "$PSK" >"$WORK/secrets"

conf() { # ROLE IKE ESP AUTH(psk|rsa)
  cat <<EOF
# sras KAT capture ($1)
config setup
    uniqueids=no
    charondebug="ike 4, enc 4, chd 4, knl 2, cfg 2, net 2"
conn kat
    keyexchange=ikev1
    type=transport
    ike=$2!
    esp=$3!
    rekey=no
    auto=add
EOF
  if [ "$4" = rsa ]; then
    printf '    authby=rsasig\n    leftcert=sras-kat-%s.pem\n    leftsendcert=always\n    rightid=%%any\n' "$1"
  else
    printf '    authby=secret\n'
  fi
  if [ "$1" = srv ]; then
    printf '    left=192.0.2.2\n    leftprotoport=17/1701\n    right=%%any\n    rightprotoport=17/%%any\n'
  else
    printf '    left=192.0.2.3\n    leftprotoport=17/1701\n    right=192.0.2.2\n    rightprotoport=17/1701\n'
  fi
}

for s in "${SUITES[@]}"; do
  IFS='|' read -r name ike esp params <<<"$s"
  [ -z "$ONLY" ] || [[ $name =~ $ONLY ]] || continue
  echo "=== $name: ike=$ike esp=$esp" >&2
  auth=psk
  [[ $params == *auth=rsa* ]] && auth=rsa
  for vm in srv cli; do
    conf "$vm" "$ike" "$esp" "$auth" >"$WORK/$vm.conf"
    if [ "$auth" = rsa ]; then
      "$T" push "$vm" "$WORK/certs/ca.pem" /etc/ipsec.d/cacerts/sras-kat-ca.pem >/dev/null
      "$T" push "$vm" "$WORK/certs/$vm.pem" "/etc/ipsec.d/certs/sras-kat-$vm.pem" >/dev/null
      "$T" push "$vm" "$WORK/certs/$vm.key" "/etc/ipsec.d/private/sras-kat-$vm.key" 0600 >/dev/null
      printf ': RSA sras-kat-%s.key\n' "$vm" >"$WORK/secrets.$vm"
    else
      cp "$WORK/secrets" "$WORK/secrets.$vm"
    fi
    "$T" push "$vm" "$WORK/log.conf" /etc/strongswan.d/sras-kat-log.conf >/dev/null
    "$T" push "$vm" "$WORK/$vm.conf" /etc/ipsec.conf >/dev/null
    "$T" push "$vm" "$WORK/secrets.$vm" /etc/ipsec.secrets 0600 >/dev/null
    "$T" exec "$vm" 'modprobe -a esp4 xfrm_user 2>/dev/null; ip xfrm state flush; ip xfrm policy flush
      systemctl restart strongswan-starter
      for i in $(seq 50); do [ -S /var/run/charon.ctl ] && break; sleep 0.2; done; sleep 0.5; ipsec status >/dev/null'
  done
  rm -f "$WORK/kat.pcap"
  ip netns exec "$NS" tcpdump -ni tbbr0 -U -w "$WORK/kat.pcap" 'udp port 500 or udp port 4500 or esp' 2>"$WORK/tcpdump.log" &
  tcpdump_pid=$!
  for i in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  "$T" exec cli -t 60 'ipsec up kat' >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; kill "$tcpdump_pid"; exit 1; }
  sleep 1
  for vm in srv cli; do
    "$T" exec "$vm" 'ip xfrm state' >"$WORK/$vm.xfrm"
  done
  "$T" exec cli 'ipsec down kat >/dev/null 2>&1; true'
  sleep 0.5
  kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
  for vm in srv cli; do
    "$T" exec "$vm" 'systemctl stop strongswan-starter; rm -f /etc/strongswan.d/sras-kat-log.conf /etc/ipsec.d/*/sras-kat-*'
    "$T" pull "$vm" /var/log/sras-kat-charon.log "$WORK/$vm.log" >/dev/null
  done
  python3 "$HERE/extract.py" "$name" "psk=$PSK ike=$ike esp=$esp $params" \
    "$WORK/cli.log" "$WORK/srv.log" "$WORK/cli.xfrm" "$WORK/srv.xfrm" "$WORK/kat.pcap" "$HERE"
  cp "$WORK/kat.pcap" "$HERE/$name.pcap"
done
