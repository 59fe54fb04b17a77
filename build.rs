//! Regenerates `generated/` from `spec/` when the `regenerate` feature is on (it is
//! inside this workspace, through the crate's dev-dependency on itself). Runs
//! before this package compiles, so the code it writes is the code that compiles,
//! in the same `cargo test`. Users build with the feature off: nothing runs and the
//! generator is not even compiled.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "regenerate")]
    regenerate();
}

#[cfg(feature = "regenerate")]
fn regenerate() {
    use std::path::Path;
    const SPEC: &str = "spec/cloudflare-images.openapi.yaml";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=spec/supplement.yaml");
    // Hand edits to generated/ are undone on the next build: it is never edited by hand.
    println!("cargo:rerun-if-changed=generated");
    let generation = match cloudflare_images_codegen::generate(&root.join(SPEC), SPEC) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("cloudflare-images: code generation failed: {e}");
            std::process::exit(1);
        }
    };
    match cloudflare_images_codegen::write_if_changed(&root.join("generated"), &generation.files) {
        Ok(written) => {
            for path in written {
                println!("cargo:warning=regenerated {}", path.display());
            }
        }
        Err(e) => {
            eprintln!("cloudflare-images: writing generated/ failed: {e}");
            std::process::exit(1);
        }
    }
}
