//! The HTTP surface: Partner Center's routes under `/v1` and the admin API under `/admin`.
//! The route table below is one line per operation; `operations` names each one once (its
//! method, path, rate-limit group and the doc page it mirrors).
//!
//! # Layout
//! - `partner`: Partner Center handlers (translate only; rules live in the model).
//! - `admin`: the admin API.
//! - `upgrades`: legacy subscription upgrades (`…/subscriptions/{id}/upgrades`).
//! - `users`: creating and updating users (password resets, restores).
//! - `migrations`, `schedules`: NCE migrations (`…/migrations/newcommerce…`) and their schedules.
//! - `transitions`: NCE transitions (`…/transitionEligibilities`, `…/transitions`).
//! - `dashboard`: the Partner Center dashboard pages at `/` (HTML forms over the same model).
//! - `wire`: Partner Center's JSON shapes.
//! - `subscription_shape`: the subscription's shape, written straight from the model (the hottest).
//! - `user_shape`: users', licenses' and subscribed SKUs' shapes, and collections of shapes, the same way.
//! - `order_shape`: an order's shape, the same way (every `POST /orders` answers one).
//! - `extract`: tokens, request ids, bodies, queries, GUIDs.
//! - `signin`: the mock's own OAuth authority (token and device-code endpoints, `/devicelogin`).
//! - `operations`: every Partner Center operation, named once.
//! - `openapi`: the OpenAPI document of every `/v1` and `/admin` route (`/openapi.json`).
//! - `paging`: continuation tokens (opaque, bound to their list, resuming after an item).
//! - `front_door`: what every request passes first (head bounds, path encoding, clock, ids, faults, `Date`).
//! - `faults`: the front door's fault step on `/v1` (acts out the model's fault decisions).
//! - `error`: the one error type and its Partner Center error body.

pub mod admin;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod faults;
pub mod front_door;
pub mod migrations;
pub mod openapi;
pub mod operations;
pub mod order_shape;
pub mod paging;
pub mod partner;
pub mod schedules;
pub mod signin;
pub mod subscription_shape;
pub mod transitions;
pub mod upgrades;
pub mod user_shape;
pub mod users;
pub mod wire;

use std::any::Any;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

pub use front_door::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};

use crate::Mock;
use error::PcError;
use operations::{Operation, Routes};

/// Partner Center request bodies above this are refused with a 400 (a migration's largest
/// body, an order or a license update, is a few kilobytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// Admin bodies (scenarios, state snapshots of large tenants) may be much bigger.
pub const MAX_ADMIN_BODY: usize = 1024 * 1024 * 1024;

/// The whole service: Partner Center plus the admin API, sharing one [`Mock`].
pub fn app(mock: Mock) -> Router {
    // Around the whole router once, not layered onto every route: a route's layers are boxed
    // services cloned level by level on every request.
    // The body limit is Partner Center's (`/v1`, most requests); the groups that take bigger
    // or smaller bodies set their own inside it.
    let front = tower::ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(mock.clone(), front_door::front_door))
        .service(routes(mock));
    Router::new().fallback_service(front)
}

