//! The command-line options of a served emulator, shared by every front end that runs one
//! (the `cloudflare-images-emulator` binary, `cfimg serve`), so their options and defaults
//! cannot drift apart.

use std::path::PathBuf;
use std::time::Duration;

use crate::Config;

/// How to run an emulator from a command line: flatten it into a clap command with
/// `#[command(flatten)]`, then start the emulator with [`ServeArgs::config`].
///
/// Defaults are those of [`Config::default`], except that the `Retry-After` of injected
/// 429s is written out (1 s, the same value). Fields are public to read (a front end may
/// want the port or the data folder for its own messages); new options may be added, so
/// the struct cannot be built field by field outside this crate.
///
/// ```
/// use clap::Parser;
/// use cloudflare_images_emulator::ServeArgs;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     serve: ServeArgs,
/// }
///
/// let cli = Cli::parse_from(["serve", "--port", "8787", "--rate-limit-scale", "0.01"]);
/// let config = cli.serve.config();
/// assert_eq!(config.port, 8787);
/// assert!(config.rate_limits, "a scale implies the rate windows");
/// ```
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0: pick a free one)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
    /// Keep images and state in DIR (SQLite + blobs, loaded again on start; several
    /// processes may share it) [default: in memory, gone on exit]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Account id expected in API paths
    #[arg(long, value_name = "ID", default_value_t = Config::default().account_id)]
    pub account_id: String,
    /// Account hash used in delivery URLs
    #[arg(long, value_name = "HASH", default_value_t = Config::default().account_hash)]
    pub account_hash: String,
    /// The only bearer token accepted [default: any credential]
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Answer 429 (code 971) after N API requests [default: never]
    #[arg(long, value_name = "N")]
    pub rate_limit_after: Option<u64>,
    /// Retry-After value of 429 answers
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub retry_after: u64,
    /// Answer P % of API requests with 500 (code 5500)
    #[arg(long, value_name = "P", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub fail_5xx_percent: u8,
    /// Delay every API request by N milliseconds
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_ms: u64,
    /// Close the connection without answering for P % of API requests
    #[arg(long, value_name = "P", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub reset_percent: u8,
    /// Injected server errors are HTML 502 pages instead of JSON 500s [default: off]
    #[arg(long = "html-502")]
    pub html_502: bool,
    /// Store uploads, then answer 500 [default: off]
    #[arg(long)]
    pub fail_after_upload: bool,
    /// Enforce Cloudflare's rate limits as sliding windows: 1,200 API requests per 300 s,
    /// 200 batch requests per 1 s per batch token (429, code 971, Retry-After)
    /// [default: off]
    #[arg(long)]
    pub rate_limits: bool,
    /// Multiply every window's length by F, keeping the counts (0.01: 1,200 per 3 s, 200
    /// per 10 ms); implies --rate-limits [default: 1]
    #[arg(long, value_name = "F", value_parser = positive_number, allow_negative_numbers = true)]
    pub rate_limit_scale: Option<f64>,
    /// Lifetime of batch tokens
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub batch_token_ttl: u64,
    /// Turn flexible variants on at start, as `PATCH v1/config {"flexible_variants": true}`
    /// would (kept in the data folder) [default: off, as on Cloudflare]
    #[arg(long)]
    pub flexible_variants: bool,
    /// Let `/cdn-cgi/image/<options>/<url>` fetch and transform images from ORIGIN
    /// (`http://host:port`); repeatable [default: none, only the emulator's own paths]
    #[arg(long = "transform-origin", value_name = "ORIGIN", value_parser = origin)]
    pub transform_origin: Vec<String>,
}

/// An `http://host[:port]` or `https://...` origin.
fn origin(text: &str) -> Result<String, String> {
    crate::delivery::transform::Origin::parse(text).map(|_| text.to_owned())
}

/// A finite number above zero (a window scale of 0, a negative or an infinite one means
/// nothing).
fn positive_number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("expected a positive number, got {text}")),
    }
}

