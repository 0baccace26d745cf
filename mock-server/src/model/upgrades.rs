//! Legacy subscription upgrades (`…/subscriptions/{id}/upgrades`): which targets a legacy
//! subscription may be upgraded to and why not (`upgradeErrors`), and the upgrade itself,
//! with or without moving the users' licenses.
//!
//! What the docs leave open, chosen here (README, "Known divergences"): the target is a new
//! subscription bought now for the requested seats (a new term); with
//! `upgrade_with_license_transfer` every user holding the source's SKU is moved to the target's
//! in the same batch (assign, then remove) and the source is then suspended, so no user is ever
//! without a license; users beyond the target's seats keep the source license, get a
//! `licenseErrors` entry, and the source stays active. With `upgrade_only` the source stays
//! active: the partner moves the users and suspends it, as on the manual path.

use uuid::Uuid;

use super::{
    Batch, Customer, EventKind, ModelError, Offer, Order, OrderLine, Result, Subject, Subscription, SubscriptionStatus,
    TokenMode, UserState, World,
};

/// `upgradeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeType {
    None,
    UpgradeOnly,
    UpgradeWithLicenseTransfer,
}

impl UpgradeType {
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeType::None => "none",
            UpgradeType::UpgradeOnly => "upgrade_only",
            UpgradeType::UpgradeWithLicenseTransfer => "upgrade_with_license_transfer",
        }
    }

    pub fn parse(s: &str) -> Option<UpgradeType> {
        [UpgradeType::None, UpgradeType::UpgradeOnly, UpgradeType::UpgradeWithLicenseTransfer]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// `UpgradeErrorCode` (the SDK's enum; the wire carries the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeErrorCode {
    SubscriptionStatusNotActive,
    ConflictingServiceTypes,
    UserContextRequired,
    SubscriptionAddOnsPresent,
    SubscriptionDoesNotHaveAnyUpgradePaths,
    SubscriptionTargetOfferNotFound,
}

impl UpgradeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeErrorCode::SubscriptionStatusNotActive => "subscription_status_not_active",
            UpgradeErrorCode::ConflictingServiceTypes => "conflicting_service_types",
            UpgradeErrorCode::UserContextRequired => "user_context_required",
            UpgradeErrorCode::SubscriptionAddOnsPresent => "subscription_add_ons_present",
            UpgradeErrorCode::SubscriptionDoesNotHaveAnyUpgradePaths => "subscription_does_not_have_any_upgrade_paths",
            UpgradeErrorCode::SubscriptionTargetOfferNotFound => "subscription_target_offer_not_found",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeError {
    pub code: UpgradeErrorCode,
    pub description: String,
    pub additional_details: Option<String>,
}

impl UpgradeError {
    fn new(code: UpgradeErrorCode, description: impl Into<String>) -> Self {
        UpgradeError { code, description: description.into(), additional_details: None }
    }
}

/// One item of `GET …/upgrades`.
#[derive(Debug, Clone, PartialEq)]
pub struct Upgrade {
    /// The target offer (none when the source has no upgrade path at all).
    pub target: Option<Offer>,
    pub upgrade_type: UpgradeType,
    pub is_eligible: bool,
    pub quantity: u32,
    pub errors: Vec<UpgradeError>,
}

/// What `POST …/upgrades` asks for: one item of the GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    pub target_offer: String,
    pub upgrade_type: UpgradeType,
    /// Seats of the target (default: the source's).
    pub quantity: Option<i64>,
}

/// A user the license transfer could not move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseError {
    pub user: Uuid,
    pub name: String,
    pub email: String,
    pub reason: String,
}

/// The answer of `POST …/upgrades`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpgradeResult {
    pub source: Uuid,
    pub target: Option<Uuid>,
    pub upgrade_type: UpgradeType,
    pub errors: Vec<UpgradeError>,
    pub license_errors: Vec<LicenseError>,
}

impl World {
    /// `GET …/subscriptions/{id}/upgrades`: one item per upgrade path, or one ineligible item
    /// saying there is none (Dynamics AX and CRM Online: why the manual procedure exists).
    pub fn upgrades(&self, partner: Uuid, mode: TokenMode, customer: Uuid, id: Uuid) -> Result<Vec<Upgrade>> {
        let sub = self.subscription_of(partner, customer, id)?;
        let c = self.customer_of(partner, customer)?;
        let paths = self.catalog.offer(&sub.offer_id).map(|o| o.upgrade_paths.clone()).unwrap_or_default();
        if paths.is_empty() {
            return Ok(vec![Upgrade {
                target: None,
                upgrade_type: UpgradeType::None,
                is_eligible: false,
                quantity: sub.quantity,
                errors: vec![no_paths()],
            }]);
        }
        Ok(paths
            .iter()
            .filter_map(|t| self.catalog.offer(t))
            .map(|target| {
                let errors = self.upgrade_errors(c, sub, target);
                let upgrade_type = match (errors.is_empty(), mode) {
                    (false, _) => UpgradeType::None,
                    (true, TokenMode::App) => UpgradeType::UpgradeOnly,
                    (true, TokenMode::AppUser) => UpgradeType::UpgradeWithLicenseTransfer,
                };
                Upgrade {
                    target: Some(target.clone()),
                    upgrade_type,
                    is_eligible: errors.is_empty(),
                    quantity: sub.quantity,
                    errors,
                }
            })
            .collect())
    }

