#!/usr/bin/env bash
# The packages work the way a user meets them: an application that depends on the
# published crates, not on this repository.
#
# 1. `cargo package --workspace` writes the four .crate files (SDK, emulator, cfimg, and
#    the generator, which the SDK's manifest names as an optional build-dependency).
# 2. They are unpacked outside the workspace and a scratch application is made that
#    depends on them by version, as on crates.io ([patch.crates-io] points the names
#    at the unpacked crates: no path into this repository). Its binary is README's
#    "Using the SDK" example and its test is README's "Testing your application
#    against the emulator" example, copied as rendered: the test starts the packaged
#    emulator in-process and uploads and gets images through the packaged SDK.
#    The application also declares `reqwest = { version = "0.13", default-features =
#    false }` for an http-only client of its own, as many do: cargo unifies reqwest's
#    features with the SDK's, and the application's own `reqwest::Client::new()` must
#    still build (a rustls feature without a crypto provider would make it panic) and
#    send (tests/own_client.rs). Its build graph must not hold the generator or
#    progenitor (DESIGN.md requirement 4), nor aws-lc, the C library of rustls'
#    default crypto provider that doubled a user's clean build (README, "Build cost").
# 3. The packaged cfimg is `cargo install`ed and `cfimg demo` runs with the installed
#    binary.
#
# Why the packages are not verified by `cargo package` itself: its verification builds
# each crate alone, in its own workspace, so the generator, the SDK and the emulator
# are compiled once for their own check and again for the application (a feature set
# the workspace's builds never share), about three minutes on CI's two cores. Building
# the application from the unpacked crates compiles the same sources a user's build
# does, so step 2 and 3 are the verification, and a missing file fails them as it
# would fail `cargo package`'s (set PACKAGE_VERIFY=1 to run that one too).
#
# Every build shares CARGO_TARGET_DIR (default: the workspace's target/), so the
# registry crates CI compiled for the tests are reused. cfimg is installed with
# `--debug`: a release install recompiles its whole dependency tree in release mode
# (minutes), and what is checked here is that the package builds and runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
export CARGO_TARGET_DIR="$target"
# The unpacked crates and the scratch application live outside this repository:
# cargo looks for a workspace in every parent of a package, and one under target/
# would be taken for a member of this workspace (as a user's copy never is).
work="$(mktemp -d "${TMPDIR:-/tmp}/cloudflare-images-package-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The workspace's one version ([workspace.package]).
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
mkdir -p "$work/crates"

elapsed() { echo "$1: $((SECONDS - $2)) s"; }

started=$SECONDS
verify=(--no-verify)
if [ "${PACKAGE_VERIFY:-0}" = 1 ]; then verify=(); fi
# --allow-dirty: a clean clone in CI, and uncommitted work checked as it is locally.
# --offline: the registry's index is already cached by the workspace's own build, and
# asking it again costs about 20 s. The tests, examples and benchmarks left out of
# the packages are reported one warning each ("ignoring test ..."): expected, and
# filtered out so that a real warning stands out.
(cd "$root" && cargo package --workspace --locked --allow-dirty --offline "${verify[@]}") \
  2> >(grep -v -e '^warning: ignoring \(test\|example\|benchmark\) ' >&2)
elapsed "cargo package" "$started"

for crate in "$target"/package/*-"$version".crate; do
  tar -xzf "$crate" -C "$work/crates"
  printf '%-40s %8s bytes\n' "$(basename "$crate")" "$(stat -c %s "$crate")"
done
# A package that names a file outside itself, or a test data file that slipped in,
# would show here.
for dir in "$work"/crates/*/; do
  if [ ! -f "$dir/LICENSE-MIT" ] || [ ! -f "$dir/LICENSE-APACHE" ]; then
    echo "$(basename "$dir") carries no license files" >&2
    exit 1
  fi
done
sdk="$work/crates/cloudflare-images-$version"
if [ ! -f "$sdk/spec/LICENSE.cloudflare-api-schemas" ]; then
  echo "the SDK package lacks the spec's license" >&2
  exit 1
fi

