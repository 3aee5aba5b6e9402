//! The Stripe dialect's handlers: each decodes Stripe's form, calls the pay
//! state machine inside one commit (or read), and renders Stripe's object.
//! Lists are newest first with Stripe's cursors (`starting_after`,
//! `ending_before`) and `created` filters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use omnisim_api::pay::{
    CancellationReason, CaptureIntent, CaptureMethod, ConfirmIntent, CreateRefund, IntentStatus,
    PaymentMethod, RefundReason, UpdateIntent,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::error::{StripeError, StripeResult};
use super::events::{self, stripe_events};
use super::form::{Form, Query, Range};
use super::wire::{self, Expand};
use crate::core::{Simulator, lock};
use crate::dialects::Wire;
use crate::error::{ErrorKind, SimError};
use crate::pay::PayState;
use crate::pay::state::{Attempt, NewIntent};

/// What the handlers run on.
pub struct Dialect {
    /// The pay simulator.
    pub sim: Arc<Simulator<PayState>>,
    /// What Stripe keeps on a webhook endpoint that the subscriptions do not:
    /// by subscription id (set again at each create, so never stale).
    endpoints: Mutex<BTreeMap<String, EndpointExtras>>,
}

impl Dialect {
    /// The dialect over `sim`.
    pub fn new(sim: Arc<Simulator<PayState>>) -> Self {
        Dialect {
            sim,
            endpoints: Mutex::new(BTreeMap::new()),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct EndpointExtras {
    description: Option<String>,
    metadata: BTreeMap<String, String>,
    api_version: Option<String>,
}

type Ctx = State<Arc<Dialect>>;

/// A rendered object, answered 200.
pub struct Object(pub Value);

impl IntoResponse for Object {
    fn into_response(self) -> Response {
        (StatusCode::OK, axum::Json(self.0)).into_response()
    }
}

/// A state-machine error, with Stripe's wording for an unknown id.
fn sim_error(e: SimError, object: &str, id: &str, param: &str) -> StripeError {
    if e.kind == ErrorKind::NotFound && e.code == "resource_missing" {
        let field = e.field.clone().unwrap_or_default();
        if field == "id" {
            return StripeError::missing(object, id, param);
        }
        if field == "payment_intent" {
            return StripeError::missing("payment_intent", id, "payment_intent");
        }
    }
    StripeError::from(e)
}

// ---- payment methods ----------------------------------------------------

/// Stripe's test payment methods and tokens, as the card numbers behind them.
fn test_method(token: &str) -> Option<&'static str> {
    let name = token
        .strip_prefix("pm_card_")
        .or_else(|| token.strip_prefix("tok_"))?;
    Some(match name {
        "visa" => "4242424242424242",
        "mastercard" => "5555555555554444",
        "amex" => "378282246310005",
        "chargeDeclined" => "4000000000000002",
        "chargeDeclinedInsufficientFunds" => "4000000000009995",
        "chargeDeclinedLostCard" => "4000000000009987",
        "chargeDeclinedStolenCard" => "4000000000009979",
        "chargeDeclinedExpiredCard" => "4000000000000069",
        "chargeDeclinedIncorrectCvc" => "4000000000000127",
        "chargeDeclinedProcessingError" => "4000000000000119",
        "authenticationRequired" | "threeDSecure2Required" | "authenticationRequiredOnSetup" => {
            "4000000000003220"
        }
        _ => return None,
    })
}

/// `payment_method_data[…]`: a card given by number (test numbers only).
// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodData {
    #[serde(rename = "type")]
    kind: Option<String>,
    card: Option<CardData>,
    #[serde(default)]
    billing_details: Option<IgnoredAny>,
    #[serde(default)]
    metadata: Option<IgnoredAny>,
}

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardData {
    number: Option<String>,
    token: Option<String>,
    exp_month: Option<IgnoredAny>,
    exp_year: Option<IgnoredAny>,
    cvc: Option<IgnoredAny>,
}

/// The canonical payment method of a Stripe one: a test `pm_…`/`tok_…`, a
/// test bank account, or `payment_method_data` with a test card number.
fn resolve_method(
    token: Option<&str>,
    data: Option<MethodData>,
    types: &[String],
) -> StripeResult<Option<PaymentMethod>> {
    let present = types.iter().any(|t| t == "card_present");
    let card = |number: &str| {
        let number = number.to_owned();
        if present {
            PaymentMethod::CardPresent { number }
        } else {
            PaymentMethod::Card { number }
        }
    };
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        if let Some(number) = test_method(token) {
            return Ok(Some(card(number)));
        }
        let account = match token {
            "pm_usBankAccount" | "pm_usBankAccount_success" => Some(None),
            "pm_usBankAccount_accountClosed" => Some(Some("000111111116".to_owned())),
            _ => None,
        };
        if let Some(account) = account {
            return Ok(Some(PaymentMethod::BankTransfer { account }));
        }
        return Err(StripeError::missing(
            "PaymentMethod",
            token,
            "payment_method",
        ));
    }
    let Some(data) = data else { return Ok(None) };
    if data.kind.as_deref().is_some_and(|k| k != "card") {
        return Err(StripeError::invalid(
            "parameter_invalid",
            "omnisim serves payment_method_data[type]=card only",
            Some("payment_method_data[type]"),
        ));
    }
    let Some(c) = data.card else {
        return Err(StripeError::param_missing("payment_method_data[card]"));
    };
    if let Some(number) = c.token.as_deref().and_then(test_method) {
        return Ok(Some(card(number)));
    }
    match c.number {
        Some(n) => Ok(Some(card(&n.replace(' ', "")))),
        None => Err(StripeError::param_missing(
            "payment_method_data[card][number]",
        )),
    }
}

