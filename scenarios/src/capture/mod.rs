//! `skuswap capture`: read a partner's own book from Partner Center (or `skuswap serve`) with
//! GETs only, and write it as a scenario document that `rehearse`, `serve --scenario` and
//! `POST /admin/scenario` accept. Optionally pseudonymised (`pseudonym`), or written as
//! Microsoft's bulk migration tool's `subscriptions.csv` (`bam`).
//!
//! What a capture keeps: customers (the partner's, not prospects: those are invisible),
//! subscriptions (offer, quantity, status, dates, auto-renew, add-on parent), seats bought
//! through other channels (seen in subscribed SKUs but not in the partner's list, rebuilt as
//! Open subscriptions), active users and their licenses, and the catalog entries it met.

pub mod bam;
pub mod pseudonym;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use mock_server::model::scenario::{
    ScenarioChannel, ScenarioCustomer, ScenarioPartner, ScenarioRelationship, ScenarioSubscription, ScenarioUser,
};
use mock_server::model::{Catalog, Offer, Scenario, Settings, SubscriptionStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use skuswap_migrator::client::{ClientError, RestClient, Transport};
use uuid::Uuid;

pub use pseudonym::Pseudonyms;

/// Reads a capture needs: one JSON answer, or every page of a collection.
pub trait Reader: Send + Sync {
    fn read(&self, operation: &str, path: &str) -> impl Future<Output = Result<Value, ClientError>> + Send;
    fn read_all(&self, operation: &str, path: &str) -> impl Future<Output = Result<Vec<Value>, ClientError>> + Send;
}

impl<T: Transport> Reader for RestClient<T> {
    async fn read(&self, operation: &str, path: &str) -> Result<Value, ClientError> {
        self.get_json(operation, path).await
    }

    async fn read_all(&self, operation: &str, path: &str) -> Result<Vec<Value>, ClientError> {
        self.all_pages(operation, path).await
    }
}

/// The catalog as the service lists it, indexed by offer id and by name (a license or a
/// subscribed SKU names its product, not its offer).
#[derive(Debug, Default)]
pub struct OfferIndex {
    offers: BTreeMap<String, Value>,
    by_name: BTreeMap<String, String>,
}

impl OfferIndex {
    pub async fn read(r: &impl Reader, countries: &BTreeSet<String>) -> Result<Self, ClientError> {
        let mut index = OfferIndex::default();
        for country in countries {
            let page = r.read("list offers", &format!("/v1/offers?country={country}")).await?;
            for o in items(&page) {
                let (Some(id), Some(name)) = (text(o, "id"), text(o, "name")) else { continue };
                index.by_name.entry(name.to_lowercase()).or_insert_with(|| id.to_string());
                index.offers.entry(id.to_string()).or_insert_with(|| o.clone());
            }
        }
        Ok(index)
    }

    fn by_name(&self, name: &str) -> Option<&str> {
        self.by_name.get(&name.to_lowercase()).map(String::as_str)
    }
}

fn items(v: &Value) -> &[Value] {
    v.get("items").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn when(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    text(v, field).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

fn guid(v: &Value, field: &str) -> Option<Uuid> {
    text(v, field).and_then(|t| Uuid::try_parse(t).ok())
}

/// One customer as captured, and what the capture met on the way.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapturedCustomer {
    /// The customer's original id (never written to the capture when pseudonymised; kept only
    /// in the resume file, on the partner's machine).
    pub original: Uuid,
    pub customer: ScenarioCustomer,
    /// Offer ids and the SKU (id, part number) each was seen with.
    pub offers: BTreeMap<String, Option<(Uuid, String)>>,
    pub unreadable: Vec<String>,
    pub other_channel_seats: u32,
    pub users_skipped: u32,
}

/// What each record becomes: kept, or pseudonymised.
pub struct Rename<'a>(pub Option<&'a Pseudonyms>);

impl Rename<'_> {
    fn id(&self, id: Uuid) -> Uuid {
        self.0.map_or(id, |p| p.id(id))
    }
}

