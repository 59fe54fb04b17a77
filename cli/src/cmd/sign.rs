//! `cfimg sign ID`: signed delivery URLs (signed by the SDK's `delivery` module
//! with a key fetched through the keys API), and `--expires-in` durations.

use std::time::Duration;

use clap::Args;
use cloudflare_images::delivery::{Expiry, SigningKey, SystemClock};
use cloudflare_images::Client;
use serde_json::json;

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::output::{self, print_json, print_out};

/// The help shown after `cfimg sign`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg sign products/cat
  cfimg sign 2cdc28f0-017a-49c4-9ed7-87056c83901 --variant thumb --expires-in 15min
  cfimg sign products/cat --expires-in '1h 30m'  # no fractions: not 1.5h
  cfimg sign products/cat --variant w=400,h=300 --key rotation2";

/// Arguments of `cfimg sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The image id.
    pub id: String,
    /// Variant name, or flexible options like `w=400,h=300`.
    #[arg(long, default_value = "public")]
    pub variant: String,
    /// How long the URL works: 90s, 30m, 30min, 1h, 1h 30m, 2d (whole units, not 1.5h).
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub expires_in: Duration,
    /// Signing key name (default: the key `cfimg keys rotate` chose, else
    /// `default`, else the first).
    #[arg(long)]
    pub key: Option<String>,
}

/// Runs `cfimg sign`.
pub async fn run(args: SignArgs, ctx: &Backend) -> CliResult<()> {
    // After `cfimg keys rotate`, the key it chose signs.
    let key = match args.key {
        Some(key) => Some(key),
        None => super::keys::rotated_key(ctx).await?,
    };
    let (url, exp) = signed_url(
        &ctx.client,
        &args.id,
        &args.variant,
        args.expires_in,
        key.as_deref(),
    )
    .await?;
    if output::machine() {
        print_json(&json!({"url": url, "exp": exp}));
    } else {
        print_out(&format!("{url}\n"));
        if ctx.local() {
            output::note(output::LOCAL_URL_NOTE);
        }
    }
    Ok(())
}

/// Parses a duration the way `humantime` does (`90s`, `30m`, `30min`, `1h 30m`,
/// `1h30m`, `2d`), or a bare number of seconds (`90`). Fractions (`1.5h`) are
/// refused with a suggestion, and so is anything under one second.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (examples: 90s, 30m, 1h 30m, 2d)".into());
    }
    let duration = if text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| "too long".to_string())?;
        Duration::from_secs(secs)
    } else {
        let bytes = text.as_bytes();
        let fraction = bytes.windows(3).any(|w| {
            w[0].is_ascii_digit() && (w[1] == b'.' || w[1] == b',') && w[2].is_ascii_digit()
        });
        if fraction {
            return Err(
                "fractions are not accepted; write whole units, like `1h 30m` for 1.5h".into(),
            );
        }
        humantime::parse_duration(text)
            .map_err(|e| format!("{e} (examples: 90s, 30m, 1h 30m, 2d)"))?
    };
    if duration < Duration::from_secs(1) {
        return Err("must be at least 1s (a URL that expires at once is of no use)".into());
    }
    Ok(duration)
}

/// The shortest lifetime Cloudflare accepts for a one-time upload URL.
pub const DIRECT_MIN: Duration = Duration::from_secs(2 * 60);
/// The longest lifetime Cloudflare accepts for a one-time upload URL.
pub const DIRECT_MAX: Duration = Duration::from_secs(6 * 3600);

/// `--expires-in` of `direct-upload`: a [`parse_duration`] within 2m..=6h.
pub fn parse_direct_expiry(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < DIRECT_MIN || d > DIRECT_MAX {
        return Err("a one-time upload URL lives between 2m and 6h".into());
    }
    Ok(d)
}

/// Picks a signing key through the keys API: the one named `name`, else
/// `default`, else the first.
pub async fn signing_key(client: &Client, name: Option<&str>) -> CliResult<SigningKey> {
    if name.is_some() {
        return Ok(SigningKey::fetch(client, name).await?);
    }
    // The SDK's rule for the key to sign with (`default`, else the first listed).
    let keys = SigningKey::fetch_all(client).await?;
    SigningKey::choose(&keys).cloned().ok_or_else(|| {
        CliError::new("the account has no signing key (create one with `cfimg keys create NAME`)")
    })
}

/// A signed delivery URL for image `id` and `variant`, valid for `expires_in`;
/// returns the URL and its `exp`.
pub async fn signed_url(
    client: &Client,
    id: &str,
    variant: &str,
    expires_in: Duration,
    key_name: Option<&str>,
) -> CliResult<(String, i64)> {
    let image = client.v1().get(id).send().await?;
    let url = super::url::record_delivery_url(&image, variant)?;
    let key = signing_key(client, key_name).await?;
    let expiry = Expiry::after(expires_in, &SystemClock)?;
    Ok((url.sign(&key, expiry), expiry.unix_seconds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let secs = |t: &str| parse_duration(t).map(|d| d.as_secs());
        assert_eq!(secs("90"), Ok(90));
        assert_eq!(secs("1h"), Ok(3600));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs("1h 30m"), Ok(5400));
        assert_eq!(secs("30min"), Ok(1800));
        assert_eq!(secs("2d"), Ok(172_800));
        for bad in ["h", "5x", "1h5", "", "0", "0s", "500ms", "soon"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        let e = parse_duration("1.5h").unwrap_err();
        assert!(e.contains("1h 30m"), "{e}");
        assert!(parse_direct_expiry("1m").is_err());
        assert!(parse_direct_expiry("7h").is_err());
        assert_eq!(parse_direct_expiry("2m"), Ok(DIRECT_MIN));
        assert_eq!(parse_direct_expiry("6h"), Ok(DIRECT_MAX));
    }
}
