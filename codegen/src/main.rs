//! `cargo codegen [--check]` and `cargo codegen extract --from <file> [--out <file>]`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Args, CommandFactory, Parser, Subcommand};
use cloudflare_images_codegen as codegen;
use codegen::extract::Provenance;

const SPEC: &str = "spec/cloudflare-images.openapi.yaml";

/// Regenerates generated/ from spec/ (`cargo codegen`), checks it for drift
/// (`--check`), or refreshes spec/ from Cloudflare's full API schema (`extract`).
#[derive(Debug, Parser)]
#[command(
    name = "cargo codegen",
    bin_name = "cargo codegen",
    after_help = "`cargo codegen extract --help` lists extract's flags: --from, --out, \
                  --upstream-commit, --upstream-blob, --upstream-file, --upstream-repository."
)]
struct Cli {
    /// Exit 1 and print a diff if generated/ differs from what spec/ and codegen/ produce,
    /// instead of regenerating it
    #[arg(long)]
    check: bool,
    /// Work on another checkout [default: the checkout containing the current directory]
    #[arg(long, value_name = "DIR", global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Refresh spec/ from Cloudflare's full API schema, keeping its provenance
    Extract(ExtractArgs),
}

#[derive(Debug, Args)]
struct ExtractArgs {
    /// Cloudflare's full API schema (openapi.yaml or .json)
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// Where to write the subset [default: spec/cloudflare-images.openapi.yaml of the checkout]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    upstream: UpstreamFlags,
}

/// Where the input comes from, when its provenance header or git checkout does not say.
#[derive(Debug, Args)]
struct UpstreamFlags {
    /// The api-schemas commit the file comes from [default: read from the input's
    /// provenance header, or from its git checkout]
    #[arg(long = "upstream-commit", value_name = "SHA")]
    commit: Option<String>,
    /// Its git blob id [default: from the header, or computed from the file]
    #[arg(long = "upstream-blob", value_name = "SHA")]
    blob: Option<String>,
    /// Its path upstream [default: from the header, or its path in its git checkout, else
    /// openapi.yaml]
    #[arg(long = "upstream-file", value_name = "PATH")]
    file: Option<String>,
    /// Its repository [default: from the header, else
    /// https://github.com/cloudflare/api-schemas]
    #[arg(long = "upstream-repository", value_name = "URL")]
    repository: Option<String>,
}

