//! `cfimg upload`: files, directories, glob patterns, URLs and stdin, several at a
//! time, with a progress bar; one line for one input, the failures and a summary
//! for many (the full table under `-v`). With `--resume` a journal in the data
//! directory makes it a migration that can be interrupted and run again, and
//! `--shard K/N` takes one share of the inputs.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use cloudflare_images::types::Image;
use cloudflare_images::Client;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde_json::{json, Value};

use super::ImageFields;
use crate::backend::{self, Backend};
use crate::error::{CliError, CliResult};
use crate::files::{self, Input};
use crate::journal::{self, Journal, State};
pub mod migrate;

use crate::output::{self, human_bytes, human_duration, Table};
use migrate::Shard;

/// The help shown after `cfimg upload`'s options.
pub const AFTER_HELP: &str = "\
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
200 per second per batch token with --batch-api.";

/// Arguments of `cfimg upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Files, directories, glob patterns, http(s) URLs, or `-` for stdin.
    #[arg(required = true, value_name = "PATH|GLOB|URL|-")]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub fields: ImageFields,
    /// The file name recorded for the image read from stdin (`-`); default `stdin`.
    #[arg(long, value_name = "FILENAME")]
    pub name: Option<String>,
    /// How many uploads run at once [default: 8; with --batch-api, 64 per token, at most 512].
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: Option<u16>,
    /// Keep a journal in the data directory and skip what it records as stored:
    /// run the same command again after a crash, Ctrl-C or kill to finish
    /// without uploading anything twice. Each input is uploaded under a custom id,
    /// its path relative to the argument that named it (see --id-prefix).
    #[arg(long, conflicts_with = "id")]
    pub resume: bool,
    /// Prepended to the custom ids --resume derives (e.g. `archive/`).
    #[arg(long, requires = "resume", value_name = "PREFIX")]
    pub id_prefix: Option<String>,
    /// Upload only the K-th of N shares of the inputs, chosen by a stable hash
    /// of their relative path or URL: N machines given 1/N..N/N split one
    /// migration without overlap.
    #[arg(long, value_parser = migrate::parse_shard, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Upload through Cloudflare's Batch API (batch tokens, 200 requests/s each,
    /// outside the account's global limit).
    #[arg(long)]
    pub batch_api: bool,
    /// How many batch tokens to share the uploads over (with --batch-api).
    #[arg(long, requires = "batch_api", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub tokens: u16,
    /// Pace to Cloudflare's global limit (1,200 requests per 5 minutes) against
    /// the local emulator too; always done with credentials, unless --batch-api.
    #[arg(long)]
    pub rate_limit: bool,
    /// Do not pace to the global limit with credentials either (an emulator
    /// reached through CLOUDFLARE_BASE_URL, or an account whose limit was raised;
    /// a 429 still pauses the client).
    #[arg(long, conflicts_with = "rate_limit")]
    pub no_rate_limit: bool,
    /// The account's global limit to pace to, as N/PERIOD [default: 1200/5m,
    /// Cloudflare's]: for an account whose limit was raised, or an emulator whose
    /// windows are scaled (`--rate-limit-scale 0.01`: 1200/3s).
    #[arg(long, value_parser = migrate::parse_rate, value_name = "N/PERIOD")]
    pub api_rate: Option<cloudflare_images::RateLimit>,
    /// Each batch token's limit, as N/PERIOD [default: 200/1s, Cloudflare's]
    /// (with --batch-api).
    #[arg(long, requires = "batch_api", value_parser = migrate::parse_rate, value_name = "N/PERIOD")]
    pub batch_rate: Option<cloudflare_images::RateLimit>,
}

impl UploadArgs {
    /// The concurrency asked for, or the mode's default.
    pub fn concurrency(&self) -> usize {
        match (self.concurrency, self.batch_api) {
            (Some(n), _) => usize::from(n),
            (None, false) => 8,
            (None, true) => (64 * usize::from(self.tokens)).min(512),
        }
    }

    /// How the client of this upload is tuned: pacing, connections, batch mode.
    pub fn tuning(&self) -> backend::Tuning {
        backend::Tuning {
            pace_local: self.rate_limit && !self.batch_api,
            pace_remote: !self.batch_api && !self.no_rate_limit,
            max_connections: Some(
                self.concurrency()
                    .max(cloudflare_images::config::Limits::DEFAULT_MAX_CONNECTIONS),
            ),
            batch_tokens: self.batch_api.then_some(usize::from(self.tokens)),
            api_rate: self.api_rate,
            batch_rate: self.batch_rate,
        }
    }

