//! NCE migration schedules (`…/migrations/newcommerce/schedules`): a migration asked for
//! now and started later, on a `targetDate` or at the legacy subscription's renewal, by the
//! service on the virtual clock. Eligibility is judged when it fires; a schedule that cannot
//! start records why (`errorCode`, `errorDescription`) and the legacy subscription is left as it
//! was.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::migrations::MigrationRequest;
use super::{Actor, Batch, Cause, EventKind, ModelError, Result, Subject, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleStatus {
    Created,
    Completed,
    Failed,
    Cancelled,
}

impl ScheduleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::Created => "Created",
            ScheduleStatus::Completed => "Completed",
            ScheduleStatus::Failed => "Failed",
            ScheduleStatus::Cancelled => "Cancelled",
        }
    }
}

/// What a schedule asks for, as the wire gives it (validated by the model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleRequest {
    pub migration: MigrationRequest,
    pub target_date: Option<DateTime<Utc>>,
    pub migrate_on_renewal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: Uuid,
    pub customer: Uuid,
    pub partner: Uuid,
    pub current_subscription_id: Uuid,
    pub catalog_item_id: Option<String>,
    pub term_duration: Option<String>,
    pub billing_cycle: Option<String>,
    pub purchase_full_term: bool,
    pub quantity: Option<i64>,
    pub custom_term_end_date: Option<DateTime<Utc>>,
    pub external_reference_id: Option<String>,
    /// Add-ons migrating with the base: `(subscription, quantity)`.
    pub add_ons: Vec<(Uuid, Option<i64>)>,
    pub target_date: Option<DateTime<Utc>>,
    pub migrate_on_renewal: bool,
    pub status: ScheduleStatus,
    pub subscription_end_date: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub migration_id: Option<Uuid>,
    pub error_code: Option<i64>,
    pub error_description: Option<String>,
    /// When it fires (decided when it is created or updated).
    #[serde(default)]
    pub fire_at: Option<DateTime<Utc>>,
}

impl Schedule {
    /// When it fires, while it may.
    pub fn fires_at(&self) -> Option<DateTime<Utc>> {
        if self.status != ScheduleStatus::Created { None } else { self.fire_at }
    }

    /// Its target date, or at renewal: a day before the legacy term ends, earlier when
    /// migrations take longer than that (a migration at renewal buys a full term, so the
    /// last-24-hours rule does not stop it; the term must not end before it completes).
    fn firing(target_date: Option<DateTime<Utc>>, end: DateTime<Utc>, migration_minutes: i64) -> Option<DateTime<Utc>> {
        let lead = Duration::days(1).max(Duration::minutes(migration_minutes + 60));
        target_date.or_else(|| end.checked_sub_signed(lead))
    }

    fn request(&self) -> MigrationRequest {
        MigrationRequest {
            current_subscription_id: self.current_subscription_id,
            catalog_item_id: self.catalog_item_id.clone(),
            term_duration: self.term_duration.clone(),
            billing_cycle: self.billing_cycle.clone(),
            purchase_full_term: self.purchase_full_term || self.migrate_on_renewal,
            quantity: self.quantity,
            custom_term_end_date: self.custom_term_end_date,
            external_reference_id: self.external_reference_id.clone(),
            add_ons: self
                .add_ons
                .iter()
                .map(|(s, q)| MigrationRequest {
                    current_subscription_id: *s,
                    quantity: *q,
                    term_duration: self.term_duration.clone(),
                    billing_cycle: self.billing_cycle.clone(),
                    purchase_full_term: self.purchase_full_term || self.migrate_on_renewal,
                    ..MigrationRequest::default()
                })
                .collect(),
        }
    }
}

/// What the checks found: the legacy term's end, and the item and term, spelt canonically
/// (a schedule stores these, never the client's raw strings).
struct Checked {
    end: DateTime<Utc>,
    item: Option<String>,
    term: super::nce::Term,
}

/// Schedules one subscription may accumulate (cancelled ones included): a bound on the world.
pub const MAX_SCHEDULES: usize = 100;

