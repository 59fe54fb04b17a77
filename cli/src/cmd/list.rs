//! `cfimg list`: the v2 listing (continuation tokens, metadata filters) as a
//! table, JSON lines or CSV; `--v1` walks the deprecated page-numbered listing.

use clap::Args;
use cloudflare_images::pagination::{FilterValue, MetadataFilter};
use cloudflare_images::types::{Image, V2ListSortOrder};
use cloudflare_images::Client;
use futures_util::TryStreamExt;

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::output::{self, Table, IMAGE_COLUMNS};

/// Output formats of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// One JSON object per image per line (as `--jsonl`).
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// Sort orders of the v2 listing (by upload time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    /// Oldest first.
    Asc,
    /// Newest first (Cloudflare's default).
    Desc,
}

/// The help shown after `cfimg list`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg list --limit 20
  cfimg list --creator user-42 --sort asc --jsonl
  cfimg list --meta status=active --meta-filter 'priority[gte:number]=2'
  cfimg list --meta-filter 'tag[in]=cat|dog' --format csv > images.csv

Filter operators: eq, gt, gte, lt, lte, in (values separated by |), each optionally
typed as :string, :number or :boolean. Untyped, gt/gte/lt/lte compare numbers and
eq/in strings (--meta KEY=VALUE is a string equality). At most 5 filters, all of
which must match.";

/// Arguments of `cfimg list`: what to list, and how to print it.
#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    /// Only images with this creator (empty: images without a creator).
    #[arg(long)]
    pub creator: Option<String>,
    /// Order by upload time.
    #[arg(long, value_enum)]
    pub sort: Option<Sort>,
    /// At most this many images.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Images per request (10..=10000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=10000))]
    pub per_page: Option<u32>,
    /// Metadata equals a string, KEY=VALUE (KEY may be a dotted path); repeatable.
    #[arg(long = "meta", value_parser = parse_meta_eq, value_name = "KEY=VALUE")]
    pub meta: Vec<MetadataFilter>,
    /// Metadata filter with an operator, PATH[OP(:TYPE)]=VALUE; repeatable.
    #[arg(long = "meta-filter", value_parser = parse_meta_filter, value_name = "FILTER")]
    pub meta_filter: Vec<MetadataFilter>,
    /// Output format (instead of --json or --jsonl).
    #[arg(long, value_enum, conflicts_with_all = ["json", "jsonl"])]
    pub format: Option<Format>,
    /// Use the deprecated v1 listing (page numbers; no sort or filters).
    #[arg(long)]
    pub v1: bool,
}

impl ListArgs {
    /// Every metadata filter (`--meta`, then `--meta-filter`), combined with AND.
    fn filters(&self) -> impl Iterator<Item = &MetadataFilter> {
        self.meta.iter().chain(&self.meta_filter)
    }

    /// `--limit` as a count of images.
    fn limit(&self) -> Option<usize> {
        self.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX))
    }
}

const OPS: &[&str] = &["eq", "gt", "gte", "lt", "lte", "in"];
const TYPES: &[&str] = &["string", "number", "boolean"];

/// `--meta key=value`: `meta.key` equals the string `value` (`key` may be a
/// dotted path). Numbers and booleans need `--meta-filter 'key[eq:number]=2'`.
pub fn parse_meta_eq(text: &str) -> Result<MetadataFilter, String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))?;
    let key = key.trim();
    let key = key.strip_prefix("meta.").unwrap_or(key);
    if key.contains(['[', ']']) {
        return Err(format!(
            "invalid metadata key {key:?} (use --meta-filter for operators)"
        ));
    }
    let filter = MetadataFilter::eq(key, value);
    filter.validate().map_err(|e| e.to_string())?;
    Ok(filter)
}

/// A filter value of the given type.
fn typed_value(kind: &str, raw: &str, text: &str) -> Result<FilterValue, String> {
    match kind {
        "string" => Ok(FilterValue::from(raw)),
        "number" => {
            if let Ok(n) = raw.trim().parse::<i64>() {
                Ok(FilterValue::from(n))
            } else {
                raw.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(FilterValue::from)
                    .ok_or_else(|| format!("{text:?}: {raw:?} is not a number"))
            }
        }
        "boolean" => match raw.trim() {
            "true" => Ok(FilterValue::from(true)),
            "false" => Ok(FilterValue::from(false)),
            _ => Err(format!("{text:?}: {raw:?} is not true or false")),
        },
        other => Err(format!(
            "{text:?}: unknown type {other:?} (one of {})",
            TYPES.join(", ")
        )),
    }
}

