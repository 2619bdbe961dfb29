#!/usr/bin/env bash
# Network benchmarks that need a real link: discovery time of a new peer on the LAN (mDNS) and
# send → received over a veth pair, in two network namespaces joined by a bridge (root needed).
# Reports only; nothing here passes or fails on time. The loopback figures, the libp2p floor
# and catch-up come from `hearth bench-net` without arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p hearth
H=$PWD/target/release/hearth
P=hb$$
W=$(mktemp -d)
cleanup() {
  pkill -f "$W/" 2>/dev/null || true
  for n in a b br; do ip netns del "$P-$n" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$P-br"; ip -n "$P-br" link add br0 type bridge; ip -n "$P-br" link set br0 up
i=1
for n in a b; do
  ip netns add "$P-$n"; ip -n "$P-$n" link set lo up
  ip link add "v$P$n" type veth peer name "w$P$n"
  ip link set "v$P$n" netns "$P-$n"; ip link set "w$P$n" netns "$P-br"
  ip -n "$P-$n" addr add "10.78.0.$i/24" dev "v$P$n"; ip -n "$P-$n" link set "v$P$n" up
  ip -n "$P-br" link set "w$P$n" master br0; ip -n "$P-br" link set "w$P$n" up
  i=$((i+1))
done
"$H" --data-dir "$W/a" init --name A >/dev/null
"$H" --data-dir "$W/b" init --name B >/dev/null

# Become contacts with both running, then stop B.
ip netns exec "$P-a" "$H" --data-dir "$W/a" --json run --lan-only > "$W/a.log" 2>/dev/null &
ip netns exec "$P-b" "$H" --data-dir "$W/b" --json run --lan-only > "$W/b.log" 2>/dev/null &
until grep -q listening "$W/a.log" && grep -q listening "$W/b.log"; do sleep 0.1; done
"$H" --data-dir "$W/b" accept "$("$H" --data-dir "$W/a" invite)" >/dev/null
until "$H" --data-dir "$W/a" contacts | grep -q connected; do sleep 0.1; done
pkill -TERM -f -- "--data-dir $W/b " || true
until ! pgrep -f -- "--data-dir $W/b " >/dev/null; do sleep 0.1; done

# Discovery: B starts; how long until A reports B reachable (5 runs). B first forgets every
# remembered address, so only mDNS can bring them together.
times=()
for k in 1 2 3 4 5; do
  python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM peers'); c.commit()" "$W/b/hearth.db"
  lines=$(grep -c peer_reachable "$W/a.log" || true)
  t0=$(date +%s%N)
  ip netns exec "$P-b" "$H" --data-dir "$W/b" --json run --lan-only > "$W/b.log" 2>/dev/null &
  until [ "$(grep -c peer_reachable "$W/a.log" || true)" -gt "$lines" ]; do sleep 0.01; done
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000000 )))
  pkill -TERM -f -- "--data-dir $W/b " || true
  until ! pgrep -f -- "--data-dir $W/b " >/dev/null; do sleep 0.1; done
  until grep -q '"peer_lost"' <(tail -n +$((lines+1)) "$W/a.log"); do sleep 0.1; done
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
echo "discovery of a new peer on the LAN by mDNS (ms, 5 runs, includes process start): $sorted (budget ≤ 2000)"

# send → received over the veth pair.
pkill -TERM -f -- "--data-dir $W/a " || true
until ! pgrep -f -- "--data-dir $W/a " >/dev/null; do sleep 0.1; done
ip netns exec "$P-a" "$H" --data-dir "$W/a" bench-net --role recv --addr /ip4/10.78.0.1/tcp/4711 --count 300 > "$W/recv.log" 2>/dev/null &
until grep -q ready "$W/recv.log"; do sleep 0.1; done
ip netns exec "$P-b" "$H" --data-dir "$W/b" bench-net --role send --addr /ip4/10.78.0.1/tcp/4711 --to A --count 300 >/dev/null 2>&1
wait %3 2>/dev/null || true
until grep -q "send → received" "$W/recv.log"; do sleep 0.1; done
echo "veth $(grep 'send → received' "$W/recv.log")"
