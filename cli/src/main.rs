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
mod commands;
mod error;
mod files;
mod journal;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use cloudflare_images::pagination::MetadataFilter;
use serde_json::{json, Map, Value};

use crate::backend::Backend;
use crate::cmd::upload::migrate;
use crate::cmd::{demo, list, sign, upload};
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
  cfimg delete ID1 ID2 --yes
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
    /// Print one JSON document on stdout: an object, or an array for lists (errors
    /// too, as {"error": ...}).
    #[arg(long, global = true, conflicts_with = "jsonl")]
    json: bool,
    /// Print JSON lines on stdout: one compact object per line, one per item for
    /// lists (streamed).
    #[arg(long, global = true)]
    jsonl: bool,
    /// No notes on stderr (such as "using the local emulator"); errors still.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More detail: `upload` prints a row for every input.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
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
  cfimg upload 'shots/**/*.png'        # quoted: cfimg expands the pattern itself
  cfimg upload 'icons/[ab]*.{png,svg}'
  cfimg upload https://example.com/cat.png --id animals/cat
  cat cat.png | cfimg upload - --name cat.png
  cfimg upload /mnt/library --resume            # a migration: run again to resume
  cfimg upload /mnt/library --resume --shard 2/3 --batch-api --tokens 2

Patterns: * and ? within a path component, ** across directories, [abc], [!abc]
and {png,svg}; names starting with . match only a pattern starting with .
Directories contribute files with image extensions (png, jpg, jpeg, gif, webp, svg,
heic, heif, avif); files named explicitly are always tried. `-` reads one image
(at most 10 MiB) from stdin.

One input: one line. Several: a line per failure and a summary (-v: a row for
every input). Exits with status 1 if any upload failed.

--resume journals every input in the data directory (journal.db) and uploads it
under a custom id derived from its relative path, so the same command run again
after a crash, Ctrl-C or kill -9 skips what is stored and never stores an image
twice. --shard K/N takes a share chosen by a hash of those paths: N machines,
no overlap. Uploads are paced to Cloudflare's limit: 1,200 per 5 minutes, or
200 per second per batch token with --batch-api.")]
    Upload(UploadArgs),
    /// List images (v2: newest first, with continuation tokens and metadata filters).
    #[command(after_help = "\
Examples:
  cfimg list --limit 20
  cfimg list --creator user-42 --sort asc --jsonl
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
    /// Change the account's Images settings (PATCH v1/config).
    #[command(after_help = "\
Example:
  cfimg config --flexible-variants on   # allow w=400,h=300 in place of a variant name

Flexible variants are off on a new account, on Cloudflare as in the local emulator:
delivery URLs with options instead of a variant name are refused until then.")]
    Config(ConfigArgs),
    /// Create a one-time upload URL for a browser or device (no credentials needed to use it).
    #[command(after_help = "\
Examples:
  cfimg direct-upload --creator user-42 --expires-in 30m
  cfimg direct-upload --expires-in '1h 30m'
  cfimg direct-upload --file cat.png          # also upload to it and wait until ready")]
    DirectUpload(DirectUploadArgs),
    /// Print a signed delivery URL for an image.
    #[command(after_help = "\
Examples:
  cfimg sign products/cat
  cfimg sign 2cdc28f0-017a-49c4-9ed7-87056c83901 --variant thumb --expires-in 15min
  cfimg sign products/cat --expires-in '1h 30m'  # no fractions: not 1.5h
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
    /// A tour of the API on a fresh, throw-away local emulator.
    ///
    /// Generates PNG, JPEG and WebP images, uploads them, lists them with both
    /// paginations, creates a variant, signs a delivery URL and fetches it, shows
    /// an unsigned fetch refused, runs a direct creator upload, shows stats and
    /// cleans up. Your data directory is not touched.
    Demo,
    /// Print a completion script for a shell.
    #[command(after_help = "\