/// `--meta-filter 'path[op:type]=value'`, e.g. `priority[gte:number]=1` or
/// `tag[in]=a|b`. Without a type, `gt`/`gte`/`lt`/`lte` compare numbers and
/// `eq`/`in` strings; without an operator, it is `eq`.
pub fn parse_meta_filter(text: &str) -> Result<MetadataFilter, String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected PATH[OP]=VALUE, got {text:?}"))?;
    let key = key.trim();
    let key = key.strip_prefix("meta.").unwrap_or(key);
    let (path, op) = match key.split_once('[') {
        Some((path, rest)) => {
            let op = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("{text:?}: missing ']' after the operator"))?;
            (path, op)
        }
        None => (key, "eq"),
    };
    let (name, kind) = match op.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (op, None),
    };
    if !OPS.contains(&name) {
        return Err(format!(
            "{text:?}: unknown operator {name:?} (one of {})",
            OPS.join(", ")
        ));
    }
    let kind = kind.unwrap_or(match name {
        "eq" | "in" => "string",
        _ => "number",
    });
    let filter = if name == "in" {
        let values = value
            .split('|')
            .map(|v| typed_value(kind, v, text))
            .collect::<Result<Vec<_>, _>>()?;
        MetadataFilter::in_(path, values)
    } else {
        let v = typed_value(kind, value, text)?;
        match name {
            "gt" => MetadataFilter::gt(path, v),
            "gte" => MetadataFilter::gte(path, v),
            "lt" => MetadataFilter::lt(path, v),
            "lte" => MetadataFilter::lte(path, v),
            _ => MetadataFilter::eq(path, v),
        }
    };
    filter.validate().map_err(|e| format!("{text:?}: {e}"))?;
    Ok(filter)
}

/// Streams pages of the v2 listing (the SDK's [`V2Images`](cloudflare_images::pagination::V2Images)) to `on_page` until
/// done or `limit` is reached. Returns the number of images passed on.
pub async fn v2_pages(
    client: &Client,
    q: &ListArgs,
    mut on_page: impl FnMut(&[Image]) -> CliResult<()>,
) -> CliResult<usize> {
    let mut pager = client.v2().list_all().filters(q.filters().cloned());
    if let Some(c) = &q.creator {
        pager = pager.creator(c.clone());
    }
    if let Some(n) = q.per_page {
        pager = pager.per_page(n);
    }
    if let Some(s) = q.sort {
        pager = pager.sort_order(match s {
            Sort::Asc => V2ListSortOrder::Asc,
            Sort::Desc => V2ListSortOrder::Desc,
        });
    }
    let mut pages = pager.pages();
    let mut seen = 0usize;
    while let Some(page) = pages.try_next().await? {
        let mut images = page.images;
        if let Some(limit) = q.limit() {
            images.truncate(limit.saturating_sub(seen));
        }
        seen += images.len();
        on_page(&images)?;
        if q.limit().is_some_and(|l| seen >= l) {
            break;
        }
    }
    Ok(seen)
}

/// Streams pages of the deprecated v1 listing (the SDK's [`V1Images`](cloudflare_images::pagination::V1Images), page
/// numbers) to `on_page`.
pub async fn v1_pages(
    client: &Client,
    q: &ListArgs,
    mut on_page: impl FnMut(u32, &[Image]) -> CliResult<()>,
) -> CliResult<usize> {
    // `--pagination v1` asks for the deprecated listing on purpose.
    #[allow(deprecated)]
    let mut pager = client.v1().list_all();
    if let Some(c) = &q.creator {
        pager = pager.creator(c.clone());
    }
    if let Some(n) = q.per_page {
        pager = pager.per_page(n);
    }
    let mut pages = pager.pages();
    let mut seen = 0usize;
    while let Some(page) = pages.try_next().await? {
        let mut images = page.images;
        if let Some(limit) = q.limit() {
            images.truncate(limit.saturating_sub(seen));
        }
        seen += images.len();
        if !images.is_empty() {
            on_page(page.page, &images)?;
        }
        if q.limit().is_some_and(|l| seen >= l) {
            break;
        }
    }
    Ok(seen)
}

