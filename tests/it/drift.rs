//! The checked-in generated code is exactly what spec/ and codegen/ produce, and
//! the check notices when it is not. (The `cargo codegen --check` command itself,
//! exit status and diff, is tested with its binary in codegen/tests/it/cli.rs.)
//!
//! In this workspace build.rs generates from spec/ into `OUT_DIR` and the crate
//! compiles that (feature `regenerate`); it never writes generated/. So after an
//! edit of spec/ or codegen/, `cargo test` runs against the new code and
//! `the_checked_in_code_is_what_the_build_generated` fails until `cargo codegen`
//! refreshes generated/, the copy users compile.

use std::path::{Path, PathBuf};

use cloudflare_images_codegen as codegen;

const SPEC: &str = "spec/cloudflare-images.openapi.yaml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch copy of spec/ and generated/ to break on purpose.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cfimg-drift-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["spec", "generated"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(root().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn generate(spec_root: &Path) -> codegen::Generation {
    codegen::generate(&spec_root.join(SPEC), SPEC).expect("generation")
}

/// generated/ against what build.rs generated into `OUT_DIR` for this very
/// build, byte for byte.
#[test]
fn the_checked_in_code_is_what_the_build_generated() {
    let out_dir = Path::new(env!("OUT_DIR"));
    let built: Vec<codegen::GeneratedFile> = [codegen::API_FILE, codegen::RESOURCES_FILE]
        .into_iter()
        .map(|name| codegen::GeneratedFile {
            name,
            contents: std::fs::read_to_string(out_dir.join(name)).unwrap_or_else(|e| {
                panic!(
                    "{name} is not in OUT_DIR ({e}): build.rs generates it only with the \
                     `regenerate` feature, which the crate's dev-dependency on itself turns on"
                )
            }),
        })
        .collect();
    // Files left in OUT_DIR by an earlier build are not proof: the cfg is set by
    // the build script run of this very build.
    if !cfg!(cloudflare_images_regenerated) {
        panic!("this build did not compile the crate from OUT_DIR (`regenerate` is off)");
    }
    if let Some(diff) = codegen::check(&root().join("generated"), &built) {
        panic!(
            "generated/ is stale: it is not what spec/ and codegen/ produce (this build \
             compiled the fresh code from OUT_DIR). Run `cargo codegen` and commit \
             generated/.\n{}",
            short(&diff)
        );
    }
}

/// The first lines of a diff: enough to see what drifted.
fn short(diff: &str) -> String {
    const MAX: usize = 40;
    let mut lines: Vec<&str> = diff.lines().take(MAX).collect();
    let more = diff.lines().count().saturating_sub(MAX);
    let tail = format!("... ({more} more lines; `cargo codegen --check` shows them all)");
    if more > 0 {
        lines.push(&tail);
    }
    lines.join("\n")
}

#[test]
fn generation_is_deterministic_and_complete() {
    let first = generate(root());
    let second = generate(root());
    assert_eq!(first.files, second.files, "two runs must be byte-identical");
    assert!(first
        .files
        .iter()
        .all(|f| f.contents.starts_with("// @generated")));
    // Every operation of the spec, counted from the spec: a refreshed spec with
    // one more operation changes these, not the test.
    let (generated, handwritten) =
        spec_operations(&codegen::load_spec_with_supplement(&root().join(SPEC)).unwrap());
    assert!(!generated.is_empty() && !handwritten.is_empty());
    assert_eq!(first.generated_operations, generated);
    assert_eq!(first.handwritten_operations, handwritten);
}

/// The spec's operation ids: `(generated, handwritten)`, the handwritten ones being
/// those with a multipart body (uploads, in `src/upload.rs`).
fn spec_operations(spec: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let (mut generated, mut handwritten) = (Vec::new(), Vec::new());
    for item in spec["paths"].as_object().expect("paths").values() {
        for (method, op) in item.as_object().expect("path item") {
            let Some(id) = op.get("operationId").and_then(|id| id.as_str()) else {
                continue;
            };
            if ![
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                continue;
            }
            let multipart = op
                .pointer("/requestBody/content/multipart~1form-data")
                .is_some();
            if multipart {
                &mut handwritten
            } else {
                &mut generated
            }
            .push(id.to_string());
        }
    }
    (generated, handwritten)
}

/// A new operation in the spec (as a spec refresh brings) is generated and placed
/// in the tree, and the counts above follow it.
#[test]
fn an_operation_added_to_the_spec_is_generated() {
    let mut spec = codegen::load_spec_with_supplement(&root().join(SPEC)).unwrap();
    let paths = spec["paths"].as_object_mut().unwrap();
    let mut usage = paths["/accounts/{account_id}/images/v1/stats"]["get"].clone();
    usage["operationId"] = "cloudflare-images-usage".into();
    usage["x-fern-sdk-group-name"] = "images".into();
    usage["x-fern-sdk-method-name"] = "usage".into();
    usage["summary"] = "Usage".into();
    paths.insert(
        "/accounts/{account_id}/images/v1/usage".into(),
        serde_json::json!({ "get": usage }),
    );
    let (generated, handwritten) = spec_operations(&spec);
    let generation = codegen::generate_from_value(spec.clone(), SPEC).expect("generation");
    assert_eq!(generation.generated_operations, generated);
    assert_eq!(generation.handwritten_operations, handwritten);
    assert!(generated.contains(&"cloudflare-images-usage".to_string()));
    let tree = &generation.files[1].contents;
    assert!(
        tree.contains("\"/accounts/{account_id}/images/v1/usage\""),
        "not in the tree"
    );
    assert!(tree.contains("pub fn usage("), "no v1().usage()");

    // Hinted as `stats`, it would clash with the accessor of v1.stats: refused
    // with the override to add, instead of code failing with `duplicate definitions`.
    let paths = spec["paths"].as_object_mut().unwrap();
    paths["/accounts/{account_id}/images/v1/usage"]["get"]["x-fern-sdk-method-name"] =
        "stats".into();
    let err = codegen::generate_from_value(spec, SPEC)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"("cloudflare-images-usage", &["v1", "stats"], "usage")"#),
        "{err}"
    );
}

#[test]
fn a_hand_edit_of_generated_code_is_drift() {
    let dir = scratch("edit");
    let tree = dir.join("generated/resources.rs");
    let text = std::fs::read_to_string(&tree).unwrap();
    std::fs::write(
        &tree,
        text.replacen(
            "\"/accounts/{account_id}/images/v1/{image_id}\",",
            "\"/edited\",",
            1,
        ),
    )
    .unwrap();
    let diff =
        codegen::check(&dir.join("generated"), &generate(&dir).files).expect("drift detected");
    assert!(diff.contains("-            \"/edited\","), "{diff}");
    assert!(
        diff.contains("+            \"/accounts/{account_id}/images/v1/{image_id}\","),
        "{diff}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_spec_change_without_regenerating_is_drift() {
    let dir = scratch("spec");
    let spec = dir.join(SPEC);
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replacen(
            "summary: Image details",
            "summary: Image details, changed",
            1,
        ),
    )
    .unwrap();
    let diff =
        codegen::check(&dir.join("generated"), &generate(&dir).files).expect("drift detected");
    assert!(diff.contains("Image details, changed"), "{diff}");
    let _ = std::fs::remove_dir_all(&dir);
}
