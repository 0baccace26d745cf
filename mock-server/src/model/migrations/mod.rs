//! Legacy-to-new-commerce migrations (`…/migrations/newcommerce`): a migration starts
//! `Processing`, and on the virtual clock completes or fails; its events and queries.
//!
//! **The seat hand-over** (README repeats it; the effective-license rule and the judge follow
//! it). When a migration starts, the legacy subscription and its add-ons are suspended and
//! their billing stops, but their seats stay in service for the users who hold them, held by
//! the migration. On completion, in one step, the NCE subscriptions are bought (carrying
//! `migratedFromSubscriptionId`), users are moved to the NCE SKU where it differs from the
//! legacy one (same SKU: nothing to move), and the hold ends, leaving legacy suspended. On a
//! failure the hold ends too: either legacy is active again at once (a retry is allowed), or
//! it stays suspended, so its users are without service, until Microsoft reverts it after
//! `migrationRevertHours`: the limbo partners dread, which the judge reports as the service's.
//!
//! # Layout
//! - `eligibility`: codes 0-12 and the rules behind them.
//! - `outcome`: what the clock does to a migration (complete, fail, revert).

pub mod eligibility;
mod outcome;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use eligibility::{Eligibility, EligibilityCode, EligibilityError};

use super::nce::Term;
use super::{Batch, EventKind, ModelError, Result, Subject, SubscriptionStatus, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MigrationStatus {
    Processing,
    Completed,
    Failed,
}

impl MigrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::Processing => "Processing",
            MigrationStatus::Completed => "Completed",
            MigrationStatus::Failed => "Failed",
        }
    }
}

/// What a validation or a creation asks for (the documented body; `addOnMigrations` flat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationRequest {
    pub current_subscription_id: Uuid,
    /// The target item; default: the legacy offer's NCE successor.
    pub catalog_item_id: Option<String>,
    pub term_duration: Option<String>,
    pub billing_cycle: Option<String>,
    pub purchase_full_term: bool,
    pub quantity: Option<i64>,
    pub custom_term_end_date: Option<DateTime<Utc>>,
    pub external_reference_id: Option<String>,
    pub add_ons: Vec<MigrationRequest>,
}

/// Decided when a migration is created (from the fault plan's seeded draws), acted out when
/// it comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Complete,
    /// Fails; `limbo`: the legacy subscription stays suspended until reverted.
    Fail {
        limbo: bool,
    },
}

/// `NewCommerceMigrationEvent.eventName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MigrationEventName {
    MigrationStarted,
    NewCommerceSubscriptionCreated,
    NewCommerceSubscriptionProvisioned,
    MigrationCompleted,
    MigrationFailed,
}

impl MigrationEventName {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationEventName::MigrationStarted => "MigrationStarted",
            MigrationEventName::NewCommerceSubscriptionCreated => "NewCommerceSubscriptionCreated",
            MigrationEventName::NewCommerceSubscriptionProvisioned => "NewCommerceSubscriptionProvisioned",
            MigrationEventName::MigrationCompleted => "MigrationCompleted",
            MigrationEventName::MigrationFailed => "MigrationFailed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationEvent {
    pub id: Uuid,
    pub name: MigrationEventName,
    pub at: DateTime<Utc>,
}

/// One add-on migrating with its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddOnMigration {
    pub current_subscription_id: Uuid,
    pub catalog_item_id: String,
    pub quantity: u32,
    pub term: Term,
    #[serde(default)]
    pub nce_subscription_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    pub id: Uuid,
    pub customer: Uuid,
    pub partner: Uuid,
    pub current_subscription_id: Uuid,
    pub status: MigrationStatus,
    pub started: DateTime<Utc>,
    pub completed: Option<DateTime<Utc>>,
    pub catalog_item_id: String,
    pub nce_subscription_id: Option<Uuid>,
    pub nce_order_id: Option<Uuid>,
    /// The legacy subscription's term end.
    pub subscription_end_date: DateTime<Utc>,
    pub custom_term_end_date: Option<DateTime<Utc>>,
    pub quantity: u32,
    pub term: Term,
    pub purchase_full_term: bool,
    pub external_reference_id: String,
    pub add_ons: Vec<AddOnMigration>,
    pub outcome: Outcome,
    /// When it completes or fails.
    pub due: DateTime<Utc>,
    /// After a failure in limbo: when Microsoft reverts it (legacy active again).
    pub revert_at: Option<DateTime<Utc>>,
    pub events: Vec<MigrationEvent>,
    pub error: Option<String>,
    /// The `MS-RequestId` that created it: a repeat of the same request is the same migration.
    #[serde(default)]
    pub request_id: String,
}

