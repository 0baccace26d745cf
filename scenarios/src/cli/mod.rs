//! The front door's commands, one file each: `main.rs` parses the command line and hands each
//! subcommand's arguments to the file that bears its name.
//!
//! # Layout
//! - `serve`: `skuswap serve`, the mock Partner Center on a socket.
//! - `migrate`: `plan`, `apply`, `verify`, `status`, `rollback`: the engine against a target.
//! - `rehearse`: `skuswap rehearse`: the whole migration on virtual time, then the report.
//! - `scenarios`: `skuswap scenarios list`.
//! - `capture`: `skuswap capture`, a read-only capture of a partner's book.
//! - `target`: where Partner Center is (`--base-url`, `--ca-cert`, or an embedded `--mock`).
//! - `signin`: how to sign in (a token, or OAuth: refresh token, client credentials, device code).
//! - `persist`: `serve --state FILE` (load at start, atomic saves at an interval and on stop).
//! - `tls`: HTTPS for `serve --tls` (certificates made at start, the accept loop).
//! - `connection`: one HTTP/1.1 connection (the head bounded, hyper's own 414/431 given
//!   Partner Center's error body) and the plain accept loop.
//! - `client`: one `PartnerCenter` over whichever transport the target picked.

pub mod capture;
pub mod client;
pub mod connection;
pub mod migrate;
pub mod persist;
pub mod rehearse;
pub mod scenarios;
pub mod serve;
pub mod signin;
pub mod target;
pub mod tls;

/// Exit codes scripts can trust.
pub const EXIT_OK: u8 = 0;
/// The migration is incomplete, verify found problems, or a rehearsal failed its verdict.
pub const EXIT_INCOMPLETE: u8 = 1;
/// Bad input, unreachable server, refused token: nothing was changed by this command.
pub const EXIT_ERROR: u8 = 2;
/// Stopped by Ctrl-C; run `skuswap apply` again to resume.
pub const EXIT_INTERRUPTED: u8 = 130;
