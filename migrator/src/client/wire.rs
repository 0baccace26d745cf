//! The Partner Center resources the engine reads, as it reads them: lenient (unknown fields
//! ignored, absent ones defaulted) so the same code works against the mock and the real
//! service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A subscription's status as Partner Center spells it. Unknown spellings are kept, so a new
/// status on the real service never breaks a read (the engine then leaves it alone).
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub enum SubscriptionStatus {
    #[default]
    None,
    Active,
    Suspended,
    Deleted,
    Expired,
    Other(String),
}

impl SubscriptionStatus {
    pub fn as_str(&self) -> &str {
        match self {
            SubscriptionStatus::None => "none",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Suspended => "suspended",
            SubscriptionStatus::Deleted => "deleted",
            SubscriptionStatus::Expired => "expired",
            SubscriptionStatus::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "none" | "" => SubscriptionStatus::None,
            "active" => SubscriptionStatus::Active,
            "suspended" => SubscriptionStatus::Suspended,
            "deleted" => SubscriptionStatus::Deleted,
            "expired" => SubscriptionStatus::Expired,
            _ => SubscriptionStatus::Other(s.to_string()),
        }
    }

    /// No longer serving anyone: suspended, de-provisioned or expired.
    pub fn is_inactive(&self) -> bool {
        matches!(self, SubscriptionStatus::Suspended | SubscriptionStatus::Deleted | SubscriptionStatus::Expired)
    }
}

impl std::fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SubscriptionStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SubscriptionStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SubscriptionStatus::parse(&String::deserialize(d)?))
    }
}

/// A user account's state: `active`, or `inactive` (soft-deleted). Absent counts as active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserState {
    #[default]
    #[serde(alias = "Active", alias = "")]
    Active,
    #[serde(alias = "Inactive", other)]
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CompanyProfile {
    pub company_name: String,
    pub domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Customer {
    pub id: String,
    pub company_profile: CompanyProfile,
    pub relationship_to_partner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Attributes {
    pub etag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    #[serde(default)]
    pub offer_id: String,
    #[serde(default)]
    pub offer_name: String,
    #[serde(default)]
    pub friendly_name: String,
    #[serde(default)]
    pub quantity: u32,
    #[serde(default)]
    pub status: SubscriptionStatus,
    #[serde(default)]
    pub auto_renew_enabled: bool,
    #[serde(default)]
    pub commitment_end_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub parent_subscription_id: Option<String>,
    #[serde(default)]
    pub is_trial: bool,
    #[serde(default)]
    pub attributes: Attributes,
}

/// A subscription as fetched, kept whole: PATCH sends the full resource back with one change.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedSubscription {
    pub subscription: Subscription,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProductSku {
    pub id: String,
    pub name: String,
    pub sku_part_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscribedSku {
    pub product_sku: ProductSku,
    pub active_units: i64,
    pub consumed_units: i64,
    pub available_units: i64,
    pub suspended_units: i64,
    pub warning_units: i64,
    pub total_units: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub state: UserState,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct License {
    pub product_sku: ProductSku,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Offer {
    pub id: String,
    pub name: String,
    pub minimum_quantity: u32,
    pub maximum_quantity: u32,
    pub is_available_for_purchase: bool,
    pub is_add_on: bool,
    pub upgrade_target_offers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderLine {
    pub line_item_number: u32,
    pub offer_id: String,
    pub quantity: u32,
    pub friendly_name: String,
    pub subscription_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Order {
    pub id: String,
    pub status: String,
    pub line_items: Vec<OrderLine>,
}

/// A `licenseupdates` body: SKUs to assign (no plan excluded) and SKUs to remove. Typed, not
/// a `json!` tree: it is sent once per user, and a tree costs every key and value an
/// allocation before a byte is written.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseUpdate<'a> {
    licenses_to_assign: Vec<LicenseAssignment<'a>>,
    licenses_to_remove: &'a [String],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LicenseAssignment<'a> {
    sku_id: &'a str,
    excluded_plans: Option<()>,
}

impl<'a> LicenseUpdate<'a> {
    pub fn new(assign: &'a [String], remove: &'a [String]) -> Self {
        let licenses_to_assign = assign.iter().map(|s| LicenseAssignment { sku_id: s, excluded_plans: None }).collect();
        LicenseUpdate { licenses_to_assign, licenses_to_remove: remove }
    }
}

/// One line of an order to place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewLine {
    pub line_item_number: u32,
    pub offer_id: String,
    pub quantity: u32,
    pub friendly_name: String,
}

/// Why a subscription may not migrate to new commerce (`NewCommerceEligibility.errors`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EligibilityError {
    pub code: i64,
    pub description: String,
}

/// `NewCommerceEligibility`: the base subscription's, with its add-ons' in `add_on_migrations`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Eligibility {
    pub current_subscription_id: String,
    pub is_eligible: bool,
    pub term_duration: Option<String>,
    pub billing_cycle: Option<String>,
    pub catalog_item_id: Option<String>,
    pub errors: Vec<EligibilityError>,
    pub add_on_migrations: Vec<Eligibility>,
}

impl Eligibility {
    /// Why not, in words (the first reason, then the add-ons').
    pub fn reason(&self) -> String {
        let own = self.errors.iter().map(|e| format!("{} (code {})", e.description, e.code));
        let add_ons = self.add_on_migrations.iter().flat_map(|a| {
            a.errors
                .iter()
                .map(move |e| format!("add-on {}: {} (code {})", a.current_subscription_id, e.description, e.code))
        });
        own.chain(add_ons).collect::<Vec<_>>().join("; ")
    }
}

/// `NewCommerceMigration`, as the engine reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Migration {
    pub id: String,
    pub status: String,
    pub current_subscription_id: String,
    pub new_commerce_subscription_id: Option<String>,
    pub external_reference_id: Option<String>,
    pub error_description: Option<String>,
    pub started_time: Option<DateTime<Utc>>,
}

impl Migration {
    pub fn is_processing(&self) -> bool {
        self.status.eq_ignore_ascii_case("Processing")
    }

    pub fn is_completed(&self) -> bool {
        self.status.eq_ignore_ascii_case("Completed")
    }

    /// Only an explicit `Failed` is a failure: any other status (a new one included) may still
    /// be running, so it is never created again.
    pub fn is_failed(&self) -> bool {
        self.status.eq_ignore_ascii_case("Failed")
    }
}

/// One add-on of a migration request (`addOnMigrations`, flat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddOnRequest {
    pub current_subscription_id: String,
}

/// The body of `…/migrations/newcommerce/validate` and `…/migrations/newcommerce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMigration {
    pub current_subscription_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term_duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<String>,
    pub purchase_full_term: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_reference_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_on_migrations: Vec<AddOnRequest>,
}

/// An offer as an upgrade names it (`targetOffer`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OfferRef {
    pub id: String,
    pub name: String,
}

