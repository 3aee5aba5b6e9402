//! The point of sale's wire types (modelled on Square Inventory and Orders) and
//! its typed client.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client::ApiClient;
use crate::error::ApiError;

/// `POST /v1/items`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateItem {
    /// The shared key across platforms.
    pub sku: String,
    /// A display name.
    pub name: String,
    /// Unit price before tax.
    #[schema(value_type = String, example = "12.50")]
    pub price: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Selects the tax rate; untaxed if absent.
    #[serde(default)]
    pub tax_code: Option<String>,
}

/// `PATCH /v1/items/{sku}`: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateItem {
    /// New name.
    pub name: Option<String>,
    /// New price.
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// New currency.
    pub currency: Option<String>,
    /// New tax code.
    pub tax_code: Option<String>,
}

/// A catalog item, keyed by SKU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Item {
    /// The shared key.
    pub sku: String,
    /// A display name.
    pub name: String,
    /// Unit price before tax.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Tax code, if taxed.
    pub tax_code: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A count sets the stock; an adjustment moves units between states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InventoryChangeType {
    /// An absolute count of IN_STOCK units.
    PhysicalCount,
    /// Units moved from one state to another.
    Adjustment,
}

/// Where units are, as Square names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InventoryState {
    /// Outside the store's books (received from a supplier, or gone for good).
    None,
    /// On the shelf, sellable.
    InStock,
    /// Set aside for an online order awaiting pickup: not sellable.
    ReservedForSale,
    /// Sold.
    Sold,
    /// Brought back by a customer, not yet restocked.
    ReturnedByCustomer,
    /// Broken or lost.
    Waste,
}

/// One inventory change in a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryChange {
    /// Count or adjustment.
    #[serde(rename = "type")]
    pub kind: InventoryChangeType,
    /// The SKU.
    pub sku: String,
    /// The location id.
    pub location: String,
    /// A count: the IN_STOCK units. An adjustment: units moved, at least 1.
    pub quantity: i64,
    /// Adjustments: the state units leave (`NONE` to receive stock).
    #[serde(default)]
    pub from_state: Option<InventoryState>,
    /// Adjustments: the state units enter (`WASTE`, `SOLD`, `IN_STOCK`, …).
    #[serde(default)]
    pub to_state: Option<InventoryState>,
    /// When it happened on the floor; stock is ordered by this, not by arrival.
    pub occurred_at: DateTime<Utc>,
    /// The writer's cause, echoed back in `inventory.count.updated`.
    #[serde(default)]
    pub reference: Option<String>,
    /// An adjustment out of RESERVED_FOR_SALE: the online order whose pickup
    /// gives the units back (when an order is shortened before collection).
    /// Without it, loose reserved units go first, then the oldest pickups'.
    #[serde(default)]
    pub order_ref: Option<String>,
}

/// `POST /v1/inventory/changes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchChangeInventory {
    /// The changes, applied together or not at all.
    pub changes: Vec<InventoryChange>,
}

/// The IN_STOCK count of one SKU at one location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryCount {
    /// The SKU.
    pub sku: String,
    /// The location id.
    pub location: String,
    /// IN_STOCK units (negative when sold below zero).
    pub quantity: i64,
    /// RESERVED_FOR_SALE units, held apart from `quantity`: what ready
    /// pickups hold, and units moved there by an adjustment. A
    /// PHYSICAL_COUNT counts the shelf (IN_STOCK) and leaves these alone, so
    /// the units in the store are `quantity + reserved_for_sale`.
    #[serde(default)]
    pub reserved_for_sale: i64,
    /// The `occurred_at` of the latest change that shaped it.
    pub calculated_at: DateTime<Utc>,
}

/// `POST /v1/inventory/changes` answer: the counts after the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryCounts {
    /// One per SKU and location touched, in order of first mention.
    pub counts: Vec<InventoryCount>,
}

/// How a sale is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenderType {
    /// Cash in the drawer.
    Cash,
    /// A card on the terminal, through the gateway.
    CardPresent,
    /// A gift card, through the gateway.
    GiftCard,
}

/// One tender of a sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenderRequest {
    /// Cash, card or gift card.
    #[serde(rename = "type")]
    pub kind: TenderType,
    /// Amount taken by this tender (cash may exceed the rest: change is given).
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Card-present: the test card number.
    #[serde(default)]
    pub number: Option<String>,
    /// Gift card: its code.
    #[serde(default)]
    pub code: Option<String>,
}

/// One line of a sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleLineRequest {
    /// The SKU.
    pub sku: String,
    /// Units, at least 1.
    pub quantity: i64,
}

