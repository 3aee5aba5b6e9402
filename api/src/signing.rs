//! Webhook signing and verification, one scheme per platform.
//!
//! - **pay** signs like Stripe: `Stripe-Signature: t=<unix>,v1=<hex>` where the
//!   MAC covers `"<t>.<raw body>"`. During a secret rotation one `v1` is sent
//!   per live secret. The timestamp is signed, so staleness is checked here.
//! - **shop** signs like Shopify: `X-Shopify-Hmac-Sha256: <base64>` over the raw
//!   body, with `X-Shopify-Webhook-Id`, `X-Shopify-Topic` and
//!   `X-Shopify-Triggered-At` beside it.
//! - **pos** signs like Square: `X-Square-Hmacsha256-Signature: <base64>` over the
//!   notification URL followed by the raw body.
//!
//! MACs come from `hmac` + `sha2` and are compared in constant time by
//! [`hmac::Mac::verify_slice`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a signed timestamp may be from the receiver's clock, as Stripe allows.
pub const TOLERANCE_SECS: i64 = 300;

/// Stripe's signature header.
pub const STRIPE_SIGNATURE: &str = "stripe-signature";
/// Shopify's HMAC header.
pub const SHOPIFY_HMAC: &str = "x-shopify-hmac-sha256";
/// Shopify's delivery-independent webhook id (the event id).
pub const SHOPIFY_WEBHOOK_ID: &str = "x-shopify-webhook-id";
/// Shopify's topic header.
pub const SHOPIFY_TOPIC: &str = "x-shopify-topic";
/// Shopify's trigger time header (RFC 3339).
pub const SHOPIFY_TRIGGERED_AT: &str = "x-shopify-triggered-at";
/// Square's signature header.
pub const SQUARE_SIGNATURE: &str = "x-square-hmacsha256-signature";

/// The three signing schemes, named after the platform each simulator mimics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// pay: `Stripe-Signature`.
    Stripe,
    /// shop: `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// pos: `X-Square-Hmacsha256-Signature`.
    Square,
}

/// What one webhook delivery signs.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// The subscription URL the body is posted to (Square signs it).
    pub url: &'a str,
    /// The raw JSON body.
    pub body: &'a [u8],
    /// The event id (Shopify sends it as the webhook id).
    pub event_id: &'a str,
    /// The event type (Shopify sends it as the topic).
    pub topic: &'a str,
    /// The simulated time of this delivery attempt.
    pub sent_at: DateTime<Utc>,
}

