#!/bin/bash
# End to end in network namespaces: an sras server and an sras client (IKE + ESP + L2TP + PPP
# over TUN devices), a ping and a TCP transfer through the tunnel with a checksum compared at
# both ends; the outer path's MTU lowered on the router between them (ICMP fragmentation needed:
# sras lowers the tunnel's, answers DF packets that no longer fit, and TCP still goes through);
# then teardown from the client and from the server (`sras disconnect`), and a check that the
# server kept nothing.
# IPv6 rides along: the client's /64 from the server's router advertisement, ping, Packet Too
# Big and a TCP transfer to the host behind the server.
# Namespaces: client C (10.98.0.2) - router R - server S (192.0.2.1) - host B (10.99.2.2,
# fd00:99::2).
#   tests/e2e/netns.sh [SRAS_BINARY] [MEGABYTES] [natt|esp]
# Environment: E2E_ESP=SUITE pins the client's ESP suite (ike.esp, e.g. aes128-sha1);
# E2E_IPERF=SECONDS also runs iperf3 through the tunnel, client to the host behind the server
# and back (-R), and prints "IPERF <suite> <mode>: up X Mbit/s, down Y Mbit/s".
# Root. Prints "E2E: passed ..." last and exits 0 on success.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SRAS=${1:-$REPO/target/release/sras}
MB=${2:-100}
MODE=${3:-esp}
OUT=$REPO/target/e2e
mkdir -p "$OUT"
S=sras-e2e-s C=sras-e2e-c B=sras-e2e-b R=sras-e2e-r
fail() { echo "E2E: FAILED: $*"; tail -n 30 "$OUT/server.log" "$OUT/client.log" 2>/dev/null; exit 1; }
cleanup() {
  [ -n "${CPID:-}" ] && kill "$CPID" 2>/dev/null
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null
  [ -n "${IPID:-}" ] && kill "$IPID" 2>/dev/null
  sleep 0.5
  for ns in $S $C $B $R; do ip netns del $ns 2>/dev/null; done
}
trap cleanup EXIT
cleanup
ip netns add $S && ip netns add $C && ip netns add $B && ip netns add $R || fail "cannot create namespaces"
ip link add e2e-s type veth peer name e2e-rs
ip link set e2e-s netns $S; ip link set e2e-rs netns $R
ip link add e2e-c type veth peer name e2e-rc
ip link set e2e-c netns $C; ip link set e2e-rc netns $R
ip -n $S addr add 192.0.2.1/24 dev e2e-s; ip -n $S link set e2e-s up; ip -n $S link set lo up
ip -n $R addr add 192.0.2.254/24 dev e2e-rs; ip -n $R link set e2e-rs up; ip -n $R link set lo up
ip -n $R addr add 10.98.0.1/24 dev e2e-rc; ip -n $R link set e2e-rc up
ip -n $C addr add 10.98.0.2/24 dev e2e-c; ip -n $C link set e2e-c up; ip -n $C link set lo up
ip -n $C route add default via 10.98.0.1
ip -n $S route add 10.98.0.0/24 via 192.0.2.254
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
# A host behind the server.
ip link add e2e-b0 type veth peer name e2e-b1
ip link set e2e-b0 netns $S; ip link set e2e-b1 netns $B
ip -n $S addr add 10.99.2.1/24 dev e2e-b0; ip -n $S link set e2e-b0 up
ip -n $B addr add 10.99.2.2/24 dev e2e-b1; ip -n $B link set e2e-b1 up; ip -n $B link set lo up
ip -n $B route add default via 10.99.2.1
ip netns exec $S sysctl -qw net.ipv4.ip_forward=1
# IPv6 behind the server too: each PPP link gets a /64 of fd00:5a5a:1::/48 by router advertisement.
ip -n $S addr add fd00:99::1/64 dev e2e-b0 nodad
ip -n $B addr add fd00:99::2/64 dev e2e-b1 nodad
ip -n $B route add default via fd00:99::1
ip netns exec $S sysctl -qw net.ipv6.conf.all.forwarding=1
FORCE=false; [ "$MODE" = natt ] && FORCE=true
cat >"$OUT/server.toml" <<EOT
[l2tp]
listen = "192.0.2.1:1701"
[ike]
listen = "192.0.2.1"
keylog = "$OUT/server.keylog"
[[ike.psk]]
peer = "*"
secret = "e2e-psk"
[ppp]
local_ip = "198.51.100.1"
pool = "198.51.100.10-198.51.100.20"
auth = ["mschapv2"]
ipv6_prefix = "fd00:5a5a:1::/48"
[tun]
name = "sras-e2e%d"
[control]
socket = "$OUT/control.sock"
[auth]
users_file = "$OUT/users.toml"
EOT
# The user comes from the users file, written by `sras user add` (the server's own store).
rm -f "$OUT/users.toml"
echo e2e-password | "$SRAS" user add e2e --password-stdin --file "$OUT/users.toml" >/dev/null || fail "sras user add"
cat >"$OUT/client.toml" <<EOT
[client]
server = "192.0.2.1"
user = "e2e"
password = "e2e-password"
auth = ["mschapv2"]
ping_count = 1
ipv6 = true
[ike]
listen = "10.98.0.2"
force_encapsulation = $FORCE
$([ -n "${E2E_ESP:-}" ] && echo "esp = [\"$E2E_ESP\"]")
[[ike.psk]]
peer = "192.0.2.1"
secret = "e2e-psk"
[tun]
name = "sras-e2ec%d"
routes = ["10.99.2.0/24", "fd00:99::/64"]
EOT
ip netns exec $S "$SRAS" -v server -c "$OUT/server.toml" >"$OUT/server.log" 2>&1 &
SPID=$!
sleep 1
T0=$(date +%s.%N)
ip netns exec $C "$SRAS" -v connect -c "$OUT/client.toml" --timeout 30 >"$OUT/client.log" 2>&1 &
CPID=$!
for i in $(seq 300); do grep -q "PPP UP" "$OUT/client.log" && break; kill -0 $CPID 2>/dev/null || fail "client exited"; sleep 0.1; done
grep -q "PPP UP" "$OUT/client.log" || fail "no PPP link within 30 s"
T1=$(date +%s.%N)
sleep 0.5
ip netns exec $C ping -c 3 -i 0.2 -W 2 10.99.2.2 >"$OUT/ping.log" 2>&1 || fail "ping through the tunnel: $(cat "$OUT/ping.log")"
# IPv6: the client's address from the server's router advertisement, a ping both ways, a
# Packet Too Big from sras for a packet larger than the link, and a TCP transfer (MSS clamped).
for i in $(seq 100); do grep -q "IPV6 UP" "$OUT/client.log" && break; sleep 0.1; done
ADDR6=$(grep -o "IPV6 UP address=[0-9a-f:]*" "$OUT/client.log" | head -1 | cut -d= -f2)
case "$ADDR6" in fd00:5a5a:1:*) ;; *) fail "no IPv6 address from the server's router advertisement (got '$ADDR6')";; esac
ip netns exec $C ping -6 -c 3 -i 0.2 -W 2 fd00:99::2 >"$OUT/ping6.log" 2>&1 || fail "IPv6 ping through the tunnel: $(cat "$OUT/ping6.log")"
ip netns exec $B ping -6 -c 2 -i 0.2 -W 2 "$ADDR6" >>"$OUT/ping6.log" 2>&1 || fail "IPv6 ping to the client: $(cat "$OUT/ping6.log")"
head -c 5M /dev/urandom >"$OUT/data6.bin"
ip netns exec $B python3 - "$OUT/recv6.bin" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("fd00:99::2", 5003)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(1 << 16)
        if not b: break
        f.write(b)
