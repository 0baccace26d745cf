//! `skuswap rehearse --from-csv`: a partner's own book of business (one row per customer and
//! retired product) becomes synthetic tenants of the same shape, with invented names, so the
//! rehearsal touches no real data. Format in README; every bad row is refused with its line.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use fake::Fake;
use fake::faker::company::en::CompanyName;
use fake::faker::name::en::{FirstName, LastName};
use mock_server::model::scenario::{ScenarioChannel, ScenarioCustomer, ScenarioRelationship, ScenarioSubscription};
use mock_server::model::{Catalog, Scenario, Settings, SubscriptionStatus};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use uuid::Uuid;

use crate::generate::{OTHER_PARTNER, PARTNER, invented_user, partners, slug, uuid};

#[derive(Debug, Deserialize)]
struct Row {
    customer: String,
    product: String,
    seats: String,
    assigned_users: String,
    end_date: String,
    channel: String,
    relationship: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("{file}: {0}", file = .1)]
    Read(String, String),
    #[error("{file} line {line}: {message}")]
    Row { file: String, line: u64, message: String },
}

struct Parsed {
    product: String,
    seats: u32,
    assigned: u32,
    end: DateTime<Utc>,
    channel: (ScenarioChannel, bool),
    relationship: (ScenarioRelationship, Option<i64>),
}

fn parse_row(row: &Row, catalog: &Catalog, start: DateTime<Utc>) -> Result<Parsed, String> {
    let offer = catalog
        .resolve(row.product.trim())
        .or_else(|| catalog.legacy_offers().find(|o| o.name.eq_ignore_ascii_case(row.product.trim())))
        .ok_or_else(|| {
            format!(
                "product: {:?} is not an offer of the catalog (use a key like ax-enterprise, or its name)",
                row.product
            )
        })?;
    if offer.is_available_for_purchase(start) {
        return Err(format!("product: {:?} is not a retired offer", row.product));
    }
    let number =
        |field: &str, v: &str| v.trim().parse::<u32>().map_err(|_| format!("{field}: {v:?} is not a whole number"));
    let seats = number("seats", &row.seats)?;
    let assigned = number("assigned_users", &row.assigned_users)?;
    if seats == 0 {
        return Err("seats: must be at least 1".into());
    }
    if assigned > seats {
        return Err(format!("assigned_users: {assigned} is more than the {seats} seats"));
    }
    let end = NaiveDate::parse_from_str(row.end_date.trim(), "%Y-%m-%d")
        .map_err(|_| format!("end_date: {:?} is not a date like 2027-03-31", row.end_date))?
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .ok_or_else(|| "end_date: not a valid date".to_string())?;
    let channel = match row.channel.trim() {
        "csp" => (ScenarioChannel::Csp, false),
        "open" => (ScenarioChannel::Open, false),
        "direct" => (ScenarioChannel::Direct, false),
        "other-csp" => (ScenarioChannel::Csp, true),
        other => return Err(format!("channel: {other:?} is not one of csp, open, direct, other-csp")),
    };
    let rel = row.relationship.trim();
    let relationship = match rel {
        "reseller" => (ScenarioRelationship::Reseller, None),
        "never" => (ScenarioRelationship::Prospect, None),
        _ => match rel.strip_prefix("accepts:").and_then(|d| d.parse::<i64>().ok()).filter(|d| *d >= 0) {
            Some(d) => (ScenarioRelationship::Prospect, Some(d)),
            None => return Err(format!("relationship: {rel:?} is not one of reseller, never, accepts:DAYS")),
        },
    };
    Ok(Parsed { product: offer.key.clone(), seats, assigned, end, channel, relationship })
}

