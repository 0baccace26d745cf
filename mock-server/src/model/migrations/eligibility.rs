//! Whether a legacy subscription (and its add-ons) may migrate to new commerce now: the
//! documented eligibility codes 0-12, each checked from the state, as `…/validate` answers and
//! as `…/migrations/newcommerce` refuses.

use chrono::{DateTime, Datelike, Duration, Months, Utc};
use uuid::Uuid;

use super::{MigrationRequest, MigrationStatus};
use crate::model::nce::{NceTerms, Term, requested_term};
use crate::model::{Customer, Offer, Result, Subscription, SubscriptionStatus, World};

/// `NewCommerceEligibilityErrorCode` (Microsoft's bulk migration tool): the wire carries the
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EligibilityCode {
    SubscriptionStatusNotActive = 0,
    SubscriptionBeingProcessingInOms = 1,
    SubscriptionTooCloseToTermEnd = 2,
    SubscriptionPromotionsPresent = 3,
    SubscriptionAddOnsPresent = 4,
    NewCommerceProductUnavailable = 5,
    TermDurationBillingCycleCombinationNotSupported = 6,
    SubscriptionActiveForLessThanOneMonth = 7,
    TradeStatusNotAllowed = 8,
    InvalidPartnerIdOnRecord = 9,
    MigrationsWithinLast24hOfTermOnlyAllowedForFullTerm = 10,
    InvalidCustomTermEndDate = 11,
    CustomTermEndDateMustAlignWithExistingSubscriptionOrCalendarMonth = 12,
}

impl EligibilityCode {
    pub fn number(self) -> i64 {
        self as i64
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityError {
    pub code: EligibilityCode,
    pub description: String,
}

fn error(code: EligibilityCode, description: impl Into<String>) -> EligibilityError {
    EligibilityError { code, description: description.into() }
}

/// `NewCommerceEligibility`: for the base subscription and, flat, for each add-on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligibility {
    pub current_subscription_id: Uuid,
    /// The term and item the migration would buy (absent when there is no NCE item).
    pub term: Option<Term>,
    pub catalog_item_id: Option<String>,
    pub custom_term_end_date: Option<DateTime<Utc>>,
    pub errors: Vec<EligibilityError>,
    pub add_ons: Vec<Eligibility>,
}

impl Eligibility {
    /// Eligible when nothing stands in its way (its add-ons' refusals are its own code 4).
    pub fn is_eligible(&self) -> bool {
        self.errors.is_empty()
    }

    /// The first reason it is refused, for an error body.
    pub fn first_error(&self) -> Option<&EligibilityError> {
        self.errors.first().or_else(|| self.add_ons.iter().find_map(|a| a.errors.first()))
    }
}

impl World {
    /// `POST …/migrations/newcommerce/validate`: every rule checked, nothing changed.
    pub fn validate_migration(&self, partner: Uuid, customer: Uuid, req: &MigrationRequest) -> Result<Eligibility> {
        let c = self.customer_of(partner, customer)?;
        let base = self.subscription_of(partner, customer, req.current_subscription_id)?;
        let mut eligibility = self.eligibility_of(c, base, req)?;
        // The base and all its active add-ons migrate as one bundle: each add-on is judged
        // (with the request's terms for it, else the base's) and one ineligible add-on, or one
        // left out of the request, blocks the bundle.
        let add_ons: Vec<&Subscription> = c
            .subscriptions_in_order()
            .filter(|s| s.parent_subscription_id == Some(base.id) && s.status == SubscriptionStatus::Active)
            .collect();
        for add_on in &add_ons {
            let own = req.add_ons.iter().find(|a| a.current_subscription_id == add_on.id);
            let add_on_req = match own {
                Some(a) => a.clone(),
                None => MigrationRequest {
                    current_subscription_id: add_on.id,
                    term_duration: req.term_duration.clone(),
                    billing_cycle: req.billing_cycle.clone(),
                    purchase_full_term: req.purchase_full_term,
                    ..MigrationRequest::default()
                },
            };
            let e = self.eligibility_of(c, add_on, &add_on_req)?;
            if !e.is_eligible() || (own.is_none() && !req.add_ons.is_empty()) {
                eligibility.errors.push(error(
                    EligibilityCode::SubscriptionAddOnsPresent,
                    format!(
                        "Add-on subscription {} must migrate with its base and is {}.",
                        add_on.id,
                        if e.is_eligible() { "missing from addOnMigrations" } else { "not eligible" }
                    ),
                ));
            }
            eligibility.add_ons.push(e);
        }
        if let Some(stray) = req.add_ons.iter().find(|a| !add_ons.iter().any(|s| s.id == a.current_subscription_id)) {
            return Err(crate::model::ModelError::InvalidInput(format!(
                "addOnMigrations: {} is not an active add-on of {}.",
                stray.current_subscription_id, base.id
            )));
        }
        Ok(eligibility)
    }

