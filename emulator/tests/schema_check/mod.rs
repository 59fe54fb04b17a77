//! A small OpenAPI 3.0 schema validator: exactly the keywords the Images spec uses.
//!
//! Supported: `$ref` (local JSON pointers), `type` (object, array, string, integer,
//! number, boolean), `nullable`, `enum`, `properties`, `required`,
//! `additionalProperties` (schema or boolean), `items`, `minItems`, `maxItems`,
//! `uniqueItems`, `allOf` (every member), `anyOf` (at least one), `oneOf` (exactly
//! one), `minimum`, `maximum`, `exclusiveMinimum`/`exclusiveMaximum` (3.0 booleans),
//! `minLength`, `maxLength`, and `format` `date-time` (RFC 3339), `uuid` (hyphenated),
//! `uri` (absolute), `uint32`, `binary`.
//!
//! Annotations (`description`, `example`, `readOnly`, `default`, `x-*`, ...) are
//! ignored. Anything else — `pattern` included, since this crate has no regex
//! engine — is reported as an "unsupported" violation, never passed silently.
//!
//! Every violation carries the JSON path of the offending value (`$.result.images[0].id`).
//! Keywords next to a `$ref` are checked too (stricter than OAS 3.0, which ignores them).

#![allow(dead_code)]

use serde_json::{Map, Value};

/// One failed constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where in the instance, e.g. `$.result.variant.options.width`.
    pub path: String,
    /// What failed, naming the keyword.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Keywords that only annotate.
const ANNOTATIONS: &[&str] = &[
    "description",
    "example",
    "examples",
    "title",
    "readOnly",
    "writeOnly",
    "default",
    "deprecated",
    "externalDocs",
];

/// Keywords checked below (besides annotations and `x-*`).
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "allOf",
    "anyOf",
    "oneOf",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "format",
];

/// Whether the validator understands (or may ignore) schema keyword `key`.
pub fn is_supported_keyword(key: &str) -> bool {
    ANNOTATIONS.contains(&key) || CHECKED.contains(&key) || key.starts_with("x-")
}

/// Guards against `$ref` cycles that never consume input.
const MAX_DEPTH: usize = 64;

/// Validates instances against schemas of one OpenAPI document (`$ref`s resolve in it).
pub struct Validator<'a> {
    root: &'a Value,
}

impl<'a> Validator<'a> {
    pub fn new(root: &'a Value) -> Self {
        Validator { root }
    }

    /// Every violation of `schema` by `instance`; empty when it conforms.
    pub fn validate(&self, schema: &Value, instance: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        self.check(schema, instance, "$", 0, &mut out);
        out
    }

    /// Like [`validate`](Self::validate) for the component `#/components/schemas/<name>`.
    pub fn validate_component(&self, name: &str, instance: &Value) -> Vec<Violation> {
        let schema = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
        self.validate(&schema, instance)
    }

