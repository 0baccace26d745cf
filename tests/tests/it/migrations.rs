//! NCE migrations (`…/migrations/newcommerce…`) on the `nce-migration` scenario: the shapes
//! pinned, every eligibility code 0-12 provoked, a bundle completing on the clock with no user
//! ever unlicensed, E4 users moved to the E3 SKU, a failure that reactivates legacy (retry
//! allowed), a failure in limbo judged as the service's, schedules that fire or fail, the
//! documented rate limits, and bad bodies refused with nothing changed.

use axum::http::Method;
use insta::assert_json_snapshot;
use serde_json::{Value, json};
use skuswap_tests::{Harness, TestResult};

const NORTHWIND: &str = "5c0e0000-0000-4000-8000-000000000001";
const NORTHWIND_E3: &str = "5c0e0001-0000-4000-9000-000000000001";
const NORTHWIND_AUDIO: &str = "5c0e0001-0000-4000-9000-000000000002";
const CONTOSO: &str = "5c0e0000-0000-4000-8000-000000000002";
const CONTOSO_E4: &str = "5c0e0002-0000-4000-9000-000000000001";
const CONTOSO_CRM: &str = "5c0e0002-0000-4000-9000-000000000002";
const FABRIKAM: &str = "5c0e0000-0000-4000-8000-000000000003";
const FABRIKAM_E1: &str = "5c0e0003-0000-4000-9000-000000000001";
const FABRIKAM_AUDIO: &str = "5c0e0003-0000-4000-9000-000000000002";
const ADVENTURE: &str = "5c0e0000-0000-4000-8000-000000000004";
const ADVENTURE_SALES: &str = "5c0e0004-0000-4000-9000-000000000001";
const ADVENTURE_TEAM: &str = "5c0e0004-0000-4000-9000-000000000002";
const TAILSPIN: &str = "5c0e0000-0000-4000-8000-000000000005";
const TAILSPIN_CS: &str = "5c0e0005-0000-4000-9000-000000000001";
const TAILSPIN_AX: &str = "5c0e0005-0000-4000-9000-000000000002";
const TAILSPIN_TRIAL: &str = "5c0e0005-0000-4000-9000-000000000003";
const WINGTIP: &str = "5c0e0000-0000-4000-8000-000000000006";
const WINGTIP_FS: &str = "5c0e0006-0000-4000-9000-000000000001";
const WINGTIP_CS: &str = "5c0e0006-0000-4000-9000-000000000002";

fn scenario() -> Result<Harness, Box<dyn std::error::Error>> {
    Harness::builtin("nce-migration", None)
}

fn base(customer: &str) -> String {
    format!("/v1/customers/{customer}/migrations/newcommerce")
}

async fn validate(h: &Harness, customer: &str, body: Value) -> Value {
    let r = h.post(&format!("{}/validate", base(customer)), &body.to_string()).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    r.body
}

fn codes(e: &Value) -> Vec<i64> {
    e["errors"].as_array().into_iter().flatten().filter_map(|x| x["code"].as_i64()).collect()
}

fn events(h: &Harness) -> usize {
    h.mock.read(|w| w.events().len())
}

async fn status(h: &Harness, customer: &str, sub: &str) -> Value {
    h.get(&format!("/v1/customers/{customer}/subscriptions/{sub}")).await.body["status"].clone()
}

#[tokio::test]
async fn a_bundle_validates_with_its_add_on() -> TestResult {
    let h = scenario()?;
    let e = validate(&h, NORTHWIND, json!({"currentSubscriptionId": NORTHWIND_E3})).await;
    assert_json_snapshot!("migration_validate_eligible", e);
    assert_eq!(e["isEligible"], true, "{e}");
    assert_eq!(e["addOnMigrations"][0]["currentSubscriptionId"], NORTHWIND_AUDIO);
    assert_eq!(e["catalogItemId"], "CFQ7TTC0LF8Q:0001:CFQ7TTC0LF8W");
    assert_eq!((e["termDuration"].as_str(), e["billingCycle"].as_str()), (Some("P1Y"), Some("Monthly")));
    Ok(())
}

