#!/usr/bin/env bash
# Benchmark (not a test): rehearse `distributor` in-process at each size and print wall time,
# API calls per second and peak memory, so growth is visible; then run the same 1,000-customer
# migration (discover, plan, apply) in-process and against `skuswap serve` in another process
# over loopback, and print the ratio. Sizes of 2,000 customers or more rehearse in two worlds
# side by side (`rehearse --shards`, default); set SHARDS=1 to rehearse every size in one.
# Usage: scripts/bench.sh [SIZE ...]     default sizes: 1000 10000 100000
# (100,000 customers takes a minute or two and about 11 GiB of memory.)  Needs jq and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 100000)
cargo build --release --locked --bin skuswap >&2
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/skuswap"
work=$(mktemp -d)
trap 'rm -rf "$work"; kill ${server:-} 2>/dev/null || true' EXIT

printf '%-10s %10s %10s %7s %12s %12s %10s %s\n' customers users requests shards "rehearse s" "requests/s" "peak MiB" "process s"
for n in "${sizes[@]}"; do
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" rehearse distributor --customers "$n" ${SHARDS:+--shards "$SHARDS"} --json \
    --report "$work/report-$n.html" > "$work/r-$n.json"
  read -r total kb < "$work/time"
  jq -r --arg total "$total" --arg kb "$kb" \
    '[.customers, .users, .requests, .shards, (.wallSeconds*100|round/100), (.requests/.wallSeconds|round), (($kb|tonumber)/1024|round), $total] | @tsv' \
    "$work/r-$n.json" | awk -F'\t' '{printf "%-10s %10s %10s %7s %12s %12s %10s %s\n", $1, $2, $3, $4, $5, $6, $7, $8}'
done

echo
echo "1,000 customers, discover + plan + apply: in-process versus skuswap serve over loopback"
start=$(date +%s.%N)
(cd "$work" && "$bin" apply --mock distributor --customers 1000 --journal inproc.db > /dev/null)
inproc=$(echo "$(date +%s.%N) - $start" | bc)
"$bin" serve --addr 127.0.0.1:0 --scenario distributor --customers 1000 > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 200); do grep -q token: "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)
token=$(awk '/token:/ {print $2}' "$work/serve.log")
start=$(date +%s.%N)
(cd "$work" && PARTNER_CENTER_URL="$url" PARTNER_CENTER_TOKEN="$token" "$bin" apply --journal loopback.db > /dev/null)
loopback=$(echo "$(date +%s.%N) - $start" | bc)
printf 'in-process %.2f s, loopback %.2f s, ratio %.1fx\n' "$inproc" "$loopback" "$(echo "$loopback / $inproc" | bc -l)"
