//! Microsoft's bulk migration tool's `subscriptions.csv`: written from a capture
//! (`skuswap capture --format bam-csv`), and read by `rehearse --from-csv` (recognised by its
//! header row) so partners who already use the tool rehearse from the files they have.
//!
//! The tool's file has no users: reading it, every seat is taken as assigned (the CSV import's
//! `assigned_users` = `CurrentSeatCount`), and only rows for retired offers are rehearsed.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use mock_server::model::scenario::ScenarioChannel;
use mock_server::model::{Catalog, Scenario};

use crate::csv_import::CsvError;

/// The tool's columns, in its order (`shared/docs/migration-paths.md` §4).
pub const COLUMNS: [&str; 22] = [
    "PartnerTenantId",
    "IndirectResellerMpnId",
    "CustomerName",
    "CustomerTenantId",
    "LegacySubscriptionId",
    "LegacySubscriptionName",
    "LegacyProductName",
    "ExpirationDate",
    "AutoRenewEnabled",
    "MigrationEligible",
    "NcePsa",
    "CurrentTerm",
    "CurrentBillingPlan",
    "CurrentSeatCount",
    "StartNewTermInNce",
    "Term",
    "BillingPlan",
    "SeatCount",
    "CustomTermEndDate",
    "AddOn",
    "BaseSubscriptionId",
    "MigrationIneligibilityReason",
];

/// Is this CSV text the tool's `subscriptions.csv` (by its header row)?
pub fn is_bam(text: &str) -> bool {
    let header = text.lines().next().unwrap_or_default().trim_start_matches('\u{feff}');
    let names: Vec<&str> = header.split(',').map(|h| h.trim().trim_matches('"')).collect();
    ["CustomerTenantId", "LegacySubscriptionId", "LegacyProductName", "CurrentSeatCount"]
        .iter()
        .all(|c| names.contains(c))
}

/// The partner's own subscriptions of a scenario (other channels and trials left out: the
/// tool lists what the partner sold) as the tool's `subscriptions.csv`.
pub fn to_bam_csv(scenario: &Scenario) -> Result<String, CsvError> {
    let mut catalog = Catalog::builtin();
    for o in &scenario.offers {
        catalog.insert(o.clone());
    }
    let fail = |e: csv::Error| CsvError::Read(e.to_string(), scenario.name.clone());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS).map_err(fail)?;
    let partner = scenario.partners.first().and_then(|p| p.id).map(|p| p.to_string()).unwrap_or_default();
    for c in &scenario.customers {
        let tenant = c.id.map(|i| i.to_string()).unwrap_or_default();
        for s in c.subscriptions.iter().filter(|s| s.channel == ScenarioChannel::Csp && !s.is_trial) {
            let offer = catalog.resolve(&s.offer);
            let name = offer.map_or(s.offer.clone(), |o| o.name.clone());
            let seats = s.quantity.to_string();
            let is_add_on = offer.is_some_and(|o| o.is_add_on);
            out.write_record([
                partner.as_str(),
                "",
                c.company_name.as_str(),
                tenant.as_str(),
                &s.id.map(|i| i.to_string()).unwrap_or_default(),
                s.friendly_name.as_deref().unwrap_or(&name),
                &name,
                &s.commitment_end_date.format("%Y-%m-%d").to_string(),
                if s.auto_renew_enabled.unwrap_or(false) { "True" } else { "False" },
                "",
                "",
                "P1Y",
                "Monthly",
                &seats,
                "False",
                "P1Y",
                "Monthly",
                &seats,
                "",
                if is_add_on { "True" } else { "False" },
                &s.parent.map(|p| p.to_string()).unwrap_or_default(),
                "",
            ])
            .map_err(fail)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| CsvError::Read(e.to_string(), scenario.name.clone()))?;
    String::from_utf8(bytes).map_err(|e| CsvError::Read(e.to_string(), scenario.name.clone()))
}

/// The tool's dates: ISO (`2027-03-31`, with or without a time) or US (`3/31/2027 12:00:00 AM`).
fn date(v: &str) -> Option<String> {
    let v = v.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc).format("%Y-%m-%d").to_string());
    }
    let day = NaiveDate::parse_from_str(v.get(..10).unwrap_or(v), "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(v, "%m/%d/%Y %I:%M:%S %p").ok().map(|t| t.date()))
        .or_else(|| NaiveDate::parse_from_str(v, "%m/%d/%Y").ok())?;
    Some(day.format("%Y-%m-%d").to_string())
}

/// What reading the tool's file left out, and why.
#[derive(Debug, Default)]
pub struct LeftOut {
    /// Rows for offers that are not retired (nothing for this migration to do).
    pub not_retired: usize,
    /// Rows whose product is not in the catalog.
    pub unknown_product: Vec<String>,
}

/// The tool's `subscriptions.csv` as the import's own CSV rows (`csv_import::from_csv` does the
/// rest: invented names and the same validation).
pub fn to_import_csv(text: &str, file: &str, start: DateTime<Utc>) -> Result<(String, LeftOut), CsvError> {
    let catalog = Catalog::builtin();
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| CsvError::Read(e.to_string(), file.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let (Some(customer), Some(product), Some(seats), Some(end)) =
        (column("CustomerTenantId"), column("LegacyProductName"), column("CurrentSeatCount"), column("ExpirationDate"))
    else {
        return Err(CsvError::Row {
            file: file.into(),
            line: 1,
            message: "not the bulk migration tool's header".into(),
        });
    };
    let add_on = column("AddOn");
    let mut rows: Vec<(usize, bool, [String; 7])> = Vec::new();
    let mut first_seen: Vec<String> = Vec::new();
    let mut left = LeftOut::default();
    for result in reader.records() {
        let record = result.map_err(|e| CsvError::Row {
            file: file.into(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or_default().to_string();
        let name = field(product);
        let Some(offer) = catalog.legacy_offers().find(|o| o.name.eq_ignore_ascii_case(&name)) else {
            left.unknown_product.push(format!("line {line}: {name:?}"));
            continue;
        };
        if offer.is_available_for_purchase(start) {
            left.not_retired += 1;
            continue;
        }
        let end = date(&field(end)).ok_or_else(|| CsvError::Row {
            file: file.into(),
            line,
            message: format!("ExpirationDate: {:?} is not a date", field(end)),
        })?;
        let is_add_on = add_on.is_some_and(|i| field(i).eq_ignore_ascii_case("true"));
        let seats = field(seats);
        let tenant = field(customer);
        let order = first_seen.iter().position(|c| *c == tenant).unwrap_or_else(|| {
            first_seen.push(tenant.clone());
            first_seen.len() - 1
        });
        rows.push((
            order,
            is_add_on,
            [field(customer), offer.key.clone(), seats.clone(), seats, end, "csp".into(), "reseller".into()],
        ));
    }
    // Customers in the file's order, each base before its add-ons (as the import wants).
    rows.sort_by_key(|(order, is_add_on, _)| (*order, *is_add_on));
    let fail = |e: csv::Error| CsvError::Read(e.to_string(), file.to_string());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["customer", "product", "seats", "assigned_users", "end_date", "channel", "relationship"])
        .map_err(fail)?;
    for (_, _, r) in &rows {
        out.write_record(r).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| CsvError::Read(e.to_string(), file.to_string()))?;
    Ok((String::from_utf8(bytes).map_err(|e| CsvError::Read(e.to_string(), file.to_string()))?, left))
}