/// `upgradeErrors[]` of a legacy upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpgradeError {
    pub code: Value,
    pub description: String,
}

/// One item of `GET …/subscriptions/{id}/upgrades`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Upgrade {
    pub target_offer: Option<OfferRef>,
    pub upgrade_type: String,
    pub is_eligible: bool,
    pub quantity: u32,
    pub upgrade_errors: Vec<UpgradeError>,
}

/// The answer of `POST …/upgrades`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpgradeResult {
    pub source_subscription_id: String,
    pub target_subscription_id: Option<String>,
    pub upgrade_errors: Vec<UpgradeError>,
    pub license_errors: Vec<Value>,
}

/// `errors[]` of a transition eligibility.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransitionError {
    pub code: Value,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransitionEligibility {
    pub is_eligible: bool,
    pub transition_type: String,
    pub errors: Vec<TransitionError>,
}

/// One item of `GET …/transitionEligibilities`: a target and, per type, whether it may go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TransitionOption {
    pub catalog_item_id: String,
    pub title: String,
    pub quantity: u32,
    pub eligibilities: Vec<TransitionEligibility>,
}

/// The body of `POST …/transitions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTransition {
    pub to_catalog_item_id: String,
    pub quantity: u32,
    pub transition_type: String,
}

/// A transition as `POST …/transitions` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Transition {
    pub id: String,
    pub to_subscription_id: Option<String>,
    pub status: String,
}

/// The license-moving flavours of the two synchronous paths.
pub const UPGRADE_WITH_LICENSES: &str = "upgrade_with_license_transfer";
pub const TRANSITION_WITH_LICENSES: &str = "transition_with_license_transfer";
