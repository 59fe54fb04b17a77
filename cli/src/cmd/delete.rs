//! `cfimg delete ID...`: deletes images, asking first on a terminal.

use clap::Args;
use futures_util::StreamExt;
use serde_json::json;

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::output::{self, print_json, print_out};

/// The help shown after `cfimg delete`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg delete products/cat
  cfimg delete ID1 ID2 ID3 --yes

Without a terminal on stdin, --yes is required.";

/// Arguments of `cfimg delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The image ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Runs `cfimg delete`: asks first on a terminal unless `--yes`; refuses
/// without a terminal and without `--yes`.
pub async fn run(args: DeleteArgs, ctx: &Backend) -> CliResult<()> {
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
