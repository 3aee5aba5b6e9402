//! Stripe events rendered from the pay simulator's canonical events, for
//! webhook endpoints made through the dialect and for `GET /v1/events`.
//!
//! One canonical event may be several Stripe events, as Stripe emits them:
//! an authorization is `charge.succeeded` then
//! `payment_intent.amount_capturable_updated`; a capture `charge.captured`
//! then `payment_intent.succeeded`; a decline `charge.failed` then
//! `payment_intent.payment_failed`; a refund `charge.refunded` then
//! `refund.created`. Each is rendered from the intent as the canonical event
//! recorded it, so a webhook, a later `GET /v1/events/{id}` and a rerun all
//! show the same object. The first Stripe event of canonical event `evt_pay_N`
//! has its id; the next ones `evt_pay_N_1`, `evt_pay_N_2`.

use bytes::Bytes;
use omnisim_api::Event;
use omnisim_api::pay::{
    CancellationReason, CaptureMethod, PaymentIntent, PaymentMethodKind, Refund,
};
use serde_json::{Value, json};

use super::API_VERSION;
use super::wire::{self, Expand};
use crate::dialects::Rendered;
use crate::pay::PayState;

/// Every Stripe event type the dialect emits: what webhook endpoints may
/// name besides `*`.
pub const TYPES: &[&str] = &[
    "payment_intent.created",
    "payment_intent.requires_action",
    "payment_intent.amount_capturable_updated",
    "payment_intent.processing",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.pending",
    "charge.succeeded",
    "charge.captured",
    "charge.failed",
    "charge.expired",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
];

/// One Stripe event.
#[derive(Clone, Debug, PartialEq)]
pub struct StripeEvent {
    /// `evt_…`.
    pub id: String,
    /// Its Stripe type.
    pub kind: &'static str,
    /// The whole `event` object.
    pub body: Value,
}

/// The Stripe events of one canonical pay event, in the order Stripe sends them.
pub fn stripe_events(state: &PayState, event: &Event) -> Vec<StripeEvent> {
    let Ok(pi) = serde_json::from_value::<PaymentIntent>(event.data.clone()) else {
        return Vec::new();
    };
    let none = Expand::default();
    let intent = || wire::intent(state, &pi, &none);
    let charge = || {
        pi.latest_charge
            .as_deref()
            .and_then(|id| state.charge_ref(id))
            .map(|c| wire::charge(state, c, &pi))
    };
    let refund = || -> Option<Value> {
        let r = &event.data["refund"];
        let mut refund: Refund = state
            .refunds()
            .find(|x| Some(x.id.as_str()) == r["id"].as_str())?
            .clone();
        if let Ok(status) = serde_json::from_value(r["status"].clone()) {
            refund.status = status;
        }
        Some(wire::refund(&refund, pi.latest_charge.as_deref()))
    };
    let bank = pi
        .payment_method
        .as_ref()
        .is_some_and(|m| m.kind == PaymentMethodKind::BankTransfer);
    let mut out: Vec<(&'static str, Option<Value>)> = Vec::new();
    match event.kind.as_str() {
        "payment_intent.created" => out.push(("payment_intent.created", Some(intent()))),
        "payment_intent.requires_action" => {
            out.push(("payment_intent.requires_action", Some(intent())));
        }
        "payment_intent.amount_capturable_updated" => {
            out.push(("charge.succeeded", charge()));
            out.push(("payment_intent.amount_capturable_updated", Some(intent())));
        }
        "payment_intent.processing" => {
            out.push(("charge.pending", charge()));
            out.push(("payment_intent.processing", Some(intent())));
        }
        "payment_intent.succeeded" => {
            let kind = if pi.capture_method == CaptureMethod::Manual {
                "charge.captured"
            } else {
                "charge.succeeded"
            };
            out.push((kind, charge()));
            out.push(("payment_intent.succeeded", Some(intent())));
        }
        "payment_intent.payment_failed" => {
            if pi.latest_charge.is_some() || bank {
                out.push(("charge.failed", charge()));
            }
            out.push(("payment_intent.payment_failed", Some(intent())));
        }
        "payment_intent.canceled" => {
            if pi.cancellation_reason == Some(CancellationReason::Automatic) {
                out.push(("charge.expired", charge()));
            }
            out.push(("payment_intent.canceled", Some(intent())));
        }
        "charge.refunded" => {
            out.push(("charge.refunded", charge()));
            out.push(("refund.created", refund()));
        }
        "charge.refund.updated" => {
            out.push(("charge.refund.updated", refund()));
            out.push(("refund.updated", refund()));
        }
        _ => {}
    }
    out.into_iter()
        .filter_map(|(kind, object)| Some((kind, object?)))
        .enumerate()
        .map(|(k, (kind, object))| {
            let id = if k == 0 {
                event.id.clone()
            } else {
                format!("{}_{k}", event.id)
            };
            let body = json!({
                "id": id,
                "object": "event",
                "api_version": API_VERSION,
                "created": wire::unix(event.occurred_at),
                "data": {"object": object},
                "livemode": false,
                "pending_webhooks": 0,
                "request": {"id": null, "idempotency_key": null},
                "type": kind,
            });
            StripeEvent { id, kind, body }
        })
        .collect()
}

/// The canonical sequence number and the index among its Stripe events of
/// a Stripe event id (`evt_pay_00000005_1` → `(5, 1)`).
pub fn parse_id(id: &str) -> Option<(u64, usize)> {
    let rest = id.strip_prefix("evt_pay_")?;
    let (seq, k) = match rest.split_once('_') {
        Some((seq, k)) => (seq, k.parse().ok()?),
        None => (rest, 0),
    };
    Some((seq.parse().ok()?, k))
}

/// The deliveries of one canonical event to Stripe webhook endpoints.
pub fn render(state: &PayState, event: &Event) -> Vec<Rendered> {
    stripe_events(state, event)
        .into_iter()
        .map(|e| Rendered {
            id: e.id,
            topic: e.kind.to_owned(),
            body: Bytes::from(serde_json::to_vec(&e.body).unwrap_or_default()),
            headers: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_back() {
        assert_eq!(parse_id("evt_pay_00000005"), Some((5, 0)));
        assert_eq!(parse_id("evt_pay_00000005_1"), Some((5, 1)));
        assert_eq!(parse_id("evt_x"), None);
    }
}
