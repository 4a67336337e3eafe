//! One module per platform component: its objects and config files live together. Adding a
//! component is one module and one line in [`ALL`].

pub mod aerospike;
pub mod api;
pub mod flink;
pub mod kafka;
pub mod namespace;
pub mod postgres;

use crate::error::Error;
use crate::kube::Bundle;
use crate::kube::Ctx;

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

/// Every component's start-up contracts, for this profile.
pub fn contracts(ctx: &Ctx) -> Vec<crate::contract::Contract> {
    let mut all = Vec::new();
    all.extend(postgres::contract(ctx));
    all.extend(aerospike::contract(ctx));
    all.extend(kafka::contract(ctx));
    all.extend(flink::contract(ctx));
    all.extend(api::contract(ctx));
    all
}

/// Every Secret the render refers to and no object renders, merged by name.
pub fn secrets(ctx: &Ctx) -> Vec<crate::secrets::SecretSpec> {
    let mut all = Vec::new();
    all.extend(postgres::secrets(ctx));
    all.extend(aerospike::secrets(ctx));
    all.extend(kafka::secrets(ctx));
    all.extend(flink::secrets(ctx));
    all.extend(api::secrets(ctx));
    crate::secrets::merge(all)
}