/// `POST /v1/sales`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSale {
    /// The store.
    pub location: String,
    /// What is sold.
    pub lines: Vec<SaleLineRequest>,
    /// How it is paid; tenders must cover the total.
    pub tenders: Vec<TenderRequest>,
    /// When it happened on the floor (offline registers send late); now if absent.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Who buys.
    #[serde(default)]
    pub customer: Option<String>,
    /// Gift cards sold and loaded at the register: each is issued at the
    /// gateway, under the code printed on the card, for the amount paid.
    /// Their amounts add to the sale's total; they carry no tax and no
    /// stock. A sale may sell gift cards only (no `lines`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gift_cards: Vec<GiftCardSaleRequest>,
}

/// A gift card sold at the register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardSaleRequest {
    /// The code printed on the card (1 to 64 letters, digits, `-` or `_`);
    /// no gift card may hold it yet.
    pub code: String,
    /// What the customer loads onto it, paid by the sale's tenders.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code: the sale's (the currency its items are priced in);
    /// it says the currency of a sale of gift cards only (`USD` if absent).
    #[serde(default)]
    pub currency: Option<String>,
}

/// `POST /v1/gift_cards/issue` on the register takes the shop's body and
/// gives the shop's answer: a gift card issued at the register without a
/// sale (a replacement card, a goodwill gesture, a card paid for elsewhere
/// and activated at the counter). The register records it as
/// `gift_card.issued`.
pub use crate::shop::{IssueGiftCard, IssuedGiftCard};

/// A gift card a sale sold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SoldGiftCard {
    /// Its code.
    pub code: String,
    /// What was loaded onto it.
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// A line of a recorded sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SaleLine {
    /// The SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
    /// Unit price at sale.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Money off the line by the sale's promotion.
    #[serde(default)]
    #[schema(value_type = String)]
    pub discount: Decimal,
    /// Tax on the line, after the discount.
    #[schema(value_type = String)]
    pub tax: Decimal,
    /// `price × quantity − discount + tax`.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// Units returned since.
    pub returned_quantity: i64,
}

/// A tender of a recorded sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tender {
    /// Cash, card or gift card.
    #[serde(rename = "type")]
    pub kind: TenderType,
    /// Amount applied to the sale (after change).
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Change given back, for cash.
    #[schema(value_type = String)]
    pub change: Decimal,
    /// The gateway intent, for card and gift card tenders.
    pub payment_intent: Option<String>,
    /// Last four digits, for cards.
    pub last4: Option<String>,
    /// Refunded of this tender so far.
    #[schema(value_type = String)]
    pub refunded: Decimal,
}

/// A sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Sale {
    /// `sale_…`.
    pub id: String,
    /// The store.
    pub location: String,
    /// What was sold.
    pub lines: Vec<SaleLine>,
    /// How it was paid.
    pub tenders: Vec<Tender>,
    /// Sum of line totals.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Who bought.
    pub customer: Option<String>,
    /// When it happened on the floor.
    pub occurred_at: DateTime<Utc>,
    /// When the POS recorded it.
    pub created_at: DateTime<Utc>,
    /// Warnings, such as selling below zero under the `warn` policy.
    pub warnings: Vec<String>,
    /// The automatic promotion that priced it (its POS id), if one did.
    #[serde(default)]
    pub promotion: Option<String>,
    /// Gift cards sold, with the amount loaded on each; included in `total`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gift_cards: Vec<SoldGiftCard>,
}

/// Where a return's money goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundTo {
    /// Back to the sale's own tenders (through the gateway for cards).
    Original,
    /// Cash from the drawer.
    Cash,
    /// A new gift card (store credit) through the gateway.
    StoreCredit,
}

/// `POST /v1/returns`: with a receipt (`sale_id`), for an online order
/// (`order_ref`), or with neither (no receipt: catalog price, no original tender).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReturn {
    /// The receipt.
    #[serde(default)]
    pub sale_id: Option<String>,
    /// An online order returned in store; the connector refunds its payment.
    #[serde(default)]
    pub order_ref: Option<String>,
    /// The store taking the units back.
    pub location: String,
    /// What comes back.
    pub lines: Vec<SaleLineRequest>,
    /// Put the units back IN_STOCK (else they stay RETURNED_BY_CUSTOMER).
    pub restock: bool,
    /// Where the money goes.
    pub refund_to: RefundTo,
    /// When it happened on the floor; now if absent.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// With `refund_to: store_credit`: the code printed on the gift card
    /// the clerk hands over, which the store credit is issued under (no
    /// gift card may hold it yet). Generated (`gc_…`) if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_credit_code: Option<String>,
}

/// One returned line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReturnLine {
    /// The SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
    /// Money back for them (price and tax pro rata).
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// Money paid back by a return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReturnRefund {
    /// The tender kind paid back to (`cash`, `card_present`, `gift_card`).
    #[serde(rename = "type")]
    pub kind: TenderType,
    /// How much.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// The gateway intent refunded, if any.
    pub payment_intent: Option<String>,
    /// The gateway refund (`re_…`) or the store-credit gift card code.
    pub reference: Option<String>,
}

