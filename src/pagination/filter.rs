//! Typed metadata filters for the v2 listing (`meta.<path>[<op>]=<value>`).

use super::*;

/// A value in a [`MetadataFilter`]: a string, a number or a boolean. Its type
/// picks the filter's type suffix (`eq:string`, `eq:number`, `eq:boolean`).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterValue(ValueRepr);

#[derive(Debug, Clone, PartialEq)]
enum ValueRepr {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Str,
    Num,
    Bool,
}

impl FilterValue {
    fn kind(&self) -> ValueKind {
        match self.0 {
            ValueRepr::Str(_) => ValueKind::Str,
            ValueRepr::Int(_) | ValueRepr::Float(_) => ValueKind::Num,
            ValueRepr::Bool(_) => ValueKind::Bool,
        }
    }

    /// The value as it goes on the wire (before URL encoding).
    fn wire(&self) -> Result<String> {
        Ok(match &self.0 {
            ValueRepr::Str(s) => s.clone(),
            ValueRepr::Int(n) => n.to_string(),
            ValueRepr::Float(x) if x.is_finite() => x.to_string(),
            ValueRepr::Float(x) => {
                return Err(Error::invalid_input(format!(
                    "metadata filter values must be finite numbers, got {x}"
                )))
            }
            ValueRepr::Bool(b) => b.to_string(),
        })
    }
}

impl From<&str> for FilterValue {
    fn from(value: &str) -> Self {
        FilterValue(ValueRepr::Str(value.to_string()))
    }
}

impl From<String> for FilterValue {
    fn from(value: String) -> Self {
        FilterValue(ValueRepr::Str(value))
    }
}

impl From<&String> for FilterValue {
    fn from(value: &String) -> Self {
        FilterValue(ValueRepr::Str(value.clone()))
    }
}

impl From<bool> for FilterValue {
    fn from(value: bool) -> Self {
        FilterValue(ValueRepr::Bool(value))
    }
}

macro_rules! int_filter_value {
    ($($t:ty),*) => {$(
        impl From<$t> for FilterValue {
            fn from(value: $t) -> Self {
                FilterValue(ValueRepr::Int(i128::from(value)))
            }
        }
    )*};
}
int_filter_value!(i8, i16, i32, i64, u8, u16, u32, u64);

impl From<usize> for FilterValue {
    fn from(value: usize) -> Self {
        // usize is at most 64 bits on every supported target.
        FilterValue(ValueRepr::Int(value as i128))
    }
}

impl From<isize> for FilterValue {
    fn from(value: isize) -> Self {
        FilterValue(ValueRepr::Int(value as i128))
    }
}

impl From<f64> for FilterValue {
    fn from(value: f64) -> Self {
        FilterValue(ValueRepr::Float(value))
    }
}

impl From<f32> for FilterValue {
    fn from(value: f32) -> Self {
        FilterValue(ValueRepr::Float(f64::from(value)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterOp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
}

impl FilterOp {
    fn name(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Gt => "gt",
            FilterOp::Gte => "gte",
            FilterOp::Lt => "lt",
            FilterOp::Lte => "lte",
            FilterOp::In => "in",
        }
    }
}

/// A filter on images' metadata for [`V2Images::filter`]: sent as
/// `meta.<path>[<op>:<type>]=<value>`.
///
/// `path` addresses a metadata field, nested fields joined with `.`
/// (`"region.name"`, at most 5 levels), without the `meta.` prefix. The value's
/// Rust type picks the type suffix:
///
/// | Filter | Query key and value |
/// |---|---|
/// | `MetadataFilter::eq("status", "active")` | `meta.status[eq:string]=active` |
/// | `MetadataFilter::eq("priority", 5)` | `meta.priority[eq:number]=5` |
/// | `MetadataFilter::eq("public", true)` | `meta.public[eq:boolean]=true` |
/// | `MetadataFilter::gte("priority", 1)` | `meta.priority[gte:number]=1` |
/// | `MetadataFilter::in_("region", ["eu", "us"])` | `meta.region[in:string]=eu\|us` |
///
/// Range operators (`gt`, `gte`, `lt`, `lte`) take numbers only; `in` takes 1 to 10
/// strings or 1 to 10 numbers, not mixed, and strings without `|`. Filters are
/// checked before anything is sent ([`validate`](MetadataFilter::validate)).
/// Several filters combine with AND.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataFilter {
    path: String,
    op: FilterOp,
    values: Vec<FilterValue>,
}

impl MetadataFilter {
    fn new(path: impl Into<String>, op: FilterOp, values: Vec<FilterValue>) -> Self {
        MetadataFilter {
            path: path.into(),
            op,
            values,
        }
    }

    /// The field at `path` equals `value` (a string, number or boolean).
    pub fn eq(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Eq, vec![value.into()])
    }

