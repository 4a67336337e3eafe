//! Finding, parsing, merging (`extends`, `--set`) and typing a profile.

use super::Profile;
use super::de::{DeError, format_path, from_node};
use super::node::{Entry, Node, Value};
use crate::error::{Error, InputError, did_you_mean};
use crate::source::{Loc, Source};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The profiles built into the binary, so `amctl render demo` works from any directory.
pub(crate) const BUILTINS: &[(&str, &str)] = &[
    ("demo", include_str!("../../profiles/demo.toml")),
    ("prod", include_str!("../../profiles/prod.toml")),
];

pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--set key.path=value` overrides, applied in order after `extends`.
    pub sets: Vec<String>,
}

/// A typed profile and the merged tree it came from (for positions of any key).
#[derive(Debug)]
pub struct Loaded {
    /// The argument as given (`demo`, `./staging.toml`).
    pub name: String,
    /// Source name of the profile itself (not its parents): findings prefer keys written there.
    pub main_source: String,
    pub profile: Profile,
    pub tree: Node,
}

impl Loaded {
    /// Where a key path (`["kafka", "brokers"]`, `["aerospike","namespaces","0","name"]`) was
    /// set; for a key left at its default, where its nearest enclosing table was written.
    pub(crate) fn locate(&self, path: &[&str]) -> Option<Loc> {
        let mut node = &self.tree;
        let mut at = None;
        for seg in path {
            let next = match &node.value {
                Value::Table(t) => t.get(*seg).map(|e| (Some(e.key_at.clone()), &e.node)),
                Value::Array(items) => seg
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|n| (Some(n.at.clone()), n)),
                _ => None,
            };
            match next {
                Some((loc, n)) => {
                    at = loc;
                    node = n;
                }
                None => break,
            }
        }
        at.or_else(|| Some(node.at.clone()))
    }

    /// Where a key was written, only if it was (no fallback to an enclosing table).
    pub(crate) fn locate_exact(&self, key: &str) -> Option<Loc> {
        let segs = split_key(key);
        let mut node = &self.tree;
        let mut at = None;
        for seg in &segs {
            match &node.value {
                Value::Table(t) => {
                    let e = t.get(seg.as_str())?;
                    at = Some(e.key_at.clone());
                    node = &e.node;
                }
                Value::Array(items) => {
                    node = items.get(seg.parse::<usize>().ok()?)?;
                    at = Some(node.at.clone());
                }
                _ => return None,
            }
        }
        at
    }

    /// Of several keys that bear on one finding, the one to point at: the first the user's own
    /// profile (or a `--set`) wrote, else the first written anywhere, else the first.
    pub(crate) fn best_key<'k>(&self, keys: &[&'k str]) -> (&'k str, Option<Loc>) {
        let exact: Vec<(&str, Option<Loc>)> =
            keys.iter().map(|k| (*k, self.locate_exact(k))).collect();
        let mine = exact.iter().find(|(_, at)| {
            at.as_ref()
                .is_some_and(|a| a.source.is_argument || a.source.name == self.main_source)
        });
        if let Some((k, at)) = mine.or_else(|| exact.iter().find(|(_, at)| at.is_some())) {
            return (k, at.clone());
        }
        let first = keys.first().copied().unwrap_or("");
        (first, self.locate_key(first))
    }

    /// [`Loaded::locate`] for a dotted key path with list indexes: `aerospike.namespaces[0].data_size`.
    pub(crate) fn locate_key(&self, key: &str) -> Option<Loc> {
        let segs = split_key(key);
        let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
        self.locate(&refs)
    }
}

/// The segments of a dotted key path: `a.b[0].c` → a, b, 0, c; a quoted segment keeps its dots
/// (`kafka.settings."log.dirs"` → kafka, settings, log.dirs).
fn split_key(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut seg = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    seg.push(q);
                }
            }
            '.' | '[' | ']' => {
                if !seg.is_empty() {
                    out.push(std::mem::take(&mut seg));
                }
            }
            _ => seg.push(c),
        }
    }
    if !seg.is_empty() {
        out.push(seg);
    }
    out
}

#[cfg(test)]
mod split_tests {
    #[test]
    fn key_paths_split_into_segments() {
        assert_eq!(
            super::split_key("api.services[segment-api].replicas"),
            ["api", "services", "segment-api", "replicas"]
        );
        assert_eq!(
            super::split_key("aerospike.namespaces[0].data_size"),
            ["aerospike", "namespaces", "0", "data_size"]
        );
        assert_eq!(
            super::split_key("kafka.settings.\"log.dirs\""),
            ["kafka", "settings", "log.dirs"]
        );
    }
}

/// Where a profile's text comes from.
#[derive(Clone, Debug, PartialEq)]
enum Origin {
    Builtin(String),
    File(PathBuf),
}

impl Origin {
    fn display(&self) -> String {
        match self {
            Origin::Builtin(n) => format!("builtin:{n}"),
            Origin::File(p) => p.display().to_string(),
        }
    }
}

/// Loads a profile by built-in name or path, resolving `extends` and applying `--set`.
pub fn load(spec: &str, opts: &LoadOptions) -> Result<Loaded, Error> {
    let origin = resolve_argument(spec)?;
    let main_source = origin.display();
    let mut tree = load_chain(origin, &mut Vec::new(), None)?;
    let mut set_sources = Vec::new();
    for (i, set) in opts.sets.iter().enumerate() {
        set_sources.push(apply_set(&mut tree, set, i)?);
    }
    let profile = type_tree(&mut tree, &set_sources)?;
    Ok(Loaded {
        name: spec.to_string(),
        main_source,
        profile,
        tree,
    })
}

/// Loads profile text directly (benchmarks, tests, fuzzing); `extends` may name built-ins only.
pub fn load_str(name: &str, text: &str) -> Result<Loaded, Error> {
    let source = Arc::new(Source {
        name: name.to_string(),
        text: text.to_string(),
        is_argument: false,
    });
    let mut tree = parse(&source)?;
    if let Some(parent) = extends_of(&tree)? {
        let (value, at) = parent;
        if builtin(&value).is_none() {
            return Err(InputError::new(format!(
                "`extends = \"{value}\"` names no built-in profile"
            ))
            .at(Some(at))
            .into());
        }
        let mut base = load_chain(Origin::Builtin(value), &mut Vec::new(), None)?;
        strip_extends(&mut tree);
        base.merge(tree);
        tree = base;
    }
    let profile = type_tree(&mut tree, &[])?;
    Ok(Loaded {
        name: name.to_string(),
        main_source: name.to_string(),
        profile,
        tree,
    })
}

