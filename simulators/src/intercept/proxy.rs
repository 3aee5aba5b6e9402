//! The intercepting proxy: an HTTP/1.1 forward proxy on loopback that
//! answers `CONNECT` for the simulated hosts itself.
//!
//! - `CONNECT api.stripe.com:443` (or a `*.myshopify.com`, Square host) is
//!   answered 200; the tunnel's TLS is terminated with a leaf certificate
//!   for that host from the local CA ([`LocalCa`]), and the decrypted
//!   HTTP/1.1 connection is served by the platform's own router (the Stripe
//!   router, the shop router, the POS router): method, path, query, headers
//!   and body reach the dialect as the client sent them, through the same
//!   middleware (auth, faults, partitions, rate limit, idempotency).
//! - Any other host, by `CONNECT` or as a plain absolute-URI proxy request,
//!   is refused with 403 and a JSON body naming the host and the simulated
//!   hosts. The proxy never opens a connection anywhere: it has no upstream
//!   client at all.
//! - A plain-HTTP request for a simulated host is refused too (the real
//!   platforms are HTTPS only).
//! - `GET /healthz` addressed to the proxy itself answers 200 with the
//!   simulated hosts.
//!
//! The proxy's own refusals are not simulator answers (no platform made
//! them), so they are rendered here, in the native error shape
//! `{"error": {"code", "message", "field"}}`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use super::{LocalCa, SIMULATED_HOSTS, Target};
use crate::error::SimError;
use crate::world::Simulators;

/// The proxy: the CA and the three routers it hands tunnels to.
#[derive(Clone)]
pub struct Proxy {
    ca: Arc<LocalCa>,
    stripe: Router,
    shop: Router,
    pos: Router,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy over `sims`' routers, presenting certificates from `ca`.
    pub fn new(ca: Arc<LocalCa>, sims: &Simulators) -> Self {
        Proxy {
            ca,
            stripe: sims.stripe_router(),
            shop: sims.shop_router(),
            pos: sims.pos_router(),
        }
    }

    /// The router a simulated host is served by.
    pub fn router(&self, target: Target) -> Router {
        match target {
            Target::Stripe => self.stripe.clone(),
            Target::Shopify => self.shop.clone(),
            Target::Square => self.pos.clone(),
        }
    }