fn capture_method(s: Option<&str>) -> StripeResult<Option<CaptureMethod>> {
    match s {
        None => Ok(None),
        Some("automatic" | "automatic_async") => Ok(Some(CaptureMethod::Automatic)),
        Some("manual") => Ok(Some(CaptureMethod::Manual)),
        Some(other) => Err(StripeError::invalid(
            "parameter_invalid",
            format!(
                "Invalid capture_method: must be one of automatic, automatic_async, or manual \
                 (got {other})"
            ),
            Some("capture_method"),
        )),
    }
}

fn check_types(types: &[String]) -> StripeResult<()> {
    for (i, t) in types.iter().enumerate() {
        if !matches!(t.as_str(), "card" | "card_present" | "us_bank_account") {
            return Err(StripeError::invalid(
                "payment_intent_invalid_parameter",
                format!(
                    "The payment method type \"{t}\" is invalid: omnisim serves card, \
                     card_present and us_bank_account"
                ),
                Some(&format!("payment_method_types[{i}]")),
            ));
        }
    }
    Ok(())
}

const INTENT_EXPAND: &[&str] = &["latest_charge", "payment_method"];

// ---- payment intents ----------------------------------------------------

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateIntentForm {
    amount: Option<i64>,
    currency: Option<String>,
    payment_method: Option<String>,
    #[serde(default)]
    payment_method_types: Vec<String>,
    payment_method_data: Option<MethodData>,
    confirm: Option<bool>,
    capture_method: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    description: Option<String>,
    #[serde(default)]
    expand: Vec<String>,
    // Accepted and not modelled.
    automatic_payment_methods: Option<IgnoredAny>,
    confirmation_method: Option<IgnoredAny>,
    customer: Option<IgnoredAny>,
    error_on_requires_action: Option<IgnoredAny>,
    off_session: Option<IgnoredAny>,
    payment_method_options: Option<IgnoredAny>,
    receipt_email: Option<IgnoredAny>,
    return_url: Option<IgnoredAny>,
    setup_future_usage: Option<IgnoredAny>,
    shipping: Option<IgnoredAny>,
    statement_descriptor: Option<IgnoredAny>,
    statement_descriptor_suffix: Option<IgnoredAny>,
    transfer_group: Option<IgnoredAny>,
    use_stripe_sdk: Option<IgnoredAny>,
}

/// A confirmation's answer: the intent, or the decline (402) carrying it.
fn attempt_response(d: &Dialect, attempt: Attempt, expand: &Expand) -> StripeResult<Object> {
    let (object, error_intent) = d.sim.read(|s| {
        (
            wire::intent(s, &attempt.intent, expand),
            wire::intent(s, &attempt.intent, &Expand::default()),
        )
    });
    match attempt.decline {
        Some(e) if attempt.intent.status != IntentStatus::RequiresAction => {
            let pm = attempt
                .intent
                .payment_method
                .as_ref()
                .map(|m| wire::payment_method(m, wire::unix(attempt.intent.created_at)));
            let code = StripeError::from(e.clone()).error["code"].clone();
            Err(StripeError::from(e)
                .with("payment_intent", error_intent)
                .with("charge", attempt.intent.latest_charge.clone().into())
                .with("payment_method", pm.unwrap_or(Value::Null))
                .with(
                    "doc_url",
                    format!(
                        "https://docs.stripe.com/error-codes/{}",
                        code.as_str().unwrap_or_default().replace('_', "-")
                    )
                    .into(),
                )
                .with("request_log_url", Value::Null))
        }
        _ => Ok(Object(object)),
    }
}

