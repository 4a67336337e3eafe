//! The profile: everything amctl knows about one installation, one table per concern.
//!
//! Every struct denies unknown keys so a typo is an error with a suggestion, never a silently
//! ignored setting. Units are typed ([`Memory`], [`JvmSize`], [`PgSize`], [`AsSize`]) so a value
//! cannot be read in the wrong notation.

pub mod check;
pub(crate) mod de;
pub(crate) mod images;
pub mod load;
pub mod node;

use crate::units::{AsSize, Cpu, Duration, JvmSize, Memory, PgSize};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use images::Version;
pub use load::{LoadOptions, Loaded, load};

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// A built-in profile name or a path (relative to this file) this profile overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    #[serde(default)]
    pub description: String,
    pub cluster: Cluster,
    pub postgres: Postgres,
    pub aerospike: Aerospike,
    pub kafka: Kafka,
    pub flink: Flink,
    pub api: Api,
    pub security: Security,
    pub storage: Storage,
    pub monitoring: Monitoring,
}

// ---------------------------------------------------------------- cluster

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// k3s, as Rancher Desktop runs it.
    K3s,
    /// kind (kubeadm defaults inside a container).
    Kind,
    /// A managed cloud node (EKS/GKE/AKS-style reservations).
    Managed,
}

impl Distribution {
    pub fn as_str(self) -> &'static str {
        match self {
            Distribution::K3s => "k3s",
            Distribution::Kind => "kind",
            Distribution::Managed => "managed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Amounts {
    pub memory: Memory,
    pub cpu: Cpu,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub distribution: Distribution,
    /// Number of worker nodes that run the platform.
    pub nodes: u32,
    /// Capacity of each node, as the machine (or VM) has it.
    pub node_memory: Memory,
    pub node_cpu: Cpu,
    /// The kubelet's `--kube-reserved`; unset means the distribution's default.
    #[serde(default)]
    pub kube_reserved: Option<Amounts>,
    /// The kubelet's `--system-reserved`; unset means the distribution's default.
    #[serde(default)]
    pub system_reserved: Option<Amounts>,
    /// The kubelet's hard eviction threshold `memory.available`; unset means 100Mi.
    #[serde(default)]
    pub eviction_hard_memory: Option<Memory>,
    /// What the distribution itself uses outside pods and outside the reservations (the k3s
    /// server process, containerd); unset means the distribution's default.
    #[serde(default)]
    pub distribution_overhead: Option<Amounts>,
    /// Requests of the distribution's own system pods (coredns, metrics-server, ...).
    #[serde(default)]
    pub system_pods: Option<Amounts>,
    /// Availability zones the nodes are spread over (empty: one zone).
    #[serde(default)]
    pub zones: Vec<String>,
    /// The open-files limit (RLIMIT_NOFILE) the container runtime starts each container with;
    /// unset: containerd 2.x's 1024 soft / 524288 hard (systemd's default).
    #[serde(default)]
    pub open_files: OpenFiles,
    /// Render two PriorityClasses (`<namespace>-data` for the StatefulSets,
    /// `<namespace>-processing` for Flink) so that when a node is lost, a pod whose volume keeps
    /// it in one zone preempts a stateless pod there instead of staying Pending, and the kubelet
    /// evicts stateless pods first under memory pressure. Off: pods keep the cluster's default
    /// priority (cluster-scoped objects need a cluster admin).
    #[serde(default = "yes")]
    pub priority_classes: bool,
}

/// A container's open-files limit: a process may raise its soft limit up to the hard one.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenFiles {
    /// What a process starts with.
    #[serde(default = "open_files_soft")]
    pub soft: u64,
    /// What a process may raise its soft limit to.
    #[serde(default = "open_files_hard")]
    pub hard: u64,
}

fn open_files_soft() -> u64 {
    1024
}

fn open_files_hard() -> u64 {
    524_288
}

impl Default for OpenFiles {
    fn default() -> Self {
        OpenFiles {
            soft: open_files_soft(),
            hard: open_files_hard(),
        }
    }
}

// ---------------------------------------------------------------- shared pieces

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub requests: Amounts,
    pub limits: Amounts,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageMode {
    /// An emptyDir: data is lost when the pod goes.
    Ephemeral,
    /// A PersistentVolumeClaim per pod (volumeClaimTemplates).
    Persistent,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    /// Node disk.
    Disk,
    /// tmpfs: fast, but every byte written is charged to the pod's memory limit.
    Memory,
}

