//! NCE migrations over HTTP: validate, create, get, query and events, with their JSON shapes
//! (`NewCommerceEligibility`, `NewCommerceMigration`, `NewCommerceMigrationEvent`)
//! translated to and from the model's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::error::PcError;
use super::extract::{Caller, PcJson, PcQuery, RequestIds, guid};
use super::operations::Operation;
use super::wire::{self, date, obj};
use crate::Mock;
use crate::model::migrations::{Eligibility, Migration, MigrationEvent, MigrationQuery, MigrationRequest};
use crate::model::nce::Term;

type Reply = Result<Response, PcError>;

/// The body of validate and create (and, with a date, of a schedule): the documented fields;
/// read-only ones a client echoes back (`id`, `status`, …) are ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MigrationBody {
    pub current_subscription_id: Option<String>,
    pub catalog_item_id: Option<String>,
    pub term_duration: Option<String>,
    pub billing_cycle: Option<String>,
    pub purchase_full_term: Option<bool>,
    pub quantity: Option<i64>,
    pub custom_term_end_date: Option<String>,
    pub external_reference_id: Option<String>,
    pub add_on_migrations: Option<Vec<MigrationBody>>,
}

/// A date-time or a bare date (midnight UTC), as Microsoft's examples send both.
pub fn parse_date(field: &str, s: &str) -> Result<DateTime<Utc>, PcError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = s.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    day.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| PcError::invalid_input(format!("{field} {s:?} is not a date (2024-01-31 or RFC 3339).")))
}

