//! One module per command, each owning its clap arguments (`…Args`) and its
//! `run`; `main.rs` only wires them together. What several commands share (the
//! fields of a new image, metadata and id parsing, the delete confirmation) is
//! here.

pub mod completions;
pub mod config;
pub mod delete;
pub mod demo;
pub mod direct_upload;
pub mod doctor;
pub mod download;
pub mod edit;
pub mod export;
pub mod get;
pub mod import;
pub mod keys;
pub mod list;
pub mod serve;
pub mod sign;
pub mod stats;
pub mod sync;
pub mod upload;
pub mod url;
pub mod variants;

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use serde_json::{Map, Value};

use crate::error::{CliError, CliResult};

/// `--metadata`: a JSON object within Cloudflare's size limit.
pub fn parse_metadata(text: &str) -> Result<Map<String, Value>, String> {
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

/// Whether `id` may be a custom image id: every id cfimg checks (`--id`, and
/// the ids `upload --resume` derives from paths) goes through here, so the
/// rule is the SDK's own ([`cloudflare_images::ids::check_custom_id`]).
pub fn check_custom_id(id: &str) -> Result<(), String> {
    // The SDK's own rule, so cfimg never accepts an id the SDK then refuses.
    cloudflare_images::ids::check_custom_id(id).map_err(|e| e.to_string())
}

/// `--id` of `upload` and `direct-upload`: checked while parsing so a bad id is
/// a usage error naming the flag.
fn parse_custom_id(id: &str) -> Result<String, String> {
    check_custom_id(id).map(|()| id.to_string())
}

/// The fields of a new image, shared by `upload` and `direct-upload`.
#[derive(Debug, Clone, Default, Args)]
pub struct ImageFields {
    /// Custom id (one image only; may contain `/`; not a UUID).
    #[arg(long, value_parser = parse_custom_id)]
    pub id: Option<String>,
    /// Your user id for the image's creator.
    #[arg(long)]
    pub creator: Option<String>,
    /// Metadata, a JSON object (at most 1,024 bytes).
    #[arg(long, value_parser = parse_metadata, value_name = "JSON")]
    pub metadata: Option<Map<String, Value>>,
    /// Serve the image only through signed URLs (not with a custom id:
    /// Cloudflare refuses the combination).
    #[arg(long, conflicts_with = "id")]
    pub require_signed_urls: bool,
}

/// Asks on the terminal; `Ok(false)` unless the answer starts with `y`.
fn confirm(question: &str) -> CliResult<bool> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::new(format!("cannot read the answer: {e}")))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Asks before deleting `names` (of `what`, e.g. "image(s)") unless `yes`:
/// on a terminal, a y/N question; without one, a refusal asking for `--yes`.
pub fn confirm_delete(what: &str, names: &[String], yes: bool) -> CliResult<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "refusing to delete {} {what} without confirmation: stdin is not a terminal; pass --yes",
            names.len()
        )));
    }
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    let more = if names.len() > 5 {
        format!(" and {} more", names.len() - 5)
    } else {
        String::new()
    };
    if !confirm(&format!(
        "Delete {} {what}: {}{more}?",
        names.len(),
        shown.join(", ")
    ))? {
        return Err(CliError::usage("not confirmed; nothing deleted"));
    }
    Ok(())
}
