//! Listing: `GET v1` (pages) and `GET v2` (continuation tokens, sort order, metadata filters).
//! Neither lists a direct-upload draft (no file yet), as Cloudflare documents; the store's
//! `page` and `scan` leave drafts out.

use serde_json::{json, Map, Value};

use super::{image_json, parse_range, query_get};
use crate::encoding::{hex, unhex};
use crate::http::{ok, ApiError, ApiResult};
use crate::store::CreatorFilter;
use crate::App;

pub(super) async fn list_v1(app: &App, pairs: &[(String, String)]) -> ApiResult {
    let page = parse_range(pairs, "page", 1, 1, u64::from(u32::MAX))?;
    let per_page = parse_range(pairs, "per_page", 100, 1, 10_000)?;
    let creator = query_get(pairs, "creator").map(str::to_owned);
    let skip = (page - 1).saturating_mul(per_page);
    let (images, variants) = app
        .db(move |s| {
            s.page(
                CreatorFilter::from_query(creator.as_deref()),
                skip,
                per_page,
            )
        })
        .await?;
    let images: Vec<Value> = images
        .iter()
        .map(|i| image_json(app, i, &variants))
        .collect();
    ok(json!({ "images": images }))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Any,
    Str,
    Num,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum FilterOp {
    Eq(Kind),
    In(Kind),
    Cmp(Cmp, f64),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct MetaFilter {
    path: Vec<String>,
    op: FilterOp,
    values: Vec<String>,
}

/// Parses `meta.<path>[<op>]=<value>` query parameters (at most 5, at most 5 levels deep).
pub(super) fn parse_filters(pairs: &[(String, String)]) -> Result<Vec<MetaFilter>, ApiError> {
    let mut filters = Vec::new();
    for (key, value) in pairs {
        let Some(rest) = key.strip_prefix("meta.") else {
            continue;
        };
        let bad =
            |why: &str| ApiError::bad_request(format!("Invalid metadata filter {key}: {why}"));
        let (path, op) = match rest.split_once('[') {
            Some((path, op)) => (
                path,
                op.strip_suffix(']')
                    .ok_or_else(|| bad("missing closing bracket"))?,
            ),
            None => (rest, "eq"),
        };
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(bad("empty path segment"));
        }
        if path.len() > 5 {
            return Err(bad("at most 5 levels of nesting"));
        }
        let kind = |suffix: Option<&str>| -> Result<Kind, ApiError> {
            match suffix {
                None => Ok(Kind::Any),
                Some("string") => Ok(Kind::Str),
                Some("number") => Ok(Kind::Num),
                Some("boolean") | Some("bool") => Ok(Kind::Bool),
                Some(_) => Err(bad("unknown type")),
            }
        };
        let (name, suffix) = match op.split_once(':') {
            Some((n, s)) => (n, Some(s)),
            None => (op, None),
        };
        let values: Vec<String> = if name == "in" {
            value.split('|').map(str::to_owned).collect()
        } else {
            vec![value.clone()]
        };
        let op = match name {
            "eq" => FilterOp::Eq(kind(suffix)?),
            "in" => FilterOp::In(kind(suffix)?),
            "gt" | "gte" | "lt" | "lte" => {
                if !matches!(suffix, None | Some("number")) {
                    return Err(bad("comparisons work on numbers only"));
                }
                let n: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("value must be a number"))?;
                let cmp = match name {
                    "gt" => Cmp::Gt,
                    "gte" => Cmp::Gte,
                    "lt" => Cmp::Lt,
                    _ => Cmp::Lte,
                };
                FilterOp::Cmp(cmp, n)
            }
            _ => return Err(bad("unknown operator")),
        };
        if let FilterOp::Eq(k) | FilterOp::In(k) = &op {
            for v in &values {
                match k {
                    Kind::Num if v.trim().parse::<f64>().is_err() => {
                        return Err(bad("value must be a number"))
                    }
                    Kind::Bool if !matches!(v.as_str(), "true" | "false") => {
                        return Err(bad("value must be true or false"))
                    }
                    _ => {}
                }
            }
        }
        filters.push(MetaFilter { path, op, values });
    }
    if filters.len() > 5 {
        return Err(ApiError::bad_request(
            "At most 5 metadata filters are allowed",
        ));
    }
    Ok(filters)
}

pub(super) fn value_eq(field: &Value, wanted: &str, kind: Kind) -> bool {
    match kind {
        Kind::Str => field.as_str() == Some(wanted),
        Kind::Num => match (field.as_f64(), wanted.trim().parse::<f64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => false,
        },
        Kind::Bool => field.as_bool().map(|b| if b { "true" } else { "false" }) == Some(wanted),
        Kind::Any => match field {
            Value::String(s) => s == wanted,
            Value::Number(_) => value_eq(field, wanted, Kind::Num),
            Value::Bool(_) => value_eq(field, wanted, Kind::Bool),
            Value::Null => wanted == "null",
            _ => false,
        },
    }
}

