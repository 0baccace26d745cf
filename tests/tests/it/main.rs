//! The workspace's one integration-test binary. Every test drives the mock through its HTTP
//! layer in-process (tower `oneshot`, no sockets) unless its module says otherwise.
//!
//! Table of contents:
//! - `tidy`: architecture rules enforced as tests (pure model, `//!` headers).
//! - `shapes`: insta snapshots of every route's success shape for the article scenario.
//! - `auth`: tokens, modes, other partners' customers, request-id echo.
//! - `signin`: the mock's own OAuth authority and the engine's sign-in flows, renewal, errors.
//! - `paging`: customers and users, continuation tokens, past the end.
//! - `orders`: order creation rules.
//! - `subscriptions`: PATCH rules (suspend, reactivate, quantity, ETag, channels).
//! - `licenses`: license updates, atomicity, out-of-licenses, the effective rule.
//! - `model`: proptest: random operations against the mock and a reference model of its rules.
//! - `upgrades`: legacy subscription upgrades: shapes, every modelled error, license transfer judged.
//! - `lifecycle`: the virtual clock: expiry, renewal, de-provisioning, prospects.
//! - `bad_inputs`: a table of malformed requests: 400 with the error body, nothing changed.
//! - `admin`: scenarios, snapshots, determinism, events, tokens, relationships.
//! - `cli`: the command-line layer: stale plans, exit codes, user errors.
//! - `faults`: fault effects, triggers, rate limits, order dedup; the engine under every preset.
//! - `dashboard`: the HTML dashboard at `/`: pages, forms, refusals with nothing changed.
//! - `engine`: the migration engine against the mock, over both transports; crash and resume.
//! - `journal`: the in-memory journal against the SQLite one, call for call.
//! - `walkthrough`: the source article's migration, and the broken variants the judge catches.
//! - `rollback`: a write that panics halfway (a panic armed in the model) changes nothing; random writes against a twin.
//! - `rehearsals`: generator determinism, every named scenario rehearsed, CSV round trip, report snapshot.
//! - `shards`: a book dealt into worlds side by side tells one world's story, the same every time.
//! - `simulation`: proptest: random tenants, faults, crashes, tight end dates; broken engines caught.
//! - `socket`: tests over a real loopback socket (heads too large, state kept across a kill).
//! - `load`: 32 connections over a real socket mixing swaps, reads, orders and event pages.
//! - `openapi`: `/openapi.json` against the routes it describes and the pinned shapes.
//! - `capture`: `skuswap capture` round trips for every named scenario, pseudonyms, GETs only, rate, resume, the bulk tool's CSV.

mod admin;
mod auth;
mod bad_inputs;
mod capture;
mod cli;
mod dashboard;
mod engine;
mod faults;
mod journal;
mod licenses;
mod lifecycle;
mod load;
mod migrations;
mod model;
mod openapi;
mod orders;
mod paging;
mod rehearsals;
mod rollback;
mod shapes;
mod shards;
mod signin;
mod simulation;
mod socket;
mod subscriptions;
mod tidy;
mod transitions;
mod upgrades;
mod users;
mod walkthrough;
