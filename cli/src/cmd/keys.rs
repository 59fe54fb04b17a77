//! `cfimg keys`: the signing keys of signed delivery URLs.

use clap::Subcommand;
use cloudflare_images::types::ImageKeysResponse;
use serde_json::json;

use crate::backend::Backend;
use crate::error::CliResult;
use crate::output::{self, print_out, Table};

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
}

/// Runs `cfimg keys …`; each prints the keys the API answers with (after a
/// delete, the keys left, masked).
pub async fn run(command: KeysCommand, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    let (answer, reveal) = match command {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking() {
        assert_eq!(mask("abcdef123"), "abcd…");
        assert_eq!(mask(""), "…");
    }
}