#[tokio::test]
async fn every_eligibility_code_is_provoked() -> TestResult {
    let h = scenario()?;
    let v = |s: &'static str| json!({"currentSubscriptionId": s});
    let cases: Vec<(&str, Value, i64)> = vec![
        (TAILSPIN, v(TAILSPIN_CS), 0),
        (WINGTIP, v(WINGTIP_FS), 2),
        (FABRIKAM, v(FABRIKAM_AUDIO), 3),
        (FABRIKAM, v(FABRIKAM_E1), 4),
        (TAILSPIN, v(TAILSPIN_AX), 5),
        (CONTOSO, v(CONTOSO_CRM), 5),
        (NORTHWIND, json!({"currentSubscriptionId": NORTHWIND_E3, "termDuration": "P1M", "billingCycle": "Annual"}), 6),
        (ADVENTURE, v(ADVENTURE_TEAM), 7),
        (TAILSPIN, v(TAILSPIN_TRIAL), 8),
        (ADVENTURE, v(ADVENTURE_SALES), 10),
        (WINGTIP, json!({"currentSubscriptionId": WINGTIP_CS, "customTermEndDate": "2022-01-31"}), 11),
        (WINGTIP, json!({"currentSubscriptionId": WINGTIP_CS, "customTermEndDate": "2022-10-15"}), 12),
    ];
    for (customer, body, code) in cases {
        let e = validate(&h, customer, body.clone()).await;
        assert!(codes(&e).contains(&code), "{body}: expected code {code}, got {e}");
        assert_eq!(e["isEligible"], false, "{body}");
    }
    // The fixes: a full term in the last 24 hours, a month-end custom term end.
    let full = json!({"currentSubscriptionId": ADVENTURE_SALES, "purchaseFullTerm": true});
    assert_eq!(validate(&h, ADVENTURE, full).await["isEligible"], true);
    let month_end = json!({"currentSubscriptionId": WINGTIP_CS, "customTermEndDate": "2022-10-31"});
    assert_eq!(validate(&h, WINGTIP, month_end).await["isEligible"], true);
    // 9: a partner id on record that is not an MPN id (on a subscription bought today).
    let offer = h.offer_id("o365-e1");
    let order = json!({"lineItems": [{"lineItemNumber": 0, "offerId": offer, "quantity": 2, "partnerIdOnRecord": "NOT-AN-MPN"}]});
    let r = h.post(&format!("/v1/customers/{NORTHWIND}/orders"), &order.to_string()).await;
    let sub = r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no subscription")?.to_string();
    let e = validate(&h, NORTHWIND, json!({"currentSubscriptionId": sub})).await;
    assert!(codes(&e).contains(&9) && codes(&e).contains(&7), "{e}");
    // 1: already being migrated.
    let r = h.post(&base(WINGTIP), &json!({"currentSubscriptionId": WINGTIP_CS}).to_string()).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(codes(&validate(&h, WINGTIP, json!({"currentSubscriptionId": WINGTIP_CS})).await), [1]);
    // A create refused for eligibility says why and changes nothing.
    let before = events(&h);
    let r = h.post(&base(TAILSPIN), &json!({"currentSubscriptionId": TAILSPIN_AX}).to_string()).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_082)), "{}", r.text);
    assert!(r.text.contains("code 5"), "{}", r.text);
    assert_eq!(events(&h), before);
    Ok(())
}

