//! Every component's start-up contract ([`crate::contract`]) against the pod it renders: the
//! user, the config files, the directories and written paths on writable volumes of a
//! sufficient size, the open-files limit and probes that wait long enough.

use super::Check;
use crate::contract::{Contract, Path, is_under};
use crate::kube::Object;
use crate::model::mib;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe, Volume, VolumeMount};

pub fn check(cx: &Check, contracts: &[Contract]) {
    for c in contracts {
        let Some((spec, container)) = find(cx, c) else {
            cx.error(
                "contract.container",
                &c.key,
                format!(
                    "the start-up contract names container `{}` of `{}`, which the render does not have",
                    c.container, c.workload
                ),
                "this is an amctl bug: report it with the profile",
            );
            continue;
        };
        user(cx, c, spec, container);
        for file in &c.config {
            config(cx, c, spec, container, file);
        }
        let mut per_volume: Vec<(String, u64, u64, Vec<&Path>)> = Vec::new();
        let mut refused: Vec<(String, Vec<&Path>)> = Vec::new();
        for p in c.directories.iter().chain(&c.writes) {
            match writable(cx, c, spec, container, p) {
                Ok(None) => {}
                Ok(Some((volume, size))) => {
                    match per_volume.iter_mut().find(|(v, ..)| *v == volume) {
                        Some(entry) => {
                            entry.2 = entry.2.saturating_add(p.bytes);
                            entry.3.push(p);
                        }
                        None => per_volume.push((volume, size, p.bytes, vec![p])),
                    }
                }
                Err(why) => match refused.iter_mut().find(|(w, _)| *w == why) {
                    Some(entry) => entry.1.push(p),
                    None => refused.push((why, vec![p])),
                },
            }
        }
        for (why, paths) in refused {
            let what: Vec<String> = paths
                .iter()
                .map(|p| format!("{} ({})", p.path, p.what))
                .collect();
            let keys = specific_first(&paths);
            let first = keys.split('|').next().unwrap_or("");
            cx.error(
                "contract.writable",
                &keys,
                format!(
                    "{} of `{}` must write {}, but {why}: the server stops at start",
                    c.container,
                    c.workload,
                    what.join(", ")
                ),
                format!(
                    "put it on a writable volume of the pod (not under a ConfigMap or Secret mount, not on the read-only root filesystem){}",
                    if first.is_empty() { String::new() } else { format!(": change {first}") }
                ),
            );
        }
        for (volume, size, need, paths) in per_volume {
            if size > 0 && need > size {
                let what: Vec<String> = paths
                    .iter()
                    .filter(|p| p.bytes > 0)
                    .map(|p| format!("{} {} ({})", p.path, mib(p.bytes), p.what))
                    .collect();
                let keys = specific_first(&paths);
                let first = keys.split('|').next().unwrap_or("").to_string();
                cx.error(
                    "contract.volume-size",
                    &keys,
                    format!(
                        "{} of `{}` writes up to {} on volume `{volume}` ({}), which holds {}: the pod is evicted when it fills",
                        c.container,
                        c.workload,
                        mib(need),
                        what.join(", "),
                        mib(size)
                    ),
                    format!(
                        "{} {} a volume of at least {}Mi: change {first}",
                        paths.iter().map(|p| p.path.as_str()).collect::<Vec<_>>().join(" and "),
                        if paths.len() > 1 { "together need" } else { "needs" },
                        need.div_ceil(1 << 20)
                    ),
                );
            }
        }
        startup(cx, c, container);
        if let Some(need) = &c.open_files {
            let hard = cx.profile.cluster.open_files.hard;
            if hard < need.count {
                let (message, fix) = (
                    format!(
                        "{} of `{}` needs {} open files ({}), but the container runtime's hard limit (cluster.open_files.hard) is {hard}{}",
                        c.container,
                        c.workload,
                        need.count,
                        need.why,
                        if need.fatal {
                            ": the server refuses to start"
                        } else {
                            ": it fails with \"Too many open files\" under load"
                        }
                    ),
                    "lower what the server needs, or raise the runtime's LimitNOFILE and set cluster.open_files.hard to it",
                );
                let key = format!("cluster.open_files.hard|cluster.open_files|{}", need.key);
                if need.fatal {
                    cx.error("contract.open-files", &key, message, fix);
                } else {
                    cx.warn("contract.open-files", &key, message, fix);
                }
            }
        }
    }
}

