//! NetworkPolicies (`security.network_policies`): deny everything in the namespace, then allow
//! exactly the flows the platform uses, each at both ends (egress at the client, ingress at the
//! server): API services → their backends, Flink → Kafka and Aerospike, Kafka and Aerospike
//! peers, JobManager ↔ TaskManagers, the topic Job → Kafka, the ingress controller → API
//! services, the scraper → metrics ports, DNS, and (for s3:// state or Kubernetes HA) HTTPS out.

use crate::components::{aerospike, api, flink, kafka, postgres};
use crate::kube::{Bundle, Ctx, Object, k8s};
use crate::profile::{Backend, ServiceType};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

const NS_LABEL: &str = "kubernetes.io/metadata.name";

fn pods(names: &[&str]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(k8s::name_in(names)),
        ..Default::default()
    }
}

fn namespace(ns: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(NS_LABEL.to_string(), ns.to_string())])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn anywhere() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: "0.0.0.0/0".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ports(list: &[i32]) -> Option<Vec<NetworkPolicyPort>> {
    Some(
        list.iter()
            .map(|p| NetworkPolicyPort {
                port: Some(IntOrString::Int(*p)),
                protocol: Some("TCP".into()),
                ..Default::default()
            })
            .collect(),
    )
}

struct Rules {
    ingress: Vec<NetworkPolicyIngressRule>,
    egress: Vec<NetworkPolicyEgressRule>,
}

impl Rules {
    fn new() -> Rules {
        Rules {
            ingress: Vec::new(),
            egress: Vec::new(),
        }
    }
    fn from(mut self, peers: Vec<NetworkPolicyPeer>, on: &[i32]) -> Rules {
        self.ingress.push(NetworkPolicyIngressRule {
            from: Some(peers),
            ports: ports(on),
        });
        self
    }
    fn to(mut self, peers: Vec<NetworkPolicyPeer>, on: &[i32]) -> Rules {
        self.egress.push(NetworkPolicyEgressRule {
            to: Some(peers),
            ports: ports(on),
        });
        self
    }
}

fn policy(
    ctx: &Ctx,
    name: &str,
    component: &str,
    applies_to: LabelSelector,
    rules: Rules,
) -> Object {
    let mut types = Vec::new();
    if !rules.ingress.is_empty() {
        types.push("Ingress".to_string());
    }
    if !rules.egress.is_empty() {
        types.push("Egress".to_string());
    }
    Object::NetworkPolicy(NetworkPolicy {
        metadata: k8s::meta(name, ctx.ns, ctx.labels(component, "network-policy", "")),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(applies_to),
            policy_types: Some(types),
            ingress: (!rules.ingress.is_empty()).then_some(rules.ingress),
            egress: (!rules.egress.is_empty()).then_some(rules.egress),
        }),
    })
}