/// Defaults for every component's data volume.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub mode: StorageMode,
    /// StorageClass for persistent volumes (unset: the cluster's default class).
    #[serde(default)]
    pub class: Option<String>,
    /// Backing of ephemeral volumes.
    #[serde(default = "default_medium")]
    pub ephemeral_medium: Medium,
    /// Render the StorageClass named `class` (unset: the class must already exist).
    #[serde(default)]
    pub define_class: Option<StorageClassDef>,
    /// Where a volume of the class can be used from once made: `zone` (cloud disks: a pod
    /// follows its volume within one zone), `node` (local-path: only on the node that has it),
    /// `any` (network storage every node mounts). Unset: from `define_class`'s provisioner when
    /// amctl renders the class, else `node` on k3s and kind (local-path) and `zone` on managed
    /// clusters. The placement check moves pods only where their volumes can follow.
    #[serde(default)]
    pub topology: Option<VolumeTopology>,
}

/// Where a volume can be mounted from, once provisioned.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeTopology {
    /// Any node of the zone it was made in (cloud block storage).
    Zone,
    /// Only the node it was made on (local-path, hostPath, local volumes).
    Node,
    /// Any node (network file systems).
    Any,
}

impl Storage {
    /// The topology of the volumes amctl's claims get (see [`Storage::topology`]).
    pub(crate) fn volume_topology(&self, distribution: Distribution) -> VolumeTopology {
        if let Some(t) = self.topology {
            return t;
        }
        if let Some(d) = &self.define_class {
            return match d.provisioner.as_str() {
                "rancher.io/local-path" | "openebs.io/local" | "kubernetes.io/no-provisioner" => {
                    VolumeTopology::Node
                }
                "nfs.csi.k8s.io"
                | "efs.csi.aws.com"
                | "filestore.csi.storage.gke.io"
                | "file.csi.azure.com" => VolumeTopology::Any,
                _ => VolumeTopology::Zone,
            };
        }
        match distribution {
            Distribution::K3s | Distribution::Kind => VolumeTopology::Node,
            Distribution::Managed => VolumeTopology::Zone,
        }
    }
}

/// A StorageClass amctl renders (`[storage.define_class]`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageClassDef {
    /// CSI provisioner, e.g. `ebs.csi.aws.com`, `pd.csi.storage.gke.io`, `disk.csi.azure.com`.
    pub provisioner: String,
    /// Provisioner parameters, e.g. `{ type = "gp3" }`.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// `Retain` keeps a volume when its claim is deleted (default), `Delete` removes it.
    #[serde(default = "retain")]
    pub reclaim_policy: String,
    /// Lets `amctl migrate` grow claims in place (default true).
    #[serde(default = "yes")]
    pub allow_volume_expansion: bool,
    /// `WaitForFirstConsumer` (default: volumes in the zone the pod lands in) or `Immediate`.
    #[serde(default = "wait_for_first_consumer")]
    pub volume_binding_mode: String,
}

fn retain() -> String {
    "Retain".into()
}

fn wait_for_first_consumer() -> String {
    "WaitForFirstConsumer".into()
}

fn default_medium() -> Medium {
    Medium::Disk
}

/// A component's data volume; unset fields fall back to `[storage]`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentStorage {
    /// emptyDir sizeLimit (ephemeral) or PVC request (persistent).
    pub size: Memory,
    #[serde(default)]
    pub mode: Option<StorageMode>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub ephemeral_medium: Option<Medium>,
}

/// A component's data volume with `[storage]` defaults applied.
#[derive(Clone, Debug)]
pub(crate) struct EffectiveStorage {
    pub size: Memory,
    pub mode: StorageMode,
    pub class: Option<String>,
    pub medium: Medium,
}

impl ComponentStorage {
    pub(crate) fn effective(&self, defaults: &Storage) -> EffectiveStorage {
        EffectiveStorage {
            size: self.size.clone(),
            mode: self.mode.unwrap_or(defaults.mode),
            class: self.class.clone().or_else(|| defaults.class.clone()),
            medium: self.ephemeral_medium.unwrap_or(defaults.ephemeral_medium),
        }
    }
}

/// A free-form config value passed through to a component's config file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(untagged)]
pub enum Setting {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Bool(b) => write!(f, "{b}"),
            Setting::Int(i) => write!(f, "{i}"),
            Setting::Float(x) => write!(f, "{x}"),
            Setting::Str(s) => f.write_str(s),
        }
    }
}

