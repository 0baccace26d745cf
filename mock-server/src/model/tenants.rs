//! Partners, customers (tenants), the reseller relationship between them, users and bearer
//! tokens: who may see and change what.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Actor, Batch, Cause, EventKind, ModelError, Order, Result, Subject, Subscription, World};

/// An indirect provider (or direct-bill partner) that transacts in CSP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Partner {
    /// The partner's own Azure AD tenant id.
    pub id: Uuid,
    pub name: String,
    pub mpn_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenMode {
    /// Client credentials only: refused on the app+user-only routes.
    #[serde(rename = "app")]
    App,
    #[serde(rename = "app+user")]
    AppUser,
}

impl TokenMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenMode::App => "app",
            TokenMode::AppUser => "app+user",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub partner: Uuid,
    pub mode: TokenMode,
    /// When the token stops working, on the virtual clock (admin-minted tokens never expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

impl Token {
    /// Whether the token still works at `now` (an expired one is as good as none).
    pub fn works_at(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// A copy of a world's tokens and its clock, as of one moment (see [`World::tokens`]): what
/// the HTTP layer asks on every request, so it need not wait for the world's lock to do so.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub(super) tokens: imbl::OrdMap<String, Token>,
    pub(super) now: DateTime<Utc>,
}

impl Tokens {
    /// A token that still worked at this copy's moment.
    pub fn get(&self, token: &str) -> Option<&Token> {
        self.tokens.get(token).filter(|t| t.works_at(self.now))
    }

    /// Whether `other` answers every token as this copy does (same map, same moment).
    pub fn same_as(&self, other: &Tokens) -> bool {
        self.now == other.now && self.tokens.ptr_eq(&other.tokens)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserState {
    Active,
    /// Soft-deleted (Partner Center calls it "inactive"); licenses were released.
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub user_principal_name: String,
    pub first_name: String,
    pub last_name: String,
    pub usage_location: String,
    pub state: UserState,
    /// Assigned SKU ids (whether each is *effective* depends on the SKU's seats).
    pub licenses: Vec<Uuid>,
    /// When it was (soft-)deleted; it can be restored for 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// The licenses a deletion released, given back on a restore where seats are free.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<Uuid>,
}

impl User {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    pub fn holds(&self, sku: Uuid) -> bool {
        self.licenses.contains(&sku)
    }
}

/// A pending acceptance of a partner's invitation (scenario-driven prospects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingAcceptance {
    pub partner: Uuid,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// The customer's Azure AD tenant id.
    pub id: Uuid,
    pub commerce_id: Uuid,
    pub company_name: String,
    pub domain: String,
    pub country: String,
    /// Partners this customer has accepted as reseller (indirect provider).
    pub resellers: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepts: Option<PendingAcceptance>,
    /// Every subscription the tenant holds, whatever channel sold it.
    /// Values shared (`Arc`): a write copies the one it changes, not its neighbours in the
    /// persistent map's node.
    pub subscriptions: imbl::OrdMap<Uuid, Arc<Subscription>>,
    pub orders: imbl::OrdMap<Uuid, Arc<Order>>,
    pub users: imbl::OrdMap<Uuid, Arc<User>>,
    /// Users in the order they were created: the order `GET .../users` pages through.
    pub user_order: imbl::Vector<Uuid>,
    /// Consumed units per SKU (active users holding it); derived, rebuilt on restore.
    #[serde(skip)]
    pub(crate) consumed: imbl::OrdMap<Uuid, u32>,
    /// Subscriptions per SKU in creation order, so seat counts and an add-on's base read one
    /// SKU's subscriptions, not the whole tenant's; derived, rebuilt on restore.
    #[serde(skip)]
    pub(crate) by_sku: imbl::OrdMap<Uuid, imbl::OrdSet<Created>>,
    /// What the write in progress changed here, to undo it if the write panics.
    #[serde(skip)]
    pub(crate) journal: super::journal::Journal,
}

/// A subscription's place in creation order: its creation date, then its id (a tie-break).
pub(crate) type Created = (DateTime<Utc>, Uuid);

impl Customer {
    pub fn is_customer_of(&self, partner: Uuid) -> bool {
        self.resellers.contains(&partner)
    }

