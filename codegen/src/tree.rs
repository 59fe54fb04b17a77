//! Where each operation sits in the SDK's resource tree (`client.v1().variants().get(..)`).
//!
//! Derived from the spec: the API version comes from the path (`.../images/v1/...`),
//! the resources from Cloudflare's `x-fern-sdk-group-name` hint (`images.keys` ->
//! `keys`), the method from `x-fern-sdk-method-name`. A small override table places
//! the few operations whose hints do not match the official SDKs' tree. A new
//! operation in a refreshed spec therefore appears on regeneration, and one with no
//! hints fails generation with a message saying where to place it.

use serde_json::Value;

/// One operation's place in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The spec's operation id.
    pub operation_id: String,
    /// Resources from the client down, e.g. `["v1", "variants"]`.
    pub resources: Vec<String>,
    /// Method name on the last resource, e.g. `create`.
    pub method: String,
    /// HTTP method and path, for docs.
    pub http: (String, String),
    /// Summary and description from the spec, for docs.
    pub docs: String,
    /// Marked `deprecated: true` in the spec.
    pub deprecated: bool,
    /// Wire names of the query parameters, in the spec's order.
    pub query: Vec<String>,
    /// Takes `meta.<field>[<operator>]` metadata filters (see
    /// `fixups::METADATA_FILTERS`).
    pub metadata_filters: bool,
}

impl Placement {
    /// The generated client's method name: the tree path joined by `_`.
    pub fn flat_name(&self) -> String {
        let mut parts = self.resources.clone();
        parts.push(self.method.clone());
        parts.join("_")
    }
}

/// Operations whose hints do not give the official SDKs' place:
/// `(operation id, resources, method)`.
pub const OVERRIDES: &[(&str, &[&str], &str)] = &[
    ("cloudflare-images-base-image", &["v1", "blobs"], "get"),
    (
        "cloudflare-images-images-usage-statistics",
        &["v1", "stats"],
        "get",
    ),
    (
        "cloudflare-images-keys-add-signing-key",
        &["v1", "keys"],
        "update",
    ),
    (
        "cloudflare-images-variants-variant-details-flat",
        &["v1", "variants"],
        "get_flat",
    ),
    (
        "cloudflare-images-create-authenticated-direct-upload-url-v-2",
        &["v2", "direct_uploads"],
        "create",
    ),
];

/// Rust-style name for a hint segment: `sourcing-kit` -> `sourcing_kit`.
fn snake(s: &str) -> String {
    s.replace('-', "_")
}

/// Places every operation of the spec; fails on missing hints or collisions,
/// naming every operation that cannot be placed.
pub fn place_all(spec: &Value) -> Result<Vec<Placement>, String> {
    let (placements, problems) = place_all_collecting(spec);
    if problems.is_empty() {
        Ok(placements)
    } else {
        Err(crate::problem_list(&problems))
    }
}

/// Places every operation it can; returns the placements and one problem per
/// operation that has no place (missing hints, two operations on one name, a
/// method named like a sub-resource of the same resource).
pub fn place_all_collecting(spec: &Value) -> (Vec<Placement>, Vec<String>) {
    let mut out: Vec<Placement> = Vec::new();
    let mut problems = Vec::new();
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return (out, vec!["the spec has no paths".into()]);
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if op.get("operationId").is_none() {
                continue;
            }
            let p = match place(path, method, op) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            if let Some(clash) = out.iter().find(|o| o.flat_name() == p.flat_name()) {
                problems.push(format!(
                    "operations {} and {} both land on {}; add one to tree::OVERRIDES",
                    clash.operation_id,
                    p.operation_id,
                    p.flat_name()
                ));
                continue;
            }
            out.push(p);
        }
    }
    problems.extend(accessor_clashes(&out));
    (out, problems)
}

