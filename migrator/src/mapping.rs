//! The mapping from retired offers to their successors is data: the built-in default is the
//! source article's two tables (plus Office 365 E4 to E3), and a TOML file can replace it for
//! any product that moves to a new SKU. Offers are named by name or by id; names are resolved
//! against the live catalog when planning.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How a row's subscriptions move: Microsoft's four paths, or the server-side one where the
/// server says it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Buy the successor, swap every user in one call each, suspend the old (the article).
    #[default]
    Manual,
    /// The legacy upgrades API with license transfer, to the row's first eligible successor.
    Upgrade,
    /// Legacy to new commerce (`…/migrations/newcommerce`): validate, create, poll.
    NceMigration,
    /// An NCE transition of every seat, with the licenses, to the row's first eligible successor
    /// (the row names NCE items).
    Transition,
    /// `nce-migration` where the validation says eligible, else `manual` (if the row names
    /// successors).
    Auto,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Manual => "manual",
            Strategy::Upgrade => "upgrade",
            Strategy::NceMigration => "nce-migration",
            Strategy::Transition => "transition",
            Strategy::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        [Strategy::Manual, Strategy::Upgrade, Strategy::NceMigration, Strategy::Transition, Strategy::Auto]
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Does this strategy ask the server to migrate (and so validate first)?
    pub fn migrates(self) -> bool {
        matches!(self, Strategy::NceMigration | Strategy::Auto)
    }
}

/// The row that matches every subscription no other row names (`from = "*"`), for moving a
/// whole book by a server-side path.
pub const EVERY_LEGACY_OFFER: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// The retired offer (name or id), or `*` for every legacy offer no other row names.
    pub from: String,
    /// Its successors, in order of preference (name or id); the policy takes the first.
    /// Needed by `manual` (and by `auto` to fall back on); unused by `nce-migration`; for
    /// `upgrade` and `transition`, the targets in order (none: the server's first eligible).
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub strategy: Strategy,
    /// NCE term and billing cycle to migrate to (default: the item's own, as the server says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<String>,
    /// Buy a full new term (needed within the last 24 hours of the legacy term).
    #[serde(default)]
    pub purchase_full_term: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub rows: Vec<Row>,
    /// Per customer (tenant id): retired offer -> the successor to use instead of the first.
    #[serde(default)]
    pub overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// Tenant ids of customers that are not the partner's customers yet: the plan tells
    /// them to accept the invitation; once they do, a new plan migrates them.
    #[serde(default)]
    pub prospects: Vec<String>,
    /// The market whose catalog names are resolved against.
    #[serde(default = "default_country")]
    pub country: String,
}

