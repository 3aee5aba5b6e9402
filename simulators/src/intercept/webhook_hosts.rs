//! Webhook receivers at public-looking HTTPS addresses, delivered on
//! loopback: a [`Transport`] wrapper that rewrites a delivery's target
//! before sending it, so a connector can register the `https://` URL the
//! real platforms require and still receive on its plain-HTTP loopback port,
//! with no tunnel.
//!
//! The rules, first match wins:
//! 1. A host `<port>.omnisim.localhost` (any scheme) is delivered to
//!    `http://127.0.0.1:<port>`, path and query kept:
//!    `https://8080.omnisim.localhost/webhooks/shopify` →
//!    `http://127.0.0.1:8080/webhooks/shopify`.
//! 2. A host named by a [`WebhookHost`] mapping (`omnisim serve
//!    --webhook-host hooks.example.com=127.0.0.1:9000`) is delivered to that
//!    address over plain HTTP, path and query kept.
//! 3. Anything else is sent as registered. With `loopback_only` (set when
//!    the proxy intercepts), a target that is not a loopback or local
//!    address is refused instead, naming the host and these rules: in
//!    interception mode nothing leaves the machine.
//!
//! The signature is computed on the URL as registered (Square signs the
//! URL), before the rewrite; the receiver sees `X-Forwarded-Host` and
//! `X-Forwarded-Proto` with the registered host and scheme.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use omnisim_api::{BoxFuture, Transport, TransportError};

/// The suffix of rule 1.
pub const LOOPBACK_SUFFIX: &str = ".omnisim.localhost";

/// One `NAME=ADDR` mapping: deliveries to host `name` go to `addr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookHost {
    /// The host as registered (lower case, no port).
    pub name: String,
    /// Where deliveries for it go (plain HTTP).
    pub addr: SocketAddr,
}

impl std::str::FromStr for WebhookHost {
    type Err = String;

    /// `NAME=IP:PORT`, such as `hooks.example.com=127.0.0.1:9000`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, addr) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` is not NAME=127.0.0.1:PORT"))?;
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() || name.contains(['/', ':']) {
            return Err(format!(
                "`{name}` is not a host name (no scheme, port or path)"
            ));
        }
        let addr = addr
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| format!("`{addr}` is not IP:PORT, such as 127.0.0.1:9000"))?;
        Ok(WebhookHost { name, addr })
    }
}

/// The rewriting transport around `inner`.
pub struct WebhookHosts {
    inner: Arc<dyn Transport>,
    hosts: Vec<WebhookHost>,
    loopback_only: bool,
    local: Vec<IpAddr>,
}

impl WebhookHosts {
    /// Rewrites by the rules above, then sends through `inner`. `local` are
    /// addresses besides loopback that count as this machine (the serve bind
    /// address), for `loopback_only`.
    pub fn new(
        inner: Arc<dyn Transport>,
        hosts: Vec<WebhookHost>,
        loopback_only: bool,
        local: Vec<IpAddr>,
    ) -> Self {
        WebhookHosts {
            inner,
            hosts,
            loopback_only,
            local,
        }
    }

    /// Where a request to `uri` is sent: the rewritten URI, or why it is
    /// refused.
    pub fn target(&self, uri: &http::Uri) -> Result<Option<http::Uri>, String> {
        let Some(host) = uri.host() else {
            return Ok(None);
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let to = |authority: String| {
            format!("http://{authority}{path}")
                .parse::<http::Uri>()
                .map(Some)
                .map_err(|e| format!("cannot rewrite `{uri}`: {e}"))
        };
        if let Some(port) = host.strip_suffix(LOOPBACK_SUFFIX) {
            return match port.parse::<u16>() {
                Ok(port) if port > 0 => to(format!("127.0.0.1:{port}")),
                _ => Err(format!(
                    "`{host}`: the label before `{LOOPBACK_SUFFIX}` must be the receiver's \
                     port, as in https://8080{LOOPBACK_SUFFIX}/webhooks"
                )),
            };
        }
        if let Some(h) = self.hosts.iter().find(|h| h.name == host) {
            return to(h.addr.to_string());
        }
        if self.loopback_only && !self.is_local(&host) {
            return Err(format!(
                "omnisim intercept mode delivers webhooks on this machine only: `{host}` is \
                 not loopback; register https://<port>{LOOPBACK_SUFFIX}/… or map it with \
                 --webhook-host {host}=127.0.0.1:<port>"
            ));
        }
        Ok(None)
    }

    fn is_local(&self, host: &str) -> bool {
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip.is_unspecified() || self.local.contains(&ip),
            Err(_) => false,
        }
    }
}

