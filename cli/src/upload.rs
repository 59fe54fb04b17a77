//! `cfimg upload`: files, directories, glob patterns, URLs and stdin, several at a
//! time, with a progress bar; one line for one input, the failures and a summary
//! for many (the full table under `-v`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudflare_images::types::Image;
use cloudflare_images::Client;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde_json::{json, Map, Value};

use crate::error::{CliError, CliResult};
use crate::files::{self, Input};
use crate::output::{self, human_bytes, human_duration, Table};

/// What every upload of a batch gets.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// A custom id (only with a single input).
    pub id: Option<String>,
    /// The creator recorded on each image.
    pub creator: Option<String>,
    /// Metadata set on each image.
    pub metadata: Option<Map<String, Value>>,
    /// Whether the images are served only through signed URLs.
    pub require_signed_urls: bool,
    /// How many uploads run at once.
    pub concurrency: usize,
    /// The file name recorded for an image read from stdin (`-`).
    pub name: Option<String>,
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
}

/// How many times a rate-limited (429) upload is tried (nothing was stored then,
/// so trying again is safe).
const ATTEMPTS: u32 = 3;

/// Uploads one input through the SDK (`.path()` streams the file from disk and
/// checks its size and format first), advancing `bar` by the bytes sent.
async fn upload_one(
    client: &Client,
    input: &Input,
    opts: &UploadOptions,
    bar: &ProgressBar,
) -> Outcome {
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
                }
            }
            Input::Stdin => {
                return Outcome {
                    source,
                    bytes,
                    result: Err(CliError::new("stdin was not read")),
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
        if let Some(id) = &opts.id {
            request = request.id(id.clone());
        }
        if let Some(c) = &opts.creator {
            request = request.creator(c.clone());
        }
        if let Some(m) = &opts.metadata {
            request = request.metadata(m);
        }
        if opts.require_signed_urls {
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
                let result = result.map_err(|e| {
                    let mut e = CliError::from(e);
                    // A file refused by the SDK's checks is a failed upload (exit 1).
                    e.exit = crate::error::EXIT_FAILURE;
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
                };
            }
        }
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal) showing bytes,
/// bytes per second, items and items per second.
pub fn progress_bar(total_bytes: u64, total_items: usize) -> (ProgressBar, Arc<AtomicU64>) {
    let items = Arc::new(AtomicU64::new(0));
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let counter = Arc::clone(&items);
    let total = total_items as u64;
    let tracker = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let done = counter.load(Ordering::Relaxed);
        let secs = state.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let _ = write!(w, "{done}/{total} items ({rate:.1}/s)");
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {items} {msg}",
    ) {
        bar.set_style(style.with_key("items", tracker).progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    (bar, items)
}

/// Uploads every input, `opts.concurrency` at a time, and returns the outcomes in
/// input order.
pub async fn upload_all(
    client: &Client,
    inputs: &[Input],
    opts: &UploadOptions,
    progress: bool,
) -> Vec<Outcome> {
    let mut total_bytes = 0u64;
    for input in inputs {
        match input {
            Input::File(p) => {
                total_bytes += tokio::fs::metadata(p).await.map(|m| m.len()).unwrap_or(0)
            }
            Input::Bytes { data, .. } => total_bytes += data.len() as u64,
            _ => {}
        }
    }
    let (bar, items) = if progress {
        progress_bar(total_bytes, inputs.len())
    } else {
        (ProgressBar::hidden(), Arc::new(AtomicU64::new(0)))
    };
    let concurrency = opts.concurrency.max(1);
    let mut outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(inputs.iter().enumerate())
        .map(|(i, input)| {
            let bar = bar.clone();
            let items = Arc::clone(&items);
            async move {
                let outcome = upload_one(client, input, opts, &bar).await;
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
    format!(
        "uploaded {} as {}{size}\n",
        o.source,
        image.id.as_deref().unwrap_or("?")
    )
}

fn outcome_json(o: &Outcome) -> Value {
    match &o.result {
        Ok(image) => {
            json!({"source": o.source, "bytes": o.bytes, "image": output::image_json(image)})
        }
        Err(e) => json!({"source": o.source, "error": e.to_json()}),
    }
}

/// Runs `cfimg upload`.
pub async fn run(client: &Client, args: &[String], opts: UploadOptions) -> CliResult<()> {
    let mode = output::settings().mode;
    let mut expanded = files::expand(args);
    let has_stdin = expanded.inputs.contains(&Input::Stdin);
    if opts.name.is_some() && !has_stdin {
        return Err(CliError::usage(
            "--name names an image read from stdin: give `-` as the input",
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
    if opts.id.is_some() && expanded.inputs.len() > 1 {
        return Err(CliError::usage(format!(
            "--id names one image, but {} inputs were given",
            expanded.inputs.len()
        )));
    }
    if has_stdin {
        let name = opts.name.as_deref().unwrap_or("stdin");
        let read = read_stdin(name).await;
        for input in &mut expanded.inputs {
            if *input == Input::Stdin {
                *input = read.clone();
            }
        }
    }
    let started = Instant::now();
    let outcomes = upload_all(client, &expanded.inputs, &opts, mode == output::Mode::Human).await;
    let elapsed = started.elapsed();
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    let ok_bytes: u64 = outcomes
        .iter()
        .filter(|o| o.result.is_ok())
        .map(|o| o.bytes)
        .sum();
    let succeeded = outcomes.len() - failed.len();
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

    match mode {
        output::Mode::Json => {
            let (uploaded, failures): (Vec<&Outcome>, Vec<&Outcome>) =
                outcomes.iter().partition(|o| o.result.is_ok());
            output::print_json(&json!({
                "uploaded": uploaded.into_iter().map(outcome_json).collect::<Vec<_>>(),
                "failed": failures.into_iter().map(outcome_json).collect::<Vec<_>>(),
                "skipped": skipped,
                "elapsed_ms": elapsed.as_millis() as u64,
            }));
        }
        output::Mode::Jsonl => {
            output::print_json_items(outcomes.iter().map(outcome_json).collect());
        }
        output::Mode::Human if outcomes.len() == 1 && !output::verbose() => {
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
                for o in &outcomes {
                    let (status, id) = match &o.result {
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
            if failed.is_empty() || output::verbose() {
                let secs = elapsed.as_secs_f64().max(1e-3);
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
        "{} of {} uploads failed ({succeeded} uploaded, {})",
        failed.len(),
        outcomes.len(),
        human_bytes(ok_bytes),
    ));
    e.json_printed = output::machine();
    Err(e)
}