fn default_country() -> String {
    "US".to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("cannot read mapping file {path}: {reason}")]
    Read { path: String, reason: std::io::Error },
    #[error("mapping file {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Mapping {
    /// The article's tables: Dynamics AX and Dynamics CRM Online to Dynamics 365, and E4 to E3.
    pub fn builtin() -> Self {
        let row = |from: &str, to: &[&str]| Row {
            from: from.to_string(),
            to: to.iter().map(|s| s.to_string()).collect(),
            strategy: Strategy::Manual,
            term_duration: None,
            billing_cycle: None,
            purchase_full_term: false,
        };
        Mapping {
            rows: vec![
                row(
                    "Microsoft Dynamics AX Enterprise",
                    &["Dynamics 365 for Unified Operations plan", "Dynamics 365 Plan"],
                ),
                row("Microsoft Dynamics AX Task", &["Dynamics 365 for Activity"]),
                row("Microsoft Dynamics AX Self Serve", &["Dynamics 365 for Team Members"]),
                row("Microsoft Dynamics AX Device", &["Dynamics 365 for Operations Device"]),
                row("Microsoft Dynamics CRM Online Enterprise", &["Dynamics 365 Enterprise Customer Engagement plan"]),
                row(
                    "Microsoft Dynamics CRM Online Professional",
                    &[
                        "Dynamics 365 Enterprise Customer Engagement plan",
                        "Dynamics 365 for Sales",
                        "Dynamics 365 for Customer Service",
                    ],
                ),
                row(
                    "Microsoft Dynamics CRM Online Basic",
                    &[
                        "Dynamics 365 for Team Members",
                        "Dynamics 365 for Sales",
                        "Dynamics 365 for Customer Service",
                        "Dynamics 365 Enterprise Customer Engagement plan",
                    ],
                ),
                row("Microsoft Dynamics CRM Online Essential", &["Dynamics 365 for Team Members"]),
                row(
                    "Field Service Add-On for Microsoft Dynamics CRM Online",
                    &["Dynamics 365 Enterprise Customer Engagement plan", "Dynamics 365 for Field Service"],
                ),
                row(
                    "Project Service Automation Add-On for Microsoft Dynamics CRM Online",
                    &[
                        "Dynamics 365 Enterprise Customer Engagement plan",
                        "Dynamics 365 for Project Service Automation",
                    ],
                ),
                row("Office 365 Enterprise E4", &["Office 365 Enterprise E3"]),
            ],
            overrides: BTreeMap::new(),
            prospects: Vec::new(),
            country: default_country(),
        }
    }

    /// Read a TOML mapping file; every error names the file and what is wrong.
    pub fn from_file(path: &Path) -> Result<Self, MappingError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|reason| MappingError::Read { path: shown.clone(), reason })?;
        Self::from_toml(&text).map_err(|message| MappingError::Invalid { path: shown, message })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let m: Mapping = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, r) in m.rows.iter().enumerate() {
            if r.from.trim().is_empty() {
                return Err(format!("rows[{i}].from is empty"));
            }
            if r.to.is_empty() && r.strategy == Strategy::Manual && r.from != EVERY_LEGACY_OFFER {
                return Err(format!("rows[{i}] ({}): `to` needs at least one successor", r.from));
            }
            if r.from == EVERY_LEGACY_OFFER && r.strategy == Strategy::Manual {
                return Err(format!(
                    "rows[{i}]: `from = \"*\"` needs a server-side strategy (nce-migration, auto, upgrade or transition)"
                ));
            }
        }
        if let Some((customer, _)) = m.overrides.iter().find(|(_, o)| o.is_empty()) {
            return Err(format!("overrides.{customer} is empty"));
        }
        Ok(m)
    }

    /// The row naming an offer, by name or id (case-insensitive); never the `*` row.
    pub fn row_for(&self, offer_id: &str, offer_name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.from.eq_ignore_ascii_case(offer_id) || r.from.eq_ignore_ascii_case(offer_name))
    }

    /// The row deciding whether a subscription of this offer is migrated by the server: its
    /// own row if that migrates, else the `*` row when there is one and no row names the offer.
    pub fn migration_row_for(&self, offer_id: &str, offer_name: &str) -> Option<&Row> {
        match self.row_for(offer_id, offer_name) {
            Some(r) if r.strategy.migrates() => Some(r),
            Some(_) => None,
            None => self.rows.iter().find(|r| r.from == EVERY_LEGACY_OFFER && r.strategy.migrates()),
        }
    }

    /// The `*` row of a synchronous strategy (`upgrade`, `transition`), when there is one.
    pub fn every_row(&self, strategy: Strategy) -> Option<&Row> {
        self.rows.iter().find(|r| r.from == EVERY_LEGACY_OFFER && r.strategy == strategy)
    }

    /// This mapping with one strategy for every row (`--strategy`); a server-side strategy
    /// also adds the `*` row, so every subscription it could move is considered (legacy ones
    /// for nce-migration, auto and upgrade; new-commerce ones for transition), not only retired.
    pub fn with_strategy(mut self, strategy: Strategy) -> Self {
        for r in &mut self.rows {
            r.strategy = strategy;
        }
        if strategy != Strategy::Manual && !self.rows.iter().any(|r| r.from == EVERY_LEGACY_OFFER) {
            self.rows.push(Row {
                from: EVERY_LEGACY_OFFER.to_string(),
                to: Vec::new(),
                strategy,
                term_duration: None,
                billing_cycle: None,
                purchase_full_term: false,
            });
        }
        self
    }

    /// Does the manual path apply to this row for a subscription the server may not migrate?
    pub fn manual_applies(row: &Row) -> bool {
        row.from != EVERY_LEGACY_OFFER
            && !row.to.is_empty()
            && matches!(row.strategy, Strategy::Manual | Strategy::Auto)
    }

    /// The successor the policy picks for this customer (override, else the first listed).
    pub fn successor_for(&self, customer: &str, row: &Row) -> String {
        self.overrides
            .get(customer)
            .and_then(|o| o.iter().find(|(from, _)| from.eq_ignore_ascii_case(&row.from)).map(|(_, to)| to.clone()))
            .or_else(|| row.to.first().cloned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_file_is_checked_and_errors_name_the_row() {
        let ok = Mapping::from_toml(
            "[[rows]]\nfrom = \"Old\"\nto = [\"New\", \"Other\"]\n[overrides.c1]\nOld = \"Other\"\n",
        );
        let m = ok.unwrap_or_default();
        assert_eq!(m.successor_for("c1", &m.rows[0]), "Other");
        assert_eq!(m.successor_for("c2", &m.rows[0]), "New");
        assert!(Mapping::from_toml("[[rows]]\nfrom = \"Old\"\nto = []\n").is_err_and(|e| e.contains("rows[0] (Old)")));
        assert!(Mapping::from_toml("[[rows]]\nfrom = \"Old\"\nto = [\"New\"]\nextra = 1\n").is_err());
        assert!(Mapping::from_toml("rows = 3").is_err());
    }
}
