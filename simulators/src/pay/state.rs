//! The payment gateway's state machine: payment intents, refunds, gift cards
//! and balance transactions ([`PayState`]), modelled on Stripe.
//!
//! Intents move `requires_payment_method → (requires_action) → requires_capture
//! → succeeded`, or `processing → succeeded | requires_payment_method` for bank
//! transfers, and to `canceled` from any non-final state. Two things happen on
//! timers ([`Platform::tick`]): an uncaptured authorization past its
//! `capture_before` is canceled with reason `automatic`, and a bank transfer
//! (or a refund of one) settles [`rules::BANK_SETTLEMENT_DELAY`] after it began
//! (divided by the delay scale under `omnisim serve` and certification).
//!
//! Events carry the whole intent after each change. `payment_intent.created`
//! shows it as first recorded (status `requires_payment_method`, nothing
//! authorized); the outcome follows in its own event (`amount_capturable_updated`,
//! `succeeded`, `processing`, `payment_failed` or `requires_action`).
//!
//! Every transition validates everything before it mutates anything, so an
//! `Err` leaves the state as it was. A decline is not an `Err` here: the
//! declined intent is recorded and its events kept ([`Attempt`]); the route
//! answers 402 afterwards.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use omnisim_api::Scheme;
use omnisim_api::pay::{
    BalanceTransaction, BalanceTransactionKind, CancelIntent, CancellationReason, CaptureIntent,
    CaptureMethod, ConfirmIntent, CreateGiftCard, CreatePaymentIntent, CreateRefund, GiftCard,
    GiftCardList, IntentStatus, PaymentError, PaymentIntent, PaymentIntentList, PaymentMethod,
    PaymentMethodDetails, PaymentMethodKind, Refund, RefundStatus, SettlementReport,
    SettlementTotal, UpdateIntent,
};
use rust_decimal::Decimal;
use serde::Serialize;

use super::rules::{self, CardBehaviour};
use crate::core::Platform;
use crate::error::{SimError, SimResult};
use crate::events::Effects;
use crate::webhooks::RetryPolicy;

/// Everything the gateway knows.
#[derive(Clone, Debug, Default)]
pub struct PayState {
    /// By id, in creation order.
    intents: IndexMap<String, IntentRecord>,
    /// By id, in creation order.
    refunds: IndexMap<String, Refund>,
    /// Every try to charge a payment method (`ch_…`), by id, oldest first.
    charges: IndexMap<String, Charge>,
    /// By code.
    gift_cards: BTreeMap<String, GiftCard>,
    /// Oldest first.
    transactions: Vec<BalanceTransaction>,
    /// What [`Platform::tick`] has to do, and when.
    timers: BTreeSet<(DateTime<Utc>, Timer)>,
    counters: Counters,
}

#[derive(Clone, Debug, Default)]
struct Counters {
    intent: u64,
    refund: u64,
    charge: u64,
    payment_method: u64,
    transaction: u64,
    gift_card: u64,
}

/// Work due at a simulated time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
enum Timer {
    /// Cancel an uncaptured authorization (reason `automatic`).
    ExpireAuthorization(String),
    /// Settle a processing bank transfer.
    SettleTransfer(String),
    /// Settle a pending bank-transfer refund.
    SettleRefund(String),
}

#[derive(Clone, Debug)]
struct IntentRecord {
    intent: PaymentIntent,
    /// Bank transfers: when the transfer settles.
    settles_at: Option<DateTime<Utc>>,
    /// Bank transfers: whether settling fails (the failing test account).
    transfer_fails: bool,
    /// What a try of the attached payment method needs (never its number).
    method: Option<Attachment>,
}

/// An attached payment method, as a later try needs it.
#[derive(Clone, Debug)]
enum Attachment {
    /// A card, wallet or terminal card, and what its test number does.
    Card {
        details: PaymentMethodDetails,
        behaviour: CardBehaviour,
    },
    /// A bank account; `fails` for the failing test account.
    Bank {
        details: PaymentMethodDetails,
        fails: bool,
    },
    /// A gift card, tried against its balance at the time.
    GiftCard { details: PaymentMethodDetails },
}

impl Attachment {
    fn details(&self) -> &PaymentMethodDetails {
        match self {
            Attachment::Card { details, .. }
            | Attachment::Bank { details, .. }
            | Attachment::GiftCard { details } => details,
        }
    }
}

/// One try to charge an intent's payment method: made at each confirmation
/// that reaches the card network or bank (not for a card that needs
/// authentication first). What changes later (captured, refunded) is the
/// intent's; a charge keeps what the try was and how it failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Charge {
    /// `ch_…`.
    pub id: String,
    /// The intent it charged.
    pub payment_intent: String,
    /// The amount tried.
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// The method tried.
    pub payment_method: Option<PaymentMethodDetails>,
    /// The decline or failure; `None` when it went through (or is pending).
    pub failure: Option<PaymentError>,
    /// When it was tried.
    pub created_at: DateTime<Utc>,
}

/// A new intent, as [`PayState::open_intent`] takes it: the native create
/// (always confirmed) or a dialect's, which may leave it unconfirmed or
/// without a payment method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIntent {
    /// In the currency's major unit.
    pub amount: Decimal,
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// Automatic or manual.
    pub capture_method: CaptureMethod,
    /// The method to attach, if any.
    pub payment_method: Option<PaymentMethod>,
    /// Try the method at once.
    pub confirm: bool,
    /// Caller's key/value pairs.
    pub metadata: BTreeMap<String, String>,
    /// A text for people.
    pub description: Option<String>,
}

impl From<CreatePaymentIntent> for NewIntent {
    fn from(req: CreatePaymentIntent) -> Self {
        NewIntent {
            amount: req.amount,
            currency: req.currency,
            capture_method: req.capture_method,
            payment_method: Some(req.payment_method),
            confirm: true,
            metadata: req.metadata,
            description: None,
        }
    }
}

/// What `POST /v1/payment_intents` recorded: the intent, and the 402 to
/// answer with when it was declined (the intent and its events are kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The intent as recorded.
    pub intent: PaymentIntent,
    /// The decline, with `payment_intent` naming the intent.
    pub decline: Option<SimError>,
}

impl Attempt {
    /// The intent, or the decline.
    pub fn into_result(self) -> SimResult<PaymentIntent> {
        match self.decline {
            None => Ok(self.intent),
            Some(e) => Err(e),
        }
    }
}

/// What a new intent will do, decided before anything is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Authorize,
    Decline(&'static str),
    RequireAction,
    Transfer { fails: bool },
}

fn status_name(status: IntentStatus) -> &'static str {
    match status {
        IntentStatus::RequiresPaymentMethod => "requires_payment_method",
        IntentStatus::RequiresConfirmation => "requires_confirmation",
        IntentStatus::RequiresAction => "requires_action",
        IntentStatus::RequiresCapture => "requires_capture",
        IntentStatus::Processing => "processing",
        IntentStatus::Succeeded => "succeeded",
        IntentStatus::Canceled => "canceled",
    }
}

/// Confirming needs a payment method, attached or given.
fn no_payment_method() -> SimError {
    SimError::conflict(
        "payment_intent_unexpected_state",
        "You cannot confirm this PaymentIntent because it's missing a payment method; attach \
         one (`payment_method`) or give one with the confirmation",
    )
    .field("payment_method")
}

fn missing(field: &str, what: &str, id: &str) -> SimError {
    SimError::not_found("resource_missing", format!("no {what} `{id}`")).field(field)
}

fn unexpected_state(intent: &PaymentIntent, hint: &str) -> SimError {
    SimError::conflict(
        "payment_intent_unexpected_state",
        format!(
            "payment intent `{}` has status `{}`: {hint}",
            intent.id,
            status_name(intent.status)
        ),
    )
}

/// The intent with `refund: {id, amount, status}` added, for `charge.refunded`.
fn refunded_event(intent: &PaymentIntent, refund: &Refund) -> serde_json::Value {
    let mut data = serde_json::to_value(intent).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = data.as_object_mut() {
        obj.insert(
            "refund".into(),
            serde_json::json!({
                "id": refund.id,
                "amount": refund.amount,
                "status": refund.status,
                "reason": refund.reason,
            }),
        );
    }
    data
}

/// Per-intent invariants, asserted after every transition.
fn intent_invariants(i: &PaymentIntent) -> Result<(), String> {
    let zero = Decimal::ZERO;
    let fail = |what: &str| Err(format!("intent {}: {what}: {i:?}", i.id));
    if i.amount <= zero {
        return fail("amount must be positive");
    }
    if i.amount_capturable < zero || i.amount_received < zero || i.amount_refunded < zero {
        return fail("amounts must not be negative");
    }
    if i.amount_received + i.amount_capturable > i.amount {
        return fail("received + capturable exceeds amount");
    }
    if i.amount_refunded > i.amount_received {
        return fail("refunded exceeds received");
    }
    let ok = match i.status {
        IntentStatus::RequiresCapture => {
            i.amount_capturable > zero && i.amount_received == zero && i.capture_before.is_some()
        }
        IntentStatus::Succeeded => i.amount_capturable == zero && i.amount_received > zero,
        IntentStatus::Canceled => {
            i.amount_capturable == zero && i.amount_received == zero && i.canceled_at.is_some()
        }
        IntentStatus::RequiresPaymentMethod
        | IntentStatus::RequiresConfirmation
        | IntentStatus::RequiresAction
        | IntentStatus::Processing => i.amount_capturable == zero && i.amount_received == zero,
    };
    if i.status == IntentStatus::RequiresConfirmation && i.payment_method.is_none() {
        return fail("an intent requiring confirmation has a payment method");
    }
    if !ok {
        return fail("amounts do not match the status");
    }
    if i.status != IntentStatus::Succeeded && !i.refunds.is_empty() {
        return fail("only succeeded intents have refunds");
    }
    Ok(())
}

/// The kind of an intent's payment method (a card when none is attached:
/// only intents with a method are ever charged).
fn method_kind(intent: &PaymentIntent) -> PaymentMethodKind {
    intent
        .payment_method
        .as_ref()
        .map_or(PaymentMethodKind::Card, |m| m.kind)
}

/// Per-card invariants: nothing negative, and money conserved.
fn gift_card_invariants(c: &GiftCard) -> Result<(), String> {
    let zero = Decimal::ZERO;
    if c.balance < zero || c.held < zero || c.captured < zero || c.refunded < zero {
        return Err(format!("gift card {}: negative amount: {c:?}", c.code));
    }
    if c.refunded > c.captured {
        return Err(format!("gift card {}: refunded exceeds captured", c.code));
    }
    if c.initial_balance != c.balance + c.held + c.captured - c.refunded {
        return Err(format!("gift card {}: money not conserved: {c:?}", c.code));
    }
    Ok(())
}

impl PayState {
    // ---- payment intents -------------------------------------------------

