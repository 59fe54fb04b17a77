//! Response checking for `schema.rs`: the spec's OpenAPI 3.0 schemas, converted to
//! JSON Schema (draft 2020-12), validated by the `jsonschema` crate.
//!
//! OpenAPI 3.0 schemas are a dialect of JSON Schema draft 4/5 that `jsonschema` does not
//! know, so [`to_json_schema`] converts them first:
//!
//! - `nullable: true` adds `null` to `type` and `enum` (or, next to `$ref`, `allOf`, `anyOf`,
//!   `oneOf` or `not`, which could reject null themselves, becomes
//!   `anyOf: [{type: null}, <the schema>]`);
//! - `$ref: '#/components/schemas/<name>'` becomes `#/$defs/<name>`, and the converted
//!   components travel in `$defs` of every schema built ([`Validator::new`]); any other
//!   `$ref` (remote, or elsewhere in the document) is refused;
//! - the boolean `exclusiveMinimum`/`exclusiveMaximum` of draft 4 become the numeric ones;
//! - the numeric formats (`int32`, `int64`, `uint32`) become a whole-number range check,
//!   since JSON Schema formats only constrain strings; `float`/`double` constrain nothing;
//! - `example`, `externalDocs`, `xml` and `x-*` extensions are dropped (annotations);
//! - any other keyword is refused with an error: `jsonschema` ignores keywords it does not
//!   know, and a check that silently passes is worse than none.
//!
//! Formats are asserted (`date-time`, `uuid`, `uri`, ...); an unknown format fails the
//! build instead of passing, and `binary` (an OpenAPI annotation for raw bytes) accepts
//! anything. `pattern` is checked (ECMA 262 regular expressions).
//!
//! Every violation carries the JSON path of the offending value (`$.result.images[0].id`)
//! and a message that starts with the failing keyword (`pattern: ...`).

#![allow(dead_code)]

use jsonschema::paths::LocationSegment;
use serde_json::{json, Map, Value};

/// One failed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where in the instance, e.g. `$.result.variant.options.width`.
    pub path: String,
    /// What failed, starting with the keyword (`required: ...`).
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

const COMPONENTS: &str = "#/components/schemas/";

