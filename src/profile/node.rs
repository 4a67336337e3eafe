//! A TOML tree that remembers where each key and value was written.
//!
//! Profiles are merged (`extends`, `--set`) before they are typed, and a merged tree must still
//! say which file and line each value came from, so errors point at the line the user must edit.

use crate::source::{Loc, Source};
use std::collections::BTreeMap;
use std::sync::Arc;
use toml::de::{DeTable, DeValue};

#[derive(Clone, Debug)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// TOML datetimes are kept as text; no profile key takes one.
    Datetime(String),
    Array(Vec<Node>),
    Table(BTreeMap<String, Entry>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub at: Loc,
}

/// A table entry: the value and where its key was written.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key_at: Loc,
    pub node: Node,
}

impl Node {
    /// Parses a TOML document, keeping spans.
    pub(crate) fn parse_document(source: &Arc<Source>) -> Result<Node, (String, Loc)> {
        let parsed = DeTable::parse(&source.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            (e.message().trim().to_string(), Loc::new(source, span))
        })?;
        let span = parsed.span();
        Ok(Node {
            value: Value::Table(convert_table(parsed.into_inner(), source)),
            at: Loc::new(source, span.start..span.start),
        })
    }

    /// Parses a lone TOML value (the right-hand side of `--set`).
    pub(crate) fn parse_value(source: &Arc<Source>, offset: usize, text: &str) -> Option<Node> {
        let parsed = DeValue::parse(text).ok()?;
        let mut node = convert(parsed, source);
        shift(&mut node, offset, text.len());
        Some(node)
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self.value {
            Value::Str(_) => "string",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Bool(_) => "boolean",
            Value::Datetime(_) => "datetime",
            Value::Array(_) => "array",
            Value::Table(_) => "table",
        }
    }

    pub(crate) fn as_table(&self) -> Option<&BTreeMap<String, Entry>> {
        match &self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_table()?.get(key)
    }

    /// Deep-merges `child` over `self`: tables merge key by key, arrays of tables that all carry a
    /// `name` merge item by item (so an overlay can change one API service), anything else is
    /// replaced by the child's value.
    pub fn merge(&mut self, child: Node) {
        match (&mut self.value, child.value) {
            (Value::Table(base), Value::Table(over)) => {
                for (k, entry) in over {
                    match base.get_mut(&k) {
                        Some(existing) => {
                            existing.key_at = entry.key_at;
                            existing.node.merge(entry.node);
                        }
                        None => {
                            base.insert(k, entry);
                        }
                    }
                }
            }
            // An explicit empty list replaces the parent's.
            (Value::Array(base), Value::Array(over))
                if !over.is_empty()
                    && named_items(base).is_some()
                    && named_items(&over).is_some() =>
            {
                // Index the parent's items once: overlays of thousands of items stay linear.
                let mut index: std::collections::HashMap<String, usize> = base
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| item_name(b).map(|n| (n.to_string(), i)))
                    .collect();
                for item in over {
                    let name = item_name(&item).unwrap_or_default().to_string();
                    match index.get(&name) {
                        Some(&i) => base[i].merge(item),
                        None => {
                            index.insert(name, base.len());
                            base.push(item);
                        }
                    }
                }
                self.at = child.at;
            }
            (_, value) => {
                self.value = value;
                self.at = child.at;
            }
        }
    }
}

fn item_name(node: &Node) -> Option<&str> {
    match &node.get("name")?.node.value {
        Value::Str(s) => Some(s),
        _ => None,
    }
}

fn named_items(items: &[Node]) -> Option<()> {
    items.iter().all(|i| item_name(i).is_some()).then_some(())
}

fn convert_table(table: DeTable<'_>, source: &Arc<Source>) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    for (k, v) in table {
        let key_span = k.span();
        let key = k.into_inner().into_owned();
        let node = convert(v, source);
        out.insert(
            key,
            Entry {
                key_at: Loc::new(source, key_span),
                node,
            },
        );
    }
    out
}

fn convert(value: toml::Spanned<DeValue<'_>>, source: &Arc<Source>) -> Node {
    let span = value.span();
    let at = Loc::new(source, span);
    let value = match value.into_inner() {
        DeValue::String(s) => Value::Str(s.into_owned()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Int(n),
            // Out of i64 range: keep the text so the schema reports the mismatch.
            Err(_) => Value::Str(i.to_string()),
        },
        DeValue::Float(f) => Value::Float(f.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => {
            Value::Array(items.into_iter().map(|v| convert(v, source)).collect())
        }
        DeValue::Table(t) => Value::Table(convert_table(t, source)),
    };
    Node { value, at }
}

/// Moves spans parsed from a fragment to their place in the whole argument.
fn shift(node: &mut Node, offset: usize, len: usize) {
    let clamp = |x: usize| (x.min(len)) + offset;
    node.at.span = clamp(node.at.span.start)..clamp(node.at.span.end);
    match &mut node.value {
        Value::Array(items) => items.iter_mut().for_each(|n| shift(n, offset, len)),
        Value::Table(t) => t.values_mut().for_each(|e| {
            e.key_at.span = clamp(e.key_at.span.start)..clamp(e.key_at.span.end);
            shift(&mut e.node, offset, len)
        }),
        _ => {}
    }
}
