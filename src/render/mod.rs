//! Profile → Bundle: every component renders its objects, then the cross-cutting passes
//! (availability, monitoring, network policies, checkov waivers) add theirs, and the bundle is
//! put in apply order.

pub mod availability;
pub mod monitoring;
pub mod network;
pub mod waivers;

use crate::components;
use crate::error::Error;
pub use crate::kube::RenderOptions;
use crate::kube::{Bundle, Ctx};
use crate::profile::Profile;

/// Renders the whole platform.
pub fn render(profile: &Profile, opts: &RenderOptions) -> Result<Bundle, Error> {
    let ctx = Ctx::new(profile, &opts.namespace);
    let mut bundle = Bundle {
        namespace: opts.namespace.clone(),
        items: Vec::new(),
    };
    for component in components::ALL {
        (component.render)(&ctx, &mut bundle)?;
    }
    availability::apply(&mut bundle, profile.cluster.zones.len());
    monitoring::apply(&ctx, &mut bundle);
    network::apply(&ctx, &mut bundle);
    waivers::apply(&mut bundle);
    bundle.sort();
    Ok(bundle)
}