    /// Whether each input goes up under a custom id derived from its key: with
    /// `--resume`, unless `--require-signed-urls` (Cloudflare refuses a custom
    /// id on an image served only signed).
    fn custom_ids(&self) -> bool {
        self.resume && !self.fields.require_signed_urls
    }

    /// Prepended to every derived custom id (`--id-prefix`).
    fn id_prefix(&self) -> &str {
        self.id_prefix.as_deref().unwrap_or_default()
    }
}

/// One input to upload: where from, and under which custom id and journal key.
#[derive(Debug, Clone)]
pub struct Job {
    /// What to upload.
    pub input: Input,
    /// The custom id to upload it as (else `--id`, else none).
    pub id: Option<String>,
    /// Its row in the journal, if one is kept.
    pub key: Option<String>,
}

/// The outcome of one input.
#[derive(Debug)]
pub struct Outcome {
    /// The input as given or found.
    pub source: String,
    /// Its size in bytes (0 for URLs and missing files).
    pub bytes: u64,
    /// The stored image, or why it failed.
    pub result: Result<Image, CliError>,
    /// The image was already stored under its custom id (an earlier run sent it
    /// and was stopped before recording the answer).
    pub found: bool,
}

/// How many times a rate-limited (429) upload is tried (nothing was stored then,
/// so trying again is safe).
const ATTEMPTS: u32 = 3;

/// Uploads one input through the SDK (`.path()` streams the file from disk and
/// checks its size and format first), advancing `bar` by the bytes sent.
async fn upload_one(
    client: &Client,
    input: &Input,
    custom_id: Option<&str>,
    fields: &ImageFields,
    bar: &ProgressBar,
) -> Outcome {
    let custom_id = custom_id.or(fields.id.as_deref());
    let source = input.display();
    let bytes = match input {
        Input::File(path) => tokio::fs::metadata(path)
            .await
            .map(|m| m.len())
            .unwrap_or(0),
        Input::Bytes { data, .. } => data.len() as u64,
        _ => 0,
    };
    let mut attempt = 1;
    loop {
        let sent = Arc::new(AtomicU64::new(0));
        let mut request = client.v1().create();
        request = match input {
            Input::Missing { reason, .. } => {
                return Outcome {
                    source,
                    bytes,
                    result: Err(CliError::new(reason.clone())),
                    found: false,
                }
            }
            Input::Stdin => {
                return Outcome {
                    source,
                    bytes,
                    result: Err(CliError::new("stdin was not read")),
                    found: false,
                }
            }
            Input::Url(url) => request.url(url.clone()),
            Input::Bytes { name, data } => request.file(data.clone(), name.clone()),
            Input::File(path) => {
                let bar = bar.clone();
                let counter = Arc::clone(&sent);
                request.path(path).on_progress(move |done, _total| {
                    let before = counter.swap(done, Ordering::Relaxed);
                    bar.inc(done.saturating_sub(before));
                })
            }
        };
        if let Some(id) = custom_id {
            request = request.id(id.to_string());
        }
        if let Some(c) = &fields.creator {
            request = request.creator(c.clone());
        }
        if let Some(m) = &fields.metadata {
            request = request.metadata(m);
        }
        if fields.require_signed_urls {
            request = request.require_signed_urls(true);
        }
        let result = request.send().await;
        let progressed = sent.load(Ordering::Relaxed);
        match result {
            Err(e) if e.status() == Some(429) && attempt < ATTEMPTS => {
                // The bytes go out again: grow the bar by what was already counted.
                bar.inc_length(progressed);
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                attempt += 1;
            }
            result => {
                // Files rejected before sending (and bytes from stdin, which report
                // no progress) count as done for the bar.
                bar.inc(bytes.saturating_sub(progressed));
                let mut found = false;
                let result = match (result, custom_id) {
                    (Err(e), Some(id)) if e.has_code(5409) => {
                        match already_stored(client, id, input, fields).await {
                            Some(image) => {
                                found = true;
                                Ok(image)
                            }
                            None => Err(e),
                        }
                    }
                    (result, _) => result,
                };
                let result = result.map_err(|e| {
                    let mut e = CliError::from(e);
                    // A file refused by the SDK's checks is a failed upload (exit 1).
                    e.exit = crate::error::EXIT_FAILURE;
                    if let Some(id) = custom_id.filter(|_| e.codes.contains(&5409)) {
                        e.message = format!(
                            "the id {id} is taken by a different image (file name, metadata, creator or signing differ): {}",
                            e.message
                        );
                    }
                    if let Input::Url(url) = input {
                        // Whatever the server or the SDK said, never the URL's secrets.
                        e.message = files::scrub(&e.message, url);
                    }
                    e
                });
                return Outcome {
                    source,
                    bytes,
                    result,
                    found,
                };
            }
        }
    }
}

