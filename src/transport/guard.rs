//! The outermost layer of both listeners: a request whose `Host` is not one of the server's
//! names gets 421 Misdirected Request, one from a foreign `Origin` 403 Forbidden, before any
//! route, CORS or service sees it ([`Names`] says which).

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::{Either, Ready, ready};
use http::{HeaderMap, Request, Response, StatusCode, header};
use tower::{Layer, Service};

use super::names::{Names, Refusal};

/// The body of a refusal, in whichever body type the listener's services answer with.
pub trait RefusalBody {
    /// A plain-text body.
    fn refusal(text: String) -> Self;
}

impl RefusalBody for axum::body::Body {
    fn refusal(text: String) -> Self {
        Self::from(text)
    }
}

impl RefusalBody for tonic::body::Body {
    fn refusal(text: String) -> Self {
        Self::new(axum::body::Body::from(text))
    }
}

/// Wraps a listener's services in a [`Guard`].
#[derive(Debug, Clone)]
pub struct GuardLayer {
    names: Arc<Names>,
}

impl GuardLayer {
    /// Refuses what `names` does not allow.
    pub fn new(names: Arc<Names>) -> Self {
        Self { names }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            names: self.names.clone(),
        }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    names: Arc<Names>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Guard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: RefusalBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, Self::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let host = host_of(request.uri(), request.headers());
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .map(|value| value.to_str().unwrap_or("null"));
        match self.names.check(host, origin) {
            Ok(()) => Either::Right(self.inner.call(request)),
            Err(refusal) => {
                tracing::debug!(%refusal, path = request.uri().path(), "request refused");
                let status = match refusal {
                    Refusal::Host(_) => StatusCode::MISDIRECTED_REQUEST,
                    Refusal::Origin(_) => StatusCode::FORBIDDEN,
                };
                let mut response = Response::new(ResBody::refusal(format!("{refusal}\n")));
                *response.status_mut() = status;
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                Either::Left(ready(Ok(response)))
            }
        }
    }
}

/// The name a request was sent to: HTTP/2's `:authority` (the URI's), else `Host`. A `Host`
/// that is not text counts as a name no server has.
pub fn host_of<'a>(uri: &'a http::Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| {
            headers
                .get(header::HOST)
                .map(|value| value.to_str().unwrap_or("\u{0}"))
        })
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, routing::get};
    use tower::ServiceExt as _;

    use super::*;

    async fn status(host: &str, origin: Option<&str>) -> StatusCode {
        let names = Names::new(&[], &[], [8000]).expect("names");
        let app = Router::new()
            .route("/", get(|| async { "hi" }))
            .layer(GuardLayer::new(Arc::new(names)));
        let mut request = Request::get("/").header(header::HOST, host);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let request = request.body(Body::empty()).expect("request");
        app.oneshot(request).await.expect("response").status()
    }

    #[tokio::test]
    async fn hosts_and_origins_are_refused_before_the_routes() {
        assert_eq!(status("127.0.0.1:8000", None).await, StatusCode::OK);
        assert_eq!(
            status("127.0.0.1:8000", Some("http://127.0.0.1:8000")).await,
            StatusCode::OK
        );
        assert_eq!(
            status("evil.example:8000", None).await,
            StatusCode::MISDIRECTED_REQUEST
        );
        assert_eq!(
            status("127.0.0.1:8000", Some("http://evil.example")).await,
            StatusCode::FORBIDDEN
        );
    }
}