# README's Rust block that follows the heading $1 (the first ```rust fence after it).
readme_block() {
  awk -v heading="$1" '
    $0 == heading { found = 1; next }
    found && !inside && /^```rust/ { inside = 1; next }
    inside && /^```/ { exit }
    inside { print }
  ' "$root/README.md"
}

app="$work/app"
mkdir -p "$app/src" "$app/tests"
cat > "$app/Cargo.toml" <<TOML
[package]
name = "user-app"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
cloudflare-images = "$version"
reqwest = { version = "0.13", default-features = false }
serde_json = "1"
tokio = { version = "1", features = ["macros", "rt-multi-thread", "net", "io-util"] }

[dev-dependencies]
cloudflare-images-emulator = "$version"

# The generator is not patched in: an application's lock file never names it (it is
# an optional build-dependency of the SDK, off outside this workspace).
[patch.crates-io]
cloudflare-images = { path = "$sdk" }
cloudflare-images-emulator = { path = "$work/crates/cloudflare-images-emulator-$version" }
TOML
readme_block "## Using the SDK" > "$app/src/main.rs"
readme_block "## Testing your application against the emulator" > "$app/tests/emulator.rs"
for file in "$app/src/main.rs" "$app/tests/emulator.rs"; do
  if [ ! -s "$file" ] || grep -q '^ *# ' "$file"; then
    echo "README's example for $(basename "$file") is missing or has hidden lines" >&2
    exit 1
  fi
done
cat > "$app/tests/own_client.rs" <<'RS'
// With the SDK's default features (no aws-lc), the application's own http-only reqwest
// client, the SDK's client and a client from http_client_builder() build without a
// crypto provider installed, and the application's client still sends.
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn the_applications_own_reqwest_client_still_works() {
    // The application's own client, built first, as at start-up.
    let own = reqwest::Client::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await
            .unwrap();
    });
    let answer = own.get(&url).send().await.expect("the application's own client sends");
    assert_eq!(answer.text().await.unwrap(), "ok");
    server.await.unwrap();

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
}
RS
# The workspace's lock file, so the application gets the registry crates CI compiled.
cp "$root/Cargo.lock" "$app/Cargo.lock"

# What the application's build compiles (normal and build edges: no dev-dependency,
# so the emulator under test does not count).
tree="$(cd "$app" && cargo tree --offline -e normal,build --prefix none --format '{p}')"
if echo "$tree" | grep -qE '^(progenitor |progenitor-impl|cloudflare-images-codegen|typify|openapiv3|prettyplease)'; then
  echo "an application depending on cloudflare-images would compile the generator" >&2
  exit 1
fi
if echo "$tree" | grep -qE '^(aws-lc-sys|aws-lc-rs) '; then
  echo "an application depending on cloudflare-images would compile aws-lc (see README, Build cost)" >&2
  exit 1
fi
echo "$tree" | sort -u | grep -E '^(ring|rustls|native-tls|openssl) ' || true
echo "ok: the application's build graph has no generator, no progenitor crate and no aws-lc"
started=$SECONDS
(cd "$app" && cargo test --offline)
elapsed "scratch application: build and test" "$started"

# cargo install reads [patch] from configuration, not from the installed package.
started=$SECONDS
patch=(
  --config "patch.crates-io.cloudflare-images.path=\"$sdk\""
  --config "patch.crates-io.cloudflare-images-emulator.path=\"$work/crates/cloudflare-images-emulator-$version\""
)
cargo "${patch[@]}" install --offline --locked --debug --quiet \
  --path "$work/crates/cfimg-$version" --root "$work/install" --target-dir "$target"
elapsed "cargo install cfimg" "$started"

started=$SECONDS
(
  unset CLOUDFLARE_API_TOKEN CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL CLOUDFLARE_ACCOUNT_ID CLOUDFLARE_BASE_URL
  export CFIMG_DATA_DIR="$work/cfimg-data"
  "$work/install/bin/cfimg" demo > "$work/demo.out"
)
tail -n 3 "$work/demo.out"
elapsed "installed cfimg demo" "$started"
echo "ok: the packaged crates build, test and install outside the workspace"
