//! `metadata`: any `Serialize` that is a JSON object of at most 1,024 bytes, with finite numbers.

use super::*;

/// `metadata` serialized once, when set: the JSON text or what was wrong with it.
#[derive(Clone)]
pub(crate) enum Metadata {
    Text(String),
    NotSerializable(Arc<serde_json::Error>),
    NotAnObject,
    NotFinite(Arc<crate::finite::NonFinite>),
}

impl Metadata {
    pub(crate) fn new(value: &impl Serialize) -> Self {
        if let Err(e) = crate::finite::check(value) {
            return Metadata::NotFinite(Arc::new(e));
        }
        match serde_json::to_string(value) {
            // A JSON object, and only an object, serializes starting with `{`.
            Ok(text) if text.starts_with('{') => Metadata::Text(text),
            Ok(_) => Metadata::NotAnObject,
            Err(e) => Metadata::NotSerializable(Arc::new(e)),
        }
    }

    /// The JSON text field, size-checked.
    pub(crate) fn field(&self) -> Result<String> {
        match self {
            Metadata::Text(text) if text.len() > MAX_METADATA_BYTES => {
                Err(Error::invalid_input(format!(
                    "metadata is {} bytes as JSON; Cloudflare accepts at most {MAX_METADATA_BYTES}",
                    text.len()
                )))
            }
            Metadata::Text(text) => Ok(text.clone()),
            Metadata::NotSerializable(e) => {
                Err(Error::invalid_input("metadata could not be serialized").with_source(e.clone()))
            }
            Metadata::NotAnObject => Err(Error::invalid_input(
                "metadata must serialize to a JSON object",
            )),
            Metadata::NotFinite(e) => Err(Error::invalid_input(
                "metadata holds a NaN or infinite number, which JSON cannot carry",
            )
            .with_source(e.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    #[test]
    fn metadata_limit_and_shape() {
        let mut m = Map::new();
        m.insert("k".into(), Value::String("x".repeat(1100)));
        assert!(Metadata::new(&m).field().is_err());
        let mut ok = Map::new();
        ok.insert("sku".into(), Value::from(42));
        assert_eq!(Metadata::new(&ok).field().unwrap(), r#"{"sku":42}"#);
        assert!(Metadata::new(&json!([1, 2])).field().is_err());
        assert!(Metadata::new(&"text").field().is_err());
        assert!(Metadata::new(&Option::<Map<String, Value>>::None)
            .field()
            .is_err());
        #[derive(Serialize)]
        struct Tags {
            zeta: u8,
            alpha: &'static str,
        }
        assert_eq!(
            Metadata::new(&Tags {
                zeta: 1,
                alpha: "a"
            })
            .field()
            .unwrap(),
            r#"{"zeta":1,"alpha":"a"}"#
        );
    }
}
