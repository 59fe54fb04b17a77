//! Turning `upload` arguments into a list of things to upload: files, directories
//! (recursively), glob patterns (`globset`: `*`, `?`, `**`, `[abc]`, `{png,svg}`),
//! URLs and `-` for stdin.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// File extensions taken from a directory walk (files named explicitly are always
/// tried, whatever their name).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "svg", "heic", "heif", "avif",
];

/// One thing to upload, or an argument that named nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A local file.
    File(PathBuf),
    /// A URL Cloudflare fetches.
    Url(String),
    /// `-`: the bytes on stdin (read whole by `upload` before sending).
    Stdin,
    /// Bytes already in memory (stdin once read), with the file name to record.
    Bytes {
        /// The file name Cloudflare records.
        name: String,
        /// The image.
        data: bytes::Bytes,
    },
    /// An argument that could not be turned into anything to upload, and why.
    Missing {
        /// The argument as given.
        arg: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl Input {
    /// How the input is shown in progress and summaries.
    pub fn display(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Url(u) => redact_url(u),
            Input::Stdin | Input::Bytes { .. } => "stdin".to_string(),
            Input::Missing { arg, .. } if is_url(arg) => redact_url(arg),
            Input::Missing { arg, .. } => arg.clone(),
        }
    }
}

/// A URL fit to print: the SDK's redaction (no user info, query as `?…`).
pub use cloudflare_images::upload::redact_url;

