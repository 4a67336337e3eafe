//! The change kit: what a change takes to roll out ([`Impact`]), and a migration's steps as
//! data (phase, action, object, the commands to run). Components describe the steps their
//! servers need; `migrate` orders them and emits them.

use serde::{Serialize, Serializer};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Impact {
    /// Applied in place, nothing restarts.
    None,
    /// The server re-reads its config (PostgreSQL reloadable settings).
    Reload,
    /// The pod template changes: pods are replaced one by one.
    RollingRestart,
    /// The server must restart to take the setting (PostgreSQL shared_buffers, broker configs).
    Restart,
    /// An immutable field: the object must be deleted and re-created.
    Recreate,
    /// Existing data must be moved (Kafka partition reassignment, Aerospike migrations).
    DataMigration,
    /// Data is lost or stranded (persistent → ephemeral, a volume removed, a claim shrunk).
    DataLoss,
}

/// A path into a ConfigMap's config file, as `diff` prints it (`data["postgresql.conf"].shared_buffers`):
/// the file and the key inside it (empty for the whole file).
pub(crate) fn config_key(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("data[\"")?;
    let (file, key) = rest.split_once("\"]")?;
    Some((file, key.strip_prefix('.').unwrap_or(key)))
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Reload => "reload",
            Impact::RollingRestart => "rolling-restart",
            Impact::Restart => "restart",
            Impact::Recreate => "recreate",
            Impact::DataMigration => "data-migration",
            Impact::DataLoss => "data-loss",
        }
    }
}

/// What a server's version change takes, by the server's own upgrade rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// The same version.
    Same,
    /// The data stays as it is: the pods are replaced one at a time (with the server's health
    /// check between them where the component has one).
    Rolling(String),
    /// The server restarts under its work, which must be stopped and resumed (Flink jobs by
    /// savepoint).
    Procedure(String),
    /// The data must be moved to the new version (PostgreSQL majors): only with
    /// `--allow-data-migration`.
    DataMigration(String),
    /// The server does not support the change (a downgrade it cannot read back, a skipped major).
    Refused(String),
}

impl Upgrade {
    /// How `diff` labels the image change.
    pub fn impact(&self) -> Impact {
        match self {
            Upgrade::Same => Impact::None,
            Upgrade::Rolling(_) => Impact::RollingRestart,
            Upgrade::Procedure(_) => Impact::Restart,
            Upgrade::DataMigration(_) => Impact::DataMigration,
            Upgrade::Refused(_) => Impact::DataLoss,
        }
    }

    /// The rule that decided it.
    pub fn why(&self) -> &str {
        match self {
            Upgrade::Same => "",
            Upgrade::Rolling(w)
            | Upgrade::Procedure(w)
            | Upgrade::DataMigration(w)
            | Upgrade::Refused(w) => w,
        }
    }
}

/// The object a change belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectKey {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    /// `StatefulSet audience-manager/kafka`
    pub fn display(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// A migration's phases (the platform spec's migration path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Storage, Services, certificates, monitors: what the workloads need first.
    Infrastructure = 1,
    /// Identities, config and the workloads themselves.
    Resources = 2,
    /// Pod Security, disruption budgets, network policies.
    Hardening = 3,
}

impl Phase {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Infrastructure => "infrastructure",
            Phase::Resources => "resources",
            Phase::Hardening => "hardening",
        }
    }

    /// `--phase N`.
    pub(crate) fn from_number(n: u8) -> Option<Phase> {
        match n {
            1 => Some(Phase::Infrastructure),
            2 => Some(Phase::Resources),
            3 => Some(Phase::Hardening),
            _ => None,
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.number())
    }
}

/// A command a step runs: an argument vector, quoted for the shell only when printed, and the
/// file its standard input reads, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<String>,
    pub stdin: Option<String>,
    /// The file its standard output goes to, if any (a dump kept on the operator's machine).
    pub stdout: Option<String>,
}

