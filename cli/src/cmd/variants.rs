//! `cfimg variants`: named resizing presets.

use clap::{Args, Subcommand};
use cloudflare_images::open_enums::{ImageVariantFit, ImageVariantSchemasMetadata};
use cloudflare_images::types::{ImageVariantDefinition, ImageVariantOptions};
use cloudflare_images::Client;
use serde::Deserialize;
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
    /// List variants (`--json`: the API's variant objects, the format `apply` reads).
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
    /// Make the account's variants match a file (the format of `variants list --json`).
    #[command(after_help = APPLY_HELP)]
    Apply(ApplyArgs),
}

const APPLY_HELP: &str = "\
Examples:
  cfimg variants list --json > variants.json    # edit it, keep it in version control
  cfimg variants apply variants.json --dry-run  # show the plan, change nothing
  cfimg variants apply variants.json --prune --yes";

/// Arguments of `cfimg variants apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A JSON array of variant objects, as `variants list --json` prints them.
    pub file: std::path::PathBuf,
    /// Also delete the variants the file lacks.
    #[arg(long)]
    pub prune: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask before deleting (with --prune).
    #[arg(long, short = 'y')]
    pub yes: bool,
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
        VariantsCommand::Apply(args) => apply(args, client).await,
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

/// The account's variants by name (none when the answer lists none): what `list`,
/// `apply` and the demo read.
pub(crate) async fn account_variants(
    client: &Client,
) -> CliResult<std::collections::BTreeMap<String, ImageVariantDefinition>> {
    let list = client.v1().variants().list().send().await?;
    Ok(list.variants.map(|m| m.0).unwrap_or_default())
}

