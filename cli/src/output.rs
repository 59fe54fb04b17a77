//! Output helpers: aligned tables, CSV, JSON, sizes and durations.

use std::io::Write;
use std::time::Duration;

use cloudflare_images::types::Image;
use serde_json::Value;

/// A plain-text table with a header row; columns padded to their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (cells beyond the header are dropped, missing ones left empty).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells
            .into_iter()
            .map(|c| c.into().replace(['\n', '\t'], " "))
            .collect();
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// The table as text, one line per row, trailing spaces trimmed.
    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w - width(cell)));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// One CSV field, quoted when it needs to be (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV line (with its line break).
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// How results are printed: for people, as one JSON document (`--json`), or as
/// JSON lines (`--jsonl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Tables and sentences.
    #[default]
    Human,
    /// One JSON document per command (an array for lists).
    Json,
    /// One compact JSON object per line (a list streams one line per item).
    Jsonl,
}

/// The output settings of this process, set once by `main`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// How results are printed.
    pub mode: Mode,
    /// `-q`: no notes on stderr (errors still are).
    pub quiet: bool,
    /// `-v`: full tables and more detail.
    pub verbose: bool,
}

/// The flags every command takes, which set the output [`Settings`].
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct GlobalArgs {
    /// Print one JSON document on stdout: an object, or an array for lists (errors
    /// too, as {"error": ...}).
    #[arg(long, global = true, conflicts_with = "jsonl")]
    pub json: bool,
    /// Print JSON lines on stdout: one compact object per line, one per item for
    /// lists (streamed).
    #[arg(long, global = true)]
    pub jsonl: bool,
    /// No notes on stderr (such as "using the local emulator"); errors still.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: `upload` prints a row for every input.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

impl GlobalArgs {
    /// The output settings these flags ask for.
    pub fn settings(&self) -> Settings {
        Settings {
            mode: if self.json {
                Mode::Json
            } else if self.jsonl {
                Mode::Jsonl
            } else {
                Mode::Human
            },
            quiet: self.quiet,
            verbose: self.verbose,
        }
    }
}

static SETTINGS: std::sync::OnceLock<Settings> = std::sync::OnceLock::new();

/// Sets the process's output settings (the first call wins).
pub fn configure(settings: Settings) {
    let _ = SETTINGS.set(settings);
}

/// The process's output settings.
pub fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or_default()
}

/// Whether results are machine-readable (`--json` or `--jsonl`).
pub fn machine() -> bool {
    settings().mode != Mode::Human
}

/// Whether `-v` was given.
pub fn verbose() -> bool {
    settings().verbose
}

/// A note for people on stderr (`cfimg: note: …`), unless `-q`.
pub fn note(text: &str) {
    if !settings().quiet {
        eprintln!("cfimg: note: {text}");
    }
}

/// An informational line on stderr (`cfimg: …`), unless `-q`.
pub fn info(text: &str) {
    if !settings().quiet {
        eprintln!("cfimg: {text}");
    }
}

/// The note printed when delivery or upload URLs point at the embedded emulator.
pub const LOCAL_URL_NOTE: &str =
    "the local emulator stops when cfimg exits; use `cfimg serve` to keep delivery URLs reachable";

/// Prints one JSON document on stdout: pretty under `--json`, one line under
/// `--jsonl`; ignores a closed pipe.
pub fn print_json(value: &Value) {
    let text = if settings().mode == Mode::Jsonl {
        value.to_string()
    } else {
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    };
    print_out(&format!("{text}\n"));
}

/// Prints a list: one JSON array under `--json` (`[]` when empty), one line per
/// item under `--jsonl` (nothing when empty).
pub fn print_json_items(items: Vec<Value>) {
    if settings().mode == Mode::Jsonl {
        let mut text = String::new();
        for item in &items {
            text.push_str(&item.to_string());
            text.push('\n');
        }
        print_out(&text);
    } else {
        print_json(&Value::Array(items));
    }
}

/// Writes to stdout, ignoring a closed pipe (`cfimg list | head`).
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `bytes` as a short human size: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration as `850 ms` or `2.4 s`.
pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// An image as JSON (the API's field names).
pub fn image_json(image: &Image) -> Value {
    serde_json::to_value(image).unwrap_or(Value::Null)
}

/// The image's metadata as compact JSON (`{}` when none).
pub fn metadata_text(image: &Image) -> String {
    image
        .meta
        .as_ref()
        .map(|m| Value::Object(m.0.clone()).to_string())
        .unwrap_or_else(|| "{}".into())
}

/// The columns of image listings.
pub const IMAGE_COLUMNS: [&str; 6] = [
    "ID", "FILENAME", "UPLOADED", "SIGNED", "CREATOR", "METADATA",
];

/// An image as the cells of [`IMAGE_COLUMNS`].
pub fn image_cells(image: &Image) -> [String; 6] {
    [
        image.id.clone().unwrap_or_default(),
        image.filename.clone().unwrap_or_default(),
        if image.draft == Some(true) {
            // A direct creator upload whose file has not arrived yet.
            "(draft)".into()
        } else {
            image
                .uploaded
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
        },
        if image.require_signed_urls {
            "yes".into()
        } else {
            "no".into()
        },
        image.creator.clone().unwrap_or_default(),
        metadata_text(image),
    ]
}

/// An image as `key: value` lines for `get`, `edit` and friends.
pub fn image_details(image: &Image) -> String {
    let mut t = String::new();
    let mut line = |k: &str, v: &str| t.push_str(&format!("{k:<12} {v}\n"));
    let [id, filename, uploaded, signed, creator, meta] = image_cells(image);
    line("id:", &id);
    line("filename:", &filename);
    line("uploaded:", &uploaded);
    if image.draft == Some(true) {
        line("draft:", "yes: no file yet at its one-time upload URL");
    }
    line(
        "signed URLs:",
        if signed == "yes" {
            "required"
        } else {
            "not required"
        },
    );
    if !creator.is_empty() {
        line("creator:", &creator);
    }
    line("metadata:", &meta);
    for (i, url) in image.variants.iter().flat_map(|v| v.iter()).enumerate() {
        line(if i == 0 { "variants:" } else { "" }, url);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_alignment() {
        let mut t = Table::new(["A", "LONG"]);
        t.row(["xyz", "1"]);
        t.row(["é", ""]);
        assert_eq!(t.render(), "A    LONG\nxyz  1\né\n");
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(
            csv_line(&["a", "b,c", "say \"hi\""]),
            "a,\"b,c\",\"say \"\"hi\"\"\"\n"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
