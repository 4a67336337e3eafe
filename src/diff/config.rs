//! Config files carried in ConfigMaps, flattened to key → value so they diff key by key.

use std::collections::BTreeMap;

/// How a file in a ConfigMap is read, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `key = value` with `#` comments (postgresql.conf).
    Postgres,
    /// `key=value` (Java properties: Kafka's server.properties).
    Properties,
    /// Nested `name { key value }` stanzas (aerospike.conf).
    Aerospike,
    /// YAML, nested keys joined with dots (Flink config.yaml, Spring application.yaml).
    Yaml,
}

pub(crate) fn format_of(file: &str) -> Option<Format> {
    if file == "postgresql.conf" {
        Some(Format::Postgres)
    } else if file == "aerospike.conf" {
        Some(Format::Aerospike)
    } else if file.ends_with(".properties") {
        Some(Format::Properties)
    } else if file.ends_with(".yaml") || file.ends_with(".yml") {
        Some(Format::Yaml)
    } else {
        None
    }
}

/// Flattens a config file; `None` when it does not parse (then it is diffed as text).
pub fn flatten(format: Format, text: &str) -> Option<BTreeMap<String, String>> {
    match format {
        Format::Postgres => Some(key_values(text, '=', true)),
        Format::Properties => Some(key_values(text, '=', false)),
        Format::Aerospike => Some(aerospike(text)),
        Format::Yaml => yaml(text),
    }
}

fn strip_comment(line: &str) -> &str {
    let mut in_quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '\'' => in_quote = !in_quote,
            '#' if !in_quote => return &line[..i],
            _ => {}
        }
    }
    line
}

fn key_values(text: &str, sep: char, unquote: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() || line.starts_with('!') {
            continue;
        }
        let (k, v) = match line.split_once(sep) {
            Some((k, v)) => (k.trim(), v.trim()),
            None => match line.split_once(char::is_whitespace) {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (line, ""),
            },
        };
        let v = if unquote {
            v.strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(v)
        } else {
            v
        };
        // PostgreSQL: the last setting of a key wins.
        out.insert(k.to_string(), v.to_string());
    }
    out
}

/// `namespace audience { storage-engine memory { data-size 512M } }` →
/// `namespace[audience].storage-engine[memory].data-size = 512M`. Repeated keys (mesh seeds)
/// are joined with `, `.
fn aerospike(text: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(head) = line.strip_suffix('{') {
            let mut words = head.split_whitespace();
            let name = words.next().unwrap_or("").to_string();
            let arg: Vec<&str> = words.collect();
            stack.push(if arg.is_empty() {
                name
            } else {
                format!("{name}[{}]", arg.join(" "))
            });
            continue;
        }
        if line == "}" {
            stack.pop();
            continue;
        }
        let (k, v) = line
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((line, ""));
        let mut path = stack.join(".");
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
        out.entry(path)
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    out
}

fn yaml(text: &str) -> Option<BTreeMap<String, String>> {
    let value: serde_json::Value = serde_saphyr::from_str(text).ok()?;
    let mut out = BTreeMap::new();
    flatten_json("", &value, &mut out);
    Some(out)
}

fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&p, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_keys() {
        let m = flatten(
            Format::Postgres,
            "# c\nshared_buffers = 128MB   # 25%\nlisten_addresses = '*'\nmax_connections=20\n",
        )
        .unwrap();
        assert_eq!(m["shared_buffers"], "128MB");
        assert_eq!(m["listen_addresses"], "*");
        assert_eq!(m["max_connections"], "20");
    }

    #[test]
    fn aerospike_stanzas() {
        let m = flatten(
            Format::Aerospike,
            "network {\n heartbeat {\n  mesh-seed-address-port a 3002\n  mesh-seed-address-port b 3002\n }\n}\nnamespace audience {\n replication-factor 2\n storage-engine memory {\n  data-size 512M\n }\n}\n",
        )
        .unwrap();
        assert_eq!(
            m["network.heartbeat.mesh-seed-address-port"],
            "a 3002, b 3002"
        );
        assert_eq!(m["namespace[audience].replication-factor"], "2");
        assert_eq!(
            m["namespace[audience].storage-engine[memory].data-size"],
            "512M"
        );
    }

    #[test]
    fn yaml_nested_and_flat() {
        let m = flatten(Format::Yaml, "a.b: 1\nserver:\n  port: 8080\n").unwrap();
        assert_eq!(m["a.b"], "1");
        assert_eq!(m["server.port"], "8080");
    }
}
