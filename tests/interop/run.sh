#!/bin/bash
# Interop tests of sras against the reference Linux stack in the testbed VMs (tests/interop/README.md).
#
#   tests/interop/run.sh l2tp             sras <-> xl2tpd 1.3.18, plain L2TP (no IPsec): 6 runs
#   tests/interop/run.sh ppp              sras <-> xl2tpd + pppd 2.4.9, PPP over plain L2TP: 5 runs
#                                         (pppd client -> sras server with PAP, CHAP-MD5, MS-CHAPv2;
#                                         sras client -> pppd server with MS-CHAPv2, CHAP-MD5)
#   tests/interop/run.sh l2tp-reference   xl2tpd LAC (VM cli) <-> xl2tpd LNS (VM srv) with the same configs:
#                                         checks the VM side, the configs and the log parsing (3 runs)
#   tests/interop/run.sh ike              sras ike <-> strongSwan 5.9 charon (IKEv1 Main + Quick Mode, ESP
#                                         transport for UDP/1701): PSK, certificates, NAT-T, DPD, Delete,
#                                         both roles; tshark decrypts ISAKMP and ESP with sras's keylog (8 runs)
#   tests/interop/run.sh ike-reference    charon (VM cli) <-> charon (VM srv) with the same configs and
#                                         checks, keys read from charon's level-4 log and `ip xfrm state` (5 runs)
#   tests/interop/run.sh linux-reference  L2TP/IPsec, the classic Linux stacks against each other: charon +
#                                         xl2tpd LAC + pppd (VM cli) -> charon + xl2tpd LNS + pppd (VM srv),
#                                         MS-CHAPv2, ping and 20 MB through the tunnel; raw ESP and NAT-T (2 runs)
#   tests/interop/run.sh client-linux     the same Linux client (VM cli) -> `sras server` (IPsec, TUN sras0) in
#                                         netns tbhost; ping and 20 MB to netns tbbehind behind it, IPv6 by
#                                         SLAAC from sras's router advertisement and a ping6 (2 runs)
#   tests/interop/run.sh server-linux     `sras connect` (TUN sras-c0) -> the Linux server (VM srv); ping and
#                                         20 MB to 10.99.3.1 behind it (2 runs)
#
# Run as root from anywhere. Environment:
#   SRAS_TESTBED=DIR   the testbed scripts (default: ../shared/testbed beside the repository)
#   TB_DIR=DIR         testbed artifacts (default /var/tmp/testbed)
#   INTEROP_REUSE=1    reuse running VMs instead of rebooting them
#   INTEROP_STOP=1     stop the VMs at the end (default: leave them running for the next run)
#   SRAS_BIN=FILE      use this sras binary instead of building target/release/sras
#   INTEROP_ONLY=RE    run only the cases whose name matches the regex (e.g. 'lac-' or 'hidden')
#   INTEROP_CHARON_REKEY=yes  ike suites: charon with its default lifetimes instead of rekey=no (which
#                      makes it propose Life-Duration 0); INTEROP_IKE_PROPOSAL / INTEROP_ESP_PROPOSAL:
#                      the charon initiator's single proposal (default aes256-sha256-modp2048 / aes256-sha256)
#   INTEROP_XFER_MB=N  L2TP/IPsec suites: size of the TCP transfer through the tunnel (default 20)
#   INTEROP_XFER_TIMEOUT=SECS  ... and how long it may take (default 240)
# Output: target/interop/<suite>-<case>.{pcap,sras.log,xl2tpd.log,ppp.log,...}; the last line is the verdict:
#   INTEROP l2tp: 6/6 passed (lns-plain 2.3s, ...)
set -uo pipefail

SUITE=${1:-}
case "$SUITE" in
  l2tp | ppp | l2tp-reference | ike | ike-reference | linux-reference | client-linux | server-linux) ;;
  *) echo "usage: $0 l2tp|ppp|l2tp-reference|ike|ike-reference|linux-reference|client-linux|server-linux" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "$0: run as root (network namespaces, VMs)" >&2; exit 2; }

REPO=$(cd "$(dirname "$0")/../.." && pwd)
TESTBED=$(cd "${SRAS_TESTBED:-$REPO/../shared/testbed}" 2>/dev/null && pwd) ||
  { echo "$0: testbed not found at ${SRAS_TESTBED:-$REPO/../shared/testbed} (set SRAS_TESTBED)" >&2; exit 2; }
export TB_DIR=${TB_DIR:-/var/tmp/testbed}
NS=${TB_NS:-tbhost}
TBCTL=$TESTBED/tbctl
OUT=$REPO/target/interop
mkdir -p "$OUT"

HOST_IP=192.0.2.1     # sras, in netns $NS on the bridge
SRV_IP=192.0.2.2      # VM "srv": xl2tpd LNS
CLI_IP=192.0.2.3      # VM "cli": xl2tpd LAC
SECRET=sras-interop-secret   # test-only tunnel secret (no spaces: xl2tpd takes the rest of the line)
PPP_USER=tbuser              # test-only PPP user and password (the testbed's)
PPP_PASSWORD=tbpass
PPP_LOCAL=198.51.100.1       # the PPP server's address (sras or pppd), and the pool given out
PPP_POOL_FIRST=198.51.100.10
PPP_POOL_LAST=198.51.100.20
PPP_DNS1=198.51.100.53       # DNS servers offered over IPCP (RFC 1877)
PPP_DNS2=198.51.100.54
ESTABLISH_TIMEOUT=${INTEROP_ESTABLISH_TIMEOUT:-40}

log() { printf '[interop %s] %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

# --- processes we start on the host, cleaned up on exit -------------------------------------
PIDS=()
VMS_USED=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for vm in "${VMS_USED[@]}"; do xl2tpd_stop "$vm" >/dev/null 2>&1; done
  case "$SUITE" in ike*)
    nft_unfreeze >/dev/null 2>&1
    for vm in "${VMS_USED[@]}"; do charon_stop "$vm" >/dev/null 2>&1; done ;;
  *-linux | linux-*)
    for vm in "${VMS_USED[@]}"; do lx_stop_vm "$vm"; done
    behind_down ;;
  esac
  if [ -n "${INTEROP_STOP:-}" ]; then
    for vm in "${VMS_USED[@]}"; do "$TESTBED/stop-vm.sh" "$vm"; done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() { local p=$1 i; for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$p" ] && unset 'PIDS[i]'; done; }

# Waits for a child to exit (up to $2 seconds); sets EXIT_STATUS to its status, or "timeout".
# (Not in a $(...) subshell: only this shell can wait for its children.)
EXIT_STATUS=
wait_exit() {
  local pid=$1 secs=$2 i
  EXIT_STATUS=timeout
  for i in $(seq $((secs * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      EXIT_STATUS=$?
      return
    fi
    sleep 0.1
  done
}

# --- VMs ---------------------------------------------------------------------------------------
vm_exec() { # VM SCRIPT  (never hangs the harness: the agent gets 60 s, the host side 90 s)
  timeout 90 "$TBCTL" exec "$1" -t 60 "$2"
}

vm_up() { # NAME IP
  local name=$1 ip=$2
  VMS_USED+=("$name")
  if [ -f "$TB_DIR/$name.pid" ] && kill -0 "$(cat "$TB_DIR/$name.pid")" 2>/dev/null; then
    if [ -n "${INTEROP_REUSE:-}" ] && timeout 20 "$TBCTL" wait "$name" 15 >/dev/null 2>&1; then
      log "reusing running VM $name"
      return 0
    fi
    log "restarting VM $name"
    "$TESTBED/stop-vm.sh" "$name" >/dev/null
  fi
  "$TESTBED/run-vm.sh" "$name" "$ip/24" || return 1
}

# xl2tpd runs as a transient systemd unit: it must not inherit the agent's virtio-serial
# descriptor (a daemon started from an agent shell keeps it and wedges the agent).
XL2TPD_UNIT=sras-xl2tpd
XL2TPD_LOG=/var/log/sras-interop-xl2tpd.log
PPPD_LOG=/var/log/sras-interop-ppp.log

xl2tpd_stop() { # VM
  vm_exec "$1" "systemctl stop $XL2TPD_UNIT 2>/dev/null; systemctl reset-failed $XL2TPD_UNIT 2>/dev/null; true"
}

xl2tpd_start() { # VM CONF_FILE [PPPD_OPTIONS_FILE] [ipsec]   (ipsec: keep charon running)
  local vm=$1 conf=$2 opts=${3:-} keep=${4:-} tmp
  tmp=$(mktemp -d)
  printf '# us them secret (test only)\n* * %s\n' "$SECRET" >"$tmp/secrets"
  if [ -z "$opts" ]; then
    # The l2tp suite: pppd runs without authentication, so that PPP comes up against sras (its
    # PPP is not what this suite checks); a short-lived, quiet pppd.
    opts=$tmp/options
    printf 'noauth\nnoccp\nnodefaultroute\nlcp-max-configure 4\nlogfile %s\n' "$PPPD_LOG" >"$opts"
  fi
  # PPP secrets for the ppp suite (client  server  secret  addresses); harmless for l2tp.
  printf '# client server secret addresses (test only)\n"%s" * "%s" *\n' "$PPP_USER" "$PPP_PASSWORD" >"$tmp/ppp-secrets"
  timeout 60 "$TBCTL" push "$vm" "$conf" /etc/xl2tpd/sras-interop.conf >/dev/null &&
    timeout 60 "$TBCTL" push "$vm" "$tmp/secrets" /etc/xl2tpd/sras-interop.secrets 0600 >/dev/null &&
    timeout 60 "$TBCTL" push "$vm" "$opts" /etc/ppp/options.sras-interop >/dev/null &&
    timeout 60 "$TBCTL" push "$vm" "$tmp/ppp-secrets" /etc/ppp/chap-secrets 0600 >/dev/null &&
    timeout 60 "$TBCTL" push "$vm" "$tmp/ppp-secrets" /etc/ppp/pap-secrets 0600 >/dev/null
  local rc=$?
  rm -rf "$tmp"
  [ $rc = 0 ] || return 1
  vm_exec "$vm" "
    systemctl stop xl2tpd $([ "$keep" = ipsec ] || echo strongswan-starter) $XL2TPD_UNIT 2>/dev/null; systemctl reset-failed $XL2TPD_UNIT 2>/dev/null
    modprobe -a l2tp_ppp ppp_generic 2>/dev/null
    mkdir -p /var/run/xl2tpd; rm -f $XL2TPD_LOG $PPPD_LOG /etc/ppp/resolv.conf
    systemd-run --quiet --unit=$XL2TPD_UNIT --collect -p StandardOutput=append:$XL2TPD_LOG -p StandardError=inherit \
      /usr/sbin/xl2tpd -D -c /etc/xl2tpd/sras-interop.conf -p /run/sras-xl2tpd.pid -C /var/run/xl2tpd/l2tp-control
    for i in \$(seq 100); do grep -q 'Listening on' $XL2TPD_LOG 2>/dev/null && break; sleep 0.1; done
    grep -q 'Listening on' $XL2TPD_LOG || { echo 'xl2tpd did not start:'; cat $XL2TPD_LOG; systemctl status $XL2TPD_UNIT; exit 1; }
  "
}

xl2tpd_dial() { # VM LAC_NAME
  vm_exec "$1" "echo 'c $2' > /var/run/xl2tpd/l2tp-control"
}

# Whether the xl2tpd log in VM shows both the tunnel and the call established with PEER_IP.
xl2tpd_established() { # VM PEER_IP
  vm_exec "$1" "grep -q 'Connection established to $2,' $XL2TPD_LOG && grep -q 'Call established with $2,' $XL2TPD_LOG"
}

xl2tpd_pull_log() { # VM LOCAL
  timeout 60 "$TBCTL" pull "$1" "$XL2TPD_LOG" "$2" >/dev/null 2>&1 || echo "(could not pull $XL2TPD_LOG from $1)" >"$2"
}

pppd_pull_log() { # VM LOCAL
  timeout 60 "$TBCTL" pull "$1" "$PPPD_LOG" "$2" >/dev/null 2>&1 || echo "(could not pull $PPPD_LOG from $1)" >"$2"
}

xl2tpd_conf() { # ROLE(lns|lac) CHALLENGE(yes|no) HIDDEN(yes|no) LNS_IP(for lac)
  local role=$1 chal=$2 hid=$3 lns=${4:-}
  cat <<EOF
; written by sras tests/interop/run.sh: plain L2TP, no IPsec
[global]
port = 1701
$([ "$role" = lns ] && echo "listen-addr = $SRV_IP")
auth file = /etc/xl2tpd/sras-interop.secrets
debug tunnel = yes
debug state = yes
debug avp = yes

EOF
  if [ "$role" = lns ]; then
    cat <<EOF
[lns default]
ip range = 198.51.100.10-198.51.100.20
local ip = 198.51.100.1
require authentication = no
EOF
  else
    cat <<EOF
[lac sras]
lns = $lns
autodial = no
redial = no
EOF
  fi
  cat <<EOF
challenge = $chal
hidden bit = $hid
length bit = yes
hostname = tb-$role
name = tb-$role
ppp debug = yes
pppoptfile = /etc/ppp/options.sras-interop
EOF
}

# --- captures ----------------------------------------------------------------------------------
TCPDUMP_PID=
capture_start() { # PCAP [FILTER]
  rm -f "$1"
  ip netns exec "$NS" tcpdump -ni tbbr0 -U -w "$1" "${2:-udp port 1701}" 2>"$1.tcpdump.log" &
  TCPDUMP_PID=$!
  PIDS+=("$TCPDUMP_PID")
  local i
  for i in $(seq 50); do grep -q 'listening on' "$1.tcpdump.log" 2>/dev/null && return 0; sleep 0.1; done
  log "tcpdump did not start: $(cat "$1.tcpdump.log")"
  return 1
}

capture_stop() {
  [ -n "$TCPDUMP_PID" ] || return 0
  sleep 0.3
  kill -INT "$TCPDUMP_PID" 2>/dev/null
  wait_exit "$TCPDUMP_PID" 5
  forget_pid "$TCPDUMP_PID"
  TCPDUMP_PID=
}

# Prints a problem and fails if tshark finds malformed packets or no L2TP at all.
pcap_check() { # PCAP
  local pcap=$1 malformed n
  malformed=$(tshark -r "$pcap" -Y _ws.malformed -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
  n=$(tshark -r "$pcap" -Y l2tp 2>/dev/null | wc -l)
  if [ -n "${malformed// /}" ]; then
    echo "tshark: malformed frames in $(basename "$pcap"): $malformed"
    return 1
  fi
  if [ "$n" -eq 0 ]; then
    echo "tshark: no L2TP in $(basename "$pcap")"
    return 1
  fi
  echo "tshark: $n L2TP frames, none malformed"
}

# --- sras ----------------------------------------------------------------------------------------
SRAS=${SRAS_BIN:-$REPO/target/release/sras}

sras_conf() { # ROLE(server|client) VARIANT(plain|challenge|hidden)
  echo "# written by tests/interop/run.sh: plain L2TP (no IPsec), variant $2"
  printf '[tun]\nenabled = false\n[l2tp]\nplain = true\n'
  [ "$1" = server ] && echo "listen = \"$HOST_IP:1701\""
  echo "host_name = \"sras-$1\""
  case "$2" in
    challenge) printf 'secret = "%s"\nchallenge = true\n' "$SECRET" ;;
    hidden) printf 'secret = "%s"\nchallenge = true\nhide_avps = true\n' "$SECRET" ;;
  esac
  [ "$1" = client ] && printf '\n[client]\nserver = "%s"\n' "$SRV_IP"
  true
}

# xl2tpd settings per variant. "hidden": xl2tpd 1.3.18 decrypts hidden AVPs only with the secret it
# loads when it answers a Challenge (aaa.c handle_challenge), so the hidden runs challenge too; its own
# "hidden bit = yes" only adds a Random Vector AVP (it hides nothing unless built with -DTEST_HIDDEN).
variant_challenge() { [ "$1" = plain ] && echo no || echo yes; }
variant_hidden() { [ "$1" = hidden ] && echo yes || echo no; }

RESULTS=()
PASSED=0
TOTAL=0
record() { # CASE PASS|FAIL SECONDS DETAIL
  TOTAL=$((TOTAL + 1))
  if [ "$2" = PASS ]; then PASSED=$((PASSED + 1)); RESULTS+=("$1 ${3}s"); else RESULTS+=("$1 FAILED"); fi
  log "RESULT $1: $2 (${3}s) $4"
}

selected() { [ -z "${INTEROP_ONLY:-}" ] || [[ $1 =~ $INTEROP_ONLY ]]; }

# (a) xl2tpd LAC in VM cli -> sras server in netns on 192.0.2.1
run_lns_case() { # VARIANT
  local v=$1 id=lns-$1 t0 t1 t_est="" pid rc ok=1 why="" base=$OUT/l2tp-lns-$1
  selected "$id" || return 0
  log "=== $id: xl2tpd LAC (cli) -> sras server $HOST_IP (challenge=$(variant_challenge "$v") hidden=$(variant_hidden "$v"))"
  t0=$(now)
  sras_conf server "$v" >"$base.sras.toml"
  xl2tpd_conf lac "$(variant_challenge "$v")" "$(variant_hidden "$v")" "$HOST_IP" >"$base.xl2tpd.conf"
  capture_start "$base.pcap" || { record "$id" FAIL 0 "no capture"; return; }
: >"$base.sras.log"
  ip netns exec "$NS" env RUST_LOG=debug "$SRAS" server -c "$base.sras.toml" 2>"$base.sras.log" &
  pid=$!
  PIDS+=("$pid")
  local i
  for i in $(seq 100); do grep -q 'listening' "$base.sras.log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if ! grep -q 'listening' "$base.sras.log"; then
    ok=0; why="sras server did not start: $(tail -3 "$base.sras.log")"
  elif ! xl2tpd_start cli "$base.xl2tpd.conf"; then
    ok=0; why="xl2tpd did not start in cli"
  else
    t1=$(now)
    xl2tpd_dial cli sras
    for i in $(seq $((ESTABLISH_TIMEOUT * 2))); do
      if grep -q 'session established' "$base.sras.log" && xl2tpd_established cli "$HOST_IP"; then
        t_est=$(elapsed "$t1" "$(now)"); break
      fi
      sleep 0.5
    done
    [ -n "$t_est" ] || { ok=0; why="not established within ${ESTABLISH_TIMEOUT}s"; }
  fi
  # sras shuts down first: StopCCN (result 6) to xl2tpd, which must acknowledge it.
  kill -TERM "$pid" 2>/dev/null
  wait_exit "$pid" 10
  rc=$EXIT_STATUS
  forget_pid "$pid"
  [ "$rc" = 0 ] || { ok=0; why="$why; sras server exit status $rc after SIGTERM"; }
  grep -q 'not acknowledged' "$base.sras.log" && { ok=0; why="$why; StopCCN not acknowledged"; }
  xl2tpd_stop cli >/dev/null
  capture_stop
  xl2tpd_pull_log cli "$base.xl2tpd.log"
  pppd_pull_log cli "$base.ppp.log"
  local pc
  pc=$(pcap_check "$base.pcap") || { ok=0; why="$why; $pc"; }
  grep -E 'established|closed|redirect' "$base.sras.log" | sed 's/^/    sras: /' >&2
  grep -E 'Connection established|Call established|closed to|Unable to handle|StopCCN|Result code|disconnect' "$base.xl2tpd.log" | head -8 | sed 's/^/    xl2tpd: /' >&2
  log "    $pc; establish ${t_est:-n/a}s, run $(elapsed "$t0" "$(now)")s"
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# (b) sras connect in netns -> xl2tpd LNS in VM srv
run_lac_case() { # VARIANT
  local v=$1 id=lac-$1 t0 t1 t_est="" rc ok=1 why="" base=$OUT/l2tp-lac-$1
  selected "$id" || return 0
  log "=== $id: sras connect -> xl2tpd LNS (srv) $SRV_IP (challenge=$(variant_challenge "$v") hidden=$(variant_hidden "$v"))"
  t0=$(now)
  sras_conf client "$v" >"$base.sras.toml"
  xl2tpd_conf lns "$(variant_challenge "$v")" "$(variant_hidden "$v")" >"$base.xl2tpd.conf"
  capture_start "$base.pcap" || { record "$id" FAIL 0 "no capture"; return; }
  if ! xl2tpd_start srv "$base.xl2tpd.conf"; then
    ok=0; why="xl2tpd did not start in srv"
  else
    t1=$(now)
    ip netns exec "$NS" env RUST_LOG=debug "$SRAS" connect -c "$base.sras.toml" --server "$SRV_IP" \
      --exit-when-established --timeout "$ESTABLISH_TIMEOUT" >"$base.stdout" 2>"$base.sras.log"
    rc=$?
    t_est=$(elapsed "$t1" "$(now)")
    [ "$rc" = 0 ] || { ok=0; why="sras connect exit status $rc"; }
    grep -qE '^ESTABLISHED tunnel=[0-9]+/[0-9]+ session=[0-9]+/[0-9]+$' "$base.stdout" ||
      { ok=0; why="$why; no ESTABLISHED line (stdout: $(head -c 200 "$base.stdout"))"; }
    grep -q 'not acknowledged' "$base.sras.log" && { ok=0; why="$why; StopCCN not acknowledged"; }
    xl2tpd_established srv "$HOST_IP" || { ok=0; why="$why; xl2tpd log shows no established tunnel+call with $HOST_IP"; }
  fi
  xl2tpd_stop srv >/dev/null
  capture_stop
  xl2tpd_pull_log srv "$base.xl2tpd.log"
  pppd_pull_log srv "$base.ppp.log"
  local pc
  pc=$(pcap_check "$base.pcap") || { ok=0; why="$why; $pc"; }
  sed 's/^/    stdout: /' "$base.stdout" >&2 2>/dev/null
  grep -E 'established|closed|redirect' "$base.sras.log" | sed 's/^/    sras: /' >&2
  grep -E 'Connection established|Call established|closed to|Unable to handle|StopCCN|Result code|disconnect' "$base.xl2tpd.log" | head -8 | sed 's/^/    xl2tpd: /' >&2
  log "    $pc; connect-to-exit ${t_est:-n/a}s, run $(elapsed "$t0" "$(now)")s"
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# Reference: xl2tpd LAC (cli) -> xl2tpd LNS (srv), the same configs and checks, no sras.
run_reference_case() { # VARIANT
  local v=$1 id=ref-$1 t1 t_est="" ok=1 why="" base=$OUT/l2tp-ref-$1 i
  selected "$id" || return 0
  log "=== $id: xl2tpd LAC (cli) -> xl2tpd LNS (srv) (challenge=$(variant_challenge "$v") hidden=$(variant_hidden "$v"))"
  xl2tpd_conf lns "$(variant_challenge "$v")" "$(variant_hidden "$v")" >"$base.lns.conf"
  xl2tpd_conf lac "$(variant_challenge "$v")" "$(variant_hidden "$v")" "$SRV_IP" >"$base.lac.conf"
  capture_start "$base.pcap" || { record "$id" FAIL 0 "no capture"; return; }
  if ! xl2tpd_start srv "$base.lns.conf" || ! xl2tpd_start cli "$base.lac.conf"; then
    ok=0; why="xl2tpd did not start"
  else
    t1=$(now)
    xl2tpd_dial cli sras
    for i in $(seq $((ESTABLISH_TIMEOUT * 2))); do
      if xl2tpd_established cli "$SRV_IP" && xl2tpd_established srv "$CLI_IP"; then t_est=$(elapsed "$t1" "$(now)"); break; fi
      sleep 0.5
    done
    [ -n "$t_est" ] || { ok=0; why="not established within ${ESTABLISH_TIMEOUT}s"; }
  fi
  xl2tpd_stop cli >/dev/null
  xl2tpd_stop srv >/dev/null
  capture_stop
  xl2tpd_pull_log cli "$base.lac.log"
  xl2tpd_pull_log srv "$base.lns.log"
  local pc
  pc=$(pcap_check "$base.pcap") || { ok=0; why="$why; $pc"; }
  for f in lac lns; do
    grep -E 'Connection established|Call established' "$base.$f.log" | sed "s/^/    xl2tpd $f: /" >&2
  done
  log "    $pc; establish ${t_est:-n/a}s"
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# --- the ppp suite ---------------------------------------------------------------------------------
# PPP over plain L2TP between sras and pppd 2.4.9 (started by xl2tpd, on the kernel's L2TP data path).

# Whether ADDR is in the pool PPP_POOL_FIRST..PPP_POOL_LAST (same /24).
in_pool() { # ADDR
  local last=${1##*.} first=${PPP_POOL_FIRST##*.} top=${PPP_POOL_LAST##*.}
  [ "${1%.*}" = "${PPP_POOL_FIRST%.*}" ] && [ "$last" -ge "$first" ] && [ "$last" -le "$top" ]
}

# pppd's options per method (METHOD: pap | chap-md5 | mschapv2, sras's names), for the side
# that authenticates itself (refuse the others) and the side that asks (require it).
pppd_refuse_others() { # METHOD
  case "$1" in
    pap) echo "refuse-chap refuse-mschap refuse-mschap-v2 refuse-eap" ;;
    chap-md5) echo "refuse-pap refuse-mschap refuse-mschap-v2 refuse-eap" ;;
    mschapv2) echo "refuse-pap refuse-chap refuse-mschap refuse-eap" ;;
  esac
}
pppd_require() { # METHOD
  case "$1" in
    pap) echo "require-pap" ;;
    chap-md5) echo "require-chap" ;;
    mschapv2) echo "require-mschap-v2" ;;
  esac
}
# The tshark display filter of the method's packets.
method_filter() { # METHOD
  case "$1" in
    pap) echo pap ;;
    *) echo chap ;;
  esac
}

