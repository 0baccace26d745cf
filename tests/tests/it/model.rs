//! Model-based test of the mock: random sequences of orders, license updates, suspensions,
//! reactivations, quantity changes, legacy upgrades, NCE migrations, NCE transitions, user
//! creates, deletes and restores, and clock advances, sent through the HTTP layer, against a
//! small reference model of seats, statuses and the lifecycle written from the rules in
//! README (not from the mock's code). After every step the mock's observable state
//! (subscriptions, user licenses, and whether the call was accepted) must equal the model's.
//!
//! Case count: `PROPTEST_CASES` (default 256).

use axum::http::Method;
use chrono::{DateTime, Duration, Months, Utc};
use proptest::prelude::*;
use serde_json::json;
use skuswap_tests::Harness;

const CUSTOMER: &str = "6a1f0c3e-1111-4a2b-9c3d-4e5f6a7b8c9d";
/// Three legacy offers, and Microsoft 365 E3, an NCE item (the transition target of NCE
/// Office 365 E3, which a migrated E3 subscription becomes).
/// Office 365 E1 (index 4) has a legacy upgrade path to E3 (index 0).
pub(super) const OFFERS: [&str; 5] = ["o365-e3", "d365-team-members", "d365-activity", "nce-m365-e3", "o365-e1"];
const USERS: usize = 3;
const DEPROVISION_DAYS: i64 = 120;
/// The built-in NCE successors: Office 365 E3 and Team Members have one (licensing the same
/// SKU), Dynamics 365 for Activity none.
const HAS_NCE_ITEM: [bool; 5] = [true, true, false, false, true];
/// The legacy upgrade path: E1 to E3.
const UPGRADE: (usize, usize) = (4, 0);
/// Offer 0's NCE item transitions to offer 3.
const TRANSITION: (usize, usize) = (0, 3);
const MIGRATION_MINUTES: i64 = 10;
const CANCELLATION_DAYS: i64 = 7;

#[derive(Debug, Clone)]
pub(super) enum Op {
    Buy {
        offer: usize,
        quantity: u32,
    },
    Assign {
        user: usize,
        offer: usize,
    },
    Remove {
        user: usize,
        offer: usize,
    },
    Swap {
        user: usize,
        from: usize,
        to: usize,
    },
    Suspend {
        sub: usize,
    },
    Reactivate {
        sub: usize,
    },
    Quantity {
        sub: usize,
        quantity: u32,
    },
    Migrate {
        sub: usize,
    },
    /// Every seat of an NCE subscription to Microsoft 365 E3, with the licenses, in place.
    Transition {
        sub: usize,
    },
    /// A legacy upgrade of E1 to E3 with license transfer.
    Upgrade {
        sub: usize,
    },
    Advance {
        hours: i64,
    },
    /// A new user, holding nothing.
    CreateUser,
    /// Soft delete: licenses released, restorable for 30 days.
    DeleteUser {
        user: usize,
    },
    /// `state: active`: a deleted user back with each released license that has a free seat.
    RestoreUser {
        user: usize,
    },
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..OFFERS.len(), 0u32..=6).prop_map(|(offer, quantity)| Op::Buy { offer, quantity }),
        4 => (0..USERS + 1, 0..OFFERS.len()).prop_map(|(user, offer)| Op::Assign { user, offer }),
        2 => (0..USERS + 1, 0..OFFERS.len()).prop_map(|(user, offer)| Op::Remove { user, offer }),
        2 => (0..USERS + 1, 0..OFFERS.len(), 0..OFFERS.len()).prop_map(|(user, from, to)| Op::Swap { user, from, to }),
        2 => (0usize..6).prop_map(|sub| Op::Suspend { sub }),
        2 => (0usize..6).prop_map(|sub| Op::Reactivate { sub }),
        2 => (0usize..6, 0u32..=6).prop_map(|(sub, quantity)| Op::Quantity { sub, quantity }),
        2 => (0usize..6).prop_map(|sub| Op::Migrate { sub }),
        2 => (0usize..8).prop_map(|sub| Op::Transition { sub }),
        2 => (0usize..8).prop_map(|sub| Op::Upgrade { sub }),
        3 => prop_oneof![1i64..48, 700i64..800, 2400i64..9600].prop_map(|hours| Op::Advance { hours }),
        1 => Just(Op::CreateUser),
        2 => (0..USERS + 2).prop_map(|user| Op::DeleteUser { user }),
        2 => (0..USERS + 2).prop_map(|user| Op::RestoreUser { user }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Suspended,
    Expired,
    Deleted,
}