/// Read one customer (`c` as `GET /customers` lists it) and everything under it.
pub async fn customer(
    r: &impl Reader,
    c: &Value,
    catalog: &OfferIndex,
    rename: &Rename<'_>,
    start: DateTime<Utc>,
) -> Result<CapturedCustomer, ClientError> {
    let original = guid(c, "id").ok_or_else(|| ClientError::Decode {
        operation: "list customers".into(),
        detail: "a customer without a GUID id".into(),
    })?;
    let base = format!("/v1/customers/{original}");
    // What the summary names a customer by (never its original id when pseudonymised).
    let shown = rename.id(original);
    let mut unreadable = Vec::new();
    let subscriptions = match r.read("list subscriptions", &format!("{base}/subscriptions")).await {
        Ok(v) => v,
        Err(e) if refused(&e) => {
            unreadable.push(format!("subscriptions of customer {shown}: {}", e.code().unwrap_or("refused")));
            Value::Null
        }
        Err(e) => return Err(e),
    };
    // Unreadable subscribed SKUs: every user's licenses are read (none can be skipped).
    let (skus, skus_read) = match r.read("list subscribed SKUs", &format!("{base}/subscribedskus")).await {
        Ok(v) => (items(&v).to_vec(), true),
        Err(e) if refused(&e) => {
            unreadable.push(format!("subscribed SKUs of customer {shown}: {}", e.code().unwrap_or("refused")));
            (Vec::new(), false)
        }
        Err(e) => return Err(e),
    };
    let mut offers: BTreeMap<String, Option<(Uuid, String)>> = BTreeMap::new();
    for sku in &skus {
        let name = at(sku, &["productSku", "name"]).and_then(Value::as_str).unwrap_or_default();
        if let Some(id) = catalog.by_name(name) {
            let seen = at(sku, &["productSku", "id"]).and_then(Value::as_str).and_then(|s| Uuid::try_parse(s).ok());
            let part = at(sku, &["productSku", "skuPartNumber"]).and_then(Value::as_str).unwrap_or_default();
            offers.insert(id.to_string(), seen.map(|s| (s, part.to_string())));
        }
    }
    let mut subs: Vec<ScenarioSubscription> =
        items(&subscriptions).iter().filter_map(|s| subscription(s, rename, start)).collect();
    for s in &subs {
        offers.entry(s.offer.clone()).or_insert(None);
    }
    // A scenario names an add-on's base before the add-on; a base the list lacks is dropped.
    let listed: BTreeSet<Uuid> = subs.iter().filter_map(|s| s.id).collect();
    for s in &mut subs {
        if s.parent.is_some_and(|p| !listed.contains(&p)) {
            unreadable.push(format!("an add-on of customer {shown}: its base subscription is not in the list"));
            s.parent = None;
        }
    }
    subs.sort_by_key(|s| s.parent.is_some());
    let other = other_channel(&skus, items(&subscriptions), catalog, start);
    let other_channel_seats = other.iter().map(|s| s.quantity).sum();
    subs.extend(other);
    let in_use = !skus_read || skus.iter().any(|s| s.get("consumedUnits").and_then(Value::as_i64).unwrap_or(0) > 0);
    let (users, users_skipped) = users(r, &base, in_use, catalog, rename, &mut unreadable).await?;
    let (company, domain) = (
        at(c, &["companyProfile", "companyName"]).and_then(Value::as_str).unwrap_or("(no name)").to_string(),
        at(c, &["companyProfile", "domain"]).and_then(Value::as_str).unwrap_or_default().to_string(),
    );
    let (company, domain) = match rename.0 {
        Some(p) => (p.company(&company), p.domain(&domain)),
        None => (company, domain),
    };
    let country = at(c, &["billingProfile", "defaultAddress", "country"]).and_then(Value::as_str).unwrap_or("US");
    let users = users
        .into_iter()
        .map(|(mut u, upn)| {
            if let Some(p) = rename.0 {
                // A user without a principal name is told apart by its (original) id.
                let key = if upn.is_empty() { u.id.map(|i| i.to_string()).unwrap_or_default() } else { upn };
                let (first, last, principal) = p.person(&key, &domain);
                (u.first_name, u.last_name, u.user_principal_name) = (first, last, Some(principal));
            }
            u
        })
        .collect();
    Ok(CapturedCustomer {
        original,
        customer: ScenarioCustomer {
            id: Some(rename.id(original)),
            company_name: company,
            domain: Some(domain).filter(|d| !d.is_empty()),
            country: country.to_string(),
            relationship: ScenarioRelationship::Reseller,
            partner: None,
            accepts_after_days: None,
            subscriptions: subs,
            users,
        },
        offers,
        unreadable,
        other_channel_seats,
        users_skipped,
    })
}

/// A refusal a capture notes and goes past (another route may still answer): 401/403 for
/// the token's mode, 404 for a record gone while the capture ran.
fn refused(e: &ClientError) -> bool {
    matches!(e.status(), Some(401 | 403 | 404))
}