pppd_options_client() { # METHOD
  cat <<EOF
# written by sras tests/interop/run.sh: pppd as the PPP client of sras ($1)
user $PPP_USER
$(pppd_refuse_others "$1" | tr ' ' '\n')
noauth
noccp
nodefaultroute
noipdefault
usepeerdns
ipcp-accept-local
ipcp-accept-remote
lcp-echo-interval 10
lcp-echo-failure 4
debug
logfile $PPPD_LOG
EOF
}

pppd_options_server() { # METHOD
  cat <<EOF
# written by sras tests/interop/run.sh: pppd as the PPP server of sras connect ($1)
auth
$(pppd_require "$1")
$(pppd_refuse_others "$1" | tr ' ' '\n')
ms-dns $PPP_DNS1
ms-dns $PPP_DNS2
noccp
nodefaultroute
lcp-echo-interval 10
lcp-echo-failure 4
debug
logfile $PPPD_LOG
EOF
}

xl2tpd_ppp_conf() { # ROLE(lns|lac)
  cat <<EOF
; written by sras tests/interop/run.sh: PPP over plain L2TP, no IPsec
[global]
port = 1701
$([ "$1" = lns ] && echo "listen-addr = $SRV_IP")
auth file = /etc/xl2tpd/sras-interop.secrets
debug tunnel = yes
debug state = yes

EOF
  if [ "$1" = lns ]; then
    cat <<EOF
[lns default]
ip range = $PPP_POOL_FIRST-$PPP_POOL_LAST
local ip = $PPP_LOCAL
require authentication = yes
name = tb-lns
EOF
  else
    cat <<EOF
[lac sras]
lns = $HOST_IP
autodial = no
redial = no
require authentication = no
EOF
  fi
  cat <<EOF
hostname = tb-$1
length bit = yes
ppp debug = yes
pppoptfile = /etc/ppp/options.sras-interop
EOF
}

sras_ppp_conf() { # ROLE(server|client) METHOD
  echo "# written by tests/interop/run.sh: PPP over plain L2TP (no IPsec), $2"
  printf '[tun]\nenabled = false\n[l2tp]\nplain = true\n'
  [ "$1" = server ] && echo "listen = \"$HOST_IP:1701\""
  echo "host_name = \"sras-$1\""
  if [ "$1" = server ]; then
    cat <<EOF

[ppp]
local_ip = "$PPP_LOCAL"
pool = "$PPP_POOL_FIRST-$PPP_POOL_LAST"
dns = ["$PPP_DNS1", "$PPP_DNS2"]
auth = ["$2"]

[[users]]
name = "$PPP_USER"
password = "$PPP_PASSWORD"
EOF
  else
    # The client accepts every method (the default): pppd's require-* picks the one.
    cat <<EOF

[client]
server = "$SRV_IP"
user = "$PPP_USER"
password = "$PPP_PASSWORD"
ping_count = 3
EOF
  fi
}

