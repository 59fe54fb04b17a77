//! `cfimg delete`: deletes images named by id, or every image a filter
//! selects (`--meta`, `--creator`, `--uploaded-before`/`--uploaded-after`,
//! `--id-prefix`, ids on stdin), asking first on a terminal.
//!
//! A selection (any filter, `-`, or `--dry-run`) is planned in full and shown
//! before anything is deleted, then deleted at the pace of the account's rate
//! limit with each image recorded in the journal (`journal.db` in the data
//! directory, table `deletions`): run the same command again after a crash,
//! Ctrl-C or `kill -9` and it deletes what is left of that plan, sending nothing
//! for what is recorded as deleted and taking a 404 for an image already gone.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use cloudflare_images::pagination::MetadataFilter;
use cloudflare_images::types::Image;
use cloudflare_images::Client;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::journal::{self, Journal, State};
use crate::output::{self, print_json, print_out};
use crate::plan::{self, Deleted, PaceArgs};

/// The help shown after `cfimg delete`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg delete products/cat
  cfimg delete ID1 ID2 ID3 --yes
  cfimg delete --meta status=retired --dry-run       # the count and a sample
  cfimg delete --creator user-42 --uploaded-before 2024-01-01 --yes
  cfimg delete --id-prefix tmp/ --uploaded-after 2025-06-01T12:00:00Z --yes
  cfimg list --jsonl | jq -r 'select(.filename == \"x.png\") | .id' | cfimg delete - --yes

Filters combine with AND; with ids (or `-`) too, only those ids are candidates.
--uploaded-before takes images uploaded strictly before the time, --uploaded-after
those uploaded at or after it (RFC 3339, or a date meaning 00:00 UTC). A filtered
delete is paced at the rate limit and journaled: after an interruption, run the
same command again to finish it. Without a terminal on stdin, --yes is required.";

/// The most stdin may hold for `-` (ids, one per line).
const MAX_STDIN_BYTES: u64 = 64 * 1024 * 1024;

/// `--meta KEY=VALUE`: the metadata value at `KEY` (a dotted path) is the string
/// `VALUE`. Sent as the listing's filter, and checked again on each image.
#[derive(Debug, Clone)]
pub struct MetaEq {
    path: Vec<String>,
    value: String,
    filter: MetadataFilter,
}

fn parse_meta(text: &str) -> Result<MetaEq, String> {
    let filter = super::list::parse_meta_eq(text)?;
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))?;
    let key = key.trim();
    let key = key.strip_prefix("meta.").unwrap_or(key);
    Ok(MetaEq {
        path: key.split('.').map(str::to_string).collect(),
        value: value.to_string(),
        filter,
    })
}

/// `--uploaded-before`/`--uploaded-after`: RFC 3339, or `YYYY-MM-DD` (00:00 UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!("{text:?} is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor a date (2024-05-01)")
        })
}

/// Arguments of `cfimg delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The image ids; `-` reads ids from stdin, one per line.
    pub ids: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Only images whose metadata KEY (a dotted path) is the string VALUE; repeatable.
    #[arg(long = "meta", value_parser = parse_meta, value_name = "KEY=VALUE")]
    pub meta: Vec<MetaEq>,
    /// Only images with this creator (empty: images without one).
    #[arg(long)]
    pub creator: Option<String>,
    /// Only images uploaded before this time (RFC 3339, or a date).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub uploaded_before: Option<DateTime<Utc>>,
    /// Only images uploaded at or after this time (RFC 3339, or a date).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub uploaded_after: Option<DateTime<Utc>>,
    /// Only images whose id starts with this.
    #[arg(long, value_name = "PREFIX")]
    pub id_prefix: Option<String>,
    /// Print how many images would be deleted and a sample; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub pace: PaceArgs,
}

impl DeleteArgs {
    /// Whether any filter was given.
    fn filtered(&self) -> bool {
        !self.meta.is_empty()
            || self.creator.is_some()
            || self.uploaded_before.is_some()
            || self.uploaded_after.is_some()
            || self.id_prefix.is_some()
    }