/// `cfimg variants list`.
async fn list(client: &Client) -> CliResult<()> {
    let variants: Vec<ImageVariantDefinition> =
        account_variants(client).await?.into_values().collect();
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

// ---------------------------------------------------------------------------------------------
// `variants apply`: variants as code.

/// A variant as the file states it: the API's variant object, read strictly so a
/// misspelt field is an error rather than silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct WantedVariant {
    id: String,
    options: WantedOptions,
    /// Absent means `false`, the API's default.
    #[serde(rename = "neverRequireSignedURLs", default)]
    never_require_signed_urls: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct WantedOptions {
    fit: WantedFit,
    metadata: WantedMetadata,
    width: u32,
    height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum WantedFit {
    ScaleDown,
    Contain,
    Cover,
    Crop,
    Pad,
}

impl WantedFit {
    fn as_str(self) -> &'static str {
        match self {
            WantedFit::ScaleDown => "scale-down",
            WantedFit::Contain => "contain",
            WantedFit::Cover => "cover",
            WantedFit::Crop => "crop",
            WantedFit::Pad => "pad",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WantedMetadata {
    Keep,
    Copyright,
    None,
}

impl WantedMetadata {
    fn as_str(self) -> &'static str {
        match self {
            WantedMetadata::Keep => "keep",
            WantedMetadata::Copyright => "copyright",
            WantedMetadata::None => "none",
        }
    }
}

/// Cloudflare's largest variant side, in pixels.
const MAX_SIDE: u32 = 12_000;
/// Cloudflare's limit on the number of variants of an account.
const MAX_VARIANTS: usize = 100;

impl WantedVariant {
    fn never_signed(&self) -> bool {
        self.never_require_signed_urls.unwrap_or(false)
    }

    fn options(&self) -> ImageVariantOptions {
        ImageVariantOptions {
            fit: ImageVariantFit::from(self.options.fit.as_str()),
            metadata: ImageVariantSchemasMetadata::from(self.options.metadata.as_str()),
            width: self.options.width,
            height: self.options.height,
        }
    }

    /// Whether the account's `current` differs from this in any field.
    fn differs(&self, current: &ImageVariantDefinition) -> bool {
        current.options.fit.as_str() != self.options.fit.as_str()
            || current.options.metadata.as_str() != self.options.metadata.as_str()
            || current.options.width != self.options.width
            || current.options.height != self.options.height
            || current.never_require_signed_urls.unwrap_or(false) != self.never_signed()
    }
}

/// Reads and checks a variants file; every error names the file and the line,
/// or the variant and the field.
fn parse_variants_file(path: &std::path::Path, text: &str) -> CliResult<Vec<WantedVariant>> {
    let shown = path.display();
    // serde_json's message names the field or value and ends with the line and column.
    let wanted: Vec<WantedVariant> = serde_json::from_str(text).map_err(|e| {
        CliError::usage(format!(
            "{shown}: {e} (expected a JSON array of variant objects, as `cfimg variants list --json` prints)"
        ))
    })?;
    let mut seen = std::collections::HashSet::new();
    for (i, v) in wanted.iter().enumerate() {
        let at = format!("{shown}: variant #{} ({:?})", i + 1, v.id);
        if v.id.is_empty() || v.id.len() > 99 || !v.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CliError::usage(format!(
                "{at}: field id: must be 1 to 99 letters or digits"
            )));
        }
        if !seen.insert(v.id.as_str()) {
            return Err(CliError::usage(format!(
                "{at}: field id: the same id appears twice"
            )));
        }
        for (field, value) in [("width", v.options.width), ("height", v.options.height)] {
            if !(1..=MAX_SIDE).contains(&value) {
                return Err(CliError::usage(format!(
                    "{at}: field options.{field}: {value} is not between 1 and {MAX_SIDE}"
                )));
            }
        }
    }
    if wanted.len() > MAX_VARIANTS {
        return Err(CliError::usage(format!(
            "{shown}: {} variants; Cloudflare allows at most {MAX_VARIANTS}",
            wanted.len()
        )));
    }
    Ok(wanted)
}

/// What `apply` does to one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// The changes that make `current` match `wanted`, in a stable order (creates
/// and updates in the file's order, then deletes by name); deletes only with
/// `prune`. Returns the plan and the number of variants already as wanted.
fn plan(
    wanted: &[WantedVariant],
    current: &std::collections::BTreeMap<String, ImageVariantDefinition>,
    prune: bool,
) -> (Vec<(Action, String)>, usize) {
    let mut steps = Vec::new();
    let mut unchanged = 0;
    for w in wanted {
        match current.get(&w.id) {
            None => steps.push((Action::Create, w.id.clone())),
            Some(c) if w.differs(c) => steps.push((Action::Update, w.id.clone())),
            Some(_) => unchanged += 1,
        }
    }
    if prune {
        for name in current.keys() {
            if !wanted.iter().any(|w| &w.id == name) {
                steps.push((Action::Delete, name.clone()));
            }
        }
    }
    (steps, unchanged)
}

/// `cfimg variants apply FILE`.
async fn apply(args: ApplyArgs, client: &Client) -> CliResult<()> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.file.display())))?;
    let wanted = parse_variants_file(&args.file, &text)?;
    let current = account_variants(client).await?;
    let (steps, unchanged) = plan(&wanted, &current, args.prune);
    let count = |a: Action| steps.iter().filter(|(s, _)| *s == a).count();
    let to_delete: Vec<String> = steps
        .iter()
        .filter(|(a, _)| *a == Action::Delete)
        .map(|(_, n)| n.clone())
        .collect();
    if !output::machine() {
        let mut text = String::new();
        for (action, name) in &steps {
            let sign = match action {
                Action::Create => '+',
                Action::Update => '~',
                Action::Delete => '-',
            };
            text.push_str(&format!("{sign} {} {name}\n", action.as_str()));
        }
        text.push_str(&format!(
            "plan: {} to create, {} to update, {} to delete, {unchanged} unchanged{}\n",
            count(Action::Create),
            count(Action::Update),
            to_delete.len(),
            if args.dry_run { " (dry run)" } else { "" }
        ));
        print_out(&text);
    }
    if !args.dry_run && !to_delete.is_empty() {
        super::confirm_delete("variant(s)", &to_delete, args.yes)?;
    }
    let mut done = 0usize;
    if !args.dry_run {
        for (action, name) in &steps {
            let step = apply_step(client, &wanted, *action, name).await;
            if let Err(e) = step {
                return Err(e.context(format!(
                    "{} variant {name} ({done} of {} changes made)",
                    action.as_str(),
                    steps.len()
                )));
            }
            done += 1;
        }
    }
    let (created, updated, deleted) = if args.dry_run {
        (0, 0, 0)
    } else {
        (
            count(Action::Create),
            count(Action::Update),
            count(Action::Delete),
        )
    };
    if output::machine() {
        print_json(&json!({
            "created": created,
            "updated": updated,
            "deleted": deleted,
            "unchanged": unchanged,
            "dry_run": args.dry_run,
            "plan": steps
                .iter()
                .map(|(a, n)| json!({"action": a.as_str(), "id": n}))
                .collect::<Vec<_>>(),
        }));
    } else if !args.dry_run {
        print_out(&format!(
            "applied: {created} created, {updated} updated, {deleted} deleted\n"
        ));
    }
    Ok(())
}

