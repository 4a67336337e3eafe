#!/usr/bin/env python3
"""Generates two YAML streams of N objects each, 1% of them changed, for diff benchmarks.

Usage: python3 benches/gen_streams.py N OUT_DIR   → OUT_DIR/a.yaml, OUT_DIR/b.yaml
Objects alternate Deployments (with a container, env, resources) and ConfigMaps; every 100th
object differs in B (a memory limit, an env value or a config key).
"""
import json
import os
import sys

n = int(sys.argv[1])
out = sys.argv[2]
os.makedirs(out, exist_ok=True)


def obj(i, changed):
    if i % 2 == 0:
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"svc-{i}", "namespace": "bench", "labels": {"app": f"svc-{i}"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": f"svc-{i}"}},
                "template": {
                    "metadata": {"labels": {"app": f"svc-{i}"}},
                    "spec": {"containers": [{
                        "name": "app", "image": f"registry/svc-{i}:1.0.0",
                        "env": [{"name": "MODE", "value": "b" if changed else "a"}, {"name": "N", "value": str(i)}],
                        "resources": {"requests": {"memory": "256Mi", "cpu": "100m"},
                                      "limits": {"memory": "768Mi" if changed else "512Mi", "cpu": "1"}},
                    }]},
                },
            },
        }
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"cfg-{i}", "namespace": "bench"},
        "data": {"application.yaml": f"server:\n  port: 8080\nfeature:\n  level: {2 if changed else 1}\n  id: {i}\n"},
    }


for side in ("a", "b"):
    with open(os.path.join(out, f"{side}.yaml"), "w") as f:
        for i in range(n):
            if i:
                f.write("---\n")
            json.dump(obj(i, side == "b" and i % 100 == 0), f)
            f.write("\n")