    /// Why `sub` cannot be upgraded to `target` now (empty: it can).
    fn upgrade_errors(&self, c: &Customer, sub: &Subscription, target: &Offer) -> Vec<UpgradeError> {
        let mut errors = Vec::new();
        if sub.status != SubscriptionStatus::Active {
            let mut e = UpgradeError::new(
                UpgradeErrorCode::SubscriptionStatusNotActive,
                "The upgrade cannot be performed because the source subscription state is not active.",
            );
            e.additional_details = Some(sub.status.as_str().to_string());
            errors.push(e);
        }
        let add_ons = c
            .subscriptions
            .values()
            .any(|s| s.parent_subscription_id == Some(sub.id) && s.status == SubscriptionStatus::Active);
        if add_ons {
            errors.push(UpgradeError::new(
                UpgradeErrorCode::SubscriptionAddOnsPresent,
                "The source subscription has active add-ons; upgrade or cancel them first.",
            ));
        }
        // The target already held, through any channel (another partner, Open, direct).
        let held = c.subscriptions.values().any(|s| {
            s.sku_id == target.sku_id && matches!(s.status, SubscriptionStatus::Active | SubscriptionStatus::Suspended)
        });
        if held {
            errors.push(UpgradeError::new(
                UpgradeErrorCode::ConflictingServiceTypes,
                format!(
                    "The customer already has a subscription of {} (possibly through another channel).",
                    target.name
                ),
            ));
        }
        if !target.is_available_for_purchase(self.now) {
            errors.push(UpgradeError::new(
                UpgradeErrorCode::SubscriptionTargetOfferNotFound,
                format!("The target offer {} is no longer available.", target.id),
            ));
        }
        errors
    }

    /// `POST …/subscriptions/{id}/upgrades`. Everything is checked first; an ineligible
    /// upgrade is answered with its `upgradeErrors` and changes nothing.
    pub fn upgrade(
        &mut self,
        batch: &Batch,
        (partner, mode): (Uuid, TokenMode),
        customer: Uuid,
        id: Uuid,
        req: &UpgradeRequest,
    ) -> Result<UpgradeResult> {
        let (target_offer, upgrade_type, quantity) = (req.target_offer.as_str(), req.upgrade_type, req.quantity);
        let sub = self.subscription_of(partner, customer, id)?.clone();
        let refused = |errors: Vec<UpgradeError>| UpgradeResult {
            source: id,
            target: None,
            upgrade_type,
            errors,
            license_errors: Vec::new(),
        };
        if upgrade_type == UpgradeType::None {
            return Err(ModelError::InvalidInput(
                "upgradeType must be upgrade_only or upgrade_with_license_transfer.".into(),
            ));
        }
        let paths = self.catalog.offer(&sub.offer_id).map(|o| o.upgrade_paths.clone()).unwrap_or_default();
        if paths.is_empty() {
            return Ok(refused(vec![no_paths()]));
        }
        let Some(target) =
            paths.iter().find(|p| p.eq_ignore_ascii_case(target_offer)).and_then(|t| self.catalog.offer(t))
        else {
            return Ok(refused(vec![UpgradeError::new(
                UpgradeErrorCode::SubscriptionTargetOfferNotFound,
                format!("{target_offer} is not an upgrade target of this subscription's offer."),
            )]));
        };
        let target = target.clone();
        if upgrade_type == UpgradeType::UpgradeWithLicenseTransfer && mode == TokenMode::App {
            return Ok(refused(vec![UpgradeError::new(
                UpgradeErrorCode::UserContextRequired,
                "Moving licenses needs an app+user token.",
            )]));
        }
        let errors = self.upgrade_errors(self.customer_of(partner, customer)?, &sub, &target);
        if !errors.is_empty() {
            return Ok(refused(errors));
        }
        let quantity = match quantity {
            None => sub.quantity.clamp(target.minimum_quantity, target.maximum_quantity),
            Some(q) => u32::try_from(q)
                .ok()
                .filter(|q| (target.minimum_quantity..=target.maximum_quantity).contains(q))
                .ok_or_else(|| ModelError::QuantityOutOfRange {
                    offer: target.id.clone(),
                    quantity: q,
                    min: target.minimum_quantity,
                    max: target.maximum_quantity,
                })?,
        };
        let new = self.buy_upgrade_target(batch, partner, &sub, &target, quantity)?;
        let license_errors = match upgrade_type {
            UpgradeType::UpgradeWithLicenseTransfer => self.transfer_licenses(batch, customer, &sub, &target, quantity),
            _ => Vec::new(),
        };
        let subject =
            Subject { customer: Some(customer), subscription: Some(id), sku: Some(sub.sku_id), ..Subject::default() };
        self.log(
            batch,
            subject,
            EventKind::SubscriptionUpgraded { to: new, upgrade_type: upgrade_type.as_str().into() },
        );
        if upgrade_type == UpgradeType::UpgradeWithLicenseTransfer && license_errors.is_empty() {
            self.suspend_upgraded(batch, customer, &sub);
        }
        Ok(UpgradeResult { source: id, target: Some(new), upgrade_type, errors: Vec::new(), license_errors })
    }

