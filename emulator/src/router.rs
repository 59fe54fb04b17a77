//! The front of the server: the accept loop, then for every request the counters, the
//! request log, injected faults and the global rate window, then the route by path prefix
//! (the API, the batch host, one-time upload URLs, transformations, the console, else
//! delivery).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::faults::FaultAction;
use crate::http::{self, ApiError};
use crate::{App, RecordedRequest};

/// Accept loop. Connection tasks live in a `JoinSet`, so aborting this task closes them all.
pub(crate) async fn serve(listener: TcpListener, app: Arc<App>) {
    let router = Router::new()
        .fallback(dispatch)
        .layer(DefaultBodyLimit::disable())
        .with_state(app.clone());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let app = app.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        handle_request_cors(app.clone(), router.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// [`handle_request`], then `Access-Control-Allow-Origin` on every answer of a one-time upload
/// URL, injected faults included, so a browser's cross-origin `fetch` can read it.
async fn handle_request_cors(
    app: Arc<App>,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let upload = req.uri().path().starts_with("/upload/");
    let mut record = RecordedRequest {
        method: req.method().as_str().to_owned(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().map(str::to_owned),
        status: None,
    };
    let log = app.clone();
    let answer = handle_request(app, router, req).await;
    record.status = answer.as_ref().ok().map(|resp| resp.status().as_u16());
    log.requests.record(record);
    let mut resp = answer?;
    if upload {
        http::allow_cross_origin(resp.headers_mut());
    }
    Ok(resp)
}

/// Counts the request, applies faults and the global rate window (API requests), then hands
/// it to the router (the batch routes check their token's window themselves). Returning an
/// error makes hyper drop the connection without a response (the "reset" fault).
async fn handle_request(
    app: Arc<App>,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    app.request_count.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path();
    let is_api = path.starts_with("/client/v4/");
    let is_batch = path.starts_with("/batch/");
    if is_batch {
        app.batch_request_count.fetch_add(1, Ordering::SeqCst);
    }
    let faultable = is_api || is_batch || path.starts_with("/upload/");
    if faultable {
        let latency = app.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match app.faults.decide() {
            FaultAction::Proceed => {}
            FaultAction::Reset => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected connection reset",
                ))
            }
            FaultAction::Respond {
                status,
                code,
                message,
                retry_after,
                html,
            } => {
                if html {
                    return Ok(http::html_502());
                }
                let mut err = http::ApiError::new(status, code, message);
                err.retry_after = retry_after;
                return Ok(err.into_response());
            }
        }
    }
    let mut headroom = None;
    if is_api {
        match app.limits.admit_global() {
            Ok(h) => headroom = h,
            Err((err, h)) => {
                let mut resp = err.into_response();
                if let Some(h) = h {
                    h.write(resp.headers_mut());
                }
                return Ok(resp);
            }
        }
    }
    let mut resp = match router.oneshot(req.map(Body::new)).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    if let Some(h) = headroom {
        h.write(resp.headers_mut());
    }
    Ok(resp)
}

/// Entry point for every request (the router's fallback): the API, the batch host, one-time
/// upload URLs, `/cdn-cgi/image/` transformations, the console, else delivery.
async fn dispatch(State(app): State<Arc<App>>, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/client/v4/") {
        return crate::api::serve(app, rest, req)
            .await
            .unwrap_or_else(ApiError::into_response);
    }
    if let Some(rest) = path.strip_prefix("/batch/") {
        return crate::api::batch::serve(app, rest, req)
            .await
            .unwrap_or_else(ApiError::into_response);
    }
    if let Some(rest) = path.strip_prefix("/upload/") {
        return crate::api::direct_upload::one_time_upload(&app, rest, req)
            .await
            .unwrap_or_else(ApiError::into_response);
    }
    if path.starts_with(crate::delivery::transform::PREFIX) {
        return crate::delivery::transform::serve(app, req).await;
    }
    if crate::console::handles(&app, &path) {
        return crate::console::serve(app, req).await;
    }
    crate::delivery::serve(&app, req).await
}
