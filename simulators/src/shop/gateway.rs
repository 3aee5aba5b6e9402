//! How the shop calls the payment gateway, and how the gateway's answers
//! become the shop's own errors.
//!
//! - A 402 decline passes through: same `decline_code`, same `payment_intent`.
//! - A 409 from the gateway is a 409 naming the `payment` field; any other
//!   4xx is a 422 naming it. Codes pass through when they are known.
//! - No answer, a 429, a 5xx or an unreadable answer (only under injected
//!   faults) is retried with the same idempotency key (so an attempt that was
//!   applied is replayed, not repeated) up to [`ATTEMPTS`] times, then is a
//!   503 `payment_gateway_unavailable`; the caller applies nothing then.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use omnisim_api::ApiError;
use omnisim_api::pay::{
    CancelIntent, CancellationReason, CaptureIntent, CreateRefund, PayClient, PaymentIntent,
    Refund, RefundReason,
};

use super::state::{OrderPlan, PayStep};
use crate::error::{ErrorKind, SimError};

/// Codes the gateway may answer with, kept as they are.
const KNOWN_CODES: &[&str] = &[
    "card_declined",
    "authentication_required",
    "live_card_rejected",
    "amount_too_large",
    "payment_intent_unexpected_state",
    "charge_already_captured",
    "charge_already_refunded",
    "insufficient_funds",
    "currency_mismatch",
    "bank_transfer_failed",
    "resource_missing",
    "resource_already_exists",
    "parameter_invalid",
    "parameter_missing",
    "parameter_unknown",
    "idempotency_error",
    "idempotency_key_in_use",
];

/// Decline reasons of the test cards (PLATFORMS.md) and their kin.
const DECLINE_CODES: &[&str] = &[
    "generic_decline",
    "card_declined",
    "insufficient_funds",
    "lost_card",
    "stolen_card",
    "expired_card",
    "incorrect_cvc",
    "processing_error",
    "authentication_required",
];

fn known(code: &str, table: &[&'static str], fallback: &'static str) -> &'static str {
    table
        .iter()
        .copied()
        .find(|c| *c == code)
        .unwrap_or(fallback)
}

/// The 503 for a gateway that did not answer usefully.
pub fn unavailable(detail: impl std::fmt::Display) -> SimError {
    SimError::new(
        ErrorKind::Unavailable,
        "payment_gateway_unavailable",
        format!(
            "the payment gateway did not answer usefully ({detail}); nothing was applied, retry"
        ),
    )
}

/// A decline of `intent` for `decline_code`.
pub fn declined(decline_code: &str, message: String, intent: Option<String>) -> SimError {
    let mut e = SimError::declined(
        known(decline_code, DECLINE_CODES, "generic_decline"),
        message,
    )
    .field("payment");
    if let Some(pi) = intent {
        e = e.with_payment_intent(pi);
    }
    e
}

/// Maps a gateway error to the shop's answer.
pub fn pay_error(e: ApiError) -> SimError {
    match e {
        ApiError::Status { status, body, .. } => {
            let d = body.error;
            match status {
                402 => {
                    let mut err = declined(
                        d.decline_code.as_deref().unwrap_or("generic_decline"),
                        d.message,
                        d.payment_intent,
                    );
                    err.code = known(&d.code, KNOWN_CODES, "card_declined");
                    err
                }
                409 => SimError::conflict(
                    known(&d.code, KNOWN_CODES, "payment_error"),
                    format!("the payment gateway refused: {}", d.message),
                )
                .field("payment"),
                429 | 500.. => unavailable(format!("{status} `{}`", d.code)),
                _ => SimError::invalid(
                    known(&d.code, KNOWN_CODES, "payment_error"),
                    format!("the payment gateway refused: {}", d.message),
                )
                .field("payment"),
            }
        }
        ApiError::UnexpectedStatus { status, .. } => unavailable(status),
        other => unavailable(other),
    }
}

/// How many times a gateway call is tried when its outcome is unknown.
pub const ATTEMPTS: u32 = 3;

