//! The end-to-end tests, one binary (linked once): each module was its own
//! test file. The harness is the `kluis-e2e` library, the helpers shared
//! with the server's tests `kluis-test-support`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod browser;
mod cli;
mod device_state;
mod journey;
mod malicious_server;
mod membership_chain;
mod notifications;
mod password_normalisation;
mod recovery;
mod signed_deletion;
mod takeover;
mod two_factor;
mod web_client;
