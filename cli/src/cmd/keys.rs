//! `cfimg keys`: the signing keys of signed delivery URLs.

use std::time::Duration;

use clap::{Args, Subcommand};
use cloudflare_images::delivery::SigningKey;
use cloudflare_images::types::ImageKeysResponse;
use cloudflare_images::Client;
use serde_json::json;

use crate::backend::{self, Backend};
use crate::error::{CliError, CliResult};
use crate::journal::{self, Journal, Rotation};
use crate::output::{self, print_json, print_out, Table};

/// The subcommands of `cfimg keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
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
    /// Rotate the signing key: add a new key now, delete the old one on a
    /// rerun after the grace period (see cli/README "Rotating the signing key").
    #[command(after_help = ROTATE_HELP)]
    Rotate(RotateArgs),
}

const ROTATE_HELP: &str = "\
Run it once to start (a new key signs from now on; the old one keeps verifying),
then again after the grace period to delete the old key. A rerun before then
changes nothing and says when.

Examples:
  cfimg keys rotate --grace 7d          # start: creates a key like k20260101120000
  cfimg keys rotate                     # later: waits, or deletes the old key
  cfimg keys rotate --grace 2d --new spring --old default";

/// Arguments of `cfimg keys rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// How long the old key keeps verifying after the new one signs (e.g. 7d,
    /// 24h): at least as long as the longest-lived signed URL handed out.
    /// Needed to start a rotation.
    #[arg(long, value_parser = super::sign::parse_duration, value_name = "DURATION")]
    pub grace: Option<Duration>,
    /// The new key's name (1 to 20 letters or digits; default `k` and the UTC time).
    #[arg(long, value_name = "NAME")]
    pub new: Option<String>,
    /// The key to retire (default: the key signing now).
    #[arg(long, value_name = "NAME")]
    pub old: Option<String>,
}

/// Runs `cfimg keys …`; each prints the keys the API answers with (after a
/// delete, the keys left, masked).
pub async fn run(command: KeysCommand, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    let (answer, reveal) = match command {
        KeysCommand::Rotate(args) => return rotate(args, ctx).await,
        KeysCommand::List { reveal } => (client.v1().keys().list().send().await?, reveal),
        KeysCommand::Create { name, reveal } => (
            client.v1().keys().update(name.as_str()).send().await?,
            reveal,
        ),
        KeysCommand::Delete { name } => (
            client.v1().keys().delete(name.as_str()).send().await?,
            false,
        ),
    };
    print_keys(&answer, reveal);
    Ok(())
}

fn mask(value: &str) -> String {
    let shown: String = value.chars().take(4).collect();
    format!("{shown}…")
}