impl Command {
    pub fn new<I, S>(argv: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
            stdout: None,
        }
    }

    /// `kubectl ARGS...`.
    pub fn kubectl<I, S>(args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut c = Command::new(["kubectl"]);
        c.argv.extend(args.into_iter().map(Into::into));
        c
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Standard input from `file`.
    pub fn stdin(mut self, file: impl Into<String>) -> Command {
        self.stdin = Some(file.into());
        self
    }

    /// Standard output to `file`.
    pub fn stdout(mut self, file: impl Into<String>) -> Command {
        self.stdout = Some(file.into());
        self
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<String> = self.argv.iter().map(|a| sh_quote(a)).collect();
        f.write_str(&words.join(" "))?;
        if let Some(file) = &self.stdin {
            write!(f, " < {}", sh_quote(file))?;
        }
        if let Some(file) = &self.stdout {
            write!(f, " > {}", sh_quote(file))?;
        }
        Ok(())
    }
}

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A word for the shell: as it is when it is plain, else single-quoted.
pub(crate) fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./=:@%+,".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What a step does, with what it needs to do it.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A new object: `kubectl apply`.
    Create,
    /// An in-place change: `kubectl apply` (or the step's strategic merge patch).
    Apply,
    /// Only the replica count changes: `kubectl scale` to `replicas`.
    Scale { replicas: i64 },
    /// An immutable field changed: `kubectl delete --cascade=orphan`, then apply.
    Recreate,
    /// Grow existing PersistentVolumeClaims.
    Resize,
    /// Wait for a rollout.
    Wait,
    /// Kafka partition reassignment (replication factor of existing topics, brokers leaving),
    /// with the files its commands read (the reassignment JSON), by name.
    Reassign { files: Vec<(String, String)> },
    /// Kafka partition increase of existing topics.
    AlterPartitions,
    /// An object only FROM has (only with --prune).
    Delete,
    /// An object only FROM has that amctl never deletes: a claim and the data on it.
    Keep,
    /// A command inside a running pod (a database role).
    Exec,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Apply => "apply",
            Action::Scale { .. } => "scale",
            Action::Recreate => "recreate",
            Action::Resize => "resize",
            Action::Wait => "wait",
            Action::Reassign { .. } => "reassign",
            Action::AlterPartitions => "alter-partitions",
            Action::Delete => "delete",
            Action::Keep => "keep",
            Action::Exec => "exec",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub phase: Phase,
    pub object: ObjectKey,
    pub action: Action,
    pub impact: Impact,
    /// Why the step is there, in a sentence.
    pub reason: String,
    /// What may be lost or stranded.
    pub data_risk: Option<String>,
    /// Left out because it loses data and --allow-data-loss was not given.
    pub refused: bool,
    /// The flag that includes a refused step; `None` when no flag does (the server does not
    /// support the change).
    pub opt_in: Option<&'static str>,
    /// Part of the default `kubectl apply` stream.
    pub in_apply_stream: bool,
    /// The desired object (create, apply, recreate).
    pub manifest: Option<Value>,
    /// The strategic merge patch from FROM's object to TO's (any change of an existing object).
    pub patch: Option<Value>,
    /// Imperative commands (delete, resize, reassign, wait).
    pub commands: Vec<Command>,
    /// The workload whose rollout this step comes right after (a command in its new pod), or
    /// with a negative `seq`, right before.
    pub follows: Option<String>,
    /// Order among the steps that follow the same workload.
    pub seq: i16,
    /// What the API server does with the in-place update of the object, by the rules amctl
    /// restates (`kube::server`): `None` where it takes it or the step updates nothing.
    pub server: Option<ServerVerdict>,
}

/// The API server's verdict on updating an object in place from FROM to TO.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerVerdict {
    /// Refused, with each rule's citation.
    Refuses(Vec<String>),
    /// Taken only if this holds on the cluster (the step checks it first).
    AcceptsIf(String),
}

/// The plan's JSON (`amctl.migrate/v1`): the action by name, its payload (`replicas`, `files`)
/// beside it, as the plan has always been printed.
impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = ser.serialize_struct("Step", 14)?;
        st.serialize_field("phase", &self.phase)?;
        st.serialize_field("object", &self.object)?;
        st.serialize_field("action", self.action.as_str())?;
        st.serialize_field("impact", &self.impact)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("data_risk", &self.data_risk)?;
        st.serialize_field("refused", &self.refused)?;
        if self.refused {
            // The flag that would include it; null: nothing does (the API server or the
            // server itself refuses the change).
            st.serialize_field("opt_in", &self.opt_in)?;
        }
        st.serialize_field("in_apply_stream", &self.in_apply_stream)?;
        match &self.server {
            Some(ServerVerdict::Refuses(rules)) => st.serialize_field("server_refuses", rules)?,
            Some(ServerVerdict::AcceptsIf(what)) => {
                st.serialize_field("server_accepts_if", what)?
            }
            None => {}
        }
        if let Some(p) = &self.patch {
            st.serialize_field("patch", p)?;
        }
        if let Action::Scale { replicas } = &self.action {
            st.serialize_field("replicas", replicas)?;
        }
        st.serialize_field("commands", &self.commands)?;
        if let Action::Reassign { files } = &self.action
            && !files.is_empty()
        {
            st.serialize_field("files", files)?;
        }
        st.end()
    }
}

impl Step {
    /// A step with nothing to apply, run or refuse yet.
    pub fn new(
        phase: Phase,
        object: ObjectKey,
        action: Action,
        impact: Impact,
        reason: String,
    ) -> Step {
        Step {
            phase,
            object,
            action,
            impact,
            reason,
            data_risk: None,
            refused: false,
            opt_in: Some("--allow-data-loss"),
            in_apply_stream: false,
            manifest: None,
            patch: None,
            commands: Vec::new(),
            follows: None,
            seq: 0,
            server: None,
        }
    }