impl Transport for WebhookHosts {
    fn send(
        &self,
        mut request: http::Request<Bytes>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        match self.target(request.uri()) {
            Ok(None) => self.inner.send(request),
            Ok(Some(to)) => {
                let from = request.uri().clone();
                let headers = request.headers_mut();
                if let Some(v) = from
                    .authority()
                    .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
                {
                    headers.insert("x-forwarded-host", v);
                }
                if let Some(v) = from
                    .scheme_str()
                    .and_then(|s| http::HeaderValue::from_str(s).ok())
                {
                    headers.insert("x-forwarded-proto", v);
                }
                *request.uri_mut() = to;
                self.inner.send(request)
            }
            Err(message) => {
                let url = request.uri().to_string();
                Box::pin(async move { Err(TransportError::Connect { url, message }) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Transport for Echo {
        fn send(
            &self,
            request: http::Request<Bytes>,
        ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
            let uri = request.uri().to_string();
            Box::pin(async move { Ok(http::Response::new(Bytes::from(uri))) })
        }
    }

    fn hosts(loopback_only: bool) -> WebhookHosts {
        WebhookHosts::new(
            Arc::new(Echo),
            vec!["hooks.example.com=127.0.0.1:9000".parse().unwrap()],
            loopback_only,
            Vec::new(),
        )
    }

    fn target(w: &WebhookHosts, url: &str) -> Result<Option<String>, String> {
        w.target(&url.parse().unwrap())
            .map(|u| u.map(|u| u.to_string()))
    }

    #[test]
    fn the_port_host_and_the_mappings_are_delivered_on_loopback() {
        let w = hosts(false);
        assert_eq!(
            target(&w, "https://8080.omnisim.localhost/webhooks/shopify?x=1"),
            Ok(Some("http://127.0.0.1:8080/webhooks/shopify?x=1".into()))
        );
        assert_eq!(
            target(&w, "https://HOOKS.example.com/w"),
            Ok(Some("http://127.0.0.1:9000/w".into()))
        );
        assert_eq!(target(&w, "http://127.0.0.1:5000/w"), Ok(None));
        assert_eq!(target(&w, "https://elsewhere.test/w"), Ok(None));
        assert!(target(&w, "https://x.omnisim.localhost/").is_err());
    }

    #[test]
    fn intercept_mode_refuses_what_is_not_local() {
        let w = hosts(true);
        let e = target(&w, "https://elsewhere.test/w").unwrap_err();
        assert!(e.contains("`elsewhere.test`"), "{e}");
        assert_eq!(target(&w, "http://127.0.0.1:5000/w"), Ok(None));
        assert_eq!(target(&w, "http://localhost:5000/w"), Ok(None));
        assert_eq!(target(&w, "http://[::1]:5000/w"), Ok(None));
    }

    #[test]
    fn mappings_parse() {
        assert!("a=127.0.0.1:1".parse::<WebhookHost>().is_ok());
        assert!("a".parse::<WebhookHost>().is_err());
        assert!("https://a=127.0.0.1:1".parse::<WebhookHost>().is_err());
        assert!("a=localhost:1".parse::<WebhookHost>().is_err());
    }

    #[tokio::test]
    async fn the_rewritten_request_is_sent() {
        let w = hosts(true);
        let r = w
            .send(
                http::Request::post("https://4000.omnisim.localhost/hook")
                    .body(Bytes::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.body().as_ref(), b"http://127.0.0.1:4000/hook");
        let refused = w
            .send(
                http::Request::post("https://elsewhere.test/hook")
                    .body(Bytes::new())
                    .unwrap(),
            )
            .await;
        assert!(matches!(refused, Err(TransportError::Connect { .. })));
    }
}
