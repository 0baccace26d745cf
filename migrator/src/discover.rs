//! Discover: read everything a plan needs from Partner Center: the catalog, every customer
//! (paged), their subscriptions and subscribed SKUs, and, for customers that hold a retired
//! SKU, every user and their licenses; where a mapping row migrates to new commerce, each
//! candidate's validation (read-only). Prospects named in the mapping are looked up too.

use serde::{Deserialize, Serialize};

use crate::client::{
    ClientError, Eligibility, NewMigration, Offer, PartnerCenter, SubscribedSku, Subscription, SubscriptionStatus,
    TransitionOption, Upgrade, UserState,
};
use crate::mapping::Mapping;
use crate::mapping::Strategy;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLicenses {
    pub id: String,
    pub user_principal_name: String,
    /// SKU ids the user holds.
    pub skus: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerState {
    pub id: String,
    pub name: String,
    /// This partner's subscriptions (other channels' are not visible).
    pub subscriptions: Vec<Subscription>,
    /// Tenant-wide seats, every channel.
    pub skus: Vec<SubscribedSku>,
    /// Users and licenses; read only for customers holding a retired SKU.
    pub users: Vec<UserLicenses>,
    /// The server's word on each subscription a row would migrate to new commerce.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligibility: Vec<Eligibility>,
    /// Legacy upgrades the server offers, per subscription a row would upgrade.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgrades: Vec<(String, Vec<Upgrade>)>,
    /// NCE transitions the server offers, per subscription a row would transition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<(String, Vec<TransitionOption>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub offers: Vec<Offer>,
    pub customers: Vec<CustomerState>,
    /// Tenant ids from the mapping that are not (yet) this partner's customers.
    pub prospects: Vec<String>,
    pub invitation_url: String,
}

/// Which customers discovery reads, and how many at once.
#[derive(Debug, Clone, Copy)]
pub struct DiscoverOptions<'a> {
    /// Only these customers (e.g. prospects that just accepted); `None` reads them all.
    pub only: Option<&'a [String]>,
    /// Customers read at once. Reads change nothing, so the snapshot is the same whatever the
    /// interleaving; more readers only hide latency.
    pub readers: usize,
}

impl Default for DiscoverOptions<'_> {
    fn default() -> Self {
        DiscoverOptions { only: None, readers: 1 }
    }
}

/// Read the snapshot. `progress` is told `(done, total)` as each customer is read.
pub async fn discover<P: PartnerCenter>(
    pc: &P,
    mapping: &Mapping,
    options: &DiscoverOptions<'_>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Snapshot, ClientError> {
    use futures_util::StreamExt;
    let offers = pc.offers(&mapping.country).await?;
    let customers = customers_in_scope(pc, options.only).await?;
    let total = customers.len();
    // `buffered` keeps the customers' order while up to `readers` of them are read at once.
    let mut reads = futures_util::stream::iter(customers.into_iter().map(|c| read_customer(pc, mapping, c)))
        .buffered(options.readers.max(1));
    let mut states = Vec::with_capacity(total);
    while let Some(state) = reads.next().await {
        states.push(state?);
        progress(states.len(), total);
    }
    drop(reads);
    finish(pc, mapping, offers, states).await
}

/// Every customer of the partner, or only those in `only`.
async fn customers_in_scope<P: PartnerCenter>(
    pc: &P,
    only: Option<&[String]>,
) -> Result<Vec<crate::client::Customer>, ClientError> {
    let mut customers = pc.customers().await?;
    if let Some(only) = only {
        customers.retain(|c| only.iter().any(|o| o.eq_ignore_ascii_case(&c.id)));
    }
    Ok(customers)
}