    /// Placed right after `workload`'s rollout (`seq` ≥ 0) or right before it (`seq` < 0).
    pub fn around(mut self, workload: &str, seq: i16) -> Step {
        self.follows = Some(workload.to_string());
        self.seq = seq;
        self
    }

    /// Refused, with the flag that includes it (`None`: nothing does) and why.
    pub fn refuse(&mut self, opt_in: Option<&'static str>, risk: impl Into<String>) {
        self.refused = true;
        self.in_apply_stream = false;
        self.opt_in = opt_in;
        self.data_risk = Some(risk.into());
    }

    /// Does it change the workload's pod template (a rollout), as its patch says?
    pub fn rolls_pods(&self) -> bool {
        matches!(self.action, Action::Apply | Action::Recreate)
            && self
                .patch
                .as_ref()
                .is_some_and(|p| !p["spec"]["template"].is_null())
    }

    /// Is this the step of object `kind`/`name` (its apply, scale or recreate, not its wait)?
    pub fn changes(&self, kind: &str, name: &str) -> bool {
        self.object.kind == kind
            && self.object.name == name
            && !matches!(self.action, Action::Wait | Action::Exec)
    }
}

/// Refuses every step of the workloads `ours` picks (with the flag that includes them, or none),
/// and drops their waits: a refused rollout has nothing to wait for.
pub fn refuse_workloads(
    steps: &mut Vec<Step>,
    ours: impl Fn(&Step) -> bool,
    opt_in: Option<&'static str>,
    why: &str,
) {
    steps.retain(|s| !(ours(s) && s.action == Action::Wait));
    for s in steps.iter_mut().filter(|s| ours(s)) {
        s.refuse(opt_in, why);
    }
}

/// `kubectl exec -n NS POD -c CONTAINER -- sh -c '<check, retried>'`: a server's own health
/// check inside its pod, retried every `every` seconds at most `tries` times (see [`until`]).
pub fn exec_until(
    ns: &str,
    pod: &str,
    container: &str,
    check: &str,
    (every, tries): (u32, u32),
    failure: &str,
) -> Command {
    Command::kubectl(["exec", "-n", ns, pod, "-c", container, "--", "sh", "-c"])
        .args([until(check, every, tries, failure)])
}

/// `kubectl patch KIND NAME -n NS --type merge -p BODY`.
pub fn merge_patch(kind: &str, name: &str, ns: &str, body: &Value) -> Command {
    Command::kubectl([
        "patch",
        kind,
        name,
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        &body.to_string(),
    ])
}

/// The StatefulSet's rollout held at the start: `updateStrategy.rollingUpdate.partition` =
/// `replicas` in the manifest applied, so no pod changes until [`pod_by_pod`] releases them
/// (apps/v1 StatefulSet: pods with an ordinal below the partition keep the old revision).
pub fn hold_rollout(manifest: &mut Value, replicas: u32) {
    manifest["spec"]["updateStrategy"] = serde_json::json!({
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": replicas},
    });
}

/// The steps that roll a held StatefulSet one pod at a time, highest ordinal first (the order
/// the controller itself uses): release the pod (lower the partition), wait for it, then run the
/// server's own `health` check of it before the next. `seq` numbers them after the workload.
pub fn pod_by_pod(
    ns: &str,
    phase: Phase,
    sts: &str,
    replicas: u32,
    what: &str,
    health: impl Fn(u32) -> Command,
    seq: i16,
) -> Vec<Step> {
    (0..replicas)
        .rev()
        .enumerate()
        .map(|(n, i)| {
            let mut s = Step::new(
                phase,
                ObjectKey {
                    kind: "StatefulSet".into(),
                    namespace: ns.to_string(),
                    name: sts.to_string(),
                },
                Action::Exec,
                Impact::RollingRestart,
                format!("{sts}-{i} onto the new template, then wait until {what}"),
            )
            .around(sts, seq + n as i16);
            let body = serde_json::json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": i}}}});
            s.commands.push(merge_patch("statefulset", sts, ns, &body));
            s.commands.push(Command::kubectl([
                "rollout",
                "status",
                &format!("statefulset/{sts}"),
                "-n",
                ns,
                "--timeout=15m",
            ]));
            s.commands.push(health(i));
            s
        })
        .collect()
}

/// A shell loop inside a pod: `check` until it succeeds, every `every` seconds, at most
/// `tries` times; then the script stops with `failure`.
pub fn until(check: &str, every: u32, tries: u32, failure: &str) -> String {
    format!(
        "n=0; while [ \"$n\" -lt {tries} ]; do if {check}; then exit 0; fi; n=$((n + 1)); sleep {every}; done; echo {} >&2; exit 1",
        sh_quote(failure)
    )
}

pub struct Options {
    pub namespace: String,
    pub allow_data_loss: bool,
    /// Server upgrades that move the data (a PostgreSQL major version, Kafka's metadata version).
    pub allow_data_migration: bool,
    pub prune: bool,
}