    /// `POST /v1/payment_intents`: validates, then records the intent and
    /// tries the payment method. A decline is recorded too ([`Attempt`]).
    pub fn create_intent(
        &mut self,
        fx: &mut Effects,
        req: CreatePaymentIntent,
    ) -> SimResult<Attempt> {
        self.open_intent(fx, NewIntent::from(req))
    }

    /// Opens an intent: with `confirm`, tries its payment method at once
    /// (as [`PayState::create_intent`]); without, it waits in
    /// `requires_confirmation` (a method is attached) or
    /// `requires_payment_method` (none yet) for [`PayState::confirm`].
    pub fn open_intent(&mut self, fx: &mut Effects, req: NewIntent) -> SimResult<Attempt> {
        rules::currency("currency", &req.currency)?;
        let amount = rules::positive_amount("amount", req.amount, &req.currency)?;
        rules::metadata("metadata", &req.metadata)?;
        if let Some(d) = &req.description {
            rules::description("description", d)?;
        }
        let planned = match &req.payment_method {
            Some(method) => Some(self.plan(method, req.capture_method, &req.currency, amount)?),
            None if req.confirm => return Err(no_payment_method()),
            None => None,
        };

        // Valid: from here on the intent is recorded, whatever the outcome.
        let now = fx.now();
        self.counters.intent += 1;
        let id = format!("pi_{:06}", self.counters.intent);
        let zero = rules::zero(&req.currency);
        let (details, outcome, held) = match planned {
            Some((held, outcome)) => (
                Some(self.attach(held.details().clone())),
                Some(outcome),
                Some(held),
            ),
            None => (None, None, None),
        };
        let status = if details.is_some() && !req.confirm {
            IntentStatus::RequiresConfirmation
        } else {
            IntentStatus::RequiresPaymentMethod
        };
        let intent = PaymentIntent {
            id: id.clone(),
            status,
            amount,
            amount_capturable: zero,
            amount_received: zero,
            amount_refunded: zero,
            currency: req.currency,
            capture_method: req.capture_method,
            payment_method: details,
            metadata: req.metadata,
            description: req.description.filter(|d| !d.is_empty()),
            latest_charge: None,
            created_at: now,
            capture_before: None,
            canceled_at: None,
            cancellation_reason: None,
            last_payment_error: None,
            refunds: Vec::new(),
        };
        fx.emit("payment_intent.created", &intent);
        self.intents.insert(
            id.clone(),
            IntentRecord {
                intent: intent.clone(),
                settles_at: None,
                transfer_fails: false,
                method: held,
            },
        );
        match outcome {
            Some(outcome) if req.confirm => Ok(self.attempt(fx, &id, outcome)),
            _ => {
                debug_assert_eq!(intent_invariants(&intent), Ok(()));
                Ok(Attempt {
                    intent,
                    decline: None,
                })
            }
        }
    }

    /// `POST /v1/payment_intents/{id}/confirm`: tries the attached payment
    /// method (or the one given, attached first) of an intent that is not
    /// yet confirmed, or was declined or needs action. The outcome is as at
    /// a confirmed create: authorized, charged, processing, declined (kept,
    /// answered 402) or requiring action.
    pub fn confirm(
        &mut self,
        fx: &mut Effects,
        id: &str,
        req: ConfirmIntent,
    ) -> SimResult<Attempt> {
        let record = self
            .intents
            .get(id)
            .ok_or_else(|| missing("id", "payment intent", id))?;
        let current = &record.intent;
        match current.status {
            IntentStatus::RequiresPaymentMethod
            | IntentStatus::RequiresConfirmation
            | IntentStatus::RequiresAction => {}
            _ => {
                return Err(unexpected_state(
                    current,
                    "only an intent that requires a payment method, confirmation or action can \
                     be confirmed",
                ));
            }
        }
        let capture_method = req.capture_method.unwrap_or(current.capture_method);
        let held = match &req.payment_method {
            Some(method) => self.attachment(method, &current.currency)?,
            None => record.method.clone().ok_or_else(no_payment_method)?,
        };
        let outcome = self.outcome(&held, capture_method, current.amount)?;
        let mut intent = current.clone();
        intent.capture_method = capture_method;
        if req.payment_method.is_some() || intent.payment_method.is_none() {
            intent.payment_method = Some(self.attach(held.details().clone()));
        }
        if let Some(record) = self.intents.get_mut(id) {
            record.method = Some(held);
            record.intent = intent;
        }
        Ok(self.attempt(fx, id, outcome))
    }

    /// `POST /v1/payment_intents/{id}`: changes an intent. Amount, currency,
    /// capture method and payment method only before it is confirmed (a new
    /// method makes it `requires_confirmation`); metadata and description at
    /// any time. No event: Stripe has none for an update either.
    pub fn update_intent(&mut self, id: &str, req: UpdateIntent) -> SimResult<PaymentIntent> {
        let record = self
            .intents
            .get(id)
            .ok_or_else(|| missing("id", "payment intent", id))?;
        let current = &record.intent;
        let money_changes = req.amount.is_some()
            || req.currency.is_some()
            || req.capture_method.is_some()
            || req.payment_method.is_some();
        let open = matches!(
            current.status,
            IntentStatus::RequiresPaymentMethod
                | IntentStatus::RequiresConfirmation
                | IntentStatus::RequiresAction
        );
        if money_changes && !open {
            return Err(unexpected_state(
                current,
                "amount, currency, capture method and payment method change only before the \
                 intent is confirmed; metadata and description may change at any time",
            ));
        }
        let currency = match &req.currency {
            Some(c) => {
                rules::currency("currency", c)?;
                c.clone()
            }
            None => current.currency.clone(),
        };
        let amount = match req.amount {
            Some(a) => rules::positive_amount("amount", a, &currency)?,
            None => rules::positive_amount("amount", current.amount, &currency)?,
        };
        let mut metadata = current.metadata.clone();
        for (k, v) in req.metadata.iter().flatten() {
            if v.is_empty() {
                metadata.remove(k);
            } else {
                metadata.insert(k.clone(), v.clone());
            }
        }
        rules::metadata("metadata", &metadata)?;
        if let Some(d) = &req.description {
            rules::description("description", d)?;
        }
        let capture_method = req.capture_method.unwrap_or(current.capture_method);
        let planned = match &req.payment_method {
            Some(m) => Some(self.plan(m, capture_method, &currency, amount)?),
            None => None,
        };

        let mut intent = current.clone();
        if open {
            // Nothing is authorized or received yet: zero at the new scale.
            let zero = rules::zero(&currency);
            intent.amount = amount;
            intent.amount_capturable = zero;
            intent.amount_received = zero;
            intent.amount_refunded = zero;
            intent.currency = currency;
            intent.capture_method = capture_method;
        }
        intent.metadata = metadata;
        if let Some(d) = req.description {
            intent.description = (!d.is_empty()).then_some(d);
        }
        if let Some((held, _)) = planned {
            intent.payment_method = Some(self.attach(held.details().clone()));
            intent.status = IntentStatus::RequiresConfirmation;
            if let Some(record) = self.intents.get_mut(id) {
                record.method = Some(held);
            }
        }
        self.store(&intent);
        Ok(intent)
    }

    /// Gives a planned payment method its `pm_…` id as it is attached.
    fn attach(&mut self, mut details: PaymentMethodDetails) -> PaymentMethodDetails {
        self.counters.payment_method += 1;
        details.id = Some(format!("pm_{:06}", self.counters.payment_method));
        details
    }

    /// Tries the attached payment method of the recorded intent `id`, whose
    /// outcome `plan` decided: authorizes (manual capture), charges
    /// (automatic), starts a bank transfer, declines or requires action.
    /// Each try but one needing action is a charge (`ch_…`).
    fn attempt(&mut self, fx: &mut Effects, id: &str, outcome: Outcome) -> Attempt {
        let now = fx.now();
        let Some(record) = self.intents.get(id) else {
            unreachable!("attempt on an intent just recorded or looked up");
        };
        let mut intent = record.intent.clone();
        let (mut settles_at, mut transfer_fails) = (None, false);
        intent.last_payment_error = None;
        if outcome != Outcome::RequireAction {
            let details = intent.payment_method.clone();
            self.counters.charge += 1;
            let charge_id = format!("ch_{:06}", self.counters.charge);
            let failure = match outcome {
                Outcome::Decline(code) => Some(PaymentError {
                    code: "card_declined".into(),
                    decline_code: Some(code.into()),
                    message: rules::decline_message(code).into(),
                }),
                _ => None,
            };
            self.charges.insert(
                charge_id.clone(),
                Charge {
                    id: charge_id.clone(),
                    payment_intent: id.to_owned(),
                    amount: intent.amount,
                    currency: intent.currency.clone(),
                    payment_method: details,
                    failure,
                    created_at: now,
                },
            );
            intent.latest_charge = Some(charge_id);
        }
        let amount = intent.amount;
        let mut decline = None;
        match outcome {
            Outcome::Authorize => {
                let (kind, gift_card) = intent
                    .payment_method
                    .as_ref()
                    .map(|m| (m.kind, m.gift_card.clone()))
                    .unwrap_or((PaymentMethodKind::Card, None));
                match intent.capture_method {
                    CaptureMethod::Manual => {
                        let expires = now + rules::auth_validity(kind);
                        intent.status = IntentStatus::RequiresCapture;
                        intent.amount_capturable = amount;
                        intent.capture_before = Some(expires);
                        if let Some(code) = &gift_card {
                            self.gift_card_mut(code, |c| {
                                c.balance -= amount;
                                c.held += amount;
                            });
                        }
                        self.timers
                            .insert((expires, Timer::ExpireAuthorization(id.to_owned())));
                        fx.emit("payment_intent.amount_capturable_updated", &intent);
                    }
                    CaptureMethod::Automatic => {
                        intent.status = IntentStatus::Succeeded;
                        intent.amount_received = amount;
                        if let Some(code) = &gift_card {
                            self.gift_card_mut(code, |c| {
                                c.balance -= amount;
                                c.captured += amount;
                            });
                        }
                        self.record_charge(&intent, amount, now);
                        fx.emit("payment_intent.succeeded", &intent);
                    }
                }
            }
            Outcome::Decline(decline_code) => {
                let message = rules::decline_message(decline_code);
                intent.status = IntentStatus::RequiresPaymentMethod;
                intent.last_payment_error = Some(PaymentError {
                    code: "card_declined".into(),
                    decline_code: Some(decline_code.into()),
                    message: message.into(),
                });
                fx.emit("payment_intent.payment_failed", &intent);
                decline = Some(SimError::declined(decline_code, message).with_payment_intent(id));
            }
            Outcome::RequireAction => {
                let code = "authentication_required";
                let message = rules::decline_message(code);
                intent.status = IntentStatus::RequiresAction;
                intent.last_payment_error = Some(PaymentError {
                    code: code.into(),
                    decline_code: Some(code.into()),
                    message: message.into(),
                });
                fx.emit("payment_intent.requires_action", &intent);
                decline = Some(SimError::declined(code, message).with_payment_intent(id));
            }
            Outcome::Transfer { fails } => {
                let at = now + fx.delay(rules::BANK_SETTLEMENT_DELAY);
                intent.status = IntentStatus::Processing;
                settles_at = Some(at);
                transfer_fails = fails;
                self.timers
                    .insert((at, Timer::SettleTransfer(id.to_owned())));
                fx.emit("payment_intent.processing", &intent);
            }
        }
        if let Some(record) = self.intents.get_mut(id) {
            record.intent = intent.clone();
            record.settles_at = settles_at;
            record.transfer_fails = transfer_fails;
        }
        debug_assert_eq!(intent_invariants(&intent), Ok(()));
        Attempt { intent, decline }
    }

