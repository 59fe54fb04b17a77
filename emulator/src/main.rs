//! `cloudflare-images-emulator`: runs the Cloudflare Images emulator until interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use cloudflare_images_emulator::{Config, Emulator};

/// A stateful local stand-in for the Cloudflare Images API.
#[derive(Debug, Parser)]
#[command(
    name = "cloudflare-images-emulator",
    after_help = "Prints the API base URL on the first line of stdout and the batch URL on the \
                  second, then serves until interrupted."
)]
struct Args {
    /// Port on 127.0.0.1 (0: pick a free one)
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// Keep images and state in DIR (SQLite + blobs, loaded again on start; several
    /// processes may share it) [default: in memory, gone on exit]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Account id expected in API paths
    #[arg(long, value_name = "ID", default_value_t = Config::default().account_id)]
    account_id: String,
    /// Account hash used in delivery URLs
    #[arg(long, value_name = "HASH", default_value_t = Config::default().account_hash)]
    account_hash: String,
    /// The only bearer token accepted [default: any credential]
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Answer 429 (code 971) after N API requests [default: never]
    #[arg(long, value_name = "N")]
    rate_limit_after: Option<u64>,
    /// Retry-After value of 429 answers
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    retry_after: u64,
    /// Answer P % of API requests with 500 (code 5500)
    #[arg(long, value_name = "P", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    fail_5xx_percent: u8,
    /// Delay every API request by N milliseconds
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Close the connection without answering for P % of API requests
    #[arg(long, value_name = "P", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    reset_percent: u8,
    /// Injected server errors are HTML 502 pages instead of JSON 500s [default: off]
    #[arg(long = "html-502")]
    html_502: bool,
    /// Store uploads, then answer 500 [default: off]
    #[arg(long)]
    fail_after_upload: bool,
    /// Enforce Cloudflare's rate limits as sliding windows: 1,200 API requests per 300 s,
    /// 200 batch requests per 1 s per batch token (429, code 971, Retry-After)
    /// [default: off]
    #[arg(long)]
    rate_limits: bool,
    /// Multiply every window's length by F, keeping the counts (0.01: 1,200 per 3 s, 200
    /// per 10 ms); implies --rate-limits [default: 1]
    #[arg(long, value_name = "F", value_parser = positive_number, allow_negative_numbers = true)]
    rate_limit_scale: Option<f64>,
    /// Lifetime of batch tokens
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    batch_token_ttl: u64,
    /// Turn flexible variants on at start, as `PATCH v1/config {"flexible_variants": true}`
    /// would (kept in the data folder) [default: off, as on Cloudflare]
    #[arg(long)]
    flexible_variants: bool,
}

/// A finite number above zero (a window scale of 0, a negative or an infinite one means
/// nothing).
fn positive_number(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!("expected a positive number, got {text}")),
    }
}

impl Args {
    fn into_config(self) -> Config {
        let mut config = Config {
            port: self.port,
            data_dir: self.data_dir,
            account_id: self.account_id,
            account_hash: self.account_hash,
            api_token: self.token,
            rate_limits: self.rate_limits || self.rate_limit_scale.is_some(),
            batch_token_ttl: Duration::from_secs(self.batch_token_ttl),
            flexible_variants: self.flexible_variants,
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
}

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 2 with clap's message on stderr; `--help` prints to stdout, exits 0.
    let config = match Args::try_parse() {
        Ok(args) => args.into_config(),
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let limits = if config.rate_limits {
        format!(
            "1,200 per {} s (API), 200 per {} s per batch token",
            300.0 * config.rate_limit_scale,
            config.rate_limit_scale
        )
    } else {
        "off".to_owned()
    };
    let emulator = match Emulator::start_with(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: could not start the emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The first line is the bare base URL (scripts and tests read it); the second names
    // the batch URL. Then the human banner on stderr. Each is one write whose error is
    // ignored: a reader that took what it needed and closed either pipe must not take the
    // server down (println!/eprintln! panic on EPIPE).
    use std::io::Write as _;
    let banner = format!("{}\nbatch: {}\n", emulator.base_url(), emulator.batch_url());
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    drop(out);
    let human = format!(
        "Cloudflare Images emulator listening.\n  API base URL: {}\n  batch URL:    {}\n  account id:   {}\n  delivery:     {}/{}/<image_id>/<variant>\n  rate limits:  {}\n",
        emulator.base_url(),
        emulator.batch_url(),
        emulator.account_id(),
        emulator.origin(),
        emulator.account_hash(),
        limits,
    );
    let _ = std::io::stderr().write_all(human.as_bytes());
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