#[derive(Debug, Clone, PartialEq)]
struct Sub {
    offer: usize,
    quantity: u32,
    status: Status,
    end: DateTime<Utc>,
    inactive_since: Option<DateTime<Utc>>,
    bought: DateTime<Utc>,
    /// New commerce: seats may be reduced only until then.
    nce_reducible_until: Option<DateTime<Utc>>,
    /// Suspended by a migration that completes then, seats still in service until it does.
    migrating_until: Option<DateTime<Utc>>,
    /// Migrated to new commerce: never reactivated.
    migrated: bool,
}

impl Sub {
    fn bought(offer: usize, quantity: u32, at: DateTime<Utc>) -> Option<Sub> {
        let end = at.checked_add_months(Months::new(12))?;
        Some(Sub {
            offer,
            quantity,
            status: Status::Active,
            end,
            inactive_since: None,
            bought: at,
            nce_reducible_until: None,
            migrating_until: None,
            migrated: false,
        })
    }

    fn in_service(&self) -> bool {
        self.status == Status::Active || self.migrating_until.is_some()
    }

    fn deadline(&self) -> Option<DateTime<Utc>> {
        if let Some(t) = self.migrating_until {
            return Some(t);
        }
        match self.status {
            Status::Active => Some(self.end),
            Status::Suspended | Status::Expired => self.inactive_since.map(|t| t + Duration::days(DEPROVISION_DAYS)),
            Status::Deleted => None,
        }
    }
}

/// The reference: what README's rules say the tenant looks like.
#[derive(Debug, Clone)]
struct Reference {
    now: DateTime<Utc>,
    subs: Vec<Sub>,
    /// Per user (in creation order), the offers whose SKU they hold.
    licenses: Vec<Vec<bool>>,
    /// Per user: when deleted, and the offers the deletion released.
    deleted: Vec<Option<(DateTime<Utc>, Vec<bool>)>>,
}

impl Reference {
    fn seats(&self, offer: usize, counts: impl Fn(&Sub) -> bool) -> u32 {
        self.subs.iter().filter(|s| s.offer == offer && counts(s)).map(|s| s.quantity).sum()
    }

    fn consumed(&self, offer: usize) -> u32 {
        self.licenses.iter().filter(|l| l[offer]).count() as u32
    }

