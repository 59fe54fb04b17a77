//! The `cargo codegen` binary as a maintainer runs it: on the checkout it is run
//! in, and keeping the spec's provenance on `extract`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_cloudflare-images-codegen");
const SPEC: &str = "spec/cloudflare-images.openapi.yaml";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cfimg-codegen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A clone with what `cargo codegen` reads: the workspace manifest, spec/, generated/.
fn clone_into(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(workspace().join("Cargo.toml"), dir.join("Cargo.toml")).unwrap();
    for sub in ["spec", "generated"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(workspace().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name())).unwrap();
        }
    }
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the codegen binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One binary (built for this checkout), two clones: each run works on the clone
/// it is run in, never on the checkout the binary was compiled from.
#[test]
fn the_binary_works_on_the_clone_it_is_run_in() {
    let base = scratch("clones");
    let (a, b) = (base.join("a"), base.join("b"));
    clone_into(&a);
    clone_into(&b);
    let resources =
        |dir: &Path| std::fs::read_to_string(dir.join("generated/resources.rs")).unwrap();
    let pristine = resources(&a);
    let real_before = resources(&workspace());
    std::fs::write(
        b.join("generated/resources.rs"),
        pristine.replacen("Image details", "Image DETAILS", 1),
    )
    .unwrap();

    let clean = run_in(&a, &["--check"]);
    assert!(clean.status.success(), "{}", text(&clean));
    assert!(
        text(&clean).contains(&a.display().to_string()),
        "{}",
        text(&clean)
    );

    // From a subdirectory of b: b's drift, not a's nor the real checkout's.
    let drifted = run_in(&b.join("generated"), &["--check"]);
    assert!(!drifted.status.success(), "{}", text(&drifted));
    assert!(
        text(&drifted).contains("has drifted") && text(&drifted).contains("-    /**Image DETAILS"),
        "{}",
        text(&drifted)
    );

    // Regenerating in b rewrites b only.
    let regenerated = run_in(&b, &[]);
    assert!(regenerated.status.success(), "{}", text(&regenerated));
    assert_eq!(resources(&b), pristine);
    assert_eq!(resources(&a), pristine);
    assert_eq!(resources(&workspace()), real_before);

    // --root still chooses the checkout explicitly.
    let rooted = run_in(&base, &["--check", "--root", a.to_str().unwrap()]);
    assert!(rooted.status.success(), "{}", text(&rooted));
    // Outside any checkout: an error saying so, not the compile-time checkout.
    let outside = run_in(&base, &["--check"]);
    assert!(!outside.status.success());
    assert!(
        text(&outside).contains("is not inside a cloudflare-images-rs checkout"),
        "{}",
        text(&outside)
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// Re-extracting from the checked-in spec keeps its provenance header.
#[test]
fn extract_keeps_the_provenance_of_its_input() {
    let dir = scratch("extract-header");
    let out = dir.join("spec.yaml");
    let run = run_in(
        &dir,
        &[
            "extract",
            "--from",
            workspace().join(SPEC).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run));
    let written = std::fs::read_to_string(&out).unwrap();
    // Counted from the spec, so adding an operation to it does not fail this test.
    let spec: openapiv3::OpenAPI =
        serde_yaml::from_str(&std::fs::read_to_string(workspace().join(SPEC)).unwrap()).unwrap();
    let operations = spec.operations().count();
    let schemas = spec.components.as_ref().map_or(0, |c| c.schemas.len());
    let counts = format!(
        "({} paths,\n# {operations} operations), every component schema they reference ({schemas} schemas)",
        spec.paths.paths.len()
    );
    for line in [
        "#   upstream repository : https://github.com/cloudflare/api-schemas",
        "#   upstream file       : openapi.yaml",
        "#   upstream commit     : 004e306af7836c7edd2b39d286c8cdd3d0508702 (2026-08-14T19:35:57Z, \"Update schema: openapi.yaml\")",
        "#   upstream git blob   : 2b6eca22bfe7069edb31d763bb502947fe0349bb (17,575,159 characters)",
        &counts,
    ] {
        assert!(written.contains(line), "missing {line:?} in\n{}", &written[..1500]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// From a full upstream file: the blob id is computed from it, the commit comes
/// from the flag (and without one, the command refuses rather than lose it).
#[test]
fn extract_from_a_full_schema_records_commit_and_blob() {
    let dir = scratch("extract-full");
    let full = dir.join("openapi.json");
    let body = r##"{"openapi": "3.0.3", "info": {"title": "Cloudflare API", "version": "4.0.0"},
  "paths": {"/accounts/{account_id}/images/v1/stats": {"get": {"operationId": "stats",
    "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/images_stats"}}}}}}},
    "/zones": {"get": {"responses": {}}}},
  "components": {"schemas": {"images_stats": {"type": "object"}, "zones": {"type": "object"}}}}
"##;
    std::fs::write(&full, body).unwrap();
    let out = dir.join("spec.yaml");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "extract".to_string(),
            "--from".into(),
            full.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let refused = Command::new(BIN)
        .current_dir(&dir)
        .args(args(&[]))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("--upstream-commit"),
        "{}",
        text(&refused)
    );

    let ok = Command::new(BIN)
        .current_dir(&dir)
        .args(args(&[
            "--upstream-commit",
            "0123456789abcdef0123456789abcdef01234567",
        ]))
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok));
    let written = std::fs::read_to_string(&out).unwrap();
    let blob = Command::new("git").arg("hash-object").arg(&full).output();
    let expected_blob = match blob {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => cloudflare_images_codegen::extract::git_blob_id(body.as_bytes()),
    };
    assert!(
        written.contains("#   upstream commit     : 0123456789abcdef0123456789abcdef01234567\n"),
        "{written}"
    );
    assert!(
        written.contains(&format!(
            "#   upstream git blob   : {expected_blob} ({} characters)",
            body.chars().count()
        )),
        "{written}"
    );
    // And the written subset carries it on: extracting from it keeps the same header.
    let again = dir.join("again.yaml");
    let rerun = run_in(
        &dir,
        &[
            "extract",
            "--from",
            out.to_str().unwrap(),
            "--out",
            again.to_str().unwrap(),
        ],
    );
    assert!(rerun.status.success(), "{}", text(&rerun));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), written);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Usage errors exit 2 (clap's convention) and run nothing; `--help` lists the flags
/// with their defaults, and `extract --help` extract's.
#[test]
fn usage_errors_exit_2_and_help_lists_the_flags() {
    let dir = workspace();
    for bad in [
        &["--bogus"][..],
        &["extract"],
        &["--check", "extract", "--from", "x.yaml"],
        &["extract", "--from"],
    ] {
        let out = run_in(&dir, bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
        assert!(out.stdout.is_empty(), "{bad:?} ran: {}", text(&out));
    }
    let help = run_in(&dir, &["--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--check", "--root <DIR>", "extract"] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    let help = run_in(&dir, &["extract", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--from <FILE>",
        "--out <FILE>",
        "--root <DIR>",
        "--upstream-commit <SHA>",
        "--upstream-blob <SHA>",
        "--upstream-file <PATH>",
        "--upstream-repository <URL>",
    ] {
        let line = help
            .lines()
            .find(|l| l.contains(flag))
            .unwrap_or_else(|| panic!("{flag}: {help}"));
        assert!(
            line.contains("[default: ") || flag.starts_with("--from"),
            "{flag} has no default: {line}"
        );
    }
}