    /// Checks the payment method and decides what it will do; mutates nothing.
    fn plan(
        &self,
        method: &PaymentMethod,
        capture_method: CaptureMethod,
        currency: &str,
        amount: Decimal,
    ) -> SimResult<(Attachment, Outcome)> {
        let attachment = self.attachment(method, currency)?;
        let outcome = self.outcome(&attachment, capture_method, amount)?;
        Ok((attachment, outcome))
    }

    /// Checks a payment method and keeps of it what a try needs: never a
    /// full card or account number.
    fn attachment(&self, method: &PaymentMethod, currency: &str) -> SimResult<Attachment> {
        let card = |kind, number: &str| -> SimResult<Attachment> {
            let (behaviour, last4) = rules::test_card("payment_method.number", number)?;
            let details = PaymentMethodDetails {
                id: None,
                kind,
                last4: Some(last4),
                wallet: None,
                gift_card: None,
                brand: Some(rules::card_brand(number).into()),
            };
            Ok(Attachment::Card { details, behaviour })
        };
        match method {
            PaymentMethod::Card { number } => card(PaymentMethodKind::Card, number),
            PaymentMethod::CardPresent { number } => card(PaymentMethodKind::CardPresent, number),
            PaymentMethod::Wallet { wallet, number } => {
                let mut held = card(PaymentMethodKind::Wallet, number)?;
                if let Attachment::Card { details, .. } = &mut held {
                    details.wallet = Some(*wallet);
                }
                Ok(held)
            }
            PaymentMethod::BankTransfer { account } => {
                let account = account.as_deref().unwrap_or(rules::DEFAULT_BANK_ACCOUNT);
                rules::bank_account("payment_method.account", account)?;
                let details = PaymentMethodDetails {
                    id: None,
                    kind: PaymentMethodKind::BankTransfer,
                    last4: Some(rules::last4(account)),
                    wallet: None,
                    gift_card: None,
                    brand: None,
                };
                let fails = account == rules::FAILING_BANK_ACCOUNT;
                Ok(Attachment::Bank { details, fails })
            }
            PaymentMethod::GiftCard { code } => {
                rules::gift_card_code("payment_method.code", code)?;
                let card = self
                    .gift_cards
                    .get(code)
                    .ok_or_else(|| missing("payment_method.code", "gift card", code))?;
                if card.currency != currency {
                    return Err(SimError::invalid(
                        "currency_mismatch",
                        format!(
                            "gift card `{code}` holds {}, not {}",
                            card.currency, currency
                        ),
                    )
                    .field("currency"));
                }
                let details = PaymentMethodDetails {
                    id: None,
                    kind: PaymentMethodKind::GiftCard,
                    last4: None,
                    wallet: None,
                    gift_card: Some(code.clone()),
                    brand: None,
                };
                Ok(Attachment::GiftCard { details })
            }
        }
    }

    /// What trying `attachment` for `amount` will do now.
    fn outcome(
        &self,
        attachment: &Attachment,
        capture_method: CaptureMethod,
        amount: Decimal,
    ) -> SimResult<Outcome> {
        Ok(match attachment {
            Attachment::Card { behaviour, .. } => match behaviour {
                CardBehaviour::Succeeds => Outcome::Authorize,
                CardBehaviour::Declines(code) => Outcome::Decline(code),
                CardBehaviour::RequiresAuthentication => Outcome::RequireAction,
            },
            Attachment::Bank { fails, .. } => {
                if capture_method == CaptureMethod::Manual {
                    return Err(SimError::bad_value(
                        "capture_method",
                        "bank transfers cannot be captured manually; use `automatic`",
                    ));
                }
                Outcome::Transfer { fails: *fails }
            }
            Attachment::GiftCard { details } => {
                let balance = details
                    .gift_card
                    .as_ref()
                    .and_then(|c| self.gift_cards.get(c))
                    .map_or(Decimal::ZERO, |c| c.balance);
                if balance < amount {
                    Outcome::Decline("insufficient_funds")
                } else {
                    Outcome::Authorize
                }
            }
        })
    }

    /// `POST /v1/payment_intents/{id}/capture`: once, from `requires_capture`,
    /// at most what was authorized; the rest is released.
    pub fn capture(
        &mut self,
        fx: &mut Effects,
        id: &str,
        req: CaptureIntent,
    ) -> SimResult<PaymentIntent> {
        let record = self
            .intents
            .get(id)
            .ok_or_else(|| missing("id", "payment intent", id))?;
        let current = &record.intent;
        let asked = req
            .amount_to_capture
            .map(|a| rules::positive_amount("amount_to_capture", a, &current.currency))
            .transpose()?;
        if current.status != IntentStatus::RequiresCapture {
            return Err(unexpected_state(
                current,
                "only an intent in `requires_capture` can be captured, and only once",
            ));
        }
        let capturable = current.amount_capturable;
        let amount = asked.unwrap_or(capturable);
        if amount > capturable {
            return Err(SimError::invalid(
                "amount_too_large",
                format!("amount_to_capture {amount} is above the {capturable} authorized"),
            )
            .field("amount_to_capture"));
        }

        let now = fx.now();
        let mut intent = current.clone();
        if let Some(at) = intent.capture_before {
            self.timers
                .remove(&(at, Timer::ExpireAuthorization(id.to_owned())));
        }
        if let Some(code) = intent
            .payment_method
            .as_ref()
            .and_then(|m| m.gift_card.as_ref())
        {
            self.gift_card_mut(code, |c| {
                c.held -= capturable;
                c.balance += capturable - amount;
                c.captured += amount;
            });
        }
        intent.status = IntentStatus::Succeeded;
        intent.amount_received = amount;
        intent.amount_capturable = rules::zero(&intent.currency);
        self.record_charge(&intent, amount, now);
        self.store(&intent);
        fx.emit("payment_intent.succeeded", &intent);
        Ok(intent)
    }

    /// `POST /v1/payment_intents/{id}/cancel`: voids an authorization or
    /// abandons an unfinished intent.
    pub fn cancel(
        &mut self,
        fx: &mut Effects,
        id: &str,
        req: CancelIntent,
    ) -> SimResult<PaymentIntent> {
        let reason = req
            .reason
            .unwrap_or(CancellationReason::RequestedByCustomer);
        self.cancel_with(fx, id, Some(reason))
    }

    /// Cancels as [`PayState::cancel`] does, with `reason` as given: `None`
    /// leaves it unset, as Stripe does when the caller names none.
    pub fn cancel_with(
        &mut self,
        fx: &mut Effects,
        id: &str,
        reason: Option<CancellationReason>,
    ) -> SimResult<PaymentIntent> {
        let record = self
            .intents
            .get(id)
            .ok_or_else(|| missing("id", "payment intent", id))?;
        if reason == Some(CancellationReason::Automatic) {
            return Err(SimError::bad_value(
                "reason",
                "`automatic` is reserved for authorizations that expire",
            ));
        }
        match record.intent.status {
            IntentStatus::RequiresPaymentMethod
            | IntentStatus::RequiresConfirmation
            | IntentStatus::RequiresAction
            | IntentStatus::RequiresCapture
            | IntentStatus::Processing => {}
            IntentStatus::Succeeded => {
                return Err(unexpected_state(
                    &record.intent,
                    "a succeeded payment cannot be canceled; refund it instead",
                ));
            }
            IntentStatus::Canceled => {
                return Err(unexpected_state(&record.intent, "it is already canceled"));
            }
        }
        let now = fx.now();
        self.void(fx, id, reason, now)
            .ok_or_else(|| missing("id", "payment intent", id))
    }

    /// Cancels an intent in a non-final state at `at`, releasing any hold;
    /// `None` for an unknown id.
    fn void(
        &mut self,
        fx: &mut Effects,
        id: &str,
        reason: Option<CancellationReason>,
        at: DateTime<Utc>,
    ) -> Option<PaymentIntent> {
        let record = self.intents.get(id)?;
        let mut intent = record.intent.clone();
        let settles_at = record.settles_at;
        if let Some(expires) = intent.capture_before {
            self.timers
                .remove(&(expires, Timer::ExpireAuthorization(id.to_owned())));
        }
        if let Some(settles) = settles_at {
            self.timers
                .remove(&(settles, Timer::SettleTransfer(id.to_owned())));
        }
        let held = intent.amount_capturable;
        if let Some(code) = intent
            .payment_method
            .as_ref()
            .and_then(|m| m.gift_card.as_ref())
            && held > Decimal::ZERO
        {
            self.gift_card_mut(code, |c| {
                c.held -= held;
                c.balance += held;
            });
        }
        intent.status = IntentStatus::Canceled;
        intent.amount_capturable = rules::zero(&intent.currency);
        intent.canceled_at = Some(at);
        intent.cancellation_reason = reason;
        self.store(&intent);
        fx.emit("payment_intent.canceled", &intent);
        Some(intent)
    }

    /// `GET /v1/payment_intents/{id}`.
    pub fn intent(&self, id: &str) -> SimResult<PaymentIntent> {
        self.intents
            .get(id)
            .map(|r| r.intent.clone())
            .ok_or_else(|| missing("id", "payment intent", id))
    }

    /// Every intent, oldest first.
    pub fn intents(&self) -> impl DoubleEndedIterator<Item = &PaymentIntent> + ExactSizeIterator {
        self.intents.values().map(|r| &r.intent)
    }

    /// Every refund, oldest first.
    pub fn refunds(&self) -> impl DoubleEndedIterator<Item = &Refund> + ExactSizeIterator {
        self.refunds.values()
    }

    /// `GET /v1/charges/{id}` (the Stripe dialect): one try to charge.
    pub fn charge(&self, id: &str) -> SimResult<Charge> {
        self.charges
            .get(id)
            .cloned()
            .ok_or_else(|| missing("id", "charge", id))
    }