/// Every route in one router (one lookup a request), each group with its own guard.
fn routes(mock: Mock) -> Router {
    // One line per operation; each operation's method, path and doc page live in `operations`.
    #[rustfmt::skip]
    let v1 = Router::new()
        .operation(Operation::GetCustomers, partner::list_customers)
        .operation(Operation::GetRelationshipRequest, partner::relationship_request)
        .operation(Operation::GetCustomer, partner::get_customer)
        .operation(Operation::GetOrders, partner::list_orders)
        .operation(Operation::CreateOrder, partner::create_order)
        .operation(Operation::GetOrder, partner::get_order)
        .operation(Operation::GetSubscriptions, partner::list_subscriptions)
        .operation(Operation::GetSubscription, partner::get_subscription)
        .operation(Operation::UpdateSubscription, partner::update_subscription)
        .operation(Operation::GetUpgrades, upgrades::list_upgrades)
        .operation(Operation::CreateUpgrade, upgrades::create_upgrade)
        .operation(Operation::GetSubscribedSkus, partner::subscribed_skus)
        .operation(Operation::GetUsers, partner::list_users)
        .operation(Operation::CreateUser, users::create)
        .operation(Operation::GetUser, partner::get_user)
        .operation(Operation::UpdateUser, users::update)
        .operation(Operation::DeleteUser, partner::delete_user)
        .operation(Operation::GetUserLicenses, partner::user_licenses)
        .operation(Operation::UpdateLicenses, partner::update_licenses)
        .operation(Operation::GetOffers, partner::list_offers)
        .operation(Operation::GetOffer, partner::get_offer)
        .operation(Operation::ValidateMigration, migrations::validate)
        .operation(Operation::CreateMigration, migrations::create)
        .operation(Operation::GetMigrationEvents, migrations::events)
        .operation(Operation::CreateMigrationSchedule, schedules::create)
        .operation(Operation::UpdateMigrationSchedule, schedules::update)
        .operation(Operation::GetMigrationSchedule, schedules::get)
        .operation(Operation::CancelMigrationSchedule, schedules::cancel)
        .operation(Operation::GetMigration, migrations::get)
        .operation(Operation::GetMigrations, migrations::query)
        .operation(Operation::GetMigrationSchedules, schedules::list)
        .operation(Operation::GetTransitionEligibilities, transitions::eligibilities)
        .operation(Operation::CreateTransition, transitions::create)
        .operation(Operation::GetTransitions, transitions::list);

    #[rustfmt::skip]
    let admin = Router::new()
        .route("/reset", post(admin::reset))
        .route("/scenario", post(admin::scenario))
        .route("/scenarios", get(admin::scenarios))
        .route("/state", get(admin::get_state).put(admin::put_state))
        .route("/tokens", post(admin::tokens))
        .route("/apps", post(signin::register_app))
        .route("/clock", get(admin::clock))
        .route("/clock/advance", post(admin::advance))
        .route("/events", get(admin::events))
        .route("/invariants", get(admin::invariants))
        .route("/locks", get(admin::locks))
        .route("/faults", get(admin::get_faults).put(admin::put_faults).delete(admin::delete_faults))
        .route("/faults/dedup", axum::routing::put(admin::put_dedup))
        .route("/customers/{customer_id}/accept-relationship", post(admin::accept_relationship))
        .layer(DefaultBodyLimit::max(MAX_ADMIN_BODY))
        .layer(middleware::from_fn_with_state(mock.clone(), same_site));

    #[rustfmt::skip]
    let dashboard = Router::new()
        .route("/", get(dashboard::dashboard))
        .route("/clock", post(dashboard::clock))
        .route("/signin", post(dashboard::sign_in))
        .route("/customers", get(dashboard::customers))
        .route("/customers/{customer_id}", get(dashboard::customer))
        .route("/customers/{customer_id}/add-subscriptions",
            get(dashboard::add_subscriptions).post(dashboard::place_order))
        .route("/customers/{customer_id}/users/{user_id}/licenses",
            get(dashboard::manage_licenses).post(dashboard::update_licenses))
        .route("/customers/{customer_id}/subscriptions/{subscription_id}",
            get(dashboard::subscription).post(dashboard::change_status))
        .route("/audit", get(dashboard::audit))
        .layer(middleware::from_fn_with_state(mock.clone(), same_site));

    // The mock's own authority, where Azure AD's v2 endpoints would be.
    #[rustfmt::skip]
    let authority = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(signin::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(signin::device_code))
        .route("/devicelogin", get(signin::device_login_page)
            .post(signin::device_login).layer(middleware::from_fn_with_state(mock.clone(), same_site)))
        .layer(DefaultBodyLimit::max(64 * 1024));

    Router::new()
        .route("/openapi.json", get(openapi_document))
        .merge(dashboard)
        .merge(authority)
        .merge(v1)
        .nest("/admin", admin)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(mock)
}

/// `GET /openapi.json`: the document, its examples drawn from the world being served.
async fn openapi_document(axum::extract::State(mock): axum::extract::State<Mock>) -> axum::Json<serde_json::Value> {
    let examples = mock.read(openapi::Examples::of);
    axum::Json(openapi::document(&examples))
}

/// The admin API and the dashboard answer only this machine, and change state only for this
/// site: a `Host` that is not loopback (DNS rebinding: a page that rebinds its own name to
/// 127.0.0.1 could otherwise read `/admin/state`, tokens and all) is refused unless the
/// request carries the admin token (`serve --admin-token-file`); a cross-site write
/// (`Sec-Fetch-Site`, `Origin`: any web page could otherwise post to `/admin/reset`) is refused.
/// Both 403.
async fn same_site(
    axum::extract::State(mock): axum::extract::State<Mock>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    use axum::http::{Method, header};
    let headers = req.headers();
    let text = |name: &header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    if extract::bearer(headers).is_some_and(|t| mock.is_admin_token(t)) {
        return next.run(req).await;
    }
    let host_ok = text(&header::HOST).is_none_or(|h| loopback(&h));
    let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let fetch_ok = read
        || text(&header::HeaderName::from_static("sec-fetch-site")).is_none_or(|s| s == "same-origin" || s == "none");
    let origin_ok = read
        || text(&header::ORIGIN).is_none_or(|o| {
            o.split_once("://").is_some_and(|(_, rest)| loopback(rest.split('/').next().unwrap_or(rest)))
        });
    if host_ok && fetch_ok && origin_ok {
        return next.run(req).await;
    }
    PcError::new(
        StatusCode::FORBIDDEN,
        403,
        "Refused: the admin API and the dashboard answer only this machine (or the admin token), and change state only for this site.",
    )
    .into_response()
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host
            .rsplit_once(':')
            .map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host }),
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn unknown_route() -> PcError {
    no_such_resource()
}

fn no_such_resource() -> PcError {
    PcError::not_found("No such resource. Partner Center routes live under /v1, the mock's admin API under /admin.")
}

async fn method_not_allowed() -> PcError {
    PcError::new(StatusCode::METHOD_NOT_ALLOWED, 405, "The method is not allowed on this resource.")
}

/// A bug in the mock must still answer in Partner Center's shape.
fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    PcError::new(StatusCode::INTERNAL_SERVER_ERROR, 800_003, "Unexpected service error.").into_response()
}
