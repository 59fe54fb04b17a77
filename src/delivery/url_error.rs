//! The typed error of transformation options and of delivery and transformation
//! URLs, built or parsed.

use std::fmt;

/// Why transformation options or a delivery or transformation URL were refused,
/// before anything was requested.
///
/// It converts into the crate's [`Error`](crate::Error) (kind
/// [`InvalidInput`](crate::ErrorKind::InvalidInput)) with the same message, so
/// `?` works in functions returning [`crate::Result`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// An option's value is outside the range Cloudflare documents.
    OutOfRange {
        /// The option as it appears in the URL (`w`, `blur`, `gravity coordinates`).
        option: &'static str,
        /// The documented range, as in "between 1 and 12000".
        range: &'static str,
        /// The value given.
        value: String,
    },
    /// An option's value is not one Cloudflare accepts (`fit=stretch`).
    InvalidValue {
        /// The option as it appears in the URL.
        option: String,
        /// The value given.
        value: String,
        /// What the option accepts.
        expected: &'static str,
    },
    /// An option name Cloudflare does not document, met by a parser.
    UnknownOption {
        /// The name given.
        name: String,
    },
    /// A name given to [`TransformOptions::option`](super::TransformOptions::option)
    /// that is not lowercase ASCII letters, digits, `-` or `.`, starting with a letter.
    InvalidOptionName {
        /// The name given.
        name: String,
    },
    /// A part of the options is not `name=value`.
    MalformedOption {
        /// The part given.
        part: String,
    },
    /// No option is set: Cloudflare requires at least one.
    NoOptions,
    /// The option exists only for Workers and has no URL syntax (`border`).
    NotInUrls {
        /// The option.
        option: &'static str,
    },
    /// The option is only for transformations of images on a zone, not for
    /// hosted images' flexible variants (`onerror`).
    NotForHostedImages {
        /// The option.
        option: &'static str,
    },
    /// Two options that cannot be combined (`trim=border` and `trim.top`).
    Conflict {
        /// The first option.
        first: &'static str,
        /// The second option.
        second: &'static str,
    },
    /// The image requires signed URLs, and Cloudflare serves such images only
    /// through named variants: a flexible variant would be refused.
    FlexibleVariantOfSignedImage,
    /// The URL, or one of its parts, is malformed.
    InvalidUrl {
        /// What is wrong, in a few words.
        reason: String,
    },
    /// The URL is none of the three forms: `https://imagedelivery.net/...`,
    /// `https://<zone>/cdn-cgi/imagedelivery/...` or
    /// `https://<zone>/cdn-cgi/image/...`.
    UnknownForm,
    /// A responsive image's set of widths is empty, too large or repeats a width.
    InvalidWidths {
        /// What is wrong, in a few words.
        reason: String,
    },
}

impl UrlError {
    pub(crate) fn out_of_range(
        option: &'static str,
        range: &'static str,
        value: impl fmt::Display,
    ) -> Self {
        UrlError::OutOfRange {
            option,
            range,
            value: value.to_string(),
        }
    }

    pub(crate) fn invalid_value(option: &str, value: &str, expected: &'static str) -> Self {
        UrlError::InvalidValue {
            option: option.to_string(),
            value: value.to_string(),
            expected,
        }
    }

    pub(crate) fn invalid_url(reason: impl Into<String>) -> Self {
        UrlError::InvalidUrl {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::OutOfRange {
                option,
                range,
                value,
            } => write!(f, "{option} must be {range}, got {value}"),
            UrlError::InvalidValue {
                option,
                value,
                expected,
            } => write!(f, "invalid value {value:?} for option {option}: expected {expected}"),
            UrlError::UnknownOption { name } => {
                write!(f, "unknown transformation option {name:?}")
            }
            UrlError::InvalidOptionName { name } => {
                write!(f, "invalid flexible-variant option name {name:?}")
            }
            UrlError::MalformedOption { part } => {
                write!(f, "the option {part:?} is not name=value")
            }
            UrlError::NoOptions => {
                f.write_str("flexible-variant options must set at least one option")
            }
            UrlError::NotInUrls { option } => write!(
                f,
                "{option} is only available to Workers: Cloudflare's URLs have no syntax for it"
            ),
            UrlError::NotForHostedImages { option } => write!(
                f,
                "{option} is only for transformations on a zone, not for hosted images"
            ),
            UrlError::Conflict { first, second } => {
                write!(f, "{first} and {second} cannot be combined")
            }
            UrlError::FlexibleVariantOfSignedImage => f.write_str(
                "the image requires signed URLs, which Cloudflare serves through named variants only: \
                 a flexible variant would be refused",
            ),
            UrlError::InvalidUrl { reason } => write!(f, "invalid URL: {reason}"),
            UrlError::UnknownForm => f.write_str(
                "not a delivery or transformation URL: expected https://imagedelivery.net/..., \
                 https://<zone>/cdn-cgi/imagedelivery/... or https://<zone>/cdn-cgi/image/...",
            ),
            UrlError::InvalidWidths { reason } => write!(f, "invalid srcset widths: {reason}"),
        }
    }
}

impl std::error::Error for UrlError {}

impl From<UrlError> for crate::Error {
    fn from(e: UrlError) -> Self {
        crate::Error::invalid_input(e.to_string())
    }
}
