//! The ecommerce platform's wire types (modelled on Shopify Admin) and its
//! typed client.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client::ApiClient;
use crate::error::ApiError;
use crate::pay::{CaptureMethod, PaymentMethod};
use crate::pos::SellPolicy;

/// Whether a product sells, overall or on one channel.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// On sale.
    #[default]
    Active,
    /// Not on sale.
    Paused,
}

/// `POST /v1/products`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// The shared key across platforms.
    pub sku: String,
    /// A display name.
    pub title: String,
    /// Unit price before tax.
    #[schema(value_type = String, example = "12.50")]
    pub price: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Selects the tax rate (`PUT /v1/tax_rates/{code}`); untaxed if absent.
    #[serde(default)]
    pub tax_code: Option<String>,
    /// Active by default.
    #[serde(default)]
    pub status: ProductStatus,
    /// Per-channel status (`online_store`, `pickup`, …), overriding `status`.
    #[serde(default)]
    pub channels: BTreeMap<String, ProductStatus>,
}

/// `PATCH /v1/products/{sku}`: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateProduct {
    /// New title.
    pub title: Option<String>,
    /// New price.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// New currency.
    pub currency: Option<String>,
    /// New tax code.
    pub tax_code: Option<String>,
    /// New overall status.
    pub status: Option<ProductStatus>,
    /// Channel statuses to set (merged into the existing ones).
    pub channels: Option<BTreeMap<String, ProductStatus>>,
}

/// A product variant, keyed by SKU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    /// The shared key.
    pub sku: String,
    /// A display name.
    pub title: String,
    /// Unit price before tax.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Tax code, if taxed.
    pub tax_code: Option<String>,
    /// Overall status.
    pub status: ProductStatus,
    /// Per-channel overrides.
    pub channels: BTreeMap<String, ProductStatus>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `GET /v1/products`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductList {
    /// Every product, by SKU.
    pub data: Vec<Product>,
}

/// Stock of one SKU at one location. `on_hand = available + committed + unavailable`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryLevel {
    /// The SKU.
    pub sku: String,
    /// The location id.
    pub location: String,
    /// Sellable now (may go negative when overselling is allowed).
    pub available: i64,
    /// Held for unfulfilled orders.
    pub committed: i64,
    /// Physically present.
    pub on_hand: i64,
    /// Present but not sellable (damaged, safety stock).
    pub unavailable: i64,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `GET /v1/inventory_levels`: levels of every known SKU at every known
/// location (a level never written is all zeros).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryLevelList {
    /// Levels ordered by SKU, then location.
    pub data: Vec<InventoryLevel>,
}

/// What changed a level, as `inventory_levels/update` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InventoryCauseKind {
    /// `POST /v1/inventory/adjust`.
    Adjust,
    /// `POST /v1/inventory/set`.
    Set,
    /// A checkout committed stock.
    Order,
    /// An order was cancelled.
    Cancel,
    /// A refund restocked or wrote off units.
    Refund,
    /// Units were handed over.
    Fulfillment,
}

/// The cause of a level change: lets a connector tell its own writes (echoes)
/// from real changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryCause {
    /// What kind of write.
    pub kind: InventoryCauseKind,
    /// The writer's `reference` (adjust, set), or the order id (order,
    /// cancel, fulfillment) or refund id (refund).
    pub reference: Option<String>,
    /// The change in `available` (0 for a fulfilment, which moves units out
    /// of `committed`).
    pub delta: i64,
}

/// The data of `inventory_levels/update`: the level after the change and
/// its cause.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryLevelUpdate {
    /// The level after the change.
    #[serde(flatten)]
    pub level: InventoryLevel,
    /// What changed it.
    pub cause: InventoryCause,
}

/// `POST /v1/inventory/adjust`: the normal write, a delta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustInventory {
    /// The SKU.
    pub sku: String,
    /// The location id.
    pub location: String,
    /// Change to `available` (and `on_hand`).
    pub delta: i64,
    /// Why: `correction`, `cycle_count_available`, `damaged`,
    /// `movement_created`, `movement_received`, `received`, `restock`,
    /// `safety_stock`, `shrinkage` or `other`.
    pub reason: String,
    /// Compare-and-set: fail with 409 unless `available` equals this now.
    #[serde(default)]
    pub change_from: Option<i64>,
    /// The writer's cause, echoed back in `inventory_levels/update`.
    #[serde(default)]
    pub reference: Option<String>,
}

