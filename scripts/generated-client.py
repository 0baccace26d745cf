"""The client Microsoft's swagger generates (`partnercenterservices` on PyPI), driven against
`skuswap serve`: its `upgrades` step (list, upgrade with license transfer, the no-path error)
and its `users` step (create, update, delete).

Usage: generated-client.py BASE_URL TOKEN   (the `o365-upgrade` scenario loaded; exit 0 = passed)
"""
import sys
import uuid

from microsoft.store.partnercenterservices import MicrosoftPartnerStoreApis, models
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
    users(client)


def users(client):
    user = models.MicrosoftPartnerSdkContractsV1CustomerUser(
        usage_location="US", user_principal_name="gen.client@fabrikambikes.onmicrosoft.com",
        first_name="Gen", last_name="Client", display_name="Gen Client")
    made = client.postvversioncustomerscustomer.idusers(FABRIKAM, user, "1")
    check("POST …/users: a CustomerUser, active", made is not None and made.id and made.state == "active")
    made.last_name = "Renamed"
    patched = client.patchvversioncustomerscustomer.id2(FABRIKAM, made.id, made, "1", raw=True)
    check("PATCH …/users/{id}: 200, renamed",
          patched.response.status_code == 200 and patched.response.json()["lastName"] == "Renamed")
    gone = client.deletevversioncustomerscustomer.id2(FABRIKAM, made.id, "1", raw=True)
    check("DELETE …/users/{id}: 204", gone.response.status_code == 204)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
