//! NCE migration schedules over HTTP: create, update, get, list and cancel, with the
//! `NewCommerceMigrationSchedule` shape.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::error::PcError;
use super::extract::{Caller, PcJson, PcQuery, RequestIds, guid};
use super::migrations::{MigrationBody, parse_date};
use super::operations::Operation;
use super::wire::{self, date, obj};
use crate::Mock;
use crate::model::World;
use crate::model::schedules::{Schedule, ScheduleRequest};

type Reply = Result<Response, PcError>;

/// A schedule's body: a migration's fields plus when. The documented request names the
/// add-ons `addOnMigrations`, the resource `addOnMigrationSchedules`: both are read.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleBody {
    current_subscription_id: Option<String>,
    catalog_item_id: Option<String>,
    term_duration: Option<String>,
    billing_cycle: Option<String>,
    purchase_full_term: Option<bool>,
    quantity: Option<i64>,
    custom_term_end_date: Option<String>,
    external_reference_id: Option<String>,
    add_on_migrations: Option<Vec<MigrationBody>>,
    add_on_migration_schedules: Option<Vec<MigrationBody>>,
    target_date: Option<String>,
    migrate_on_renewal: Option<bool>,
}

impl ScheduleBody {
    fn into_request(self) -> Result<ScheduleRequest, PcError> {
        let target_date = match self.target_date.as_deref().filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(d) => Some(parse_date("targetDate", d)?),
        };
        let add_ons = match (self.add_on_migrations, self.add_on_migration_schedules) {
            (Some(_), Some(_)) => {
                return Err(PcError::invalid_input("Give addOnMigrationSchedules or addOnMigrations, not both."));
            }
            (a, b) => a.or(b),
        };
        let migration = MigrationBody {
            current_subscription_id: self.current_subscription_id,
            catalog_item_id: self.catalog_item_id,
            term_duration: self.term_duration,
            billing_cycle: self.billing_cycle,
            purchase_full_term: self.purchase_full_term,
            quantity: self.quantity,
            custom_term_end_date: self.custom_term_end_date,
            external_reference_id: self.external_reference_id,
            add_on_migrations: add_ons,
        }
        .into_request()?;
        Ok(ScheduleRequest { migration, target_date, migrate_on_renewal: self.migrate_on_renewal.unwrap_or(false) })
    }
}

fn opt<T: ToString>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |x| Value::String(x.to_string()))
}

pub fn schedule(w: &World, s: &Schedule) -> Value {
    let add_ons: Vec<Value> = s
        .add_ons
        .iter()
        .map(|(id, q)| {
            obj([
                ("currentSubscriptionId", id.to_string().into()),
                ("quantity", q.map_or(Value::Null, Value::from)),
                ("termDuration", opt(s.term_duration.as_ref())),
                ("billingCycle", opt(s.billing_cycle.as_ref())),
            ])
        })
        .collect();
    // The item it will buy, when the subscription still has one to migrate to.
    let item = s.catalog_item_id.clone().or_else(|| {
        let sub = w.customer_any(s.customer)?.subscriptions.get(&s.current_subscription_id)?;
        w.migration_target(sub, None)?.nce.as_ref().map(|n| n.catalog_item_id())
    });
    obj([
        ("id", s.id.to_string().into()),
        ("currentSubscriptionId", s.current_subscription_id.to_string().into()),
        ("subscriptionEndDate", date(s.subscription_end_date).into()),
        ("addOnMigrationSchedules", Value::Array(add_ons)),
        ("status", s.status.as_str().into()),
        ("customerTenantId", s.customer.to_string().into()),
        ("catalogItemId", opt(item)),
        ("quantity", s.quantity.map_or(Value::Null, Value::from)),
        ("termDuration", opt(s.term_duration.as_ref())),
        ("billingCycle", opt(s.billing_cycle.as_ref())),
        ("purchaseFullTerm", s.purchase_full_term.into()),
        ("customTermEndDate", opt(s.custom_term_end_date.map(date))),
        ("externalReferenceId", opt(s.external_reference_id.as_ref())),
        ("targetDate", opt(s.target_date.map(date))),
        ("migrateOnRenewal", s.migrate_on_renewal.into()),
        ("createdTime", date(s.created).into()),
        ("lastModifiedTime", date(s.last_modified).into()),
        ("newCommerceMigrationId", opt(s.migration_id)),
        ("errorDescription", opt(s.error_description.as_ref())),
        ("errorCode", s.error_code.map_or(Value::Null, Value::from)),
        ("attributes", obj([("objectType", "NewCommerceMigrationSchedule".into())])),
    ])
}

fn ids_of(cid: &str, id: &str) -> Result<(Uuid, Uuid), PcError> {
    Ok((guid("customer tenant id", cid)?, guid("schedule id", id)?))
}

/// `POST /customers/{c}/migrations/newcommerce/schedules`.
pub async fn create(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    Path(cid): Path<String>,
    PcJson(body): PcJson<ScheduleBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let req = body.into_request()?;
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::CreateMigrationSchedule), caller.actor());
        let id = w.create_schedule(&batch, caller.partner, cid, &req)?;
        Ok(Json(schedule(w, w.schedule_of(caller.partner, cid, id)?)).into_response())
    })
}

/// `PUT /customers/{c}/migrations/newcommerce/schedules/{id}`.
pub async fn update(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    Path((cid, id)): Path<(String, String)>,
    PcJson(body): PcJson<ScheduleBody>,
) -> Reply {
    let (cid, id) = ids_of(&cid, &id)?;
    let req = body.into_request()?;
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::UpdateMigrationSchedule), caller.actor());
        w.update_schedule(&batch, caller.partner, cid, id, &req)?;
        Ok(Json(schedule(w, w.schedule_of(caller.partner, cid, id)?)).into_response())
    })
}

/// `GET /customers/{c}/migrations/newcommerce/schedules/{id}`.
pub async fn get(State(m): State<Mock>, caller: Caller, Path((cid, id)): Path<(String, String)>) -> Reply {
    let (cid, id) = ids_of(&cid, &id)?;
    m.read(|w| Ok(Json(schedule(w, w.schedule_of(caller.partner, cid, id)?)).into_response()))
}

/// `POST /customers/{c}/migrations/newcommerce/schedules/{id}/cancel`.
pub async fn cancel(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    Path((cid, id)): Path<(String, String)>,
) -> Reply {
    let (cid, id) = ids_of(&cid, &id)?;
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::CancelMigrationSchedule), caller.actor());
        w.cancel_schedule(&batch, caller.partner, cid, id)?;
        Ok(Json(schedule(w, w.schedule_of(caller.partner, cid, id)?)).into_response())
    })
}

/// `GET /v1/migrations/newcommerce/schedules?CustomerTenantId=&CurrentSubscriptionId=&ExternalReferenceId=`.
pub async fn list(State(m): State<Mock>, caller: Caller, q: PcQuery) -> Reply {
    let filter = super::migrations::book_filter(&q)?;
    m.read(|w| {
        let items: Vec<Value> =
            w.query_schedules(caller.partner, &filter).into_iter().map(|s| schedule(w, s)).collect();
        Ok(Json(wire::collection(items, "/migrations/newcommerce/schedules".into())).into_response())
    })
}
