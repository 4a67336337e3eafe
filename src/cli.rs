//! Command-line interface: every flag is defined here, once, with its documentation.

use amctl::commands::render::{self, Format, RenderArgs};
use amctl::kube::DEFAULT_NAMESPACE;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (diff: no differences)
  1  the profile is invalid, or there are differences
  2  usage or input error (unreadable file, malformed TOML, unknown key, bad value)
  3  migrate: steps were left out of the output or refused (see `amctl migrate --help`)";

/// Render, validate, diff and migrate the Audience Manager data platform on Kubernetes.
///
/// PROFILE is a built-in profile (`demo`, `prod`) or the path of a profile TOML file.
#[derive(Parser, Debug)]
#[command(name = "amctl", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Render every Kubernetes manifest and config file of the platform.
    ///
    /// Prints one multi-document YAML stream in apply order, ready for `kubectl apply -f -`.
    #[command(after_help = EXIT_CODES)]
    Render(RenderCmd),

    /// Check a profile: budgets against the nodes, and every layer against the next.
    ///
    /// Human output: a budget table on stdout, findings on stderr. Exit 0 when valid (warnings
    /// allowed unless --strict), 1 when invalid, 2 on usage or input errors.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateCmd),

    /// Show how each node's memory is spent: a picture per node, the table, or JSON with every
    /// container's memory breakdown.
    #[command(after_help = EXIT_CODES)]
    Budget(BudgetCmd),

    /// Explain what differs between two profiles, or a profile and objects read back from a
    /// cluster (`kubectl get ... -o yaml`): per object, per field, with the impact of each change.
    ///
    /// FROM and TO are each a profile (built-in name or .toml file) or Kubernetes YAML: a file, a
    /// directory, or `-` for stdin. Exit 0: no differences; 1: differences; 2: error.
    #[command(after_help = DIFF_EXIT_CODES)]
    Diff(DiffCmd),

    /// Move a running installation from FROM to TO, in safe phases, through kubectl.
    ///
    /// The default output is a `kubectl apply -f -` stream of what can change in place; steps
    /// it cannot carry (immutable fields, PVC resizes, Kafka reassignments, deletions) are listed
    /// on stderr and are in `--format script`.
    #[command(after_help = MIGRATE_EXIT_CODES)]
    Migrate(MigrateCmd),

    /// Print a bash script that creates the Secrets the render refers to and the cluster lacks.
    ///
    /// Passwords are generated when the script runs (openssl); credentials only you have
    /// (S3 keys, licences, certificates without an issuer) are read from environment variables
    /// the script names. Existing Secrets are left alone. Run it before the first apply:
    /// `amctl secrets demo | bash`.
    #[command(after_help = EXIT_CODES)]
    Secrets(SecretsCmd),

    /// Print the resolved profile (after `extends` and `--set`) as TOML or JSON.
    #[command(after_help = EXIT_CODES)]
    Show(ShowCmd),

    /// Size a profile for the nodes you have: prints a profile that extends PROFILE with every
    /// size (containers, JVM heaps, Flink processes, PostgreSQL buffers, Aerospike data) and the
    /// replica counts the nodes allow, chosen so that validate passes and the requests use the
    /// platform's share of the nodes up to the headroom.
    #[command(after_help = EXIT_CODES)]
    Fit(FitCmd),

    /// Print the JSON Schema (draft-07) of the profile format, for editors and CI.
    Schema {
        /// Every key optional: for overlay files that use `extends`.
        #[arg(long)]
        partial: bool,
    },

    /// Explain a profile key: meaning, unit, default, the rules that read it, and for memory
    /// keys the breakdown it produces (e.g. `amctl explain flink.taskmanager`).
    #[command(after_help = EXIT_CODES)]
    Explain {
        /// A key path such as `flink.taskmanager` or `postgres.shared_buffers`.
        #[arg(value_name = "KEY")]
        key: String,
        /// The profile whose values the breakdown uses.
        #[arg(long, default_value = "demo", value_name = "PROFILE")]
        profile: String,
    },

    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff).
    Man,
}

#[derive(Args, Debug)]
pub struct ValidateCmd {
    /// Built-in profile name or path; with --all, any number of files and directories.
    #[arg(value_name = "PROFILE", required = true, num_args = 1..)]
    pub profiles: Vec<String>,

