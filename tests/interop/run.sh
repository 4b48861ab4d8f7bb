#!/bin/bash
# Interop tests of sras against the reference Linux stack in the testbed VMs (tests/interop/README.md).
#
#   tests/interop/run.sh l2tp             sras <-> xl2tpd 1.3.18, plain L2TP (no IPsec): 6 runs
#   tests/interop/run.sh ppp              sras <-> xl2tpd + pppd 2.4.9, PPP over plain L2TP: 5 runs
#                                         (pppd client -> sras server with PAP, CHAP-MD5, MS-CHAPv2;
#                                         sras client -> pppd server with MS-CHAPv2, CHAP-MD5)
#   tests/interop/run.sh l2tp-reference   xl2tpd LAC (VM cli) <-> xl2tpd LNS (VM srv) with the same configs:
#                                         checks the VM side, the configs and the log parsing (3 runs)
#
# Run as root from anywhere. Environment:
#   SRAS_TESTBED=DIR   the testbed scripts (default: ../shared/testbed beside the repository)
#   TB_DIR=DIR         testbed artifacts (default /var/tmp/testbed)
#   INTEROP_REUSE=1    reuse running VMs instead of rebooting them
#   INTEROP_STOP=1     stop the VMs at the end (default: leave them running for the next run)
#   SRAS_BIN=FILE      use this sras binary instead of building target/release/sras
#   INTEROP_ONLY=RE    run only the cases whose name matches the regex (e.g. 'lac-' or 'hidden')
# Output: target/interop/<suite>-<case>.{pcap,sras.log,xl2tpd.log,ppp.log,...}; the last line is the verdict:
#   INTEROP l2tp: 6/6 passed (lns-plain 2.3s, ...)
set -uo pipefail

SUITE=${1:-}
case "$SUITE" in
  l2tp | ppp | l2tp-reference) ;;
  *) echo "usage: $0 l2tp|ppp|l2tp-reference" >&2; exit 2 ;;
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

xl2tpd_start() { # VM CONF_FILE [PPPD_OPTIONS_FILE]
  local vm=$1 conf=$2 opts=${3:-} tmp
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
    systemctl stop xl2tpd strongswan-starter $XL2TPD_UNIT 2>/dev/null; systemctl reset-failed $XL2TPD_UNIT 2>/dev/null
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
capture_start() { # PCAP
  rm -f "$1"
  ip netns exec "$NS" tcpdump -ni tbbr0 -U -w "$1" udp port 1701 2>"$1.tcpdump.log" &
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
  echo "[l2tp]"
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
  echo "[l2tp]"
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

# --- main ----------------------------------------------------------------------------------------
T_START=$(now)
for tool in tcpdump tshark qemu-system-x86_64; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (see $TESTBED/../deps.sh)" >&2; exit 2; }
done
log "testbed: $TESTBED (TB_DIR=$TB_DIR)"
FORCE= "$TESTBED/build-vm.sh" >&2 || { echo "INTEROP $SUITE: 0/0 passed (VM image build failed)"; exit 1; }

case "$SUITE" in l2tp) RUNS=6 ;; ppp) RUNS=5 ;; *) RUNS=3 ;; esac
if [ "$SUITE" != l2tp-reference ] && [ -z "${SRAS_BIN:-}" ]; then
  log "building sras (release)"
  (cd "$REPO" && cargo build --release -p sras) >&2 || { echo "INTEROP $SUITE: 0/$RUNS passed (cargo build failed)"; exit 1; }
fi
if [ "$SUITE" != l2tp-reference ]; then
  [ -x "$SRAS" ] || { echo "INTEROP $SUITE: 0/$RUNS passed (no sras binary at $SRAS)"; exit 1; }
  # The server binds 192.0.2.1:1701 in the netns: nothing else may hold it.
  if ip netns exec "$NS" ss -Huanp 2>/dev/null | grep -q ":1701 "; then
    log "UDP 1701 is already bound in netns $NS:"; ip netns exec "$NS" ss -uanp | grep ':1701 ' >&2
    echo "INTEROP $SUITE: 0/$RUNS passed (port 1701 busy in netns $NS)"; exit 1
  fi
fi

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
esac

SUMMARY=$(IFS=,; echo "${RESULTS[*]}" | sed 's/,/, /g')
log "total $(elapsed "$T_START" "$(now)")s; artifacts in $OUT"
echo "INTEROP $SUITE: $PASSED/$TOTAL passed ($SUMMARY)"
[ "$TOTAL" -gt 0 ] && [ "$PASSED" = "$TOTAL" ]