PY
RPID=$!
sleep 0.5
ip netns exec $C python3 - "$OUT/data6.bin" <<'PY' || fail "IPv6 transfer"
import socket, sys
s = socket.create_connection(("fd00:99::2", 5003), timeout=60)
with open(sys.argv[1], "rb") as f:
    s.sendall(f.read())
s.close()
PY
wait $RPID
cmp -s "$OUT/data6.bin" "$OUT/recv6.bin" || fail "IPv6 transfer: data differs"
# The transfer: MB megabytes of random data, sha256 on both ends.
head -c "${MB}M" /dev/urandom >"$OUT/data.bin"
WANT=$(sha256sum <"$OUT/data.bin" | cut -d' ' -f1)
ip netns exec $B python3 - "$OUT/recv.bin" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.2.2", 5001)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(1 << 16)
        if not b: break
        f.write(b)
PY
RPID=$!
sleep 0.5
X0=$(date +%s.%N)
ip netns exec $C python3 - "$OUT/data.bin" <<'PY' || fail "transfer"
import socket, sys
s = socket.create_connection(("10.99.2.2", 5001), timeout=60)
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(1 << 16)
        if not b: break
        s.sendall(b)
s.close()
PY
wait $RPID
X1=$(date +%s.%N)
GOT=$(sha256sum <"$OUT/recv.bin" | cut -d' ' -f1)
[ "$WANT" = "$GOT" ] || fail "checksum differs: sent $WANT received $GOT"
if [ -n "${E2E_IPERF:-}" ]; then
  SUITE=$(grep -o 'encryption=[A-Za-z0-9]* integrity=[A-Za-z0-9_]*' "$OUT/client.log" | head -1)
  ip netns exec $B iperf3 -s -1 -B 10.99.2.2 >"$OUT/iperf-s.log" 2>&1 & IPID=$!
  sleep 0.5
  ip netns exec $C iperf3 -c 10.99.2.2 -t "$E2E_IPERF" -J >"$OUT/iperf-up.json" 2>&1 || fail "iperf3 up: $(tail -5 "$OUT/iperf-up.json")"
  wait $IPID; IPID=
  ip netns exec $B iperf3 -s -1 -B 10.99.2.2 >"$OUT/iperf-s.log" 2>&1 & IPID=$!
  sleep 0.5
  ip netns exec $C iperf3 -c 10.99.2.2 -t "$E2E_IPERF" -R -J >"$OUT/iperf-down.json" 2>&1 || fail "iperf3 down: $(tail -5 "$OUT/iperf-down.json")"
  wait $IPID; IPID=
  rate() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.0f" % (d["end"]["sum_received"]["bits_per_second"]/1e6))' "$1"; }
  echo "IPERF ${E2E_ESP:-default} $MODE ($SUITE): up $(rate "$OUT/iperf-up.json") Mbit/s, down $(rate "$OUT/iperf-down.json") Mbit/s"
