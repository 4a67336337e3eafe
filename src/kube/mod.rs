//! The Kubernetes kit: the Bundle of typed objects as plain data, CRD types, constructors for
//! the objects every component builds, and the render context (labels, templates, checksums).

pub mod bundle;
pub(crate) mod crd;
pub(crate) mod ctx;
pub mod k8s;
pub(crate) mod netpol;
pub mod placement;
pub mod scrape;
pub mod server;
pub mod tls;

pub use bundle::{Bundle, Item, Object, SecretRef, selects};
pub use ctx::{
    CHECKSUM_ANNOTATION, Ctx, DEFAULT_NAMESPACE, PART_OF, RenderOptions, checksum, hex, image_tag,
};
