//! The server's integration tests, one binary (linked once): each module
//! was its own test file; shared helpers are in `kluis-test-support`, the
//! in-process server in `common`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

mod accounts;
mod authorization_matrix;
mod foundation;
mod housekeeping;
mod hygiene;
mod log_hygiene;
mod password_reset;
mod privacy;
mod schema;
mod sms;
mod takeover;
mod tls;
mod two_factor;
mod vault;
mod web;