# Fails, saying why, unless the capture decodes without malformed packets and shows LCP, the
# authentication protocol (AUTH_FILTER), IPCP and ICMP echo requests and replies.
pcap_check_ppp() { # PCAP AUTH_FILTER
  local pcap=$1 auth=$2 malformed n_all n_lcp n_auth n_ipcp n_req n_rep
  malformed=$(tshark -r "$pcap" -Y _ws.malformed -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
  n_all=$(tshark -r "$pcap" -Y 'lcp || pap || chap || ipcp' 2>/dev/null | wc -l)
  n_lcp=$(tshark -r "$pcap" -Y lcp 2>/dev/null | wc -l)
  n_auth=$(tshark -r "$pcap" -Y "$auth" 2>/dev/null | wc -l)
  n_ipcp=$(tshark -r "$pcap" -Y ipcp 2>/dev/null | wc -l)
  n_req=$(tshark -r "$pcap" -Y 'icmp.type == 8' 2>/dev/null | wc -l)
  n_rep=$(tshark -r "$pcap" -Y 'icmp.type == 0' 2>/dev/null | wc -l)
  if [ -n "${malformed// /}" ]; then
    echo "tshark: malformed frames in $(basename "$pcap"): $malformed"; return 1
  fi
  if [ "$n_all" -eq 0 ] || [ "$n_lcp" -eq 0 ] || [ "$n_auth" -eq 0 ] || [ "$n_ipcp" -eq 0 ]; then
    echo "tshark: PPP missing in $(basename "$pcap") (lcp $n_lcp, $auth $n_auth, ipcp $n_ipcp)"; return 1
  fi
  if [ "$n_req" -eq 0 ] || [ "$n_rep" -eq 0 ]; then
    echo "tshark: no ICMP echo exchange in $(basename "$pcap") (requests $n_req, replies $n_rep)"; return 1
  fi
  echo "tshark: none malformed; lcp $n_lcp, $auth $n_auth, ipcp $n_ipcp, icmp echo $n_req/$n_rep"
}

# (a) pppd (xl2tpd LAC) in VM cli -> sras server in netns on 192.0.2.1, one auth method.
run_ppp_lns_case() { # METHOD
  local m=$1 id=lns-$1 t0 t1 t_est="" pid rc ok=1 why="" base=$OUT/ppp-lns-$1 i
  selected "$id" || return 0
  log "=== $id: pppd + xl2tpd LAC (cli) -> sras server $HOST_IP, $m"
  t0=$(now)
  sras_ppp_conf server "$m" >"$base.sras.toml"
  xl2tpd_ppp_conf lac >"$base.xl2tpd.conf"
  pppd_options_client "$m" >"$base.pppd.options"
  capture_start "$base.pcap" || { record "$id" FAIL 0 "no capture"; return; }
  : >"$base.sras.log"
  ip netns exec "$NS" env RUST_LOG=debug "$SRAS" server -c "$base.sras.toml" 2>"$base.sras.log" &
  pid=$!
  PIDS+=("$pid")
  for i in $(seq 100); do grep -q 'listening' "$base.sras.log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  local addr="" vm_out="" dns="" ping_out=""
  if ! grep -q 'listening' "$base.sras.log"; then
    ok=0; why="sras server did not start: $(tail -3 "$base.sras.log")"
  elif ! xl2tpd_start cli "$base.xl2tpd.conf" "$base.pppd.options"; then
    ok=0; why="xl2tpd did not start in cli"
  else
    t1=$(now)
    xl2tpd_dial cli sras
    # A ppp interface with an address, in the VM (one agent call: the loop runs there).
    vm_out=$(vm_exec cli "
      for i in \$(seq $((ESTABLISH_TIMEOUT * 4))); do
        ip -4 -o addr | grep -qE '^[0-9]+: ppp[0-9]+ .* inet ' && break; sleep 0.25
      done
      ip -4 -o addr | grep -E '^[0-9]+: ppp[0-9]+ ' | head -1")
    t_est=$(elapsed "$t1" "$(now)")
    addr=$(sed -n 's/.* inet \([0-9.]*\) peer \([0-9.]*\).*/\1 \2/p' <<<"$vm_out")
    log "    VM: ${vm_out:-no ppp interface}"
    if [ -z "$addr" ]; then
      ok=0; why="no ppp interface with an address in cli within ${ESTABLISH_TIMEOUT}s"; t_est=""
    else
      local local_addr=${addr% *} peer_addr=${addr#* }
      in_pool "$local_addr" || { ok=0; why="$why; pppd got $local_addr, not from the pool $PPP_POOL_FIRST-$PPP_POOL_LAST"; }
      [ "$peer_addr" = "$PPP_LOCAL" ] || { ok=0; why="$why; pppd's peer is $peer_addr, not $PPP_LOCAL"; }
      dns=$(vm_exec cli "cat /etc/ppp/resolv.conf 2>/dev/null" | tr '\n' ' ')
      log "    VM /etc/ppp/resolv.conf: ${dns:-(none)}"
      grep -q "nameserver $PPP_DNS1" <<<"$dns" && grep -q "nameserver $PPP_DNS2" <<<"$dns" ||
        { ok=0; why="$why; the DNS servers did not reach pppd (/etc/ppp/resolv.conf: ${dns:-none})"; }
      ping_out=$(vm_exec cli "ping -c 3 -i 0.5 -W 3 $PPP_LOCAL 2>&1 | tail -2")
      log "    VM ping $PPP_LOCAL: $(head -1 <<<"$ping_out")"
      grep -qE ' [1-9][0-9]* received' <<<"$ping_out" || { ok=0; why="$why; no ping reply from $PPP_LOCAL"; }
    fi
  fi
  grep -q "PPP authenticated.*user=\"$PPP_USER\".*method=\"$m\"" "$base.sras.log" ||
    { ok=0; why="$why; sras did not log $PPP_USER authenticated with $m"; }
  # sras shuts down first: LCP Terminate-Request, then StopCCN (result 6), acknowledged by xl2tpd.
  kill -TERM "$pid" 2>/dev/null
  wait_exit "$pid" 10
  rc=$EXIT_STATUS
  forget_pid "$pid"
  [ "$rc" = 0 ] || { ok=0; why="$why; sras server exit status $rc after SIGTERM"; }
  grep -q 'not acknowledged' "$base.sras.log" && { ok=0; why="$why; StopCCN not acknowledged"; }
  grep -qE 'PPP link down.*echo_answered=[1-9]' "$base.sras.log" ||
    { ok=0; why="$why; sras answered no ICMP echo"; }
  sleep 1  # let pppd log the end of the link
  xl2tpd_stop cli >/dev/null
  capture_stop
  xl2tpd_pull_log cli "$base.xl2tpd.log"
  pppd_pull_log cli "$base.ppp.log"
  local pc
  pc=$(pcap_check_ppp "$base.pcap" "$(method_filter "$m")") || { ok=0; why="$why; $pc"; }
  grep -E 'established|closed|PPP|refused|panicked' "$base.sras.log" | grep -v DEBUG | sed 's/^[^ ]* *//; s/^/    sras: /' >&2
  grep -E 'authentication|address|Terminat|Connection terminated|Modem hangup' "$base.ppp.log" | head -12 | sed 's/^/    pppd: /' >&2
  log "    $pc; ppp up ${t_est:-n/a}s after dial, run $(elapsed "$t0" "$(now)")s"
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# (b) sras connect in netns -> xl2tpd LNS + pppd in VM srv, one auth method required by pppd.
run_ppp_lac_case() { # METHOD
  local m=$1 id=lac-$1 t0 t1 t_est="" rc ok=1 why="" base=$OUT/ppp-lac-$1
  selected "$id" || return 0
  log "=== $id: sras connect -> xl2tpd LNS + pppd (srv) $SRV_IP, pppd $(pppd_require "$m")"
  t0=$(now)
  sras_ppp_conf client "$m" >"$base.sras.toml"
  xl2tpd_ppp_conf lns >"$base.xl2tpd.conf"
  pppd_options_server "$m" >"$base.pppd.options"
  : >"$base.stdout"
  : >"$base.sras.log"
  capture_start "$base.pcap" || { record "$id" FAIL 0 "no capture"; return; }
  if ! xl2tpd_start srv "$base.xl2tpd.conf" "$base.pppd.options"; then
    ok=0; why="xl2tpd did not start in srv"
  else
    t1=$(now)
    ip netns exec "$NS" env RUST_LOG=debug "$SRAS" connect -c "$base.sras.toml" --server "$SRV_IP" \
      --exit-when-established --timeout "$ESTABLISH_TIMEOUT" >"$base.stdout" 2>"$base.sras.log"
    rc=$?
    t_est=$(elapsed "$t1" "$(now)")
    [ "$rc" = 0 ] || { ok=0; why="sras connect exit status $rc ($(grep -E 'ERROR' "$base.sras.log" | tail -1 | sed 's/^[^ ]* *//'))"; }
    grep -qE '^ESTABLISHED tunnel=[0-9]+/[0-9]+ session=[0-9]+/[0-9]+$' "$base.stdout" ||
      { ok=0; why="$why; no ESTABLISHED line"; }
    local up local_addr peer_addr dns
    up=$(grep -E '^PPP UP ' "$base.stdout")
    local_addr=$(sed -n 's/.* local=\([0-9.]*\).*/\1/p' <<<"$up")
    peer_addr=$(sed -n 's/.* peer=\([0-9.]*\).*/\1/p' <<<"$up")
    dns=$(sed -n 's/.* dns=\([0-9.,a-z]*\).*/\1/p' <<<"$up")
    if [ -z "$up" ]; then
      ok=0; why="$why; no PPP UP line"
    else
      in_pool "$local_addr" || { ok=0; why="$why; sras got $local_addr, not from xl2tpd's range"; }
      [ "$peer_addr" = "$PPP_LOCAL" ] || { ok=0; why="$why; peer $peer_addr, not pppd's $PPP_LOCAL"; }
      [ "$dns" = "$PPP_DNS1,$PPP_DNS2" ] || { ok=0; why="$why; dns=$dns, not pppd's ms-dns $PPP_DNS1,$PPP_DNS2"; }
    fi
    grep -qE "^PING $PPP_LOCAL: [1-9][0-9]*/[0-9]+ replies$" "$base.stdout" ||
      { ok=0; why="$why; no ping reply from $PPP_LOCAL"; }
    grep -q "PPP authenticated.*method=\"$m\"" "$base.sras.log" ||
      { ok=0; why="$why; sras did not log authentication with $m"; }
    grep -q 'not acknowledged' "$base.sras.log" && { ok=0; why="$why; StopCCN not acknowledged"; }
    xl2tpd_established srv "$HOST_IP" || { ok=0; why="$why; xl2tpd log shows no established tunnel+call with $HOST_IP"; }
  fi
  sleep 1
  xl2tpd_stop srv >/dev/null
  capture_stop
  xl2tpd_pull_log srv "$base.xl2tpd.log"
  pppd_pull_log srv "$base.ppp.log"
  # pppd's debug log shows what it decided: the CHAP Success it sent for our Response.
  grep -q 'sent \[CHAP Success' "$base.ppp.log" && grep -q "rcvd \[CHAP Response .*name = \"$PPP_USER\"" "$base.ppp.log" ||
    { ok=0; why="$why; pppd did not log a CHAP Success for $PPP_USER"; }
  local pc
  pc=$(pcap_check_ppp "$base.pcap" "$(method_filter "$m")") || { ok=0; why="$why; $pc"; }
  sed 's/^/    stdout: /' "$base.stdout" >&2 2>/dev/null
  grep -E 'established|closed|PPP|ERROR|panicked' "$base.sras.log" | grep -v DEBUG | sed 's/^[^ ]* *//; s/^/    sras: /' >&2
  grep -E 'CHAP (Success|Failure)|address|Terminat|Connection terminated' "$base.ppp.log" | head -12 | sed 's/^/    pppd: /' >&2
  log "    $pc; connect-to-exit ${t_est:-n/a}s, run $(elapsed "$t0" "$(now)")s"
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# --- the ike suites --------------------------------------------------------------------------------
# IKEv1 (Main Mode + Quick Mode, ESP transport mode for UDP/1701) between `sras ike` in netns tbhost and
# strongSwan 5.9.8 charon (ipsec starter, ipsec.conf) in the VMs; ike-reference: charon <-> charon.
IKE_DIR=$REPO/tests/interop/ike      # static files: charon's log config, the ESP traffic sender, the PKI script
IKE_PSK=sras-interop-ike-psk         # test-only pre-shared key (no spaces, no quotes)
IKE_CERTS=$OUT/ike-certs             # CA and certificates, generated at run time (certs.sh)
CHARON_LOG=/var/log/sras-interop-charon.log
# IP fragments too: a Main Mode message 1 with many transforms (or a certificate) exceeds the MTU, and
# without its later fragments tshark cannot reassemble it, misses the proposal and decrypts nothing right.
IKE_FILTER='udp port 500 or udp port 4500 or esp or udp port 1701 or (ip[6:2] & 0x3fff != 0)'
# Proposals: charon initiators offer exactly one suite (strict '!'), charon responders accept both.
IKE_PROPOSAL=${INTEROP_IKE_PROPOSAL:-aes256-sha256-modp2048}
ESP_PROPOSAL=${INTEROP_ESP_PROPOSAL:-aes256-sha256}
IKE_PROPOSAL_NATT=aes128-sha1-modp2048   # the NAT-T runs use the other suite, for coverage
ESP_PROPOSAL_NATT=aes128-sha1
# charon's rekey setting. "no" as the testbed's configs (charon then proposes Life-Duration 0 in
# phase 1 and 2); INTEROP_CHARON_REKEY=yes gives charon its default lifetimes (3h IKE, 1h ESP).
CHARON_REKEY=${INTEROP_CHARON_REKEY:-no}
DPD_DELAY=5      # the dpd runs: sras dpd_delay / charon dpddelay (seconds)
DPD_TIMEOUT=15   # sras dpd_timeout / charon dpdtimeout
DPD_SLACK=15     # what a DPD timeout may take beyond delay + timeout (TCG VMs are slow)

ike_certs() { # generates the PKI once per run
  [ -f "$IKE_CERTS/.done.$$" ] && return 0
  bash "$IKE_DIR/certs.sh" "$IKE_CERTS" || return 1
  touch "$IKE_CERTS/.done.$$"
}

# ipsec.conf for charon in a VM. ROLE: initiator | responder; AUTH: psk | cert; NAME: cli | srv
# (its certificate); options: natt (forceencaps=yes), dpd (short DPD timers, dpdaction=clear).
charon_conf() { # ROLE ME PEER AUTH NAME IKE ESP [natt] [dpd]
  local role=$1 me=$2 peer=$3 auth=$4 name=$5 ike=$6 esp=$7 natt=no dpd_delay=30s dpd_timeout=120s o
  shift 7
  for o in "$@"; do
    case "$o" in natt) natt=yes ;; dpd) dpd_delay=${DPD_DELAY}s; dpd_timeout=${DPD_TIMEOUT}s ;; esac
  done
  cat <<EOF
# written by sras tests/interop/run.sh: charon as IKEv1 $role, $auth, transport mode UDP/1701
config setup
    uniqueids=no
    charondebug="ike 4, chd 4, knl 2, cfg 2, net 2, job 2"

conn sras
    keyexchange=ikev1
    type=transport
    left=$me
    leftprotoport=17/1701
    right=$peer
EOF
  if [ "$role" = initiator ]; then
    printf '    rightprotoport=17/1701\n    ike=%s!\n    esp=%s!\n' "$ike" "$esp"
  else
    # As the testbed's server: any client port (Windows and macOS clients do not use 1701).
    printf '    rightprotoport=17/%%any\n    ike=%s,%s!\n    esp=%s,%s!\n' \
      "$IKE_PROPOSAL" "$IKE_PROPOSAL_NATT" "$ESP_PROPOSAL" "$ESP_PROPOSAL_NATT"
  fi
  cat <<EOF
    rekey=$CHARON_REKEY
    forceencaps=$natt
    dpddelay=$dpd_delay
    dpdtimeout=$dpd_timeout
    dpdaction=clear
    auto=add
EOF
  if [ "$auth" = cert ]; then
    printf '    authby=rsasig\n    leftcert=sras-interop-%s.pem\n    leftsendcert=always\n    rightid=%%any\n' "$name"
  else
    printf '    authby=secret\n'
  fi
}

charon_secrets() { # AUTH NAME
  if [ "$1" = cert ]; then
    printf '# written by sras tests/interop/run.sh (test only)\n: RSA sras-interop-%s.key\n' "$2"
  else
    printf '# written by sras tests/interop/run.sh (test only)\n%%any %%any : PSK "%s"\n' "$IKE_PSK"
  fi
}

# Installs CONF (and the certificates for AUTH=cert) and (re)starts charon in VM: a clean slate
# (no xl2tpd, no SAs or policies, a fresh log), plus the ESP traffic sender.
charon_start() { # VM CONF AUTH NAME
  local vm=$1 conf=$2 auth=$3 name=$4 tmp rc
  tmp=$(mktemp -d)
  charon_secrets "$auth" "$name" >"$tmp/secrets"
  timeout 60 "$TBCTL" push "$vm" "$conf" /etc/ipsec.conf >/dev/null &&
    timeout 60 "$TBCTL" push "$vm" "$tmp/secrets" /etc/ipsec.secrets 0600 >/dev/null &&
    timeout 60 "$TBCTL" push "$vm" "$IKE_DIR/charon-logging.conf" /etc/strongswan.d/sras-interop-log.conf >/dev/null &&
    timeout 60 "$TBCTL" push "$vm" "$IKE_DIR/send-l2tp-hello.pl" /usr/local/bin/sras-interop-send 0755 >/dev/null
  rc=$?
  if [ $rc = 0 ] && [ "$auth" = cert ]; then
    timeout 60 "$TBCTL" push "$vm" "$IKE_CERTS/ca.pem" /etc/ipsec.d/cacerts/sras-interop-ca.pem >/dev/null &&
      timeout 60 "$TBCTL" push "$vm" "$IKE_CERTS/$name.pem" "/etc/ipsec.d/certs/sras-interop-$name.pem" >/dev/null &&
      timeout 60 "$TBCTL" push "$vm" "$IKE_CERTS/$name.key" "/etc/ipsec.d/private/sras-interop-$name.key" 0600 >/dev/null
    rc=$?
  fi
  rm -rf "$tmp"
  [ $rc = 0 ] || return 1
  vm_exec "$vm" "
    systemctl stop strongswan-starter xl2tpd $XL2TPD_UNIT 2>/dev/null; systemctl reset-failed $XL2TPD_UNIT 2>/dev/null
    modprobe -a esp4 xfrm_user 2>/dev/null
    ip xfrm state flush; ip xfrm policy flush; rm -f $CHARON_LOG
    systemctl start strongswan-starter
    for i in \$(seq 100); do [ -S /var/run/charon.ctl ] && grep -q 'loaded plugins' $CHARON_LOG 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
    ipsec status >/dev/null 2>&1 || { echo 'charon did not start:'; tail -20 $CHARON_LOG; systemctl status strongswan-starter | tail -5; exit 1; }
  "
}

charon_stop() { # VM
  vm_exec "$1" "systemctl stop strongswan-starter 2>/dev/null; ip xfrm state flush; ip xfrm policy flush;
    rm -f /etc/strongswan.d/sras-interop-log.conf /etc/ipsec.d/cacerts/sras-interop-* /etc/ipsec.d/certs/sras-interop-* /etc/ipsec.d/private/sras-interop-*; true"
}

charon_pull_log() { # VM LOCAL
  timeout 60 "$TBCTL" pull "$1" "$CHARON_LOG" "$2" >/dev/null 2>&1 || echo "(could not pull $CHARON_LOG from $1)" >"$2"
}

# "ipsec statusall" and "ip xfrm state" of VM, appended to FILE with a title.
vm_ipsec_state() { # VM FILE TITLE
  { echo "=== $3"; vm_exec "$1" "ipsec statusall 2>&1; echo '--- ip xfrm state'; ip xfrm state"; } >>"$2"
}

# The ESP SPIs charon shows for conn sras: "<inbound> <outbound>" (hex), empty if none is installed.
charon_spis() { # VM
  vm_exec "$1" "ipsec statusall 2>/dev/null" |
    sed -n 's/.*sras{[0-9]*}: *INSTALLED.*ESP\( in UDP\)\? SPIs: \([0-9a-f]\{8\}\)_i \([0-9a-f]\{8\}\)_o.*/\2 \3/p' | tail -1
}

# Whether charon in VM has an established IKE SA and an installed CHILD_SA, waiting up to SECS (default
# 10: a Quick Mode responder installs its SAs only when QM3 arrives, after the initiator reports success).
charon_up() { # VM [SECS]
  vm_exec "$1" "for i in \$(seq $((${2:-10} * 4))); do
      s=\$(ipsec statusall 2>/dev/null)
      echo \"\$s\" | grep -q 'sras\[[0-9]*\]: ESTABLISHED' && echo \"\$s\" | grep -q 'sras{[0-9]*}: *INSTALLED' && exit 0
      sleep 0.25
    done; exit 1"
}

# Waits up to SECS for charon in VM to have no SA for conn sras (one agent call).
charon_wait_gone() { # VM SECS
  vm_exec "$1" "for i in \$(seq $(($2 * 4))); do ipsec statusall 2>/dev/null | grep -qE 'sras(\[[0-9]+\]: ESTABLISHED|\{[0-9]+\}: *INSTALLED)' || exit 0; sleep 0.25; done; exit 1"
}

# Waits up to SECS for PATTERN (grep -E) in charon's log in VM (one agent call).
charon_wait_log() { # VM SECS PATTERN
  vm_exec "$1" "for i in \$(seq $(($2 * 4))); do grep -qE '$3' $CHARON_LOG && exit 0; sleep 0.25; done; exit 1"
}

# Sends 3 L2TP Hellos from VM's UDP 1701 to DST:1701 (the ESP SA protects them).
vm_send_l2tp() { # VM DST
  vm_exec "$1" "sras-interop-send $2 3"
}

# The hex bytes of the NTH (default 1) hex dump LABEL in a charon log ("LABEL => N bytes @ 0x..."
# followed by "   0: XX XX ..." lines).
charon_hex() { # LABEL FILE [NTH]
  awk -v label="$1" -v nth="${3:-1}" '
    { t = $0; sub(/^[A-Z][a-z][a-z] +[0-9]+ [0-9:]+ [0-9]+\[[A-Z]+\] (<[^>]*> )?/, "", t) }
    want > 0 {
      if (t ~ /^ *[0-9]+: /) {
        sub(/^ *[0-9]+: /, "", t); n = split(substr(t, 1, 48), a, " ")
        for (i = 1; i <= n && got < want; i++) if (a[i] ~ /^[0-9A-F][0-9A-F]$/) { out = out tolower(a[i]); got++ }
        if (got >= want) { print out; exit }
      }
      next
    }
    index(t, label " => ") == 1 { if (++count == nth) { want = t; sub(/.* => /, "", want); sub(/ bytes.*/, "", want); want += 0; got = 0; out = "" } }
  ' "$2"
}

# Wireshark 4.0 esp_sa labels for the kernel's algorithm names ("cbc(aes)", "hmac(sha256)" + truncation).
xfrm_enc_label() {
  case "$1" in
    "cbc(aes)") echo "AES-CBC [RFC3602]" ;;
    "cbc(des3_ede)") echo "TripleDES-CBC [RFC2451]" ;;
    *) echo "unknown-$1" ;;
  esac
}
xfrm_auth_label() { # NAME TRUNC_BITS
  case "$1:$2" in
    "hmac(md5):96") echo "HMAC-MD5-96 [RFC2403]" ;;
    "hmac(sha1):96") echo "HMAC-SHA-1-96 [RFC2404]" ;;
    "hmac(sha256):128") echo "HMAC-SHA-256-128 [RFC4868]" ;;
    "hmac(sha256):96") echo "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]" ;;
    "hmac(sha384):192") echo "HMAC-SHA-384-192 [RFC4868]" ;;
    "hmac(sha512):256") echo "HMAC-SHA-512-256 [RFC4868]" ;;
    *) echo "unknown-$1-$2" ;;
  esac
}