/// The profile keys of several paths, the most specific first: a finding points at the
/// first one the user's profile wrote, and `flink` alone says less than
/// `flink.taskmanager.local_state.size`.
fn specific_first(paths: &[&Path]) -> String {
    let mut keys: Vec<&str> = Vec::new();
    for k in paths.iter().flat_map(|p| p.key.split('|')) {
        if !k.is_empty() && !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.sort_by_key(|k| std::cmp::Reverse(k.matches(['.', '[']).count()));
    keys.join("|")
}

fn find<'b>(cx: &Check<'b>, c: &Contract) -> Option<(&'b PodSpec, &'b Container)> {
    ["StatefulSet", "Deployment"].iter().find_map(|kind| {
        let spec = cx
            .object(kind, &c.workload)?
            .pod_template()?
            .spec
            .as_ref()?;
        let container = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|k| k.name == c.container)?;
        Some((spec, container))
    })
}

fn user(cx: &Check, c: &Contract, spec: &PodSpec, container: &Container) {
    let uid = container
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_user)
        .or_else(|| spec.security_context.as_ref().and_then(|s| s.run_as_user));
    if uid != Some(c.user) {
        cx.error(
            "contract.user",
            &c.key,
            format!(
                "{} of `{}` runs as UID {}, but its image's installation belongs to UID {}",
                c.container,
                c.workload,
                uid.map_or("of the image".to_string(), |u| u.to_string()),
                c.user
            ),
            "this is an amctl bug: report it with the profile",
        );
    }
}

/// The mount that holds `path`: the deepest one at or above it.
fn mount_of<'c>(container: &'c Container, path: &str) -> Option<&'c VolumeMount> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| is_under(path, &m.mount_path))
        .max_by_key(|m| m.mount_path.trim_end_matches('/').len())
}

fn volume<'s>(spec: &'s PodSpec, name: &str) -> Option<&'s Volume> {
    spec.volumes.iter().flatten().find(|v| v.name == name)
}

fn config(cx: &Check, c: &Contract, spec: &PodSpec, container: &Container, file: &str) {
    let missing = |why: String| {
        cx.error(
            "contract.config",
            &c.key,
            format!(
                "{} of `{}` reads {file} at start, but {why}",
                c.container, c.workload
            ),
            "this is an amctl bug: report it with the profile",
        )
    };
    let Some(m) = mount_of(container, file) else {
        return missing("no volume is mounted there".into());
    };
    let Some(cm) = volume(spec, &m.name).and_then(|v| v.config_map.as_ref()) else {
        return missing(format!("volume `{}` there is not a ConfigMap", m.name));
    };
    let key = match &m.sub_path {
        Some(sub) => sub.clone(),
        None => file[m.mount_path.trim_end_matches('/').len()..]
            .trim_start_matches('/')
            .to_string(),
    };
    let rendered = match cx.object("ConfigMap", &cm.name) {
        Some(Object::ConfigMap(map)) => Some(map),
        _ => None,
    };
    match rendered {
        None => missing(format!("ConfigMap `{}` is not rendered", cm.name)),
        Some(map) if !map.data.as_ref().is_some_and(|d| d.contains_key(&key)) => {
            missing(format!("ConfigMap `{}` has no key `{key}`", cm.name))
        }
        Some(_) => {}
    }
}