pub fn apply(ctx: &Ctx, bundle: &mut Bundle) {
    let p = ctx.profile;
    if !p.security.network_policies {
        return;
    }
    let services: Vec<_> = p.api.effective().collect();
    let clients_of = |b: Backend| -> Vec<&str> {
        services
            .iter()
            .filter(|s| s.uses.contains(&b))
            .map(|s| s.name)
            .collect()
    };
    let flink_pods = [flink::JM, flink::TM];
    let scraper = vec![namespace(&p.monitoring.scraper_namespace)];
    let essential = p.monitoring.level.metrics();
    let full = ctx.full_monitoring();
    let mut out: Vec<(&'static str, Object)> = Vec::new();

    // Deny everything, allow DNS to kube-system for everyone.
    out.push((
        "namespace",
        Object::NetworkPolicy(NetworkPolicy {
            metadata: k8s::meta(
                "default-deny",
                ctx.ns,
                ctx.labels("default-deny", "network-policy", ""),
            ),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ..Default::default()
            }),
        }),
    ));
    let dns = NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                NS_LABEL.to_string(),
                "kube-system".to_string(),
            )])),
            ..Default::default()
        }),
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "k8s-app".to_string(),
                "kube-dns".to_string(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    out.push((
        "namespace",
        Object::NetworkPolicy(NetworkPolicy {
            metadata: k8s::meta(
                "allow-dns",
                ctx.ns,
                ctx.labels("allow-dns", "network-policy", ""),
            ),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Egress".into()]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![dns]),
                    ports: Some(
                        ["UDP", "TCP"]
                            .iter()
                            .map(|proto| NetworkPolicyPort {
                                port: Some(IntOrString::Int(53)),
                                protocol: Some(proto.to_string()),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                }]),
                ..Default::default()
            }),
        }),
    ));

    // PostgreSQL: its clients in; primary and standbys to each other (streaming replication).
    let pg = &p.postgres;
    let pg_pods: Vec<&str> = if pg.replicas > 1 {
        vec![postgres::NAME, postgres::REPLICA]
    } else {
        vec![postgres::NAME]
    };
    let mut pg_rules = Rules::new()
        .from(vec![pods(&pg_pods)], &[postgres::PORT])
        .to(vec![pods(&pg_pods)], &[postgres::PORT]);
    let mut pg_clients = clients_of(Backend::Postgres);
    if pg.backup.is_some() {
        pg_clients.push(postgres::BACKUP);
    }
    if !pg_clients.is_empty() {
        pg_rules = pg_rules.from(vec![pods(&pg_clients)], &[postgres::PORT]);
    }
    if full {
        pg_rules = pg_rules.from(scraper.clone(), &[postgres::EXPORTER_PORT]);
    }
    out.push((
        postgres::NAME,
        policy(
            ctx,
            postgres::NAME,
            postgres::NAME,
            k8s::name_in(&pg_pods),
            pg_rules,
        ),
    ));
    if let Some(b) = &pg.backup {
        let mut rules = Rules::new().to(vec![pods(&[postgres::NAME])], &[postgres::PORT]);
        if b.s3.is_some() {
            // The object store, outside the cluster.
            rules = rules.to(vec![anywhere()], &[443]);
        }
        out.push((
            postgres::NAME,
            policy(
                ctx,
                postgres::BACKUP,
                postgres::NAME,
                k8s::name_in(&[postgres::BACKUP]),
                rules,
            ),
        ));
    }

    // Aerospike: clients in on the service port; peers in and out on service, fabric, heartbeat.
    // With the Enterprise TLS listener, clients use its port (the plain one stays for the
    // exporter on loopback and for clients not yet switched).
    let as_client_ports: Vec<i32> = if aerospike::tls_listener(p) {
        vec![aerospike::SERVICE_PORT, aerospike::TLS_PORT]
    } else {
        vec![aerospike::SERVICE_PORT]
    };
    let mut as_clients = clients_of(Backend::Aerospike);
    as_clients.extend(flink_pods);
    let as_ports = [
        aerospike::SERVICE_PORT,
        aerospike::FABRIC_PORT,
        aerospike::HEARTBEAT_PORT,
    ];
    out.push((
        aerospike::NAME,
        policy(
            ctx,
            aerospike::NAME,
            aerospike::NAME,
            k8s::name_in(&[aerospike::NAME]),
            {
                let r = Rules::new()
                    .from(vec![pods(&as_clients)], &as_client_ports)
                    .from(vec![pods(&[aerospike::NAME])], &as_ports)
                    .to(vec![pods(&[aerospike::NAME])], &as_ports);
                if full {
                    r.from(scraper.clone(), &[aerospike::EXPORTER_PORT])
                } else {
                    r
                }
            },
        ),
    ));

    // Kafka: clients (API services, Flink, the topic Job) in; brokers and controllers peer.
    let mut kafka_clients = clients_of(Backend::Kafka);
    kafka_clients.extend(flink_pods);
    kafka_clients.push("kafka-topics");
    if full {
        kafka_clients.push(kafka::EXPORTER);
        out.push((
            kafka::NAME,
            policy(
                ctx,
                kafka::EXPORTER,
                kafka::NAME,
                k8s::name_in(&[kafka::EXPORTER]),
                Rules::new()
                    .from(scraper.clone(), &[kafka::EXPORTER_PORT])
                    .to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT]),
            ),
        ));
    }
    let kafka_ports = [kafka::CLIENT_PORT, kafka::CONTROLLER_PORT];
    out.push((
        kafka::NAME,
        policy(
            ctx,
            kafka::NAME,
            kafka::NAME,
            k8s::name_in(&[kafka::NAME]),
            Rules::new()
                .from(vec![pods(&kafka_clients)], &[kafka::CLIENT_PORT])
                .from(vec![pods(&[kafka::NAME])], &kafka_ports)
                .to(vec![pods(&[kafka::NAME])], &kafka_ports),
        ),
    ));
    out.push((
        kafka::NAME,
        policy(
            ctx,
            "kafka-topics",
            kafka::NAME,
            k8s::name_in(&["kafka-topics"]),
            Rules::new().to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT]),
        ),
    ));

    // Flink: JobManager ↔ TaskManagers, TaskManager shuffle, sources and sinks, state store.
    let f = &p.flink;
    let https_out = flink::needs_s3(&f.checkpoint_dir) || f.high_availability.is_some();
    let mut jm = Rules::new()
        .from(
            vec![pods(&[flink::TM])],
            &[flink::RPC_PORT, flink::BLOB_PORT],
        )
        .to(vec![pods(&[flink::TM])], &[flink::TM_RPC_PORT])
        .to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT])
        .to(vec![pods(&[aerospike::NAME])], &[aerospike::SERVICE_PORT]);
    let mut tm = Rules::new()
        .from(vec![pods(&[flink::JM])], &[flink::TM_RPC_PORT])
        .from(vec![pods(&[flink::TM])], &[flink::TM_DATA_PORT])
        .to(
            vec![pods(&[flink::JM])],
            &[flink::RPC_PORT, flink::BLOB_PORT],
        )
        .to(vec![pods(&[flink::TM])], &[flink::TM_DATA_PORT])
        .to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT])
        .to(vec![pods(&[aerospike::NAME])], &[aerospike::SERVICE_PORT]);
    if f.high_availability.is_some() {
        // Standby JobManagers reach the leader.
        jm = jm
            .from(
                vec![pods(&[flink::JM])],
                &[flink::RPC_PORT, flink::BLOB_PORT],
            )
            .to(
                vec![pods(&[flink::JM])],
                &[flink::RPC_PORT, flink::BLOB_PORT],
            );
    }
    if https_out {
        // Object storage (s3://) and the Kubernetes API (HA leader election): HTTPS out.
        jm = jm.to(vec![anywhere()], &[443, 6443]);
        tm = tm.to(vec![anywhere()], &[443, 6443]);
    }
    if essential {
        jm = jm.from(scraper.clone(), &[flink::METRICS_PORT]);
        tm = tm.from(scraper.clone(), &[flink::METRICS_PORT]);
    }
    out.push((
        flink::NAME,
        policy(ctx, flink::JM, flink::NAME, k8s::name_in(&[flink::JM]), jm),
    ));
    out.push((
        flink::NAME,
        policy(ctx, flink::TM, flink::NAME, k8s::name_in(&[flink::TM]), tm),
    ));

    // API services: callers in, backends out.
    for s in &services {
        let callers = if p.api.service_type == ServiceType::NodePort || p.api.ingress.is_none() {
            // NodePort traffic arrives from node addresses.
            vec![anywhere()]
        } else {
            vec![namespace(&p.security.ingress_namespace)]
        };
        let mut rules = Rules::new().from(callers, &[api::HTTP_PORT]);
        if essential {
            rules = rules.from(scraper.clone(), &[api::MANAGEMENT_PORT]);
        }
        for b in s.uses {
            rules = match b {
                Backend::Postgres => rules.to(vec![pods(&[postgres::NAME])], &[postgres::PORT]),
                Backend::Kafka => rules.to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT]),
                Backend::Aerospike => rules.to(vec![pods(&[aerospike::NAME])], &as_client_ports),
            };
        }
        out.push((
            api::COMPONENT,
            policy(ctx, s.name, api::COMPONENT, k8s::name_in(&[s.name]), rules),
        ));
    }
    for (component, obj) in out {
        bundle.push(component, obj);
    }
}