    /// Every charge, oldest first.
    pub fn charges(&self) -> impl DoubleEndedIterator<Item = &Charge> + ExactSizeIterator {
        self.charges.values()
    }

    /// A charge by id, borrowed; `None` if unknown.
    pub fn charge_ref(&self, id: &str) -> Option<&Charge> {
        self.charges.get(id)
    }

    /// `GET /v1/payment_intents`: up to `limit` intents after `starting_after`,
    /// oldest first.
    pub fn list_intents(
        &self,
        limit: Option<u32>,
        starting_after: Option<&str>,
    ) -> SimResult<PaymentIntentList> {
        let limit = limit.unwrap_or(rules::LIST_LIMIT_DEFAULT);
        if !(1..=rules::LIST_LIMIT_MAX).contains(&limit) {
            return Err(SimError::bad_value(
                "limit",
                format!("limit is from 1 to {}", rules::LIST_LIMIT_MAX),
            ));
        }
        let start = match starting_after {
            None | Some("") => 0,
            Some(after) => {
                self.intents
                    .get_index_of(after)
                    .ok_or_else(|| missing("starting_after", "payment intent", after))?
                    + 1
            }
        };
        let end = start.saturating_add(limit as usize).min(self.intents.len());
        let data = self
            .intents
            .values()
            .skip(start)
            .take(end.saturating_sub(start))
            .map(|r| r.intent.clone())
            .collect();
        Ok(PaymentIntentList {
            data,
            has_more: end < self.intents.len(),
        })
    }

    // ---- refunds ---------------------------------------------------------

    /// `POST /v1/refunds`: part or all of what is left of a succeeded intent.
    pub fn create_refund(&mut self, fx: &mut Effects, req: CreateRefund) -> SimResult<Refund> {
        let record = self
            .intents
            .get(&req.payment_intent)
            .ok_or_else(|| missing("payment_intent", "payment intent", &req.payment_intent))?;
        let current = &record.intent;
        let asked = req
            .amount
            .map(|a| rules::positive_amount("amount", a, &current.currency))
            .transpose()?;
        rules::metadata("metadata", &req.metadata)?;
        match current.status {
            IntentStatus::Succeeded => {}
            IntentStatus::RequiresCapture => {
                return Err(unexpected_state(
                    current,
                    "an authorization that was not captured cannot be refunded; cancel the \
                     payment intent to release it",
                ));
            }
            _ => {
                return Err(unexpected_state(
                    current,
                    "only a succeeded payment intent can be refunded",
                ));
            }
        }
        let remaining = current.amount_received - current.amount_refunded;
        if remaining <= Decimal::ZERO {
            return Err(SimError::invalid(
                "charge_already_refunded",
                format!("payment intent `{}` is already fully refunded", current.id),
            )
            .field("payment_intent"));
        }
        let amount = asked.unwrap_or(remaining);
        if amount > remaining {
            return Err(SimError::invalid(
                "amount_too_large",
                format!("the refund of {amount} is above the {remaining} left to refund"),
            )
            .field("amount"));
        }

        let now = fx.now();
        let mut intent = current.clone();
        self.counters.refund += 1;
        let id = format!("re_{:06}", self.counters.refund);
        let status = if method_kind(&intent) == PaymentMethodKind::BankTransfer {
            self.timers.insert((
                now + fx.delay(rules::BANK_SETTLEMENT_DELAY),
                Timer::SettleRefund(id.clone()),
            ));
            RefundStatus::Pending
        } else {
            RefundStatus::Succeeded
        };
        let refund = Refund {
            id: id.clone(),
            payment_intent: intent.id.clone(),
            amount,
            currency: intent.currency.clone(),
            status,
            reason: req.reason,
            metadata: req.metadata,
            created_at: now,
        };
        intent.amount_refunded += amount;
        intent.refunds.push(id.clone());
        if let Some(code) = intent
            .payment_method
            .as_ref()
            .and_then(|m| m.gift_card.as_ref())
        {
            self.gift_card_mut(code, |c| {
                c.balance += amount;
                c.refunded += amount;
            });
        }
        self.counters.transaction += 1;
        self.transactions.push(BalanceTransaction {
            id: format!("txn_{:06}", self.counters.transaction),
            kind: BalanceTransactionKind::Refund,
            payment_intent: intent.id.clone(),
            refund: Some(id.clone()),
            amount: -amount,
            fee: rules::zero(&intent.currency),
            net: -amount,
            currency: intent.currency.clone(),
            payment_method: method_kind(&intent),
            created_at: now,
        });
        self.store(&intent);
        self.refunds.insert(id, refund.clone());
        fx.emit_value("charge.refunded", refunded_event(&intent, &refund));
        Ok(refund)
    }

    /// `GET /v1/refunds/{id}`.
    pub fn refund(&self, id: &str) -> SimResult<Refund> {
        self.refunds
            .get(id)
            .cloned()
            .ok_or_else(|| missing("id", "refund", id))
    }

    // ---- gift cards ------------------------------------------------------

    /// `POST /v1/gift_cards`: issues a card; the code is generated
    /// (`gc_000001`, …) unless given.
    pub fn create_gift_card(
        &mut self,
        fx: &mut Effects,
        req: CreateGiftCard,
    ) -> SimResult<GiftCard> {
        rules::currency("currency", &req.currency)?;
        let balance = rules::positive_amount("balance", req.balance, &req.currency)?;
        let code = match req.code {
            Some(code) => {
                rules::gift_card_code("code", &code)?;
                if self.gift_cards.contains_key(&code) {
                    return Err(SimError::conflict(
                        "resource_already_exists",
                        format!("a gift card with code `{code}` already exists"),
                    )
                    .field("code"));
                }
                code
            }
            None => loop {
                // Bounded: each turn takes a new number, and at most as many
                // codes are taken as cards exist.
                self.counters.gift_card += 1;
                let code = format!("gc_{:06}", self.counters.gift_card);
                if !self.gift_cards.contains_key(&code) {
                    break code;
                }
            },
        };
        let zero = rules::zero(&req.currency);
        let card = GiftCard {
            code: code.clone(),
            // Cards are never removed (a reset clears them all), so the
            // count is the order of issue.
            number: self.gift_cards.len() as u64 + 1,
            balance,
            currency: req.currency,
            created_at: fx.now(),
            initial_balance: balance,
            held: zero,
            captured: zero,
            refunded: zero,
        };
        self.gift_cards.insert(code, card.clone());
        debug_assert_eq!(gift_card_invariants(&card), Ok(()));
        Ok(card)
    }

    /// `GET /v1/gift_cards`: every card, by code.
    pub fn list_gift_cards(&self) -> GiftCardList {
        GiftCardList {
            data: self.gift_cards.values().cloned().collect(),
        }
    }

    /// `GET /v1/gift_cards/{code}`.
    pub fn gift_card(&self, code: &str) -> SimResult<GiftCard> {
        self.gift_cards
            .get(code)
            .cloned()
            .ok_or_else(|| missing("code", "gift card", code))
    }

    // ---- settlement ------------------------------------------------------

    /// `GET /v1/reports/settlement`: balance transactions with
    /// `from <= created_at < to`, and their sums per currency.
    pub fn settlement(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> SimResult<SettlementReport> {
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(SimError::bad_value("to", "`to` must not be before `from`"));
        }
        let mut transactions: Vec<BalanceTransaction> = self
            .transactions
            .iter()
            .filter(|t| {
                from.is_none_or(|f| t.created_at >= f) && to.is_none_or(|e| t.created_at < e)
            })
            .cloned()
            .collect();
        transactions.sort_by_key(|t| t.created_at);
        let mut sums: BTreeMap<&str, SettlementTotal> = BTreeMap::new();
        for t in &transactions {
            let zero = rules::zero(&t.currency);
            let total = sums.entry(&t.currency).or_insert_with(|| SettlementTotal {
                currency: t.currency.clone(),
                charges: zero,
                refunds: zero,
                fees: zero,
                net: zero,
            });
            match t.kind {
                BalanceTransactionKind::Charge => total.charges += t.amount,
                BalanceTransactionKind::Refund => total.refunds -= t.amount,
            }
            total.fees += t.fee;
            total.net += t.net;
        }
        let totals: Vec<SettlementTotal> = sums.into_values().collect();
        debug_assert!(
            totals
                .iter()
                .all(|t| t.net == t.charges - t.refunds - t.fees)
        );
        Ok(SettlementReport {
            from,
            to,
            transactions,
            totals,
        })
    }

    // ---- timers ----------------------------------------------------------

    /// An uncaptured authorization expired at `at`.
    fn expire(&mut self, fx: &mut Effects, id: &str, at: DateTime<Utc>) {
        let due = self
            .intents
            .get(id)
            .is_some_and(|r| r.intent.status == IntentStatus::RequiresCapture);
        if due {
            self.void(fx, id, Some(CancellationReason::Automatic), at);
        }
    }

    /// A bank transfer settled at `at`: succeeded, or failed for the failing
    /// test account.
    fn settle_transfer(&mut self, fx: &mut Effects, id: &str, at: DateTime<Utc>) {
        let Some(record) = self.intents.get(id) else {
            return;
        };
        if record.intent.status != IntentStatus::Processing {
            return;
        }
        let mut intent = record.intent.clone();
        let fails = record.transfer_fails;
        if fails {
            let failure = PaymentError {
                code: "bank_transfer_failed".into(),
                decline_code: None,
                message: "The bank transfer failed: the account was closed.".into(),
            };
            if let Some(charge) = intent
                .latest_charge
                .as_ref()
                .and_then(|c| self.charges.get_mut(c))
            {
                charge.failure = Some(failure.clone());
            }
            intent.status = IntentStatus::RequiresPaymentMethod;
            intent.last_payment_error = Some(failure);
            self.store(&intent);
            fx.emit("payment_intent.payment_failed", &intent);
        } else {
            intent.status = IntentStatus::Succeeded;
            intent.amount_received = intent.amount;
            let amount = intent.amount;
            self.record_charge(&intent, amount, at);
            self.store(&intent);
            fx.emit("payment_intent.succeeded", &intent);
        }
    }

    /// A bank-transfer refund settled: `charge.refund.updated`.
    fn settle_refund(&mut self, fx: &mut Effects, id: &str) {
        let Some(refund) = self.refunds.get_mut(id) else {
            return;
        };
        if refund.status != RefundStatus::Pending {
            return;
        }
        refund.status = RefundStatus::Succeeded;
        let refund = refund.clone();
        if let Some(record) = self.intents.get(&refund.payment_intent) {
            fx.emit_value(
                "charge.refund.updated",
                refunded_event(&record.intent, &refund),
            );
        }
    }

    // ---- helpers ---------------------------------------------------------

