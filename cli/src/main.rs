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
mod commands;
mod demo;
mod error;
mod files;
mod imagegen;
mod list;
mod output;
mod sign;
mod upload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use cloudflare_images::pagination::MetadataFilter;
use serde_json::{json, Map, Value};

use crate::backend::Backend;
use crate::error::{CliError, CliResult};

const EXAMPLES: &str = "\
Examples:
  cfimg demo                                   # a tour on a throw-away local emulator
  cfimg upload photos/ 'shots/**/*.jpg' https://example.com/cat.png --concurrency 8
  cfimg upload cat.png --id products/cat --metadata '{\"sku\":\"CAT-1\"}'
  cfimg list --meta status=active --meta-filter 'priority[gte:number]=2' --format csv
  cfimg get products/cat
  cfimg sign products/cat --variant public --expires-in 1h
  cfimg delete ID1 ID2 --yes
  cfimg serve --port 8787                      # then point CLOUDFLARE_BASE_URL at it

Credentials come from CLOUDFLARE_API_TOKEN (or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY),
CLOUDFLARE_ACCOUNT_ID and optionally CLOUDFLARE_BASE_URL. With none set, every command
runs against a local emulator embedded in cfimg, with its state in $CFIMG_DATA_DIR
(else $XDG_DATA_HOME/cfimg, else ~/.local/share/cfimg).";

/// Cloudflare Images from the command line.
#[derive(Debug, Parser)]
#[command(name = "cfimg", version, about, after_help = EXAMPLES)]
struct Cli {
    /// Print machine-readable JSON on stdout (errors too).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upload files, directories (recursively), glob patterns or URLs.
    #[command(after_help = "\
Examples:
  cfimg upload cat.png dog.jpg
  cfimg upload ./photos --concurrency 8 --metadata '{\"album\":\"summer\"}'
  cfimg upload 'shots/**/*.png'        # quoted: cfimg expands * ? and **
  cfimg upload https://example.com/cat.png --id animals/cat

Directories contribute files with image extensions (png, jpg, jpeg, gif, webp, svg,
heic, heif, avif); files named explicitly are always tried. Exits with status 1 and
lists the failures if any upload failed.")]
    Upload(UploadArgs),
    /// List images (v2: newest first, with continuation tokens and metadata filters).
    #[command(after_help = "\
Examples:
  cfimg list --limit 20
  cfimg list --creator user-42 --sort asc --format jsonl
  cfimg list --meta status=active --meta-filter 'priority[gte:number]=2'
  cfimg list --meta-filter 'tag[in]=cat|dog' --format csv > images.csv

Filter operators: eq, gt, gte, lt, lte, in (values separated by |), each optionally
typed as :string, :number or :boolean. Untyped, gt/gte/lt/lte compare numbers and
eq/in strings (--meta KEY=VALUE is a string equality). At most 5 filters, all of
which must match.")]
    List(ListArgs),
    /// Show one image.
    #[command(after_help = "Example:\n  cfimg get products/cat --json")]
    Get {
        /// The image id.
        id: String,
    },
    /// Change an image's metadata, creator or signed-URL requirement.
    #[command(after_help = "\
Examples:
  cfimg edit products/cat --metadata '{\"sku\":\"CAT-2\"}'
  cfimg edit 2cdc28f0-017a-49c4-9ed7-87056c83901 --require-signed-urls")]
    Edit(EditArgs),
    /// Delete one or more images (asks first on a terminal; --yes to skip).
    #[command(after_help = "\
Examples:
  cfimg delete products/cat
  cfimg delete ID1 ID2 ID3 --yes

Without a terminal on stdin, --yes is required.")]
    Delete(DeleteArgs),
    /// Save an image's original bytes to a file.
    #[command(after_help = "\
Examples:
  cfimg download products/cat                 # saved under the image's file name
  cfimg download products/cat -o cat.png
  cfimg download products/cat -o - | file -")]
    Download(DownloadArgs),
    /// Manage variants (named resizing presets).
    #[command(subcommand)]
    Variants(VariantsCommand),
    /// Manage signing keys (for signed delivery URLs).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show how many images are stored and allowed.
    Stats,
    /// Create a one-time upload URL for a browser or device (no credentials needed to use it).
    #[command(after_help = "\
Examples:
  cfimg direct-upload --creator user-42 --expires-in 30m
  cfimg direct-upload --file cat.png          # also upload to it and wait until ready")]
    DirectUpload(DirectUploadArgs),
    /// Print a signed delivery URL for an image.
    #[command(after_help = "\
Examples:
  cfimg sign products/cat
  cfimg sign 2cdc28f0-017a-49c4-9ed7-87056c83901 --variant thumb --expires-in 15m
  cfimg sign products/cat --variant w=400,h=300 --key rotation2")]
    Sign(SignArgs),
    /// Run the local emulator in the foreground (until Ctrl-C).
    #[command(after_help = "\
Example:
  cfimg serve --port 8787 &
  export CLOUDFLARE_BASE_URL=http://127.0.0.1:8787/client/v4 CLOUDFLARE_API_TOKEN=local \\
         CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353
  cfimg list")]
    Serve(ServeArgs),
    /// A tour of the API on a fresh, throw-away local emulator (a few seconds).
    Demo,
}

