//! `amctl secrets PROFILE`: a bash script that creates each Secret the render refers to and the
//! cluster lacks. Values are generated when the script runs (openssl) or come from the user's
//! environment, and go straight to kubectl through a pipe: amctl never sees, prints or writes
//! one, and neither does the script. An existing Secret is left as it is.

use crate::change::sh_quote;
use crate::components;
use crate::error::{Error, Exit};
use crate::kube::Ctx;
use crate::output;
use crate::pipeline::load;
use crate::render::{self, RenderOptions};
use crate::report::{Style, human_findings};
use crate::secrets::{SecretSpec, Source};
use crate::validate::{Finding, Severity, count, validate};
use std::fmt::Write as _;
use std::io::IsTerminal;

#[derive(Clone, Debug)]
pub struct SecretsArgs {
    pub profile: String,
    pub namespace: String,
    pub sets: Vec<String>,
    pub skip_validation: bool,
}

pub fn run(args: &SecretsArgs) -> Result<Exit, Error> {
    let loaded = load(&args.profile, &args.namespace, &args.sets)?;
    let bundle = render::render(
        &loaded.profile,
        &RenderOptions {
            namespace: args.namespace.clone(),
        },
    )?;
    // The same gate as `render`: no Secrets for a platform that would not be rendered.
    let findings = validate(&loaded, &bundle);
    if count(&findings, Severity::Error) > 0 {
        let style = Style::for_stream(std::io::stderr().is_terminal());
        let errors: Vec<Finding> = findings
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        eprint!("{}", human_findings(&errors, style));
        if !args.skip_validation {
            eprintln!(
                "error: `{}` has {} validation error(s); no script was printed (fix them, or pass --skip-validation)",
                args.profile,
                errors.len()
            );
            return Ok(Exit::Invalid);
        }
    }
    let ctx = Ctx::new(&loaded.profile, &args.namespace);
    let referred: Vec<&str> = bundle.secret_refs().into_iter().map(|r| r.name).collect();
    let specs: Vec<SecretSpec> = components::secrets(&ctx)
        .into_iter()
        .filter(|s| referred.contains(&s.name.as_str()))
        .collect();
    output::print(&script(&args.profile, &args.namespace, &specs))?;
    Ok(Exit::Ok)
}

/// The script for these Secrets in `namespace`.
pub fn script(profile: &str, namespace: &str, specs: &[SecretSpec]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "#!/usr/bin/env bash\n\
         # The Secrets amctl's render of `{profile}` refers to, for namespace {namespace}: each one the\n\
         # cluster lacks is created, an existing one is left as it is. Values are generated here\n\
         # (openssl) or read from your environment, and reach kubectl through a pipe: nothing is\n\
         # printed and nothing is written to a file.\n\
         #   amctl secrets {profile} | bash\n\
         set -euo pipefail\n\
         ns={ns}\n\
         for tool in kubectl openssl; do\n\
         \x20 command -v \"$tool\" >/dev/null || {{ echo \"amctl secrets: $tool is required\" >&2; exit 1; }}\n\
         done\n\
         exists() {{ kubectl -n \"$ns\" get secret \"$1\" >/dev/null 2>&1; }}\n\
         random() {{ openssl rand -base64 \"$1\" | tr -d '\\n'; }}\n",
        profile = sh_quote(profile),
        ns = sh_quote(namespace),
    );
    let outside: Vec<&SecretSpec> = specs
        .iter()
        .filter(|spec| {
            spec.keys
                .iter()
                .any(|k| matches!(k.source, Source::Env { .. } | Source::File { .. }))
        })
        .collect();
    if !outside.is_empty() {
        s.push_str(
            "\n# Values only you have, for the Secrets the cluster lacks: checked before anything is created.\n\
             missing=()\n",
        );
        for spec in &outside {
            let _ = writeln!(s, "if ! exists {}; then", sh_quote(&spec.name));
            for k in &spec.keys {
                let (test, var, what) = match &k.source {
                    Source::Env { var, what } => ("-n", var, what),
                    Source::File { var, what } => ("-r", var, what),
                    _ => continue,
                };
                let hint = format!(
                    "{var}: {what}{} (Secret {}, key {})",
                    if test == "-r" {
                        ", the path of a readable file"
                    } else {
                        ""
                    },
                    spec.name,
                    k.key
                );
                let _ = writeln!(
                    s,
                    "  [ {test} \"${{{var}:-}}\" ] || missing+=({})",
                    sh_quote(&hint)
                );
            }
            s.push_str("fi\n");
        }
        s.push_str(
            "if [ ${#missing[@]} -gt 0 ]; then\n\
             \x20 echo \"amctl secrets: set these environment variables, then run the script again:\" >&2\n\
             \x20 printf '  %s\\n' \"${missing[@]}\" >&2\n\
             \x20 exit 1\n\
             fi\n",
        );
    }
    // --save-config: the render's `kubectl apply` then takes the namespace over without
    // warning that it lacks a last-applied configuration.
    s.push_str(
        "\nkubectl get namespace \"$ns\" >/dev/null 2>&1 || kubectl create namespace \"$ns\" --save-config\n",
    );
    for spec in specs {
        let name = sh_quote(&spec.name);
        let _ = write!(
            s,
            "\n# {}: {}\n\
             if exists {name}; then\n\
             \x20 echo \"secret/{} exists: left as it is\"\n\
             else\n\
             \x20 kubectl -n \"$ns\" create secret generic {name}",
            spec.name, spec.purpose, spec.name
        );
        for k in &spec.keys {
            let arg = match &k.source {
                Source::Random { bytes } => {
                    format!("--from-file={}=<(random {bytes})", sh_quote(&k.key))
                }
                Source::Fixed(v) => sh_quote(&format!("--from-literal={}={v}", k.key)),
                Source::Env { var, .. } => {
                    format!("--from-file={}=<(printf '%s' \"${var}\")", sh_quote(&k.key))
                }
                Source::File { var, .. } => {
                    format!("--from-file={}=\"${var}\"", sh_quote(&k.key))
                }
            };
            let _ = write!(s, " \\\n    {arg}");
        }
        s.push_str("\nfi\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_they_need_it() {
        assert_eq!(sh_quote("audience-manager"), "audience-manager");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
