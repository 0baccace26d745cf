#!/usr/bin/env bash
# Benchmark (not a test): `skuswap serve` beside its floor, a bare axum server answering the
# same routes with the same JSON from one mutex-guarded map (bench/src/bin/bare.rs), both
# release builds on this machine, in interleaved rounds; each operation (GET and PATCH one
# subscription, POST an order) runs 32 connections for SECONDS against each, then the ratio
# of throughputs and both p99s are printed. The load client is bench/src/bin/load.rs (closed
# loop, like wrk). With BASE=path/to/an/older/skuswap, that build runs in the same rounds too
# (after the floor, before this one) and its ratio to the floor is printed beside this one's:
# the previous commit as a second floor.
# Usage: [BASE=old-skuswap] scripts/bench-serve.sh [ROUNDS] [SECONDS]   (default 3 rounds, 10 s)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-10}
base=${BASE:-}
if [ -n "$base" ] && [ ! -x "$base" ]; then echo "BASE=$base is not an executable" >&2; exit 2; fi
cargo build --release --locked --bin skuswap --bin bare --bin load >&2
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work=$(mktemp -d)
trap 'kill ${mock:-} ${old:-} ${bare:-} 2>/dev/null || true; rm -rf "$work"' EXIT
customer=3f2b9c61-8a4e-4d0b-b7c5-1e6a9d2f4c10
source scripts/serve-bench-setup.sh
if [ -n "$base" ]; then
  printf '%-6s %-5s %10s %10s %10s %7s %7s %10s %10s %10s\n' round op "floor r/s" "base r/s" "mock r/s" \
    "base" ratio "floor p99" "base p99" "mock p99"
else
  printf '%-6s %-5s %10s %10s %7s %10s %10s\n' round op "floor r/s" "mock r/s" ratio "floor p99" "mock p99"
fi
for round in $(seq 1 "$rounds"); do
  # Each round starts every server fresh: no round inherits the last one's orders.
  serve "$bin/skuswap" 18181; mock=$started
  auth="Authorization: Bearer $(cat "$work/token.18181")"
  if [ -n "$base" ]; then serve "$base" 18183; old=$started; fi
  discover 18181
  start_floor
  for op in GET PATCH POST; do
    request "$op"
    floor=$("$bin/load" "http://127.0.0.1:18182/v1/customers/$customer/$path" "$op" 32 "$secs" "${body[@]}")
    if [ -n "$base" ]; then
      older=$("$bin/load" "http://127.0.0.1:18183/v1/customers/$customer/$path" "$op" 32 "$secs" "${body[@]}" \
        "Authorization: Bearer $(cat "$work/token.18183")")
    fi
    served=$("$bin/load" "http://127.0.0.1:18181/v1/customers/$customer/$path" "$op" 32 "$secs" "${body[@]}" "$auth")
    if [ -n "$base" ]; then
      jq -nr --argjson f "$floor" --argjson b "$older" --argjson m "$served" --arg r "$round" --arg op "$op" \
        '"\($r)\t\($op)\t\($f.rps)\t\($b.rps)\t\($m.rps)\t\(($b.rps / $f.rps * 100 | round) / 100)\t\(($m.rps / $f.rps * 100 | round) / 100)\t\($f.p99)\t\($b.p99)\t\($m.p99)"' \
        | awk -F'\t' '{printf "%-6s %-5s %10s %10s %10s %7s %7s %8s µs %8s µs %8s µs\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
    else
      jq -nr --argjson f "$floor" --argjson m "$served" --arg r "$round" --arg op "$op" \
        '"\($r)\t\($op)\t\($f.rps)\t\($m.rps)\t\(($m.rps / $f.rps * 100 | round) / 100)\t\($f.p99)\t\($m.p99)"' \
        | awk -F'\t' '{printf "%-6s %-5s %10s %10s %7s %8s µs %8s µs\n", $1, $2, $3, $4, $5, $6, $7}'
    fi
  done
  echo "       lock holds: $(curl -sf http://127.0.0.1:18181/admin/locks)"
  kill "$mock" "$bare" ${old:-}; wait "$mock" "$bare" ${old:-} 2>/dev/null || true
  old=
done
