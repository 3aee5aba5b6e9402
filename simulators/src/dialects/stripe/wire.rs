//! Stripe's objects, rendered from the pay simulator's canonical ones:
//! `payment_intent`, `charge`, `refund`, `payment_method`, list envelopes.
//! Every object carries `object`, a unix `created` and `livemode: false`;
//! money is an integer of minor units by the currency's exponent, currency
//! codes are lower case. Ids are the canonical ones (`pi_000001`,
//! `ch_000001`, `re_000001`, `pm_000001`), so a connector and the native
//! API name the same things alike.

use chrono::{DateTime, Utc};
use omnisim_api::common::currency_scale;
use omnisim_api::pay::{
    CancellationReason, CaptureMethod, IntentStatus, PaymentIntent, PaymentMethodDetails,
    PaymentMethodKind, Refund, RefundReason, RefundStatus,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::{StripeError, decline_error_code};
use crate::pay::PayState;
use crate::pay::state::Charge;

/// Unix seconds.
pub fn unix(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// `12.50 USD` → `1250`; `100 JPY` → `100`.
pub fn minor(amount: Decimal, currency: &str) -> i64 {
    let scaled = amount * Decimal::from(10_i64.pow(currency_scale(currency)));
    i64::try_from(scaled.trunc()).unwrap_or(i64::MAX)
}

/// `1250 usd` → `12.50`.
pub fn major(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, currency_scale(currency))
}

/// Stripe's lower-case code for a canonical one.
pub fn currency(c: &str) -> String {
    c.to_ascii_lowercase()
}

/// The canonical code (`USD`) for Stripe's (`usd`), checked.
pub fn parse_currency(c: &str) -> Result<String, StripeError> {
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(c.to_ascii_uppercase())
    } else {
        Err(StripeError::invalid(
            "parameter_invalid",
            format!("Invalid currency: {c}. Stripe currencies are three-letter ISO codes."),
            Some("currency"),
        ))
    }
}

/// The smallest charge Stripe takes in `currency`, in minor units.
pub fn minimum_charge(currency: &str) -> i64 {
    match currency {
        "GBP" => 30,
        "JPY" => 50,
        "HKD" => 400,
        "MXN" => 1000,
        "NOK" | "SEK" | "DKK" => 300,
        _ => 50,
    }
}

/// The most Stripe takes in one charge, in minor units.
pub const AMOUNT_MAX: i64 = 99_999_999;

/// A positive amount in minor units within Stripe's bounds, as the
/// canonical decimal.
pub fn parse_amount(param: &str, amount: i64, currency: &str) -> Result<Decimal, StripeError> {
    if amount < minimum_charge(currency) {
        let min = major(minimum_charge(currency), currency);
        return Err(StripeError::invalid(
            "amount_too_small",
            format!(
                "Amount must be at least {min} {}",
                currency.to_ascii_lowercase()
            ),
            Some(param),
        ));
    }
    if amount > AMOUNT_MAX {
        return Err(StripeError::invalid(
            "amount_too_large",
            format!(
                "Amount must be no more than {} {}",
                major(AMOUNT_MAX, currency),
                currency.to_ascii_lowercase()
            ),
            Some(param),
        ));
    }
    Ok(major(amount, currency))
}

/// Which fields a request asked to expand.
#[derive(Clone, Debug, Default)]
pub struct Expand(pub Vec<String>);

impl Expand {
    /// Checks every path against `allowed`.
    pub fn check(paths: Vec<String>, allowed: &[&str]) -> Result<Expand, StripeError> {
        for p in &paths {
            if !allowed.contains(&p.as_str()) {
                return Err(StripeError::invalid(
                    "parameter_invalid",
                    format!("This property cannot be expanded ({p})."),
                    Some("expand"),
                ));
            }
        }
        Ok(Expand(paths))
    }

    /// True when `path` is expanded.
    pub fn has(&self, path: &str) -> bool {
        self.0.iter().any(|p| p == path)
    }

