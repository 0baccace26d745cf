//! Why the model refuses a change: one variant per rule, each mapped to Partner Center's
//! status and code by the HTTP layer (the model itself knows nothing of HTTP).

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("Customer tenant {0} was not found.")]
    CustomerNotFound(Uuid),
    #[error("The partner does not have a reseller relationship with customer {0}.")]
    NoRelationship(Uuid),
    #[error("Subscription {0} was not found.")]
    SubscriptionNotFound(Uuid),
    #[error("Order {0} was not found.")]
    OrderNotFound(Uuid),
    #[error("User {0} was not found.")]
    UserNotFound(Uuid),
    #[error("Offer {0} was not found.")]
    OfferNotFound(String),
    #[error("Offer {0} is no longer available for purchase.")]
    OfferNotPurchasable(String),
    #[error("Quantity {quantity} for offer {offer} is outside the allowed range {min}..={max}.")]
    QuantityOutOfRange { offer: String, quantity: i64, min: u32, max: u32 },
    #[error("Line item numbers must run from 0 to {0} without gaps.")]
    LineItemNumbers(usize),
    #[error("An order needs at least one line item.")]
    EmptyOrder,
    #[error("Add-on offer {addon} needs an active subscription to one of: {prerequisites}.")]
    MissingBaseSubscription { addon: String, prerequisites: String },
    #[error("The add-on cannot be activated while its parent subscription {0} is not active.")]
    ParentNotActive(Uuid),
    #[error("The ETag provided is no longer valid; read the resource again and retry.")]
    StaleEtag,
    #[error("Subscription {0} has been deleted and cannot be updated.")]
    SubscriptionDeleted(Uuid),
    #[error("Subscription {0} is suspended; only its status can be changed.")]
    SubscriptionSuspended(Uuid),
    #[error("The status of subscription {id} cannot change from {from} to {to}.")]
    StatusChangeNotAllowed { id: Uuid, from: &'static str, to: &'static str },
    #[error("Subscription {0} is not eligible to be auto-renewed: its offer is retired.")]
    AutoRenewNotAllowed(Uuid),
    #[error("Unknown SKU {0}.")]
    UnknownSku(Uuid),
    #[error(
        "LicenseQuotaExceededException : Subscription with Account {customer} and SKU {sku} does not have any available licenses left."
    )]
    OutOfLicenses { customer: Uuid, sku: Uuid },
    #[error("A license update must assign or remove at least one license.")]
    EmptyLicenseUpdate,
    #[error("SKU {0} appears more than once in the license update.")]
    DuplicateSku(Uuid),
    #[error("User {0} is deleted; restore the user before changing licenses.")]
    UserInactive(Uuid),
    #[error("No partner {0} in this mock.")]
    PartnerNotFound(Uuid),
    #[error("This mock has no partner yet; load a scenario first.")]
    NoPartners,
    #[error("The clock cannot move backwards (now {now}, asked for {to}).")]
    ClockBackwards { now: String, to: String },
    #[error("Invalid scenario: {0}")]
    InvalidScenario(String),
    #[error("Customer {0} already has a reseller relationship with this partner.")]
    AlreadyCustomer(Uuid),
    #[error("{0}")]
    InvalidInput(String),
    #[error("The subscription is not eligible for migration to new commerce (code {code}): {reason}")]
    MigrationIneligible { code: i64, reason: String },
    #[error("New-commerce migration {0} was not found.")]
    MigrationNotFound(Uuid),
    #[error("Subscription {0} is being migrated to new commerce; wait until the migration completes or fails.")]
    MigrationInProgress(Uuid),
    #[error("Migration schedule {0} was not found.")]
    ScheduleNotFound(Uuid),
    #[error("{0}")]
    ScheduleConflict(String),
    #[error(
        "Seats of new-commerce subscription {0} can only be reduced within the cancellation window after purchase or renewal."
    )]
    SeatReductionNotAllowed(Uuid),
    #[error(
        "Subscription {id} cannot go down to {quantity} seats: {in_use} users hold its SKU and only {left} active seats would remain. Remove licenses first."
    )]
    SeatsInUse { id: Uuid, quantity: u32, in_use: u32, left: u32 },
    #[error("A user named {0} already exists in this tenant.")]
    UserExists(String),
    #[error("The transition is not allowed: {0}")]
    TransitionNotAllowed(String),
}