impl MigrationBody {
    /// The model's request; `add_ons` are read from `addOnMigrations` (flat, as documented).
    pub fn into_request(self) -> Result<MigrationRequest, PcError> {
        let id = self
            .current_subscription_id
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| PcError::invalid_input("currentSubscriptionId is required."))?;
        let add_ons = self.add_on_migrations.unwrap_or_default();
        if add_ons.len() > 100 {
            return Err(PcError::invalid_input("addOnMigrations: at most 100 add-ons."));
        }
        Ok(MigrationRequest {
            current_subscription_id: guid("currentSubscriptionId", id)?,
            catalog_item_id: self.catalog_item_id.filter(|s| !s.trim().is_empty()),
            term_duration: self.term_duration.filter(|s| !s.trim().is_empty()),
            billing_cycle: self.billing_cycle.filter(|s| !s.trim().is_empty()),
            purchase_full_term: self.purchase_full_term.unwrap_or(false),
            quantity: self.quantity,
            custom_term_end_date: match self.custom_term_end_date.as_deref().filter(|s| !s.trim().is_empty()) {
                None => None,
                Some(d) => Some(parse_date("customTermEndDate", d)?),
            },
            external_reference_id: self.external_reference_id.filter(|s| !s.trim().is_empty()),
            add_ons: add_ons
                .into_iter()
                .map(|a| {
                    if a.add_on_migrations.as_ref().is_some_and(|n| !n.is_empty()) {
                        return Err(PcError::invalid_input(
                            "addOnMigrations is a flat list: list nested add-ons at the top level.",
                        ));
                    }
                    a.into_request()
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

fn opt_date(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| date(t).into())
}

fn term_fields(term: Option<Term>) -> (Value, Value) {
    match term {
        Some(t) => (t.term_duration.as_str().into(), t.billing_cycle.as_str().into()),
        None => (Value::Null, Value::Null),
    }
}

pub fn eligibility(e: &Eligibility) -> Value {
    let (term, billing) = term_fields(e.term);
    let errors: Vec<Value> = e
        .errors
        .iter()
        .map(|x| obj([("code", x.code.number().into()), ("description", x.description.clone().into())]))
        .collect();
    obj([
        ("currentSubscriptionId", e.current_subscription_id.to_string().into()),
        ("isEligible", e.is_eligible().into()),
        ("termDuration", term),
        ("billingCycle", billing),
        ("catalogItemId", e.catalog_item_id.clone().map_or(Value::Null, Value::from)),
        ("customTermEndDate", opt_date(e.custom_term_end_date)),
        ("errors", Value::Array(errors)),
        ("addOnMigrations", Value::Array(e.add_ons.iter().map(eligibility).collect())),
        ("attributes", obj([("objectType", "NewCommerceEligibility".into())])),
    ])
}

pub fn migration(m: &Migration) -> Value {
    let (term, billing) = term_fields(Some(m.term));
    let add_ons: Vec<Value> = m
        .add_ons
        .iter()
        .map(|a| {
            let (term, billing) = term_fields(Some(a.term));
            obj([
                ("currentSubscriptionId", a.current_subscription_id.to_string().into()),
                ("catalogItemId", a.catalog_item_id.clone().into()),
                ("quantity", a.quantity.into()),
                ("termDuration", term),
                ("billingCycle", billing),
                ("newCommerceSubscriptionId", a.nce_subscription_id.map_or(Value::Null, |s| s.to_string().into())),
            ])
        })
        .collect();
    let mut v = obj([
        ("id", m.id.to_string().into()),
        ("startedTime", date(m.started).into()),
        ("completedTime", opt_date(m.completed)),
        ("currentSubscriptionId", m.current_subscription_id.to_string().into()),
        ("status", m.status.as_str().into()),
        ("customerTenantId", m.customer.to_string().into()),
        ("catalogItemId", m.catalog_item_id.clone().into()),
        ("newCommerceSubscriptionId", m.nce_subscription_id.map_or(Value::Null, |s| s.to_string().into())),
        ("newCommerceOrderId", m.nce_order_id.map_or(Value::Null, |s| s.to_string().into())),
        ("subscriptionEndDate", date(m.subscription_end_date).into()),
        ("customTermEndDate", opt_date(m.custom_term_end_date)),
        ("quantity", m.quantity.into()),
        ("termDuration", term),
        ("billingCycle", billing),
        ("purchaseFullTerm", m.purchase_full_term.into()),
        ("externalReferenceId", m.external_reference_id.clone().into()),
        ("addOnMigrations", Value::Array(add_ons)),
        ("attributes", obj([("objectType", "NewCommerceMigration".into())])),
    ]);
    if let Some(e) = &m.error {
        v["errorDescription"] = e.clone().into();
    }
    v
}

fn event(m: &Migration, e: &MigrationEvent) -> Value {
    obj([
        ("id", e.id.to_string().into()),
        ("newCommerceMigrationId", m.id.to_string().into()),
        ("currentSubscriptionId", m.current_subscription_id.to_string().into()),
        ("customerTenantId", m.customer.to_string().into()),
        ("createdTime", date(e.at).into()),
        ("eventName", e.name.as_str().into()),
        ("attributes", obj([("objectType", "NewCommerceMigrationEvent".into())])),
    ])
}

/// `POST /customers/{c}/migrations/newcommerce/validate`.
pub async fn validate(
    State(m): State<Mock>,
    caller: Caller,
    Path(cid): Path<String>,
    PcJson(body): PcJson<MigrationBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let req = body.into_request()?;
    m.read(|w| Ok(Json(eligibility(&w.validate_migration(caller.partner, cid, &req)?)).into_response()))
}

/// `POST /customers/{c}/migrations/newcommerce`.
pub async fn create(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    Path(cid): Path<String>,
    PcJson(body): PcJson<MigrationBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let req = body.into_request()?;
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::CreateMigration), caller.actor());
        let id = w.create_migration(&batch, caller.partner, cid, &req)?;
        let made = w.migration_of(caller.partner, cid, id)?;
        Ok(Json(migration(made)).into_response())
    })
}

/// `GET /customers/{c}/migrations/newcommerce/{id}`.
pub async fn get(State(m): State<Mock>, caller: Caller, Path((cid, id)): Path<(String, String)>) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let id = guid("migration id", &id)?;
    m.read(|w| Ok(Json(migration(w.migration_of(caller.partner, cid, id)?)).into_response()))
}