fn main() -> ExitCode {
    // Usage errors exit 2 (clap's convention, like cfimg and the emulator); `--help` 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    if cli.check && cli.command.is_some() {
        return usage(&Cli::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "--check compares generated/ with spec/; it cannot be combined with extract",
        ));
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cargo codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a usage error (or the help) and gives its exit code: 2, or 0 for `--help`.
fn usage(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

fn run(cli: Cli) -> Result<(), String> {
    // The checkout worked on is the one the command runs in, found at run time:
    // a binary built for another clone (a shared CARGO_TARGET_DIR) must not read
    // or rewrite that clone's files.
    let root = || -> Result<PathBuf, String> {
        if let Some(root) = &cli.root {
            return Ok(root.clone());
        }
        let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
        codegen::find_workspace_root(&cwd).ok_or_else(|| {
            format!(
                "{} is not inside a cloudflare-images-rs checkout (no Cargo.toml whose [workspace] \
                 lists codegen above it); run inside one or pass --root <dir>",
                cwd.display()
            )
        })
    };
    match cli.command {
        None => generate(&root()?, cli.check),
        Some(Cmd::Extract(args)) => {
            let out = match args.out {
                Some(out) => out,
                None => root()?.join(SPEC),
            };
            extract(&args.from, &out, args.upstream)
        }
    }
}

fn generate(root: &Path, check: bool) -> Result<(), String> {
    let out_dir = root.join("generated");
    let generation = codegen::generate(&root.join(SPEC), SPEC).map_err(|e| e.to_string())?;
    if check {
        return match codegen::check(&out_dir, &generation.files) {
            None => {
                println!("generated/ is up to date with {SPEC} (in {})", root.display());
                Ok(())
            }
            Some(diff) => Err(format!(
                "generated/ has drifted from {SPEC} (in {}); run `cargo codegen` and commit the result\n{diff}",
                root.display()
            )),
        };
    }
    for (name, n) in &generation.fixups {
        println!("fixup {name}: {n} change(s)");
    }
    println!(
        "{} operations generated, {} handwritten ({})",
        generation.generated_operations.len(),
        generation.handwritten_operations.len(),
        generation.handwritten_operations.join(", ")
    );
    let written =
        codegen::write_if_changed(&out_dir, &generation.files).map_err(|e| e.to_string())?;
    if written.is_empty() {
        println!("generated/ unchanged");
    }
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn extract(from: &Path, out: &Path, flags: UpstreamFlags) -> Result<(), String> {
    let bytes = std::fs::read(from).map_err(|e| format!("reading {}: {e}", from.display()))?;
    let provenance = provenance(from, &bytes, flags)?;
    let full = codegen::load_spec(from).map_err(|e| e.to_string())?;
    let subset = codegen::extract::extract(&full)?;
    let text = codegen::extract::to_yaml(&subset, &provenance)?;
    std::fs::write(out, text).map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!(
        "wrote {} ({} paths) from {} at {}, blob {}",
        out.display(),
        subset["paths"].as_object().map_or(0, |p| p.len()),
        provenance.file,
        provenance.commit,
        provenance.blob
    );
    Ok(())
}

/// Where the input comes from: the flags, else the input's own provenance header
/// (re-extracting from a spec this command wrote), else the input itself (its git
/// blob id and, in an unmodified git checkout, its commit).
fn provenance(from: &Path, bytes: &[u8], flags: UpstreamFlags) -> Result<Provenance, String> {
    let text = String::from_utf8_lossy(bytes);
    let mut p = match codegen::extract::parse_provenance(&text) {
        Some(p) => p,
        None => {
            let checkout = git_checkout(from);
            let commit = flags
                .commit
                .clone()
                .or_else(|| checkout.as_ref().map(|c| c.commit.clone()))
                .ok_or_else(|| {
                    format!(
                        "cannot tell which upstream commit {} comes from (it has no provenance \
                         header and is not an unmodified file of a git checkout): pass \
                         --upstream-commit <sha>",
                        from.display()
                    )
                })?;
            let from_checkout = flags.commit.is_none()
                || flags.commit == checkout.as_ref().map(|c| c.commit.clone());
            Provenance {
                repository: codegen::extract::UPSTREAM_REPOSITORY.into(),
                file: checkout
                    .as_ref()
                    .filter(|_| from_checkout)
                    .map(|c| c.file.clone())
                    .unwrap_or_else(|| "openapi.yaml".into()),
                commit,
                commit_note: checkout.filter(|_| from_checkout).map(|c| c.note),
                blob: codegen::extract::git_blob_id(bytes),
                blob_note: Some(format!("({} characters)", thousands(text.chars().count()))),
            }
        }
    };
    if let Some(commit) = flags.commit {
        if commit != p.commit {
            p.commit_note = None;
        }
        p.commit = commit;
    }
    if let Some(blob) = flags.blob {
        if blob != p.blob {
            p.blob_note = None;
        }
        p.blob = blob;
    }
    if let Some(file) = flags.file {
        p.file = file;
    }
    if let Some(repository) = flags.repository {
        p.repository = repository;
    }
    Ok(p)
}

struct Checkout {
    commit: String,
    note: String,
    file: String,
}

/// The commit of `file` when it is tracked and unmodified in a git checkout.
fn git_checkout(file: &Path) -> Option<Checkout> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file.file_name()?;
    let git = |args: &[&std::ffi::OsStr]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let tracked = git(&[
        "ls-files".as_ref(),
        "--full-name".as_ref(),
        "--error-unmatch".as_ref(),
        name,
    ])?;
    let status = git(&[
        "status".as_ref(),
        "--porcelain".as_ref(),
        "--".as_ref(),
        name,
    ])?;
    if !status.is_empty() {
        return None;
    }
    Some(Checkout {
        commit: git(&["rev-parse".as_ref(), "HEAD".as_ref()])?,
        note: git(&[
            "show".as_ref(),
            "-s".as_ref(),
            "--format=(%cI, \"%s\")".as_ref(),
            "HEAD".as_ref(),
        ])?,
        file: tracked,
    })
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
