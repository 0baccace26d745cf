#!/usr/bin/env bash
# Rehearse a scenario and photograph its HTML report in headless Chromium (Debian's `chromium`),
# for the README. Usage: scripts/screenshot-report.sh [SCENARIO] [OUT.png]
# Installs chromium with apt if it is missing (needs root). Deterministic: the scenario's own seed.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:-article}"
out="${2:-docs/report-${scenario}.png}"
if ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run --quiet --release --locked --bin skuswap -- rehearse "$scenario" --report "$work/report.html" >/dev/null
mkdir -p "$(dirname "$out")"
# --virtual-time-budget lets layout settle; a tall window shows the KPIs and the first charts.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --disable-background-networking \
  --no-first-run --disable-extensions --window-size=1100,1500 --virtual-time-budget=2000 \
  --screenshot="$PWD/$out" "file://$work/report.html" 2>/dev/null
test -s "$out"
echo "$out"