async fn create_intent(State(d): Ctx, Form(f): Form<CreateIntentForm>) -> StripeResult<Object> {
    let amount = f
        .amount
        .ok_or_else(|| StripeError::param_missing("amount"))?;
    let currency = wire::parse_currency(
        f.currency
            .as_deref()
            .ok_or_else(|| StripeError::param_missing("currency"))?,
    )?;
    let amount = wire::parse_amount("amount", amount, &currency)?;
    check_types(&f.payment_method_types)?;
    let expand = Expand::check(f.expand, INTENT_EXPAND)?;
    let method = resolve_method(
        f.payment_method.as_deref(),
        f.payment_method_data,
        &f.payment_method_types,
    )?;
    let req = NewIntent {
        amount,
        currency,
        capture_method: capture_method(f.capture_method.as_deref())?.unwrap_or_default(),
        payment_method: method,
        confirm: f.confirm.unwrap_or(false),
        metadata: f
            .metadata
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect(),
        description: f.description,
    };
    let attempt = d
        .sim
        .commit(|s, fx| s.open_intent(fx, req))
        .map_err(StripeError::from)?;
    attempt_response(&d, attempt, &expand)
}

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrieveForm {
    #[serde(default)]
    expand: Vec<String>,
    client_secret: Option<IgnoredAny>,
}

async fn get_intent(
    State(d): Ctx,
    Path(id): Path<String>,
    Query(q): Query<RetrieveForm>,
) -> StripeResult<Object> {
    let expand = Expand::check(q.expand, INTENT_EXPAND)?;
    d.sim
        .read(|s| s.intent(&id).map(|pi| wire::intent(s, &pi, &expand)))
        .map(Object)
        .map_err(|e| sim_error(e, "payment_intent", &id, "intent"))
}

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateIntentForm {
    amount: Option<i64>,
    currency: Option<String>,
    payment_method: Option<String>,
    #[serde(default)]
    payment_method_types: Vec<String>,
    payment_method_data: Option<MethodData>,
    capture_method: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    description: Option<String>,
    #[serde(default)]
    expand: Vec<String>,
    receipt_email: Option<IgnoredAny>,
    setup_future_usage: Option<IgnoredAny>,
    shipping: Option<IgnoredAny>,
    statement_descriptor: Option<IgnoredAny>,
    statement_descriptor_suffix: Option<IgnoredAny>,
    payment_method_options: Option<IgnoredAny>,
    transfer_group: Option<IgnoredAny>,
}

async fn update_intent(
    State(d): Ctx,
    Path(id): Path<String>,
    Form(f): Form<UpdateIntentForm>,
) -> StripeResult<Object> {
    check_types(&f.payment_method_types)?;
    let expand = Expand::check(f.expand, INTENT_EXPAND)?;
    let method = resolve_method(
        f.payment_method.as_deref(),
        f.payment_method_data,
        &f.payment_method_types,
    )?;
    let current = d
        .sim
        .read(|s| s.intent(&id))
        .map_err(|e| sim_error(e, "payment_intent", &id, "intent"))?;
    let currency = match &f.currency {
        Some(c) => Some(wire::parse_currency(c)?),
        None => None,
    };
    let amount = match f.amount {
        Some(a) => Some(wire::parse_amount(
            "amount",
            a,
            currency.as_deref().unwrap_or(&current.currency),
        )?),
        None => None,
    };
    let req = UpdateIntent {
        amount,
        currency,
        capture_method: capture_method(f.capture_method.as_deref())?,
        payment_method: method,
        metadata: f.metadata,
        description: f.description,
    };
    d.sim
        .commit(|s, _| {
            s.update_intent(&id, req)
                .map(|pi| wire::intent(s, &pi, &expand))
        })
        .map(Object)
        .map_err(|e| sim_error(e, "payment_intent", &id, "intent"))
}

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmForm {
    payment_method: Option<String>,
    #[serde(default)]
    payment_method_types: Vec<String>,
    payment_method_data: Option<MethodData>,
    capture_method: Option<String>,
    #[serde(default)]
    expand: Vec<String>,
    error_on_requires_action: Option<IgnoredAny>,
    off_session: Option<IgnoredAny>,
    payment_method_options: Option<IgnoredAny>,
    receipt_email: Option<IgnoredAny>,
    return_url: Option<IgnoredAny>,
    setup_future_usage: Option<IgnoredAny>,
    shipping: Option<IgnoredAny>,
    use_stripe_sdk: Option<IgnoredAny>,
}

