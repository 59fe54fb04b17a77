//! `cfimg url`: delivery and transformation URLs built, signed and read back by the
//! SDK's `delivery` module, and responsive-image markup (`srcset`, `<picture>`).
//!
//! `transform`, `parse` and `srcset` for a transformation never touch the API;
//! `image` and `srcset` for a hosted image read the image's record (its account
//! hash, whether it requires signed URLs) unless `--account-hash` is given, and
//! `image --sign` fetches a signing key.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use cloudflare_images::delivery::{
    parse_url, DeliveryUrl, Expiry, Markup, ParsedUrl, ResponsiveImage, Source, SystemClock,
    TransformOptions, TransformUrl, Variant,
};
use cloudflare_images::types::Image;
use serde_json::{json, Map, Value};

use crate::backend::Backend;
use crate::cmd::sign;
use crate::error::{CliError, CliResult};
use crate::output::{self, print_json, print_out};

/// The help shown after each `cfimg url` command's options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg url image products/cat --variant w=400,f=auto     # the account hash from the image's record
  cfimg url image products/cat --account-hash ZWd9g1K7eljCn_KDTu_MWA --zone img.example.com
  cfimg url image products/cat --sign --expires-in 15min  # signed with the key `cfimg sign` would use
  cfimg url transform /uploads/cat.jpg --zone example.com --options width=400,format=auto
  cfimg url parse 'https://imagedelivery.net/ZWd9g1K7eljCn_KDTu_MWA/products/cat/w=400,q=80'
  cfimg url srcset products/cat --widths 320,640,1280 --sizes '(max-width: 640px) 100vw, 640px' --markup picture
  cfimg url srcset --source /uploads/cat.jpg --zone example.com --widths 400,800 --markup srcset";

/// `cfimg url` commands.
#[derive(Debug, Subcommand)]
pub enum UrlCommand {
    /// A hosted image's delivery URL, for a named variant or flexible options; --sign signs it.
    #[command(after_help = AFTER_HELP)]
    Image(ImageArgs),
    /// A transformation URL: `https://<zone>/cdn-cgi/image/<options>/<source>` (no API call).
    #[command(after_help = AFTER_HELP)]
    Transform(TransformArgs),
    /// Reads a delivery or transformation URL and prints its parts (no API call).
    #[command(after_help = AFTER_HELP)]
    Parse(ParseArgs),
    /// `srcset`, `sizes` and `<img>` or `<picture>` markup over a bounded set of widths.
    #[command(after_help = AFTER_HELP)]
    Srcset(SrcsetArgs),
}

impl UrlCommand {
    /// Whether the command reads from the API (else it runs without connecting).
    pub fn needs_api(&self) -> bool {
        match self {
            UrlCommand::Image(args) => args.account_hash.is_none() || args.sign,
            UrlCommand::Srcset(args) => args.source.is_none() && args.account_hash.is_none(),
            UrlCommand::Transform(_) | UrlCommand::Parse(_) => false,
        }
    }
}

/// Arguments of `cfimg url image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image id.
    pub id: String,
    /// A variant name, or flexible-variant options (`w=400,fit=cover,f=auto`).
    #[arg(long, default_value = "public")]
    pub variant: String,
    /// The account hash of delivery URLs (the dashboard's "Account hash"): builds
    /// the URL without reading the image's record.
    #[arg(long)]
    pub account_hash: Option<String>,
    /// With --account-hash: the image requires signed URLs, so a flexible variant
    /// is refused, as Cloudflare refuses it (read from the record otherwise).
    #[arg(long, requires = "account_hash")]
    pub signed_image: bool,
    /// Deliver from a zone of the account: `https://<zone>/cdn-cgi/imagedelivery/...`
    #[arg(long)]
    pub zone: Option<String>,
    /// Sign the URL, with --key, else the key `cfimg keys rotate` chose, else
    /// `default`, else the first.
    #[arg(long)]
    pub sign: bool,
    /// With --sign: how long the URL works (90s, 30m, 1h 30m, 2d).
    #[arg(long, default_value = "1h", value_parser = sign::parse_duration, value_name = "DURATION", requires = "sign")]
    pub expires_in: Duration,
    /// With --sign: the signing key's name.
    #[arg(long, requires = "sign")]
    pub key: Option<String>,
}