// ---------------------------------------------------------------- postgres

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// Pinned image, e.g. `postgres:17.6`.
    pub image: String,
    /// Container requests and limits (the limit bounds shared_buffers + connections + tmpfs).
    pub resources: Resources,
    /// The data volume (`/var/lib/postgresql/data`).
    pub storage: ComponentStorage,
    /// `shared_buffers`: about 25% of the memory limit; needs a restart to change.
    pub shared_buffers: PgSize,
    /// A planner hint: allocates nothing.
    pub effective_cache_size: PgSize,
    /// `max_connections`: must exceed the reserved connections and hold every API pool; needs a restart.
    pub max_connections: u32,
    /// `work_mem` per sort/hash operation (default 4MB).
    #[serde(default = "pg_work_mem")]
    pub work_mem: PgSize,
    /// `maintenance_work_mem` per autovacuum worker (default 64MB).
    #[serde(default = "pg_maintenance_work_mem")]
    pub maintenance_work_mem: PgSize,
    /// `hash_mem_multiplier` (default 2.0).
    #[serde(default = "pg_hash_mem_multiplier")]
    pub hash_mem_multiplier: f64,
    /// `autovacuum_max_workers` (default 3).
    #[serde(default = "pg_autovacuum_max_workers")]
    pub autovacuum_max_workers: u32,
    /// `superuser_reserved_connections` (default 3).
    #[serde(default = "pg_superuser_reserved")]
    pub superuser_reserved_connections: u32,
    /// Size of the memory-backed /dev/shm (parallel query, shared memory segments).
    #[serde(default = "pg_shm_size")]
    pub shm_size: Memory,
    /// Database created on first start.
    #[serde(default = "pg_database")]
    pub database: String,
    /// Database user created on first start.
    #[serde(default = "pg_user")]
    pub user: String,
    /// Name of the Secret (key `password`) holding the database password; amctl never sees it.
    #[serde(default = "pg_password_secret")]
    pub password_secret: String,
    /// Further postgresql.conf settings, written as given.
    #[serde(default)]
    pub settings: BTreeMap<String, Setting>,
    /// PostgreSQL pods in all: the primary plus `replicas - 1` streaming standbys (default 1).
    /// Standbys clone the primary with pg_basebackup and serve reads through `postgres-ro`.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Secret (key `password`) of the `replicator` role the standbys connect as.
    #[serde(default = "pg_replication_secret")]
    pub replication_secret: String,
    /// Scheduled logical backups (pg_dump) with retention; unset: no backups.
    #[serde(default)]
    pub backup: Option<PgBackup>,
}

fn one() -> u32 {
    1
}

fn pg_replication_secret() -> String {
    "postgres-replication".into()
}

/// `postgres.backup`: a CronJob running pg_dump against the primary.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PgBackup {
    /// Cron schedule (five fields, the cluster's time zone); default daily at 02:00.
    #[serde(default = "backup_schedule")]
    pub schedule: String,
    /// Days a dump is kept; older dumps are deleted after each successful backup.
    pub retention_days: u32,
    /// Dumps on a PersistentVolumeClaim (`postgres-backup`) of this size.
    #[serde(default)]
    pub volume: Option<BackupVolume>,
    /// Dumps uploaded to an object store instead.
    #[serde(default)]
    pub s3: Option<BackupS3>,
    /// Requests and limits of the dump (and upload) containers; pg_dump's memory grows with
    /// the catalog, not the data. Default: requests 256Mi / 100m, limits 512Mi / 1.
    #[serde(default)]
    pub resources: Option<Resources>,
}

