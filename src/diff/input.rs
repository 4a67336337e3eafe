//! Reading either side of a diff: a profile's render, or Kubernetes YAML from a file,
//! a directory or stdin (multi-document streams and `kind: List` both accepted).

use super::{Obj, is_live, strip_server_fields};
use crate::error::{Error, InputError};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// Whether `arg` names a profile (built-in name or `.toml` file) rather than YAML.
pub(crate) fn is_profile(arg: &str) -> bool {
    if arg == "-" {
        return false;
    }
    crate::profile::load::builtin(arg).is_some() || arg.ends_with(".toml")
}

/// The objects of a render, as a diff reads them.
pub fn objects(bundle: &crate::kube::Bundle) -> Result<Vec<Obj>, Error> {
    bundle
        .items
        .iter()
        .map(|i| {
            let value = serde_json::to_value(&i.object).map_err(|e| Error::Convert {
                object: i.object.name().to_string(),
                detail: e.to_string(),
            })?;
            Ok(Obj {
                kind: i.object.kind().to_string(),
                namespace: i.object.metadata().namespace.clone().unwrap_or_default(),
                name: i.object.name().to_string(),
                value,
                live: false,
                status: None,
                applied: None,
            })
        })
        .collect()
}

/// Objects read back from a cluster that are not amctl's: a namespace holds what Kubernetes
/// creates in every namespace (`serviceaccount/default`, `configmap/kube-root-ca.crt`), what
/// controllers make from amctl's objects (pods, ReplicaSets, Endpoints, Jobs of a CronJob, the
/// claims of a StatefulSet), Secrets, and whatever else its users put there. A live object is
/// amctl's when it is of a kind amctl renders, carries amctl's `managed-by` label and no
/// controller owns it; the others are left out of every comparison and plan (so `--prune` never
/// names them).
pub fn split_foreign(objects: Vec<Obj>) -> (Vec<Obj>, Vec<Obj>) {
    objects.into_iter().partition(|o| !o.live || is_amctls(o))
}

fn is_amctls(o: &Obj) -> bool {
    let meta = &o.value["metadata"];
    crate::kube::bundle::step_rank(&o.kind).is_some()
        && meta["labels"]["app.kubernetes.io/managed-by"] == crate::kube::ctx::MANAGED_BY
        && !meta["ownerReferences"]
            .as_array()
            .is_some_and(|owners| owners.iter().any(|r| r["controller"] == true))
}

/// Reads Kubernetes YAML: `-` for stdin, a directory of YAML files, or one file.
pub fn read(arg: &str) -> Result<Vec<Obj>, Error> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("read", "<stdin>", e))?;
        return parse_stream("<stdin>", &text);
    }
    let path = Path::new(arg);
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io("read directory", path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
                    && p.file_name().is_none_or(|n| n != "kustomization.yaml")
            })
            .collect();
        files.sort();
        let mut out = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| Error::io("read", &f, e))?;
            out.extend(parse_stream(&f.display().to_string(), &text)?);
        }
        return Ok(out);
    }
    if !path.exists() {
        let names: Vec<&str> = crate::profile::load::BUILTINS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let mut e = InputError::new(format!(
            "`{arg}` is neither a built-in profile ({}) nor an existing file or directory",
            names.join(", ")
        ));
        e = match crate::error::did_you_mean(arg, names.iter().copied()) {
            Some(s) => e.help(format!("did you mean `{s}`?")),
            None => e.help(
                "pass a built-in profile, a profile .toml file, rendered YAML (a file or a directory), or `-` for stdin",
            ),
        };
        return Err(e.into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    parse_stream(arg, &text)
}

/// Line numbers where each document of a stream starts (after a `---` marker).
fn document_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![1];
    for (i, line) in text.lines().enumerate() {
        if (line == "---" || line.starts_with("--- ")) && i > 0 {
            starts.push(i + 2);
        }
    }
    starts
}

fn document_of(starts: &[usize], line: usize) -> usize {
    starts.iter().filter(|s| **s <= line).count().max(1)
}

/// Parses a YAML (or JSON) stream into objects, with the file, document and line of any problem.
pub fn parse_stream(file: &str, text: &str) -> Result<Vec<Obj>, Error> {
    let starts = document_starts(text);
    // The parser's budget guards against YAML bombs; a cluster dump of many thousand objects is
    // legitimate, so the limits grow with the input (aliases keep their defaults).
    let n = text.len();
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: n / 2 + 1024,
            max_nodes: n + 250_000,
            max_events: 2 * n + 1_000_000,
            max_total_scalar_bytes: n + (64 << 20),
        },
    };
    let docs: Vec<serde_saphyr::Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            let line = e.location().map(|l| l.line() as usize).unwrap_or(0);
            let col = e.location().map(|l| l.column() as usize).unwrap_or(0);
            let doc = document_of(&starts, line);
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("").to_string();
            Error::from(InputError::new(format!(
                "{file}:{line}:{col}: document {doc} is not valid YAML: {first}"
            )))
        })?;
    let mut out = Vec::new();
    for d in docs {
        let line = d.referenced.line() as usize;
        let doc = document_of(&starts, line);
        let value = d.value;
        if value.is_null() {
            continue;
        }
        if value["kind"] == "List"
            || value["kind"].as_str().is_some_and(|k| k.ends_with("List"))
                && value["items"].is_array()
        {
            for (i, item) in value["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
            {
                out.push(object(file, doc, line, Some(i), item)?);
            }
        } else {
            out.push(object(file, doc, line, None, value)?);
        }
    }
    Ok(out)
}

fn object(
    file: &str,
    doc: usize,
    line: usize,
    item: Option<usize>,
    mut value: Value,
) -> Result<Obj, Error> {
    let where_ = match item {
        Some(i) => format!("{file}:{line}: document {doc}, List item {i}"),
        None => format!("{file}:{line}: document {doc}"),
    };
    if !value.is_object() {
        return Err(InputError::new(format!("{where_} is not a Kubernetes object (a mapping with apiVersion, kind and metadata.name)")).into());
    }
    let kind = value["kind"].as_str().map(str::to_string);
    let name = value["metadata"]["name"].as_str().map(str::to_string);
    let (Some(kind), Some(name)) = (kind, name) else {
        let missing = if value["kind"].as_str().is_none() {
            "kind"
        } else {
            "metadata.name"
        };
        return Err(InputError::new(format!(
            "{where_} has no {missing}: every object needs apiVersion, kind and metadata.name"
        ))
        .into());
    };
    let live = is_live(&value);
    let (status, applied) = if live {
        strip_server_fields(&mut value)
    } else {
        (None, None)
    };
    let namespace = value["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    Ok(Obj {
        kind,
        namespace,
        name,
        value,
        live,
        status,
        applied,
    })
}