Examples:
  cfimg completions bash > ~/.local/share/bash-completion/completions/cfimg
  cfimg completions zsh > ~/.zfunc/_cfimg        # with fpath+=~/.zfunc before compinit
  cfimg completions fish > ~/.config/fish/completions/cfimg.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn parse_metadata(text: &str) -> Result<Map<String, Value>, String> {
    let limit = cloudflare_images::upload::MAX_METADATA_BYTES;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) if Value::Object(m.clone()).to_string().len() > limit => Err(format!(
            "metadata is {} bytes as JSON; Cloudflare accepts at most {limit}",
            Value::Object(m).to_string().len()
        )),
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("metadata must be a JSON object, like '{\"sku\":\"A-1\"}'".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// `--id` of `upload` and `direct-upload`: the SDK's custom-id rules, checked
/// while parsing so a bad id is a usage error naming the flag.
fn parse_custom_id(id: &str) -> Result<String, String> {
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.chars().count() > cloudflare_images::MAX_ID_LEN {
        return Err(format!(
            "longer than {} characters",
            cloudflare_images::MAX_ID_LEN
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    if id.starts_with('/') || id.ends_with('/') {
        return Err("must not start or end with '/'".into());
    }
    if id.split('/').any(|s| s == "." || s == "..") {
        return Err("must not contain `.` or `..` segments".into());
    }
    let groups: Vec<&str> = id.split('-').collect();
    let uuid_like = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if uuid_like {
        return Err("must not be a UUID (Cloudflare reserves those for the ids it assigns)".into());
    }
    Ok(id.to_string())
}

/// `--expires-in` of `sign`: any positive duration.
fn parse_duration(text: &str) -> Result<Duration, String> {
    sign::parse_duration(text)
}

/// `--expires-in` of `direct-upload`: 2m..=6h.
fn parse_direct_expiry(text: &str) -> Result<Duration, String> {
    sign::parse_direct_expiry(text)
}

/// The fields of a new image, shared by `upload` and `direct-upload`.
#[derive(Debug, Args)]
struct ImageFields {
    /// Custom id (one image only; may contain `/`; not a UUID).
    #[arg(long, value_parser = parse_custom_id)]
    id: Option<String>,
    /// Your user id for the image's creator.
    #[arg(long)]
    creator: Option<String>,
    /// Metadata, a JSON object (at most 1,024 bytes).
    #[arg(long, value_parser = parse_metadata, value_name = "JSON")]
    metadata: Option<Map<String, Value>>,
    /// Serve the image only through signed URLs (not with a custom id:
    /// Cloudflare refuses the combination).
    #[arg(long, conflicts_with = "id")]
    require_signed_urls: bool,
}

#[derive(Debug, Args)]
struct UploadArgs {
    /// Files, directories, glob patterns, http(s) URLs, or `-` for stdin.
    #[arg(required = true, value_name = "PATH|GLOB|URL|-")]
    inputs: Vec<String>,
    #[command(flatten)]
    fields: ImageFields,
    /// The file name recorded for the image read from stdin (`-`); default `stdin`.
    #[arg(long, value_name = "FILENAME")]
    name: Option<String>,
    /// How many uploads run at once [default: 8; with --batch-api, 64 per token, at most 512].
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: Option<u16>,
    /// Keep a journal in the data directory and skip what it records as stored:
    /// run the same command again after a crash, Ctrl-C or kill to finish
    /// without uploading anything twice. Each input is uploaded under a custom id,
    /// its path relative to the argument that named it (see --id-prefix).
    #[arg(long, conflicts_with = "id")]
    resume: bool,
    /// Prepended to the custom ids --resume derives (e.g. `archive/`).
    #[arg(long, requires = "resume", value_name = "PREFIX")]
    id_prefix: Option<String>,
    /// Upload only the K-th of N shares of the inputs, chosen by a stable hash
    /// of their relative path or URL: N machines given 1/N..N/N split one
    /// migration without overlap.
    #[arg(long, value_parser = migrate::parse_shard, value_name = "K/N")]
    shard: Option<migrate::Shard>,
    /// Upload through Cloudflare's Batch API (batch tokens, 200 requests/s each,
    /// outside the account's global limit).
    #[arg(long)]
    batch_api: bool,
    /// How many batch tokens to share the uploads over (with --batch-api).
    #[arg(long, requires = "batch_api", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    tokens: u16,
    /// Pace to Cloudflare's global limit (1,200 requests per 5 minutes) against
    /// the local emulator too; always done with credentials, unless --batch-api.
    #[arg(long)]
    rate_limit: bool,
    /// Do not pace to the global limit with credentials either (an emulator
    /// reached through CLOUDFLARE_BASE_URL, or an account whose limit was raised;
    /// a 429 still pauses the client).
    #[arg(long, conflicts_with = "rate_limit")]
    no_rate_limit: bool,
    /// The account's global limit to pace to, as N/PERIOD [default: 1200/5m,
    /// Cloudflare's]: for an account whose limit was raised, or an emulator whose
    /// windows are scaled (`--rate-limit-scale 0.01`: 1200/3s).
    #[arg(long, value_parser = migrate::parse_rate, value_name = "N/PERIOD")]
    api_rate: Option<cloudflare_images::RateLimit>,
    /// Each batch token's limit, as N/PERIOD [default: 200/1s, Cloudflare's]
    /// (with --batch-api).
    #[arg(long, requires = "batch_api", value_parser = migrate::parse_rate, value_name = "N/PERIOD")]
    batch_rate: Option<cloudflare_images::RateLimit>,
}

impl UploadArgs {
    /// The concurrency asked for, or the mode's default.
    fn concurrency(&self) -> usize {
        match (self.concurrency, self.batch_api) {
            (Some(n), _) => usize::from(n),
            (None, false) => 8,
            (None, true) => (64 * usize::from(self.tokens)).min(512),
        }
    }

    fn tuning(&self) -> backend::Tuning {
        backend::Tuning {
            pace_local: self.rate_limit && !self.batch_api,
            pace_remote: !self.batch_api && !self.no_rate_limit,
            max_connections: Some(
                self.concurrency()
                    .max(cloudflare_images::DEFAULT_MAX_CONNECTIONS),
            ),
            batch_tokens: self.batch_api.then_some(usize::from(self.tokens)),
            api_rate: self.api_rate,
            batch_rate: self.batch_rate,
        }
    }
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Allow (on) or refuse (off) flexible variants: options like `w=400,h=300` in place
    /// of a variant name in delivery URLs.
    #[arg(long, value_name = "on|off", action = clap::ArgAction::Set, required = true, value_parser = clap::builder::BoolishValueParser::new())]
    flexible_variants: bool,
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
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Images per request (10..=10000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=10000))]
    per_page: Option<u32>,
    /// Metadata equals a string, KEY=VALUE (KEY may be a dotted path); repeatable.
    #[arg(long = "meta", value_parser = list::parse_meta_eq, value_name = "KEY=VALUE")]
    meta: Vec<MetadataFilter>,
    /// Metadata filter with an operator, PATH[OP(:TYPE)]=VALUE; repeatable.
    #[arg(long = "meta-filter", value_parser = list::parse_meta_filter, value_name = "FILTER")]
    meta_filter: Vec<MetadataFilter>,
    /// Output format (instead of --json or --jsonl).
    #[arg(long, value_enum, conflicts_with_all = ["json", "jsonl"])]
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
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    width: Option<u32>,
    /// Maximum height in pixels.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
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
    /// Delete a variant (asks first on a terminal; --yes to skip).
    Delete {
        /// Variant name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
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
    },
}

#[derive(Debug, Args)]
struct DirectUploadArgs {
    #[command(flatten)]
    fields: ImageFields,
    /// How long the URL works, 2m..=6h: 30m, 1h 30m, 90min (Cloudflare's default: 30m).
    #[arg(long, value_parser = parse_direct_expiry, value_name = "DURATION")]
    expires_in: Option<Duration>,
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
    /// How long the URL works: 90s, 30m, 30min, 1h, 1h 30m, 2d (whole units, not 1.5h).
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

async fn serve(args: ServeArgs) -> CliResult<()> {
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

async fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Serve(args) => return serve(args).await,
        Command::Demo => return demo::run(output::machine()).await,
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cfimg", &mut out);
            output::print_out(&String::from_utf8_lossy(&out));
            return Ok(());
        }
        _ => {}
    }
    let announce = !output::settings().quiet;
    let backend = match &cli.command {
        Command::Upload(a) => Backend::connect_for_upload(announce, a.tuning()).await?,
        _ => Backend::connect(announce).await?,
    };
    let result = dispatch(&backend, cli.command).await;
    backend.close().await;
    result
}

async fn dispatch(backend: &Backend, command: Command) -> CliResult<()> {
    let client = &backend.client;
    let local = backend.emulator.is_some();
    match command {
        Command::Upload(a) => {
            let journal = if a.resume {
                let dir = backend::data_dir(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?;
                std::fs::create_dir_all(&dir).map_err(|e| {
                    CliError::new(format!(
                        "cannot create the data directory {}: {e}",
                        dir.display()
                    ))
                })?;
                Some((dir.join(journal::FILE_NAME), backend.target()))
            } else {
                None
            };
            let migration = upload::MigrationOptions {
                journal,
                // Cloudflare refuses a custom id on an image served only signed.
                custom_ids: a.resume && !a.fields.require_signed_urls,
                id_prefix: a.id_prefix.clone().unwrap_or_default(),
                shard: a.shard,
            };
            let opts = upload::UploadOptions {
                concurrency: a.concurrency(),
                id: a.fields.id,
                creator: a.fields.creator,
                metadata: a.fields.metadata,
                require_signed_urls: a.fields.require_signed_urls,
                name: a.name,
                limit_per_sec: backend.limit_per_sec,
            };
            upload::run(client, &a.inputs, opts, migration).await
        }
        Command::List(a) => {
            let mut filters = a.meta;
            filters.extend(a.meta_filter);
            let q = list::Query {
                creator: a.creator,
                sort: a.sort,
                limit: a.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
                per_page: a.per_page,
                filters,
            };
            list::run(client, q, a.format, a.v1, local).await
        }
        Command::Get { id } => commands::get(client, &id, local).await,
        Command::Edit(a) => {
            commands::edit(client, &a.id, a.metadata, a.creator, a.require_signed_urls).await
        }
        Command::Delete(a) => commands::delete(client, &a.ids, a.yes).await,
        Command::Download(a) => {
            commands::download(client, &a.id, a.output.as_deref(), a.force).await
        }
        Command::Variants(v) => match v {
            VariantsCommand::List => commands::variants_list(client).await,
            VariantsCommand::Get { name } => commands::variants_get(client, &name).await,
            VariantsCommand::Create { name, options } => {
                commands::variants_create(client, &name, options.options()).await
            }
            VariantsCommand::Edit { name, options } => {
                commands::variants_edit(client, &name, options.options()).await
            }
            VariantsCommand::Delete { name, yes } => {
                commands::variants_delete(client, &name, yes).await
            }
        },
        Command::Keys(k) => match k {
            KeysCommand::List { reveal } => commands::keys_list(client, reveal).await,
            KeysCommand::Create { name, reveal } => {
                commands::keys_create(client, &name, reveal).await
            }
            KeysCommand::Delete { name } => commands::keys_delete(client, &name).await,
        },
        Command::Stats => commands::stats(client).await,
        Command::Config(a) => commands::config(client, a.flexible_variants).await,
        Command::DirectUpload(a) => {
            let o = commands::DirectOptions {
                id: a.fields.id,
                creator: a.fields.creator,
                metadata: a.fields.metadata,
                expires_in: a.expires_in,
                require_signed_urls: a.fields.require_signed_urls,
                file: a.file,
            };
            commands::direct_upload(client, o, local).await
        }
        Command::Sign(a) => {
            commands::sign(
                client,
                &a.id,
                &a.variant,
                a.expires_in,
                a.key.as_deref(),
                local,
            )
            .await
        }
        Command::Serve(_) | Command::Demo | Command::Completions { .. } => Ok(()),
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
    output::configure(output::Settings {
        mode: if cli.json {
            output::Mode::Json
        } else if cli.jsonl {
            output::Mode::Jsonl
        } else {
            output::Mode::Human
        },
        quiet: cli.quiet,
        verbose: cli.verbose,
    });
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
            if output::machine() && !e.json_printed {
                output::print_json(&json!({"error": e.to_json()}));
            }
            eprintln!("cfimg: error: {e}");
            ExitCode::from(e.exit)
        }
    }
}
