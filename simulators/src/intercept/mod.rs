//! Interception of the real platforms' hosts: an unchanged connector, started
//! with `HTTPS_PROXY` and a trusted local CA, calls `api.stripe.com`,
//! `<shop>.myshopify.com` and `connect.squareup.com` and lands on the
//! simulators' dialects.
//!
//! - [`ca`]: the local CA (kept as PEM files) and the per-host leaf
//!   certificates, issued on demand and cached (rcgen, rustls).
//! - [`proxy`]: the HTTP CONNECT proxy on loopback. It terminates TLS for
//!   the simulated hosts ([`Target::for_host`]) and serves each decrypted
//!   connection with that platform's own router (the Stripe router, the
//!   shop router, the POS router), so auth, faults, partitions, rate limits
//!   and idempotency are those of the dialect, unchanged. Every other host
//!   is refused, naming it: the proxy never opens a connection upstream.
//! - [`webhook_hosts`]: a webhook [`omnisim_api::Transport`] wrapper that
//!   delivers to public-looking HTTPS receiver URLs
//!   (`https://<port>.omnisim.localhost/…`, or a `--webhook-host` mapping) on
//!   the connector's loopback receiver, so webhooks need no tunnel.
//! - [`client`]: a minimal HTTPS client through the proxy (tests, bench).
//!
//! [`env`] is the environment a connector needs, as `omnisim serve
//! --intercept` prints it and `omnisim certify --via intercept` passes it.

pub mod ca;
pub mod client;
pub mod proxy;
pub mod webhook_hosts;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::dialects::{Credentials, Wire};

pub use ca::{CaError, LocalCa};
pub use proxy::Proxy;
pub use webhook_hosts::{WebhookHost, WebhookHosts};

/// The hosts the proxy simulates, as documented (`*` is one DNS label).
pub const SIMULATED_HOSTS: [&str; 4] = [
    "api.stripe.com",
    "*.myshopify.com",
    "connect.squareup.com",
    "connect.squareupsandbox.com",
];

/// The shop domain printed for the Shopify client (any `*.myshopify.com`
/// name reaches the one shop).
pub const SHOP_DOMAIN: &str = "omnisim.myshopify.com";

/// Which router a simulated host is served by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `api.stripe.com`: the Stripe router.
    Stripe,
    /// `*.myshopify.com`: the shop router (Shopify's `/admin/…` paths).
    Shopify,
    /// `connect.squareup.com`, `connect.squareupsandbox.com`: the POS router
    /// (Square's `/v2/…` paths).
    Square,
}

impl Target {
    /// The router serving `host` (case-insensitive, without a port), or
    /// `None` for a host that is not simulated.
    pub fn for_host(host: &str) -> Option<Target> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match host.as_str() {
            "api.stripe.com" => Some(Target::Stripe),
            "connect.squareup.com" | "connect.squareupsandbox.com" => Some(Target::Square),
            _ => {
                let shop = host.strip_suffix(".myshopify.com")?;
                let label_ok = !shop.is_empty()
                    && shop.len() <= 63
                    && !shop.starts_with('-')
                    && shop.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                label_ok.then_some(Target::Shopify)
            }
        }
    }

    /// The wire its requests speak.
    pub fn wire(self) -> Wire {
        match self {
            Target::Stripe => Wire::Stripe,
            Target::Shopify => Wire::Shopify,
            Target::Square => Wire::Square,
        }
    }

    /// Whether `path` is served through this host: the dialect's own paths
    /// (and `/healthz`). The native API beside a dialect on the same router
    /// (the shop's and the POS's `/v1/…`, `/_control`) is not the real
    /// platform's and is answered 404 in the dialect's shape.
    pub fn serves(self, path: &str) -> bool {
        match self {
            Target::Stripe => true,
            Target::Shopify => {
                path == "/healthz" || path.starts_with(crate::dialects::shopify::PATH_PREFIX)
            }
            Target::Square => {
                path == "/healthz" || path.starts_with(crate::dialects::square::PATH_PREFIX)
            }
        }
    }
}