    /// The expansions under `prefix.` (`data.latest_charge` → `latest_charge`).
    pub fn under(&self, prefix: &str) -> Expand {
        Expand(
            self.0
                .iter()
                .filter_map(|p| p.strip_prefix(prefix)?.strip_prefix('.'))
                .map(str::to_owned)
                .collect(),
        )
    }
}

/// `{object: "list", data, has_more, url}`.
pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

fn status(s: IntentStatus) -> &'static str {
    match s {
        IntentStatus::RequiresPaymentMethod => "requires_payment_method",
        IntentStatus::RequiresConfirmation => "requires_confirmation",
        IntentStatus::RequiresAction => "requires_action",
        IntentStatus::RequiresCapture => "requires_capture",
        IntentStatus::Processing => "processing",
        IntentStatus::Succeeded => "succeeded",
        IntentStatus::Canceled => "canceled",
    }
}

fn cancellation(r: CancellationReason) -> &'static str {
    match r {
        CancellationReason::Duplicate => "duplicate",
        CancellationReason::Fraudulent => "fraudulent",
        CancellationReason::RequestedByCustomer => "requested_by_customer",
        CancellationReason::Abandoned => "abandoned",
        CancellationReason::Automatic => "automatic",
    }
}

fn method_type(kind: PaymentMethodKind) -> &'static str {
    match kind {
        PaymentMethodKind::CardPresent => "card_present",
        PaymentMethodKind::BankTransfer => "us_bank_account",
        PaymentMethodKind::Card | PaymentMethodKind::Wallet | PaymentMethodKind::GiftCard => "card",
    }
}

/// The client secret of an intent: derived from its id, so stable.
fn client_secret(id: &str) -> String {
    let digest = Sha256::digest(format!("omnisim client secret {id}").as_bytes());
    let tail: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("{id}_secret_{tail}")
}

/// The `card` (or `card_present`, `us_bank_account`) details of a method.
fn method_details(d: &PaymentMethodDetails) -> Value {
    let kind = method_type(d.kind);
    let brand = d.brand.clone().unwrap_or_else(|| "visa".into());
    let inner = match d.kind {
        PaymentMethodKind::BankTransfer => json!({
            "account_holder_type": "individual",
            "account_type": "checking",
            "bank_name": "STRIPE TEST BANK",
            "last4": d.last4,
            "routing_number": "110000000",
        }),
        _ => json!({
            "brand": brand,
            "checks": {"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass"},
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": format!("omnisim{}", d.last4.as_deref().unwrap_or("0000")),
            "funding": "credit",
            "last4": d.last4.as_deref().unwrap_or("0000"),
            "networks": {"available": [brand], "preferred": null},
            "wallet": d.wallet.map(|w| json!({"type": w})),
        }),
    };
    let mut out = json!({ "type": kind });
    out[kind] = inner;
    out
}

/// A `payment_method` object.
pub fn payment_method(d: &PaymentMethodDetails, created: i64) -> Value {
    let mut pm = method_details(d);
    pm["id"] = d.id.clone().into();
    pm["object"] = "payment_method".into();
    pm["allow_redisplay"] = "unspecified".into();
    pm["billing_details"] = billing_details();
    pm["created"] = created.into();
    pm["customer"] = Value::Null;
    pm["livemode"] = false.into();
    pm["metadata"] = json!({});
    pm
}

fn billing_details() -> Value {
    json!({
        "address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null},
        "email": null, "name": null, "phone": null, "tax_id": null,
    })
}