    /// One subscription's eligibility, on its own (add-ons are the caller's business).
    fn eligibility_of(&self, c: &Customer, sub: &Subscription, req: &MigrationRequest) -> Result<Eligibility> {
        use EligibilityCode as E;
        let now = self.now;
        let mut errors = Vec::new();
        let target = self.migration_target(sub, req.catalog_item_id.as_deref());
        let term = match target {
            Some(t) => match requested_term(t, req.term_duration.as_deref(), req.billing_cycle.as_deref()) {
                Ok(term) if t.nce.as_ref().is_some_and(|n| n.sells(term)) => Some(term),
                Ok(term) => {
                    errors.push(error(
                        E::TermDurationBillingCycleCombinationNotSupported,
                        format!(
                            "{} is not sold for a {} term billed {}.",
                            t.name,
                            term.term_duration.as_str(),
                            term.billing_cycle.as_str()
                        ),
                    ));
                    None
                }
                Err(e) => return Err(e),
            },
            None => {
                errors.push(error(
                    E::NewCommerceProductUnavailable,
                    match (&sub.nce, &req.catalog_item_id) {
                        (Some(_), _) => "The subscription is already a new-commerce subscription.".to_string(),
                        (None, Some(id)) => format!("{id} is not the new-commerce equivalent of this offer."),
                        (None, None) => "The equivalent offer is not yet available in New Commerce.".to_string(),
                    },
                ));
                None
            }
        };
        let processing = self.migrations.values().any(|m| {
            m.status == MigrationStatus::Processing
                && (m.current_subscription_id == sub.id
                    || m.add_ons.iter().any(|a| a.current_subscription_id == sub.id))
        });
        if processing || sub.migration.is_some() {
            errors.push(error(E::SubscriptionBeingProcessingInOms, "A migration of this subscription is in progress."));
        } else if sub.status != SubscriptionStatus::Active {
            errors.push(error(
                E::SubscriptionStatusNotActive,
                format!("The subscription is {}, not active.", sub.status.as_str()),
            ));
        }
        let delay = Duration::minutes(self.migration_minutes());
        if sub.status == SubscriptionStatus::Active && sub.commitment_end_date - now <= delay {
            errors.push(error(
                E::SubscriptionTooCloseToTermEnd,
                "The term ends before a migration could complete; let it renew or migrate at renewal.",
            ));
        } else if sub.commitment_end_date - now <= Duration::hours(24) && !req.purchase_full_term {
            errors.push(error(
                E::MigrationsWithinLast24hOfTermOnlyAllowedForFullTerm,
                "Within the last 24 hours of the term a migration must purchase a full term (purchaseFullTerm).",
            ));
        }
        if sub.promotion_id.is_some() {
            errors.push(error(E::SubscriptionPromotionsPresent, "The subscription has an active promotion."));
        }
        if sub.creation_date.checked_add_months(Months::new(1)).is_none_or(|t| now < t) {
            errors.push(error(E::SubscriptionActiveForLessThanOneMonth, "The subscription is less than a month old."));
        }
        if sub.is_trial {
            errors.push(error(E::TradeStatusNotAllowed, "Trial subscriptions cannot migrate."));
        }
        let mpn = &sub.partner_id_on_record;
        let is_mpn_id = mpn.len() <= 10 && mpn.chars().all(|ch| ch.is_ascii_digit());
        if !is_mpn_id {
            errors.push(error(E::InvalidPartnerIdOnRecord, format!("{mpn:?} is not a valid partner id on record.")));
        }
        if let (Some(end), Some(term)) = (req.custom_term_end_date, term) {
            errors.extend(custom_end_errors(c, end, term, now));
        }
        Ok(Eligibility {
            current_subscription_id: sub.id,
            term,
            catalog_item_id: target.and_then(|t| t.nce.as_ref()).map(|n| n.catalog_item_id()),
            custom_term_end_date: req.custom_term_end_date,
            errors,
            add_ons: Vec::new(),
        })
    }

    /// The NCE item a legacy subscription migrates to: its offer's successor, or the one the
    /// request names if that is the successor (by catalog item id or offer id).
    pub(crate) fn migration_target(&self, sub: &Subscription, wanted: Option<&str>) -> Option<&Offer> {
        if sub.nce.is_some() {
            return None;
        }
        let successor = self.catalog.offer(&sub.offer_id)?.nce_successor.as_deref()?;
        let item = self.catalog.offer(successor).filter(|i| i.is_available_for_purchase(self.now))?;
        match wanted {
            None => Some(item),
            Some(w) => self.catalog.offer(w).filter(|o| o.id == item.id),
        }
    }

    /// Minutes a migration takes: the fault plan's, else the settings'.
    pub(crate) fn migration_minutes(&self) -> i64 {
        self.fault_plan()
            .and_then(|p| p.migrations.as_ref())
            .and_then(|m| m.minutes)
            .map_or(self.settings.migration_minutes, i64::from)
    }
}

/// A custom term end must fall inside the new term (11) and on the last day of a calendar
/// month or on the end date of one of the customer's active NCE subscriptions (12).
fn custom_end_errors(c: &Customer, end: DateTime<Utc>, term: Term, now: DateTime<Utc>) -> Vec<EligibilityError> {
    use EligibilityCode as E;
    if end <= now || end > NceTerms::term_end(term, now) {
        return vec![error(E::InvalidCustomTermEndDate, "customTermEndDate must fall within the new term.")];
    }
    let next_day = end.date_naive().succ_opt();
    let month_end = next_day.is_some_and(|d| d.day() == 1);
    let co_termed = c.subscriptions.values().any(|s| {
        s.nce.is_some()
            && s.status == SubscriptionStatus::Active
            && s.commitment_end_date.date_naive() == end.date_naive()
    });
    if month_end || co_termed {
        Vec::new()
    } else {
        vec![error(
            E::CustomTermEndDateMustAlignWithExistingSubscriptionOrCalendarMonth,
            "customTermEndDate must be the end of a calendar month or the end date of an existing new-commerce subscription.",
        )]
    }
}
