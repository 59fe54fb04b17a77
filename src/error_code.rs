//! Cloudflare Images error codes as an enum.
//!
//! Cloudflare's envelope reports numeric codes ([`Error::codes`]); this module
//! names the ones the Images API uses, so callers can match on them:
//!
//! ```
//! use cloudflare_images::error_code::ImagesErrorCode;
//! assert_eq!(ImagesErrorCode::from_code(5404), ImagesErrorCode::ImageNotFound);
//! assert_eq!(ImagesErrorCode::ImageNotFound.code(), 5404);
//! assert_eq!(ImagesErrorCode::from_code(1234), ImagesErrorCode::Other(1234));
//! assert_eq!(ImagesErrorCode::TooLarge.to_string(), "5413 (image too large)");
//! ```

use std::fmt;

use crate::error::Error;

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
    /// 5500: internal error at Cloudflare; trying again later may succeed.
    Internal,
    /// 5503: the service is temporarily unavailable; try again later.
    Unavailable,
    /// 5550: another internal-error code of the Images service (not documented
    /// separately from 5500); trying again later may succeed.
    InternalServerError,
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

impl ImagesErrorCode {
    /// The enum value for a numeric code.
    pub fn from_code(code: i64) -> Self {
        use ImagesErrorCode::*;
        match code {
            5400 => BadRequest,
            5401 => VariantNotFound,
            5403 => NotAuthorized,
            5404 => ImageNotFound,
            5408 => UploadTooSlow,
            5409 => AlreadyExists,
            5413 => TooLarge,
            5415 => NotMultipart,
            5453 => ServiceLimit,
            5455 => UnsupportedFormat,
            5500 => Internal,
            5503 => Unavailable,
            5550 => InternalServerError,
            9422 => DecodeError,
            971 => RateLimited,
            10000 => AuthenticationError,
            other => Other(other),
        }
    }

    /// The numeric code, e.g. 5404.
    pub fn code(self) -> i64 {
        use ImagesErrorCode::*;
        match self {
            BadRequest => 5400,
            VariantNotFound => 5401,
            NotAuthorized => 5403,
            ImageNotFound => 5404,
            UploadTooSlow => 5408,
            AlreadyExists => 5409,
            TooLarge => 5413,
            NotMultipart => 5415,
            ServiceLimit => 5453,
            UnsupportedFormat => 5455,
            Internal => 5500,
            Unavailable => 5503,
            InternalServerError => 5550,
            DecodeError => 9422,
            RateLimited => 971,
            AuthenticationError => 10000,
            Other(code) => code,
        }
    }

    /// A short English description, e.g. `image not found` (`unknown code` for
    /// [`Other`](Self::Other)).
    pub fn description(self) -> &'static str {
        use ImagesErrorCode::*;
        match self {
            BadRequest => "bad request",
            VariantNotFound => "variant not found",
            NotAuthorized => "not authorized",
            ImageNotFound => "image not found",
            UploadTooSlow => "upload too slow",
            AlreadyExists => "resource already exists",
            TooLarge => "image too large",
            NotMultipart => "request is not multipart",
            ServiceLimit => "service limit reached",
            UnsupportedFormat => "unsupported image format",
            Internal => "internal error",
            Unavailable => "service unavailable",
            InternalServerError => "internal server error",
            DecodeError => "image could not be decoded",
            RateLimited => "rate limited",
            AuthenticationError => "authentication error",
            Other(_) => "unknown code",
        }
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

impl Error {
    /// Cloudflare's error codes as [`ImagesErrorCode`]s, in order.
    pub fn image_codes(&self) -> impl Iterator<Item = ImagesErrorCode> + '_ {
        self.codes().map(ImagesErrorCode::from_code)
    }

    /// Whether Cloudflare reported `code`. Codes are compared by number, so
    /// `ImagesErrorCode::Other(5404)` matches like `ImageNotFound`.
    pub fn has_image_code(&self, code: ImagesErrorCode) -> bool {
        self.has_code(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMED: [(i64, ImagesErrorCode); 16] = [
        (5400, ImagesErrorCode::BadRequest),
        (5401, ImagesErrorCode::VariantNotFound),
        (5403, ImagesErrorCode::NotAuthorized),
        (5404, ImagesErrorCode::ImageNotFound),
        (5408, ImagesErrorCode::UploadTooSlow),
        (5409, ImagesErrorCode::AlreadyExists),
        (5413, ImagesErrorCode::TooLarge),
        (5415, ImagesErrorCode::NotMultipart),
        (5453, ImagesErrorCode::ServiceLimit),
        (5455, ImagesErrorCode::UnsupportedFormat),
        (5500, ImagesErrorCode::Internal),
        (5503, ImagesErrorCode::Unavailable),
        (5550, ImagesErrorCode::InternalServerError),
        (9422, ImagesErrorCode::DecodeError),
        (971, ImagesErrorCode::RateLimited),
        (10000, ImagesErrorCode::AuthenticationError),
    ];

    #[test]
    fn codes_round_trip() {
        for (n, code) in NAMED {
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
            e.image_codes().collect::<Vec<_>>(),
            [ImagesErrorCode::ImageNotFound, ImagesErrorCode::Other(7003)]
        );
        assert!(e.has_image_code(ImagesErrorCode::ImageNotFound));
        assert!(e.has_image_code(ImagesErrorCode::Other(5404)));
        assert!(e.has_image_code(ImagesErrorCode::Other(7003)));
        assert!(!e.has_image_code(ImagesErrorCode::TooLarge));
        assert_eq!(Error::invalid_input("x").image_codes().count(), 0);
    }
}
