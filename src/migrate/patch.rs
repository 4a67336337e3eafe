//! Minimal strategic merge patches: only what changed, lists with a merge key patched item by
//! item (with `$setElementOrder` where the order or membership changes, `$patch: delete` for
//! removed items), other lists replaced, removed keys set to null.

use serde_json::{Map, Value};

/// Custom resources take no strategic merge patch (the API server knows no merge keys for
/// them): their patch is a JSON merge patch, lists replaced whole, `kubectl patch --type merge`.
pub(crate) fn is_custom(kind: &str) -> bool {
    matches!(
        kind,
        "Certificate" | "ServiceMonitor" | "PodMonitor" | "PrometheusRule"
    )
}

/// `--type` for `kubectl patch` of this kind.
pub(crate) fn patch_type(kind: &str) -> &'static str {
    if is_custom(kind) {
        "merge"
    } else {
        "strategic"
    }
}

/// The merge key Kubernetes declares for a list field (`patchMergeKey`), if any.
fn merge_key(kind: &str, path: &[&str], field: &str) -> Option<&'static str> {
    if is_custom(kind) {
        return None;
    }
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "hostAliases" => Some("ip"),
        // Service ports merge on `port`, container ports on `containerPort`.
        "ports" if kind == "Service" && path == ["spec"] => Some("port"),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

fn id(v: &Value, key: &str) -> Option<Value> {
    v.get(key).cloned()
}

/// The patch that turns `old` into `new` (`None` when they are equal).
pub fn strategic(kind: &str, old: &Value, new: &Value) -> Option<Value> {
    diff_value(kind, &mut Vec::new(), old, new)
}

fn diff_value(kind: &str, path: &mut Vec<String>, old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    None => {
                        patch.insert(k.clone(), nv.clone());
                    }
                    Some(ov) => {
                        let path_refs: Vec<&str> = path.iter().map(String::as_str).collect();
                        if let (Value::Array(oa), Value::Array(na)) = (ov, nv)
                            && let Some(mk) = merge_key(kind, &path_refs, k)
                            && oa.iter().chain(na).all(|i| i.get(mk).is_some())
                        {
                            if let Some((items, order)) = diff_list(kind, path, k, mk, oa, na) {
                                patch.insert(k.clone(), Value::Array(items));
                                if let Some(order) = order {
                                    patch.insert(
                                        format!("$setElementOrder/{k}"),
                                        Value::Array(order),
                                    );
                                }
                            }
                            continue;
                        }
                        path.push(k.clone());
                        let sub = diff_value(kind, path, ov, nv);
                        path.pop();
                        if let Some(sub) = sub {
                            patch.insert(k.clone(), sub);
                        }
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        // Scalars and lists without a merge key are replaced whole.
        _ => Some(new.clone()),
    }
}

type ListPatch = (Vec<Value>, Option<Vec<Value>>);

fn diff_list(
    kind: &str,
    path: &mut Vec<String>,
    field: &str,
    key: &str,
    old: &[Value],
    new: &[Value],
) -> Option<ListPatch> {
    let mut items = Vec::new();
    for n in new {
        let nid = id(n, key);
        match old.iter().find(|o| id(o, key) == nid) {
            None => items.push(n.clone()),
            Some(o) => {
                path.push(field.to_string());
                let sub = diff_value(kind, path, o, n);
                path.pop();
                if let Some(Value::Object(mut m)) = sub {
                    m.insert(key.to_string(), nid.clone().unwrap_or(Value::Null));
                    items.push(Value::Object(m));
                }
            }
        }
    }
    for o in old {
        let oid = id(o, key);
        if !new.iter().any(|n| id(n, key) == oid) {
            let mut m = Map::new();
            m.insert(key.to_string(), oid.unwrap_or(Value::Null));
            m.insert("$patch".into(), Value::String("delete".into()));
            items.push(Value::Object(m));
        }
    }
    let old_ids: Vec<Option<Value>> = old.iter().map(|o| id(o, key)).collect();
    let new_ids: Vec<Option<Value>> = new.iter().map(|n| id(n, key)).collect();
    let order = (old_ids != new_ids).then(|| {
        new_ids
            .into_iter()
            .map(|i| {
                let mut m = Map::new();
                m.insert(key.to_string(), i.unwrap_or(Value::Null));
                Value::Object(m)
            })
            .collect()
    });
    if items.is_empty() && order.is_none() {
        None
    } else {
        Some((items, order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_fields() {
        let old = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "b", "image": "y:1"}]}}}});
        let new = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "x:2", "env": [{"name": "A", "value": "1"}]},
            {"name": "b", "image": "y:1"}]}}}});
        assert_eq!(
            strategic("Deployment", &old, &new).unwrap(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:2"}]}}}})
        );
    }

    #[test]
    fn removed_items_and_keys() {
        let old =
            json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "x": 1});
        let new = json!({"env": [{"name": "A", "value": "1"}]});
        assert_eq!(
            strategic("Pod", &old, &new).unwrap(),
            json!({"env": [{"name": "B", "$patch": "delete"}], "$setElementOrder/env": [{"name": "A"}], "x": null})
        );
    }
}
