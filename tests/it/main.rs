//! The integration tests: one binary (one link, shared helpers in [`common`]), one module per
//! area. Run one area with `cargo test --test it diff::`.

mod common;

mod cli;
mod diff;
mod fit;
mod live;
mod migrate;
mod network;
mod properties;
mod render;
mod secrets;
mod startup;
mod upgrade;
mod validate;
