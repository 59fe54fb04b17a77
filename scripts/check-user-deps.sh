#!/usr/bin/env bash
# An application that depends on the SDK with default features must not compile
# progenitor or the codegen crate (DESIGN.md requirement 4), nor aws-lc-sys, the C
# library of rustls' default crypto provider that doubled a user's clean build
# (README, "Build cost"). It must not break the application's own code either:
# the application declares `reqwest = { version = "0.13", default-features = false }`
# for an http-only client of its own, and cargo unifies reqwest's features with the
# SDK's; its `reqwest::Client::new()` must still build (a rustls feature without a
# crypto provider would make it panic) and send. This makes such an application
# in a scratch folder, asks cargo what it would build, then builds and runs it.
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
reqwest = { version = "0.13", default-features = false }
tokio = { version = "1", features = ["rt", "net", "io-util"] }
TOML
cat > "$app/src/main.rs" <<'RS'
// Built and run below: with the default features (no aws-lc), the application's own
// reqwest client, the SDK's client and a client from http_client_builder() build
// without a crypto provider installed, and the application's client still sends.
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    // The application's own http-only client, built first, as at start-up.
    let own = reqwest::Client::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.expect("read");
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await
                .expect("write");
        });
        let answer = own.get(&url).send().await.expect("the application's own client sends");
        assert_eq!(answer.text().await.expect("a body"), "ok");
        server.await.expect("the server");
    });
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
    println!("ok: the application's own reqwest client works, and an https client builds with the default features");
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