/// `POST /v1/inventory/set`: an absolute write, for the source of truth only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetInventory {
    /// The SKU.
    pub sku: String,
    /// The location id.
    pub location: String,
    /// New `available`.
    pub available: i64,
    /// Compare-and-set: fail with 409 unless `available` equals this now.
    #[serde(default)]
    pub change_from: Option<i64>,
    /// The writer's cause, echoed back in `inventory_levels/update`.
    #[serde(default)]
    pub reference: Option<String>,
}

/// One line of a checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutLine {
    /// The SKU.
    pub sku: String,
    /// Units, at least 1.
    pub quantity: i64,
}

/// `POST /v1/orders`: a checkout that authorizes through pay, then creates the
/// order and commits its stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    /// What is bought.
    pub lines: Vec<CheckoutLine>,
    /// How the customer pays.
    pub payment: PaymentMethod,
    /// A code from `POST /v1/discount_codes`.
    #[serde(default)]
    pub discount_code: Option<String>,
    /// Buy online, pick up in store: the store's location id.
    #[serde(default)]
    pub pickup_location: Option<String>,
    /// The fulfilling location; the pickup location, else `web`.
    #[serde(default)]
    pub location: Option<String>,
    /// Who buys.
    #[serde(default)]
    pub customer: Option<String>,
    /// Manual (authorize now, capture later) by default, as merchants who
    /// capture on fulfilment configure it. Bank transfers are always
    /// automatic: they cannot be held, they settle by themselves.
    #[serde(default = "manual")]
    pub capture: CaptureMethod,
    /// The sales channel; `online_store` by default.
    #[serde(default)]
    pub channel: Option<String>,
}

/// `POST /v1/gift_cards`: a gift card bought online, a digital good paid
/// at once (automatic capture). Once paid, the shop issues it at the
/// gateway under `code`, where it is spent online and at the register alike.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SellGiftCard {
    /// The code the shop sends the buyer (1 to 64 letters, digits, `-` or
    /// `_`); no gift card may hold it yet.
    pub code: String,
    /// What is loaded onto it, and charged.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code; `USD` if absent.
    #[serde(default)]
    pub currency: Option<String>,
    /// How the buyer pays: a card or a wallet (not a bank transfer, which
    /// settles later, nor another gift card).
    pub payment: PaymentMethod,
    /// Who buys.
    #[serde(default)]
    pub customer: Option<String>,
}

/// A gift card the merchant issues without a sale (a goodwill gesture, a
/// prize, a card issued from the admin): nothing is charged, and the shop
/// records it as `gift_cards/issued`, the money's only source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssueGiftCard {
    /// The code printed on the card (1 to 64 letters, digits, `-` or `_`);
    /// no gift card may hold it yet.
    pub code: String,
    /// What is loaded onto it.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code; `USD` if absent.
    #[serde(default)]
    pub currency: Option<String>,
    /// Why the merchant gives it, in words (required: money without a sale
    /// is always explained).
    pub reason: String,
    /// Whom it is for.
    #[serde(default)]
    pub customer: Option<String>,
}

/// A gift card the merchant issued (the data of `gift_cards/issued`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssuedGiftCard {
    /// The card's code.
    pub code: String,
    /// What was loaded onto it.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Why the merchant gave it.
    pub reason: String,
    /// Whom it is for.
    pub customer: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

/// A gift card bought online: the card at the gateway, and the payment
/// that paid for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GiftCardPurchase {
    /// The card's code.
    pub code: String,
    /// What was loaded onto it.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Who bought it.
    pub customer: Option<String>,
    /// The captured intent that paid for it (its metadata names the card:
    /// `gift_card_code`).
    pub payment_intent: String,
    /// When it was bought.
    pub created_at: DateTime<Utc>,
}

fn manual() -> CaptureMethod {
    CaptureMethod::Manual
}

/// Money state of an order, as Shopify names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinancialStatus {
    /// Waiting for an asynchronous payment.
    Pending,
    /// Authorized, not captured.
    Authorized,
    /// Captured in full.
    Paid,
    /// Captured in part.
    PartiallyPaid,
    /// Some of it refunded.
    PartiallyRefunded,
    /// All of it refunded.
    Refunded,
    /// Authorization voided.
    Voided,
}

