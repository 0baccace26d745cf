//! The named scenarios shipped inside the binary (their source files live under the
//! workspace's `scenarios/named/`, where the scenario format is documented), and how a
//! scenario is read from JSON text.

use crate::model::Scenario;

/// `(name, JSON source)`.
const NAMED: &[(&str, &str)] = &[("article", include_str!("../../scenarios/named/article.json"))];

pub fn names() -> Vec<&'static str> {
    NAMED.iter().map(|(n, _)| *n).collect()
}

/// Parse a scenario document from JSON text.
pub fn parse(json: &str) -> Result<Scenario, String> {
    serde_json::from_str(json).map_err(|e| format!("invalid scenario document: {e}"))
}

/// A built-in scenario by name.
pub fn scenario(name: &str) -> Option<Result<Scenario, String>> {
    NAMED.iter().find(|(n, _)| *n == name).map(|(_, json)| parse(json))
}
