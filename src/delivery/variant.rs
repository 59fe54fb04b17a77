//! Variants: named variants and flexible-variant options, the last segment of a
//! delivery URL.

use super::options::{TransformOption, TransformOptions};
use super::url_error::UrlError;
use crate::error::{Error, Result};

/// The longest named variant Cloudflare accepts.
pub const MAX_VARIANT_NAME_LEN: usize = 99;

/// The last segment of a delivery URL: a named variant or flexible options.
///
/// Built from a `&str`/`String` (a named variant such as `"public"`) or from
/// [`TransformOptions`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Variant {
    /// A variant defined on the account, e.g. `public` or `thumbnail`.
    Named(String),
    /// Flexible-variant options in place of a name (`w=400,sharpen=3`); the
    /// account must have flexible variants enabled.
    Flexible(TransformOptions),
}

impl From<&str> for Variant {
    fn from(name: &str) -> Self {
        Variant::Named(name.to_string())
    }
}

impl From<String> for Variant {
    fn from(name: String) -> Self {
        Variant::Named(name)
    }
}

impl From<TransformOptions> for Variant {
    fn from(options: TransformOptions) -> Self {
        Variant::Flexible(options)
    }
}

impl From<&TransformOptions> for Variant {
    fn from(options: &TransformOptions) -> Self {
        Variant::Flexible(options.clone())
    }
}

impl Variant {
    /// The segment as it appears in the URL (before percent-encoding), or an
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) error.
    ///
    /// A name is 1 to 99 ASCII letters, digits, `-` or `_` (no `/`, no `=`).
    pub fn render(&self) -> Result<String> {
        match self {
            Variant::Named(name) => {
                if name.is_empty() {
                    return Err(Error::invalid_input("the variant name must not be empty"));
                }
                if name.len() > MAX_VARIANT_NAME_LEN {
                    return Err(Error::invalid_input(format!(
                        "the variant name is longer than {MAX_VARIANT_NAME_LEN} characters"
                    )));
                }
                if name.contains('/') {
                    return Err(Error::invalid_input(format!(
                        "the variant name {name:?} contains '/'"
                    )));
                }
                if name.contains('=') {
                    return Err(Error::invalid_input(format!(
                        "the variant name {name:?} contains '=': use TransformOptions for flexible variants"
                    )));
                }
                if !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(Error::invalid_input(format!(
                        "the variant name {name:?} may only contain ASCII letters, digits, '-' and '_'"
                    )));
                }
                Ok(name.clone())
            }
            Variant::Flexible(options) => {
                if options
                    .options()
                    .iter()
                    .any(|o| matches!(o, TransformOption::OnErrorRedirect))
                {
                    return Err(UrlError::NotForHostedImages { option: "onerror" }.into());
                }
                options.render()
            }
        }
    }
}
