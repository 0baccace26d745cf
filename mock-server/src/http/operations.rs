//! Every Partner Center operation the mock serves, named once. The route table registers each
//! by its method and path from here; the fault layer finds a call's operation here; handlers
//! and the dashboard name their audit-log cause from here.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};
use uuid::Uuid;

use crate::Mock;

/// One Partner Center operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetCustomers,
    GetRelationshipRequest,
    GetCustomer,
    GetOrders,
    CreateOrder,
    GetOrder,
    GetSubscriptions,
    GetSubscription,
    UpdateSubscription,
    GetUpgrades,
    CreateUpgrade,
    GetSubscribedSkus,
    GetUsers,
    CreateUser,
    GetUser,
    UpdateUser,
    DeleteUser,
    GetUserLicenses,
    UpdateLicenses,
    GetOffers,
    GetOffer,
    ValidateMigration,
    CreateMigration,
    GetMigrationEvents,
    CreateMigrationSchedule,
    UpdateMigrationSchedule,
    GetMigrationSchedule,
    CancelMigrationSchedule,
    GetMigration,
    GetMigrations,
    GetMigrationSchedules,
    GetTransitionEligibilities,
    CreateTransition,
    GetTransitions,
}

/// `(operation, name, rate-limit group, method, path under /v1, the doc page it mirrors)`.
#[rustfmt::skip]
const TABLE: &[(Operation, &str, &str, Method, &str, &str)] = &[
    (Operation::GetCustomers, "getCustomers", "customers", Method::GET, "/customers", "get-a-list-of-customers.md"),
    (Operation::GetRelationshipRequest, "getRelationshipRequest", "customers", Method::GET, "/customers/relationshiprequests", "request-reseller-relationship.md"),
    (Operation::GetCustomer, "getCustomer", "customers", Method::GET, "/customers/{customer_id}", "get-a-customer-by-id.md"),
    (Operation::GetOrders, "getOrders", "orders", Method::GET, "/customers/{customer_id}/orders", "get-all-of-a-customer-s-orders.md"),
    (Operation::CreateOrder, "createOrder", "orders", Method::POST, "/customers/{customer_id}/orders", "create-an-order.md"),
    (Operation::GetOrder, "getOrder", "orders", Method::GET, "/customers/{customer_id}/orders/{order_id}", "get-an-order-by-id.md"),
    (Operation::GetSubscriptions, "getSubscriptions", "subscriptions", Method::GET, "/customers/{customer_id}/subscriptions", "get-all-of-a-customer-s-subscriptions.md"),
    (Operation::GetSubscription, "getSubscription", "subscriptions", Method::GET, "/customers/{customer_id}/subscriptions/{subscription_id}", "get-a-subscription-by-id.md"),
    (Operation::UpdateSubscription, "updateSubscription", "subscriptions", Method::PATCH, "/customers/{customer_id}/subscriptions/{subscription_id}", "suspend-a-subscription.md"),
    (Operation::GetUpgrades, "getUpgrades", "subscriptions", Method::GET, "/customers/{customer_id}/subscriptions/{subscription_id}/upgrades", "get-a-list-of-upgrades-for-a-subscription.md"),
    (Operation::CreateUpgrade, "createUpgrade", "subscriptions", Method::POST, "/customers/{customer_id}/subscriptions/{subscription_id}/upgrades", "transition-a-subscription.md"),
    (Operation::GetSubscribedSkus, "getSubscribedSkus", "licenses", Method::GET, "/customers/{customer_id}/subscribedskus", "get-a-list-of-available-licenses.md"),
    (Operation::GetUsers, "getUsers", "users", Method::GET, "/customers/{customer_id}/users", "get-a-list-of-all-user-accounts-for-a-customer.md"),
    (Operation::CreateUser, "createUser", "users", Method::POST, "/customers/{customer_id}/users", "create-user-accounts-for-a-customer.md"),
    (Operation::GetUser, "getUser", "users", Method::GET, "/customers/{customer_id}/users/{user_id}", "get-a-user-by-id.md"),
    (Operation::UpdateUser, "updateUser", "users", Method::PATCH, "/customers/{customer_id}/users/{user_id}", "update-user-accounts-for-a-customer.md"),
    (Operation::DeleteUser, "deleteUser", "users", Method::DELETE, "/customers/{customer_id}/users/{user_id}", "delete-user-accounts-for-a-customer.md"),
    (Operation::GetUserLicenses, "getUserLicenses", "licenses", Method::GET, "/customers/{customer_id}/users/{user_id}/licenses", "check-which-licenses-are-assigned-to-a-user.md"),
    (Operation::UpdateLicenses, "updateLicenses", "licenses", Method::POST, "/customers/{customer_id}/users/{user_id}/licenseupdates", "assign-licenses-to-a-user.md"),
    (Operation::GetOffers, "getOffers", "offers", Method::GET, "/offers", "get-a-list-of-offers-for-a-market.md"),
    (Operation::GetOffer, "getOffer", "offers", Method::GET, "/offers/{offer_id}", "get-an-offer-by-id.md"),
    // Literal segments before `{migration_id}`: a call's operation is the first row matching.
    (Operation::ValidateMigration, "validateMigration", "validations", Method::POST, "/customers/{customer_id}/migrations/newcommerce/validate", "validate-subscription-for-migration.md"),
    (Operation::CreateMigration, "createMigration", "migrations", Method::POST, "/customers/{customer_id}/migrations/newcommerce", "create-migration.md"),
    (Operation::GetMigrationEvents, "getMigrationEvents", "subscriptions", Method::GET, "/customers/{customer_id}/migrations/newcommerce/events", "get-new-commerce-migration-events.md"),
    (Operation::CreateMigrationSchedule, "createMigrationSchedule", "subscriptions", Method::POST, "/customers/{customer_id}/migrations/newcommerce/schedules", "create-new-commerce-migration-schedule.md"),
    (Operation::UpdateMigrationSchedule, "updateMigrationSchedule", "subscriptions", Method::PUT, "/customers/{customer_id}/migrations/newcommerce/schedules/{schedule_id}", "update-new-commerce-migration-schedule.md"),
    (Operation::GetMigrationSchedule, "getMigrationSchedule", "subscriptions", Method::GET, "/customers/{customer_id}/migrations/newcommerce/schedules/{schedule_id}", "get-new-commerce-migration-schedule.md"),
    (Operation::CancelMigrationSchedule, "cancelMigrationSchedule", "subscriptions", Method::POST, "/customers/{customer_id}/migrations/newcommerce/schedules/{schedule_id}/cancel", "cancel-new-commerce-migration-schedule.md"),
    (Operation::GetMigration, "getMigration", "subscriptions", Method::GET, "/customers/{customer_id}/migrations/newcommerce/{migration_id}", "get-new-commerce-migration.md"),
    (Operation::GetMigrations, "getMigrations", "subscriptions", Method::GET, "/migrations/newcommerce", "query-migrated-subscriptions.md"),
    (Operation::GetMigrationSchedules, "getMigrationSchedules", "subscriptions", Method::GET, "/migrations/newcommerce/schedules", "get-new-commerce-migration-schedules.md"),
    (Operation::GetTransitionEligibilities, "getTransitionEligibilities", "subscriptions", Method::GET, "/customers/{customer_id}/subscriptions/{subscription_id}/transitionEligibilities", "transition-a-new-commerce-subscription.md"),
    (Operation::CreateTransition, "createTransition", "subscriptions", Method::POST, "/customers/{customer_id}/subscriptions/{subscription_id}/transitions", "transition-a-new-commerce-subscription.md"),
    (Operation::GetTransitions, "getTransitions", "subscriptions", Method::GET, "/customers/{customer_id}/subscriptions/{subscription_id}/transitions", "transition-a-new-commerce-subscription.md"),
];

