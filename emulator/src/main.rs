//! `cloudflare-images-emulator`: runs the Cloudflare Images emulator until interrupted.

use std::process::ExitCode;

use clap::Parser;
use cloudflare_images_emulator::{Emulator, ServeArgs};

/// A stateful local stand-in for the Cloudflare Images API.
#[derive(Debug, Parser)]
#[command(
    name = "cloudflare-images-emulator",
    after_help = "Prints the API base URL on the first line of stdout and the batch URL on the \
                  second, then serves until interrupted."
)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 2 with clap's message on stderr; `--help` prints to stdout, exits 0.
    let config = match Cli::try_parse() {
        Ok(cli) => cli.serve.config(),
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let limits = ServeArgs::rate_limits_summary(&config);
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