/// Build a scenario from CSV text. `start` is the rehearsal's virtual start (today, say).
pub fn from_csv(text: &str, file: &str, seed: u64, start: DateTime<Utc>) -> Result<Scenario, CsvError> {
    let catalog = Catalog::builtin();
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let expected = ["customer", "product", "seats", "assigned_users", "end_date", "channel", "relationship"];
    let headers = reader.headers().map_err(|e| CsvError::Read(e.to_string(), file.to_string()))?.clone();
    if headers.iter().collect::<Vec<_>>() != expected {
        return Err(CsvError::Row {
            file: file.to_string(),
            line: 1,
            message: format!("the header must be exactly: {}", expected.join(",")),
        });
    }
    let mut order: Vec<String> = Vec::new();
    let mut rows: BTreeMap<String, Vec<(u64, Parsed)>> = BTreeMap::new();
    for result in reader.records() {
        let record = result.map_err(|e| CsvError::Row {
            file: file.to_string(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let row: Row = record.deserialize(Some(&headers)).map_err(|e| CsvError::Row {
            file: file.to_string(),
            line,
            message: e.to_string(),
        })?;
        let parsed = parse_row(&row, &catalog, start).map_err(|message| CsvError::Row {
            file: file.to_string(),
            line,
            message,
        })?;
        if !rows.contains_key(&row.customer) {
            order.push(row.customer.clone());
        }
        rows.entry(row.customer.clone()).or_default().push((line, parsed));
    }
    if order.is_empty() {
        return Err(CsvError::Row { file: file.to_string(), line: 2, message: "no rows: nothing to rehearse".into() });
    }
    let partner: Uuid = PARTNER.parse().unwrap_or_default();
    let other: Uuid = OTHER_PARTNER.parse().unwrap_or_default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut customers = Vec::new();
    for label in &order {
        let rows = &rows[label];
        let company: String = CompanyName().fake_with_rng(&mut rng);
        let domain = format!("{}{}.onmicrosoft.com", slug(&company), customers.len());
        let (relationship, accepts) = rows[0].1.relationship;
        let mut subscriptions = Vec::new();
        let mut users = Vec::new();
        let mut base = None;
        for (line, p) in rows {
            let offer = catalog.resolve(&p.product).ok_or_else(|| CsvError::Row {
                file: file.to_string(),
                line: *line,
                message: "product vanished from the catalog".into(),
            })?;
            let sid = uuid(&mut rng);
            if p.product == "crm-professional" || p.product == "crm-enterprise" {
                base.get_or_insert(sid);
            }
            if offer.is_add_on && base.is_none() {
                return Err(CsvError::Row {
                    file: file.to_string(),
                    line: *line,
                    message: format!(
                        "product: the add-on {} needs an earlier crm-professional or crm-enterprise row for the same customer",
                        p.product
                    ),
                });
            }
            subscriptions.push(ScenarioSubscription {
                id: Some(sid),
                offer: p.product.clone(),
                quantity: p.seats.max(offer.minimum_quantity),
                channel: p.channel.0,
                sold_by: p.channel.1.then_some(other),
                start_date: None,
                commitment_end_date: p.end,
                auto_renew_enabled: Some(false),
                status: (p.end <= start).then_some(SubscriptionStatus::Expired),
                friendly_name: None,
                is_trial: false,
                parent: if offer.is_add_on { base } else { None },
                promotion_id: None,
                term_duration: None,
                billing_cycle: None,
            });
            for _ in 0..p.assigned {
                let first_name: String = FirstName().fake_with_rng(&mut rng);
                let last_name: String = LastName().fake_with_rng(&mut rng);
                let n = users.len();
                users.push(invented_user(&mut rng, first_name, last_name, &domain, n, vec![p.product.clone()]));
            }
        }
        let other_csp = rows.iter().any(|(_, p)| p.channel.1);
        customers.push(ScenarioCustomer {
            id: Some(uuid(&mut rng)),
            company_name: company,
            domain: Some(domain),
            country: "US".into(),
            relationship,
            partner: if other_csp && relationship == ScenarioRelationship::Reseller {
                Some(other)
            } else {
                Some(partner)
            },
            accepts_after_days: accepts,
            subscriptions,
            users,
        });
    }
    Ok(Scenario {
        name: format!("csv:{file}"),
        description: format!("{} customers from {file}, names invented (seed {seed})", customers.len()),
        start,
        seed: Some(seed),
        settings: Settings::default(),
        offers: Vec::new(),
        partners: partners(),
        customers,
        faults: None,
    })
}

/// The book of a scenario as CSV, in the import format: one row per customer and retired
/// subscription (trials left out: a book lists what was sold). `from_csv` of this text with the
/// scenario's seed rebuilds a CSV-born scenario exactly, which is what the round-trip test checks;
/// for a generated scenario it keeps the shape (seats, assigned users, dates, channel, relationship).
pub fn to_csv(scenario: &Scenario) -> Result<String, CsvError> {
    let other: Uuid = OTHER_PARTNER.parse().unwrap_or_default();
    let catalog = Catalog::builtin();
    let fail = |e: csv::Error| CsvError::Read(e.to_string(), scenario.name.clone());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["customer", "product", "seats", "assigned_users", "end_date", "channel", "relationship"])
        .map_err(fail)?;
    for (n, c) in scenario.customers.iter().enumerate() {
        let label = format!("{}-{n}", slug(&c.company_name));
        let relationship = match (c.relationship, c.accepts_after_days) {
            (ScenarioRelationship::Reseller, _) => "reseller".to_string(),
            (ScenarioRelationship::Prospect, Some(d)) => format!("accepts:{d}"),
            (ScenarioRelationship::Prospect, None) => "never".to_string(),
        };
        for s in c.subscriptions.iter().filter(|s| !s.is_trial) {
            let key = catalog.resolve(&s.offer).map_or(s.offer.clone(), |o| o.key.clone());
            let holders = c.users.iter().filter(|u| u.licenses.iter().any(|l| *l == s.offer || *l == key)).count();
            let channel = match s.channel {
                ScenarioChannel::Csp if s.sold_by == Some(other) => "other-csp",
                ScenarioChannel::Csp => "csp",
                ScenarioChannel::Open => "open",
                ScenarioChannel::Direct => "direct",
            };
            out.write_record([
                label.as_str(),
                key.as_str(),
                &s.quantity.to_string(),
                &holders.to_string(),
                &s.commitment_end_date.format("%Y-%m-%d").to_string(),
                channel,
                relationship.as_str(),
            ])
            .map_err(fail)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| CsvError::Read(e.to_string(), scenario.name.clone()))?;
    String::from_utf8(bytes).map_err(|e| CsvError::Read(e.to_string(), scenario.name.clone()))
}