async fn confirm_intent(
    State(d): Ctx,
    Path(id): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> StripeResult<Object> {
    check_types(&f.payment_method_types)?;
    let expand = Expand::check(f.expand, INTENT_EXPAND)?;
    let req = ConfirmIntent {
        payment_method: resolve_method(
            f.payment_method.as_deref(),
            f.payment_method_data,
            &f.payment_method_types,
        )?,
        capture_method: capture_method(f.capture_method.as_deref())?,
    };
    let attempt = d
        .sim
        .commit(|s, fx| s.confirm(fx, &id, req))
        .map_err(|e| sim_error(e, "payment_intent", &id, "intent"))?;
    attempt_response(&d, attempt, &expand)
}

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaptureForm {
    amount_to_capture: Option<i64>,
    #[serde(default)]
    expand: Vec<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    final_capture: Option<IgnoredAny>,
    statement_descriptor: Option<IgnoredAny>,
    statement_descriptor_suffix: Option<IgnoredAny>,
}

async fn capture_intent(
    State(d): Ctx,
    Path(id): Path<String>,
    Form(f): Form<CaptureForm>,
) -> StripeResult<Object> {
    let expand = Expand::check(f.expand, INTENT_EXPAND)?;
    let current = d
        .sim
        .read(|s| s.intent(&id))
        .map_err(|e| sim_error(e, "payment_intent", &id, "intent"))?;
    let amount_to_capture = match f.amount_to_capture {
        Some(a) if a <= 0 => {
            return Err(StripeError::invalid(
                "parameter_invalid_integer",
                "amount_to_capture must be a positive integer",
                Some("amount_to_capture"),
            ));
        }
        Some(a) => Some(wire::major(a, &current.currency)),
        None => None,
    };
    let metadata = f.metadata;
    d.sim
        .commit(|s, fx| {
            let pi = s.capture(fx, &id, CaptureIntent { amount_to_capture })?;
            let pi = if metadata.is_empty() {
                pi
            } else {
                s.update_intent(
                    &id,
                    UpdateIntent {
                        metadata: Some(metadata),
                        ..UpdateIntent::default()
                    },
                )?
            };
            Ok(wire::intent(s, &pi, &expand))
        })
        .map(Object)
        .map_err(|e| sim_error(e, "payment_intent", &id, "intent"))
}

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelForm {
    cancellation_reason: Option<String>,
    #[serde(default)]
    expand: Vec<String>,
}

async fn cancel_intent(
    State(d): Ctx,
    Path(id): Path<String>,
    Form(f): Form<CancelForm>,
) -> StripeResult<Object> {
    let expand = Expand::check(f.expand, INTENT_EXPAND)?;
    let reason = match f.cancellation_reason.as_deref() {
        None => None,
        Some("duplicate") => Some(CancellationReason::Duplicate),
        Some("fraudulent") => Some(CancellationReason::Fraudulent),
        Some("requested_by_customer") => Some(CancellationReason::RequestedByCustomer),
        Some("abandoned") => Some(CancellationReason::Abandoned),
        Some(other) => {
            return Err(StripeError::invalid(
                "parameter_invalid",
                format!(
                    "Invalid cancellation_reason: must be one of duplicate, fraudulent, \
                     requested_by_customer, or abandoned (got {other})"
                ),
                Some("cancellation_reason"),
            ));
        }
    };
    d.sim
        .commit(|s, fx| {
            s.cancel_with(fx, &id, reason)
                .map(|pi| wire::intent(s, &pi, &expand))
        })
        .map(Object)
        .map_err(|e| sim_error(e, "payment_intent", &id, "intent"))
}

// ---- lists --------------------------------------------------------------

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListForm {
    limit: Option<i64>,
    starting_after: Option<String>,
    ending_before: Option<String>,
    #[serde(default)]
    created: Range,
    #[serde(default)]
    expand: Vec<String>,
    payment_intent: Option<String>,
    charge: Option<String>,
    customer: Option<IgnoredAny>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    types: Vec<String>,
    delivery_success: Option<IgnoredAny>,
}

/// One page of `items` (oldest first, each with its id, created time and
/// whether the filters keep it), newest first, by Stripe's cursors.
fn page<T>(
    items: Vec<(String, i64, bool, T)>,
    f: &ListForm,
    object: &str,
) -> StripeResult<(Vec<T>, bool)> {
    let limit = f.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(StripeError::invalid(
            "parameter_invalid_integer",
            "Invalid limit: must be between 1 and 100",
            Some("limit"),
        ));
    }
    let limit = usize::try_from(limit).unwrap_or(10);
    let mut desc: Vec<(String, i64, bool, T)> = items;
    desc.reverse();
    let find = |id: &str, param: &str| -> StripeResult<usize> {
        desc.iter()
            .position(|(x, ..)| x == id)
            .ok_or_else(|| StripeError::missing(object, id, param))
    };
    let cursor_after = match f.starting_after.as_deref().filter(|s| !s.is_empty()) {
        Some(after) => Some(find(after, "starting_after")?),
        None => None,
    };
    let cursor_before = match f.ending_before.as_deref().filter(|s| !s.is_empty()) {
        Some(before) => Some(find(before, "ending_before")?),
        None => None,
    };
    let keep =
        |(_, created, kept, _): &(String, i64, bool, T)| *kept && f.created.contains(*created);
    if let Some(pos) = cursor_before {
        let newer: Vec<(String, i64, bool, T)> = desc.into_iter().take(pos).filter(keep).collect();
        let has_more = newer.len() > limit;
        let skip = newer.len().saturating_sub(limit);
        return Ok((
            newer.into_iter().skip(skip).map(|x| x.3).collect(),
            has_more,
        ));
    }
    let start = cursor_after.map_or(0, |p| p + 1);
    let older: Vec<T> = desc
        .into_iter()
        .skip(start)
        .filter(keep)
        .take(limit + 1)
        .map(|x| x.3)
        .collect();
    let has_more = older.len() > limit;
    Ok((older.into_iter().take(limit).collect(), has_more))
}