/// A `payment_intent` object, with `latest_charge` (and `payment_method`)
/// expanded when asked.
pub fn intent(state: &PayState, pi: &PaymentIntent, expand: &Expand) -> Value {
    let cur = &pi.currency;
    let created = unix(pi.created_at);
    // After a decline the method is detached (it lives on in the error).
    let attached = match pi.status {
        IntentStatus::RequiresPaymentMethod => None,
        _ => pi.payment_method.as_ref(),
    };
    let last_error = match (pi.status, &pi.last_payment_error) {
        (IntentStatus::RequiresAction, _) | (_, None) => Value::Null,
        (_, Some(e)) => {
            let code: String = e
                .decline_code
                .as_deref()
                .map_or_else(|| e.code.clone(), |d| decline_error_code(d).to_owned());
            json!({
                "type": if e.decline_code.is_some() { "card_error" } else { "invalid_request_error" },
                "code": code,
                "decline_code": e.decline_code,
                "message": e.message,
                "charge": pi.latest_charge,
                "doc_url": format!("https://docs.stripe.com/error-codes/{}", code.replace('_', "-")),
                "payment_method": pi.payment_method.as_ref().map(|d| payment_method(d, created)),
            })
        }
    };
    let next_action = match pi.status {
        IntentStatus::RequiresAction => json!({
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": attached.and_then(|d| d.id.clone())},
        }),
        _ => Value::Null,
    };
    let latest_charge = match &pi.latest_charge {
        Some(id) if expand.has("latest_charge") => state
            .charge_ref(id)
            .map_or(Value::Null, |c| charge(state, c, pi)),
        Some(id) => id.clone().into(),
        None => Value::Null,
    };
    let payment_method_value = match attached {
        Some(d) if expand.has("payment_method") => payment_method(d, created),
        Some(d) => d.id.clone().into(),
        None => Value::Null,
    };
    let types = pi
        .payment_method
        .as_ref()
        .map_or("card", |d| method_type(d.kind));
    let first = json!({
        "id": pi.id,
        "object": "payment_intent",
        "amount": minor(pi.amount, cur),
        "amount_capturable": minor(pi.amount_capturable, cur),
        "amount_details": {"tip": {}},
        "amount_received": minor(pi.amount_received, cur),
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": pi.canceled_at.map(unix),
        "cancellation_reason": pi.cancellation_reason.map(cancellation),
        "capture_method": match pi.capture_method {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        },
        "client_secret": client_secret(&pi.id),
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency(cur),
        "customer": null,
        "customer_account": null,
        "description": pi.description,
        "excluded_payment_method_types": null,
        "last_payment_error": last_error,
        "latest_charge": latest_charge,
        "livemode": false,
    });
    // Two halves: one `json!` of every field is past the macro's recursion limit.
    let rest = json!({
        "managed_payments": null,
        "metadata": pi.metadata,
        "next_action": next_action,
        "on_behalf_of": null,
        "payment_method": payment_method_value,
        "payment_method_configuration_details": null,
        "payment_method_options": {types: {}},
        "payment_method_types": [types],
        "processing": if pi.status == IntentStatus::Processing { json!({"type": types}) } else { Value::Null },
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": status(pi.status),
        "transfer_data": null,
        "transfer_group": null,
    });
    let mut out = first;
    if let (Some(o), Value::Object(r)) = (out.as_object_mut(), rest) {
        o.extend(r);
    }
    out
}

