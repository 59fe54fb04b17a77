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

/// Checks a custom image id: a delivery id ([`check_delivery_id`]) that is not a
/// UUID (Cloudflare reserves those for the ids it assigns).
pub(crate) fn check_custom_id(id: &str) -> Result<()> {
    check_delivery_id("the custom id", id)?;
    if uuid::Uuid::try_parse(id).is_ok() {
        return Err(Error::invalid_input(
            "a custom id must not be a UUID (Cloudflare reserves those)",
        ));
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
}
