//! The bearer token of a `rift.v1.Rift` call, checked from its headers before its body is
//! read or decoded.
//!
//! The service checks again (every domain operation authorizes its caller); this layer only
//! makes sure that a caller without the right token costs no decoding: a 4 MB body sent
//! without one is refused as soon as its headers arrive, and never read.

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tonic::{body::Body, codegen::http};
use tower::{Layer, Service};

use super::{SERVICE_NAME, status::into_status};
use crate::domain::{
    Agents, Caller,
    auth::{self, Operation},
};

/// Refuses `rift.v1.Rift` calls the bearer token does not allow, before the body.
#[derive(Debug, Clone)]
pub(super) struct AuthorizeLayer {
    agents: Agents,
}

impl AuthorizeLayer {
    pub(super) fn new(agents: Agents) -> Self {
        Self { agents }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            agents: self.agents.clone(),
        }
    }
}

/// The service [`AuthorizeLayer`] wraps around the server's routes.
#[derive(Debug, Clone)]
pub(super) struct Authorize<S> {
    inner: S,
    agents: Agents,
}

impl<S, B> Service<http::Request<B>> for Authorize<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, Self::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(operation) = operation_of(request.uri().path()) {
            let token = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(auth::bearer_token);
            if let Err(error) = self.agents.authorize(&Caller::with_token(token), operation) {
                return Either::Left(ready(Ok(into_status(error).into_http())));
            }
        }
        Either::Right(self.inner.call(request))
    }
}

/// The operation a `/rift.v1.Rift/<Method>` path calls; `None` for other services (health,
/// reflection: outside authorization) and unknown methods (tonic answers UNIMPLEMENTED).
fn operation_of(path: &str) -> Option<Operation> {
    let method = path
        .strip_prefix('/')?
        .strip_prefix(SERVICE_NAME)?
        .strip_prefix('/')?;
    Operation::ALL
        .into_iter()
        // Help is the WebSocket adapter's own; gRPC has no such method.
        .filter(|operation| *operation != Operation::Help)
        .find(|operation| operation.as_str() == method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_operation_they_call() {
        assert_eq!(
            operation_of("/rift.v1.Rift/Analyze"),
            Some(Operation::Analyze)
        );
        assert_eq!(
            operation_of("/rift.v1.Rift/DeleteTask"),
            Some(Operation::DeleteTask)
        );
        for other in [
            "/grpc.health.v1.Health/Check",
            "/rift.v1.Rift/help",
            "/rift.v1.Rift/Nope",
            "/rift.v1.RiftX/Analyze",
            "",
        ] {
            assert_eq!(operation_of(other), None, "{other}");
        }
    }
}