    /// Writes back a changed intent and asserts its invariants.
    fn store(&mut self, intent: &PaymentIntent) {
        debug_assert_eq!(intent_invariants(intent), Ok(()));
        if let Some(record) = self.intents.get_mut(&intent.id) {
            record.intent = intent.clone();
        }
    }

    /// Changes a gift card and asserts its invariants.
    fn gift_card_mut(&mut self, code: &str, f: impl FnOnce(&mut GiftCard)) {
        if let Some(card) = self.gift_cards.get_mut(code) {
            f(card);
            debug_assert_eq!(gift_card_invariants(card), Ok(()));
        }
    }

    /// Books a charge of `amount` on `intent`, less the method's fee.
    fn record_charge(&mut self, intent: &PaymentIntent, amount: Decimal, at: DateTime<Utc>) {
        let kind = method_kind(intent);
        let fee = rules::fee(kind, amount, &intent.currency);
        self.counters.transaction += 1;
        self.transactions.push(BalanceTransaction {
            id: format!("txn_{:06}", self.counters.transaction),
            kind: BalanceTransactionKind::Charge,
            payment_intent: intent.id.clone(),
            refund: None,
            amount,
            fee,
            net: amount - fee,
            currency: intent.currency.clone(),
            payment_method: kind,
            created_at: at,
        });
    }

