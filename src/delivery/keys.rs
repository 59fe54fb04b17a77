//! Signing keys: the HMAC key, choosing one among the account's keys, and
//! fetching them through the keys API.

use std::fmt;

use super::sign::hex;
use crate::client::Secret;
use crate::error::{Error, Result};
use crate::Client;

/// A signing key of the account, as the keys API
/// (`client.v1().keys().list()`) shows it. Its value is secret: `Debug` redacts
/// it, and it never appears in errors.
#[derive(Clone)]
pub struct SigningKey {
    name: Option<String>,
    secret: Secret,
    /// The HMAC-SHA256 key made from the secret (ring's: the crypto provider the
    /// default TLS already compiles, so signing adds no crates to a user's build).
    mac: ring::hmac::Key,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// A key from its value (the HMAC key is the value's UTF-8 bytes). Fails on
    /// an empty value.
    pub fn new(value: impl Into<Secret>) -> Result<Self> {
        let secret = value.into();
        if secret.expose().is_empty() {
            return Err(Error::invalid_input("the signing key is empty"));
        }
        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
        Ok(SigningKey {
            name: None,
            secret,
            mac,
        })
    }

    /// The same key, labelled with its name on the account.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The key's name on the account, when known.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The key's value; handle with care.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Every signing key of the client's account, in the API's order (keys
    /// without a value are skipped).
    pub async fn fetch_all(client: &Client) -> Result<Vec<SigningKey>> {
        let response = client.v1().keys().list().send().await?;
        Ok(response
            .keys
            .into_iter()
            .filter_map(|k| {
                let key = SigningKey::new(k.value?).ok()?;
                Some(match k.name {
                    Some(name) => key.with_name(name),
                    None => key,
                })
            })
            .collect())
    }

    /// The signing key called `name`, or the first key of the account when
    /// `name` is `None`, through the keys API. Fails with
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when there is no such key.
    pub async fn fetch(client: &Client, name: Option<&str>) -> Result<SigningKey> {
        let keys = Self::fetch_all(client).await?;
        match name {
            Some(name) => keys
                .into_iter()
                .find(|k| k.name() == Some(name))
                .ok_or_else(|| {
                    Error::invalid_input(format!("the account has no signing key named {name:?}"))
                }),
            None => keys
                .into_iter()
                .next()
                .ok_or_else(|| Error::invalid_input("the account has no signing key")),
        }
    }

    pub(super) fn signature_bytes(&self, message: &str) -> ring::hmac::Tag {
        ring::hmac::sign(&self.mac, message.as_bytes())
    }

    /// Whether `sig` is this key's signature of `message`, compared in constant time
    /// (`ring::hmac::verify`), so timing does not reveal how much of a guess was right.
    pub(super) fn verifies(&self, message: &str, sig: &[u8]) -> bool {
        ring::hmac::verify(&self.mac, message.as_bytes(), sig).is_ok()
    }

    /// The lowercase hex HMAC-SHA256 of `message` (`/<hash>/<id>/<variant>?exp=…`).
    pub fn signature(&self, message: &str) -> String {
        hex(self.signature_bytes(message).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_verifies_its_own_signature_and_nothing_else() {
        let key = SigningKey::new("secret").expect("key");
        let sig: Vec<u8> = key.signature_bytes("/h/id/public?exp=1").as_ref().to_vec();
        assert_eq!(sig.len(), 32);
        assert!(key.verifies("/h/id/public?exp=1", &sig));
        assert!(!key.verifies("/h/id/public?exp=2", &sig));
        let mut flipped = sig.clone();
        flipped[31] ^= 1;
        assert!(!key.verifies("/h/id/public?exp=1", &flipped));
        assert!(!key.verifies("/h/id/public?exp=1", &sig[..31]));
        assert!(!key.verifies("/h/id/public?exp=1", b""));
        let other = SigningKey::new("other").expect("key");
        assert!(!other.verifies("/h/id/public?exp=1", &sig));
    }

    #[test]
    fn signing_key_never_fails_to_build_a_mac() {
        let key = SigningKey::new("k").unwrap();
        assert_eq!(key.signature("m").len(), 64);
        assert!(SigningKey::new("").is_err());
        // RFC 4231, test case 2: HMAC-SHA256 as Cloudflare computes it, lowercase hex.
        assert_eq!(
            SigningKey::new("Jefe")
                .unwrap()
                .signature("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
