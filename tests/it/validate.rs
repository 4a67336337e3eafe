//! The catalogue of bad profiles: one defect each, and for each the rule that names it, the exit
//! code and the position (file and line) the finding points at.

use serde_json::Value;

struct Case {
    name: &'static str,
    profile: &'static str,
    rule: &'static str,
    severity: &'static str,
    /// Line of the profile the finding must point at (in this file, not a built-in).
    line: usize,
    /// Expected exit code of `amctl validate`.
    exit: i32,
}

const CASES: &[Case] = &[
    Case {
        name: "postgres-backup-no-target",
        profile: "extends = \"demo\"\n[postgres.backup]\nretention_days = 7\n",
        rule: "postgres.backup.target",
        severity: "error",
        line: 2,
        exit: 1,
    },
    Case {
        name: "postgres-backup-two-targets",
        profile: "extends = \"prod\"\n[postgres.backup]\nretention_days = 7\nvolume = { size = \"2Ti\" }\ns3 = { url = \"s3://b\", credentials_secret = \"s\" }\n",
        rule: "postgres.backup.target",
        severity: "error",
        line: 5,
        exit: 1,
    },
    Case {
        name: "postgres-backup-bad-schedule",
        profile: "extends = \"prod\"\n[postgres.backup]\nschedule = \"0 25 * * *\"\nretention_days = 7\nvolume = { size = \"2Ti\" }\n",
        rule: "postgres.backup.schedule",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "postgres-backup-zero-retention",
        profile: "extends = \"prod\"\n[postgres.backup]\nretention_days = 0\nvolume = { size = \"2Ti\" }\n",
        rule: "postgres.backup.retention",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "postgres-backup-small-volume",
        profile: "extends = \"prod\"\n[postgres.backup]\nretention_days = 7\nvolume = { size = \"100Gi\" }\n",
        rule: "postgres.backup.size",
        severity: "warning",
        line: 4,
        exit: 0,
    },
    Case {
        name: "postgres-backup-s3-url",
        profile: "extends = \"demo\"\n[postgres.backup]\nretention_days = 7\ns3 = { url = \"https://bucket\", credentials_secret = \"s\" }\n",
        rule: "postgres.backup.s3-url",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "postgres-backup-ephemeral",
        profile: "extends = \"demo\"\n[postgres.backup]\nretention_days = 7\nvolume = { size = \"1Gi\" }\n",
        rule: "postgres.backup.ephemeral",
        severity: "warning",
        line: 2,
        exit: 0,
    },
    Case {
        name: "postgres-no-replicas",
        profile: "extends = \"prod\"\n[postgres]\nreplicas = 0\n",
        rule: "postgres.replicas",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "postgres-standby-of-ephemeral",
        profile: "extends = \"prod\"\n[postgres]\nreplicas = 2\nstorage = { size = \"1Ti\", mode = \"ephemeral\" }\n",
        rule: "postgres.replicas.ephemeral",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "tls-issuer-without-tls",
        profile: "extends = \"demo\"\n[security]\ntls_issuer = { name = \"ca\" }\n",
        rule: "security.tls-issuer.unused",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "aerospike-ce-tls",
        profile: "extends = \"demo\"\n[security]\ntls = true\n",
        rule: "aerospike.tls.community",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "flink-tm-800m",
        profile: "extends = \"demo\"\n[flink.taskmanager]\nprocess_size = \"800m\"\n",
        rule: "flink.taskmanager.memory",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "flink-jm-too-small",
        profile: "extends = \"demo\"\n[flink.jobmanager]\nprocess_size = \"512m\"\n",
        rule: "flink.jobmanager.memory",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "flink-limit-below-process",
        profile: "extends = \"demo\"\n[flink.taskmanager.resources.limits]\nmemory = \"900Mi\"\ncpu = \"1\"\n",
        rule: "flink.container-limit",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "flink-parallelism-slots",
        profile: "extends = \"demo\"\n[flink]\nparallelism_default = 8\n",
        rule: "flink.parallelism.slots",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "flink-parallelism-partitions",
        profile: "extends = \"demo\"\n[flink]\nparallelism_default = 2\n[[kafka.topics]]\nname = \"events\"\npartitions = 1\n",
        rule: "flink.parallelism.partitions",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "flink-two-jm-no-ha",
        profile: "extends = \"demo\"\n[cluster]\nnode_memory = \"16Gi\"\n[flink.jobmanager]\nreplicas = 2\n",
        rule: "flink.ha.required",
        severity: "error",
        line: 5,
        exit: 1,
    },
    Case {
        name: "flink-ha-local-storage",
        profile: "extends = \"demo\"\n[flink]\nhigh_availability = { storage_dir = \"file:///tmp/ha\" }\n",
        rule: "flink.ha.storage",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "flink-s3-no-credentials",
        profile: "extends = \"demo\"\n[flink]\ncheckpoint_dir = \"s3://bucket/cp\"\n",
        rule: "flink.s3.credentials",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "flink-task-heap-starved",
        profile: "extends = \"demo\"\n[flink.taskmanager]\nmanaged_fraction = 0.4\n",
        rule: "flink.taskmanager.task-heap",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "flink-unknown-source-topic",
        profile: "extends = \"demo\"\n[flink]\nsource_topic = \"clicks\"\n",
        rule: "flink.source-topic",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "api-heap-fills-limit",
        profile: "extends = \"demo\"\n[api]\njava_opts = \"-Xmx512m -Xms300m\"\n",
        rule: "jvm.memory",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "api-xms-above-request",
        profile: "extends = \"demo\"\n[api]\nresources = { requests = { memory = \"256Mi\", cpu = \"200m\" }, limits = { memory = \"512Mi\", cpu = \"1\" } }\njava_opts = \"-Xmx300m -Xms300m -XX:MaxMetaspaceSize=96m -XX:ReservedCodeCacheSize=32m -XX:MaxDirectMemorySize=16m -Xss512k\"\n",
        rule: "jvm.xms-above-request",
        severity: "warning",
        line: 4,
        exit: 0,
    },
    Case {
        name: "api-java-opts-syntax",
        profile: "extends = \"demo\"\n[api]\njava_opts = \"-Xmxbanana\"\n",
        rule: "api.java-opts.syntax",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "api-per-service-heap",
        profile: "extends = \"demo\"\n[[api.services]]\nname = \"profile-api\"\njava_opts = \"-Xmx1g\"\n",
        rule: "jvm.memory",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "api-autoscaling-range",
        profile: "extends = \"demo\"\n[api]\nautoscaling = { min_replicas = 5, max_replicas = 2, target_cpu_percent = 70 }\n",
        rule: "api.autoscaling.range",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "api-zero-replicas",
        profile: "extends = \"demo\"\n[api]\nreplicas = 0\n",
        rule: "api.replicas",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "kafka-rf-above-brokers",
        profile: "extends = \"demo\"\n[kafka]\ndefault_replication_factor = 3\n",
        rule: "kafka.replication-factor",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-internal-topics-default",
        profile: "extends = \"demo\"\n[kafka]\noffsets_topic_replication_factor = 3\n",
        rule: "kafka.replication-factor",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-min-isr-above-rf",
        profile: "extends = \"prod\"\n[kafka]\nmin_insync_replicas = 4\n",
        rule: "kafka.min-isr",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-min-isr-equals-rf",
        profile: "extends = \"prod\"\n[kafka]\nmin_insync_replicas = 3\n",
        rule: "kafka.min-isr",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "kafka-even-controllers",
        profile: "extends = \"prod\"\n[kafka.controllers]\nreplicas = 4\n",
        rule: "kafka.controllers.odd",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "kafka-combined-brokers",
        profile: "extends = \"demo\"\n[cluster]\nnodes = 3\n[kafka]\nbrokers = 3\n",
        rule: "kafka.controllers.combined",
        severity: "warning",
        line: 5,
        exit: 1,
    },
    Case {
        name: "kafka-no-controllers",
        profile: "extends = \"prod\"\n[kafka.controllers]\nreplicas = 0\n",
        rule: "kafka.controllers.count",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-cluster-id",
        profile: "extends = \"demo\"\n[kafka]\ncluster_id = \"not-a-uuid\"\n",
        rule: "kafka.cluster-id",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-heap-syntax",
        profile: "extends = \"demo\"\n[kafka]\nheap_opts = \"-Xmx8gigs\"\n",
        rule: "kafka.jvm.syntax",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-heap-over-limit",
        profile: "extends = \"demo\"\n[kafka]\nheap_opts = \"-Xmx1100m -Xms1100m\"\n",
        rule: "jvm.memory",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-heap-no-page-cache",
        profile: "extends = \"prod\"\n[kafka]\nheap_opts = \"-Xmx10g -Xms10g\"\n",
        rule: "kafka.heap-page-cache",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "kafka-zero-partitions",
        profile: "extends = \"demo\"\n[kafka]\nnum_partitions = 0\n",
        rule: "kafka.partitions",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "aerospike-memory-size",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"audience\"\nmemory_size = \"512M\"\n",
        rule: "aerospike.config.obsolete",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-data-in-memory",
        profile: "extends = \"prod\"\n[[aerospike.namespaces]]\nname = \"audience\"\ndata_in_memory = true\n",
        rule: "aerospike.config.obsolete",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-three-namespaces-ce",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"b\"\nstorage_engine = \"memory\"\ndata_size = \"256M\"\nreplication_factor = 1\n[[aerospike.namespaces]]\nname = \"c\"\nstorage_engine = \"memory\"\ndata_size = \"256M\"\nreplication_factor = 1\n",
        rule: "aerospike.namespaces.edition",
        severity: "error",
        line: 2,
        exit: 1,
    },
    Case {
        name: "aerospike-data-size-minimum",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"audience\"\ndata_size = \"128M\"\n",
        rule: "aerospike.data-size.minimum",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-400m-on-8-1",
        profile: "extends = \"demo\"\n[aerospike]\nimage = \"aerospike/aerospike-server:8.1.0.0\"\n[[aerospike.namespaces]]\nname = \"audience\"\ndata_size = \"400M\"\n",
        rule: "aerospike.data-size.minimum",
        severity: "error",
        line: 6,
        exit: 1,
    },
    Case {
        name: "aerospike-no-data-size",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"extra\"\nstorage_engine = \"memory\"\nreplication_factor = 1\n",
        rule: "aerospike.storage.size",
        severity: "error",
        line: 2,
        exit: 1,
    },
    Case {
        name: "aerospike-rf-above-nodes",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"audience\"\nreplication_factor = 2\n",
        rule: "aerospike.replication-factor",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-feature-key-on-ce",
        profile: "extends = \"demo\"\n[aerospike]\nfeature_key_secret = \"features\"\n",
        rule: "aerospike.enterprise-only",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "aerospike-enterprise-no-key",
        profile: "extends = \"demo\"\n[aerospike]\nimage = \"aerospike/aerospike-server-enterprise:8.0.0.10\"\n",
        rule: "aerospike.feature-key",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "aerospike-no-namespaces",
        profile: "extends = \"demo\"\n[aerospike]\nnamespaces = []\n",
        rule: "aerospike.namespaces.none",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "aerospike-zero-nodes",
        profile: "extends = \"demo\"\n[aerospike]\nreplicas = 0\n",
        rule: "aerospike.replicas",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-zero-brokers",
        profile: "extends = \"demo\"\n[kafka]\nbrokers = 0\n",
        rule: "kafka.brokers",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "api-no-services",
        profile: "extends = \"demo\"\n[api]\nservices = []\n",
        rule: "api.services.none",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "api-kafka-without-topics",
        profile: "extends = \"prod\"\n[[api.services]]\nname = \"audit-api\"\nuses = [\"kafka\"]\n",
        rule: "api.topics",
        severity: "info",
        line: 2,
        exit: 0,
    },
    Case {
        name: "cpu-limits-overcommit",
        profile: "extends = \"demo\"\n[cluster]\nnode_cpu = \"4\"\n",
        rule: "budget.cpu.limits",
        severity: "info",
        line: 3,
        exit: 0,
    },
    Case {
        name: "flink-local-checkpoints",
        profile: "extends = \"prod\"\n[flink]\ncheckpoint_dir = \"file:///tmp/checkpoints\"\n",
        rule: "flink.checkpoint.shared",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "flink-checkpoint-claim-one-node-only",
        profile: "extends = \"demo\"\n[cluster]\nnodes = 3\n",
        rule: "flink.checkpoint.shared",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "aerospike-work-directory-read-only",
        profile: "extends = \"demo\"\n[aerospike]\nwork_directory = \"/etc/aerospike-config/work\"\n",
        rule: "contract.writable",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "aerospike-proto-fd-max-above-the-hard-limit",
        profile: "extends = \"demo\"\n[aerospike]\nproto_fd_max = 600000\n",
        rule: "contract.open-files",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "runtime-open-files-limit-below-proto-fd-max",
        profile: "extends = \"prod\"\n[cluster.open_files]\nhard = 8192\n",
        rule: "contract.open-files",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-log-dirs-at-the-claim-root",
        profile: "extends = \"prod\"\n[kafka.settings]\n\"log.dirs\" = \"/var/lib/kafka/data\"\n",
        rule: "kafka.log-dirs.root",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "kafka-log-dirs-off-the-volume",
        profile: "extends = \"demo\"\n[kafka.settings]\n\"log.dirs\" = \"/tmp/kafka-logs\"\n",
        rule: "kafka.log-dirs.volume",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "flink-rocksdb-volume-too-small-for-its-files",
        profile: "extends = \"demo\"\n[flink.settings]\n\"state.backend.rocksdb.localdir\" = \"/opt/flink/log/rocksdb\"\n",
        rule: "contract.volume-size",
        severity: "error",
        line: 3,
        exit: 1,
    },
    // Found by the fuzzer: a zero stage size divided by zero in the memory budget.
    Case {
        name: "aerospike-index-stage-zero",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"audience\"\nindex_stage_size = \"0\"\n",
        rule: "aerospike.index-stage-size",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-index-stage",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"audience\"\nindex_stage_size = \"100M\"\n",
        rule: "aerospike.index-stage-size",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-ttl-without-nsup",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"audience\"\ndefault_ttl = 3600\n",
        rule: "aerospike.ttl.nsup",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-device-without-volume",
        profile: "extends = \"demo\"\n[[aerospike.namespaces]]\nname = \"audience\"\nstorage_engine = \"device\"\nfilesize = \"1G\"\n",
        rule: "aerospike.storage.volume",
        severity: "error",
        line: 4,
        exit: 1,
    },
    Case {
        name: "aerospike-memory-over-limit",
        profile: "extends = \"demo\"\n[aerospike.resources.limits]\nmemory = \"768Mi\"\ncpu = \"1\"\n",
        rule: "aerospike.memory",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "aerospike-old-server",
        profile: "extends = \"demo\"\n[aerospike]\nimage = \"aerospike/aerospike-server:6.4.0.2\"\n",
        rule: "aerospike.version",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "postgres-worst-case-memory",
        profile: "extends = \"demo\"\n[postgres]\nmax_connections = 40\n",
        rule: "postgres.memory",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "postgres-buffers-share",
        profile: "extends = \"demo\"\n[postgres]\nresources = { requests = { memory = \"768Mi\", cpu = \"250m\" }, limits = { memory = \"768Mi\", cpu = \"1\" } }\nshared_buffers = \"384MB\"\n",
        rule: "postgres.shared-buffers.share",
        severity: "warning",
        line: 4,
        exit: 0,
    },
    Case {
        name: "postgres-buffers-minimum",
        profile: "extends = \"demo\"\n[postgres]\nshared_buffers = \"64kB\"\n",
        rule: "postgres.shared-buffers.minimum",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "postgres-reserved-connections",
        profile: "extends = \"demo\"\n[postgres]\nmax_connections = 3\n",
        rule: "postgres.connections.reserved",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "postgres-pools",
        profile: "extends = \"demo\"\n[postgres]\nmax_connections = 10\n",
        rule: "postgres.connections.pools",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "topology-anti-affinity",
        profile: "extends = \"prod\"\n[kafka]\nbrokers = 11\n",
        rule: "topology.anti-affinity",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "topology-ephemeral-replicated",
        profile: "extends = \"prod\"\n[kafka]\nstorage = { size = \"100Gi\", mode = \"ephemeral\" }\n",
        rule: "topology.ephemeral-replicated",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "budget-requests",
        profile: "extends = \"demo\"\n[cluster]\nnode_memory = \"6Gi\"\n",
        rule: "budget.memory.requests",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "budget-limits-overcommit",
        profile: "extends = \"demo\"\n[cluster]\nnode_memory = \"8000Mi\"\n",
        rule: "budget.memory.limits",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "budget-cpu",
        profile: "extends = \"demo\"\n[cluster]\nnode_cpu = \"2\"\n",
        rule: "budget.cpu.requests",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "budget-node-too-small",
        profile: "extends = \"demo\"\n[cluster]\nnode_memory = \"1Gi\"\n",
        rule: "budget.node",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "placement-pod-too-big",
        profile: "extends = \"prod\"\n[aerospike]\nresources = { requests = { memory = \"60Gi\", cpu = \"4\" }, limits = { memory = \"60Gi\", cpu = \"8\" } }\n",
        rule: "placement.unschedulable",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "placement-n-minus-1",
        profile: "extends = \"prod\"\n[cluster]\nnodes = 4\nnode_memory = \"112Gi\"\nnode_cpu = \"32\"\nzones = [\"zone-a\"]\n",
        rule: "placement.n-1",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    // Three nodes over three zones: a pod whose zonal volume is on the drained node has no
    // other node in its zone, whatever the room.
    Case {
        name: "placement-n-minus-1-pinned",
        profile: "extends = \"prod\"\n[cluster]\nnodes = 3\nnode_memory = \"256Gi\"\nnode_cpu = \"64\"\n",
        rule: "placement.n-1-pinned",
        severity: "warning",
        line: 3,
        exit: 0,
    },
    Case {
        name: "tmpfs-fills-limit",
        profile: "extends = \"demo\"\n[storage]\nephemeral_medium = \"memory\"\n",
        rule: "pod.memory-emptydir",
        severity: "error",
        line: 3,
        exit: 1,
    },
    Case {
        name: "no-nodes",
        profile: "extends = \"demo\"\n[cluster]\nnodes = 0\n",
        rule: "cluster.nodes",
        severity: "error",
        line: 3,
        exit: 1,
    },
];

fn run(case: &Case) -> (i32, Value, String) {
    let dir = std::env::temp_dir().join(format!("amctl-catalogue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.toml", case.name));
    std::fs::write(&path, case.profile).unwrap();
    let out = crate::common::amctl()
        .args(["validate", path.to_str().unwrap(), "-o", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_bad_profile_is_caught_by_its_rule_at_its_line() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for case in CASES {
        let (code, json, stderr) = run(case);
        let findings = json["profiles"][0]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let hit = findings.iter().find(|f| {
            f["rule"] == case.rule
                && f["severity"] == case.severity
                && f["file"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(&format!("{}.toml", case.name)))
                && f["line"].as_u64() == Some(case.line as u64)
        });
        if code != case.exit || hit.is_none() {
            let got: Vec<String> = findings
                .iter()
                .map(|f| {
                    format!(
                        "{}:{} {} {}:{}",
                        f["severity"], f["rule"], f["key"], f["file"], f["line"]
                    )
                })
                .collect();
            failures.push(format!(
                "{}: exit {code} (want {}), want {} {} at line {}; got {got:#?} {stderr}",
                case.name, case.exit, case.severity, case.rule, case.line
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_rule_in_the_catalogue_has_a_fix() {
    for case in CASES.iter().take(5) {
        let (_, json, _) = run(case);
        for f in json["profiles"][0]["findings"].as_array().unwrap() {
            assert!(!f["fix"].as_str().unwrap().is_empty(), "{f}");
            assert!(!f["message"].as_str().unwrap().is_empty(), "{f}");
        }
    }
}

fn validate(args: &[&str]) -> (i32, String, String) {
    let out = crate::common::amctl().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shipped_profiles_have_no_errors() {
    for p in [
        "demo",
        "prod",
        "examples/laptop-16gb.toml",
        "examples/staging.toml",
        "examples/prod-aws.toml",
    ] {
        let (code, _, stderr) = validate(&["validate", p]);
        assert_eq!(code, 0, "{p}: {stderr}");
        assert!(!stderr.contains("error["), "{p}: {stderr}");
    }
}

/// The platform spec's literal values that cannot work are each caught by name.
#[test]
fn the_spec_literal_mistakes_are_named() {
    let (code, _, stderr) = validate(&["validate", "examples/spec-literal-demo.toml"]);
    assert_eq!(code, 1);
    for rule in [
        "error[flink.taskmanager.memory] flink.taskmanager.process_size",
        "error[aerospike.config.obsolete] aerospike.namespaces[0].memory_size",
        "error[aerospike.data-size.minimum] aerospike.namespaces[0].memory_size",
        "error[aerospike.namespaces.edition] aerospike.namespaces",
    ] {
        assert!(stderr.contains(rule), "missing {rule}:\n{stderr}");
    }
    let (code, _, stderr) = validate(&["validate", "examples/spec-literal-prod.toml"]);
    assert_eq!(code, 1);
    for rule in [
        "error[jvm.memory] api.java_opts",
        "error[aerospike.config.obsolete] aerospike.namespaces[0].memory_size",
        "error[aerospike.config.obsolete] aerospike.namespaces[0].data_in_memory",
        "error[aerospike.namespaces.edition] aerospike.namespaces",
    ] {
        assert!(stderr.contains(rule), "missing {rule}:\n{stderr}");
    }
    assert!(stderr.contains("the heap alone fills it"), "{stderr}");
}

#[test]
fn strict_turns_warnings_into_failure() {
    let (code, _, _) = validate(&["validate", "demo"]);
    assert_eq!(code, 0);
    let (code, _, _) = validate(&["validate", "demo", "--strict"]);
    assert_eq!(code, 1, "demo has a warning (Kafka heap vs page cache)");
}

#[test]
fn all_validates_directories_as_json() {
    let (code, stdout, _) =
        validate(&["validate", "--all", "profiles/", "examples/", "-o", "json"]);
    assert_eq!(code, 1, "the spec-literal examples are invalid");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["schema"], "amctl.validate/v1");
    let profiles = v["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 7);
    let valid: Vec<bool> = profiles
        .iter()
        .map(|p| p["valid"].as_bool().unwrap())
        .collect();
    assert_eq!(valid.iter().filter(|v| **v).count(), 5);
}

#[test]
fn all_reports_input_errors_with_exit_2() {
    let dir = std::env::temp_dir().join(format!("amctl-all-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.toml"), "[kafka\n").unwrap();
    let (code, stdout, _) = validate(&[
        "validate",
        "--all",
        "demo",
        dir.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        v["profiles"][1]["input_error"]
            .as_str()
            .unwrap()
            .contains("malformed TOML")
    );
}

#[test]
fn github_annotations_point_at_file_and_line() {
    let (code, stdout, _) = validate(&[
        "validate",
        "examples/spec-literal-prod.toml",
        "-o",
        "github",
    ]);
    assert_eq!(code, 1);
    let line = stdout
        .lines()
        .find(|l| l.contains("jvm.memory"))
        .expect("a jvm.memory annotation");
    assert!(
        line.starts_with("::error file=examples/spec-literal-prod.toml,line="),
        "{line}"
    );
    assert!(
        line.contains("title=jvm.memory (examples/spec-literal-prod.toml)"),
        "{line}"
    );
}

#[test]
fn render_refuses_invalid_profiles_unless_told() {
    let (code, stdout, stderr) = validate(&["render", "examples/spec-literal-demo.toml"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains("nothing was rendered"), "{stderr}");
    let (code, stdout, stderr) = validate(&[
        "render",
        "examples/spec-literal-demo.toml",
        "--skip-validation",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("kind: StatefulSet"));
    assert!(stderr.contains("--skip-validation"), "{stderr}");
}

#[test]
fn budget_demo_snapshot() {
    let (code, stdout, _) = validate(&["budget", "demo"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("budget_demo", stdout);
}

#[test]
fn budget_json_has_breakdowns() {
    let (code, stdout, _) = validate(&["budget", "prod", "-o", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["schema"], "amctl.budget/v1");
    let containers = v["containers"].as_array().unwrap();
    let find = |c: &str| containers.iter().find(|x| x["container"] == c).unwrap();
    let tm = &find("taskmanager")["breakdown"];
    assert_eq!(tm["jvm_heap"], 3_597_035_049u64, "Flink's own -Xmx for 8g");
    for k in [
        "framework_heap",
        "task_heap",
        "managed",
        "network",
        "framework_off_heap",
        "task_off_heap",
        "metaspace",
        "overhead",
    ] {
        assert!(tm[k].is_u64(), "{k}");
    }
    let api = &find("segment-api")["breakdown"];
    for k in [
        "heap",
        "metaspace",
        "code_cache",
        "thread_stacks",
        "direct",
        "native",
    ] {
        assert!(api[k].is_u64(), "{k}");
    }
    assert_eq!(api["heap"], 3u64 << 30);
    assert!(find("postgres")["breakdown"]["shared_buffers"].is_u64());
    assert!(find("aerospike")["breakdown"]["primary_index"].is_u64());
    assert_eq!(find("postgres")["memory_limit"], 16u64 << 30);
}

#[test]
fn budget_svg_is_written() {
    let path = std::env::temp_dir().join(format!("amctl-budget-{}.svg", std::process::id()));
    let (code, _, _) = validate(&["budget", "prod", "--svg", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(
        svg.matches("node-").count(),
        18,
        "a requests and a limits bar per node"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
}

/// A PDB that allows no eviction blocks every drain. amctl never renders one (single replicas
/// get none), so the rule is exercised on a Bundle with one added by hand.
#[test]
fn a_pdb_on_a_single_replica_is_an_error() {
    use amctl::kube::Object;
    use amctl::profile::{LoadOptions, load};
    use amctl::render::{RenderOptions, render};
    use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    let loaded = load("demo", &LoadOptions::default()).unwrap();
    let mut bundle = render(&loaded.profile, &RenderOptions::default()).unwrap();
    let clean = amctl::validate::validate(&loaded, &bundle);
    assert!(!clean.iter().any(|f| f.rule == "topology.pdb-blocks-drain"));
    bundle.push(
        "postgres",
        Object::PodDisruptionBudget(PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("postgres".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                min_available: Some(IntOrString::Int(1)),
                ..Default::default()
            }),
            ..Default::default()
        }),
    );
    let findings = amctl::validate::validate(&loaded, &bundle);
    let f = findings
        .iter()
        .find(|f| f.rule == "topology.pdb-blocks-drain")
        .expect("the rule fires");
    assert_eq!(f.severity, amctl::validate::Severity::Error);
}

#[test]
fn prod_pdbs_only_for_multi_replica_workloads() {
    let (_, stdout, _) = validate(&["render", "prod"]);
    let pdbs: Vec<&str> = stdout
        .split("---\n")
        .filter(|d| d.contains("kind: PodDisruptionBudget"))
        .collect();
    assert!(!pdbs.is_empty());
    assert!(
        !pdbs.iter().any(|d| d.contains("\n  name: postgres\n")),
        "the primary alone has one replica"
    );
    // Primary and standby share one budget: never both down for maintenance.
    let cluster = pdbs
        .iter()
        .find(|d| d.contains("\n  name: postgres-cluster\n"))
        .expect("a budget over primary and standby");
    assert!(cluster.contains("- postgres\n") && cluster.contains("- postgres-replica\n"));
    assert!(pdbs.iter().any(|d| d.contains("name: kafka\n")));
    assert!(stdout.contains("requiredDuringSchedulingIgnoredDuringExecution"));
}

/// TLS without an issuer: the note names exactly the Secrets this profile's render mounts.
#[test]
fn tls_without_issuer_names_the_secrets_to_create() {
    let message = |args: &[&str]| -> String {
        let (_, stdout, _) = validate(args);
        let json: Value = serde_json::from_str(&stdout).unwrap();
        json["profiles"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "security.tls.secrets")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let demo = message(&[
        "validate",
        "demo",
        "--set",
        "security.tls=true",
        "-o",
        "json",
    ]);
    assert!(
        demo.contains("postgres-tls") && demo.contains("kafka-tls"),
        "{demo}"
    );
    assert!(
        demo.contains("flink-tls (keystore.p12 and truststore.p12"),
        "{demo}"
    );
    assert!(
        !demo.contains("api-ingress-tls"),
        "demo has no Ingress: {demo}"
    );
    // Prod without its issuer (a key `extends` cannot remove): the Ingress needs one too.
    let dir = std::env::temp_dir().join(format!("amctl-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prod-own-secrets.toml");
    let text: String = include_str!("../../profiles/prod.toml")
        .lines()
        .filter(|l| !l.starts_with("tls_issuer"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    let prod = message(&["validate", path.to_str().unwrap(), "-o", "json"]);
    assert!(
        prod.contains("api-ingress-tls (tls.crt and tls.key)"),
        "{prod}"
    );
    let issued = message(&["validate", "prod", "-o", "json"]);
    assert!(
        issued.is_empty(),
        "an issuer needs no hand-made Secrets: {issued}"
    );
}
