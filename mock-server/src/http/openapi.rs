//! The OpenAPI 3.1 document of every `/v1` and `/admin` route, served at `/openapi.json`.
//!
//! Built from the route tables themselves (`operations::Operation` for `/v1`, [`ADMIN`] for
//! `/admin`), so a route cannot be served without being described; a test checks the router
//! against it and validates the pinned response shapes against its schemas, and CI drives
//! `schemathesis` from it against `skuswap serve`. The handlers render `serde_json` values
//! (`wire.rs`) rather than response structs, so the schemas are written here, beside the
//! table, not derived.

use axum::http::Method;
use serde_json::{Map, Value, json};

use super::operations::Operation;

/// Every `/admin` route: `(operationId, method, path under /admin, success status, request
/// body, response)`.
type AdminRoute = (&'static str, Method, &'static str, u16, fn() -> Option<Value>, fn() -> Value);

#[rustfmt::skip]
pub const ADMIN: &[AdminRoute] = &[
    ("adminReset", Method::POST, "/reset", 200, none, summary),
    ("adminLoadScenario", Method::POST, "/scenario", 200, scenario_body, summary),
    ("adminScenarios", Method::GET, "/scenarios", 200, none, scenario_names),
    ("adminGetState", Method::GET, "/state", 200, none, any_object),
    ("adminPutState", Method::PUT, "/state", 200, any_object_body, summary),
    ("adminIssueToken", Method::POST, "/tokens", 201, token_body, issued_token),
    ("adminRegisterApp", Method::POST, "/apps", 201, app_body, any_object),
    ("adminGetClock", Method::GET, "/clock", 200, none, clock),
    ("adminAdvanceClock", Method::POST, "/clock/advance", 200, advance_body, advanced),
    ("adminGetEvents", Method::GET, "/events", 200, none, events),
    ("adminGetInvariants", Method::GET, "/invariants", 200, none, verdict),
    ("adminGetLocks", Method::GET, "/locks", 200, none, locks),
    ("adminGetFaults", Method::GET, "/faults", 200, none, faults),
    ("adminPutFaults", Method::PUT, "/faults", 200, any_object_body, faults),
    ("adminDeleteFaults", Method::DELETE, "/faults", 204, none, nothing),
    ("adminPutDedup", Method::PUT, "/faults/dedup", 200, dedup_body, faults),
    ("adminAcceptRelationship", Method::POST, "/customers/{customer_id}/accept-relationship", 200, accept_body, any_object),
];