# One uat:esp_sa entry per ESP state of `ip xfrm state` text on stdin.
xfrm_to_uats() {
  local src="" dst="" spi="" enc="" enck="" auth="" authk="" trunc="" line
  emit() {
    [ -n "$spi" ] && [ -n "$enc" ] &&
      printf 'uat:esp_sa:"IPv4","%s","%s","0x%s","%s","0x%s","%s","0x%s"\n' "$src" "$dst" "$spi" \
        "$(xfrm_enc_label "$enc")" "$enck" "$(xfrm_auth_label "$auth" "$trunc")" "$authk"
    spi="" enc="" auth=""
  }
  while IFS= read -r line; do
    if [[ $line =~ ^src\ ([0-9.]+)\ dst\ ([0-9.]+) ]]; then
      emit; src=${BASH_REMATCH[1]} dst=${BASH_REMATCH[2]}
    elif [[ $line =~ proto\ esp\ spi\ 0x([0-9a-f]{8}) ]]; then
      spi=${BASH_REMATCH[1]}
    elif [[ $line =~ auth-trunc\ ([^ ]+)\ 0x([0-9a-f]+)\ ([0-9]+) ]]; then
      auth=${BASH_REMATCH[1]} authk=${BASH_REMATCH[2]} trunc=${BASH_REMATCH[3]}
    elif [[ $line =~ ^[[:space:]]+enc\ ([^ ]+)\ 0x([0-9a-f]+) ]]; then
      enc=${BASH_REMATCH[1]} enck=${BASH_REMATCH[2]}
    fi
  done
  emit
}

# tshark options from sras's keylog: ikev1:"<cookie>","<key>" and esp:"IPv4",... lines.
keylog_to_uats() { # KEYLOG
  sed -n 's/^ikev1:"\([0-9a-fA-F]\{16\}\)","\([0-9a-fA-F]*\)"[[:space:]]*$/uat:ikev1_decryption_table:\1,\2/p; s/^esp:\(".*\)$/uat:esp_sa:\1/p' "$1"
}

# tshark options from the VM side: Ka from charon's log with the initiator cookie of the capture,
# and every ESP state of the VM's `ip xfrm state` (saved in XFRM_FILE).
vm_uats() { # CHARON_LOG PCAP XFRM_FILE
  local ka cky
  ka=$(charon_hex "encryption key Ka" "$1")
  cky=$(tshark -r "$2" -Y 'isakmp.exchangetype == 2' -T fields -e isakmp.ispi 2>/dev/null | head -1)
  [ -n "$ka" ] && [ -n "$cky" ] && echo "uat:ikev1_decryption_table:$cky,$ka"
  xfrm_to_uats <"$3"
}

# Checks a capture with tshark and the uat options in UATS_FILE (one per line): nothing malformed,
# Main Mode 5/6 decrypted (an ID payload in each), Quick Mode decrypted (nonces in QM1/QM2), and at
# least one ESP packet decrypted to UDP/1701 carrying L2TP; with NATT=natt, ESP in UDP/4500.
ike_pcap_check() { # PCAP UATS_FILE [natt]
  local pcap=$1 natt=${3:-} opts=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE) u
  local malformed n_mm n_qm n_esp n_l2tp n_bad n_udpesp
  while IFS= read -r u; do [ -n "$u" ] && opts+=(-o "$u"); done <"$2"
  # Wireshark decrypts a byte-identical retransmission (e.g. a Quick Mode message 2 resent
  # because the TCG-slow peer's message 3 came late) with the IV chain already advanced past the
  # first copy, and marks it malformed: such frames are not counted, any other malformed one is.
  local retrans
  retrans=$(tshark -r "$pcap" -T fields -e frame.number -e udp.payload 2>/dev/null |
    awk -F'\t' '$2 != "" { if (seen[$2]++) printf "%s ", $1 }')
  malformed=$(tshark -r "$pcap" "${opts[@]}" -Y _ws.malformed -T fields -e frame.number 2>/dev/null |
    while read -r f; do case " $retrans" in *" $f "*) ;; *) printf '%s ' "$f" ;; esac; done)
  n_mm=$(tshark -r "$pcap" "${opts[@]}" -Y 'isakmp.exchangetype == 2 && isakmp.id.type' 2>/dev/null | wc -l)
  n_qm=$(tshark -r "$pcap" "${opts[@]}" -Y 'isakmp.exchangetype == 32 && isakmp.nonce' 2>/dev/null | wc -l)
  n_esp=$(tshark -r "$pcap" -Y esp 2>/dev/null | wc -l)
  n_l2tp=$(tshark -r "$pcap" "${opts[@]}" -Y 'esp.icv_good == 1 && udp.dstport == 1701 && l2tp' 2>/dev/null | wc -l)
  n_bad=$(tshark -r "$pcap" "${opts[@]}" -Y 'esp.icv_bad == 1' 2>/dev/null | wc -l)
  n_udpesp=$(tshark -r "$pcap" -Y 'udp.port == 4500 && esp' 2>/dev/null | wc -l)
  local summary="mm5/6 decrypted $n_mm, qm decrypted $n_qm, esp $n_esp (decrypted to udp/1701 with icv good $n_l2tp, icv bad $n_bad, in udp/4500 $n_udpesp)"
  if [ -n "${malformed// /}" ]; then echo "tshark: malformed frames $malformed; $summary"; return 1; fi
  if [ "$n_mm" -lt 2 ] || [ "$n_qm" -lt 2 ]; then echo "tshark: ISAKMP not decrypted; $summary"; return 1; fi
  if [ "$n_l2tp" -lt 1 ] || [ "$n_bad" -gt 0 ]; then echo "tshark: ESP not decrypted to UDP/1701; $summary"; return 1; fi
  if [ "$natt" = natt ] && [ "$n_udpesp" -lt 1 ]; then echo "tshark: no ESP in UDP/4500; $summary"; return 1; fi
  if [ "$natt" != natt ] && [ "$n_udpesp" -gt 0 ]; then echo "tshark: ESP in UDP/4500 without NAT-T; $summary"; return 1; fi
  echo "tshark: $summary"
}

# nft in netns tbhost: drop what FROM sends (to sras: input hook; between the VMs: bridge forward).
nft_freeze() { # FROM_IP
  ip netns exec "$NS" nft -f - <<EOF
table inet sras_interop {
  chain input { type filter hook input priority -10; ip saddr $1 udp dport { 500, 4500 } drop; ip saddr $1 ip protocol esp drop; }
}
table bridge sras_interop {
  chain forward { type filter hook forward priority -10; ip saddr $1 drop; }
}
EOF
}
nft_unfreeze() {
  ip netns exec "$NS" nft delete table inet sras_interop 2>/dev/null
  ip netns exec "$NS" nft delete table bridge sras_interop 2>/dev/null
  true
}

# sras's config for the ike subcommand.
sras_ike_conf() { # PEER_IP AUTH(psk|cert) KEYLOG [natt] [dpd]
  local peer=$1 auth=$2 keylog=$3 force=false dd=10 dt=30 o
  shift 3
  for o in "$@"; do case "$o" in natt) force=true ;; dpd) dd=$DPD_DELAY; dt=$DPD_TIMEOUT ;; esac; done
  cat <<EOF
# written by tests/interop/run.sh: sras ike against charon at $peer ($auth${1:+ $*})
[ike]
listen = "$HOST_IP"
profile = "compatible"
force_encapsulation = $force
keylog = "$keylog"
dpd_delay = $dd
dpd_timeout = $dt
EOF
  if [ "$auth" = cert ]; then
    cat <<EOF

[ike.certificate]
cert = "$IKE_CERTS/sras.pem"
key = "$IKE_CERTS/sras.key"
ca = ["$IKE_CERTS/ca.pem"]
EOF
  else
    printf '\n[[ike.psk]]\npeer = "%s"\nsecret = "%s"\n' "$peer" "$IKE_PSK"
  fi
}