    /// Accepts connections on `listener` until `stopped` turns true; then
    /// every connection and tunnel still open is closed.
    pub async fn serve(
        self,
        listener: TcpListener,
        mut stopped: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        let proxy = Arc::new(self);
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = stopped.wait_for(|s| *s) => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        let _ = tcp.set_nodelay(true);
                        connections.spawn(Arc::clone(&proxy).connection(tcp));
                    }
                    Err(e) => tracing::warn!("intercept proxy: accept failed: {e}"),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
        Ok(())
    }

    /// One client connection: proxy requests, and the tunnels they open.
    async fn connection(self: Arc<Self>, tcp: TcpStream) {
        let proxy = Arc::clone(&self);
        let (tunnel_tx, mut tunnel_rx) = tokio::sync::mpsc::unbounded_channel();
        let service = service_fn(move |req: Request<Incoming>| {
            let proxy = Arc::clone(&proxy);
            let tunnel_tx = tunnel_tx.clone();
            async move { Ok::<_, Infallible>(proxy.front(req, &tunnel_tx)) }
        });
        let served = http1::Builder::new()
            .serve_connection(TokioIo::new(tcp), service)
            .with_upgrades();
        if let Err(e) = served.await {
            tracing::debug!("intercept proxy: connection ended: {e}");
        }
        // A CONNECT answered 200 leaves its tunnel behind; serve it here, so
        // it ends with this connection's task.
        if let Ok(tunnel) = tunnel_rx.try_recv() {
            tunnel.await;
        }
    }

    /// Answers one request to the proxy itself.
    fn front(
        self: Arc<Self>,
        req: Request<Incoming>,
        tunnels: &tokio::sync::mpsc::UnboundedSender<futures::future::BoxFuture<'static, ()>>,
    ) -> Response<Body> {
        if req.method() == Method::CONNECT {
            let Some(authority) = req.uri().authority().cloned() else {
                return refusal(
                    StatusCode::BAD_REQUEST,
                    "bad_connect",
                    "CONNECT needs a `host:port` target".into(),
                );
            };
            let host = authority.host().trim_end_matches('.').to_ascii_lowercase();
            let port = authority.port_u16().unwrap_or(443);
            let Some(target) = Target::for_host(&host) else {
                return not_simulated(&host);
            };
            if port != 443 {
                return refusal(
                    StatusCode::FORBIDDEN,
                    "port_not_simulated",
                    format!(
                        "omnisim intercepts `{host}` on port 443 only, not {port}; \
                         nothing was forwarded"
                    ),
                );
            }
            let config = match self.ca.server_config(&host) {
                Ok(c) => c,
                Err(e) => {
                    return refusal(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "certificate_error",
                        format!("no certificate for `{host}`: {e}"),
                    );
                }
            };
            let proxy = Arc::clone(&self);
            let tunnel = Box::pin(async move {
                match hyper::upgrade::on(req).await {
                    Ok(upgraded) => proxy.tunnel(upgraded, host, target, config).await,
                    Err(e) => tracing::debug!("intercept proxy: CONNECT {host}: {e}"),
                }
            });
            if tunnels.send(tunnel).is_err() {
                return refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "proxy_closing",
                    "the proxy is closing this connection".into(),
                );
            }
            return Response::new(Body::empty());
        }
        if let Some(authority) = req.uri().authority() {
            let host = authority.host().to_ascii_lowercase();
            return match Target::for_host(&host) {
                Some(_) => refusal(
                    StatusCode::FORBIDDEN,
                    "https_only",
                    format!(
                        "`{host}` is simulated over HTTPS only (as the real platform): \
                         send `https://` URLs through this proxy (HTTPS_PROXY); \
                         nothing was forwarded"
                    ),
                ),
                None => not_simulated(&host),
            };
        }
        if req.method() == Method::GET && req.uri().path() == "/healthz" {
            let body = serde_json::json!({
                "status": "ok",
                "proxy": "omnisim intercept",
                "simulated_hosts": SIMULATED_HOSTS,
            });
            return json(StatusCode::OK, &body);
        }
        refusal(
            StatusCode::BAD_REQUEST,
            "not_a_proxy_request",
            "this is omnisim's intercepting proxy: set HTTPS_PROXY to its address and \
             call the platforms' real https:// URLs"
                .into(),
        )
    }

    /// Terminates TLS on a CONNECT tunnel and serves the decrypted
    /// connection with the target's router.
    async fn tunnel(
        &self,
        upgraded: hyper::upgrade::Upgraded,
        host: String,
        target: Target,
        config: Arc<ServerConfig>,
    ) {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let tls = match acceptor.accept(TokioIo::new(upgraded)).await {
            Ok(tls) => tls,
            Err(e) => {
                tracing::debug!("intercept proxy: TLS for `{host}` failed: {e}");
                return;
            }
        };
        let router = self.router(target);
        let host: Arc<str> = Arc::from(host);
        let service = service_fn(move |req: Request<Incoming>| {
            let router = router.clone();
            let host = Arc::clone(&host);
            async move { Ok::<_, Infallible>(answer(target, &host, router, req).await) }
        });
        if let Err(e) = http1::Builder::new()
            .serve_connection(TokioIo::new(tls), service)
            .await
        {
            tracing::debug!("intercept proxy: tunnel ended: {e}");
        }
    }
}

/// One decrypted request: to the router, or the dialect's 404 for a path
/// the real host does not have.
async fn answer(
    target: Target,
    host: &str,
    router: Router,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if !target.serves(&path) {
        return target.wire().error_response(
            &path,
            SimError::not_found(
                "not_found",
                format!("Not Found: `{path}` is not part of the API at {host}"),
            ),
        );
    }
    match router.oneshot(req.map(Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn not_simulated(host: &str) -> Response<Body> {
    refusal(
        StatusCode::FORBIDDEN,
        "host_not_simulated",
        format!(
            "omnisim intercepts only {}: `{host}` is not simulated, and the proxy \
             never connects anywhere else",
            SIMULATED_HOSTS.join(", ")
        ),
    )
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response<Body> {
    tracing::debug!("intercept proxy: {status} {code}: {message}");
    json(
        status,
        &serde_json::json!({ "error": { "code": code, "message": message, "field": null } }),
    )
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