    /// The field at `path` is a number greater than `value`.
    pub fn gt(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Gt, vec![value.into()])
    }

    /// The field at `path` is a number greater than or equal to `value`.
    pub fn gte(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Gte, vec![value.into()])
    }

    /// The field at `path` is a number less than `value`.
    pub fn lt(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Lt, vec![value.into()])
    }

    /// The field at `path` is a number less than or equal to `value`.
    pub fn lte(path: impl Into<String>, value: impl Into<FilterValue>) -> Self {
        Self::new(path, FilterOp::Lte, vec![value.into()])
    }

    /// The field at `path` equals one of `values` (1 to 10 strings, or 1 to 10
    /// numbers).
    pub fn in_<V: Into<FilterValue>>(
        path: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self::new(
            path,
            FilterOp::In,
            values.into_iter().map(Into::into).collect(),
        )
    }

    /// The metadata path this filter addresses.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Checks the filter against Cloudflare's rules, without sending anything.
    pub fn validate(&self) -> Result<()> {
        self.query_pair().map(|_| ())
    }

    /// The query parameter this filter sends, before URL encoding:
    /// `("meta.status[eq:string]", "active")`; fails as [`validate`](Self::validate).
    pub fn query_pair(&self) -> Result<(String, String)> {
        let bad =
            |why: String| Error::invalid_input(format!("metadata filter {:?}: {why}", self.path));
        let segments: Vec<&str> = self.path.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(bad("the path is empty or has an empty segment".into()));
        }
        if segments.len() > MAX_FILTER_DEPTH {
            return Err(bad(format!(
                "at most {MAX_FILTER_DEPTH} levels of nesting, got {}",
                segments.len()
            )));
        }
        if self
            .path
            .chars()
            .any(|c| c == '[' || c == ']' || c.is_control())
        {
            return Err(bad(
                "the path must not contain brackets or control characters".into(),
            ));
        }
        let kind = match self.values.first() {
            Some(first) => first.kind(),
            None => return Err(bad("`in` needs at least one value".into())),
        };
        if self.values.iter().any(|v| v.kind() != kind) {
            return Err(bad("all values of `in` must have the same type".into()));
        }
        let suffix = match (self.op, kind) {
            (FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte, ValueKind::Num) => {
                "number"
            }
            (FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte, _) => {
                return Err(bad(format!("`{}` compares numbers only", self.op.name())))
            }
            (FilterOp::In, ValueKind::Bool) => {
                return Err(bad("`in` takes strings or numbers, not booleans".into()))
            }
            (_, ValueKind::Str) => "string",
            (_, ValueKind::Num) => "number",
            (_, ValueKind::Bool) => "boolean",
        };
        if self.values.len() > MAX_IN_VALUES {
            return Err(bad(format!(
                "`in` takes at most {MAX_IN_VALUES} values, got {}",
                self.values.len()
            )));
        }
        let mut wire = Vec::with_capacity(self.values.len());
        for value in &self.values {
            let text = value.wire()?;
            if self.op == FilterOp::In && text.contains('|') {
                return Err(bad(format!(
                    "`in` values must not contain `|`, got {text:?}"
                )));
            }
            wire.push(text);
        }
        Ok((
            format!("meta.{}[{}:{suffix}]", self.path, self.op.name()),
            wire.join("|"),
        ))
    }
}

/// The query pairs of `filters`, checked: at most [`MAX_METADATA_FILTERS`], each
/// valid. Used by the v2 pager and by `v2().list().filter(..)`.
pub(crate) fn filter_pairs(filters: &[MetadataFilter]) -> Result<Vec<(String, String)>> {
    if filters.len() > MAX_METADATA_FILTERS {
        return Err(Error::invalid_input(format!(
            "at most {MAX_METADATA_FILTERS} metadata filters per request, got {}",
            filters.len()
        )));
    }
    filters.iter().map(MetadataFilter::query_pair).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(f: MetadataFilter) -> (String, String) {
        f.query_pair().unwrap()
    }

    #[test]
    fn filter_keys_follow_the_value_type() {
        assert_eq!(
            pair(MetadataFilter::eq("status", "active")),
            ("meta.status[eq:string]".into(), "active".into())
        );
        assert_eq!(
            pair(MetadataFilter::eq("a.b", 5)),
            ("meta.a.b[eq:number]".into(), "5".into())
        );
        assert_eq!(
            pair(MetadataFilter::eq("ok", false)),
            ("meta.ok[eq:boolean]".into(), "false".into())
        );
        assert_eq!(
            pair(MetadataFilter::gte("p", 1.5)),
            ("meta.p[gte:number]".into(), "1.5".into())
        );
        assert_eq!(
            pair(MetadataFilter::lt("p", 2.0f64)),
            ("meta.p[lt:number]".into(), "2".into())
        );
        assert_eq!(
            pair(MetadataFilter::in_("r", [4, 5])),
            ("meta.r[in:number]".into(), "4|5".into())
        );
        assert_eq!(
            pair(MetadataFilter::in_("r", ["a", "b"])),
            ("meta.r[in:string]".into(), "a|b".into())
        );
    }

    #[test]
    fn bad_filters_are_invalid_input() {
        let bad = [
            MetadataFilter::gt("p", "x"),
            MetadataFilter::lte("p", true),
            MetadataFilter::eq("", 1),
            MetadataFilter::eq("a..b", 1),
            MetadataFilter::eq("a.b.c.d.e.f", 1),
            MetadataFilter::eq("a[b]", 1),
            MetadataFilter::eq("p", f64::NAN),
            MetadataFilter::in_("p", Vec::<String>::new()),
            MetadataFilter::in_("p", 0..11),
            MetadataFilter::in_("p", ["a|b"]),
            MetadataFilter::in_("p", [true]),
            MetadataFilter::in_("p", [FilterValue::from(1), FilterValue::from("a")]),
        ];
        for f in bad {
            let e = f.validate().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{f:?}");
        }
        assert!(MetadataFilter::eq("a.b.c.d.e", 1).validate().is_ok());
        assert!(MetadataFilter::in_("p", 0..10).validate().is_ok());
    }
}
