//! `cfimg stats`: how many images are stored and allowed.

use clap::Args;
use serde_json::{json, Value};

use crate::backend::Backend;
use crate::error::CliResult;
use crate::output::{self, print_json, print_out};

/// Arguments of `cfimg stats` (none).
#[derive(Debug, Args)]
pub struct StatsArgs {}

/// Runs `cfimg stats`.
pub async fn run(_args: StatsArgs, ctx: &Backend) -> CliResult<()> {
    let stats = ctx.client.v1().stats().get().send().await?;
    let count = stats.count.unwrap_or_default();
    // The API sends counts as JSON numbers that decode as floats: print integers.
    let int = |v: Option<f64>| -> Value {
        match v {
            Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(63) => {
                json!(v as u64)
            }
            Some(v) => json!(v),
            None => Value::Null,
        }
    };
    if output::machine() {
        print_json(&json!({"current": int(count.current), "allowed": int(count.allowed)}));
    } else {
        let n = |v: Option<f64>| match int(v) {
            Value::Null => "?".to_string(),
            v => v.to_string(),
        };
        print_out(&format!(
            "images: {} of {} allowed\n",
            n(count.current),
            n(count.allowed)
        ));
    }
    Ok(())
}
