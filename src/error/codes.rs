//! Cloudflare Images error codes as an enum.
//!
//! Cloudflare's envelope reports numeric codes ([`Error::code_numbers`](crate::Error::code_numbers)); this
//! file names the ones the Images API uses, so callers can match on them
//! ([`Error::images_error_codes`](crate::Error::images_error_codes)):
//!
//! ```
//! use cloudflare_images::error::ImagesErrorCode;
//! assert_eq!(ImagesErrorCode::from_code(5404), ImagesErrorCode::ImageNotFound);
//! assert_eq!(ImagesErrorCode::ImageNotFound.code(), 5404);
//! assert_eq!(ImagesErrorCode::from_code(1234), ImagesErrorCode::Other(1234));
//! assert_eq!(ImagesErrorCode::TooLarge.to_string(), "5413 (image too large)");
//! ```

use std::fmt;

/// A Cloudflare Images error code. Codes without a name here are
/// [`Other`](ImagesErrorCode::Other); [`from_code`](Self::from_code) never
/// returns `Other` for a named code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImagesErrorCode {
    /// 5400: the request is malformed (a bad parameter, both `file` and `url`, …).
    BadRequest,
    /// 5401: the variant does not exist.
    VariantNotFound,
    /// 5403: not authorized for this image or account.
    NotAuthorized,
    /// 5404: the image does not exist.
    ImageNotFound,
    /// 5408: the upload was too slow and timed out.
    UploadTooSlow,
    /// 5409: the resource (e.g. a custom id) already exists.
    AlreadyExists,
    /// 5413: the image is larger than 10 MB (or its dimensions exceed the limits).
    TooLarge,
    /// 5415: the request is not `multipart/form-data`.
    NotMultipart,
    /// 5453: an account limit was reached (e.g. the number of variants).
    ServiceLimit,
    /// 5455: the image format is not supported.
    UnsupportedFormat,
    /// 5500: "Internal Server Error" in Cloudflare's list of Images API errors;
    /// trying again later may succeed. (Called `Internal` before.)
    InternalServerError,
    /// 5503: the service is temporarily unavailable; try again later.
    Unavailable,
    /// 5550: "Internal Server Error 2" in Cloudflare's list of Images API errors,
    /// which does not say how it differs from 5500; trying again later may
    /// succeed. (Called `InternalServerError` before, a name now meaning 5500.)
    InternalServerError2,
    /// 9422: the image could not be decoded.
    DecodeError,
    /// 971: rate limited (Cloudflare allows 1,200 requests per 5 minutes); wait
    /// for `Retry-After`.
    RateLimited,
    /// 10000: authentication failed (bad or insufficient credentials).
    AuthenticationError,
    /// Any other code.
    Other(i64),
}

/// Every named code: `(variant, number, description)`. The one place a new code
/// is added.
const TABLE: &[(ImagesErrorCode, i64, &str)] = {
    use ImagesErrorCode::*;
    &[
        (BadRequest, 5400, "bad request"),
        (VariantNotFound, 5401, "variant not found"),
        (NotAuthorized, 5403, "not authorized"),
        (ImageNotFound, 5404, "image not found"),
        (UploadTooSlow, 5408, "upload too slow"),
        (AlreadyExists, 5409, "resource already exists"),
        (TooLarge, 5413, "image too large"),
        (NotMultipart, 5415, "request is not multipart"),
        (ServiceLimit, 5453, "service limit reached"),
        (UnsupportedFormat, 5455, "unsupported image format"),
        (InternalServerError, 5500, "internal server error"),
        (Unavailable, 5503, "service unavailable"),
        (InternalServerError2, 5550, "internal server error 2"),
        (DecodeError, 9422, "image could not be decoded"),
        (RateLimited, 971, "rate limited"),
        (AuthenticationError, 10000, "authentication error"),
    ]
};

