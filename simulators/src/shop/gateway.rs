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
//!   When an attempt may have been applied all the same (no answer, a lost
//!   answer), the 503 says so ([`Failed::into_error`]): the order is not
//!   changed, and a retry of the same operation reaches the gateway with the
//!   same key, which replays what it did.
//! - A checkout's payment that may have been made although no attempt was
//!   answered (a timeout, a lost answer) is not left behind: the shop keeps
//!   asking for it in the background with the same idempotency key, which
//!   replays what the gateway did, and voids or refunds it ([`abandon`]).
//!   Money given back after a failed checkout ([`release`]) is retried the
//!   same way when the gateway does not answer. Like Shopify, which voids the
//!   authorization of a checkout that failed, the shop owns the payments it
//!   starts: no one else knows an unanswered intent is an orphan.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use omnisim_api::ApiError;
use omnisim_api::pay::{
    CancelIntent, CancellationReason, CaptureIntent, CreatePaymentIntent, CreateRefund,
    IntentStatus, PayClient, PaymentIntent, Refund, RefundReason,
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

/// The 503 for a checkout whose payment went unanswered and may have been
/// made: no order exists, and the shop is voiding whatever was authorized.
pub fn unanswered(detail: impl std::fmt::Display) -> SimError {
    SimError::new(
        ErrorKind::Unavailable,
        "payment_gateway_unavailable",
        format!(
            "the payment gateway did not answer ({detail}); no order was placed, \
             and any authorization it made is being voided"
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
            let pi = retrying_tracked(|| pay.capture(intent, &body, key))
                .await
                .map_err(|f| f.into_error("capture"))?;
            Performed {
                intent: Some(pi),
                refund: None,
            }
        }
        PayStep::Cancel { intent } => {
            let body = CancelIntent {
                reason: Some(reason),
            };
            let pi = retrying_tracked(|| pay.cancel(intent, &body, key))
                .await
                .map_err(|f| f.into_error("void"))?;
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
            let re = retrying_tracked(|| pay.refund(&body, key))
                .await
                .map_err(|f| f.into_error("refund"))?;
            Performed {
                intent: None,
                refund: Some(re),
            }
        }
    })
}

/// How many times a background task asks the gateway before it gives up:
/// with [`BACKGROUND_WAIT_MAX`] between tries, about six hours, well inside
/// the 24 h for which the gateway replays an idempotency key's answer.
pub const BACKGROUND_ATTEMPTS: u32 = 360;
/// The longest wait between two background tries.
pub const BACKGROUND_WAIT_MAX: Duration = Duration::from_secs(60);

/// Whether a failed gateway call may still have been applied: no answer came
/// (a timeout, a broken connection), the answer was lost after the work was
/// done (a 504, or a 2xx that did not decode), or the gateway failed inside
/// (a 5xx other than 503, which promises nothing was applied).
pub fn maybe_applied(e: &ApiError) -> bool {
    match e {
        ApiError::Transport(_) => e.outcome_unknown(),
        ApiError::Decode { .. } => true,
        ApiError::Status { status, .. } | ApiError::UnexpectedStatus { status, .. } => {
            *status >= 500 && *status != 503
        }
    }
}

/// A gateway call that failed after [`ATTEMPTS`] tries.
#[derive(Debug)]
pub struct Failed {
    /// The last attempt's error.
    pub error: ApiError,
    /// Some attempt may have been applied, and no later one gave a definite
    /// answer: the gateway may have done what the shop never heard about.
    pub unresolved: bool,
}

impl Failed {
    /// The shop's answer: an unresolved failure says that the call may have
    /// been applied, and that a retry with the same key settles it.
    pub fn into_error(self, what: &str) -> SimError {
        if !self.unresolved {
            return pay_error(self.error);
        }
        SimError::new(
            ErrorKind::Unavailable,
            "payment_gateway_unavailable",
            format!(
                "the payment gateway did not answer ({}); it may have applied the {what}: \
                 retry the operation to settle it",
                self.error
            ),
        )
    }
}

/// [`retrying`], noting whether an attempt may have been applied
/// ([`maybe_applied`]) when none gave a definite answer.
pub async fn retrying_tracked<T, F, Fut>(mut call: F) -> Result<T, Failed>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let unknown = AtomicBool::new(false);
    let seen = &unknown;
    let result = retrying(|| {
        let attempt = call();
        async move {
            let r = attempt.await;
            if let Err(e) = &r
                && maybe_applied(e)
            {
                seen.store(true, Ordering::Relaxed);
            }
            r
        }
    })
    .await;
    result.map_err(|error| Failed {
        // A definite refusal at the end (a decline replayed, a 4xx) settles
        // it; only an attempt still unanswered leaves the outcome open.
        unresolved: unknown.into_inner() && error.is_retryable(),
        error,
    })
}

/// Creates and confirms a checkout's intent through [`retrying_tracked`].
pub async fn create_intent(
    pay: &PayClient,
    body: &CreatePaymentIntent,
    key: &str,
) -> Result<PaymentIntent, Failed> {
    retrying_tracked(|| pay.create_intent(body, Some(key))).await
}

