//! The CLI's error: one line for humans, a JSON object for scripts, an exit status.

use std::fmt;

/// Exit status for failures of the operation (API errors, I/O, failed uploads).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for bad usage (bad arguments, a refused confirmation).
pub const EXIT_USAGE: u8 = 2;

/// An error reported by `cfimg`.
#[derive(Debug, Clone)]
pub struct CliError {
    /// The one-line message.
    pub message: String,
    /// Cloudflare's error codes, when the API gave any.
    pub codes: Vec<i64>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The process exit status.
    pub exit: u8,
    /// Whether a JSON report was already printed on stdout (so `--json` does not
    /// print a second document for the error).
    pub json_printed: bool,
    /// What to check, for errors whose cause is usually a setting.
    pub hint: Option<String>,
}

/// Cloudflare's code for a request that failed authentication.
pub const CODE_AUTHENTICATION: i64 = 10000;

/// The hint given with an authentication error.
pub const AUTH_HINT: &str = "check that the API token has the Images permission and that CLOUDFLARE_ACCOUNT_ID is the account's id";

impl CliError {
    /// A failure of the operation (exit status 1).
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            codes: Vec::new(),
            status: None,
            exit: EXIT_FAILURE,
            json_printed: false,
            hint: None,
        }
    }

    /// A usage error (exit status 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: EXIT_USAGE,
            ..CliError::new(message)
        }
    }

    /// Prefixes the message with context: `"{context}: {message}"`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The error as JSON for `--json` output.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::json!({
            "message": self.message,
            "codes": self.codes,
            "status": self.status,
        });
        if let Some(hint) = &self.hint {
            value["hint"] = hint.as_str().into();
        }
        value
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

impl From<cloudflare_images::Error> for CliError {
    fn from(e: cloudflare_images::Error) -> Self {
        use cloudflare_images::ErrorKind;
        let mut message = e.to_string();
        // Transport and I/O failures say what went wrong underneath (e.g. "connection
        // refused"); the SDK keeps that in the source chain, not in Display.
        if matches!(e.kind(), ErrorKind::Transport | ErrorKind::Io) {
            let mut source = std::error::Error::source(&e);
            let mut last = None;
            while let Some(s) = source {
                last = Some(s.to_string());
                source = s.source();
            }
            if let Some(last) = last {
                if !message.contains(&last) {
                    message = format!("{message}: {last}");
                }
            }
        }
        let codes: Vec<i64> = e.code_numbers().collect();
        let hint = codes
            .contains(&CODE_AUTHENTICATION)
            .then(|| AUTH_HINT.to_string());
        // Input the SDK refused before sending anything is a usage error.
        let exit = if e.kind() == ErrorKind::InvalidInput {
            EXIT_USAGE
        } else {
            EXIT_FAILURE
        };
        CliError {
            message: message.replace('\n', " "),
            codes,
            status: e.status(),
            exit,
            json_printed: false,
            hint,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(e.to_string())
    }
}

/// The CLI's result type.
pub type CliResult<T> = Result<T, CliError>;
