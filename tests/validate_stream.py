#!/usr/bin/env python3
"""Validates a rendered YAML stream against the real schemas.

Built-in kinds: the official Kubernetes OpenAPI schemas in strict mode (kubernetes-validate).
Custom resources (Certificate, ServiceMonitor, PodMonitor, PrometheusRule): their published CRD
schemas (tests/crd/validate.mjs, kubernetes-models). Prints what failed; exits 1 on any failure.

Usage: validate_stream.py VENV_BIN K8S_VERSION FILE
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

CUSTOM = {"cert-manager.io/v1", "monitoring.coreos.com/v1"}
here = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    venv_bin, version, path = sys.argv[1:4]
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    core = [d for d in docs if d.get("apiVersion") not in CUSTOM]
    custom = [d for d in docs if d.get("apiVersion") in CUSTOM]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        if core:
            core_file = os.path.join(tmp, "core.yaml")
            with open(core_file, "w") as f:
                yaml.safe_dump_all(core, f)
            r = subprocess.run(
                [os.path.join(venv_bin, "kubernetes-validate"), "--strict", "--quiet", "-k", version, core_file],
                capture_output=True, text=True)
            log = r.stdout + r.stderr
            if r.returncode != 0 or "ERROR" in log or "WARN" in log:
                print(log.strip())
                failed = True
        if custom:
            custom_file = os.path.join(tmp, "custom.json")
            with open(custom_file, "w") as f:
                json.dump(custom, f)
            r = subprocess.run(["node", os.path.join(here, "crd", "validate.mjs"), custom_file],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("\n".join(l for l in (r.stdout + r.stderr).splitlines() if not l.startswith("ok ")))
                failed = True
    print(f"{len(core)} core objects, {len(custom)} custom resources")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
