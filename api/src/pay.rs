//! The payment gateway's wire types (modelled on Stripe PaymentIntents) and
//! its typed client.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client::ApiClient;
use crate::error::ApiError;

/// How the customer pays. Card numbers must be test numbers (PLATFORMS.md);
/// only their last four digits are ever stored or logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaymentMethod {
    /// Card not present (online).
    Card {
        /// A test card number.
        number: String,
    },
    /// Card present (terminal in store).
    CardPresent {
        /// A test card number.
        number: String,
    },
    /// A wallet wrapping a card.
    Wallet {
        /// Which wallet.
        wallet: WalletKind,
        /// The wrapped test card number.
        number: String,
    },
    /// An asynchronous bank transfer: `processing`, then succeeded or failed.
    BankTransfer {
        /// Test account: `000123456789` settles, `000111111116` fails.
        #[serde(default)]
        account: Option<String>,
    },
    /// A gift card issued by `POST /v1/gift_cards`.
    GiftCard {
        /// The gift card code.
        code: String,
    },
}

/// Supported wallets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WalletKind {
    /// Apple Pay.
    ApplePay,
    /// Google Pay.
    GooglePay,
}

/// The kind of a payment method, without its secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethodKind {
    /// Card not present.
    Card,
    /// Card present.
    CardPresent,
    /// Wallet.
    Wallet,
    /// Bank transfer.
    BankTransfer,
    /// Gift card.
    GiftCard,
}

/// What the intent remembers of its payment method: never a full number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentMethodDetails {
    /// `pm_…`: this payment method as attached to its intent (a new one
    /// each time a method is attached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The kind.
    #[serde(rename = "type")]
    pub kind: PaymentMethodKind,
    /// Last four digits of a card or account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    /// The wallet, for wallet payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<WalletKind>,
    /// The gift card code, for gift card payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gift_card: Option<String>,
    /// The card network (`visa`, `mastercard`, `amex`, …), for cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
}

/// Automatic capture charges at once; manual capture only authorizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Capture at once.
    #[default]
    Automatic,
    /// Authorize now; capture later with `/capture`.
    Manual,
}

/// `POST /v1/payment_intents`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentIntent {
    /// Amount in the currency's major unit, as a decimal string.
    #[schema(value_type = String, example = "12.50")]
    pub amount: Decimal,
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// Automatic by default.
    #[serde(default)]
    pub capture_method: CaptureMethod,
    /// How the customer pays.
    pub payment_method: PaymentMethod,
    /// Free-form key/value pairs kept on the intent.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// `POST /v1/payment_intents/{id}/confirm`: charge the attached payment
/// method (or the one given here) of an intent in `requires_confirmation`,
/// `requires_payment_method` or `requires_action`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConfirmIntent {
    /// A payment method to attach first; the attached one if absent.
    pub payment_method: Option<PaymentMethod>,
    /// Change the capture method before confirming.
    pub capture_method: Option<CaptureMethod>,
}

/// `POST /v1/payment_intents/{id}`: change an intent. Amount, currency,
/// capture method and payment method change only before it is confirmed
/// (`requires_payment_method`, `requires_confirmation`, `requires_action`);
/// metadata and description at any time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateIntent {
    /// A new amount, in the currency's major unit.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// A new currency.
    pub currency: Option<String>,
    /// A new capture method.
    pub capture_method: Option<CaptureMethod>,
    /// A payment method to attach: the intent then `requires_confirmation`.
    pub payment_method: Option<PaymentMethod>,
    /// Merged into the metadata; a key with an empty value is removed.
    pub metadata: Option<BTreeMap<String, String>>,
    /// A new description; an empty one removes it.
    pub description: Option<String>,
}

/// Payment intent states, as Stripe names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// No payment method yet, or the last one was declined: a new one is needed.
    RequiresPaymentMethod,
    /// A payment method is attached; the intent waits for `/confirm`.
    RequiresConfirmation,
    /// 3-D Secure or similar is needed.
    RequiresAction,
    /// Authorized, waiting for a manual capture.
    RequiresCapture,
    /// An asynchronous method is settling.
    Processing,
    /// Money moved.
    Succeeded,
    /// Voided or expired.
    Canceled,
}

/// Why an intent was canceled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancellationReason {
    /// A duplicate payment.
    Duplicate,
    /// Fraud.
    Fraudulent,
    /// The customer asked.
    RequestedByCustomer,
    /// The checkout was abandoned.
    Abandoned,
    /// The authorization expired.
    Automatic,
}

/// The last failure on an intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentError {
    /// `card_declined`, `authentication_required`, `bank_transfer_failed`, …
    pub code: String,
    /// The issuer's reason, for declines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// A sentence for people.
    pub message: String,
}

