//! Named scenarios: the files under `scenarios/named/`, compiled in. A file is either a full
//! scenario document (the format `POST /admin/scenario` takes) or a generator spec
//! `{"name", "description", "seed", "generate": {knobs}}` that expands to one.

use std::path::Path;

use mock_server::model::Scenario;
use serde::Deserialize;

use crate::generate::{Knobs, generate};

const NAMED: &[(&str, &str)] = &[
    ("article", include_str!("../named/article.json")),
    ("crm-online-mix", include_str!("../named/crm-online-mix.json")),
    ("open-channel", include_str!("../named/open-channel.json")),
    ("prospects", include_str!("../named/prospects.json")),
    ("deadline-crunch", include_str!("../named/deadline-crunch.json")),
    ("e4-retirement", include_str!("../named/e4-retirement.json")),
    ("distributor", include_str!("../named/distributor.json")),
    ("o365-upgrade", include_str!("../named/o365-upgrade.json")),
    ("nce-migration", include_str!("../named/nce-migration.json")),
    ("nce-transition", include_str!("../named/nce-transition.json")),
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GeneratorSpec {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    generate: Knobs,
}

/// The named scenarios, lent to the mock for `GET /admin/scenarios` and
/// `POST /admin/scenario {"name": ...}`.
pub struct Named;

impl mock_server::state::ScenarioLibrary for Named {
    fn names(&self) -> Vec<String> {
        names().into_iter().map(str::to_string).collect()
    }
    fn resolve(&self, name: &str, seed: Option<u64>) -> Option<Result<Scenario, String>> {
        names().contains(&name).then(|| resolve(name, seed, None))
    }
}

/// The mock, knowing every named scenario for `GET /admin/scenarios` and
/// `POST /admin/scenario`.
pub fn mock(world: mock_server::model::World) -> mock_server::Mock {
    mock_server::Mock::with_library(world, std::sync::Arc::new(Named))
}

/// `(name, description)` of every named scenario.
pub fn list() -> Vec<(String, String)> {
    NAMED
        .iter()
        .map(|(name, text)| {
            let description = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("description").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_default();
            (name.to_string(), description)
        })
        .collect()
}

pub fn names() -> Vec<&'static str> {
    NAMED.iter().map(|(n, _)| *n).collect()
}

/// Expand a document (full or generator spec) into a scenario. `customers` overrides a
/// generator's count; `seed` its seed (for full documents, the id seed is applied later).
pub fn from_text(text: &str, origin: &str, seed: Option<u64>, customers: Option<usize>) -> Result<Scenario, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("{origin}: not valid JSON: {e}"))?;
    if value.get("generate").is_some() {
        let spec: GeneratorSpec = serde_json::from_value(value).map_err(|e| format!("{origin}: {e}"))?;
        let mut knobs = spec.generate;
        if let Some(n) = customers {
            knobs.customers = n;
        }
        let mut s = generate(&spec.name, &knobs, seed.unwrap_or(spec.seed)).map_err(|e| format!("{origin}: {e}"))?;
        if !spec.description.is_empty() && customers.is_none() {
            s.description = spec.description;
        }
        return Ok(s);
    }
    if customers.is_some() {
        return Err(format!("{origin} is a fixed scenario: --customers applies only to generated ones"));
    }
    let mut s: Scenario =
        serde_json::from_value(value).map_err(|e| format!("{origin}: invalid scenario document: {e}"))?;
    if seed.is_some() {
        s.seed = seed;
    }
    Ok(s)
}

/// A named scenario, or a path to a scenario file.
pub fn resolve(spec: &str, seed: Option<u64>, customers: Option<usize>) -> Result<Scenario, String> {
    if let Some((_, text)) = NAMED.iter().find(|(n, _)| *n == spec) {
        return from_text(text, spec, seed, customers);
    }
    let path = Path::new(spec);
    if path.is_file() || spec.ends_with(".json") {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read scenario file {spec}: {e}"))?;
        return from_text(&text, spec, seed, customers);
    }
    Err(format!("unknown scenario {spec:?}: give a name ({}) or a path to a .json file", names().join(", ")))
}
