//! Small constructors for the Kubernetes objects every component builds, so each component
//! module reads as what it deploys rather than as struct plumbing.

use crate::profile::{EffectiveStorage, Medium, Resources};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, ExecAction, HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PodSecurityContext, Probe, ResourceRequirements, SeccompProfile,
    SecurityContext, ServicePort, TCPSocketAction, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

pub fn q(s: impl Into<String>) -> Quantity {
    Quantity(s.into())
}

pub fn meta(name: &str, namespace: &str, labels: Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        ..Default::default()
    }
}

pub fn resources(r: &Resources) -> ResourceRequirements {
    let amounts = |memory: &str, cpu: &str| {
        BTreeMap::from([
            ("cpu".to_string(), q(cpu)),
            ("memory".to_string(), q(memory)),
        ])
    };
    ResourceRequirements {
        requests: Some(amounts(
            r.requests.memory.0.as_str(),
            r.requests.cpu.0.as_str(),
        )),
        limits: Some(amounts(r.limits.memory.0.as_str(), r.limits.cpu.0.as_str())),
        ..Default::default()
    }
}

/// Small fixed resources for helper containers (init steps, jobs, exporters).
pub(crate) fn helper_resources() -> ResourceRequirements {
    fixed_resources(("64Mi", "50m"), ("128Mi", "200m"))
}

/// Fixed `(memory, cpu)` requests and limits.
pub(crate) fn fixed_resources(
    requests: (&str, &str),
    limits: (&str, &str),
) -> ResourceRequirements {
    let amounts = |(memory, cpu): (&str, &str)| {
        BTreeMap::from([
            ("cpu".to_string(), q(cpu)),
            ("memory".to_string(), q(memory)),
        ])
    };
    ResourceRequirements {
        requests: Some(amounts(requests)),
        limits: Some(amounts(limits)),
        ..Default::default()
    }
}

/// The restricted Pod Security Standard's container requirements; `read_only` where the image
/// tolerates a read-only root filesystem (writable paths get emptyDirs).
pub(crate) fn container_security(read_only: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(read_only),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs the pod as the image's own unprivileged user, with volumes group-owned by it.
pub(crate) fn pod_security(uid: i64, gid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(gid),
        fs_group: Some(gid),
        fs_group_change_policy: Some("OnRootMismatch".to_string()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        ..Default::default()
    }
}

pub(crate) fn env_field(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            // fieldRef is atomic: written as the API server defaults it (apiVersion v1), so
            // server-side apply after a client-side one finds the same value, not a conflict.
            field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                api_version: Some("v1".to_string()),
                field_path: field_path.to_string(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: port,
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

pub(crate) fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_string()),
        port,
        target_port: Some(IntOrString::String(name.to_string())),
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

pub fn empty_dir(name: &str, medium: Medium, size: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: match medium {
                Medium::Memory => Some("Memory".to_string()),
                Medium::Disk => None,
            },
            size_limit: Some(q(size)),
        }),
        ..Default::default()
    }
}

/// A pod's volume list, with room for the ones a component adds after these: a Volume is
/// 3 KiB inline, and growing the vector one push at a time would copy them over and over
/// (`pod_template` gives back the unused room).
pub fn volumes<const N: usize>(first: [Volume; N]) -> Vec<Volume> {
    let mut v = Vec::with_capacity(N + 6);
    v.extend(first);
    v
}

pub(crate) fn config_volume(name: &str, config_map: &str, mode: Option<i32>) -> Volume {
    Volume {
        name: name.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_string(),
            default_mode: mode,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// One file of a volume mounted at `path` (subPath).
pub(crate) fn mount_sub(name: &str, path: &str, sub_path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        sub_path: Some(sub_path.to_string()),
        read_only: Some(true),
        ..Default::default()
    }
}

/// An `omitempty` number as the API server returns it: a zero is not there at all (a read-back
/// of `initialDelaySeconds: 0` has no such key).
fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

pub(crate) fn exec_probe(command: &[&str], initial: i32, period: i32, failures: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(command.iter().map(|s| s.to_string()).collect()),
        }),
        initial_delay_seconds: nonzero(initial),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

pub(crate) fn tcp_probe(port: &str, initial: i32, period: i32, failures: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port.to_string()),
            ..Default::default()
        }),
        initial_delay_seconds: nonzero(initial),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