impl ImagesErrorCode {
    /// The enum value for a numeric code.
    pub fn from_code(code: i64) -> Self {
        TABLE
            .iter()
            .find(|(_, n, _)| *n == code)
            .map_or(ImagesErrorCode::Other(code), |(named, _, _)| *named)
    }

    /// The numeric code, e.g. 5404.
    pub fn code(self) -> i64 {
        match self {
            ImagesErrorCode::Other(code) => code,
            named => TABLE
                .iter()
                .find(|(v, _, _)| *v == named)
                .map_or(0, |(_, n, _)| *n),
        }
    }

    /// A short English description, e.g. `image not found` (`unknown code` for
    /// [`Other`](Self::Other)).
    pub fn description(self) -> &'static str {
        TABLE
            .iter()
            .find(|(v, _, _)| *v == self)
            .map_or("unknown code", |(_, _, d)| *d)
    }
}

impl From<i64> for ImagesErrorCode {
    fn from(code: i64) -> Self {
        Self::from_code(code)
    }
}

impl From<ImagesErrorCode> for i64 {
    fn from(code: ImagesErrorCode) -> Self {
        code.code()
    }
}

/// `5404 (image not found)`.
impl fmt::Display for ImagesErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn codes_round_trip() {
        let mut numbers: Vec<i64> = TABLE.iter().map(|(_, n, _)| *n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), TABLE.len(), "a number named twice");
        for &(code, n, _) in TABLE {
            assert_eq!(ImagesErrorCode::from_code(n), code, "{n}");
            assert_eq!(code.code(), n);
            assert_eq!(i64::from(code), n);
            assert_eq!(ImagesErrorCode::from(n), code);
            assert_ne!(code.description(), "unknown code");
        }
        for n in [0, 1, 5402, 7003, 9999, i64::MAX] {
            assert_eq!(ImagesErrorCode::from_code(n), ImagesErrorCode::Other(n));
            assert_eq!(ImagesErrorCode::Other(n).code(), n);
        }
    }

    #[test]
    fn display() {
        assert_eq!(
            ImagesErrorCode::ImageNotFound.to_string(),
            "5404 (image not found)"
        );
        assert_eq!(
            ImagesErrorCode::RateLimited.to_string(),
            "971 (rate limited)"
        );
        assert_eq!(
            ImagesErrorCode::Other(7003).to_string(),
            "7003 (unknown code)"
        );
    }

    #[test]
    fn error_codes_are_mapped() {
        let message = |code, message: &str| crate::ApiMessage {
            code,
            message: message.into(),
            documentation_url: None,
            pointer: None,
        };
        let e = Error::api(
            404,
            None,
            vec![
                message(5404, "Image not found"),
                message(7003, "Could not route"),
            ],
        );
        assert_eq!(
            e.images_error_codes().collect::<Vec<_>>(),
            [ImagesErrorCode::ImageNotFound, ImagesErrorCode::Other(7003)]
        );
        assert_eq!(e.code_numbers().collect::<Vec<_>>(), [5404, 7003]);
        assert!(e.has_image_code(ImagesErrorCode::ImageNotFound));
        assert!(e.has_image_code(ImagesErrorCode::Other(5404)));
        assert!(e.has_image_code(ImagesErrorCode::Other(7003)));
        assert!(!e.has_image_code(ImagesErrorCode::TooLarge));
        assert_eq!(Error::invalid_input("x").images_error_codes().count(), 0);
        assert_eq!(Error::invalid_input("x").code_numbers().count(), 0);
    }

    #[test]
    fn internal_server_errors_are_named_as_cloudflare_names_them() {
        let c = ImagesErrorCode::from_code(5500);
        assert_eq!(c, ImagesErrorCode::InternalServerError);
        assert_eq!(c.to_string(), "5500 (internal server error)");
        let c = ImagesErrorCode::from_code(5550);
        assert_eq!(c, ImagesErrorCode::InternalServerError2);
        assert_eq!(c.to_string(), "5550 (internal server error 2)");
    }
}
