//! Repairs applied to the spec in memory before generation.
//!
//! `spec/` stays byte-identical to Cloudflare's schema; every quirk that breaks
//! generation or decoding is repaired here instead. Each fixup is a named function
//! that returns how many places it changed. A fixup that changes nothing is an
//! error: the quirk it repairs has left the spec (or moved), and a spec refresh
//! must never skip a repair silently. Quirk numbers refer to `spec/NOTES.md`.

use serde_json::{json, Map, Value};

/// The failure envelope every non-2xx response is rewritten to (after the prefix
/// of component names has been stripped).
pub const FAILURE_SCHEMA: &str = "api-response-common-failure";

/// The prefix Cloudflare puts on every component of this product.
pub const SCHEMA_PREFIX: &str = "images_";

/// A repair, with what it repairs.
pub struct Fixup {
    /// Stable name, printed by `cargo codegen` and used in failure messages.
    pub name: &'static str,
    /// The quirk(s) of `spec/NOTES.md` it repairs.
    pub repairs: &'static str,
    /// Applies the repair; returns how many places changed.
    pub apply: fn(&mut Value) -> Result<usize, String>,
}

/// Every fixup, in the order they must run (later ones rely on earlier names).
pub const FIXUPS: &[Fixup] = &[
    Fixup {
        name: "label_doc_fences",
        repairs: "quirk 30: unlabeled code fences in descriptions become failing doctests",
        apply: label_doc_fences,
    },
    Fixup {
        name: "delete_schemaless_bodies",
        repairs: "quirk 7: required JSON request bodies without a schema (DELETE image, DELETE variant)",
        apply: delete_schemaless_bodies,
    },
    Fixup {
        name: "errors_to_failure_envelope",
        repairs: "quirks 2, 3: 4XX = allOf[success, failure] decodes to an uninhabited type; no 5XX declared",
        apply: errors_to_failure_envelope,
    },
    Fixup {
        name: "lenient_failure_envelope",
        repairs: "quirk 4: failure envelope with allOf-wrapped errors, enum [null] result, enum [false] success",
        apply: lenient_failure_envelope,
    },
    Fixup {
        name: "generic_envelope_result",
        repairs: "quirk 1: `result: anyOf[object, string]` in the shared envelopes turns every specific result into an untagged enum",
        apply: generic_envelope_result,
    },
    Fixup {
        name: "message_details",
        repairs: "quirk 5: messages lack documentation_url and source; uniqueItems inside items",
        apply: message_details,
    },
    Fixup {
        name: "patch_objects_clearable",
        repairs: "a free-form object in a PATCH body is skipped when empty, so metadata can never be cleared",
        apply: patch_objects_clearable,
    },
    Fixup {
        name: "integer_paging",
        repairs: "paging numbers typed `number` go out as `page=2.0`",
        apply: integer_paging,
    },
    Fixup {
        name: "integer_dimensions",
        repairs: "quirk 22: variant width/height typed `number` go out as `1366.0`",
        apply: integer_dimensions,
    },
    Fixup {
        name: "relax_string_constraints",
        repairs: "quirks 9-12: maxLength 32 on ids and tokens, one-character patterns on variant and key names",
        apply: relax_string_constraints,
    },
    Fixup {
        name: "variants_as_url_strings",
        repairs: "quirk 14: image variants as anyOf of three identical strings cannot decode",
        apply: variants_as_url_strings,
    },
    Fixup {
        name: "variants_map",
        repairs: "quirk 16: the variants list declares a single `hero` property instead of a map",
        apply: variants_map,
    },
    Fixup {
        name: "drop_invalid_datetime_defaults",
        repairs: "quirk 13: `default: Now + 30 minutes` on a date-time panics in Default",
        apply: drop_invalid_datetime_defaults,
    },
    Fixup {
        name: "drop_template_query_params",
        repairs: "quirk 24: `meta.<field>[<operator>]` is a family of keys, not a parameter name",
        apply: drop_template_query_params,
    },
    Fixup {
        name: "hoist_inline_enums",
        repairs: "quirk 20: inline enums cannot be made open (unknown values must decode)",
        apply: hoist_inline_enums,
    },
    Fixup {
        name: "inline_primitive_schemas",
        repairs: "quirks 11, 18: primitive components become newtypes and nullable refs double options",
        apply: inline_primitive_schemas,
    },
    Fixup {
        name: "strip_schema_prefix",
        repairs: "every component is prefixed `images_`, which would prefix every Rust type",
        apply: strip_schema_prefix,
    },
    Fixup {
        name: "optional_body_defaults",
        repairs: "a `default` on an optional request-body field (neverRequireSignedURLs) makes it a plain value that is always sent, so a PATCH resets what the caller did not set",
        apply: optional_body_defaults,
    },
];

/// Applies every fixup in order; returns `(name, places changed)` for each, or
/// every problem at once: a stale fixup does not stop the others from running, so
/// a spec refresh that made three fixups stale reports all three in one run.
pub fn apply_all(spec: &mut Value) -> Result<Vec<(&'static str, usize)>, String> {
    let (report, problems) = apply_all_collecting(spec);
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(crate::problem_list(&problems))
    }
}