impl World {
    /// `POST …/schedules`: checked (the subscription, the date, one live schedule per
    /// subscription, an NCE item to move to), then recorded; nothing else changes.
    pub fn create_schedule(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        req: &ScheduleRequest,
    ) -> Result<Uuid> {
        let checked = self.check_schedule(partner, customer, req, None)?;
        let end = checked.end;
        let id = self.ids.next_uuid();
        let now = self.now;
        let m = &req.migration;
        let schedule = Schedule {
            id,
            customer,
            partner,
            current_subscription_id: m.current_subscription_id,
            catalog_item_id: checked.item,
            term_duration: Some(checked.term.term_duration.as_str().to_string()),
            billing_cycle: Some(checked.term.billing_cycle.as_str().to_string()),
            purchase_full_term: m.purchase_full_term,
            quantity: m.quantity,
            custom_term_end_date: m.custom_term_end_date,
            external_reference_id: m.external_reference_id.clone(),
            add_ons: m.add_ons.iter().map(|a| (a.current_subscription_id, a.quantity)).collect(),
            target_date: req.target_date,
            migrate_on_renewal: req.migrate_on_renewal,
            status: ScheduleStatus::Created,
            subscription_end_date: end,
            created: now,
            last_modified: now,
            migration_id: None,
            error_code: None,
            error_description: None,
            fire_at: Schedule::firing(req.target_date, end, self.migration_minutes()),
        };
        self.schedules.insert(id, schedule);
        self.log_schedule(batch, id, "created");
        self.schedule_firing(id);
        Ok(id)
    }

    /// `PUT …/schedules/{id}`: only a schedule that has not fired or been cancelled changes.
    pub fn update_schedule(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        id: Uuid,
        req: &ScheduleRequest,
    ) -> Result<()> {
        let current = self.schedule_of(partner, customer, id)?;
        if current.status != ScheduleStatus::Created {
            return Err(ModelError::ScheduleConflict(format!(
                "Schedule {id} is {} and can no longer change.",
                current.status.as_str()
            )));
        }
        if req.migration.current_subscription_id != current.current_subscription_id {
            return Err(ModelError::InvalidInput("currentSubscriptionId of a schedule cannot change.".into()));
        }
        let checked = self.check_schedule(partner, customer, req, Some(id))?;
        let fire_at = Schedule::firing(req.target_date, checked.end, self.migration_minutes());
        let now = self.now;
        let m = &req.migration;
        if let Some(s) = self.schedules.get_mut(&id) {
            s.catalog_item_id = checked.item;
            s.term_duration = Some(checked.term.term_duration.as_str().to_string());
            s.billing_cycle = Some(checked.term.billing_cycle.as_str().to_string());
            s.purchase_full_term = m.purchase_full_term;
            s.quantity = m.quantity;
            s.custom_term_end_date = m.custom_term_end_date;
            s.external_reference_id = m.external_reference_id.clone();
            s.add_ons = m.add_ons.iter().map(|a| (a.current_subscription_id, a.quantity)).collect();
            s.target_date = req.target_date;
            s.migrate_on_renewal = req.migrate_on_renewal;
            s.last_modified = now;
            s.fire_at = fire_at;
        }
        self.log_schedule(batch, id, "updated");
        self.schedule_firing(id);
        Ok(())
    }

    /// `POST …/schedules/{id}/cancel`.
    pub fn cancel_schedule(&mut self, batch: &Batch, partner: Uuid, customer: Uuid, id: Uuid) -> Result<()> {
        let current = self.schedule_of(partner, customer, id)?;
        if current.status != ScheduleStatus::Created {
            return Err(ModelError::ScheduleConflict(format!(
                "Schedule {id} is {} and cannot be cancelled.",
                current.status.as_str()
            )));
        }
        let now = self.now;
        if let Some(s) = self.schedules.get_mut(&id) {
            s.status = ScheduleStatus::Cancelled;
            s.last_modified = now;
        }
        self.log_schedule(batch, id, "cancelled");
        Ok(())
    }

    pub fn schedule_of(&self, partner: Uuid, customer: Uuid, id: Uuid) -> Result<&Schedule> {
        self.customer_of(partner, customer)?;
        self.schedules
            .get(&id)
            .filter(|s| s.partner == partner && s.customer == customer)
            .ok_or(ModelError::ScheduleNotFound(id))
    }

    /// `GET /v1/migrations/newcommerce/schedules?…`: this partner's, oldest first.
    pub fn query_schedules(&self, partner: Uuid, q: &super::migrations::MigrationQuery) -> Vec<&Schedule> {
        let mut found: Vec<&Schedule> = self
            .schedules
            .values()
            .filter(|s| s.partner == partner)
            .filter(|s| q.matches(s.customer, s.current_subscription_id, s.external_reference_id.as_deref()))
            .collect();
        found.sort_by_key(|s| (s.created, s.id));
        found
    }

