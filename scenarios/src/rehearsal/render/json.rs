//! `skuswap rehearse --json`: the report's headline figures and verdict as one JSON object.

use serde::Serialize;

use crate::rehearsal::{FaultReport, Rehearsal};

/// At most this many unexpected violations are listed (the count is always whole).
const UNEXPECTED_LISTED: usize = 20;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    scenario: &'a str,
    seed: u64,
    customers: usize,
    users: usize,
    requests: u64,
    migration_minutes: f64,
    wall_seconds: f64,
    /// Worlds the book was dealt into and rehearsed side by side (1: one world).
    shards: usize,
    at_risk: &'a [String],
    customer_actions: usize,
    passed: bool,
    unexpected: Vec<&'a mock_server::invariants::Violation>,
    expected: usize,
    incomplete: &'a [String],
    double_purchases: &'a [String],
    faults: &'a Option<FaultReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_renewals: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    limit_breaches: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    new_commerce: &'a Option<crate::rehearsal::report::NewCommerceReport>,
    report: String,
}

pub fn render(r: &Rehearsal, report: &std::path::Path) -> Result<String, serde_json::Error> {
    let summary = Summary {
        scenario: &r.scenario,
        seed: r.seed,
        customers: r.customers,
        users: r.users,
        requests: r.requests,
        migration_minutes: r.migration_minutes,
        wall_seconds: r.wall_seconds,
        shards: r.shards,
        at_risk: &r.at_risk,
        token_renewals: r.token_renewals,
        customer_actions: r.actions.len(),
        passed: r.passed(),
        unexpected: r.verdict.unexpected.iter().take(UNEXPECTED_LISTED).collect(),
        expected: r.verdict.expected.len(),
        incomplete: &r.verdict.incomplete,
        double_purchases: &r.verdict.double_purchases,
        faults: &r.faults,
        limit_breaches: &r.verdict.limit_breaches,
        new_commerce: &r.new_commerce,
        report: report.display().to_string(),
    };
    serde_json::to_string_pretty(&summary)
}