/// Runs every fixup, even after one failed; returns what ran and every problem.
pub fn apply_all_collecting(spec: &mut Value) -> (Vec<(&'static str, usize)>, Vec<String>) {
    let mut report = Vec::new();
    let mut problems = Vec::new();
    for fixup in FIXUPS {
        match (fixup.apply)(spec) {
            Err(e) => problems.push(format!("fixup {}: {e}", fixup.name)),
            Ok(0) => problems.push(format!(
                "fixup {} changed nothing: the quirk it repairs ({}) is no longer in the spec. \
                 Check the refreshed spec and update or remove the fixup in codegen/src/fixups.rs.",
                fixup.name, fixup.repairs
            )),
            Ok(n) => report.push((fixup.name, n)),
        }
    }
    (report, problems)
}

// ---------------------------------------------------------------------------
// Helpers

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation object, with its path and method.
fn operations_mut(spec: &mut Value) -> Vec<(String, String, &mut Map<String, Value>)> {
    let mut out = Vec::new();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            if let Some(item) = item.as_object_mut() {
                for (method, op) in item.iter_mut() {
                    if METHODS.contains(&method.as_str()) {
                        if let Some(op) = op.as_object_mut() {
                            out.push((path.clone(), method.clone(), op));
                        }
                    }
                }
            }
        }
    }
    out
}

fn schemas_mut(spec: &mut Value) -> Result<&mut Map<String, Value>, String> {
    spec.pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| "the spec has no components.schemas".to_string())
}

fn schema_mut<'a>(spec: &'a mut Value, name: &str) -> Result<&'a mut Map<String, Value>, String> {
    schemas_mut(spec)?
        .get_mut(name)
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("schema {name} is missing"))
}

/// Visits every JSON object in the tree, depth first.
fn walk_objects(v: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    match v {
        Value::Object(map) => {
            f(map);
            for child in map.values_mut() {
                walk_objects(child, f);
            }
        }
        Value::Array(items) => {
            for child in items {
                walk_objects(child, f);
            }
        }
        _ => {}
    }
}

fn is_success_status(key: &str) -> bool {
    key.starts_with('2')
}

// ---------------------------------------------------------------------------
// Fixups

/// Labels unlabeled opening code fences in descriptions as `text`, so that rustdoc
/// does not compile spec examples as Rust doctests (quirk 30).
pub fn label_doc_fences(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    walk_objects(spec, &mut |map| {
        if let Some(Value::String(desc)) = map.get_mut("description") {
            if !desc.contains("```") {
                return;
            }
            let mut in_fence = false;
            let mut out = Vec::new();
            for line in desc.split('\n') {
                let trimmed = line.trim_start();
                if let Some(lang) = trimmed.strip_prefix("```") {
                    if !in_fence && lang.trim().is_empty() {
                        out.push(line.replacen("```", "```text", 1));
                        changed += 1;
                    } else {
                        out.push(line.to_string());
                    }
                    in_fence = !in_fence;
                } else {
                    out.push(line.to_string());
                }
            }
            *desc = out.join("\n");
        }
    });
    Ok(changed)
}

/// Removes request bodies whose media types declare no schema (quirk 7): progenitor
/// rejects them, and the API ignores the body of these DELETEs.
pub fn delete_schemaless_bodies(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    for (_, _, op) in operations_mut(spec) {
        let schemaless = op
            .get("requestBody")
            .and_then(|b| b.get("content"))
            .and_then(Value::as_object)
            .is_some_and(|content| {
                !content.is_empty() && content.values().all(|media| media.get("schema").is_none())
            });
        if schemaless {
            op.remove("requestBody");
            changed += 1;
        }
    }
    Ok(changed)
}

/// Rewrites every non-2xx response to the failure envelope and declares `5XX` with
/// it (quirks 2, 3). Cloudflare declares `4XX` as `allOf[success envelope, failure
/// envelope]`, which no value satisfies (`success: enum [true]` and `enum [false]`),
/// so every real error would decode as an invalid payload without its status.
pub fn errors_to_failure_envelope(spec: &mut Value) -> Result<usize, String> {
    let mut rewritten = 0;
    for (path, method, op) in operations_mut(spec) {
        let responses = op
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| format!("{method} {path} has no responses"))?;
        for (status, response) in responses.iter_mut() {
            if is_success_status(status) || status == "default" {
                continue;
            }
            let description = response
                .get("description")
                .cloned()
                .unwrap_or_else(|| json!("Error response"));
            let was_allof = response
                .pointer("/content/application~1json/schema/allOf")
                .and_then(Value::as_array)
                .is_some_and(|all| {
                    all.iter().any(|s| {
                        s.get("$ref")
                            .and_then(Value::as_str)
                            .is_some_and(|r| r.ends_with("response-common-failure"))
                    })
                });
            if was_allof {
                rewritten += 1;
            }
            *response = json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": failure_ref_now()}}}
            });
        }
        if !responses.contains_key("5XX") {
            responses.insert(
                "5XX".into(),
                json!({
                    "description": "Server error",
                    "content": {"application/json": {"schema": {"$ref": failure_ref_now()}}}
                }),
            );
        }
    }
    Ok(rewritten)
}

/// The failure envelope's `$ref` before `strip_schema_prefix` has run.
fn failure_ref_now() -> String {
    format!("#/components/schemas/{SCHEMA_PREFIX}{FAILURE_SCHEMA}")
}

