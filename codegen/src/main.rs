//! `cargo codegen [--check]` and `cargo codegen extract --from <file> [--out <file>]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cloudflare_images_codegen as codegen;

const SPEC: &str = "spec/cloudflare-images.openapi.yaml";
const USAGE: &str = "usage:
  cargo codegen            regenerate generated/ from spec/
  cargo codegen --check    exit 1 and print a diff if generated/ differs from what spec/ and codegen/ produce
  cargo codegen extract --from <openapi.yaml|json> [--out <path>]
                           refresh spec/ from Cloudflare's full API schema
  --root <dir>             work on another checkout (default: this repository)";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut root = repo_root();
    if let Some(i) = args.iter().position(|a| a == "--root") {
        match args.get(i + 1) {
            Some(dir) => root = PathBuf::from(dir),
            None => {
                eprintln!("cargo codegen: --root needs a directory\n{USAGE}");
                return ExitCode::FAILURE;
            }
        }
        args.drain(i..i + 2);
    }
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => generate(&root, false),
        ["--check"] => generate(&root, true),
        ["extract", "--from", from] => extract(Path::new(from), &root.join(SPEC)),
        ["extract", "--from", from, "--out", out] => extract(Path::new(from), Path::new(out)),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unrecognised arguments\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cargo codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(root: &Path, check: bool) -> Result<(), String> {
    let out_dir = root.join("generated");
    let generation = codegen::generate(&root.join(SPEC), SPEC).map_err(|e| e.to_string())?;
    if check {
        return match codegen::check(&out_dir, &generation.files) {
            None => {
                println!("generated/ is up to date with {SPEC}");
                Ok(())
            }
            Some(diff) => Err(format!(
                "generated/ has drifted from {SPEC}; run `cargo codegen` and commit the result\n{diff}"
            )),
        };
    }
    for (name, n) in &generation.fixups {
        println!("fixup {name}: {n} change(s)");
    }
    println!(
        "{} operations generated, {} handwritten ({})",
        generation.generated_operations.len(),
        generation.handwritten_operations.len(),
        generation.handwritten_operations.join(", ")
    );
    let written =
        codegen::write_if_changed(&out_dir, &generation.files).map_err(|e| e.to_string())?;
    if written.is_empty() {
        println!("generated/ unchanged");
    }
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn extract(from: &Path, out: &Path) -> Result<(), String> {
    let full = codegen::load_spec(from).map_err(|e| e.to_string())?;
    let subset = codegen::extract::extract(&full)?;
    let text = codegen::extract::to_yaml(&subset, &from.display().to_string())?;
    std::fs::write(out, text).map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!(
        "wrote {} ({} paths)",
        out.display(),
        subset["paths"].as_object().map_or(0, |p| p.len())
    );
    Ok(())
}