/// Arguments of `cfimg url transform`.
#[derive(Debug, Args)]
pub struct TransformArgs {
    /// The source: a path on the zone (`/uploads/cat.jpg`) or an absolute URL.
    pub source: String,
    /// The options (`width=400,format=auto`; short names such as w, h, q, f too).
    #[arg(long)]
    pub options: String,
    /// The zone (host name) serving the transformation; without it the URL is
    /// zone-relative (`/cdn-cgi/image/...`).
    #[arg(long)]
    pub zone: Option<String>,
}

/// Arguments of `cfimg url parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// A delivery URL (imagedelivery.net or a zone's /cdn-cgi/imagedelivery) or a
    /// transformation URL (/cdn-cgi/image).
    pub url: String,
}

/// What `cfimg url srcset` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarkupArg {
    /// The `srcset` attribute's value alone.
    Srcset,
    /// An `<img>` with `src`, `srcset`, `sizes` and `alt`.
    Img,
    /// A `<picture>` with AVIF and WebP sources and the `<img>` fallback.
    Picture,
}

/// Arguments of `cfimg url srcset`.
#[derive(Debug, Args)]
pub struct SrcsetArgs {
    /// A hosted image's id (flexible variants; the account must enable them).
    #[arg(required_unless_present = "source", conflicts_with = "source")]
    pub id: Option<String>,
    /// A transformation's source instead: a path on --zone or an absolute URL.
    #[arg(long, requires = "zone")]
    pub source: Option<String>,
    /// The zone: required with --source; for a hosted image, deliver from it.
    #[arg(long)]
    pub zone: Option<String>,
    /// A hosted image's account hash, to build the markup without reading its record.
    #[arg(long, conflicts_with = "source")]
    pub account_hash: Option<String>,
    /// Widths in pixels, comma-separated (at most 16; each is a transformation).
    #[arg(long, value_delimiter = ',', required = true, value_name = "W,W,...")]
    pub widths: Vec<u32>,
    /// Options for every URL besides the width (`fit=scale-down,q=80`).
    #[arg(long)]
    pub options: Option<String>,
    /// The `sizes` attribute (default `100vw`).
    #[arg(long)]
    pub sizes: Option<String>,
    /// What to print.
    #[arg(long, value_enum, default_value = "img")]
    pub markup: MarkupArg,
    /// The image's text alternative.
    #[arg(long, default_value = "")]
    pub alt: String,
}

/// Runs `cfimg url`; `ctx` is `None` for the commands that need no API.
pub async fn run(command: UrlCommand, ctx: Option<&Backend>) -> CliResult<()> {
    match command {
        UrlCommand::Image(args) => image(args, ctx).await,
        UrlCommand::Transform(args) => transform(args),
        UrlCommand::Parse(args) => parse(args),
        UrlCommand::Srcset(args) => srcset(args, ctx).await,
    }
}

/// A bad URL, option or value: a usage error, decided before anything is sent.
fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::usage(e.to_string())
}

fn backend(ctx: Option<&Backend>) -> CliResult<&Backend> {
    ctx.ok_or_else(|| CliError::new("this command needs the API"))
}

/// `--variant`: a name, or flexible-variant options checked as the SDK checks them.
fn variant(text: &str) -> CliResult<Variant> {
    if text.contains('=') {
        Ok(Variant::Flexible(
            TransformOptions::parse(text).map_err(usage)?,
        ))
    } else {
        Ok(Variant::Named(text.to_string()))
    }
}

/// `--options`, checked as the SDK checks them.
fn options(text: Option<&str>) -> CliResult<TransformOptions> {
    match text {
        Some(text) => TransformOptions::parse(text).map_err(usage),
        None => Ok(TransformOptions::new()),
    }
}

