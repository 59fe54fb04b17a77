//! A JSON-object body field that a caller sets from any `Serialize`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A value that must serialize to a JSON object with finite numbers; what was
/// wrong with it is reported when the request is sent, before anything goes out.
#[derive(Clone, Debug)]
pub(crate) struct JsonObject(std::result::Result<Map<String, Value>, String>);

impl JsonObject {
    pub(crate) fn new(value: &impl Serialize) -> Self {
        if let Err(e) = crate::finite::check(value) {
            return JsonObject(Err(format!(
                "holds a NaN or infinite number, which JSON cannot carry ({e})"
            )));
        }
        JsonObject(match serde_json::to_value(value) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("must serialize to a JSON object".into()),
            Err(e) => Err(format!("could not be serialized: {e}")),
        })
    }

    pub(crate) fn into_map(self) -> Result<Map<String, Value>> {
        self.0
            .map_err(|why| Error::invalid_input(format!("a JSON object field {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_pass_and_everything_else_is_invalid_input() {
        #[derive(Serialize)]
        struct Tags {
            sku: u32,
        }
        let map = JsonObject::new(&Tags { sku: 7 }).into_map().unwrap();
        assert_eq!(Value::Object(map), serde_json::json!({"sku": 7}));
        for bad in [
            JsonObject::new(&[1, 2]),
            JsonObject::new(&"text"),
            JsonObject::new(&serde_json::json!(null)),
            JsonObject::new(&std::collections::BTreeMap::from([("x", f64::NAN)])),
        ] {
            assert_eq!(
                bad.into_map().unwrap_err().kind(),
                crate::ErrorKind::InvalidInput
            );
        }
    }
}
