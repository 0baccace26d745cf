#!/usr/bin/env bash
# Benchmark (not a test): `skuswap serve` beside its floor, a bare axum server answering the
# same routes with the same JSON from one mutex-guarded map (bench/src/bin/bare.rs), both
# release builds on this machine, in interleaved rounds; each operation (GET and PATCH one
# subscription, POST an order) runs 32 connections for SECONDS against each, then the ratio
# of throughputs and both p99s are printed. The load client is bench/src/bin/load.rs (closed
# loop, like wrk). Usage: scripts/bench-serve.sh [ROUNDS] [SECONDS]   (default 3 rounds, 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
cargo build --release --locked --bin skuswap --bin bare --bin load >&2
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work=$(mktemp -d)
trap 'kill ${mock:-} ${bare:-} 2>/dev/null || true; rm -rf "$work"' EXIT
customer=3f2b9c61-8a4e-4d0b-b7c5-1e6a9d2f4c10
printf '%-6s %-5s %10s %10s %7s %10s %10s\n' round op "floor r/s" "mock r/s" ratio "floor p99" "mock p99"
for round in $(seq 1 "$rounds"); do
  # Each round starts both servers fresh: no round inherits the last one's orders.
  "$bin/skuswap" serve --addr 127.0.0.1:18181 > "$work/serve.log" 2>&1 &
  mock=$!
  for _ in $(seq 1 50); do curl -sf http://127.0.0.1:18181/admin/clock >/dev/null && break; sleep 0.1; done
  token=$(grep -o 'pcmock\.[0-9a-f]*' "$work/serve.log" | head -1)
  auth="Authorization: Bearer $token"
  sub=$(curl -sf -H "$auth" "http://127.0.0.1:18181/v1/customers/$customer/subscriptions" | jq -r '.items[0].id')
  curl -sf -H "$auth" "http://127.0.0.1:18181/v1/customers/$customer/subscriptions/$sub" > "$work/sub.json"
  offer=$(curl -sf -H "$auth" "http://127.0.0.1:18181/v1/offers?country=US" \
    | jq -r '[.items[] | select(.isAddOn == false and .isAvailableForPurchase == true)][0].id')
  "$bin/bare" 127.0.0.1:18182 "$work/sub.json" &
  bare=$!
  sleep 0.5
  for op in GET PATCH POST; do
    case $op in
      GET) path="subscriptions/$sub"; body=();;
      PATCH) path="subscriptions/$sub"; body=('{"quantity":{n}}');;
      POST) path=orders; body=("{\"lineItems\":[{\"lineItemNumber\":0,\"offerId\":\"$offer\",\"quantity\":1}]}");;
    esac
    floor=$("$bin/load" "http://127.0.0.1:18182/v1/customers/$customer/$path" "$op" 32 "$secs" "${body[@]}")
    served=$("$bin/load" "http://127.0.0.1:18181/v1/customers/$customer/$path" "$op" 32 "$secs" "${body[@]}" "$auth")
    jq -nr --argjson f "$floor" --argjson m "$served" --arg r "$round" --arg op "$op" \
      '"\($r)\t\($op)\t\($f.rps)\t\($m.rps)\t\(($m.rps / $f.rps * 100 | round) / 100)\t\($f.p99)\t\($m.p99)"' \
      | awk -F'\t' '{printf "%-6s %-5s %10s %10s %7s %8s µs %8s µs\n", $1, $2, $3, $4, $5, $6, $7}'
  done
  echo "       lock holds: $(curl -sf http://127.0.0.1:18181/admin/locks)"
  kill "$mock" "$bare"; wait "$mock" "$bare" 2>/dev/null || true
done
