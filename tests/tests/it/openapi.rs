//! `/openapi.json` against the server it describes: every documented operation is routed,
//! every route of the admin table is documented, and the pinned response shapes (the insta
//! snapshots) validate against their operation's schema. CI's schemathesis run drives the
//! same document against `skuswap serve` with generated requests.

use axum::http::Method;
use serde_json::Value;
use skuswap_tests::{Harness, TestResult};

/// A JSON Schema subset (what the document uses: type, required, properties, items, enum,
/// format uuid): the first place `value` breaks `schema`, if any.
fn violation(schema: &Value, value: &Value, at: &str) -> Option<String> {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = types.is_empty() || types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    if !fits {
        return Some(format!("{at}: {kind} where the schema says {types:?}"));
    }
    if let Some(allowed) = schema["enum"].as_array().filter(|_| !value.is_null())
        && !allowed.contains(value)
    {
        return Some(format!("{at}: {value} is not one of {allowed:?}"));
    }
    // A snapshot's redaction (`[id]`) stands for a value insta was told not to pin.
    let redacted = value.as_str().is_some_and(|s| s.starts_with('[') && s.ends_with(']'));
    if schema["format"] == "uuid" && !redacted && value.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_err()) {
        return Some(format!("{at}: {value} is not a uuid"));
    }
    for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if value.get(name).is_none() {
            return Some(format!("{at}: required field {name} is missing"));
        }
    }
    for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
        if let Some(v) = value.get(name)
            && let Some(why) = violation(sub, v, &format!("{at}.{name}"))
        {
            return Some(why);
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        return list.iter().enumerate().find_map(|(i, v)| violation(items, v, &format!("{at}[{i}]")));
    }
    None
}

fn document() -> Value {
    mock_server::http::openapi::document(&mock_server::http::openapi::Examples::default())
}

/// The success schema of `operationId`.
fn schema_of(doc: &Value, operation: &str) -> Option<Value> {
    doc["paths"].as_object()?.values().flat_map(|item| item.as_object().into_iter().flatten()).find_map(|(_, op)| {
        (op["operationId"] == operation).then(|| {
            let (_, ok) = op["responses"].as_object()?.iter().find(|(code, _)| code.starts_with('2'))?;
            Some(ok["content"]["application/json"]["schema"].clone())
        })?
    })
}

#[tokio::test]
async fn every_documented_operation_is_served() -> TestResult {
    let h = Harness::article()?;
    let doc = h.get("/openapi.json").await.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut count = 0;
    for (path, item) in doc["paths"].as_object().ok_or("no paths")? {
        for method in item.as_object().ok_or("no methods")?.keys() {
            let concrete = path
                .split('/')
                .map(|s| if s.starts_with('{') { "00000000-0000-4000-8000-000000000000" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes())?;
            let r = h.send(m, &concrete, Some("{}"), &[]).await;
            let unrouted = r.status == 405 || (r.status == 404 && r.text.contains("No such resource"));
            assert!(!unrouted, "{method} {path} is documented but not served: {}", r.text);
            count += 1;
        }
    }
    let expected = mock_server::http::operations::Operation::all().count() + mock_server::http::openapi::ADMIN.len();
    assert_eq!(count, expected, "one documented operation per route");
    Ok(())
}

/// Every route the admin router registers is in the admin table the document is built from
/// (a grep of the router's source: a route added without its row fails here).
#[test]
fn every_admin_route_is_in_the_document() -> TestResult {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../mock-server/src/http/mod.rs"))?;
    let admin = source.split("let admin = Router::new()").nth(1).ok_or("no admin router")?;
    let admin = admin.split(';').next().unwrap_or_default();
    let documented: Vec<&str> = mock_server::http::openapi::ADMIN.iter().map(|r| r.2).collect();
    let mut routes = 0;
    for line in admin.lines().filter(|l| l.trim_start().starts_with(".route(\"")) {
        let path = line.split('"').nth(1).unwrap_or_default();
        assert!(documented.contains(&path), "admin route {path} is not in openapi::ADMIN");
        routes += 1;
    }
    assert!(routes >= 10, "found only {routes} admin routes: the grep is stale");
    Ok(())
}

#[test]
fn the_pinned_shapes_fit_their_schemas() -> TestResult {
    let doc = document();
    let pinned = [
        ("shapes__customer", "getCustomer"),
        ("shapes__customers_list", "getCustomers"),
        ("shapes__subscriptions_list", "getSubscriptions"),
        ("shapes__subscription_suspended", "updateSubscription"),
        ("shapes__order", "getOrder"),
        ("shapes__order_created", "createOrder"),
        ("shapes__orders_list", "getOrders"),
        ("shapes__offer", "getOffer"),
        ("shapes__user", "getUser"),
        ("shapes__users_page", "getUsers"),
        ("shapes__user_licenses", "getUserLicenses"),
        ("shapes__subscribed_skus", "getSubscribedSkus"),
        ("shapes__license_update", "updateLicenses"),
        ("shapes__relationship_request", "getRelationshipRequest"),
        ("shapes__admin_clock", "adminGetClock"),
        ("shapes__admin_advance", "adminAdvanceClock"),
        ("shapes__admin_invariants_after_expiry", "adminGetInvariants"),
        ("users__user_created", "createUser"),
        ("upgrades__upgrade_result", "createUpgrade"),
        ("upgrades__upgrades_eligible", "getUpgrades"),
        ("migrations__migration_created", "createMigration"),
        ("migrations__migration_validate_eligible", "validateMigration"),
        ("migrations__migration_schedule_created", "createMigrationSchedule"),
        ("migrations__nce_subscription_migrated", "getSubscription"),
        ("transitions__transition_created", "createTransition"),
        ("transitions__transition_eligibilities", "getTransitionEligibilities"),
    ];
    let error = doc["components"]["schemas"]["Error"].clone();
    for (snap, operation) in pinned {
        let path = format!("{}/tests/it/snapshots/it__{snap}.snap", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path)?;
        let body: Value = serde_json::from_str(text.splitn(3, "---\n").nth(2).ok_or("no body")?)?;
        let schema = schema_of(&doc, operation).ok_or_else(|| format!("no schema for {operation}"))?;
        assert_eq!(violation(&schema, &body, operation), None, "{snap}");
        // Teeth: the same body with a required field gone is caught.
        let required = schema["required"].as_array().and_then(|r| r.first()).and_then(Value::as_str);
        if let (Some(field), Some(mut broken)) = (required, body.as_object().cloned()) {
            broken.remove(field);
            assert!(violation(&schema, &Value::Object(broken), operation).is_some(), "{snap} without {field}");
        }
    }
    for snap in ["shapes__error_access_denied", "shapes__error_out_of_licenses"] {
        let path = format!("{}/tests/it/snapshots/it__{snap}.snap", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path)?;
        let body: Value = serde_json::from_str(text.splitn(3, "---\n").nth(2).ok_or("no body")?)?;
        assert_eq!(violation(&error, &body, "Error"), None, "{snap}");
    }
    Ok(())
}