SRAS_PID=
# Starts `sras ike` (ARGS: extra arguments, e.g. --connect IP) in the netns; waits for UDP 500 to be bound.
sras_ike_start() { # CONF LOG [ARGS...]
  local conf=$1 logf=$2 i
  shift 2
  : >"$logf"
  ip netns exec "$NS" env RUST_LOG=debug "$SRAS" ike --config "$conf" "$@" 2>"$logf" &
  SRAS_PID=$!
  PIDS+=("$SRAS_PID")
  for i in $(seq 100); do
    ip netns exec "$NS" ss -Huanp 2>/dev/null | grep -E "$HOST_IP:500 " | grep -q "pid=$SRAS_PID," && return 0
    kill -0 "$SRAS_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

# SIGTERM to sras; sets EXIT_STATUS.
sras_ike_stop() {
  [ -n "$SRAS_PID" ] || { EXIT_STATUS=none; return; }
  kill -CONT "$SRAS_PID" 2>/dev/null
  kill -TERM "$SRAS_PID" 2>/dev/null
  wait_exit "$SRAS_PID" 15
  [ "$EXIT_STATUS" = timeout ] && kill -KILL "$SRAS_PID" 2>/dev/null
  forget_pid "$SRAS_PID"
  SRAS_PID=
}

# Waits up to SECS for PATTERN (grep -E) in FILE on the host.
wait_file() { # FILE SECS PATTERN
  local i
  for i in $(seq $(($2 * 10))); do grep -qE "$3" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# sras's SPIs of its latest phase 2: "<spi_in> <spi_out>" (hex, no 0x).
sras_spis() { # LOG
  sed -n 's/.*IKE phase2 established.*spi_in="\{0,1\}0x\([0-9a-fA-F]\{8\}\).*spi_out="\{0,1\}0x\([0-9a-fA-F]\{8\}\).*/\1 \2/p' "$1" | tail -1 | tr 'A-F' 'a-f'
}

# Established check shared by the runs with sras: sras logged phase 1 and 2, charon in VM has the SAs,
# and the SPIs agree (charon's inbound is sras's outbound). Appends to WHY, clears OK on failure.
check_sas_agree() { # VM SRAS_LOG
  local vm=$1 logf=$2 s c
  s=$(sras_spis "$logf")
  c=$(charon_spis "$vm")
  log "    SPIs: sras in/out ${s:-none}; charon ($vm) in/out ${c:-none}"
  if [ -z "$s" ] || [ -z "$c" ]; then
    ok=0; why="$why; SPIs missing (sras '${s}', charon '${c}')"
  elif [ "${s% *}" != "${c#* }" ] || [ "${s#* }" != "${c% *}" ]; then
    ok=0; why="$why; SPIs disagree: sras in/out $s, charon in/out $c"
  fi
}

# After SIGTERM to sras: it exited 0, logged its deletes, and charon in VM received them and dropped the SAs.
# An IKEv1 Delete carries the sender's inbound SPI: charon logs it as "received DELETE for ESP CHILD_SA
# with SPI <its outbound SPI>" (it looks the SA up by its outbound SPI).
check_sras_deleted() { # VM SRAS_LOG CHARON_OUT_SPI
  local vm=$1 logf=$2 spi=$3
  [ "$EXIT_STATUS" = 0 ] || { ok=0; why="$why; sras exit status $EXIT_STATUS after SIGTERM"; }
  grep -q 'IKE phase2 deleted' "$logf" || { ok=0; why="$why; sras did not log 'IKE phase2 deleted'"; }
  grep -q 'IKE phase1 deleted' "$logf" || { ok=0; why="$why; sras did not log 'IKE phase1 deleted'"; }
  charon_wait_log "$vm" 10 "received DELETE for ESP CHILD_SA with SPI ${spi:-[0-9a-f]+}" ||
    { ok=0; why="$why; charon did not log 'received DELETE for ESP CHILD_SA with SPI ${spi:-?}'"; }
  charon_wait_log "$vm" 5 "received DELETE for IKE_SA" || { ok=0; why="$why; charon did not log 'received DELETE for IKE_SA'"; }
  charon_wait_gone "$vm" 5 || { ok=0; why="$why; charon still has the SAs after sras's deletes"; }
}

# Writes BASE.uats (from sras's keylog, or from the VM for the reference runs) and checks the capture;
# if the keylog does not decrypt, tries the VM's keys to tell a keylog problem from a traffic problem.
check_capture() { # BASE MODE(keylog|vm) VM_FOR_KEYS [natt]
  local base=$1 mode=$2 natt=${4:-} pc pc2
  if [ "$mode" = keylog ]; then
    keylog_to_uats "$base.keys" >"$base.uats" 2>/dev/null
    [ -s "$base.uats" ] || echo "(no usable lines in $base.keys)" >&2
  else
    vm_uats "$base.charon.log" "$base.pcap" "$base.xfrm" >"$base.uats"
  fi
  if pc=$(ike_pcap_check "$base.pcap" "$base.uats" "$natt"); then
    log "    $pc"
  else
    ok=0; why="$why; $pc"
    log "    $pc"
    if [ "$mode" = keylog ]; then
      vm_uats "$base.charon.log" "$base.pcap" "$base.xfrm" >"$base.vm-uats"
      pc2=$(ike_pcap_check "$base.pcap" "$base.vm-uats" "$natt")
      log "    with the VM's keys instead ($base.vm-uats): $pc2"
      why="$why (with the VM's keys: ${pc2#tshark: })"
    fi
  fi
}

ike_summary() { # SRAS_LOG CHARON_LOG
  [ -n "$1" ] && grep -E 'IKE (phase|dpd|delete)|ERROR|WARN|panicked' "$1" | grep -v DEBUG | head -12 | sed 's/^[^ ]* *//; s/^/    sras: /' >&2
  grep -E 'established|selected proposal|received DELETE|deleting|DPD check timed out|failed|no shared key|no matching|authentication of|NAT' "$2" 2>/dev/null |
    grep -vE '^\S+ +\S+ \S+ \S+ <[^>]*>    ' | head -14 | sed 's/^[A-Z][a-z][a-z] *[0-9]* [0-9:]* //; s/^/    charon: /' >&2
}

# Established runs with sras: resp-* (charon in VM cli initiates to sras) and init-* (sras initiates to
# charon in VM srv). AUTH: psk | cert; NATT: natt (charon forceencaps / sras force_encapsulation) or "".
run_ike_case() { # ID ROLE(resp|init) AUTH [natt]
  local id=$1 role=$2 auth=$3 natt=${4:-} base=$OUT/ike-$1 ok=1 why="" t1 t_est="" vm me name ike esp
  selected "$id" || return 0
  if [ "$role" = resp ]; then vm=cli me=$CLI_IP name=cli; else vm=srv me=$SRV_IP name=srv; fi
  ike=$IKE_PROPOSAL esp=$ESP_PROPOSAL
  [ "$natt" = natt ] && ike=$IKE_PROPOSAL_NATT esp=$ESP_PROPOSAL_NATT
  log "=== $id: $([ "$role" = resp ] && echo "charon ($vm) initiates to sras $HOST_IP" || echo "sras initiates to charon ($vm) $SRV_IP"), $auth${natt:+, NAT-T forced by $([ "$role" = resp ] && echo charon || echo sras)}"
  rm -f "$base".*
  [ "$auth" = cert ] && { ike_certs || { record "$id" FAIL 0 "certificate generation failed"; return; }; }
  if [ "$role" = resp ]; then
    charon_conf initiator "$me" "$HOST_IP" "$auth" "$name" "$ike" "$esp" $natt >"$base.ipsec.conf"
    sras_ike_conf "$me" "$auth" "$base.keys" >"$base.sras.toml"
  else
    charon_conf responder "$me" "$HOST_IP" "$auth" "$name" "$ike" "$esp" >"$base.ipsec.conf"
    sras_ike_conf "$me" "$auth" "$base.keys" $natt >"$base.sras.toml"
  fi
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  if ! charon_start "$vm" "$base.ipsec.conf" "$auth" "$name" >"$base.vm.out" 2>&1; then
    ok=0; why="charon did not start in $vm: $(tail -3 "$base.vm.out" | tr '\n' ' ')"
  elif [ "$role" = resp ] && ! sras_ike_start "$base.sras.toml" "$base.sras.log"; then
    ok=0; why="sras ike did not bind $HOST_IP:500: $(tail -3 "$base.sras.log" | tr '\n' ' ')"
  else
    t1=$(now)
    if [ "$role" = resp ]; then
      vm_exec "$vm" "timeout $ESTABLISH_TIMEOUT ipsec up sras" >>"$base.vm.out" 2>&1 ||
        why="ipsec up in $vm failed or timed out (status $?): $(grep -E 'failed|error|timeout|retransmit|no ' "$base.vm.out" | tail -2 | tr '\n' ' ')"
    else
      sras_ike_start "$base.sras.toml" "$base.sras.log" --connect "$SRV_IP" ||
        { ok=0; why="sras ike --connect did not bind $HOST_IP:500: $(tail -3 "$base.sras.log" | tr '\n' ' ')"; }
    fi
    if [ $ok = 1 ] && wait_file "$base.sras.log" "$ESTABLISH_TIMEOUT" 'IKE phase2 established' && charon_up "$vm"; then
      t_est=$(elapsed "$t1" "$(now)")
      why=""
      grep -q 'IKE phase1 established' "$base.sras.log" || { ok=0; why="$why; sras did not log 'IKE phase1 established'"; }
      check_sas_agree "$vm" "$base.sras.log"
      vm_ipsec_state "$vm" "$base.vm-state" "$vm after establishment"
      timeout 60 "$TBCTL" exec "$vm" "ip xfrm state" >"$base.xfrm" 2>&1
      if [ "$natt" = natt ]; then
        grep -q 'encap type espinudp' "$base.xfrm" || { ok=0; why="$why; no UDP encapsulation in $vm's ip xfrm state"; }
      fi
      vm_send_l2tp "$vm" "$HOST_IP" >>"$base.vm.out" 2>&1 || { ok=0; why="$why; sending ESP traffic from $vm failed"; }
      sleep 1
    else
      ok=0; why="${why:+$why; }not established within ${ESTABLISH_TIMEOUT}s (sras phase2: $(grep -c 'IKE phase2 established' "$base.sras.log"), charon: $(charon_up "$vm" 1 && echo up || echo down))"
    fi
  fi
  local cout
  cout=$(charon_spis "$vm"); cout=${cout#* }
  sras_ike_stop
  if [ -n "$t_est" ]; then
    check_sras_deleted "$vm" "$base.sras.log" "$cout"
  elif [ "$EXIT_STATUS" != 0 ] && [ "$EXIT_STATUS" != none ]; then
    why="$why; sras exit status $EXIT_STATUS after SIGTERM"
  fi
  capture_stop
  charon_pull_log "$vm" "$base.charon.log"
  [ -f "$base.xfrm" ] || echo "(not established)" >"$base.xfrm"
  charon_stop "$vm" >/dev/null
  [ -n "$t_est" ] && check_capture "$base" keylog "$vm" "$natt"
  ike_summary "$base.sras.log" "$base.charon.log"
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# dpd: (1) sras (responder) detects a dead charon: after establishment, netns tbhost drops what VM cli
# sends; sras must log "IKE dpd timeout" within dpd_delay + dpd_timeout + slack. (2) charon detects a
# dead sras: SIGSTOP sras; charon (dpddelay/dpdtimeout as sras's, dpdaction=clear) must log
# "DPD check timed out" and drop the SAs within the same bound.
run_ike_dpd_case() {
  local id=dpd base=$OUT/ike-dpd ok=1 why="" t_est="" t_dpd1="" t_dpd2="" t0 bound=$((DPD_DELAY + DPD_TIMEOUT + DPD_SLACK))
  selected "$id" || return 0
  log "=== $id: DPD both ways (delay ${DPD_DELAY}s, timeout ${DPD_TIMEOUT}s, bound ${bound}s): charon frozen -> sras; sras stopped -> charon"
  rm -f "$base".*
  charon_conf initiator "$CLI_IP" "$HOST_IP" psk cli "$IKE_PROPOSAL" "$ESP_PROPOSAL" dpd >"$base.ipsec.conf"
  sras_ike_conf "$CLI_IP" psk "$base.keys" dpd >"$base.sras.toml"
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  # (1) charon frozen
  if ! charon_start cli "$base.ipsec.conf" psk cli >"$base.vm.out" 2>&1 || ! sras_ike_start "$base.sras.toml" "$base.sras.log"; then
    ok=0; why="start failed (charon: $(tail -2 "$base.vm.out" | tr '\n' ' '), sras: $(tail -2 "$base.sras.log" | tr '\n' ' '))"
  else
    t0=$(now)
    vm_exec cli "timeout $ESTABLISH_TIMEOUT ipsec up sras" >>"$base.vm.out" 2>&1
    if wait_file "$base.sras.log" "$ESTABLISH_TIMEOUT" 'IKE phase2 established' && charon_up cli; then
      t_est=$(elapsed "$t0" "$(now)")
      check_sas_agree cli "$base.sras.log"
      log "    (1) dropping everything VM cli sends (nft in netns $NS)"
      nft_freeze "$CLI_IP"
      t0=$(now)
      if wait_file "$base.sras.log" "$bound" 'IKE dpd timeout'; then
        t_dpd1=$(elapsed "$t0" "$(now)")
        log "    (1) sras: IKE dpd timeout after ${t_dpd1}s"
      else
        ok=0; why="$why; (1) sras did not log 'IKE dpd timeout' within ${bound}s of freezing charon"
      fi
      nft_unfreeze
    else
      ok=0; why="$why; (1) not established within ${ESTABLISH_TIMEOUT}s"
    fi
  fi
  sras_ike_stop
  charon_pull_log cli "$base.1.charon.log"
  mv "$base.sras.log" "$base.1.sras.log" 2>/dev/null
  # (2) sras stopped
  if ! charon_start cli "$base.ipsec.conf" psk cli >>"$base.vm.out" 2>&1 || ! sras_ike_start "$base.sras.toml" "$base.sras.log"; then
    ok=0; why="$why; (2) start failed"
  else
    t0=$(now)
    vm_exec cli "timeout $ESTABLISH_TIMEOUT ipsec up sras" >>"$base.vm.out" 2>&1
    if wait_file "$base.sras.log" "$ESTABLISH_TIMEOUT" 'IKE phase2 established' && charon_up cli; then
      log "    (2) SIGSTOP sras (pid $SRAS_PID)"
      kill -STOP "$SRAS_PID"
      t0=$(now)
      if charon_wait_log cli "$bound" 'DPD check timed out'; then
        t_dpd2=$(elapsed "$t0" "$(now)")
        log "    (2) charon: DPD check timed out after ${t_dpd2}s"
        charon_wait_gone cli 10 || { ok=0; why="$why; (2) charon kept the SAs after its DPD timeout (dpdaction=clear)"; }
      else
        ok=0; why="$why; (2) charon did not log 'DPD check timed out' within ${bound}s of SIGSTOP to sras"
      fi
      kill -CONT "$SRAS_PID"
    else
      ok=0; why="$why; (2) not established within ${ESTABLISH_TIMEOUT}s"
    fi
  fi
  sras_ike_stop
  [ "$EXIT_STATUS" = 0 ] || { ok=0; why="$why; sras exit status $EXIT_STATUS after SIGCONT + SIGTERM"; }
  capture_stop
  charon_pull_log cli "$base.charon.log"
  charon_stop cli >/dev/null
  ike_summary "$base.1.sras.log" "$base.1.charon.log"
  ike_summary "$base.sras.log" "$base.charon.log"
  local m
  m=$(tshark -r "$base.pcap" -Y _ws.malformed -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
  [ -z "${m// /}" ] || { ok=0; why="$why; tshark: malformed frames $m"; }
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" "(dpd: sras ${t_dpd1}s, charon ${t_dpd2}s)"; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# delete: (1) `ipsec down sras` in VM cli -> sras logs "IKE delete received" and drops phase 2 and 1;
# (2) charon re-establishes with the same sras process; SIGTERM to sras -> Deletes that charon receives.
run_ike_delete_case() {
  local id=delete base=$OUT/ike-delete ok=1 why="" t_est="" t0 cout
  selected "$id" || return 0
  log "=== $id: Delete both ways (ipsec down in cli -> sras; SIGTERM sras -> charon)"
  rm -f "$base".*
  charon_conf initiator "$CLI_IP" "$HOST_IP" psk cli "$IKE_PROPOSAL" "$ESP_PROPOSAL" >"$base.ipsec.conf"
  sras_ike_conf "$CLI_IP" psk "$base.keys" >"$base.sras.toml"
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  if ! charon_start cli "$base.ipsec.conf" psk cli >"$base.vm.out" 2>&1 || ! sras_ike_start "$base.sras.toml" "$base.sras.log"; then
    ok=0; why="start failed (charon: $(tail -2 "$base.vm.out" | tr '\n' ' '), sras: $(tail -2 "$base.sras.log" | tr '\n' ' '))"
  else
    t0=$(now)
    vm_exec cli "timeout $ESTABLISH_TIMEOUT ipsec up sras" >>"$base.vm.out" 2>&1
    if wait_file "$base.sras.log" "$ESTABLISH_TIMEOUT" 'IKE phase2 established' && charon_up cli; then
      t_est=$(elapsed "$t0" "$(now)")
      check_sas_agree cli "$base.sras.log"
      vm_exec cli "ipsec down sras" >>"$base.vm.out" 2>&1
      wait_file "$base.sras.log" 10 'IKE delete received' || { ok=0; why="$why; (1) sras did not log 'IKE delete received' after ipsec down"; }
      wait_file "$base.sras.log" 5 'IKE phase2 deleted' || { ok=0; why="$why; (1) sras did not log 'IKE phase2 deleted'"; }
      wait_file "$base.sras.log" 5 'IKE phase1 deleted' || { ok=0; why="$why; (1) sras did not log 'IKE phase1 deleted'"; }
      kill -0 "$SRAS_PID" 2>/dev/null || { ok=0; why="$why; (1) sras exited after the peer's delete"; }
      # (2) again, with the same sras; then SIGTERM.
      local n1
      n1=$(grep -c 'IKE phase2 established' "$base.sras.log")
      vm_exec cli "timeout $ESTABLISH_TIMEOUT ipsec up sras" >>"$base.vm.out" 2>&1
      local i
      for i in $(seq $((ESTABLISH_TIMEOUT * 10))); do [ "$(grep -c 'IKE phase2 established' "$base.sras.log")" -gt "$n1" ] && break; sleep 0.1; done
      if [ "$(grep -c 'IKE phase2 established' "$base.sras.log")" -gt "$n1" ] && charon_up cli; then
        check_sas_agree cli "$base.sras.log"
        cout=$(charon_spis cli); cout=${cout#* }
        local d2=$(grep -c 'IKE phase2 deleted' "$base.sras.log")
        sras_ike_stop
        [ "$(grep -c 'IKE phase2 deleted' "$base.sras.log")" -gt "$d2" ] || { ok=0; why="$why; (2) sras did not log a second 'IKE phase2 deleted'"; }
        check_sras_deleted cli "$base.sras.log" "$cout"
      else
        ok=0; why="$why; (2) not re-established within ${ESTABLISH_TIMEOUT}s"
      fi
    else
      ok=0; why="$why; (1) not established within ${ESTABLISH_TIMEOUT}s"
    fi
  fi
  sras_ike_stop
  capture_stop
  charon_pull_log cli "$base.charon.log"
  charon_stop cli >/dev/null
  ike_summary "$base.sras.log" "$base.charon.log"
  local m
  m=$(tshark -r "$base.pcap" -Y _ws.malformed -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
  [ -z "${m// /}" ] || { ok=0; why="$why; tshark: malformed frames $m"; }
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# --- ike-reference: charon (VM cli) <-> charon (VM srv), the same configs and checks, no sras ----------
# Both VMs' charons up; returns 1 (with WHY) if either did not start.
ref_start() { # BASE AUTH [natt] [dpd]
  local base=$1 auth=$2
  shift 2
  local ike=$IKE_PROPOSAL esp=$ESP_PROPOSAL o dpd=""
  for o in "$@"; do case "$o" in natt) ike=$IKE_PROPOSAL_NATT esp=$ESP_PROPOSAL_NATT ;; dpd) dpd=dpd ;; esac; done
  charon_conf initiator "$CLI_IP" "$SRV_IP" "$auth" cli "$ike" "$esp" "$@" >"$base.cli.ipsec.conf"
  charon_conf responder "$SRV_IP" "$CLI_IP" "$auth" srv "$ike" "$esp" $dpd >"$base.srv.ipsec.conf"
  charon_start srv "$base.srv.ipsec.conf" "$auth" srv >"$base.vm.out" 2>&1 &&
    charon_start cli "$base.cli.ipsec.conf" "$auth" cli >>"$base.vm.out" 2>&1 ||
    { why="charon did not start: $(tail -3 "$base.vm.out" | tr '\n' ' ')"; return 1; }
}

# Brings conn sras up from cli; checks both sides and that their SPIs agree. Sets t_est.
ref_up() { # BASE
  local base=$1 t0 c s
  t0=$(now)
  vm_exec cli "timeout $ESTABLISH_TIMEOUT ipsec up sras" >>"$base.vm.out" 2>&1
  if charon_up cli && charon_up srv; then
    t_est=$(elapsed "$t0" "$(now)")
    c=$(charon_spis cli); s=$(charon_spis srv)
    log "    SPIs: cli in/out ${c:-none}; srv in/out ${s:-none}"
    [ -n "$c" ] && [ "${c% *}" = "${s#* }" ] && [ "${c#* }" = "${s% *}" ] || { ok=0; why="$why; SPIs disagree (cli $c, srv $s)"; }
    return 0
  fi
  ok=0; why="$why; not established: $(grep -E 'failed|error|no ' "$base.vm.out" | tail -2 | tr '\n' ' ')"
  return 1
}

run_ike_ref_case() { # ID AUTH [natt]
  local id=$1 auth=$2 natt=${3:-} base=$OUT/ike-$1 ok=1 why="" t_est=""
  selected "$id" || return 0
  log "=== $id: charon (cli) initiates to charon (srv), $auth${natt:+, forceencaps}"
  rm -f "$base".*
  [ "$auth" = cert ] && { ike_certs || { record "$id" FAIL 0 "certificate generation failed"; return; }; }
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  local sout=""
  if ref_start "$base" "$auth" $natt; then
    if ref_up "$base"; then
      vm_ipsec_state cli "$base.vm-state" "cli after establishment"
      vm_ipsec_state srv "$base.vm-state" "srv after establishment"
      timeout 60 "$TBCTL" exec cli "ip xfrm state" >"$base.xfrm" 2>&1
      if [ "$natt" = natt ]; then grep -q 'encap type espinudp' "$base.xfrm" || { ok=0; why="$why; no UDP encapsulation in cli's ip xfrm state"; }; fi
      vm_send_l2tp cli "$SRV_IP" >>"$base.vm.out" 2>&1 || { ok=0; why="$why; sending ESP traffic failed"; }
      sleep 1
      sout=$(charon_spis srv); sout=${sout#* }
      vm_exec cli "ipsec down sras" >>"$base.vm.out" 2>&1
      charon_wait_log srv 10 "received DELETE for ESP CHILD_SA with SPI $sout" || { ok=0; why="$why; srv did not log the CHILD_SA delete"; }
      charon_wait_log srv 5 "received DELETE for IKE_SA" || { ok=0; why="$why; srv did not log the IKE_SA delete"; }
      charon_wait_gone srv 5 || { ok=0; why="$why; srv kept the SAs after the deletes"; }
    fi
  else
    ok=0
  fi
  capture_stop
  charon_pull_log cli "$base.charon.log"
  charon_pull_log srv "$base.srv.charon.log"
  charon_stop cli >/dev/null; charon_stop srv >/dev/null
  [ -n "$t_est" ] && check_capture "$base" vm cli "$natt"
  ike_summary "" "$base.charon.log"
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# ref-dpd: (1) everything cli sends is dropped on the bridge: srv (responder) logs its DPD timeout;
# (2) charon in srv is SIGSTOPped: cli logs its DPD timeout and drops the SAs.
run_ike_ref_dpd_case() {
  local id=ref-dpd base=$OUT/ike-ref-dpd ok=1 why="" t_est="" t0 t_dpd1="" t_dpd2="" bound=$((DPD_DELAY + DPD_TIMEOUT + DPD_SLACK))
  selected "$id" || return 0
  log "=== $id: charon <-> charon DPD both ways (delay ${DPD_DELAY}s, timeout ${DPD_TIMEOUT}s, bound ${bound}s)"
  rm -f "$base".*
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  if ref_start "$base" psk dpd && ref_up "$base"; then
    log "    (1) dropping everything VM cli sends (nft bridge in netns $NS)"
    nft_freeze "$CLI_IP"; t0=$(now)
    if charon_wait_log srv "$bound" 'DPD check timed out'; then t_dpd1=$(elapsed "$t0" "$(now)"); log "    (1) srv: DPD check timed out after ${t_dpd1}s"
    else ok=0; why="$why; (1) srv did not log 'DPD check timed out' within ${bound}s"; fi
    nft_unfreeze
  else
    ok=0
  fi
  charon_pull_log srv "$base.1.srv.charon.log"
  if ref_start "$base" psk dpd && ref_up "$base"; then
    log "    (2) SIGSTOP charon in srv"
    vm_exec srv 'kill -STOP $(cat /var/run/charon.pid)'; t0=$(now)
    if charon_wait_log cli "$bound" 'DPD check timed out'; then
      t_dpd2=$(elapsed "$t0" "$(now)"); log "    (2) cli: DPD check timed out after ${t_dpd2}s"
      charon_wait_gone cli 10 || { ok=0; why="$why; (2) cli kept the SAs after its DPD timeout"; }
    else ok=0; why="$why; (2) cli did not log 'DPD check timed out' within ${bound}s"; fi
    vm_exec srv 'kill -CONT $(cat /var/run/charon.pid)'
  else
    ok=0
  fi
  capture_stop
  charon_pull_log cli "$base.charon.log"
  charon_pull_log srv "$base.srv.charon.log"
  charon_stop cli >/dev/null; charon_stop srv >/dev/null
  ike_summary "" "$base.charon.log"
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" "(dpd: srv ${t_dpd1}s, cli ${t_dpd2}s)"; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# ref-delete: (1) ipsec down in cli (initiator) -> srv receives the deletes; (2) up again, ipsec down
# in srv (responder) -> cli receives them.
run_ike_ref_delete_case() {
  local id=ref-delete base=$OUT/ike-ref-delete ok=1 why="" t_est="" spi
  selected "$id" || return 0
  log "=== $id: charon <-> charon Delete both ways"
  rm -f "$base".*
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  if ref_start "$base" psk && ref_up "$base"; then
    spi=$(charon_spis srv); spi=${spi#* }
    vm_exec cli "ipsec down sras" >>"$base.vm.out" 2>&1
    charon_wait_log srv 10 "received DELETE for ESP CHILD_SA with SPI $spi" || { ok=0; why="$why; (1) srv did not log the CHILD_SA delete"; }
    charon_wait_log srv 5 "received DELETE for IKE_SA" || { ok=0; why="$why; (1) srv did not log the IKE_SA delete"; }
    charon_wait_gone srv 5 || { ok=0; why="$why; (1) srv kept the SAs"; }
    if ref_up "$base"; then
      spi=$(charon_spis cli); spi=${spi#* }
      vm_exec srv "ipsec down sras" >>"$base.vm.out" 2>&1
      charon_wait_log cli 10 "received DELETE for ESP CHILD_SA with SPI $spi" || { ok=0; why="$why; (2) cli did not log the CHILD_SA delete"; }
      charon_wait_log cli 5 "received DELETE for IKE_SA" || { ok=0; why="$why; (2) cli did not log the IKE_SA delete"; }
      charon_wait_gone cli 5 || { ok=0; why="$why; (2) cli kept the SAs"; }
    fi
  else
    ok=0
  fi
  capture_stop
  charon_pull_log cli "$base.charon.log"
  charon_pull_log srv "$base.srv.charon.log"
  charon_stop cli >/dev/null; charon_stop srv >/dev/null
  ike_summary "" "$base.charon.log"
  local m
  m=$(tshark -r "$base.pcap" -Y _ws.malformed -T fields -e frame.number 2>/dev/null | tr '\n' ' ')
  [ -z "${m// /}" ] || { ok=0; why="$why; tshark: malformed frames $m"; }
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# --- the L2TP/IPsec suites: linux-reference, client-linux, server-linux -----------------------------
# The whole classic stack: charon (IKEv1 PSK, ESP transport mode for UDP/1701, as NetworkManager-l2tp
# configures it) + xl2tpd + pppd (MS-CHAPv2) in the VMs, against each other (linux-reference) or against
# `sras server` / `sras connect` in netns tbhost; a 20 MB TCP transfer through the tunnel each time.
LX_DIR=$REPO/tests/interop/linux     # xfer.pl: the TCP sender and sink (the VMs have perl, no nc/socat/python)
LX_XFER=/usr/local/bin/sras-interop-xfer
LX_XFER_MB=${INTEROP_XFER_MB:-20}
LX_XFER_PORT=47011                   # no protocol tshark would dissect on it
LX_XFER_TIMEOUT=${INTEROP_XFER_TIMEOUT:-240}
LX_SRC=/var/tmp/sras-interop-xfer.in     # in the VMs
LX_SINK_OUT=/var/tmp/sras-interop-xfer.out
LX_SINK_LOG=/var/log/sras-interop-sink.log
LX_SINK_UNIT=sras-sink
LX_TEARDOWN=15                       # seconds the teardown may take after the trigger
LX_PPP_MTU=1400                      # the client pppd's mtu/mru (NetworkManager-l2tp's default)
BEHIND_NS=tbbehind                   # client-linux: a host behind the sras server
BEHIND_GW=10.99.2.1                  # tbhost's end of the veth pair
BEHIND_IP=10.99.2.2
BEHIND_NET=10.99.2.0/24
BEHIND_GW6=fd00:99::1                # IPv6 behind the sras server (client-linux)
BEHIND_IP6=fd00:99::2
BEHIND_NET6=fd00:99::/64
LX_V6_PREFIX=fd00:5a5a:1::/48        # sras's ppp.ipv6_prefix: each link gets a /64 of it by RA
SRV_BEHIND_IP=10.99.3.1              # server-linux: an address behind the Linux server (dummy in VM srv)
SRV_BEHIND_NET=10.99.3.0/24
SRV_DUMMY=srasbehind0
SRAS_TUN_SERVER=sras0
SRAS_TUN_CLIENT=sras-c0

# ipsec.conf for the L2TP/IPsec stack. client: the NetworkManager-l2tp shape (type=transport,
# leftprotoport=17/1701 rightprotoport=17/1701, keyexchange=ikev1, authby=secret; one proposal,
# forceencaps for natt); server: the testbed's (right=%any, any client port, both proposals).
lx_charon_conf() { # ROLE(client|server) ME PEER [natt]
  local role=$1 me=$2 peer=$3 natt=no ike=$IKE_PROPOSAL esp=$ESP_PROPOSAL
  [ "${4:-}" = natt ] && natt=yes ike=$IKE_PROPOSAL_NATT esp=$ESP_PROPOSAL_NATT
  cat <<EOF
# written by sras tests/interop/run.sh: L2TP/IPsec $role (charon IKEv1 PSK, ESP transport for UDP/1701)
config setup
    uniqueids=no
    charondebug="ike 4, chd 4, knl 2, cfg 2, net 2, job 2"

conn sras
    keyexchange=ikev1
    authby=secret
    type=transport
    left=$me
    leftprotoport=17/1701
EOF
  if [ "$role" = client ]; then
    printf '    right=%s\n    rightid=%%any\n    rightprotoport=17/1701\n    ike=%s!\n    esp=%s!\n    keyingtries=1\n' \
      "$peer" "$ike" "$esp"
  else
    printf '    right=%%any\n    rightprotoport=17/%%any\n    ike=%s,%s!\n    esp=%s,%s!\n' \
      "$IKE_PROPOSAL" "$IKE_PROPOSAL_NATT" "$ESP_PROPOSAL" "$ESP_PROPOSAL_NATT"
  fi
  cat <<EOF
    rekey=$CHARON_REKEY
    forceencaps=$natt
    dpddelay=30s
    dpdtimeout=120s
    dpdaction=clear
    auto=add
EOF
}

lx_xl2tpd_conf() { # ROLE(lac|lns) [LNS_IP]
  cat <<EOF
; written by sras tests/interop/run.sh: L2TP under IPsec (transport mode, UDP/1701)
[global]
port = 1701
$([ "$1" = lns ] && echo "listen-addr = $SRV_IP")
auth file = /etc/xl2tpd/sras-interop.secrets
debug tunnel = yes
debug state = yes

EOF
  if [ "$1" = lns ]; then
    cat <<EOF
[lns default]
ip range = $PPP_POOL_FIRST-$PPP_POOL_LAST
local ip = $PPP_LOCAL
require authentication = yes
name = tb-lns
EOF
  else
    cat <<EOF
[lac sras]
lns = $2
autodial = no
redial = no
require authentication = no
EOF
  fi
  cat <<EOF
hostname = tb-$1
length bit = yes
ppp debug = yes
pppoptfile = /etc/ppp/options.sras-interop
EOF
}

# The client's pppd: MS-CHAPv2 only, as NetworkManager-l2tp runs it (mtu/mru 1400).
lx_pppd_client() {
  pppd_options_client mschapv2
  printf 'mtu %s\nmru %s\n' "$LX_PPP_MTU" "$LX_PPP_MTU"
  # IPv6 too (IPv6CP; the kernel takes its address from the server's router advertisement).
  # A server without IPv6 rejects IPv6CP and the link stays IPv4 only.
  printf '+ipv6\n'
}

# The Linux server stack in VM srv: charon responder, xl2tpd LNS, pppd requiring MS-CHAPv2.
lx_server_start() { # BASE
  local base=$1
  lx_charon_conf server "$SRV_IP" any >"$base.srv.ipsec.conf"
  lx_xl2tpd_conf lns >"$base.srv.xl2tpd.conf"
  pppd_options_server mschapv2 >"$base.srv.pppd.options"
  charon_start srv "$base.srv.ipsec.conf" psk srv >>"$base.vm.out" 2>&1 || { echo "charon did not start in srv"; return 1; }
  xl2tpd_start srv "$base.srv.xl2tpd.conf" "$base.srv.pppd.options" ipsec >>"$base.vm.out" 2>&1 ||
    { echo "xl2tpd did not start in srv"; return 1; }
}

# The Linux client stack in VM cli, configured for SERVER, started but not connected.
lx_client_start() { # BASE SERVER_IP [natt]
  local base=$1 server=$2 natt=${3:-}
  lx_charon_conf client "$CLI_IP" "$server" $natt >"$base.cli.ipsec.conf"
  lx_xl2tpd_conf lac "$server" >"$base.cli.xl2tpd.conf"
  lx_pppd_client >"$base.cli.pppd.options"
  charon_start cli "$base.cli.ipsec.conf" psk cli >>"$base.vm.out" 2>&1 || { echo "charon did not start in cli"; return 1; }
  xl2tpd_start cli "$base.cli.xl2tpd.conf" "$base.cli.pppd.options" ipsec >>"$base.vm.out" 2>&1 ||
    { echo "xl2tpd did not start in cli"; return 1; }
  timeout 60 "$TBCTL" push cli "$LX_DIR/xfer.pl" "$LX_XFER" 0755 >/dev/null &&
    vm_exec cli "rm -f $LX_SRC; dd if=/dev/urandom of=$LX_SRC bs=1M count=$LX_XFER_MB status=none" ||
    { echo "could not prepare the transfer file in cli"; return 1; }
}

# Connects the client stack in VM cli as NetworkManager-l2tp does: `ipsec up`, then the L2TP call;
# waits for a ppp interface with an address. Sets LX_PPP to "<ifname> <local> <peer>" (empty if none)
# and LX_T_EST (seconds from `ipsec up`).
LX_T_EST=
LX_PPP=
lx_client_connect() { # BASE
  local base=$1 t1 out
  LX_T_EST= LX_PPP=
  t1=$(now)
  if ! vm_exec cli "timeout $ESTABLISH_TIMEOUT ipsec up sras" >>"$base.vm.out" 2>&1; then
    log "    ipsec up failed: $(grep -E 'failed|error|timeout|retransmit|no ' "$base.vm.out" | tail -2 | tr '\n' ' ')"
    return 1
  fi
  xl2tpd_dial cli sras
  out=$(vm_exec cli "
    for i in \$(seq $((ESTABLISH_TIMEOUT * 4))); do
      ip -4 -o addr | grep -qE '^[0-9]+: ppp[0-9]+ .* inet ' && break; sleep 0.25
    done
    ip -4 -o addr | grep -E '^[0-9]+: ppp[0-9]+ ' | head -1")
  LX_T_EST=$(elapsed "$t1" "$(now)")
  LX_PPP=$(sed -n 's/^[0-9]*: \(ppp[0-9]*\) *inet \([0-9.]*\) peer \([0-9.]*\).*/\1 \2 \3/p' <<<"$out")
}

# Disconnects as NetworkManager-l2tp does: the L2TP tunnel first (xl2tpd sends CDN and StopCCN and waits
# for the acknowledgement), then `ipsec down` (charon's Deletes). Sets LX_T_DOWN (the trigger time).
LX_T_DOWN=
lx_client_disconnect() { # BASE
  LX_T_DOWN=$(now)
  vm_exec cli "echo 'd sras' > /var/run/xl2tpd/l2tp-control
    for i in \$(seq 40); do grep -qE 'Connection [0-9]* *closed to' $XL2TPD_LOG && break; sleep 0.25; done
    sleep 1" >/dev/null 2>&1
  vm_exec cli "ipsec down sras" >>"$1.vm.out" 2>&1
}

# ping -c 3 from VM to DST (the summary lines). Once a TCG VM's agent call hung for its whole 90 s
# around such a ping: bounded, numeric, and tried again once if nothing came back.
vm_ping() { # VM DST
  local out
  out=$(timeout 30 "$TBCTL" exec "$1" -t 25 "timeout 20 ping -n -c 3 -i 0.5 -W 3 $2 2>&1 | tail -2")
  [ -n "$out" ] || out=$(timeout 30 "$TBCTL" exec "$1" -t 25 "timeout 20 ping -n -c 3 -i 0.5 -W 3 $2 2>&1 | tail -2")
  printf '%s\n' "$out"
}

# Waits up to SECS for `ip xfrm state` in VM to be empty.
vm_xfrm_empty() { # VM SECS
  vm_exec "$1" "for i in \$(seq $(($2 * 4))); do [ -z \"\$(ip xfrm state)\" ] && exit 0; sleep 0.25; done; ip xfrm state | grep -E '^src'; exit 1"
}

# The TCP sink in a VM (a transient unit: nothing started from the agent may outlive its call).
vm_sink_start() { # VM
  timeout 60 "$TBCTL" push "$1" "$LX_DIR/xfer.pl" "$LX_XFER" 0755 >/dev/null &&
    vm_exec "$1" "systemctl stop $LX_SINK_UNIT 2>/dev/null; systemctl reset-failed $LX_SINK_UNIT 2>/dev/null
      rm -f $LX_SINK_OUT $LX_SINK_LOG
      systemd-run --quiet --unit=$LX_SINK_UNIT --collect -p StandardOutput=truncate:$LX_SINK_LOG -p StandardError=inherit \
        $LX_XFER sink 0.0.0.0 $LX_XFER_PORT $LX_SINK_OUT $((LX_XFER_TIMEOUT + 60))
      for i in \$(seq 50); do grep -q LISTENING $LX_SINK_LOG 2>/dev/null && exit 0; sleep 0.1; done
      cat $LX_SINK_LOG; exit 1"
}
# Waits for the VM's sink to finish; prints its line and the SHA-256 of what it received.
vm_sink_result() { # VM
  vm_exec "$1" "for i in \$(seq 100); do grep -qE 'SINK|sink:' $LX_SINK_LOG && break; sleep 0.1; done
    grep -E 'SINK|sink:' $LX_SINK_LOG; sha256sum $LX_SINK_OUT 2>/dev/null | cut -d' ' -f1; rm -f $LX_SINK_OUT"
}
vm_sink_stop() { # VM
  vm_exec "$1" "systemctl stop $LX_SINK_UNIT 2>/dev/null; systemctl reset-failed $LX_SINK_UNIT 2>/dev/null; rm -f $LX_SINK_OUT; true"
}

# Sends the prepared file from VM cli to DST; prints xfer.pl's line and the file's SHA-256.
vm_send() { # DST
  timeout $((LX_XFER_TIMEOUT + 30)) "$TBCTL" exec cli -t $((LX_XFER_TIMEOUT + 10)) \
    "sha256sum $LX_SRC | cut -d' ' -f1; $LX_XFER send $1 $LX_XFER_PORT $LX_SRC $LX_XFER_TIMEOUT 2>&1"
}

# Compares the two SHA-256 lines of a transfer; appends to WHY, clears OK on a mismatch.
xfer_check() { # WHAT SENT_SHA RECEIVED_SHA SECONDS
  local mbs
  if [ -z "$2" ] || [ "$2" != "$3" ]; then
    ok=0; why="$why; $1: sha256 differs (sent ${2:-none}, received ${3:-none})"
    log "    $1: FAILED (sent ${2:-none}, received ${3:-none})"
  else
    mbs=$(awk -v s="$4" -v m="$LX_XFER_MB" 'BEGIN{ if (s > 0) printf "%.2f", m / s; else print "?" }')
    log "    $1: $LX_XFER_MB MB in ${4}s ($mbs MB/s), sha256 ${2:0:16}... equal"
  fi
}

# netns tbbehind behind netns tbhost (veth, 10.99.2.0/24), forwarding on in tbhost.
LX_FWD_SAVED=
behind_up() {
  behind_down
  LX_FWD_SAVED=$(ip netns exec "$NS" sysctl -n net.ipv4.ip_forward)
  ip netns add "$BEHIND_NS" &&
    ip -n "$NS" link add tbbh0 type veth peer name tbbh1 netns "$BEHIND_NS" &&
    ip -n "$NS" addr add "$BEHIND_GW/24" dev tbbh0 && ip -n "$NS" link set tbbh0 up &&
    ip -n "$BEHIND_NS" link set lo up &&
    ip -n "$BEHIND_NS" addr add "$BEHIND_IP/24" dev tbbh1 && ip -n "$BEHIND_NS" link set tbbh1 up &&
    ip -n "$BEHIND_NS" route add default via "$BEHIND_GW" &&
    ip -n "$NS" addr add "$BEHIND_GW6/64" dev tbbh0 nodad &&
    ip -n "$BEHIND_NS" addr add "$BEHIND_IP6/64" dev tbbh1 nodad &&
    ip -n "$BEHIND_NS" -6 route add default via "$BEHIND_GW6" &&
    ip netns exec "$NS" sysctl -qw net.ipv4.ip_forward=1 &&
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.forwarding=1
}
behind_down() {
  ip -n "$NS" link del tbbh0 2>/dev/null
  ip netns del "$BEHIND_NS" 2>/dev/null
  [ -n "$LX_FWD_SAVED" ] && ip netns exec "$NS" sysctl -qw net.ipv4.ip_forward="$LX_FWD_SAVED"
  [ -n "$LX_FWD_SAVED" ] && ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.forwarding=0
  true
}

# Checks an L2TP/IPsec capture: no UDP/1701 in the clear (but see below); ESP (raw, or in UDP/4500 for
# natt, and only so); with the keys in UATS_FILE, no malformed frame (byte-identical ISAKMP
# retransmissions excepted, as in ike_pcap_check), no bad ICV, and L2TP and PPP (and IP) decrypted from
# the ESP. The TCP transfer's port is decoded as data: its random bytes are not a protocol (left to
# its heuristics, tshark takes them for Thrift, and spends minutes on it).
# Cleartext UDP/1701 fails the check, except what the VMs at LATE_IPS send after T_DOWN (the epoch of
# the disconnect trigger): pppd retransmits its LCP Terminate-Request after xl2tpd has closed the
# tunnel, and once the SAs are deleted (by either side) the kernel sends it in the clear. That is the
# Linux client stack's doing, and it is counted and reported, not failed.
LX_LATE_CLEAR=0
lx_pcap_check() { # PCAP UATS_FILE NATT(natt|-) LATE_IPS T_DOWN   (LATE_IPS: one address or several, comma-separated)
  local pcap=$1 natt=${3:-} late_ip=${4:-none} t_down=${5:-0} u
  local opts=(-o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE -d "tcp.port==$LX_XFER_PORT,data")
  while IFS= read -r u; do [ -n "$u" ] && opts+=(-o "$u"); done <"$2"
  local clear late n_raw n_udp retrans malformed counts
  read -r clear late < <(tcpdump -tt -nr "$pcap" 'udp port 1701' 2>/dev/null |
    awk -v ips="$late_ip" -v t="$t_down" '
      BEGIN { n = split(ips, ip, ",") }
      { for (i = 1; i <= n; i++) if (index($3, ip[i] ".") == 1 && $1 + 0 >= t + 0) { late++; next }; bad++ }
      END { print bad + 0, late + 0 }')
  LX_LATE_CLEAR=$late
  n_raw=$(tcpdump -nr "$pcap" 'ip proto 50' 2>/dev/null | wc -l)
  n_udp=$(tcpdump -nr "$pcap" 'udp port 4500 and udp[8:4] != 0' 2>/dev/null | wc -l)   # non-ESP marker: ESP
  retrans=$(tshark -r "$pcap" -Y isakmp -T fields -e frame.number -e udp.payload 2>/dev/null |
    awk -F'\t' '$2 != "" { if (seen[$2]++) printf "%s ", $1 }')
  malformed=$(tshark -r "$pcap" "${opts[@]}" -Y _ws.malformed -T fields -e frame.number 2>/dev/null |
    while read -r f; do case " $retrans" in *" $f "*) ;; *) printf '%s ' "$f" ;; esac; done)
  # One decoding pass: per frame its protocol stack and ICV verdicts.
  counts=$(tshark -r "$pcap" "${opts[@]}" -T fields -E separator=/t -e frame.protocols -e esp.icv_good -e esp.icv_bad 2>/dev/null |
    awk -F'\t' '
      $1 ~ /:esp/ { esp++ }
      $1 ~ /:esp:udp:l2tp/ { l2tp++ }
      $1 ~ /:esp:udp:l2tp:ppp/ { ppp++ }
      $1 ~ /:esp:udp:l2tp:ppp:(lcp|chap|ipcp)/ { ctl++ }
      $1 ~ /:esp:udp:l2tp:ppp:ip:/ { ip++ }
      $1 ~ /:esp/ && $1 !~ /:esp:udp/ { undec++ }
      $2 ~ /^(1|True)/ { good++ }
      $3 ~ /^(1|True)/ { bad++ }
      $1 ~ /:isakmp/ { isakmp++ }
      END { printf "%d %d %d %d %d %d %d %d %d\n", esp, l2tp, ppp, ctl, ip, undec, good, bad, isakmp }')
  local esp l2tp ppp ctl ip undec good bad isakmp
  read -r esp l2tp ppp ctl ip undec good bad isakmp <<<"$counts"
  local summary="esp $esp (raw $n_raw, in udp/4500 $n_udp; decrypted: l2tp $l2tp, ppp $ppp of which lcp/chap/ipcp $ctl and ip $ip; not decrypted $undec; icv good $good, bad $bad), isakmp $isakmp, cleartext udp/1701 $clear (+ $late from $late_ip after the disconnect)"
  if [ "$clear" -gt 0 ]; then echo "tshark: L2TP in the clear; $summary"; return 1; fi
  if [ -n "${malformed// /}" ]; then echo "tshark: malformed frames $malformed; $summary"; return 1; fi
  if [ "$natt" = natt ] && { [ "$n_udp" -lt 1 ] || [ "$n_raw" -gt 0 ]; }; then echo "tshark: NAT-T wanted, ESP not (only) in UDP/4500; $summary"; return 1; fi
  if [ "$natt" != natt ] && { [ "$n_raw" -lt 1 ] || [ "$n_udp" -gt 0 ]; }; then echo "tshark: raw ESP wanted; $summary"; return 1; fi
  if [ "${l2tp:-0}" -lt 1 ] || [ "${ppp:-0}" -lt 1 ] || [ "${ip:-0}" -lt 1 ] || [ "${undec:-1}" -gt 0 ] || [ "${bad:-1}" -gt 0 ]; then
    echo "tshark: ESP not (all) decrypted to L2TP/PPP; $summary"; return 1
  fi
  echo "tshark: none malformed; $summary"
}

# Writes BASE.uats (MODE keylog: from sras's keylog BASE.keys; vm: Ka from CHARON_LOG, the ESP keys from
# BASE.xfrm, a VM's `ip xfrm state`) and checks the capture; when the keylog does not decode, tries the
# VM's keys to tell a keylog problem from a traffic problem.
lx_check_capture() { # BASE MODE(keylog|vm) CHARON_LOG NATT(natt|-) LATE_IP T_DOWN
  local base=$1 mode=$2 clog=$3 natt=$4 late_ip=$5 t_down=$6 pc pc2
  if [ "$mode" = keylog ]; then
    keylog_to_uats "$base.keys" >"$base.uats" 2>/dev/null
    [ -s "$base.uats" ] || log "    (no usable lines in $base.keys)"
  else
    vm_uats "$clog" "$base.pcap" "$base.xfrm" >"$base.uats"
  fi
  if lx_pcap_check "$base.pcap" "$base.uats" "$natt" "$late_ip" "$t_down" >"$base.check"; then
    pc=$(cat "$base.check")
    log "    $pc"
  else
    pc=$(cat "$base.check")
    ok=0; why="$why; $pc"
    log "    $pc"
    if [ "$mode" = keylog ] && [ -s "$base.xfrm" ]; then
      vm_uats "$clog" "$base.pcap" "$base.xfrm" >"$base.vm-uats"
      pc2=$(lx_pcap_check "$base.pcap" "$base.vm-uats" "$natt" "$late_ip" "$t_down")
      log "    with the VM's keys instead ($base.vm-uats): $pc2"
      why="$why (with the VM's keys: ${pc2#tshark: })"
    fi
  fi
  [ "$LX_LATE_CLEAR" -gt 0 ] && log "    note: $LX_LATE_CLEAR cleartext UDP/1701 packet(s) from $late_ip after the disconnect (the SAs already gone): $(tcpdump -nr "$base.pcap" "udp port 1701 and not src host $HOST_IP" 2>/dev/null | sed 's/^[^ ]* IP //' | head -3 | tr '\n' ';')"
  true
}

lx_pull_logs() { # BASE VM(cli|srv) PREFIX
  charon_pull_log "$2" "$1.$3charon.log"
  xl2tpd_pull_log "$2" "$1.$3xl2tpd.log"
  pppd_pull_log "$2" "$1.$3ppp.log"
}

lx_stop_vm() { # VM
  vm_exec "$1" "systemctl stop $LX_SINK_UNIT 2>/dev/null; systemctl reset-failed $LX_SINK_UNIT 2>/dev/null
    rm -f $LX_SINK_OUT $LX_SRC; ip link del $SRV_DUMMY 2>/dev/null; true" >/dev/null 2>&1
  xl2tpd_stop "$1" >/dev/null 2>&1
  charon_stop "$1" >/dev/null 2>&1
}

lx_summary() { # BASE
  local f
  [ -f "$1.sras.log" ] && grep -E 'IKE (phase|delete)|established|peer gone|PPP|closed|ERROR|WARN|panicked' "$1.sras.log" |
    grep -v DEBUG | head -20 | sed 's/^[^ ]* *//; s/^/    sras: /' >&2
  for f in "$1".*charon.log; do
    [ -f "$f" ] || continue
    grep -E '(IKE_SA|CHILD_SA) .*established|received DELETE|failed|no shared key|no matching|behind NAT' "$f" |
      grep -vE '^\S+ +\S+ \S+ \S+ <[^>]*>    ' | head -6 | sed 's/^[A-Z][a-z][a-z] *[0-9]* [0-9:]* //; s/^/    '"$(basename "$f" .log | sed 's/.*-psk-[a-z]*\.//')"': /' >&2
  done
  for f in "$1".*xl2tpd.log; do
    [ -f "$f" ] || continue
    grep -E 'Connection established|Call established|closed to|Unable to handle|Result code' "$f" | head -6 |
      sed 's/^/    '"$(basename "$f" .log | sed 's/.*-psk-[a-z]*\.//')"': /' >&2
  done
  for f in "$1".*ppp.log; do
    [ -f "$f" ] || continue
    grep -E 'CHAP (Success|Failure)|MS-CHAP|local  IP|remote IP|Terminat|Connection terminated' "$f" | head -6 |
      sed 's/^/    '"$(basename "$f" .log | sed 's/.*-psk-[a-z]*\.//')"': /' >&2
  done
}

# linux-reference: the Linux client stack (VM cli) -> the Linux server stack (VM srv).
run_lx_reference_case() { # VARIANT(psk-esp|psk-natt)
  local v=$1 id=$1 natt="" base=$OUT/linux-reference-$1 ok=1 why="" t_est="" ppp="" r
  LX_T_DOWN=
  selected "$id" || return 0
  [ "$v" = psk-natt ] && natt=natt
  log "=== $id: charon + xl2tpd LAC + pppd (cli) -> charon + xl2tpd LNS + pppd (srv), MS-CHAPv2${natt:+, forceencaps=yes}"
  rm -f "$base".*
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  if r=$(lx_server_start "$base") && r=$(lx_client_start "$base" "$SRV_IP" $natt); then
    lx_client_connect "$base"; ppp=$LX_PPP
    t_est=$LX_T_EST
    log "    cli: ${ppp:-no ppp interface} (${t_est}s after ipsec up)"
    if [ -z "$ppp" ]; then
      ok=0; why="no ppp interface with an address in cli within ${ESTABLISH_TIMEOUT}s: $(tail -2 "$base.vm.out" | tr '\n' ' ')"; t_est=""
    else
      local ifc addr peer
      read -r ifc addr peer <<<"$ppp"
      in_pool "$addr" || { ok=0; why="$why; cli got $addr, not from the pool"; }
      [ "$peer" = "$PPP_LOCAL" ] || { ok=0; why="$why; cli's peer is $peer, not $PPP_LOCAL"; }
      timeout 60 "$TBCTL" exec cli "ip xfrm state" >"$base.xfrm" 2>&1
      vm_ipsec_state cli "$base.vm-state" "cli after establishment"
      vm_ipsec_state srv "$base.vm-state" "srv after establishment"
      [ "$natt" = natt ] && { grep -q 'encap type espinudp' "$base.xfrm" || { ok=0; why="$why; no UDP encapsulation in cli's ip xfrm state"; }; }
      local p
      p=$(vm_ping cli "$PPP_LOCAL")
      log "    cli ping $PPP_LOCAL: $(head -1 <<<"$p")"
      grep -qE ' [1-9][0-9]* received' <<<"$p" || { ok=0; why="$why; no ping reply from $PPP_LOCAL"; }
      if vm_sink_start srv >>"$base.vm.out" 2>&1; then
        local t0 out sent got secs
        t0=$(now)
        out=$(vm_send "$PPP_LOCAL")
        secs=$(elapsed "$t0" "$(now)")
        sent=$(head -1 <<<"$out")
        got=$(vm_sink_result srv)
        log "    cli: $(tail -1 <<<"$out"); srv: $(head -1 <<<"$got")"
        xfer_check "cli -> $PPP_LOCAL (srv)" "$sent" "$(tail -1 <<<"$got")" "$secs"
      else
        ok=0; why="$why; the sink did not start in srv"
      fi
    fi
    lx_client_disconnect "$base"
    vm_xfrm_empty cli "$LX_TEARDOWN" >>"$base.vm.out" || { ok=0; why="$why; cli still has xfrm states ${LX_TEARDOWN}s after the disconnect"; }
    vm_xfrm_empty srv "$LX_TEARDOWN" >>"$base.vm.out" || { ok=0; why="$why; srv still has xfrm states ${LX_TEARDOWN}s after the disconnect"; }
    log "    disconnect to no xfrm state in cli and srv: $(elapsed "$LX_T_DOWN" "$(now)")s"
  else
    ok=0; why=$r
  fi
  capture_stop
  lx_pull_logs "$base" cli cli.
  lx_pull_logs "$base" srv srv.
  lx_stop_vm cli; lx_stop_vm srv
  [ -n "$t_est" ] && lx_check_capture "$base" vm "$base.cli.charon.log" "${natt:--}" "$CLI_IP,$SRV_IP" "${LX_T_DOWN:-0}"
  lx_summary "$base"
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

sras_lx_server_conf() { # KEYLOG
  cat <<EOF
# written by tests/interop/run.sh: sras server, L2TP/IPsec (IKEv1 PSK), MS-CHAPv2, TUN $SRAS_TUN_SERVER
[l2tp]
listen = "$HOST_IP:1701"

[ike]
listen = "$HOST_IP"
keylog = "$1"

[[ike.psk]]
peer = "*"
secret = "$IKE_PSK"

[ppp]
local_ip = "$PPP_LOCAL"
pool = "$PPP_POOL_FIRST-$PPP_POOL_LAST"
auth = ["mschapv2"]
ipv6_prefix = "$LX_V6_PREFIX"

[tun]
name = "$SRAS_TUN_SERVER"

[[users]]
name = "$PPP_USER"
password = "$PPP_PASSWORD"
EOF
}

sras_lx_client_conf() { # KEYLOG [natt]
  cat <<EOF
# written by tests/interop/run.sh: sras connect, L2TP/IPsec (IKEv1 PSK) to $SRV_IP, MS-CHAPv2, TUN $SRAS_TUN_CLIENT
[client]
server = "$SRV_IP"
user = "$PPP_USER"
password = "$PPP_PASSWORD"
auth = ["mschapv2"]
ping_count = 3

[l2tp]
host_name = "sras-client"

[ike]
listen = "$HOST_IP"
keylog = "$1"
$([ "${2:-}" = natt ] && echo "force_encapsulation = true")

[[ike.psk]]
peer = "$SRV_IP"
secret = "$IKE_PSK"

[tun]
name = "$SRAS_TUN_CLIENT"
routes = ["$SRV_BEHIND_NET"]
EOF
}

# client-linux: the Linux client stack (VM cli) -> sras server in netns tbhost; traffic to netns tbbehind.
run_lx_client_case() { # VARIANT(psk-esp|psk-natt)
  local v=$1 id=$1 natt="" base=$OUT/client-linux-$1 ok=1 why="" t_est="" ppp="" r pid i
  LX_T_DOWN=
  selected "$id" || return 0
  [ "$v" = psk-natt ] && natt=natt
  log "=== $id: charon + xl2tpd LAC + pppd (cli) -> sras server $HOST_IP, MS-CHAPv2${natt:+, forceencaps=yes}; behind sras: $BEHIND_IP (netns $BEHIND_NS)"
  rm -f "$base".*
  sras_lx_server_conf "$base.keys" >"$base.sras.toml"
  : >"$base.sras.log"
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  if ! behind_up; then
    ok=0; why="could not set up netns $BEHIND_NS"
  elif ! r=$(lx_client_start "$base" "$HOST_IP" $natt); then
    ok=0; why=$r
  else
    ip netns exec "$NS" "$SRAS" -v server -c "$base.sras.toml" >"$base.stdout" 2>"$base.sras.log" &
    pid=$!
    PIDS+=("$pid")
    for i in $(seq 100); do
      ip netns exec "$NS" ss -Huanp 2>/dev/null | grep -E "$HOST_IP:500 " | grep -q "pid=$pid," &&
        ip netns exec "$NS" ss -Huanp 2>/dev/null | grep -E "$HOST_IP:1701 " | grep -q "pid=$pid," && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! kill -0 "$pid" 2>/dev/null || ! ip netns exec "$NS" ss -Huanp 2>/dev/null | grep -E "$HOST_IP:500 " | grep -q "pid=$pid,"; then
      ok=0; why="sras server did not bind $HOST_IP:500: $(tail -3 "$base.sras.log" | tr '\n' ' ')"
    else
      lx_client_connect "$base"; ppp=$LX_PPP
      t_est=$LX_T_EST
      log "    cli: ${ppp:-no ppp interface} (${t_est}s after ipsec up)"
      if [ -z "$ppp" ]; then
        ok=0; why="no ppp interface with an address in cli within ${ESTABLISH_TIMEOUT}s: $(tail -2 "$base.vm.out" | tr '\n' ' ')"; t_est=""
      else
        local ifc addr peer
        read -r ifc addr peer <<<"$ppp"
        in_pool "$addr" || { ok=0; why="$why; cli got $addr, not from sras's pool"; }
        [ "$peer" = "$PPP_LOCAL" ] || { ok=0; why="$why; cli's peer is $peer, not $PPP_LOCAL"; }
        timeout 60 "$TBCTL" exec cli "ip xfrm state" >"$base.xfrm" 2>&1
        vm_ipsec_state cli "$base.vm-state" "cli after establishment"
        [ "$natt" = natt ] && { grep -q 'encap type espinudp' "$base.xfrm" || { ok=0; why="$why; no UDP encapsulation in cli's ip xfrm state"; }; }
        # sras's TUN: its PPP address, and the route to the client's address into it.
        local tun
        tun="$(ip -n "$NS" -4 -o addr show "$SRAS_TUN_SERVER" 2>/dev/null | awk '{print $2, $4}'); routes: $(ip -n "$NS" route show dev "$SRAS_TUN_SERVER" 2>/dev/null | tr '\n' ';')"
        log "    tun: $tun"
        grep -qE " ${PPP_LOCAL//./\\.}(/|;| |$)" <<<"$tun" || { ok=0; why="$why; $SRAS_TUN_SERVER does not have $PPP_LOCAL"; }
        ip -n "$NS" route get "$addr" 2>/dev/null | grep -q " dev $SRAS_TUN_SERVER " ||
          { ok=0; why="$why; no route to $addr into $SRAS_TUN_SERVER: $(ip -n "$NS" route get "$addr" 2>&1 | head -1)"; }
        vm_exec cli "ip route replace $BEHIND_NET dev $ifc" >>"$base.vm.out" 2>&1
        local p
        p=$(vm_ping cli "$BEHIND_IP")
        log "    cli ping $BEHIND_IP: $(head -1 <<<"$p")"
        grep -qE ' [1-9][0-9]* received' <<<"$p" || { ok=0; why="$why; no ping reply from $BEHIND_IP"; }
        # IPv6: pppd's IPv6CP with sras, the kernel's address on ppp0 by SLAAC from sras's router
        # advertisement (a /64 of ppp.ipv6_prefix), and a ping to the host behind sras.
        local a6
        a6=$(vm_exec cli "for i in \$(seq 60); do a=\$(ip -6 -o addr show dev $ifc scope global | awk '{print \$4}' | head -1); [ -n \"\$a\" ] && { echo \$a; exit 0; }; sleep 0.25; done; sysctl net.ipv6.conf.$ifc.accept_ra net.ipv6.conf.all.forwarding; ip -6 addr show dev $ifc; exit 1" 2>&1)
        log "    cli IPv6 on $ifc: $(tr '\n' ' ' <<<"$a6")"
        case "$a6" in
          fd00:5a5a:1:*/64)
            vm_exec cli "ip -6 route replace $BEHIND_NET6 dev $ifc" >>"$base.vm.out" 2>&1
            p=$(vm_ping cli "$BEHIND_IP6")
            log "    cli ping $BEHIND_IP6: $(head -1 <<<"$p")"
            grep -qE ' [1-9][0-9]* received' <<<"$p" || { ok=0; why="$why; no IPv6 ping reply from $BEHIND_IP6"; } ;;
          *) ok=0; why="$why; cli got no IPv6 address from sras's router advertisement on $ifc" ;;
        esac
        # The sink in netns tbbehind, the sender in cli.
        local spid t0 out sent got secs
        ip netns exec "$BEHIND_NS" perl "$LX_DIR/xfer.pl" sink "$BEHIND_IP" "$LX_XFER_PORT" "$base.xfer.out" $((LX_XFER_TIMEOUT + 60)) >"$base.sink.log" 2>&1 &
        spid=$!
        PIDS+=("$spid")
        wait_file "$base.sink.log" 5 LISTENING || { ok=0; why="$why; the sink did not start: $(cat "$base.sink.log")"; }
        t0=$(now)
        out=$(vm_send "$BEHIND_IP")
        secs=$(elapsed "$t0" "$(now)")
        sent=$(head -1 <<<"$out")
        wait_exit "$spid" 10
        [ "$EXIT_STATUS" = timeout ] && kill "$spid" 2>/dev/null
        forget_pid "$spid"
        got=$(sha256sum "$base.xfer.out" 2>/dev/null | cut -d' ' -f1)
        log "    cli: $(tail -1 <<<"$out"); $BEHIND_NS: $(grep -E 'SINK|sink:' "$base.sink.log" | head -1)"
        xfer_check "cli -> $BEHIND_IP ($BEHIND_NS)" "$sent" "$got" "$secs"
        rm -f "$base.xfer.out"
      fi
      # The client disconnects: sras must be left with nothing of this peer.
      local n0
      n0=$(grep -c 'peer gone' "$base.sras.log")
      lx_client_disconnect "$base"
      local gone="" f
      for i in $(seq $((LX_TEARDOWN * 10))); do
        [ "$(grep -c 'peer gone' "$base.sras.log")" -gt "$n0" ] && { gone=$(grep 'peer gone' "$base.sras.log" | tail -1); break; }
        sleep 0.1
      done
      if [ -z "$gone" ]; then
        ok=0; why="$why; sras logged no 'peer gone' within ${LX_TEARDOWN}s of the disconnect"
      else
        log "    teardown after $(elapsed "$LX_T_DOWN" "$(now)")s: ${gone#*INFO }"
        grep -qE "peer=$CLI_IP:" <<<"$gone" || { ok=0; why="$why; 'peer gone' names another peer"; }
        for f in isakmp_sas esp_sas tunnels sessions pool_in_use prefixes_in_use; do
          grep -qE "(^|[[:space:]])$f=0([[:space:]]|$)" <<<"$gone" || { ok=0; why="$why; 'peer gone' without $f=0"; }
        done
      fi
      vm_xfrm_empty cli "$LX_TEARDOWN" >>"$base.vm.out" || { ok=0; why="$why; cli still has xfrm states after the disconnect"; }
    fi
    kill -TERM "$pid" 2>/dev/null
    wait_exit "$pid" 15
    [ "$EXIT_STATUS" = timeout ] && kill -KILL "$pid" 2>/dev/null
    forget_pid "$pid"
    [ "$EXIT_STATUS" = 0 ] || { ok=0; why="$why; sras server exit status $EXIT_STATUS after SIGTERM"; }
  fi
  capture_stop
  lx_pull_logs "$base" cli ""
  lx_stop_vm cli
  behind_down
  [ -n "$t_est" ] && lx_check_capture "$base" keylog "$base.charon.log" "${natt:--}" "$CLI_IP" "${LX_T_DOWN:-0}"
  lx_summary "$base"
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# server-linux: sras connect in netns tbhost -> the Linux server stack (VM srv); traffic to 10.99.3.1 in srv.
run_lx_server_case() { # VARIANT(psk-esp|psk-natt)
  local v=$1 id=$1 natt="" base=$OUT/server-linux-$1 ok=1 why="" t_est="" r pid i t1 t_down=""
  selected "$id" || return 0
  [ "$v" = psk-natt ] && natt=natt
  log "=== $id: sras connect -> charon + xl2tpd LNS + pppd (srv) $SRV_IP, MS-CHAPv2${natt:+, force_encapsulation}; behind srv: $SRV_BEHIND_IP"
  rm -f "$base".*
  sras_lx_client_conf "$base.keys" $natt >"$base.sras.toml"
  : >"$base.sras.log"; : >"$base.stdout"
  head -c $((LX_XFER_MB * 1048576)) /dev/urandom >"$base.xfer.in"
  capture_start "$base.pcap" "$IKE_FILTER" || { record "$id" FAIL 0 "no capture"; return; }
  if ! r=$(lx_server_start "$base"); then
    ok=0; why=$r
  elif ! vm_exec srv "ip link del $SRV_DUMMY 2>/dev/null; modprobe dummy; ip link add $SRV_DUMMY type dummy &&
      ip addr add $SRV_BEHIND_IP/32 dev $SRV_DUMMY && ip link set $SRV_DUMMY up" >>"$base.vm.out" 2>&1; then
    ok=0; why="could not add $SRV_BEHIND_IP in srv"
  else
    t1=$(now)
    ip netns exec "$NS" "$SRAS" -v connect -c "$base.sras.toml" --timeout "$ESTABLISH_TIMEOUT" >"$base.stdout" 2>"$base.sras.log" &
    pid=$!
    PIDS+=("$pid")
    for i in $(seq $(((ESTABLISH_TIMEOUT + 5) * 10))); do
      grep -q '^PPP UP ' "$base.stdout" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    local up
    up=$(grep -E '^PPP UP ' "$base.stdout")
    if [ -z "$up" ]; then
      ok=0; why="no 'PPP UP' within ${ESTABLISH_TIMEOUT}s (stdout: $(head -c 200 "$base.stdout" | tr '\n' ' '); $(grep -E 'ERROR' "$base.sras.log" | tail -1 | sed 's/^[^ ]* *//'))"
    else
      t_est=$(elapsed "$t1" "$(now)")
      grep -qE '^ESTABLISHED tunnel=' "$base.stdout" || { ok=0; why="$why; no ESTABLISHED line before PPP UP"; }
      local local_addr peer_addr
      local_addr=$(sed -n 's/.* local=\([0-9.]*\).*/\1/p' <<<"$up")
      peer_addr=$(sed -n 's/.* peer=\([0-9.]*\).*/\1/p' <<<"$up")
      log "    stdout: $up (${t_est}s after start)"
      in_pool "$local_addr" || { ok=0; why="$why; sras got $local_addr, not from xl2tpd's range"; }
      [ "$peer_addr" = "$PPP_LOCAL" ] || { ok=0; why="$why; peer $peer_addr, not pppd's $PPP_LOCAL"; }
      sleep 0.5
      local tun
      tun="$(ip -n "$NS" -4 -o addr show "$SRAS_TUN_CLIENT" 2>/dev/null | awk '{print $2, $4}'); routes: $(ip -n "$NS" route show dev "$SRAS_TUN_CLIENT" 2>/dev/null | tr '\n' ';')"
      log "    tun: $tun"
      grep -qE " ${local_addr//./\\.}(/|;| |$)" <<<"$tun" || { ok=0; why="$why; $SRAS_TUN_CLIENT does not have $local_addr"; }
      ip -n "$NS" route get "$SRV_BEHIND_IP" 2>/dev/null | grep -q " dev $SRAS_TUN_CLIENT " ||
        { ok=0; why="$why; no route to $SRV_BEHIND_IP into $SRAS_TUN_CLIENT: $(ip -n "$NS" route get "$SRV_BEHIND_IP" 2>&1 | head -1)"; }
      timeout 60 "$TBCTL" exec srv "ip xfrm state" >"$base.xfrm" 2>&1
      vm_ipsec_state srv "$base.vm-state" "srv after establishment"
      [ "$natt" = natt ] && { grep -q 'encap type espinudp' "$base.xfrm" || { ok=0; why="$why; no UDP encapsulation in srv's ip xfrm state"; }; }
      local p
      p=$(ip netns exec "$NS" timeout 20 ping -n -c 3 -i 0.5 -W 3 "$SRV_BEHIND_IP" 2>&1 | tail -2)
      log "    tbhost ping $SRV_BEHIND_IP: $(head -1 <<<"$p")"
      grep -qE ' [1-9][0-9]* received' <<<"$p" || { ok=0; why="$why; no ping reply from $SRV_BEHIND_IP"; }
      if vm_sink_start srv >>"$base.vm.out" 2>&1; then
        local t0 out sent got secs
        sent=$(sha256sum "$base.xfer.in" | cut -d' ' -f1)
        t0=$(now)
        out=$(ip netns exec "$NS" timeout $((LX_XFER_TIMEOUT + 10)) perl "$LX_DIR/xfer.pl" send "$SRV_BEHIND_IP" "$LX_XFER_PORT" "$base.xfer.in" "$LX_XFER_TIMEOUT" 2>&1)
        secs=$(elapsed "$t0" "$(now)")
        got=$(vm_sink_result srv)
        log "    tbhost: $out; srv: $(head -1 <<<"$got")"
        xfer_check "tbhost -> $SRV_BEHIND_IP (srv)" "$sent" "$(tail -1 <<<"$got")" "$secs"
      else
        ok=0; why="$why; the sink did not start in srv"
      fi
    fi
    # SIGTERM: sras closes PPP, the call, the tunnel and deletes its SAs; srv must be left with none.
    local n_closed
    n_closed=$(vm_exec srv "grep -c 'Connection closed to $HOST_IP' $XL2TPD_LOG")
    t_down=$(now)
    kill -TERM "$pid" 2>/dev/null
    wait_exit "$pid" "$LX_TEARDOWN"
    [ "$EXIT_STATUS" = timeout ] && kill -KILL "$pid" 2>/dev/null
    forget_pid "$pid"
    [ "$EXIT_STATUS" = 0 ] || { ok=0; why="$why; sras connect exit status $EXIT_STATUS after SIGTERM"; }
    log "    sras connect exit status $EXIT_STATUS after $(elapsed "$t_down" "$(now)")s"
    if [ -n "$t_est" ]; then
      vm_xfrm_empty srv "$LX_TEARDOWN" >>"$base.vm.out" || { ok=0; why="$why; srv still has xfrm states ${LX_TEARDOWN}s after SIGTERM"; }
      vm_exec srv "for i in \$(seq 20); do [ \$(grep -c 'Connection closed to $HOST_IP' $XL2TPD_LOG) -gt ${n_closed:-0} ] && exit 0; sleep 0.25; done; exit 1" ||
        { ok=0; why="$why; xl2tpd in srv did not log the tunnel closed"; }
      log "    SIGTERM to no xfrm state in srv: $(elapsed "$t_down" "$(now)")s"
    fi
  fi
  capture_stop
  lx_pull_logs "$base" srv ""
  lx_stop_vm srv
  rm -f "$base.xfer.in"
  [ -n "$t_est" ] && lx_check_capture "$base" keylog "$base.charon.log" "${natt:--}" "$SRV_IP" "${t_down:-0}"
  sed 's/^/    stdout: /' "$base.stdout" >&2
  lx_summary "$base"
  why=${why#; }
  if [ $ok = 1 ]; then record "$id" PASS "$t_est" ""; else record "$id" FAIL "${t_est:-0}" "$why"; fi
}

# --- main ----------------------------------------------------------------------------------------
T_START=$(now)
for tool in tcpdump tshark qemu-system-x86_64; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (see $TESTBED/../deps.sh)" >&2; exit 2; }
done
log "testbed: $TESTBED (TB_DIR=$TB_DIR)"
FORCE= "$TESTBED/build-vm.sh" >&2 || { echo "INTEROP $SUITE: 0/0 passed (VM image build failed)"; exit 1; }

case "$SUITE" in l2tp) RUNS=6 ;; ppp) RUNS=5 ;; ike) RUNS=8 ;; ike-reference) RUNS=5 ;; *-linux | linux-*) RUNS=2 ;; *) RUNS=3 ;; esac
REFERENCE=; case "$SUITE" in *-reference) REFERENCE=1 ;; esac   # (linux-reference too: no sras)
if [ -z "$REFERENCE" ] && [ -z "${SRAS_BIN:-}" ]; then
  log "building sras (release)"
  (cd "$REPO" && cargo build --release -p sras) >&2 || { echo "INTEROP $SUITE: 0/$RUNS passed (cargo build failed)"; exit 1; }
fi
if [ -z "$REFERENCE" ]; then
  [ -x "$SRAS" ] || { echo "INTEROP $SUITE: 0/$RUNS passed (no sras binary at $SRAS)"; exit 1; }
  # sras binds 192.0.2.1:1701 (l2tp, ppp) or 192.0.2.1:500 and :4500 (ike) in the netns: nothing else may hold them.
  PORTS=':1701 '; [ "$SUITE" = ike ] && PORTS=':(500|4500) '
  case "$SUITE" in client-linux | server-linux) PORTS=':(500|4500|1701) ' ;; esac
  if ip netns exec "$NS" ss -Huanp 2>/dev/null | grep -qE "$PORTS"; then
    log "UDP ${PORTS//[: ]/} already bound in netns $NS:"; ip netns exec "$NS" ss -uanp | grep -E "$PORTS" >&2
    echo "INTEROP $SUITE: 0/$RUNS passed (port ${PORTS//[: ]/} busy in netns $NS)"; exit 1
  fi
  if [ "$SUITE" = ike ] && ! "$SRAS" ike --help >/dev/null 2>&1; then
    echo "INTEROP $SUITE: 0/$RUNS passed ($SRAS has no 'ike' subcommand)"; exit 1
  fi
fi
case "$SUITE" in ike*) command -v nft >/dev/null && command -v openssl >/dev/null ||
  { echo "$0: the ike suites need nft and openssl on the host" >&2; exit 2; } ;; esac

T_VM=$(now)
vm_up srv "$SRV_IP" >&2 && vm_up cli "$CLI_IP" >&2 || { echo "INTEROP $SUITE: 0/0 passed (VMs did not boot)"; exit 1; }
log "VMs ready in $(elapsed "$T_VM" "$(now)")s"

case "$SUITE" in
  l2tp)
    for v in plain challenge hidden; do run_lns_case "$v"; done
    for v in plain challenge hidden; do run_lac_case "$v"; done
    ;;
  ppp)
    for m in pap chap-md5 mschapv2; do run_ppp_lns_case "$m"; done
    for m in mschapv2 chap-md5; do run_ppp_lac_case "$m"; done
    ;;
  l2tp-reference)
    for v in plain challenge hidden; do run_reference_case "$v"; done
    ;;
  ike)
    run_ike_case resp-psk resp psk
    run_ike_case resp-psk-natt resp psk natt
    run_ike_case resp-cert resp cert
    run_ike_case init-psk init psk
    run_ike_case init-cert init cert
    run_ike_case init-psk-natt init psk natt
    run_ike_dpd_case
    run_ike_delete_case
    ;;
  ike-reference)
    run_ike_ref_case ref-psk psk
    run_ike_ref_case ref-psk-natt psk natt
    run_ike_ref_case ref-cert cert
    run_ike_ref_dpd_case
    run_ike_ref_delete_case
    ;;
  linux-reference)
    for v in psk-esp psk-natt; do run_lx_reference_case "$v"; done
    ;;
  client-linux)
    for v in psk-esp psk-natt; do run_lx_client_case "$v"; done
    ;;
  server-linux)
    for v in psk-esp psk-natt; do run_lx_server_case "$v"; done
    ;;
esac

SUMMARY=$(IFS=,; echo "${RESULTS[*]}" | sed 's/,/, /g')
log "total $(elapsed "$T_START" "$(now)")s; artifacts in $OUT"
echo "INTEROP $SUITE: $PASSED/$TOTAL passed ($SUMMARY)"
[ "$TOTAL" -gt 0 ] && [ "$PASSED" = "$TOTAL" ]