fn backup_schedule() -> String {
    "0 2 * * *".into()
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupVolume {
    /// PVC request: room for `retention_days` compressed dumps.
    pub size: Memory,
    /// StorageClass (unset: `storage.class`, then the cluster's default).
    #[serde(default)]
    pub class: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupS3 {
    /// `s3://bucket/prefix` the dumps go to.
    pub url: String,
    /// Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` files (mounted, never env).
    pub credentials_secret: String,
    /// AWS CLI image that uploads and prunes the dumps.
    #[serde(default = "aws_cli_image")]
    pub image: String,
    /// S3 endpoint for S3-compatible stores (MinIO, Ceph); unset: AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn aws_cli_image() -> String {
    "amazon/aws-cli:2.27.50".into()
}

fn pg_work_mem() -> PgSize {
    PgSize::parse("4MB").expect("constant")
}
fn pg_maintenance_work_mem() -> PgSize {
    PgSize::parse("64MB").expect("constant")
}
fn pg_hash_mem_multiplier() -> f64 {
    2.0
}
fn pg_autovacuum_max_workers() -> u32 {
    3
}
fn pg_superuser_reserved() -> u32 {
    3
}
fn pg_shm_size() -> Memory {
    Memory::parse("64Mi").expect("constant")
}
fn pg_database() -> String {
    "audience".into()
}
fn pg_user() -> String {
    "audience".into()
}
fn pg_password_secret() -> String {
    "postgres-credentials".into()
}

// ---------------------------------------------------------------- aerospike

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Aerospike {
    /// Server image; `aerospike/aerospike-server:VERSION` (Community) or `aerospike/aerospike-server-enterprise:VERSION`:
    /// the edition and the server version (which decides the config syntax) are read from it.
    pub image: String,
    /// Cluster size (nodes).
    pub replicas: u32,
    /// Container requests and limits (data + primary index + baseline must fit).
    pub resources: Resources,
    /// Volume for `device`-storage namespace files (unused when every namespace is in memory).
    #[serde(default)]
    pub storage: Option<ComponentStorage>,
    /// Enterprise only: Secret holding `features.conf`.
    #[serde(default)]
    pub feature_key_secret: Option<String>,
    /// `work-directory`: system metadata (`smd/`) and UDFs (`udf/lua`), created at start on a
    /// writable volume (the data volume with persistent storage, else an emptyDir).
    #[serde(default = "aerospike_work_directory")]
    pub work_directory: String,
    /// `proto-fd-max`: client connections the server accepts; the start script raises the
    /// open-files limit to it plus 1024 for the server's own files and cluster sockets.
    #[serde(default = "aerospike_proto_fd_max")]
    pub proto_fd_max: u32,
    /// Namespaces (Community Edition: at most 2; use sets inside them).
    pub namespaces: Vec<AerospikeNamespace>,
}

fn aerospike_work_directory() -> String {
    "/opt/aerospike/work".into()
}

fn aerospike_proto_fd_max() -> u32 {
    15000
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AsStorageEngine {
    /// Data in RAM (`storage-engine memory { data-size ... }`).
    Memory,
    /// Data on SSD/file, index in RAM (`storage-engine device { file ... filesize ... }`).
    Device,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AerospikeNamespace {
    /// Namespace name.
    pub name: String,
    /// `memory` (data in RAM) or `device` (data on SSD/file, index in RAM).
    pub storage_engine: AsStorageEngine,
    /// In-memory data size (`storage-engine memory`).
    #[serde(default)]
    pub data_size: Option<AsSize>,
    /// File size (`storage-engine device`).
    #[serde(default)]
    pub filesize: Option<AsSize>,
    /// Copies of each record (at most the cluster size).
    pub replication_factor: u32,
    /// Primary index arena stage (128M–16G; the server's default 1G is allocated up front).
    #[serde(default)]
    pub index_stage_size: Option<AsSize>,
    /// Records expected per node, for the primary index budget (64 bytes each × RF).
    #[serde(default)]
    pub expected_records: u64,
    /// Default time-to-live in seconds (0: never expire).
    #[serde(default)]
    pub default_ttl: u64,
    /// Seconds between expiry/eviction sweeps (required for a non-zero default_ttl).
    #[serde(default)]
    pub nsup_period: u64,
    /// Sets (tables) this namespace holds; documentation for the API config and the budget.
    #[serde(default)]
    pub sets: Vec<String>,
    /// Pre-7.0 syntax, accepted only so amctl can say why the server would refuse it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<AsSize>,
    /// Pre-7.0 syntax, see `memory_size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_in_memory: Option<bool>,
}

// ---------------------------------------------------------------- kafka

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kafka {
    /// Pinned image, e.g. `apache/kafka:4.1.1`.
    pub image: String,
    /// Brokers. With `[kafka.controllers]` they are brokers only; without, each is also a KRaft
    /// controller (combined mode, for a one-broker demo).
    pub brokers: u32,
    /// Dedicated KRaft controllers: controller-only pods whose quorum adding or removing
    /// brokers never touches. Unset: combined mode.
    #[serde(default)]
    pub controllers: Option<KafkaControllers>,
    /// KAFKA_HEAP_OPTS, e.g. "-Xmx800m -Xms800m".
    pub heap_opts: String,
    /// KAFKA_JVM_PERFORMANCE_OPTS (GC and non-heap bounds); unset: Kafka's own defaults.
    #[serde(default)]
    pub jvm_opts: Option<String>,
    /// Container requests and limits (heap + non-heap + page cache).
    pub resources: Resources,
    /// The log directory volume.
    pub storage: ComponentStorage,
    /// `num.partitions` for auto-created topics and the topic Job's default.
    pub num_partitions: u32,
    /// `default.replication.factor` (at most the broker count; existing topics keep theirs).
    pub default_replication_factor: u32,
    /// `min.insync.replicas` (replication factor − 1 for availability).
    pub min_insync_replicas: u32,
    /// `offsets.topic.replication.factor` (Kafka's default 3 needs 3 brokers).
    pub offsets_topic_replication_factor: u32,
    /// `transaction.state.log.replication.factor` (Kafka's default 3).
    pub transaction_state_log_replication_factor: u32,
    /// `transaction.state.log.min.isr` (Kafka's default 2).
    pub transaction_state_log_min_isr: u32,
    /// `log.retention.hours`.
    pub log_retention_hours: u32,
    #[serde(default = "yes")]
    pub auto_create_topics: bool,
    /// KRaft cluster id (22 characters, base64url of 16 bytes); unset: derived from the namespace.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// Topics created by the topic Job.
    #[serde(default)]
    pub topics: Vec<KafkaTopic>,
    /// Further server.properties, written as given.
    #[serde(default)]
    pub settings: BTreeMap<String, Setting>,
}

fn yes() -> bool {
    true
}

/// The controller quorum (`[kafka.controllers]`): a static voter set of `replicas` pods.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaControllers {
    /// Voters: 3 tolerates one failure, 5 two. Fixed once the cluster runs (a static quorum).
    pub replicas: u32,
    /// KAFKA_HEAP_OPTS of a controller, e.g. "-Xmx1g -Xms1g".
    pub heap_opts: String,
    /// KAFKA_JVM_PERFORMANCE_OPTS of a controller; unset: Kafka's own defaults.
    #[serde(default)]
    pub jvm_opts: Option<String>,
    /// Container requests and limits.
    pub resources: Resources,
    /// The metadata log's volume.
    pub storage: ComponentStorage,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaTopic {
    pub name: String,
    /// Unset: `num_partitions`.
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Unset: `default_replication_factor`.
    #[serde(default)]
    pub replication_factor: Option<u32>,
    /// Unset: `log_retention_hours`.
    #[serde(default)]
    pub retention_hours: Option<u32>,
}

// ---------------------------------------------------------------- flink

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    Rocksdb,
    Hashmap,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flink {
    /// Pinned image, e.g. `flink:2.1.1-scala_2.12-java17`.
    pub image: String,
    /// `parallelism.default` (at most TaskManagers × slots).
    pub parallelism_default: u32,
    /// `state.backend.type`: `rocksdb` or `hashmap`.
    pub state_backend: StateBackend,
    /// `state.backend.rocksdb.memory.managed` (default true).
    #[serde(default = "yes")]
    pub rocksdb_memory_managed: bool,
    /// `execution.checkpointing.dir`: `s3://` (enables the S3 plugin), `hdfs://`, or `file://`
    /// on `checkpoint_volume`, which every Flink pod mounts at that path.
    pub checkpoint_dir: String,
    /// The claim a `file://` checkpoint_dir lives on, mounted by the JobManager and every
    /// TaskManager: the TaskManagers write state files, the JobManager the metadata, and a
    /// restore reads both.
    #[serde(default)]
    pub checkpoint_volume: Option<SharedVolume>,
    /// `execution.checkpointing.interval`.
    pub checkpoint_interval: Duration,
    /// Secret with `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` for `s3://` checkpoints, handed
    /// to the S3 plugin as `s3.access-key`/`s3.secret-key` (unset: the node's instance
    /// credentials, which the network policies block).
    #[serde(default)]
    pub s3_credentials_secret: Option<String>,
    /// The Kafka topic the segment-evaluation job reads (for parallelism vs partitions).
    #[serde(default)]
    pub source_topic: Option<String>,
    /// Kubernetes HA services for the JobManager (required for more than one JobManager).
    #[serde(default)]
    pub high_availability: Option<FlinkHa>,
    /// The JobManager process.
    pub jobmanager: JobManager,
    /// The TaskManager processes.
    pub taskmanager: TaskManager,
    /// Further config.yaml keys, written as given.
    #[serde(default)]
    pub settings: BTreeMap<String, Setting>,
    /// With `security.tls`: Secret (key `password`) locking the PKCS#12 key and trust stores.
    #[serde(default = "flink_tls_password_secret")]
    pub tls_password_secret: String,
}

fn flink_tls_password_secret() -> String {
    "flink-tls-password".into()
}

/// A claim several pods mount at once.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedVolume {
    /// The claim's request.
    pub size: Memory,
    /// StorageClass; unset: `storage.class`, else the cluster's default.
    #[serde(default)]
    pub class: Option<String>,
    /// `ReadWriteOnce` (pods on one node share it: a one-node cluster) or `ReadWriteMany` (a
    /// class that serves several nodes, e.g. NFS or CephFS).
    #[serde(default)]
    pub access_mode: AccessMode,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub enum AccessMode {
    #[default]
    ReadWriteOnce,
    ReadWriteMany,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWriteOnce => "ReadWriteOnce",
            AccessMode::ReadWriteMany => "ReadWriteMany",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlinkHa {
    /// `high-availability.storageDir`: where JobManager metadata survives failover.
    pub storage_dir: String,
    /// `kubernetes.cluster-id`; unset: `audience-manager-flink`.
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// Flink's JVM overhead: a fraction of the process size clamped to [min, max].
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JvmOverhead {
    #[serde(default)]
    pub fraction: Option<f64>,
    #[serde(default)]
    pub min: Option<JvmSize>,
    #[serde(default)]
    pub max: Option<JvmSize>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobManager {
    /// Number of JobManager pods (more than one needs `flink.high_availability`).
    pub replicas: u32,
    /// `jobmanager.memory.process.size`.
    pub process_size: JvmSize,
    /// Container requests and limits; the memory limit must be at least `process_size`.
    pub resources: Resources,
    /// `jobmanager.memory.jvm-metaspace.size` (default 256m).
    #[serde(default)]
    pub jvm_metaspace: Option<JvmSize>,
    /// `jobmanager.memory.off-heap.size` (default 128m).
    #[serde(default)]
    pub off_heap: Option<JvmSize>,
    /// `jobmanager.memory.jvm-overhead.{fraction,min,max}` (defaults 0.1, 192m, 1g).
    #[serde(default)]
    pub jvm_overhead: JvmOverhead,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskManager {
    /// Number of TaskManager pods.
    pub replicas: u32,
    /// `taskmanager.memory.process.size`.
    pub process_size: JvmSize,
    /// `taskmanager.numberOfTaskSlots`.
    pub task_slots: u32,
    /// Container requests and limits; the memory limit must be at least `process_size`.
    pub resources: Resources,
    /// `taskmanager.memory.managed.fraction` (Flink's default 0.4): managed memory (RocksDB) as a share of total Flink memory.
    #[serde(default)]
    pub managed_fraction: Option<f64>,
    /// `taskmanager.memory.managed.size`: an absolute managed size (overrides the fraction).
    #[serde(default)]
    pub managed_size: Option<JvmSize>,
    /// `taskmanager.memory.network.fraction` (default 0.1 of total Flink memory).
    #[serde(default)]
    pub network_fraction: Option<f64>,
    /// `taskmanager.memory.network.min` (default 64m).
    #[serde(default)]
    pub network_min: Option<JvmSize>,
    /// `taskmanager.memory.network.max` (default unlimited).
    #[serde(default)]
    pub network_max: Option<JvmSize>,
    /// `taskmanager.memory.jvm-metaspace.size` (default 256m).
    #[serde(default)]
    pub jvm_metaspace: Option<JvmSize>,
    /// `taskmanager.memory.framework.heap.size` (default 128m).
    #[serde(default)]
    pub framework_heap: Option<JvmSize>,
    /// `taskmanager.memory.framework.off-heap.size` (default 128m).
    #[serde(default)]
    pub framework_off_heap: Option<JvmSize>,
    /// `taskmanager.memory.task.off-heap.size` (default 0).
    #[serde(default)]
    pub task_off_heap: Option<JvmSize>,
    /// `taskmanager.memory.jvm-overhead.{fraction,min,max}` (defaults 0.1, 192m, 1g).
    #[serde(default)]
    pub jvm_overhead: JvmOverhead,
    /// RocksDB's working directory (`state.backend.rocksdb.localdir`), one volume per
    /// TaskManager: an emptyDir, or with persistent storage a claim that lives as long as the
    /// pod (the state itself is restored from checkpoints).
    #[serde(default = "tm_local_state")]
    pub local_state: ComponentStorage,
}

fn tm_local_state() -> ComponentStorage {
    ComponentStorage {
        size: Memory::parse("4Gi").expect("constant"),
        mode: None,
        class: None,
        ephemeral_medium: None,
    }
}

// ---------------------------------------------------------------- api services

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    ClusterIP,
    NodePort,
}

#[derive(
    Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Kafka,
    Aerospike,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    pub host: String,
    /// `spec.ingressClassName`; unset: the cluster's default class.
    #[serde(default)]
    pub class_name: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_cpu_percent: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Image repository prefix: each service runs `{registry}/{name}:{version}`.
    pub registry: String,
    /// Image tag of every service (pinned, never `latest`).
    pub version: String,
    /// Replicas per service (without autoscaling).
    pub replicas: u32,
    /// Container requests and limits per replica.
    pub resources: Resources,
    /// JAVA_OPTS.
    pub java_opts: String,
    /// `server.tomcat.threads.max`.
    pub tomcat_max_threads: u32,
    /// `spring.kafka.consumer.concurrency`.
    pub kafka_consumer_concurrency: u32,
    /// `spring.datasource.hikari.maximum-pool-size` per replica.
    pub db_pool_size: u32,
    /// `NodePort` (demo) or `ClusterIP` (behind the Ingress).
    pub service_type: ServiceType,
    /// Exposes every service under this host (path `/{name}`); prod's ClusterIP + Ingress.
    #[serde(default)]
    pub ingress: Option<Ingress>,
    /// A HorizontalPodAutoscaler per service.
    #[serde(default)]
    pub autoscaling: Option<Autoscaling>,
    /// The services, each with optional overrides of the values above.
    pub services: Vec<ApiService>,
}

/// One API service; every sizing key overrides the shared `[api]` value.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiService {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The backends it talks to (decides its config and, with network policies, its egress).
    pub uses: Vec<Backend>,
    /// Topics it consumes (Kafka consumers) or produces to, for its config.
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub java_opts: Option<String>,
    #[serde(default)]
    pub tomcat_max_threads: Option<u32>,
    #[serde(default)]
    pub kafka_consumer_concurrency: Option<u32>,
    #[serde(default)]
    pub db_pool_size: Option<u32>,
    #[serde(default)]
    pub autoscaling: Option<Autoscaling>,
}

/// An API service with the shared `[api]` values applied.
#[derive(Clone, Debug)]
pub(crate) struct EffectiveApi<'a> {
    pub name: &'a str,
    pub uses: &'a [Backend],
    pub topics: &'a [String],
    pub image: String,
    pub replicas: u32,
    pub resources: &'a Resources,
    pub java_opts: &'a str,
    pub tomcat_max_threads: u32,
    pub kafka_consumer_concurrency: u32,
    pub db_pool_size: u32,
    pub autoscaling: Option<&'a Autoscaling>,
}

impl Api {
    pub(crate) fn effective(&self) -> impl Iterator<Item = EffectiveApi<'_>> {
        self.services.iter().map(move |s| EffectiveApi {
            name: &s.name,
            uses: &s.uses,
            topics: &s.topics,
            image: s
                .image
                .clone()
                .unwrap_or_else(|| format!("{}/{}:{}", self.registry, s.name, self.version)),
            replicas: s.replicas.unwrap_or(self.replicas),
            resources: s.resources.as_ref().unwrap_or(&self.resources),
            java_opts: s.java_opts.as_deref().unwrap_or(&self.java_opts),
            tomcat_max_threads: s.tomcat_max_threads.unwrap_or(self.tomcat_max_threads),
            kafka_consumer_concurrency: s
                .kafka_consumer_concurrency
                .unwrap_or(self.kafka_consumer_concurrency),
            db_pool_size: s.db_pool_size.unwrap_or(self.db_pool_size),
            autoscaling: s.autoscaling.as_ref().or(self.autoscaling.as_ref()),
        })
    }
}

// ---------------------------------------------------------------- security, monitoring

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    Privileged,
    Baseline,
    Restricted,
}

impl PodSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurity::Privileged => "privileged",
            PodSecurity::Baseline => "baseline",
            PodSecurity::Restricted => "restricted",
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiAuth {
    /// No authentication on the API services (isolated demo).
    None,
    /// HTTP basic auth; credentials from `api_credentials_secret`.
    Basic,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Pod Security Standard enforced on the namespace.
    pub pod_security: PodSecurity,
    pub api_auth: ApiAuth,
    /// Secret (keys `username`, `password`) for basic auth.
    #[serde(default = "api_credentials_secret")]
    pub api_credentials_secret: String,
    /// Default-deny NetworkPolicies plus one allow per flow the platform needs.
    #[serde(default)]
    pub network_policies: bool,
    /// Namespace of the ingress controller allowed to reach the API services (with an Ingress).
    #[serde(default = "ingress_namespace")]
    pub ingress_namespace: String,
    /// TLS for PostgreSQL, Kafka, Flink and the ingress (Aerospike too with the Enterprise image).
    #[serde(default)]
    pub tls: bool,
    /// The cert-manager issuer that signs the certificates; unset: you provide the Secrets
    /// (`postgres-tls`, `kafka-tls`, `flink-tls`, ...; `amctl validate` lists those your
    /// profile mounts, with their files).
    #[serde(default)]
    pub tls_issuer: Option<TlsIssuer>,
}

/// `security.tls_issuer`: a cert-manager Issuer or ClusterIssuer.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsIssuer {
    /// Name of the Issuer or ClusterIssuer (it must exist; amctl does not render it).
    pub name: String,
    /// `ClusterIssuer` (default) or `Issuer` (in the platform's namespace).
    #[serde(default)]
    pub kind: IssuerKind,
    /// Certificate lifetime (Go duration, default `2160h`: 90 days).
    #[serde(default = "cert_duration")]
    pub duration: String,
    /// Renew this long before expiry (default `360h`: 15 days).
    #[serde(default = "cert_renew_before")]
    pub renew_before: String,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
pub enum IssuerKind {
    #[default]
    ClusterIssuer,
    Issuer,
}

impl IssuerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKind::ClusterIssuer => "ClusterIssuer",
            IssuerKind::Issuer => "Issuer",
        }
    }
}