fn resolve_argument(spec: &str) -> Result<Origin, Error> {
    if builtin(spec).is_some() {
        return Ok(Origin::Builtin(spec.to_string()));
    }
    let path = PathBuf::from(spec);
    if path.is_file() {
        return Ok(Origin::File(path));
    }
    let names: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
    let mut err = InputError::new(if path.exists() {
        format!("profile `{spec}` is not a file")
    } else {
        format!(
            "no profile `{spec}`: it is neither a built-in profile ({}) nor an existing file",
            names.join(", ")
        )
    });
    if let Some(s) = did_you_mean(spec, names.iter().copied()) {
        err = err.help(format!("did you mean `{s}`?"));
    } else {
        err = err.help("pass a built-in name or the path of a profile TOML file");
    }
    Err(err.into())
}

fn read(origin: &Origin) -> Result<Arc<Source>, Error> {
    let text = match origin {
        Origin::Builtin(n) => builtin(n)
            .ok_or_else(|| Error::Usage(crate::error::Usage::NoBuiltin(n.to_string())))?
            .to_string(),
        Origin::File(p) => {
            std::fs::read_to_string(p).map_err(|e| Error::io("read profile", p, e))?
        }
    };
    Ok(Arc::new(Source {
        name: origin.display(),
        text,
        is_argument: false,
    }))
}

