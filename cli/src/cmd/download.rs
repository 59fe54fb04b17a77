//! `cfimg download ID`: an image's original bytes, to a file or stdout.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::backend::Backend;
use crate::error::{CliError, CliResult};
use crate::output::{self, human_bytes, print_json, print_out};

/// The help shown after `cfimg download`'s options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg download products/cat                 # saved under the image's file name
  cfimg download products/cat -o cat.png
  cfimg download products/cat -o - | file -";

/// Arguments of `cfimg download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The image id.
    pub id: String,
    /// Output file or directory; `-` for stdout. Default: the image's file name.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// A file name for a downloaded image: its own file name, else its id.
fn default_name(filename: Option<&str>, id: &str, content_type: Option<&str>) -> String {
    if let Some(name) = filename
        .and_then(|f| Path::new(f).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
    {
        return name.to_string();
    }
    let base: String = id
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    let ext = match content_type.unwrap_or("") {
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "image/svg+xml" => ".svg",
        "image/avif" => ".avif",
        "image/heic" => ".heic",
        _ => "",
    };
    format!("{base}{ext}")
}

/// Refuses an output path whose folder does not exist (or is not a folder),
/// before anything is downloaded.
fn check_parent(path: &Path) -> CliResult<()> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(CliError::usage(format!(
            "cannot save to {}: {} is not a folder",
            path.display(),
            parent.display()
        ))),
        Err(_) => Err(CliError::usage(format!(
            "cannot save to {}: the folder {} does not exist",
            path.display(),
            parent.display()
        ))),
    }
}

/// Runs `cfimg download`.
pub async fn run(args: DownloadArgs, ctx: &Backend) -> CliResult<()> {
    let (client, id, out) = (&ctx.client, args.id.as_str(), args.output.as_deref());
    let started = Instant::now();
    if let Some(p) = out.filter(|p| *p != Path::new("-") && !p.is_dir()) {
        check_parent(p)?;
    }
    let blob = client.v1().blobs().get(id).send().await?;
    let content_type = blob.content_type().map(str::to_string);
    if out == Some(Path::new("-")) {
        let mut stdout = tokio::io::stdout();
        let mut stream = Box::pin(blob.into_stream());
        while let Some(chunk) = stream.next().await {
            stdout.write_all(&chunk?).await?;
        }
        stdout.flush().await?;
        return Ok(());
    }
    let path: PathBuf = match out {
        Some(p) if !p.is_dir() => p.to_path_buf(),
        dir => {
            let image = client.v1().get(id).send().await.ok();
            let name = default_name(
                image.as_ref().and_then(|i| i.filename.as_deref()),
                id,
                content_type.as_deref(),
            );
            dir.map(|d| d.join(&name))
                .unwrap_or_else(|| PathBuf::from(name))
        }
    };
    if path.exists() && !args.force {
        return Err(CliError::usage(format!(
            "{} exists; pass --force to overwrite it",
            path.display()
        )));
    }
    // Written to a temporary file next to `path`, renamed into place when complete.
    let written = blob.save_to(&path).await?;
    if output::machine() {
        print_json(&json!({
            "id": id, "path": path.display().to_string(), "bytes": written,
            "content_type": content_type,
        }));
    } else {
        print_out(&format!(
            "saved {id} to {} ({}, {}) in {}\n",
            path.display(),
            human_bytes(written),
            content_type.as_deref().unwrap_or("unknown type"),
            output::human_duration(started.elapsed())
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names() {
        assert_eq!(default_name(Some("cat.png"), "x", None), "cat.png");
        assert_eq!(default_name(Some("../../etc/passwd"), "x", None), "passwd");
        assert_eq!(
            default_name(Some(".."), "a/b", Some("image/png")),
            "a_b.png"
        );
        assert_eq!(default_name(None, "id", Some("image/jpeg")), "id.jpg");
        assert_eq!(default_name(None, "id", None), "id");
    }
}
