# Sourced (not run) by scripts/bench-serve.sh and scripts/cpu-per-request.sh: what both do to
# set a benchmark of `skuswap serve` up, so the two measure the same requests.
# Needs $work (a scratch directory), $bin (the release builds) and $customer (the article's
# customer with subscriptions).

# Start a skuswap build on a port (its pid left in $started, its token in $work/token.PORT):
# run in the caller's shell, not a subshell, so `wait` can see it exit before the port is reused.
serve() {
  "$1" serve --addr "127.0.0.1:$2" > "$work/serve.$2.log" 2>&1 &
  started=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$2/admin/clock" >/dev/null && break; sleep 0.1; done
  grep -o 'pcmock\.[0-9a-f]*' "$work/serve.$2.log" | head -1 > "$work/token.$2"
}

# From the server on PORT: the subscription the load reads and changes ($sub, its JSON in
# $work/sub.json for the floor to serve) and an offer to order ($offer).
discover() {
  local auth="Authorization: Bearer $(cat "$work/token.$1")"
  sub=$(curl -sf -H "$auth" "http://127.0.0.1:$1/v1/customers/$customer/subscriptions" | jq -r '.items[0].id')
  curl -sf -H "$auth" "http://127.0.0.1:$1/v1/customers/$customer/subscriptions/$sub" > "$work/sub.json"
  offer=$(curl -sf -H "$auth" "http://127.0.0.1:$1/v1/offers?country=US" \
    | jq -r '[.items[] | select(.isAddOn == false and .isAvailableForPurchase == true)][0].id')
}

# The path under the customer and the body (`load`'s {n} is a counter) of operation $1.
request() {
  case $1 in
    GET) path="subscriptions/$sub"; body=();;
    PATCH) path="subscriptions/$sub"; body=('{"quantity":{n}}');;
    POST) path=orders; body=("{\"lineItems\":[{\"lineItemNumber\":0,\"offerId\":\"$offer\",\"quantity\":1}]}");;
  esac
}

# Start the floor (bench/src/bin/bare.rs) on 18182, serving $work/sub.json; its pid in $bare.
start_floor() {
  "$bin/bare" 127.0.0.1:18182 "$work/sub.json" &
  bare=$!
  sleep 0.5
}
