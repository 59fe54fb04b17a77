//! `cfimg serve`: the local emulator in the foreground, for other processes.
//!
//! Its options are the emulator binary's own (`cloudflare_images_emulator::ServeArgs`,
//! flattened), so the two front ends take the same flags with the same defaults.
//! cfimg adds one thing: state is kept in cfimg's data directory unless
//! `--data-dir` or `--ephemeral` says otherwise, so `cfimg serve` and the
//! emulator embedded in other cfimg commands see the same images.

use clap::Args as ClapArgs;
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

/// Arguments of `cfimg serve`: the emulator binary's, plus `--ephemeral`.
#[derive(Debug, ClapArgs)]
#[command(mut_arg("data_dir", |a| a.help(
    "Keep images and state in DIR [default: cfimg's data directory, shared with the \
     emulator embedded in other cfimg commands; do not run those without credentials \
     on the same directory while serving]"
)))]
pub struct Args {
    #[command(flatten)]
    emulator: cloudflare_images_emulator::ServeArgs,
    /// Keep state in memory only.
    #[arg(long, conflicts_with = "data_dir")]
    ephemeral: bool,
}

impl Args {
    /// The emulator's configuration: the emulator's options, with the data
    /// directory `--data-dir`, else cfimg's own (created if missing), or none with
    /// `--ephemeral`.
    fn config(&self) -> CliResult<Config> {
        let mut config = self.emulator.config();
        if self.ephemeral {
            config.data_dir = None;
        } else {
            let dir = match config.data_dir.take() {
                Some(d) => d,
                None => backend::data_dir(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?,
            };
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
            config.data_dir = Some(dir);
        }
        Ok(config)
    }
}

/// Runs `cfimg serve` until Ctrl-C.
pub async fn run(args: Args) -> CliResult<()> {
    let config = args.config()?;
    let data_dir = config.data_dir.clone();
    let port = config.port;
    let emulator = Emulator::start_with(config)
        .await
        .map_err(|e| CliError::new(format!("cannot start the emulator on port {port}: {e}")))?;
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

#[cfg(test)]
mod tests {
    use clap::{Args as _, Command};

    /// Every option of the emulator binary is an option of `cfimg serve`, with the
    /// same default: the two front ends cannot drift apart.
    #[test]
    fn serve_takes_the_emulator_binarys_options_and_defaults() {
        let emulator = cloudflare_images_emulator::ServeArgs::augment_args(Command::new("emu"));
        let cfimg = super::Args::augment_args(Command::new("serve"));
        let mut compared = 0;
        for arg in emulator.get_arguments() {
            let ours = cfimg
                .get_arguments()
                .find(|a| a.get_id() == arg.get_id())
                .unwrap_or_else(|| panic!("cfimg serve lacks --{}", arg.get_id()));
            assert_eq!(ours.get_long(), arg.get_long(), "{}", arg.get_id());
            assert_eq!(
                ours.get_default_values(),
                arg.get_default_values(),
                "--{}",
                arg.get_id()
            );
            compared += 1;
        }
        assert!(compared >= 15, "only {compared} options compared");
        // The one addition, and the one different help text (where state is kept).
        assert!(cfimg.get_arguments().any(|a| a.get_id() == "ephemeral"));
    }

    /// Without `--data-dir`, state goes to cfimg's data directory, not memory;
    /// `--ephemeral` keeps it in memory; the emulator's options still apply.
    #[test]
    fn data_dir_defaults_to_cfimgs_and_options_pass_through() {
        use clap::FromArgMatches;
        let dir = tempfile::tempdir().unwrap();
        let parse = |argv: &[&str]| {
            let m = super::Args::augment_args(Command::new("serve"))
                .try_get_matches_from(argv)
                .unwrap();
            super::Args::from_arg_matches(&m).unwrap()
        };
        let data = dir.path().join("d");
        let args = parse(&[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--flexible-variants",
            "--token",
            "t",
        ]);
        let config = args.config().unwrap();
        assert_eq!(config.data_dir.as_deref(), Some(data.as_path()));
        assert!(data.is_dir(), "the data directory is created");
        assert!(config.flexible_variants);
        assert_eq!(config.api_token.as_deref(), Some("t"));
        assert_eq!(config.port, 0);

        let config = parse(&["serve", "--ephemeral", "--port", "9"])
            .config()
            .unwrap();
        assert_eq!(config.data_dir, None);
        assert_eq!(config.port, 9);
    }
}
