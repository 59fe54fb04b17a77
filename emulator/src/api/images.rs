//! `POST v1` (file or url upload), `GET/PATCH/DELETE v1/{id}` and `GET v1/{id}/blob`.

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Map, Value};

use super::fetch::fetch_url;
use super::fields::metadata_from_value;
use super::form::{check_format, common_fields, read_form};
use super::{
    check_creator, custom_id_signed_error, ensure_free, fail_after_upload, image_json,
    read_json_body, too_large,
};
use crate::http::{blob_response, ok, ApiError, ApiResult};
use crate::store::Image;
use crate::App;

pub(super) async fn upload_v1(app: &App, req: Request<Body>) -> ApiResult {
    let form = read_form(req).await?;
    if form.file_too_large {
        return Err(too_large());
    }
    let url = form.get("url").map(str::to_owned);
    let (filename, data) = match (form.file.clone(), url) {
        (Some(file), None) => file,
        (None, Some(url)) => {
            let fields = common_fields(&form)?;
            ensure_free(app, fields.id.as_deref()).await?;
            fetch_url(&url).await?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Specify either a file or a url, not both",
            ))
        }
        (None, None) => return Err(ApiError::bad_request("A file or a url field is required")),
    };
    let fields = common_fields(&form)?;
    ensure_free(app, fields.id.as_deref()).await?;
    let mime = check_format(&data)?;
    let image = Image::uploaded_now(
        fields.id,
        filename,
        fields.require_signed_urls,
        fields.meta,
        fields.creator,
        mime,
    );
    let (image, variants) = app.db(move |s| s.insert(image, Some(data))).await?;
    fail_after_upload(app)?;
    ok(image_json(app, &image, &variants))
}

pub(super) async fn image_get(app: &App, id: &str) -> ApiResult {
    let id = id.to_owned();
    let (image, variants) = app
        .db(move |s| s.image(&id))
        .await?
        .ok_or_else(ApiError::image_not_found)?;
    ok(image_json(app, &image, &variants))
}
pub(super) async fn image_patch(app: &App, id: &str, req: Request<Body>) -> ApiResult {
    let body = read_json_body(req).await?.unwrap_or_default();
    let meta = match body.get("metadata") {
        None => None,
        Some(Value::Null) => Some(Map::new()),
        Some(v) => Some(metadata_from_value(v)?),
    };
    let creator = match body.get("creator") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => {
            check_creator(s)?;
            Some(Some(s.clone()))
        }
        Some(_) => return Err(ApiError::bad_request("creator must be a string")),
    };
    let signed = match body.get("requireSignedURLs") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::bad_request("requireSignedURLs must be a boolean")),
    };
    let id = id.to_owned();
    let (image, variants) = app
        .db(move |s| {
            s.update(&id, |image| {
                if signed == Some(true) && image.custom_id {
                    return Err(custom_id_signed_error());
                }
                if let Some(meta) = meta {
                    image.meta = meta;
                }
                if let Some(creator) = creator {
                    image.creator = creator;
                }
                if let Some(signed) = signed {
                    image.require_signed_urls = signed;
                }
                Ok(())
            })
        })
        .await?;
    ok(image_json(app, &image, &variants))
}

pub(super) async fn image_delete(app: &App, id: &str) -> ApiResult {
    let id = id.to_owned();
    if !app.db(move |s| s.delete(&id)).await? {
        return Err(ApiError::image_not_found());
    }
    ok(json!({}))
}

/// `GET v1/{id}/blob`: the original bytes, streamed.
pub(super) async fn blob(app: &App, id: &str) -> ApiResult {
    let id = id.to_owned();
    let (source, mime) = app
        .db(move |s| s.blob_of(&id))
        .await?
        .ok_or_else(ApiError::image_not_found)?;
    blob_response(source, &mime).await
}