impl Operation {
    fn row(self) -> &'static (Operation, &'static str, &'static str, Method, &'static str, &'static str) {
        // Every variant has its row (a test checks it); the first row keeps this total.
        TABLE.iter().find(|r| r.0 == self).unwrap_or(&TABLE[0])
    }

    /// Partner Center's name for it, as fault plans and the audit log spell it.
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The rate-limit group it counts against.
    pub fn group(self) -> &'static str {
        self.row().2
    }

    pub fn method(self) -> Method {
        self.row().3.clone()
    }

    /// Its path under `/v1`, with `{...}` for each id.
    pub fn path(self) -> &'static str {
        self.row().4
    }

    /// The page of Partner Center's developer docs it mirrors (`develop/<page>`).
    pub fn doc(self) -> &'static str {
        self.row().5
    }

    /// Every operation, in the route table's order.
    pub fn all() -> impl Iterator<Item = Operation> {
        TABLE.iter().map(|r| r.0)
    }

    /// The operation a `/v1` call is (path with or without `/v1`), and its customer. A path
    /// ending in `/` is none: the router answers it 404, so nothing else may count it as a call
    /// (a fault rule would otherwise fail or throttle a request no route serves).
    pub fn of(method: &str, path: &str) -> Option<(Operation, Option<Uuid>)> {
        let rest = path.strip_prefix("/v1").unwrap_or(path);
        let segments: Vec<&str> = rest.split('/').collect();
        let op = TABLE.iter().find(|r| r.3.as_str() == method && matches(r.4, &segments))?.0;
        let customer = segments.get(2).and_then(|c| c.parse::<Uuid>().ok());
        Some((op, customer))
    }
}

/// A fault plan names only operations that exist (or `*`): a misspelt name would otherwise
/// match nothing and the plan would pass every call without a word.
pub fn check_fault_operations(plan: &crate::model::faults::FaultPlan) -> Result<(), String> {
    for (i, rule) in plan.rules.iter().enumerate() {
        if let Some(unknown) =
            rule.operations.iter().find(|o| *o != "*" && !Operation::all().any(|op| op.name() == o.as_str()))
        {
            let known: Vec<&str> = Operation::all().map(Operation::name).collect();
            return Err(format!("rules[{i}].operations: {unknown:?} is not an operation ({})", known.join(", ")));
        }
    }
    Ok(())
}

/// Does a path template (`{...}` matches one segment) match these segments?
fn matches(template: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = template.split('/').collect();
    parts.len() == segments.len()
        && parts.iter().zip(segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
}

/// The route table's verb: register an operation's handler at its method and path.
pub trait Routes {
    fn operation<H, T>(self, op: Operation, handler: H) -> Self
    where
        H: Handler<T, Mock>,
        T: 'static;
}

impl Routes for axum::Router<Mock> {
    fn operation<H, T>(self, op: Operation, handler: H) -> Self
    where
        H: Handler<T, Mock>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(op.method()).unwrap_or(MethodFilter::GET);
        // At its whole path, not under a nested `/v1` router: nesting costs every request a
        // second routing and a rebuilt URI.
        self.route(&format!("/v1{}", op.path()), on(filter, handler))
    }
}
