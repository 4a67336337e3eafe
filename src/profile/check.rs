//! Structural checks a typed profile must pass before it can be rendered at all: names that
//! must be valid Kubernetes names, names that must be unique, versions amctl must be able to
//! read. Failing one is an input error (exit 2) pointing at the key.

use super::Loaded;
use super::images::Server;
use crate::error::{Error, InputError};
use std::collections::BTreeSet;

/// The largest replica, node, slot or partition count amctl accepts.
pub(crate) const MAX_COUNT: u64 = 10_000;

/// DNS-1123 label: lowercase alphanumerics and '-', alphanumeric at both ends, at most `max`.
pub(crate) fn is_dns_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn fail(loaded: &Loaded, path: &[&str], message: String, help: &str) -> Error {
    InputError::new(message)
        .at(loaded.locate(path))
        .key(path.join("."))
        .help(help)
        .into()
}

pub(crate) fn structure(loaded: &Loaded) -> Result<(), Error> {
    let p = &loaded.profile;

    // Counts that become Kubernetes int32 fields (and pods to place): a typo, not a plan.
    let mut counts: Vec<(String, u64)> = vec![
        ("cluster.nodes".into(), u64::from(p.cluster.nodes)),
        ("aerospike.replicas".into(), u64::from(p.aerospike.replicas)),
        ("kafka.brokers".into(), u64::from(p.kafka.brokers)),
        (
            "flink.jobmanager.replicas".into(),
            u64::from(p.flink.jobmanager.replicas),
        ),
        (
            "flink.taskmanager.replicas".into(),
            u64::from(p.flink.taskmanager.replicas),
        ),
        (
            "flink.taskmanager.task_slots".into(),
            u64::from(p.flink.taskmanager.task_slots),
        ),
        (
            "flink.parallelism_default".into(),
            u64::from(p.flink.parallelism_default),
        ),
        ("api.replicas".into(), u64::from(p.api.replicas)),
        (
            "kafka.num_partitions".into(),
            u64::from(p.kafka.num_partitions),
        ),
    ];
    if let Some(c) = &p.kafka.controllers {
        counts.push(("kafka.controllers.replicas".into(), u64::from(c.replicas)));
    }
    if let Some(a) = &p.api.autoscaling {
        counts.push((
            "api.autoscaling.max_replicas".into(),
            u64::from(a.max_replicas),
        ));
        counts.push((
            "api.autoscaling.min_replicas".into(),
            u64::from(a.min_replicas),
        ));
    }
    for (i, s) in p.api.services.iter().enumerate() {
        if let Some(r) = s.replicas {
            counts.push((format!("api.services.{i}.replicas"), u64::from(r)));
        }
        if let Some(a) = &s.autoscaling {
            counts.push((
                format!("api.services.{i}.autoscaling.max_replicas"),
                u64::from(a.max_replicas),
            ));
        }
    }
    for (i, t) in p.kafka.topics.iter().enumerate() {
        if let Some(n) = t.partitions {
            counts.push((format!("kafka.topics.{i}.partitions"), u64::from(n)));
        }
    }
    for (key, n) in counts {
        if n > MAX_COUNT {
            let path: Vec<&str> = key.split('.').collect();
            return Err(fail(
                loaded,
                &path,
                format!("`{key}` = {n} is beyond what amctl will plan for (at most {MAX_COUNT})"),
                "check the number: replica, node and partition counts above ten thousand are almost certainly a typo",
            ));
        }
    }

    if let Some(def) = &p.storage.define_class {
        if p.storage.class.is_none() {
            return Err(fail(
                loaded,
                &["storage", "define_class"],
                "[storage.define_class] needs a name: set storage.class".into(),
                "add `class = \"fast-ssd\"` to [storage]",
            ));
        }
        if !matches!(def.reclaim_policy.as_str(), "Retain" | "Delete") {
            return Err(fail(
                loaded,
                &["storage", "define_class", "reclaim_policy"],
                format!(
                    "reclaim_policy `{}` is not a reclaim policy",
                    def.reclaim_policy
                ),
                "use \"Retain\" (data outlives its claim) or \"Delete\"",
            ));
        }
        if !matches!(
            def.volume_binding_mode.as_str(),
            "WaitForFirstConsumer" | "Immediate"
        ) {
            return Err(fail(
                loaded,
                &["storage", "define_class", "volume_binding_mode"],
                format!(
                    "volume_binding_mode `{}` is not a binding mode",
                    def.volume_binding_mode
                ),
                "use \"WaitForFirstConsumer\" or \"Immediate\"",
            ));
        }
    }

    let mut seen = BTreeSet::new();
    for (i, svc) in p.api.services.iter().enumerate() {
        let idx = i.to_string();
        let path = ["api", "services", idx.as_str(), "name"];
        // Service names become Service, Deployment and ConfigMap (`-config`) names.
        if !is_dns_label(&svc.name, 56) || svc.name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(fail(
                loaded,
                &path,
                format!(
                    "API service name `{}` cannot name Kubernetes objects",
                    svc.name
                ),
                "use at most 56 lowercase letters, digits and '-', starting with a letter",
            ));
        }
        if !seen.insert(svc.name.as_str()) {
            return Err(fail(
                loaded,
                &path,
                format!("API service `{}` is listed twice", svc.name),
                "each service needs a unique name",
            ));
        }
        for reserved in ["postgres", "aerospike", "kafka", "flink-jobmanager", "api"] {
            if svc.name == reserved
                || svc.name.starts_with(&format!("{reserved}-")) && reserved != "api"
            {
                return Err(fail(
                    loaded,
                    &path,
                    format!(
                        "API service name `{}` collides with the platform's own `{reserved}` objects",
                        svc.name
                    ),
                    "choose another name",
                ));
            }
        }
    }

    if let Err(msg) = Server::from_image(&p.aerospike.image) {
        return Err(fail(
            loaded,
            &["aerospike", "image"],
            msg,
            "amctl reads the config syntax and edition limits from the image tag",
        ));
    }
    let mut names = BTreeSet::new();
    for (i, ns) in p.aerospike.namespaces.iter().enumerate() {
        let idx = i.to_string();
        let path = ["aerospike", "namespaces", idx.as_str(), "name"];
        let ok = !ns.name.is_empty()
            && ns.name.len() <= 31
            && ns
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(fail(
                loaded,
                &path,
                format!("Aerospike namespace name `{}` is not valid", ns.name),
                "use at most 31 letters, digits, '_' or '-'",
            ));
        }
        if !names.insert(ns.name.as_str()) {
            return Err(fail(
                loaded,
                &path,
                format!("Aerospike namespace `{}` is defined twice", ns.name),
                "each namespace needs a unique name",
            ));
        }
    }

    let mut topics = BTreeSet::new();
    for (i, t) in p.kafka.topics.iter().enumerate() {
        let idx = i.to_string();
        let path = ["kafka", "topics", idx.as_str(), "name"];
        let ok = !t.name.is_empty()
            && t.name.len() <= 249
            && t.name != "."
            && t.name != ".."
            && t.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(fail(
                loaded,
                &path,
                format!("Kafka topic name `{}` is not valid", t.name),
                "use letters, digits, '.', '_' or '-' (at most 249)",
            ));
        }
        if !topics.insert(t.name.as_str()) {
            return Err(fail(
                loaded,
                &path,
                format!("Kafka topic `{}` is listed twice", t.name),
                "each topic needs a unique name",
            ));
        }
    }

    for (path, image) in [
        (["postgres", "image"], &p.postgres.image),
        (["aerospike", "image"], &p.aerospike.image),
        (["kafka", "image"], &p.kafka.image),
        (["flink", "image"], &p.flink.image),
    ] {
        check_image(loaded, &path, image)?;
    }
    if p.api.version.is_empty() || p.api.version == "latest" {
        return Err(fail(
            loaded,
            &["api", "version"],
            format!("API image version `{}` is not pinned", p.api.version),
            "pin a release, e.g. \"1.4.0\"",
        ));
    }
    for (i, svc) in p.api.services.iter().enumerate() {
        if let Some(image) = &svc.image {
            let idx = i.to_string();
            check_image(loaded, &["api", "services", idx.as_str(), "image"], image)?;
        }
    }
    Ok(())
}

/// Images are pinned: a tag other than `latest`, or a digest.
fn check_image(loaded: &Loaded, path: &[&str], image: &str) -> Result<(), Error> {
    if image.contains('@') {
        return Ok(());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) if !tag.is_empty() && tag != "latest" => Ok(()),
        _ => Err(fail(
            loaded,
            path,
            format!("image `{image}` is not pinned to a version"),
            "use an explicit tag (e.g. `postgres:17.6`) or a digest; `latest` changes under you",
        )),
    }
}