    /// Whether `image` passes every filter (checked here even for those the
    /// listing applied, so a server that ignored one cannot widen the selection).
    fn selects(&self, image: &Image) -> bool {
        let Some(id) = image.id.as_deref() else {
            return false;
        };
        if self
            .id_prefix
            .as_deref()
            .is_some_and(|p| !id.starts_with(p))
        {
            return false;
        }
        if let Some(c) = &self.creator {
            if image.creator.as_deref().unwrap_or("") != c {
                return false;
            }
        }
        if self.uploaded_before.is_some() || self.uploaded_after.is_some() {
            let Some(t) = image.uploaded else {
                return false;
            };
            if self.uploaded_before.is_some_and(|b| t >= b)
                || self.uploaded_after.is_some_and(|a| t < a)
            {
                return false;
            }
        }
        self.meta.iter().all(|m| {
            let mut at = image.meta.as_ref().map(|meta| &meta.0);
            let mut value: Option<&Value> = None;
            for (i, part) in m.path.iter().enumerate() {
                let v = at.and_then(|o| o.get(part));
                if i + 1 == m.path.len() {
                    value = v;
                } else {
                    at = v.and_then(Value::as_object);
                }
            }
            value.and_then(Value::as_str) == Some(m.value.as_str())
        })
    }

