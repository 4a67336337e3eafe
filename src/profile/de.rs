//! serde over a spanned [`Node`] tree: type errors come back with the key path and the position
//! of the exact key or value at fault, and unknown keys with the list of keys that would fit.

use super::node::{Node, Value};
use crate::source::Loc;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::fmt;

/// One step of a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

pub(crate) fn format_path(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[derive(Debug)]
pub(crate) struct DeError {
    pub message: String,
    /// Outermost first once the error has left the deserializer.
    pub path: Vec<Seg>,
    pub at: Option<Loc>,
    /// For an unknown key or enum variant: what would have been accepted.
    pub expected: Option<&'static [&'static str]>,
    /// The offending word, for did-you-mean.
    pub unknown: Option<String>,
    /// Set when the error is about a key's name rather than its value.
    pub is_key: bool,
}

impl DeError {
    fn new(message: String) -> DeError {
        DeError {
            message,
            path: Vec::new(),
            at: None,
            expected: None,
            unknown: None,
            is_key: false,
        }
    }
    fn within(mut self, seg: Seg, at: &Loc) -> DeError {
        if self.at.is_none() {
            self.at = Some(at.clone());
        }
        self.path.insert(0, seg);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(format!("unknown key `{field}`"));
        e.expected = Some(expected);
        e.unknown = Some(field.to_string());
        e.is_key = true;
        e
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(format!(
            "unknown value `{variant}`, expected one of {}",
            expected
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        e.expected = Some(expected);
        e.unknown = Some(variant.to_string());
        e
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::new(format!("missing key `{field}`"))
    }
}

/// Deserializes `T` from a node tree.
pub(crate) fn from_node<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(|mut e| {
        if e.at.is_none() {
            e.at = Some(node.at.clone());
        }
        e
    })
}

struct NodeDe<'a>(&'a Node);

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Str(s) => visitor.visit_str(s),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Datetime(d) => visitor.visit_str(d),
            Value::Array(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                index: 0,
            }),
            Value::Table(t) => visitor.visit_map(MapAccess {
                entries: t.iter(),
                current: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::invalid_type(unexpected(self.0), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

fn unexpected(node: &Node) -> de::Unexpected<'_> {
    match &node.value {
        Value::Str(s) => de::Unexpected::Str(s),
        Value::Int(i) => de::Unexpected::Signed(*i),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Datetime(_) => de::Unexpected::Other("a datetime"),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Table(_) => de::Unexpected::Map,
    }
}

struct SeqAccess<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'de> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(NodeDe(node))
            .map(Some)
            .map_err(|e| e.within(Seg::Index(index), &node.at))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    entries: std::collections::btree_map::Iter<'a, String, super::node::Entry>,
    current: Option<(&'a String, &'a super::node::Entry)>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, entry)) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some((k, entry));
        seed.deserialize(k.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: DeError| e.within(Seg::Key(k.clone()), &entry.key_at))
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (k, entry) = self
            .current
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value requested before key"))?;
        seed.deserialize(NodeDe(&entry.node))
            .map_err(|e| e.within(Seg::Key(k.clone()), &entry.node.at))
    }
}