    /// Apply one op; `Ok` when Partner Center would accept it.
    fn apply(&mut self, op: &Op) -> Result<(), ()> {
        match *op {
            Op::Buy { offer, quantity } => {
                if quantity == 0 {
                    return Err(());
                }
                let mut sub = Sub::bought(offer, quantity, self.now).ok_or(())?;
                if offer == TRANSITION.1 {
                    sub.nce_reducible_until = Some(self.now + Duration::days(CANCELLATION_DAYS));
                }
                self.subs.push(sub);
                Ok(())
            }
            Op::Transition { sub } => self.transition(sub),
            Op::Upgrade { sub } => self.upgrade(sub),
            Op::Assign { user, offer } => self.update(user, &[offer], &[]),
            Op::Remove { user, offer } => self.update(user, &[], &[offer]),
            // The same SKU in both lists is refused (a duplicate SKU).
            Op::Swap { from, to, .. } if from == to => Err(()),
            Op::Swap { user, from, to } => self.update(user, &[to], &[from]),
            Op::Suspend { sub } => {
                let Some(s) = self.subs.get_mut(sub) else { return Err(()) };
                match s.status {
                    Status::Active => {
                        s.status = Status::Suspended;
                        s.inactive_since = Some(self.now);
                        Ok(())
                    }
                    Status::Suspended => Ok(()),
                    _ => Err(()),
                }
            }
            Op::Reactivate { sub } => {
                let now = self.now;
                let Some(s) = self.subs.get_mut(sub) else { return Err(()) };
                match s.status {
                    Status::Active => Ok(()),
                    Status::Suspended if s.migrating_until.is_some() || s.migrated => Err(()),
                    Status::Suspended if now < s.end => {
                        s.status = Status::Active;
                        s.inactive_since = None;
                        Ok(())
                    }
                    _ => Err(()),
                }
            }
            Op::Quantity { sub, quantity } => {
                let Some(s) = self.subs.get_mut(sub) else { return Err(()) };
                // No change is accepted whatever the status (nothing to refuse).
                if s.quantity == quantity {
                    return Ok(());
                }
                if s.status != Status::Active || quantity == 0 {
                    return Err(());
                }
                if quantity < s.quantity && s.nce_reducible_until.is_some_and(|t| self.now >= t) {
                    return Err(());
                }
                // Seats in use stay: the pool may not shrink below its holders.
                let (offer, cut) = (s.offer, s.quantity.saturating_sub(quantity));
                if cut > 0 && self.consumed(offer) > self.seats(offer, Sub::in_service).saturating_sub(cut) {
                    return Err(());
                }
                let Some(s) = self.subs.get_mut(sub) else { return Err(()) };
                s.quantity = quantity;
                Ok(())
            }
            Op::Migrate { sub } => {
                let now = self.now;
                let Some(s) = self.subs.get_mut(sub) else { return Err(()) };
                let old_enough = s.bought.checked_add_months(Months::new(1)).is_some_and(|t| now >= t);
                let time_left = s.end - now;
                let eligible = s.status == Status::Active
                    && s.nce_reducible_until.is_none()
                    && HAS_NCE_ITEM[s.offer]
                    && old_enough
                    && time_left > Duration::hours(24);
                if !eligible {
                    return Err(());
                }
                s.status = Status::Suspended;
                s.inactive_since = Some(now);
                s.migrating_until = Some(now + Duration::minutes(MIGRATION_MINUTES));
                Ok(())
            }
            Op::Advance { hours } => {
                let to = self.now + Duration::hours(hours);
                self.advance(to);
                Ok(())
            }
            Op::CreateUser => {
                self.licenses.push(vec![false; OFFERS.len()]);
                self.deleted.push(None);
                Ok(())
            }
            Op::DeleteUser { user } => {
                let (Some(held), Some(slot)) = (self.licenses.get_mut(user), self.deleted.get_mut(user)) else {
                    return Err(());
                };
                if slot.is_some() {
                    return Err(());
                }
                *slot = Some((self.now, std::mem::replace(held, vec![false; OFFERS.len()])));
                Ok(())
            }
            Op::RestoreUser { user } => self.restore(user),
        }
    }

    fn restore(&mut self, user: usize) -> Result<(), ()> {
        let Some(slot) = self.deleted.get_mut(user) else { return Err(()) };
        let Some((at, released)) = slot.take() else { return Ok(()) };
        if self.now >= at + Duration::days(30) {
            *slot = Some((at, released));
            return Err(());
        }
        for (offer, had) in released.into_iter().enumerate() {
            if had && self.consumed(offer) < self.seats(offer, Sub::in_service) {
                self.licenses[user][offer] = true;
            }
        }
        Ok(())
    }

    /// In place: the subscription becomes the target; up to its seats of the source's holders
    /// (in user order) move to the target's SKU.
    fn transition(&mut self, sub: usize) -> Result<(), ()> {
        let Some(s) = self.subs.get_mut(sub) else { return Err(()) };
        if s.nce_reducible_until.is_none() || s.status != Status::Active || s.offer != TRANSITION.0 {
            return Err(());
        }
        s.offer = TRANSITION.1;
        let mut left = s.quantity;
        for u in 0..self.licenses.len() {
            if left > 0 && self.licenses[u][TRANSITION.0] {
                self.licenses[u][TRANSITION.0] = false;
                self.licenses[u][TRANSITION.1] = true;
                left -= 1;
            }
        }
        Ok(())
    }

    /// The target bought for the source's seats; up to that many holders move; the source is
    /// suspended when everyone moved. Refused while the customer holds the target's SKU.
    fn upgrade(&mut self, sub: usize) -> Result<(), ()> {
        let now = self.now;
        let Some(s) = self.subs.get(sub) else { return Err(()) };
        // Legacy only: an NCE item has no upgrade paths.
        if s.offer != UPGRADE.0 || s.status != Status::Active || s.nce_reducible_until.is_some() {
            return Err(());
        }
        let held =
            self.subs.iter().any(|t| t.offer == UPGRADE.1 && matches!(t.status, Status::Active | Status::Suspended));
        if held {
            return Err(());
        }
        let quantity = s.quantity;
        self.subs.push(Sub::bought(UPGRADE.1, quantity, now).ok_or(())?);
        let mut moved = 0;
        let mut stayed = false;
        for u in 0..self.licenses.len() {
            if self.licenses[u][UPGRADE.0] {
                if moved < quantity {
                    self.licenses[u][UPGRADE.1] = true;
                    self.licenses[u][UPGRADE.0] = false;
                    moved += 1;
                } else {
                    stayed = true;
                }
            }
        }
        if !stayed && let Some(s) = self.subs.get_mut(sub) {
            s.status = Status::Suspended;
            s.inactive_since = Some(now);
        }
        Ok(())
    }

