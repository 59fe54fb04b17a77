//! `cfimg edit ID`: an image's metadata, creator or signed-URL requirement.

use clap::Args;
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::output::{self, print_json, print_out};

/// The help shown after `cfimg edit`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg edit products/cat --metadata '{\"sku\":\"CAT-2\"}'
  cfimg edit 2cdc28f0-017a-49c4-9ed7-87056c83901 --require-signed-urls";

/// Arguments of `cfimg edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    /// The image id.
    pub id: String,
    /// New metadata, a JSON object (replaces the old).
    #[arg(long, value_parser = super::parse_metadata, value_name = "JSON")]
    pub metadata: Option<Map<String, Value>>,
    /// New creator.
    #[arg(long)]
    pub creator: Option<String>,
    /// Require signed URLs (`--require-signed-urls false` to lift it).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub require_signed_urls: Option<bool>,
}

/// Runs `cfimg edit`: changes only what is given, and refuses to send nothing.
pub async fn run(args: EditArgs, ctx: &Backend) -> CliResult<()> {
    if args.metadata.is_none() && args.creator.is_none() && args.require_signed_urls.is_none() {
        return Err(CliError::usage(
            "nothing to change: give --metadata, --creator or --require-signed-urls",
        ));
    }
    let mut req = ctx.client.v1().edit(&args.id);
    if let Some(m) = args.metadata {
        req = req.metadata(m);
    }
    if let Some(c) = args.creator {
        req = req.creator(c);
    }
    if let Some(r) = args.require_signed_urls {
        req = req.require_signed_urls(r);
    }
    let image = req.send().await?;
    if output::machine() {
        print_json(&output::image_json(&image));
    } else {
        print_out(&output::image_details(&image));
    }
    Ok(())
}
