//! `cfimg serve`: the local emulator in the foreground, for other processes.
//!
//! The flags are cfimg's own for now; `ServeArgs` and the `Config` it makes
//! are the only places to change to take the emulator binary's arguments
//! instead.

use std::path::PathBuf;

use clap::Args;
use cloudflare_images_emulator::{Config, Emulator};
use serde_json::json;

use crate::backend;
use crate::error::{CliError, CliResult};
use crate::output;

/// The help shown after `cfimg serve`'s options.
pub const AFTER_HELP: &str = "\
Example:
  cfimg serve --port 8787 &
  export CLOUDFLARE_BASE_URL=http://127.0.0.1:8787/client/v4 CLOUDFLARE_API_TOKEN=local \\
         CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353
  cfimg list";

/// Arguments of `cfimg serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Where to keep state (default: cfimg's data directory, shared with the
    /// embedded emulator; do not run other cfimg commands without credentials
    /// on the same directory while serving).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep state in memory only.
    #[arg(long, conflicts_with = "data_dir")]
    pub ephemeral: bool,
}

impl ServeArgs {
    /// The emulator's configuration, and the data directory it uses (created
    /// if missing): `--data-dir`, else cfimg's own, or none with `--ephemeral`.
    fn config(&self) -> CliResult<Config> {
        let data_dir = if self.ephemeral {
            None
        } else {
            let dir = match &self.data_dir {
                Some(d) => d.clone(),
                None => backend::data_dir(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?,
            };
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
            Some(dir)
        };
        Ok(Config {
            port: self.port,
            data_dir,
            ..Config::default()
        })
    }
}

/// Runs `cfimg serve` until Ctrl-C.
pub async fn run(args: ServeArgs) -> CliResult<()> {
    let config = args.config()?;
    let data_dir = config.data_dir.clone();
    let emulator = Emulator::start_with(config).await.map_err(|e| {
        CliError::new(format!(
            "cannot start the emulator on port {}: {e}",
            args.port
        ))
    })?;
    if output::machine() {
        output::print_out(&format!(
            "{}\n",
            json!({
                "base_url": emulator.base_url(),
                "origin": emulator.origin(),
                "account_id": emulator.account_id(),
                "account_hash": emulator.account_hash(),
                "data_dir": data_dir.as_ref().map(|d| d.display().to_string()),
            })
        ));
    } else {
        output::print_out(&format!("{}\n", emulator.base_url()));
    }
    if !output::machine() && !output::settings().quiet {
        eprintln!(
            "cfimg: Cloudflare Images emulator listening (Ctrl-C to stop); data {}\n\
             Use it from another shell:\n  \
             export CLOUDFLARE_BASE_URL={} CLOUDFLARE_API_TOKEN=local CLOUDFLARE_ACCOUNT_ID={}",
            data_dir
                .as_ref()
                .map(|d| format!("in {}", d.display()))
                .unwrap_or_else(|| "in memory".into()),
            emulator.base_url(),
            emulator.account_id()
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    emulator.shutdown().await;
    eprintln!("cfimg: emulator stopped");
    Ok(())
}
