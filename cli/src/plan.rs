//! What `sync` and bulk `delete` share: work planned in full before anything is
//! written, printed (counts and items), confirmed when it deletes, then applied
//! a few requests at a time at the pace of the account's rate limit.

use clap::Args;
use cloudflare_images::{Client, RateLimit};

use crate::backend::Tuning;
use crate::cmd::upload::migrate;
use crate::error::{CliError, CliResult};

/// How many items a plan prints before "… and N more" (all of them under `-v`).
pub const SAMPLE: usize = 10;

/// Pacing and concurrency of a command that writes many images.
#[derive(Debug, Clone, Args)]
pub struct PaceArgs {
    /// How many requests run at once.
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Pace to Cloudflare's global limit (1,200 requests per 5 minutes) against
    /// the local emulator too; always done with credentials.
    #[arg(long)]
    pub rate_limit: bool,
    /// Do not pace to the global limit with credentials either (a 429 still
    /// pauses the client).
    #[arg(long, conflicts_with = "rate_limit")]
    pub no_rate_limit: bool,
    /// The account's global limit to pace to, as N/PERIOD [default: 1200/5m].
    #[arg(long, value_parser = migrate::parse_rate, value_name = "N/PERIOD")]
    pub api_rate: Option<RateLimit>,
}

impl PaceArgs {
    /// The client tuning these flags ask for.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            pace_local: self.rate_limit,
            pace_remote: !self.no_rate_limit,
            api_rate: self.api_rate,
            ..Tuning::default()
        }
    }

    /// Requests in flight at once.
    pub fn concurrency(&self) -> usize {
        usize::from(self.concurrency)
    }
}

/// `items` for a plan: every one under `-v`, else the first [`SAMPLE`] and a
/// count of the rest; each line starts with `mark`.
pub fn item_lines(mark: &str, items: &[String]) -> String {
    let shown = if crate::output::verbose() {
        items.len()
    } else {
        SAMPLE
    };
    let mut text = String::new();
    for id in items.iter().take(shown) {
        text.push_str(&format!("  {mark} {id}\n"));
    }
    if items.len() > shown {
        text.push_str(&format!("  … and {} more\n", items.len() - shown));
    }
    text
}

/// The first [`SAMPLE`] items, for a JSON plan.
pub fn sample(items: &[String]) -> Vec<&str> {
    items.iter().take(SAMPLE).map(String::as_str).collect()
}

/// Refuses to write `id` unless it is under `prefix`: checked right before every
/// write, whatever the plan said, so a bug in planning cannot reach outside.
pub fn check_under(prefix: &str, id: &str) -> CliResult<()> {
    if prefix.is_empty() || !id.starts_with(prefix) {
        return Err(CliError::new(format!(
            "refusing to change {id:?}: it is not under the prefix {prefix:?}"
        )));
    }
    Ok(())
}

/// What deleting one image found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The API deleted it.
    Now,
    /// It was already gone (404): an earlier run, or someone else, deleted it.
    AlreadyGone,
}

/// Deletes one image; an image that is already gone is not an error, so a rerun
/// after an interruption finishes instead of failing on what it deleted before.
pub async fn delete_image(client: &Client, id: &str) -> CliResult<Deleted> {
    match client.v1().delete(id).send().await {
        Ok(_) => Ok(Deleted::Now),
        Err(e) if e.status() == Some(404) => Ok(Deleted::AlreadyGone),
        Err(e) => Err(CliError::from(e).context(format!("could not delete {id}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_under_the_prefix_may_be_written() {
        assert!(check_under("site/", "site/a.png").is_ok());
        assert!(check_under("site/", "site/").is_ok());
        assert!(check_under("site/", "sitemap.png").is_err());
        assert!(check_under("site/", "other/site/a.png").is_err());
        assert!(check_under("", "a.png").is_err());
    }

    #[test]
    fn samples_are_bounded() {
        let ids: Vec<String> = (0..25).map(|i| format!("p/{i}")).collect();
        assert_eq!(sample(&ids).len(), SAMPLE);
        let text = item_lines("-", &ids);
        assert_eq!(text.lines().count(), SAMPLE + 1);
        assert!(text.ends_with("… and 15 more\n"), "{text}");
    }
}