async fn list_intents(State(d): Ctx, Query(f): Query<ListForm>) -> StripeResult<Object> {
    let expand = Expand::check(
        f.expand.clone(),
        &["data.latest_charge", "data.payment_method"],
    )?
    .under("data");
    let (data, more) = d.sim.read(|s| {
        let items = s
            .intents()
            .map(|pi| (pi.id.clone(), wire::unix(pi.created_at), true, pi))
            .collect();
        page(items, &f, "payment_intent").map(|(page, more)| {
            (
                page.into_iter()
                    .map(|pi| wire::intent(s, pi, &expand))
                    .collect(),
                more,
            )
        })
    })?;
    Ok(Object(wire::list("/v1/payment_intents", data, more)))
}

// ---- refunds ------------------------------------------------------------

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundForm {
    payment_intent: Option<String>,
    charge: Option<String>,
    amount: Option<i64>,
    reason: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    expand: Vec<String>,
    instructions_email: Option<IgnoredAny>,
    refund_application_fee: Option<IgnoredAny>,
    reverse_transfer: Option<IgnoredAny>,
}

const REFUND_EXPAND: &[&str] = &["charge", "payment_intent"];

fn refund_object(s: &PayState, r: &omnisim_api::pay::Refund, expand: &Expand) -> Value {
    let pi = s.intent(&r.payment_intent).ok();
    let charge = pi.as_ref().and_then(|p| p.latest_charge.clone());
    let mut v = wire::refund(r, charge.as_deref());
    if let Some(pi) = &pi {
        if expand.has("charge")
            && let Some(c) = charge.as_deref().and_then(|c| s.charge_ref(c))
        {
            v["charge"] = wire::charge(s, c, pi);
        }
        if expand.has("payment_intent") {
            v["payment_intent"] = wire::intent(s, pi, &Expand::default());
        }
    }
    v
}

