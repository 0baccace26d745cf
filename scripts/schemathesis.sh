#!/usr/bin/env bash
# schemathesis (PyPI) against `skuswap serve`, from the server's own /openapi.json: every /v1
# and /admin operation, a fixed seed and a bounded count. Fails on any server error, response
# outside its schema, undocumented status or content type, or a refused request that changed
# /admin/state (the check in scripts/schemathesis/hooks.py). Prints the figures for the note.
#
# usage: scripts/schemathesis.sh SKUSWAP_BINARY [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
skuswap=$1
port=${2:-8090}
venv=/tmp/schemathesis-venv
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q schemathesis==4.32.5; }

log=$(mktemp)
# nce-migration: legacy and NCE subscriptions, bundles and add-ons, so more cases reach a rule.
"$skuswap" serve --addr "127.0.0.1:$port" --scenario nce-migration > "$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
export SKUSWAP_URL="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -sf "$SKUSWAP_URL/admin/clock" >/dev/null && break; sleep 0.2; done
# The token reaches schemathesis through the environment, never its command line.
SKUSWAP_TOKEN=$(grep -o 'pcmock\.[0-9a-f]*' "$log" | head -1)
export SKUSWAP_TOKEN
[ -n "$SKUSWAP_TOKEN" ] || { echo "skuswap serve printed no token:"; cat "$log"; exit 1; }
config=$(mktemp --suffix=.toml)
printf 'headers = { Authorization = "Bearer ${SKUSWAP_TOKEN}" }\n' > "$config"
export SKUSWAP_COUNTS
SKUSWAP_COUNTS=$(mktemp)
operations=$(curl -sf "$SKUSWAP_URL/openapi.json" | jq '[.paths[] | keys[]] | length')
cd scripts/schemathesis
PYTHONPATH=. SCHEMATHESIS_HOOKS=hooks "$venv/bin/schemathesis" --config-file "$config" run "$SKUSWAP_URL/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,refused_requests_change_nothing \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-20}" --seed 20261201 --workers 1 --phases examples,coverage,fuzzing \
  --no-color > /tmp/schemathesis.out 2>&1 || { tail -n 80 /tmp/schemathesis.out; exit 1; }
tail -n 12 /tmp/schemathesis.out
echo "schemathesis: $operations operations in the document; $(jq -r '"\(.cases) calls, \(.refused) refused (state compared after \(.state_checks)), \(.restored) accepted writes undone"' "$SKUSWAP_COUNTS"); failures: 0"