pub(crate) fn http_probe(
    path: &str,
    port: &str,
    initial: i32,
    period: i32,
    failures: i32,
) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(port.to_string()),
            scheme: Some("HTTP".to_string()),
            ..Default::default()
        }),
        initial_delay_seconds: nonzero(initial),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

/// A component's data volume: an emptyDir in the pod (ephemeral) or a claim template
/// (persistent). Returns the pod volume, if any, and the claim template, if any.
pub(crate) fn data_volume(
    name: &str,
    storage: &EffectiveStorage,
    labels: &Labels,
) -> (Option<Volume>, Option<PersistentVolumeClaim>) {
    match storage.mode {
        crate::profile::StorageMode::Ephemeral => (
            Some(empty_dir(name, storage.medium, storage.size.0.as_str())),
            None,
        ),
        crate::profile::StorageMode::Persistent => (
            None,
            Some(PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    labels: Some(claim_labels(labels)),
                    ..Default::default()
                },
                // A StatefulSet's claim templates are an atomic list: written as the API
                // server defaults them (volumeMode; status.phase Pending, from
                // pkg/apis/core/v1/defaults.go SetDefaults_PersistentVolumeClaim), so no field
                // manager finds another value.
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_string()]),
                    volume_mode: Some("Filesystem".to_string()),
                    storage_class_name: storage.class.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            q(storage.size.0.as_str()),
                        )])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                status: Some(PersistentVolumeClaimStatus {
                    phase: Some("Pending".to_string()),
                    ..Default::default()
                }),
            }),
        ),
    }
}

/// The labels of a StatefulSet's claim template: its workload's, but for the version. The
/// templates are immutable (apps/validation.go ValidateStatefulSetUpdate allows only replicas,
/// ordinals, template, updateStrategy, minReadySeconds and the claim retention policy to change),
/// so a label that follows the image would re-create the StatefulSet on every upgrade.
pub(crate) fn claim_labels(labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(k, _)| k.as_str() != VERSION_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The label that carries a workload's version (its image tag).
pub(crate) const VERSION_LABEL: &str = "app.kubernetes.io/version";

/// A container with the fields every amctl container sets.
pub fn container(name: &str, image: &str, res: ResourceRequirements, read_only: bool) -> Container {
    Container {
        name: name.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        resources: Some(res),
        security_context: Some(container_security(read_only)),
        ..Default::default()
    }
}

/// A pod template with amctl's pod-level defaults.
pub(crate) struct PodParts {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub service_account: String,
    pub security: PodSecurityContext,
    pub init_containers: Vec<Container>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    pub termination_grace_seconds: Option<i64>,
}

pub(crate) fn pod_template(mut p: PodParts) -> k8s_openapi::api::core::v1::PodTemplateSpec {
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
    // A Volume is 3 KiB and a Container 2 KiB inline: a thousand pods would keep megabytes of
    // unused vector capacity.
    p.volumes.shrink_to_fit();
    p.containers.shrink_to_fit();
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(p.labels),
            annotations: (!p.annotations.is_empty()).then_some(p.annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(p.service_account),
            // No API token in the pod unless a component says it needs one (Flink HA).
            automount_service_account_token: Some(false),
            security_context: Some(p.security),
            init_containers: (!p.init_containers.is_empty()).then_some(p.init_containers),
            containers: p.containers,
            volumes: (!p.volumes.is_empty()).then_some(p.volumes),
            termination_grace_period_seconds: p.termination_grace_seconds,
            enable_service_links: Some(false),
            ..Default::default()
        }),
    }
}

pub fn label_selector(
    selector: Labels,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some(selector),
        ..Default::default()
    }
}

/// The pods of several workloads, by their `app.kubernetes.io/name`.
pub(crate) fn name_in(
    names: &[&str],
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "app.kubernetes.io/name".into(),
            operator: "In".into(),
            values: Some(names.iter().map(|s| s.to_string()).collect()),
        }]),
        ..Default::default()
    }
}

pub(crate) struct StatefulSetParts {
    pub meta: ObjectMeta,
    pub selector: Labels,
    pub replicas: u32,
    pub service_name: String,
    /// Start every pod at once: needed where peers must form a quorum before any is Ready.
    pub parallel: bool,
    pub template: k8s_openapi::api::core::v1::PodTemplateSpec,
    pub claims: Vec<PersistentVolumeClaim>,
}