    /// The checks shared by create and update; returns what a schedule stores of them.
    fn check_schedule(
        &self,
        partner: Uuid,
        customer: Uuid,
        req: &ScheduleRequest,
        updating: Option<Uuid>,
    ) -> Result<Checked> {
        if req.migration.external_reference_id.as_ref().is_some_and(|e| e.chars().count() > 128) {
            return Err(ModelError::InvalidInput("externalReferenceId is longer than 128 characters.".into()));
        }
        let sub = self.subscription_of(partner, customer, req.migration.current_subscription_id)?;
        let (now, end) = (self.now, sub.commitment_end_date);
        match (req.target_date, req.migrate_on_renewal) {
            (Some(_), true) => {
                return Err(ModelError::InvalidInput("Give targetDate or migrateOnRenewal, not both.".into()));
            }
            (None, false) => {
                return Err(ModelError::InvalidInput("targetDate is required unless migrateOnRenewal is true.".into()));
            }
            (Some(t), false) if t <= now || t >= end => {
                return Err(ModelError::InvalidInput(
                    "targetDate must be in the future and before the subscription's term ends.".into(),
                ));
            }
            _ => {}
        }
        let Some(target) = self.migration_target(sub, req.migration.catalog_item_id.as_deref()) else {
            return Err(ModelError::MigrationIneligible {
                code: super::migrations::EligibilityCode::NewCommerceProductUnavailable.number(),
                reason: "The equivalent offer is not yet available in New Commerce.".into(),
            });
        };
        // The term is judged now, not when it fires: a schedule nobody could carry out is refused.
        let m = &req.migration;
        let term = super::nce::requested_term(target, m.term_duration.as_deref(), m.billing_cycle.as_deref())?;
        if !target.nce.as_ref().is_some_and(|n| n.sells(term)) {
            return Err(ModelError::InvalidInput(format!(
                "{} is not sold for a {} term billed {}.",
                target.name,
                term.term_duration.as_str(),
                term.billing_cycle.as_str()
            )));
        }
        if self.schedules.values().filter(|s| s.current_subscription_id == sub.id).count() >= MAX_SCHEDULES {
            return Err(ModelError::ScheduleConflict(format!(
                "Subscription {} already has {MAX_SCHEDULES} schedules.",
                sub.id
            )));
        }
        let live = self.schedules.values().any(|s| {
            s.current_subscription_id == sub.id && s.status == ScheduleStatus::Created && Some(s.id) != updating
        });
        if live {
            return Err(ModelError::ScheduleConflict(format!(
                "Subscription {} already has a migration schedule; update or cancel it.",
                sub.id
            )));
        }
        let item = target.nce.as_ref().map(|n| n.catalog_item_id());
        Ok(Checked { end, item, term })
    }

    pub(crate) fn schedule_firing(&mut self, id: Uuid) {
        if let Some(s) = self.schedules.get(&id)
            && let Some(at) = s.fires_at()
        {
            self.deadlines.insert((at, s.customer, id));
        }
    }

    /// A schedule comes due: start its migration, or record why it could not start.
    pub(crate) fn fire_schedule(&mut self, id: Uuid, at: DateTime<Utc>) -> bool {
        let Some(s) = self.schedules.get(&id).cloned() else {
            return false;
        };
        if s.fires_at() != Some(at) {
            return false;
        }
        let batch = self.open_batch(Cause::ClockStep, Actor::Service);
        let started = self.create_migration(&batch, s.partner, s.customer, &s.request());
        let now = self.now;
        let what = match &started {
            Ok(_) => "fired",
            Err(_) => "failed",
        };
        if let Some(entry) = self.schedules.get_mut(&id) {
            entry.last_modified = now;
            match started {
                Ok(m) => {
                    entry.status = ScheduleStatus::Completed;
                    entry.migration_id = Some(m);
                }
                Err(e) => {
                    entry.status = ScheduleStatus::Failed;
                    entry.error_code = Some(match &e {
                        ModelError::MigrationIneligible { code, .. } => *code,
                        _ => -1,
                    });
                    entry.error_description = Some(e.to_string());
                }
            }
        }
        self.log_schedule(&batch, id, what);
        true
    }

    fn log_schedule(&mut self, batch: &Batch, id: Uuid, what: &str) {
        let Some(s) = self.schedules.get(&id) else {
            return;
        };
        let subject =
            Subject { customer: Some(s.customer), subscription: Some(s.current_subscription_id), ..Subject::default() };
        self.log(batch, subject, EventKind::MigrationScheduleChanged { schedule: id, what: what.to_string() });
    }
}
