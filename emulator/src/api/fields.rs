//! The API's rules for user-supplied fields (custom ids, key and variant names, metadata,
//! booleans in forms), shared by the handlers, the console and seeding.

use serde_json::Value;

use crate::http::ApiError;

/// Names of keys and variants: ASCII letters and digits, 1..=max characters.
pub(crate) fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty() && name.len() <= max && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// True if `id` is a hyphenated UUID (custom ids may not be UUIDs).
pub(crate) fn looks_like_uuid(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// Checks a custom image id: 1..=1024 characters, no leading or trailing `/`, not a UUID,
/// no control characters.
pub(crate) fn validate_custom_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > 1024 {
        return Err(ApiError::bad_request(
            "Custom ID must be between 1 and 1024 characters",
        ));
    }
    if id.starts_with('/') || id.ends_with('/') {
        return Err(ApiError::bad_request(
            "Custom ID must not start or end with a slash",
        ));
    }
    if looks_like_uuid(id) {
        return Err(ApiError::bad_request("Custom ID must not be a UUID"));
    }
    if id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "Custom ID must not contain control characters",
        ));
    }
    Ok(())
}

/// Parses a JSON metadata text: a JSON object of at most 1024 bytes.
pub(crate) fn parse_metadata_text(text: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    if text.len() > 1024 {
        return Err(ApiError::bad_request("Metadata must not exceed 1024 bytes"));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request("Metadata must be a JSON object")),
    }
}

/// Checks a metadata value given inside a JSON body.
pub(crate) fn metadata_from_value(
    value: &Value,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => {
            let len = serde_json::to_vec(value)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if len > 1024 {
                return Err(ApiError::bad_request("Metadata must not exceed 1024 bytes"));
            }
            Ok(map.clone())
        }
        _ => Err(ApiError::bad_request("Metadata must be a JSON object")),
    }
}

/// Parses a boolean form field ("true"/"false", any case, or "1"/"0").
pub(crate) fn parse_bool(text: &str) -> Result<bool, ApiError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(
            "requireSignedURLs must be true or false",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids() {
        assert!(validate_custom_id("a/b/c").is_ok());
        assert!(validate_custom_id("/a").is_err());
        assert!(validate_custom_id("a/").is_err());
        assert!(validate_custom_id("").is_err());
        assert!(validate_custom_id(&"x".repeat(1025)).is_err());
        assert!(validate_custom_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301").is_err());
    }
}