async fn apply_step(
    client: &Client,
    wanted: &[WantedVariant],
    action: Action,
    name: &str,
) -> CliResult<()> {
    let find = || {
        wanted
            .iter()
            .find(|w| w.id == name)
            .ok_or_else(|| CliError::new(format!("variant {name:?} is not in the file")))
    };
    match action {
        Action::Create => {
            let w = find()?;
            client
                .v1()
                .variants()
                .create(name, w.options())
                .never_require_signed_urls(w.never_signed())
                .send()
                .await?;
        }
        Action::Update => {
            let w = find()?;
            // Every field, so the variant ends exactly as the file says.
            client
                .v1()
                .variants()
                .edit(name, w.options())
                .never_require_signed_urls(w.never_signed())
                .send()
                .await?;
        }
        Action::Delete => {
            client.v1().variants().delete(name).send().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> CliResult<Vec<WantedVariant>> {
        parse_variants_file(Path::new("v.json"), text)
    }

    #[test]
    fn files_are_checked_naming_the_line_or_field() {
        let good = r#"[{"id":"thumb","options":{"fit":"cover","metadata":"none","width":200,"height":100},"neverRequireSignedURLs":true}]"#;
        let v = parse(good).unwrap();
        assert_eq!(v[0].options.fit, WantedFit::Cover);
        assert!(v[0].never_signed());

        let e = parse("[\n{\"id\":\"a\",\n\"options\":{\"fit\":\"cove\",\"metadata\":\"none\",\"width\":1,\"height\":1}}]")
            .unwrap_err();
        assert!(e.message.contains("line 3"), "{}", e.message);
        assert!(e.message.contains("cove"), "{}", e.message);
        assert_eq!(e.exit, crate::error::EXIT_USAGE);

        let e = parse(r#"[{"id":"a","options":{"fit":"pad","metadata":"none","width":1,"height":1},"colour":1}]"#)
            .unwrap_err();
        assert!(e.message.contains("colour"), "{}", e.message);

        let e =
            parse(r#"[{"id":"a","options":{"fit":"pad","metadata":"none","width":0,"height":1}}]"#)
                .unwrap_err();
        assert!(
            e.message
                .contains("variant #1 (\"a\"): field options.width"),
            "{}",
            e.message
        );

        let e = parse(
            r#"[{"id":"a-b","options":{"fit":"pad","metadata":"none","width":1,"height":1}}]"#,
        )
        .unwrap_err();
        assert!(e.message.contains("field id"), "{}", e.message);

        let one = r#"{"id":"a","options":{"fit":"pad","metadata":"none","width":1,"height":1}}"#;
        let e = parse(&format!("[{one},{one}]")).unwrap_err();
        assert!(
            e.message.contains("variant #2") && e.message.contains("twice"),
            "{}",
            e.message
        );
    }
}