/// Runs `cfimg list`. `--format` (when given) wins; else `--json` prints one
/// array, `--jsonl` one image per line, and people get a table.
pub async fn run(q: ListArgs, ctx: &Backend) -> CliResult<()> {
    let client = &ctx.client;
    if q.v1 && (q.sort.is_some() || q.filters().next().is_some()) {
        return Err(CliError::usage(
            "--v1 lists by page number and takes neither --sort nor metadata filters",
        ));
    }
    #[derive(PartialEq)]
    enum Out {
        Table,
        Lines,
        Array,
        Csv,
    }
    let out = match (q.format, output::settings().mode) {
        (Some(Format::Table), _) => Out::Table,
        (Some(Format::Jsonl), _) | (None, output::Mode::Jsonl) => Out::Lines,
        (Some(Format::Csv), _) => Out::Csv,
        (None, output::Mode::Json) => Out::Array,
        (None, output::Mode::Human) => Out::Table,
    };
    let mut table = Table::new(IMAGE_COLUMNS);
    let mut array = Vec::new();
    let mut header_done = false;
    let mut emit = |images: &[Image]| -> CliResult<()> {
        match out {
            Out::Table => {
                for image in images {
                    table.row(output::image_cells(image));
                }
            }
            Out::Array => array.extend(images.iter().map(output::image_json)),
            Out::Lines => {
                let mut text = String::new();
                for image in images {
                    text.push_str(&output::image_json(image).to_string());
                    text.push('\n');
                }
                output::print_out(&text);
            }
            Out::Csv => {
                let mut text = String::new();
                if !header_done {
                    text.push_str(&output::csv_line(&IMAGE_COLUMNS.map(str::to_lowercase)));
                    header_done = true;
                }
                for image in images {
                    text.push_str(&output::csv_line(&output::image_cells(image)));
                }
                output::print_out(&text);
            }
        }
        Ok(())
    };
    let count = if q.v1 {
        v1_pages(client, &q, |_, images| emit(images)).await?
    } else {
        v2_pages(client, &q, &mut emit).await?
    };
    match out {
        Out::Table => {
            output::print_out(&table.render());
            if !output::settings().quiet {
                eprintln!("{count} image(s)");
            }
        }
        Out::Array => output::print_json(&serde_json::Value::Array(array)),
        Out::Csv if !header_done => {
            output::print_out(&output::csv_line(&IMAGE_COLUMNS.map(str::to_lowercase)));
        }
        _ => {}
    }
    // The JSON of an image carries its delivery URLs.
    if ctx.local() && count > 0 && matches!(out, Out::Array | Out::Lines) {
        output::note(output::LOCAL_URL_NOTE);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(f: Result<MetadataFilter, String>) -> (String, String) {
        f.unwrap().query_pair().unwrap()
    }

    #[test]
    fn meta_arguments() {
        assert_eq!(
            pair(parse_meta_eq("status=active")),
            ("meta.status[eq:string]".into(), "active".into())
        );
        assert_eq!(
            pair(parse_meta_eq("a.b=x=y")),
            ("meta.a.b[eq:string]".into(), "x=y".into())
        );
        assert!(parse_meta_eq("novalue").is_err());
        assert!(parse_meta_eq("p[gt]=1").is_err());
        assert!(parse_meta_eq("=1").is_err());
        assert_eq!(
            pair(parse_meta_filter("priority[gte:number]=1")),
            ("meta.priority[gte:number]".into(), "1".into())
        );
        assert_eq!(
            pair(parse_meta_filter("priority[lt]=2.5")),
            ("meta.priority[lt:number]".into(), "2.5".into())
        );
        assert_eq!(
            pair(parse_meta_filter("meta.tag[in]=a|b")),
            ("meta.tag[in:string]".into(), "a|b".into())
        );
        assert_eq!(
            pair(parse_meta_filter("public[eq:boolean]=true")),
            ("meta.public[eq:boolean]".into(), "true".into())
        );
        assert_eq!(
            pair(parse_meta_filter("status=active")),
            ("meta.status[eq:string]".into(), "active".into())
        );
        assert!(parse_meta_filter("p[like]=1").is_err());
        assert!(parse_meta_filter("p[gt:date]=1").is_err());
        assert!(parse_meta_filter("p[gt]=abc").is_err());
        assert!(parse_meta_filter("p[gt:string]=abc").is_err());
        assert!(parse_meta_filter("p[gt=1").is_err());
        assert!(parse_meta_filter("[gt]=1").is_err());
    }
}