/// A payment intent: one attempt to collect one amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentIntent {
    /// `pi_…`.
    pub id: String,
    /// Its state.
    pub status: IntentStatus,
    /// The amount asked for.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// What may still be captured.
    #[schema(value_type = String)]
    pub amount_capturable: Decimal,
    /// What was captured.
    #[schema(value_type = String)]
    pub amount_received: Decimal,
    /// What was refunded of `amount_received`.
    #[schema(value_type = String)]
    pub amount_refunded: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Automatic or manual.
    pub capture_method: CaptureMethod,
    /// The method, without secrets; `null` until one is attached.
    pub payment_method: Option<PaymentMethodDetails>,
    /// Caller's key/value pairs.
    pub metadata: BTreeMap<String, String>,
    /// A text for people, if the caller gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ch_…`: the latest attempt to charge the method (succeeded, failed or
    /// pending), once one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_charge: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When an authorization expires (7 days online, 2 days card-present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_before: Option<DateTime<Utc>>,
    /// When it was canceled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canceled_at: Option<DateTime<Utc>>,
    /// Why it was canceled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_reason: Option<CancellationReason>,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment_error: Option<PaymentError>,
    /// Ids of its refunds, oldest first.
    pub refunds: Vec<String>,
}

/// `GET /v1/payment_intents`: one page of intents, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentIntentList {
    /// The intents of this page, oldest first.
    pub data: Vec<PaymentIntent>,
    /// True when more intents follow; pass the last id as `starting_after`.
    pub has_more: bool,
}

/// `POST /v1/payment_intents/{id}/capture`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureIntent {
    /// Capture less than authorized; the rest is released. All by default.
    #[schema(value_type = Option<String>)]
    pub amount_to_capture: Option<Decimal>,
}

/// `POST /v1/payment_intents/{id}/cancel`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CancelIntent {
    /// Why; `requested_by_customer` if absent.
    #[serde(alias = "cancellation_reason")]
    pub reason: Option<CancellationReason>,
}

/// Why a refund was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// A duplicate charge.
    Duplicate,
    /// Fraud.
    Fraudulent,
    /// The customer asked (returns).
    RequestedByCustomer,
}

/// `POST /v1/refunds`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    /// The intent to refund.
    pub payment_intent: String,
    /// Part of what remains refundable; all of it if absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// Why.
    #[serde(default)]
    pub reason: Option<RefundReason>,
    /// Caller's key/value pairs.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Refund states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Sent, not settled (bank transfers).
    Pending,
    /// Done.
    Succeeded,
    /// Rejected by the bank.
    Failed,
}

