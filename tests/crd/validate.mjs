// Validates amctl's custom resources against the published CRD schemas, compiled by
// kubernetes-models (cert-manager.io/v1, monitoring.coreos.com/v1): types, enums, patterns and
// required fields. Reads a JSON array of objects; prints one line per object; exits 1 on any error.
import { readFileSync } from "node:fs";
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

const models = {
  "cert-manager.io/v1/Certificate": Certificate,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};
const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const doc of docs) {
  const id = `${doc.kind}/${doc.metadata?.name}`;
  const Model = models[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) {
    console.log(`ERROR ${id}: no published schema for ${doc.apiVersion} ${doc.kind}`);
    failed++;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`ok ${id}`);
  } catch (e) {
    console.log(`ERROR ${id}: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
