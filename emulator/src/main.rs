//! `cloudflare-images-emulator`: runs the Cloudflare Images emulator until interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cloudflare_images_emulator::{Config, Emulator};

const USAGE: &str = "\
Usage: cloudflare-images-emulator [OPTIONS]

A stateful local stand-in for the Cloudflare Images API.

Options:
  --port N                 port on 127.0.0.1 (default 0: pick a free one)
  --data-dir DIR           keep images and state in DIR (SQLite + blobs, loaded again on
                           start; several processes may share it)
  --account-id ID          account id expected in API paths
  --account-hash HASH      account hash used in delivery URLs
  --token TOKEN            the only bearer token accepted (default: any credential)
  --rate-limit-after N     answer 429 (code 971) after N API requests
  --retry-after SECS       Retry-After value of 429 answers (default 1)
  --fail-5xx-percent P     answer P % of API requests with 500 (code 5500)
  --latency-ms N           delay every API request by N milliseconds
  --reset-percent P        close the connection without answering for P % of API requests
  --html-502               injected server errors are HTML 502 pages instead of JSON 500s
  --fail-after-upload      store uploads, then answer 500
  --rate-limits            enforce Cloudflare's rate limits as sliding windows: 1,200 API
                           requests per 300 s, 200 batch requests per 1 s per batch token
                           (429, code 971, Retry-After); off by default
  --rate-limit-scale F     multiply every window's length by F, keeping the counts (0.01:
                           1,200 per 3 s, 200 per 10 ms); implies --rate-limits
  --batch-token-ttl SECS   lifetime of batch tokens (default 3600)
  -h, --help               print this help
";

fn parse(args: &[String]) -> Result<Option<Config>, String> {
    let mut config = Config::default();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let mut value = || -> Result<String, String> {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        fn num<T: std::str::FromStr>(flag: &str, text: String) -> Result<T, String> {
            text.parse()
                .map_err(|_| format!("{flag}: not a valid number: {text}"))
        }
        match flag {
            "-h" | "--help" => return Ok(None),
            "--port" => config.port = num(flag, value()?)?,
            "--data-dir" => config.data_dir = Some(PathBuf::from(value()?)),
            "--account-id" => config.account_id = value()?,
            "--account-hash" => config.account_hash = value()?,
            "--token" => config.api_token = Some(value()?),
            "--rate-limit-after" => config.faults.rate_limit_after = Some(num(flag, value()?)?),
            "--retry-after" => config.faults.retry_after_secs = Some(num(flag, value()?)?),
            "--fail-5xx-percent" => config.faults.fail_5xx_percent = percent(flag, value()?)?,
            "--latency-ms" => {
                config.faults.latency = Duration::from_millis(num(flag, value()?)?);
            }
            "--reset-percent" => config.faults.reset_percent = percent(flag, value()?)?,
            "--fail-after-upload" => config.faults.fail_after_upload = true,
            "--html-502" => config.faults.html_502 = true,
            "--rate-limits" => config.rate_limits = true,
            "--rate-limit-scale" => {
                let text = value()?;
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() && f > 0.0 => config.rate_limit_scale = f,
                    _ => return Err(format!("{flag}: expected a positive number, got {text}")),
                }
                config.rate_limits = true;
            }
            "--batch-token-ttl" => {
                config.batch_token_ttl = Duration::from_secs(num(flag, value()?)?);
            }
            other => return Err(format!("unknown argument: {other}")),
        }
        i += 1;
    }
    Ok(Some(config))
}

fn percent(flag: &str, text: String) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(p) if p <= 100 => Ok(p),
        _ => Err(format!("{flag}: expected a percentage 0..=100, got {text}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(Some(config)) => config,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
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
    // the batch URL. One write, and its error ignored: a reader that took the first line and
    // closed the pipe must not take the server down (println! would panic on EPIPE).
    {
        use std::io::Write as _;
        let banner = format!("{}\nbatch: {}\n", emulator.base_url(), emulator.batch_url());
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    eprintln!(
        "Cloudflare Images emulator listening.\n  API base URL: {}\n  batch URL:    {}\n  account id:   {}\n  delivery:     {}/{}/<image_id>/<variant>\n  rate limits:  {}",
        emulator.base_url(),
        emulator.batch_url(),
        emulator.account_id(),
        emulator.origin(),
        emulator.account_hash(),
        limits,
    );
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
