//! Benchmark tools for `scripts/bench-serve.sh`: no tests here, and nothing the product uses.
//!
//! # Layout
//! - `bin/bare.rs`: the floor, a bare axum server answering Partner Center's subscription
//!   and order shapes from one mutex-guarded map.
//! - `bin/load.rs`: a closed-loop load client (N connections, each sending its next request
//!   when the last is answered, like `wrk`), printing throughput and latency quantiles.