/// A method named like a sub-resource of its own resource (`v1().stats()` the
/// operation and `v1().stats()` the accessor of `v1.stats`) would be two
/// definitions of one name: the generated code would not compile.
fn accessor_clashes(placements: &[Placement]) -> Vec<String> {
    let mut problems = Vec::new();
    for p in placements {
        let mut sub = p.resources.clone();
        sub.push(p.method.clone());
        let Some(user) = placements.iter().find(|o| o.resources.starts_with(&sub)) else {
            continue;
        };
        let (verb, path) = &p.http;
        let segment = path
            .rsplit('/')
            .find(|s| !s.is_empty() && !s.starts_with('{'))
            .map(snake)
            .unwrap_or_else(|| "get".into());
        let rename = format!("{}_{segment}", p.method);
        let rename = if rename == format!("{}_{}", p.method, p.method) {
            format!("{}_get", p.method)
        } else {
            rename
        };
        problems.push(format!(
            "operation {id} ({verb} {path}) would be the method `{method}` of `{res}`, but \
             `{res}().{method}()` is already the accessor of the resource `{sub}` (operation {other} \
             sits there): the generated code would define `{method}` twice. Place it in \
             tree::OVERRIDES, e.g. (\"{id}\", &[{res_list}], \"{rename}\") or under the resource: \
             (\"{id}\", &[{sub_list}], \"{segment}\")",
            id = p.operation_id,
            method = p.method,
            res = p.resources.join("()."),
            sub = sub.join("."),
            other = user.operation_id,
            res_list = quoted(&p.resources),
            sub_list = quoted(&sub),
        ));
    }
    problems
}

fn quoted(parts: &[String]) -> String {
    parts
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn place(path: &str, method: &str, op: &Value) -> Result<Placement, String> {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{method} {path} has no operationId"))?;
    let (resources, name) = match OVERRIDES.iter().find(|(o, _, _)| *o == id) {
        Some((_, res, m)) => (res.iter().map(|s| s.to_string()).collect(), m.to_string()),
        None => {
            let version = path
                .split('/')
                .skip_while(|s| *s != "images")
                .nth(1)
                .filter(|v| v.starts_with('v'))
                .ok_or_else(|| format!("{id}: path {path} has no version segment after images/"))?;
            let group = op
                .get("x-fern-sdk-group-name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    format!("{id} has no x-fern-sdk-group-name; place it in tree::OVERRIDES")
                })?;
            let hint = op
                .get("x-fern-sdk-method-name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    format!("{id} has no x-fern-sdk-method-name; place it in tree::OVERRIDES")
                })?;
            let mut resources = vec![version.to_string()];
            resources.extend(
                group
                    .split('.')
                    .filter(|g| *g != "images" && *g != version)
                    .map(snake),
            );
            (resources, snake(hint))
        }
    };
    let summary = op
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let description = op
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Placement {
        operation_id: id.to_string(),
        resources,
        method: name,
        http: (method.to_uppercase(), path.to_string()),
        docs: format!("{summary}\n\n{}", description.trim())
            .trim()
            .to_string(),
        deprecated: op.get("deprecated") == Some(&Value::Bool(true)),
        query: op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|param| param.get("in").and_then(Value::as_str) == Some("query"))
            .filter_map(|param| param.get("name").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
        metadata_filters: op.get(crate::fixups::METADATA_FILTERS) == Some(&Value::Bool(true)),
    })
}