#[tokio::test]
async fn a_bundle_completes_on_the_clock_and_nobody_is_ever_unlicensed() -> TestResult {
    let h = scenario()?;
    let body = json!({
        "currentSubscriptionId": NORTHWIND_E3,
        "termDuration": "P1Y", "billingCycle": "Annual",
        "externalReferenceId": "a1b2c3d4-0000-4000-8000-00000000batch",
        "addOnMigrations": [{"currentSubscriptionId": NORTHWIND_AUDIO, "termDuration": "P1Y", "billingCycle": "Annual"}]
    });
    let r = h.post(&base(NORTHWIND), &body.to_string()).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_json_snapshot!("migration_created", r.body);
    assert_eq!(r.body["status"], "Processing");
    let id = r.body["id"].as_str().ok_or("no id")?.to_string();
    // Legacy is suspended at once, its seats still serving its users.
    assert_eq!(status(&h, NORTHWIND, NORTHWIND_E3).await, "suspended");
    let skus = h.get(&format!("/v1/customers/{NORTHWIND}/subscribedskus")).await.body;
    let e3 = h.sku_id("o365-e3");
    let e3_row = skus["items"].as_array().into_iter().flatten().find(|i| i["productSku"]["id"] == e3.as_str());
    assert_eq!(e3_row.map(|r| r["activeUnits"].clone()), Some(json!(20)), "{skus}");
    let home = h.get("/").await.text;
    assert!(home.contains("New-commerce migrations") && home.contains("Processing"), "{home}");
    let page = h.get(&format!("/customers/{NORTHWIND}/subscriptions/{NORTHWIND_E3}")).await.text;
    assert!(page.contains("Migrating to new commerce"), "{page}");
    let holders = h.holders(NORTHWIND, "o365-e3");
    h.post("/admin/clock/advance", r#"{"minutes":29}"#).await;
    assert_eq!(h.get(&format!("{}/{id}", base(NORTHWIND))).await.body["status"], "Processing");
    h.post("/admin/clock/advance", r#"{"minutes":1}"#).await;
    let done = h.get(&format!("{}/{id}", base(NORTHWIND))).await.body;
    assert_eq!(done["status"], "Completed", "{done}");
    let nce = done["newCommerceSubscriptionId"].as_str().ok_or("no NCE subscription")?;
    let sub = h.get(&format!("/v1/customers/{NORTHWIND}/subscriptions/{nce}")).await;
    assert_json_snapshot!("nce_subscription_migrated", sub.body);
    assert_eq!(sub.body["migratedFromSubscriptionId"], NORTHWIND_E3);
    assert_eq!(sub.body["productType"]["id"], "OnlineServicesNCE");
    let page = h.get(&format!("/customers/{NORTHWIND}/subscriptions/{nce}")).await.text;
    assert!(page.contains("New commerce · P1Y, billed annual") && page.contains("Migrated from"), "{page}");
    assert!(h.get("/").await.text.contains("Completed"));
    assert!(done["addOnMigrations"][0]["newCommerceSubscriptionId"].is_string(), "{done}");
    assert_eq!(h.holders(NORTHWIND, "o365-e3"), holders, "same SKU: nobody moved");
    let verdict = h.invariants().await;
    assert_eq!(verdict["ok"], true, "{verdict}");
    let events = h.get(&format!("{}/events?migration_id={id}", base(NORTHWIND))).await.body;
    let names: Vec<&str> =
        events["items"].as_array().into_iter().flatten().filter_map(|e| e["eventName"].as_str()).collect();
    assert_eq!(
        names,
        [
            "MigrationStarted",
            "NewCommerceSubscriptionCreated",
            "NewCommerceSubscriptionProvisioned",
            "MigrationCompleted"
        ]
    );
    let q = h.get("/v1/migrations/newcommerce?ExternalReferenceId=a1b2c3d4-0000-4000-8000-00000000batch").await;
    assert_eq!(q.body["newCommerceMigrations"][0]["id"], id.as_str(), "{}", q.text);
    // Legacy stays suspended, billing stopped, and is de-provisioned on the usual schedule; it
    // can never be reactivated (its seats live on in new commerce), nor migrated again.
    assert_eq!(status(&h, NORTHWIND, NORTHWIND_E3).await, "suspended");
    let r = h.set_status(NORTHWIND, NORTHWIND_E3, "active").await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_096)), "{}", r.text);
    assert_eq!(sub.body["commitmentEndDate"], "2022-09-30T00:00:00.000Z", "co-termed without purchaseFullTerm");
    Ok(())
}

