#!/usr/bin/env bash
# The source article's migration, step by step, against a running `skuswap serve` with curl:
# buy the successor, swap every user's license, suspend the old subscription, advance 121 days,
# then ask the mock's judge. `--two-calls` removes the old license before assigning the new one
# (two calls per user), which the judge must report as a violation.
# Usage: scripts/walkthrough.sh [BASE_URL] [--two-calls]     (needs curl and jq)
set -euo pipefail
B=${1:-http://127.0.0.1:8080}
MODE=${2:-}
CUSTOMER=3f2b9c61-8a4e-4d0b-b7c5-1e6a9d2f4c10     # Wingtip Toys (AX Enterprise, 20 seats)
OLD_SUB=a1e7c3d5-2b4f-4e6a-8c9d-0f1e2a3b4c51      # its AX Enterprise subscription

curl -sf -X POST "$B/admin/scenario" -d '{"name":"article"}' >/dev/null
TOKEN=$(curl -sf -X POST "$B/admin/tokens" | jq -r .accessToken)
pc() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }

# 1. Purchase the new subscription: the first successor of AX Enterprise, one seat per seat.
OLD_OFFER=$(pc "$B/v1/customers/$CUSTOMER/subscriptions/$OLD_SUB" | jq -r .offerId)
NEW_OFFER=$(pc "$B/v1/offers/$OLD_OFFER?country=US" | jq -r '.upgradeTargetOffers[0]')
pc -X POST "$B/v1/customers/$CUSTOMER/orders" \
  -d "{\"lineItems\":[{\"lineItemNumber\":0,\"offerId\":\"$NEW_OFFER\",\"quantity\":20}]}" | jq -c '{order: .id, status}'

# 2. Reassign every user holding the old SKU: one call that assigns the new and removes the old.
SKUS=$(pc "$B/v1/customers/$CUSTOMER/subscribedskus")
OLD_SKU=$(jq -r '.items[] | select(.productSku.skuPartNumber=="DYN_AX_ENTERPRISE") | .productSku.id' <<<"$SKUS")
NEW_SKU=$(jq -r '.items[] | select(.productSku.skuPartNumber=="DYN365_ENTERPRISE_UNIFIED_OPERATIONS") | .productSku.id' <<<"$SKUS")
for U in $(pc "$B/v1/customers/$CUSTOMER/users" | jq -r '.items[].id'); do
  pc "$B/v1/customers/$CUSTOMER/users/$U/licenses" | jq -e --arg s "$OLD_SKU" 'any(.items[]; .productSku.id==$s)' >/dev/null || continue
  if [ "$MODE" = "--two-calls" ]; then
    pc -X POST "$B/v1/customers/$CUSTOMER/users/$U/licenseupdates" -d "{\"licensesToRemove\":[\"$OLD_SKU\"]}" >/dev/null
    pc -X POST "$B/v1/customers/$CUSTOMER/users/$U/licenseupdates" -d "{\"licensesToAssign\":[{\"skuId\":\"$NEW_SKU\"}]}" >/dev/null
  else
    pc -X POST "$B/v1/customers/$CUSTOMER/users/$U/licenseupdates" \
      -d "{\"licensesToAssign\":[{\"skuId\":\"$NEW_SKU\",\"excludedPlans\":null}],\"licensesToRemove\":[\"$OLD_SKU\"]}" >/dev/null
  fi
  echo "swapped user $U"
done

# 3. Suspend the old subscription: PATCH the full resource as fetched, with its ETag.
SUB=$(pc "$B/v1/customers/$CUSTOMER/subscriptions/$OLD_SUB")
ETAG=$(jq -r .attributes.etag <<<"$SUB")
pc -X PATCH -H "If-Match: $ETAG" "$B/v1/customers/$CUSTOMER/subscriptions/$OLD_SUB" \
  -d "$(jq -c '.status="suspended"' <<<"$SUB")" | jq -c '{id, status}'

# 4. 121 days later the suspended subscription has been de-provisioned.
curl -sf -X POST "$B/admin/clock/advance" -d '{"days":121}' | jq -c .
pc "$B/v1/customers/$CUSTOMER/subscriptions/$OLD_SUB" | jq -c '{id, status}'

# 5. The judge.
curl -sf "$B/admin/invariants" | jq -c '{ok, violations: (.violations | length), first: .violations[0].message}'