fn parse_metadata(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("metadata must be a JSON object, like '{\"sku\":\"A-1\"}'".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    sign::parse_duration(text)
}

#[derive(Debug, Args)]
struct UploadArgs {
    /// Files, directories, glob patterns (`*`, `?`, `**`) or http(s) URLs.
    #[arg(required = true, value_name = "PATH|GLOB|URL")]
    inputs: Vec<String>,
    /// Custom id (a single input only; may contain `/`).
    #[arg(long)]
    id: Option<String>,
    /// Your user id for the creator of the images.
    #[arg(long)]
    creator: Option<String>,
    /// Metadata for every image, a JSON object (at most 1,024 bytes).
    #[arg(long, value_parser = parse_metadata, value_name = "JSON")]
    metadata: Option<Map<String, Value>>,
    /// Serve the images only through signed URLs.
    #[arg(long)]
    require_signed_urls: bool,
    /// How many uploads run at once.
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only images with this creator (empty: images without a creator).
    #[arg(long)]
    creator: Option<String>,
    /// Order by upload time.
    #[arg(long, value_enum)]
    sort: Option<list::Sort>,
    /// At most this many images.
    #[arg(long)]
    limit: Option<usize>,
    /// Images per request (v2: 10..=10000, v1: 10..=10000).
    #[arg(long)]
    per_page: Option<u32>,
    /// Metadata equals a string, KEY=VALUE (KEY may be a dotted path); repeatable.
    #[arg(long = "meta", value_parser = list::parse_meta_eq, value_name = "KEY=VALUE")]
    meta: Vec<MetadataFilter>,
    /// Metadata filter with an operator, PATH[OP(:TYPE)]=VALUE; repeatable.
    #[arg(long = "meta-filter", value_parser = list::parse_meta_filter, value_name = "FILTER")]
    meta_filter: Vec<MetadataFilter>,
    /// Output format (--json means jsonl).
    #[arg(long, value_enum)]
    format: Option<list::Format>,
    /// Use the deprecated v1 listing (page numbers; no sort or filters).
    #[arg(long)]
    v1: bool,
}

#[derive(Debug, Args)]
struct EditArgs {
    /// The image id.
    id: String,
    /// New metadata, a JSON object (replaces the old).
    #[arg(long, value_parser = parse_metadata, value_name = "JSON")]
    metadata: Option<Map<String, Value>>,
    /// New creator.
    #[arg(long)]
    creator: Option<String>,
    /// Require signed URLs (`--require-signed-urls false` to lift it).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    require_signed_urls: Option<bool>,
}

#[derive(Debug, Args)]
struct DeleteArgs {
    /// The image ids.
    #[arg(required = true)]
    ids: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Debug, Args)]
