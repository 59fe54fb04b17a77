#!/usr/bin/env bash
# An application that depends on the SDK with default features must not compile
# progenitor or the codegen crate (DESIGN.md requirement 4), nor aws-lc-sys, the C
# library of rustls' default crypto provider that doubled a user's clean build
# (README, "Build cost"). This makes such an application in a scratch folder and
# asks cargo what it would build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
app="$root/target/user-app"
rm -rf "$app" && mkdir -p "$app/src"
cat > "$app/Cargo.toml" <<TOML
[package]
name = "user-app"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
cloudflare-images = { path = "$root" }
TOML
cat > "$app/src/main.rs" <<'RS'
// Built and run below: with the default features (no aws-lc), the SDK's client and a
// client from http_client_builder() build without a crypto provider installed.
fn main() {
    let client = cloudflare_images::Client::builder()
        .api_token("t")
        .account_id("023e105f4ecef8ad9ca31a8372d0c353")
        .build()
        .expect("the SDK's client builds with the default TLS");
    assert!(client.base_url().starts_with("https://"));
    cloudflare_images::http_client_builder()
        .expect("the SDK's TLS")
        .build()
        .expect("an application's own reqwest client builds");
    println!("ok: an https client builds with the default features");
}
RS
cp "$root/Cargo.lock" "$app/Cargo.lock"
tree="$(cd "$app" && cargo tree -e normal,build --prefix none --format '{p}')"
echo "$tree" | sort -u | grep -E '^(progenitor|cloudflare-images|typify|openapiv3|serde_yaml|prettyplease)' || true
if echo "$tree" | grep -qE '^(progenitor |progenitor-impl|cloudflare-images-codegen|typify|openapiv3|prettyplease)'; then
  echo "an application depending on cloudflare-images would compile the generator" >&2
  exit 1
fi
if echo "$tree" | grep -qE '^(aws-lc-sys|aws-lc-rs) '; then
  echo "an application depending on cloudflare-images would compile aws-lc (see README, Build cost)" >&2
  exit 1
fi
echo "$tree" | sort -u | grep -E '^(ring|rustls) ' || true
echo "ok: the application's build graph has no progenitor crate, no generator and no aws-lc"
# The build graph is right; now build the application (a clean build of the SDK as a
# user gets it) and run it.
(cd "$app" && CARGO_TARGET_DIR="$app/target" cargo run --quiet)