#[tokio::test]
async fn e4_users_move_to_the_e3_sku_in_the_completing_step() -> TestResult {
    let h = scenario()?;
    assert_eq!(h.holders(CONTOSO, "o365-e4").len(), 8);
    let r = h.post(&base(CONTOSO), &json!({"currentSubscriptionId": CONTOSO_E4}).to_string()).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    // A held legacy subscription cannot be changed meanwhile.
    let r = h.set_status(CONTOSO, CONTOSO_E4, "active").await;
    assert_eq!(r.status.as_u16(), 409, "{}", r.text);
    h.post("/admin/clock/advance", r#"{"hours":1}"#).await;
    assert_eq!((h.holders(CONTOSO, "o365-e4").len(), h.holders(CONTOSO, "o365-e3").len()), (0, 8));
    let verdict = h.invariants().await;
    assert_eq!(verdict["ok"], true, "{verdict}");
    Ok(())
}

#[tokio::test]
async fn a_failure_reactivates_legacy_and_a_retry_succeeds() -> TestResult {
    let h = scenario()?;
    let plan = json!({"seed": 7, "migrations": {"failure": 1.0, "limbo": 0.0}});
    assert_eq!(h.send(Method::PUT, "/admin/faults", Some(&plan.to_string()), &[]).await.status.as_u16(), 200);
    let body = json!({"currentSubscriptionId": WINGTIP_CS}).to_string();
    let id = h.post(&base(WINGTIP), &body).await.body["id"].as_str().ok_or("no id")?.to_string();
    h.post("/admin/clock/advance", r#"{"hours":1}"#).await;
    let failed = h.get(&format!("{}/{id}", base(WINGTIP))).await.body;
    assert_eq!(failed["status"], "Failed", "{failed}");
    assert_eq!(status(&h, WINGTIP, WINGTIP_CS).await, "active");
    assert_eq!(h.invariants().await["ok"], true);
    h.send(Method::DELETE, "/admin/faults", None, &[]).await;
    let retry = h.post(&base(WINGTIP), &body).await;
    assert_eq!((retry.status.as_u16(), retry.body["status"].as_str()), (200, Some("Processing")), "{}", retry.text);
    Ok(())
}

async fn create(h: &Harness, body: &str, request_id: &str) -> skuswap_tests::Reply {
    h.send(Method::POST, &base(WINGTIP), Some(body), &[("MS-RequestId", request_id)]).await
}

#[tokio::test]
async fn a_lagging_check_takes_a_second_create_and_the_customer_pays_twice() -> TestResult {
    let h = scenario()?;
    let plan = json!({"seed": 7, "migrations": {"lagSeconds": 60}});
    assert_eq!(h.send(Method::PUT, "/admin/faults", Some(&plan.to_string()), &[]).await.status.as_u16(), 200);
    let body = json!({"currentSubscriptionId": WINGTIP_CS}).to_string();
    let first = create(&h, &body, "6e1c0000-0000-4000-8000-000000000001").await.body["id"].clone();
    // The same request again is the same migration; another request id is a second one.
    let repeat = create(&h, &body, "6e1c0000-0000-4000-8000-000000000001").await.body["id"].clone();
    assert_eq!(repeat, first);
    let second = create(&h, &body, "6e1c0000-0000-4000-8000-000000000002").await;
    assert_eq!(second.status.as_u16(), 200, "{}", second.text);
    assert_ne!(second.body["id"], first);
    // After the lag the check sees the hold again.
    h.post("/admin/clock/advance", r#"{"minutes":2}"#).await;
    let third = create(&h, &body, "6e1c0000-0000-4000-8000-000000000003").await;
    assert_eq!(third.status.as_u16(), 400, "{}", third.text);
    h.post("/admin/clock/advance", r#"{"hours":1}"#).await;
    let nce = h.mock.read(|w| {
        w.all_migrations()
            .filter(|m| m.nce_subscription_id.is_some() && m.current_subscription_id.to_string() == WINGTIP_CS)
            .count()
    });
    assert_eq!(nce, 2, "both completed: the customer pays twice");
    let bad = json!({"seed": 7, "migrations": {"lagSeconds": 3601}}).to_string();
    assert_eq!(h.send(Method::PUT, "/admin/faults", Some(&bad), &[]).await.status.as_u16(), 400);
    Ok(())
}

#[tokio::test]
async fn a_failure_in_limbo_is_judged_as_the_service_and_reverted() -> TestResult {
    let h = scenario()?;
    let plan = json!({"seed": 7, "migrations": {"failure": 1.0, "limbo": 1.0, "minutes": 120}});
    h.send(Method::PUT, "/admin/faults", Some(&plan.to_string()), &[]).await;
    let body = json!({"currentSubscriptionId": WINGTIP_CS}).to_string();
    let id = h.post(&base(WINGTIP), &body).await.body["id"].as_str().ok_or("no id")?.to_string();
    h.post("/admin/clock/advance", r#"{"hours":2}"#).await;
    let failed = h.get(&format!("{}/{id}", base(WINGTIP))).await.body;
    assert_eq!(failed["status"], "Failed", "{failed}");
    assert!(failed["errorDescription"].as_str().is_some_and(|d| d.contains("72 hours")), "{failed}");
    assert_eq!(status(&h, WINGTIP, WINGTIP_CS).await, "suspended");
    let verdict = h.invariants().await;
    assert_eq!(verdict["ok"], false);
    let lost: Vec<&Value> =
        verdict["violations"].as_array().into_iter().flatten().filter(|v| v["kind"] == "user_unlicensed").collect();
    assert_eq!(lost.len(), 6, "Wingtip's six Customer Service users: {verdict}");
    assert!(lost.iter().all(|v| v["message"].as_str().is_some_and(|m| m.contains("unavoidable"))), "{verdict}");
    assert_eq!(codes(&validate(&h, WINGTIP, json!({"currentSubscriptionId": WINGTIP_CS})).await), [0]);
    h.post("/admin/clock/advance", r#"{"hours":72}"#).await;
    assert_eq!(status(&h, WINGTIP, WINGTIP_CS).await, "active");
    Ok(())
}

#[tokio::test]
async fn creates_and_validations_meet_their_documented_rate_limits() -> TestResult {
    let h = scenario()?;
    h.send(Method::PUT, "/admin/faults?preset=limits&seed=1", None, &[]).await;
    let refused = json!({"currentSubscriptionId": TAILSPIN_AX}).to_string();
    for n in 0..100 {
        let r = h.post(&base(TAILSPIN), &refused).await;
        assert_eq!(r.status.as_u16(), 400, "create {n}: {}", r.text);
    }
    let r = h.post(&base(NORTHWIND), &json!({"currentSubscriptionId": NORTHWIND_E3}).to_string()).await;
    assert_eq!(r.status.as_u16(), 429, "the 101st create in 5 minutes, any customer: {}", r.text);
    assert!(r.headers.get("retry-after").is_some());
    let check = json!({"currentSubscriptionId": TAILSPIN_CS}).to_string();
    for n in 0..450 {
        let r = h.post(&format!("{}/validate", base(TAILSPIN)), &check).await;
        assert_eq!(r.status.as_u16(), 200, "validation {n}: {}", r.text);
    }
    let r = h.post(&format!("{}/validate", base(TAILSPIN)), &check).await;
    assert_eq!(r.status.as_u16(), 429, "{}", r.text);
    let other =
        h.post(&format!("{}/validate", base(WINGTIP)), &json!({"currentSubscriptionId": WINGTIP_CS}).to_string()).await;
    assert_eq!(other.status.as_u16(), 200, "validations count per customer");
    h.post("/admin/clock/advance", r#"{"minutes":5}"#).await;
    let r = h.post(&base(NORTHWIND), &json!({"currentSubscriptionId": NORTHWIND_E3}).to_string()).await;
    assert_eq!(r.status.as_u16(), 200, "the window has passed: {}", r.text);
    assert_eq!(r.body["addOnMigrations"][0]["currentSubscriptionId"], NORTHWIND_AUDIO, "the add-on goes with its base");
    Ok(())
}

#[tokio::test]
async fn schedules_fire_on_their_date_or_at_renewal_or_record_why_not() -> TestResult {
    let h = scenario()?;
    // One that cannot start when it fires: a subscription less than a month old.
    let young = json!({"currentSubscriptionId": ADVENTURE_TEAM, "targetDate": "2022-03-20"});
    let r = h.post(&format!("{}/schedules", base(ADVENTURE)), &young.to_string()).await;
    let young_id = r.body["id"].as_str().ok_or("no id")?.to_string();
    let schedules = format!("{}/schedules", base(WINGTIP));
    let body = json!({"currentSubscriptionId": WINGTIP_CS, "targetDate": "2022-04-01", "termDuration": "P1Y", "billingCycle": "Monthly"});
    let r = h.post(&schedules, &body.to_string()).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_json_snapshot!("migration_schedule_created", r.body);
    let id = r.body["id"].as_str().ok_or("no id")?.to_string();
    assert_eq!(h.post(&schedules, &body.to_string()).await.status.as_u16(), 409, "one live schedule per subscription");
    let moved = json!({"currentSubscriptionId": WINGTIP_CS, "targetDate": "2022-04-15"});
    let r = h.send(Method::PUT, &format!("{schedules}/{id}"), Some(&moved.to_string()), &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.body["targetDate"].as_str()),
        (200, Some("2022-04-15T00:00:00.000Z")),
        "{}",
        r.text
    );
    let listed = h.get(&format!("/v1/migrations/newcommerce/schedules?CustomerTenantId={WINGTIP}")).await;
    assert_eq!(listed.body["totalCount"], 1, "{}", listed.text);
    h.post("/admin/clock/advance", r#"{"days":31}"#).await;
    let fired = h.get(&format!("{schedules}/{id}")).await.body;
    assert_eq!(fired["status"], "Completed", "{fired}");
    let migration = fired["newCommerceMigrationId"].as_str().ok_or("no migration")?;
    assert_eq!(h.get(&format!("{}/{migration}", base(WINGTIP))).await.body["status"], "Completed");
    // At renewal: fires a day before the term ends, buying a full term.
    let at_renewal = json!({"currentSubscriptionId": NORTHWIND_E3, "migrateOnRenewal": true,
        "addOnMigrationSchedules": [{"currentSubscriptionId": NORTHWIND_AUDIO}]});
    let r = h.post(&format!("{}/schedules", base(NORTHWIND)), &at_renewal.to_string()).await;
    let renewal = r.body["id"].as_str().ok_or("no id")?.to_string();
    h.post("/admin/clock/advance", r#"{"days":190}"#).await;
    let r = h.get(&format!("{}/schedules/{renewal}", base(NORTHWIND))).await.body;
    assert_eq!(r["status"], "Completed", "{r}");
    let r = h.get(&format!("{}/schedules/{young_id}", base(ADVENTURE))).await.body;
    assert_eq!((r["status"].as_str(), r["errorCode"].as_i64()), (Some("Failed"), Some(7)), "{r}");
    // Unmigrated books expire meanwhile (Contoso's E4, Tailspin's AX); the migrated lose nothing.
    let verdict = h.invariants().await;
    let hit: Vec<&Value> = verdict["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["customer"] == NORTHWIND || v["customer"] == WINGTIP)
        .collect();
    assert!(hit.is_empty(), "{hit:?}");
    Ok(())
}

#[tokio::test]
async fn a_schedule_is_cancelled_once_and_refused_where_there_is_nothing_to_move_to() -> TestResult {
    let h = scenario()?;
    let schedules = format!("{}/schedules", base(TAILSPIN));
    let r = h
        .post(&schedules, &json!({"currentSubscriptionId": TAILSPIN_AX, "targetDate": "2022-04-01"}).to_string())
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_082)), "{}", r.text);
    let schedules = format!("{}/schedules", base(WINGTIP));
    let r =
        h.post(&schedules, &json!({"currentSubscriptionId": WINGTIP_CS, "targetDate": "2022-04-01"}).to_string()).await;
    let id = r.body["id"].as_str().ok_or("no id")?.to_string();
    let cancel = format!("{schedules}/{id}/cancel");
    let r = h.post(&cancel, "{}").await;
    assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (200, Some("Cancelled")), "{}", r.text);
    assert_eq!(h.post(&cancel, "{}").await.status.as_u16(), 409);
    h.post("/admin/clock/advance", r#"{"days":30}"#).await;
    assert_eq!(status(&h, WINGTIP, WINGTIP_CS).await, "active", "a cancelled schedule never fires");
    Ok(())
}

#[tokio::test]
async fn bad_migration_requests_are_refused_and_change_nothing() -> TestResult {
    let h = scenario()?;
    let before = events(&h);
    let cases: Vec<(String, String)> = vec![
        (base(NORTHWIND), json!({}).to_string()),
        (base(NORTHWIND), json!({"currentSubscriptionId": "not-a-guid"}).to_string()),
        (base(NORTHWIND), json!({"currentSubscriptionId": NORTHWIND_E3, "termDuration": "P2Y"}).to_string()),
        (base(NORTHWIND), json!({"currentSubscriptionId": NORTHWIND_E3, "quantity": 0}).to_string()),
        (
            base(NORTHWIND),
            json!({"currentSubscriptionId": NORTHWIND_E3, "addOnMigrations": [{"currentSubscriptionId": NORTHWIND_AUDIO,
                "addOnMigrations": [{"currentSubscriptionId": NORTHWIND_AUDIO}]}]})
            .to_string(),
        ),
        (
            base(NORTHWIND),
            json!({"currentSubscriptionId": NORTHWIND_E3, "addOnMigrations": [{"currentSubscriptionId": CONTOSO_E4}]})
                .to_string(),
        ),
        (
            format!("{}/schedules", base(NORTHWIND)),
            json!({"currentSubscriptionId": NORTHWIND_E3, "targetDate": "2022-04-01", "migrateOnRenewal": true})
                .to_string(),
        ),
        (format!("{}/schedules", base(NORTHWIND)), json!({"currentSubscriptionId": NORTHWIND_E3}).to_string()),
        (
            format!("{}/schedules", base(NORTHWIND)),
            json!({"currentSubscriptionId": NORTHWIND_E3, "targetDate": "2021-01-01"}).to_string(),
        ),
        (
            format!("{}/schedules", base(NORTHWIND)),
            json!({"currentSubscriptionId": NORTHWIND_E3, "targetDate": "2022-04-01", "termDuration": "P2Y"}).to_string(),
        ),
    ];
    for (path, body) in cases {
        let r = h.post(&path, &body).await;
        assert_eq!(r.status.as_u16(), 400, "{path} {body}: {}", r.text);
    }
    for path in [
        "/v1/migrations/newcommerce".to_string(),
        format!("/v1/migrations/newcommerce?CustomerTenantId={NORTHWIND}&PageSize=301"),
        format!("/v1/migrations/newcommerce?CustomerTenantId={NORTHWIND}&continuationToken=zz"),
        format!("{}/{}", base(NORTHWIND), NORTHWIND_E3),
    ] {
        let r = h.get(&path).await;
        assert!(matches!(r.status.as_u16(), 400 | 404), "{path}: {}", r.text);
    }
    assert_eq!(events(&h), before);
    Ok(())
}

#[tokio::test]
async fn migration_queries_page_through_a_batch() -> TestResult {
    let h = scenario()?;
    let batch = "b0000000-0000-4000-8000-000000000001";
    for (c, s) in [(WINGTIP, WINGTIP_CS), (CONTOSO, CONTOSO_E4), (ADVENTURE, ADVENTURE_SALES)] {
        let body = json!({"currentSubscriptionId": s, "externalReferenceId": batch, "purchaseFullTerm": true});
        assert_eq!(h.post(&base(c), &body.to_string()).await.status.as_u16(), 200);
    }
    let first = h.get(&format!("/v1/migrations/newcommerce?ExternalReferenceId={batch}&PageSize=2")).await;
    assert_eq!(first.body["newCommerceMigrations"].as_array().map(Vec::len), Some(2), "{}", first.text);
    let token = first.body["continuationToken"].as_str().ok_or("no token")?.to_string();
    assert_eq!(first.headers.get("ms-continuationtoken").and_then(|v| v.to_str().ok()), Some(token.as_str()));
    let next = h
        .send(
            Method::GET,
            &format!("/v1/migrations/newcommerce?ExternalReferenceId={batch}&PageSize=2"),
            None,
            &[("MS-ContinuationToken", &token)],
        )
        .await;
    assert_eq!(next.body["newCommerceMigrations"].as_array().map(Vec::len), Some(1), "{}", next.text);
    assert!(next.body["continuationToken"].is_null());
    let one = h.get(&format!("/v1/migrations/newcommerce?CurrentSubscriptionId={CONTOSO_E4}")).await;
    assert_eq!(one.body["newCommerceMigrations"][0]["customerTenantId"], CONTOSO);
    Ok(())
}

#[tokio::test]
async fn every_answer_is_dated_on_the_virtual_clock() -> TestResult {
    let h = scenario()?;
    let date = |r: &skuswap_tests::Reply| r.headers.get("date").and_then(|v| v.to_str().ok()).map(str::to_string);
    let r = h.get(&format!("/v1/customers/{NORTHWIND}/subscriptions/{NORTHWIND_E3}")).await;
    assert_eq!(date(&r).as_deref(), Some("Tue, 15 Mar 2022 09:00:00 GMT"));
    let r = h.get("/v1/customers/not-a-guid").await;
    assert_eq!((r.status.as_u16(), date(&r).as_deref()), (400, Some("Tue, 15 Mar 2022 09:00:00 GMT")), "errors too");
    h.post("/admin/clock/advance", r#"{"hours":1}"#).await;
    let r = h.get(&format!("/v1/customers/{NORTHWIND}")).await;
    assert_eq!(date(&r).as_deref(), Some("Tue, 15 Mar 2022 10:00:00 GMT"));
    Ok(())
}