fn subscription(s: &Value, rename: &Rename<'_>, start: DateTime<Utc>) -> Option<ScenarioSubscription> {
    let id = guid(s, "id")?;
    let status = match text(s, "status").unwrap_or("active").to_ascii_lowercase().as_str() {
        "suspended" => Some(SubscriptionStatus::Suspended),
        "expired" => Some(SubscriptionStatus::Expired),
        "deleted" => Some(SubscriptionStatus::Deleted),
        _ => None,
    };
    Some(ScenarioSubscription {
        id: Some(rename.id(id)),
        offer: text(s, "offerId")?.to_string(),
        quantity: s.get("quantity").and_then(Value::as_u64).and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
        channel: ScenarioChannel::Csp,
        sold_by: None,
        start_date: when(s, "effectiveStartDate").or_else(|| when(s, "creationDate")),
        commitment_end_date: when(s, "commitmentEndDate").unwrap_or(start + Duration::days(365)),
        auto_renew_enabled: s.get("autoRenewEnabled").and_then(Value::as_bool),
        status,
        // A friendly name is free text a partner may have filled with the customer's name.
        friendly_name: if rename.0.is_some() { None } else { text(s, "friendlyName").map(str::to_string) },
        is_trial: s.get("isTrial").and_then(Value::as_bool).unwrap_or(false),
        parent: guid(s, "parentSubscriptionId").map(|p| rename.id(p)),
        promotion_id: None,
        term_duration: None,
        billing_cycle: None,
    })
}

/// Seats the customer holds that this partner did not sell: a SKU's units in each state
/// beyond the partner's subscriptions of that product in that state, rebuilt as Open
/// subscriptions (active, expired: warning units, or suspended).
fn other_channel(
    skus: &[Value],
    mine: &[Value],
    catalog: &OfferIndex,
    start: DateTime<Utc>,
) -> Vec<ScenarioSubscription> {
    const STATES: [(&str, &str, Option<SubscriptionStatus>); 3] = [
        ("activeUnits", "active", None),
        ("warningUnits", "expired", Some(SubscriptionStatus::Expired)),
        ("suspendedUnits", "suspended", Some(SubscriptionStatus::Suspended)),
    ];
    let mut out = Vec::new();
    for sku in skus {
        let name = at(sku, &["productSku", "name"]).and_then(Value::as_str).unwrap_or_default();
        let Some(offer) = catalog.by_name(name) else { continue };
        for (units, state, status) in STATES {
            let held = sku.get(units).and_then(Value::as_i64).unwrap_or(0);
            // The partner's subscriptions of this product: by offer id where the catalog names
            // it (offer and product names may differ), else by the subscription's offer name.
            let sold: i64 = mine
                .iter()
                .filter(|s| match text(s, "offerId") {
                    Some(id) if catalog.offers.contains_key(id) => id == offer,
                    _ => text(s, "offerName").is_some_and(|n| n.eq_ignore_ascii_case(name)),
                })
                .filter(|s| text(s, "status").is_some_and(|st| st.eq_ignore_ascii_case(state)))
                .filter_map(|s| s.get("quantity").and_then(Value::as_i64))
                .sum();
            let Ok(quantity) = u32::try_from(held - sold) else { continue };
            if quantity == 0 {
                continue;
            }
            out.push(ScenarioSubscription {
                id: None,
                offer: offer.to_string(),
                quantity,
                channel: ScenarioChannel::Open,
                sold_by: None,
                start_date: None,
                // Not visible to this partner: a year from the capture, or already past.
                commitment_end_date: if status.is_some() { start } else { start + Duration::days(365) },
                auto_renew_enabled: Some(false),
                status,
                friendly_name: None,
                is_trial: false,
                parent: None,
                promotion_id: None,
                term_duration: None,
                billing_cycle: None,
            });
        }
    }
    out
}