/// Where an image's delivery URLs live, from its record: the base URL before the
/// account hash (`https://imagedelivery.net`, or an emulator's origin) and the
/// hash. `None` for a record without delivery URLs (a draft).
fn base_and_hash(image: &Image) -> Option<(String, String)> {
    let first = image.variants.iter().flat_map(|v| v.iter()).next()?;
    let url = reqwest::Url::parse(first).ok()?;
    let origin = url.origin().ascii_serialization();
    let mut segments = url.path_segments()?;
    let mut base = origin;
    let mut hash = segments.next()?;
    if hash == "cdn-cgi" && segments.next() == Some("imagedelivery") {
        base.push_str("/cdn-cgi/imagedelivery");
        hash = segments.next()?;
    }
    Some((base, hash.to_string()))
}

/// The delivery URL of `record` (an image the API returned) for `variant`: a
/// name the record lists, or flexible-variant options, built by the SDK on the
/// record's own base URL and account hash. The SDK refuses a flexible variant of
/// an image that requires signed URLs; an unknown name is a usage error naming
/// the known ones. `cfimg url image` and `cfimg sign` both build through here.
pub fn record_delivery_url(record: &Image, variant_text: &str) -> CliResult<DeliveryUrl> {
    let id = record.id.as_deref().unwrap_or("?");
    let (base, hash) = base_and_hash(record).ok_or_else(|| {
        CliError::new(format!(
            "image {id} has no delivery URLs (is it still a draft?)"
        ))
    })?;
    let variant = variant(variant_text)?;
    if let Variant::Named(name) = &variant {
        let known: Vec<&str> = record
            .variants
            .iter()
            .flat_map(|v| v.iter())
            .filter_map(|u| u.rsplit('/').next())
            .collect();
        if !known.contains(&name.as_str()) {
            return Err(CliError::usage(format!(
                "image {id} has no variant named {name:?} (known: {}); flexible variants look like w=400,h=300",
                known.join(", ")
            )));
        }
    }
    let url = DeliveryUrl::for_image(hash, record, variant).map_err(usage)?;
    if base == "https://imagedelivery.net" {
        Ok(url)
    } else {
        Ok(url.with_base_url(&base)?)
    }
}

async fn image(args: ImageArgs, ctx: Option<&Backend>) -> CliResult<()> {
    let mut url = match &args.account_hash {
        Some(hash) => DeliveryUrl::new(hash.as_str(), args.id.as_str(), variant(&args.variant)?)
            .and_then(|u| u.require_signed_urls(args.signed_image))
            .map_err(usage)?,
        None => {
            let ctx = backend(ctx)?;
            let record = ctx.client.v1().get(&args.id).send().await?;
            record_delivery_url(&record, &args.variant)?
        }
    };
    if let Some(zone) = &args.zone {
        url = url.on_zone(zone).map_err(usage)?;
    }
    let (text, exp) = if args.sign {
        let ctx = backend(ctx)?;
        let key = match args.key {
            Some(key) => Some(key),
            None => super::keys::rotated_key(ctx).await?,
        };
        let key = sign::signing_key(&ctx.client, key.as_deref()).await?;
        let expiry = Expiry::after(args.expires_in, &SystemClock)?;
        (url.sign(&key, expiry), Some(expiry.unix_seconds()))
    } else {
        (url.url(), None)
    };
    if output::machine() {
        let mut value = json!({"url": text});
        if let Some(exp) = exp {
            value["exp"] = exp.into();
        }
        print_json(&value);
    } else {
        print_out(&format!("{text}\n"));
        if ctx.is_some_and(Backend::local) && args.zone.is_none() {
            output::note(output::LOCAL_URL_NOTE);
        }
    }
    Ok(())
}

