//! The append-only audit log: every state change is one event, appended in the same critical
//! section as the change, so the log is a complete account of what happened and when.
//!
//! Events are grouped in *batches*: one batch per request, per clock step, per admin action.
//! The invariant checker judges the state at batch boundaries, never inside an atomic swap.
//! Each event carries the SKU's family and the subscription's quantity where they matter, so
//! the log can be folded without the catalog.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::subscriptions::{Channel, SubscriptionStatus};

/// Who caused a batch of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type")]
pub enum Cause {
    /// A Partner Center request (`operation` is the route's name, `requestId` its MS-RequestId).
    /// The name is borrowed when it is one of the routes' own (every request's is): a copy
    /// per write would be one more allocation kept in the log for every event batch.
    Request { operation: std::borrow::Cow<'static, str>, request_id: String },
    /// A lifecycle deadline processed while the clock advanced.
    ClockStep,
    /// An admin API call (not part of Partner Center).
    Admin { operation: String },
    /// Loading a scenario.
    Scenario { name: String },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Request { operation, request_id } => write!(f, "request {operation} [{request_id}]"),
            Cause::ClockStep => f.write_str("clock step"),
            Cause::Admin { operation } => write!(f, "admin {operation}"),
            Cause::Scenario { name } => write!(f, "scenario {name}"),
        }
    }
}

/// Who acted: a partner (by tenant id), the customer's own admin, or the service itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "id")]
pub enum Actor {
    Partner(Uuid),
    Customer(Uuid),
    Service,
    Admin,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Partner(id) => write!(f, "partner:{}", short(id)),
            Actor::Customer(id) => write!(f, "customer:{}", short(id)),
            Actor::Service => f.write_str("service"),
            Actor::Admin => f.write_str("admin"),
        }
    }
}

/// What happened. The kinds larger than 48 bytes are boxed: the log holds millions of
/// events, and this keeps each within 176 bytes (a test holds it there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "type")]
pub enum EventKind {
    ScenarioLoaded {
        name: String,
        seed: u64,
    },
    StateRestored,
    PartnerAdded {
        name: String,
        mpn_id: String,
    },
    TokenIssued {
        partner: Uuid,
        mode: String,
    },
    CustomerAdded {
        company_name: String,
    },
    RelationshipEstablished {
        partner: Uuid,
    },
    UserAdded {
        user_principal_name: String,
    },
    UserDeleted,
    /// A user's fields changed (`fields` names them; a password reset says "password", never
    /// the password).
    UserUpdated {
        fields: String,
    },
    /// A deleted user restored (its licenses follow as their own events).
    UserRestored,
    OrderPlaced {
        order: Uuid,
        line_items: usize,
    },
    SubscriptionCreated(Box<SubscriptionCreated>),
    QuantityChanged {
        family: Arc<str>,
        from: u32,
        to: u32,
    },
    SubscriptionSuspended {
        family: Arc<str>,
    },
    SubscriptionReactivated {
        family: Arc<str>,
    },
    /// A legacy upgrade bought `to` for this subscription (`upgradeType` as on the wire).
    SubscriptionUpgraded {
        to: Uuid,
        upgrade_type: String,
    },
    SubscriptionRenewed {
        family: Arc<str>,
        until: DateTime<Utc>,
    },
    /// An NCE migration suspended this legacy subscription; its seats stay in service for its
    /// users, held by the migration.
    MigrationStarted {
        migration: Uuid,
        family: Arc<str>,
    },
    /// The migration completed: the hold on this legacy subscription's seats ended (it stays
    /// suspended; the NCE seats took over in the same batch).
    MigrationCompleted {
        migration: Uuid,
        family: Arc<str>,
    },
    /// The migration failed: the hold ended; `reverted`: legacy is active again, else it stays
    /// suspended until Microsoft reverts it.
    MigrationFailed {
        migration: Uuid,
        family: Arc<str>,
        reverted: bool,
    },
    /// A migration schedule was created, changed, cancelled, fired or failed (`what`).
    MigrationScheduleChanged {
        schedule: Uuid,
        what: String,
    },
    SubscriptionConverted(Box<SubscriptionConverted>),
    SubscriptionTransitioned(Box<SubscriptionTransitioned>),
    SubscriptionExpired {
        family: Arc<str>,
    },
    SubscriptionDeprovisioned {
        family: Arc<str>,
        from: SubscriptionStatus,
    },
    AutoRenewChanged {
        enabled: bool,
    },
    FriendlyNameChanged {
        name: String,
    },
    LicenseAssigned {
        family: Arc<str>,
    },
    LicenseRemoved {
        family: Arc<str>,
    },
    FaultInjected(Box<FaultInjected>),
    Throttled(Box<Throttled>),
    /// A throttled request came back before its `Retry-After` had passed.
    EarlyRetry {
        operation: String,
        not_before: DateTime<Utc>,
    },
    /// An order repeated with the same `MS-RequestId` within the window: answered, not bought.
    OrderReplayed {
        order: Uuid,
    },
    ClockAdvanced {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// A subscription came into being: bought, seeded, or made by an upgrade, a migration or a
/// transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionCreated {
    pub offer_id: String,
    pub family: Arc<str>,
    pub quantity: u32,
    pub status: SubscriptionStatus,
    pub channel: Channel,
    pub commitment_end_date: DateTime<Utc>,
}

/// An NCE transition converted this subscription in place to another item (its seats now
/// count for `sku`, the event's SKU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionConverted {
    pub from_sku: Uuid,
    pub to_offer: String,
    pub family: Arc<str>,
}