    /// One license update: all or nothing; assigning a held SKU or removing a missing one is a
    /// no-op; each newly assigned SKU needs a free active seat.
    fn update(&mut self, user: usize, assign: &[usize], remove: &[usize]) -> Result<(), ()> {
        if !matches!(self.deleted.get(user), Some(None)) {
            return Err(());
        }
        for &offer in assign {
            if !self.licenses[user][offer] && self.consumed(offer) >= self.seats(offer, Sub::in_service) {
                return Err(());
            }
        }
        for &offer in assign {
            self.licenses[user][offer] = true;
        }
        for &offer in remove {
            self.licenses[user][offer] = false;
        }
        Ok(())
    }

    /// Deadlines in time order: renew (successor offers renew), or de-provision after the window,
    /// then release assignments beyond the seats that remain (last-created users first).
    fn advance(&mut self, to: DateTime<Utc>) {
        loop {
            let next = self
                .subs
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.deadline().map(|d| (d, i)))
                .filter(|(d, _)| *d <= to)
                .min();
            let Some((at, i)) = next else { break };
            self.now = at;
            let s = &mut self.subs[i];
            if s.migrating_until.take().is_some() {
                // Completed: an NCE subscription of the same SKU takes the seats over, co-termed
                // with the legacy one (no full term was asked for).
                s.migrated = true;
                let mut nce = Sub::bought(s.offer, s.quantity, at).unwrap_or_else(|| s.clone());
                nce.end = s.end.max(at);
                nce.nce_reducible_until = Some(at + Duration::days(CANCELLATION_DAYS));
                self.subs.push(nce);
                continue;
            }
            match s.status {
                Status::Active => {
                    s.end = s.end.checked_add_months(Months::new(12)).unwrap_or(at);
                    if s.nce_reducible_until.is_some() {
                        s.nce_reducible_until = Some(at + Duration::days(CANCELLATION_DAYS));
                    }
                }
                _ => {
                    s.status = Status::Deleted;
                    let offer = s.offer;
                    let capacity = self.seats(offer, |sub| sub.status != Status::Deleted);
                    let mut excess = self.consumed(offer).saturating_sub(capacity);
                    for u in (0..self.licenses.len()).rev() {
                        if excess > 0 && self.licenses[u][offer] {
                            self.licenses[u][offer] = false;
                            excess -= 1;
                        }
                    }
                }
            }
        }
        self.now = to;
    }
}

pub(super) fn harness() -> Result<Harness, Box<dyn std::error::Error>> {
    let doc = json!({
        "name": "model",
        // New commerce is open (January 2022), so migrations can be tried.
        "start": "2022-03-15T09:00:00Z",
        "seed": 1,
        "partners": [{ "id": skuswap_tests::article::PARTNER, "name": "Contoso", "mpnId": "1234567" }],
        "customers": [{
            "id": CUSTOMER,
            "companyName": "Model Co",
            "domain": "modelco.onmicrosoft.com",
            "users": [
                { "firstName": "Ann", "lastName": "One" },
                { "firstName": "Bob", "lastName": "Two" },
                { "firstName": "Cy", "lastName": "Three" }
            ]
        }]
    });
    let scenario: mock_server::model::Scenario = serde_json::from_value(doc)?;
    Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)
}

/// The mock's observable state in the reference's terms.
/// Subscriptions as `(offer, quantity, status, end)`, and per user the offers held.
type Observed = (Vec<(usize, u32, Status, DateTime<Utc>)>, Vec<Vec<bool>>);