/// After "already exists" (5409) for `id`: the stored image, if it is the one
/// this upload would have stored (same file name, metadata, creator and signing
/// flag), as the SDK decides after a repeated upload. It was stored by an
/// earlier run stopped before it could record the answer.
async fn already_stored(
    client: &Client,
    id: &str,
    input: &Input,
    fields: &ImageFields,
) -> Option<Image> {
    let stored = client.v1().get(id).send().await.ok()?;
    let filename = match input {
        Input::File(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
        Input::Bytes { name, .. } => Some(name.clone()),
        _ => None,
    };
    let metadata = fields
        .metadata
        .as_ref()
        .filter(|m| !m.is_empty())
        .map(|m| Value::Object(m.clone()));
    let stored_metadata = stored
        .meta
        .as_ref()
        .and_then(|m| serde_json::to_value(m).ok())
        .filter(|m| m.as_object().is_some_and(|o| !o.is_empty()));
    let same = (filename.is_none() || stored.filename == filename)
        && metadata == stored_metadata
        && stored.creator == fields.creator
        && stored.require_signed_urls == fields.require_signed_urls;
    same.then_some(stored)
}

/// A compact duration for the ETA: `42s`, `7m05s`, `2h13m`.
fn eta_text(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal) showing bytes,
/// bytes per second, items, the current rate (items per second over the last
/// 10 seconds) and, when the client is paced, the limit and an ETA computed from
/// it (from the current rate when that is lower, or when there is no limit).
pub fn progress_bar(
    total_bytes: u64,
    total_items: usize,
    limit_per_sec: Option<f64>,
) -> (ProgressBar, Arc<AtomicU64>) {
    let items = Arc::new(AtomicU64::new(0));
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let counter = Arc::clone(&items);
    let total = total_items as u64;
    let samples: Arc<Mutex<VecDeque<(Instant, u64)>>> = Arc::new(Mutex::new(VecDeque::new()));
    let tracker = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let done = counter.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = match samples.lock() {
            Ok(mut samples) => {
                samples.push_back((now, done));
                while samples
                    .front()
                    .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(10))
                {
                    samples.pop_front();
                }
                let (t0, n0) = samples.front().copied().unwrap_or((now, done));
                let secs = now.duration_since(t0).as_secs_f64();
                if secs >= 1.0 {
                    (done - n0) as f64 / secs
                } else {
                    let secs = state.elapsed().as_secs_f64();
                    if secs > 0.0 {
                        done as f64 / secs
                    } else {
                        0.0
                    }
                }
            }
            Err(_) => 0.0,
        };
        let remaining = total.saturating_sub(done) as f64;
        let _ = write!(w, "{done}/{total} items, {rate:.1}/s");
        let pace = match limit_per_sec {
            Some(limit) => {
                let _ = write!(w, " (limit {limit:.1}/s)");
                if rate > 0.0 && state.elapsed() > Duration::from_secs(5) {
                    rate.min(limit)
                } else {
                    limit
                }
            }
            None => rate,
        };
        if remaining > 0.0 && pace > 0.0 {
            let _ = write!(w, ", ETA {}", eta_text(remaining / pace));
        }
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {items} {msg}",
    ) {
        bar.set_style(style.with_key("items", tracker).progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    (bar, items)
}

/// Uploads every input with `fields`, `concurrency` at a time, and returns the
/// outcomes in input order.
pub async fn upload_all(
    client: &Client,
    inputs: &[Input],
    fields: &ImageFields,
    concurrency: usize,
    progress: bool,
) -> Vec<Outcome> {
    let jobs: Vec<Job> = inputs
        .iter()
        .map(|input| Job {
            input: input.clone(),
            id: None,
            key: None,
        })
        .collect();
    upload_jobs(client, &jobs, fields, concurrency, None, None, progress).await
}

/// Records an outcome in the journal; a failure to write it is reported, not
/// fatal (the custom id recognises the image on the next run).
fn record(journal: &Journal, key: &str, outcome: &Outcome) {
    let written = match &outcome.result {
        Ok(image) => journal.done(
            key,
            image.id.as_deref().unwrap_or_default(),
            outcome.bytes,
            outcome.found,
        ),
        Err(e) => journal.failed(key, &e.message),
    };
    if let Err(e) = written {
        eprintln!("cfimg: {e}");
    }
}

/// Uploads every job with `fields`, `concurrency` at a time, recording each in
/// `journal` (as sent before its request, then as done or failed as soon as
/// the answer arrives), and returns the outcomes in job order. `limit_per_sec`
/// is the pace the client keeps, for the progress bar's ETA.
pub async fn upload_jobs(
    client: &Client,
    jobs: &[Job],
    fields: &ImageFields,
    concurrency: usize,
    limit_per_sec: Option<f64>,
    journal: Option<&Journal>,
    progress: bool,
) -> Vec<Outcome> {
    let mut total_bytes = 0u64;
    for input in jobs.iter().map(|j| &j.input) {
        match input {
            Input::File(p) => {
                total_bytes += tokio::fs::metadata(p).await.map(|m| m.len()).unwrap_or(0)
            }
            Input::Bytes { data, .. } => total_bytes += data.len() as u64,
            _ => {}
        }
    }
    let (bar, items) = if progress {
        progress_bar(total_bytes, jobs.len(), limit_per_sec)
    } else {
        (ProgressBar::hidden(), Arc::new(AtomicU64::new(0)))
    };
    let concurrency = concurrency.max(1);
    let mut outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(jobs.iter().enumerate())
        .map(|(i, job)| {
            let bar = bar.clone();
            let items = Arc::clone(&items);
            async move {
                let journal = journal.zip(job.key.as_deref());
                if let Some((journal, key)) = journal {
                    if let Err(e) = journal.sending(key) {
                        eprintln!("cfimg: {e}");
                    }
                }
                let outcome = upload_one(client, &job.input, job.id.as_deref(), fields, &bar).await;
                if let Some((journal, key)) = journal {
                    record(journal, key, &outcome);
                }
                items.fetch_add(1, Ordering::Relaxed);
                let name = std::path::Path::new(&outcome.source)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| outcome.source.clone());
                bar.set_message(name);
                (i, outcome)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    bar.finish_and_clear();
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

/// Reads stdin whole, up to Cloudflare's limit (the SDK needs the length up
/// front, and stdin has none).
async fn read_stdin(name: &str) -> Input {
    use tokio::io::AsyncReadExt;
    let limit = cloudflare_images::upload::MAX_IMAGE_BYTES;
    let mut data = Vec::new();
    let read = tokio::io::stdin()
        .take(limit + 1)
        .read_to_end(&mut data)
        .await;
    match read {
        Err(e) => Input::Missing {
            arg: "-".into(),
            reason: format!("cannot read stdin: {}", files::io_reason(&e)),
        },
        Ok(n) if n as u64 > limit => Input::Missing {
            arg: "-".into(),
            reason: format!(
                "stdin holds more than {} ({limit} bytes), Cloudflare's limit for one image",
                human_bytes(limit)
            ),
        },
        Ok(_) => Input::Bytes {
            name: name.to_string(),
            data: data.into(),
        },
    }
}

/// One line for an outcome: `uploaded SOURCE as ID (SIZE)`.
fn success_line(o: &Outcome, image: &Image) -> String {
    let size = if o.bytes > 0 {
        format!(" ({})", human_bytes(o.bytes))
    } else {
        String::new()
    };
    let found = if o.found {
        " (already stored under this id)"
    } else {
        ""
    };
    format!(
        "uploaded {} as {}{size}{found}\n",
        o.source,
        image.id.as_deref().unwrap_or("?")
    )
}

fn outcome_json(o: &Outcome) -> Value {
    match &o.result {
        Ok(image) if o.found => {
            json!({"source": o.source, "bytes": o.bytes, "image": output::image_json(image), "found": true})
        }
        Ok(image) => {
            json!({"source": o.source, "bytes": o.bytes, "image": output::image_json(image)})
        }
        Err(e) => json!({"source": o.source, "error": e.to_json()}),
    }
}

/// What the journal and the shard left out of a run.
#[derive(Debug, Default)]
struct Plan {
    /// What to upload now.
    jobs: Vec<Job>,
    /// Inputs the journal records as stored: `(source, image id)`.
    already_done: Vec<(String, String)>,
    /// Inputs that belong to other shards.
    other_shards: usize,
    /// Inputs before sharding.
    total: usize,
}

/// Turns the expanded inputs into jobs: drops the inputs of other shards, derives
/// custom ids, and (with a journal) drops the inputs already stored.
fn plan(
    inputs: Vec<Input>,
    keys: Vec<String>,
    args: &UploadArgs,
    journal: Option<&Journal>,
) -> CliResult<Plan> {
    let mut plan = Plan {
        total: inputs.len(),
        ..Plan::default()
    };
    let mut jobs = Vec::with_capacity(inputs.len());
    for (input, key) in inputs.into_iter().zip(keys) {
        if let Some(shard) = &args.shard {
            if !shard.contains(&key) {
                plan.other_shards += 1;
                continue;
            }
        }
        let mut job = Job {
            input,
            id: None,
            key: None,
        };
        if journal.is_some() {
            let journal_key = match &args.fields.id {
                Some(id) => id.clone(),
                None => format!("{}{key}", args.id_prefix()),
            };
            if args.custom_ids()
                && args.fields.id.is_none()
                && !matches!(job.input, Input::Missing { .. })
            {
                match migrate::custom_id(args.id_prefix(), &key) {
                    Ok(id) => job.id = Some(id),
                    Err(reason) => {
                        job.input = Input::Missing {
                            arg: job.input.display(),
                            reason,
                        }
                    }
                }
            }
            job.key = Some(journal_key);
        }
        jobs.push(job);
    }
    if let Some(journal) = journal {
        let rows: Vec<(String, String)> = jobs
            .iter()
            .filter_map(|j| Some((j.key.clone()?, j.input.display())))
            .collect();
        let states = journal.register(&rows)?;
        jobs.retain(|job| {
            let entry = job.key.as_ref().and_then(|k| states.get(k));
            match entry {
                Some(e) if e.state == State::Done => {
                    plan.already_done
                        .push((job.input.display(), e.image_id.clone().unwrap_or_default()));
                    false
                }
                _ => true,
            }
        });
    }
    plan.jobs = jobs;
    Ok(plan)
}

/// Runs `cfimg upload`. With `--resume`, the journal is in the data directory,
/// its rows keyed by `ctx`'s target.
pub async fn run(args: UploadArgs, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    let journal_path = if args.resume {
        Some(journal::path_in_data_dir()?)
    } else {
        None
    };
    let mode = output::settings().mode;
    let mut expanded = files::expand(&args.inputs);
    let has_stdin = expanded.inputs.contains(&Input::Stdin);
    if args.name.is_some() && !has_stdin {
        return Err(CliError::usage(
            "--name names an image read from stdin: give `-` as the input",
        ));
    }
    if has_stdin && args.resume {
        return Err(CliError::usage(
            "--resume cannot journal stdin (`-`): it cannot be read again; save it to a file",
        ));
    }
    if expanded.inputs.is_empty() {
        let skipped = expanded.skipped.len();
        return Err(CliError::usage(if skipped > 0 {
            format!("nothing to upload: {skipped} file(s) found, none with an image extension")
        } else {
            "nothing to upload".to_string()
        }));
    }
    if args.fields.id.is_some() && expanded.inputs.len() > 1 {
        return Err(CliError::usage(format!(
            "--id names one image, but {} inputs were given",
            expanded.inputs.len()
        )));
    }
    if has_stdin {
        let name = args.name.as_deref().unwrap_or("stdin");
        let read = read_stdin(name).await;
        for input in &mut expanded.inputs {
            if *input == Input::Stdin {
                *input = read.clone();
            }
        }
    }
    let journal = match &journal_path {
        Some(path) => Some(Journal::open(path, &ctx.target())?),
        None => None,
    };
    let migrating = args.resume || args.shard.is_some();
    let plan = plan(
        std::mem::take(&mut expanded.inputs),
        std::mem::take(&mut expanded.keys),
        &args,
        journal.as_ref(),
    )?;
    let started = Instant::now();
    let outcomes = upload_jobs(
        client,
        &plan.jobs,
        &args.fields,
        args.concurrency(),
        ctx.limit_per_sec,
        journal.as_ref(),
        mode == output::Mode::Human && !output::settings().quiet,
    )
    .await;
    let elapsed = started.elapsed();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    let ok_bytes: u64 = outcomes
        .iter()
        .filter(|o| o.result.is_ok())
        .map(|o| o.bytes)
        .sum();
    let succeeded = outcomes.len() - failed.len();
    let found = outcomes.iter().filter(|o| o.found).count();
    let skipped: Vec<String> = expanded
        .skipped
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if !skipped.is_empty() {
        output::info(&format!(
            "skipped {} file(s) without an image extension in directories (name them explicitly to upload them)",
            skipped.len()
        ));
    }
    if let Some(shard) = &args.shard {
        output::info(&format!(
            "shard {shard}: {} of {} input(s); {} belong to other shards",
            plan.total - plan.other_shards,
            plan.total,
            plan.other_shards
        ));
    }

    match mode {
        output::Mode::Json => {
            let (uploaded, failures): (Vec<&Outcome>, Vec<&Outcome>) =
                outcomes.iter().partition(|o| o.result.is_ok());
            let mut report = json!({
                "uploaded": uploaded.into_iter().map(outcome_json).collect::<Vec<_>>(),
                "failed": failures.into_iter().map(outcome_json).collect::<Vec<_>>(),
                "skipped": skipped,
                "elapsed_ms": elapsed.as_millis() as u64,
            });
            if migrating {
                report["already_done"] = json!(plan.already_done.len());
                report["found"] = json!(found);
            }
            if let Some(shard) = &args.shard {
                report["shard"] = json!({
                    "k": shard.k,
                    "n": shard.n,
                    "inputs": plan.total - plan.other_shards,
                    "other_shards": plan.other_shards,
                });
            }
            output::print_json(&report);
        }
        output::Mode::Jsonl => {
            output::print_json_items(outcomes.iter().map(outcome_json).collect());
        }
        output::Mode::Human if !migrating && outcomes.len() == 1 && !output::verbose() => {
            let o = &outcomes[0];
            return match &o.result {
                Ok(image) => {
                    output::print_out(&success_line(o, image));
                    Ok(())
                }
                Err(e) => Err(e.clone().context(format!("could not upload {}", o.source))),
            };
        }
        output::Mode::Human => {
            if output::verbose() {
                let mut table = Table::new(["STATUS", "SOURCE", "ID", "SIZE"]);
                for (source, id) in &plan.already_done {
                    table.row(["done".to_string(), source.clone(), id.clone(), "-".into()]);
                }
                for o in &outcomes {
                    let (status, id) = match &o.result {
                        Ok(image) if o.found => ("found", image.id.clone().unwrap_or_default()),
                        Ok(image) => ("ok", image.id.clone().unwrap_or_default()),
                        Err(_) => ("FAILED", String::new()),
                    };
                    let size = if o.bytes > 0 {
                        human_bytes(o.bytes)
                    } else {
                        "-".into()
                    };
                    table.row([status.to_string(), o.source.clone(), id, size]);
                }
                output::print_out(&format!("{}\n", table.render()));
            }
            for o in &failed {
                if let Err(e) = &o.result {
                    eprintln!("cfimg: could not upload {}: {e}", o.source);
                }
            }
            let secs = elapsed.as_secs_f64().max(1e-3);
            if migrating {
                output::print_out(&format!(
                    "{} uploaded, {} already done, {found} found already stored, {} failed \
                     ({} in {}, {:.1} items/s)\n",
                    succeeded - found,
                    plan.already_done.len(),
                    failed.len(),
                    human_bytes(ok_bytes),
                    human_duration(elapsed),
                    succeeded as f64 / secs,
                ));
            } else if failed.is_empty() || output::verbose() {
                output::print_out(&format!(
                    "uploaded {succeeded} of {} ({}) in {}, {:.1} items/s, {}/s\n",
                    outcomes.len(),
                    human_bytes(ok_bytes),
                    human_duration(elapsed),
                    succeeded as f64 / secs,
                    human_bytes((ok_bytes as f64 / secs) as u64),
                ));
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let mut e = CliError::new(format!(
        "{} of {} uploads failed ({succeeded} uploaded, {}){}",
        failed.len(),
        outcomes.len(),
        human_bytes(ok_bytes),
        if args.resume {
            "; run the same command again to retry them"
        } else {
            ""
        }
    ));
    e.json_printed = output::machine();
    Err(e)
}