/// One customer's subscriptions, seats, and (where a retired SKU is held) users and licenses.
async fn read_customer<P: PartnerCenter>(
    pc: &P,
    mapping: &Mapping,
    c: crate::client::Customer,
) -> Result<CustomerState, ClientError> {
    let subscriptions = pc.subscriptions(&c.id).await?;
    let skus = pc.subscribed_skus(&c.id).await?;
    let retired_seats = skus.iter().any(|s| {
        mapping.row_for(&s.product_sku.id, &s.product_sku.name).is_some()
            && (s.consumed_units > 0 || s.active_units > 0 || s.suspended_units > 0 || s.warning_units > 0)
    });
    let retired_subscription = subscriptions.iter().any(|s| mapping.row_for(&s.offer_id, &s.offer_name).is_some());
    let mut users = Vec::new();
    if retired_seats || retired_subscription {
        for u in pc.users(&c.id).await? {
            if u.state != UserState::Active {
                continue;
            }
            let licenses = pc.user_licenses(&c.id, &u.id).await?;
            users.push(UserLicenses {
                id: u.id,
                user_principal_name: u.user_principal_name,
                skus: licenses.into_iter().map(|l| l.product_sku.id).collect(),
            });
        }
    }
    let mut eligibility = Vec::new();
    for s in migration_candidates(&subscriptions, mapping) {
        if let Some(request) = migration_request(s, mapping, None) {
            eligibility.push(pc.validate_migration(&c.id, &request).await?);
        }
    }
    let mut upgrades = Vec::new();
    for s in path_candidates(&subscriptions, mapping, Strategy::Upgrade) {
        upgrades.push((s.id.clone(), pc.upgrades(&c.id, &s.id).await?));
    }
    let mut transitions = Vec::new();
    for s in path_candidates(&subscriptions, mapping, Strategy::Transition) {
        transitions.push((s.id.clone(), pc.transition_options(&c.id, &s.id).await?));
    }
    Ok(CustomerState {
        id: c.id,
        name: c.company_profile.company_name,
        subscriptions,
        skus,
        users,
        eligibility,
        upgrades,
        transitions,
    })
}

/// The active base subscriptions a row with this synchronous strategy covers: legacy ones for
/// `upgrade`, new-commerce ones for `transition`.
pub fn path_candidates<'a>(
    subs: &'a [Subscription],
    mapping: &'a Mapping,
    strategy: Strategy,
) -> impl Iterator<Item = &'a Subscription> {
    subs.iter().filter(move |s| {
        s.status == SubscriptionStatus::Active
            && s.parent_subscription_id.is_none()
            && is_legacy(s) == (strategy == Strategy::Upgrade)
            && match mapping.row_for(&s.offer_id, &s.offer_name) {
                Some(r) => r.strategy == strategy,
                None => mapping.every_row(strategy).is_some(),
            }
    })
}

/// A legacy subscription (its offer id is a GUID, not an NCE `product:sku`).
pub fn is_legacy(s: &Subscription) -> bool {
    !s.offer_id.contains(':')
}

/// The subscriptions a migrating row covers: active, legacy, and bases only (add-ons migrate
/// with their base).
pub fn migration_candidates<'a>(
    subs: &'a [Subscription],
    mapping: &'a Mapping,
) -> impl Iterator<Item = &'a Subscription> {
    subs.iter().filter(move |s| {
        s.status == SubscriptionStatus::Active
            && is_legacy(s)
            && s.parent_subscription_id.is_none()
            && mapping.migration_row_for(&s.offer_id, &s.offer_name).is_some()
    })
}

/// The validation or creation body for a candidate, with its row's term and billing cycle.
pub fn migration_request(s: &Subscription, mapping: &Mapping, batch: Option<&str>) -> Option<NewMigration> {
    let row = mapping.migration_row_for(&s.offer_id, &s.offer_name)?;
    Some(NewMigration {
        current_subscription_id: s.id.clone(),
        term_duration: row.term_duration.clone(),
        billing_cycle: row.billing_cycle.clone(),
        purchase_full_term: row.purchase_full_term,
        external_reference_id: batch.map(str::to_string),
        add_on_migrations: Vec::new(),
    })
}

async fn finish<P: PartnerCenter>(
    pc: &P,
    mapping: &Mapping,
    offers: Vec<crate::client::Offer>,
    states: Vec<CustomerState>,
) -> Result<Snapshot, ClientError> {
    let mut prospects = Vec::new();
    for p in &mapping.prospects {
        if !states.iter().any(|c| c.id.eq_ignore_ascii_case(p)) && pc.customer(p).await?.is_none() {
            prospects.push(p.clone());
        }
    }
    let invitation_url = if prospects.is_empty() { String::new() } else { pc.relationship_request_url().await? };
    Ok(Snapshot { offers, customers: states, prospects, invitation_url })
}