/// Sets each operation's `operationId` to its flat tree name, which becomes the
/// generated method name (`v1_variants_create`, not `cloudflare_images_variants_create_a_variant`).
pub fn rename_operations(spec: &mut Value, placements: &[Placement]) -> Result<usize, String> {
    let mut changed = 0;
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in item.values_mut().filter_map(Value::as_object_mut) {
                let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                let p = placements
                    .iter()
                    .find(|p| p.operation_id == id)
                    .ok_or_else(|| format!("operation {id} was not placed"))?;
                op.insert("operationId".into(), Value::String(p.flat_name()));
                changed += 1;
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hints_give_version_resources_and_method() {
        let spec = json!({"paths": {
            "/accounts/{account_id}/images/v1/keys": {"get": {"operationId": "k",
                "x-fern-sdk-group-name": "images.keys", "x-fern-sdk-method-name": "list"}},
            "/accounts/{account_id}/images/v2/sourcingkit/sources/x": {"post": {"operationId": "p",
                "x-fern-sdk-group-name": "images.sourcing-kit.sources", "x-fern-sdk-method-name": "pre-check"}},
            "/accounts/{account_id}/images/v1/{image_id}/blob": {"get": {"operationId": "cloudflare-images-base-image",
                "x-fern-sdk-group-name": "images", "x-fern-sdk-method-name": "get-blob", "deprecated": true}}
        }});
        let placed = place_all(&spec).unwrap();
        let names: Vec<_> = placed.iter().map(Placement::flat_name).collect();
        assert_eq!(
            names,
            [
                "v1_keys_list",
                "v2_sourcing_kit_sources_pre_check",
                "v1_blobs_get"
            ]
        );
        assert!(placed[2].deprecated);
    }

    #[test]
    fn missing_hints_and_collisions_fail() {
        let spec = json!({"paths": {"/accounts/{a}/images/v1": {"get": {"operationId": "x"}}}});
        assert!(place_all(&spec)
            .unwrap_err()
            .contains("x-fern-sdk-group-name"));
        let spec = json!({"paths": {"/accounts/{a}/images/v1": {
            "get": {"operationId": "a", "x-fern-sdk-group-name": "images", "x-fern-sdk-method-name": "list"},
            "put": {"operationId": "b", "x-fern-sdk-group-name": "images", "x-fern-sdk-method-name": "list"}}}});
        assert!(place_all(&spec)
            .unwrap_err()
            .contains("both land on v1_list"));
    }

    #[test]
    fn every_operation_without_a_place_is_reported_at_once() {
        let spec = json!({"paths": {"/accounts/{a}/images/v1": {
            "get": {"operationId": "no-group", "x-fern-sdk-method-name": "list"},
            "put": {"operationId": "no-method", "x-fern-sdk-group-name": "images"},
            "post": {"operationId": "fine", "x-fern-sdk-group-name": "images", "x-fern-sdk-method-name": "create"}}}});
        let (placed, problems) = place_all_collecting(&spec);
        assert_eq!(placed.len(), 1);
        assert_eq!(problems.len(), 2, "{problems:?}");
        let err = place_all(&spec).unwrap_err();
        assert!(err.starts_with("2 problems"), "{err}");
        assert!(
            err.contains("no-group has no x-fern-sdk-group-name"),
            "{err}"
        );
        assert!(
            err.contains("no-method has no x-fern-sdk-method-name"),
            "{err}"
        );
    }

    /// A new `v1/usage` operation hinted as the method `stats` of `images`, while
    /// `v1.stats` is a resource: `v1().stats()` would be defined twice.
    #[test]
    fn a_method_named_like_a_sub_resource_is_refused_with_the_override_to_add() {
        let spec = json!({"paths": {
            "/accounts/{account_id}/images/v1/stats": {"get": {
                "operationId": "cloudflare-images-images-usage-statistics",
                "x-fern-sdk-group-name": "images", "x-fern-sdk-method-name": "stats"}},
            "/accounts/{account_id}/images/v1/usage": {"get": {
                "operationId": "cloudflare-images-usage",
                "x-fern-sdk-group-name": "images", "x-fern-sdk-method-name": "stats"}}
        }});
        let err = place_all(&spec).unwrap_err();
        assert!(
            err.contains(
                "operation cloudflare-images-usage (GET /accounts/{account_id}/images/v1/usage)"
            ),
            "{err}"
        );
        assert!(err.contains("would define `stats` twice"), "{err}");
        assert!(
            err.contains(r#"("cloudflare-images-usage", &["v1"], "stats_usage")"#),
            "{err}"
        );
        assert!(
            err.contains(r#"("cloudflare-images-usage", &["v1", "stats"], "usage")"#),
            "{err}"
        );
        // Deeper trees too: a method of v2 named like v2.sourcing_kit.
        let spec = json!({"paths": {
            "/accounts/{a}/images/v2/sourcingkit/sources": {"get": {"operationId": "s",
                "x-fern-sdk-group-name": "images.sourcing-kit.sources", "x-fern-sdk-method-name": "list"}},
            "/accounts/{a}/images/v2/kit": {"get": {"operationId": "k",
                "x-fern-sdk-group-name": "images", "x-fern-sdk-method-name": "sourcing-kit"}}
        }});
        assert!(place_all(&spec).unwrap_err().contains(
            "`v2().sourcing_kit()` is already the accessor of the resource `v2.sourcing_kit`"
        ));
    }
}
