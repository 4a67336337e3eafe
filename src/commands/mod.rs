//! One module per user action, over the shared pipeline.

pub mod budget;
pub mod diff;
pub mod explain;
pub mod migrate;
pub mod render;
pub mod schema;
pub mod secrets;
pub mod show;
pub mod validate;