async fn create_refund(State(d): Ctx, Form(f): Form<RefundForm>) -> StripeResult<Object> {
    let expand = Expand::check(f.expand, REFUND_EXPAND)?;
    let intent_id = match (f.payment_intent, f.charge) {
        (Some(pi), _) => pi,
        (None, Some(ch)) => d
            .sim
            .read(|s| s.charge(&ch).map(|c| c.payment_intent))
            .map_err(|_| StripeError::missing("charge", &ch, "charge"))?,
        (None, None) => {
            return Err(StripeError::invalid(
                "parameter_missing",
                "One of the following params should be provided for this request: \
                 payment_intent or charge.",
                None,
            ));
        }
    };
    let currency = d
        .sim
        .read(|s| s.intent(&intent_id))
        .map_err(|_| StripeError::missing("payment_intent", &intent_id, "payment_intent"))?
        .currency;
    let amount = match f.amount {
        Some(a) if a <= 0 => {
            return Err(StripeError::invalid(
                "parameter_invalid_integer",
                "amount must be a positive integer",
                Some("amount"),
            ));
        }
        Some(a) => Some(wire::major(a, &currency)),
        None => None,
    };
    let reason = match f.reason.as_deref() {
        None => None,
        Some("duplicate") => Some(RefundReason::Duplicate),
        Some("fraudulent") => Some(RefundReason::Fraudulent),
        Some("requested_by_customer") => Some(RefundReason::RequestedByCustomer),
        Some(other) => {
            return Err(StripeError::invalid(
                "parameter_invalid",
                format!(
                    "Invalid reason: must be one of duplicate, fraudulent, or \
                     requested_by_customer (got {other})"
                ),
                Some("reason"),
            ));
        }
    };
    let req = CreateRefund {
        payment_intent: intent_id.clone(),
        amount,
        reason,
        metadata: f.metadata,
    };
    d.sim
        .commit(|s, fx| {
            s.create_refund(fx, req)
                .map(|r| refund_object(s, &r, &expand))
        })
        .map(Object)
        .map_err(|e| sim_error(e, "payment_intent", &intent_id, "payment_intent"))
}

async fn get_refund(
    State(d): Ctx,
    Path(id): Path<String>,
    Query(q): Query<RetrieveForm>,
) -> StripeResult<Object> {
    let expand = Expand::check(q.expand, REFUND_EXPAND)?;
    d.sim
        .read(|s| s.refund(&id).map(|r| refund_object(s, &r, &expand)))
        .map(Object)
        .map_err(|e| sim_error(e, "refund", &id, "refund"))
}

async fn list_refunds(State(d): Ctx, Query(f): Query<ListForm>) -> StripeResult<Object> {
    let expand =
        Expand::check(f.expand.clone(), &["data.charge", "data.payment_intent"])?.under("data");
    let (data, more) = d.sim.read(|s| {
        let by_charge = f
            .charge
            .as_deref()
            .and_then(|c| s.charge_ref(c))
            .map(|c| c.payment_intent.clone());
        let items = s
            .refunds()
            .map(|r| {
                let kept = f
                    .payment_intent
                    .as_ref()
                    .is_none_or(|p| *p == r.payment_intent)
                    && f.charge.is_none_or_else(|| {
                        by_charge.as_deref() == Some(r.payment_intent.as_str())
                    });
                (r.id.clone(), wire::unix(r.created_at), kept, r)
            })
            .collect();
        page(items, &f, "refund").map(|(page, more)| {
            (
                page.into_iter()
                    .map(|r| refund_object(s, r, &expand))
                    .collect(),
                more,
            )
        })
    })?;
    Ok(Object(wire::list("/v1/refunds", data, more)))
}

/// `Option::is_none_or` that evaluates its test lazily, on `Some`.
trait NoneOrElse {
    fn is_none_or_else(&self, f: impl FnOnce() -> bool) -> bool;
}

impl<T> NoneOrElse for Option<T> {
    fn is_none_or_else(&self, f: impl FnOnce() -> bool) -> bool {
        self.is_none() || f()
    }
}

// ---- charges ------------------------------------------------------------

async fn get_charge(
    State(d): Ctx,
    Path(id): Path<String>,
    Query(q): Query<RetrieveForm>,
) -> StripeResult<Object> {
    let expand = Expand::check(q.expand, &["payment_intent"])?;
    d.sim
        .read(|s| {
            let c = s.charge(&id)?;
            let pi = s.intent(&c.payment_intent)?;
            let mut v = wire::charge(s, &c, &pi);
            if expand.has("payment_intent") {
                v["payment_intent"] = wire::intent(s, &pi, &Expand::default());
            }
            Ok(v)
        })
        .map(Object)
        .map_err(|e| sim_error(e, "charge", &id, "charge"))
}

