//! Profile → Bundle. Each component module renders its own objects; this module holds what they
//! share: naming, labels, config templates and the config checksum that rolls pods on change.

pub mod availability;
pub mod crd;
pub mod k8s;
pub mod monitoring;
pub mod network;
pub mod tls;
pub mod waivers;

use crate::bundle::{Bundle, Object};
use crate::components;
use crate::error::Error;
use crate::profile::{MonitoringLevel, Profile};
use k8s::Labels;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use minijinja::{Environment, UndefinedBehavior};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const DEFAULT_NAMESPACE: &str = "audience-manager";
pub const PART_OF: &str = "audience-manager";
pub const CHECKSUM_ANNOTATION: &str = "amctl.io/config-checksum";

#[derive(Clone, Debug)]
pub struct RenderOptions {
    pub namespace: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
        }
    }
}

/// What every component's render function gets.
pub struct Ctx<'a> {
    pub profile: &'a Profile,
    pub ns: &'a str,
}

/// The config templates, compiled once per process (they are part of the binary): a diff or
/// a migration renders two profiles with them.
fn templates() -> &'static Environment<'static> {
    static TEMPLATES: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut env = Environment::new();
        // Config files are not HTML: never escape. A missing variable is a bug, never an empty
        // string in a server's config.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("static syntax config"),
        );
        minijinja_embed::load_templates!(&mut env);
        env
    })
}

impl<'a> Ctx<'a> {
    pub fn new(profile: &'a Profile, ns: &'a str) -> Ctx<'a> {
        Ctx { profile, ns }
    }

    /// Renders one config template from templates/.
    pub fn template<S: serde::Serialize>(&self, name: &str, context: S) -> Result<String, Error> {
        let tmpl = templates()
            .get_template(name)
            .map_err(|e| Error::Render(format!("template {name}: {e:#}")))?;
        tmpl.render(minijinja::value::Serde(context))
            .map_err(|e| Error::Render(format!("template {name}: {e:#}")))
    }

    /// `app.kubernetes.io/*` labels; the selector uses only name and instance, which never change.
    pub fn labels(&self, name: &str, component: &str, version: &str) -> Labels {
        let mut l = self.selector(name);
        l.insert("app.kubernetes.io/component".into(), component.into());
        l.insert("app.kubernetes.io/part-of".into(), PART_OF.into());
        l.insert("app.kubernetes.io/managed-by".into(), "amctl".into());
        if !version.is_empty() {
            l.insert("app.kubernetes.io/version".into(), label_value(version));
        }
        l
    }

    pub fn selector(&self, name: &str) -> Labels {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), name.to_string()),
            (
                "app.kubernetes.io/instance".to_string(),
                self.ns.to_string(),
            ),
        ])
    }

    /// The pods of several workloads of this installation (by name, and this instance): for
    /// selectors that reach beyond one workload (a PDB over primary and standbys, monitors).
    pub fn workloads(
        &self,
        names: &[&str],
    ) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        let mut s = k8s::name_in(names);
        s.match_labels = Some(BTreeMap::from([(
            "app.kubernetes.io/instance".to_string(),
            self.ns.to_string(),
        )]));
        s
    }

    /// In-cluster DNS name of a Service in this namespace.
    pub fn dns(&self, service: &str) -> String {
        format!("{service}.{}.svc", self.ns)
    }

    /// A ServiceAccount for one component; the API token is mounted only where the component
    /// talks to the Kubernetes API.
    pub fn service_account(&self, name: &str, labels: Labels, automount: bool) -> Object {
        Object::ServiceAccount(ServiceAccount {
            metadata: k8s::meta(name, self.ns, labels),
            automount_service_account_token: Some(automount),
            ..Default::default()
        })
    }

    pub fn config_map(
        &self,
        name: &str,
        labels: Labels,
        data: BTreeMap<String, String>,
    ) -> ConfigMap {
        ConfigMap {
            metadata: k8s::meta(name, self.ns, labels),
            data: Some(data),
            ..Default::default()
        }
    }

    /// Pod annotations: the config checksum (so `kubectl apply` of a changed config rolls the
    /// pods) and, with monitoring, the Prometheus scrape hints.
    pub fn pod_annotations(
        &self,
        configs: &[&ConfigMap],
        metrics: Option<(i32, &str)>,
    ) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        if !configs.is_empty() {
            a.insert(CHECKSUM_ANNOTATION.to_string(), checksum(configs));
        }
        if let (MonitoringLevel::Essential, Some((port, path))) =
            (self.profile.monitoring.level, metrics)
        {
            a.insert("prometheus.io/scrape".into(), "true".into());
            a.insert("prometheus.io/port".into(), port.to_string());
            a.insert("prometheus.io/path".into(), path.to_string());
        }
        a
    }
}

/// Label values are at most 63 characters of [A-Za-z0-9._-].
fn label_value(v: &str) -> String {
    let cleaned: String = v
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// sha256 over the config maps' names and data, in key order.
pub fn checksum(configs: &[&ConfigMap]) -> String {
    let mut h = Sha256::new();
    for cm in configs {
        h.update(cm.metadata.name.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        for (k, v) in cm.data.iter().flatten() {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
    }
    hex(&h.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The image tag (`17.6` of `postgres:17.6`), for the version label.
pub fn image_tag(image: &str) -> &str {
    let after_slash = image.rsplit('/').next().unwrap_or(image);
    let without_digest = after_slash.split('@').next().unwrap_or(after_slash);
    without_digest.split_once(':').map(|(_, t)| t).unwrap_or("")
}

/// Worker threads for the parts of a render that split (API services, YAML documents): the
/// machine's parallelism, or `AMCTL_THREADS` (1 renders on one thread; the output is the
/// same either way). A value that is not a positive number is reported once and ignored.
pub fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        let machine = || std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = match std::env::var("AMCTL_THREADS") {
            Ok(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    let n = machine();
                    eprintln!(
                        "amctl: AMCTL_THREADS=`{v}` is not a positive number; using {n} (set 1 for one thread, or unset it)"
                    );
                    n
                }
            },
            Err(_) => machine(),
        };
        n.min(8)
    })
}

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