/// Goods state of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    /// Nothing handed over.
    Unfulfilled,
    /// Some lines handed over.
    Partial,
    /// Everything handed over (shipped or picked up).
    Fulfilled,
    /// Waiting at the pickup location.
    ReadyForPickup,
}

/// One line of an order, priced at checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    /// `line_…`.
    pub id: String,
    /// The SKU.
    pub sku: String,
    /// The product title at checkout.
    pub title: String,
    /// Units bought.
    pub quantity: i64,
    /// Unit price at checkout.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Discount on the whole line.
    #[schema(value_type = String)]
    pub discount: Decimal,
    /// Tax on the whole line, after discount.
    #[schema(value_type = String)]
    pub tax: Decimal,
    /// `price × quantity − discount + tax`.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// Units handed over.
    pub fulfilled_quantity: i64,
    /// Units still to hand over: neither fulfilled, refunded before
    /// fulfilment, nor released by a cancel. They are what the line holds in
    /// `committed` at the order's location.
    pub fulfillable_quantity: i64,
    /// Units refunded.
    pub refunded_quantity: i64,
    /// Money refunded for this line so far.
    #[schema(value_type = String)]
    pub refunded_amount: Decimal,
}

/// How a refunded line's units go back to stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestockType {
    /// The units are not restocked.
    NoRestock,
    /// Unfulfilled units: release the commitment.
    Cancel,
    /// Fulfilled units came back: add them to stock at `location`.
    Return,
}

/// One line of a refund request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineRequest {
    /// The order line.
    pub line_id: String,
    /// Units to refund.
    pub quantity: i64,
    /// What happens to the units.
    pub restock_type: RestockType,
    /// Where returned units go; the order's location by default.
    #[serde(default)]
    pub location: Option<String>,
}

/// The kinds of money movement `POST /v1/orders/{id}/transactions` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// Money given back at the gateway, outside the shop (its dashboard, a
    /// connector, the bank).
    Refund,
}

