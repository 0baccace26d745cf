"""The client Microsoft's swagger generates (`partnercenterservices` on PyPI), driven against
`skuswap serve`: its `upgrades` step (list, upgrade with license transfer, the no-path error).

Usage: generated-client.py BASE_URL TOKEN   (the `o365-upgrade` scenario loaded; exit 0 = passed)
"""
import sys
import uuid

from microsoft.store.partnercenterservices import MicrosoftPartnerStoreApis
from msrest.authentication import BasicTokenAuthentication

FABRIKAM, FABRIKAM_E1 = "6a0f3e21-4b7c-4d2e-9f18-3c5a7e9b1d01", "e1e1e1e1-0001-4a1b-8c2d-000000000001"
TAILWIND, TAILWIND_AX = "6a0f3e21-4b7c-4d2e-9f18-3c5a7e9b1d04", "e1e1e1e1-0004-4a1b-8c2d-000000000001"


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def main(base_url, token):
    client = MicrosoftPartnerStoreApis(BasicTokenAuthentication({"access_token": token}), base_url=base_url)
    upgrades = client.getvversioncustomerscustomer.idupgrades(FABRIKAM, FABRIKAM_E1, "1").items
    first = upgrades[0]
    check("GET …/upgrades: one eligible upgrade to E3 with license transfer",
          len(upgrades) == 1 and first.is_eligible and first.upgrade_type == "upgrade_with_license_transfer"
          and first.target_offer.name == "Office 365 Enterprise E3")
    result = client.postvversioncustomerscustomer.idupgrades(
        FABRIKAM, FABRIKAM_E1, first, "1", ms_request_id=str(uuid.uuid4()))
    check("POST …/upgrades: an UpgradeResult naming the new subscription, no errors",
          result.source_subscription_id == FABRIKAM_E1 and result.target_subscription_id
          and not result.upgrade_errors and not result.license_errors)
    none = client.getvversioncustomerscustomer.idupgrades(TAILWIND, TAILWIND_AX, "1").items[0]
    check("GET …/upgrades on Dynamics AX: subscription_does_not_have_any_upgrade_paths",
          not none.is_eligible and [e.code for e in none.upgrade_errors] == ["subscription_does_not_have_any_upgrade_paths"])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