impl Migration {
    /// Its next clock deadline, if any.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        match self.status {
            MigrationStatus::Processing => Some(self.due),
            _ => self.revert_at,
        }
    }
}

/// The filters of `GET /v1/migrations/newcommerce` and of its schedules: every one given must
/// match (at least one is required for migrations).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationQuery {
    pub customer: Option<Uuid>,
    pub current_subscription_id: Option<Uuid>,
    pub external_reference_id: Option<String>,
}

impl MigrationQuery {
    pub fn is_empty(&self) -> bool {
        self.customer.is_none() && self.current_subscription_id.is_none() && self.external_reference_id.is_none()
    }

    /// Does a record of this customer, subscription and batch match?
    pub fn matches(&self, customer: Uuid, subscription: Uuid, batch: Option<&str>) -> bool {
        self.customer.is_none_or(|c| c == customer)
            && self.current_subscription_id.is_none_or(|s| s == subscription)
            && self.external_reference_id.as_deref().is_none_or(|e| batch.is_some_and(|b| b.eq_ignore_ascii_case(e)))
    }
}

impl World {
    /// `POST …/migrations/newcommerce`: validated as `…/validate` would, then started. An
    /// ineligible request changes nothing and is refused with its first reason.
    pub fn create_migration(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        req: &MigrationRequest,
    ) -> Result<Uuid> {
        if let Some(first) = self.unseen_migration(partner, customer, req.current_subscription_id) {
            // The same request again (a lost answer) is whichever migration it made.
            let rid = request_id(batch);
            let repeated = self.migrations.values().find(|m| {
                m.current_subscription_id == req.current_subscription_id
                    && m.status == MigrationStatus::Processing
                    && !rid.is_empty()
                    && m.request_id == rid
            });
            if let Some(m) = repeated {
                return Ok(m.id);
            }
            return self.migrate_again(batch, first, req);
        }
        let eligibility = self.validate_migration(partner, customer, req)?;
        if let Some(e) = eligibility.first_error() {
            return Err(ModelError::MigrationIneligible { code: e.code.number(), reason: e.description.clone() });
        }
        let base = self.subscription_of(partner, customer, req.current_subscription_id)?.clone();
        let quantity = self.migration_quantity(&base, req.quantity, eligibility.catalog_item_id.as_deref())?;
        let mut add_ons = Vec::new();
        for e in &eligibility.add_ons {
            let sub = self.subscription_of(partner, customer, e.current_subscription_id)?;
            let asked = req.add_ons.iter().find(|a| a.current_subscription_id == sub.id).and_then(|a| a.quantity);
            let quantity = self.migration_quantity(sub, asked, e.catalog_item_id.as_deref())?;
            if let (Some(term), Some(item)) = (e.term, e.catalog_item_id.clone()) {
                add_ons.push(AddOnMigration {
                    current_subscription_id: sub.id,
                    catalog_item_id: item,
                    quantity,
                    term,
                    nce_subscription_id: None,
                });
            }
        }
        let (Some(term), Some(item)) = (eligibility.term, eligibility.catalog_item_id.clone()) else {
            return Err(ModelError::MigrationIneligible {
                code: EligibilityCode::NewCommerceProductUnavailable.number(),
                reason: "No new-commerce item to migrate to.".into(),
            });
        };
        let external = req.external_reference_id.clone().unwrap_or_default();
        if external.chars().count() > 128 {
            return Err(ModelError::InvalidInput("externalReferenceId is longer than 128 characters.".into()));
        }
        let id = self.ids.next_uuid();
        let now = self.now;
        let outcome = self.draw_migration_outcome();
        let migration = Migration {
            id,
            customer,
            partner,
            current_subscription_id: base.id,
            status: MigrationStatus::Processing,
            started: now,
            completed: None,
            catalog_item_id: item,
            nce_subscription_id: None,
            nce_order_id: None,
            subscription_end_date: base.commitment_end_date,
            custom_term_end_date: req.custom_term_end_date,
            quantity,
            term,
            purchase_full_term: req.purchase_full_term,
            external_reference_id: external,
            add_ons,
            outcome,
            due: now.checked_add_signed(Duration::minutes(self.migration_minutes())).unwrap_or(now),
            revert_at: None,
            events: vec![MigrationEvent {
                id: self.ids.next_uuid(),
                name: MigrationEventName::MigrationStarted,
                at: now,
            }],
            error: None,
            request_id: request_id(batch).to_string(),
        };
        let held: Vec<Uuid> =
            std::iter::once(base.id).chain(migration.add_ons.iter().map(|a| a.current_subscription_id)).collect();
        self.migrations.insert(id, migration);
        for sub in held {
            self.hold_for_migration(batch, customer, sub, id);
        }
        self.schedule_migration(id);
        Ok(id)
    }

