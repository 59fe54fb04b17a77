//! The TLS every HTTP client the SDK builds uses for `https://`.
//!
//! With the default `native-tls` feature: reqwest's native TLS, as is. It is the
//! default because it is the one TLS feature of reqwest that leaves the
//! application's own reqwest clients working whatever features they asked for
//! (cargo unifies them): each rustls feature makes reqwest's default TLS rustls,
//! and without aws-lc-rs (whose C library doubled a user's clean build) a plain
//! `reqwest::Client::new()` then panics for want of a crypto provider.
//!
//! With the `rustls` feature: rustls with its `ring` crypto provider and the
//! platform's certificate verifier, configured here and handed to reqwest for the
//! SDK's clients only. A crypto provider the application installed as the process
//! default (`CryptoProvider::install_default`) is used instead of ring; the SDK
//! installs none itself, because a library changing a process-wide default would
//! surprise the application's other TLS users.

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `reqwest::Client::builder()` with the SDK's TLS configured; an error only if
/// TLS cannot be set up (the callers make it a configuration error).
pub(crate) fn client_builder() -> Result<reqwest::ClientBuilder, BoxError> {
    let builder = reqwest::Client::builder();
    #[cfg(feature = "rustls")]
    let builder = builder.tls_backend_preconfigured(rustls_config()?);
    Ok(builder)
}

/// A `reqwest::ClientBuilder` with the TLS the SDK itself uses, for a client of
/// your own (proxies, custom pool, middleware) to pass to
/// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client), or for any
/// other reqwest client in your application.
///
/// With the default `native-tls` feature it is `reqwest::Client::builder()`. With
/// the `rustls` feature reqwest has no crypto provider of its own (that is what
/// keeps aws-lc-rs out of your build), so a plain `reqwest::Client::new()` panics
/// unless a provider is installed as the process default; a builder from here
/// carries rustls with `ring` (or the installed provider) and does not.
/// Everything else is reqwest's default: set what you need, e.g.
/// `.redirect(reqwest::redirect::Policy::none())` for the SDK.
///
/// ```
/// let http = cloudflare_images::http_client_builder()?
///     .redirect(reqwest::redirect::Policy::none())
///     .referer(false)
///     .build()
///     .expect("client");
/// let client = cloudflare_images::Client::builder()
///     .api_token("token")
///     .account_id("023e105f4ecef8ad9ca31a8372d0c353")
///     .http_client(http)
///     .build()?;
/// # let _ = client;
/// # Ok::<(), cloudflare_images::Error>(())
/// ```
pub fn http_client_builder() -> crate::Result<reqwest::ClientBuilder> {
    client_builder().map_err(|e| crate::Error::config("TLS could not be set up").with_source(e))
}

#[cfg(feature = "rustls")]
fn rustls_config() -> Result<rustls::ClientConfig, rustls::Error> {
    use std::sync::Arc;

    use rustls_platform_verifier::BuilderVerifierExt as _;

    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    // The SDK's reqwest speaks HTTP/1.1 (no `http2` feature).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(all(test, any(feature = "rustls", feature = "native-tls")))]
mod tests {
    use std::io::{Read as _, Write as _};

    use crate::Client;

    /// An `https://` client builds with the TLS feature on (for `rustls`, without
    /// aws-lc-rs and with no provider installed) and a request really goes through
    /// TLS: against a server that is not TLS, it is a TLS failure, not a panic nor
    /// a plaintext exchange.
    #[tokio::test]
    async fn https_goes_through_tls() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut hello = [0u8; 5];
            socket.read_exact(&mut hello).unwrap();
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            hello
        });
        let client = Client::builder()
            .api_token("t")
            .account_id("023e105f4ecef8ad9ca31a8372d0c353")
            .base_url(format!("https://127.0.0.1:{port}/client/v4"))
            .retry_policy(crate::config::retry::RetryPolicy::none())
            .build()
            .expect("an https client builds");
        assert!(client.base_url().starts_with("https://"));
        let err = client.v1().stats().get().send().await.unwrap_err();
        // The first bytes the server saw are a TLS handshake record (0x16, version 3.x).
        let hello = server.join().unwrap();
        assert_eq!(&hello[..2], &[0x16, 0x03], "{hello:?}");
        assert!(
            format!("{err:?}").to_lowercase().contains("tls")
                || format!("{err:?}").to_lowercase().contains("ssl")
                || format!("{err:?}").contains("InvalidContentType")
                || format!("{err:?}").contains("corrupt"),
            "{err:?}"
        );
        let plain = super::client_builder().unwrap().build();
        assert!(plain.is_ok());
    }
}