/// `message` with every secret part of `url` (user info, query, fragment, and the
/// URL itself) replaced, for errors that might quote the URL.
pub fn scrub(message: &str, url: &str) -> String {
    let mut text = message.replace(url, &redact_url(url));
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut secrets: Vec<&str> = Vec::new();
    if let Some((userinfo, _)) = rest[..end].rsplit_once('@') {
        secrets.push(userinfo);
        secrets.extend(userinfo.split(':'));
    }
    if let Some((_, after)) = rest.split_once('?') {
        let query = after.split('#').next().unwrap_or(after);
        secrets.push(query);
        secrets.extend(
            query
                .split('&')
                .filter_map(|kv| kv.split_once('=').map(|(_, v)| v)),
        );
    }
    if let Some((_, fragment)) = rest.split_once('#') {
        secrets.push(fragment);
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets.into_iter().filter(|s| s.len() >= 3) {
        text = text.replace(secret, "…");
    }
    text
}

/// The result of expanding `upload` arguments.
#[derive(Debug, Default)]
pub struct Expanded {
    /// Inputs in a stable order, duplicates removed.
    pub inputs: Vec<Input>,
    /// For each input, its key: a file's path relative to the directory (or the
    /// fixed part of the pattern) that named it, `/`-separated, or its name when
    /// named explicitly; a URL's [`url_key`](crate::cmd::upload::migrate::url_key); the
    /// argument otherwise. The same on every machine whatever the mount point.
    pub keys: Vec<String>,
    /// Files found in directories that were skipped for not looking like images.
    pub skipped: Vec<PathBuf>,
}

/// Whether `arg` is an http(s) URL.
pub fn is_url(arg: &str) -> bool {
    let lower = arg.get(..8).unwrap_or(arg).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Expands `upload` arguments.
pub fn expand(args: &[String]) -> Expanded {
    let mut out = Expanded::default();
    let mut seen = BTreeSet::new();
    // The directory the keys of the files found next are relative to.
    let root = std::cell::RefCell::new(PathBuf::new());
    let mut push = |out: &mut Expanded, input: Input| {
        let seen_key = match &input {
            Input::File(p) => p.display().to_string(),
            other => other.display(),
        };
        if seen.insert(seen_key) {
            let key = match &input {
                Input::File(p) => relative_key(p, &root.borrow()),
                Input::Url(u) => crate::cmd::upload::migrate::url_key(u),
                Input::Missing { arg, .. } => arg.clone(),
                other => other.display(),
            };
            out.keys.push(key);
            out.inputs.push(input);
        }
    };
    for arg in args {
        *root.borrow_mut() = PathBuf::from(arg);
        if arg == "-" {
            push(&mut out, Input::Stdin);
            continue;
        }
        if is_url(arg) {
            push(&mut out, Input::Url(arg.clone()));
            continue;
        }
        let path = Path::new(arg);
        if has_wildcard(arg) && !path.exists() {
            *root.borrow_mut() = glob_base(arg);
            let matches = match glob(arg) {
                Ok(m) => m,
                Err(reason) => {
                    push(
                        &mut out,
                        Input::Missing {
                            arg: arg.clone(),
                            reason,
                        },
                    );
                    continue;
                }
            };
            if matches.is_empty() {
                push(
                    &mut out,
                    Input::Missing {
                        arg: arg.clone(),
                        reason: "no file matches this pattern".into(),
                    },
                );
            }
            for m in matches {
                if m.is_dir() {
                    walk_dir(&m, &mut out, &mut push);
                } else {
                    push(&mut out, Input::File(m));
                }
            }
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk_dir(path, &mut out, &mut push),
            Ok(_) => {
                *root.borrow_mut() = path.parent().map(Path::to_path_buf).unwrap_or_default();
                push(&mut out, Input::File(path.to_path_buf()))
            }
            Err(e) => push(
                &mut out,
                Input::Missing {
                    arg: arg.clone(),
                    reason: io_reason(&e),
                },
            ),
        }
    }
    out
}

/// `path` relative to `root`, `/`-separated, without `.` or `..` segments;
/// its file name when it is not under `root`.
fn relative_key(path: &Path, root: &Path) -> String {
    use std::path::Component;
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() || rel.components().any(|c| matches!(c, Component::ParentDir)) {
        return path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
    }
    parts.join("/")
}

/// The fixed part of a glob pattern: its components before the first wildcard.
fn glob_base(pattern: &str) -> PathBuf {
    let mut base = if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    for c in pattern
        .split('/')
        .filter(|c| !c.is_empty())
        .take_while(|c| !has_wildcard(c))
    {
        base.push(c);
    }
    base
}

/// A short reason for an I/O error, without the OS error number.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn looks_like_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Adds the image files under `dir` (recursively, hidden entries skipped, sorted).
fn walk_dir(dir: &Path, out: &mut Expanded, push: &mut impl FnMut(&mut Expanded, Input)) {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                push(
                    out,
                    Input::Missing {
                        arg: d.display().to_string(),
                        reason: io_reason(&e),
                    },
                );
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if is_hidden(&path) {
                continue;
            }
            // Follows symlinks, like `ls -L`; a dangling link is skipped.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) if m.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    for f in files {
        if looks_like_image(&f) {
            push(out, Input::File(f));
        } else {
            out.skipped.push(f);
        }
    }
}

/// The paths matching a glob pattern (`globset` syntax: `*` and `?` within one
/// path component, `**` across directories, `[abc]`, `[!abc]`, `{png,svg}`), sorted.
/// Components are separated by `/`. As in shells, entries whose name starts
/// with `.` match only when the pattern names a component starting with `.`.
pub fn glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let absolute = pattern.starts_with('/');
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let split = components
        .iter()
        .position(|c| has_wildcard(c))
        .unwrap_or(components.len());
    let mut base = if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    for c in &components[..split] {
        base.push(c);
    }
    let rest = &components[split..];
    let mut results = BTreeSet::new();
    if rest.is_empty() {
        if base.exists() {
            results.insert(base);
        }
        return Ok(results.into_iter().collect());
    }
    let matcher = globset::GlobBuilder::new(&rest.join("/"))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("invalid pattern: {}", e.kind()))?
        .compile_matcher();
    let recursive = rest.iter().any(|c| c.contains("**"));
    let max_depth = if recursive { usize::MAX } else { rest.len() };
    let hidden_ok = rest.iter().any(|c| c.starts_with('.'));
    // (directory, its path relative to `base`, its depth below `base`)
    let mut stack = vec![(base.clone(), PathBuf::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        for entry in list_dir(&dir) {
            let Some(name) = entry.file_name().map(|n| n.to_os_string()) else {
                continue;
            };
            if !hidden_ok && name.to_string_lossy().starts_with('.') {
                continue;
            }
            let rel = rel.join(&name);
            if matcher.is_match(&rel) {
                results.insert(entry.clone());
            }
            // `**` does not follow symbolic links to directories (no cycles).
            let descend = if recursive {
                std::fs::symlink_metadata(&entry).is_ok_and(|m| m.is_dir())
            } else {
                entry.is_dir()
            };
            if descend && depth + 1 < max_depth {
                stack.push((entry, rel, depth + 1));
            }
        }
    }
    Ok(results.into_iter().collect())
}

fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let read = if dir.as_os_str().is_empty() {
        std::fs::read_dir(".")
    } else {
        std::fs::read_dir(dir)
    };
    let Ok(entries) = read else { return Vec::new() };
    let mut names: Vec<PathBuf> = entries.flatten().map(|e| dir.join(e.file_name())).collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(root: &Path, pattern: &str) -> Vec<String> {
        glob(&format!("{}/{pattern}", root.display()))
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn patterns() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        for f in [
            "g.png",
            "p.png",
            "x.png",
            "a.svg",
            "b.jpg",
            ".h.png",
            "d/y.png",
            "d/e/z.png",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        assert_eq!(names(root, "[gp]*.png"), ["g.png", "p.png"]);
        assert_eq!(
            names(root, "*.{png,svg}"),
            ["a.svg", "g.png", "p.png", "x.png"]
        );
        assert_eq!(names(root, "?.jpg"), ["b.jpg"]);
        assert_eq!(names(root, "[!gp].png"), ["x.png"]);
        assert_eq!(names(root, ".*.png"), [".h.png"]);
        assert_eq!(
            names(root, "**/*.png"),
            ["d/e/z.png", "d/y.png", "g.png", "p.png", "x.png"]
        );
        assert_eq!(names(root, "*/*.png"), ["d/y.png"]);
        assert!(glob("[unclosed*.png").is_err());
    }

    #[test]
    fn redaction() {
        let url = "http://user:SECRET@host.example/x.png?sig=SECRET#SECRET";
        assert_eq!(redact_url(url), "http://host.example/x.png?…");
        assert_eq!(redact_url("http://SECRET@[bad/x?SECRET"), "http://[bad/x?…");
        let m = scrub(&format!("could not fetch {url}: user SECRET refused"), url);
        assert!(!m.contains("SECRET"), "{m}");
    }

    #[test]
    fn urls() {
        assert!(is_url("https://example.com/a.png"));
        assert!(is_url("HTTP://x"));
        assert!(!is_url("ftp://x"));
        assert!(!is_url("photos/http.png"));
    }

    #[test]
    fn expands_files_dirs_globs_and_urls() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for f in [
            "a/1.png",
            "a/b/2.JPG",
            "a/notes.txt",
            ".git/x.png",
            "top.webp",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        let r = root.display().to_string();
        let e = expand(&[
            format!("{r}/a"),
            format!("{r}/*.webp"),
            format!("{r}/**/*.png"),
            format!("{r}/nope.png"),
            format!("{r}/*.gif"),
            "https://example.com/x.png".into(),
            "-".into(),
            format!("{r}/a/1.png"),
        ]);
        let shown: Vec<String> = e
            .inputs
            .iter()
            .map(|i| i.display().replace(&r, ""))
            .collect();
        assert_eq!(
            shown,
            [
                "/a/1.png",
                "/a/b/2.JPG",
                "/top.webp",
                "/nope.png",
                "/*.gif",
                "https://example.com/x.png",
                "stdin"
            ]
        );
        assert!(
            matches!(&e.inputs[3], Input::Missing { reason, .. } if reason.contains("no such"))
        );
        assert!(
            matches!(&e.inputs[4], Input::Missing { reason, .. } if reason.contains("pattern"))
        );
        assert_eq!(e.skipped, vec![root.join("a/notes.txt")]);
        assert_eq!(
            e.keys,
            [
                "1.png",
                "b/2.JPG",
                "top.webp",
                &format!("{r}/nope.png"),
                &format!("{r}/*.gif"),
                "example.com/x.png",
                "stdin"
            ]
        );
    }

    #[test]
    fn keys_do_not_depend_on_where_the_tree_is() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("lib/2023")).unwrap();
        std::fs::write(root.join("lib/2023/cat.png"), b"x").unwrap();
        let r = root.display().to_string();
        let keys = |arg: String| expand(&[arg]).keys;
        assert_eq!(keys(format!("{r}/lib")), ["2023/cat.png"]);
        assert_eq!(keys(format!("{r}/lib/")), ["2023/cat.png"]);
        assert_eq!(keys(format!("{r}/lib/**/*.png")), ["2023/cat.png"]);
        assert_eq!(keys(format!("{r}/lib/*")), ["2023/cat.png"]);
        assert_eq!(keys(format!("{r}/lib/2023/cat.png")), ["cat.png"]);
    }
}
