#!/usr/bin/env bash
# End-to-end browser tests of the dashboard (`skuswap serve`, path /) in Debian's chromium with
# playwright-core. Installs what it needs (chromium via apt, playwright-core via npm ci; no
# browser download), starts the server on a free port, runs tests/browser/*.test.mjs, and
# leaves screenshots in target/browser-artifacts/. Usage: scripts/browser-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
command -v node >/dev/null || { echo "node is needed (apt-get install nodejs npm)"; exit 1; }
(cd tests/browser && npm ci --no-audit --no-fund --silent)
cargo build --locked --bin skuswap
target="${CARGO_TARGET_DIR:-$PWD/target}"
artifacts="$target/browser-artifacts"
rm -rf "$artifacts" && mkdir -p "$artifacts"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$target/debug/skuswap" serve --addr "127.0.0.1:$port" > "$artifacts/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/admin/clock" >/dev/null && break; sleep 0.2; done
(cd tests/browser && SKUSWAP_URL="http://127.0.0.1:$port" ARTIFACTS="$artifacts" CHROMIUM="$(command -v chromium)" \
  node --test --test-concurrency=1 .)
echo "screenshots: $artifacts"
