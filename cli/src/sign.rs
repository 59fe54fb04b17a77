//! Signed delivery URLs (signed by the SDK's `delivery` module with a key fetched
//! through the keys API) and `--expires-in` durations.

use std::time::Duration;

use cloudflare_images::delivery::{self, Expiry, SigningKey, SystemClock};
use cloudflare_images::types::Image;
use cloudflare_images::Client;

use crate::error::{CliError, CliResult};

/// Parses `90`, `90s`, `30m`, `1h`, `2d`, `1h30m` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(format!(
                    "invalid duration {text:?}: unknown unit {c:?} (use s, m, h or d)"
                ))
            }
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: a unit needs a number before it"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration {text:?} is too long"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!(
            "invalid duration {text:?}: the last number has no unit"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// The delivery URL of `image` for `variant`: the one the API lists for that
/// variant, or (a flexible variant such as `w=400,h=300`) the first one with its
/// last path segment replaced.
pub fn delivery_url(image: &Image, variant: &str) -> CliResult<String> {
    let id = image.id.as_deref().unwrap_or("?");
    let urls: Vec<&String> = image.variants.iter().flat_map(|v| v.iter()).collect();
    if let Some(url) = urls.iter().find(|u| u.rsplit('/').next() == Some(variant)) {
        return Ok(url.to_string());
    }
    let first = urls.first().ok_or_else(|| {
        CliError::new(format!(
            "image {id} has no delivery URLs (is it still a draft?)"
        ))
    })?;
    let (base, _) = first
        .rsplit_once('/')
        .ok_or_else(|| CliError::new(format!("unexpected delivery URL {first:?}")))?;
    if !variant.contains('=') {
        return Err(CliError::usage(format!(
            "image {id} has no variant named {variant:?} (known: {}); flexible variants look like w=400,h=300",
            urls.iter()
                .filter_map(|u| u.rsplit('/').next())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(format!("{base}/{variant}"))
}

/// Picks a signing key through the keys API: the one named `name`, else
/// `default`, else the first.
pub async fn signing_key(client: &Client, name: Option<&str>) -> CliResult<SigningKey> {
    if name.is_some() {
        return Ok(SigningKey::fetch(client, name).await?);
    }
    let mut keys = SigningKey::fetch_all(client).await?;
    let index = keys
        .iter()
        .position(|k| k.name() == Some("default"))
        .unwrap_or(0);
    if keys.is_empty() {
        return Err(CliError::new(
            "the account has no signing key (create one with `cfimg keys create NAME`)",
        ));
    }
    Ok(keys.swap_remove(index))
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
    let url = delivery_url(&image, variant)?;
    let key = signing_key(client, key_name).await?;
    let expiry = Expiry::after(expires_in, &SystemClock)?;
    let signed = delivery::sign_url(&url, &key, expiry)?;
    Ok((signed, expiry.unix_seconds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("1h5").is_err());
        assert!(parse_duration("").is_err());
    }

    fn image(urls: &[&str]) -> Image {
        Image {
            id: Some("img".into()),
            variants: Some(
                urls.iter()
                    .map(|u| u.to_string())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ..Image::default()
        }
    }

    #[test]
    fn delivery_urls_come_from_the_image() {
        let i = image(&["https://d/h/img/public", "https://d/h/img/thumb"]);
        assert_eq!(delivery_url(&i, "thumb").unwrap(), "https://d/h/img/thumb");
        assert_eq!(
            delivery_url(&i, "w=400,h=300").unwrap(),
            "https://d/h/img/w=400,h=300"
        );
        let e = delivery_url(&i, "nope").unwrap_err();
        assert!(e.message.contains("public, thumb"), "{}", e.message);
        assert!(delivery_url(&image(&[]), "public").is_err());
    }
}