    /// A migration of this subscription so new that the eligibility check has not seen it yet
    /// (the fault plan's `migrations.lagSeconds`).
    fn unseen_migration(&self, partner: Uuid, customer: Uuid, subscription: Uuid) -> Option<Uuid> {
        let lag = self.fault_plan().and_then(|p| p.migrations.as_ref()).map_or(0, |m| m.lag_seconds);
        let held = self.subscription_of(partner, customer, subscription).ok()?.migration?;
        let m = self.migrations.get(&held)?;
        // An add-on held by its base's migration is not a second create of that migration.
        let lagging = m.current_subscription_id == subscription
            && m.status == MigrationStatus::Processing
            && self.now < m.started + Duration::seconds(i64::from(lag));
        lagging.then_some(held)
    }

    /// A second migration of what `first` migrates, accepted because the check did not see
    /// `first`: both complete, and the customer pays for two NCE subscriptions.
    fn migrate_again(&mut self, batch: &Batch, first: Uuid, req: &MigrationRequest) -> Result<Uuid> {
        let external = req.external_reference_id.clone().unwrap_or_default();
        if external.chars().count() > 128 {
            return Err(ModelError::InvalidInput("externalReferenceId is longer than 128 characters.".into()));
        }
        let Some(template) = self.migrations.get(&first).cloned() else {
            return Err(ModelError::MigrationNotFound(first));
        };
        let id = self.ids.next_uuid();
        let now = self.now;
        let outcome = self.draw_migration_outcome();
        let events =
            vec![MigrationEvent { id: self.ids.next_uuid(), name: MigrationEventName::MigrationStarted, at: now }];
        let migration = Migration {
            id,
            started: now,
            external_reference_id: external,
            outcome,
            due: now.checked_add_signed(Duration::minutes(self.migration_minutes())).unwrap_or(now),
            events,
            request_id: request_id(batch).to_string(),
            ..template
        };
        let legacy =
            self.subscription_of(migration.partner, migration.customer, migration.current_subscription_id).ok();
        let subject = Subject {
            customer: Some(migration.customer),
            subscription: Some(migration.current_subscription_id),
            sku: legacy.map(|s| s.sku_id),
            ..Subject::default()
        };
        let family = legacy.and_then(|s| self.catalog.offer(&s.offer_id)).map(|o| o.family.clone()).unwrap_or_default();
        self.migrations.insert(id, migration);
        self.log(batch, subject, EventKind::MigrationStarted { migration: id, family });
        self.schedule_migration(id);
        Ok(id)
    }

    /// Seats of the NCE subscription: the request's, else the legacy quantity (within the
    /// item's bounds).
    fn migration_quantity(&self, sub: &super::Subscription, asked: Option<i64>, item: Option<&str>) -> Result<u32> {
        let (min, max) =
            item.and_then(|i| self.catalog.offer(i)).map_or((1, 10_000), |o| (o.minimum_quantity, o.maximum_quantity));
        let q = asked.unwrap_or(i64::from(sub.quantity));
        u32::try_from(q).ok().filter(|q| (min..=max).contains(q)).ok_or_else(|| ModelError::QuantityOutOfRange {
            offer: item.unwrap_or(&sub.offer_id).to_string(),
            quantity: q,
            min,
            max,
        })
    }

