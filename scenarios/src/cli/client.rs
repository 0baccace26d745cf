//! One `PartnerCenter` for the command line, whichever transport the user picked: HTTP to
//! `--base-url`, or an embedded in-process mock (`--mock SCENARIO`).

use skuswap_migrator::client::*;

pub enum AnyClient {
    Http(RestClient<Http>),
    InProcess(RestClient<InProcess<axum::Router>>),
}

macro_rules! delegate {
    ($self:ident, $c:ident => $call:expr) => {
        match $self {
            AnyClient::Http($c) => $call.await,
            AnyClient::InProcess($c) => $call.await,
        }
    };
}

impl PartnerCenter for AnyClient {
    async fn customers(&self) -> Result<Vec<Customer>> {
        delegate!(self, c => c.customers())
    }
    async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        delegate!(self, c => c.customer(id))
    }
    async fn subscriptions(&self, customer: &str) -> Result<Vec<Subscription>> {
        delegate!(self, c => c.subscriptions(customer))
    }
    async fn subscription(&self, customer: &str, id: &str) -> Result<FetchedSubscription> {
        delegate!(self, c => c.subscription(customer, id))
    }
    async fn set_subscription_status(
        &self,
        customer: &str,
        cur: &FetchedSubscription,
        status: &SubscriptionStatus,
        rid: &str,
    ) -> Result<Subscription> {
        delegate!(self, c => c.set_subscription_status(customer, cur, status, rid))
    }
    async fn set_subscription_quantity(
        &self,
        customer: &str,
        cur: &FetchedSubscription,
        quantity: u32,
        rid: &str,
    ) -> Result<Subscription> {
        delegate!(self, c => c.set_subscription_quantity(customer, cur, quantity, rid))
    }
    async fn create_order(&self, customer: &str, lines: &[NewLine], rid: &str) -> Result<Order> {
        delegate!(self, c => c.create_order(customer, lines, rid))
    }
    async fn subscribed_skus(&self, customer: &str) -> Result<Vec<SubscribedSku>> {
        delegate!(self, c => c.subscribed_skus(customer))
    }
    async fn users(&self, customer: &str) -> Result<Vec<User>> {
        delegate!(self, c => c.users(customer))
    }
    async fn user_licenses(&self, customer: &str, user: &str) -> Result<Vec<License>> {
        delegate!(self, c => c.user_licenses(customer, user))
    }
    async fn update_licenses(&self, customer: &str, user: &str, a: &[String], r: &[String], rid: &str) -> Result<()> {
        delegate!(self, c => c.update_licenses(customer, user, a, r, rid))
    }
    async fn offers(&self, country: &str) -> Result<Vec<Offer>> {
        delegate!(self, c => c.offers(country))
    }
    async fn relationship_request_url(&self) -> Result<String> {
        delegate!(self, c => c.relationship_request_url())
    }
    async fn validate_migration(&self, customer: &str, request: &NewMigration) -> Result<Eligibility> {
        delegate!(self, c => c.validate_migration(customer, request))
    }
    async fn create_migration(&self, customer: &str, request: &NewMigration, rid: &str) -> Result<Migration> {
        delegate!(self, c => c.create_migration(customer, request, rid))
    }
    async fn migration(&self, customer: &str, id: &str) -> Result<Migration> {
        delegate!(self, c => c.migration(customer, id))
    }
    async fn migrations_of(&self, subscription: &str) -> Result<Vec<Migration>> {
        delegate!(self, c => c.migrations_of(subscription))
    }
    async fn upgrades(&self, customer: &str, sub: &str) -> Result<Vec<Upgrade>> {
        delegate!(self, c => c.upgrades(customer, sub))
    }
    async fn upgrade(
        &self,
        customer: &str,
        sub: &str,
        target: &OfferRef,
        quantity: u32,
        rid: &str,
    ) -> Result<UpgradeResult> {
        delegate!(self, c => c.upgrade(customer, sub, target, quantity, rid))
    }
    async fn transition_options(&self, customer: &str, sub: &str) -> Result<Vec<TransitionOption>> {
        delegate!(self, c => c.transition_options(customer, sub))
    }
    async fn transition(&self, customer: &str, sub: &str, request: &NewTransition, rid: &str) -> Result<Transition> {
        delegate!(self, c => c.transition(customer, sub, request, rid))
    }
    async fn wait(&self, duration: std::time::Duration) {
        match self {
            AnyClient::Http(c) => c.wait(duration).await,
            AnyClient::InProcess(c) => c.wait(duration).await,
        }
    }
    fn requests_sent(&self) -> u64 {
        match self {
            AnyClient::Http(c) => c.requests_sent(),
            AnyClient::InProcess(c) => c.requests_sent(),
        }
    }

    async fn back_off(&self, attempt: u32) {
        match self {
            AnyClient::Http(c) => c.back_off(attempt).await,
            AnyClient::InProcess(c) => c.back_off(attempt).await,
        }
    }
}
