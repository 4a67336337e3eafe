//! Scrape targets for the Prometheus Operator: a PodMonitor over a component's pods, or a
//! ServiceMonitor over Services, each labelled with `monitoring.selector_labels`.

use super::crd::{Endpoint, PodMonitor, PodMonitorSpec, ServiceMonitor, ServiceMonitorSpec};
use super::{Ctx, Object, k8s};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

pub(crate) const INTERVAL: &str = "30s";
pub(crate) const TIMEOUT: &str = "10s";

fn labels(ctx: &Ctx, component: &str) -> BTreeMap<String, String> {
    let mut labels = ctx.labels(component, "monitoring", "");
    labels.extend(ctx.profile.monitoring.selector_labels.clone());
    labels
}

fn endpoint(port: &str, path: &str) -> Endpoint {
    Endpoint {
        port: port.into(),
        path: path.into(),
        interval: INTERVAL.into(),
        scrape_timeout: TIMEOUT.into(),
    }
}

/// A PodMonitor named after `component` over the pods named `names`, on their `metrics` port.
pub(crate) fn pod_monitor(ctx: &Ctx, component: &str, names: &[&str]) -> Object {
    Object::PodMonitor(PodMonitor::new(
        k8s::meta(component, ctx.ns, labels(ctx, component)),
        PodMonitorSpec {
            selector: ctx.workloads(names),
            pod_metrics_endpoints: vec![endpoint("metrics", "/metrics")],
        },
    ))
}

/// A ServiceMonitor named after `component` over this namespace's Services of component
/// `services` (`app.kubernetes.io/component`), on their `port` at `path`.
pub(crate) fn service_monitor(
    ctx: &Ctx,
    component: &str,
    services: &str,
    port: &str,
    path: &str,
) -> Object {
    Object::ServiceMonitor(ServiceMonitor::new(
        k8s::meta(component, ctx.ns, labels(ctx, component)),
        ServiceMonitorSpec {
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([
                    (
                        "app.kubernetes.io/component".to_string(),
                        services.to_string(),
                    ),
                    ("app.kubernetes.io/instance".to_string(), ctx.ns.to_string()),
                ])),
                ..Default::default()
            },
            endpoints: vec![endpoint(port, path)],
        },
    ))
}

/// Labels for the platform's own monitoring objects (the PrometheusRule).
pub(crate) fn platform_labels(ctx: &Ctx, name: &str) -> BTreeMap<String, String> {
    labels(ctx, name)
}
