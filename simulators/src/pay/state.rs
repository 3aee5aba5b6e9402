//! The payment gateway's state machine.

use omnisim_api::Scheme;

use crate::core::Platform;
use crate::webhooks::RetryPolicy;

/// Everything the gateway knows.
#[derive(Debug, Default)]
pub struct PayState {}

impl Platform for PayState {
    const NAME: &'static str = "pay";
    const SCHEME: Scheme = Scheme::Stripe;
    const TOPICS: &'static [&'static str] = &[
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.canceled",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "charge.refunded",
    ];

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::stripe()
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}
