//! What Cloudflare documents but its schema lacks, kept in `spec/supplement.yaml`
//! beside the unmodified upstream subset and merged here before the fixups.
//!
//! The merge only adds: every key of the supplement that upstream lacks is
//! inserted (a whole path, operation, schema or property), objects present on
//! both sides are merged key by key, and a value upstream already has is an
//! error naming it, so that once upstream gains an entry, generation stops and
//! says to delete it from the supplement, as a stale fixup does.

use std::path::Path;

use serde_json::{Map, Value};

/// The supplement's file name, beside the spec.
pub const FILE: &str = "supplement.yaml";

/// The supplement beside `spec_path`, if there is one.
pub fn load_beside(spec_path: &Path) -> Result<Option<Value>, String> {
    let path = spec_path.with_file_name(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("could not read {}: {e}", path.display()))?;
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| format!("{} is not valid YAML: {e}", path.display()))?;
    serde_json::to_value(yaml)
        .map(Some)
        .map_err(|e| format!("{} cannot be read as JSON: {e}", path.display()))
}

/// Merges `supplement` into `spec`; returns the JSON paths of the entries added.
/// Fails listing every entry upstream already has.
pub fn merge(spec: &mut Value, supplement: &Value) -> Result<Vec<String>, String> {
    let (Some(target), Some(extra)) = (spec.as_object_mut(), supplement.as_object()) else {
        return Err("the spec and its supplement must both be objects".into());
    };
    let mut added = Vec::new();
    let mut clashes = Vec::new();
    merge_into(target, extra, "", &mut added, &mut clashes);
    // Sorted: the order of keys depends on serde_json's `preserve_order`.
    added.sort();
    clashes.sort();
    if !clashes.is_empty() {
        return Err(format!(
            "upstream now has what spec/{FILE} adds: {}. Delete those entries from the supplement.",
            clashes.join(", ")
        ));
    }
    Ok(added)
}

fn merge_into(
    target: &mut Map<String, Value>,
    extra: &Map<String, Value>,
    at: &str,
    added: &mut Vec<String>,
    clashes: &mut Vec<String>,
) {
    for (key, value) in extra {
        // A JSON pointer: `/paths/~1accounts~1{account_id}~1images~1v1~1config/patch`.
        let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
        match (target.get_mut(key), value) {
            (None, _) => {
                target.insert(key.clone(), value.clone());
                added.push(here);
            }
            // An empty object adds nothing to an existing one: upstream has it.
            (Some(Value::Object(inner)), Value::Object(more)) if !more.is_empty() => {
                merge_into(inner, more, &here, added, clashes);
            }
            (Some(_), _) => clashes.push(here),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adds_what_is_missing_and_merges_objects() {
        let mut spec = json!({
            "paths": {"/a": {"get": {"operationId": "a"}}},
            "components": {"schemas": {"image": {"properties": {"id": {"type": "string"}}}}}
        });
        let supplement = json!({
            "paths": {"/a": {"patch": {"operationId": "b"}}, "/c": {"get": {"operationId": "c"}}},
            "components": {"schemas": {"image": {"properties": {"draft": {"type": "boolean"}}}}}
        });
        let added = merge(&mut spec, &supplement).unwrap();
        assert_eq!(
            added,
            [
                "/components/schemas/image/properties/draft",
                "/paths/~1a/patch",
                "/paths/~1c"
            ]
        );
        assert_eq!(spec["paths"]["/a"]["get"]["operationId"], "a");
        assert_eq!(spec["paths"]["/a"]["patch"]["operationId"], "b");
        assert_eq!(
            spec["components"]["schemas"]["image"]["properties"]["draft"]["type"],
            "boolean"
        );
    }

    #[test]
    fn an_entry_upstream_has_gained_fails_naming_every_one() {
        let mut spec = json!({"paths": {"/a": {"get": {}}}, "components": {"schemas": {"x": {"type": "string"}}}});
        let supplement = json!({"paths": {"/a": {"get": {}}}, "components": {"schemas": {"x": {"type": "string"}}}});
        let e = merge(&mut spec, &supplement).unwrap_err();
        assert!(e.contains("/paths/~1a/get"), "{e}");
        assert!(e.contains("/components/schemas/x/type"), "{e}");
        assert!(e.contains("Delete those entries"), "{e}");
    }
}