    /// Validate every profile given (directories expand to their *.toml files).
    #[arg(long)]
    pub all: bool,

    /// Namespace to render into while checking.
    #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE, value_name = "NAMESPACE")]
    pub namespace: String,

    /// Override a profile value (repeatable), as for `render`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,

    /// Output: human (table + findings), json (schema amctl.validate/v1), or github annotations.
    #[arg(
        short = 'o',
        long = "output",
        alias = "format",
        value_enum,
        default_value = "human"
    )]
    pub output: ValidateFormat,

    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ValidateFormat {
    Human,
    Json,
    Github,
}

#[derive(Args, Debug)]
pub struct BudgetCmd {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// Output: text (picture and table) or json (schema amctl.budget/v1).
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: BudgetFormat,

    /// Also write the picture as an SVG chart to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BudgetFormat {
    Text,
    Json,
}

const DIFF_EXIT_CODES: &str = "\
Exit codes (like diff and kubectl diff):
  0  no differences
  1  differences (0 with --exit-zero)
  2  usage or input error (unparseable YAML, an object without kind or name, an unknown profile)";

#[derive(Args, Debug)]
pub struct DiffCmd {
    /// The current state: a profile, a YAML file or directory, or `-`.
    #[arg(value_name = "FROM")]
    pub from: String,

    /// The desired state: a profile, a YAML file or directory, or `-`.
    #[arg(value_name = "TO")]
    pub to: String,

    /// Namespace profiles are rendered into.
    #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE, value_name = "NAMESPACE")]
    pub namespace: String,

    /// Override a value of TO when it is a profile (repeatable), as for `render`: shows what
    /// the override would change.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,

    /// Override a value of FROM when it is a profile (repeatable).
    #[arg(long = "from-set", value_name = "KEY.PATH=VALUE")]
    pub from_sets: Vec<String>,

    /// One line per changed field, with its impact, instead of unified diffs.
    #[arg(long, conflicts_with = "output")]
    pub fields: bool,

    /// Output format: text, or json (schema amctl.diff/v1).
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<DiffFormat>,

    /// Lines of context in unified diffs.
    #[arg(short = 'U', long = "unified", default_value_t = 3, value_name = "N")]
    pub context: usize,

    /// Exit 0 even when there are differences.
    #[arg(long)]
    pub exit_zero: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

const MIGRATE_EXIT_CODES: &str = "\
Exit codes:
  0  the output is the whole migration
  2  usage or input error
  3  steps were left out: of the apply stream (see stderr and --format script), or refused
     because they lose data (--allow-data-loss) or delete objects (--prune)";

#[derive(Args, Debug)]
pub struct MigrateCmd {
    /// The installation as it runs now: a profile, or YAML read back from the cluster.
    #[arg(value_name = "FROM")]
    pub from: String,

    /// The profile to move to.
    #[arg(value_name = "TO")]
    pub to: String,

    /// Namespace of the installation.
    #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE, value_name = "NAMESPACE")]
    pub namespace: String,

    /// Override a value of TO (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,

    /// Override a value of FROM (repeatable).
    #[arg(long = "from-set", value_name = "KEY.PATH=VALUE")]
    pub from_sets: Vec<String>,

    /// apply (YAML stream), script (bash), patches (kubectl patch/scale), or json.
    #[arg(long, value_enum, default_value = "apply")]
    pub format: MigrateFormat,

    /// Print the plan (phases, steps, impact, risk) instead.
    #[arg(long)]
    pub plan: bool,

    /// `-o json`: the plan as JSON (schema amctl.migrate/v1).
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<PlanOutput>,

    /// Only this phase: 1 infrastructure, 2 resources, 3 hardening.
    #[arg(long, value_name = "N")]
    pub phase: Option<u8>,

    /// Include steps that lose or strand data (rollbacks, downgrades).
    #[arg(long)]
    pub allow_data_loss: bool,

    /// Include server upgrades that move the data (a PostgreSQL major version: dump and
    /// restore; Kafka's metadata version, which cannot be lowered again; a Flink major version).
    #[arg(long)]
    pub allow_data_migration: bool,

    /// Delete objects only FROM has (never PersistentVolumeClaims).
    #[arg(long)]
    pub prune: bool,

