//! `cfimg variants`: named resizing presets.

use clap::{Args, Subcommand};
use cloudflare_images::open_enums::{ImageVariantFit, ImageVariantSchemasMetadata};
use cloudflare_images::types::{ImageVariantDefinition, ImageVariantOptions};
use cloudflare_images::Client;
use serde_json::{json, Value};

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::output::{self, print_json, print_out, Table};

/// The options of `variants create` and `variants edit`.
#[derive(Debug, Args)]
pub struct VariantArgs {
    /// Maximum width in pixels.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub width: Option<u32>,
    /// Maximum height in pixels.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub height: Option<u32>,
    /// How to fit: scale-down, contain, cover, crop, pad.
    #[arg(long, value_parser = ["scale-down", "contain", "cover", "crop", "pad"])]
    pub fit: Option<String>,
    /// What metadata to keep: keep, copyright, none.
    #[arg(long, value_parser = ["keep", "copyright", "none"])]
    pub metadata: Option<String>,
    /// Serve this variant without a signature even for private images.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub never_require_signed_urls: Option<bool>,
}

/// The subcommands of `cfimg variants`.
#[derive(Debug, Subcommand)]
pub enum VariantsCommand {
    /// List variants.
    List,
    /// Show one variant.
    Get {
        /// Variant name.
        name: String,
    },
    /// Create a variant (--width and --height required).
    #[command(
        after_help = "Example:\n  cfimg variants create thumb --width 200 --height 200 --fit cover"
    )]
    Create {
        /// Variant name.
        name: String,
        #[command(flatten)]
        options: VariantArgs,
    },
    /// Change a variant (only the options given).
    Edit {
        /// Variant name.
        name: String,
        #[command(flatten)]
        options: VariantArgs,
    },
    /// Delete a variant (asks first on a terminal; --yes to skip).
    Delete {
        /// Variant name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Runs `cfimg variants …`.
pub async fn run(command: VariantsCommand, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    match command {
        VariantsCommand::List => list(client).await,
        VariantsCommand::Get { name } => get(client, &name).await,
        VariantsCommand::Create { name, options } => create(client, &name, options).await,
        VariantsCommand::Edit { name, options } => edit(client, &name, options).await,
        VariantsCommand::Delete { name, yes } => delete(client, &name, yes).await,
    }
}

fn variant_json(v: &ImageVariantDefinition) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn variant_cells(v: &ImageVariantDefinition) -> [String; 6] {
    [
        v.id.clone(),
        v.options.fit.as_str().to_string(),
        v.options.width.to_string(),
        v.options.height.to_string(),
        v.options.metadata.as_str().to_string(),
        if v.never_require_signed_urls == Some(true) {
            "yes".into()
        } else {
            "no".into()
        },
    ]
}

const VARIANT_COLUMNS: [&str; 6] = ["NAME", "FIT", "WIDTH", "HEIGHT", "METADATA", "NEVER_SIGNED"];

fn print_variant(v: &ImageVariantDefinition) {
    if output::machine() {
        print_json(&variant_json(v));
    } else {
        let mut t = Table::new(VARIANT_COLUMNS);
        t.row(variant_cells(v));
        print_out(&t.render());
    }
}

/// `cfimg variants list`.
async fn list(client: &Client) -> CliResult<()> {
    let list = client.v1().variants().list().send().await?;
    let variants: Vec<ImageVariantDefinition> = list
        .variants
        .map(|m| m.0.into_values().collect())
        .unwrap_or_default();
    if output::machine() {
        output::print_json_items(variants.iter().map(variant_json).collect());
    } else {
        let mut t = Table::new(VARIANT_COLUMNS);
        for v in &variants {
            t.row(variant_cells(v));
        }
        print_out(&t.render());
    }
    Ok(())
}

/// `cfimg variants get NAME`.
async fn get(client: &Client, name: &str) -> CliResult<()> {
    let v = client.v1().variants().get(name).send().await?;
    let v = v
        .variant
        .ok_or_else(|| CliError::new(format!("the API returned no variant for {name:?}")))?;
    print_variant(&v);
    Ok(())
}

fn check_dimension(name: &str, value: u32) -> CliResult<u32> {
    if value == 0 {
        return Err(CliError::usage(format!("--{name} must be at least 1")));
    }
    Ok(value)
}

/// `cfimg variants create NAME --width W --height H`.
async fn create(client: &Client, name: &str, o: VariantArgs) -> CliResult<()> {
    let (Some(width), Some(height)) = (o.width, o.height) else {
        return Err(CliError::usage("a new variant needs --width and --height"));
    };
    let options = ImageVariantOptions {
        fit: ImageVariantFit::from(o.fit.as_deref().unwrap_or("scale-down")),
        metadata: ImageVariantSchemasMetadata::from(o.metadata.as_deref().unwrap_or("none")),
        width: check_dimension("width", width)?,
        height: check_dimension("height", height)?,
    };
    let v = client
        .v1()
        .variants()
        .create(name, options)
        .never_require_signed_urls(o.never_require_signed_urls.unwrap_or(false))
        .send()
        .await?;
    let v = v
        .variant
        .ok_or_else(|| CliError::new("the API returned no variant"))?;
    print_variant(&v);
    Ok(())
}

/// `cfimg variants edit NAME [...]`: changes only what is given.
async fn edit(client: &Client, name: &str, o: VariantArgs) -> CliResult<()> {
    let current = client
        .v1()
        .variants()
        .get(name)
        .send()
        .await?
        .variant
        .ok_or_else(|| CliError::new(format!("the API returned no variant for {name:?}")))?;
    let mut options = current.options;
    if let Some(w) = o.width {
        options.width = check_dimension("width", w)?;
    }
    if let Some(h) = o.height {
        options.height = check_dimension("height", h)?;
    }
    if let Some(f) = o.fit.as_deref() {
        options.fit = ImageVariantFit::from(f);
    }
    if let Some(m) = o.metadata.as_deref() {
        options.metadata = ImageVariantSchemasMetadata::from(m);
    }
    let mut request = client.v1().variants().edit(name, options);
    // A PATCH carries only what was asked for.
    if let Some(never) = o.never_require_signed_urls {
        request = request.never_require_signed_urls(never);
    }
    let v = request.send().await?;
    let v = v
        .variant
        .ok_or_else(|| CliError::new("the API returned no variant"))?;
    print_variant(&v);
    Ok(())
}

/// `cfimg variants delete NAME`: asks first, as `delete` does.
async fn delete(client: &Client, name: &str, yes: bool) -> CliResult<()> {
    super::confirm_delete("variant(s)", &[name.to_string()], yes)?;
    client.v1().variants().delete(name).send().await?;
    if output::machine() {
        print_json(&json!({"deleted": name}));
    } else {
        print_out(&format!("deleted variant {name}\n"));
    }
    Ok(())
}