fn print_keys(keys: &ImageKeysResponse, reveal: bool) {
    let shown = |v: &Option<String>| {
        let v = v.clone().unwrap_or_default();
        if reveal {
            v
        } else {
            mask(&v)
        }
    };
    if output::machine() {
        output::print_json_items(
            keys.keys
                .iter()
                .map(|k| json!({"name": k.name, "value": shown(&k.value)}))
                .collect(),
        );
    } else {
        let mut t = Table::new(["NAME", "VALUE"]);
        for k in &keys.keys {
            t.row([k.name.clone().unwrap_or_default(), shown(&k.value)]);
        }
        print_out(&t.render());
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation.

/// The journal in the data directory, where rotations are recorded; `None`
/// when it does not exist yet (and `create` is false).
fn open_journal(ctx: &Backend, create: bool) -> CliResult<Option<Journal>> {
    let dir = match backend::data_dir(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty())) {
        Ok(dir) => dir,
        // Without a data directory nothing was recorded: signing needs none.
        Err(_) if !create => return Ok(None),
        Err(e) => return Err(e),
    };
    let path = dir.join(journal::FILE_NAME);
    if !create && !path.exists() {
        return Ok(None);
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::new(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    Journal::open(&path, &ctx.target()).map(Some)
}

/// The key the last `keys rotate` chose, if one is recorded for this account
/// and the account still has it: what `cfimg sign` signs with when no `--key`
/// is given (else the SDK's [`SigningKey::choose`]).
pub async fn rotated_key(ctx: &Backend) -> CliResult<Option<String>> {
    let Some(journal) = open_journal(ctx, false)? else {
        return Ok(None);
    };
    let Some(rotation) = journal.rotation()? else {
        return Ok(None);
    };
    let keys = ctx.client.v1().keys().signing_keys().await?;
    Ok(keys
        .iter()
        .any(|k| k.name() == Some(rotation.new_key.as_str()))
        .then_some(rotation.new_key))
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{unix} (Unix seconds)"))
}

fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 20 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn key_names(keys: &[SigningKey]) -> Vec<&str> {
    keys.iter().filter_map(SigningKey::name).collect()
}

/// Creates key `name` unless the account has it already: a PUT to an existing
/// name would replace its value and break every URL it signed.
async fn ensure_key(client: &Client, name: &str) -> CliResult<bool> {
    let keys = client.v1().keys().signing_keys().await?;
    if key_names(&keys).contains(&name) {
        return Ok(false);
    }
    client.v1().keys().update(name).send().await?;
    Ok(true)
}

fn report(state: &str, rotation: &Rotation, human: String) {
    if output::machine() {
        print_json(&json!({
            "state": state,
            "old_key": rotation.old_key,
            "new_key": rotation.new_key,
            "signing_key": rotation.new_key,
            "retire_after": when(rotation.retire_after),
            "retire_after_unix": rotation.retire_after,
        }));
    } else {
        print_out(&format!("{human}\n"));
    }
}

/// `cfimg keys rotate`: one step of a rotation, decided by what the journal
/// recorded; every step is safe to rerun.
async fn rotate(args: RotateArgs, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    let Some(journal) = open_journal(ctx, true)? else {
        return Err(CliError::new("cannot open the journal"));
    };
    let last = journal.rotation()?;
    let rotation = match last {
        Some(r) if !r.finished => r,
        // A rerun after the last step: nothing to do, and saying so.
        Some(r) if args.grace.is_none() && args.new.is_none() && args.old.is_none() => {
            report(
                "finished",
                &r,
                format!(
                    "no rotation under way: key {} was retired after {}; key {} signs (start another with --grace)",
                    r.old_key,
                    when(r.retire_after),
                    r.new_key
                ),
            );
            return Ok(());
        }
        _ => return start_rotation(args, ctx, &journal).await,
    };
    if args.grace.is_some() || args.new.is_some() || args.old.is_some() {
        output::note(&format!(
            "a rotation from {} to {} is already under way; --grace, --new and --old are ignored",
            rotation.old_key, rotation.new_key
        ));
    }
    // A process killed between recording the rotation and creating the key
    // left no new key: create it now, and start the grace period again.
    if ensure_key(client, &rotation.new_key).await? {
        let retire_after = now_secs().saturating_add(rotation.grace_secs);
        journal.reschedule_rotation(retire_after)?;
        let rotation = Rotation {
            retire_after,
            ..rotation
        };
        report(
            "started",
            &rotation,
            format!(
                "created key {}; it signs from now on. Key {} keeps verifying until {}: run `cfimg keys rotate` again after that to delete it",
                rotation.new_key, rotation.old_key, when(retire_after)
            ),
        );
        return Ok(());
    }
    let now = now_secs();
    if now < rotation.retire_after {
        let left = Duration::from_secs(u64::try_from(rotation.retire_after - now).unwrap_or(0));
        report(
            "waiting",
            &rotation,
            format!(
                "rotation under way: key {} signs; key {} is deleted by a rerun after {} (in {}); nothing changed",
                rotation.new_key,
                rotation.old_key,
                when(rotation.retire_after),
                humantime::format_duration(left)
            ),
        );
        return Ok(());
    }
    let keys = client.v1().keys().signing_keys().await?;
    if key_names(&keys).contains(&rotation.old_key.as_str()) {
        client
            .v1()
            .keys()
            .delete(rotation.old_key.as_str())
            .send()
            .await?;
    }
    journal.finish_rotation()?;
    report(
        "finished",
        &rotation,
        format!(
            "deleted key {}; URLs it signed no longer verify. Key {} signs",
            rotation.old_key, rotation.new_key
        ),
    );
    Ok(())
}

async fn start_rotation(args: RotateArgs, ctx: &Backend, journal: &Journal) -> CliResult<()> {
    let client = &ctx.client;
    let Some(grace) = args.grace else {
        return Err(CliError::usage(
            "no rotation under way; start one with --grace DURATION (how long the old key keeps verifying, e.g. 7d)",
        ));
    };
    if let Some(new) = args.new.as_deref().filter(|n| !valid_key_name(n)) {
        return Err(CliError::usage(format!(
            "--new {new:?}: a key name is 1 to 20 letters or digits"
        )));
    }
    let keys = client.v1().keys().signing_keys().await?;
    let names = key_names(&keys);
    let old = match args.old {
        Some(old) => old,
        None => match rotated_key(ctx).await? {
            Some(name) => name,
            None => SigningKey::choose(&keys)
                .and_then(SigningKey::name)
                .map(str::to_string)
                .ok_or_else(|| CliError::new("the account has no signing key to rotate"))?,
        },
    };
    if !names.contains(&old.as_str()) {
        return Err(CliError::usage(format!(
            "the account has no signing key named {old:?} (it has: {})",
            names.join(", ")
        )));
    }
    let new = args
        .new
        .unwrap_or_else(|| format!("k{}", chrono::Utc::now().format("%Y%m%d%H%M%S")));
    if names.contains(&new.as_str()) {
        return Err(CliError::usage(format!(
            "the account already has a key named {new:?}; choose another --new"
        )));
    }
    let grace_secs = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    let rotation = Rotation {
        old_key: old,
        new_key: new,
        grace_secs,
        retire_after: now_secs().saturating_add(grace_secs),
        finished: false,
    };
    // Recorded before the key is created, so a process killed in between
    // leaves a rotation a rerun completes rather than a stray key.
    if !journal.start_rotation(&rotation)? {
        return Err(CliError::new(
            "another rotation was started meanwhile; run `cfimg keys rotate` again to see it",
        ));
    }
    if let Err(e) = client
        .v1()
        .keys()
        .update(rotation.new_key.as_str())
        .send()
        .await
    {
        // Refused: nothing was created, so nothing is under way. Without an
        // answer the key may exist; the pending rotation lets a rerun find out.
        if e.status().is_some() {
            journal.abandon_rotation()?;
        }
        return Err(CliError::from(e).context(format!("creating key {}", rotation.new_key)));
    }
    report(
        "started",
        &rotation,
        format!(
            "created key {}; it signs from now on. Key {} keeps verifying until {}: run `cfimg keys rotate` again after that to delete it",
            rotation.new_key,
            rotation.old_key,
            when(rotation.retire_after)
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_and_times() {
        assert!(valid_key_name("k20260101120000"));
        assert!(!valid_key_name(""));
        assert!(!valid_key_name("with-dash"));
        assert!(!valid_key_name("abcdefghijklmnopqrstu"));
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn masking() {
        assert_eq!(mask("abcdef123"), "abcd…");
        assert_eq!(mask(""), "…");
    }
}