/// How `omnisim serve` runs the interception.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterceptConfig {
    /// The proxy's port (0 = any free port), on the serve bind address.
    pub port: u16,
    /// The CA folder (made if absent).
    pub ca_dir: PathBuf,
}

/// The CA folder by default: `$OMNISIM_STATE_DIR/ca` when that is set,
/// otherwise `.omnisim/ca` in the current directory.
pub fn default_ca_dir() -> PathBuf {
    match std::env::var_os("OMNISIM_STATE_DIR").filter(|v| !v.is_empty()) {
        Some(state) => PathBuf::from(state).join("ca"),
        None => PathBuf::from(".omnisim").join("ca"),
    }
}

/// The environment an unchanged connector needs to reach the simulators
/// through the proxy at `proxy_url` trusting `ca`: the proxy, the CA bundle
/// in every client's variable, and each dialect's credentials.
///
/// | variable | read by |
/// |---|---|
/// | `HTTPS_PROXY`, `https_proxy` | requests, httpx, urllib, curl, Go, most Node clients |
/// | `SSL_CERT_FILE` | OpenSSL (Python's `ssl`, urllib), httpx, Go, Ruby |
/// | `REQUESTS_CA_BUNDLE` | requests |
/// | `NODE_EXTRA_CA_CERTS` | Node.js |
/// | `CURL_CA_BUNDLE` | curl, pycurl |
/// | `PYTHONPATH` | Python: [`ca::PYTHON_SHIM`] for stripe-python's pinned bundle |
///
/// The bundle holds the omnisim CA alone: nothing else is reachable.
pub fn env(proxy_url: &str, ca: &LocalCa, api_key: &str) -> BTreeMap<String, String> {
    let bundle = ca.cert_path().display().to_string();
    let c = Credentials::for_api_key(api_key);
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("HTTPS_PROXY", proxy_url.to_owned());
    set("https_proxy", proxy_url.to_owned());
    for k in [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "CURL_CA_BUNDLE",
    ] {
        set(k, bundle.clone());
    }
    set("PYTHONPATH", ca.python_dir().display().to_string());
    set("STRIPE_API_KEY", c.stripe_api_key);
    set("SQUARE_ACCESS_TOKEN", c.square_access_token);
    set("SQUARE_ENVIRONMENT", "production".to_owned());
    set("SHOPIFY_SHOP_DOMAIN", SHOP_DOMAIN.to_owned());
    set(
        "SHOPIFY_API_VERSION",
        crate::dialects::shopify::API_VERSION.to_owned(),
    );
    set("SHOPIFY_ACCESS_TOKEN", c.shopify_access_token);
    // The app's client secret: Shopify signs webhooks with it.
    set(
        "SHOPIFY_API_SECRET",
        crate::dialects::shopify::api_secret(api_key),
    );
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_hosts() {
        assert_eq!(Target::for_host("api.stripe.com"), Some(Target::Stripe));
        assert_eq!(Target::for_host("API.Stripe.com."), Some(Target::Stripe));
        assert_eq!(
            Target::for_host("my-shop.myshopify.com"),
            Some(Target::Shopify)
        );
        assert_eq!(
            Target::for_host("connect.squareup.com"),
            Some(Target::Square)
        );
        assert_eq!(
            Target::for_host("connect.squareupsandbox.com"),
            Some(Target::Square)
        );
        for other in [
            "example.com",
            "files.stripe.com",
            "stripe.com",
            "myshopify.com",
            ".myshopify.com",
            "a.b.myshopify.com",
            "api.stripe.com.evil.test",
            "squareup.com",
        ] {
            assert_eq!(Target::for_host(other), None, "{other}");
        }
    }

    #[test]
    fn only_the_dialect_paths_go_through() {
        assert!(Target::Stripe.serves("/v1/payment_intents"));
        assert!(Target::Shopify.serves("/admin/api/2026-01/graphql.json"));
        assert!(!Target::Shopify.serves("/v1/inventory/adjust"));
        assert!(!Target::Shopify.serves("/_control/reset"));
        assert!(Target::Square.serves("/v2/locations"));
        assert!(!Target::Square.serves("/v1/items"));
        assert!(Target::Square.serves("/healthz"));
    }
}