/// Active users and their licenses (offer ids). Licenses are read only where some SKU has
/// seats in use. Returns each user with its original principal name (for its pseudonym).
async fn users(
    r: &impl Reader,
    base: &str,
    in_use: bool,
    catalog: &OfferIndex,
    rename: &Rename<'_>,
    unreadable: &mut Vec<String>,
) -> Result<(Vec<(ScenarioUser, String)>, u32), ClientError> {
    let listed = match r.read_all("list users", &format!("{base}/users")).await {
        Ok(u) => u,
        Err(e) if refused(&e) => {
            unreadable
                .push(format!("users of a customer: {} (app + user sign-in needed?)", e.code().unwrap_or("refused")));
            return Ok((Vec::new(), 0));
        }
        Err(e) => return Err(e),
    };
    let (mut out, mut skipped) = (Vec::new(), 0);
    for u in &listed {
        let Some(id) = guid(u, "id") else { continue };
        if text(u, "state").is_some_and(|s| !s.eq_ignore_ascii_case("active")) {
            skipped += 1;
            continue;
        }
        let mut licenses = Vec::new();
        if in_use {
            let held = match r.read("get user licenses", &format!("{base}/users/{id}/licenses")).await {
                Ok(h) => h,
                // Deleted while the capture ran: not a user any more.
                Err(e) if e.status() == Some(404) => {
                    skipped += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for l in items(&held) {
                let name = at(l, &["productSku", "name"]).and_then(Value::as_str).unwrap_or_default();
                match catalog.by_name(name) {
                    Some(offer) => licenses.push(offer.to_string()),
                    None => unreadable.push(format!("a license for {name:?}: no offer of that name in the catalog")),
                }
            }
        }
        let upn = text(u, "userPrincipalName").unwrap_or_default().to_string();
        let user = ScenarioUser {
            id: Some(rename.id(id)),
            first_name: text(u, "firstName").unwrap_or_default().to_string(),
            last_name: text(u, "lastName").unwrap_or_default().to_string(),
            user_principal_name: Some(upn.clone()).filter(|p| !p.is_empty()),
            usage_location: text(u, "usageLocation").map(str::to_string),
            licenses,
        };
        out.push((user, upn));
    }
    Ok((out, skipped))
}

/// The catalog entries the capture met that the built-in catalog lacks, as the mock's offers
/// (families grouped through `upgradeTargetOffers`; retired when no longer purchasable).
pub fn offers(
    met: &BTreeMap<String, Option<(Uuid, String)>>,
    catalog: &OfferIndex,
    start: DateTime<Utc>,
) -> Vec<Offer> {
    let builtin = Catalog::builtin();
    let mut wanted: BTreeSet<String> = met.keys().cloned().collect();
    let mut frontier: Vec<String> = wanted.iter().cloned().collect();
    while let Some(id) = frontier.pop() {
        let targets = catalog.offers.get(&id).and_then(|o| o.get("upgradeTargetOffers")).and_then(Value::as_array);
        for t in targets.into_iter().flatten().filter_map(Value::as_str) {
            if wanted.insert(t.to_string()) {
                frontier.push(t.to_string());
            }
        }
    }
    let family = families(&wanted, catalog);
    wanted
        .iter()
        .filter(|id| builtin.resolve(id).is_none())
        .filter_map(|id| {
            let o = catalog.offers.get(id)?;
            let name = text(o, "name")?.to_string();
            let (sku_id, part) = met.get(id).cloned().flatten().unwrap_or_else(|| {
                (Uuid::new_v5(&Uuid::NAMESPACE_OID, id.as_bytes()), name.to_uppercase().replace(' ', "_"))
            });
            let strings = |field: &str| -> Vec<String> {
                o.get(field)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            };
            let number = |field: &str, default: u32| {
                o.get(field).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(default)
            };
            Some(Offer {
                key: id.to_lowercase(),
                id: id.clone(),
                description: text(o, "description").unwrap_or_default().to_string(),
                family: family.get(id).cloned().unwrap_or_else(|| id.to_lowercase()).into(),
                sku_id,
                sku_part_number: part,
                minimum_quantity: number("minimumQuantity", 1),
                maximum_quantity: number("maximumQuantity", 10_000),
                is_add_on: o.get("isAddOn").and_then(Value::as_bool).unwrap_or(false),
                prerequisite_offers: strings("prerequisiteOffers"),
                upgrade_target_offers: strings("upgradeTargetOffers"),
                upgrade_paths: Vec::new(),
                nce: None,
                nce_successor: None,
                transition_targets: Vec::new(),
                available_from: None,
                retired_on: (o.get("isAvailableForPurchase").and_then(Value::as_bool) == Some(false)).then_some(start),
                renewals_end_on: None,
                category: at(o, &["category", "name"]).and_then(Value::as_str).unwrap_or("Other").to_string(),
                name,
            })
        })
        .collect()
}

/// A licensing family per offer: offers linked by `upgradeTargetOffers` share one (the
/// built-in family where one of them is built in, so the judge groups them with its SKUs).
fn families(ids: &BTreeSet<String>, catalog: &OfferIndex) -> BTreeMap<String, String> {
    let builtin = Catalog::builtin();
    let start = |id: &str| builtin.resolve(id).map_or_else(|| id.to_lowercase(), |o| o.family.to_string());
    let mut family: BTreeMap<String, String> = ids.iter().map(|i| (i.clone(), start(i))).collect();
    let is_builtin = |f: &str| builtin.offers().any(|o| &*o.family == f);
    // Union by repeated relaxation: small sets, a handful of passes.
    for _ in 0..ids.len().max(1) {
        let mut changed = false;
        for id in ids {
            let targets = catalog.offers.get(id).and_then(|o| o.get("upgradeTargetOffers")).and_then(Value::as_array);
            for t in targets.into_iter().flatten().filter_map(Value::as_str) {
                let (Some(a), Some(b)) = (family.get(id).cloned(), family.get(t).cloned()) else { continue };
                if a == b {
                    continue;
                }
                let keep = match (is_builtin(&a), is_builtin(&b)) {
                    (true, false) => a.clone(),
                    (false, true) => b.clone(),
                    _ => a.clone().min(b.clone()),
                };
                for f in family.values_mut().filter(|f| **f == a || **f == b) {
                    *f = keep.clone();
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    family
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot record progress: {0}")]
    Io(#[from] std::io::Error),
}

/// Told of the capture's progress (the command's progress bar and resume file).
pub trait Watch {
    fn listed(&mut self, _customers: usize) {}
    fn captured(&mut self, _customer: &CapturedCustomer) -> std::io::Result<()> {
        Ok(())
    }
}

impl Watch for () {}

/// A whole book as read: every customer (in the service's listing order) and the catalog.
pub struct Book {
    pub customers: Vec<CapturedCustomer>,
    pub catalog: OfferIndex,
    pub start: DateTime<Utc>,
}

/// Read the partner's whole book at `start`, skipping the customers `already` captured (an
/// interrupted run's).
pub async fn book(
    r: &impl Reader,
    start: DateTime<Utc>,
    rename: &Rename<'_>,
    already: Vec<CapturedCustomer>,
    watch: &mut impl Watch,
) -> Result<Book, CaptureError> {
    let listed: Vec<Value> = r.read_all("list customers", "/v1/customers").await?;
    watch.listed(listed.len());
    let countries: BTreeSet<String> = listed
        .iter()
        .filter_map(|c| at(c, &["billingProfile", "defaultAddress", "country"]).and_then(Value::as_str))
        .map(str::to_string)
        .chain(std::iter::once("US".to_string()))
        .collect();
    let catalog = OfferIndex::read(r, &countries).await?;
    let seen: BTreeSet<Uuid> = already.iter().map(|c| c.original).collect();
    let mut done = already;
    for c in listed.iter().filter(|c| !guid(c, "id").is_some_and(|id| seen.contains(&id))) {
        let captured = customer(r, c, &catalog, rename, start).await?;
        watch.captured(&captured)?;
        done.push(captured);
    }
    // The listing's order, whatever order the runs captured them in.
    let order: BTreeMap<Uuid, usize> =
        listed.iter().enumerate().filter_map(|(i, c)| Some((guid(c, "id")?, i))).collect();
    done.sort_by_key(|c| order.get(&c.original).copied().unwrap_or(usize::MAX));
    Ok(Book { customers: done, catalog, start })
}

impl Book {
    /// The capture as a scenario document, with the catalog entries it met.
    pub fn scenario(self, name: &str, description: String) -> Scenario {
        let met = self.customers.iter().flat_map(|c| c.offers.clone()).collect();
        let offers = offers(&met, &self.catalog, self.start);
        scenario(name, description, self.start, self.customers.into_iter().map(|c| c.customer).collect(), offers)
    }
}

/// The whole capture as a scenario document.
pub fn scenario(
    name: &str,
    description: String,
    start: DateTime<Utc>,
    customers: Vec<ScenarioCustomer>,
    offers: Vec<Offer>,
) -> Scenario {
    Scenario {
        name: name.to_string(),
        description,
        start,
        seed: None,
        settings: Settings::default(),
        offers,
        partners: vec![ScenarioPartner {
            id: Some(Uuid::new_v5(&Uuid::NAMESPACE_OID, b"skuswap capture partner")),
            name: "Captured partner".into(),
            mpn_id: "0".into(),
        }],
        customers,
        faults: None,
    }
}