fi
# The outer path shrinks: the router's link to the server goes to MTU 1300. The first large
# ESP packet with DF draws an ICMP fragmentation needed from the router; sras lowers the tunnel's
# MTU and answers the next oversized DF packet itself, as a router would (RFC 1191).
# (Both ends of a veth pair: a veth silently drops what exceeds its peer's MTU.)
ip -n $R link set e2e-rs mtu 1300; ip -n $S link set e2e-s mtu 1300
ip netns exec $C ping -c 3 -i 0.3 -W 1 -M do -s 1300 10.99.2.2 >"$OUT/pmtu-ping.log" 2>&1
for i in $(seq 30); do grep -q "path MTU to the peer lowered" "$OUT/client.log" && break; sleep 0.1; done
grep -q "path MTU to the peer lowered" "$OUT/client.log" || fail "no ICMP fragmentation needed taken: $(cat "$OUT/pmtu-ping.log")"
grep -q "mtu = 1[12][0-9][0-9]" "$OUT/pmtu-ping.log" || fail "no fragmentation needed from sras to the sender: $(cat "$OUT/pmtu-ping.log")"
ip netns exec $B python3 - "$OUT/recv2.bin" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.2.2", 5002)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
with open(sys.argv[1], "wb") as f:
    while True:
        b = c.recv(1 << 16)
        if not b: break
        f.write(b)
PY
RPID=$!
sleep 0.5
head -c 5M "$OUT/data.bin" >"$OUT/data2.bin"
ip netns exec $C python3 - "$OUT/data2.bin" <<'PY' || fail "transfer after the path MTU dropped"
import socket, sys
s = socket.create_connection(("10.99.2.2", 5002), timeout=60)
with open(sys.argv[1], "rb") as f:
    s.sendall(f.read())
s.close()
PY
wait $RPID
cmp -s "$OUT/data2.bin" "$OUT/recv2.bin" || fail "transfer after the path MTU dropped: data differs"
PMTU=$(grep -o "mtu = [0-9]*" "$OUT/pmtu-ping.log" | head -1)
# IPv6 is never fragmented by routers: now the router's link to the client shrinks, the
# server learns it from the router's ICMP, and a packet from behind the server that fits the
# server's TUN device but no longer the tunnel gets a Packet Too Big from sras's address in
# the prefix.
ip -n $R link set e2e-rs mtu 1500; ip -n $S link set e2e-s mtu 1500
ip -n $R link set e2e-rc mtu 1300; ip -n $C link set e2e-c mtu 1300
ip netns exec $B ping -6 -c 3 -i 0.3 -W 1 -M do -s 1300 "$ADDR6" >"$OUT/ptb6.log" 2>&1
grep -q "From fd00:5a5a:1::1 .*too big" "$OUT/ptb6.log" || fail "no IPv6 Packet Too Big from sras: $(cat "$OUT/ptb6.log")"
# Teardown from the client: SIGTERM -> LCP terminate, CDN, StopCCN, then IKE Deletes.
kill -TERM $CPID; wait $CPID; RC=$?; CPID=
[ $RC = 0 ] || fail "client exited $RC"
for i in $(seq 100); do grep -q "peer gone" "$OUT/server.log" && break; sleep 0.1; done
LINE=$(grep "peer gone" "$OUT/server.log" | tail -1)
for f in isakmp_sas=0 esp_sas=0 tunnels=0 sessions=0 pool_in_use=0 prefixes_in_use=0; do
  echo "$LINE" | grep -q "$f" || fail "server kept state: $LINE"