fn parse(source: &Arc<Source>) -> Result<Node, Error> {
    Node::parse_document(source).map_err(|(message, at)| {
        InputError::new(format!("malformed TOML: {message}"))
            .at(Some(at))
            .into()
    })
}

fn extends_of(tree: &Node) -> Result<Option<(String, Loc)>, Error> {
    match tree.get("extends") {
        None => Ok(None),
        Some(Entry { node, .. }) => match &node.value {
            Value::Str(s) => Ok(Some((s.clone(), node.at.clone()))),
            _ => Err(InputError::new(format!(
                "`extends` must be a string (a built-in profile name or a path), not a {}",
                node.type_name()
            ))
            .at(Some(node.at.clone()))
            .key("extends")
            .into()),
        },
    }
}

fn strip_extends(tree: &mut Node) {
    if let Value::Table(t) = &mut tree.value {
        t.remove("extends");
    }
}

/// Loads `origin` and everything it extends, parents first; `chain` detects cycles.
/// `chain` holds (identity, as shown) of the profiles being loaded, to detect cycles.
fn load_chain(
    origin: Origin,
    chain: &mut Vec<(Origin, String)>,
    from: Option<&Loc>,
) -> Result<Node, Error> {
    let identity = match &origin {
        Origin::File(p) => Origin::File(p.canonicalize().unwrap_or_else(|_| p.clone())),
        b => b.clone(),
    };
    if chain.iter().any(|(id, _)| *id == identity) {
        let cycle: Vec<String> = chain
            .iter()
            .map(|(_, shown)| shown.clone())
            .chain(std::iter::once(origin.display()))
            .collect();
        return Err(
            InputError::new(format!("`extends` forms a cycle: {}", cycle.join(" → ")))
                .at(from.cloned())
                .key("extends")
                .help("a profile may not extend itself, directly or through its parents")
                .into(),
        );
    }
    let source = read(&origin)?;
    let mut tree = parse(&source)?;
    chain.push((identity, origin.display()));
    if let Some((parent, at)) = extends_of(&tree)? {
        let parent_origin = if builtin(&parent).is_some() {
            Origin::Builtin(parent.clone())
        } else {
            let base_dir = match &origin {
                Origin::File(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
                Origin::Builtin(_) => PathBuf::new(),
            };
            let candidate = base_dir.join(&parent);
            if !candidate.is_file() {
                let names: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
                let mut err = InputError::new(format!(
                    "`extends = \"{parent}\"`: no built-in profile of that name and no file `{}`",
                    candidate.display()
                ))
                .at(Some(at))
                .key("extends");
                err = match did_you_mean(&parent, names.iter().copied()) {
                    Some(s) => err.help(format!("did you mean `{s}`?")),
                    None => err.help(format!(
                        "name a built-in profile ({}) or a path relative to this file",
                        names.join(", ")
                    )),
                };
                return Err(err.into());
            }
            Origin::File(candidate)
        };
        let mut base = load_chain(parent_origin, chain, Some(&at))?;
        strip_extends(&mut tree);
        base.merge(tree);
        tree = base;
    }
    chain.pop();
    Ok(tree)
}

/// What a `--set` put where, so a type mismatch can be retried as a string.
struct SetSource {
    source: Arc<Source>,
    path: Vec<PathSeg>,
    raw: String,
    value_offset: usize,
}

#[derive(Clone, Debug)]
enum PathSeg {
    Key(String),
    Index(usize),
    Named(String),
}

fn parse_set_path(path: &str) -> Option<Vec<PathSeg>> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return None;
        }
        segs.push(PathSeg::Key(key.to_string()));
        while !rest.is_empty() {
            let close = rest.find(']')?;
            let inner = rest.get(1..close)?;
            if inner.is_empty() {
                return None;
            }
            segs.push(match inner.parse::<usize>() {
                Ok(i) => PathSeg::Index(i),
                Err(_) => PathSeg::Named(inner.to_string()),
            });
            rest = &rest[close + 1..];
        }
    }
    Some(segs)
}

