//! In this workspace (feature `regenerate`, turned on by the crate's
//! dev-dependency on itself), feeds `spec/` through the generator into
//! `OUT_DIR` and sets `cfg(cloudflare_images_regenerated)`, so the crate
//! compiles the code the current spec produces in the same `cargo test`. It never
//! writes `generated/`: only `cargo codegen` does, and `tests/drift.rs` fails
//! while the two differ. Users build with the feature off: nothing runs, the
//! generator is not compiled, and the crate compiles the checked-in `generated/`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(cloudflare_images_regenerated)");
    #[cfg(feature = "regenerate")]
    regenerate();
}

#[cfg(feature = "regenerate")]
fn regenerate() {
    use std::path::{Path, PathBuf};
    const SPEC: &str = "spec/cloudflare-images.openapi.yaml";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=spec/supplement.yaml");
    // Not generated/: the build never reads it, and `cargo codegen` writing it
    // must not make the next build recompile the crate.
    let generation = match cloudflare_images_codegen::generate(&root.join(SPEC), SPEC) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("cloudflare-images: code generation failed: {e}");
            std::process::exit(1);
        }
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("cloudflare-images: OUT_DIR is not set (build.rs runs under cargo only)");
        std::process::exit(1);
    };
    // Unchanged files keep their mtime: no recompilation for nothing.
    if let Err(e) = cloudflare_images_codegen::write_if_changed(&out_dir, &generation.files) {
        eprintln!("cloudflare-images: writing generated code to OUT_DIR failed: {e}");
        std::process::exit(1);
    }
    println!("cargo:rustc-cfg=cloudflare_images_regenerated");
}
