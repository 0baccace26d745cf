//! Discover: read everything a plan needs from Partner Center: the catalog, every customer
//! (paged), their subscriptions and subscribed SKUs, and, for customers that hold a retired
//! SKU, every user and their licenses. Prospects named in the mapping are looked up too.

use serde::{Deserialize, Serialize};

use crate::client::{ClientError, Offer, PartnerCenter, SubscribedSku, Subscription};
use crate::mapping::Mapping;

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

impl Snapshot {
    /// Is this SKU (by product name) one the mapping retires?
    pub fn is_retired_sku(&self, mapping: &Mapping, sku: &SubscribedSku) -> bool {
        mapping.row_for(&sku.product_sku.id, &sku.product_sku.name).is_some()
    }
}

/// Read the snapshot. `progress` is told each customer as it is read.
pub async fn discover<P: PartnerCenter>(
    pc: &P,
    mapping: &Mapping,
    progress: impl FnMut(usize, usize),
) -> Result<Snapshot, ClientError> {
    discover_only(pc, mapping, None, progress).await
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
            if !u.state.is_empty() && u.state != "active" {
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
    Ok(CustomerState { id: c.id, name: c.company_profile.company_name, subscriptions, skus, users })
}

/// [`discover_only`] reading up to `concurrency` customers at once (reads change nothing, so
/// the snapshot is the same whatever the interleaving; only faster on several cores).
pub async fn discover_concurrently<P: PartnerCenter + 'static>(
    pc: std::sync::Arc<P>,
    mapping: &Mapping,
    only: Option<&[String]>,
    concurrency: usize,
) -> Result<Snapshot, ClientError> {
    let offers = pc.offers(&mapping.country).await?;
    let customers = customers_in_scope(pc.as_ref(), only).await?;
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let shared = std::sync::Arc::new(mapping.clone());
    let mut tasks = tokio::task::JoinSet::new();
    let total = customers.len();
    for (i, c) in customers.into_iter().enumerate() {
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let (pc, mapping) = (pc.clone(), shared.clone());
        tasks.spawn(async move {
            let _permit = permit;
            (i, read_customer(pc.as_ref(), &mapping, c).await)
        });
    }
    let mut slots: Vec<Option<CustomerState>> = (0..total).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, result)) = joined else { continue };
        slots[i] = Some(result?);
    }
    let states: Vec<CustomerState> = slots.into_iter().flatten().collect();
    finish(pc.as_ref(), mapping, offers, states).await
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

/// Like [`discover`], but reads the details of only the customers in `only` (e.g. prospects
/// that just accepted), when given.
pub async fn discover_only<P: PartnerCenter>(
    pc: &P,
    mapping: &Mapping,
    only: Option<&[String]>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Snapshot, ClientError> {
    let offers = pc.offers(&mapping.country).await?;
    let customers = customers_in_scope(pc, only).await?;
    let mut states = Vec::with_capacity(customers.len());
    let total = customers.len();
    for (i, c) in customers.into_iter().enumerate() {
        states.push(read_customer(pc, mapping, c).await?);
        progress(i + 1, total);
    }
    finish(pc, mapping, offers, states).await
}