fn apply_set(tree: &mut Node, set: &str, index: usize) -> Result<SetSource, Error> {
    let source = Arc::new(Source {
        name: format!("--set {set}"),
        text: set.to_string(),
        is_argument: true,
    });
    let whole = Loc::new(&source, 0..set.len());
    let Some((path_text, raw)) = set.split_once('=') else {
        return Err(InputError::new(format!(
            "--set `{set}` has no `=`: expected KEY.PATH=VALUE, e.g. --set kafka.brokers=3"
        ))
        .at(Some(whole))
        .into());
    };
    let path_text = path_text.trim();
    let Some(path) = parse_set_path(path_text) else {
        return Err(InputError::new(format!(
            "--set `{set}`: `{path_text}` is not a key path; expected keys joined by dots, with [N] or [name] for list items (e.g. api.services[segment-api].replicas)"
        ))
        .at(Some(Loc::new(&source, 0..path_text.len())))
        .into());
    };
    let value_offset = set.len() - raw.len();
    let value = Node::parse_value(&source, value_offset, raw.trim()).unwrap_or(Node {
        value: Value::Str(raw.to_string()),
        at: Loc::new(&source, value_offset..set.len()),
    });
    let key_at = Loc::new(&source, 0..path_text.len());
    let mut node = &mut *tree;
    let mut walked = String::new();
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        node = match seg {
            PathSeg::Key(k) => {
                let type_name = node.type_name();
                let Value::Table(table) = &mut node.value else {
                    return Err(InputError::new(format!(
                        "--set `{set}`: `{walked}` is a {type_name}, not a table, so it has no key `{k}`"
                    ))
                    .at(Some(key_at))
                    .into());
                };
                let entry = table.entry(k.clone()).or_insert_with(|| Entry {
                    key_at: key_at.clone(),
                    node: Node {
                        value: Value::Table(BTreeMap::new()),
                        at: key_at.clone(),
                    },
                });
                entry.key_at = key_at.clone();
                &mut entry.node
            }
            PathSeg::Index(n) => {
                let Value::Array(items) = &mut node.value else {
                    return Err(not_a_list(set, &walked, &key_at));
                };
                let len = items.len();
                items.get_mut(*n).ok_or_else(|| {
                    Error::from(
                        InputError::new(format!(
                            "--set `{set}`: `{walked}` has {len} item(s); index {n} is out of range"
                        ))
                        .at(Some(key_at.clone())),
                    )
                })?
            }
            PathSeg::Named(name) => {
                let Value::Array(items) = &mut node.value else {
                    return Err(not_a_list(set, &walked, &key_at));
                };
                let names: Vec<String> = items
                    .iter()
                    .filter_map(|n| match &n.get("name")?.node.value {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                let pos = names.iter().position(|n| n == name);
                match pos {
                    Some(p) => &mut items[p],
                    None => {
                        let mut err = InputError::new(format!(
                            "--set `{set}`: `{walked}` has no item named `{name}` (it has: {})",
                            names.join(", ")
                        ))
                        .at(Some(key_at.clone()));
                        if let Some(s) = did_you_mean(name, names.iter().map(String::as_str)) {
                            err = err.help(format!("did you mean `{walked}[{s}]`?"));
                        }
                        return Err(err.into());
                    }
                }
            }
        };
        match seg {
            PathSeg::Key(k) => {
                if !walked.is_empty() {
                    walked.push('.');
                }
                walked.push_str(k);
            }
            PathSeg::Index(n) => walked.push_str(&format!("[{n}]")),
            PathSeg::Named(n) => walked.push_str(&format!("[{n}]")),
        }
        if last {
            *node = value.clone();
        }
    }
    let _ = index;
    Ok(SetSource {
        source,
        path,
        raw: raw.to_string(),
        value_offset,
    })
}

fn not_a_list(set: &str, walked: &str, at: &Loc) -> Error {
    InputError::new(format!(
        "--set `{set}`: `{walked}` is not a list, so it cannot be indexed"
    ))
    .at(Some(at.clone()))
    .into()
}

/// Types the merged tree. A `--set` value that TOML read as a number or boolean but the schema
/// wants as a string (an image tag `1.0`, a version `16`) is retried as the string it was typed as.
fn type_tree(tree: &mut Node, sets: &[SetSource]) -> Result<Profile, Error> {
    let mut retried = vec![false; sets.len()];
    loop {
        match from_node::<Profile>(tree) {
            Ok(p) => return Ok(p),
            Err(e) => {
                let culprit = e
                    .at
                    .as_ref()
                    .and_then(|at| sets.iter().position(|s| Arc::ptr_eq(&s.source, &at.source)));
                if let Some(i) = culprit
                    && !retried[i]
                    && !e.is_key
                    && e.message.starts_with("invalid type")
                {
                    retried[i] = true;
                    let s = &sets[i];
                    if let Some(node) = find_mut(tree, &s.path) {
                        if matches!(node.value, Value::Str(_)) {
                            return Err(de_error(e));
                        }
                        node.value = Value::Str(s.raw.trim().to_string());
                        node.at = Loc::new(&s.source, s.value_offset..s.source.text.len());
                        continue;
                    }
                }
                return Err(de_error(e));
            }
        }
    }
}

fn find_mut<'a>(tree: &'a mut Node, path: &[PathSeg]) -> Option<&'a mut Node> {
    let mut node = tree;
    for seg in path {
        node = match (seg, &mut node.value) {
            (PathSeg::Key(k), Value::Table(t)) => &mut t.get_mut(k)?.node,
            (PathSeg::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            (PathSeg::Named(n), Value::Array(items)) => items.iter_mut().find(
                |it| matches!(it.get("name").map(|e| &e.node.value), Some(Value::Str(s)) if s == n),
            )?,
            _ => return None,
        };
    }
    Some(node)
}