/// Makes the failure envelope decode every error body Cloudflare sends (quirk 4):
/// `errors` and `messages` refer to the message list directly, `result` is any
/// JSON, `success` a plain boolean, and only `success` and `errors` are required,
/// so a body without `messages` or with a non-null `result` keeps its status.
pub fn lenient_failure_envelope(spec: &mut Value) -> Result<usize, String> {
    let name = format!("{SCHEMA_PREFIX}{FAILURE_SCHEMA}");
    let schema = schema_mut(spec, &name)?;
    let messages_ref = json!({"$ref": format!("#/components/schemas/{SCHEMA_PREFIX}messages")});
    let props = schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("{name} has no properties"))?;
    let mut changed = 0;
    for key in ["errors", "messages"] {
        let wrapped = props.get(key).is_some_and(|p| p.get("allOf").is_some());
        if wrapped {
            props.insert(key.into(), messages_ref.clone());
            changed += 1;
        }
    }
    if props.get("result").is_some_and(|r| r.get("enum").is_some()) {
        props.insert(
            "result".into(),
            json!({"description": "Always null on failure; any JSON is accepted."}),
        );
        changed += 1;
    }
    if props
        .get("success")
        .is_some_and(|s| s.get("enum").is_some())
    {
        props.insert(
            "success".into(),
            json!({"description": "Whether the API call was successful (false here)", "type": "boolean"}),
        );
        changed += 1;
    }
    schema.insert("required".into(), json!(["success", "errors"]));
    Ok(changed)
}

/// Leaves `result` unconstrained in the shared envelopes (quirk 1). Each response
/// narrows it with `allOf[envelope, {result: X}]`; merged with the shared
/// `anyOf[object, string]`, `X` would become an untagged enum of `X` and `String`.
pub fn generic_envelope_result(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    for name in ["api-response-common", "api-response-single"] {
        let full = format!("{SCHEMA_PREFIX}{name}");
        let schema = schema_mut(spec, &full)?;
        let mut targets: Vec<&mut Value> = Vec::new();
        for (key, child) in schema.iter_mut() {
            match key.as_str() {
                "properties" => targets.extend(child.get_mut("result")),
                "allOf" => {
                    for member in child.as_array_mut().into_iter().flatten() {
                        targets.extend(
                            member
                                .get_mut("properties")
                                .and_then(|p| p.get_mut("result")),
                        );
                    }
                }
                _ => {}
            }
        }
        for r in targets {
            if r.get("anyOf").is_some() {
                *r = json!({"description": "The operation's result; each response narrows it."});
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Declares the `documentation_url` and `source.pointer` that Cloudflare's errors
/// carry, drops `uniqueItems` from the item schema where it means nothing (quirk 5),
/// and drops `minimum: 1000` from `code` (quirk 31: the rate-limit code is 971).
pub fn message_details(spec: &mut Value) -> Result<usize, String> {
    let name = format!("{SCHEMA_PREFIX}messages");
    let items = schema_mut(spec, &name)?
        .get_mut("items")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("{name} has no items"))?;
    let mut changed = 0;
    if items.remove("uniqueItems").is_some() {
        changed += 1;
    }
    // `code` has `minimum: 1000`, but Cloudflare's rate-limit error is code 971.
    if let Some(code) = items
        .get_mut("properties")
        .and_then(|p| p.get_mut("code"))
        .and_then(Value::as_object_mut)
    {
        if code.remove("minimum").is_some() {
            changed += 1;
        }
    }
    let props = items
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| format!("{name}.items.properties is not an object"))?;
    if !props.contains_key("documentation_url") {
        props.insert(
            "documentation_url".into(),
            json!({"type": "string", "description": "Where the error is documented."}),
        );
        changed += 1;
    }
    if !props.contains_key("source") {
        props.insert(
            "source".into(),
            json!({"type": "object", "description": "What in the request caused the error.",
                   "properties": {"pointer": {"type": "string"}}}),
        );
        changed += 1;
    }
    Ok(changed)
}

/// Marks free-form object properties of PATCH request bodies `nullable`, which
/// makes them `Option<Map>`: "not set" (`None`, not sent) and "set to empty"
/// (`Some({})`, sent as `{}`: clears the image's metadata) become different values.
/// Without it typify skips an empty map when serializing, so `{}` can never go out.
pub fn patch_objects_clearable(spec: &mut Value) -> Result<usize, String> {
    let mut bodies = Vec::new();
    for (_, method, op) in operations_mut(spec) {
        if method != "patch" {
            continue;
        }
        let body_ref = op
            .get("requestBody")
            .and_then(|b| b.pointer("/content/application~1json/schema/$ref"))
            .and_then(Value::as_str);
        if let Some(r) = body_ref {
            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                bodies.push(name.to_string());
            }
        }
    }
    let mut changed = 0;
    for name in bodies {
        let schema = schema_mut(spec, &name)?;
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for prop in props.values_mut().filter_map(Value::as_object_mut) {
            let free_form =
                prop.get("type") == Some(&json!("object")) && !prop.contains_key("properties");
            if free_form && prop.get("nullable") != Some(&json!(true)) {
                prop.insert("nullable".into(), json!(true));
                changed += 1;
            }
        }
    }
    Ok(changed)
}

/// Removes `default` from the optional properties of JSON request bodies (and of
/// the objects nested in them). With a default, typify makes the field a plain
/// value that is always serialized: `variants().edit(..)` sent
/// `"neverRequireSignedURLs": false` and reset a variant the caller never meant to
/// change. Without it the field is an `Option`, sent only when set. A body must
/// carry only what the caller set; the server applies its own defaults.
pub fn optional_body_defaults(spec: &mut Value) -> Result<usize, String> {
    let mut bodies = Vec::new();
    for (_, _, op) in operations_mut(spec) {
        let body_ref = op
            .get("requestBody")
            .and_then(|b| b.pointer("/content/application~1json/schema/$ref"))
            .and_then(Value::as_str);
        if let Some(name) = body_ref.and_then(|r| r.strip_prefix("#/components/schemas/")) {
            bodies.push(name.to_string());
        }
    }
    bodies.sort();
    bodies.dedup();
    fn strip(schema: &mut Map<String, Value>) -> usize {
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            return 0;
        };
        let mut changed = 0;
        for (name, prop) in props.iter_mut() {
            let Some(prop) = prop.as_object_mut() else {
                continue;
            };
            if !required.contains(name) && prop.remove("default").is_some() {
                changed += 1;
            }
            changed += strip(prop);
        }
        changed
    }
    let mut changed = 0;
    for name in bodies {
        changed += strip(schema_mut(spec, &name)?);
    }
    Ok(changed)
}

