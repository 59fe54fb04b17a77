//! `cfimg`: Cloudflare Images from the command line.
//!
//! With `CLOUDFLARE_API_TOKEN` (or `CLOUDFLARE_EMAIL` + `CLOUDFLARE_API_KEY`) and
//! `CLOUDFLARE_ACCOUNT_ID` set, commands talk to Cloudflare (or `CLOUDFLARE_BASE_URL`).
//! Without credentials they run against a local emulator embedded in the process,
//! whose state persists in `$CFIMG_DATA_DIR` (else `$XDG_DATA_HOME/cfimg`, else
//! `~/.local/share/cfimg`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod cmd;
mod error;
mod files;
mod journal;
mod output;
mod plan;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use serde_json::json;

use crate::backend::Backend;
use crate::cmd::{
    completions, config, delete, demo, direct_upload, doctor, download, edit, export, get, import,
    keys, list, serve, sign, stats, sync, upload, url, variants,
};
use crate::error::{CliError, CliResult};

const EXAMPLES: &str = "\
Examples:
  cfimg demo                                   # a tour on a throw-away local emulator
  cfimg upload photos/ 'shots/**/*.jpg' https://example.com/cat.png --concurrency 8
  cfimg upload cat.png --id products/cat --metadata '{\"sku\":\"CAT-1\"}'
  curl -s https://example.com/cat.png | cfimg upload - --name cat.png
  cfimg list --meta status=active --meta-filter 'priority[gte:number]=2' --format csv
  cfimg list --json | jq '.[].id'              # one JSON document; --jsonl streams lines
  cfimg get products/cat
  cfimg sign products/cat --variant public --expires-in 1h
  cfimg url transform /img/cat.jpg --zone example.com --options w=400,f=auto
  cfimg url srcset products/cat --widths 320,640,1280 --markup picture
  cfimg delete ID1 ID2 --yes
  cfimg delete --meta status=retired --dry-run   # bulk delete by filter; --yes to do it
  cfimg sync ./site/img --id-prefix site/ --yes  # the images under site/ mirror the folder
  cfimg serve --port 8787                      # then point CLOUDFLARE_BASE_URL at it
  cfimg completions bash > ~/.local/share/bash-completion/completions/cfimg

Credentials come from CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY),
CLOUDFLARE_ACCOUNT_ID and optionally CLOUDFLARE_BASE_URL. With none set, every command
runs against a local emulator embedded in cfimg, with its state in $CFIMG_DATA_DIR
(else $XDG_DATA_HOME/cfimg, else ~/.local/share/cfimg).";

/// Cloudflare Images from the command line.
#[derive(Debug, Parser)]
#[command(name = "cfimg", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: output::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upload files, directories (recursively), glob patterns or URLs.
    #[command(after_help = upload::AFTER_HELP)]
    Upload(upload::UploadArgs),
    /// List images (v2: newest first, with continuation tokens and metadata filters).
    #[command(after_help = list::AFTER_HELP)]
    List(list::ListArgs),
    /// Show one image.
    #[command(after_help = get::AFTER_HELP)]
    Get(get::GetArgs),
    /// Change an image's metadata, creator or signed-URL requirement.
    #[command(after_help = edit::AFTER_HELP)]
    Edit(edit::EditArgs),
    /// Delete one or more images (asks first on a terminal; --yes to skip).
    #[command(after_help = delete::AFTER_HELP)]
    Delete(delete::DeleteArgs),
    /// Save an image's original bytes to a file.
    #[command(after_help = download::AFTER_HELP)]
    Download(download::DownloadArgs),
    /// Manage variants (named resizing presets).
    #[command(subcommand)]
    Variants(variants::VariantsCommand),
    /// Manage signing keys (for signed delivery URLs).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Show how many images are stored and allowed.
    Stats(stats::StatsArgs),
    /// Change the account's Images settings (PATCH v1/config).
    #[command(after_help = config::AFTER_HELP)]
    Config(config::ConfigArgs),
    /// Create a one-time upload URL for a browser or device (no credentials needed to use it).
    #[command(after_help = direct_upload::AFTER_HELP)]
    DirectUpload(direct_upload::DirectUploadArgs),
    /// Print a signed delivery URL for an image.
    #[command(after_help = sign::AFTER_HELP)]
    Sign(sign::SignArgs),
    /// Build, sign and read delivery and transformation URLs; print srcset markup.
    #[command(subcommand)]
    Url(url::UrlCommand),
    /// Run the local emulator in the foreground (until Ctrl-C).
    #[command(after_help = serve::AFTER_HELP)]
    Serve(serve::Args),
    /// A tour of the API on a fresh, throw-away local emulator.
    ///
    /// Generates PNG, JPEG and WebP images, uploads them, lists them with both
    /// paginations, creates a variant, signs a delivery URL and fetches it, shows
    /// an unsigned fetch refused, runs a direct creator upload, shows stats and
    /// cleans up. Your data directory is not touched.
    Demo(demo::DemoArgs),
    /// Make the images under an id prefix mirror a directory (upload, replace, delete).
    #[command(after_help = sync::AFTER_HELP)]
    Sync(sync::SyncArgs),
    /// Print a completion script for a shell.
    #[command(after_help = completions::AFTER_HELP)]
    Completions(completions::CompletionsArgs),
    /// Save every image's original and a manifest to a folder (resumable).
    #[command(after_help = export::AFTER_HELP)]
    Export(export::ExportArgs),
    /// Upload a folder made by `export` into this account (resumable).
    #[command(after_help = import::AFTER_HELP)]
    Import(import::ImportArgs),
    /// Check the setup: token, account, permissions, keys, settings, limits.
    #[command(after_help = doctor::AFTER_HELP)]
    Doctor(doctor::DoctorArgs),
}

