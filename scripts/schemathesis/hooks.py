"""schemathesis hooks for `scripts/schemathesis.sh`: every refused request must leave
`/admin/state` as it was, and every accepted change is undone afterwards (the state put back),
so each case meets the same world and a reset or a scenario load cannot starve the rest."""

import json
import os
import urllib.request

import schemathesis

BASE = os.environ["SKUSWAP_URL"]
# The world every case starts from (tokens included: they survive a state round trip).
BASELINE = None
# What GET /admin/state said just before the current case's call.
BEFORE = {}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
COUNTS = {"cases": 0, "refused": 0, "restored": 0, "state_checks": 0}


def _state():
    with urllib.request.urlopen(BASE + "/admin/state", timeout=30) as r:
        return r.read()


def _restore():
    req = urllib.request.Request(BASE + "/admin/state", data=BASELINE, method="PUT",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


@schemathesis.hook
def before_call(context, case, kwargs):
    global BASELINE
    if BASELINE is None:
        BASELINE = _state()
    BEFORE["state"] = _state()


@schemathesis.hook
def after_call(context, case, response):
    COUNTS["cases"] += 1
    if response.status_code >= 400:
        COUNTS["refused"] += 1
    elif case.method.upper() in WRITES:
        _restore()
        COUNTS["restored"] += 1
    _save()


def _save():
    with open(os.environ.get("SKUSWAP_COUNTS", "/tmp/skuswap-schemathesis-counts.json"), "w") as f:
        json.dump(COUNTS, f)


@schemathesis.check
def refused_requests_change_nothing(ctx, response, case):
    if response.status_code < 400:
        return None
    COUNTS["state_checks"] += 1
    _save()
    after = _state()
    if after != BEFORE.get("state"):
        raise AssertionError(
            f"{case.method} {case.formatted_path} was refused ({response.status_code}) "
            "yet /admin/state changed"
        )
    return None
