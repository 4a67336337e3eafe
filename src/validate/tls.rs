//! The TLS settings against each other: an issuer without TLS does nothing; TLS without an
//! issuer needs the Secrets the render mounts.

/// The TLS settings against each other: an issuer without TLS does nothing; TLS without an
/// issuer needs the Secrets the render mounts, named here for this profile.
pub fn check(cx: &crate::rules::Check) {
    use crate::components::{aerospike, api, flink, kafka, postgres};
    let sec = &cx.profile.security;
    if !sec.tls && sec.tls_issuer.is_some() {
        cx.warn(
            "security.tls-issuer.unused",
            "security.tls_issuer",
            "security.tls_issuer is set but security.tls is off: no certificate is issued",
            "set security.tls = true, or remove tls_issuer",
        );
    }
    if !sec.tls || sec.tls_issuer.is_some() {
        return;
    }
    let pem = "tls.crt, tls.key and ca.crt";
    let mut secrets = vec![
        format!("{} ({pem})", postgres::TLS_SECRET),
        format!("{} ({pem})", kafka::TLS_SECRET),
        format!(
            "{} (keystore.p12 and truststore.p12, locked with the password in {})",
            flink::TLS_SECRET,
            cx.profile.flink.tls_password_secret
        ),
    ];
    if cx.profile.api.ingress.is_some() {
        secrets.push(format!("{} (tls.crt and tls.key)", api::INGRESS_TLS_SECRET));
    }
    if aerospike::tls_listener(cx.profile) {
        secrets.push(format!("{} ({pem})", aerospike::TLS_SECRET));
    }
    cx.info(
        "security.tls.secrets",
        "security.tls",
        format!(
            "TLS without security.tls_issuer: create these Secrets yourself: {}",
            secrets.join(", ")
        ),
        "or name a cert-manager issuer in security.tls_issuer and amctl renders the Certificates",
    );
}