/// A `charge` object: what the try was (`c`), with what became of it read
/// from its intent as `pi` shows it (captured, refunded, released), and the
/// intent's refunds when `c` is the charge they refunded.
pub fn charge(state: &PayState, c: &Charge, pi: &PaymentIntent) -> Value {
    let cur = &c.currency;
    let latest = pi.latest_charge.as_deref() == Some(c.id.as_str());
    let amount = minor(c.amount, cur);
    let status = match (&c.failure, latest, pi.status) {
        (Some(_), _, _) => "failed",
        (None, true, IntentStatus::Processing) => "pending",
        _ => "succeeded",
    };
    let captured = status == "succeeded" && latest && pi.status == IntentStatus::Succeeded;
    let amount_captured = if captured {
        minor(pi.amount_received, cur)
    } else {
        0
    };
    let amount_refunded = if captured {
        // A partial capture releases the rest, which Stripe shows as refunded.
        amount - amount_captured + minor(pi.amount_refunded, cur)
    } else if status == "succeeded" && latest && pi.status == IntentStatus::Canceled {
        amount
    } else {
        0
    };
    let (failure_code, failure_message, outcome) = match &c.failure {
        Some(f) => {
            let code: String = f
                .decline_code
                .as_deref()
                .map_or_else(|| f.code.clone(), |d| decline_error_code(d).to_owned());
            let outcome = json!({
                "advice_code": null,
                "network_advice_code": null,
                "network_decline_code": null,
                "network_status": "declined_by_network",
                "reason": f.decline_code,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            });
            (Value::from(code), Value::from(f.message.clone()), outcome)
        }
        None => (
            Value::Null,
            Value::Null,
            json!({
                "advice_code": null,
                "network_advice_code": null,
                "network_decline_code": null,
                "network_status": "approved_by_network",
                "reason": null,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": "Payment complete.",
                "type": "authorized",
            }),
        ),
    };
    let details = c.payment_method.as_ref();
    let refunds: Vec<Value> = if captured {
        pi.refunds
            .iter()
            .rev()
            .filter_map(|id| state.refunds().find(|r| r.id == *id))
            .map(|r| refund(r, Some(&c.id)))
            .collect()
    } else {
        Vec::new()
    };
    let mut out = json!({
        "id": c.id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount_captured,
        "amount_refunded": amount_refunded,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": null,
        "billing_details": billing_details(),
        "calculated_statement_descriptor": "OMNISIM",
        "captured": captured,
        "created": unix(c.created_at),
        "currency": currency(cur),
        "customer": null,
        "description": pi.description,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "fraud_details": {},
        "livemode": false,
    });
    let rest = json!({
        "metadata": pi.metadata,
        "on_behalf_of": null,
        "outcome": outcome,
        "paid": status == "succeeded",
        "payment_intent": c.payment_intent,
        "payment_method": details.and_then(|d| d.id.clone()),
        "payment_method_details": details.map(method_details),
        "receipt_email": null,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": amount_refunded > 0 && amount_refunded == amount,
        "refunds": list(&format!("/v1/charges/{}/refunds", c.id), refunds, false),
        "review": null,
        "shipping": null,
        "source": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": status,
        "transfer_data": null,
        "transfer_group": null,
    });
    if let (Some(o), Value::Object(r)) = (out.as_object_mut(), rest) {
        o.extend(r);
    }
    out
}

/// A `refund` object; `charge` is the intent's succeeded charge.
pub fn refund(r: &Refund, charge: Option<&str>) -> Value {
    json!({
        "customer": null,
        "customer_account": null,
        "id": r.id,
        "object": "refund",
        "amount": minor(r.amount, &r.currency),
        "balance_transaction": null,
        "charge": charge,
        "created": unix(r.created_at),
        "currency": currency(&r.currency),
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": r.metadata,
        "payment_intent": r.payment_intent,
        "payment_method": null,
        "reason": r.reason.map(|x| match x {
            RefundReason::Duplicate => "duplicate",
            RefundReason::Fraudulent => "fraudulent",
            RefundReason::RequestedByCustomer => "requested_by_customer",
        }),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": match r.status {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        },
        "transfer_reversal": null,
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn minor_units_follow_the_currency_exponent() {
        assert_eq!(minor(dec!(12.50), "USD"), 1250);
        assert_eq!(minor(dec!(100), "JPY"), 100);
        assert_eq!(major(1250, "USD").to_string(), "12.50");
        assert_eq!(major(100, "JPY").to_string(), "100");
        assert_eq!(parse_currency("usd").unwrap(), "USD");
        assert!(parse_currency("us").is_err());
        assert_eq!(
            parse_amount("amount", 49, "USD").unwrap_err().error["code"],
            "amount_too_small"
        );
        assert_eq!(parse_amount("amount", 50, "USD").unwrap(), dec!(0.50));
    }

    #[test]
    fn client_secrets_are_stable() {
        assert_eq!(client_secret("pi_000001"), client_secret("pi_000001"));
        assert!(client_secret("pi_000001").starts_with("pi_000001_secret_"));
    }
}
