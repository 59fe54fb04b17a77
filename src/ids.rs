//! Ids: the one rule for values that go into a URL path (image ids, variant and
//! key names, the account id), and their percent-encoding, used by the runtime,
//! uploads and delivery URLs alike.
//!
//! Every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`) is
//! percent-encoded, `/` and `\` included, so the server decodes exactly the
//! string the caller passed: `a\b` is `a%5Cb`, never `a/b`, and `a/../b` stays one
//! segment (`a%2F..%2Fb`) instead of being resolved to `b`. What cannot be sent
//! that way is refused before anything goes out: an empty value, `.` and `..`
//! (URL parsers remove those segments even when percent-encoded), control
//! characters, and more than [`MAX_ID_LEN`] characters.
//!
//! [`check_image_id`] and [`check_custom_id`] are those rules as the SDK applies
//! them before sending; a program that checks ids earlier (a CLI parsing its
//! arguments) calls them rather than restating them, so it accepts exactly what
//! the SDK accepts.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{Error, Result};

/// The longest id Cloudflare accepts (custom ids): 1,024 characters.
pub const MAX_ID_LEN: usize = 1024;

/// Everything but RFC 3986's unreserved characters.
pub(crate) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Checks a value for a path segment; `name` is how errors call it.
pub(crate) fn check(name: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid_input(format!("{name} must not be empty")));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(Error::invalid_input(format!(
            "{name} is longer than {MAX_ID_LEN} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "{name} contains a control character"
        )));
    }
    if value == "." || value == ".." {
        return Err(Error::invalid_input(format!(
            "{name} must not be `.` or `..`"
        )));
    }
    Ok(())
}

/// Checks an image id as the SDK does before putting it in a request path
/// (`GET accounts/{account_id}/images/v1/{image_id}` and the like): not empty, at
/// most [`MAX_ID_LEN`] characters, no control character, not `.` or `..`.
///
/// Any other string is sent, percent-encoded as one segment (see the [module
/// documentation](self)), so the API receives exactly this id. Fails with
/// [`InvalidInput`](crate::ErrorKind::InvalidInput).
///
/// ```
/// use cloudflare_images::ids::check_image_id;
/// assert!(check_image_id("083eb7b2-5392-4565-b69e-aff66acddd00").is_ok());
/// assert!(check_image_id("products/2024/café 01.png").is_ok());
/// assert!(check_image_id("").is_err());
/// assert!(check_image_id("..").is_err());
/// ```
pub fn check_image_id(id: &str) -> Result<()> {
    check("the image id", id)
}

/// Checks a custom image id as the SDK does before uploading under it: the
/// [`check_image_id`] rule, and, because the id becomes the path of its
/// delivery URLs (`/<hash>/<id>/<variant>`), no leading or trailing `/` and no
/// `.` or `..` segment (URL normalization would resolve those away); and not a
/// UUID, which Cloudflare reserves for the ids it assigns.
///
/// A UUID is refused in any form [`uuid::Uuid::try_parse`] reads: hyphenated
/// (`0f8fad5b-d9cb-469f-a165-70867728950e`), 32 hex digits without hyphens,
/// braced (`{...}`) or `urn:uuid:...`, in either case. This is the one rule:
/// tools that check ids before calling the SDK should call this function.
/// Fails with [`InvalidInput`](crate::ErrorKind::InvalidInput).
///
/// ```
/// use cloudflare_images::ids::check_custom_id;
/// assert!(check_custom_id("products/2024/café 01.png").is_ok());
/// assert!(check_custom_id("/leading-slash").is_err());
/// assert!(check_custom_id("a/../b").is_err());
/// assert!(check_custom_id("0f8fad5b-d9cb-469f-a165-70867728950e").is_err());
/// assert!(check_custom_id("0f8fad5bd9cb469fa16570867728950e").is_err());
/// ```
pub fn check_custom_id(id: &str) -> Result<()> {
    check_delivery_id("the custom id", id)?;
    if uuid::Uuid::try_parse(id).is_ok() {
        return Err(Error::invalid_input(
            "a custom id must not be a UUID (Cloudflare reserves those)",
        ));
    }
    Ok(())
}

/// Checks an image id that is also a delivery path (`/<hash>/<id>/<variant>`):
/// the path rule, no leading or trailing `/`, no `.` or `..` segment.
pub(crate) fn check_delivery_id(name: &str, id: &str) -> Result<()> {
    check(name, id)?;
    if id.starts_with('/') || id.ends_with('/') {
        return Err(Error::invalid_input(format!(
            "{name} must not start or end with '/'"
        )));
    }
    if id
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(Error::invalid_input(format!(
            "{name} must not contain `.` or `..` segments"
        )));
    }
    Ok(())
}

/// Appends `value`, percent-encoded as one segment, to `out`.
pub(crate) fn push_encoded(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, SEGMENT));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: &str) -> String {
        let mut out = String::new();
        push_encoded(&mut out, value);
        out
    }

    #[test]
    fn everything_but_unreserved_is_encoded() {
        assert_eq!(encoded("a\\b"), "a%5Cb");
        assert_eq!(encoded("[x]|^"), "%5Bx%5D%7C%5E");
        assert_eq!(encoded("a/../b"), "a%2F..%2Fb");
        assert_eq!(encoded("50%?#;"), "50%25%3F%23%3B");
        assert_eq!(encoded("café"), "caf%C3%A9");
        assert_eq!(encoded("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn values_that_cannot_travel_are_refused() {
        assert!(check("image_id", "a/b c").is_ok());
        assert!(check("image_id", "a..b").is_ok());
        for bad in ["", ".", "..", "a\nb", "\u{7f}"] {
            let e = check("image_id", bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("image_id"), "{e}");
        }
        assert!(check("image_id", &"é".repeat(1024)).is_ok());
        assert!(check("image_id", &"x".repeat(1025)).is_err());
    }

    #[test]
    fn custom_id_rules() {
        assert!(check_custom_id("products/2024/café-01").is_ok());
        for bad in [
            "",
            "/lead",
            "trail/",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            ".",
            "..",
            "a/../b",
            "a/./b",
            "a\u{0}b",
        ] {
            assert!(check_custom_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_custom_id(&"a".repeat(1024)).is_ok());
        assert!(check_custom_id(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn every_form_of_a_uuid_is_refused_as_a_custom_id() {
        for uuid in [
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5bd9cb469fa16570867728950e",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
        ] {
            let e = check_custom_id(uuid).unwrap_err();
            assert!(e.to_string().contains("UUID"), "{uuid}: {e}");
            // Still a valid id to address an image Cloudflare assigned it to.
            assert!(check_image_id(uuid).is_ok(), "{uuid}");
        }
        // One digit short, or not hex: an ordinary custom id.
        for ok in [
            "0f8fad5bd9cb469fa16570867728950",
            "0f8fad5b-d9cb-469f-a165-70867728950g",
        ] {
            assert!(check_custom_id(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn image_ids_follow_the_path_rule() {
        for ok in ["a/b c", "/lead", "trail/", "a/../b", "café"] {
            assert!(check_image_id(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", ".", "..", "a\nb"] {
            let e = check_image_id(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("the image id"), "{e}");
        }
        assert!(check_image_id(&"x".repeat(1025)).is_err());
    }
}