fn observe(h: &Harness, skus: &[uuid::Uuid], ids: &[String]) -> Observed {
    use mock_server::model::SubscriptionStatus as S;
    h.mock.read(|w| {
        let Some(c) = CUSTOMER.parse().ok().and_then(|id| w.customer_any(id)) else { return (Vec::new(), Vec::new()) };
        // In the order they were bought (the reference's order), and every one of them.
        let mut subs: Vec<_> =
            ids.iter().filter_map(|id| id.parse::<uuid::Uuid>().ok().and_then(|id| c.subscriptions.get(&id))).collect();
        if subs.len() != c.subscriptions.len() {
            subs = c.subscriptions.values().collect();
        }
        let subs = subs
            .iter()
            .map(|s| {
                let offer = skus.iter().position(|k| *k == s.sku_id).unwrap_or(usize::MAX);
                let status = match s.status {
                    S::Active => Status::Active,
                    S::Suspended => Status::Suspended,
                    S::Expired => Status::Expired,
                    S::Deleted => Status::Deleted,
                };
                (offer, s.quantity, status, s.commitment_end_date)
            })
            .collect();
        let licenses = c.users_in_order().map(|u| skus.iter().map(|k| u.holds(*k)).collect()).collect();
        (subs, licenses)
    })
}

/// NCE subscriptions that migrations created since `known`, in the reference's order: by
/// creation, then by the position of the legacy subscription they came from.
pub(super) fn migrated(h: &Harness, known: &[String]) -> Vec<String> {
    h.mock.read(|w| {
        let Some(c) = CUSTOMER.parse().ok().and_then(|id| w.customer_any(id)) else { return Vec::new() };
        let mut new: Vec<_> = c
            .subscriptions
            .values()
            .filter(|s| !known.contains(&s.id.to_string()))
            .map(|s| {
                let from = s.nce.as_ref().and_then(|n| n.migrated_from).map(|f| f.to_string());
                let at = known.iter().position(|k| Some(k) == from.as_ref()).unwrap_or(usize::MAX);
                (s.creation_date, at, s.id.to_string())
            })
            .collect();
        new.sort();
        new.into_iter().map(|(_, _, id)| id).collect()
    })
}