    /// Every invariant over the whole state: per intent and per card, refunds
    /// adding up to `amount_refunded`, holds adding up to `held`, and
    /// balance transactions matching what was captured and refunded.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut held: BTreeMap<&str, Decimal> = BTreeMap::new();
        let mut captured: BTreeMap<&str, Decimal> = BTreeMap::new();
        for r in self.intents.values() {
            let i = &r.intent;
            intent_invariants(i)?;
            let refunded: Decimal = i
                .refunds
                .iter()
                .filter_map(|id| self.refunds.get(id))
                .map(|re| re.amount)
                .sum();
            if refunded != i.amount_refunded {
                return Err(format!("intent {}: refunds do not add up", i.id));
            }
            if let Some(code) = i.payment_method.as_ref().and_then(|m| m.gift_card.as_ref()) {
                *held.entry(code).or_default() += i.amount_capturable;
                *captured.entry(code).or_default() += i.amount_received;
            }
            let booked: Decimal = self
                .transactions
                .iter()
                .filter(|t| t.payment_intent == i.id)
                .map(|t| t.amount)
                .sum();
            if booked != i.amount_received - i.amount_refunded {
                return Err(format!(
                    "intent {}: balance transactions do not add up",
                    i.id
                ));
            }
        }
        for c in self.gift_cards.values() {
            gift_card_invariants(c)?;
            let h = held.get(c.code.as_str()).copied().unwrap_or_default();
            let k = captured.get(c.code.as_str()).copied().unwrap_or_default();
            if h != c.held || k != c.captured {
                return Err(format!(
                    "gift card {}: holds or captures do not match intents",
                    c.code
                ));
            }
        }
        for t in &self.transactions {
            if t.net != t.amount - t.fee {
                return Err(format!("transaction {}: net is not amount - fee", t.id));
            }
        }
        Ok(())
    }
}

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
        "payment_intent.requires_action",
        "charge.refunded",
        "charge.refund.updated",
    ];

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::stripe()
    }

    fn tick(&mut self, fx: &mut Effects) {
        let now = fx.now();
        // Bounded: each turn removes one timer, and timers only add new ones
        // for new intents and refunds.
        while let Some((at, _)) = self.timers.first() {
            if *at > now {
                break;
            }
            let Some((at, timer)) = self.timers.pop_first() else {
                break;
            };
            match timer {
                Timer::ExpireAuthorization(id) => self.expire(fx, &id, at),
                Timer::SettleTransfer(id) => self.settle_transfer(fx, &id, at),
                Timer::SettleRefund(id) => self.settle_refund(fx, &id),
            }
        }
    }

    fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.timers.first().map(|(at, _)| *at)
    }

    fn render(
        &self,
        wire: crate::dialects::Wire,
        event: &omnisim_api::Event,
    ) -> Vec<crate::dialects::Rendered> {
        match wire {
            crate::dialects::Wire::Stripe => crate::dialects::stripe::render(self, event),
            _ => Vec::new(),
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        let timers: Vec<serde_json::Value> = self
            .timers
            .iter()
            .map(|(at, t)| {
                let mut v = serde_json::to_value(t).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("at".into(), serde_json::json!(at));
                }
                v
            })
            .collect();
        serde_json::json!({
            "payment_intents": self.intents.values().map(|r| &r.intent).collect::<Vec<_>>(),
            "refunds": self.refunds.values().collect::<Vec<_>>(),
            "charges": self.charges.values().collect::<Vec<_>>(),
            "gift_cards": self.gift_cards.values().collect::<Vec<_>>(),
            "balance_transactions": self.transactions,
            "timers": timers,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeDelta;
    use omnisim_api::pay::WalletKind;
    use rust_decimal_macros::dec;

    use super::*;

    /// Drives the state machine the way `Simulator::commit` does: due timers
    /// first, then the operation; its events are kept only when it succeeds.
    pub(crate) struct Bench {
        pub s: PayState,
        pub now: DateTime<Utc>,
        pub events: Vec<(&'static str, serde_json::Value)>,
        /// As `omnisim serve` compresses the gateway's own delays (1: real).
        pub delay_scale: u32,
    }

    pub(crate) fn epoch() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    impl Bench {
        pub fn new() -> Self {
            Bench {
                s: PayState::default(),
                now: epoch(),
                events: Vec::new(),
                delay_scale: 1,
            }
        }

        pub fn run<T>(
            &mut self,
            f: impl FnOnce(&mut PayState, &mut Effects) -> SimResult<T>,
        ) -> SimResult<T> {
            let mut fx = Effects::new(self.now).with_delay_scale(self.delay_scale);
            self.s.tick(&mut fx);
            let mut drafts = fx.take();
            let result = f(&mut self.s, &mut fx);
            if result.is_ok() {
                drafts.extend(fx.take());
            }
            self.events
                .extend(drafts.into_iter().map(|d| (d.kind, d.data)));
            assert_eq!(self.s.check_invariants(), Ok(()));
            result
        }

        pub fn advance(&mut self, by: TimeDelta) {
            self.now += by;
            self.run(|_, _| Ok(())).unwrap();
        }

        /// The kinds of the events so far, which are then forgotten.
        pub fn drain(&mut self) -> Vec<&'static str> {
            self.events.drain(..).map(|(k, _)| k).collect()
        }

        pub fn create(&mut self, req: CreatePaymentIntent) -> SimResult<PaymentIntent> {
            self.run(|s, fx| s.create_intent(fx, req))?.into_result()
        }

        pub fn pay(
            &mut self,
            amount: Decimal,
            method: PaymentMethod,
            capture: CaptureMethod,
        ) -> SimResult<PaymentIntent> {
            self.create(intent_req(amount, method, capture))
        }

        pub fn capture(&mut self, id: &str, amount: Option<Decimal>) -> SimResult<PaymentIntent> {
            let req = CaptureIntent {
                amount_to_capture: amount,
            };
            self.run(|s, fx| s.capture(fx, id, req))
        }

        pub fn cancel(&mut self, id: &str) -> SimResult<PaymentIntent> {
            self.run(|s, fx| s.cancel(fx, id, CancelIntent::default()))
        }

        pub fn refund(&mut self, id: &str, amount: Option<Decimal>) -> SimResult<Refund> {
            let req = CreateRefund {
                payment_intent: id.into(),
                amount,
                reason: None,
                metadata: BTreeMap::new(),
            };
            self.run(|s, fx| s.create_refund(fx, req))
        }

        pub fn gift_card(&mut self, code: Option<&str>, balance: Decimal) -> SimResult<GiftCard> {
            let req = CreateGiftCard {
                code: code.map(str::to_owned),
                balance,
                currency: "USD".into(),
            };
            self.run(|s, fx| s.create_gift_card(fx, req))
        }

        pub fn intent(&self, id: &str) -> PaymentIntent {
            self.s.intent(id).unwrap()
        }

        pub fn card_balance(&self, code: &str) -> (Decimal, Decimal) {
            let c = self.s.gift_card(code).unwrap();
            (c.balance, c.held)
        }
    }

    pub(crate) fn intent_req(
        amount: Decimal,
        method: PaymentMethod,
        capture: CaptureMethod,
    ) -> CreatePaymentIntent {
        CreatePaymentIntent {
            amount,
            currency: "USD".into(),
            capture_method: capture,
            payment_method: method,
            metadata: BTreeMap::new(),
        }
    }

    pub(crate) fn card(number: &str) -> PaymentMethod {
        PaymentMethod::Card {
            number: number.into(),
        }
    }

    pub(crate) fn gift(code: &str) -> PaymentMethod {
        PaymentMethod::GiftCard { code: code.into() }
    }

    fn bank(account: Option<&str>) -> PaymentMethod {
        PaymentMethod::BankTransfer {
            account: account.map(str::to_owned),
        }
    }

    const OK: &str = "4242424242424242";
    use CaptureMethod::{Automatic, Manual};

    fn codes(e: &SimError) -> (&'static str, Option<&str>) {
        (e.code, e.field.as_deref())
    }

    fn open(
        b: &mut Bench,
        method: Option<PaymentMethod>,
        capture: CaptureMethod,
    ) -> SimResult<Attempt> {
        let req = NewIntent {
            amount: dec!(20),
            currency: "USD".into(),
            capture_method: capture,
            payment_method: method,
            confirm: false,
            metadata: BTreeMap::new(),
            description: Some("order 7".into()),
        };
        b.run(|s, fx| s.open_intent(fx, req))
    }

    #[test]
    fn unconfirmed_intents_wait_for_confirm_then_try_the_method() {
        let mut b = Bench::new();
        let bare = open(&mut b, None, Manual).unwrap().intent;
        assert_eq!(bare.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!((bare.payment_method, bare.latest_charge), (None, None));
        assert_eq!(bare.description.as_deref(), Some("order 7"));
        let e = b
            .run(|s, fx| s.confirm(fx, "pi_000001", ConfirmIntent::default()))
            .unwrap_err();
        assert_eq!(
            codes(&e),
            ("payment_intent_unexpected_state", Some("payment_method"))
        );
        let held = open(&mut b, Some(card(OK)), Manual).unwrap().intent;
        assert_eq!(held.status, IntentStatus::RequiresConfirmation);
        assert_eq!(
            held.payment_method.as_ref().unwrap().id.as_deref(),
            Some("pm_000001")
        );
        assert_eq!(
            b.drain(),
            ["payment_intent.created", "payment_intent.created"]
        );
        assert!(!format!("{:?}", b.s).contains(OK));
        let pi = b
            .run(|s, fx| s.confirm(fx, &held.id, ConfirmIntent::default()))
            .unwrap()
            .into_result()
            .unwrap();
        assert_eq!(pi.status, IntentStatus::RequiresCapture);
        assert_eq!(pi.latest_charge.as_deref(), Some("ch_000001"));
        assert_eq!(b.drain(), ["payment_intent.amount_capturable_updated"]);
        let e = b
            .run(|s, fx| s.confirm(fx, &held.id, ConfirmIntent::default()))
            .unwrap_err();
        assert_eq!(e.code, "payment_intent_unexpected_state");
        // The bare one: attach by update, then a decline, then a good card.
        let up = UpdateIntent {
            payment_method: Some(card("4000000000000002")),
            amount: Some(dec!(25)),
            metadata: Some(BTreeMap::from([("k".into(), "v".into())])),
            ..UpdateIntent::default()
        };
        let pi = b.run(|s, _| s.update_intent(&bare.id, up)).unwrap();
        assert_eq!(
            (pi.status, pi.amount),
            (IntentStatus::RequiresConfirmation, dec!(25))
        );
        let a = b
            .run(|s, fx| s.confirm(fx, &bare.id, ConfirmIntent::default()))
            .unwrap();
        assert_eq!(a.intent.status, IntentStatus::RequiresPaymentMethod);
        assert!(a.decline.is_some());
        assert_eq!(
            b.s.charge("ch_000002")
                .unwrap()
                .failure
                .unwrap()
                .decline_code
                .as_deref(),
            Some("generic_decline")
        );
        let req = ConfirmIntent {
            payment_method: Some(card(OK)),
            capture_method: Some(Automatic),
        };
        let pi = b
            .run(|s, fx| s.confirm(fx, &bare.id, req))
            .unwrap()
            .into_result()
            .unwrap();
        assert_eq!(
            (pi.status, pi.amount_received),
            (IntentStatus::Succeeded, dec!(25))
        );
        assert_eq!(pi.latest_charge.as_deref(), Some("ch_000003"));
        assert_eq!(pi.payment_method.unwrap().id.as_deref(), Some("pm_000003"));
        // After confirmation only metadata and description change.
        let e = b
            .run(|s, _| {
                s.update_intent(
                    &bare.id,
                    UpdateIntent {
                        amount: Some(dec!(1)),
                        ..UpdateIntent::default()
                    },
                )
            })
            .unwrap_err();
        assert_eq!(e.code, "payment_intent_unexpected_state");
        let pi = b
            .run(|s, _| {
                s.update_intent(
                    &bare.id,
                    UpdateIntent {
                        metadata: Some(BTreeMap::from([("k".into(), String::new())])),
                        description: Some(String::new()),
                        ..UpdateIntent::default()
                    },
                )
            })
            .unwrap();
        assert!(pi.metadata.is_empty() && pi.description.is_none());
        // An unconfirmed intent can be canceled.
        let third = open(&mut b, Some(card(OK)), Manual).unwrap().intent;
        assert_eq!(b.cancel(&third.id).unwrap().status, IntentStatus::Canceled);
    }

    #[test]
    fn automatic_card_payments_succeed_and_book_a_charge() {
        let mut b = Bench::new();
        let pi = b.pay(dec!(100), card(OK), Automatic).unwrap();
        assert_eq!(pi.id, "pi_000001");
        assert_eq!(pi.status, IntentStatus::Succeeded);
        assert_eq!(pi.amount.to_string(), "100.00");
        assert_eq!(pi.amount_received, dec!(100));
        assert_eq!(pi.amount_capturable.to_string(), "0.00");
        assert_eq!(
            pi.payment_method.as_ref().unwrap().last4.as_deref(),
            Some("4242")
        );
        assert_eq!(pi.capture_before, None);
        assert_eq!(
            b.drain(),
            ["payment_intent.created", "payment_intent.succeeded"]
        );
        let t = &b.s.transactions[0];
        assert_eq!(t.id, "txn_000001");
        assert_eq!(
            (t.kind, t.amount, t.fee, t.net),
            (
                BalanceTransactionKind::Charge,
                dec!(100),
                dec!(3.20),
                dec!(96.80)
            )
        );
        // The number itself is stored nowhere.
        assert!(!format!("{:?}", b.s).contains(OK));
    }

    #[test]
    fn the_created_event_shows_the_intent_as_first_recorded() {
        let mut b = Bench::new();
        b.pay(dec!(10), card(OK), Automatic).unwrap();
        let (kind, data) = &b.events[0];
        assert_eq!(*kind, "payment_intent.created");
        assert_eq!(data["status"], "requires_payment_method");
        assert_eq!(data["amount_received"], "0.00");
        let (kind, data) = &b.events[1];
        assert_eq!(*kind, "payment_intent.succeeded");
        assert_eq!(data["status"], "succeeded");
        assert_eq!(data["amount_received"], "10.00");
        assert_eq!(data["metadata"], serde_json::json!({}));
    }

    #[test]
    fn manual_capture_authorizes_until_capture_before() {
        let mut b = Bench::new();
        let pi = b.pay(dec!(50), card(OK), Manual).unwrap();
        assert_eq!(pi.status, IntentStatus::RequiresCapture);
        assert_eq!(
            (pi.amount_capturable, pi.amount_received),
            (dec!(50), dec!(0))
        );
        assert_eq!(pi.capture_before, Some(epoch() + TimeDelta::days(7)));
        assert_eq!(
            b.drain(),
            [
                "payment_intent.created",
                "payment_intent.amount_capturable_updated"
            ]
        );
        assert!(b.s.transactions.is_empty());
        let present = PaymentMethod::CardPresent { number: OK.into() };
        let pi = b.pay(dec!(5), present, Manual).unwrap();
        assert_eq!(pi.capture_before, Some(epoch() + TimeDelta::days(2)));
        assert_eq!(
            pi.payment_method.as_ref().unwrap().kind,
            PaymentMethodKind::CardPresent
        );
        let wallet = PaymentMethod::Wallet {
            wallet: WalletKind::ApplePay,
            number: OK.into(),
        };
        let pi = b.pay(dec!(5), wallet, Manual).unwrap();
        assert_eq!(pi.capture_before, Some(epoch() + TimeDelta::days(7)));
        assert_eq!(
            pi.payment_method.as_ref().unwrap().wallet,
            Some(WalletKind::ApplePay)
        );
        assert_eq!(b.s.next_deadline(), Some(epoch() + TimeDelta::days(2)));
    }

    #[test]
    fn every_decline_card_records_a_failed_intent() {
        let cards = [
            ("4000000000000002", "generic_decline"),
            ("4000000000009995", "insufficient_funds"),
            ("4000000000009987", "lost_card"),
            ("4000000000009979", "stolen_card"),
            ("4000000000000069", "expired_card"),
            ("4000000000000127", "incorrect_cvc"),
            ("4000000000000119", "processing_error"),
        ];
        let mut b = Bench::new();
        for (n, (number, decline)) in cards.into_iter().enumerate() {
            let id = format!("pi_{:06}", 2 * n + 1);
            for capture in [Automatic, Manual] {
                let e = b.pay(dec!(20), card(number), capture).unwrap_err();
                assert_eq!(e.kind, crate::error::ErrorKind::Declined);
                let body = e.body().error;
                assert_eq!(body.code, "card_declined");
                assert_eq!(body.decline_code.as_deref(), Some(decline));
                let pi = b.intent(body.payment_intent.as_deref().unwrap());
                assert_eq!(pi.status, IntentStatus::RequiresPaymentMethod);
                let err = pi.last_payment_error.unwrap();
                assert_eq!(
                    (err.code.as_str(), err.decline_code.as_deref()),
                    ("card_declined", Some(decline))
                );
                assert_eq!(
                    b.drain(),
                    ["payment_intent.created", "payment_intent.payment_failed"]
                );
                if capture == Automatic {
                    assert_eq!(pi.id, id);
                }
            }
        }
        assert!(b.s.transactions.is_empty());
        assert_eq!(b.s.next_deadline(), None);
    }

    #[test]
    fn authentication_required_leaves_the_intent_requiring_action() {
        let mut b = Bench::new();
        let e = b
            .pay(dec!(20), card("4000000000003220"), Automatic)
            .unwrap_err();
        let body = e.body().error;
        assert_eq!(
            (body.code.as_str(), body.decline_code.as_deref()),
            ("card_declined", Some("authentication_required"))
        );
        assert_eq!(body.payment_intent.as_deref(), Some("pi_000001"));
        assert_eq!(b.intent("pi_000001").status, IntentStatus::RequiresAction);
        assert_eq!(
            b.drain(),
            ["payment_intent.created", "payment_intent.requires_action"]
        );
        let pi = b.cancel("pi_000001").unwrap();
        assert_eq!(pi.status, IntentStatus::Canceled);
    }

    #[test]
    fn invalid_requests_change_nothing_and_name_the_field() {
        let mut b = Bench::new();
        let eur = CreateGiftCard {
            code: Some("EURO".into()),
            balance: dec!(10),
            currency: "EUR".into(),
        };
        b.run(|s, fx| s.create_gift_card(fx, eur)).unwrap();
        let before = b.s.snapshot();
        let cases: Vec<(CreatePaymentIntent, (&str, Option<&str>))> = vec![
            (
                intent_req(dec!(0), card(OK), Automatic),
                ("parameter_invalid", Some("amount")),
            ),
            (
                intent_req(dec!(-5), card(OK), Automatic),
                ("parameter_invalid", Some("amount")),
            ),
            (
                intent_req(dec!(1.001), card(OK), Automatic),
                ("parameter_invalid", Some("amount")),
            ),
            (
                intent_req(dec!(100000000), card(OK), Automatic),
                ("amount_too_large", Some("amount")),
            ),
            (
                CreatePaymentIntent {
                    currency: "usd".into(),
                    ..intent_req(dec!(1), card(OK), Automatic)
                },
                ("parameter_invalid", Some("currency")),
            ),
            (
                CreatePaymentIntent {
                    currency: "JPY".into(),
                    ..intent_req(dec!(1.5), card(OK), Automatic)
                },
                ("parameter_invalid", Some("amount")),
            ),
            (
                intent_req(dec!(1), card("5425233430109903"), Automatic),
                ("live_card_rejected", Some("payment_method.number")),
            ),
            (
                intent_req(dec!(1), card("4242"), Automatic),
                ("parameter_invalid", Some("payment_method.number")),
            ),
            (
                intent_req(dec!(1), bank(None), Manual),
                ("parameter_invalid", Some("capture_method")),
            ),
            (
                intent_req(dec!(1), bank(Some("12-34")), Automatic),
                ("parameter_invalid", Some("payment_method.account")),
            ),
            (
                intent_req(dec!(1), gift("NOPE"), Automatic),
                ("resource_missing", Some("payment_method.code")),
            ),
            (
                intent_req(dec!(1), gift("EURO"), Automatic),
                ("currency_mismatch", Some("currency")),
            ),
            (
                CreatePaymentIntent {
                    metadata: (0..51).map(|i| (format!("k{i}"), "v".into())).collect(),
                    ..intent_req(dec!(1), card(OK), Automatic)
                },
                ("parameter_invalid", Some("metadata")),
            ),
            (
                CreatePaymentIntent {
                    metadata: BTreeMap::from([("order".into(), "x".repeat(501))]),
                    ..intent_req(dec!(1), card(OK), Automatic)
                },
                ("parameter_invalid", Some("metadata.order")),
            ),
        ];
        for (req, want) in cases {
            let e = b.create(req.clone()).unwrap_err();
            assert_eq!(codes(&e), want, "{req:?}");
        }
        assert_eq!(b.s.snapshot(), before);
        assert!(b.drain().is_empty());
        // The counter did not move either.
        assert_eq!(b.pay(dec!(1), card(OK), Automatic).unwrap().id, "pi_000001");
    }

    #[test]
    fn capture_takes_all_or_part_once() {
        let mut b = Bench::new();
        let full = b.pay(dec!(40), card(OK), Manual).unwrap();
        let part = b.pay(dec!(40), card(OK), Manual).unwrap();
        b.drain();
        let pi = b.capture(&full.id, None).unwrap();
        assert_eq!(pi.status, IntentStatus::Succeeded);
        assert_eq!(
            (pi.amount_received, pi.amount_capturable),
            (dec!(40), dec!(0))
        );
        assert_eq!(b.drain(), ["payment_intent.succeeded"]);
        let e = b.capture(&part.id, Some(dec!(40.01))).unwrap_err();
        assert_eq!(codes(&e), ("amount_too_large", Some("amount_to_capture")));
        let e = b.capture(&part.id, Some(dec!(0))).unwrap_err();
        assert_eq!(codes(&e), ("parameter_invalid", Some("amount_to_capture")));
        let e = b.capture(&part.id, Some(dec!(1.234))).unwrap_err();
        assert_eq!(codes(&e), ("parameter_invalid", Some("amount_to_capture")));
        let pi = b.capture(&part.id, Some(dec!(25))).unwrap();
        assert_eq!(
            (pi.amount, pi.amount_received, pi.amount_capturable),
            (dec!(40), dec!(25), dec!(0))
        );
        let e = b.capture(&part.id, Some(dec!(5))).unwrap_err();
        assert_eq!(e.code, "payment_intent_unexpected_state");
        assert_eq!(e.kind, crate::error::ErrorKind::Conflict);
        let e = b.capture("pi_999999", None).unwrap_err();
        assert_eq!(codes(&e), ("resource_missing", Some("id")));
        let charges: Vec<_> = b.s.transactions.iter().map(|t| (t.amount, t.fee)).collect();
        assert_eq!(charges, [(dec!(40), dec!(1.46)), (dec!(25), dec!(1.02))]);
        // Captured intents no longer expire.
        assert_eq!(b.s.next_deadline(), None);
        let auto = b.pay(dec!(1), card(OK), Automatic).unwrap();
        let e = b.capture(&auto.id, None).unwrap_err();
        assert_eq!(e.code, "payment_intent_unexpected_state");
    }

    #[test]
    fn cancel_voids_non_final_intents_only() {
        let mut b = Bench::new();
        let auth = b.pay(dec!(10), card(OK), Manual).unwrap();
        let declined = b.pay(dec!(10), card("4000000000000002"), Automatic);
        assert!(declined.is_err());
        let paid = b.pay(dec!(10), card(OK), Automatic).unwrap();
        b.drain();
        let pi = b.cancel(&auth.id).unwrap();
        assert_eq!(pi.status, IntentStatus::Canceled);
        assert_eq!(
            pi.cancellation_reason,
            Some(CancellationReason::RequestedByCustomer)
        );
        assert_eq!(pi.canceled_at, Some(epoch()));
        assert_eq!(pi.amount_capturable, dec!(0));
        assert_eq!(b.drain(), ["payment_intent.canceled"]);
        assert_eq!(b.s.next_deadline(), None);
        let req = CancelIntent {
            reason: Some(CancellationReason::Abandoned),
        };
        let pi = b.run(|s, fx| s.cancel(fx, "pi_000002", req)).unwrap();
        assert_eq!(pi.cancellation_reason, Some(CancellationReason::Abandoned));
        for id in [auth.id.as_str(), paid.id.as_str()] {
            let e = b.cancel(id).unwrap_err();
            assert_eq!(e.code, "payment_intent_unexpected_state", "{id}");
        }
        let req = CancelIntent {
            reason: Some(CancellationReason::Automatic),
        };
        let other = b.pay(dec!(10), card(OK), Manual).unwrap();
        let e = b.run(|s, fx| s.cancel(fx, &other.id, req)).unwrap_err();
        assert_eq!(codes(&e), ("parameter_invalid", Some("reason")));
        assert_eq!(
            codes(&b.cancel("pi_404").unwrap_err()),
            ("resource_missing", Some("id"))
        );
    }

    #[test]
    fn uncaptured_authorizations_expire_with_reason_automatic() {
        let mut b = Bench::new();
        let online = b.pay(dec!(10), card(OK), Manual).unwrap();
        let present = b
            .pay(
                dec!(10),
                PaymentMethod::CardPresent { number: OK.into() },
                Manual,
            )
            .unwrap();
        let captured = b.pay(dec!(10), card(OK), Manual).unwrap();
        b.capture(&captured.id, None).unwrap();
        b.drain();
        b.advance(TimeDelta::days(2) - TimeDelta::milliseconds(1));
        assert_eq!(b.intent(&present.id).status, IntentStatus::RequiresCapture);
        assert!(b.drain().is_empty());
        b.advance(TimeDelta::milliseconds(1));
        let pi = b.intent(&present.id);
        assert_eq!(pi.status, IntentStatus::Canceled);
        assert_eq!(pi.cancellation_reason, Some(CancellationReason::Automatic));
        assert_eq!(pi.canceled_at, pi.capture_before);
        assert_eq!(b.drain(), ["payment_intent.canceled"]);
        // Far past the deadline: canceled at the deadline, not at the tick.
        b.advance(TimeDelta::days(30));
        let pi = b.intent(&online.id);
        assert_eq!(pi.status, IntentStatus::Canceled);
        assert_eq!(pi.canceled_at, Some(epoch() + TimeDelta::days(7)));
        assert_eq!(b.drain(), ["payment_intent.canceled"]);
        assert_eq!(b.intent(&captured.id).status, IntentStatus::Succeeded);
        let e = b.capture(&online.id, None).unwrap_err();
        assert_eq!(e.code, "payment_intent_unexpected_state");
        assert_eq!(b.s.next_deadline(), None);
    }

    /// `omnisim serve` and certification divide the gateway's own delays by
    /// their scale: at 60x a transfer and its refund settle in a minute.
    #[test]
    fn a_compressed_gateway_settles_a_transfer_and_its_refund_in_a_minute() {
        let mut b = Bench::new();
        b.delay_scale = 60;
        let pi = b.pay(dec!(80), bank(None), Automatic).unwrap();
        assert_eq!(b.s.next_deadline(), Some(epoch() + TimeDelta::minutes(1)));
        b.advance(TimeDelta::seconds(59));
        assert_eq!(b.intent(&pi.id).status, IntentStatus::Processing);
        b.advance(TimeDelta::seconds(1));
        assert_eq!(b.intent(&pi.id).status, IntentStatus::Succeeded);
        let refund = b.refund(&pi.id, None).unwrap();
        assert_eq!(refund.status, RefundStatus::Pending);
        assert_eq!(b.s.next_deadline(), Some(epoch() + TimeDelta::minutes(2)));
        b.advance(TimeDelta::minutes(1));
        assert_eq!(
            b.s.refund(&refund.id).unwrap().status,
            RefundStatus::Succeeded
        );
    }

    #[test]
    fn bank_transfers_process_then_settle_or_fail() {
        let mut b = Bench::new();
        let good = b.pay(dec!(1000), bank(None), Automatic).unwrap();
        assert_eq!(good.status, IntentStatus::Processing);
        assert_eq!(
            good.payment_method.as_ref().unwrap().last4.as_deref(),
            Some("6789")
        );
        let bad = b
            .pay(dec!(10), bank(Some("000111111116")), Automatic)
            .unwrap();
        let canceled = b
            .pay(dec!(10), bank(Some("000222222227")), Automatic)
            .unwrap();
        assert_eq!(
            b.drain(),
            [
                "payment_intent.created",
                "payment_intent.processing",
                "payment_intent.created",
                "payment_intent.processing",
                "payment_intent.created",
                "payment_intent.processing"
            ]
        );
        assert_eq!(
            b.cancel(&canceled.id).unwrap().status,
            IntentStatus::Canceled
        );
        b.drain();
        assert_eq!(b.s.next_deadline(), Some(epoch() + TimeDelta::hours(1)));
        // Refunds wait for the money.
        let e = b.refund(&good.id, None).unwrap_err();
        assert_eq!(e.code, "payment_intent_unexpected_state");
        b.advance(TimeDelta::hours(1));
        assert_eq!(
            b.drain(),
            ["payment_intent.succeeded", "payment_intent.payment_failed"]
        );
        let pi = b.intent(&good.id);
        assert_eq!(
            (pi.status, pi.amount_received),
            (IntentStatus::Succeeded, dec!(1000))
        );
        let pi = b.intent(&bad.id);
        assert_eq!(pi.status, IntentStatus::RequiresPaymentMethod);
        assert_eq!(pi.last_payment_error.unwrap().code, "bank_transfer_failed");
        assert_eq!(b.intent(&canceled.id).status, IntentStatus::Canceled);
        let t = &b.s.transactions[0];
        assert_eq!(
            (t.amount, t.fee, t.created_at),
            (dec!(1000), dec!(5.00), epoch() + TimeDelta::hours(1))
        );
        assert_eq!(b.s.transactions.len(), 1);
        // A bank refund is pending until it settles, an hour later.
        let re = b.refund(&good.id, Some(dec!(100))).unwrap();
        assert_eq!(re.status, RefundStatus::Pending);
        b.advance(TimeDelta::hours(1));
        assert_eq!(b.s.refund(&re.id).unwrap().status, RefundStatus::Succeeded);
        assert_eq!(b.s.next_deadline(), None);
    }

    #[test]
    fn gift_cards_hold_take_release_and_restore() {
        let mut b = Bench::new();
        let c = b.gift_card(None, dec!(50)).unwrap();
        assert_eq!(c.code, "gc_000001");
        assert_eq!(c.balance.to_string(), "50.00");
        assert_eq!(
            b.gift_card(Some("gc_000002"), dec!(5)).unwrap().code,
            "gc_000002"
        );
        // The generator skips codes already given.
        assert_eq!(b.gift_card(None, dec!(5)).unwrap().code, "gc_000003");
        let e = b.gift_card(Some("gc_000002"), dec!(5)).unwrap_err();
        assert_eq!(codes(&e), ("resource_already_exists", Some("code")));
        let e = b.gift_card(Some("bad code"), dec!(5)).unwrap_err();
        assert_eq!(codes(&e), ("parameter_invalid", Some("code")));
        let e = b.gift_card(None, dec!(0)).unwrap_err();
        assert_eq!(codes(&e), ("parameter_invalid", Some("balance")));
        assert!(b.drain().is_empty());

        let code = c.code.as_str();
        let e = b.pay(dec!(50.01), gift(code), Automatic).unwrap_err();
        assert_eq!(
            e.body().error.decline_code.as_deref(),
            Some("insufficient_funds")
        );
        assert_eq!(
            b.drain(),
            ["payment_intent.created", "payment_intent.payment_failed"]
        );
        assert_eq!(b.card_balance(code), (dec!(50), dec!(0)));

        let held = b.pay(dec!(30), gift(code), Manual).unwrap();
        assert_eq!(
            held.payment_method.as_ref().unwrap().gift_card.as_deref(),
            Some(code)
        );
        assert_eq!(b.card_balance(code), (dec!(20), dec!(30)));
        // Only the free balance can be spent.
        assert!(b.pay(dec!(25), gift(code), Automatic).is_err());
        b.capture(&held.id, Some(dec!(12))).unwrap();
        assert_eq!(b.card_balance(code), (dec!(38), dec!(0)));
        let taken = b.pay(dec!(8), gift(code), Automatic).unwrap();
        assert_eq!(b.card_balance(code), (dec!(30), dec!(0)));
        let voided = b.pay(dec!(10), gift(code), Manual).unwrap();
        b.cancel(&voided.id).unwrap();
        assert_eq!(b.card_balance(code), (dec!(30), dec!(0)));
        let expiring = b.pay(dec!(10), gift(code), Manual).unwrap();
        assert_eq!(expiring.capture_before, Some(epoch() + TimeDelta::days(7)));
        b.advance(TimeDelta::days(7));
        assert_eq!(b.card_balance(code), (dec!(30), dec!(0)));
        b.refund(&taken.id, None).unwrap();
        b.refund(&held.id, Some(dec!(2))).unwrap();
        let c = b.s.gift_card(code).unwrap();
        assert_eq!(
            (c.balance, c.held, c.captured, c.refunded, c.initial_balance),
            (dec!(40), dec!(0), dec!(20), dec!(10), dec!(50))
        );
        // Gift cards are free.
        assert!(b.s.transactions.iter().all(|t| t.fee == dec!(0)));
        assert_eq!(
            codes(&b.s.gift_card("nope").unwrap_err()),
            ("resource_missing", Some("code"))
        );
    }

    #[test]
    fn refunds_are_partial_repeated_and_bounded() {
        let mut b = Bench::new();
        let pi = b.pay(dec!(30), card(OK), Automatic).unwrap();
        b.drain();
        let r1 = b.refund(&pi.id, Some(dec!(10))).unwrap();
        assert_eq!(
            (r1.id.as_str(), r1.status),
            ("re_000001", RefundStatus::Succeeded)
        );
        assert_eq!(r1.amount.to_string(), "10.00");
        let e = b.refund(&pi.id, Some(dec!(20.01))).unwrap_err();
        assert_eq!(codes(&e), ("amount_too_large", Some("amount")));
        let e = b.refund(&pi.id, Some(dec!(0))).unwrap_err();
        assert_eq!(codes(&e), ("parameter_invalid", Some("amount")));
        let r2 = b.refund(&pi.id, None).unwrap();
        assert_eq!(r2.amount, dec!(20));
        let e = b.refund(&pi.id, None).unwrap_err();
        assert_eq!(
            codes(&e),
            ("charge_already_refunded", Some("payment_intent"))
        );
        let e = b.refund(&pi.id, Some(dec!(1))).unwrap_err();
        assert_eq!(e.code, "charge_already_refunded");
        let pi = b.intent(&pi.id);
        assert_eq!(pi.amount_refunded, dec!(30));
        assert_eq!(pi.refunds, ["re_000001", "re_000002"]);
        assert_eq!(b.drain(), ["charge.refunded", "charge.refunded"]);
        let refunds: Vec<_> = b.s.transactions[1..]
            .iter()
            .map(|t| (t.kind, t.amount, t.fee, t.net, t.refund.clone()))
            .collect();
        assert_eq!(
            refunds,
            [
                (
                    BalanceTransactionKind::Refund,
                    dec!(-10),
                    dec!(0),
                    dec!(-10),
                    Some("re_000001".into())
                ),
                (
                    BalanceTransactionKind::Refund,
                    dec!(-20),
                    dec!(0),
                    dec!(-20),
                    Some("re_000002".into())
                ),
            ]
        );

        let auth = b.pay(dec!(5), card(OK), Manual).unwrap();
        let e = b.refund(&auth.id, None).unwrap_err();
        assert_eq!(e.code, "payment_intent_unexpected_state");
        assert!(e.message.contains("cancel"), "{}", e.message);
        b.cancel(&auth.id).unwrap();
        assert_eq!(
            b.refund(&auth.id, None).unwrap_err().code,
            "payment_intent_unexpected_state"
        );
        let e = b.refund("pi_404", None).unwrap_err();
        assert_eq!(codes(&e), ("resource_missing", Some("payment_intent")));
        assert_eq!(
            codes(&b.s.refund("re_404").unwrap_err()),
            ("resource_missing", Some("id"))
        );
    }

    #[test]
    fn charge_refunded_carries_the_intent_and_the_refund() {
        let mut b = Bench::new();
        let pi = b.pay(dec!(30), card(OK), Automatic).unwrap();
        b.events.clear();
        b.refund(&pi.id, Some(dec!(7.5))).unwrap();
        let (kind, data) = &b.events[0];
        assert_eq!(*kind, "charge.refunded");
        assert_eq!(data["id"], "pi_000001");
        assert_eq!(data["amount_refunded"], "7.50");
        assert_eq!(data["amount_received"], "30.00");
        assert_eq!(data["refund"]["id"], "re_000001");
        assert_eq!(data["refund"]["amount"], "7.50");
    }

    #[test]
    fn settlement_windows_are_half_open_and_totals_add_up() {
        let mut b = Bench::new();
        let a = b.pay(dec!(100), card(OK), Automatic).unwrap();
        b.advance(TimeDelta::hours(1));
        b.pay(
            dec!(100),
            PaymentMethod::CardPresent { number: OK.into() },
            Automatic,
        )
        .unwrap();
        b.refund(&a.id, Some(dec!(40))).unwrap();
        let eur = CreatePaymentIntent {
            currency: "EUR".into(),
            ..intent_req(dec!(10), card(OK), Automatic)
        };
        b.create(eur).unwrap();
        let all = b.s.settlement(None, None).unwrap();
        assert_eq!(all.transactions.len(), 4);
        let usd = &all.totals[1];
        assert_eq!(
            (
                usd.currency.as_str(),
                usd.charges,
                usd.refunds,
                usd.fees,
                usd.net
            ),
            ("USD", dec!(200), dec!(40), dec!(5.95), dec!(154.05))
        );
        let eur = &all.totals[0];
        assert_eq!(
            (eur.currency.as_str(), eur.charges, eur.fees, eur.net),
            ("EUR", dec!(10), dec!(0.59), dec!(9.41))
        );
        let first =
            b.s.settlement(Some(epoch()), Some(epoch() + TimeDelta::hours(1)))
                .unwrap();
        assert_eq!(first.transactions.len(), 1);
        assert_eq!(first.transactions[0].payment_intent, a.id);
        let later =
            b.s.settlement(Some(epoch() + TimeDelta::hours(1)), None)
                .unwrap();
        assert_eq!(later.transactions.len(), 3);
        let none = b.s.settlement(Some(epoch()), Some(epoch())).unwrap();
        assert!(none.transactions.is_empty() && none.totals.is_empty());
        let e =
            b.s.settlement(Some(epoch()), Some(epoch() - TimeDelta::seconds(1)))
                .unwrap_err();
        assert_eq!(codes(&e), ("parameter_invalid", Some("to")));
    }

    #[test]
    fn intents_list_oldest_first_in_pages() {
        let mut b = Bench::new();
        for _ in 0..5 {
            b.pay(dec!(1), card(OK), Automatic).unwrap();
        }
        let ids = |l: &PaymentIntentList| l.data.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        let p1 = b.s.list_intents(Some(2), None).unwrap();
        assert_eq!(
            (ids(&p1), p1.has_more),
            (vec!["pi_000001".into(), "pi_000002".into()], true)
        );
        let p2 = b.s.list_intents(Some(2), Some("pi_000002")).unwrap();
        assert_eq!(ids(&p2), ["pi_000003", "pi_000004"]);
        let p3 = b.s.list_intents(Some(2), Some("pi_000004")).unwrap();
        assert_eq!((ids(&p3), p3.has_more), (vec!["pi_000005".into()], false));
        let p4 = b.s.list_intents(None, Some("pi_000005")).unwrap();
        assert_eq!((p4.data.len(), p4.has_more), (0, false));
        assert_eq!(b.s.list_intents(None, None).unwrap().data.len(), 5);
        assert_eq!(
            codes(&b.s.list_intents(Some(0), None).unwrap_err()),
            ("parameter_invalid", Some("limit"))
        );
        assert_eq!(
            codes(&b.s.list_intents(Some(101), None).unwrap_err()),
            ("parameter_invalid", Some("limit"))
        );
        assert_eq!(
            codes(&b.s.list_intents(None, Some("pi_404")).unwrap_err()),
            ("resource_missing", Some("starting_after"))
        );
    }

    #[test]
    fn snapshot_holds_everything() {
        let mut b = Bench::new();
        b.gift_card(None, dec!(20)).unwrap();
        let pi = b.pay(dec!(10), gift("gc_000001"), Automatic).unwrap();
        b.refund(&pi.id, Some(dec!(1))).unwrap();
        b.pay(dec!(10), card(OK), Manual).unwrap();
        let snap = b.s.snapshot();
        assert_eq!(snap["payment_intents"].as_array().unwrap().len(), 2);
        assert_eq!(snap["refunds"][0]["id"], "re_000001");
        assert_eq!(snap["gift_cards"][0]["balance"], "11.00");
        assert_eq!(snap["balance_transactions"].as_array().unwrap().len(), 2);
        assert_eq!(snap["timers"][0]["kind"], "expire_authorization");
        assert_eq!(snap["timers"][0]["id"], "pi_000002");
        assert_eq!(snap["timers"][0]["at"], "2026-03-09T09:00:00Z");
    }
}