/// Runs `call` until it gives a definite answer, at most [`ATTEMPTS`] times:
/// 429, 5xx, transport failures and `idempotency_key_in_use` are tried again
/// after a short wait (the `Retry-After`, capped at 2 s, or 100 ms × attempt).
/// Every call site passes an idempotency key, so a retry is safe.
pub async fn retrying<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e)
                if attempt < ATTEMPTS
                    && (e.is_retryable() || e.code() == Some("idempotency_key_in_use")) =>
            {
                let wait = match &e {
                    ApiError::Status {
                        retry_after_secs: Some(secs),
                        ..
                    } => Duration::from_secs((*secs).min(2)),
                    _ => Duration::from_millis(100 * u64::from(attempt)),
                };
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// What a gateway step returned.
#[derive(Clone, Debug, Default)]
pub struct Performed {
    /// The intent after a capture or cancel.
    pub intent: Option<PaymentIntent>,
    /// The refund made.
    pub refund: Option<Refund>,
}

/// Runs an order operation's gateway step.
pub async fn perform(
    pay: &PayClient,
    plan: &OrderPlan,
    reason: CancellationReason,
) -> Result<Performed, SimError> {
    let key = Some(plan.pay_key.as_str());
    Ok(match &plan.step {
        PayStep::Nothing => Performed::default(),
        PayStep::Capture { intent, amount } => {
            let body = CaptureIntent {
                amount_to_capture: Some(*amount),
            };
            let pi = retrying(|| pay.capture(intent, &body, key))
                .await
                .map_err(pay_error)?;
            Performed {
                intent: Some(pi),
                refund: None,
            }
        }
        PayStep::Cancel { intent } => {
            let body = CancelIntent {
                reason: Some(reason),
            };
            let pi = retrying(|| pay.cancel(intent, &body, key))
                .await
                .map_err(pay_error)?;
            Performed {
                intent: Some(pi),
                refund: None,
            }
        }
        PayStep::Refund { intent, amount } => {
            let body = CreateRefund {
                payment_intent: intent.clone(),
                amount: Some(*amount),
                reason: Some(RefundReason::RequestedByCustomer),
                metadata: BTreeMap::from([("order_id".to_owned(), plan.order_id.clone())]),
            };
            let re = retrying(|| pay.refund(&body, key))
                .await
                .map_err(pay_error)?;
            Performed {
                intent: None,
                refund: Some(re),
            }
        }
    })
}

/// Gives back the money of a checkout that could not become an order: voids
/// the authorization (or cancels a pending payment), or refunds a capture.
/// A failure is logged: the caller's own error is what the customer sees.
pub async fn release(pay: &PayClient, intent: &PaymentIntent, captured: bool, key: &str) {
    let key = format!("{key}-release");
    let result = if captured {
        let body = CreateRefund {
            payment_intent: intent.id.clone(),
            amount: None,
            reason: Some(RefundReason::RequestedByCustomer),
            metadata: BTreeMap::new(),
        };
        retrying(|| pay.refund(&body, Some(&key))).await.map(|_| ())
    } else {
        let body = CancelIntent {
            reason: Some(CancellationReason::Abandoned),
        };
        retrying(|| pay.cancel(&intent.id, &body, Some(&key)))
            .await
            .map(|_| ())
    };
    if let Err(e) = result {
        tracing::warn!(intent = %intent.id, error = %e, "could not release the payment of a failed checkout");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnisim_api::{ErrorBody, ErrorDetail, TransportError};

    fn status(status: u16, code: &str, decline: Option<&str>) -> ApiError {
        ApiError::Status {
            status,
            body: Box::new(ErrorBody {
                error: ErrorDetail {
                    code: code.to_owned(),
                    message: "m".to_owned(),
                    field: None,
                    decline_code: decline.map(str::to_owned),
                    payment_intent: Some("pi_1".to_owned()),
                },
            }),
            retry_after_secs: None,
        }
    }

    #[test]
    fn declines_pass_through() {
        let e = pay_error(status(402, "card_declined", Some("insufficient_funds")));
        assert_eq!(e.kind, ErrorKind::Declined);
        let body = e.body().error;
        assert_eq!(body.code, "card_declined");
        assert_eq!(body.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(body.payment_intent.as_deref(), Some("pi_1"));
    }

    #[test]
    fn other_refusals_name_the_payment_field() {
        let e = pay_error(status(422, "live_card_rejected", None));
        assert_eq!((e.kind, e.code), (ErrorKind::Invalid, "live_card_rejected"));
        assert_eq!(e.field.as_deref(), Some("payment"));
        let e = pay_error(status(409, "something_new", None));
        assert_eq!((e.kind, e.code), (ErrorKind::Conflict, "payment_error"));
    }

    #[test]
    fn faults_become_503() {
        for e in [
            status(503, "injected", None),
            status(429, "rate_limited", None),
            ApiError::Transport(TransportError::Timeout {
                url: "http://pay.sim".into(),
                timeout_ms: 5,
            }),
        ] {
            let e = pay_error(e);
            assert_eq!(
                (e.kind, e.code),
                (ErrorKind::Unavailable, "payment_gateway_unavailable")
            );
        }
    }
}