/// Runs `call` until it gives a definite answer, for at most
/// [`BACKGROUND_ATTEMPTS`] tries, waiting 1 s, 2 s, 4 s … up to
/// [`BACKGROUND_WAIT_MAX`] (or the `Retry-After`) between them.
async fn persisting<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut wait = Duration::from_secs(1);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e)
                if attempt < BACKGROUND_ATTEMPTS
                    && (e.is_retryable() || e.code() == Some("idempotency_key_in_use")) =>
            {
                let pause = match &e {
                    ApiError::Status {
                        retry_after_secs: Some(secs),
                        ..
                    } => Duration::from_secs(*secs).min(BACKGROUND_WAIT_MAX),
                    _ => wait,
                };
                tokio::time::sleep(pause).await;
                wait = (wait * 2).min(BACKGROUND_WAIT_MAX);
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// The failed checkout's payment, voided or refunded, `key`-suffixed.
async fn give_back(
    pay: &PayClient,
    intent: &str,
    captured: bool,
    key: &str,
    try_hard: bool,
) -> Result<(), ApiError> {
    let key = format!("{key}-release");
    if captured {
        let body = CreateRefund {
            payment_intent: intent.to_owned(),
            amount: None,
            reason: Some(RefundReason::RequestedByCustomer),
            metadata: BTreeMap::new(),
        };
        let call = || pay.refund(&body, Some(&key));
        if try_hard {
            persisting(call).await.map(|_| ())
        } else {
            retrying(call).await.map(|_| ())
        }
    } else {
        let body = CancelIntent {
            reason: Some(CancellationReason::Abandoned),
        };
        let call = || pay.cancel(intent, &body, Some(&key));
        if try_hard {
            persisting(call).await.map(|_| ())
        } else {
            retrying(call).await.map(|_| ())
        }
    }
}

/// Gives back the money of a checkout that could not become an order: voids
/// the authorization (or cancels a pending payment), or refunds a capture.
/// When the gateway gives no definite answer, the shop keeps trying in the
/// background; a refusal is logged: the caller's own error is what the
/// customer sees.
pub async fn release(pay: &PayClient, intent: &PaymentIntent, captured: bool, key: &str) {
    match give_back(pay, &intent.id, captured, key, false).await {
        Ok(()) => {}
        Err(e) if e.is_retryable() => {
            let (pay, id, key) = (pay.clone(), intent.id.clone(), key.to_owned());
            tokio::spawn(async move {
                if let Err(e) = give_back(&pay, &id, captured, &key, true).await {
                    tracing::warn!(intent = %id, error = %e, "gave up releasing the payment of a failed checkout");
                }
            });
        }
        Err(e) => {
            tracing::warn!(intent = %intent.id, error = %e, "could not release the payment of a failed checkout");
        }
    }
}

/// What a checkout that failed with its payment unresolved leaves to the
/// background: ask the gateway again with the same key and body until it
/// answers (it replays what the unanswered attempt did, or does it now), then
/// give back whatever holds money. A decline, or an intent already cancelled,
/// holds none.
pub fn abandon(pay: PayClient, body: CreatePaymentIntent, key: String) {
    tokio::spawn(async move {
        let pi = match persisting(|| pay.create_intent(&body, Some(&key))).await {
            Ok(pi) => pi,
            Err(e) if e.is_retryable() => {
                tracing::warn!(key = %key, error = %e, "gave up resolving the payment of a failed checkout");
                return;
            }
            // Refused outright (a decline): nothing is held.
            Err(_) => return,
        };
        let captured = match pi.status {
            IntentStatus::Succeeded => true,
            IntentStatus::RequiresCapture
            | IntentStatus::Processing
            | IntentStatus::RequiresAction
            | IntentStatus::RequiresConfirmation => false,
            IntentStatus::RequiresPaymentMethod | IntentStatus::Canceled => return,
        };
        if let Err(e) = give_back(&pay, &pi.id, captured, &key, true).await {
            tracing::warn!(intent = %pi.id, error = %e, "could not release the payment of a failed checkout");
        }
    });
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
    fn only_an_unanswered_or_lost_answer_may_have_been_applied() {
        let timeout = ApiError::Transport(TransportError::Timeout {
            url: "http://pay.sim".into(),
            timeout_ms: 5,
        });
        let refused = ApiError::Transport(TransportError::Connect {
            url: "http://pay.sim".into(),
            message: "refused".into(),
        });
        assert!(maybe_applied(&timeout));
        assert!(maybe_applied(&status(504, "timeout", None)));
        assert!(maybe_applied(&status(500, "internal_error", None)));
        assert!(!maybe_applied(&refused));
        assert!(!maybe_applied(&status(503, "service_unavailable", None)));
        assert!(!maybe_applied(&status(429, "rate_limited", None)));
        assert!(!maybe_applied(&status(402, "card_declined", None)));
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
