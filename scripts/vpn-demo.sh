#!/usr/bin/env bash
# A VPN between two Sentinel nodes on one machine, each in its own network namespace.
#
# Two nodes on one host cannot show the VPN: both want the TUN `sentinel0`, and with
# `--tun-name` the two TUN addresses are both local, so a ping between them goes over
# loopback and "succeeds" without touching the VPN. Here each node has its own network
# stack (a namespace), joined by a veth pair like two machines on one cable:
#
#   namespace <prefix>a                          namespace <prefix>b
#   sentinel-node --tun  (sentinel0)             sentinel-node --tun  (sentinel0)
#   10.231.0.1/24  <prefix>va ---- veth ---- <prefix>vb  10.231.0.2/24
#
# B dials A at 10.231.0.1:7000 (no signaler: a direct dial), each allows the other, then
# B pings A's VPN address across the tunnel and the script shows `sentinel status` and the
# per-peer VPN counters, which prove the packets went through the TUN.
#
# Usage: sudo scripts/vpn-demo.sh [--non-interactive] [--count N]
#   --non-interactive  run, print the result, clean up and exit (for tests and CI)
#   --count N          pings to send (default 3)
# Either way it prints one line `vpn-demo-result: <json>` (ping replies, VPN counters,
# namespaces, process ids, temp dir) once the ping is done.
# Environment: SENTINEL_DEMO_PREFIX (namespace and interface prefix, default svd<pid>-,
# at most 8 characters), SENTINEL_DEMO_SUBNET (default 10.231.0; a /24 that is free here).
#
# Everything it creates (namespaces, veths, processes, the temp dir) is removed on exit,
# on Ctrl-C and on any failure (trap).
set -euo pipefail

interactive=1
count=3
while [ $# -gt 0 ]; do
  case "$1" in
    --non-interactive) interactive=0 ;;
    --count) count="${2:?--count needs a number}"; shift ;;
    -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "vpn-demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$count" in '' | *[!0-9]*) echo "vpn-demo: --count must be a number" >&2; exit 2 ;; esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$root/dist/src/cli/sentinel-node.js"
client_bin="$root/dist/src/cli/sentinel.js"
prefix="${SENTINEL_DEMO_PREFIX:-svd$$-}"
subnet="${SENTINEL_DEMO_SUBNET:-10.231.0}"
ns_a="${prefix}a"
ns_b="${prefix}b"
port=7000