/// Keywords copied unchanged: JSON Schema 2020-12 means by them what OpenAPI 3.0 does.
const SAME_MEANING: &[&str] = &[
    "type",
    "enum",
    "required",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    // Annotations in both.
    "title",
    "description",
    "default",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// Annotations OpenAPI has and JSON Schema 2020-12 does not: dropped.
const OPENAPI_ANNOTATIONS: &[&str] = &["example", "externalDocs", "xml"];

/// Keywords whose value is one schema.
const ONE_SCHEMA: &[&str] = &["items", "additionalProperties", "not"];

/// Keywords whose value is a list of schemas.
const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf"];

/// Converts one OpenAPI 3.0 schema to JSON Schema 2020-12 (see the module docs); `Err`
/// names the first keyword that cannot be converted and where it is (`at`, a JSON pointer
/// into the schema).
pub fn to_json_schema(schema: &Value) -> Result<Value, String> {
    convert(schema, "")
}

fn convert(schema: &Value, at: &str) -> Result<Value, String> {
    let s = match schema {
        Value::Bool(_) => return Ok(schema.clone()),
        Value::Object(s) => s,
        other => return Err(format!("{at}: not a schema: {other}")),
    };
    let mut out = Map::new();
    // Whole-number ranges (numeric formats) and exclusive bounds, checked next to the rest.
    let mut extra: Vec<Value> = Vec::new();
    let mut nullable = false;
    for (key, value) in s {
        let here = format!("{at}/{key}");
        match key.as_str() {
            "$ref" => {
                let target = value.as_str().unwrap_or_default();
                let Some(name) = target.strip_prefix(COMPONENTS) else {
                    return Err(format!(
                        "{here}: unsupported $ref {value} (only {COMPONENTS}<name>)"
                    ));
                };
                out.insert(key.clone(), json!(format!("#/$defs/{name}")));
            }
            "nullable" => {
                nullable = match value {
                    Value::Bool(b) => *b,
                    _ => return Err(format!("{here}: not a boolean: {value}")),
                }
            }
            "properties" => {
                let props = value
                    .as_object()
                    .ok_or_else(|| format!("{here}: not an object"))?;
                let mut converted = Map::new();
                for (name, prop) in props {
                    converted.insert(name.clone(), convert(prop, &format!("{here}/{name}"))?);
                }
                out.insert(key.clone(), Value::Object(converted));
            }
            k if ONE_SCHEMA.contains(&k) => {
                out.insert(key.clone(), convert(value, &here)?);
            }
            k if SCHEMA_LISTS.contains(&k) => {
                let members = value
                    .as_array()
                    .ok_or_else(|| format!("{here}: not a list"))?;
                let converted = members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| convert(m, &format!("{here}/{i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert(key.clone(), Value::Array(converted));
            }
            "exclusiveMinimum" | "exclusiveMaximum" => {
                let bound = if key == "exclusiveMinimum" {
                    "minimum"
                } else {
                    "maximum"
                };
                match (value, s.get(bound)) {
                    (Value::Bool(false), _) => {}
                    // Draft 4: `minimum: x, exclusiveMinimum: true` is 2020-12's
                    // `exclusiveMinimum: x` (`minimum` stays, and is implied by it).
                    (Value::Bool(true), Some(limit)) => extra.push(json!({ key: limit })),
                    _ => return Err(format!("{here}: {value} without a numeric `{bound}`")),
                }
            }
            "format" => match value.as_str() {
                Some("float" | "double") => {}
                Some(numeric @ ("int32" | "int64" | "uint32")) => {
                    let (lo, hi) = match numeric {
                        "int32" => (json!(i32::MIN), json!(i32::MAX)),
                        "int64" => (json!(i64::MIN), json!(i64::MAX)),
                        _ => (json!(0), json!(u32::MAX)),
                    };
                    // Range keywords constrain numbers only, as the format does.
                    extra.push(json!({"multipleOf": 1, "minimum": lo, "maximum": hi}));
                }
                Some(_) => {
                    out.insert(key.clone(), value.clone());
                }
                None => return Err(format!("{here}: not a string: {value}")),
            },
            k if SAME_MEANING.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            k if OPENAPI_ANNOTATIONS.contains(&k) || k.starts_with("x-") => {}
            _ => {
                return Err(format!(
                    "{here}: unsupported keyword `{key}` (cannot check it)"
                ))
            }
        }
    }
    // Keywords that could reject null by themselves: with one of them, nullable must wrap
    // the schema; without, widening `type` (and `enum`) is enough, and the other keywords
    // (pattern, properties, ...) keep their own messages.
    let null_rejecting = ["$ref", "allOf", "anyOf", "oneOf", "not"]
        .iter()
        .any(|k| out.contains_key(*k));
    if !extra.is_empty() {
        // Range checks constrain numbers only: null passes them.
        let mut all = match out.remove("allOf") {
            Some(Value::Array(all)) => all,
            _ => Vec::new(),
        };
        all.extend(extra);
        out.insert("allOf".into(), Value::Array(all));
    }
    if !nullable {
        return Ok(Value::Object(out));
    }
    if null_rejecting {
        return Ok(json!({"anyOf": [{"type": "null"}, Value::Object(out)]}));
    }
    if let Some(Value::String(t)) = out.get("type") {
        let union = json!([t, "null"]);
        out.insert("type".into(), union);
    }
    if let Some(Value::Array(values)) = out.get_mut("enum") {
        if !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
    }
    Ok(Value::Object(out))
}

/// Validates instances against schemas of one OpenAPI document: its
/// `components/schemas`, converted once, are the `$defs` of every schema checked.
pub struct Validator {
    defs: Map<String, Value>,
}

impl Validator {
    /// Converts `spec`'s components; `Err` when one of them cannot be converted.
    pub fn new(spec: &Value) -> Result<Validator, String> {
        let mut defs = Map::new();
        if let Some(schemas) = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                let converted = convert(schema, &format!("/components/schemas/{name}"))?;
                defs.insert(name.clone(), converted);
            }
        }
        Ok(Validator { defs })
    }

    /// Every violation of the OpenAPI `schema` by `instance`; empty when it conforms. A
    /// schema that cannot be converted or compiled is one violation at `$`, never a pass.
    pub fn validate(&self, schema: &Value, instance: &Value) -> Vec<Violation> {
        let fail = |message: String| {
            vec![Violation {
                path: "$".into(),
                message,
            }]
        };
        let root = match convert(schema, "") {
            Ok(Value::Object(mut root)) => {
                root.insert(
                    "$schema".into(),
                    json!("https://json-schema.org/draft/2020-12/schema"),
                );
                root.insert("$defs".into(), Value::Object(self.defs.clone()));
                Value::Object(root)
            }
            Ok(other) => other,
            Err(e) => return fail(format!("schema: {e}")),
        };
        let validator = match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(false)
            // OpenAPI's raw-bytes marker: the body is not JSON, nothing to check.
            .with_format("binary", |_: &str| true)
            .offline()
            .build(&root)
        {
            Ok(v) => v,
            Err(e) => return fail(format!("schema: {e}")),
        };
        validator
            .iter_errors(instance)
            .map(|e| Violation {
                path: json_path(e.instance_path()),
                message: format!("{}: {e}", e.kind().keyword()),
            })
            .collect()
    }

    /// Like [`validate`](Self::validate) for the component `#/components/schemas/<name>`.
    pub fn validate_component(&self, name: &str, instance: &Value) -> Vec<Violation> {
        let schema = json!({"$ref": format!("{COMPONENTS}{name}")});
        self.validate(&schema, instance)
    }
}

/// `/result/images/0/id` as `$.result.images[0].id`.
fn json_path(location: &jsonschema::paths::Location) -> String {
    let mut path = String::from("$");
    for segment in location.iter() {
        match segment {
            LocationSegment::Index(i) => path.push_str(&format!("[{i}]")),
            LocationSegment::Property(name) => {
                path.push('.');
                path.push_str(&name);
            }
        }
    }
    path
}