struct DownloadArgs {
    /// The image id.
    id: String,
    /// Output file or directory; `-` for stdout. Default: the image's file name.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long, short = 'f')]
    force: bool,
}

#[derive(Debug, Args)]
struct VariantArgs {
    /// Maximum width in pixels.
    #[arg(long)]
    width: Option<u32>,
    /// Maximum height in pixels.
    #[arg(long)]
    height: Option<u32>,
    /// How to fit: scale-down, contain, cover, crop, pad.
    #[arg(long, value_parser = ["scale-down", "contain", "cover", "crop", "pad"])]
    fit: Option<String>,
    /// What metadata to keep: keep, copyright, none.
    #[arg(long, value_parser = ["keep", "copyright", "none"])]
    metadata: Option<String>,
    /// Serve this variant without a signature even for private images.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    never_require_signed_urls: Option<bool>,
}

impl VariantArgs {
    fn options(self) -> commands::VariantOptions {
        commands::VariantOptions {
            width: self.width,
            height: self.height,
            fit: self.fit,
            metadata: self.metadata,
            never_require_signed_urls: self.never_require_signed_urls,
        }
    }
}

#[derive(Debug, Subcommand)]
enum VariantsCommand {
    /// List variants.
    List,
    /// Show one variant.
    Get {
        /// Variant name.
        name: String,
    },
    /// Create a variant (--width and --height required).
    #[command(
        after_help = "Example:\n  cfimg variants create thumb --width 200 --height 200 --fit cover"
    )]
    Create {
        /// Variant name.
        name: String,
        #[command(flatten)]
        options: VariantArgs,
    },
    /// Change a variant (only the options given).
    Edit {
        /// Variant name.
        name: String,
        #[command(flatten)]
        options: VariantArgs,
    },
    /// Delete a variant.
    Delete {
        /// Variant name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys (values masked unless --reveal).
    List {
        /// Show the key values.
        #[arg(long)]
        reveal: bool,
    },
    /// Create a signing key.
    Create {
        /// Key name.
        name: String,
        /// Show the key values.
        #[arg(long)]
        reveal: bool,
    },
    /// Delete a signing key (deleting the last one makes a new `default`).
    Delete {
        /// Key name.
        name: String,
        /// Show the key values.
        #[arg(long)]
        reveal: bool,
    },
}