async fn list_charges(State(d): Ctx, Query(f): Query<ListForm>) -> StripeResult<Object> {
    let (data, more) = d.sim.read(|s| {
        let items = s
            .charges()
            .map(|c| {
                let kept = f
                    .payment_intent
                    .as_ref()
                    .is_none_or(|p| *p == c.payment_intent);
                (c.id.clone(), wire::unix(c.created_at), kept, c)
            })
            .collect();
        page(items, &f, "charge").map(|(page, more)| {
            (
                page.into_iter()
                    .filter_map(|c| {
                        s.intent(&c.payment_intent)
                            .ok()
                            .map(|pi| wire::charge(s, c, &pi))
                    })
                    .collect::<Vec<_>>(),
                more,
            )
        })
    })?;
    Ok(Object(wire::list("/v1/charges", data, more)))
}

// ---- events -------------------------------------------------------------

fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => kind.starts_with(prefix) && kind[prefix.len()..].starts_with('.'),
        None => pattern == kind || pattern == "*",
    }
}

async fn list_events(State(d): Ctx, Query(f): Query<ListForm>) -> StripeResult<Object> {
    if f.kind.is_some() && !f.types.is_empty() {
        return Err(StripeError::invalid(
            "parameter_invalid",
            "You may pass either `type` or `types`, but not both.",
            Some("types"),
        ));
    }
    let (data, more) = d.sim.read_with_events(|s, log| {
        let items: Vec<(String, i64, bool, Value)> = log
            .iter()
            .flat_map(|e| stripe_events(s, e))
            .map(|e| {
                let kept = match (&f.kind, f.types.is_empty()) {
                    (Some(t), _) => type_matches(t, e.kind),
                    (None, false) => f.types.iter().any(|t| type_matches(t, e.kind)),
                    (None, true) => true,
                };
                let created = e.body["created"].as_i64().unwrap_or_default();
                (e.id, created, kept, e.body)
            })
            .collect();
        page(items, &f, "event")
    })?;
    Ok(Object(wire::list("/v1/events", data, more)))
}

async fn get_event(State(d): Ctx, Path(id): Path<String>) -> StripeResult<Object> {
    let missing = || StripeError::missing("event", &id, "id");
    let (seq, k) = events::parse_id(&id).ok_or_else(missing)?;
    d.sim
        .read_with_events(|s, log| {
            log.get(seq)
                .and_then(|e| stripe_events(s, e).into_iter().nth(k))
                .map(|e| e.body)
        })
        .map(Object)
        .ok_or_else(missing)
}

// ---- webhook endpoints ---------------------------------------------------

// Params Stripe takes that omnisim does not model are decoded and dropped.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointForm {
    url: Option<String>,
    #[serde(default)]
    enabled_events: Vec<String>,
    description: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    api_version: Option<String>,
    connect: Option<IgnoredAny>,
    #[serde(default)]
    expand: Vec<String>,
}

/// `we_…` for a subscription id (`whsub_pay_0001` → `we_pay_0001`), and back.
fn endpoint_id(sub: &str) -> String {
    format!("we_{}", sub.strip_prefix("whsub_").unwrap_or(sub))
}

fn subscription_id(we: &str) -> Option<String> {
    we.strip_prefix("we_").map(|rest| format!("whsub_{rest}"))
}

fn endpoint_object(
    sub: &omnisim_api::common::WebhookSubscription,
    extras: &EndpointExtras,
) -> Value {
    let mut v = json!({
        "id": endpoint_id(&sub.id),
        "object": "webhook_endpoint",
        "api_version": extras.api_version,
        "application": null,
        "created": wire::unix(sub.created_at),
        "description": extras.description,
        "enabled_events": sub.topics,
        "livemode": false,
        "metadata": extras.metadata,
        "status": match sub.status {
            omnisim_api::common::SubscriptionStatus::Active => "enabled",
            _ => "disabled",
        },
        "url": sub.url,
    });
    if let Some(secret) = &sub.secret {
        v["secret"] = secret.clone().into();
    }
    v
}

