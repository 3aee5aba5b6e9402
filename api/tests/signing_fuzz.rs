//! Fuzzing the webhook signature verifier of all three schemes: arbitrary
//! headers and bodies never panic it, and a signed delivery is rejected once
//! anything about it is tampered with, forged, replayed late or stale.
//!
//! Replays inside the tolerance window are the receiver's job (it dedupes by
//! event id); Square signs no timestamp, so only that dedupe stops its replays.
//!
//! `PROPTEST_CASES` sets the cases per property (default 256).

use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use omnisim_api::signing::{
    self, Delivery, SHOPIFY_HMAC, SHOPIFY_TRIGGERED_AT, SQUARE_SIGNATURE, STRIPE_SIGNATURE,
    TOLERANCE_SECS,
};
use omnisim_api::{Scheme, SignatureError};
use proptest::prelude::*;

const URL: &str = "http://127.0.0.1:9000/webhooks/in";

fn scheme() -> impl Strategy<Value = Scheme> {
    prop_oneof![
        Just(Scheme::Stripe),
        Just(Scheme::Shopify),
        Just(Scheme::Square)
    ]
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_442_000, 0).unwrap()
}

fn signed(scheme: Scheme, secret: &str, body: &[u8], sent_at: DateTime<Utc>) -> HeaderMap {
    signing::sign(
        scheme,
        &[secret.to_owned()],
        Delivery {
            url: URL,
            body,
            event_id: "evt_1",
            topic: "orders/create",
            sent_at,
        },
    )
    .into_iter()
    .collect()
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("t=".to_owned()),
        Just("t=-9223372036854775808,v1=00".to_owned()),
        Just("t=9223372036854775807,v1=zz".to_owned()),
        Just("t=1,v1=".to_owned()),
        Just(",,,===".to_owned()),
        Just("v1=deadbeef".to_owned()),
        Just("9999-99-99T99:99:99Z".to_owned()),
        Just("-262144-01-01T00:00:00Z".to_owned()),
        Just("+262143-12-31T23:59:59Z".to_owned()),
        "[ -~]{0,80}",
        "[A-Za-z0-9+/=]{0,64}",
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_headers_never_panic_and_never_verify(
        scheme in scheme(),
        values in prop::collection::vec(header_value(), 4),
        body in prop::collection::vec(any::<u8>(), 0..200),
        skew in any::<i64>(),
    ) {
        let mut h = HeaderMap::new();
        for (name, v) in [STRIPE_SIGNATURE, SHOPIFY_HMAC, SHOPIFY_TRIGGERED_AT, SQUARE_SIGNATURE]
            .into_iter()
            .zip(&values)
        {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
        let at = now()
            .checked_add_signed(TimeDelta::seconds(skew % 1_000_000_000))
            .unwrap_or(now());
        let verdict = std::panic::catch_unwind(|| {
            signing::verify(scheme, &["whsec_real".to_owned()], URL, &h, &body, at)
        });
        prop_assert!(verdict.is_ok(), "the verifier panicked");
        prop_assert!(verdict.unwrap().is_err(), "random headers verified");
    }

    #[test]
    fn a_genuine_delivery_verifies_and_any_tampering_is_rejected(
        scheme in scheme(),
        body in prop::collection::vec(any::<u8>(), 1..300),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let secrets = ["whsec_real".to_owned()];
        let h = signed(scheme, &secrets[0], &body, now());
        prop_assert_eq!(signing::verify(scheme, &secrets, URL, &h, &body, now()), Ok(()));

        // One bit of the body changed.
        let mut tampered = body.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 1 << bit;
        prop_assert!(signing::verify(scheme, &secrets, URL, &h, &tampered, now()).is_err());

        // Signed with another secret (a forger's).
        let forged = signed(scheme, "whsec_forger", &body, now());
        prop_assert!(signing::verify(scheme, &secrets, URL, &forged, &body, now()).is_err());

        // Signature header stripped.
        let mut stripped = h.clone();
        for name in [STRIPE_SIGNATURE, SHOPIFY_HMAC, SQUARE_SIGNATURE] {
            stripped.remove(name);
        }
        let missing = matches!(
            signing::verify(scheme, &secrets, URL, &stripped, &body, now()),
            Err(SignatureError::Missing(_))
        );
        prop_assert!(missing, "no signature header is refused as missing");

        // Square signs the URL: the same delivery to another URL fails.
        if scheme == Scheme::Square {
            prop_assert!(signing::verify(scheme, &secrets, "http://evil/", &h, &body, now()).is_err());
        }
    }

    #[test]
    fn a_delivery_replayed_after_the_tolerance_is_stale(
        scheme in prop_oneof![Just(Scheme::Stripe), Just(Scheme::Shopify)],
        late in (TOLERANCE_SECS + 1)..(400 * 86_400i64),
        body in prop::collection::vec(any::<u8>(), 1..100),
    ) {
        let secrets = ["whsec_real".to_owned()];
        let h = signed(scheme, &secrets[0], &body, now());
        let later = now() + TimeDelta::seconds(late);
        let stale = matches!(
            signing::verify(scheme, &secrets, URL, &h, &body, later),
            Err(SignatureError::Stale { .. })
        );
        prop_assert!(stale, "a late replay is stale");
        // A timestamp rewritten to look fresh breaks the Stripe MAC.
        if scheme == Scheme::Stripe {
            let v = h.get(STRIPE_SIGNATURE).unwrap().to_str().unwrap();
            let fresh = v.replacen(
                &format!("t={}", now().timestamp()),
                &format!("t={}", later.timestamp()),
                1,
            );
            let mut re = h.clone();
            re.insert(HeaderName::from_static(STRIPE_SIGNATURE), HeaderValue::from_str(&fresh).unwrap());
            prop_assert_eq!(
                signing::verify(scheme, &secrets, URL, &re, &body, later),
                Err(SignatureError::Mismatch)
            );
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// A correctly signed Stripe header with any timestamp at all, even the
    /// extremes of i64: verification answers, never overflows.
    #[test]
    fn any_signed_timestamp_is_judged_without_overflow(t in prop_oneof![
        Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>()
    ]) {
        use hmac::Mac as _;
        let body = b"{}";
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"whsec_real").unwrap();
        m.update(format!("{t}.").as_bytes());
        m.update(body);
        let sig = hex::encode(m.finalize().into_bytes());
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static(STRIPE_SIGNATURE),
            HeaderValue::from_str(&format!("t={t},v1={sig}")).unwrap(),
        );
        let verdict = std::panic::catch_unwind(|| {
            signing::verify(Scheme::Stripe, &["whsec_real".to_owned()], URL, &h, body, now())
        });
        prop_assert!(verdict.is_ok(), "the verifier panicked on t={}", t);
        let ok = now().timestamp().saturating_sub(t).saturating_abs() <= TOLERANCE_SECS;
        prop_assert_eq!(verdict.unwrap().is_ok(), ok);
    }
}