    pub fn users_in_order(&self) -> impl Iterator<Item = &User> {
        self.user_order.iter().filter_map(|id| self.users.get(id).map(|u| &**u))
    }

    pub fn consumed_units(&self, sku: Uuid) -> u32 {
        self.consumed.get(&sku).copied().unwrap_or(0)
    }

    /// The tenant's subscriptions of one SKU, by creation.
    pub fn subscriptions_of_sku(&self, sku: Uuid) -> impl Iterator<Item = &super::Subscription> {
        self.by_sku.get(&sku).into_iter().flatten().filter_map(|(_, id)| self.subscriptions.get(id).map(|s| &**s))
    }

    /// File subscription `created` under `sku` (and out of `from`, when its SKU changed).
    pub(crate) fn index_sku(&mut self, created: Created, from: Option<Uuid>, sku: Uuid) {
        if let Some(of_sku) = from.and_then(|f| self.by_sku.get_mut(&f)) {
            of_sku.remove(&created);
        }
        self.by_sku.entry(sku).or_default().insert(created);
    }

    /// Rebuild what a snapshot does not carry: consumed units and the subscription indexes.
    pub(crate) fn rebuild_derived(&mut self) {
        self.recount_consumed();
        let mut by_sku = imbl::OrdMap::<Uuid, imbl::OrdSet<Created>>::new();
        for s in self.subscriptions.values() {
            by_sku.entry(s.sku_id).or_default().insert((s.creation_date, s.id));
        }
        self.by_sku = by_sku;
    }

    pub(crate) fn recount_consumed(&mut self) {
        let mut consumed = imbl::OrdMap::new();
        for u in self.users.values().filter(|u| u.state == UserState::Active) {
            for sku in &u.licenses {
                *consumed.entry(*sku).or_insert(0) += 1;
            }
        }
        self.consumed = consumed;
    }

    /// Subscriptions in a stable order: by creation, then id. A sort, not an index: only
    /// whole-tenant reads (a listing, a migration's bundle) ask, and a second persistent index
    /// would cost every order a second path copy.
    pub fn subscriptions_in_order(&self) -> impl Iterator<Item = &Subscription> {
        let mut subs: Vec<&Subscription> = self.subscriptions.values().map(|s| &**s).collect();
        subs.sort_by_key(|s| (s.creation_date, s.id));
        subs.into_iter()
    }
}

impl World {
    pub fn add_partner(&mut self, batch: &Batch, partner: Partner) {
        let kind = EventKind::PartnerAdded { name: partner.name.clone(), mpn_id: partner.mpn_id.clone() };
        std::sync::Arc::make_mut(&mut self.partners).push(partner);
        self.log(batch, Subject::default(), kind);
    }

    /// Record a bearer token for a partner (default: the first one). The secret is drawn by
    /// the caller at random (`mock_server::mint_token`): never from the seed, never twice.
    pub fn issue_token(
        &mut self,
        partner: Option<Uuid>,
        mode: TokenMode,
        secret: String,
        expires: Option<DateTime<Utc>>,
    ) -> Result<String> {
        let partner = match partner {
            Some(p) if self.partner(p).is_some() => p,
            Some(p) => return Err(ModelError::PartnerNotFound(p)),
            None => self.default_partner()?,
        };
        if secret.len() < 32 || self.tokens.contains_key(&secret) {
            return Err(ModelError::InvalidInput("a token must be a fresh random secret".into()));
        }
        if expires.is_some_and(|at| at <= self.now) {
            return Err(ModelError::InvalidInput("a token must expire after now".into()));
        }
        // The id sequence advances as it did when tokens came from it, so every id a
        // scenario's seed gives stays where it was.
        let _ = self.ids.next_token();
        let token = secret;
        self.tokens.insert(token.clone(), Token { partner, mode, expires });
        let batch = self.open_batch(Cause::Admin { operation: "issueToken".into() }, Actor::Admin);
        self.log(&batch, Subject::default(), EventKind::TokenIssued { partner, mode: mode.as_str().into() });
        Ok(token)
    }