/// A return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Return {
    /// `ret_…`.
    pub id: String,
    /// The store.
    pub location: String,
    /// The receipt, if any.
    pub sale_id: Option<String>,
    /// The online order, if any.
    pub order_ref: Option<String>,
    /// What came back.
    pub lines: Vec<ReturnLine>,
    /// Whether units went back IN_STOCK.
    pub restock: bool,
    /// Where the money went.
    pub refund_to: RefundTo,
    /// Money back in total.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// How the money went back; empty for `order_ref` returns, which the
    /// connector refunds on the shop.
    pub refunds: Vec<ReturnRefund>,
    /// When it happened on the floor.
    pub occurred_at: DateTime<Utc>,
}

/// `POST /v1/pickups`: an online order waiting for pickup at a store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePickup {
    /// The shop's order id.
    pub order_ref: String,
    /// The pickup store.
    pub location: String,
    /// What waits there.
    pub lines: Vec<SaleLineRequest>,
    /// Who collects.
    #[serde(default)]
    pub customer: Option<String>,
}

/// `POST /v1/pickups/{order_ref}/lines`: the online order was shortened
/// (a line dropped or partly refunded before collection), so its pickup
/// lists less. Each named SKU gets the quantity the customer now collects;
/// SKUs not named keep theirs. A pickup can only shrink: the units it no
/// longer lists go back IN_STOCK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePickupLines {
    /// The new quantity per SKU (0 drops the SKU from what is collected).
    pub lines: Vec<SaleLineRequest>,
}

/// A pickup's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PickupStatus {
    /// Waiting at the counter; its units are set aside (RESERVED_FOR_SALE).
    Ready,
    /// Handed over: its units went from RESERVED_FOR_SALE to SOLD.
    Completed,
    /// Cancelled before pickup: its units went back IN_STOCK.
    Cancelled,
}

/// A pickup order at a store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Pickup {
    /// The shop's order id.
    pub order_ref: String,
    /// The pickup store.
    pub location: String,
    /// What waits there.
    pub lines: Vec<SaleLineRequest>,
    /// Who collects.
    pub customer: Option<String>,
    /// Ready, completed or cancelled.
    pub status: PickupStatus,
    /// When it was set aside.
    pub created_at: DateTime<Utc>,
    /// When it was handed over.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    #[serde(default)]
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// What the register does when a sale would take stock below zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SellPolicy {
    /// Sell; the clerk can see the shelf.
    #[default]
    Allow,
    /// Sell, with a warning on the sale.
    Warn,
    /// Refuse with 409 `out_of_stock`.
    Block,
}

/// `GET`/`PUT /v1/settings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PosSettings {
    /// The sell-below-zero policy.
    pub sell_when_out_of_stock: SellPolicy,
}

/// `GET /v1/items`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemList {
    /// Every item, by SKU.
    pub data: Vec<Item>,
}

pub use crate::common::{SetTaxRate, TaxRate, TaxRateList};

/// What made an IN_STOCK count change, as `inventory.count.updated` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InventoryCauseKind {
    /// A `PHYSICAL_COUNT` change.
    Count,
    /// An `ADJUSTMENT` change.
    Adjust,
    /// A register sale.
    Sale,
    /// A restocked return.
    Return,
    /// A pickup handed over in store (RESERVED_FOR_SALE → SOLD).
    Fulfillment,
    /// Units set aside for a pickup (IN_STOCK → RESERVED_FOR_SALE).
    Reserve,
    /// Units of a cancelled pickup put back (RESERVED_FOR_SALE → IN_STOCK).
    Release,
}

/// The cause an inventory event carries back, so that a connector can tell its
/// own writes (echoes) from real changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryCause {
    /// What kind of write.
    pub kind: InventoryCauseKind,
    /// The writer's `reference`, the sale or return id, or the pickup's order ref.
    pub reference: Option<String>,
    /// How much the IN_STOCK count moved because of it: 0 for a change older
    /// than the latest physical count, which leaves stock as it was.
    pub delta: i64,
}

/// The data of an `inventory.count.updated` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InventoryCountUpdated {
    /// The SKU.
    pub sku: String,
    /// The location id.
    pub location: String,
    /// IN_STOCK units after the change.
    pub quantity: i64,
    /// When the change happened on the floor.
    pub occurred_at: DateTime<Utc>,
    /// The `occurred_at` of the latest change that shaped the count.
    pub calculated_at: DateTime<Utc>,
    /// Why it changed.
    pub cause: InventoryCause,
}

/// A typed client for the POS.
#[derive(Clone, Debug)]
pub struct PosClient(pub ApiClient);

