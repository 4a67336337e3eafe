#!/usr/bin/env python3
"""Generates a large profile for scale benchmarks: N API services, M Aerospike namespaces
(Enterprise edition, which allows up to 32, beside prod's two), K Kafka topics. The cluster grows with N so the
profile validates and renders.

Usage: python3 benches/gen_profile.py N M K > big.toml
"""
import sys

n, m, k = (int(a) for a in sys.argv[1:4])
nodes = 10 + n // 15
print(f'''extends = "prod"
description = "generated: {n} services, {m} namespaces, {k} topics"

[cluster]
nodes = {nodes}

[aerospike]
image = "aerospike/aerospike-server-enterprise:8.0.0.10"
feature_key_secret = "aerospike-features"
resources = {{ requests = {{ memory = "48Gi", cpu = "4" }}, limits = {{ memory = "48Gi", cpu = "8" }} }}

[api]
replicas = 2
autoscaling = {{ min_replicas = 2, max_replicas = 3, target_cpu_percent = 70 }}
resources = {{ requests = {{ memory = "1Gi", cpu = "250m" }}, limits = {{ memory = "2Gi", cpu = "1" }} }}
java_opts = "-Xmx1g -Xms1g -XX:MaxMetaspaceSize=192m -XX:ReservedCodeCacheSize=128m -XX:MaxDirectMemorySize=32m"
tomcat_max_threads = 100
''')
for i in range(m):
    print(f'[[aerospike.namespaces]]\nname = "ns{i}"\nstorage_engine = "memory"\ndata_size = "512M"\nreplication_factor = 2\nindex_stage_size = "128M"\nexpected_records = 1000\n')
for i in range(k):
    print(f'[[kafka.topics]]\nname = "topic-{i}"\npartitions = 6\n')
for i in range(n):
    print(f'[[api.services]]\nname = "svc-{i}"\nuses = ["kafka"]\ntopics = ["topic-{i % max(k, 1)}"]\n')
