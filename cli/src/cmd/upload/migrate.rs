//! What makes `cfimg upload` a migration: stable keys for inputs (their path
//! relative to the argument that named them, or their URL), custom ids derived
//! from those keys, and `--shard K/N`, a share of the inputs chosen by a stable
//! hash of the key so N machines split one migration without talking.

use std::fmt;

/// `--shard K/N`: the K-th of N disjoint shares of the inputs (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, 1..=n.
    pub k: u32,
    /// How many shares.
    pub n: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Parses `K/N` with 1 <= K <= N (clap's value parser for `--shard`).
pub fn parse_shard(text: &str) -> Result<Shard, String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| "expected K/N, like 1/3".to_string())?;
    let number = |s: &str, what: &str| {
        s.trim().parse::<u32>().map_err(|_| {
            format!("{what} must be a whole number, not {s:?} (expected K/N, like 1/3)")
        })
    };
    let (k, n) = (number(k, "K")?, number(n, "N")?);
    if n == 0 {
        return Err("N must be at least 1".into());
    }
    if k == 0 || k > n {
        return Err(format!("K must be between 1 and N ({n}), not {k}"));
    }
    Ok(Shard { k, n })
}

/// Parses a rate limit written `N/PERIOD`: `1200/5m`, `200/1s`, `200/10ms`.
pub fn parse_rate(text: &str) -> Result<cloudflare_images::RateLimit, String> {
    let (n, per) = text
        .split_once('/')
        .ok_or_else(|| format!("expected N/PERIOD, like 1200/5m, not {text:?}"))?;
    let n = n.trim().parse::<u32>().map_err(|_| {
        format!("N must be a whole number, not {n:?} (expected N/PERIOD, like 1200/5m)")
    })?;
    let per = humantime::parse_duration(per.trim())
        .map_err(|e| format!("PERIOD {per:?}: {e} (expected N/PERIOD, like 1200/5m)"))?;
    cloudflare_images::RateLimit::new(n, per)
        .ok_or_else(|| "N and PERIOD must both be more than zero".to_string())
}

impl Shard {
    /// Whether the input with this key belongs to this share.
    pub fn contains(&self, key: &str) -> bool {
        stable_hash(key) % u64::from(self.n) == u64::from(self.k - 1)
    }
}

/// A hash that is the same on every machine, build and run: FNV-1a (64 bits)
/// followed by the SplitMix64 finalizer, so similar keys spread evenly.
pub fn stable_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The key of a URL input: host and path (no scheme, user or password), plus a
/// hash of the query when there is one (it may hold a signature, so it is not
/// kept as such).
pub fn url_key(url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return format!("url/{:016x}", stable_hash(url));
    };
    let mut key = parsed.host_str().unwrap_or("").to_string();
    if let Some(port) = parsed.port() {
        key.push_str(&format!(":{port}"));
    }
    let path = parsed.path().trim_matches('/');
    if !path.is_empty() {
        key.push('/');
        key.push_str(path);
    }
    if let Some(q) = parsed.query() {
        key.push_str(&format!("~{:016x}", stable_hash(q)));
    }
    if key.is_empty() {
        key = format!("url/{:016x}", stable_hash(url));
    }
    key
}

/// The custom id an input with `key` is uploaded as: `prefix` + `key`, checked
/// against the API's rules.
pub fn custom_id(prefix: &str, key: &str) -> Result<String, String> {
    let id = format!("{prefix}{key}");
    match crate::cmd::check_custom_id(&id) {
        Ok(()) => Ok(id),
        Err(why) => Err(format!("cannot use {id:?} as its custom id: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shards_parse_and_split() {
        assert_eq!(parse_shard("2/3"), Ok(Shard { k: 2, n: 3 }));
        assert_eq!(parse_shard("1/1"), Ok(Shard { k: 1, n: 1 }));
        let rate = parse_rate("1200/5m").expect("rate");
        assert_eq!(
            (rate.requests(), rate.per()),
            (1200, Duration::from_secs(300))
        );
        let rate = parse_rate("200/10ms").expect("rate");
        assert_eq!(
            (rate.requests(), rate.per()),
            (200, Duration::from_millis(10))
        );
        for bad in ["0/1s", "5/0s", "5", "x/1s", "5/soon", "-1/1s", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        for bad in ["0/3", "4/3", "1/0", "a/3", "3", "-1/3", "1/3/4", ""] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        let keys: Vec<String> = (0..3000).map(|i| format!("dir/{i}.png")).collect();
        let mut counts = [0usize; 3];
        for key in &keys {
            let owners: Vec<u32> = (1..=3)
                .filter(|k| Shard { k: *k, n: 3 }.contains(key))
                .collect();
            assert_eq!(owners.len(), 1, "{key}");
            counts[owners[0] as usize - 1] += 1;
        }
        assert!(counts.iter().all(|c| (900..1100).contains(c)), "{counts:?}");
    }

    #[test]
    fn hash_is_fixed() {
        // Changing these would reshuffle every sharded migration in progress.
        assert_eq!(stable_hash(""), 0xf52a_15e9_a9b5_e89b);
        assert_eq!(stable_hash("a/b.png"), 0x13a5_750f_06a9_db88);
        assert!(Shard { k: 1, n: 3 }.contains("a/b.png"));
    }

    #[test]
    fn url_keys_hide_secrets() {
        assert_eq!(url_key("https://u:p@ex.com/a/b.png"), "ex.com/a/b.png");
        let k = url_key("https://ex.com/a.png?sig=SECRET");
        assert!(
            k.starts_with("ex.com/a.png~") && !k.contains("SECRET"),
            "{k}"
        );
        assert_eq!(url_key("http://ex.com:8080/"), "ex.com:8080");
    }

    #[test]
    fn custom_ids() {
        assert_eq!(custom_id("lib/", "a/b.png").unwrap(), "lib/a/b.png");
        assert!(custom_id("", "2cdc28f0-017a-49c4-9ed7-87056c839010").is_err());
    }
}