pub(super) fn filter_matches(meta: &Map<String, Value>, filter: &MetaFilter) -> bool {
    let mut segments = filter.path.iter();
    let Some(first) = segments.next() else {
        return false;
    };
    let Some(mut field) = meta.get(first) else {
        return false;
    };
    for seg in segments {
        match field.as_object().and_then(|o| o.get(seg)) {
            Some(next) => field = next,
            None => return false,
        }
    }
    match &filter.op {
        FilterOp::Eq(kind) | FilterOp::In(kind) => {
            filter.values.iter().any(|v| value_eq(field, v, *kind))
        }
        FilterOp::Cmp(cmp, n) => match field.as_f64() {
            Some(x) => match cmp {
                Cmp::Gt => x > *n,
                Cmp::Gte => x >= *n,
                Cmp::Lt => x < *n,
                Cmp::Lte => x <= *n,
            },
            None => false,
        },
    }
}

/// FNV-1a, to make continuation tokens tamper-evident.
pub(super) fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(super) fn encode_token(desc: bool, seq: u64) -> String {
    let body = format!("emu1:{}:{seq}", if desc { 'd' } else { 'a' });
    let check = fnv(&body);
    hex(format!("{body}:{check:016x}").as_bytes())
}

pub(super) fn decode_token(token: &str, desc: bool) -> Result<u64, ApiError> {
    let invalid = || ApiError::bad_request("Invalid continuation_token");
    let bytes = unhex(token.trim()).ok_or_else(invalid)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (body, check) = text.rsplit_once(':').ok_or_else(invalid)?;
    if format!("{:016x}", fnv(body)) != check {
        return Err(invalid());
    }
    let mut parts = body.split(':');
    let (Some("emu1"), Some(dir), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if dir != if desc { "d" } else { "a" } {
        return Err(ApiError::bad_request(
            "continuation_token was issued for the other sort_order",
        ));
    }
    seq.parse().map_err(|_| invalid())
}

pub(super) async fn list_v2(app: &App, pairs: &[(String, String)]) -> ApiResult {
    let per_page = parse_range(pairs, "per_page", 1000, 10, 10_000)?;
    let per_page = usize::try_from(per_page).unwrap_or(10_000);
    let desc = match query_get(pairs, "sort_order") {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(ApiError::bad_request("sort_order must be asc or desc")),
    };
    let after = match query_get(pairs, "continuation_token") {
        None | Some("") => None,
        Some(token) => Some(decode_token(token, desc)?),
    };
    let creator = query_get(pairs, "creator").map(str::to_owned);
    let filters = parse_filters(pairs)?;
    let (page, variants) = app
        .db(move |s| {
            s.scan(
                desc,
                after,
                CreatorFilter::from_query(creator.as_deref()),
                per_page + 1,
                |i| filters.iter().all(|f| filter_matches(&i.meta, f)),
            )
        })
        .await?;
    let more = page.len() > per_page;
    let page = &page[..page.len().min(per_page)];
    let token = match (more, page.last()) {
        (true, Some(last)) => Value::String(encode_token(desc, last.seq)),
        _ => Value::Null,
    };
    let images: Vec<Value> = page.iter().map(|i| image_json(app, i, &variants)).collect();
    ok(json!({ "images": images, "continuation_token": token }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let t = encode_token(true, 42);
        assert_eq!(decode_token(&t, true).ok(), Some(42));
        assert!(decode_token(&t, false).is_err());
        assert!(decode_token("zz", true).is_err());
        let mut forged = hex(b"emu1:d:43:0000000000000000");
        assert!(decode_token(&forged, true).is_err());
        forged.push('0');
        assert!(decode_token(&forged, true).is_err());
    }

    #[test]
    fn filters() {
        let pairs = vec![
            ("meta.a.b[gte]".to_owned(), "3".to_owned()),
            ("meta.c[in]".to_owned(), "x|y".to_owned()),
            ("meta.d".to_owned(), "true".to_owned()),
        ];
        let f = parse_filters(&pairs).unwrap_or_default();
        assert_eq!(f.len(), 3);
        let meta = json!({"a": {"b": 3}, "c": "y", "d": true});
        let meta = meta.as_object().cloned().unwrap_or_default();
        assert!(f.iter().all(|f| filter_matches(&meta, f)));
        let too_many: Vec<_> = (0..6)
            .map(|i| (format!("meta.k{i}"), "1".to_owned()))
            .collect();
        assert!(parse_filters(&too_many).is_err());
        let bad = vec![("meta.a[gt]".to_owned(), "abc".to_owned())];
        assert!(parse_filters(&bad).is_err());
    }
}