    fn check(
        &self,
        schema: &Value,
        inst: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let mut fail = |message: String| {
            out.push(Violation {
                path: path.to_string(),
                message,
            })
        };
        if depth > MAX_DEPTH {
            fail("schema nesting too deep ($ref cycle?)".into());
            return;
        }
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return fail("no value is allowed here (schema `false`)".into()),
            Value::Object(s) => s,
            other => return fail(format!("invalid schema {other}")),
        };
        for key in s.keys() {
            if !is_supported_keyword(key) {
                fail(format!("unsupported keyword `{key}` (cannot check it)"));
            }
        }
        if let Some(r) = s.get("$ref") {
            match r.as_str().and_then(|r| r.strip_prefix('#')) {
                Some(pointer) => match self.root.pointer(pointer) {
                    Some(target) => self.check(target, inst, path, depth + 1, out),
                    None => out.push(Violation {
                        path: path.to_string(),
                        message: format!("unresolvable $ref {r}"),
                    }),
                },
                None => out.push(Violation {
                    path: path.to_string(),
                    message: format!("unsupported (non-local) $ref {r}"),
                }),
            }
        }
        if inst.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        self.check_type_and_enum(s, inst, path, out);
        self.check_combinators(s, inst, path, depth, out);
        match inst {
            Value::Object(obj) => self.check_object(s, obj, path, depth, out),
            Value::Array(items) => self.check_array(s, items, path, depth, out),
            Value::String(text) => check_string(s, text, path, out),
            Value::Number(_) => check_number(s, inst, path, out),
            _ => {}
        }
    }

    fn check_type_and_enum(
        &self,
        s: &Map<String, Value>,
        inst: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        if let Some(t) = s.get("type") {
            let ok = match t.as_str() {
                Some("object") => inst.is_object(),
                Some("array") => inst.is_array(),
                Some("string") => inst.is_string(),
                Some("boolean") => inst.is_boolean(),
                Some("number") => inst.is_number(),
                Some("integer") => is_integer(inst),
                _ => {
                    out.push(violation(path, format!("unsupported type {t}")));
                    true
                }
            };
            if !ok {
                out.push(violation(
                    path,
                    format!("type: expected {}, got {}", t, describe(inst)),
                ));
            }
        }
        if let Some(allowed) = s.get("enum") {
            match allowed.as_array() {
                Some(values) if values.contains(inst) => {}
                Some(_) => out.push(violation(
                    path,
                    format!("enum: {inst} is not one of {allowed}"),
                )),
                None => out.push(violation(path, format!("invalid enum {allowed}"))),
            }
        }
    }

    fn check_combinators(
        &self,
        s: &Map<String, Value>,
        inst: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for member in all {
                self.check(member, inst, path, depth + 1, out);
            }
        }
        for (key, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            let Some(members) = s.get(key).and_then(Value::as_array) else {
                continue;
            };
            let results: Vec<Vec<Violation>> = members
                .iter()
                .map(|m| {
                    let mut v = Vec::new();
                    self.check(m, inst, path, depth + 1, &mut v);
                    v
                })
                .collect();
            let matching = results.iter().filter(|v| v.is_empty()).count();
            if matching == 0 {
                let why: Vec<String> = results
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let list: Vec<String> = v.iter().map(ToString::to_string).collect();
                        format!("[{i}] {}", list.join("; "))
                    })
                    .collect();
                out.push(violation(
                    path,
                    format!("{key}: matches none of the members ({})", why.join(" | ")),
                ));
            } else if exactly_one && matching > 1 {
                out.push(violation(
                    path,
                    format!("oneOf: matches {matching} members, expected exactly one"),
                ));
            }
        }
    }

    fn check_object(
        &self,
        s: &Map<String, Value>,
        obj: &Map<String, Value>,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if let Some(required) = s.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    out.push(violation(
                        path,
                        format!("required: property `{name}` is missing"),
                    ));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (key, value) in obj {
            let child = format!("{path}.{key}");
            match props.and_then(|p| p.get(key)) {
                Some(prop) => self.check(prop, value, &child, depth + 1, out),
                None => {
                    if let Some(extra) = s.get("additionalProperties") {
                        if extra == &Value::Bool(false) {
                            out.push(violation(
                                &child,
                                "additionalProperties: property not allowed".into(),
                            ));
                        } else {
                            self.check(extra, value, &child, depth + 1, out);
                        }
                    }
                }
            }
        }
    }

    fn check_array(
        &self,
        s: &Map<String, Value>,
        items: &[Value],
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{path}[{i}]"), depth + 1, out);
            }
        }
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                out.push(violation(
                    path,
                    format!("minItems: {} < {min}", items.len()),
                ));
            }
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if items.len() as u64 > max {
                out.push(violation(
                    path,
                    format!("maxItems: {} > {max}", items.len()),
                ));
            }
        }
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    out.push(violation(
                        &format!("{path}[{i}]"),
                        "uniqueItems: duplicate".into(),
                    ));
                }
            }
        }
    }
}

fn violation(path: &str, message: String) -> Violation {
    Violation {
        path: path.to_string(),
        message,
    }
}

fn is_integer(v: &Value) -> bool {
    v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(v) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if matches!(v, Value::Null) {
        return kind.to_string();
    }
    let mut text = v.to_string();
    if text.chars().count() > 60 {
        text = text.chars().take(60).collect::<String>() + "…";
    }
    format!("{kind} {text}")
}

fn check_string(s: &Map<String, Value>, text: &str, path: &str, out: &mut Vec<Violation>) {
    let len = text.chars().count() as u64;
    if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
        if len < min {
            out.push(violation(path, format!("minLength: {len} < {min}")));
        }
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
        if len > max {
            out.push(violation(path, format!("maxLength: {len} > {max}")));
        }
    }
    if let Some(format) = s.get("format").and_then(Value::as_str) {
        let ok = match format {
            "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            "uuid" => text.len() == 36 && uuid::Uuid::try_parse(text).is_ok(),
            "uri" => is_absolute_uri(text),
            "binary" => true,
            // Numeric formats: `type` rejects a string where a number is due.
            "uint32" | "int32" | "int64" | "float" | "double" => true,
            other => {
                out.push(violation(path, format!("unsupported format `{other}`")));
                true
            }
        };
        if !ok {
            out.push(violation(
                path,
                format!("format: {text:?} is not a valid {format}"),
            ));
        }
    }
}

/// `scheme:rest` with an RFC 3986 scheme and no whitespace.
fn is_absolute_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !text.chars().any(char::is_whitespace)
}

fn check_number(s: &Map<String, Value>, inst: &Value, path: &str, out: &mut Vec<Violation>) {
    let Some(n) = inst.as_f64() else { return };
    let exclusive = |key: &str| s.get(key) == Some(&Value::Bool(true));
    if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
        if n < min || (exclusive("exclusiveMinimum") && n == min) {
            out.push(violation(path, format!("minimum: {inst} < {min}")));
        }
    }
    if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
        if n > max || (exclusive("exclusiveMaximum") && n == max) {
            out.push(violation(path, format!("maximum: {inst} > {max}")));
        }
    }
    let range = match s.get("format").and_then(Value::as_str) {
        None | Some("float" | "double") => return,
        Some("uint32") => (0.0, f64::from(u32::MAX)),
        Some("int32") => (f64::from(i32::MIN), f64::from(i32::MAX)),
        Some("int64") => (i64::MIN as f64, i64::MAX as f64),
        Some(other) => {
            out.push(violation(path, format!("unsupported format `{other}`")));
            return;
        }
    };
    if !(is_integer(inst) && (range.0..=range.1).contains(&n)) {
        let format = &s["format"];
        out.push(violation(path, format!("format: {inst} is not a {format}")));
    }
}
