//! Cloudflare's envelope: `{"success", "errors", "messages", "result"}`.
//!
//! `success: false` is an API error whatever the HTTP status, with the codes as
//! sent (they are not all `u32`s across Cloudflare's API). A body that is not an
//! envelope is an HTTP error keeping the start of the body.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{ApiMessage, Error, Result};

/// One entry of `errors`, as lenient as Cloudflare's various producers need.
#[derive(Deserialize)]
struct WireMessage {
    code: serde_json::Number,
    #[serde(default)]
    message: String,
    #[serde(default)]
    documentation_url: Option<String>,
    #[serde(default)]
    source: Option<WireSource>,
}

#[derive(Deserialize)]
struct WireSource {
    #[serde(default)]
    pointer: Option<String>,
}

impl WireMessage {
    fn into_message(self) -> ApiMessage {
        // A code that is not an integer (never seen) keeps its integral part.
        let code = self
            .code
            .as_i64()
            .or_else(|| {
                self.code
                    .as_u64()
                    .map(|c| i64::try_from(c).unwrap_or(i64::MAX))
            })
            .or_else(|| self.code.as_f64().map(|c| c as i64))
            .unwrap_or_default();
        ApiMessage {
            code,
            message: self.message,
            documentation_url: self.documentation_url,
            pointer: self.source.and_then(|s| s.pointer),
        }
    }
}

/// The envelope with its `result` decoded as `T`.
#[derive(Deserialize)]
struct Envelope<T> {
    success: bool,
    #[serde(default)]
    errors: Vec<WireMessage>,
    #[serde(default = "none")]
    result: Option<T>,
}

/// The envelope of a failure: everything but `result`.
#[derive(Deserialize)]
struct Failure {
    success: bool,
    #[serde(default)]
    errors: Vec<WireMessage>,
}

fn none<T>() -> Option<T> {
    None
}

fn messages(errors: Vec<WireMessage>) -> Vec<ApiMessage> {
    errors.into_iter().map(WireMessage::into_message).collect()
}

/// Decodes a 2xx body into `result`, or the error it carries.
pub(crate) fn decode<T: DeserializeOwned>(
    status: u16,
    ray_id: Option<String>,
    body: &[u8],
) -> Result<T> {
    match serde_json::from_slice::<Envelope<T>>(body) {
        Ok(envelope) if !envelope.success => {
            Err(Error::api(status, ray_id, messages(envelope.errors)))
        }
        Ok(Envelope {
            result: Some(result),
            ..
        }) => Ok(result),
        // No `result` (or `null`): right for a type that has a "nothing". From
        // bytes, not `Value::Null`: the same deserializer as above, so each `T`'s
        // decoder is compiled once, not twice (a user's build pays for each).
        Ok(Envelope { result: None, .. }) => serde_json::from_slice(b"null")
            .map_err(|e| Error::decode(e, status, body).with_ray_id(ray_id)),
        Err(e) => match serde_json::from_slice::<Failure>(body) {
            // The result did not decode because there is none: a failure.
            Ok(failure) if !failure.success => {
                Err(Error::api(status, ray_id, messages(failure.errors)))
            }
            _ => Err(Error::decode(e, status, body).with_ray_id(ray_id)),
        },
    }
}

/// The error for a non-2xx response whose (possibly truncated) body is `body`.
pub(crate) fn error(status: u16, ray_id: Option<String>, body: &[u8]) -> Error {
    match serde_json::from_slice::<Failure>(body) {
        Ok(failure) => Error::api(status, ray_id, messages(failure.errors)),
        Err(_) => Error::non_envelope(status, ray_id, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn success_false_is_an_error_whatever_the_status_and_result() {
        let body = br#"{"success":false,"errors":[{"code":5404,"message":"gone"}],"messages":[],"result":{"id":"x"}}"#;
        let e = decode::<serde_json::Value>(200, None, body).unwrap_err();
        assert_eq!((e.kind(), e.status()), (ErrorKind::Api, Some(200)));
        assert_eq!(e.code_numbers().collect::<Vec<_>>(), [5404]);
        // A result that cannot decode does not hide the codes.
        let body = br#"{"success":false,"errors":[{"code":7003,"message":"no"}],"result":null}"#;
        let e = decode::<Vec<u8>>(200, None, body).unwrap_err();
        assert_eq!(e.code_numbers().collect::<Vec<_>>(), [7003]);
    }

    #[test]
    fn codes_outside_u32_are_kept() {
        let body = br#"{"success":false,"errors":[{"code":8000000000,"message":"big"},{"code":-1,"message":"neg"}]}"#;
        let e = error(400, None, body);
        assert_eq!(e.code_numbers().collect::<Vec<_>>(), [8_000_000_000, -1]);
    }

    #[test]
    fn a_missing_result_is_none_for_options_and_an_error_otherwise() {
        let body = br#"{"success":true,"errors":[],"messages":[]}"#;
        assert_eq!(decode::<Option<u8>>(200, None, body).unwrap(), None);
        let e = decode::<Vec<u8>>(200, None, body).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
    }

    #[test]
    fn non_envelopes_keep_their_status_and_snippet() {
        let e = error(502, Some("ray".into()), b"<html>Bad gateway</html>");
        assert_eq!((e.kind(), e.status()), (ErrorKind::Http, Some(502)));
        assert_eq!(e.body_snippet(), Some("<html>Bad gateway</html>"));
        assert_eq!(e.ray_id(), Some("ray"));
    }
}