done
# Teardown from the server: a second connection, ended by `sras disconnect` on the server.
ip netns exec $C "$SRAS" -v connect -c "$OUT/client.toml" --timeout 30 >"$OUT/client2.log" 2>&1 &
CPID=$!
for i in $(seq 300); do grep -q "PPP UP" "$OUT/client2.log" && break; kill -0 $CPID 2>/dev/null || fail "second client exited"; sleep 0.1; done
grep -q "PPP UP" "$OUT/client2.log" || fail "second connection: no PPP link within 30 s"
"$SRAS" sessions --socket "$OUT/control.sock" >"$OUT/sessions.txt" 2>&1 || fail "sras sessions: $(cat "$OUT/sessions.txt")"
ID=$(awk 'NR == 2 && $2 == "e2e" { print $1 }' "$OUT/sessions.txt")
[ -n "$ID" ] && [ "$(wc -l <"$OUT/sessions.txt")" = 2 ] || fail "sras sessions: want one session of user e2e: $(cat "$OUT/sessions.txt")"
grep -q "198.51.100.1[0-9] " "$OUT/sessions.txt" || fail "sras sessions: no pool address: $(cat "$OUT/sessions.txt")"
grep -q " fd00:5a5a:1:[0-9a-f]*::/64$" "$OUT/sessions.txt" || fail "sras sessions: no IPv6 prefix: $(cat "$OUT/sessions.txt")"
"$SRAS" disconnect "$ID" --socket "$OUT/control.sock" >/dev/null || fail "sras disconnect $ID"
for i in $(seq 150); do kill -0 $CPID 2>/dev/null || break; sleep 0.1; done
kill -0 $CPID 2>/dev/null && fail "the client is still running 15 s after sras disconnect"
wait $CPID; CPID=
ip -n $C link show sras-e2ec0 >/dev/null 2>&1 && fail "the client left its TUN device"
for i in $(seq 100); do [ "$(grep -c "peer gone" "$OUT/server.log")" -ge 2 ] && break; sleep 0.1; done
LINE=$(grep "peer gone" "$OUT/server.log" | sed -n 2p)
[ -n "$LINE" ] || fail "server: no second 'peer gone' line after sras disconnect"
for f in isakmp_sas=0 esp_sas=0 tunnels=0 sessions=0 pool_in_use=0 prefixes_in_use=0; do
  echo "$LINE" | grep -q "$f" || fail "server kept state after sras disconnect: $LINE"
done
"$SRAS" sessions --socket "$OUT/control.sock" >"$OUT/sessions.txt" 2>&1 || fail "sras sessions (after)"
[ "$(wc -l <"$OUT/sessions.txt")" = 1 ] || fail "sras sessions after disconnect: $(cat "$OUT/sessions.txt")"
# The server shuts down with a client connected: LCP Terminate, CDN, StopCCN and IKE Deletes
# to it within the server's deadline; the client notices and exits.
ip netns exec $C "$SRAS" -v connect -c "$OUT/client.toml" --timeout 30 >"$OUT/client3.log" 2>&1 &
CPID=$!
for i in $(seq 300); do grep -q "PPP UP" "$OUT/client3.log" && break; kill -0 $CPID 2>/dev/null || fail "third client exited"; sleep 0.1; done
grep -q "PPP UP" "$OUT/client3.log" || fail "third connection: no PPP link within 30 s"
S0=$(date +%s.%N)
kill -TERM $SPID; wait $SPID; RC=$?; SPID=
S1=$(date +%s.%N)
[ $RC = 0 ] || fail "server exited $RC"
grep -q "IKE SA down\|peer gone\|Delete" "$OUT/server.log" || fail "server: no IKE teardown logged at shutdown"
for i in $(seq 100); do kill -0 $CPID 2>/dev/null || break; sleep 0.1; done
kill -0 $CPID 2>/dev/null && fail "the client is still running 10 s after the server shut down"
wait $CPID; CPID=
grep -q "tunnel closed\|IKE SA down" "$OUT/client3.log" || fail "client: the server's shutdown was not seen: $(tail -5 "$OUT/client3.log")"
SHUT=$(awk -v a="$S0" -v b="$S1" 'BEGIN{printf "%.2f", b-a}')
CONNECT=$(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.2f", b-a}')
RATE=$(awk -v a="$X0" -v b="$X1" -v mb="$MB" 'BEGIN{printf "%.0f", mb*8/(b-a)}')
echo "E2E: passed ($MODE: connect ${CONNECT}s, ping ok, IPv6 $ADDR6 ping/PTB/5 MB ok, ${MB} MB sha256 equal at ${RATE} Mbit/s, path MTU 1300 -> $PMTU, teardown clean from the client, by sras disconnect and by the server's SIGTERM in ${SHUT}s)"