#[derive(Debug, Args)]
struct DirectUploadArgs {
    /// Custom id for the future image.
    #[arg(long)]
    id: Option<String>,
    /// Your user id for the creator.
    #[arg(long)]
    creator: Option<String>,
    /// Metadata, a JSON object.
    #[arg(long, value_parser = parse_metadata, value_name = "JSON")]
    metadata: Option<Map<String, Value>>,
    /// How long the URL works (2m..6h; Cloudflare's default is 30m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    expires_in: Option<Duration>,
    /// The image will be served only through signed URLs.
    #[arg(long)]
    require_signed_urls: bool,
    /// Upload this file to the URL right away (without credentials) and wait until ready.
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// The image id.
    id: String,
    /// Variant name, or flexible options like `w=400,h=300`.
    #[arg(long, default_value = "public")]
    variant: String,
    /// How long the URL works: 90s, 30m, 1h, 2d, 1h30m.
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    expires_in: Duration,
    /// Signing key name (default: `default`, else the first).
    #[arg(long)]
    key: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Where to keep state (default: cfimg's data directory, shared with the
    /// embedded emulator; do not run other cfimg commands without credentials
    /// on the same directory while serving).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep state in memory only.
    #[arg(long, conflicts_with = "data_dir")]
    ephemeral: bool,
}

async fn serve(args: ServeArgs, json: bool) -> CliResult<()> {
    use cloudflare_images_emulator::{Config, Emulator};
    let data_dir = if args.ephemeral {
        None
    } else {
        let dir = match args.data_dir {
            Some(d) => d,
            None => backend::data_dir(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?,
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
        Some(dir)
    };
    let emulator = Emulator::start_with(Config {
        port: args.port,
        data_dir: data_dir.clone(),
        ..Config::default()
    })
    .await
    .map_err(|e| {
        CliError::new(format!(
            "cannot start the emulator on port {}: {e}",
            args.port
        ))
    })?;
    if json {
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

async fn run(cli: Cli) -> CliResult<()> {
    let json = cli.json;
    match cli.command {
        Command::Serve(args) => return serve(args, json).await,
        Command::Demo => return demo::run(json).await,
        _ => {}
    }
    let backend = Backend::connect().await?;
    let local = backend.emulator.is_some();
    let result = dispatch(&backend.client, cli.command, local, json).await;
    backend.close().await;
    result
}

async fn dispatch(
    client: &cloudflare_images::Client,
    command: Command,
    local: bool,
    json: bool,
) -> CliResult<()> {
    match command {
        Command::Upload(a) => {
            let opts = upload::UploadOptions {
                id: a.id,
                creator: a.creator,
                metadata: a.metadata,
                require_signed_urls: a.require_signed_urls,
                concurrency: usize::from(a.concurrency),
            };
            upload::run(client, &a.inputs, opts, json).await
        }
        Command::List(a) => {
            let mut filters = a.meta;
            filters.extend(a.meta_filter);
            let q = list::Query {
                creator: a.creator,
                sort: a.sort,
                limit: a.limit,
                per_page: a.per_page,
                filters,
            };
            let format = match (a.format, json) {
                (Some(f), _) => f,
                (None, true) => list::Format::Jsonl,
                (None, false) => list::Format::Table,
            };
            list::run(client, q, format, a.v1).await
        }
        Command::Get { id } => commands::get(client, &id, json).await,
        Command::Edit(a) => {
            commands::edit(
                client,
                &a.id,
                a.metadata,
                a.creator,
                a.require_signed_urls,
                json,
            )
            .await
        }
        Command::Delete(a) => commands::delete(client, &a.ids, a.yes, json).await,
        Command::Download(a) => {
            commands::download(client, &a.id, a.output.as_deref(), a.force, json).await
        }
        Command::Variants(v) => match v {
            VariantsCommand::List => commands::variants_list(client, json).await,
            VariantsCommand::Get { name } => commands::variants_get(client, &name, json).await,
            VariantsCommand::Create { name, options } => {
                commands::variants_create(client, &name, options.options(), json).await
            }
            VariantsCommand::Edit { name, options } => {
                commands::variants_edit(client, &name, options.options(), json).await
            }
            VariantsCommand::Delete { name } => {
                commands::variants_delete(client, &name, json).await
            }
        },
        Command::Keys(k) => match k {
            KeysCommand::List { reveal } => commands::keys_list(client, reveal, json).await,
            KeysCommand::Create { name, reveal } => {
                commands::keys_create(client, &name, reveal, json).await
            }
            KeysCommand::Delete { name, reveal } => {
                commands::keys_delete(client, &name, reveal, json).await
            }
        },
        Command::Stats => commands::stats(client, json).await,
        Command::DirectUpload(a) => {
            let o = commands::DirectOptions {
                id: a.id,
                creator: a.creator,
                metadata: a.metadata,
                expires_in: a.expires_in,
                require_signed_urls: a.require_signed_urls,
                file: a.file,
            };
            commands::direct_upload(client, o, local, json).await
        }
        Command::Sign(a) => {
            commands::sign(
                client,
                &a.id,
                &a.variant,
                a.expires_in,
                a.key.as_deref(),
                local,
                json,
            )
            .await
        }
        Command::Serve(_) | Command::Demo => Ok(()),
    }
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
    let cli = Cli::parse();
    let json = cli.json;
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
    let result = runtime.block_on(run(cli));
    // Do not wait for stray blocking tasks (e.g. a stdin read) on the way out.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json && !e.json_printed {
                output::print_out(&format!("{}\n", json!({"error": e.to_json()})));
            }
            eprintln!("cfimg: error: {e}");
            ExitCode::from(e.exit)
        }
    }
}