    /// Suspend a legacy subscription for a migration, its seats held for its users.
    fn hold_for_migration(&mut self, batch: &Batch, customer: Uuid, id: Uuid, migration: Uuid) {
        let now = self.now;
        let Some(sub) = self.tenant_mut(customer).and_then(|c| c.subscription_mut(id)) else {
            return;
        };
        sub.status = SubscriptionStatus::Suspended;
        sub.migration = Some(migration);
        sub.inactive_since = Some(now);
        sub.revision += 1;
        let (sku, offer) = (sub.sku_id, sub.offer_id.clone());
        let family = self.catalog.offer(&offer).map(|o| o.family.clone()).unwrap_or_default();
        let subject =
            Subject { customer: Some(customer), subscription: Some(id), sku: Some(sku), ..Subject::default() };
        self.log(batch, subject, EventKind::MigrationStarted { migration, family });
        self.schedule(customer, id);
    }

    pub(crate) fn schedule_migration(&mut self, id: Uuid) {
        if let Some(m) = self.migrations.get(&id)
            && let Some(at) = m.next_deadline()
        {
            self.deadlines.insert((at, m.customer, id));
        }
    }

    /// `GET …/migrations/newcommerce/{id}`.
    pub fn migration_of(&self, partner: Uuid, customer: Uuid, id: Uuid) -> Result<&Migration> {
        self.customer_of(partner, customer)?;
        self.migrations
            .get(&id)
            .filter(|m| m.partner == partner && m.customer == customer)
            .ok_or(ModelError::MigrationNotFound(id))
    }

    /// `GET /v1/migrations/newcommerce?…`: this partner's migrations matching every filter
    /// given, oldest first.
    pub fn query_migrations(&self, partner: Uuid, q: &MigrationQuery) -> Result<Vec<&Migration>> {
        if q.is_empty() {
            return Err(ModelError::InvalidInput(
                "Give at least one of CustomerTenantId, CurrentSubscriptionId and ExternalReferenceId.".into(),
            ));
        }
        let mut found: Vec<&Migration> = self
            .migrations
            .values()
            .filter(|m| m.partner == partner)
            .filter(|m| q.matches(m.customer, m.current_subscription_id, Some(&m.external_reference_id)))
            .collect();
        found.sort_by_key(|m| (m.started, m.id));
        Ok(found)
    }

    /// `GET …/migrations/newcommerce/events?migration_id=&current_subscription_id=`.
    pub fn migration_events(
        &self,
        partner: Uuid,
        customer: Uuid,
        migration: Option<Uuid>,
        subscription: Option<Uuid>,
    ) -> Result<Vec<(&Migration, &MigrationEvent)>> {
        self.customer_of(partner, customer)?;
        let mut out: Vec<(&Migration, &MigrationEvent)> = self
            .migrations
            .values()
            .filter(|m| m.partner == partner && m.customer == customer)
            .filter(|m| migration.is_none_or(|id| m.id == id))
            .filter(|m| subscription.is_none_or(|s| m.current_subscription_id == s))
            .flat_map(|m| m.events.iter().map(move |e| (m, e)))
            .collect();
        // Stable: events of one instant keep the order they happened in.
        out.sort_by_key(|(_, e)| e.at);
        Ok(out)
    }

    /// Was this legacy subscription (a base or an add-on) migrated to new commerce? Then it
    /// must never be reactivated: its seats live on in the NCE subscription.
    pub fn migrated(&self, subscription: Uuid) -> bool {
        self.migrations.values().any(|m| {
            m.status == MigrationStatus::Completed
                && (m.current_subscription_id == subscription
                    || m.add_ons.iter().any(|a| a.current_subscription_id == subscription))
        })
    }

    pub fn all_migrations(&self) -> impl Iterator<Item = &Migration> {
        self.migrations.values()
    }
}

/// The `MS-RequestId` behind a batch ("" for the clock, admin calls and scenario loads).
fn request_id(batch: &Batch) -> &str {
    match &*batch.cause {
        super::Cause::Request { request_id, .. } => request_id,
        _ => "",
    }
}