    /// Plan toward a TO that fails validation (its errors are still printed).
    #[arg(long)]
    pub skip_validation: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MigrateFormat {
    Apply,
    Script,
    Patches,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct SecretsCmd {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// Print the script even if validation finds errors (they are still printed).
    #[arg(long)]
    pub skip_validation: bool,
}

#[derive(Args, Debug)]
pub struct ShowCmd {
    /// Built-in profile name (demo, prod) or path to a profile TOML file.
    #[arg(value_name = "PROFILE")]
    pub profile: String,

    /// Override a profile value (repeatable), as for `render`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "toml")]
    pub output: ShowFormat,
}

#[derive(Args, Debug)]
pub struct FitCmd {
    /// Built-in profile name (demo, prod) or path to a profile TOML file: the base to size.
    #[arg(value_name = "PROFILE")]
    pub profile: String,

    /// Nodes in the cluster.
    #[arg(long, value_name = "N")]
    pub nodes: u32,

    /// Memory of each node, a Kubernetes quantity (`16Gi`).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub node_memory: String,

    /// CPUs of each node (`8`, `3500m`).
    #[arg(long, value_name = "CPU", allow_hyphen_values = true)]
    pub node_cpu: String,

    /// The distribution, for its reservations (default: PROFILE's).
    #[arg(long, value_enum)]
    pub distribution: Option<FitDistribution>,

    /// Zones the nodes are spread over, comma-separated (default: PROFILE's, at most one per node).
    #[arg(long, value_delimiter = ',', value_name = "ZONE,...")]
    pub zones: Option<Vec<String>>,

    /// Share of the platform's memory and CPU left free (`10%`).
    #[arg(long, default_value = "10%", allow_hyphen_values = true)]
    pub headroom: String,

    /// Keep PROFILE's replica counts where the nodes allow them: do not raise them to the HA
    /// counts (a standby, 3 brokers, Aerospike RF 2, 2 JobManagers) from three nodes on.
    #[arg(long)]
    pub keep_replicas: bool,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "toml")]
    pub output: ShowFormat,

    /// Also print, on stderr, every key fit set: old value, new value, and the rule that chose it.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FitDistribution {
    K3s,
    Kind,
    Managed,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ShowFormat {
    Toml,
    Json,
}

// Options shared by every command that loads a profile. (A plain comment: as a doc comment it
// would be the `about` of every command that flattens it, over the command's own.)
#[derive(Args, Debug, Clone)]
pub struct ProfileArgs {
    /// Built-in profile name (demo, prod) or path to a profile TOML file.
    #[arg(value_name = "PROFILE")]
    pub profile: String,

    /// Namespace to install into.
    #[arg(short = 'n', long, default_value = DEFAULT_NAMESPACE, value_name = "NAMESPACE")]
    pub namespace: String,

    /// Override a profile value, typed by the profile schema (repeatable):
    /// `--set kafka.brokers=3`, `--set api.services[segment-api].replicas=2`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

#[derive(Args, Debug)]
pub struct RenderCmd {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// Output format: a YAML stream, or a JSON `v1` List.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub output: OutputFormat,

    /// Write one file per object plus kustomization.yaml into DIR (replaced atomically)
    /// instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Render even if validation finds errors (they are still printed, loudly).
    #[arg(long)]
    pub skip_validation: bool,