impl PosClient {
    /// The customer profiles (`/v1/customers`).
    pub fn customers(&self) -> crate::customer::CustomerClient<'_> {
        crate::customer::CustomerClient(&self.0)
    }
    /// The `/v1/promotions` routes.
    pub fn promotions(&self) -> crate::promotion::PromotionClient<'_> {
        crate::promotion::PromotionClient(&self.0)
    }
    /// `POST /v1/items`.
    pub async fn create_item(
        &self,
        body: &CreateItem,
        key: Option<&str>,
    ) -> Result<Item, ApiError> {
        self.0.post("/v1/items", body, key).await
    }
    /// `PATCH /v1/items/{sku}`.
    pub async fn update_item(&self, sku: &str, body: &UpdateItem) -> Result<Item, ApiError> {
        self.0
            .send(
                http::Method::PATCH,
                &format!("/v1/items/{sku}"),
                Some(body),
                None,
            )
            .await
    }
    /// `GET /v1/items/{sku}`.
    pub async fn item(&self, sku: &str) -> Result<Item, ApiError> {
        self.0.get(&format!("/v1/items/{sku}")).await
    }
    /// `POST /v1/inventory/changes`.
    pub async fn change_inventory(
        &self,
        body: &BatchChangeInventory,
        key: Option<&str>,
    ) -> Result<InventoryCounts, ApiError> {
        self.0.post("/v1/inventory/changes", body, key).await
    }
    /// `GET /v1/inventory/{sku}?location=`.
    pub async fn count(&self, sku: &str, location: &str) -> Result<InventoryCount, ApiError> {
        self.0
            .get(&format!("/v1/inventory/{sku}?location={location}"))
            .await
    }
    /// `POST /v1/sales`.
    pub async fn sale(&self, body: &CreateSale, key: Option<&str>) -> Result<Sale, ApiError> {
        self.0.post("/v1/sales", body, key).await
    }
    /// `POST /v1/returns`.
    pub async fn create_return(
        &self,
        body: &CreateReturn,
        key: Option<&str>,
    ) -> Result<Return, ApiError> {
        self.0.post("/v1/returns", body, key).await
    }
    /// `POST /v1/pickups`.
    pub async fn create_pickup(
        &self,
        body: &CreatePickup,
        key: Option<&str>,
    ) -> Result<Pickup, ApiError> {
        self.0.post("/v1/pickups", body, key).await
    }
    /// `POST /v1/pickups/{order_ref}/complete`.
    pub async fn complete_pickup(
        &self,
        order_ref: &str,
        key: Option<&str>,
    ) -> Result<Pickup, ApiError> {
        self.0
            .post(
                &format!("/v1/pickups/{order_ref}/complete"),
                &serde_json::json!({}),
                key,
            )
            .await
    }
    /// `POST /v1/pickups/{order_ref}/lines`: shorten a ready pickup to what
    /// its order still holds.
    pub async fn update_pickup_lines(
        &self,
        order_ref: &str,
        body: &UpdatePickupLines,
        key: Option<&str>,
    ) -> Result<Pickup, ApiError> {
        self.0
            .post(&format!("/v1/pickups/{order_ref}/lines"), body, key)
            .await
    }
    /// `POST /v1/pickups/{order_ref}/cancel`: release the units set aside.
    pub async fn cancel_pickup(
        &self,
        order_ref: &str,
        key: Option<&str>,
    ) -> Result<Pickup, ApiError> {
        self.0
            .post(
                &format!("/v1/pickups/{order_ref}/cancel"),
                &serde_json::json!({}),
                key,
            )
            .await
    }
    /// `PUT /v1/settings`.
    pub async fn set_settings(&self, body: &PosSettings) -> Result<PosSettings, ApiError> {
        self.0
            .send(http::Method::PUT, "/v1/settings", Some(body), None)
            .await
    }
    /// `GET /v1/settings`.
    pub async fn settings(&self) -> Result<PosSettings, ApiError> {
        self.0.get("/v1/settings").await
    }
    /// `GET /v1/items`.
    pub async fn items(&self) -> Result<ItemList, ApiError> {
        self.0.get("/v1/items").await
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
    /// `GET /v1/tax_rates`.
    pub async fn tax_rates(&self) -> Result<TaxRateList, ApiError> {
        self.0.get("/v1/tax_rates").await
    }
    /// `GET /v1/sales/{id}`.
    pub async fn get_sale(&self, id: &str) -> Result<Sale, ApiError> {
        self.0.get(&format!("/v1/sales/{id}")).await
    }
    /// `GET /v1/returns/{id}`.
    pub async fn get_return(&self, id: &str) -> Result<Return, ApiError> {
        self.0.get(&format!("/v1/returns/{id}")).await
    }
    /// `GET /v1/pickups/{order_ref}`.
    pub async fn pickup(&self, order_ref: &str) -> Result<Pickup, ApiError> {
        self.0.get(&format!("/v1/pickups/{order_ref}")).await
    }
}