/// `POST /v1/orders/{id}/transactions`: records money that moved at the
/// gateway without the shop, as Shopify records a refund made outside it (a
/// transaction of kind `refund` with its gateway reference). No units move
/// and the gateway is not called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderTransaction {
    /// Only `refund`.
    pub kind: TransactionKind,
    /// The money, as a decimal string in the order's currency.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// The gateway's own id for it (`re_…`): an order records each once.
    pub gateway_reference: String,
    /// A note.
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/orders/{id}/refunds`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRefund {
    /// Lines and units refunded.
    pub lines: Vec<RefundLineRequest>,
    /// A note.
    #[serde(default)]
    pub note: Option<String>,
}

/// One refunded line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderRefundLine {
    /// The order line.
    pub line_id: String,
    /// The SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
    /// What happened to the units.
    pub restock_type: RestockType,
    /// Where they were restocked, if they were.
    pub location: Option<String>,
    /// Money back for this line: paid price, discount and tax pro rata.
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// A refund on an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderRefund {
    /// `ref_…`.
    pub id: String,
    /// The order.
    pub order_id: String,
    /// What was refunded.
    pub lines: Vec<OrderRefundLine>,
    /// Total money back.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// The gateway refund (`re_…`), when money had been captured.
    pub payment_refund: Option<String>,
    /// The part of `amount` refunded through the gateway (at most what was
    /// captured and not yet refunded).
    #[schema(value_type = String)]
    pub payment_amount: Decimal,
    /// The part of `amount` taken off the uncaptured authorization instead.
    #[schema(value_type = String)]
    pub released_amount: Decimal,
    /// A note.
    pub note: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Why an order was cancelled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The customer changed their mind.
    #[default]
    Customer,
    /// Out of stock.
    Inventory,
    /// Fraud.
    Fraud,
    /// The payment was declined.
    Declined,
    /// Anything else.
    Other,
}

/// `POST /v1/orders/{id}/cancel`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CancelOrder {
    /// Why; `customer` by default.
    pub reason: CancelReason,
    /// Release the committed stock back to available (true by default).
    pub restock: Option<bool>,
}

/// One line of a partial fulfilment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfillLine {
    /// The order line.
    pub line_id: String,
    /// Units handed over now.
    pub quantity: i64,
}

/// `POST /v1/orders/{id}/fulfill`: hand over all open units, or the lines given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FulfillOrder {
    /// Lines to fulfil; every open unit if absent.
    pub lines: Option<Vec<FulfillLine>>,
}

/// `POST /v1/orders/{id}/capture`: capture the order's authorization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureOrder {
    /// Capture less than the outstanding total; all by default.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
}

/// Whether an order is open, or cancelled for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Open.
    Open,
    /// Cancelled (irreversible).
    Cancelled,
}

/// An order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    /// `ord_…`.
    pub id: String,
    /// `#1001`, `#1002`, …
    pub name: String,
    /// Open or cancelled.
    pub status: OrderStatus,
    /// Who bought.
    pub customer: Option<String>,
    /// What was bought.
    pub lines: Vec<OrderLine>,
    /// The fulfilling location.
    pub location: String,
    /// The pickup store, for pickup orders.
    pub pickup_location: Option<String>,
    /// Money state.
    pub financial_status: FinancialStatus,
    /// Goods state.
    pub fulfillment_status: FulfillmentStatus,
    /// The gateway intent (`pi_…`); none for an order whose total is zero.
    pub payment_intent: Option<String>,
    /// Manual (authorize, capture later) or automatic.
    pub capture_method: CaptureMethod,
    /// The sales channel it was placed on.
    pub channel: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of `price × quantity`.
    #[schema(value_type = String)]
    pub subtotal: Decimal,
    /// Sum of line discounts.
    #[schema(value_type = String)]
    pub discount_total: Decimal,
    /// Sum of line taxes.
    #[schema(value_type = String)]
    pub tax_total: Decimal,
    /// What the customer pays: `subtotal − discount_total + tax_total`.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// Captured at the gateway so far.
    #[schema(value_type = String)]
    pub total_captured: Decimal,
    /// Authorized and still capturable: the authorization less what refunds
    /// took off it; zero once captured (a capture releases the rest).
    #[schema(value_type = String)]
    pub total_capturable: Decimal,
    /// Money given back through the gateway so far, by refunds and by a
    /// cancel: `total_captured − total_refunded` is what the gateway holds.
    #[schema(value_type = String)]
    pub total_refunded: Decimal,
    /// What refunds took off the authorization before it was captured (never
    /// collected, so never refunded): see each refund's `released_amount`.
    #[schema(value_type = String)]
    pub total_released: Decimal,
    /// The discount code used.
    pub discount_code: Option<String>,
    /// The automatic promotion that priced it (its id), if one did; a
    /// discount code and a promotion never combine.
    #[serde(default)]
    pub promotion: Option<String>,
    /// Refunds, oldest first.
    pub refunds: Vec<OrderRefund>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Why.
    pub cancel_reason: Option<CancelReason>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// How a discount code takes money off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    /// `value` percent off every line.
    Percentage,
    /// `value` off the order, split across lines by their subtotal.
    FixedAmount,
}

/// `GET /v1/orders`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderList {
    /// Every order, oldest first.
    pub data: Vec<Order>,
}

/// `POST /v1/discount_codes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDiscountCode {
    /// The code customers type.
    pub code: String,
    /// Percentage or fixed amount.
    pub kind: DiscountKind,
    /// Percent (over 0, at most 100), or money (over 0) in `currency`, else
    /// in the order's currency (at most two decimals, rounded to it).
    #[schema(value_type = String)]
    pub value: Decimal,
    /// How many orders may use it; unlimited if absent.
    #[serde(default)]
    pub usage_limit: Option<u32>,
    /// For a fixed amount: the only currency it applies to. Without it the
    /// amount applies in the order's currency.
    #[serde(default)]
    pub currency: Option<String>,
}

/// A discount code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiscountCode {
    /// The code.
    pub code: String,
    /// Percentage or fixed amount.
    pub kind: DiscountKind,
    /// Percent or money.
    #[schema(value_type = String)]
    pub value: Decimal,
    /// Order limit.
    pub usage_limit: Option<u32>,
    /// Orders that used it.
    pub times_used: u32,
    /// For a fixed amount: the currency it is limited to.
    pub currency: Option<String>,
}

