#!/usr/bin/env python3
"""Property: any generated profile that validates renders objects that pass the Kubernetes
schemas in strict mode. Profiles are demo/prod with random overrides (fixed seed, N cases).

Usage: property_schema.py AMCTL VENV_BIN K8S_VERSION [N]
"""
import os
import random
import subprocess
import sys
import tempfile

amctl, venv_bin, version = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 30
rng = random.Random(20261127)
choices = [
    lambda: f"kafka.brokers={rng.randint(1, 7)}",
    lambda: f"api.replicas={rng.randint(0, 6)}",
    lambda: f"postgres.max_connections={rng.randint(5, 400)}",
    lambda: f"postgres.shared_buffers={rng.choice(['64MB', '128MB', '1GB', '4GB'])}",
    lambda: f"flink.taskmanager.replicas={rng.randint(1, 8)}",
    lambda: f"flink.parallelism_default={rng.randint(1, 64)}",
    lambda: f"storage.mode={rng.choice(['ephemeral', 'persistent'])}",
    lambda: f"api.tomcat_max_threads={rng.randint(1, 300)}",
    lambda: f"kafka.num_partitions={rng.randint(1, 50)}",
    lambda: f"aerospike.replicas={rng.randint(1, 5)}",
    lambda: f"cluster.nodes={rng.randint(1, 12)}",
    lambda: f"security.pod_security={rng.choice(['baseline', 'restricted'])}",
    lambda: f"monitoring.level={rng.choice(['none', 'essential', 'full'])}",
    lambda: f"security.tls={rng.choice(['true', 'false'])}",
    lambda: f"postgres.replicas={rng.randint(1, 3)}",
    lambda: f"api.service_type={rng.choice(['ClusterIP', 'NodePort'])}",
]
valid = 0
with tempfile.TemporaryDirectory() as tmp:
    for i in range(n):
        base = rng.choice(["demo", "prod"])
        sets = [c() for c in rng.sample(choices, rng.randint(1, 6))]
        args = [amctl, "render", base] + [x for s in sets for x in ("--set", s)]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode == 1:
            continue  # invalid profiles are refused: nothing to check
        if r.returncode != 0:
            sys.exit(f"render {base} {sets} failed with {r.returncode}: {r.stderr}")
        valid += 1
        with open(os.path.join(tmp, f"case{i}.yaml"), "w") as f:
            f.write(r.stdout)
    files = sorted(os.listdir(tmp))
    # Core kinds against the Kubernetes schemas, custom resources against their CRD schemas.
    here = os.path.dirname(os.path.abspath(__file__))
    for f in files:
        r = subprocess.run([sys.executable, os.path.join(here, "validate_stream.py"), venv_bin, version,
                            os.path.join(tmp, f)], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout[-3000:], r.stderr[-3000:])
            sys.exit(f"FAIL: rendered objects of a valid generated profile fail the schemas")
print(f"{valid} of {n} generated profiles validated; every object they render passes the strict schemas")