/// The volume a path the server writes lies on and its size in bytes (0: not bounded by
/// amctl); None where the image's own writable root holds it; or why the server cannot write
/// there.
fn writable(
    cx: &Check,
    c: &Contract,
    spec: &PodSpec,
    container: &Container,
    p: &Path,
) -> Result<Option<(String, u64)>, String> {
    let read_only_root = container
        .security_context
        .as_ref()
        .and_then(|s| s.read_only_root_filesystem)
        .unwrap_or(false);
    let Some(m) = mount_of(container, &p.path) else {
        return if read_only_root {
            Err("no volume is mounted there and the root filesystem is read-only".into())
        } else {
            Ok(None)
        };
    };
    if m.read_only == Some(true) {
        return Err(format!(
            "that is the read-only mount {} (volume `{}`)",
            m.mount_path, m.name
        ));
    }
    let Some(v) = volume(spec, &m.name) else {
        // A claim template's volume: sized by the template.
        return Ok(Some((m.name.clone(), claim_template_size(cx, c, &m.name))));
    };
    if v.config_map.is_some() || v.secret.is_some() || v.projected.is_some() {
        return Err(format!(
            "that is {} (volume `{}`), which the kubelet mounts read-only",
            m.mount_path, m.name
        ));
    }
    let size = if let Some(e) = &v.empty_dir {
        quantity(e.size_limit.as_ref())
    } else if let Some(e) = &v.ephemeral {
        e.volume_claim_template
            .as_ref()
            .and_then(|t| t.spec.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .map(|r| quantity(r.get("storage")))
            .unwrap_or(0)
    } else if let Some(claim) = &v.persistent_volume_claim {
        match cx.object("PersistentVolumeClaim", &claim.claim_name) {
            Some(Object::PersistentVolumeClaim(pvc)) => pvc
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .map(|r| quantity(r.get("storage")))
                .unwrap_or(0),
            _ => 0,
        }
    } else {
        0
    };
    Ok(Some((m.name.clone(), size)))
}

fn claim_template_size(cx: &Check, c: &Contract, name: &str) -> u64 {
    match cx.object("StatefulSet", &c.workload) {
        Some(Object::StatefulSet(s)) => s
            .spec
            .iter()
            .flat_map(|s| s.volume_claim_templates.iter().flatten())
            .find(|t| t.metadata.name.as_deref() == Some(name))
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .map(|r| quantity(r.get("storage")))
            .unwrap_or(0),
        _ => 0,
    }
}

fn quantity(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> u64 {
    q.and_then(|q| crate::units::Quantity::parse(&q.0).ok())
        .map(|q| q.ceil_units().max(0) as u64)
        .unwrap_or(0)
}

/// Seconds a probe waits before it gives up on a container that has not answered yet.
pub fn patience(p: &Probe) -> u64 {
    let initial = p.initial_delay_seconds.unwrap_or(0).max(0) as u64;
    let period = p.period_seconds.unwrap_or(10).max(1) as u64;
    let failures = p.failure_threshold.unwrap_or(3).max(1) as u64;
    initial + period * failures
}

fn startup(cx: &Check, c: &Contract, container: &Container) {
    let (which, probe) = match (&container.startup_probe, &container.liveness_probe) {
        (Some(p), _) => ("startup", p),
        (None, Some(p)) => ("liveness", p),
        (None, None) => return,
    };
    let waits = patience(probe);
    if waits < c.startup_seconds {
        cx.error(
            "contract.startup-probe",
            &c.key,
            format!(
                "{} of `{}` may take {} s to answer its probe, but its {which} probe kills it after {waits} s: a restart loop that never finishes starting",
                c.container, c.workload, c.startup_seconds
            ),
            format!(
                "a startup probe that waits at least {} s (failureThreshold × periodSeconds)",
                c.startup_seconds
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::kube::{Bundle, Object};
    use crate::profile::{LoadOptions, Loaded, load};
    use crate::render::{RenderOptions, render};

    fn rendered(profile: &str) -> (Loaded, Bundle) {
        let loaded = load(profile, &LoadOptions::default()).unwrap();
        let bundle = render(&loaded.profile, &RenderOptions::default()).unwrap();
        (loaded, bundle)
    }

    fn broken(loaded: &Loaded, bundle: &Bundle) -> Vec<&'static str> {
        let mut rules: Vec<&str> = crate::validate::validate(loaded, bundle)
            .into_iter()
            .map(|f| f.rule)
            .filter(|r| r.starts_with("contract."))
            .collect();
        rules.dedup();
        rules
    }

    fn aerospike(bundle: &mut Bundle) -> &mut k8s_openapi::api::core::v1::PodSpec {
        bundle
            .items
            .iter_mut()
            .find_map(|i| match &mut *i.object {
                Object::StatefulSet(s) if s.metadata.name.as_deref() == Some("aerospike") => {
                    s.spec.as_mut()?.template.spec.as_mut()
                }
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn every_shipped_render_keeps_its_contracts() {
        for p in ["demo", "prod"] {
            let (loaded, bundle) = rendered(p);
            assert_eq!(broken(&loaded, &bundle), Vec::<&str>::new(), "{p}");
        }
    }

    #[test]
    fn a_liveness_probe_alone_kills_a_cold_start() {
        let (loaded, mut bundle) = rendered("prod");
        aerospike(&mut bundle).containers[0].startup_probe = None;
        assert_eq!(broken(&loaded, &bundle), ["contract.startup-probe"]);
    }

    #[test]
    fn another_user_than_the_images() {
        let (loaded, mut bundle) = rendered("demo");
        aerospike(&mut bundle)
            .security_context
            .as_mut()
            .unwrap()
            .run_as_user = Some(4242);
        assert_eq!(broken(&loaded, &bundle), ["contract.user"]);
    }

    #[test]
    fn a_config_file_the_config_map_lacks() {
        let (loaded, mut bundle) = rendered("demo");
        for item in &mut bundle.items {
            if let Object::ConfigMap(cm) = &mut *item.object
                && cm.metadata.name.as_deref() == Some("aerospike-config")
            {
                cm.data.as_mut().unwrap().remove("start.sh");
            }
        }
        assert_eq!(broken(&loaded, &bundle), ["contract.config"]);
    }

    #[test]
    fn a_work_directory_on_the_read_only_root() {
        let (loaded, mut bundle) = rendered("demo");
        let spec = aerospike(&mut bundle);
        spec.containers[0]
            .volume_mounts
            .as_mut()
            .unwrap()
            .retain(|m| m.name != "work");
        assert_eq!(broken(&loaded, &bundle), ["contract.writable"]);
    }
}
