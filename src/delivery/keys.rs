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

    /// The name of the key [`choose`](Self::choose) prefers: the key Cloudflare
    /// creates for every account (and creates again when the last key is deleted).
    pub const DEFAULT_NAME: &'static str = "default";

    /// The key to sign with when the caller names none: the key named
    /// [`default`](Self::DEFAULT_NAME), else the first of `keys` (the keys API's
    /// order); `None` when `keys` is empty.
    ///
    /// Every current key of the account signs URLs Cloudflare accepts, so the
    /// choice matters only across a rotation: preferring `default` keeps
    /// signing with the same key while other named keys are added, and the
    /// first key otherwise keeps the choice stable for a given list (an
    /// account without `default` has had it deleted, and gets it back only when
    /// its last key goes). [`fetch`](Self::fetch) and
    /// [`V1Keys::signing_key`](crate::resources::V1Keys::signing_key) apply this
    /// rule; other tools should call it rather than restate it.
    ///
    /// ```
    /// use cloudflare_images::delivery::SigningKey;
    /// let key = |name: &str| SigningKey::new("value").map(|k| k.with_name(name));
    /// let keys = [key("rotated-2024")?, key("default")?];
    /// assert_eq!(SigningKey::choose(&keys).and_then(|k| k.name()), Some("default"));
    /// assert_eq!(SigningKey::choose(&keys[..1]).and_then(|k| k.name()), Some("rotated-2024"));
    /// assert!(SigningKey::choose(&[]).is_none());
    /// # Ok::<(), cloudflare_images::Error>(())
    /// ```
    pub fn choose(keys: &[SigningKey]) -> Option<&SigningKey> {
        keys.get(Self::choose_index(keys)?)
    }

    /// Where [`choose`](Self::choose)'s key is in `keys`.
    fn choose_index(keys: &[SigningKey]) -> Option<usize> {
        keys.iter()
            .position(|k| k.name() == Some(Self::DEFAULT_NAME))
            .or((!keys.is_empty()).then_some(0))
    }

    /// Every signing key of the client's account, in the API's order (keys
    /// without a value are skipped); the same as
    /// `client.v1().keys().signing_keys()`.
    pub async fn fetch_all(client: &Client) -> Result<Vec<SigningKey>> {
        client.v1().keys().signing_keys().await
    }

    /// The signing key called `name`, or when `name` is `None` the key
    /// [`choose`](Self::choose) picks (`default`, else the first), through the
    /// keys API; the same as `client.v1().keys().signing_key(name)`. Fails with
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when there is no such key.
    pub async fn fetch(client: &Client, name: Option<&str>) -> Result<SigningKey> {
        client.v1().keys().signing_key(name).await
    }

    /// The keys of a keys-API answer, in its order; a key without a value (or an
    /// empty one) cannot sign and is skipped.
    fn from_listed(keys: Vec<crate::types::ImageKeys>) -> Vec<SigningKey> {
        keys.into_iter()
            .filter_map(|k| {
                let key = SigningKey::new(k.value?).ok()?;
                Some(match k.name {
                    Some(name) => key.with_name(name),
                    None => key,
                })
            })
            .collect()
    }

    /// The key called `name` among `keys`, or the one [`choose`](Self::choose)
    /// picks when `name` is `None`.
    fn pick(mut keys: Vec<SigningKey>, name: Option<&str>) -> Result<SigningKey> {
        let index = match name {
            Some(name) => keys
                .iter()
                .position(|k| k.name() == Some(name))
                .ok_or_else(|| {
                    Error::invalid_input(format!("the account has no signing key named {name:?}"))
                })?,
            None => Self::choose_index(&keys)
                .ok_or_else(|| Error::invalid_input("the account has no signing key"))?,
        };
        Ok(keys.swap_remove(index))
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

// Beside the generated `list`, `update` and `delete`, so the keys as signing
// keys are found where the keys API is.
impl crate::resources::V1Keys<'_> {
    /// Every signing key of the account, in the API's order, ready to sign
    /// (`list()`, with keys without a value skipped).
    pub async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let response = self.list().send().await?;
        Ok(SigningKey::from_listed(response.keys))
    }

    /// The signing key called `name`, or when `name` is `None` the key
    /// [`SigningKey::choose`] picks (`default`, else the first). Fails with
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when there is no such key.
    pub async fn signing_key(&self, name: Option<&str>) -> Result<SigningKey> {
        SigningKey::pick(self.signing_keys().await?, name)
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

    fn named(name: &str, value: &str) -> SigningKey {
        SigningKey::new(value).expect("key").with_name(name)
    }

    #[test]
    fn default_is_chosen_wherever_it_is_else_the_first() {
        let keys = vec![named("a", "1"), named("default", "2"), named("z", "3")];
        assert_eq!(
            SigningKey::choose(&keys).and_then(|k| k.name()),
            Some("default")
        );
        let keys = vec![named("b", "1"), named("a", "2")];
        assert_eq!(SigningKey::choose(&keys).and_then(|k| k.name()), Some("b"));
        let unnamed = vec![SigningKey::new("1").expect("key")];
        assert_eq!(SigningKey::choose(&unnamed).map(|k| k.name()), Some(None));
        assert!(SigningKey::choose(&[]).is_none());
    }

    #[test]
    fn pick_by_name_or_by_the_rule() {
        let keys = || vec![named("a", "1"), named("default", "2"), named("z", "3")];
        let secret = |k: Result<SigningKey>| k.map(|k| k.secret().expose().to_string());
        assert_eq!(
            secret(SigningKey::pick(keys(), None)).ok(),
            Some("2".into())
        );
        assert_eq!(
            secret(SigningKey::pick(keys(), Some("z"))).ok(),
            Some("3".into())
        );
        let e = SigningKey::pick(keys(), Some("missing")).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            r#"the account has no signing key named "missing""#
        );
        let e = SigningKey::pick(Vec::new(), None).unwrap_err();
        assert_eq!(e.to_string(), "the account has no signing key");
    }

    #[test]
    fn listed_keys_without_a_value_are_skipped() {
        let listed = vec![
            crate::types::ImageKeys {
                name: Some("empty".into()),
                value: Some(String::new()),
            },
            crate::types::ImageKeys {
                name: Some("none".into()),
                value: None,
            },
            crate::types::ImageKeys {
                name: Some("default".into()),
                value: Some("v".into()),
            },
            crate::types::ImageKeys {
                name: None,
                value: Some("w".into()),
            },
        ];
        let keys = SigningKey::from_listed(listed);
        let names: Vec<_> = keys.iter().map(|k| k.name()).collect();
        assert_eq!(names, [Some("default"), None]);
    }
}