    pub(crate) fn insert_customer(&mut self, batch: &Batch, customer: Customer) {
        let id = customer.id;
        let kind = EventKind::CustomerAdded { company_name: customer.company_name.clone() };
        let resellers = customer.resellers.clone();
        self.customer_order.push_back(id);
        self.partner_customers.added(id, &resellers);
        let old = self.customers.insert(id, std::sync::Arc::new(customer));
        if self.writing {
            self.added.push((id, old));
        }
        let subject = Subject { customer: Some(id), ..Subject::default() };
        self.log(batch, subject, kind);
        for partner in resellers {
            self.log(batch, subject, EventKind::RelationshipEstablished { partner });
        }
        self.schedule_acceptance(id);
    }

    /// Customers of this partner in paging order: the page starting at `offset`, and the total.
    pub fn customers_page(&self, partner: Uuid, offset: usize, size: usize) -> (Vec<&Customer>, usize) {
        let page = self.partner_customers.page(partner, offset, size).filter_map(|id| self.customer_any(id)).collect();
        (page, self.partner_customers.count(partner))
    }

    /// Where `customer` is among this partner's customers in paging order, if it is one.
    pub fn customer_position(&self, partner: Uuid, customer: Uuid) -> Option<usize> {
        self.partner_customers.position(partner, customer)
    }

    /// The partner's invitation link for prospects (there is no API to accept it: the
    /// customer's global admin does, which the mock models with an admin call).
    pub fn relationship_request_url(&self, partner: Uuid) -> String {
        format!(
            "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId={partner}&msppId=0&DAP=false#/BillingAccounts/partner-invitation"
        )
    }

    /// A customer accepts a partner's invitation and becomes its customer.
    pub fn accept_relationship(&mut self, batch: &Batch, customer: Uuid, partner: Uuid) -> Result<()> {
        if self.partner(partner).is_none() {
            return Err(ModelError::PartnerNotFound(partner));
        }
        let c = self.customer_mut(customer)?;
        if c.is_customer_of(partner) {
            return Err(ModelError::AlreadyCustomer(customer));
        }
        c.resellers.push(partner);
        if c.accepts.as_ref().is_some_and(|a| a.partner == partner) {
            c.accepts = None;
        }
        self.partner_customers.joined(customer, partner);
        let subject = Subject { customer: Some(customer), ..Subject::default() };
        self.log(batch, subject, EventKind::RelationshipEstablished { partner });
        Ok(())
    }

    pub fn user_of(&self, partner: Uuid, customer: Uuid, user: Uuid) -> Result<&User> {
        self.customer_of(partner, customer)?.users.get(&user).map(|u| &**u).ok_or(ModelError::UserNotFound(user))
    }

    pub(crate) fn insert_user(&mut self, batch: &Batch, customer: Uuid, user: User) -> Result<()> {
        let c = self.customer_mut(customer)?;
        let id = user.id;
        let upn = user.user_principal_name.clone();
        let licenses = user.licenses.clone();
        c.user_order.push_back(id);
        c.put_user(Arc::new(User { licenses: Vec::new(), ..user }));
        let subject = Subject { customer: Some(customer), user: Some(id), ..Subject::default() };
        self.log(batch, subject, EventKind::UserAdded { user_principal_name: upn });
        for sku in licenses {
            self.grant(batch, customer, id, sku);
        }
        Ok(())
    }

    /// Soft-delete a user (Partner Center's `DELETE .../users/{id}`): licenses are released.
    /// A deleted user is not found again: a second delete would restart its 30 days and
    /// forget the licenses its restore gives back.
    pub fn delete_user(&mut self, batch: &Batch, partner: Uuid, customer: Uuid, user: Uuid) -> Result<()> {
        let u = self.user_of(partner, customer, user)?;
        if u.state == UserState::Inactive {
            return Err(ModelError::UserNotFound(user));
        }
        let held = u.licenses.clone();
        for sku in held.clone() {
            self.revoke(batch, customer, user, sku);
        }
        let now = self.now;
        let c = self.customer_mut(customer)?;
        if let Some(u) = c.user_mut(user) {
            u.state = UserState::Inactive;
            u.deleted_at = Some(now);
            u.released = held.clone();
        }
        let subject = Subject { customer: Some(customer), user: Some(user), ..Subject::default() };
        self.log(batch, subject, EventKind::UserDeleted);
        Ok(())
    }
}
