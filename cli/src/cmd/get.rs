//! `cfimg get ID`: one image.

use clap::Args;

use crate::backend::Backend;
use crate::error::CliResult;
use crate::output::{self, print_json, print_out};

/// The help shown after `cfimg get`'s options.
pub const AFTER_HELP: &str = "Example:\n  cfimg get products/cat --json";

/// Arguments of `cfimg get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The image id.
    pub id: String,
}

/// Runs `cfimg get`. With the embedded emulator, notes that its delivery URLs
/// only work while cfimg runs.
pub async fn run(args: GetArgs, ctx: &Backend) -> CliResult<()> {
    let image = ctx.client.v1().get(&args.id).send().await?;
    if output::machine() {
        print_json(&output::image_json(&image));
    } else {
        print_out(&output::image_details(&image));
    }
    if image.require_signed_urls && !output::machine() {
        output::note(&format!(
            "these URLs need a signature: `cfimg url image {} --sign` (or `cfimg sign`)",
            args.id
        ));
    }
    if ctx.local() && image.variants.as_ref().is_some_and(|v| !v.is_empty()) {
        output::note(output::LOCAL_URL_NOTE);
    }
    Ok(())
}