/// Turns a deserialization error into a user-facing one with key path, position and help.
fn de_error(e: DeError) -> Error {
    let path = format_path(&e.path);
    let parent = format_path(&e.path[..e.path.len().saturating_sub(1)]);
    let mut message = e.message.clone();
    let mut help = Vec::new();
    if e.is_key {
        let table = if parent.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in [{parent}]")
        };
        message = format!("{message} {table}");
    } else if message.starts_with("missing key") {
        let where_ = if path.is_empty() {
            "the profile".to_string()
        } else {
            format!("[{path}]")
        };
        message = format!("{message} in {where_}");
        let key = message.split('`').nth(1).map(|k| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        });
        help.push(match key {
            Some(k) => format!(
                "every profile must set it (directly or through `extends`, e.g. `extends = \"demo\"`); `amctl explain {k}` says what it takes"
            ),
            None => "every profile must set it (directly or through `extends`); docs/profile.md lists every key".into(),
        });
    } else if !path.is_empty() {
        message = format!("`{path}`: {}", plain_types(&message));
    }
    if let (Some(word), Some(expected)) = (&e.unknown, e.expected) {
        match did_you_mean(word, expected.iter().copied()) {
            Some(s) if e.is_key => {
                let full = if parent.is_empty() {
                    s.to_string()
                } else {
                    format!("{parent}.{s}")
                };
                help.push(format!("did you mean `{full}`?"));
            }
            Some(s) => help.push(format!("did you mean `{s}`?")),
            None if e.is_key => help.push(format!("valid keys here: {}", expected.join(", "))),
            None => {}
        }
    }
    let mut err = InputError::new(message).at(e.at).key(path);
    err.help = help;
    err.into()
}

/// serde names Rust types; a profile author thinks in TOML values.
fn plain_types(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, plain) in [
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("expected a string", "expected a string (in quotes)"),
        ("expected a sequence", "expected a list ([...])"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: sequence", "invalid type: list"),
    ] {
        m = m.replace(rust, plain);
    }
    m
}
