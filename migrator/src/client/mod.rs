//! What the engine sees of Partner Center: the [`PartnerCenter`] trait, and the one REST
//! client that implements it over either transport.
//!
//! # Layout
//! - `rest`: the REST client (paths, retries, paging); `error`: why a call failed; `retry`: the
//!   retry policy and the pause between attempts.
//! - `auth`: credentials and sign-in; `headers`: what every call carries besides its body;
//!   `transport`: HTTP and in-process; `wire`: resources.
//!
//! Mutating calls take the caller's `request_id` (`MS-RequestId`): the engine derives it from
//! the migration and the step, so a retry after a timeout, or a resumed run after a crash,
//! repeats the same id, as Partner Center asks.

pub mod auth;
pub mod error;
mod headers;
pub mod rest;
pub mod retry;
pub mod transport;
pub mod wire;

use std::future::Future;

pub use auth::{AuthError, Authority, Clock, Credentials, DevicePrompt, Fixed, Grant, OAuth, Secret};
pub use rest::{ClientError, ErrorCode, Pause, RealTime, RestClient, RetryPolicy};
pub use transport::{Http, InProcess, Incoming, Outgoing, Transport, TransportError};
pub use wire::*;

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

pub trait PartnerCenter: Send + Sync {
    /// Every customer of the partner (all pages).
    fn customers(&self) -> impl Future<Output = Result<Vec<Customer>>> + Send;
    /// One customer; `Ok(None)` when it is not (yet) the partner's customer.
    fn customer(&self, customer: &str) -> impl Future<Output = Result<Option<Customer>>> + Send;
    fn subscriptions(&self, customer: &str) -> impl Future<Output = Result<Vec<Subscription>>> + Send;
    fn subscription(&self, customer: &str, id: &str) -> impl Future<Output = Result<FetchedSubscription>> + Send;
    /// PATCH the full resource with `status` changed, honouring its ETag.
    fn set_subscription_status(
        &self,
        customer: &str,
        current: &FetchedSubscription,
        status: &SubscriptionStatus,
        request_id: &str,
    ) -> impl Future<Output = Result<Subscription>> + Send;
    /// PATCH the full resource with `quantity` changed, honouring its ETag.
    fn set_subscription_quantity(
        &self,
        customer: &str,
        current: &FetchedSubscription,
        quantity: u32,
        request_id: &str,
    ) -> impl Future<Output = Result<Subscription>> + Send;
    fn create_order(
        &self,
        customer: &str,
        lines: &[NewLine],
        request_id: &str,
    ) -> impl Future<Output = Result<Order>> + Send;
    fn subscribed_skus(&self, customer: &str) -> impl Future<Output = Result<Vec<SubscribedSku>>> + Send;
    /// Every user of the customer (all pages).
    fn users(&self, customer: &str) -> impl Future<Output = Result<Vec<User>>> + Send;
    fn user_licenses(&self, customer: &str, user: &str) -> impl Future<Output = Result<Vec<License>>> + Send;
    /// Assign and remove in one call.
    fn update_licenses(
        &self,
        customer: &str,
        user: &str,
        assign: &[String],
        remove: &[String],
        request_id: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn offers(&self, country: &str) -> impl Future<Output = Result<Vec<Offer>>> + Send;
    /// The invitation link a prospect must accept.
    fn relationship_request_url(&self) -> impl Future<Output = Result<String>> + Send;
    /// `POST …/migrations/newcommerce/validate`: changes nothing, so it is retried like a read.
    fn validate_migration(
        &self,
        customer: &str,
        request: &NewMigration,
    ) -> impl Future<Output = Result<Eligibility>> + Send;
    /// `POST …/migrations/newcommerce`.
    fn create_migration(
        &self,
        customer: &str,
        request: &NewMigration,
        request_id: &str,
    ) -> impl Future<Output = Result<Migration>> + Send;
    /// `GET …/migrations/newcommerce/{id}`.
    fn migration(&self, customer: &str, id: &str) -> impl Future<Output = Result<Migration>> + Send;
    /// Every migration of a legacy subscription (`GET /v1/migrations/newcommerce?CurrentSubscriptionId=`).
    fn migrations_of(&self, subscription: &str) -> impl Future<Output = Result<Vec<Migration>>> + Send;
    /// `GET …/subscriptions/{id}/upgrades`.
    fn upgrades(&self, customer: &str, subscription: &str) -> impl Future<Output = Result<Vec<Upgrade>>> + Send;
    /// `POST …/subscriptions/{id}/upgrades` with license transfer, to `target` for `quantity`.
    fn upgrade(
        &self,
        customer: &str,
        subscription: &str,
        target: &OfferRef,
        quantity: u32,
        request_id: &str,
    ) -> impl Future<Output = Result<UpgradeResult>> + Send;
    /// `GET …/subscriptions/{id}/transitionEligibilities?eligibilityType=immediate`.
    fn transition_options(
        &self,
        customer: &str,
        subscription: &str,
    ) -> impl Future<Output = Result<Vec<TransitionOption>>> + Send;
    /// `POST …/subscriptions/{id}/transitions`.
    fn transition(
        &self,
        customer: &str,
        subscription: &str,
        request: &NewTransition,
        request_id: &str,
    ) -> impl Future<Output = Result<Transition>> + Send;
    /// Wait this long (polling an asynchronous operation), on the client's clock.
    fn wait(&self, _duration: std::time::Duration) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// How many requests this client has sent (retries included).
    fn requests_sent(&self) -> u64;
    /// Wait before the engine's own attempt `attempt + 1` after an unclear outcome.
    fn back_off(&self, _attempt: u32) -> impl Future<Output = ()> + Send {
        async {}
    }
}
