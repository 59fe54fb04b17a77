//! `cfimg config`: the account's Images settings (PATCH v1/config).

use clap::Args;
use serde_json::json;

use crate::backend::Backend;
use crate::error::CliResult;
use crate::output::{self, print_json, print_out};

/// The help shown after `cfimg config`'s options.
pub const AFTER_HELP: &str = "\
Example:
  cfimg config --flexible-variants on   # allow w=400,h=300 in place of a variant name

Flexible variants are off on a new account, on Cloudflare as in the local emulator:
delivery URLs with options instead of a variant name are refused until then.";

/// Arguments of `cfimg config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Allow (on) or refuse (off) flexible variants: options like `w=400,h=300` in place
    /// of a variant name in delivery URLs.
    #[arg(long, value_name = "on|off", action = clap::ArgAction::Set, required = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub flexible_variants: bool,
}

/// Runs `cfimg config`: sets the account's flexible-variants switch and prints
/// the setting the API answers with.
pub async fn run(args: ConfigArgs, ctx: &Backend) -> CliResult<()> {
    let config = ctx
        .client
        .v1()
        .config()
        .edit()
        .flexible_variants(args.flexible_variants)
        .send()
        .await?;
    let now = config.flexible_variants.unwrap_or(args.flexible_variants);
    if output::machine() {
        print_json(&json!({ "flexible_variants": now }));
    } else {
        print_out(&format!(
            "flexible variants: {}\n",
            if now { "on" } else { "off" }
        ));
    }
    Ok(())
}
