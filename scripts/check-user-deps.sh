#!/usr/bin/env bash
# An application that depends on the SDK with default features must not compile
# progenitor or the codegen crate (DESIGN.md requirement 4). This makes such an
# application in a scratch folder and asks cargo what it would build.
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
echo 'fn main() {}' > "$app/src/main.rs"
cp "$root/Cargo.lock" "$app/Cargo.lock"
tree="$(cd "$app" && cargo tree -e normal,build --prefix none --format '{p}')"
echo "$tree" | sort -u | grep -E '^(progenitor|cloudflare-images|typify|openapiv3|serde_yaml|prettyplease)' || true
if echo "$tree" | grep -qE '^(progenitor |progenitor-impl|cloudflare-images-codegen|typify|openapiv3|prettyplease)'; then
  echo "an application depending on cloudflare-images would compile the generator" >&2
  exit 1
fi
echo "ok: the application's build graph has no progenitor crate and no generator"
