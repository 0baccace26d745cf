//! Synthetic tenants: a scenario document generated from knobs and one seed. Every draw comes
//! from one seeded ChaCha RNG in a fixed order, so the same knobs and seed give the same
//! tenants byte for byte; names, domains and people come from `fake`.

use chrono::{DateTime, Duration, Utc};
use fake::Fake;
use fake::faker::company::en::CompanyName;
use fake::faker::name::en::{FirstName, LastName};
use mock_server::model::Scenario;
use mock_server::model::scenario::{
    ScenarioChannel, ScenarioCustomer, ScenarioPartner, ScenarioRelationship, ScenarioSubscription, ScenarioUser,
};
use mock_server::model::{Catalog, Settings, SubscriptionStatus};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The partner every generated customer belongs to (and the other CSP partner).
pub const PARTNER: &str = "7c1a5c2e-0f3b-4a57-9d5e-2b8f0c6d1a01";
pub const OTHER_PARTNER: &str = "8d2b6d3f-1a4c-4b68-8e6f-3c9a1d7e2b02";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Knobs {
    pub customers: usize,
    /// Users per customer: log-normal around `median`, clamped to `min..=max`.
    pub users: UsersPerCustomer,
    /// Retired offers (catalog keys) and their weights; each customer draws one or two.
    pub sku_mix: Vec<(String, u32)>,
    /// Share of customers holding a second retired product.
    pub second_product_share: f64,
    /// Extra seats bought beyond the assigned users (0.2 = 20% slack).
    pub seat_slack: f64,
    /// Share of a customer's users who hold no license at all.
    pub unlicensed_share: f64,
    /// When the retired subscriptions end, relative to the start.
    pub end_dates: Vec<EndWindow>,
    /// Where the retired subscriptions were bought.
    pub channels: Channels,
    /// Whether the customer is already the partner's.
    pub relationships: Relationships,
    /// Share of customers that also run a trial of a successor.
    pub trial_share: f64,
    pub start: DateTime<Utc>,
    pub deprovision_days: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsersPerCustomer {
    pub min: u32,
    pub median: u32,
    pub max: u32,
    /// Spread of the log-normal (1.0 is a realistic long tail).
    pub sigma: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndWindow {
    pub weight: u32,
    /// Minutes after the start (negative: already past).
    pub from_minutes: i64,
    pub to_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Channels {
    pub csp: u32,
    pub open: u32,
    pub other_csp: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Relationships {
    pub reseller: u32,
    /// Prospects who accept the invitation after 1..=`accept_within_days` days.
    pub accepts: u32,
    pub accept_within_days: i64,
    /// Prospects who never accept.
    pub never: u32,
}

const DAY: i64 = 24 * 60;

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            customers: 50,
            users: UsersPerCustomer { min: 1, median: 12, max: 3000, sigma: 1.1 },
            sku_mix: [
                ("ax-enterprise", 3),
                ("ax-task", 2),
                ("ax-self-serve", 1),
                ("ax-device", 1),
                ("crm-enterprise", 2),
                ("crm-professional", 4),
                ("crm-basic", 2),
                ("crm-essential", 1),
                ("crm-field-service", 1),
                ("crm-project-service", 1),
                ("o365-e4", 3),
            ]
            .iter()
            .map(|(k, w)| (k.to_string(), *w))
            .collect(),
            second_product_share: 0.25,
            seat_slack: 0.2,
            unlicensed_share: 0.05,
            end_dates: vec![
                EndWindow { weight: 1, from_minutes: -30 * DAY, to_minutes: -DAY },
                EndWindow { weight: 4, from_minutes: 30 * DAY, to_minutes: 180 * DAY },
                EndWindow { weight: 5, from_minutes: 180 * DAY, to_minutes: 360 * DAY },
            ],
            channels: Channels { csp: 8, open: 1, other_csp: 1 },
            relationships: Relationships { reseller: 9, accepts: 1, accept_within_days: 20, never: 0 },
            trial_share: 0.05,
            start: DateTime::<Utc>::from_timestamp(1_499_072_400, 0).unwrap_or_default(),
            deprovision_days: 120,
        }
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> Option<&'a T> {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    if total == 0 {
        return None;
    }
    let mut x = rng.random_range(0..total);
    for (item, w) in items {
        if x < *w {
            return Some(item);
        }
        x -= w;
    }
    None
}

/// A GUID from the scenario's RNG (shared with the CSV import).
pub(crate) fn uuid(rng: &mut ChaCha8Rng) -> Uuid {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

pub(crate) fn slug(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

/// Log-normal draw (Box-Muller) clamped to the knob's range.
fn users_for(rng: &mut ChaCha8Rng, u: &UsersPerCustomer) -> u32 {
    let (a, b): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    let normal = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
    let n = (f64::from(u.median.max(1)) * (u.sigma * normal).exp()).round();
    (n as u32).clamp(u.min.max(1), u.max.max(u.min.max(1)))
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("skuMix names {0:?}, which is not a retired offer of the catalog")]
    UnknownOffer(String),
    #[error("{0}")]
    Knob(String),
}

/// Generate a scenario (see the module doc).
pub fn generate(name: &str, knobs: &Knobs, seed: u64) -> Result<Scenario, GenerateError> {
    let catalog = Catalog::builtin();
    for (key, _) in &knobs.sku_mix {
        let ok = catalog.resolve(key).is_some_and(|o| !o.is_available_for_purchase(knobs.start));
        if !ok {
            return Err(GenerateError::UnknownOffer(key.clone()));
        }
    }
    if knobs.end_dates.iter().all(|w| w.weight == 0) || knobs.end_dates.iter().any(|w| w.to_minutes < w.from_minutes) {
        return Err(GenerateError::Knob("endDates needs a window with weight > 0 and fromMinutes <= toMinutes".into()));
    }
    let ends: Vec<(&EndWindow, u32)> = knobs.end_dates.iter().map(|w| (w, w.weight)).collect();
    let channels = [
        (ScenarioChannel::Csp, knobs.channels.csp, false),
        (ScenarioChannel::Open, knobs.channels.open, false),
        (ScenarioChannel::Csp, knobs.channels.other_csp, true),
    ];
    let channel_items: Vec<((ScenarioChannel, bool), u32)> = channels.iter().map(|(c, w, o)| ((*c, *o), *w)).collect();
    let r = &knobs.relationships;
    let relationship_items = [(0u8, r.reseller), (1u8, r.accepts), (2u8, r.never)];
    let partner: Uuid = PARTNER.parse().unwrap_or_default();
    let other: Uuid = OTHER_PARTNER.parse().unwrap_or_default();

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut customers = Vec::with_capacity(knobs.customers);
    for _ in 0..knobs.customers {
        let company: String = CompanyName().fake_with_rng(&mut rng);
        let id = uuid(&mut rng);
        let domain = format!("{}{}.onmicrosoft.com", slug(&company), rng.random_range(10..100));
        let (channel, other_csp) = pick(&mut rng, &channel_items).copied().unwrap_or((ScenarioChannel::Csp, false));
        let relationship = pick(&mut rng, &relationship_items).copied().unwrap_or(0);
        let window = pick(&mut rng, &ends).copied().ok_or_else(|| GenerateError::Knob("no end-date window".into()))?;
        let minutes = rng.random_range(window.from_minutes..=window.to_minutes);
        let end = knobs.start + Duration::minutes(minutes);
        let status = if end <= knobs.start { Some(SubscriptionStatus::Expired) } else { None };

        let mut products: Vec<String> = Vec::new();
        let first = pick(&mut rng, &knobs.sku_mix).cloned().unwrap_or_default();
        products.push(first);
        if rng.random::<f64>() < knobs.second_product_share {
            let second = pick(&mut rng, &knobs.sku_mix).cloned().unwrap_or_default();
            if !products.contains(&second) {
                products.push(second);
            }
        }
        // An add-on needs its base.
        let mut base_for_addon = None;
        for p in products.clone() {
            let Some(offer) = catalog.resolve(&p) else { continue };
            if offer.is_add_on && !products.iter().any(|q| q == "crm-professional" || q == "crm-enterprise") {
                products.insert(0, "crm-professional".into());
                base_for_addon = Some(0usize);
            }
        }
        let n_users = users_for(&mut rng, &knobs.users);
        let mut users = Vec::with_capacity(n_users as usize);
        let mut holders = vec![0u32; products.len()];
        for _ in 0..n_users {
            let first_name: String = FirstName().fake_with_rng(&mut rng);
            let last_name: String = LastName().fake_with_rng(&mut rng);
            let unlicensed = rng.random::<f64>() < knobs.unlicensed_share;
            let mut licenses = Vec::new();
            if !unlicensed {
                licenses.push(products[0].clone());
                holders[0] += 1;
                for (i, p) in products.iter().enumerate().skip(1) {
                    let is_addon = catalog.resolve(p).is_some_and(|o| o.is_add_on);
                    if is_addon || rng.random::<f64>() < 0.5 {
                        licenses.push(p.clone());
                        holders[i] += 1;
                    }
                }
            }
            let n = users.len();
            users.push(invented_user(&mut rng, first_name, last_name, &domain, n, licenses));
        }
        let mut subscriptions = Vec::new();
        let mut base_id = None;
        for (i, p) in products.iter().enumerate() {
            let Some(offer) = catalog.resolve(p) else { continue };
            let wanted = (f64::from(holders[i]) * (1.0 + knobs.seat_slack)).ceil() as u32;
            let quantity = wanted.max(offer.minimum_quantity).max(1);
            let sid = uuid(&mut rng);
            if Some(i) == base_for_addon || p == "crm-professional" || p == "crm-enterprise" {
                base_id.get_or_insert(sid);
            }
            subscriptions.push(ScenarioSubscription {
                id: Some(sid),
                offer: p.clone(),
                quantity,
                channel,
                sold_by: other_csp.then_some(other),
                start_date: None,
                commitment_end_date: end,
                auto_renew_enabled: Some(false),
                status,
                friendly_name: None,
                is_trial: false,
                parent: if offer.is_add_on { base_id } else { None },
                promotion_id: None,
                term_duration: None,
                billing_cycle: None,
            });
        }
        if rng.random::<f64>() < knobs.trial_share {
            subscriptions.push(ScenarioSubscription {
                id: Some(uuid(&mut rng)),
                offer: "d365-sales".into(),
                quantity: 25,
                channel: ScenarioChannel::Csp,
                sold_by: None,
                start_date: Some(knobs.start - Duration::days(5)),
                commitment_end_date: knobs.start + Duration::days(25),
                auto_renew_enabled: Some(false),
                status: None,
                friendly_name: Some("Dynamics 365 for Sales (trial)".into()),
                is_trial: true,
                parent: None,
                promotion_id: None,
                term_duration: None,
                billing_cycle: None,
            });
        }
        let (rel, accepts, owner) = match (relationship, other_csp) {
            // A customer bought through another CSP partner is that partner's customer.
            (_, true) if relationship == 0 => (ScenarioRelationship::Reseller, None, Some(other)),
            (0, _) => (ScenarioRelationship::Reseller, None, None),
            (1, _) => {
                (ScenarioRelationship::Prospect, Some(rng.random_range(1..=r.accept_within_days.max(1))), Some(partner))
            }
            _ => (ScenarioRelationship::Prospect, None, Some(partner)),
        };
        customers.push(ScenarioCustomer {
            id: Some(id),
            company_name: company,
            domain: Some(domain),
            country: "US".into(),
            relationship: rel,
            partner: owner,
            accepts_after_days: accepts,
            subscriptions,
            users,
        });
    }
    Ok(Scenario {
        name: name.to_string(),
        description: format!("{} synthetic customers (seed {seed})", knobs.customers),
        start: knobs.start,
        seed: Some(seed),
        settings: Settings { deprovision_days: knobs.deprovision_days, ..Settings::default() },
        offers: Vec::new(),
        partners: partners(),
        customers,
        faults: None,
    })
}

/// The partner (Contoso) and the other CSP partner (Fabrikam) of every synthetic book.
pub(crate) fn partners() -> Vec<ScenarioPartner> {
    let id = |s: &str| s.parse::<Uuid>().ok();
    vec![
        ScenarioPartner { id: id(PARTNER), name: "Contoso Cloud Distribution".into(), mpn_id: "4601238".into() },
        ScenarioPartner { id: id(OTHER_PARTNER), name: "Fabrikam Solutions".into(), mpn_id: "4716529".into() },
    ]
}

/// A user with invented names (drawn by the caller), a unique UPN, and an id from the RNG.
pub(crate) fn invented_user(
    rng: &mut ChaCha8Rng,
    first_name: String,
    last_name: String,
    domain: &str,
    n: usize,
    licenses: Vec<String>,
) -> ScenarioUser {
    let upn = format!("{}.{}{n}@{domain}", slug(&first_name), slug(&last_name));
    ScenarioUser {
        id: Some(uuid(rng)),
        first_name,
        last_name,
        user_principal_name: Some(upn),
        usage_location: Some("US".into()),
        licenses,
    }
}