fn cert_duration() -> String {
    "2160h".into()
}

fn cert_renew_before() -> String {
    "360h".into()
}

fn ingress_namespace() -> String {
    "ingress-nginx".into()
}

fn api_credentials_secret() -> String {
    "api-credentials".into()
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MonitoringLevel {
    None,
    /// Prometheus scrape annotations on every pod with a metrics endpoint.
    Essential,
    /// Prometheus Operator objects (ServiceMonitor, PodMonitor, PrometheusRule), exporters for
    /// PostgreSQL, Aerospike and Kafka, latency histograms and alerts.
    Full,
}

impl MonitoringLevel {
    /// Whether pods expose metrics endpoints at all.
    pub fn metrics(self) -> bool {
        self != MonitoringLevel::None
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// `none`; `essential`: Prometheus scrape annotations on native metrics endpoints; `full`:
    /// Prometheus Operator monitors, exporters and latency alerts.
    pub level: MonitoringLevel,
    /// Namespace of the Prometheus that scrapes the pods (allowed by the network policies).
    #[serde(default = "scraper_namespace")]
    pub scraper_namespace: String,
    /// Labels your Prometheus selects monitors and rules by (`full`), e.g. `{ release = "kube-prometheus-stack" }`.
    #[serde(default)]
    pub selector_labels: BTreeMap<String, String>,
    /// Alert thresholds (`full`): the spec's latency table, p99 over 5 minutes.
    #[serde(default)]
    pub latency: Latency,
    /// Exporter images (`full`).
    #[serde(default)]
    pub exporters: Exporters,
}

/// `monitoring.latency`: the platform spec's latency expectations, one alert each.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// API response (HTTP server requests), spec: prod < 200ms, demo < 500ms.
    #[serde(default = "lat_api")]
    pub api_response: Duration,
    /// Event processing (Flink source emit lag), spec: prod < 100ms, demo < 1000ms.
    #[serde(default = "lat_event")]
    pub event_processing: Duration,
    /// Rule evaluation (the job's evaluation timer), spec: prod < 50ms, demo < 200ms.
    #[serde(default = "lat_rule")]
    pub rule_evaluation: Duration,
    /// Cache access (Aerospike reads), spec: prod < 5ms, demo < 20ms.
    #[serde(default = "lat_cache")]
    pub cache_access: Duration,
    /// Database query (repository calls of the API services), spec: prod < 100ms, demo < 300ms.
    #[serde(default = "lat_db")]
    pub database_query: Duration,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            api_response: lat_api(),
            event_processing: lat_event(),
            rule_evaluation: lat_rule(),
            cache_access: lat_cache(),
            database_query: lat_db(),
        }
    }
}

