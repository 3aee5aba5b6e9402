//! How a certified connector reaches the platforms (`omnisim certify
//! --via`), and the environment each way adds to the contract's `OMNISIM_*`
//! variables.
//!
//! - [`Via::Native`]: omnisim's own API at `OMNISIM_*_URL` (the default).
//! - [`Via::BaseUrl`]: the real platforms' APIs (the dialects) at loopback
//!   base URLs, for official clients that take one: `STRIPE_API_BASE`,
//!   `SQUARE_BASE_URL`, `SHOPIFY_SHOP_URL`, with each platform's
//!   credentials (and `SHOPIFY_API_SECRET`, the app's client secret that
//!   Shopify signs webhooks with).
//! - [`Via::Intercept`]: the real hosts themselves (`api.stripe.com`,
//!   `<shop>.myshopify.com`, `connect.squareup.com`) through the
//!   intercepting proxy, for a connector that cannot change its base URL:
//!   `HTTPS_PROXY` and the CA bundle variables, and the credentials.
//!
//! In both dialect modes `OMNISIM_PUBLIC_URL` is the HTTPS address of the
//! connector's own receiver (`https://<port>.omnisim.localhost`), which the
//! platforms deliver on its loopback port.

use serde::{Deserialize, Serialize};

use omnisim_simulators::intercept::webhook_hosts::LOOPBACK_SUFFIX;
use omnisim_simulators::serve::Urls;

/// How a connector reaches the platforms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// omnisim's own API.
    #[default]
    Native,
    /// The dialects at loopback base URLs.
    BaseUrl,
    /// The real hosts through the intercepting proxy.
    Intercept,
}

impl Via {
    /// Every mode, as `--via` names them.
    pub const ALL: [Via; 3] = [Via::Native, Via::BaseUrl, Via::Intercept];

    /// The name `--via` takes and the certificate records.
    pub fn name(self) -> &'static str {
        match self {
            Via::Native => "native",
            Via::BaseUrl => "base-url",
            Via::Intercept => "intercept",
        }
    }
}

impl std::str::FromStr for Via {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Via::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("`{s}` is not a mode: use native, base-url or intercept"))
    }
}

/// The variables `via` adds for a connector whose receiver listens on
/// `port`, given where the simulators run. `inherited_pythonpath` (the
/// harness's own `PYTHONPATH`) is kept after the proxy's entry.
pub fn env(
    via: Via,
    urls: &Urls,
    port: u16,
    inherited_pythonpath: Option<&str>,
) -> Vec<(String, String)> {
    let d = &urls.dialects;
    let public = format!("https://{port}{LOOPBACK_SUFFIX}");
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| env.push((k.to_owned(), v.to_owned()));
    match via {
        Via::Native => {}
        Via::BaseUrl => {
            set("STRIPE_API_BASE", &d.stripe.api_base);
            set("STRIPE_API_KEY", &d.stripe.api_key);
            set("SQUARE_BASE_URL", &d.square.base_url);
            set("SQUARE_ACCESS_TOKEN", &d.square.access_token);
            set("SHOPIFY_SHOP_URL", &d.shopify.shop_url);
            set("SHOPIFY_API_VERSION", &d.shopify.api_version);
            set("SHOPIFY_ACCESS_TOKEN", &d.shopify.access_token);
            set("SHOPIFY_API_SECRET", &d.shopify.api_secret);
            set("OMNISIM_PUBLIC_URL", &public);
        }
        Via::Intercept => {
            if let Some(i) = &urls.intercept {
                for (k, v) in &i.env {
                    match (k.as_str(), inherited_pythonpath.filter(|p| !p.is_empty())) {
                        ("PYTHONPATH", Some(theirs)) => set(k, &format!("{v}:{theirs}")),
                        _ => set(k, v),
                    }
                }
            }
            set("OMNISIM_PUBLIC_URL", &public);
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_by_name() {
        for v in Via::ALL {
            assert_eq!(v.name().parse::<Via>(), Ok(v));
        }
        assert!("proxy".parse::<Via>().is_err());
        assert_eq!(Via::default(), Via::Native);
        assert_eq!(
            serde_json::to_value(Via::BaseUrl).unwrap(),
            serde_json::json!("base-url")
        );
    }
}