/// A refund of part or all of a captured intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    /// `re_…`.
    pub id: String,
    /// The refunded intent.
    pub payment_intent: String,
    /// How much.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Its state.
    pub status: RefundStatus,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefundReason>,
    /// Caller's key/value pairs.
    pub metadata: BTreeMap<String, String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/gift_cards`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGiftCard {
    /// A code to use; generated if absent.
    #[serde(default)]
    pub code: Option<String>,
    /// Starting balance.
    #[schema(value_type = String)]
    pub balance: Decimal,
    /// ISO 4217 code.
    pub currency: String,
}

/// A gift card and its balance. Money is conserved on it:
/// `initial_balance = balance + held + captured - refunded`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GiftCard {
    /// The code.
    pub code: String,
    /// Its place in the order the gateway issued cards: 1, 2, … (the
    /// number a dialect's numeric id is made from).
    #[serde(default)]
    pub number: u64,
    /// What is left to spend (holds excluded).
    #[schema(value_type = String)]
    pub balance: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// The balance it was issued with.
    #[schema(value_type = String)]
    pub initial_balance: Decimal,
    /// Held by uncaptured authorizations (manual capture).
    #[schema(value_type = String)]
    pub held: Decimal,
    /// Taken by captured payments.
    #[schema(value_type = String)]
    pub captured: Decimal,
    /// Given back by refunds.
    #[schema(value_type = String)]
    pub refunded: Decimal,
}

/// `GET /v1/gift_cards`: every gift card the gateway holds, by code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GiftCardList {
    /// The cards, in code order.
    pub data: Vec<GiftCard>,
}

/// Kinds of balance movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BalanceTransactionKind {
    /// Money in from a capture.
    Charge,
    /// Money out for a refund.
    Refund,
}

/// One movement of the merchant's balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceTransaction {
    /// `txn_…`.
    pub id: String,
    /// Charge or refund.
    #[serde(rename = "type")]
    pub kind: BalanceTransactionKind,
    /// The intent it belongs to.
    pub payment_intent: String,
    /// The refund id, for refunds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<String>,
    /// Gross amount: positive for charges, negative for refunds.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// The gateway's fee (charges only; fees are not returned on refund).
    #[schema(value_type = String)]
    pub fee: Decimal,
    /// `amount - fee`.
    #[schema(value_type = String)]
    pub net: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// The payment method kind.
    pub payment_method: PaymentMethodKind,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/reports/settlement?from&to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SettlementReport {
    /// Start, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Every movement in the window, oldest first.
    pub transactions: Vec<BalanceTransaction>,
    /// Sums per currency.
    pub totals: Vec<SettlementTotal>,
}

/// Sums of a settlement window in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SettlementTotal {
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of charges.
    #[schema(value_type = String)]
    pub charges: Decimal,
    /// Sum of refunds (positive).
    #[schema(value_type = String)]
    pub refunds: Decimal,
    /// Sum of fees.
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// `charges - refunds - fees`.
    #[schema(value_type = String)]
    pub net: Decimal,
}

/// A typed client for the payment gateway.
#[derive(Clone, Debug)]
pub struct PayClient(pub ApiClient);

impl PayClient {
    /// `POST /v1/payment_intents`.
    pub async fn create_intent(
        &self,
        body: &CreatePaymentIntent,
        key: Option<&str>,
    ) -> Result<PaymentIntent, ApiError> {
        self.0.post("/v1/payment_intents", body, key).await
    }
    /// `GET /v1/payment_intents/{id}`.
    pub async fn intent(&self, id: &str) -> Result<PaymentIntent, ApiError> {
        self.0.get(&format!("/v1/payment_intents/{id}")).await
    }
    /// `GET /v1/payment_intents?limit&starting_after`: a page of intents,
    /// oldest first (`limit` 1 to 100, 10 by default).
    pub async fn list_intents(
        &self,
        limit: Option<u32>,
        starting_after: Option<&str>,
    ) -> Result<PaymentIntentList, ApiError> {
        let mut pairs = Vec::new();
        if let Some(limit) = limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(after) = starting_after {
            pairs.push(("starting_after", after.to_owned()));
        }
        let query = query_string(&pairs);
        if query.is_empty() {
            self.0.get("/v1/payment_intents").await
        } else {
            self.0.get(&format!("/v1/payment_intents?{query}")).await
        }
    }
    /// `POST /v1/payment_intents/{id}/confirm`.
    pub async fn confirm(
        &self,
        id: &str,
        body: &ConfirmIntent,
        key: Option<&str>,
    ) -> Result<PaymentIntent, ApiError> {
        self.0
            .post(&format!("/v1/payment_intents/{id}/confirm"), body, key)
            .await
    }
    /// `POST /v1/payment_intents/{id}`: update.
    pub async fn update(
        &self,
        id: &str,
        body: &UpdateIntent,
        key: Option<&str>,
    ) -> Result<PaymentIntent, ApiError> {
        self.0
            .post(&format!("/v1/payment_intents/{id}"), body, key)
            .await
    }
    /// `POST /v1/payment_intents/{id}/capture`.
    pub async fn capture(
        &self,
        id: &str,
        body: &CaptureIntent,
        key: Option<&str>,
    ) -> Result<PaymentIntent, ApiError> {
        self.0
            .post(&format!("/v1/payment_intents/{id}/capture"), body, key)
            .await
    }
    /// `POST /v1/payment_intents/{id}/cancel`.
    pub async fn cancel(
        &self,
        id: &str,
        body: &CancelIntent,
        key: Option<&str>,
    ) -> Result<PaymentIntent, ApiError> {
        self.0
            .post(&format!("/v1/payment_intents/{id}/cancel"), body, key)
            .await
    }
    /// `POST /v1/refunds`.
    pub async fn refund(&self, body: &CreateRefund, key: Option<&str>) -> Result<Refund, ApiError> {
        self.0.post("/v1/refunds", body, key).await
    }
    /// `GET /v1/refunds/{id}`.
    pub async fn get_refund(&self, id: &str) -> Result<Refund, ApiError> {
        self.0.get(&format!("/v1/refunds/{id}")).await
    }
    /// `POST /v1/gift_cards`.
    pub async fn create_gift_card(
        &self,
        body: &CreateGiftCard,
        key: Option<&str>,
    ) -> Result<GiftCard, ApiError> {
        self.0.post("/v1/gift_cards", body, key).await
    }
    /// `GET /v1/gift_cards`: every gift card, by code.
    pub async fn gift_cards(&self) -> Result<GiftCardList, ApiError> {
        self.0.get("/v1/gift_cards").await
    }
    /// `GET /v1/gift_cards/{code}`.
    pub async fn gift_card(&self, code: &str) -> Result<GiftCard, ApiError> {
        self.0.get(&format!("/v1/gift_cards/{code}")).await
    }
    /// `GET /v1/reports/settlement`: every balance transaction so far.
    pub async fn settlement(&self) -> Result<SettlementReport, ApiError> {
        self.0.get("/v1/reports/settlement").await
    }
    /// `GET /v1/reports/settlement?from&to`: the balance transactions with
    /// `from <= created_at < to`; either bound may be left open.
    pub async fn settlement_between(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<SettlementReport, ApiError> {
        let pairs: Vec<(&str, String)> = [("from", from), ("to", to)]
            .into_iter()
            .filter_map(|(name, at)| {
                at.map(|at| (name, at.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
            })
            .collect();
        let query = query_string(&pairs);
        if query.is_empty() {
            self.settlement().await
        } else {
            self.0.get(&format!("/v1/reports/settlement?{query}")).await
        }
    }
}

/// `a=1&b=x%3Ay`: names and percent-encoded values (RFC 3986 unreserved kept).
fn query_string(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_encode_values() {
        let q = query_string(&[
            ("from", "2026-03-02T09:00:00+01:00".into()),
            ("limit", "5".into()),
        ]);
        assert_eq!(q, "from=2026-03-02T09%3A00%3A00%2B01%3A00&limit=5");
        assert_eq!(query_string(&[]), "");
    }
}
