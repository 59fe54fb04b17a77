//! Turning `upload` arguments into a list of things to upload: files, directories
//! (recursively), glob patterns (`*`, `?`, `**`) and URLs.

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
            Input::Url(u) => u.clone(),
            Input::Missing { arg, .. } => arg.clone(),
        }
    }
}

/// The result of expanding `upload` arguments.
#[derive(Debug, Default)]
pub struct Expanded {
    /// Inputs in a stable order, duplicates removed.
    pub inputs: Vec<Input>,
    /// Files found in directories that were skipped for not looking like images.
    pub skipped: Vec<PathBuf>,
}

/// Whether `arg` is an http(s) URL.
pub fn is_url(arg: &str) -> bool {
    let lower = arg.get(..8).unwrap_or(arg).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Expands `upload` arguments.
pub fn expand(args: &[String]) -> Expanded {
    let mut out = Expanded::default();
    let mut seen = BTreeSet::new();
    let mut push = |out: &mut Expanded, input: Input| {
        let key = match &input {
            Input::File(p) => p.display().to_string(),
            other => other.display(),
        };
        if seen.insert(key) {
            out.inputs.push(input);
        }
    };
    for arg in args {
        if is_url(arg) {
            push(&mut out, Input::Url(arg.clone()));
            continue;
        }
        let path = Path::new(arg);
        if has_wildcard(arg) && !path.exists() {
            let matches = glob(arg);
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
            Ok(_) => push(&mut out, Input::File(path.to_path_buf())),
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

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` is
/// one character. A leading `.` must be matched literally, as in shells.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('?') => {
                pi += 1;
                ni += 1;
            }
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The paths matching a glob pattern, sorted. Components are separated by `/`;
/// `**` matches any number of directories (hidden ones excluded).
pub fn glob(pattern: &str) -> Vec<PathBuf> {
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
    let mut results = BTreeSet::new();
    match_components(&base, &components[split..], &mut results);
    results.into_iter().collect()
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

fn match_components(base: &Path, rest: &[&str], out: &mut BTreeSet<PathBuf>) {
    let Some((first, tail)) = rest.split_first() else {
        if !base.as_os_str().is_empty() && base.exists() {
            out.insert(base.to_path_buf());
        }
        return;
    };
    if *first == "**" {
        // Zero directories...
        match_components(base, tail, out);
        // ...or one more, then `**` again.
        for entry in list_dir(base) {
            if entry.is_dir() && !is_hidden(&entry) {
                match_components(&entry, rest, out);
            }
        }
        return;
    }
    if !has_wildcard(first) {
        match_components(&base.join(first), tail, out);
        return;
    }
    for entry in list_dir(base) {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if wildcard_match(first, &name) && (tail.is_empty() || entry.is_dir()) {
            match_components(&entry, tail, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.png", "cat.png"));
        assert!(wildcard_match("c?t.*", "cat.jpeg"));
        assert!(wildcard_match("*", "x"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(!wildcard_match("*.png", "cat.jpg"));
        assert!(!wildcard_match("*", ".hidden"));
        assert!(wildcard_match(".*", ".hidden"));
        assert!(wildcard_match("ünï*", "ünïcode"));
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
                "https://example.com/x.png"
            ]
        );
        assert!(
            matches!(&e.inputs[3], Input::Missing { reason, .. } if reason.contains("no such"))
        );
        assert!(
            matches!(&e.inputs[4], Input::Missing { reason, .. } if reason.contains("pattern"))
        );
        assert_eq!(e.skipped, vec![root.join("a/notes.txt")]);
    }
}