/// Ids of the world being served, given as each path parameter's example (so a generated
/// client's first cases reach real resources rather than 404s).
#[derive(Default)]
pub struct Examples(pub Vec<(&'static str, String)>);

impl Examples {
    pub fn of(w: &crate::model::World) -> Examples {
        let mut out = Vec::new();
        if let Some(c) = w.partners().first().and_then(|p| w.all_customers().find(|c| c.is_customer_of(p.id))) {
            out.push(("customer_id", c.id.to_string()));
            if let Some(s) = c.subscriptions.values().next() {
                out.push(("subscription_id", s.id.to_string()));
            }
            if let Some(u) = c.users_in_order().next() {
                out.push(("user_id", u.id.to_string()));
            }
            if let Some(o) = c.orders.keys().next() {
                out.push(("order_id", o.to_string()));
            }
        }
        if let Some(o) = w.catalog.offers().next() {
            out.push(("offer_id", o.id.clone()));
        }
        Examples(out)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// The whole document.
pub fn document(examples: &Examples) -> Value {
    let mut paths = Map::new();
    for op in Operation::all() {
        let (status, response) = v1_response(op);
        let entry = operation(op.name(), op.path(), status, v1_request(op), response, Some(op.doc()));
        let entry = with_examples(entry, examples);
        insert(&mut paths, &format!("/v1{}", op.path()), &op.method(), entry);
    }
    for (name, method, path, status, request, response) in ADMIN {
        let mut entry = with_examples(operation(name, path, *status, request(), response(), None), examples);
        if *name == "adminGetEvents" {
            // `format=text`: one line per event.
            entry["responses"]["200"]["content"]["text/plain"] = json!({"schema": string()});
        }
        insert(&mut paths, &format!("/admin{path}"), method, entry);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "skuswap mock Partner Center",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Partner Center REST API v1 as the mock serves it, and the mock's own /admin API. Errors carry Partner Center's body: {code, description, data, source}."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": error()}
        }
    })
}

fn with_examples(mut entry: Value, examples: &Examples) -> Value {
    for p in entry["parameters"].as_array_mut().into_iter().flatten() {
        if let Some(v) = p["name"].as_str().and_then(|n| examples.get(n)) {
            p["example"] = Value::String(v.to_string());
        }
    }
    entry
}

fn insert(paths: &mut Map<String, Value>, path: &str, method: &Method, entry: Value) {
    let item = paths.entry(path.to_string()).or_insert_with(|| json!({}));
    item[method.as_str().to_ascii_lowercase()] = entry;
}

/// One operation: path parameters from the template, the documented success answer, and
/// Partner Center's error body for every other status.
fn operation(name: &str, path: &str, status: u16, request: Option<Value>, response: Value, doc: Option<&str>) -> Value {
    let parameters: Vec<Value> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|p| {
            let schema = if p == "offer_id" { json!({"type": "string"}) } else { uuid() };
            json!({"name": p, "in": "path", "required": true, "schema": schema})
        })
        .chain(query_parameters(name))
        .collect();
    let success = match status {
        204 => json!({"description": "Done; no body."}),
        _ => json!({"description": "Success.", "content": {"application/json": {"schema": response}}}),
    };
    let mut entry = json!({
        "operationId": name,
        "parameters": parameters,
        "responses": {
            status.to_string(): success,
            "default": {"description": "Partner Center's error body.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
    });
    if let Some(body) = request {
        entry["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body}}});
    }
    match doc {
        Some(page) => {
            entry["security"] = json!([{"bearer": []}]);
            entry["externalDocs"] = json!({"url": format!("https://learn.microsoft.com/partner-center/developer/{}", page.trim_end_matches(".md"))});
        }
        None => entry["security"] = json!([]),
    }
    entry
}

fn query_parameters(name: &str) -> Vec<Value> {
    let q = |n: &str, schema: Value| json!({"name": n, "in": "query", "required": false, "schema": schema});
    match name {
        "getCustomers" | "getUsers" => vec![
            q("size", json!({"type": "integer", "minimum": 0, "maximum": 1000})),
            q("seekOperation", json!({"type": "string", "enum": ["next", "Next"]})),
        ],
        "getMigrations" | "getMigrationSchedules" => vec![
            q("CustomerTenantId", uuid()),
            q("CurrentSubscriptionId", uuid()),
            q("ExternalReferenceId", json!({"type": "string"})),
        ],
        "getOffers" | "getOffer" => vec![json!({"name": "country", "in": "query", "required": true,
            "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"}, "example": "US"})],
        "adminGetEvents" => vec![
            q("after", json!({"type": "integer", "minimum": 0})),
            q("limit", json!({"type": "integer", "minimum": 1, "maximum": super::admin::MAX_EVENTS_PAGE})),
            q("format", json!({"type": "string", "enum": ["json", "text"]})),
        ],
        _ => Vec::new(),
    }
}

// ---- schema building blocks -------------------------------------------------------------

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn integer() -> Value {
    json!({"type": "integer"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn array() -> Value {
    json!({"type": "array"})
}

fn object() -> Value {
    json!({"type": "object"})
}

/// An object with these fields, each required (other fields allowed).
fn fields(required: &[(&str, Value)]) -> Value {
    let names: Vec<&str> = required.iter().map(|(n, _)| *n).collect();
    let props: Map<String, Value> = required.iter().map(|(n, s)| (n.to_string(), s.clone())).collect();
    json!({"type": "object", "required": names, "properties": props})
}

/// A Partner Center collection of `item`s (`continuationToken` on seek-based ones).
fn collection(item: Value) -> Value {
    let mut c = fields(&[
        ("totalCount", json!({"type": "integer", "minimum": 0})),
        ("items", json!({"type": "array", "items": item})),
        ("links", object()),
        ("attributes", object()),
    ]);
    c["properties"]["continuationToken"] = string();
    c
}

fn error() -> Value {
    fields(&[("code", integer()), ("description", string()), ("data", array()), ("source", string())])
}

// ---- /v1 ---------------------------------------------------------------------------------

fn customer() -> Value {
    fields(&[
        ("id", uuid()),
        ("companyProfile", object()),
        ("relationshipToPartner", string()),
        ("attributes", object()),
    ])
}

fn subscription() -> Value {
    fields(&[
        ("id", uuid()),
        ("offerId", string()),
        ("offerName", string()),
        ("friendlyName", string()),
        ("quantity", integer()),
        ("status", json!({"type": "string", "enum": ["active", "suspended", "expired", "deleted"]})),
        ("autoRenewEnabled", boolean()),
        ("creationDate", string()),
        ("commitmentEndDate", string()),
        ("billingCycle", string()),
        ("partnerId", nullable("string")),
        ("parentSubscriptionId", nullable("string")),
        ("links", object()),
        ("attributes", object()),
    ])
}

fn order() -> Value {
    fields(&[
        ("id", uuid()),
        ("referenceCustomerId", uuid()),
        ("lineItems", array()),
        ("creationDate", string()),
        ("status", string()),
        ("attributes", object()),
    ])
}

fn user() -> Value {
    fields(&[
        ("id", uuid()),
        ("userPrincipalName", string()),
        ("firstName", string()),
        ("lastName", string()),
        ("displayName", string()),
        ("state", json!({"type": "string", "enum": ["active", "inactive"]})),
        ("attributes", object()),
    ])
}

fn offer() -> Value {
    fields(&[
        ("id", string()),
        ("name", string()),
        ("minimumQuantity", integer()),
        ("maximumQuantity", integer()),
        ("isAddOn", boolean()),
        ("product", object()),
        ("attributes", object()),
    ])
}

fn migration() -> Value {
    fields(&[
        ("id", uuid()),
        ("currentSubscriptionId", uuid()),
        ("status", string()),
        ("customerTenantId", uuid()),
        ("catalogItemId", string()),
        ("quantity", integer()),
        ("termDuration", string()),
        ("billingCycle", string()),
        ("addOnMigrations", array()),
        ("attributes", object()),
    ])
}

fn schedule() -> Value {
    fields(&[
        ("id", uuid()),
        ("currentSubscriptionId", uuid()),
        ("status", string()),
        ("customerTenantId", uuid()),
        ("catalogItemId", string()),
        ("termDuration", string()),
        ("billingCycle", string()),
        ("attributes", object()),
    ])
}

fn transition() -> Value {
    fields(&[
        ("id", uuid()),
        ("fromCatalogItemId", string()),
        ("toCatalogItemId", string()),
        ("fromSubscriptionId", uuid()),
        ("quantity", integer()),
        ("transitionType", string()),
        ("status", string()),
        ("attributes", object()),
    ])
}

/// The success status and body of each `/v1` operation.
fn v1_response(op: Operation) -> (u16, Value) {
    use Operation as O;
    match op {
        O::GetCustomers => (200, collection(customer())),
        O::GetRelationshipRequest => (200, fields(&[("url", string()), ("attributes", object())])),
        O::GetCustomer => (200, customer()),
        O::GetOrders => (200, collection(order())),
        O::CreateOrder => (201, order()),
        O::GetOrder => (200, order()),
        O::GetSubscriptions => (200, collection(subscription())),
        O::GetSubscription | O::UpdateSubscription => (200, subscription()),
        O::GetUpgrades => (200, collection(object())),
        O::CreateUpgrade => (
            200,
            fields(&[
                ("sourceSubscriptionId", uuid()),
                ("upgradeType", string()),
                ("upgradeErrors", array()),
                ("licenseErrors", array()),
            ]),
        ),
        O::GetSubscribedSkus => (200, collection(fields(&[("productSku", object()), ("availableUnits", integer())]))),
        O::GetUsers => (200, collection(user())),
        O::CreateUser => (201, user()),
        O::GetUser | O::UpdateUser => (200, user()),
        O::DeleteUser => (204, Value::Null),
        O::GetUserLicenses => (200, collection(fields(&[("productSku", object()), ("servicePlans", array())]))),
        O::UpdateLicenses => (201, fields(&[("licensesToAssign", array()), ("licenseWarnings", array())])),
        O::GetOffers => (200, collection(offer())),
        O::GetOffer => (200, offer()),
        O::ValidateMigration => {
            (200, fields(&[("currentSubscriptionId", uuid()), ("isEligible", boolean()), ("errors", array())]))
        }
        O::CreateMigration | O::GetMigration => (200, migration()),
        O::GetMigrationEvents => (200, collection(object())),
        O::CreateMigrationSchedule
        | O::UpdateMigrationSchedule
        | O::GetMigrationSchedule
        | O::CancelMigrationSchedule => (200, schedule()),
        O::GetMigrations => (
            200,
            fields(&[
                ("newCommerceMigrations", json!({"type": "array", "items": migration()})),
                ("continuationToken", nullable("string")),
            ]),
        ),
        O::GetMigrationSchedules => (200, collection(schedule())),
        O::GetTransitionEligibilities => (200, collection(object())),
        O::CreateTransition => (200, transition()),
        O::GetTransitions => (200, collection(transition())),
    }
}

/// The request body of each `/v1` operation that takes one.
fn v1_request(op: Operation) -> Option<Value> {
    use Operation as O;
    let new_migration = || {
        fields(&[("currentSubscriptionId", uuid())])
            .as_object()
            .cloned()
            .map(|mut m| {
                for (k, v) in [
                    ("termDuration", string()),
                    ("billingCycle", string()),
                    ("purchaseFullTerm", boolean()),
                    ("quantity", integer()),
                    ("externalReferenceId", string()),
                    ("addOnMigrations", array()),
                ] {
                    m.get_mut("properties").and_then(Value::as_object_mut).map(|p| p.insert(k.into(), v));
                }
                Value::Object(m)
            })
            .unwrap_or_default()
    };
    Some(match op {
        O::CreateOrder => fields(&[(
            "lineItems",
            json!({"type": "array", "items": fields(&[("lineItemNumber", integer()), ("offerId", string()), ("quantity", integer())])}),
        )]),
        O::UpdateSubscription => json!({"type": "object", "properties": {
            "status": {"type": "string", "enum": ["active", "suspended"]},
            "quantity": integer(), "autoRenewEnabled": boolean(), "friendlyName": string()}}),
        O::CreateUpgrade => fields(&[("targetOffer", fields(&[("id", string())])), ("upgradeType", string())]),
        O::CreateUser => fields(&[
            ("userPrincipalName", string()),
            ("firstName", string()),
            ("lastName", string()),
            ("usageLocation", string()),
        ]),
        O::UpdateUser => json!({"type": "object", "properties": {
            "firstName": string(), "lastName": string(), "usageLocation": string(),
            "state": {"type": "string", "enum": ["active"]}}}),
        O::UpdateLicenses => {
            fields(&[("licensesToAssign", array()), ("licensesToRemove", json!({"type": "array", "items": uuid()}))])
        }
        O::ValidateMigration | O::CreateMigration | O::CreateMigrationSchedule => new_migration(),
        O::UpdateMigrationSchedule => new_migration(),
        O::CreateTransition => fields(&[("toCatalogItemId", string()), ("quantity", integer())]),
        _ => return None,
    })
}

// ---- /admin ------------------------------------------------------------------------------

fn none() -> Option<Value> {
    None
}

fn nothing() -> Value {
    Value::Null
}

fn any_object() -> Value {
    object()
}

fn any_object_body() -> Option<Value> {
    Some(object())
}

fn summary() -> Value {
    fields(&[("scenario", string()), ("seed", integer()), ("now", string()), ("customers", integer())])
}

fn scenario_names() -> Value {
    fields(&[("builtin", json!({"type": "array", "items": string()}))])
}

fn scenario_body() -> Option<Value> {
    Some(json!({"type": "object", "properties": {"name": string(), "seed": {"type": "integer", "minimum": 0}}}))
}

fn token_body() -> Option<Value> {
    Some(json!({"type": "object", "additionalProperties": false, "properties": {
        "partnerId": uuid(), "mode": {"type": "string", "enum": ["app", "app+user"]},
        "lifetimeSeconds": {"type": "integer", "minimum": crate::model::signin::MIN_TOKEN_LIFETIME,
            "maximum": crate::model::signin::MAX_TOKEN_LIFETIME}}}))
}

fn issued_token() -> Value {
    fields(&[("accessToken", string()), ("tokenType", string()), ("mode", string())])
}

fn app_body() -> Option<Value> {
    Some(object())
}

fn clock() -> Value {
    fields(&[("now", string())])
}

fn advance_body() -> Option<Value> {
    Some(json!({"type": "object", "additionalProperties": false, "properties": {
        "days": integer(), "hours": integer(), "minutes": integer(), "seconds": integer(), "to": string()}}))
}

fn advanced() -> Value {
    fields(&[("from", string()), ("now", string()), ("steps", integer())])
}

fn events() -> Value {
    fields(&[("events", array())])
}

fn locks() -> Value {
    fields(&[
        ("count", integer()),
        ("p50UnderMicros", integer()),
        ("p99UnderMicros", integer()),
        ("longestMicros", integer()),
    ])
}

fn verdict() -> Value {
    fields(&[("ok", boolean()), ("violations", array())])
}

fn faults() -> Value {
    fields(&[("orderDedupSeconds", integer()), ("presets", array())])
}

fn dedup_body() -> Option<Value> {
    Some(fields(&[("orderDedupSeconds", integer())]))
}

fn accept_body() -> Option<Value> {
    Some(json!({"type": "object", "additionalProperties": false, "properties": {"partnerId": uuid()}}))
}
