//! `amctl schema`: the JSON Schema (draft-07) of the profile format, from the same types the
//! loader uses, for editors (taplo, Even Better TOML) and CI.

use crate::error::{Error, Exit};
use crate::output;
use crate::profile::Profile;
use serde_json::Value;

/// The schema of a complete profile; with `partial`, every key optional (for `extends` overlays).
pub fn schema(partial: bool) -> Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let root = generator.into_root_schema_for::<Profile>();
    let mut v = serde_json::to_value(root).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String(if partial {
                "urn:amctl:schema:profile-overlay".into()
            } else {
                "urn:amctl:schema:profile".into()
            }),
        );
        obj.insert(
            "title".into(),
            Value::String(if partial {
                "amctl profile (overlay: every key optional, for files with `extends`)".into()
            } else {
                "amctl profile".into()
            }),
        );
    }
    if partial {
        strip_required(&mut v);
    }
    v
}

fn strip_required(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("required");
            m.values_mut().for_each(strip_required);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_required),
        _ => {}
    }
}

pub fn run(partial: bool) -> Result<Exit, Error> {
    let mut s = serde_json::to_string_pretty(&schema(partial)).map_err(|e| Error::Serialize {
        what: "the schema",
        detail: e.to_string(),
    })?;
    s.push('\n');
    output::print(&s)?;
    Ok(Exit::Ok)
}