/// Why a delivery failed verification. The receiver answers 401 to all of them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The scheme's signature header is absent.
    #[error("missing `{0}` header")]
    Missing(&'static str),
    /// The header does not parse.
    #[error("malformed `{0}` header")]
    Malformed(&'static str),
    /// No signature matches any known secret.
    #[error("signature does not match")]
    Mismatch,
    /// The signed timestamp is more than [`TOLERANCE_SECS`] from now.
    #[error("signature timestamp is {age_secs} s from now, over the {TOLERANCE_SECS} s tolerance")]
    Stale {
        /// Distance between the signed timestamp and now, in seconds.
        age_secs: i64,
    },
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac takes any key length")
}

fn stripe_mac(secret: &str, t: i64, body: &[u8]) -> HmacSha256 {
    let mut m = mac(secret);
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

fn square_mac(secret: &str, url: &str, body: &[u8]) -> HmacSha256 {
    let mut m = mac(secret);
    m.update(url.as_bytes());
    m.update(body);
    m
}

fn body_mac(secret: &str, body: &[u8]) -> HmacSha256 {
    let mut m = mac(secret);
    m.update(body);
    m
}

fn header(value: String) -> HeaderValue {
    // Every value built here is ASCII: hex, base64, digits, RFC 3339 or an id.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Signs one delivery. `secrets` holds every live secret, newest first; Stripe
/// sends one `v1` per secret, the others sign with the newest only.
pub fn sign(scheme: Scheme, secrets: &[String], d: Delivery<'_>) -> Vec<(HeaderName, HeaderValue)> {
    let Some(newest) = secrets.first() else {
        return Vec::new();
    };
    match scheme {
        Scheme::Stripe => {
            let t = d.sent_at.timestamp();
            let mut value = format!("t={t}");
            for s in secrets {
                let sig = hex::encode(stripe_mac(s, t, d.body).finalize().into_bytes());
                value.push_str(",v1=");
                value.push_str(&sig);
            }
            vec![(HeaderName::from_static(STRIPE_SIGNATURE), header(value))]
        }
        Scheme::Shopify => {
            let sig = BASE64.encode(body_mac(newest, d.body).finalize().into_bytes());
            vec![
                (HeaderName::from_static(SHOPIFY_HMAC), header(sig)),
                (
                    HeaderName::from_static(SHOPIFY_WEBHOOK_ID),
                    header(d.event_id.to_owned()),
                ),
                (
                    HeaderName::from_static(SHOPIFY_TOPIC),
                    header(d.topic.to_owned()),
                ),
                (
                    HeaderName::from_static(SHOPIFY_TRIGGERED_AT),
                    header(
                        d.sent_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    ),
                ),
            ]
        }
        Scheme::Square => {
            let sig = BASE64.encode(square_mac(newest, d.url, d.body).finalize().into_bytes());
            vec![(HeaderName::from_static(SQUARE_SIGNATURE), header(sig))]
        }
    }
}

/// Verifies one received delivery against every secret the receiver holds.
///
/// `url` is the URL the receiver was subscribed with (Square signs it); `now`
/// is the receiver's clock. Stripe's signed timestamp and Shopify's
/// `X-Shopify-Triggered-At` must be within [`TOLERANCE_SECS`] of `now`.
pub fn verify(
    scheme: Scheme,
    secrets: &[String],
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    match scheme {
        Scheme::Stripe => verify_stripe(secrets, headers, body, now),
        Scheme::Shopify => {
            let sig = header_str(headers, SHOPIFY_HMAC)?;
            let sig = BASE64
                .decode(sig)
                .map_err(|_| SignatureError::Malformed(SHOPIFY_HMAC))?;
            if !secrets
                .iter()
                .any(|s| body_mac(s, body).verify_slice(&sig).is_ok())
            {
                return Err(SignatureError::Mismatch);
            }
            if let Ok(at) = header_str(headers, SHOPIFY_TRIGGERED_AT) {
                let at = DateTime::parse_from_rfc3339(at)
                    .map_err(|_| SignatureError::Malformed(SHOPIFY_TRIGGERED_AT))?;
                check_age(at.timestamp(), now)?;
            }
            Ok(())
        }
        Scheme::Square => {
            let sig = header_str(headers, SQUARE_SIGNATURE)?;
            let sig = BASE64
                .decode(sig)
                .map_err(|_| SignatureError::Malformed(SQUARE_SIGNATURE))?;
            if secrets
                .iter()
                .any(|s| square_mac(s, url, body).verify_slice(&sig).is_ok())
            {
                Ok(())
            } else {
                Err(SignatureError::Mismatch)
            }
        }
    }
}

fn verify_stripe(
    secrets: &[String],
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let value = header_str(headers, STRIPE_SIGNATURE)?;
    let mut t = None;
    let mut sigs = Vec::new();
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => {
                t = Some(
                    v.parse::<i64>()
                        .map_err(|_| SignatureError::Malformed(STRIPE_SIGNATURE))?,
                )
            }
            Some(("v1", v)) => {
                sigs.push(hex::decode(v).map_err(|_| SignatureError::Malformed(STRIPE_SIGNATURE))?)
            }
            // Other schemes (v0, future versions) are ignored, as Stripe's libraries do.
            Some(_) => {}
            None => return Err(SignatureError::Malformed(STRIPE_SIGNATURE)),
        }
    }
    let t = t.ok_or(SignatureError::Malformed(STRIPE_SIGNATURE))?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed(STRIPE_SIGNATURE));
    }
    let matched = secrets.iter().any(|secret| {
        sigs.iter()
            .any(|sig| stripe_mac(secret, t, body).verify_slice(sig).is_ok())
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    check_age(t, now)
}

fn check_age(t: i64, now: DateTime<Utc>) -> Result<(), SignatureError> {
    // Saturating: a signed timestamp may be any i64, even i64::MIN.
    let age_secs = now.timestamp().saturating_sub(t).saturating_abs();
    if age_secs > TOLERANCE_SECS {
        Err(SignatureError::Stale { age_secs })
    } else {
        Ok(())
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, SignatureError> {
    headers
        .get(name)
        .ok_or(SignatureError::Missing(name))?
        .to_str()
        .map_err(|_| SignatureError::Malformed(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn headers(pairs: Vec<(HeaderName, HeaderValue)>) -> HeaderMap {
        pairs.into_iter().collect()
    }

    fn delivery<'a>(body: &'a [u8], sent_at: DateTime<Utc>) -> Delivery<'a> {
        Delivery {
            url: "http://127.0.0.1:9000/webhooks/pos",
            body,
            event_id: "evt_1",
            topic: "orders/create",
            sent_at,
        }
    }

    #[test]
    fn stripe_signature_matches_the_documented_construction() {
        // Computed independently: HMAC-SHA256("whsec_test", "1700000000.{}").
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let h = sign(Scheme::Stripe, &["whsec_test".into()], delivery(b"{}", now));
        let v = h[0].1.to_str().unwrap();
        let expected = {
            let mut m = mac("whsec_test");
            m.update(b"1700000000.{}");
            hex::encode(m.finalize().into_bytes())
        };
        assert_eq!(v, format!("t=1700000000,v1={expected}"));
    }

    #[test]
    fn every_scheme_round_trips_and_rejects_tampering() {
        let now = at("2026-03-02T10:03:00Z");
        let secrets = vec!["s3cret".to_owned()];
        for scheme in [Scheme::Stripe, Scheme::Shopify, Scheme::Square] {
            let d = delivery(br#"{"id":"evt_1"}"#, now);
            let h = headers(sign(scheme, &secrets, d));
            assert_eq!(
                verify(scheme, &secrets, d.url, &h, d.body, now),
                Ok(()),
                "{scheme:?}"
            );
            let tampered = br#"{"id":"evt_2"}"#;
            assert_eq!(
                verify(scheme, &secrets, d.url, &h, tampered, now),
                Err(SignatureError::Mismatch),
                "{scheme:?} tampered body"
            );
            assert_eq!(
                verify(scheme, &["other".into()], d.url, &h, d.body, now),
                Err(SignatureError::Mismatch),
                "{scheme:?} wrong secret"
            );
            assert!(verify(scheme, &secrets, d.url, &HeaderMap::new(), d.body, now).is_err());
        }
    }

    #[test]
    fn square_signs_the_url() {
        let now = at("2026-03-02T10:03:00Z");
        let secrets = vec!["k".to_owned()];
        let d = delivery(b"{}", now);
        let h = headers(sign(Scheme::Square, &secrets, d));
        assert_eq!(
            verify(
                Scheme::Square,
                &secrets,
                "http://elsewhere/hook",
                &h,
                d.body,
                now
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_signatures_are_rejected_after_the_tolerance() {
        let sent = at("2026-03-02T10:00:00Z");
        let secrets = vec!["k".to_owned()];
        for scheme in [Scheme::Stripe, Scheme::Shopify] {
            let d = delivery(b"{}", sent);
            let h = headers(sign(scheme, &secrets, d));
            let fine = sent + TimeDelta::seconds(TOLERANCE_SECS);
            assert_eq!(verify(scheme, &secrets, d.url, &h, d.body, fine), Ok(()));
            let late = sent + TimeDelta::seconds(TOLERANCE_SECS + 1);
            assert_eq!(
                verify(scheme, &secrets, d.url, &h, d.body, late),
                Err(SignatureError::Stale {
                    age_secs: TOLERANCE_SECS + 1
                })
            );
        }
    }

    #[test]
    fn stripe_rotation_sends_both_signatures_and_either_secret_verifies() {
        let now = at("2026-03-02T10:03:00Z");
        let both = vec!["new".to_owned(), "old".to_owned()];
        let d = delivery(b"{}", now);
        let h = headers(sign(Scheme::Stripe, &both, d));
        assert_eq!(
            h[STRIPE_SIGNATURE].to_str().unwrap().matches("v1=").count(),
            2
        );
        for receiver in ["new", "old"] {
            assert_eq!(
                verify(Scheme::Stripe, &[receiver.into()], d.url, &h, d.body, now),
                Ok(())
            );
        }
    }
}
