//! One module per platform component: its objects and config files live together. Adding a
//! component is one module and one line in [`ALL`].

pub mod aerospike;
pub mod api;
pub mod flink;
pub mod kafka;
pub mod namespace;
pub mod postgres;

use crate::bundle::Bundle;
use crate::error::Error;
use crate::render::Ctx;

pub struct Component {
    pub name: &'static str,
    pub render: fn(&Ctx, &mut Bundle) -> Result<(), Error>,
}

/// Render order (the Bundle is sorted by kind afterwards, stably).
pub const ALL: &[Component] = &[
    Component {
        name: "namespace",
        render: namespace::render,
    },
    Component {
        name: "postgres",
        render: postgres::render,
    },
    Component {
        name: "aerospike",
        render: aerospike::render,
    },
    Component {
        name: "kafka",
        render: kafka::render,
    },
    Component {
        name: "flink",
        render: flink::render,
    },
    Component {
        name: "api",
        render: api::render,
    },
];