fn dur(s: &str) -> Duration {
    Duration::parse(s).expect("constant")
}
fn lat_api() -> Duration {
    dur("200ms")
}
fn lat_event() -> Duration {
    dur("100ms")
}
fn lat_rule() -> Duration {
    dur("50ms")
}
fn lat_cache() -> Duration {
    dur("5ms")
}
fn lat_db() -> Duration {
    dur("100ms")
}

/// `monitoring.exporters`: where a component has no native Prometheus endpoint.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exporters {
    /// postgres_exporter, a sidecar of each PostgreSQL pod.
    #[serde(default = "postgres_exporter")]
    pub postgres: String,
    /// The Aerospike Prometheus exporter, a sidecar of each Aerospike pod.
    #[serde(default = "aerospike_exporter")]
    pub aerospike: String,
    /// kafka_exporter (topics, partitions, consumer lag), one Deployment for the cluster.
    #[serde(default = "kafka_exporter")]
    pub kafka: String,
}

impl Default for Exporters {
    fn default() -> Self {
        Exporters {
            postgres: postgres_exporter(),
            aerospike: aerospike_exporter(),
            kafka: kafka_exporter(),
        }
    }
}

fn postgres_exporter() -> String {
    "quay.io/prometheuscommunity/postgres-exporter:v0.17.1".into()
}
fn aerospike_exporter() -> String {
    "aerospike/aerospike-prometheus-exporter:1.16.1".into()
}
fn kafka_exporter() -> String {
    "danielqsj/kafka-exporter:v1.9.0".into()
}

fn scraper_namespace() -> String {
    "monitoring".into()
}