/// `CustomerTenantId`, `CurrentSubscriptionId`, `ExternalReferenceId`: the filters of the
/// migration and schedule queries.
pub fn book_filter(q: &PcQuery) -> Result<MigrationQuery, PcError> {
    let id = |name: &str, shown: &str| q.get(name).filter(|s| !s.is_empty()).map(|s| guid(shown, s)).transpose();
    Ok(MigrationQuery {
        customer: id("customertenantid", "CustomerTenantId")?,
        current_subscription_id: id("currentsubscriptionid", "CurrentSubscriptionId")?,
        external_reference_id: q.get("externalreferenceid").filter(|s| !s.is_empty()).map(str::to_string),
    })
}

/// Largest `PageSize` of a migration query, as documented.
const MAX_MIGRATION_PAGE: usize = 300;

/// `GET /v1/migrations/newcommerce?CustomerTenantId=&CurrentSubscriptionId=&ExternalReferenceId=`:
/// the SDK's shape (`newCommerceMigrations`, `continuationToken`), the token also in the
/// `MS-ContinuationToken` header both ways.
pub async fn query(State(m): State<Mock>, caller: Caller, q: PcQuery, headers: HeaderMap) -> Reply {
    let filter = book_filter(&q)?;
    let size = match q.get("pagesize") {
        None | Some("") => MAX_MIGRATION_PAGE,
        Some(s) => s.parse::<usize>().ok().filter(|n| (1..=MAX_MIGRATION_PAGE).contains(n)).ok_or_else(|| {
            PcError::invalid_input(format!(
                "PageSize must be a whole number from 1 to {MAX_MIGRATION_PAGE}, not {s:?}."
            ))
        })?,
    };
    let token = headers
        .get("MS-ContinuationToken")
        .and_then(|v| v.to_str().ok())
        .or_else(|| q.get("continuationtoken"))
        .filter(|t| !t.is_empty());
    // Bound to the partner and the filter: a token resumes only the query that made it.
    let kind = format!("migrations.{}.{filter:?}", caller.partner.simple());
    m.read(|w| {
        let found = w.query_migrations(caller.partner, &filter)?;
        let offset = match token {
            None => 0,
            Some(t) => super::paging::open(w.seed(), &kind, t)
                .ok_or_else(|| PcError::invalid_input(format!("The continuation token {t:?} is not valid.")))?
                .resume(found.iter().map(|m| m.id)),
        };
        let shown: Vec<_> = found.iter().skip(offset).take(size).collect();
        let page: Vec<Value> = shown.iter().map(|x| migration(x)).collect();
        let next = shown.last().filter(|_| offset + page.len() < found.len()).map(|last| {
            super::paging::seal(w.seed(), &kind, &super::paging::Cursor { offset: offset + page.len(), after: last.id })
        });
        let body = obj([
            ("newCommerceMigrations", Value::Array(page)),
            ("continuationToken", next.clone().map_or(Value::Null, Value::from)),
            ("attributes", obj([("objectType", "GetNewCommerceMigrationsResponse".into())])),
        ]);
        let mut resp = Json(body).into_response();
        if let Some(v) = next.and_then(|t| HeaderValue::from_str(&t).ok()) {
            resp.headers_mut().insert("MS-ContinuationToken", v);
        }
        Ok(resp)
    })
}

/// `GET /customers/{c}/migrations/newcommerce/events?migration_id=&current_subscription_id=`.
pub async fn events(State(m): State<Mock>, caller: Caller, Path(cid): Path<String>, q: PcQuery) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let id = |names: [&str; 2], what: &str| {
        names.iter().find_map(|n| q.get(n)).filter(|s| !s.is_empty()).map(|s| guid(what, s)).transpose()
    };
    let migration = id(["migration_id", "migrationid"], "migration_id")?;
    let subscription = id(["current_subscription_id", "currentsubscriptionid"], "current_subscription_id")?;
    m.read(|w| {
        let items: Vec<Value> = w
            .migration_events(caller.partner, cid, migration, subscription)?
            .into_iter()
            .map(|(m, e)| event(m, e))
            .collect();
        let uri = format!("/customers/{cid}/migrations/newcommerce/events");
        Ok(Json(wire::collection(items, uri)).into_response())
    })
}
