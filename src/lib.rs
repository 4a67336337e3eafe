//! amctl: render, validate, diff and migrate the Audience Manager data platform on Kubernetes.
//!
//! The pipeline: a profile (TOML) is loaded and merged ([`profile`]), rendered into a
//! [`bundle::Bundle`] of typed Kubernetes objects ([`render`], one module per component in
//! [`components`]), and emitted as YAML, JSON or a directory ([`output`]).

pub mod change;
pub mod commands;
pub mod components;
pub mod contract;
pub mod diff;
pub mod error;
pub mod fit;
pub mod kube;
#[cfg(test)]
mod layers;
pub mod migrate;
pub(crate) mod model;
pub mod output;
pub mod pipeline;
pub mod profile;
pub mod render;
pub(crate) mod report;
pub mod rules;
pub mod secrets;
pub mod source;
pub(crate) mod units;
pub mod validate;
pub mod yaml;

pub use error::{Error, Exit};