    /// The journal's name for this selection: the same command line (ids in any
    /// order) is the same job.
    fn job(&self, ids: &BTreeSet<String>) -> String {
        let mut h = Sha256::new();
        let mut part = |name: &str, value: &str| {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        };
        let mut meta: Vec<String> = self
            .meta
            .iter()
            .map(|m| format!("{}={}", m.path.join("."), m.value))
            .collect();
        meta.sort();
        for m in &meta {
            part("meta", m);
        }
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        part("creator", self.creator.as_deref().unwrap_or("\u{1}none"));
        part("before", &time(self.uploaded_before));
        part("after", &time(self.uploaded_after));
        part("prefix", self.id_prefix.as_deref().unwrap_or(""));
        for id in ids {
            part("id", id);
        }
        h.finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Reads ids from stdin, one per line (blank lines skipped), each checked as
/// the SDK checks an id before anything is sent.
async fn read_ids_from_stdin() -> CliResult<Vec<String>> {
    let mut data = Vec::new();
    tokio::io::stdin()
        .take(MAX_STDIN_BYTES + 1)
        .read_to_end(&mut data)
        .await
        .map_err(|e| CliError::new(format!("cannot read stdin: {e}")))?;
    if data.len() as u64 > MAX_STDIN_BYTES {
        return Err(CliError::usage(format!(
            "stdin holds more than {MAX_STDIN_BYTES} bytes of ids; split the list"
        )));
    }
    let text = String::from_utf8(data)
        .map_err(|_| CliError::usage("the ids on stdin are not UTF-8 text"))?;
    let mut ids = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() {
            continue;
        }
        cloudflare_images::ids::check_image_id(id)
            .map_err(|e| CliError::usage(format!("stdin line {}: {e}", n + 1)))?;
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// The images the filters select (restricted to `only`, when ids were given),
/// walking the v2 listing with the metadata and creator filters sent along.
async fn select(
    client: &Client,
    args: &DeleteArgs,
    only: Option<&BTreeSet<String>>,
) -> CliResult<Vec<String>> {
    let mut pager = client
        .v2()
        .list_all()
        .filters(args.meta.iter().map(|m| m.filter.clone()));
    if let Some(c) = &args.creator {
        pager = pager.creator(c.clone());
    }
    let mut pages = pager.pages();
    let mut ids = BTreeSet::new();
    while let Some(page) = pages.try_next().await? {
        for image in page.images.iter().filter(|i| args.selects(i)) {
            if let Some(id) = image.id.as_deref() {
                if only.is_none_or(|o| o.contains(id)) {
                    ids.insert(id.to_string());
                }
            }
        }
    }
    Ok(ids.into_iter().collect())
}

/// Opens the journal in the data directory.
fn open_journal(ctx: &Backend) -> CliResult<Journal> {
    Journal::open(&journal::path_in_data_dir()?, &ctx.target())
}

/// Runs `cfimg delete` for a selection: plan (from the journal when an earlier
/// run of the same command was interrupted), show, confirm, delete paced.
async fn run_selection(args: DeleteArgs, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    if args.id_prefix.as_deref() == Some("") {
        return Err(CliError::usage(
            "--id-prefix must not be empty (it would select every image)",
        ));
    }
    let mut given: Vec<String> = args.ids.iter().filter(|i| *i != "-").cloned().collect();
    if args.ids.iter().any(|i| i == "-") {
        given.extend(read_ids_from_stdin().await?);
    }
    for id in &given {
        cloudflare_images::ids::check_image_id(id).map_err(CliError::from)?;
    }
    let given: BTreeSet<String> = given.into_iter().collect();
    if !args.filtered() && given.is_empty() {
        return Err(CliError::usage(
            "nothing selected: give image ids, `-` to read them from stdin, or a filter \
             (--meta, --creator, --uploaded-before, --uploaded-after, --id-prefix)",
        ));
    }
    let journal = open_journal(ctx)?;
    let job = args.job(&given);
    let rows = journal.deletion_rows(&job)?;
    let resumed = rows.iter().any(|(_, s)| *s != State::Done);
    let (todo, done_before): (Vec<String>, usize) = if resumed {
        let done = rows.iter().filter(|(_, s)| *s == State::Done).count();
        let left = rows
            .into_iter()
            .filter(|(_, s)| *s != State::Done)
            .map(|(id, _)| id)
            .collect();
        (left, done)
    } else {
        if !rows.is_empty() {
            // Finished, but stopped before it could forget the job: start afresh.
            journal.finish_deletions(&job)?;
        }
        let todo = if args.filtered() {
            select(client, &args, (!given.is_empty()).then_some(&given)).await?
        } else {
            given.iter().cloned().collect()
        };
        (todo, 0)
    };
    let machine = output::machine();
    if args.dry_run {
        if machine {
            print_json(&json!({
                "dry_run": true,
                "count": todo.len(),
                "sample": plan::sample(&todo),
                "resumed": resumed,
                "already_deleted": done_before,
            }));
        } else {
            print_out(&format!("would delete {} image(s)\n", todo.len()));
            print_out(&plan::item_lines("-", &todo));
            print_out("dry run: nothing deleted\n");
        }
        return Ok(());
    }
    if !machine {
        let resuming = if resumed {
            format!(" (resuming: {done_before} deleted by an earlier run)")
        } else {
            String::new()
        };
        print_out(&format!("{} image(s) to delete{resuming}\n", todo.len()));
        print_out(&plan::item_lines("-", &todo));
    }
    if !todo.is_empty() {
        super::confirm_delete("image(s)", &todo, args.yes)?;
        if !resumed {
            journal.plan_deletions(&job, &todo)?;
        }
    }
    let journal = &journal;
    let job = job.as_str();
    let prefix = args.id_prefix.as_deref();
    let results: Vec<(String, CliResult<Deleted>)> = futures_util::stream::iter(&todo)
        .map(|id| async move {
            let record = |state: State, error: Option<&str>| {
                if let Err(e) = journal.deletion(job, id, state, error) {
                    eprintln!("cfimg: {e}");
                }
            };
            // A plan resumed from the journal is checked against the prefix too.
            if let Some(prefix) = prefix {
                if let Err(e) = plan::check_under(prefix, id) {
                    record(State::Failed, Some(&e.message));
                    return (id.clone(), Err(e));
                }
            }
            record(State::Sending, None);
            let result = plan::delete_image(client, id).await;
            match &result {
                Ok(_) => record(State::Done, None),
                Err(e) => record(State::Failed, Some(&e.message)),
            }
            (id.clone(), result)
        })
        .buffer_unordered(args.pace.concurrency())
        .collect()
        .await;
    let mut deleted: Vec<&str> = Vec::new();
    let mut gone: Vec<&str> = Vec::new();
    let mut failed: Vec<(&str, &CliError)> = Vec::new();
    for (id, r) in &results {
        match r {
            Ok(Deleted::Now) => deleted.push(id),
            Ok(Deleted::AlreadyGone) => gone.push(id),
            Err(e) => failed.push((id, e)),
        }
    }
    deleted.sort_unstable();
    gone.sort_unstable();
    if failed.is_empty() {
        journal.finish_deletions(job)?;
    }
    if machine {
        print_json(&json!({
            "deleted": deleted,
            "already_gone": gone,
            "failed": failed.iter().map(|(id, e)| json!({"id": id, "error": e.to_json()})).collect::<Vec<_>>(),
            "resumed": resumed,
            "already_deleted": done_before,
        }));
    } else {
        for (_, e) in &failed {
            eprintln!("cfimg: {e}");
        }
        print_out(&format!(
            "deleted {}, {} already gone, {} failed\n",
            deleted.len(),
            gone.len(),
            failed.len()
        ));
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(CliError {
        json_printed: machine,
        ..CliError::new(format!(
            "{} of {} deletions failed; run the same command again to retry them",
            failed.len(),
            todo.len()
        ))
    })
}

/// Runs `cfimg delete`: asks first on a terminal unless `--yes`; refuses
/// without a terminal and without `--yes`.
///
/// Ids alone are deleted as given; a filter, `-` or `--dry-run` makes it a
/// planned, journaled selection.
pub async fn run(args: DeleteArgs, ctx: &Backend) -> CliResult<()> {
    if args.filtered() || args.dry_run || args.ids.is_empty() || args.ids.iter().any(|i| i == "-") {
        return run_selection(args, ctx).await;
    }
    let (client, ids) = (&ctx.client, &args.ids);
    super::confirm_delete("image(s)", ids, args.yes)?;
    let json = output::machine();
    let results: Vec<(String, Result<(), CliError>)> = futures_util::stream::iter(ids)
        .map(|id| async move {
            let r = client.v1().delete(id.as_str()).send().await;
            (id.clone(), r.map(|_| ()).map_err(CliError::from))
        })
        .buffered(4)
        .collect()
        .await;
    let failed: Vec<&(String, Result<(), CliError>)> =
        results.iter().filter(|(_, r)| r.is_err()).collect();
    if output::machine() {
        print_json(&json!({
            "deleted": results.iter().filter(|(_, r)| r.is_ok()).map(|(id, _)| id).collect::<Vec<_>>(),
            "failed": failed.iter().map(|(id, r)| json!({
                "id": id,
                "error": r.as_ref().err().map(CliError::to_json),
            })).collect::<Vec<_>>(),
        }));
    } else {
        for (id, r) in &results {
            match r {
                Ok(()) => print_out(&format!("deleted {id}\n")),
                // One id: its error is the command's error, printed once by main.
                Err(e) if ids.len() > 1 => eprintln!("cfimg: could not delete {id}: {e}"),
                Err(_) => {}
            }
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        [(id, Err(e))] if ids.len() == 1 => Err(CliError {
            json_printed: json,
            ..e.clone().context(format!("could not delete {id}"))
        }),
        _ => Err(CliError {
            json_printed: json,
            ..CliError::new(format!(
                "{} of {} deletions failed",
                failed.len(),
                ids.len()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(
            parse_time("2024-05-01").unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2024-05-01T12:30:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2024-05-01T10:30:00+00:00"
        );
        for bad in ["2024-13-01", "yesterday", "", "2024-05-01 12:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_job_names_the_selection() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: DeleteArgs,
        }
        let args = |line: &[&str]| Cli::parse_from([&["x"], line].concat()).args;
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let a = args(&["--meta", "a=1", "--meta", "b=2", "--creator", "u"]);
        let b = args(&["--creator", "u", "--meta", "b=2", "--meta", "a=1"]);
        assert_eq!(a.job(&ids(&[])), b.job(&ids(&[])));
        assert_ne!(a.job(&ids(&[])), a.job(&ids(&["x"])));
        let c = args(&["--meta", "a=1", "--meta", "b=2", "--creator", ""]);
        assert_ne!(a.job(&ids(&[])), c.job(&ids(&[])));
        assert_ne!(
            args(&["--creator", ""]).job(&ids(&[])),
            args(&[]).job(&ids(&[]))
        );
    }
}
