//! What a change takes to roll out, from harmless to destructive.

pub use crate::change::Impact;

/// Impact of a change at `path` (as printed: `spec.replicas`,
/// `data["postgresql.conf"].shared_buffers`) of an object of `kind` named `name`, given the old
/// and new values (`None` when absent on that side).
pub fn impact(
    kind: &str,
    name: &str,
    path: &str,
    old: Option<&serde_json::Value>,
    new: Option<&serde_json::Value>,
) -> Impact {
    if path.starts_with("metadata.") || path == "metadata" {
        return Impact::None;
    }
    if let Some(i) = version_impact(kind, path, old, new) {
        return i;
    }
    if let Some(i) = crate::components::ALL
        .iter()
        .find_map(|c| (c.impact)(kind, name, path))
    {
        return i;
    }
    // The fields the API server refuses to change in place (kube::server::RULES).
    let forbidden = crate::kube::server::forbidding(kind, path, &serde_json::Value::Null).is_some();
    match kind {
        "ConfigMap" => config_impact(path),
        "StatefulSet" if path.starts_with("spec.volumeClaimTemplates") => {
            // A smaller template does not shrink existing claims (they are reused by name);
            // removing the templates leaves the data behind.
            let whole_template =
                path.strip_prefix("spec.volumeClaimTemplates")
                    .is_some_and(|rest| {
                        rest.is_empty() || (rest.ends_with(']') && !rest.contains('.'))
                    });
            if new.is_none() && whole_template {
                Impact::DataLoss
            } else {
                Impact::Recreate
            }
        }
        "PersistentVolumeClaim" if path.ends_with("resources.requests.storage") => {
            if shrinks(old, new) {
                Impact::DataLoss
            } else {
                Impact::None
            }
        }
        _ if forbidden => Impact::Recreate,
        "StatefulSet" | "Deployment" if path.starts_with("spec.template") => {
            template_impact(path, old, new)
        }
        _ => Impact::None,
    }
}

/// A server's image changing version: its own upgrade rules decide (a PostgreSQL major moves
/// the data, a Flink upgrade stops the jobs, a downgrade the server cannot read back).
fn version_impact(
    kind: &str,
    path: &str,
    old: Option<&serde_json::Value>,
    new: Option<&serde_json::Value>,
) -> Option<Impact> {
    upgrade_of(kind, path, old, new).map(|u| u.impact())
}

/// The upgrade rule for an image change at `path` of a workload, if a component's server runs
/// in that container.
pub fn upgrade_of(
    kind: &str,
    path: &str,
    old: Option<&serde_json::Value>,
    new: Option<&serde_json::Value>,
) -> Option<crate::change::Upgrade> {
    if !matches!(kind, "StatefulSet" | "Deployment") {
        return None;
    }
    let container = path
        .strip_prefix("spec.template.spec.containers[name=")?
        .strip_suffix("].image")?;
    let version = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_str())
            .and_then(crate::profile::Version::of_image)
    };
    crate::components::upgrade(container, &version(old)?, &version(new)?)
}

fn template_impact(
    path: &str,
    old: Option<&serde_json::Value>,
    new: Option<&serde_json::Value>,
) -> Impact {
    // The data volume as an emptyDir: removing it (or swapping it for a claim) drops its content.
    if path.starts_with("spec.template.spec.volumes[name=data]") {
        let was_empty_dir =
            old.is_some_and(|v| v.get("emptyDir").is_some() || path.contains("emptyDir"));
        if was_empty_dir && new.is_none() {
            return Impact::DataLoss;
        }
        if path.ends_with("medium") {
            return Impact::DataLoss;
        }
    }
    Impact::RollingRestart
}

/// A config file no component claims: the server reads it at start.
fn config_impact(path: &str) -> Impact {
    if crate::change::config_key(path).is_some() {
        Impact::Restart
    } else {
        Impact::None
    }
}

/// True when a storage request gets smaller.
fn shrinks(old: Option<&serde_json::Value>, new: Option<&serde_json::Value>) -> bool {
    let q = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_str())
            .and_then(|s| crate::units::Quantity::parse(s).ok())
    };
    matches!((q(old), q(new)), (Some(a), Some(b)) if b < a)
}
