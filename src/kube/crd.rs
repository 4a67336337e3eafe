//! The custom resources amctl renders, typed with the fields it sets: cert-manager's
//! `Certificate` and the Prometheus Operator's `ServiceMonitor`, `PodMonitor` and
//! `PrometheusRule`. Field names follow the published CRDs (cert-manager.io/v1,
//! monitoring.coreos.com/v1); the conformance script validates them against those schemas.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;
use std::collections::BTreeMap;

macro_rules! resource {
    ($name:ident, $spec:ty, $api:literal, $kind:literal) => {
        #[derive(Clone, Debug, Serialize, PartialEq)]
        pub struct $name {
            #[serde(rename = "apiVersion")]
            pub api_version: &'static str,
            pub kind: &'static str,
            pub metadata: ObjectMeta,
            pub spec: $spec,
        }

        impl $name {
            pub fn new(metadata: ObjectMeta, spec: $spec) -> $name {
                $name {
                    api_version: $api,
                    kind: $kind,
                    metadata,
                    spec,
                }
            }
        }

        impl super::bundle::Typed for $name {
            const KIND: &'static str = $kind;
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

resource!(
    Certificate,
    CertificateSpec,
    "cert-manager.io/v1",
    "Certificate"
);
resource!(
    ServiceMonitor,
    ServiceMonitorSpec,
    "monitoring.coreos.com/v1",
    "ServiceMonitor"
);
resource!(
    PodMonitor,
    PodMonitorSpec,
    "monitoring.coreos.com/v1",
    "PodMonitor"
);
resource!(
    PrometheusRule,
    PrometheusRuleSpec,
    "monitoring.coreos.com/v1",
    "PrometheusRule"
);

// ---------------------------------------------------------------- cert-manager

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    pub secret_name: String,
    pub issuer_ref: IssuerRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub duration: String,
    pub renew_before: String,
    pub usages: Vec<String>,
    pub private_key: PrivateKey,
    /// PKCS#12 key and trust stores beside the PEM files (for JVMs that need stores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keystores: Option<Keystores>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Keystores {
    pub pkcs12: Pkcs12Keystore,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Pkcs12Keystore {
    pub create: bool,
    pub password_secret_ref: SecretKeyRef,
    /// `Modern2023`: AES-256 / SHA-256, what Java 17 reads.
    pub profile: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct IssuerRef {
    pub name: String,
    pub kind: String,
    pub group: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrivateKey {
    pub algorithm: String,
    pub size: i32,
    /// PKCS8: what Kafka's PEM key store and the JVM read.
    pub encoding: String,
    pub rotation_policy: String,
}

// ---------------------------------------------------------------- Prometheus Operator

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    pub selector: LabelSelector,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    pub selector: LabelSelector,
    pub pod_metrics_endpoints: Vec<Endpoint>,
}

/// A scrape endpoint (ServiceMonitor `endpoints[]` and PodMonitor `podMetricsEndpoints[]`
/// share these fields).
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub port: String,
    pub path: String,
    pub interval: String,
    pub scrape_timeout: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}