pub(crate) fn stateful_set(p: StatefulSetParts) -> Box<k8s_openapi::api::apps::v1::StatefulSet> {
    use k8s_openapi::api::apps::v1::{
        StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    };
    let has_claims = !p.claims.is_empty();
    Box::new(StatefulSet {
        metadata: p.meta,
        spec: Some(StatefulSetSpec {
            replicas: Some(p.replicas as i32),
            selector: label_selector(p.selector),
            service_name: Some(p.service_name),
            pod_management_policy: Some(
                if p.parallel {
                    "Parallel"
                } else {
                    "OrderedReady"
                }
                .to_string(),
            ),
            template: p.template,
            // Data outlives the StatefulSet: deleting or scaling it down never deletes claims.
            persistent_volume_claim_retention_policy: has_claims.then(|| {
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_string()),
                    when_scaled: Some("Retain".to_string()),
                }
            }),
            volume_claim_templates: has_claims.then_some(p.claims),
            ..Default::default()
        }),
        ..Default::default()
    })
}

pub fn deployment(
    meta: ObjectMeta,
    selector: Labels,
    replicas: Option<u32>,
    template: k8s_openapi::api::core::v1::PodTemplateSpec,
) -> Box<k8s_openapi::api::apps::v1::Deployment> {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    Box::new(Deployment {
        metadata: meta,
        spec: Some(DeploymentSpec {
            replicas: replicas.map(|r| r as i32),
            selector: label_selector(selector),
            template,
            revision_history_limit: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A Service; `headless` for the stable per-pod DNS names of a StatefulSet.
pub fn service(
    meta: ObjectMeta,
    selector: Labels,
    ports: Vec<ServicePort>,
    headless: bool,
    type_: Option<&str>,
) -> k8s_openapi::api::core::v1::Service {
    use k8s_openapi::api::core::v1::{Service, ServiceSpec};
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(ports),
            cluster_ip: headless.then(|| "None".to_string()),
            // Peers must find each other before they are Ready (quorum, mesh).
            publish_not_ready_addresses: headless.then_some(true),
            type_: type_.map(str::to_string),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The two Services of a StatefulSet: `NAME-headless` for the stable per-pod DNS names peers
/// use (published before the pods are Ready), and `NAME` (ClusterIP) for clients.
pub(crate) fn stateful_services(
    name: &str,
    ns: &str,
    labels: &Labels,
    selector: &Labels,
    peer_ports: Vec<ServicePort>,
    client_ports: Vec<ServicePort>,
) -> [k8s_openapi::api::core::v1::Service; 2] {
    [
        service(
            meta(&format!("{name}-headless"), ns, labels.clone()),
            selector.clone(),
            peer_ports,
            true,
            None,
        ),
        service(
            meta(name, ns, labels.clone()),
            selector.clone(),
            client_ports,
            false,
            Some("ClusterIP"),
        ),
    ]
}

/// Secrets as files (never environment variables): each `(secret, key, file)` becomes `file` in
/// one read-only volume.
pub(crate) fn secret_files(name: &str, items: &[(&str, &str, &str)]) -> Volume {
    use k8s_openapi::api::core::v1::{
        KeyToPath, ProjectedVolumeSource, SecretProjection, VolumeProjection,
    };
    let mut by_secret: BTreeMap<&str, Vec<KeyToPath>> = BTreeMap::new();
    for (secret, key, file) in items {
        by_secret.entry(secret).or_default().push(KeyToPath {
            key: key.to_string(),
            path: file.to_string(),
            ..Default::default()
        });
    }
    Volume {
        name: name.to_string(),
        projected: Some(ProjectedVolumeSource {
            // Readable by the pod's group only.
            default_mode: Some(0o440),
            sources: Some(
                by_secret
                    .into_iter()
                    .map(|(secret, items)| VolumeProjection {
                        secret: Some(SecretProjection {
                            name: secret.to_string(),
                            items: Some(items),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
        }),
        ..Default::default()
    }
}

/// A metrics exporter beside (or for) a server: its port `metrics`, probed on `/metrics`.
pub fn exporter(name: &str, image: &str, port: i32) -> Container {
    let mut c = container(name, image, helper_resources(), true);
    c.ports = Some(vec![container_port("metrics", port)]);
    c.readiness_probe = Some(http_probe("/metrics", "metrics", 5, 15, 3));
    c.liveness_probe = Some(http_probe("/metrics", "metrics", 30, 30, 6));
    c
}