/// An NCE transition moved `quantity` seats of this subscription to the item `to_offer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionTransitioned {
    pub to_offer: String,
    pub quantity: u32,
    pub transition_type: String,
}

/// The fault plan hit this call (rule index into the plan, and what it did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultInjected {
    pub operation: String,
    pub rule: usize,
    pub effect: String,
}

/// A rate limit refused this call with 429.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttled {
    pub operation: String,
    pub retry_after_seconds: u32,
    pub limit: String,
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ScenarioLoaded { .. } => "ScenarioLoaded",
            EventKind::StateRestored => "StateRestored",
            EventKind::PartnerAdded { .. } => "PartnerAdded",
            EventKind::TokenIssued { .. } => "TokenIssued",
            EventKind::CustomerAdded { .. } => "CustomerAdded",
            EventKind::RelationshipEstablished { .. } => "RelationshipEstablished",
            EventKind::UserAdded { .. } => "UserAdded",
            EventKind::UserDeleted => "UserDeleted",
            EventKind::UserUpdated { .. } => "UserUpdated",
            EventKind::UserRestored => "UserRestored",
            EventKind::OrderPlaced { .. } => "OrderPlaced",
            EventKind::SubscriptionCreated(_) => "SubscriptionCreated",
            EventKind::QuantityChanged { .. } => "QuantityChanged",
            EventKind::SubscriptionSuspended { .. } => "SubscriptionSuspended",
            EventKind::SubscriptionReactivated { .. } => "SubscriptionReactivated",
            EventKind::SubscriptionUpgraded { .. } => "SubscriptionUpgraded",
            EventKind::SubscriptionRenewed { .. } => "SubscriptionRenewed",
            EventKind::MigrationStarted { .. } => "MigrationStarted",
            EventKind::MigrationCompleted { .. } => "MigrationCompleted",
            EventKind::MigrationFailed { .. } => "MigrationFailed",
            EventKind::MigrationScheduleChanged { .. } => "MigrationScheduleChanged",
            EventKind::SubscriptionConverted(_) => "SubscriptionConverted",
            EventKind::SubscriptionTransitioned(_) => "SubscriptionTransitioned",
            EventKind::SubscriptionExpired { .. } => "SubscriptionExpired",
            EventKind::SubscriptionDeprovisioned { .. } => "SubscriptionDeprovisioned",
            EventKind::AutoRenewChanged { .. } => "AutoRenewChanged",
            EventKind::FriendlyNameChanged { .. } => "FriendlyNameChanged",
            EventKind::LicenseAssigned { .. } => "LicenseAssigned",
            EventKind::LicenseRemoved { .. } => "LicenseRemoved",
            EventKind::FaultInjected(_) => "FaultInjected",
            EventKind::Throttled(_) => "Throttled",
            EventKind::EarlyRetry { .. } => "EarlyRetry",
            EventKind::OrderReplayed { .. } => "OrderReplayed",
            EventKind::ClockAdvanced { .. } => "ClockAdvanced",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub batch: u64,
    /// Shared by every event of its batch (a batch of 500 license swaps holds one copy).
    pub cause: Arc<Cause>,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Uuid>,
    pub kind: EventKind,
}

/// The ids an event is about; filled by the model when it records a change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject {
    pub customer: Option<Uuid>,
    pub user: Option<Uuid>,
    pub subscription: Option<Uuid>,
    pub sku: Option<Uuid>,
}

fn short(id: &Uuid) -> String {
    id.simple().to_string()[..8].to_string()
}

/// One line per event, so that a failing test reads like a story.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} b{} {} {}",
            self.seq,
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.batch,
            self.actor,
            self.kind.name()
        )?;
        for (label, id) in
            [("customer", self.customer), ("user", self.user), ("subscription", self.subscription), ("sku", self.sku)]
        {
            if let Some(id) = id {
                write!(f, " {label}={}", short(&id))?;
            }
        }
        match &self.kind {
            EventKind::SubscriptionCreated(c) => {
                write!(f, " qty={} status={} channel={}", c.quantity, c.status.as_str(), c.channel)?
            }
            EventKind::QuantityChanged { from, to, .. } => write!(f, " {from}->{to}")?,
            EventKind::ClockAdvanced { to, .. } => write!(f, " to={}", to.to_rfc3339_opts(SecondsFormat::Secs, true))?,
            EventKind::SubscriptionDeprovisioned { from, .. } => write!(f, " from={}", from.as_str())?,
            _ => {}
        }
        write!(f, " ({})", self.cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log keeps one `Arc<Event>` per event: 16 bytes of counts and the event. At 176
    /// bytes or less that is mimalloc's 192-byte class; one byte more and it is 224.
    #[test]
    fn an_event_stays_within_its_allocation_class() {
        assert!(
            size_of::<Event>() <= 176,
            "an Event is {} bytes, its kind {}",
            size_of::<Event>(),
            size_of::<EventKind>()
        );
    }
}