say() { printf '\n== %s\n' "$*"; }
die() { echo "vpn-demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and TUN devices): sudo $0"
[ "${#prefix}" -le 8 ] || die "SENTINEL_DEMO_PREFIX is at most 8 characters (interface names are at most 15)"
[ -f "$node_bin" ] || die "not built: run 'npm run build' (or npx tsc -p tsconfig.json) in $root"
for tool in ip ping node; do command -v "$tool" > /dev/null || die "$tool is not installed"; done
[ -e /dev/net/tun ] || die "/dev/net/tun is missing (modprobe tun)"

work="$(mktemp -d /tmp/sentinel-vpn-demo.XXXXXX)"
pids=()

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    # A node stops within 10 s of SIGTERM; then it is killed.
    for _ in $(seq 1 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  ip netns del "$ns_a" 2> /dev/null || true
  ip netns del "$ns_b" 2> /dev/null || true
  rm -rf "$work"
  [ "$interactive" -eq 1 ] && echo "vpn-demo: cleaned up (namespaces $ns_a $ns_b removed)"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs `sentinel` against node a or b, inside its namespace (the control socket is a file,
# but the client talks to the node it names, so this also works from outside).
client() {
  local who="$1"; shift
  ip netns exec "${prefix}${who}" node "$client_bin" --data-dir "$work/$who" "$@"
}

# Reads one field of a JSON document on stdin: json_get 'x.vpn.ipv4'.
json_get() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v?.[k];console.log(typeof v==="object"?JSON.stringify(v??null):String(v))})' "$1"; }

say "network namespaces $ns_a and $ns_b, joined by a veth pair ($subnet.1 <-> $subnet.2)"
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "${prefix}va" netns "$ns_a" type veth peer name "${prefix}vb" netns "$ns_b"
ip -n "$ns_a" addr add "$subnet.1/24" dev "${prefix}va"
ip -n "$ns_b" addr add "$subnet.2/24" dev "${prefix}vb"
for ns in "$ns_a" "$ns_b"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "${prefix}v${ns: -1}" up
done

start_node() {
  local who="$1" addr="$2"
  mkdir -m 700 "$work/$who"
  ip netns exec "${prefix}${who}" node "$node_bin" --data-dir "$work/$who" --port "$port" --host "$addr" \
    --signaler none --no-mdns --tun --name "demo-$who" --log-level info < /dev/null > "$work/$who.log" 2>&1 &
  pids+=("$!")
}

wait_ready() {
  local who="$1"
  for _ in $(seq 1 100); do
    if client "$who" status --json > "$work/$who.status" 2> /dev/null && [ "$(json_get vpn.state < "$work/$who.status")" = up ]; then return 0; fi
    kill -0 "${pids[-1]}" 2> /dev/null || break
    sleep 0.2
  done
  cat "$work/$who.log" >&2
  die "node $who did not start with its VPN up (its log is above)"
}

say "two nodes, each with a TUN device sentinel0 in its own namespace"
start_node a "$subnet.1"
wait_ready a
start_node b "$subnet.2"
wait_ready b
id_a="$(client a id --json | json_get id)"
id_b="$(client b id --json | json_get id)"
vpn_a="$(client a id --json | json_get vpn.ipv4)"
vpn_b="$(client b id --json | json_get vpn.ipv4)"
echo "node a: $id_a  vpn $vpn_a"
echo "node b: $id_b  vpn $vpn_b"

say "each allows the other's VPN traffic, then b dials a directly"
client a allow "$id_b"
client b allow "$id_a"
client b dial "$subnet.1:$port"

# The VPN counters node $1 keeps for peer $2 (`{}` before any packet).
counters() { client "$1" status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(JSON.parse(s).vpn.peers[process.argv[1]]??{})))' "$2"; }
packets_in() { printf '%s' "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).packetsIn??0))'; }
before_a="$(counters a "$id_b")"

say "b pings a's VPN address $vpn_a ($count packets, through sentinel0 in $ns_b)"
set +e
ip netns exec "$ns_b" ping -c "$count" -W 2 "$vpn_a" | tee "$work/ping.txt"
ping_status=${PIPESTATUS[0]}
set -e
received="$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$work/ping.txt")"
after_a="$(counters a "$id_b")"
after_b="$(counters b "$id_a")"
in_a=$(( $(packets_in "$after_a") - $(packets_in "$before_a") ))

say "sentinel status on node a"
client a status | grep -E '^(id|listening|vpn|vpn addresses|peers|sessions):' || true
say "VPN counters: node a counted from b: $after_a"
echo "                node b counted from a: $after_b"
echo "a received $in_a packet(s) from b over the VPN during the ping; the ping got ${received:-0} of $count replies"

result="{\"count\":$count,\"received\":${received:-0},\"pingExit\":$ping_status,\"aFromB\":$after_a,\"bFromA\":$after_b,\"aPacketsInDuringPing\":$in_a,\"namespaces\":[\"$ns_a\",\"$ns_b\"],\"vpn\":{\"a\":\"$vpn_a\",\"b\":\"$vpn_b\"},\"pids\":[$(IFS=,; echo "${pids[*]}")],\"work\":\"$work\"}"

echo "vpn-demo-result: $result"
if [ "$interactive" -eq 1 ]; then
  say "the VPN is up. In another terminal, try for example:"
  echo "  sudo ip netns exec $ns_b ping $vpn_a"
  echo "  sudo ip netns exec $ns_a node $client_bin --data-dir $work/a peers"
  echo "Press Enter or Ctrl-C to stop and clean up."
  read -r _ || true
fi
[ "$ping_status" -eq 0 ] || exit 1
