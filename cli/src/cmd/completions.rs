//! `cfimg completions SHELL`: a completion script for a shell.

use clap::Args;

use crate::error::CliResult;
use crate::output;

/// The help shown after `cfimg completions`' options.
pub const AFTER_HELP: &str = "\
Examples:
  cfimg completions bash > ~/.local/share/bash-completion/completions/cfimg
  cfimg completions zsh > ~/.zfunc/_cfimg        # with fpath+=~/.zfunc before compinit
  cfimg completions fish > ~/.config/fish/completions/cfimg.fish";

/// Arguments of `cfimg completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Runs `cfimg completions`: prints the script for `command`, cfimg's whole
/// command line.
pub fn run(args: CompletionsArgs, mut command: clap::Command) -> CliResult<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "cfimg", &mut out);
    output::print_out(&String::from_utf8_lossy(&out));
    Ok(())
}
