#!/usr/bin/env bash
# Benchmark (not a test): server CPU time per request, `skuswap serve` beside the bare axum
# floor (bench/src/bin/bare.rs), for GET and PATCH of one subscription and POST of an order.
# Each server's utime+stime is read from /proc/PID/stat around one closed-loop load of SECONDS
# (32 connections, bench/src/bin/load.rs), so the figure is the server's own cost, not the
# load client's; its resident memory (VmRSS) around the same load gives the bytes each request
# leaves behind. Usage: scripts/cpu-per-request.sh [SECONDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin skuswap --bin bare --bin load >&2
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work=$(mktemp -d)
customer=3f2b9c61-8a4e-4d0b-b7c5-1e6a9d2f4c10
secs=${1:-5}
tick_us=$((1000000 / $(getconf CLK_TCK)))
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
source scripts/serve-bench-setup.sh
trap 'kill ${mock:-} ${bare:-} 2>/dev/null || true; rm -rf "$work"' EXIT
serve "$bin/skuswap" 18181; mock=$started
auth="Authorization: Bearer $(cat "$work/token.18181")"
discover 18181
start_floor
for op in GET PATCH POST; do
  request "$op"
  for who in floor mock; do
    if [ "$who" = floor ]; then pid=$bare; port=18182; a=(); else pid=$mock; port=18181; a=("$auth"); fi
    before=$(cpu "$pid"); kept=$(rss "$pid")
    out=$("$bin/load" "http://127.0.0.1:$port/v1/customers/$customer/$path" "$op" 32 "$secs" "${body[@]}" "${a[@]}")
    after=$(cpu "$pid"); kept=$(( ($(rss "$pid") - kept) * 1024 ))
    n=$(jq .requests <<<"$out")
    printf '%-5s %-5s %8s req/s  p99 %6s µs  %4s µs CPU  %5s bytes kept, a request\n' "$op" "$who" \
      "$(jq .rps <<<"$out")" "$(jq .p99 <<<"$out")" "$(( (after - before) * tick_us / n ))" "$(( kept / n ))"
  done
done
