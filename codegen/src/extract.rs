//! `cargo codegen extract --from <Cloudflare's full openapi.yaml|json>`: cuts the
//! Images subset out of Cloudflare's whole API schema.
//!
//! Kept: every path under `/accounts/{account_id}/images/`, every component schema
//! they reference (transitively), and upstream's `openapi`, `info`, `servers`,
//! `components.securitySchemes` and top-level `security`. Values are copied as they
//! are (key order kept); nothing is fixed here, fixups run at generation.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The path prefix of the Images product.
pub const IMAGES_PREFIX: &str = "/accounts/{account_id}/images/";

/// Returns the Images subset of a full Cloudflare schema.
pub fn extract(full: &Value) -> Result<Value, String> {
    let paths = full
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the schema has no paths")?;
    let kept: Map<String, Value> = paths
        .iter()
        .filter(|(p, _)| p.starts_with(IMAGES_PREFIX))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    if kept.is_empty() {
        return Err(format!("no path starts with {IMAGES_PREFIX}"));
    }
    let all_schemas = full
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .ok_or("the schema has no components.schemas")?;

    // Transitive closure of the schemas the kept paths refer to.
    let mut wanted = BTreeSet::new();
    let mut queue = Vec::new();
    refs(&Value::Object(kept.clone()), &mut queue);
    while let Some(name) = queue.pop() {
        if wanted.insert(name.clone()) {
            let schema = all_schemas
                .get(&name)
                .ok_or_else(|| format!("unresolved $ref to schema {name}"))?;
            refs(schema, &mut queue);
        }
    }
    // Upstream order, not alphabetical, so the subset diffs cleanly against upstream.
    let schemas: Map<String, Value> = all_schemas
        .iter()
        .filter(|(k, _)| wanted.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut out = Map::new();
    for key in ["openapi", "info", "servers"] {
        if let Some(v) = full.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("paths".into(), Value::Object(kept));
    let mut components = Map::new();
    components.insert("schemas".into(), Value::Object(schemas));
    if let Some(sec) = full.pointer("/components/securitySchemes") {
        components.insert("securitySchemes".into(), sec.clone());
    }
    out.insert("components".into(), Value::Object(components));
    if let Some(sec) = full.get("security") {
        out.insert("security".into(), sec.clone());
    }
    Ok(Value::Object(out))
}

/// Pushes the name of every component schema `v` refers to (`#/components/schemas/<name>`).
pub fn schema_refs(v: &Value, out: &mut Vec<String>) {
    refs(v, out)
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_string());
            }
            map.values().for_each(|c| refs(c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

/// The YAML text written to `spec/`, with a provenance header.
pub fn to_yaml(subset: &Value, source: &str) -> Result<String, String> {
    let body = serde_yaml::to_string(subset).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Cloudflare Images API -- subset of Cloudflare's public API schema (BSD-3-Clause,\n\
         # see LICENSE.cloudflare-api-schemas), cut by `cargo codegen extract --from {source}`.\n\
         # Every path under {IMAGES_PREFIX} and the components they reference; not edited.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_images_paths_and_their_schema_closure_only() {
        let full = json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "4"},
            "paths": {
                "/accounts/{account_id}/images/v1": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/a"}}}}}}},
                "/zones/{zone_id}/dns_records": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/dns"}}}}}}}
            },
            "components": {"schemas": {"dns": {"type": "object"}, "a": {"allOf": [{"$ref": "#/components/schemas/b"}]}, "b": {"type": "string"}},
                           "securitySchemes": {"api_token": {"type": "http", "scheme": "bearer"}}},
            "security": [{"api_token": []}]
        });
        let out = extract(&full).unwrap();
        assert_eq!(out["paths"].as_object().unwrap().len(), 1);
        let schemas: Vec<_> = out["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(schemas, ["a", "b"]);
        assert_eq!(
            out["components"]["securitySchemes"]["api_token"]["scheme"],
            "bearer"
        );
        assert_eq!(out["security"], json!([{"api_token": []}]));
    }

    #[test]
    fn unresolved_refs_and_missing_paths_fail() {
        let full = json!({"paths": {"/accounts/{account_id}/images/v1": {"get": {"x": {"$ref": "#/components/schemas/missing"}}}},
                          "components": {"schemas": {}}});
        assert!(extract(&full).unwrap_err().contains("missing"));
        let none = json!({"paths": {"/zones": {}}, "components": {"schemas": {}}});
        assert!(extract(&none).is_err());
    }
}