    /// The target subscription, bought now (with its order) for `quantity` seats.
    fn buy_upgrade_target(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        source: &Subscription,
        target: &Offer,
        quantity: u32,
    ) -> Result<Uuid> {
        let (order_id, id, now) = (self.ids.next_uuid(), self.ids.next_uuid(), self.now);
        let sub = Subscription {
            partner_id_on_record: source.partner_id_on_record.clone(),
            ..self.bought(id, source.customer, target, quantity, partner, order_id)
        };
        let line = OrderLine {
            line_item_number: 0,
            offer_id: target.id.clone(),
            quantity,
            friendly_name: target.name.clone(),
            subscription_id: id,
            partner_id_on_record: source.partner_id_on_record.clone(),
        };
        self.insert_subscription(batch, sub, &target.family);
        let order =
            Order { id: order_id, customer: source.customer, partner, creation_date: now, line_items: vec![line] };
        self.customer_mut(source.customer)?.put_order(std::sync::Arc::new(order));
        let subject = Subject { customer: Some(source.customer), ..Subject::default() };
        self.log(batch, subject, EventKind::OrderPlaced { order: order_id, line_items: 1 });
        Ok(id)
    }

    /// Move every active holder of the source's SKU to the target's, in creation order, while
    /// the target has seats; the rest keep their license and are reported.
    pub(crate) fn transfer_licenses(
        &mut self,
        batch: &Batch,
        customer: Uuid,
        source: &Subscription,
        target: &Offer,
        quantity: u32,
    ) -> Vec<LicenseError> {
        if source.sku_id == target.sku_id {
            // Same SKU: the seats already serve the same assignments; nothing moves.
            return Vec::new();
        }
        let holders: Vec<(Uuid, String, String)> = self
            .customers
            .get(&customer)
            .map(|c| {
                c.users_in_order()
                    .filter(|u| u.state == UserState::Active && u.holds(source.sku_id))
                    .map(|u| (u.id, u.display_name(), u.user_principal_name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut errors = Vec::new();
        for (n, (user, name, email)) in holders.into_iter().enumerate() {
            if u32::try_from(n).unwrap_or(u32::MAX) >= quantity {
                errors.push(LicenseError { user, name, email, reason: format!("No seat left on {}.", target.name) });
                continue;
            }
            self.grant(batch, customer, user, target.sku_id);
            self.revoke(batch, customer, user, source.sku_id);
        }
        errors
    }

    fn suspend_upgraded(&mut self, batch: &Batch, customer: Uuid, source: &Subscription) {
        let family = self.catalog.offer(&source.offer_id).map(|o| o.family.clone()).unwrap_or_default();
        let now = self.now;
        let Some(sub) = self.tenant_mut(customer).and_then(|c| c.subscription_mut(source.id)) else {
            return;
        };
        sub.status = SubscriptionStatus::Suspended;
        sub.inactive_since = Some(now);
        sub.revision += 1;
        let subject = Subject {
            customer: Some(customer),
            subscription: Some(source.id),
            sku: Some(source.sku_id),
            ..Subject::default()
        };
        self.log(batch, subject, EventKind::SubscriptionSuspended { family });
        self.schedule(customer, source.id);
    }
}

fn no_paths() -> UpgradeError {
    UpgradeError::new(
        UpgradeErrorCode::SubscriptionDoesNotHaveAnyUpgradePaths,
        "The subscription does not have any upgrade paths.",
    )
}