/// Send one op; whether it was accepted, and the new subscription of an accepted order.
pub(super) async fn send(
    h: &Harness,
    op: &Op,
    offers: &[(String, uuid::Uuid)],
    subs: &[String],
) -> (bool, Option<String>) {
    let users: Vec<String> = h.mock.read(|w| {
        CUSTOMER
            .parse()
            .ok()
            .and_then(|id| w.customer_any(id))
            .map(|c| c.users_in_order().map(|u| u.id.to_string()).collect())
            .unwrap_or_default()
    });
    let licenses = |user: usize, assign: &[usize], remove: &[usize]| {
        let a: Vec<_> = assign.iter().map(|o| json!({"skuId": offers[*o].1, "excludedPlans": null})).collect();
        let r: Vec<_> = remove.iter().map(|o| offers[*o].1.to_string()).collect();
        (
            format!("/v1/customers/{CUSTOMER}/users/{}/licenseupdates", users[user]),
            json!({"licensesToAssign": a, "licensesToRemove": r}),
        )
    };
    let sub_path = |i: usize| subs.get(i).map(|id| format!("/v1/customers/{CUSTOMER}/subscriptions/{id}"));
    let user_path = |i: usize| users.get(i).map(|id| format!("/v1/customers/{CUSTOMER}/users/{id}"));
    let reply = match *op {
        Op::Assign { user, .. } | Op::Remove { user, .. } | Op::Swap { user, .. } if user >= users.len() => {
            return (false, None);
        }
        Op::CreateUser => {
            let n = users.len();
            let body = json!({"userPrincipalName": format!("new{n}@modelco.onmicrosoft.com"), "firstName": "New", "lastName": format!("User{n}"), "usageLocation": "US"});
            h.post(&format!("/v1/customers/{CUSTOMER}/users"), &body.to_string()).await
        }
        Op::DeleteUser { user } => {
            let Some(p) = user_path(user) else { return (false, None) };
            h.send(Method::DELETE, &p, None, &[]).await
        }
        Op::RestoreUser { user } => {
            let Some(p) = user_path(user) else { return (false, None) };
            h.patch(&p, &json!({"state": "active"}).to_string(), &[]).await
        }
        Op::Buy { offer, quantity } => {
            let body = json!({"lineItems": [{"lineItemNumber": 0, "offerId": offers[offer].0, "quantity": quantity}]});
            h.post(&format!("/v1/customers/{CUSTOMER}/orders"), &body.to_string()).await
        }
        Op::Assign { user, offer } => {
            let (p, b) = licenses(user, &[offer], &[]);
            h.post(&p, &b.to_string()).await
        }
        Op::Remove { user, offer } => {
            let (p, b) = licenses(user, &[], &[offer]);
            h.post(&p, &b.to_string()).await
        }
        Op::Swap { user, from, to } => {
            let (p, b) = licenses(user, &[to], &[from]);
            h.post(&p, &b.to_string()).await
        }
        Op::Suspend { sub } | Op::Reactivate { sub } => {
            let Some(p) = sub_path(sub) else { return (false, None) };
            let status = if matches!(op, Op::Suspend { .. }) { "suspended" } else { "active" };
            h.patch(&p, &json!({"status": status}).to_string(), &[]).await
        }
        Op::Quantity { sub, quantity } => {
            let Some(p) = sub_path(sub) else { return (false, None) };
            h.patch(&p, &json!({"quantity": quantity}).to_string(), &[]).await
        }
        Op::Upgrade { sub } => {
            let Some(p) = sub_path(sub) else { return (false, None) };
            let target = offers[UPGRADE.1].0.clone();
            let body = json!({"targetOffer": {"id": target}, "upgradeType": "upgrade_with_license_transfer"});
            let r = h.post(&format!("{p}/upgrades"), &body.to_string()).await;
            // Refused upgrades answer 200 with their errors.
            let done = r.status.is_success() && r.body["upgradeErrors"].as_array().is_some_and(Vec::is_empty);
            return (done, r.body["targetSubscriptionId"].as_str().map(str::to_string));
        }
        Op::Transition { sub } => {
            let Some(p) = sub_path(sub) else { return (false, None) };
            let to = h.mock.read(|w| {
                w.catalog.resolve(OFFERS[TRANSITION.1]).and_then(|o| o.nce.as_ref()).map(|n| n.catalog_item_id())
            });
            let quantity = h.get(&p).await.body["quantity"].clone();
            let body = json!({"toCatalogItemId": to, "quantity": quantity, "transitionType": "transition_with_license_transfer"});
            h.post(&format!("{p}/transitions"), &body.to_string()).await
        }
        Op::Migrate { sub } => {
            let Some(id) = subs.get(sub) else { return (false, None) };
            let body = json!({"currentSubscriptionId": id});
            h.post(&format!("/v1/customers/{CUSTOMER}/migrations/newcommerce"), &body.to_string()).await
        }
        Op::Advance { hours } => {
            h.send(Method::POST, "/admin/clock/advance", Some(&json!({"hours": hours}).to_string()), &[]).await
        }
    };
    let bought = reply.body["lineItems"][0]["subscriptionId"].as_str().map(str::to_string);
    (reply.status.is_success(), bought)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn the_mock_keeps_the_rules_of_the_reference(ops in proptest::collection::vec(op(), 1..30)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let h = harness().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let offers: Vec<(String, uuid::Uuid)> = h.mock.read(|w| {
            OFFERS.iter().filter_map(|k| w.catalog.resolve(k).map(|o| (o.id.clone(), o.sku_id))).collect()
        });
        let skus: Vec<uuid::Uuid> = offers.iter().map(|o| o.1).collect();
        let mut reference = Reference { now: h.mock.read(|w| w.now()), subs: Vec::new(), licenses: vec![vec![false; OFFERS.len()]; USERS], deleted: vec![None; USERS] };
        let mut ids: Vec<String> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let (accepted, bought) = runtime.block_on(send(&h, op, &offers, &ids));
            ids.extend(bought);
            ids.extend(migrated(&h, &ids));
            let expected = reference.apply(op).is_ok();
            prop_assert_eq!(accepted, expected, "step {} {:?}: mock accepted {}, reference {}", i, op, accepted, expected);
            let (subs, licenses) = observe(&h, &skus, &ids);
            let model: Vec<_> = reference.subs.iter().map(|s| (s.offer, s.quantity, s.status, s.end)).collect();
            prop_assert_eq!(&subs, &model, "step {} {:?}: subscriptions differ", i, op);
            prop_assert_eq!(&licenses, &reference.licenses, "step {} {:?}: licenses differ", i, op);
        }
    }
}