    /// Drift check: compare with DIR (an earlier --out-dir render) instead of printing.
    /// Exit 0 when identical, 1 when files changed, are missing or extra, 2 on error.
    #[arg(long, value_name = "DIR", conflicts_with = "out_dir")]
    pub check: Option<PathBuf>,
}

pub fn run(cli: Cli) -> anyhow::Result<amctl::Exit> {
    match cli.command {
        Command::Render(cmd) => Ok(render::run(&RenderArgs {
            profile: cmd.profile.profile,
            namespace: cmd.profile.namespace,
            sets: cmd.profile.sets,
            format: match cmd.output {
                OutputFormat::Yaml => Format::Yaml,
                OutputFormat::Json => Format::Json,
            },
            out_dir: cmd.out_dir,
            skip_validation: cmd.skip_validation,
            check: cmd.check,
        })?),
        Command::Validate(cmd) => {
            use amctl::commands::validate::{Format, ValidateArgs, run};
            Ok(run(&ValidateArgs {
                profiles: cmd.profiles,
                all: cmd.all,
                namespace: cmd.namespace,
                sets: cmd.sets,
                format: match cmd.output {
                    ValidateFormat::Human => Format::Human,
                    ValidateFormat::Json => Format::Json,
                    ValidateFormat::Github => Format::Github,
                },
                strict: cmd.strict,
            })?)
        }
        Command::Budget(cmd) => {
            use amctl::commands::budget::{BudgetArgs, Format, run};
            Ok(run(&BudgetArgs {
                profile: cmd.profile.profile,
                namespace: cmd.profile.namespace,
                sets: cmd.profile.sets,
                format: match cmd.output {
                    BudgetFormat::Text => Format::Text,
                    BudgetFormat::Json => Format::Json,
                },
                svg: cmd.svg,
            })?)
        }
        Command::Diff(cmd) => {
            use amctl::commands::diff::{DiffArgs, View, run};
            Ok(run(&DiffArgs {
                from: cmd.from,
                to: cmd.to,
                namespace: cmd.namespace,
                from_sets: cmd.from_sets,
                to_sets: cmd.sets,
                view: match (cmd.fields, cmd.output) {
                    (true, _) => View::Fields,
                    (false, Some(DiffFormat::Json)) => View::Json,
                    _ => View::Unified,
                },
                context: cmd.context,
                exit_zero: cmd.exit_zero,
            })?)
        }
        Command::Migrate(cmd) => {
            use amctl::commands::migrate::{Format, MigrateArgs, run};
            let format = match (cmd.output, cmd.plan, cmd.format) {
                (Some(PlanOutput::Json), _, _) => Format::Json,
                (Some(PlanOutput::Text), _, _) | (None, true, _) => Format::Plan,
                (None, false, MigrateFormat::Apply) => Format::Apply,
                (None, false, MigrateFormat::Script) => Format::Script,
                (None, false, MigrateFormat::Patches) => Format::Patches,
            };
            Ok(run(&MigrateArgs {
                from: cmd.from,
                to: cmd.to,
                namespace: cmd.namespace,
                from_sets: cmd.from_sets,
                to_sets: cmd.sets,
                format,
                phase: cmd.phase,
                allow_data_loss: cmd.allow_data_loss,
                allow_data_migration: cmd.allow_data_migration,
                prune: cmd.prune,
                skip_validation: cmd.skip_validation,
            })?)
        }
        Command::Explain { key, profile } => Ok(amctl::commands::explain::run(&key, &profile)?),
        Command::Schema { partial } => Ok(amctl::commands::schema::run(partial)?),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "amctl", &mut out);
            amctl::output::print(&String::from_utf8_lossy(&out))?;
            Ok(amctl::Exit::Ok)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            amctl::output::print(&String::from_utf8_lossy(&out))?;
            Ok(amctl::Exit::Ok)
        }
        Command::Secrets(cmd) => Ok(amctl::commands::secrets::run(
            &amctl::commands::secrets::SecretsArgs {
                profile: cmd.profile.profile,
                namespace: cmd.profile.namespace,
                sets: cmd.profile.sets,
                skip_validation: cmd.skip_validation,
            },
        )?),
        Command::Fit(cmd) => {
            use amctl::commands::fit::{FitArgs, Format, run};
            use amctl::profile::Distribution;
            Ok(run(&FitArgs {
                profile: cmd.profile,
                nodes: cmd.nodes,
                node_memory: cmd.node_memory,
                node_cpu: cmd.node_cpu,
                distribution: cmd.distribution.map(|d| match d {
                    FitDistribution::K3s => Distribution::K3s,
                    FitDistribution::Kind => Distribution::Kind,
                    FitDistribution::Managed => Distribution::Managed,
                }),
                zones: cmd.zones,
                headroom: cmd.headroom,
                keep_replicas: cmd.keep_replicas,
                format: match cmd.output {
                    ShowFormat::Toml => Format::Toml,
                    ShowFormat::Json => Format::Json,
                },
                explain: cmd.explain,
            })?)
        }
        Command::Show(cmd) => Ok(amctl::commands::show::run(
            &cmd.profile,
            &cmd.sets,
            match cmd.output {
                ShowFormat::Toml => amctl::commands::show::Format::Toml,
                ShowFormat::Json => amctl::commands::show::Format::Json,
            },
        )?),
    }
}