/// A well-formed Stripe event name (`charge.dispute.created`): accepted
/// even when the dialect never emits it, as Stripe accepts any it knows.
fn event_name(s: &str) -> bool {
    s.split('.').count() >= 2
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

async fn create_endpoint(State(d): Ctx, Form(f): Form<EndpointForm>) -> StripeResult<Object> {
    let url = f.url.ok_or_else(|| StripeError::param_missing("url"))?;
    if f.enabled_events.is_empty() {
        return Err(StripeError::param_missing("enabled_events"));
    }
    let mut known: Vec<&str> = events::TYPES.to_vec();
    for (i, e) in f.enabled_events.iter().enumerate() {
        if e == "*" || known.contains(&e.as_str()) {
            continue;
        }
        if event_name(e) {
            known.push(e.as_str());
        } else {
            return Err(StripeError::invalid(
                "parameter_invalid",
                format!("Invalid enabled_events[{i}]: `{e}` is not a Stripe event type"),
                Some(&format!("enabled_events[{i}]")),
            ));
        }
    }
    let core = &d.sim.core;
    let sub = core
        .webhooks
        .create_for(Wire::Stripe, core, url, f.enabled_events.clone(), &known)
        .map_err(|e| {
            let param = e
                .field
                .clone()
                .map(|p| p.replace("topics", "enabled_events"));
            let mut s = StripeError::from(e);
            if let Some(p) = param {
                s = s.param(&p);
            }
            s
        })?;
    let extras = EndpointExtras {
        description: f.description.filter(|x| !x.is_empty()),
        metadata: f.metadata,
        api_version: f.api_version,
    };
    lock(&d.endpoints).insert(sub.id.clone(), extras.clone());
    Ok(Object(endpoint_object(&sub, &extras)))
}

fn stripe_endpoint(
    d: &Dialect,
    id: &str,
) -> StripeResult<(omnisim_api::common::WebhookSubscription, EndpointExtras)> {
    let missing = || StripeError::missing("webhook_endpoint", id, "webhook_endpoint");
    let sub_id = subscription_id(id).ok_or_else(missing)?;
    match d.sim.core.webhooks.get(&sub_id) {
        Some((Wire::Stripe, sub)) => {
            let extras = lock(&d.endpoints).get(&sub_id).cloned().unwrap_or_default();
            Ok((sub, extras))
        }
        _ => Err(missing()),
    }
}

async fn get_endpoint(State(d): Ctx, Path(id): Path<String>) -> StripeResult<Object> {
    let (sub, extras) = stripe_endpoint(&d, &id)?;
    Ok(Object(endpoint_object(&sub, &extras)))
}

async fn delete_endpoint(State(d): Ctx, Path(id): Path<String>) -> StripeResult<Object> {
    let (sub, _) = stripe_endpoint(&d, &id)?;
    d.sim
        .core
        .webhooks
        .delete(&sub.id)
        .map_err(StripeError::from)?;
    lock(&d.endpoints).remove(&sub.id);
    Ok(Object(json!({
        "id": id,
        "object": "webhook_endpoint",
        "deleted": true,
    })))
}

async fn list_endpoints(State(d): Ctx, Query(f): Query<ListForm>) -> StripeResult<Object> {
    let extras = lock(&d.endpoints).clone();
    let items = d
        .sim
        .core
        .webhooks
        .list_for(Wire::Stripe)
        .into_iter()
        .map(|s| {
            let v = endpoint_object(&s, extras.get(&s.id).unwrap_or(&EndpointExtras::default()));
            (endpoint_id(&s.id), wire::unix(s.created_at), true, v)
        })
        .collect();
    let (data, more) = page(items, &f, "webhook_endpoint")?;
    Ok(Object(wire::list("/v1/webhook_endpoints", data, more)))
}

/// Every route of the dialect.
pub fn routes(d: Arc<Dialect>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/payment_intents", post(create_intent).get(list_intents))
        .route(
            "/v1/payment_intents/{id}",
            get(get_intent).post(update_intent),
        )
        .route("/v1/payment_intents/{id}/confirm", post(confirm_intent))
        .route("/v1/payment_intents/{id}/capture", post(capture_intent))
        .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
        .route("/v1/refunds", post(create_refund).get(list_refunds))
        .route("/v1/refunds/{id}", get(get_refund))
        .route("/v1/charges", get(list_charges))
        .route("/v1/charges/{id}", get(get_charge))
        .route("/v1/events", get(list_events))
        .route("/v1/events/{id}", get(get_event))
        .route(
            "/v1/webhook_endpoints",
            post(create_endpoint).get(list_endpoints),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(get_endpoint).delete(delete_endpoint),
        )
        .with_state(d)
}
