#!/usr/bin/env python3
"""kubectl patch --local round trip: every in-place step of `amctl migrate FROM TO`, applied to
FROM's rendered object with kubectl, must give TO's object (compared by `amctl diff`).

Usage: patch_roundtrip.py AMCTL FROM TO
Prints one line per pair and exits non-zero on any mismatch.
"""
import json
import os
import subprocess
import sys
import tempfile

import yaml

amctl, src, dst = sys.argv[1:4]
# Negative control: skip the first patch, which must make the comparison fail.
sabotage = os.environ.get("AMCTL_ROUNDTRIP_SABOTAGE") == "1"


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def objects(profile, out):
    r = run(amctl, "render", profile, "--skip-validation", "--out-dir", out)
    if r.returncode != 0:
        sys.exit(f"render {profile}: {r.stderr}")
    found = {}
    for name in sorted(os.listdir(out)):
        if name == "kustomization.yaml":
            continue
        path = os.path.join(out, name)
        doc = yaml.safe_load(open(path))
        found[(doc["kind"], doc["metadata"]["name"])] = path
    return found


with tempfile.TemporaryDirectory() as tmp:
    before = objects(src, os.path.join(tmp, "from"))
    after = objects(dst, os.path.join(tmp, "to"))
    plan = json.loads(run(amctl, "migrate", src, dst, "-o", "json", "--allow-data-loss").stdout)
    patched_dir = os.path.join(tmp, "patched")
    want_dir = os.path.join(tmp, "want")
    os.makedirs(patched_dir)
    os.makedirs(want_dir)
    checked = 0
    for step in plan["steps"]:
        kind, name = step["object"]["kind"], step["object"]["name"]
        key = (kind, name)
        if step["action"] not in ("apply", "scale") or key not in before or key not in after:
            continue
        if sabotage and checked == 0 and step["action"] == "apply":
            result = json.dumps(yaml.safe_load(open(before[key])))
        elif step["action"] == "scale":
            obj = yaml.safe_load(open(before[key]))
            obj["spec"]["replicas"] = step["replicas"]
            result = json.dumps(obj)
        else:
            merge = [c for c in step["commands"] if "--type merge" in c]
            if merge:
                body = merge[0].split("-p ", 1)[1].strip().strip("'").replace("'\\''", "'")
                kind_flag = "merge"
            else:
                body = json.dumps(step["patch"])
                # Custom resources take JSON merge patches (no strategic merge for CRDs).
                custom = kind in ("Certificate", "ServiceMonitor", "PodMonitor", "PrometheusRule")
                kind_flag = "merge" if custom else "strategic"
            r = run("kubectl", "patch", "--local", "-f", before[key], "--type", kind_flag, "-p", body, "-o", "json")
            if r.returncode != 0:
                print(f"FAIL {src}->{dst} {kind}/{name}: kubectl patch: {r.stderr.strip()}")
                sys.exit(1)
            result = r.stdout
        with open(os.path.join(patched_dir, f"{kind}-{name}.json"), "w") as f:
            f.write(result)
        with open(os.path.join(want_dir, f"{kind}-{name}.yaml"), "w") as f:
            f.write(open(after[key]).read())
        checked += 1
    r = run(amctl, "diff", patched_dir, want_dir, "--fields")
    if r.returncode != 0:
        print(f"FAIL {src}->{dst}: patched objects differ from {dst}:\n{r.stdout}{r.stderr}")
        sys.exit(1)
    print(f"{checked} in-place steps of {src} -> {dst} round-trip through kubectl patch --local")
