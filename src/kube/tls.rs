//! `security.tls = true`: one certificate per TLS endpoint, issued by cert-manager when the
//! profile names an issuer, otherwise a Secret the user provides under the same name. Every
//! Secret has the cert-manager layout: `tls.crt`, `tls.key`, `ca.crt`.

use super::Ctx;
use super::bundle::{Bundle, Object};
use super::crd::{
    Certificate, CertificateSpec, IssuerRef, Keystores, Pkcs12Keystore, PrivateKey, SecretKeyRef,
};
use super::k8s;
use k8s_openapi::api::core::v1::Volume;

pub fn enabled(ctx: &Ctx) -> bool {
    ctx.profile.security.tls
}

/// The Secret's three files in one read-only volume (group-readable: the pod's fsGroup).
pub fn volume(name: &str, secret: &str) -> Volume {
    k8s::secret_files(
        name,
        &[
            (secret, "tls.crt", "tls.crt"),
            (secret, "tls.key", "tls.key"),
            (secret, "ca.crt", "ca.crt"),
        ],
    )
}

/// Only the CA, for clients that verify a server.
pub(crate) fn ca_volume(name: &str, secret: &str) -> Volume {
    k8s::secret_files(name, &[(secret, "ca.crt", "ca.crt")])
}

/// Every DNS form of a Service in the namespace, and of the pods behind a headless Service.
pub(crate) fn service_names(ctx: &Ctx, service: &str, headless: Option<&str>) -> Vec<String> {
    let ns = ctx.ns;
    let mut names = vec![
        service.to_string(),
        format!("{service}.{ns}"),
        format!("{service}.{ns}.svc"),
        format!("{service}.{ns}.svc.cluster.local"),
    ];
    if let Some(h) = headless {
        names.push(format!("*.{h}.{ns}.svc"));
        names.push(format!("*.{h}.{ns}.svc.cluster.local"));
    }
    names
}

/// A cert-manager Certificate into `secret`, when the profile names an issuer.
pub fn certificate(
    ctx: &Ctx,
    bundle: &mut Bundle,
    component: &'static str,
    secret: &str,
    dns_names: Vec<String>,
    client_auth: bool,
) {
    issue(ctx, bundle, component, secret, dns_names, client_auth, None);
}

/// A Certificate that also writes PKCS#12 `keystore.p12` and `truststore.p12`, locked with the
/// password in `password_secret` (key `password`); for mutual TLS between JVMs.
pub(crate) fn certificate_with_keystore(
    ctx: &Ctx,
    bundle: &mut Bundle,
    component: &'static str,
    secret: &str,
    dns_names: Vec<String>,
    password_secret: &str,
) {
    let stores = Keystores {
        pkcs12: Pkcs12Keystore {
            create: true,
            password_secret_ref: SecretKeyRef {
                name: password_secret.to_string(),
                key: "password".into(),
            },
            profile: "Modern2023".into(),
        },
    };
    issue(
        ctx,
        bundle,
        component,
        secret,
        dns_names,
        true,
        Some(stores),
    );
}

fn issue(
    ctx: &Ctx,
    bundle: &mut Bundle,
    component: &'static str,
    secret: &str,
    dns_names: Vec<String>,
    client_auth: bool,
    keystores: Option<Keystores>,
) {
    let Some(issuer) = &ctx.profile.security.tls_issuer else {
        return;
    };
    let mut usages: Vec<String> = ["digital signature", "key encipherment", "server auth"]
        .map(String::from)
        .to_vec();
    if client_auth {
        usages.push("client auth".into());
    }
    let labels = ctx.labels(component, "tls", "");
    bundle.push(
        component,
        Object::Certificate(Certificate::new(
            k8s::meta(secret, ctx.ns, labels),
            CertificateSpec {
                secret_name: secret.to_string(),
                issuer_ref: IssuerRef {
                    name: issuer.name.clone(),
                    kind: issuer.kind.as_str().to_string(),
                    group: "cert-manager.io".into(),
                },
                common_name: dns_names.first().cloned(),
                dns_names,
                duration: issuer.duration.clone(),
                renew_before: issuer.renew_before.clone(),
                usages,
                private_key: PrivateKey {
                    algorithm: "RSA".into(),
                    size: 2048,
                    encoding: "PKCS8".into(),
                    rotation_policy: "Always".into(),
                },
                keystores,
            },
        )),
    );
}