/// Turns the paging parameters (`page`, `per_page`, `offset`, `limit`) into plain
/// `u32`s: as `number` they go out as `per_page=100.0`, and as integers with
/// `minimum: 1` they become `NonZeroU64`, which no caller wants to type.
pub fn integer_paging(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    for (_, _, op) in operations_mut(spec) {
        let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
            continue;
        };
        for p in params {
            let is_paging = matches!(
                p.get("name").and_then(Value::as_str),
                Some("page" | "per_page" | "offset" | "limit")
            );
            if let Some(schema) = p.get_mut("schema").and_then(Value::as_object_mut) {
                let already = schema.get("format") == Some(&json!("uint32"))
                    && !schema.contains_key("minimum");
                if is_paging && !already {
                    make_u32(schema);
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}

/// `minimum: 1` on an integer makes typify emit `NonZeroU32`; a plain `u32` is what
/// callers type, and the handwritten layer validates ranges before sending.
fn make_u32(schema: &mut Map<String, Value>) {
    schema.insert("type".into(), json!("integer"));
    schema.insert("format".into(), json!("uint32"));
    schema.remove("minimum");
}

/// Turns variant `width` and `height` (quirk 22) into unsigned integers.
pub fn integer_dimensions(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    for name in ["image_variant_width", "image_variant_height"] {
        let schema = schema_mut(spec, &format!("{SCHEMA_PREFIX}{name}"))?;
        if schema.get("type") == Some(&json!("number")) {
            make_u32(schema);
            changed += 1;
        }
    }
    Ok(changed)
}

/// Drops `maxLength`, `minLength` and `pattern` from every string schema (quirks
/// 9-12). typify turns them into validating newtypes that reject real data on the
/// way in: UUID ids (36 > 32), custom ids up to 1,024 characters, 43-character
/// continuation tokens and variant names longer than one character. What the API
/// really requires of ids and names is checked by the handwritten layer.
pub fn relax_string_constraints(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    walk_objects(spec, &mut |map| {
        if map.get("type") == Some(&json!("string")) {
            for key in ["maxLength", "minLength", "pattern"] {
                if map.remove(key).is_some() {
                    changed += 1;
                }
            }
        }
    });
    Ok(changed)
}

/// Image `variants` become a list of URL strings (quirk 14): the `anyOf` of three
/// identical string schemas cannot decode, and real variant names are arbitrary.
pub fn variants_as_url_strings(spec: &mut Value) -> Result<usize, String> {
    let schema = schema_mut(spec, &format!("{SCHEMA_PREFIX}image_variants"))?;
    let is_anyof = schema
        .get("items")
        .is_some_and(|i| i.get("anyOf").is_some());
    if !is_anyof {
        return Ok(0);
    }
    schema.insert(
        "items".into(),
        json!({"type": "string", "description": "Delivery URL of one variant of the image."}),
    );
    schema.insert(
        "description".into(),
        json!("Delivery URLs of the image, one per variant."),
    );
    Ok(1)
}

/// The variants list becomes a map from variant name to definition (quirk 16);
/// as written it declares one `hero` property and drops every other variant.
pub fn variants_map(spec: &mut Value) -> Result<usize, String> {
    let schema = schema_mut(
        spec,
        &format!("{SCHEMA_PREFIX}image_variant_public_request"),
    )?;
    if schema.get("properties").is_none() {
        return Ok(0);
    }
    schema.remove("properties");
    schema.insert(
        "additionalProperties".into(),
        json!({"$ref": format!("#/components/schemas/{SCHEMA_PREFIX}image_variant_definition")}),
    );
    schema.insert(
        "description".into(),
        json!("Variant definitions by variant name."),
    );
    Ok(1)
}

/// Removes `default`s of `date-time` fields that are not timestamps (quirk 13:
/// `Now + 30 minutes`), which typify would parse in a panicking `Default`.
pub fn drop_invalid_datetime_defaults(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    walk_objects(spec, &mut |map| {
        if map.get("format") == Some(&json!("date-time")) {
            let bad = map
                .get("default")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.starts_with(|c: char| c.is_ascii_digit()));
            if bad {
                map.remove("default");
                changed += 1;
            }
        }
    });
    Ok(changed)
}

/// Removes query parameters whose name is a template such as
/// `meta.<field>[<operator>]` (quirk 24); it would go out under that literal,
/// percent-encoded key. The SDK's typed metadata filter replaces it.
/// Extension `drop_template_query_params` puts on an operation that took the
/// `meta.<field>[<operator>]` family of query parameters.
pub const METADATA_FILTERS: &str = "x-sdk-metadata-filters";

pub fn drop_template_query_params(spec: &mut Value) -> Result<usize, String> {
    let mut changed = 0;
    for (_, _, op) in operations_mut(spec) {
        let mut metadata_filters = false;
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            let before = params.len();
            params.retain(|p| {
                let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                metadata_filters |= name.starts_with("meta.");
                !name.contains('<')
            });
            changed += before - params.len();
        }
        if metadata_filters {
            // The tree gives such an operation typed filters
            // (`crate::pagination::MetadataFilter`) in place of the family.
            op.insert(METADATA_FILTERS.into(), Value::Bool(true));
        }
    }
    Ok(changed)
}

/// Moves string enums declared inline in a component's properties into
/// components of their own (named `<component>_<property>`), so that every enum
/// is a named type that generation can make open to unknown values (quirk 20).
pub fn hoist_inline_enums(spec: &mut Value) -> Result<usize, String> {
    fn visit(prefix: &str, node: &mut Value, hoisted: &mut Vec<(String, Value)>) {
        let Some(map) = node.as_object_mut() else {
            return;
        };
        for (key, child) in map.iter_mut() {
            match key.as_str() {
                "properties" => {
                    let Some(props) = child.as_object_mut() else {
                        continue;
                    };
                    for (prop, prop_schema) in props.iter_mut() {
                        let name = format!(
                            "{prefix}_{}",
                            heck::ToSnakeCase::to_snake_case(prop.as_str())
                        );
                        let is_inline_enum = prop_schema.get("enum").is_some()
                            && prop_schema.get("type") == Some(&json!("string"));
                        if is_inline_enum {
                            hoisted.push((name.clone(), prop_schema.take()));
                            *prop_schema = json!({"$ref": format!("#/components/schemas/{name}")});
                        } else {
                            visit(&name, prop_schema, hoisted);
                        }
                    }
                }
                "allOf" | "anyOf" | "oneOf" => {
                    if let Some(items) = child.as_array_mut() {
                        items
                            .iter_mut()
                            .for_each(|item| visit(prefix, item, hoisted));
                    }
                }
                "items" => visit(prefix, child, hoisted),
                _ => {}
            }
        }
    }
    let schemas = schemas_mut(spec)?;
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    for (name, schema) in schemas.iter_mut() {
        visit(name, schema, &mut hoisted);
    }
    let n = hoisted.len();
    for (name, schema) in hoisted {
        if schemas.insert(name.clone(), schema).is_some() {
            return Err(format!(
                "hoisting an inline enum would overwrite schema {name}"
            ));
        }
    }
    Ok(n)
}

/// A component that is a bare primitive (string, number, integer, boolean; no
/// enum, no properties) is copied into every place that refers to it and removed.
/// typify would otherwise make each one a newtype (`ImageIdentifier(String)`),
/// unfriendly in every signature, and a nullable one referenced from an optional
/// property becomes a double option whose inner `None` JSON `null` cannot reach.
pub fn inline_primitive_schemas(spec: &mut Value) -> Result<usize, String> {
    let schemas = schemas_mut(spec)?;
    let primitives: Map<String, Value> = schemas
        .iter()
        .filter(|(_, s)| {
            matches!(
                s.get("type").and_then(Value::as_str),
                Some("string" | "number" | "integer" | "boolean")
            ) && s.get("enum").is_none()
                && s.get("properties").is_none()
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for name in primitives.keys() {
        schemas.remove(name);
    }
    let mut changed = 0;
    walk_objects(spec, &mut |map| {
        let target = map
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(|name| primitives.get(name));
        if let Some(Value::Object(inline)) = target {
            map.remove("$ref");
            for (k, v) in inline {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
            changed += 1;
        }
    });
    Ok(changed)
}

/// Strips the `images_` prefix from component names and every `$ref` to them, so
/// types read `Image` and `ImageVariantFit` rather than `ImagesImage...`.
pub fn strip_schema_prefix(spec: &mut Value) -> Result<usize, String> {
    let schemas = schemas_mut(spec)?;
    let old = std::mem::take(schemas);
    let mut changed = 0;
    for (name, schema) in old {
        let new_name = match name.strip_prefix(SCHEMA_PREFIX) {
            Some(stripped) => {
                changed += 1;
                stripped.to_string()
            }
            None => name,
        };
        if schemas.insert(new_name.clone(), schema).is_some() {
            return Err(format!("two schemas would be named {new_name}"));
        }
    }
    let prefix = format!("#/components/schemas/{SCHEMA_PREFIX}");
    walk_objects(spec, &mut |map| {
        if let Some(Value::String(r)) = map.get_mut("$ref") {
            if let Some(rest) = r.strip_prefix(&prefix) {
                *r = format!("#/components/schemas/{rest}");
            }
        }
    });
    Ok(changed)
}

/// Removes the operations whose request body is `multipart/*` (quirk 6; progenitor
/// cannot generate them) and returns their operation ids. The SDK writes those
/// operations by hand; the resource tree still places them.
pub fn strip_multipart(spec: &mut Value) -> Result<Vec<String>, String> {
    let mut stripped = Vec::new();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            let multipart: Vec<String> = item
                .iter()
                .filter(|(m, op)| {
                    METHODS.contains(&m.as_str())
                        && op
                            .pointer("/requestBody/content")
                            .and_then(Value::as_object)
                            .is_some_and(|c| c.keys().any(|k| k.starts_with("multipart/")))
                })
                .map(|(m, _)| m.clone())
                .collect();
            for method in multipart {
                if let Some(op) = item.remove(&method) {
                    let id = op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    stripped.push(id.to_string());
                }
            }
        }
    }
    if stripped.is_empty() {
        return Err(
            "strip_multipart found no multipart operation: quirk 6 is gone; \
                    the handwritten uploads may now be generated"
                .into(),
        );
    }
    Ok(stripped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_with(responses: Value) -> Value {
        json!({"paths": {"/x": {"get": {"operationId": "x", "responses": responses}}},
               "components": {"schemas": {}}})
    }

    #[test]
    fn label_doc_fences_labels_only_opening_bare_fences() {
        let mut spec = json!({"description": "a\n```\ncode\n```\nb\n```rust\nx\n```"});
        assert_eq!(label_doc_fences(&mut spec).unwrap(), 1);
        assert_eq!(
            spec["description"],
            "a\n```text\ncode\n```\nb\n```rust\nx\n```"
        );
        assert_eq!(
            label_doc_fences(&mut json!({"description": "plain"})).unwrap(),
            0
        );
    }

    #[test]
    fn delete_schemaless_bodies_removes_only_schemaless() {
        let mut spec = json!({"paths": {"/x": {
            "delete": {"requestBody": {"required": true, "content": {"application/json": {}}}},
            "patch": {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}
        }}});
        assert_eq!(delete_schemaless_bodies(&mut spec).unwrap(), 1);
        assert!(spec.pointer("/paths/~1x/delete/requestBody").is_none());
        assert!(spec.pointer("/paths/~1x/patch/requestBody").is_some());
    }

    #[test]
    fn errors_to_failure_envelope_rewrites_allof_and_adds_5xx() {
        let mut spec = op_with(json!({
            "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/images_ok"}}}},
            "4XX": {"description": "bad", "content": {"application/json": {"schema": {"allOf": [
                {"$ref": "#/components/schemas/images_ok"},
                {"$ref": "#/components/schemas/images_api-response-common-failure"}]}}}}
        }));
        assert_eq!(errors_to_failure_envelope(&mut spec).unwrap(), 1);
        let responses = &spec["paths"]["/x"]["get"]["responses"];
        let failure = json!({"$ref": "#/components/schemas/images_api-response-common-failure"});
        assert_eq!(
            responses["4XX"]["content"]["application/json"]["schema"],
            failure
        );
        assert_eq!(
            responses["5XX"]["content"]["application/json"]["schema"],
            failure
        );
        assert_eq!(responses["4XX"]["description"], "bad");
        assert_eq!(
            responses["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/images_ok"
        );
        // Nothing left to repair: a second run finds no allOf.
        assert_eq!(errors_to_failure_envelope(&mut spec).unwrap(), 0);
    }

    #[test]
    fn lenient_failure_envelope_relaxes_all_four() {
        let mut spec = json!({"components": {"schemas": {"images_api-response-common-failure": {
            "type": "object",
            "properties": {
                "errors": {"allOf": [{"$ref": "#/components/schemas/images_messages"}], "minLength": 1},
                "messages": {"allOf": [{"$ref": "#/components/schemas/images_messages"}]},
                "result": {"type": "object", "enum": [null], "nullable": true},
                "success": {"type": "boolean", "enum": [false]}
            },
            "required": ["success", "errors", "messages", "result"]
        }}}});
        assert_eq!(lenient_failure_envelope(&mut spec).unwrap(), 4);
        let s = &spec["components"]["schemas"]["images_api-response-common-failure"];
        assert_eq!(
            s["properties"]["errors"],
            json!({"$ref": "#/components/schemas/images_messages"})
        );
        assert_eq!(s["properties"]["success"]["type"], "boolean");
        assert!(s["properties"]["success"].get("enum").is_none());
        assert!(s["properties"]["result"].get("type").is_none());
        assert_eq!(s["required"], json!(["success", "errors"]));
    }

    #[test]
    fn generic_envelope_result_unconstrains_both_envelopes() {
        let any = json!({"anyOf": [{"type": "object"}, {"type": "string"}]});
        let mut spec = json!({"components": {"schemas": {
            "images_api-response-common": {"type": "object", "properties": {"result": any.clone()}},
            "images_api-response-single": {"allOf": [{"$ref": "x"}, {"properties": {"result": any}}]}}}});
        assert_eq!(generic_envelope_result(&mut spec).unwrap(), 2);
        let s = &spec["components"]["schemas"];
        assert!(s["images_api-response-common"]["properties"]["result"]
            .get("anyOf")
            .is_none());
        assert!(
            s["images_api-response-single"]["allOf"][1]["properties"]["result"]
                .get("anyOf")
                .is_none()
        );
    }

    #[test]
    fn message_details_declares_documentation_url_and_source() {
        let mut spec = json!({"components": {"schemas": {"images_messages": {"type": "array", "items": {
            "properties": {"code": {"type": "integer", "minimum": 1000}, "message": {"type": "string"}}, "uniqueItems": true}}}}});
        assert_eq!(message_details(&mut spec).unwrap(), 4);
        let items = &spec["components"]["schemas"]["images_messages"]["items"];
        assert!(items.get("uniqueItems").is_none());
        assert!(items["properties"]["code"].get("minimum").is_none());
        assert_eq!(items["properties"]["documentation_url"]["type"], "string");
        assert_eq!(
            items["properties"]["source"]["properties"]["pointer"]["type"],
            "string"
        );
    }

    #[test]
    fn optional_body_defaults_leave_required_fields_and_responses_alone() {
        let mut spec = json!({
            "paths": {"/x": {
                "patch": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/p"}}}}}}},
            "components": {"schemas": {
                "p": {"required": ["options"], "properties": {
                    "flag": {"type": "boolean", "default": false},
                    "options": {"type": "object", "default": {}, "properties": {
                        "fit": {"type": "string", "default": "scale-down"}}}}},
                "r": {"properties": {"flag": {"type": "boolean", "default": false}}}}}
        });
        assert_eq!(optional_body_defaults(&mut spec).unwrap(), 2);
        let p = &spec["components"]["schemas"]["p"]["properties"];
        assert!(p["flag"].get("default").is_none());
        assert_eq!(p["options"]["default"], json!({}));
        assert!(p["options"]["properties"]["fit"].get("default").is_none());
        assert_eq!(
            spec["components"]["schemas"]["r"]["properties"]["flag"]["default"],
            json!(false)
        );
    }

    #[test]
    fn patch_objects_clearable_marks_free_form_objects_of_patch_bodies() {
        let mut spec = json!({
            "paths": {"/x": {
                "patch": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/p"}}}}},
                "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/q"}}}}}}},
            "components": {"schemas": {
                "p": {"properties": {"metadata": {"type": "object"}, "creator": {"type": "string"},
                                     "options": {"type": "object", "properties": {"a": {}}}}},
                "q": {"properties": {"metadata": {"type": "object"}}}}}});
        assert_eq!(patch_objects_clearable(&mut spec).unwrap(), 1);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(schemas["p"]["properties"]["metadata"]["nullable"], true);
        assert!(schemas["p"]["properties"]["options"]
            .get("nullable")
            .is_none());
        assert!(schemas["q"]["properties"]["metadata"]
            .get("nullable")
            .is_none());
    }

    #[test]
    fn integer_paging_converts_page_and_per_page_only() {
        let mut spec = json!({"paths": {"/x": {"get": {"parameters": [
            {"name": "page", "in": "query", "schema": {"type": "number", "minimum": 1}},
            {"name": "per_page", "in": "query", "schema": {"type": "number"}},
            {"name": "other", "in": "query", "schema": {"type": "number"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
        ]}}}});
        assert_eq!(integer_paging(&mut spec).unwrap(), 3);
        assert_eq!(
            spec["paths"]["/x"]["get"]["parameters"][3]["schema"],
            json!({"type": "integer", "format": "uint32", "maximum": 100})
        );
        assert_eq!(integer_paging(&mut spec).unwrap(), 0);
        let params = &spec["paths"]["/x"]["get"]["parameters"];
        assert_eq!(
            params[0]["schema"],
            json!({"type": "integer", "format": "uint32"})
        );
        assert_eq!(params[2]["schema"]["type"], "number");
    }

    #[test]
    fn integer_dimensions_converts_width_and_height() {
        let mut spec = json!({"components": {"schemas": {
            "images_image_variant_width": {"type": "number", "minimum": 1},
            "images_image_variant_height": {"type": "number", "minimum": 1}}}});
        assert_eq!(integer_dimensions(&mut spec).unwrap(), 2);
        assert_eq!(
            spec["components"]["schemas"]["images_image_variant_width"]["type"],
            "integer"
        );
        assert_eq!(integer_dimensions(&mut spec).unwrap(), 0);
    }

    #[test]
    fn relax_string_constraints_keeps_non_strings() {
        let mut spec = json!({"a": {"type": "string", "maxLength": 32, "pattern": "^[a-z]$"},
                              "b": {"type": "array", "maxLength": 3}});
        assert_eq!(relax_string_constraints(&mut spec).unwrap(), 2);
        assert_eq!(spec["a"], json!({"type": "string"}));
        assert_eq!(spec["b"]["maxLength"], 3);
    }

    #[test]
    fn variants_fixups_reshape_both_schemas() {
        let mut spec = json!({"components": {"schemas": {
            "images_image_variants": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "string"}]}},
            "images_image_variant_public_request": {"type": "object", "properties": {"hero": {"type": "object"}}}}}});
        assert_eq!(variants_as_url_strings(&mut spec).unwrap(), 1);
        assert_eq!(
            spec["components"]["schemas"]["images_image_variants"]["items"]["type"],
            "string"
        );
        assert_eq!(variants_map(&mut spec).unwrap(), 1);
        let map = &spec["components"]["schemas"]["images_image_variant_public_request"];
        assert!(map.get("properties").is_none());
        assert_eq!(
            map["additionalProperties"]["$ref"],
            "#/components/schemas/images_image_variant_definition"
        );
        assert_eq!(variants_map(&mut spec).unwrap(), 0);
    }

    #[test]
    fn drop_invalid_datetime_defaults_keeps_real_timestamps() {
        let mut spec = json!({"a": {"type": "string", "format": "date-time", "default": "Now + 30 minutes"},
                              "b": {"type": "string", "format": "date-time", "default": "2024-01-01T00:00:00Z"}});
        assert_eq!(drop_invalid_datetime_defaults(&mut spec).unwrap(), 1);
        assert!(spec["a"].get("default").is_none());
        assert!(spec["b"].get("default").is_some());
    }

    #[test]
    fn drop_template_query_params_removes_angle_bracket_names() {
        let mut spec = json!({"paths": {"/x": {"get": {"parameters": [
            {"name": "meta.<field>[<operator>]", "in": "query"}, {"name": "creator", "in": "query"}]}}}});
        assert_eq!(drop_template_query_params(&mut spec).unwrap(), 1);
        assert_eq!(
            spec["paths"]["/x"]["get"]["parameters"],
            json!([{"name": "creator", "in": "query"}])
        );
    }

    #[test]
    fn hoist_inline_enums_names_them_after_their_place() {
        let mut spec = json!({"components": {"schemas": {"images_check": {"type": "object", "properties": {
            "result": {"type": "object", "properties": {
                "connectivityStatus": {"type": "string", "enum": ["ok", "error"]}}}}}}}});
        assert_eq!(hoist_inline_enums(&mut spec).unwrap(), 1);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["images_check_result_connectivity_status"]["enum"],
            json!(["ok", "error"])
        );
        assert_eq!(
            schemas["images_check"]["properties"]["result"]["properties"]["connectivityStatus"]
                ["$ref"],
            "#/components/schemas/images_check_result_connectivity_status"
        );
    }

    #[test]
    fn inline_primitive_schemas_copies_and_removes() {
        let mut spec = json!({"components": {"schemas": {
            "images_token": {"type": "string", "nullable": true, "description": "t"},
            "images_fit": {"type": "string", "enum": ["a"]},
            "images_obj": {"type": "object", "properties": {
                "token": {"$ref": "#/components/schemas/images_token"},
                "fit": {"$ref": "#/components/schemas/images_fit"}}}}}});
        assert_eq!(inline_primitive_schemas(&mut spec).unwrap(), 1);
        let schemas = &spec["components"]["schemas"];
        assert!(schemas.get("images_token").is_none());
        assert_eq!(
            schemas["images_obj"]["properties"]["token"],
            json!({"type": "string", "nullable": true, "description": "t"})
        );
        assert_eq!(
            schemas["images_obj"]["properties"]["fit"]["$ref"],
            "#/components/schemas/images_fit"
        );
    }

    #[test]
    fn strip_schema_prefix_renames_components_and_refs() {
        let mut spec = json!({"components": {"schemas": {
            "images_a": {"$ref": "#/components/schemas/images_b"}, "images_b": {"type": "object"}}}});
        assert_eq!(strip_schema_prefix(&mut spec).unwrap(), 2);
        assert_eq!(
            spec["components"]["schemas"]["a"]["$ref"],
            "#/components/schemas/b"
        );
    }

    #[test]
    fn strip_multipart_returns_ids_and_fails_when_gone() {
        let mut spec = json!({"paths": {"/x": {
            "post": {"operationId": "up", "requestBody": {"content": {"multipart/form-data": {}}}},
            "get": {"operationId": "list"}}}});
        assert_eq!(strip_multipart(&mut spec).unwrap(), vec!["up".to_string()]);
        assert!(spec.pointer("/paths/~1x/post").is_none());
        assert!(spec.pointer("/paths/~1x/get").is_some());
        assert!(strip_multipart(&mut spec).is_err());
    }

    #[test]
    fn apply_all_fails_loudly_when_a_quirk_is_gone() {
        let mut spec = json!({"paths": {}, "components": {"schemas": {}}});
        let err = apply_all(&mut spec).unwrap_err();
        assert!(err.contains("label_doc_fences changed nothing"), "{err}");
    }

    /// A refreshed spec where upstream fixed three quirks: all three stale fixups
    /// are named in one run, and nothing else is.
    #[test]
    fn every_stale_fixup_is_reported_in_one_run() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../spec/cloudflare-images.openapi.yaml");
        let mut spec = crate::load_spec(&path).unwrap();
        // Upstream "fixes" three quirks the way the fixups do.
        label_doc_fences(&mut spec).unwrap();
        drop_template_query_params(&mut spec).unwrap();
        integer_dimensions(&mut spec).unwrap();
        let err = apply_all(&mut spec).unwrap_err();
        assert!(err.starts_with("3 problems"), "{err}");
        for name in [
            "label_doc_fences",
            "drop_template_query_params",
            "integer_dimensions",
        ] {
            assert!(
                err.contains(&format!("fixup {name} changed nothing")),
                "{err}"
            );
        }
        let (ran, problems) = apply_all_collecting(&mut load_spec_again());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(ran.len(), FIXUPS.len());
    }

    fn load_spec_again() -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../spec/cloudflare-images.openapi.yaml");
        crate::load_spec(&path).unwrap()
    }
}