fn transform(args: TransformArgs) -> CliResult<()> {
    let options = options(Some(&args.options))?;
    let url = match &args.zone {
        Some(zone) => TransformUrl::new(zone, options, &args.source),
        None => TransformUrl::relative(options, &args.source),
    }
    .map_err(usage)?;
    if output::machine() {
        print_json(&json!({"url": url.url()}));
    } else {
        print_out(&format!("{}\n", url.url()));
    }
    Ok(())
}

/// The options as JSON, in their URL order, under the names they were written.
fn options_json(options: &TransformOptions) -> Value {
    let mut map = Map::new();
    for (key, value) in options.iter() {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
    Value::Object(map)
}

/// The options as `key=value` lines' pairs, in their URL order.
fn option_pairs(options: &TransformOptions) -> Vec<(String, String)> {
    options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(args: ParseArgs) -> CliResult<()> {
    let parsed = parse_url(args.url.trim()).map_err(usage)?;
    let pairs = match &parsed {
        ParsedUrl::Delivery {
            variant: Variant::Flexible(options),
            ..
        } => option_pairs(options),
        ParsedUrl::Transformation(t) => option_pairs(t.options()),
        _ => Vec::new(),
    };
    let value = match &parsed {
        ParsedUrl::Delivery {
            url,
            variant,
            exp,
            sig,
            ..
        } => {
            let variant = match variant {
                Variant::Named(name) => json!({"name": name}),
                Variant::Flexible(options) => json!({"options": options_json(options)}),
                _ => json!({"raw": url.variant()}),
            };
            json!({
                "kind": "delivery",
                "origin": url.origin(),
                "account_hash": url.account_hash(),
                "image_id": url.image_id(),
                "variant": variant,
                "exp": exp,
                "signed": sig.is_some(),
            })
        }
        ParsedUrl::Transformation(t) => {
            let source = match t.source() {
                Source::Path(path) => json!({"path": path}),
                Source::Url(url) => json!({"url": url}),
            };
            json!({
                "kind": "transformation",
                "zone": t.zone(),
                "options": options_json(t.options()),
                "source": source,
            })
        }
        _ => return Err(CliError::new("a URL of a kind this cfimg does not know")),
    };
    if output::machine() {
        print_json(&value);
        return Ok(());
    }
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<13} {v}\n"));
    line("kind:", value["kind"].as_str().unwrap_or_default());
    for (key, label) in [
        ("origin", "origin:"),
        ("zone", "zone:"),
        ("account_hash", "account hash:"),
        ("image_id", "image id:"),
    ] {
        if let Some(text) = value[key].as_str() {
            line(label, text);
        }
    }
    if let Some(name) = value["variant"]["name"].as_str() {
        line("variant:", name);
    }
    for (i, (key, v)) in pairs.iter().enumerate() {
        let label = if i == 0 { "options:" } else { "" };
        line(label, &format!("{key}={v}"));
    }
    for key in ["path", "url"] {
        if let Some(source) = value["source"][key].as_str() {
            line("source:", source);
        }
    }
    if let Some(exp) = value["exp"].as_i64() {
        let when = chrono::DateTime::from_timestamp(exp, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| exp.to_string());
        line("expires:", &when);
    }
    if value["signed"] == true {
        line("signed:", "yes (sig present; not verified)");
    }
    print_out(&out);
    Ok(())
}

async fn srcset(args: SrcsetArgs, ctx: Option<&Backend>) -> CliResult<()> {
    let options = options(args.options.as_deref())?;
    let mut responsive = match (&args.source, &args.id) {
        (Some(source), _) => {
            let zone = args.zone.as_deref().unwrap_or_default();
            ResponsiveImage::transformation(zone, source, options, &args.widths).map_err(usage)?
        }
        (None, Some(id)) => {
            let hosted = match &args.account_hash {
                Some(hash) => ResponsiveImage::hosted(hash, id, options, &args.widths),
                None => {
                    let ctx = backend(ctx)?;
                    let record = ctx.client.v1().get(id).send().await?;
                    let (_, hash) = base_and_hash(&record).ok_or_else(|| {
                        CliError::new(format!(
                            "image {id} has no delivery URLs (is it still a draft?)"
                        ))
                    })?;
                    ResponsiveImage::for_image(&hash, &record, options, &args.widths)
                }
            };
            let hosted = hosted.map_err(usage)?;
            match &args.zone {
                Some(zone) => hosted.on_zone(zone).map_err(usage)?,
                None => hosted,
            }
        }
        (None, None) => return Err(CliError::usage("give an image id or --source")),
    };
    if let Some(sizes) = &args.sizes {
        responsive = responsive.sizes(sizes).map_err(usage)?;
    }
    let (markup, kind) = match args.markup {
        MarkupArg::Srcset => (responsive.srcset(), Markup::Img),
        MarkupArg::Img => (responsive.img(&args.alt), Markup::Img),
        MarkupArg::Picture => (responsive.picture(&args.alt), Markup::Picture),
    };
    let transformations = responsive.transformations(kind);
    if output::machine() {
        print_json(&json!({
            "markup": markup,
            "srcset": responsive.srcset(),
            "sizes": responsive.sizes_value(),
            "src": responsive.src(),
            "widths": responsive.widths(),
            "transformations": transformations,
        }));
    } else {
        print_out(&format!("{markup}\n"));
        output::note(&format!(
            "{transformations} distinct transformation URL(s): each one a browser fetches is billed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(urls: &[&str]) -> Image {
        Image {
            id: Some("a/b".into()),
            variants: Some(
                urls.iter()
                    .map(|u| u.to_string())
                    .collect::<Vec<_>>()
                    .into(),
            ),
            ..Image::default()
        }
    }

    #[test]
    fn the_base_and_hash_come_from_the_record() {
        let on_cloudflare = record(&["https://imagedelivery.net/Hash_1/a%2Fb/public"]);
        assert_eq!(
            base_and_hash(&on_cloudflare),
            Some(("https://imagedelivery.net".into(), "Hash_1".into()))
        );
        let local = record(&["http://127.0.0.1:8787/h2/a/b/public"]);
        assert_eq!(
            base_and_hash(&local),
            Some(("http://127.0.0.1:8787".into(), "h2".into()))
        );
        let zone = record(&["https://img.example.com/cdn-cgi/imagedelivery/h3/a/b/thumb"]);
        assert_eq!(
            base_and_hash(&zone),
            Some((
                "https://img.example.com/cdn-cgi/imagedelivery".into(),
                "h3".into()
            ))
        );
        assert_eq!(base_and_hash(&record(&[])), None);
    }

    #[test]
    fn record_urls_are_built_for_listed_names_and_options() {
        let i = record(&[
            "https://imagedelivery.net/h/a/b/public",
            "https://imagedelivery.net/h/a/b/thumb",
        ]);
        assert_eq!(
            record_delivery_url(&i, "thumb").unwrap().url(),
            "https://imagedelivery.net/h/a/b/thumb"
        );
        assert_eq!(
            record_delivery_url(&i, "w=400,h=300").unwrap().url(),
            "https://imagedelivery.net/h/a/b/w=400,h=300"
        );
        let e = record_delivery_url(&i, "nope").unwrap_err();
        assert!(e.message.contains("public, thumb"), "{}", e.message);
        assert!(record_delivery_url(&record(&[]), "public").is_err());
        let signed = Image {
            require_signed_urls: true,
            ..i
        };
        assert!(record_delivery_url(&signed, "thumb").is_ok());
        let e = record_delivery_url(&signed, "w=400").unwrap_err();
        assert_eq!(e.exit, crate::error::EXIT_USAGE);
        assert!(e.message.contains("named variants only"), "{}", e.message);
    }

    #[test]
    fn variants_are_names_or_checked_options() {
        assert_eq!(variant("thumb").unwrap(), Variant::Named("thumb".into()));
        assert_eq!(
            variant("w=400").unwrap(),
            Variant::Flexible(TransformOptions::new().width(400))
        );
        let e = variant("w=0").unwrap_err();
        assert_eq!(e.exit, crate::error::EXIT_USAGE);
    }
}
