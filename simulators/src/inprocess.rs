//! A [`Transport`] that hands requests straight to axum `Router`s by host,
//! with no sockets: `tower::ServiceExt::oneshot` on the router registered for
//! the request's authority. The simulators' own tests use it to let shop and
//! pos reach pay; the harness wraps it with simulated network latency and
//! history recording for virtual-time runs.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use omnisim_api::{BoxFuture, Transport, TransportError};
use tower::ServiceExt;

/// Routers by authority (`host:port`), such as `pay.sim` or `127.0.0.1:7103`.
#[derive(Clone, Default)]
pub struct RouterTransport {
    routes: Arc<RwLock<Vec<(String, Router)>>>,
}

impl std::fmt::Debug for RouterTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<String> = self
            .routes
            .read()
            .map(|r| r.iter().map(|(h, _)| h.clone()).collect())
            .unwrap_or_default();
        f.debug_struct("RouterTransport")
            .field("hosts", &hosts)
            .finish()
    }
}

impl RouterTransport {
    /// A transport with no routes.
    pub fn new() -> Self {
        RouterTransport::default()
    }

    /// Serves requests for `authority` with `router` (replacing any before).
    pub fn mount(&self, authority: &str, router: Router) {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.retain(|(a, _)| a != authority);
        routes.push((authority.to_owned(), router));
    }

    /// Stops serving `authority`: requests to it fail to connect.
    pub fn unmount(&self, authority: &str) {
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        routes.retain(|(a, _)| a != authority);
    }

    fn router_for(&self, authority: &str) -> Option<Router> {
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        routes
            .iter()
            .find(|(a, _)| a == authority)
            .map(|(_, r)| r.clone())
    }
}

impl Transport for RouterTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        let url = request.uri().to_string();
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let router = self.router_for(&authority);
        Box::pin(async move {
            let Some(router) = router else {
                return Err(TransportError::Connect {
                    url,
                    message: format!("nothing serves `{authority}`"),
                });
            };
            let response = router
                .oneshot(request.map(Body::from))
                .await
                .unwrap_or_else(|never| match never {});
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
                TransportError::Broken {
                    url,
                    message: e.to_string(),
                }
            })?;
            Ok(http::Response::from_parts(parts, body))
        })
    }
}
