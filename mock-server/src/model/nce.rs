//! New commerce (NCE): catalog items `{productId}:{skuId}:{availabilityId}` with the terms and
//! billing cycles each sells, the NCE fields of a subscription, and the rules where the NCE
//! lifecycle differs from legacy (renewal by the subscription's own term, seat reductions only
//! inside the cancellation window).

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ModelError, Offer, Result};

/// `termDuration`, ISO-8601 as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TermDuration {
    P1M,
    P1Y,
    P3Y,
}

impl TermDuration {
    pub fn as_str(self) -> &'static str {
        match self {
            TermDuration::P1M => "P1M",
            TermDuration::P1Y => "P1Y",
            TermDuration::P3Y => "P3Y",
        }
    }

    pub fn parse(s: &str) -> Option<TermDuration> {
        [TermDuration::P1M, TermDuration::P1Y, TermDuration::P3Y]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn months(self) -> u32 {
        match self {
            TermDuration::P1M => 1,
            TermDuration::P1Y => 12,
            TermDuration::P3Y => 36,
        }
    }
}

/// `billingCycle` of an NCE purchase. The migration API spells it `Monthly`; subscriptions
/// spell the SDK's `BillingCycleType` (`monthly`); both are read case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BillingCycle {
    Monthly,
    Annual,
    Triennial,
}

impl BillingCycle {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingCycle::Monthly => "Monthly",
            BillingCycle::Annual => "Annual",
            BillingCycle::Triennial => "Triennial",
        }
    }

    pub fn parse(s: &str) -> Option<BillingCycle> {
        [BillingCycle::Monthly, BillingCycle::Annual, BillingCycle::Triennial]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One term an NCE item is sold for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Term {
    pub term_duration: TermDuration,
    pub billing_cycle: BillingCycle,
}

/// What makes a catalog offer an NCE item. The offer's `id` is `{productId}:{skuId}`; the
/// catalog item id, which orders name and an NCE subscription shows as `offerId`, adds the
/// availability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NceItem {
    pub product_id: String,
    pub sku_code: String,
    pub availability_id: String,
    /// The terms it is sold for; the first is what an order without a term buys.
    pub terms: Vec<Term>,
}

impl NceItem {
    pub fn catalog_item_id(&self) -> String {
        format!("{}:{}:{}", self.product_id, self.sku_code, self.availability_id)
    }

    pub fn sells(&self, term: Term) -> bool {
        self.terms.contains(&term)
    }

    pub fn default_term(&self) -> Term {
        self.terms
            .first()
            .copied()
            .unwrap_or(Term { term_duration: TermDuration::P1Y, billing_cycle: BillingCycle::Monthly })
    }
}

/// The NCE fields of a subscription (absent on legacy ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NceTerms {
    pub term: Term,
    /// End of the window in which seats may be reduced (and the subscription cancelled).
    pub cancellation_allowed_until: DateTime<Utc>,
    /// The legacy subscription this one was migrated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrated_from: Option<Uuid>,
}

impl NceTerms {
    /// Terms of a purchase (or renewal) starting `at`.
    pub fn starting(term: Term, at: DateTime<Utc>, cancellation_days: i64) -> NceTerms {
        let until = at.checked_add_signed(Duration::days(cancellation_days)).unwrap_or(at);
        NceTerms { term, cancellation_allowed_until: until, migrated_from: None }
    }

    /// End of a full term starting `at` (also the latest custom end date allowed).
    pub fn term_end(term: Term, at: DateTime<Utc>) -> DateTime<Utc> {
        at.checked_add_months(Months::new(term.term_duration.months())).unwrap_or(at)
    }
}

/// Parse an optional `termDuration`/`billingCycle` pair from the wire against an item: what
/// was given, else the item's default, refused when the item does not sell the pair.
pub fn requested_term(offer: &Offer, term: Option<&str>, billing: Option<&str>) -> Result<Term> {
    let Some(item) = &offer.nce else {
        return Err(ModelError::InvalidInput(format!("{} is not a new-commerce item.", offer.id)));
    };
    let default = item.default_term();
    let term_duration = match term {
        None => default.term_duration,
        Some(t) => TermDuration::parse(t)
            .ok_or_else(|| ModelError::InvalidInput(format!("termDuration {:?} is not P1M, P1Y or P3Y.", shown(t))))?,
    };
    let billing_cycle = match billing {
        None => item
            .terms
            .iter()
            .find(|t| t.term_duration == term_duration)
            .map_or(default.billing_cycle, |t| t.billing_cycle),
        Some(b) => BillingCycle::parse(b).ok_or_else(|| {
            ModelError::InvalidInput(format!("billingCycle {:?} is not Monthly, Annual or Triennial.", shown(b)))
        })?,
    };
    Ok(Term { term_duration, billing_cycle })
}

/// At most 40 characters of a value a client sent, for an error message.
fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}
