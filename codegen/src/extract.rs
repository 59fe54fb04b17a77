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

/// Where the full schema came from, written at the top of `spec/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Upstream repository, e.g. `https://github.com/cloudflare/api-schemas`.
    pub repository: String,
    /// Path of the schema in that repository, e.g. `openapi.yaml`.
    pub file: String,
    /// Upstream commit the file was taken from.
    pub commit: String,
    /// What follows the commit, e.g. `(2026-08-14T19:35:57Z, "Update schema: openapi.yaml")`.
    pub commit_note: Option<String>,
    /// Git blob id of the full upstream file.
    pub blob: String,
    /// Size of the full upstream file, as written after the blob id.
    pub blob_note: Option<String>,
}

/// The upstream repository of Cloudflare's API schemas.
pub const UPSTREAM_REPOSITORY: &str = "https://github.com/cloudflare/api-schemas";

/// Reads the provenance block of a file written by [`to_yaml`] (or the one
/// checked in), if its leading comment has one.
pub fn parse_provenance(text: &str) -> Option<Provenance> {
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    let field = |name: &str| -> Option<(String, Option<String>)> {
        let i = header.iter().position(|l| {
            l.trim_start_matches('#')
                .trim_start()
                .strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })?;
        let value = header[i].split_once(':')?.1.trim();
        let (first, rest) = value.split_once(' ').unwrap_or((value, ""));
        let mut note = rest.trim().to_string();
        // A continuation line: `#                         (2026-..., "...")`.
        if let Some(next) = header.get(i + 1) {
            let cont = next.trim_start_matches('#').trim();
            if cont.starts_with('(') && note.is_empty() {
                note = cont.to_string();
            }
        }
        Some((first.to_string(), (!note.is_empty()).then_some(note)))
    };
    let (commit, commit_note) = field("upstream commit")?;
    let (blob, blob_note) = field("upstream git blob")?;
    Some(Provenance {
        repository: field("upstream repository")
            .map(|(r, _)| r)
            .unwrap_or_else(|| UPSTREAM_REPOSITORY.into()),
        file: field("upstream file")
            .map(|(f, _)| f)
            .unwrap_or_else(|| "openapi.yaml".into()),
        commit,
        commit_note,
        blob,
        blob_note,
    })
}

/// Git's id of a file's contents (`git hash-object`): SHA-1 of `blob <len>\0<bytes>`.
pub fn git_blob_id(bytes: &[u8]) -> String {
    let mut data = format!("blob {}\0", bytes.len()).into_bytes();
    data.extend_from_slice(bytes);
    sha1(&data).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 (FIPS 180-4), only to name a file the way git does.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// The YAML text written to `spec/`, with a provenance header: where the full
/// schema came from (repository, file, commit, blob) and what was cut from it.
pub fn to_yaml(subset: &Value, provenance: &Provenance) -> Result<String, String> {
    let body = serde_yaml::to_string(subset).map_err(|e| e.to_string())?;
    let paths = subset["paths"].as_object().map_or(0, |p| p.len());
    let operations: usize = subset["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
        .filter_map(Value::as_object)
        .map(|item| {
            item.values()
                .filter(|op| op.get("responses").is_some())
                .count()
        })
        .sum();
    let schemas = subset
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map_or(0, |s| s.len());
    let note = |n: &Option<String>| n.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
    Ok(format!(
        "# Cloudflare Images API -- OpenAPI subset of Cloudflare's own public API schema.\n\
         #\n\
         # Provenance\n\
         #   upstream repository : {repo}\n\
         #   upstream file       : {file}\n\
         #   upstream commit     : {commit}{commit_note}\n\
         #   upstream git blob   : {blob}{blob_note}\n\
         #   upstream license    : BSD-3-Clause (see LICENSE.cloudflare-api-schemas); also declared in info.license below.\n\
         #\n\
         # Cut by `cargo codegen extract`: every path under {IMAGES_PREFIX} ({paths} paths,\n\
         # {operations} operations), every component schema they reference ({schemas} schemas), info, servers,\n\
         # components.securitySchemes and the top-level security requirement. Values are copied as they\n\
         # are, nothing is fixed (codegen/src/fixups.rs repairs at generation); the YAML is re-serialized.\n\
         #\n{body}",
        repo = provenance.repository,
        file = provenance.file,
        commit = provenance.commit,
        commit_note = note(&provenance.commit_note),
        blob = provenance.blob,
        blob_note = note(&provenance.blob_note),
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
    fn git_blob_ids_match_git_hash_object() {
        // `printf 'hello\n' | git hash-object --stdin`, and the empty blob.
        assert_eq!(
            git_blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(git_blob_id(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        // Longer than one block.
        // Longer than one block: 1,000 times `a`.
        assert_eq!(
            git_blob_id(&[b'a'; 1000]),
            "a50be72b20f0e3f078d252e8e56b11b4bec67509"
        );
    }

    #[test]
    fn the_checked_in_provenance_is_read_and_written_back() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../spec/cloudflare-images.openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let p = parse_provenance(&text).expect("the spec has a provenance header");
        assert_eq!(p.repository, UPSTREAM_REPOSITORY);
        assert_eq!(p.file, "openapi.yaml");
        assert_eq!(p.commit, "004e306af7836c7edd2b39d286c8cdd3d0508702");
        assert_eq!(
            p.commit_note.as_deref(),
            Some(r#"(2026-08-14T19:35:57Z, "Update schema: openapi.yaml")"#)
        );
        assert_eq!(p.blob, "2b6eca22bfe7069edb31d763bb502947fe0349bb");
        assert_eq!(p.blob_note.as_deref(), Some("(17,575,159 characters)"));

        let subset = json!({"openapi": "3.0.3", "paths": {"/accounts/{account_id}/images/v1": {
            "get": {"responses": {}}, "post": {"responses": {}}}}, "components": {"schemas": {"a": {}}}});
        let written = to_yaml(&subset, &p).unwrap();
        assert_eq!(parse_provenance(&written), Some(p));
        assert!(
            written.contains(
                "(1 paths,\n# 2 operations), every component schema they reference (1 schemas)"
            ),
            "{written}"
        );
        let back: Value = serde_yaml::from_str(&written).unwrap();
        assert_eq!(back, subset);
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