/// `GET /v1/discount_codes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiscountCodeList {
    /// Every code, sorted.
    pub data: Vec<DiscountCode>,
}

pub use crate::common::{SetTaxRate, TaxRate, TaxRateList};

/// `GET`/`PUT /v1/settings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopSettings {
    /// `block` (Shopify's "deny", the default) refuses a checkout line that
    /// exceeds `available` with 409 `out_of_stock`; `allow` ("continue")
    /// sells anyway and lets `available` go negative. `warn` is a POS
    /// setting and is refused here with 422.
    pub sell_when_out_of_stock: SellPolicy,
}

impl Default for ShopSettings {
    fn default() -> Self {
        ShopSettings {
            sell_when_out_of_stock: SellPolicy::Block,
        }
    }
}

/// A typed client for the ecommerce platform.
#[derive(Clone, Debug)]
pub struct ShopClient(pub ApiClient);

impl ShopClient {
    /// The customer profiles (`/v1/customers`).
    pub fn customers(&self) -> crate::customer::CustomerClient<'_> {
        crate::customer::CustomerClient(&self.0)
    }
    /// The `/v1/promotions` routes.
    pub fn promotions(&self) -> crate::promotion::PromotionClient<'_> {
        crate::promotion::PromotionClient(&self.0)
    }
    /// `POST /v1/products`.
    pub async fn create_product(
        &self,
        body: &CreateProduct,
        key: Option<&str>,
    ) -> Result<Product, ApiError> {
        self.0.post("/v1/products", body, key).await
    }
    /// `PATCH /v1/products/{sku}`.
    pub async fn update_product(
        &self,
        sku: &str,
        body: &UpdateProduct,
    ) -> Result<Product, ApiError> {
        self.0
            .send(
                http::Method::PATCH,
                &format!("/v1/products/{sku}"),
                Some(body),
                None,
            )
            .await
    }
    /// `GET /v1/products/{sku}`.
    pub async fn product(&self, sku: &str) -> Result<Product, ApiError> {
        self.0.get(&format!("/v1/products/{sku}")).await
    }
    /// `GET /v1/products`.
    pub async fn products(&self) -> Result<ProductList, ApiError> {
        self.0.get("/v1/products").await
    }
    /// `POST /v1/inventory/adjust`.
    pub async fn adjust(
        &self,
        body: &AdjustInventory,
        key: Option<&str>,
    ) -> Result<InventoryLevel, ApiError> {
        self.0.post("/v1/inventory/adjust", body, key).await
    }
    /// `POST /v1/inventory/set`.
    pub async fn set(
        &self,
        body: &SetInventory,
        key: Option<&str>,
    ) -> Result<InventoryLevel, ApiError> {
        self.0.post("/v1/inventory/set", body, key).await
    }
    /// `GET /v1/inventory/{sku}?location=`.
    pub async fn level(&self, sku: &str, location: &str) -> Result<InventoryLevel, ApiError> {
        self.0
            .get(&format!(
                "/v1/inventory/{sku}?location={}",
                encode(location)
            ))
            .await
    }
    /// `GET /v1/inventory_levels?sku=&location=`: every level, or those of
    /// one SKU and/or one location.
    pub async fn levels(
        &self,
        sku: Option<&str>,
        location: Option<&str>,
    ) -> Result<InventoryLevelList, ApiError> {
        let mut query = Vec::new();
        if let Some(sku) = sku {
            query.push(format!("sku={}", encode(sku)));
        }
        if let Some(location) = location {
            query.push(format!("location={}", encode(location)));
        }
        if query.is_empty() {
            self.0.get("/v1/inventory_levels").await
        } else {
            self.0
                .get(&format!("/v1/inventory_levels?{}", query.join("&")))
                .await
        }
    }
    /// `GET /v1/settings`.
    pub async fn settings(&self) -> Result<ShopSettings, ApiError> {
        self.0.get("/v1/settings").await
    }
    /// `PUT /v1/settings`.
    pub async fn update_settings(&self, body: &ShopSettings) -> Result<ShopSettings, ApiError> {
        self.0
            .send(http::Method::PUT, "/v1/settings", Some(body), None)
            .await
    }
    /// `POST /v1/orders`.
    pub async fn checkout(&self, body: &Checkout, key: Option<&str>) -> Result<Order, ApiError> {
        self.0.post("/v1/orders", body, key).await
    }
    /// `POST /v1/gift_cards`: sells a gift card online.
    pub async fn sell_gift_card(
        &self,
        body: &SellGiftCard,
        key: Option<&str>,
    ) -> Result<GiftCardPurchase, ApiError> {
        self.0.post("/v1/gift_cards", body, key).await
    }
    /// `POST /v1/gift_cards/issue`: issues a gift card without a sale.
    pub async fn issue_gift_card(
        &self,
        body: &IssueGiftCard,
        key: Option<&str>,
    ) -> Result<IssuedGiftCard, ApiError> {
        self.0.post("/v1/gift_cards/issue", body, key).await
    }
    /// `GET /v1/orders/{id}`.
    pub async fn order(&self, id: &str) -> Result<Order, ApiError> {
        self.0.get(&format!("/v1/orders/{id}")).await
    }
    /// `GET /v1/orders`.
    pub async fn orders(&self) -> Result<OrderList, ApiError> {
        self.0.get("/v1/orders").await
    }
    /// `POST /v1/orders/{id}/ready_for_pickup`.
    pub async fn ready_for_pickup(&self, id: &str, key: Option<&str>) -> Result<Order, ApiError> {
        self.0
            .post(
                &format!("/v1/orders/{id}/ready_for_pickup"),
                &serde_json::json!({}),
                key,
            )
            .await
    }
    /// `POST /v1/orders/{id}/fulfill`.
    pub async fn fulfill(
        &self,
        id: &str,
        body: &FulfillOrder,
        key: Option<&str>,
    ) -> Result<Order, ApiError> {
        self.0
            .post(&format!("/v1/orders/{id}/fulfill"), body, key)
            .await
    }
    /// `POST /v1/orders/{id}/capture`.
    pub async fn capture(
        &self,
        id: &str,
        body: &CaptureOrder,
        key: Option<&str>,
    ) -> Result<Order, ApiError> {
        self.0
            .post(&format!("/v1/orders/{id}/capture"), body, key)
            .await
    }
    /// `POST /v1/orders/{id}/cancel`.
    pub async fn cancel(
        &self,
        id: &str,
        body: &CancelOrder,
        key: Option<&str>,
    ) -> Result<Order, ApiError> {
        self.0
            .post(&format!("/v1/orders/{id}/cancel"), body, key)
            .await
    }
    /// `POST /v1/orders/{id}/refunds`.
    pub async fn refund(
        &self,
        id: &str,
        body: &CreateOrderRefund,
        key: Option<&str>,
    ) -> Result<OrderRefund, ApiError> {
        self.0
            .post(&format!("/v1/orders/{id}/refunds"), body, key)
            .await
    }
    /// `POST /v1/orders/{id}/transactions`: record a refund made at the
    /// gateway outside the shop.
    pub async fn record_transaction(
        &self,
        id: &str,
        body: &CreateOrderTransaction,
        key: Option<&str>,
    ) -> Result<OrderRefund, ApiError> {
        self.0
            .post(&format!("/v1/orders/{id}/transactions"), body, key)
            .await
    }
    /// `POST /v1/discount_codes`.
    pub async fn create_discount(
        &self,
        body: &CreateDiscountCode,
        key: Option<&str>,
    ) -> Result<DiscountCode, ApiError> {
        self.0.post("/v1/discount_codes", body, key).await
    }
    /// `GET /v1/discount_codes/{code}`.
    pub async fn discount(&self, code: &str) -> Result<DiscountCode, ApiError> {
        self.0.get(&format!("/v1/discount_codes/{code}")).await
    }
    /// `GET /v1/discount_codes`.
    pub async fn discounts(&self) -> Result<DiscountCodeList, ApiError> {
        self.0.get("/v1/discount_codes").await
    }
    /// `GET /v1/tax_rates`.
    pub async fn tax_rates(&self) -> Result<TaxRateList, ApiError> {
        self.0.get("/v1/tax_rates").await
    }
    /// `PUT /v1/tax_rates/{code}`.
    pub async fn set_tax_rate(&self, code: &str, body: &SetTaxRate) -> Result<TaxRate, ApiError> {
        self.0
            .send(
                http::Method::PUT,
                &format!("/v1/tax_rates/{code}"),
                Some(body),
                None,
            )
            .await
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