impl ServeArgs {
    /// The emulator configuration these options describe, for [`crate::Emulator::start_with`].
    pub fn config(&self) -> Config {
        let mut config = Config {
            port: self.port,
            data_dir: self.data_dir.clone(),
            account_id: self.account_id.clone(),
            account_hash: self.account_hash.clone(),
            api_token: self.token.clone(),
            rate_limits: self.rate_limits || self.rate_limit_scale.is_some(),
            batch_token_ttl: Duration::from_secs(self.batch_token_ttl),
            flexible_variants: self.flexible_variants,
            transform_origins: self.transform_origin.clone(),
            ..Config::default()
        };
        if let Some(scale) = self.rate_limit_scale {
            config.rate_limit_scale = scale;
        }
        let faults = &mut config.faults;
        faults.rate_limit_after = self.rate_limit_after;
        faults.retry_after_secs = Some(self.retry_after);
        faults.fail_5xx_percent = self.fail_5xx_percent;
        faults.latency = Duration::from_millis(self.latency_ms);
        faults.reset_percent = self.reset_percent;
        faults.fail_after_upload = self.fail_after_upload;
        faults.html_502 = self.html_502;
        config
    }

    /// One line describing the rate windows of `config` for a start-up banner: "off", or
    /// their counts and scaled lengths.
    pub fn rate_limits_summary(config: &Config) -> String {
        if config.rate_limits {
            format!(
                "1,200 per {} s (API), 200 per {} s per batch token",
                300.0 * config.rate_limit_scale,
                config.rate_limit_scale
            )
        } else {
            "off".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Config {
        let mut argv = vec!["emulator"];
        argv.extend_from_slice(args);
        Cli::parse_from(argv).serve.config()
    }

    #[test]
    fn no_options_give_the_default_config() {
        let config = parse(&[]);
        let default = Config::default();
        assert_eq!(config.port, default.port);
        assert_eq!(config.data_dir, default.data_dir);
        assert_eq!(config.account_id, default.account_id);
        assert_eq!(config.account_hash, default.account_hash);
        assert_eq!(config.api_token, default.api_token);
        assert_eq!(config.rate_limits, default.rate_limits);
        assert_eq!(config.rate_limit_scale, default.rate_limit_scale);
        assert_eq!(config.batch_token_ttl, default.batch_token_ttl);
        assert_eq!(config.flexible_variants, default.flexible_variants);
        assert_eq!(config.transform_origins, default.transform_origins);
        // Only difference: the 429s' Retry-After is explicit, with the default's value.
        let mut faults = default.faults;
        faults.retry_after_secs = Some(1);
        assert_eq!(config.faults, faults);
    }

    #[test]
    fn every_option_reaches_the_config() {
        let config = parse(&[
            "--port=9",
            "--data-dir=/tmp/x",
            "--account-id=acc",
            "--account-hash=hash",
            "--token=t",
            "--rate-limit-after=4",
            "--retry-after=7",
            "--fail-5xx-percent=10",
            "--latency-ms=3",
            "--reset-percent=5",
            "--html-502",
            "--fail-after-upload",
            "--rate-limit-scale=0.5",
            "--batch-token-ttl=60",
            "--flexible-variants",
            "--transform-origin=http://127.0.0.1:1",
            "--transform-origin",
            "http://localhost:2",
        ]);
        assert_eq!(config.port, 9);
        assert_eq!(
            config.data_dir.as_deref(),
            Some(std::path::Path::new("/tmp/x"))
        );
        assert_eq!(config.account_id, "acc");
        assert_eq!(config.account_hash, "hash");
        assert_eq!(config.api_token.as_deref(), Some("t"));
        assert!(config.rate_limits);
        assert_eq!(config.rate_limit_scale, 0.5);
        assert_eq!(config.batch_token_ttl, Duration::from_secs(60));
        assert!(config.flexible_variants);
        assert_eq!(
            config.transform_origins,
            ["http://127.0.0.1:1", "http://localhost:2"]
        );
        let f = &config.faults;
        assert_eq!(f.rate_limit_after, Some(4));
        assert_eq!(f.retry_after_secs, Some(7));
        assert_eq!(f.fail_5xx_percent, 10);
        assert_eq!(f.latency, Duration::from_millis(3));
        assert_eq!(f.reset_percent, 5);
        assert!(f.html_502 && f.fail_after_upload);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["--rate-limit-scale=0"][..],
            &["--rate-limit-scale=-1"],
            &["--rate-limit-scale=inf"],
            &["--fail-5xx-percent=101"],
            &["--transform-origin=127.0.0.1:1"],
            &["--transform-origin=http://a/path"],
        ] {
            let mut argv = vec!["emulator"];
            argv.extend_from_slice(bad);
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