/// Runs a command: those that need no API first, then the others against the
/// backend the environment names (tuned for `upload`), closed afterwards.
async fn run(command: Command) -> CliResult<()> {
    let command = match command {
        Command::Serve(args) => return serve::run(args).await,
        Command::Demo(args) => return demo::run(args).await,
        Command::Completions(args) => return completions::run(args, Cli::command()),
        Command::Url(command) if !command.needs_api() => return url::run(command, None).await,
        Command::Doctor(args) => return doctor::run(args).await,
        command => command,
    };
    let announce = !output::settings().quiet;
    let backend = match &command {
        Command::Upload(args) => Backend::connect_for_upload(announce, args.tuning()).await?,
        Command::Sync(args) => Backend::connect_for_upload(announce, args.pace.tuning()).await?,
        Command::Delete(args) => Backend::connect_for_upload(announce, args.pace.tuning()).await?,
        Command::Export(args) => Backend::connect_for_upload(announce, args.pace.tuning()).await?,
        Command::Import(args) => Backend::connect_for_upload(announce, args.pace.tuning()).await?,
        _ => Backend::connect(announce).await?,
    };
    let result = dispatch(command, &backend).await;
    backend.close().await;
    result
}

async fn dispatch(command: Command, ctx: &Backend) -> CliResult<()> {
    match command {
        Command::Upload(args) => upload::run(args, ctx).await,
        Command::List(args) => list::run(args, ctx).await,
        Command::Get(args) => get::run(args, ctx).await,
        Command::Edit(args) => edit::run(args, ctx).await,
        Command::Delete(args) => delete::run(args, ctx).await,
        Command::Download(args) => download::run(args, ctx).await,
        Command::Variants(command) => variants::run(command, ctx).await,
        Command::Keys(command) => keys::run(command, ctx).await,
        Command::Stats(args) => stats::run(args, ctx).await,
        Command::Config(args) => config::run(args, ctx).await,
        Command::DirectUpload(args) => direct_upload::run(args, ctx).await,
        Command::Sign(args) => sign::run(args, ctx).await,
        Command::Url(command) => url::run(command, Some(ctx)).await,
        Command::Sync(args) => sync::run(args, ctx).await,
        Command::Export(args) => export::run(args, ctx).await,
        Command::Import(args) => import::run(args, ctx).await,
        Command::Serve(_) | Command::Demo(_) | Command::Completions(_) | Command::Doctor(_) => {
            Ok(())
        }
    }
}

/// The output mode asked for on a command line that clap refused: `--json` or
/// `--jsonl` anywhere before a `--`.
fn mode_in_raw_args() -> output::Mode {
    let mut mode = output::Mode::Human;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--") => break,
            Some("--json") => return output::Mode::Json,
            Some("--jsonl") => mode = output::Mode::Jsonl,
            _ => {}
        }
    }
    mode
}

/// Reports a command line clap refused (or `--help`, `--version`): as clap does,
/// or under `--json`/`--jsonl` as `{"error": ...}` on stdout and one line on
/// stderr. Usage errors exit with status 2.
fn report_clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let mode = mode_in_raw_args();
    let informational = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if informational || mode == output::Mode::Human {
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(error::EXIT_USAGE));
    }
    output::configure(output::Settings {
        mode,
        ..Default::default()
    });
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid usage");
    let message = first.strip_prefix("error: ").unwrap_or(first).trim();
    let err = CliError::usage(message);
    output::print_json(&json!({"error": err.to_json()}));
    eprintln!("cfimg: error: {message} (see cfimg --help)");
    ExitCode::from(error::EXIT_USAGE)
}

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        eprintln!("cfimg: internal error: {what}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return report_clap_error(e),
    };
    output::configure(cli.global.settings());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cfimg: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command));
    // Do not wait for stray blocking tasks (e.g. a stdin read) on the way out.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if output::machine() && !e.json_printed {
                output::print_json(&json!({"error": e.to_json()}));
            }
            eprintln!("cfimg: error: {e}");
            ExitCode::from(e.exit)
        }
    }
}
