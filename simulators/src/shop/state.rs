//! The ecommerce platform's state machine, modelled on Shopify Admin.
//!
//! [`ShopState`] holds the catalog, inventory levels per SKU × location
//! ([`super::inventory`]), settings, tax rates, discount codes and orders.
//! Every transition validates first and mutates after, emits its events
//! through [`Effects`], and leaves these invariants true (checked after each
//! transition in debug builds, see [`ShopState::invariant_violations`]):
//! - every level has `on_hand = available + committed + unavailable`;
//! - every level's `committed` is the sum of the fulfillable units of the open
//!   orders fulfilled there;
//! - every order's line totals add up to its total, and it never refunds more
//!   than its total.
//!
//! Money on an order follows the gateway: `total_captured` is what the intent
//! received and `total_refunded` what was refunded through it, so their
//! difference is what the gateway holds. A refund before capture moves no
//! money; it lowers what is left to capture (`total_released`). The
//! financial status follows the refunds' goods value (`refunds[].amount`).
//!
//! Operations that call the payment gateway run in phases (see
//! `routes.rs`): `begin_*` validates and reserves (an order id, or the order's
//! payment lock), the route awaits the gateway, and `place_order` /
//! `finish_*` apply the result. While an order's payment lock is held, other
//! writes to that order answer 429 `lock_timeout`, as Stripe does.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use omnisim_api::Scheme;
use omnisim_api::common::{LocationKind, currency_scale, fits_currency, is_currency_code};
use omnisim_api::pay::{CaptureMethod, PaymentIntent, PaymentMethod, Refund};
use omnisim_api::pos::SellPolicy;
use omnisim_api::shop::{
    AdjustInventory, CancelOrder, CaptureOrder, Checkout, CreateDiscountCode, CreateOrderRefund,
    CreateProduct, DiscountCode, DiscountKind, FinancialStatus, FulfillOrder, FulfillmentStatus,
    InventoryCauseKind, InventoryLevel, IssueGiftCard, IssuedGiftCard, Order, OrderLine,
    OrderRefund, OrderRefundLine, OrderStatus, Product, ProductStatus, RestockType, SellGiftCard,
    SetInventory, SetTaxRate, ShopSettings, TaxRate, UpdateProduct,
};
use rust_decimal::Decimal;

use super::inventory::{Change, Inventory, Moves, QUANTITY_MAX};
use super::pricing::{self, Discount, LineInput};
use crate::core::Platform;
use crate::customers::CustomerBook;
use crate::error::{ErrorKind, SimError, SimResult};
use crate::events::Effects;
use crate::locations::Locations;
use crate::money::Scale;
use crate::webhooks::RetryPolicy;

mod transactions;

/// The reasons `POST /v1/inventory/adjust` accepts, as Shopify names them.
pub const ADJUST_REASONS: &[&str] = &[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_received",
    "received",
    "restock",
    "safety_stock",
    "shrinkage",
    "other",
];

/// The channel a checkout sells on when it names none.
pub const DEFAULT_CHANNEL: &str = "online_store";
/// The location an order ships from when it names none.
pub const DEFAULT_LOCATION: &str = "web";
/// The most lines one checkout may have (Shopify's limit).
pub const LINES_MAX: usize = 250;
/// The largest unit price accepted.
pub const PRICE_MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Longest free-text value (references, customers, titles, notes).
pub const TEXT_MAX: usize = 255;

/// Where an order's money stands at the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payment {
    /// Nothing to pay (the total was zero): no intent.
    Free,
    /// An authorization is open (`requires_capture`).
    Authorized,
    /// Money was captured (manual capture, or automatic).
    Captured,
    /// An asynchronous payment is settling (`processing`).
    Pending,
    /// The authorization was voided, or the payment failed: nothing captured.
    Voided,
}

/// What an order line's units did besides what the wire line shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LineBook {
    /// Unfulfilled units refunded (restock `cancel`, or `no_restock`).
    refunded_open: i64,
    /// Fulfilled units refunded (restock `return`, or `no_restock`).
    refunded_fulfilled: i64,
    /// Unfulfilled units released by cancelling the order.
    cancelled_open: i64,
}

/// An order and its bookkeeping.
#[derive(Clone, Debug)]
struct OrderRec {
    /// The wire view, kept current by [`OrderRec::sync`].
    order: Order,
    books: Vec<LineBook>,
    payment: Payment,
}

impl OrderRec {
    /// Recomputes the derived fields of the wire view.
    fn sync(&mut self, now: DateTime<Utc>) {
        for (line, book) in self.order.lines.iter_mut().zip(&self.books) {
            line.fulfillable_quantity =
                line.quantity - line.fulfilled_quantity - book.refunded_open - book.cancelled_open;
            line.refunded_quantity = book.refunded_open + book.refunded_fulfilled;
        }
        self.order.financial_status = self.financial_status();
        self.order.updated_at = now;
    }

    /// What the refunds gave back in goods value, whether the money came
    /// back through the gateway or off the authorization.
    fn refunded_value(&self) -> Decimal {
        self.order.refunds.iter().map(|r| r.amount).sum()
    }

    fn financial_status(&self) -> FinancialStatus {
        let o = &self.order;
        let cancelled = o.status == OrderStatus::Cancelled;
        let refunded = self.refunded_value();
        match self.payment {
            Payment::Pending => FinancialStatus::Pending,
            Payment::Voided => FinancialStatus::Voided,
            Payment::Free | Payment::Authorized if cancelled => FinancialStatus::Voided,
            Payment::Captured if cancelled => FinancialStatus::Refunded,
            _ if o.total > Decimal::ZERO && refunded >= o.total => FinancialStatus::Refunded,
            _ if refunded > Decimal::ZERO => FinancialStatus::PartiallyRefunded,
            _ if o.total_captured >= o.total => FinancialStatus::Paid,
            _ if o.total_captured > Decimal::ZERO => FinancialStatus::PartiallyPaid,
            _ => FinancialStatus::Authorized,
        }
    }

    /// Fulfilment status after units were handed over or refunded.
    fn settle_fulfillment(&mut self) {
        let fulfilled: i64 = self.order.lines.iter().map(|l| l.fulfilled_quantity).sum();
        let open: i64 = self
            .order
            .lines
            .iter()
            .map(|l| l.fulfillable_quantity)
            .sum();
        if fulfilled > 0 {
            self.order.fulfillment_status = if open == 0 {
                FulfillmentStatus::Fulfilled
            } else {
                FulfillmentStatus::Partial
            };
        }
    }

    /// Fulfilled units of line `i` not refunded yet.
    fn returnable(&self, i: usize) -> i64 {
        self.order.lines[i].fulfilled_quantity - self.books[i].refunded_fulfilled
    }

    /// The gateway idempotency key of this order's payment step `what`. Each
    /// step has one key for good, so that a retry after an unknown outcome
    /// (a timeout) replays at the gateway instead of repeating. The creation
    /// time keeps keys apart across resets of the shop alone.
    fn pay_key(&self, what: &str) -> String {
        format!(
            "shop-{}-{}-{what}",
            self.order.id,
            self.order.created_at.timestamp_millis()
        )
    }

    fn line_index(&self, line_id: &str) -> Option<usize> {
        self.order.lines.iter().position(|l| l.id == line_id)
    }
}

/// A checkout validated and priced, with its order id reserved, waiting for
/// the gateway's answer.
#[derive(Clone, Debug)]
pub struct CheckoutDraft {
    /// The order to be (lines carry no ids yet, payment fields are empty).
    pub order: Order,
    /// How the customer pays.
    pub payment: PaymentMethod,
    /// The gateway idempotency key of the authorization.
    pub pay_key: String,
}

/// What the gateway did with a checkout's payment.
#[derive(Clone, Debug)]
pub enum PaymentOutcome {
    /// Nothing to pay.
    Free,
    /// Authorized, to be captured later.
    Authorized(PaymentIntent),
    /// Captured at once.
    Captured(PaymentIntent),
    /// Settling asynchronously.
    Pending(PaymentIntent),
}

/// A gateway call an order operation needs, decided under the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayStep {
    /// None.
    Nothing,
    /// Capture `amount` of the intent.
    Capture {
        /// The intent.
        intent: String,
        /// How much.
        amount: Decimal,
    },
    /// Void the open authorization (or cancel a pending payment).
    Cancel {
        /// The intent.
        intent: String,
    },
    /// Refund `amount` of what was captured.
    Refund {
        /// The intent.
        intent: String,
        /// How much.
        amount: Decimal,
    },
}

/// An order operation whose gateway step is pending. The order's payment
/// lock is held until the route releases it.
#[derive(Clone, Debug)]
pub struct OrderPlan {
    /// The order.
    pub order_id: String,
    /// The gateway step.
    pub step: PayStep,
    /// The gateway idempotency key of the step.
    pub pay_key: String,
}

/// A refund validated and priced, waiting for its gateway step.
#[derive(Clone, Debug)]
pub struct RefundPlan {
    /// The order and its gateway step.
    pub plan: OrderPlan,
    /// The refund to record, without its gateway refund id.
    pub refund: OrderRefund,
    /// Per refund line: units taken from unfulfilled and from fulfilled units.
    splits: Vec<(usize, i64, i64)>,
}

/// Everything the shop knows.
#[derive(Debug)]
pub struct ShopState {
    locations: Locations,
    settings: ShopSettings,
    products: BTreeMap<String, Product>,
    inventory: Inventory,
    tax_rates: BTreeMap<String, Decimal>,
    discounts: BTreeMap<String, DiscountCode>,
    orders: BTreeMap<String, OrderRec>,
    /// Orders whose payment lock is held.
    busy: BTreeSet<String>,
    /// Customer profiles (`customers/create`, `customers/update`).
    pub(crate) customers: CustomerBook,
    /// Automatic promotions (`promotions/create`, `promotions/update`).
    pub(crate) promotions: crate::promotions::PromotionBook,
    next_order: u64,
    next_line: u64,
    next_refund: u64,
    /// The Shopify dialect's numeric ids of products and locations, and the
    /// records Shopify keeps that the model does not (fulfillments).
    pub(crate) shopify: crate::dialects::shopify::Ids,
}

impl Default for ShopState {
    fn default() -> Self {
        ShopState {
            locations: Locations::with(&[
                ("web", "Online store", LocationKind::Online),
                ("store-1", "Store 1", LocationKind::Store),
            ]),
            settings: ShopSettings::default(),
            products: BTreeMap::new(),
            inventory: Inventory::default(),
            tax_rates: BTreeMap::new(),
            discounts: BTreeMap::new(),
            orders: BTreeMap::new(),
            busy: BTreeSet::new(),
            customers: CustomerBook::new("cus", "customers/create", "customers/update")
                .with_unique_phones(),
            promotions: crate::promotions::PromotionBook::new(
                "promo",
                "promotions/create",
                "promotions/update",
            ),
            next_order: 0,
            next_line: 0,
            next_refund: 0,
            shopify: crate::dialects::shopify::Ids::default(),
        }
    }
}

// ---------------------------------------------------------------- validation

/// SKUs and codes travel in paths: printable ASCII without `/ ? # %` or spaces.
fn check_key(field: &str, what: &str, value: &str) -> SimResult<()> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'));
    if ok {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            format!(
                "a {what} is 1 to 128 printable characters without spaces, `/`, `?`, `#` or `%`"
            ),
        ))
    }
}

/// Channel names: 1 to 64 of `a-z`, `0-9`, `_`, `-`.
fn check_channel(field: &str, channel: &str) -> SimResult<()> {
    let ok = !channel.is_empty()
        && channel.len() <= 64
        && channel
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            "a channel is 1 to 64 of `a-z`, `0-9`, `_` and `-`",
        ))
    }
}

fn check_text(field: &str, value: &str, required: bool) -> SimResult<()> {
    if required && value.trim().is_empty() {
        return Err(SimError::bad_value(
            field,
            format!("`{field}` may not be empty"),
        ));
    }
    if value.chars().count() > TEXT_MAX {
        return Err(SimError::bad_value(
            field,
            format!("`{field}` is at most {TEXT_MAX} characters"),
        ));
    }
    Ok(())
}

fn check_currency(field: &str, currency: &str) -> SimResult<()> {
    if is_currency_code(currency) {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            format!("`{currency}` is not a three-letter upper-case ISO 4217 code"),
        ))
    }
}

fn check_price(field: &str, price: Decimal, currency: &str) -> SimResult<()> {
    if price < Decimal::ZERO || price > PRICE_MAX {
        return Err(SimError::bad_value(
            field,
            format!("a price is from 0 to {PRICE_MAX}, not {price}"),
        ));
    }
    if !fits_currency(price, currency) {
        return Err(SimError::bad_value(
            field,
            format!("{price} has more decimals than {currency} allows"),
        ));
    }
    Ok(())
}

fn check_quantity(field: &str, quantity: i64) -> SimResult<()> {
    if (1..=QUANTITY_MAX).contains(&quantity) {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            format!("a quantity is from 1 to {QUANTITY_MAX}, not {quantity}"),
        ))
    }
}

fn check_channels(channels: &BTreeMap<String, ProductStatus>) -> SimResult<()> {
    for name in channels.keys() {
        check_channel(&format!("channels.{name}"), name)?;
    }
    Ok(())
}

fn check_reference(reference: Option<&str>) -> SimResult<()> {
    reference.map_or(Ok(()), |r| check_text("reference", r, true))
}

fn unknown_sku(field: impl Into<String>, sku: &str) -> SimError {
    SimError::not_found("unknown_sku", format!("no product with SKU `{sku}`")).field(field)
}

fn unknown_order(id: &str) -> SimError {
    SimError::not_found("unknown_order", format!("no order `{id}`"))
}

fn stale(actual: i64, expected: i64) -> SimError {
    SimError::conflict(
        "change_from_quantity_stale",
        format!("available is {actual}, not {expected} as `change_from` expects"),
    )
    .field("change_from")
}

fn order_cancelled(id: &str) -> SimError {
    SimError::conflict("order_cancelled", format!("order `{id}` is cancelled"))
}

fn busy(id: &str) -> SimError {
    SimError::new(
        ErrorKind::RateLimited,
        "lock_timeout",
        format!("another payment operation on order `{id}` is in progress; retry shortly"),
    )
    .retry_after(1)
}

fn line_field(i: usize, name: &str) -> String {
    format!("lines[{i}].{name}")
}

// --------------------------------------------------------------- transitions

impl ShopState {
    fn product(&self, field: impl Into<String>, sku: &str) -> SimResult<&Product> {
        self.products
            .get(sku)
            .ok_or_else(|| unknown_sku(field, sku))
    }

    fn rec(&self, id: &str) -> SimResult<&OrderRec> {
        self.orders.get(id).ok_or_else(|| unknown_order(id))
    }

    fn rec_mut(&mut self, id: &str) -> SimResult<&mut OrderRec> {
        self.orders.get_mut(id).ok_or_else(|| unknown_order(id))
    }

    /// An order that exists, is not locked and is open.
    fn writable(&self, id: &str) -> SimResult<&OrderRec> {
        let rec = self.rec(id)?;
        if self.busy.contains(id) {
            return Err(busy(id));
        }
        if rec.order.status == OrderStatus::Cancelled {
            return Err(order_cancelled(id));
        }
        Ok(rec)
    }

    fn tax_rate(&self, code: Option<&str>) -> Decimal {
        code.and_then(|c| self.tax_rates.get(c))
            .copied()
            .unwrap_or(Decimal::ZERO)
    }

    fn level_view(&self, sku: &str, location: &str) -> InventoryLevel {
        let since = self
            .products
            .get(sku)
            .map_or(DateTime::<Utc>::UNIX_EPOCH, |p| p.created_at);
        self.inventory.view(sku, location, since)
    }

    fn check_invariants(&self) {
        debug_assert!(
            self.invariant_violations().is_empty(),
            "shop invariants broken: {:?}",
            self.invariant_violations()
        );
    }

    // ---- products

    /// `POST /v1/products`: emits `products/update`.
    pub fn create_product(&mut self, fx: &mut Effects, req: CreateProduct) -> SimResult<Product> {
        check_key("sku", "SKU", &req.sku)?;
        check_text("title", &req.title, true)?;
        check_currency("currency", &req.currency)?;
        check_price("price", req.price, &req.currency)?;
        if let Some(code) = &req.tax_code {
            check_key("tax_code", "tax code", code)?;
        }
        check_channels(&req.channels)?;
        if self.products.contains_key(&req.sku) {
            return Err(SimError::conflict(
                "sku_exists",
                format!("a product with SKU `{}` exists", req.sku),
            )
            .field("sku"));
        }
        let now = fx.now();
        let product = Product {
            sku: req.sku,
            title: req.title,
            price: req.price.normalize(),
            currency: req.currency,
            tax_code: req.tax_code,
            status: req.status,
            channels: req.channels,
            created_at: now,
            updated_at: now,
        };
        self.products.insert(product.sku.clone(), product.clone());
        self.shopify.number_product(&product.sku);
        fx.emit("products/update", &product);
        self.check_invariants();
        Ok(product)
    }

    /// `PATCH /v1/products/{sku}`: emits `products/update` when anything
    /// changed. An empty `tax_code` clears it.
    pub fn update_product(
        &mut self,
        fx: &mut Effects,
        sku: &str,
        req: UpdateProduct,
    ) -> SimResult<Product> {
        let old = self.product("sku", sku)?.clone();
        let mut new = old.clone();
        if let Some(title) = req.title {
            check_text("title", &title, true)?;
            new.title = title;
        }
        if let Some(currency) = req.currency {
            check_currency("currency", &currency)?;
            new.currency = currency;
        }
        if let Some(price) = req.price {
            new.price = price.normalize();
        }
        let price_field = if req.price.is_some() {
            "price"
        } else {
            "currency"
        };
        check_price(price_field, new.price, &new.currency)?;
        if let Some(code) = req.tax_code {
            if code.is_empty() {
                new.tax_code = None;
            } else {
                check_key("tax_code", "tax code", &code)?;
                new.tax_code = Some(code);
            }
        }
        if let Some(status) = req.status {
            new.status = status;
        }
        if let Some(channels) = req.channels {
            check_channels(&channels)?;
            new.channels.extend(channels);
        }
        if new == old {
            return Ok(old);
        }
        new.updated_at = fx.now();
        self.products.insert(sku.to_owned(), new.clone());
        fx.emit("products/update", &new);
        self.check_invariants();
        Ok(new)
    }

    /// `GET /v1/products/{sku}`.
    pub fn get_product(&self, sku: &str) -> SimResult<Product> {
        self.product("sku", sku).cloned()
    }

    /// `GET /v1/products`, by SKU.
    pub fn list_products(&self) -> Vec<Product> {
        self.products.values().cloned().collect()
    }

    // ---- inventory

    /// `GET /v1/inventory/{sku}?location=`.
    pub fn get_level(&self, sku: &str, location: &str) -> SimResult<InventoryLevel> {
        self.product("sku", sku)?;
        self.locations.require("location", location)?;
        Ok(self.level_view(sku, location))
    }

    /// `GET /v1/inventory_levels`: every known SKU at every known location,
    /// optionally only one SKU and/or one location.
    pub fn list_levels(
        &self,
        sku: Option<&str>,
        location: Option<&str>,
    ) -> SimResult<Vec<InventoryLevel>> {
        if let Some(sku) = sku {
            self.product("sku", sku)?;
        }
        if let Some(location) = location {
            self.locations.require("location", location)?;
        }
        let mut out = Vec::new();
        for s in self.products.keys() {
            if sku.is_some_and(|want| want != s) {
                continue;
            }
            for l in self.locations.ids() {
                if location.is_some_and(|want| want != l) {
                    continue;
                }
                out.push(self.level_view(s, l));
            }
        }
        Ok(out)
    }

    /// `POST /v1/inventory/adjust`: adds `delta` to `available` and
    /// `on_hand`; `available` may go negative.
    pub fn adjust(&mut self, fx: &mut Effects, req: AdjustInventory) -> SimResult<InventoryLevel> {
        self.product("sku", &req.sku)?;
        self.locations.require("location", &req.location)?;
        if req.delta == 0 || req.delta.unsigned_abs() > QUANTITY_MAX.unsigned_abs() {
            return Err(SimError::bad_value(
                "delta",
                format!("a delta is non-zero and at most {QUANTITY_MAX} either way"),
            ));
        }
        if !ADJUST_REASONS.contains(&req.reason.as_str()) {
            return Err(SimError::bad_value(
                "reason",
                format!(
                    "`{}` is not a reason; use one of {}",
                    req.reason,
                    ADJUST_REASONS.join(", ")
                ),
            ));
        }
        check_reference(req.reference.as_deref())?;
        let current = self.inventory.get(&req.sku, &req.location).available;
        if let Some(expected) = req.change_from
            && expected != current
        {
            return Err(stale(current, expected));
        }
        let mut moves = Moves::new();
        moves.add(&req.sku, &req.location, Change::stock(req.delta));
        self.inventory.apply(
            fx,
            moves,
            InventoryCauseKind::Adjust,
            req.reference.as_deref(),
        );
        self.check_invariants();
        Ok(self.level_view(&req.sku, &req.location))
    }

    /// `POST /v1/inventory/set`: makes `available` exactly the value given
    /// (`on_hand` moves by the same difference). Setting the value it already
    /// has changes nothing and emits nothing.
    pub fn set(&mut self, fx: &mut Effects, req: SetInventory) -> SimResult<InventoryLevel> {
        self.product("sku", &req.sku)?;
        self.locations.require("location", &req.location)?;
        if !(0..=QUANTITY_MAX).contains(&req.available) {
            return Err(SimError::bad_value(
                "available",
                format!("available is set from 0 to {QUANTITY_MAX}"),
            ));
        }
        check_reference(req.reference.as_deref())?;
        let current = self.inventory.get(&req.sku, &req.location).available;
        if let Some(expected) = req.change_from
            && expected != current
        {
            return Err(stale(current, expected));
        }
        let mut moves = Moves::new();
        moves.add(
            &req.sku,
            &req.location,
            Change::stock(req.available - current),
        );
        self.inventory
            .apply(fx, moves, InventoryCauseKind::Set, req.reference.as_deref());
        self.check_invariants();
        Ok(self.level_view(&req.sku, &req.location))
    }

    // ---- settings, taxes, discounts

    /// `GET /v1/settings`.
    pub fn settings(&self) -> ShopSettings {
        self.settings.clone()
    }

    /// `PUT /v1/settings`: `warn` is a POS policy, refused here.
    pub fn put_settings(&mut self, req: ShopSettings) -> SimResult<ShopSettings> {
        if req.sell_when_out_of_stock == SellPolicy::Warn {
            return Err(SimError::bad_value(
                "sell_when_out_of_stock",
                "the shop either allows or blocks selling out of stock; `warn` is a POS policy",
            ));
        }
        self.settings = req;
        Ok(self.settings.clone())
    }

    /// `PUT /v1/tax_rates/{code}`.
    pub fn put_tax_rate(&mut self, code: &str, req: SetTaxRate) -> SimResult<TaxRate> {
        check_key("code", "tax code", code)?;
        if req.rate < Decimal::ZERO || req.rate >= Decimal::ONE {
            return Err(SimError::bad_value(
                "rate",
                format!(
                    "a rate is a fraction from 0 up to (not including) 1, not {}",
                    req.rate
                ),
            ));
        }
        let rate = req.rate.normalize();
        self.tax_rates.insert(code.to_owned(), rate);
        Ok(TaxRate {
            code: code.to_owned(),
            rate,
        })
    }

    /// `GET /v1/tax_rates`, by code.
    pub fn list_tax_rates(&self) -> Vec<TaxRate> {
        self.tax_rates
            .iter()
            .map(|(code, rate)| TaxRate {
                code: code.clone(),
                rate: *rate,
            })
            .collect()
    }

    /// `POST /v1/discount_codes`.
    pub fn create_discount(&mut self, req: CreateDiscountCode) -> SimResult<DiscountCode> {
        check_key("code", "discount code", &req.code)?;
        match req.kind {
            DiscountKind::Percentage => {
                if req.value <= Decimal::ZERO || req.value > Decimal::ONE_HUNDRED {
                    return Err(SimError::bad_value(
                        "value",
                        "a percentage is over 0 and at most 100",
                    ));
                }
                if req.currency.is_some() {
                    return Err(SimError::bad_value(
                        "currency",
                        "only a fixed amount has a currency",
                    ));
                }
            }
            DiscountKind::FixedAmount => {
                if req.value <= Decimal::ZERO || req.value > PRICE_MAX {
                    return Err(SimError::bad_value(
                        "value",
                        format!("a fixed amount is over 0 and at most {PRICE_MAX}"),
                    ));
                }
                if let Some(c) = &req.currency {
                    check_currency("currency", c)?;
                }
                let scale = req.currency.as_deref().map_or(2, currency_scale);
                if req.value.normalize().scale() > scale {
                    return Err(SimError::bad_value(
                        "value",
                        format!("{} has more than {scale} decimals", req.value),
                    ));
                }
            }
        }
        if req.usage_limit == Some(0) {
            return Err(SimError::bad_value(
                "usage_limit",
                "a usage limit is at least 1; leave it out for no limit",
            ));
        }
        if self.discounts.contains_key(&req.code) {
            return Err(SimError::conflict(
                "discount_code_exists",
                format!("discount code `{}` exists", req.code),
            )
            .field("code"));
        }
        let code = DiscountCode {
            code: req.code,
            kind: req.kind,
            value: req.value.normalize(),
            usage_limit: req.usage_limit,
            times_used: 0,
            currency: req.currency,
        };
        self.discounts.insert(code.code.clone(), code.clone());
        Ok(code)
    }

    /// `GET /v1/discount_codes/{code}`.
    pub fn get_discount(&self, code: &str) -> SimResult<DiscountCode> {
        self.discounts.get(code).cloned().ok_or_else(|| {
            SimError::not_found(
                "unknown_discount_code",
                format!("no discount code `{code}`"),
            )
            .field("code")
        })
    }

    /// `GET /v1/discount_codes`, by code.
    pub fn list_discounts(&self) -> Vec<DiscountCode> {
        self.discounts.values().cloned().collect()
    }

    /// The discount `code` for an order in `currency`, or why it does not
    /// apply.
    fn usable_discount(&self, code: &str, currency: &str) -> SimResult<Discount> {
        let d = self.discounts.get(code).ok_or_else(|| {
            SimError::invalid(
                "unknown_discount_code",
                format!("no discount code `{code}`"),
            )
            .field("discount_code")
        })?;
        if d.usage_limit.is_some_and(|limit| d.times_used >= limit) {
            return Err(SimError::invalid(
                "discount_unavailable",
                format!("discount code `{code}` has been used up"),
            )
            .field("discount_code"));
        }
        if let Some(only) = d.currency.as_deref()
            && only != currency
        {
            return Err(SimError::invalid(
                "discount_unavailable",
                format!("discount code `{code}` applies to {only} orders only"),
            )
            .field("discount_code"));
        }
        Ok(match d.kind {
            DiscountKind::Percentage => Discount::Percentage(d.value),
            DiscountKind::FixedAmount => Discount::Fixed(d.value),
        })
    }

    /// Under the block policy, the first line whose SKU's units (summed over
    /// the lines so far) exceed `available` at `location`.
    fn out_of_stock(&self, lines: &[(String, i64)], location: &str) -> SimResult<()> {
        if self.settings.sell_when_out_of_stock != SellPolicy::Block {
            return Ok(());
        }
        let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
        for (i, (sku, quantity)) in lines.iter().enumerate() {
            let w = wanted.entry(sku).or_default();
            *w += quantity;
            let available = self.inventory.get(sku, location).available;
            if *w > available {
                return Err(SimError::conflict(
                    "out_of_stock",
                    format!(
                        "only {} of `{sku}` available at `{location}`, {w} wanted",
                        available.max(0)
                    ),
                )
                .field(line_field(i, "sku")));
            }
        }
        Ok(())
    }

    // ---- checkout

    /// `POST /v1/orders`, phase 1: validates and prices the checkout and
    /// reserves its order id and name.
    pub fn begin_checkout(&mut self, fx: &mut Effects, req: Checkout) -> SimResult<CheckoutDraft> {
        if req.lines.is_empty() || req.lines.len() > LINES_MAX {
            return Err(SimError::bad_value(
                "lines",
                format!("a checkout has 1 to {LINES_MAX} lines"),
            ));
        }
        let channel = req.channel.as_deref().unwrap_or(DEFAULT_CHANNEL).to_owned();
        check_channel("channel", &channel)?;
        let mut products = Vec::with_capacity(req.lines.len());
        for (i, line) in req.lines.iter().enumerate() {
            check_quantity(&line_field(i, "quantity"), line.quantity)?;
            let product = self.product(line_field(i, "sku"), &line.sku)?;
            let status = product
                .channels
                .get(&channel)
                .copied()
                .unwrap_or(product.status);
            if status != ProductStatus::Active {
                return Err(SimError::invalid(
                    "product_unavailable",
                    format!("`{}` is not for sale on `{channel}`", line.sku),
                )
                .field(line_field(i, "sku")));
            }
            products.push(product);
        }
        let currency = products[0].currency.clone();
        if let Some(i) = products.iter().position(|p| p.currency != currency) {
            return Err(SimError::invalid(
                "currency_mismatch",
                format!(
                    "`{}` is priced in {}, the order in {currency}",
                    products[i].sku, products[i].currency
                ),
            )
            .field(line_field(i, "sku")));
        }
        if let Some(pickup) = &req.pickup_location {
            self.locations.require("pickup_location", pickup)?;
        }
        if let Some(location) = &req.location {
            self.locations.require("location", location)?;
        }
        let location = match (&req.pickup_location, &req.location) {
            (Some(pickup), Some(location)) if pickup != location => {
                return Err(SimError::bad_value(
                    "location",
                    "a pickup order is fulfilled at its pickup location",
                ));
            }
            (Some(pickup), _) => pickup.clone(),
            (None, Some(location)) => location.clone(),
            (None, None) => {
                self.locations.require("location", DEFAULT_LOCATION)?;
                DEFAULT_LOCATION.to_owned()
            }
        };
        if let Some(customer) = &req.customer {
            check_text("customer", customer, false)?;
        }
        if matches!(req.payment, PaymentMethod::CardPresent { .. }) {
            return Err(SimError::bad_value(
                "payment",
                "an online checkout takes card-not-present payments, not `card_present`",
            ));
        }
        let discount = match &req.discount_code {
            Some(code) => Some(self.usable_discount(code, &currency)?),
            None => None,
        };
        let wanted: Vec<(String, i64)> = req
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        self.out_of_stock(&wanted, &location)?;

        let inputs: Vec<LineInput> = req
            .lines
            .iter()
            .zip(&products)
            .map(|(l, p)| LineInput {
                price: p.price,
                quantity: l.quantity,
                tax_rate: self.tax_rate(p.tax_code.as_deref()),
            })
            .collect();
        // A discount code and an automatic promotion never combine: the code
        // the customer typed wins; without one, the best running promotion.
        let (promotion, priced) = match discount {
            Some(d) => (None, pricing::price_lines(&inputs, Some(d), &currency)),
            None => {
                let priced_lines: Vec<omnisim_api::promotion::PricedLine<'_>> = req
                    .lines
                    .iter()
                    .zip(&products)
                    .map(|(l, p)| omnisim_api::promotion::PricedLine {
                        sku: &l.sku,
                        price: p.price,
                        quantity: l.quantity,
                    })
                    .collect();
                match self.promotions.price(fx.now(), &priced_lines, &currency) {
                    Some((id, off)) => {
                        (Some(id), pricing::price_lines_off(&inputs, &off, &currency))
                    }
                    None => (None, pricing::price_lines(&inputs, None, &currency)),
                }
            }
        };
        let lines: Vec<OrderLine> = req
            .lines
            .iter()
            .zip(&products)
            .zip(&priced)
            .map(|((l, p), price)| OrderLine {
                id: String::new(),
                sku: l.sku.clone(),
                title: p.title.clone(),
                quantity: l.quantity,
                price: p.price,
                discount: price.discount,
                tax: price.tax,
                total: price.total,
                fulfilled_quantity: 0,
                fulfillable_quantity: l.quantity,
                refunded_quantity: 0,
                refunded_amount: Decimal::ZERO,
            })
            .collect();
        let subtotal = priced.iter().map(|p| p.subtotal).sum();
        let discount_total = priced.iter().map(|p| p.discount).sum();
        let tax_total = priced.iter().map(|p| p.tax).sum();
        let total = priced.iter().map(|p| p.total).sum();

        self.next_order += 1;
        let now = fx.now();
        let order = Order {
            id: format!("ord_{:06}", self.next_order),
            name: format!("#{}", 1000 + self.next_order),
            status: OrderStatus::Open,
            customer: req.customer,
            lines,
            location,
            pickup_location: req.pickup_location,
            financial_status: FinancialStatus::Pending,
            fulfillment_status: FulfillmentStatus::Unfulfilled,
            payment_intent: None,
            capture_method: if matches!(req.payment, PaymentMethod::BankTransfer { .. }) {
                // A transfer cannot be held: it settles, or fails, by itself.
                CaptureMethod::Automatic
            } else {
                req.capture
            },
            channel,
            currency,
            subtotal,
            discount_total,
            tax_total,
            total,
            total_captured: Decimal::ZERO,
            total_capturable: Decimal::ZERO,
            total_refunded: Decimal::ZERO,
            total_released: Decimal::ZERO,
            discount_code: req.discount_code,
            promotion,
            refunds: Vec::new(),
            cancelled_at: None,
            cancel_reason: None,
            created_at: now,
            updated_at: now,
        };
        let pay_key = format!("shop-{}-{}-authorize", order.id, now.timestamp_millis());
        Ok(CheckoutDraft {
            order,
            payment: req.payment,
            pay_key,
        })
    }

    /// `POST /v1/orders`, phase 3: creates the order and commits its stock.
    /// Fails with 409 `out_of_stock` (or 422 `discount_unavailable`) if a
    /// concurrent checkout took what this one needed; the route then voids
    /// the authorization. Emits `orders/create`, one `inventory_levels/update`
    /// per level and, when paid, `orders/paid`.
    pub fn place_order(
        &mut self,
        fx: &mut Effects,
        draft: CheckoutDraft,
        outcome: PaymentOutcome,
    ) -> SimResult<Order> {
        let mut order = draft.order;
        let wanted: Vec<(String, i64)> = order
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        self.out_of_stock(&wanted, &order.location)?;
        if let Some(code) = &order.discount_code {
            self.usable_discount(code, &order.currency)?;
        }

        let payment = match &outcome {
            PaymentOutcome::Free => Payment::Free,
            PaymentOutcome::Authorized(pi) => {
                order.total_capturable = pi.amount_capturable;
                Payment::Authorized
            }
            PaymentOutcome::Captured(pi) => {
                order.total_captured = pi.amount_received;
                Payment::Captured
            }
            PaymentOutcome::Pending(_) => Payment::Pending,
        };
        order.payment_intent = match outcome {
            PaymentOutcome::Free => None,
            PaymentOutcome::Authorized(pi)
            | PaymentOutcome::Captured(pi)
            | PaymentOutcome::Pending(pi) => Some(pi.id),
        };
        if let Some(code) = &order.discount_code
            && let Some(d) = self.discounts.get_mut(code)
        {
            d.times_used += 1;
        }
        let mut moves = Moves::new();
        for line in &mut order.lines {
            self.next_line += 1;
            line.id = format!("line_{:06}", self.next_line);
            moves.add(&line.sku, &order.location, Change::commit(line.quantity));
        }
        let mut rec = OrderRec {
            books: vec![LineBook::default(); order.lines.len()],
            order,
            payment,
        };
        rec.sync(fx.now());
        let order = rec.order.clone();
        self.orders.insert(order.id.clone(), rec);
        fx.emit("orders/create", &order);
        self.inventory
            .apply(fx, moves, InventoryCauseKind::Order, Some(&order.id));
        if matches!(
            order.financial_status,
            FinancialStatus::Paid | FinancialStatus::PartiallyPaid
        ) {
            fx.emit("orders/paid", &order);
        }
        self.check_invariants();
        Ok(order)
    }

    // ---- gift cards

    /// `POST /v1/gift_cards`, phase 1: validates a gift card bought online
    /// and gives the purchase its currency, time and gateway key base. The
    /// shop keeps no gift-card ledger of its own: the card lives at the
    /// gateway, the payment that paid for it names it in its metadata.
    pub fn begin_gift_card_sale(
        &self,
        fx: &mut Effects,
        req: &SellGiftCard,
    ) -> SimResult<(String, DateTime<Utc>, String)> {
        let currency = gift_card_terms(&req.code, req.amount, req.currency.as_deref())?;
        if let Some(customer) = &req.customer {
            check_text("customer", customer, false)?;
        }
        let refused = match req.payment {
            PaymentMethod::CardPresent { .. } => {
                Some("an online purchase takes card-not-present payments, not `card_present`")
            }
            PaymentMethod::BankTransfer { .. } => Some(
                "a gift card is delivered at once, so it is paid at once: not by a bank transfer, which settles later",
            ),
            PaymentMethod::GiftCard { .. } => {
                Some("a gift card is not paid for with another gift card")
            }
            _ => None,
        };
        if let Some(why) = refused {
            return Err(SimError::bad_value("payment", why));
        }
        let now = fx.now();
        let key = format!("shop-gift-card-{}-{}", req.code, now.timestamp_millis());
        Ok((currency, now, key))
    }

    /// `POST /v1/gift_cards/issue`, phase 1: validates a card the merchant
    /// issues without a sale, and gives it its currency and gateway key.
    pub fn begin_gift_card_issue(
        &self,
        fx: &mut Effects,
        req: &IssueGiftCard,
    ) -> SimResult<(String, String)> {
        let currency = gift_card_terms(&req.code, req.amount, req.currency.as_deref())?;
        check_text("reason", &req.reason, true)?;
        if let Some(customer) = &req.customer {
            check_text("customer", customer, false)?;
        }
        let key = format!(
            "shop-gift-card-issue-{}-{}",
            req.code,
            fx.now().timestamp_millis()
        );
        Ok((currency, key))
    }

    /// `POST /v1/gift_cards/issue`, phase 2: the gateway issued the card;
    /// the shop records it (`gift_cards/issued`), the card's only source.
    pub fn record_gift_card_issue(
        &mut self,
        fx: &mut Effects,
        req: &IssueGiftCard,
        currency: String,
    ) -> IssuedGiftCard {
        let issued = IssuedGiftCard {
            code: req.code.clone(),
            amount: req.amount,
            currency,
            reason: req.reason.clone(),
            customer: req.customer.clone(),
            created_at: fx.now(),
        }
        .scaled();
        fx.emit("gift_cards/issued", &issued);
        issued
    }

    // ---- reads

    /// `GET /v1/orders/{id}`.
    pub fn get_order(&self, id: &str) -> SimResult<Order> {
        self.rec(id).map(|r| r.order.clone())
    }

    /// `GET /v1/orders`, oldest first.
    pub fn list_orders(&self) -> Vec<Order> {
        self.orders.values().map(|r| r.order.clone()).collect()
    }

    /// The orders whose payment is still settling.
    pub fn pending_orders(&self) -> Vec<String> {
        self.orders
            .values()
            .filter(|r| r.payment == Payment::Pending)
            .map(|r| r.order.id.clone())
            .collect()
    }

    /// The intent of an order whose payment is still settling (or, with
    /// `authorized_too`, only authorized), if it is.
    pub fn intent_to_refresh(&self, id: &str, authorized_too: bool) -> SimResult<Option<String>> {
        let rec = self.rec(id)?;
        Ok(match rec.payment {
            Payment::Pending => rec.order.payment_intent.clone(),
            Payment::Authorized if authorized_too => rec.order.payment_intent.clone(),
            _ => None,
        })
    }

    /// Brings a pending or authorized order up to date with its intent as the
    /// gateway reports it: settled or captured elsewhere (`orders/paid`),
    /// authorized, failed, voided or expired, or unchanged.
    pub fn sync_payment(
        &mut self,
        fx: &mut Effects,
        id: &str,
        intent: &PaymentIntent,
    ) -> SimResult<Order> {
        use omnisim_api::pay::IntentStatus;
        let now = fx.now();
        let rec = self.rec_mut(id)?;
        let open = matches!(rec.payment, Payment::Pending | Payment::Authorized);
        if !open || rec.order.payment_intent.as_deref() != Some(intent.id.as_str()) {
            return Ok(rec.order.clone());
        }
        let paid = match intent.status {
            IntentStatus::Succeeded => {
                rec.payment = Payment::Captured;
                rec.order.total_captured = intent.amount_received;
                rec.order.total_capturable = Decimal::ZERO;
                true
            }
            IntentStatus::RequiresCapture if rec.payment == Payment::Authorized => {
                return Ok(rec.order.clone());
            }
            IntentStatus::RequiresCapture => {
                rec.payment = Payment::Authorized;
                rec.order.total_capturable = intent.amount_capturable;
                false
            }
            IntentStatus::Canceled | IntentStatus::RequiresPaymentMethod => {
                rec.payment = Payment::Voided;
                rec.order.total_capturable = Decimal::ZERO;
                false
            }
            IntentStatus::Processing
            | IntentStatus::RequiresAction
            | IntentStatus::RequiresConfirmation => {
                return Ok(rec.order.clone());
            }
        };
        rec.sync(now);
        let order = rec.order.clone();
        if paid {
            fx.emit("orders/paid", &order);
        }
        self.check_invariants();
        Ok(order)
    }

    /// Releases an order's payment lock (the route's guard calls this).
    pub fn release(&mut self, id: &str) {
        self.busy.remove(id);
    }

    /// Takes the order's payment lock and plans its gateway step for the
    /// operation `op` (`capture`, `cancel`, or `refund<n>` for the n-th refund).
    /// The same operation retried gets the same key; a refund's key also
    /// names its amount, so that a different refund is a new one.
    fn lock(&mut self, id: &str, op: &str, step: PayStep) -> SimResult<OrderPlan> {
        let rec = self.rec(id)?;
        let pay_key = match &step {
            PayStep::Nothing => String::new(),
            PayStep::Capture { .. } => rec.pay_key(op),
            PayStep::Cancel { .. } => rec.pay_key(&format!("{op}-void")),
            PayStep::Refund { amount, .. } => rec.pay_key(&format!("{op}-refund-{amount}")),
        };
        let plan = OrderPlan {
            order_id: id.to_owned(),
            step,
            pay_key,
        };
        self.busy.insert(id.to_owned());
        Ok(plan)
    }

    // ---- capture

    /// `POST /v1/orders/{id}/capture`, phase 1: checks the amount against
    /// what is still authorized and takes the order's payment lock.
    pub fn begin_capture(&mut self, id: &str, req: &CaptureOrder) -> SimResult<OrderPlan> {
        let rec = self.writable(id)?;
        match rec.payment {
            Payment::Pending => {
                return Err(SimError::conflict(
                    "payment_pending",
                    format!("the payment of order `{id}` is still settling"),
                ));
            }
            Payment::Voided => {
                return Err(SimError::conflict(
                    "payment_voided",
                    format!("the payment of order `{id}` was voided"),
                ));
            }
            Payment::Free | Payment::Authorized | Payment::Captured => {}
        }
        let capturable = rec.order.total_capturable;
        let Some(intent) = rec.order.payment_intent.clone() else {
            return Err(SimError::conflict(
                "nothing_to_capture",
                format!("order `{id}` has no payment to capture"),
            ));
        };
        if rec.payment != Payment::Authorized || capturable.is_zero() {
            return Err(SimError::conflict(
                "nothing_to_capture",
                format!("order `{id}` has nothing left to capture"),
            ));
        }
        let amount = req.amount.unwrap_or(capturable);
        if amount <= Decimal::ZERO || !fits_currency(amount, &rec.order.currency) {
            return Err(SimError::bad_value(
                "amount",
                format!(
                    "a capture is over 0 with no more decimals than {} allows",
                    rec.order.currency
                ),
            ));
        }
        if amount > capturable {
            return Err(SimError::invalid(
                "amount_too_large",
                format!("only {capturable} is left to capture"),
            )
            .field("amount"));
        }
        let step = PayStep::Capture {
            intent,
            amount: amount.normalize(),
        };
        self.lock(id, "capture", step)
    }

    /// `POST /v1/orders/{id}/capture`, phase 3: records the capture (the rest
    /// of the authorization is released) and emits `orders/paid`.
    pub fn finish_capture(
        &mut self,
        fx: &mut Effects,
        id: &str,
        intent: &PaymentIntent,
    ) -> SimResult<Order> {
        let now = fx.now();
        let rec = self.rec_mut(id)?;
        rec.payment = Payment::Captured;
        rec.order.total_captured = intent.amount_received;
        rec.order.total_capturable = Decimal::ZERO;
        rec.sync(now);
        let order = rec.order.clone();
        fx.emit("orders/paid", &order);
        self.check_invariants();
        Ok(order)
    }

    // ---- fulfilment

    /// `POST /v1/orders/{id}/fulfill`: hands units over at the order's
    /// location (`committed` and `on_hand` go down). Emits `orders/fulfilled`
    /// and the level updates. It does not capture.
    pub fn fulfill(&mut self, fx: &mut Effects, id: &str, req: FulfillOrder) -> SimResult<Order> {
        let rec = self.writable(id)?;
        let mut take: Vec<(usize, i64)> = Vec::new();
        match &req.lines {
            None => {
                for (i, l) in rec.order.lines.iter().enumerate() {
                    if l.fulfillable_quantity > 0 {
                        take.push((i, l.fulfillable_quantity));
                    }
                }
                if take.is_empty() {
                    return Err(SimError::conflict(
                        "nothing_to_fulfill",
                        format!("order `{id}` has no units left to fulfil"),
                    ));
                }
            }
            Some(lines) => {
                if lines.is_empty() {
                    return Err(SimError::bad_value(
                        "lines",
                        "name at least one line, or leave `lines` out to fulfil everything",
                    ));
                }
                for (k, fl) in lines.iter().enumerate() {
                    let Some(i) = rec.line_index(&fl.line_id) else {
                        return Err(SimError::not_found(
                            "unknown_line",
                            format!("order `{id}` has no line `{}`", fl.line_id),
                        )
                        .field(line_field(k, "line_id")));
                    };
                    if take.iter().any(|(j, _)| *j == i) {
                        return Err(SimError::bad_value(
                            line_field(k, "line_id"),
                            format!("line `{}` is named twice", fl.line_id),
                        ));
                    }
                    check_quantity(&line_field(k, "quantity"), fl.quantity)?;
                    let open = rec.order.lines[i].fulfillable_quantity;
                    if fl.quantity > open {
                        return Err(SimError::bad_value(
                            line_field(k, "quantity"),
                            format!(
                                "line `{}` has {open} units left to fulfil, not {}",
                                fl.line_id, fl.quantity
                            ),
                        ));
                    }
                    take.push((i, fl.quantity));
                }
            }
        }
        let now = fx.now();
        let rec = self.rec_mut(id)?;
        let mut moves = Moves::new();
        for (i, q) in take {
            let line = &mut rec.order.lines[i];
            line.fulfilled_quantity += q;
            moves.add(&line.sku, &rec.order.location, Change::remove_committed(q));
        }
        rec.sync(now);
        rec.settle_fulfillment();
        let order = rec.order.clone();
        fx.emit("orders/fulfilled", &order);
        self.inventory
            .apply(fx, moves, InventoryCauseKind::Fulfillment, Some(id));
        self.check_invariants();
        Ok(order)
    }

    /// `POST /v1/orders/{id}/ready_for_pickup`: the units wait at the pickup
    /// location. Emits `orders/updated` (once; asking again changes nothing).
    pub fn ready_for_pickup(&mut self, fx: &mut Effects, id: &str) -> SimResult<Order> {
        let rec = self.writable(id)?;
        if rec.order.pickup_location.is_none() {
            return Err(SimError::conflict(
                "not_a_pickup_order",
                format!("order `{id}` is not a pickup order"),
            ));
        }
        if rec.order.lines.iter().all(|l| l.fulfillable_quantity == 0) {
            return Err(SimError::conflict(
                "nothing_to_fulfill",
                format!("order `{id}` has no units left to hand over"),
            ));
        }
        if rec.order.fulfillment_status == FulfillmentStatus::ReadyForPickup {
            return Ok(rec.order.clone());
        }
        let now = fx.now();
        let rec = self.rec_mut(id)?;
        rec.order.fulfillment_status = FulfillmentStatus::ReadyForPickup;
        rec.sync(now);
        let order = rec.order.clone();
        fx.emit("orders/updated", &order);
        self.check_invariants();
        Ok(order)
    }

    // ---- cancel

    /// `POST /v1/orders/{id}/cancel`, phase 1: decides the payment step (void
    /// an authorization, refund what remains captured, or cancel a pending
    /// payment) and takes the payment lock.
    pub fn begin_cancel(&mut self, id: &str) -> SimResult<OrderPlan> {
        let rec = self.rec(id)?;
        if rec.order.status == OrderStatus::Cancelled {
            return Err(SimError::conflict(
                "order_already_cancelled",
                format!("order `{id}` is already cancelled"),
            ));
        }
        let rec = self.writable(id)?;
        let intent = rec.order.payment_intent.clone().unwrap_or_default();
        let step = match rec.payment {
            Payment::Authorized | Payment::Pending => PayStep::Cancel { intent },
            Payment::Captured => {
                let amount = rec.order.total_captured - rec.order.total_refunded;
                if amount > Decimal::ZERO {
                    PayStep::Refund { intent, amount }
                } else {
                    PayStep::Nothing
                }
            }
            Payment::Free | Payment::Voided => PayStep::Nothing,
        };
        self.lock(id, "cancel", step)
    }

    /// `POST /v1/orders/{id}/cancel`, phase 3: cancels for good. Unfulfilled
    /// units go back to `available` (restock, the default) or are written off
    /// (`committed` and `on_hand` go down). Emits `orders/cancelled` and the
    /// level updates.
    pub fn finish_cancel(
        &mut self,
        fx: &mut Effects,
        plan: &OrderPlan,
        req: &CancelOrder,
        refund: Option<&Refund>,
    ) -> SimResult<Order> {
        let now = fx.now();
        let id = plan.order_id.as_str();
        let rec = self.rec_mut(id)?;
        if rec.order.status == OrderStatus::Cancelled {
            return Err(SimError::conflict(
                "order_already_cancelled",
                format!("order `{id}` is already cancelled"),
            ));
        }
        let restock = req.restock.unwrap_or(true);
        let mut moves = Moves::new();
        for (line, book) in rec.order.lines.iter().zip(rec.books.iter_mut()) {
            let q = line.fulfillable_quantity;
            if q > 0 {
                book.cancelled_open += q;
                let change = if restock {
                    Change::release(q)
                } else {
                    Change::remove_committed(q)
                };
                moves.add(&line.sku, &rec.order.location, change);
            }
        }
        match &plan.step {
            PayStep::Cancel { .. } => {
                rec.payment = Payment::Voided;
                rec.order.total_capturable = Decimal::ZERO;
            }
            PayStep::Refund { amount, .. } => {
                rec.order.total_refunded += refund.map_or(*amount, |r| r.amount);
            }
            PayStep::Nothing | PayStep::Capture { .. } => {}
        }
        rec.order.status = OrderStatus::Cancelled;
        rec.order.cancelled_at = Some(now);
        rec.order.cancel_reason = Some(req.reason);
        rec.sync(now);
        let order = rec.order.clone();
        fx.emit("orders/cancelled", &order);
        self.inventory
            .apply(fx, moves, InventoryCauseKind::Cancel, Some(id));
        self.check_invariants();
        Ok(order)
    }

    // ---- refunds

    /// `POST /v1/orders/{id}/refunds`, phase 1: validates the lines, prices
    /// the refund, splits its money between the gateway (up to captured −
    /// refunded) and the open authorization, reserves its id and takes the
    /// payment lock.
    pub fn begin_refund(&mut self, id: &str, req: &CreateOrderRefund) -> SimResult<RefundPlan> {
        let rec = self.writable(id)?;
        if rec.payment == Payment::Pending {
            return Err(SimError::conflict(
                "payment_pending",
                format!("the payment of order `{id}` is still settling; refund it once it has"),
            ));
        }
        if req.lines.is_empty() {
            return Err(SimError::bad_value(
                "lines",
                "a refund has at least one line",
            ));
        }
        if let Some(note) = &req.note {
            check_text("note", note, false)?;
        }
        let order = &rec.order;
        let currency = order.currency.as_str();
        let mut lines = Vec::with_capacity(req.lines.len());
        let mut splits = Vec::with_capacity(req.lines.len());
        for (k, rl) in req.lines.iter().enumerate() {
            let Some(i) = rec.line_index(&rl.line_id) else {
                return Err(SimError::not_found(
                    "unknown_line",
                    format!("order `{id}` has no line `{}`", rl.line_id),
                )
                .field(line_field(k, "line_id")));
            };
            if splits.iter().any(|(j, _, _)| *j == i) {
                return Err(SimError::bad_value(
                    line_field(k, "line_id"),
                    format!("line `{}` is named twice", rl.line_id),
                ));
            }
            check_quantity(&line_field(k, "quantity"), rl.quantity)?;
            let line = &order.lines[i];
            let refundable = line.quantity - line.refunded_quantity;
            if rl.quantity > refundable {
                return Err(SimError::bad_value(
                    line_field(k, "quantity"),
                    format!(
                        "line `{}` has {refundable} units left to refund, not {}",
                        rl.line_id, rl.quantity
                    ),
                ));
            }
            if let Some(location) = &rl.location {
                self.locations
                    .require(&line_field(k, "location"), location)?;
                if rl.restock_type != RestockType::Return && *location != order.location {
                    return Err(SimError::bad_value(
                        line_field(k, "location"),
                        "only returned units go to a location of your choice; \
                         others stay at the order's location",
                    ));
                }
            }
            let open = line.fulfillable_quantity;
            let returnable = rec.returnable(i);
            let (from_open, from_fulfilled, location) = match rl.restock_type {
                RestockType::Cancel => {
                    if rl.quantity > open {
                        return Err(SimError::bad_value(
                            line_field(k, "restock_type"),
                            format!(
                                "`cancel` restocks unfulfilled units; line `{}` has {open}",
                                rl.line_id
                            ),
                        ));
                    }
                    (rl.quantity, 0, Some(order.location.clone()))
                }
                RestockType::Return => {
                    if rl.quantity > returnable {
                        return Err(SimError::bad_value(
                            line_field(k, "restock_type"),
                            format!(
                                "`return` restocks fulfilled units; line `{}` has {returnable} \
                                 not refunded yet",
                                rl.line_id
                            ),
                        ));
                    }
                    let at = rl
                        .location
                        .clone()
                        .unwrap_or_else(|| order.location.clone());
                    (0, rl.quantity, Some(at))
                }
                RestockType::NoRestock => {
                    // Fulfilled units first: the customer keeps them, or they
                    // come back unsellable. Then unfulfilled ones are written off.
                    let fulfilled = rl.quantity.min(returnable);
                    (rl.quantity - fulfilled, fulfilled, None)
                }
            };
            let amount = pricing::refund_amount(
                line.total,
                line.quantity,
                line.refunded_quantity,
                line.refunded_amount,
                rl.quantity,
                currency,
            );
            splits.push((i, from_open, from_fulfilled));
            lines.push(OrderRefundLine {
                line_id: line.id.clone(),
                sku: line.sku.clone(),
                quantity: rl.quantity,
                restock_type: rl.restock_type,
                location,
                amount,
            });
        }
        let amount: Decimal = lines.iter().map(|l| l.amount).sum();
        let held = match rec.payment {
            Payment::Captured => {
                (rec.order.total_captured - rec.order.total_refunded).max(Decimal::ZERO)
            }
            _ => Decimal::ZERO,
        };
        let payment_amount = amount.min(held);
        let released_amount = match rec.payment {
            Payment::Authorized => (amount - payment_amount).min(rec.order.total_capturable),
            _ => Decimal::ZERO,
        };
        let intent = rec.order.payment_intent.clone().unwrap_or_default();
        let step = if payment_amount > Decimal::ZERO {
            PayStep::Refund {
                intent,
                amount: payment_amount,
            }
        } else if rec.payment == Payment::Authorized
            && rec.order.total_capturable - released_amount <= Decimal::ZERO
        {
            // Nothing will ever be captured: void the authorization.
            PayStep::Cancel { intent }
        } else {
            PayStep::Nothing
        };
        let refund = OrderRefund {
            id: String::new(),
            order_id: id.to_owned(),
            lines,
            amount,
            currency: rec.order.currency.clone(),
            payment_refund: None,
            payment_amount,
            released_amount,
            note: req.note.clone(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let n = rec.order.refunds.len() + 1;
        let plan = self.lock(id, &format!("refund{n}"), step)?;
        self.next_refund += 1;
        Ok(RefundPlan {
            plan,
            refund: OrderRefund {
                id: format!("ref_{:06}", self.next_refund),
                ..refund
            },
            splits,
        })
    }

    /// `POST /v1/orders/{id}/refunds`, phase 3: records the refund, moves
    /// the units back (or writes them off) and emits `refunds/create` and the
    /// level updates.
    pub fn finish_refund(
        &mut self,
        fx: &mut Effects,
        plan: RefundPlan,
        payment_refund: Option<&Refund>,
    ) -> SimResult<OrderRefund> {
        let now = fx.now();
        let id = plan.plan.order_id.as_str();
        let rec = self.rec_mut(id)?;
        let mut refund = plan.refund;
        refund.created_at = now;
        refund.payment_refund = payment_refund.map(|r| r.id.clone());
        let mut moves = Moves::new();
        for ((i, from_open, from_fulfilled), line) in plan.splits.iter().zip(&refund.lines) {
            let book = &mut rec.books[*i];
            book.refunded_open += from_open;
            book.refunded_fulfilled += from_fulfilled;
            rec.order.lines[*i].refunded_amount += line.amount;
            let at = &rec.order.location;
            match line.restock_type {
                RestockType::Cancel => moves.add(&line.sku, at, Change::release(*from_open)),
                RestockType::Return => moves.add(
                    &line.sku,
                    line.location.as_deref().unwrap_or(at),
                    Change::stock(*from_fulfilled),
                ),
                RestockType::NoRestock => {
                    moves.add(&line.sku, at, Change::remove_committed(*from_open));
                }
            }
        }
        rec.order.total_refunded += payment_refund.map_or(refund.payment_amount, |r| r.amount);
        rec.order.total_capturable -= refund.released_amount;
        rec.order.total_released += refund.released_amount;
        if matches!(plan.plan.step, PayStep::Cancel { .. }) {
            rec.payment = Payment::Voided;
            rec.order.total_capturable = Decimal::ZERO;
        }
        rec.order.refunds.push(refund.clone());
        rec.sync(now);
        rec.settle_fulfillment();
        fx.emit("refunds/create", &refund);
        self.inventory
            .apply(fx, moves, InventoryCauseKind::Refund, Some(&refund.id));
        self.check_invariants();
        Ok(refund)
    }

    // ---- invariants

    /// Every broken invariant, described; empty when all hold.
    pub fn invariant_violations(&self) -> Vec<String> {
        let mut out = self.customers.invariant_violations();
        let mut committed: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for rec in self.orders.values() {
            let o = &rec.order;
            let sum: Decimal = o.lines.iter().map(|l| l.total).sum();
            if sum != o.total {
                out.push(format!("{}: line totals {sum} != total {}", o.id, o.total));
            }
            let value = rec.refunded_value();
            if value > o.total || o.total_refunded > o.total {
                out.push(format!(
                    "{}: refunded {value} (money {}) > total {}",
                    o.id, o.total_refunded, o.total
                ));
            }
            if o.total_captured > o.total
                || o.total_refunded > o.total_captured
                || o.total_captured + o.total_released > o.total
            {
                out.push(format!(
                    "{}: captured, refunded or released money out of range",
                    o.id
                ));
            }
            for (l, b) in o.lines.iter().zip(&rec.books) {
                if l.fulfillable_quantity < 0
                    || l.refunded_quantity > l.quantity
                    || b.refunded_fulfilled > l.fulfilled_quantity
                    || l.refunded_amount > l.total
                {
                    out.push(format!(
                        "{}/{}: unit or money counts out of range",
                        o.id, l.id
                    ));
                }
                if o.status == OrderStatus::Open {
                    *committed.entry((&l.sku, &o.location)).or_default() += l.fulfillable_quantity;
                } else if l.fulfillable_quantity != 0 {
                    out.push(format!("{}/{}: cancelled with open units", o.id, l.id));
                }
            }
        }
        for ((sku, location), level) in self.inventory.iter() {
            if !level.balanced() {
                out.push(format!("{sku}@{location}: on_hand unbalanced {level:?}"));
            }
            let want = committed
                .remove(&(sku.as_str(), location.as_str()))
                .unwrap_or(0);
            if level.committed != want {
                out.push(format!(
                    "{sku}@{location}: committed {} != open order units {want}",
                    level.committed
                ));
            }
        }
        for ((sku, location), want) in committed {
            if want != 0 {
                out.push(format!("{sku}@{location}: {want} open units, no level"));
            }
        }
        out
    }
}

impl crate::promotions::KeepsPromotions for ShopState {
    fn promotions(&self) -> &crate::promotions::PromotionBook {
        &self.promotions
    }
    fn promotions_mut(&mut self) -> &mut crate::promotions::PromotionBook {
        &mut self.promotions
    }
}

impl crate::customers::KeepsCustomers for ShopState {
    fn customers(&self) -> &crate::customers::CustomerBook {
        &self.customers
    }
    fn customers_mut(&mut self) -> &mut crate::customers::CustomerBook {
        &mut self.customers
    }
}

impl Platform for ShopState {
    const NAME: &'static str = "shop";
    const SCHEME: Scheme = Scheme::Shopify;
    const TOPICS: &'static [&'static str] = &[
        "orders/create",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/updated",
        "refunds/create",
        "inventory_levels/update",
        "products/update",
        "customers/create",
        "customers/update",
        "promotions/create",
        "promotions/update",
        "gift_cards/issued",
    ];

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::shopify()
    }

    /// Numbers new locations for the Shopify dialect (locations are made
    /// by the shared `/v1/locations` route, so they are numbered here, at the
    /// start of the next transition, before anything can name them).
    fn tick(&mut self, _fx: &mut Effects) {
        self.shopify.number_locations(self.locations.ids());
    }

    fn render(
        &self,
        wire: crate::dialects::Wire,
        event: &omnisim_api::Event,
    ) -> Vec<crate::dialects::Rendered> {
        match wire {
            crate::dialects::Wire::Shopify => crate::dialects::shopify::render(self, event),
            _ => Vec::new(),
        }
    }

    fn canonical_event(data: &mut serde_json::Value) {
        crate::money::scale_json(data);
    }

    fn snapshot(&self) -> serde_json::Value {
        let levels = self.list_levels(None, None).unwrap_or_default();
        serde_json::json!({
            "locations": self.locations.list(),
            "settings": self.settings,
            "products": self.list_products(),
            "inventory_levels": levels,
            "tax_rates": self.list_tax_rates(),
            "discount_codes": self.list_discounts(),
            "orders": self.list_orders(),
            "customers": self.customers.all(),
            "promotions": self.promotions.list(None),
        })
    }

    fn locations(&self) -> Option<&Locations> {
        Some(&self.locations)
    }

    fn locations_mut(&mut self) -> Option<&mut Locations> {
        Some(&mut self.locations)
    }
}

/// A new gift card's code, amount and currency (USD unless given), each
/// refused by its field name; answers the currency.
fn gift_card_terms(code: &str, amount: Decimal, currency: Option<&str>) -> SimResult<String> {
    crate::pay::rules::gift_card_code("code", code)?;
    let currency = currency.unwrap_or("USD").to_owned();
    check_currency("currency", &currency)?;
    if amount <= Decimal::ZERO {
        return Err(SimError::bad_value(
            "amount",
            format!("a gift card is loaded with more than 0, not {amount}"),
        ));
    }
    check_price("amount", amount, &currency)?;
    Ok(currency)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use omnisim_api::pay::{
        CaptureMethod, IntentStatus, PaymentMethodDetails, PaymentMethodKind, RefundStatus,
    };
    use omnisim_api::shop::{CheckoutLine, FulfillLine, RefundLineRequest};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fx() -> Effects {
        Effects::new(now())
    }

    fn product(sku: &str, price: Decimal) -> CreateProduct {
        CreateProduct {
            sku: sku.into(),
            title: format!("Product {sku}"),
            price,
            currency: "USD".into(),
            tax_code: None,
            status: ProductStatus::Active,
            channels: BTreeMap::new(),
        }
    }

    /// A shop with A (10.00, taxed 10 %) and B (5.00) in stock at `web`: 10 A, 5 B.
    fn shop() -> ShopState {
        let mut s = ShopState::default();
        let mut f = fx();
        s.put_tax_rate("std", SetTaxRate { rate: dec!(0.1) })
            .unwrap();
        s.create_product(
            &mut f,
            CreateProduct {
                tax_code: Some("std".into()),
                ..product("A", dec!(10))
            },
        )
        .unwrap();
        s.create_product(&mut f, product("B", dec!(5))).unwrap();
        for (sku, q) in [("A", 10), ("B", 5)] {
            s.set(&mut f, set_req(sku, "web", q)).unwrap();
        }
        s
    }

    fn set_req(sku: &str, location: &str, available: i64) -> SetInventory {
        SetInventory {
            sku: sku.into(),
            location: location.into(),
            available,
            change_from: None,
            reference: None,
        }
    }

    fn adjust_req(sku: &str, delta: i64) -> AdjustInventory {
        AdjustInventory {
            sku: sku.into(),
            location: "web".into(),
            delta,
            reason: "received".into(),
            change_from: None,
            reference: Some("po-1".into()),
        }
    }

    fn checkout(lines: &[(&str, i64)]) -> Checkout {
        Checkout {
            lines: lines
                .iter()
                .map(|(sku, quantity)| CheckoutLine {
                    sku: (*sku).into(),
                    quantity: *quantity,
                })
                .collect(),
            payment: PaymentMethod::Card {
                number: "4242424242424242".into(),
            },
            discount_code: None,
            pickup_location: None,
            location: None,
            customer: None,
            capture: CaptureMethod::Manual,
            channel: None,
        }
    }

    fn intent(id: &str, status: IntentStatus, amount: Decimal) -> PaymentIntent {
        let (capturable, received) = match status {
            IntentStatus::RequiresCapture => (amount, Decimal::ZERO),
            IntentStatus::Succeeded => (Decimal::ZERO, amount),
            _ => (Decimal::ZERO, Decimal::ZERO),
        };
        PaymentIntent {
            id: id.into(),
            status,
            amount,
            amount_capturable: capturable,
            amount_received: received,
            amount_refunded: Decimal::ZERO,
            currency: "USD".into(),
            capture_method: CaptureMethod::Manual,
            payment_method: Some(PaymentMethodDetails {
                id: None,
                kind: PaymentMethodKind::Card,
                last4: Some("4242".into()),
                wallet: None,
                gift_card: None,
                brand: None,
            }),
            metadata: BTreeMap::new(),
            description: None,
            latest_charge: None,
            created_at: now(),
            capture_before: None,
            canceled_at: None,
            cancellation_reason: None,
            last_payment_error: None,
            refunds: Vec::new(),
        }
    }

    fn pay_refund(amount: Decimal) -> Refund {
        Refund {
            id: "re_1".into(),
            payment_intent: "pi_1".into(),
            amount,
            currency: "USD".into(),
            status: RefundStatus::Succeeded,
            reason: None,
            metadata: BTreeMap::new(),
            created_at: now(),
        }
    }

    /// Checkout through both phases with the gateway answering `status`.
    fn buy(
        s: &mut ShopState,
        f: &mut Effects,
        req: Checkout,
        status: IntentStatus,
    ) -> SimResult<Order> {
        let draft = s.begin_checkout(f, req)?;
        let outcome = if draft.order.total.is_zero() {
            PaymentOutcome::Free
        } else {
            let pi = intent("pi_1", status, draft.order.total);
            match status {
                IntentStatus::RequiresCapture => PaymentOutcome::Authorized(pi),
                IntentStatus::Succeeded => PaymentOutcome::Captured(pi),
                _ => PaymentOutcome::Pending(pi),
            }
        };
        s.place_order(f, draft, outcome)
    }

    fn authorized(s: &mut ShopState, lines: &[(&str, i64)]) -> Order {
        buy(s, &mut fx(), checkout(lines), IntentStatus::RequiresCapture).unwrap()
    }

    fn level(s: &ShopState, sku: &str, location: &str) -> (i64, i64, i64) {
        let l = s.get_level(sku, location).unwrap();
        (l.available, l.committed, l.on_hand)
    }

    fn kinds(f: &mut Effects) -> Vec<&'static str> {
        f.take().iter().map(|e| e.kind).collect()
    }

    fn err<T: std::fmt::Debug>(r: SimResult<T>) -> (&'static str, Option<String>) {
        let e = r.unwrap_err();
        (e.code, e.field)
    }

    fn capture_all(s: &mut ShopState, id: &str) -> Order {
        let plan = s.begin_capture(id, &CaptureOrder::default()).unwrap();
        let PayStep::Capture { amount, .. } = plan.step else {
            panic!("not a capture: {plan:?}")
        };
        s.release(id);
        s.finish_capture(
            &mut fx(),
            id,
            &intent("pi_1", IntentStatus::Succeeded, amount),
        )
        .unwrap()
    }

    fn refund_line(line_id: &str, quantity: i64, restock_type: RestockType) -> RefundLineRequest {
        RefundLineRequest {
            line_id: line_id.into(),
            quantity,
            restock_type,
            location: None,
        }
    }

    /// Refund through both phases, the gateway refunding what it is asked.
    fn refund(
        s: &mut ShopState,
        f: &mut Effects,
        id: &str,
        lines: Vec<RefundLineRequest>,
    ) -> SimResult<OrderRefund> {
        let plan = s.begin_refund(id, &CreateOrderRefund { lines, note: None })?;
        s.release(id);
        let re = match &plan.plan.step {
            PayStep::Refund { amount, .. } => Some(pay_refund(*amount)),
            _ => None,
        };
        s.finish_refund(f, plan, re.as_ref())
    }

    fn cancel(s: &mut ShopState, f: &mut Effects, id: &str, restock: bool) -> SimResult<Order> {
        let plan = s.begin_cancel(id)?;
        s.release(id);
        let re = match &plan.step {
            PayStep::Refund { amount, .. } => Some(pay_refund(*amount)),
            _ => None,
        };
        let req = CancelOrder {
            reason: CancelReason::Customer,
            restock: Some(restock),
        };
        s.finish_cancel(f, &plan, &req, re.as_ref())
    }

    use omnisim_api::shop::CancelReason;

    // ---- products

    /// A merchant-issued card is validated before the gateway is asked, and
    /// recorded as `gift_cards/issued` with its reason once it is issued.
    #[test]
    fn a_merchant_issued_gift_card_is_validated_and_recorded() {
        let mut s = ShopState::default();
        let req = IssueGiftCard {
            code: "GC-GOODWILL".into(),
            amount: dec!(25),
            currency: None,
            reason: "a late delivery".into(),
            customer: Some("cus_000001".into()),
        };
        let mut f = fx();
        let (currency, key) = s.begin_gift_card_issue(&mut f, &req).unwrap();
        assert_eq!(currency, "USD");
        assert!(
            key.starts_with("shop-gift-card-issue-GC-GOODWILL-"),
            "{key}"
        );
        assert!(f.events().is_empty());
        let issued = s.record_gift_card_issue(&mut f, &req, currency);
        assert_eq!(issued.amount, dec!(25));
        assert_eq!(issued.created_at, now());
        let events = f.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "gift_cards/issued");
        assert_eq!(events[0].data["code"], "GC-GOODWILL");
        assert_eq!(events[0].data["reason"], "a late delivery");
        assert_eq!(events[0].data["amount"], "25.00");

        for (bad, field) in [
            (
                IssueGiftCard {
                    amount: dec!(0),
                    ..req.clone()
                },
                "amount",
            ),
            (
                IssueGiftCard {
                    amount: dec!(1.001),
                    ..req.clone()
                },
                "amount",
            ),
            (
                IssueGiftCard {
                    code: "no spaces".into(),
                    ..req.clone()
                },
                "code",
            ),
            (
                IssueGiftCard {
                    reason: String::new(),
                    ..req.clone()
                },
                "reason",
            ),
            (
                IssueGiftCard {
                    currency: Some("usd".into()),
                    ..req.clone()
                },
                "currency",
            ),
        ] {
            let e = s.begin_gift_card_issue(&mut fx(), &bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn products_are_created_once_and_emit_their_update() {
        let mut s = ShopState::default();
        let mut f = fx();
        let p = s
            .create_product(&mut f, product("MUG", dec!(12.50)))
            .unwrap();
        assert_eq!((p.sku.as_str(), p.price), ("MUG", dec!(12.5)));
        let events = f.take();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "products/update");
        assert_eq!(events[0].data["price"], "12.5");
        assert_eq!(events[0].data["status"], "active");
        assert_eq!(events[0].data["tax_code"], serde_json::Value::Null);
        assert_eq!(
            err(s.create_product(&mut f, product("MUG", dec!(1)))),
            ("sku_exists", Some("sku".into()))
        );
    }

    #[test]
    fn product_fields_are_validated() {
        let mut s = ShopState::default();
        let mut f = fx();
        let cases = [
            (product("X", dec!(-1)), "price"),
            (product("X", dec!(1.005)), "price"),
            (product("a/b", dec!(1)), "sku"),
            (product("", dec!(1)), "sku"),
            (
                CreateProduct {
                    currency: "usd".into(),
                    ..product("X", dec!(1))
                },
                "currency",
            ),
            (
                CreateProduct {
                    currency: "JPY".into(),
                    ..product("X", dec!(1.5))
                },
                "price",
            ),
            (
                CreateProduct {
                    title: " ".into(),
                    ..product("X", dec!(1))
                },
                "title",
            ),
            (
                CreateProduct {
                    channels: BTreeMap::from([("Online Store".into(), ProductStatus::Active)]),
                    ..product("X", dec!(1))
                },
                "channels.Online Store",
            ),
        ];
        for (req, field) in cases {
            assert_eq!(
                err(s.create_product(&mut f, req)),
                ("parameter_invalid", Some(field.into()))
            );
        }
        assert!(f.take().is_empty());
        assert!(s.list_products().is_empty());
    }

    #[test]
    fn patch_changes_only_what_is_given_and_emits_on_change() {
        let mut s = shop();
        let mut f = fx();
        let p = s
            .update_product(
                &mut f,
                "A",
                UpdateProduct {
                    price: Some(dec!(11.00)),
                    channels: Some(BTreeMap::from([("pos".into(), ProductStatus::Paused)])),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!((p.price, p.title.as_str()), (dec!(11), "Product A"));
        assert_eq!(p.channels["pos"], ProductStatus::Paused);
        assert_eq!(kinds(&mut f), ["products/update"]);
        // Nothing changes: no event.
        s.update_product(&mut f, "A", UpdateProduct::default())
            .unwrap();
        assert!(f.take().is_empty());
        // An empty tax code clears it.
        let p = s
            .update_product(
                &mut f,
                "A",
                UpdateProduct {
                    tax_code: Some(String::new()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(p.tax_code, None);
        // A currency whose scale the price does not fit.
        assert_eq!(
            err(s.update_product(
                &mut f,
                "B",
                UpdateProduct {
                    price: Some(dec!(5.5)),
                    currency: Some("JPY".into()),
                    ..Default::default()
                }
            )),
            ("parameter_invalid", Some("price".into()))
        );
        assert_eq!(
            err(s.update_product(&mut f, "Z", UpdateProduct::default())),
            ("unknown_sku", Some("sku".into()))
        );
    }

    // ---- inventory

    #[test]
    fn every_known_sku_has_a_zero_level_everywhere() {
        let s = shop();
        assert_eq!(level(&s, "B", "store-1"), (0, 0, 0));
        assert_eq!(s.list_levels(None, None).unwrap().len(), 4);
        assert_eq!(s.list_levels(Some("A"), None).unwrap().len(), 2);
        assert_eq!(s.list_levels(None, Some("web")).unwrap().len(), 2);
        assert_eq!(
            err(s.get_level("Z", "web")),
            ("unknown_sku", Some("sku".into()))
        );
        assert_eq!(
            err(s.get_level("A", "mars")),
            ("unknown_location", Some("location".into()))
        );
    }

    #[test]
    fn adjust_adds_to_available_and_on_hand_with_its_cause() {
        let mut s = shop();
        let mut f = fx();
        let l = s.adjust(&mut f, adjust_req("A", -12)).unwrap();
        assert_eq!((l.available, l.on_hand), (-2, -2));
        let events = f.take();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "inventory_levels/update");
        assert_eq!(
            events[0].data["cause"],
            serde_json::json!({"kind": "adjust", "reference": "po-1", "delta": -12})
        );
        assert_eq!(events[0].data["available"], -2);
    }

    #[test]
    fn adjust_rejects_zero_deltas_unknown_reasons_and_stale_counts() {
        let mut s = shop();
        let mut f = fx();
        assert_eq!(
            err(s.adjust(&mut f, adjust_req("A", 0))),
            ("parameter_invalid", Some("delta".into()))
        );
        // The most negative delta is refused, not negated into an overflow
        // (found by the fuzzer: `i64::MIN.abs()` panicked the handler).
        assert_eq!(
            err(s.adjust(&mut f, adjust_req("A", i64::MIN))),
            ("parameter_invalid", Some("delta".into()))
        );
        let bad_reason = AdjustInventory {
            reason: "stolen".into(),
            ..adjust_req("A", 1)
        };
        assert_eq!(
            err(s.adjust(&mut f, bad_reason)),
            ("parameter_invalid", Some("reason".into()))
        );
        let stale = AdjustInventory {
            change_from: Some(9),
            ..adjust_req("A", 1)
        };
        let e = s.adjust(&mut f, stale).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("change_from_quantity_stale", Some("change_from"))
        );
        assert!(e.message.contains("available is 10"), "{}", e.message);
        let fresh = AdjustInventory {
            change_from: Some(10),
            ..adjust_req("A", 1)
        };
        assert_eq!(s.adjust(&mut f, fresh).unwrap().available, 11);
        assert_eq!(
            err(s.adjust(&mut f, adjust_req("Z", 1))),
            ("unknown_sku", Some("sku".into()))
        );
        let nowhere = AdjustInventory {
            location: "mars".into(),
            ..adjust_req("A", 1)
        };
        assert_eq!(
            err(s.adjust(&mut f, nowhere)),
            ("unknown_location", Some("location".into()))
        );
        for reason in ADJUST_REASONS {
            let req = AdjustInventory {
                reason: (*reason).into(),
                ..adjust_req("B", 1)
            };
            s.adjust(&mut f, req).unwrap();
        }
        assert_eq!(level(&s, "B", "web"), (15, 0, 15));
    }

    #[test]
    fn set_writes_an_absolute_value_and_skips_no_ops() {
        let mut s = shop();
        let mut f = fx();
        let l = s
            .set(
                &mut f,
                SetInventory {
                    change_from: Some(10),
                    reference: Some("count-7".into()),
                    ..set_req("A", "web", 4)
                },
            )
            .unwrap();
        assert_eq!((l.available, l.on_hand), (4, 4));
        let events = f.take();
        assert_eq!(
            events[0].data["cause"],
            serde_json::json!({"kind": "set", "reference": "count-7", "delta": -6})
        );
        s.set(&mut f, set_req("A", "web", 4)).unwrap();
        assert!(f.take().is_empty());
        assert_eq!(
            err(s.set(&mut f, set_req("A", "web", -1))),
            ("parameter_invalid", Some("available".into()))
        );
        assert_eq!(
            err(s.set(
                &mut f,
                SetInventory {
                    change_from: Some(10),
                    ..set_req("A", "web", 3)
                }
            ))
            .0,
            "change_from_quantity_stale"
        );
    }

    // ---- settings, taxes, discounts

    #[test]
    fn settings_default_to_block_and_refuse_warn() {
        let mut s = ShopState::default();
        assert_eq!(s.settings().sell_when_out_of_stock, SellPolicy::Block);
        let warn = ShopSettings {
            sell_when_out_of_stock: SellPolicy::Warn,
        };
        assert_eq!(
            err(s.put_settings(warn)),
            ("parameter_invalid", Some("sell_when_out_of_stock".into()))
        );
        let allow = ShopSettings {
            sell_when_out_of_stock: SellPolicy::Allow,
        };
        assert_eq!(s.put_settings(allow.clone()).unwrap(), allow);
        assert_eq!(s.settings(), allow);
    }

    #[test]
    fn tax_rates_are_fractions_below_one() {
        let mut s = ShopState::default();
        for bad in [dec!(1), dec!(-0.01), dec!(2)] {
            assert_eq!(
                err(s.put_tax_rate("std", SetTaxRate { rate: bad })),
                ("parameter_invalid", Some("rate".into()))
            );
        }
        s.put_tax_rate("std", SetTaxRate { rate: dec!(0.0825) })
            .unwrap();
        s.put_tax_rate("zero", SetTaxRate { rate: dec!(0) })
            .unwrap();
        let codes: Vec<String> = s.list_tax_rates().into_iter().map(|t| t.code).collect();
        assert_eq!(codes, ["std", "zero"]);
        assert_eq!(s.tax_rate(Some("std")), dec!(0.0825));
        assert_eq!(s.tax_rate(Some("unknown")), dec!(0));
    }

    fn discount(code: &str, kind: DiscountKind, value: Decimal) -> CreateDiscountCode {
        CreateDiscountCode {
            code: code.into(),
            kind,
            value,
            usage_limit: None,
            currency: None,
        }
    }

    #[test]
    fn discount_codes_are_validated_and_unique() {
        let mut s = ShopState::default();
        for (req, field) in [
            (discount("P0", DiscountKind::Percentage, dec!(0)), "value"),
            (
                discount("P1", DiscountKind::Percentage, dec!(100.01)),
                "value",
            ),
            (discount("F0", DiscountKind::FixedAmount, dec!(0)), "value"),
            (
                discount("F1", DiscountKind::FixedAmount, dec!(1.001)),
                "value",
            ),
            (
                CreateDiscountCode {
                    usage_limit: Some(0),
                    ..discount("U", DiscountKind::Percentage, dec!(5))
                },
                "usage_limit",
            ),
            (
                CreateDiscountCode {
                    currency: Some("EUR".into()),
                    ..discount("C", DiscountKind::Percentage, dec!(5))
                },
                "currency",
            ),
            (
                CreateDiscountCode {
                    currency: Some("JPY".into()),
                    ..discount("Y", DiscountKind::FixedAmount, dec!(5.5))
                },
                "value",
            ),
        ] {
            assert_eq!(
                err(s.create_discount(req)),
                ("parameter_invalid", Some(field.into()))
            );
        }
        s.create_discount(discount("TEN", DiscountKind::Percentage, dec!(100)))
            .unwrap();
        assert_eq!(
            err(s.create_discount(discount("TEN", DiscountKind::FixedAmount, dec!(1)))),
            ("discount_code_exists", Some("code".into()))
        );
        assert_eq!(s.get_discount("TEN").unwrap().times_used, 0);
        assert_eq!(err(s.get_discount("NOPE")).0, "unknown_discount_code");
    }

    // ---- checkout

    #[test]
    fn checkout_prices_lines_and_reserves_names() {
        let mut s = shop();
        s.create_discount(discount("FIVE", DiscountKind::FixedAmount, dec!(5)))
            .unwrap();
        let mut f = fx();
        let req = Checkout {
            discount_code: Some("FIVE".into()),
            ..checkout(&[("A", 2), ("B", 2)])
        };
        let o = buy(&mut s, &mut f, req, IntentStatus::RequiresCapture).unwrap();
        // Subtotals 20 and 10; 5 off split 3.33 / 1.67; tax 10 % of 16.67 on A.
        assert_eq!((o.id.as_str(), o.name.as_str()), ("ord_000001", "#1001"));
        assert_eq!(o.lines[0].discount, dec!(3.33));
        assert_eq!(o.lines[1].discount, dec!(1.67));
        assert_eq!(o.lines[0].tax, dec!(1.67));
        assert_eq!(o.lines[0].total, dec!(18.34));
        assert_eq!(o.lines[1].total, dec!(8.33));
        assert_eq!(
            (o.subtotal, o.discount_total, o.tax_total, o.total),
            (dec!(30), dec!(5), dec!(1.67), dec!(26.67))
        );
        assert_eq!(o.financial_status, FinancialStatus::Authorized);
        assert_eq!(o.total_capturable, dec!(26.67));
        assert_eq!(
            (o.location.as_str(), o.channel.as_str()),
            ("web", "online_store")
        );
        assert_eq!(o.lines[0].id, "line_000001");
        assert_eq!(s.get_discount("FIVE").unwrap().times_used, 1);
        assert_eq!(level(&s, "A", "web"), (8, 2, 10));
        assert_eq!(level(&s, "B", "web"), (3, 2, 5));
        let events = f.take();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                "orders/create",
                "inventory_levels/update",
                "inventory_levels/update"
            ]
        );
        assert_eq!(
            events[1].data["cause"],
            serde_json::json!({"kind": "order", "reference": "ord_000001", "delta": -2})
        );
        assert_eq!(events[0].data["payment_intent"], "pi_1");
        let o2 = authorized(&mut s, &[("B", 1)]);
        assert_eq!((o2.id.as_str(), o2.name.as_str()), ("ord_000002", "#1002"));
    }

    #[test]
    fn automatic_capture_is_paid_at_once() {
        let mut s = shop();
        let mut f = fx();
        let req = Checkout {
            capture: CaptureMethod::Automatic,
            ..checkout(&[("B", 1)])
        };
        let o = buy(&mut s, &mut f, req, IntentStatus::Succeeded).unwrap();
        assert_eq!(o.financial_status, FinancialStatus::Paid);
        assert_eq!(o.total_captured, dec!(5));
        assert_eq!(
            kinds(&mut f),
            ["orders/create", "inventory_levels/update", "orders/paid"]
        );
        let o = buy(
            &mut s,
            &mut f,
            checkout(&[("B", 1)]),
            IntentStatus::Processing,
        )
        .unwrap();
        assert_eq!(o.financial_status, FinancialStatus::Pending);
    }

    #[test]
    fn free_orders_need_no_payment() {
        let mut s = shop();
        s.create_discount(discount("ALL", DiscountKind::Percentage, dec!(100)))
            .unwrap();
        let mut f = fx();
        let req = Checkout {
            discount_code: Some("ALL".into()),
            ..checkout(&[("B", 1)])
        };
        let o = buy(&mut s, &mut f, req, IntentStatus::Succeeded).unwrap();
        assert_eq!((o.total, o.payment_intent.clone()), (dec!(0), None));
        assert_eq!(o.financial_status, FinancialStatus::Paid);
        assert_eq!(
            err(s.begin_capture(&o.id, &CaptureOrder::default())).0,
            "nothing_to_capture"
        );
    }

    #[test]
    fn checkout_rejects_bad_lines_with_their_field() {
        let mut s = shop();
        s.update_product(
            &mut fx(),
            "B",
            UpdateProduct {
                status: Some(ProductStatus::Paused),
                ..Default::default()
            },
        )
        .unwrap();
        s.create_product(
            &mut fx(),
            CreateProduct {
                currency: "EUR".into(),
                ..product("E", dec!(1))
            },
        )
        .unwrap();
        let mut f = fx();
        let cases: Vec<(Checkout, &str, &str)> = vec![
            (checkout(&[]), "parameter_invalid", "lines"),
            (
                checkout(&[("A", 0)]),
                "parameter_invalid",
                "lines[0].quantity",
            ),
            (
                checkout(&[("A", 1), ("Z", 1)]),
                "unknown_sku",
                "lines[1].sku",
            ),
            (
                checkout(&[("A", 1), ("B", 1)]),
                "product_unavailable",
                "lines[1].sku",
            ),
            (
                checkout(&[("A", 1), ("E", 1)]),
                "currency_mismatch",
                "lines[1].sku",
            ),
            (
                checkout(&[("A", 6), ("A", 5)]),
                "out_of_stock",
                "lines[1].sku",
            ),
            (
                Checkout {
                    pickup_location: Some("mars".into()),
                    ..checkout(&[("A", 1)])
                },
                "unknown_location",
                "pickup_location",
            ),
            (
                Checkout {
                    location: Some("mars".into()),
                    ..checkout(&[("A", 1)])
                },
                "unknown_location",
                "location",
            ),
            (
                Checkout {
                    pickup_location: Some("store-1".into()),
                    location: Some("web".into()),
                    ..checkout(&[("A", 1)])
                },
                "parameter_invalid",
                "location",
            ),
            (
                Checkout {
                    payment: PaymentMethod::CardPresent {
                        number: "4242424242424242".into(),
                    },
                    ..checkout(&[("A", 1)])
                },
                "parameter_invalid",
                "payment",
            ),
            (
                Checkout {
                    discount_code: Some("NOPE".into()),
                    ..checkout(&[("A", 1)])
                },
                "unknown_discount_code",
                "discount_code",
            ),
            (
                Checkout {
                    channel: Some("Bad Channel".into()),
                    ..checkout(&[("A", 1)])
                },
                "parameter_invalid",
                "channel",
            ),
        ];
        for (req, code, field) in cases {
            assert_eq!(
                err(s.begin_checkout(&mut f, req)),
                (code, Some(field.to_owned())),
                "{code} {field}"
            );
        }
        // Nothing was reserved by failed checkouts.
        assert_eq!(s.next_order, 0);
        assert!(f.take().is_empty());
    }

    #[test]
    fn channel_status_overrides_the_product_status() {
        let mut s = shop();
        s.update_product(
            &mut fx(),
            "A",
            UpdateProduct {
                status: Some(ProductStatus::Paused),
                channels: Some(BTreeMap::from([(
                    "online_store".into(),
                    ProductStatus::Active,
                )])),
                ..Default::default()
            },
        )
        .unwrap();
        authorized(&mut s, &[("A", 1)]);
        let req = Checkout {
            channel: Some("pos".into()),
            ..checkout(&[("A", 1)])
        };
        assert_eq!(
            err(s.begin_checkout(&mut fx(), req)),
            ("product_unavailable", Some("lines[0].sku".into()))
        );
    }

    #[test]
    fn used_up_discounts_are_unavailable() {
        let mut s = shop();
        s.create_discount(CreateDiscountCode {
            usage_limit: Some(1),
            ..discount("ONCE", DiscountKind::Percentage, dec!(10))
        })
        .unwrap();
        let once = Checkout {
            discount_code: Some("ONCE".into()),
            ..checkout(&[("B", 1)])
        };
        buy(
            &mut s,
            &mut fx(),
            once.clone(),
            IntentStatus::RequiresCapture,
        )
        .unwrap();
        assert_eq!(
            err(s.begin_checkout(&mut fx(), once)),
            ("discount_unavailable", Some("discount_code".into()))
        );
        s.create_discount(CreateDiscountCode {
            currency: Some("EUR".into()),
            ..discount("EURO", DiscountKind::FixedAmount, dec!(1))
        })
        .unwrap();
        let euro = Checkout {
            discount_code: Some("EURO".into()),
            ..checkout(&[("B", 1)])
        };
        assert_eq!(
            err(s.begin_checkout(&mut fx(), euro)),
            ("discount_unavailable", Some("discount_code".into()))
        );
    }

    #[test]
    fn allow_policy_sells_below_zero() {
        let mut s = shop();
        s.put_settings(ShopSettings {
            sell_when_out_of_stock: SellPolicy::Allow,
        })
        .unwrap();
        authorized(&mut s, &[("B", 7)]);
        assert_eq!(level(&s, "B", "web"), (-2, 7, 5));
    }

    #[test]
    fn a_concurrent_checkout_that_took_the_stock_fails_phase_three() {
        let mut s = shop();
        let mut f = fx();
        let first = s.begin_checkout(&mut f, checkout(&[("B", 5)])).unwrap();
        let second = s.begin_checkout(&mut f, checkout(&[("B", 1)])).unwrap();
        let pi = |d: &CheckoutDraft| {
            PaymentOutcome::Authorized(intent("pi_x", IntentStatus::RequiresCapture, d.order.total))
        };
        let o1 = pi(&first);
        s.place_order(&mut f, first, o1).unwrap();
        f.take();
        let o2 = pi(&second);
        assert_eq!(
            err(s.place_order(&mut f, second, o2)),
            ("out_of_stock", Some("lines[0].sku".into()))
        );
        assert!(f.take().is_empty());
        assert_eq!(s.list_orders().len(), 1);
        assert_eq!(level(&s, "B", "web"), (0, 5, 5));
    }

    #[test]
    fn pickup_orders_are_fulfilled_at_the_store() {
        let mut s = shop();
        s.set(&mut fx(), set_req("B", "store-1", 2)).unwrap();
        let req = Checkout {
            pickup_location: Some("store-1".into()),
            ..checkout(&[("B", 2)])
        };
        let o = buy(&mut s, &mut fx(), req, IntentStatus::RequiresCapture).unwrap();
        assert_eq!(o.location, "store-1");
        assert_eq!(level(&s, "B", "store-1"), (0, 2, 2));
        let mut f = fx();
        let o = s.ready_for_pickup(&mut f, &o.id).unwrap();
        assert_eq!(o.fulfillment_status, FulfillmentStatus::ReadyForPickup);
        assert_eq!(kinds(&mut f), ["orders/updated"]);
        s.ready_for_pickup(&mut f, &o.id).unwrap();
        assert!(f.take().is_empty());
        let o = s.fulfill(&mut f, &o.id, FulfillOrder::default()).unwrap();
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Fulfilled);
        assert_eq!(level(&s, "B", "store-1"), (0, 0, 0));
        assert_eq!(
            err(s.ready_for_pickup(&mut f, &o.id)).0,
            "nothing_to_fulfill"
        );
        let web = authorized(&mut s, &[("B", 1)]);
        assert_eq!(
            err(s.ready_for_pickup(&mut f, &web.id)).0,
            "not_a_pickup_order"
        );
    }

    // ---- capture

    #[test]
    fn capture_takes_what_is_authorized_once() {
        let mut s = shop();
        let o = authorized(&mut s, &[("A", 1)]);
        assert_eq!(o.total, dec!(11));
        let too_much = CaptureOrder {
            amount: Some(dec!(11.01)),
        };
        assert_eq!(
            err(s.begin_capture(&o.id, &too_much)),
            ("amount_too_large", Some("amount".into()))
        );
        for bad in [dec!(0), dec!(-1), dec!(1.001)] {
            let req = CaptureOrder { amount: Some(bad) };
            assert_eq!(
                err(s.begin_capture(&o.id, &req)),
                ("parameter_invalid", Some("amount".into()))
            );
        }
        let part = CaptureOrder {
            amount: Some(dec!(6)),
        };
        let plan = s.begin_capture(&o.id, &part).unwrap();
        assert_eq!(
            plan.step,
            PayStep::Capture {
                intent: "pi_1".into(),
                amount: dec!(6)
            }
        );
        assert_eq!(
            plan.pay_key,
            format!("shop-ord_000001-{}-capture", now().timestamp_millis())
        );
        // The order is locked until the route releases it.
        let e = s.begin_capture(&o.id, &part).unwrap_err();
        assert_eq!((e.code, e.kind), ("lock_timeout", ErrorKind::RateLimited));
        assert_eq!(
            err(s.fulfill(&mut fx(), &o.id, FulfillOrder::default())).0,
            "lock_timeout"
        );
        s.release(&o.id);
        let mut f = fx();
        let o = s
            .finish_capture(
                &mut f,
                &o.id,
                &intent("pi_1", IntentStatus::Succeeded, dec!(6)),
            )
            .unwrap();
        assert_eq!(o.financial_status, FinancialStatus::PartiallyPaid);
        assert_eq!((o.total_captured, o.total_capturable), (dec!(6), dec!(0)));
        assert_eq!(kinds(&mut f), ["orders/paid"]);
        assert_eq!(
            err(s.begin_capture(&o.id, &CaptureOrder::default())).0,
            "nothing_to_capture"
        );
        let o2 = authorized(&mut s, &[("B", 1)]);
        assert_eq!(
            capture_all(&mut s, &o2.id).financial_status,
            FinancialStatus::Paid
        );
        assert_eq!(err(s.begin_capture("ord_999999", &part)).0, "unknown_order");
    }

    #[test]
    fn pending_payments_settle_from_the_gateway() {
        let mut s = shop();
        let o = buy(
            &mut s,
            &mut fx(),
            checkout(&[("B", 1)]),
            IntentStatus::Processing,
        )
        .unwrap();
        assert_eq!(
            s.intent_to_refresh(&o.id, false).unwrap().as_deref(),
            Some("pi_1")
        );
        assert_eq!(
            err(s.begin_capture(&o.id, &CaptureOrder::default())).0,
            "payment_pending"
        );
        let mut f = fx();
        let still = intent("pi_1", IntentStatus::Processing, dec!(5));
        assert_eq!(
            s.sync_payment(&mut f, &o.id, &still)
                .unwrap()
                .financial_status,
            FinancialStatus::Pending
        );
        let done = intent("pi_1", IntentStatus::Succeeded, dec!(5));
        let o = s.sync_payment(&mut f, &o.id, &done).unwrap();
        assert_eq!(
            (o.financial_status, o.total_captured),
            (FinancialStatus::Paid, dec!(5))
        );
        assert_eq!(kinds(&mut f), ["orders/paid"]);
        assert_eq!(s.intent_to_refresh(&o.id, false).unwrap(), None);
        let failed = buy(
            &mut s,
            &mut fx(),
            checkout(&[("B", 1)]),
            IntentStatus::Processing,
        )
        .unwrap();
        let gone = intent("pi_1", IntentStatus::Canceled, dec!(5));
        let failed = s.sync_payment(&mut f, &failed.id, &gone).unwrap();
        assert_eq!(failed.financial_status, FinancialStatus::Voided);
        assert_eq!(
            err(s.begin_capture(&failed.id, &CaptureOrder::default())).0,
            "payment_voided"
        );
    }

    // ---- fulfilment

    #[test]
    fn fulfilment_hands_units_over_line_by_line() {
        let mut s = shop();
        let o = authorized(&mut s, &[("A", 3), ("B", 1)]);
        let (a, b) = (o.lines[0].id.clone(), o.lines[1].id.clone());
        let mut f = fx();
        let req = |line_id: &str, quantity| FulfillOrder {
            lines: Some(vec![FulfillLine {
                line_id: line_id.into(),
                quantity,
            }]),
        };
        assert_eq!(
            err(s.fulfill(&mut f, &o.id, req(&a, 4))),
            ("parameter_invalid", Some("lines[0].quantity".into()))
        );
        assert_eq!(
            err(s.fulfill(&mut f, &o.id, req("line_x", 1))),
            ("unknown_line", Some("lines[0].line_id".into()))
        );
        assert_eq!(
            err(s.fulfill(
                &mut f,
                &o.id,
                FulfillOrder {
                    lines: Some(vec![])
                }
            )),
            ("parameter_invalid", Some("lines".into()))
        );
        let o = s.fulfill(&mut f, &o.id, req(&a, 2)).unwrap();
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Partial);
        assert_eq!(
            (
                o.lines[0].fulfilled_quantity,
                o.lines[0].fulfillable_quantity
            ),
            (2, 1)
        );
        assert_eq!(level(&s, "A", "web"), (7, 1, 8));
        let events = f.take();
        assert_eq!(events[0].kind, "orders/fulfilled");
        assert_eq!(
            events[1].data["cause"],
            serde_json::json!({"kind": "fulfillment", "reference": o.id, "delta": 0})
        );
        let o = s.fulfill(&mut f, &o.id, FulfillOrder::default()).unwrap();
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Fulfilled);
        assert_eq!(level(&s, "B", "web"), (4, 0, 4));
        assert_eq!(
            err(s.fulfill(&mut f, &o.id, req(&b, 1))).0,
            "parameter_invalid"
        );
        assert_eq!(
            err(s.fulfill(&mut f, &o.id, FulfillOrder::default())).0,
            "nothing_to_fulfill"
        );
        // Fulfilment does not capture.
        assert_eq!(o.financial_status, FinancialStatus::Authorized);
    }

    // ---- cancel

    #[test]
    fn cancel_voids_an_authorization_and_restocks() {
        let mut s = shop();
        let o = authorized(&mut s, &[("A", 2)]);
        let plan = s.begin_cancel(&o.id).unwrap();
        assert_eq!(
            plan.step,
            PayStep::Cancel {
                intent: "pi_1".into()
            }
        );
        s.release(&o.id);
        let mut f = fx();
        let req = CancelOrder {
            reason: CancelReason::Inventory,
            restock: None,
        };
        let o = s.finish_cancel(&mut f, &plan, &req, None).unwrap();
        assert_eq!(o.status, OrderStatus::Cancelled);
        assert_eq!(o.financial_status, FinancialStatus::Voided);
        assert_eq!(o.cancel_reason, Some(CancelReason::Inventory));
        assert_eq!(o.lines[0].fulfillable_quantity, 0);
        assert_eq!(level(&s, "A", "web"), (10, 0, 10));
        let events = f.take();
        assert_eq!(events[0].kind, "orders/cancelled");
        assert_eq!(
            events[1].data["cause"],
            serde_json::json!({"kind": "cancel", "reference": o.id, "delta": 2})
        );
        assert_eq!(err(s.begin_cancel(&o.id)).0, "order_already_cancelled");
        assert_eq!(
            err(s.begin_capture(&o.id, &CaptureOrder::default())).0,
            "order_cancelled"
        );
        assert_eq!(
            err(s.fulfill(&mut f, &o.id, FulfillOrder::default())).0,
            "order_cancelled"
        );
        let r = s.begin_refund(
            &o.id,
            &CreateOrderRefund {
                lines: vec![refund_line(&o.lines[0].id, 1, RestockType::Cancel)],
                note: None,
            },
        );
        assert_eq!(err(r).0, "order_cancelled");
    }

    #[test]
    fn cancel_without_restock_writes_units_off_and_refunds_captured_money() {
        let mut s = shop();
        let o = authorized(&mut s, &[("A", 3)]);
        capture_all(&mut s, &o.id);
        let f1 = FulfillOrder {
            lines: Some(vec![FulfillLine {
                line_id: o.lines[0].id.clone(),
                quantity: 1,
            }]),
        };
        s.fulfill(&mut fx(), &o.id, f1).unwrap();
        let plan = s.begin_cancel(&o.id).unwrap();
        assert_eq!(
            plan.step,
            PayStep::Refund {
                intent: "pi_1".into(),
                amount: dec!(33)
            }
        );
        s.release(&o.id);
        let o = cancel_with(&mut s, &plan, false);
        assert_eq!(o.financial_status, FinancialStatus::Refunded);
        assert_eq!(o.total_refunded, dec!(33));
        // One unit went out; the other two are written off.
        assert_eq!(level(&s, "A", "web"), (7, 0, 7));
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Partial);
    }

    fn cancel_with(s: &mut ShopState, plan: &OrderPlan, restock: bool) -> Order {
        let amount = match plan.step {
            PayStep::Refund { amount, .. } => amount,
            _ => Decimal::ZERO,
        };
        let req = CancelOrder {
            reason: CancelReason::Customer,
            restock: Some(restock),
        };
        s.finish_cancel(&mut fx(), plan, &req, Some(&pay_refund(amount)))
            .unwrap()
    }

    // ---- refunds

    #[test]
    fn refunds_restock_by_type_and_prorate_money() {
        let mut s = shop();
        s.create_product(&mut fx(), product("C", dec!(10))).unwrap();
        s.set(&mut fx(), set_req("C", "web", 10)).unwrap();
        // 66.67 % off: C's line is 30 − 20.00 = 10.00, B's 10 − 6.67 = 3.33.
        s.create_discount(discount(
            "TWO_THIRDS",
            DiscountKind::Percentage,
            dec!(66.67),
        ))
        .unwrap();
        let req = Checkout {
            discount_code: Some("TWO_THIRDS".into()),
            ..checkout(&[("C", 3), ("B", 2)])
        };
        let o = buy(&mut s, &mut fx(), req, IntentStatus::RequiresCapture).unwrap();
        assert_eq!((o.lines[0].total, o.lines[1].total), (dec!(10), dec!(3.33)));
        capture_all(&mut s, &o.id);
        let (c, b) = (o.lines[0].id.clone(), o.lines[1].id.clone());
        s.fulfill(
            &mut fx(),
            &o.id,
            FulfillOrder {
                lines: Some(vec![FulfillLine {
                    line_id: c.clone(),
                    quantity: 2,
                }]),
            },
        )
        .unwrap();
        assert_eq!(level(&s, "C", "web"), (7, 1, 8));
        // One returned unit to the store: 10.00 × 1/3 = 3.33.
        let mut f = fx();
        let r = refund(
            &mut s,
            &mut f,
            &o.id,
            vec![RefundLineRequest {
                location: Some("store-1".into()),
                ..refund_line(&c, 1, RestockType::Return)
            }],
        )
        .unwrap();
        assert_eq!(
            (r.id.as_str(), r.amount, r.payment_amount),
            ("ref_000001", dec!(3.33), dec!(3.33))
        );
        assert_eq!(r.payment_refund.as_deref(), Some("re_1"));
        assert_eq!(r.lines[0].location.as_deref(), Some("store-1"));
        assert_eq!(level(&s, "C", "store-1"), (1, 0, 1));
        let events = f.take();
        assert_eq!(events[0].kind, "refunds/create");
        assert_eq!(events[0].data["order_id"], "ord_000001");
        assert_eq!(events[0].data["lines"][0]["restock_type"], "return");
        assert_eq!(
            events[1].data["cause"],
            serde_json::json!({"kind": "refund", "reference": "ref_000001", "delta": 1})
        );
        // The unfulfilled unit, cancelled: back to available at the order's location.
        let r = refund(
            &mut s,
            &mut f,
            &o.id,
            vec![refund_line(&c, 1, RestockType::Cancel)],
        )
        .unwrap();
        assert_eq!(r.amount, dec!(3.33));
        assert_eq!(level(&s, "C", "web"), (8, 0, 8));
        // The last unit (fulfilled), not restocked: exactly what remains, 3.34.
        let r = refund(
            &mut s,
            &mut f,
            &o.id,
            vec![refund_line(&c, 1, RestockType::NoRestock)],
        )
        .unwrap();
        assert_eq!((r.amount, r.lines[0].location.clone()), (dec!(3.34), None));
        assert_eq!(level(&s, "C", "web"), (8, 0, 8));
        let o = s.get_order(&o.id).unwrap();
        assert_eq!(
            (o.lines[0].refunded_quantity, o.lines[0].refunded_amount),
            (3, dec!(10))
        );
        assert_eq!(o.financial_status, FinancialStatus::PartiallyRefunded);
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Partial);
        // B: two unfulfilled units, no restock: written off.
        refund(
            &mut s,
            &mut f,
            &o.id,
            vec![refund_line(&b, 2, RestockType::NoRestock)],
        )
        .unwrap();
        assert_eq!(level(&s, "B", "web"), (3, 0, 3));
        let o = s.get_order(&o.id).unwrap();
        assert_eq!(
            (o.total_refunded, o.financial_status),
            (dec!(13.33), FinancialStatus::Refunded)
        );
    }

    #[test]
    fn refund_lines_are_validated() {
        let mut s = shop();
        let o = authorized(&mut s, &[("A", 2)]);
        let a = o.lines[0].id.clone();
        let try_refund = |s: &mut ShopState, lines| {
            err(s.begin_refund(&o.id, &CreateOrderRefund { lines, note: None }))
        };
        let cases: Vec<(Vec<RefundLineRequest>, &str, &str)> = vec![
            (vec![], "parameter_invalid", "lines"),
            (
                vec![refund_line("line_x", 1, RestockType::Cancel)],
                "unknown_line",
                "lines[0].line_id",
            ),
            (
                vec![refund_line(&a, 3, RestockType::Cancel)],
                "parameter_invalid",
                "lines[0].quantity",
            ),
            (
                vec![refund_line(&a, 0, RestockType::Cancel)],
                "parameter_invalid",
                "lines[0].quantity",
            ),
            (
                vec![refund_line(&a, 1, RestockType::Return)],
                "parameter_invalid",
                "lines[0].restock_type",
            ),
            (
                vec![
                    refund_line(&a, 1, RestockType::Cancel),
                    refund_line(&a, 1, RestockType::Cancel),
                ],
                "parameter_invalid",
                "lines[1].line_id",
            ),
            (
                vec![RefundLineRequest {
                    location: Some("mars".into()),
                    ..refund_line(&a, 1, RestockType::Return)
                }],
                "unknown_location",
                "lines[0].location",
            ),
            (
                vec![RefundLineRequest {
                    location: Some("store-1".into()),
                    ..refund_line(&a, 1, RestockType::Cancel)
                }],
                "parameter_invalid",
                "lines[0].location",
            ),
        ];
        for (lines, code, field) in cases {
            assert_eq!(
                try_refund(&mut s, lines),
                (code, Some(field.to_owned())),
                "{code} {field}"
            );
        }
        s.fulfill(&mut fx(), &o.id, FulfillOrder::default())
            .unwrap();
        assert_eq!(
            try_refund(&mut s, vec![refund_line(&a, 1, RestockType::Cancel)]),
            ("parameter_invalid", Some("lines[0].restock_type".into()))
        );
        assert!(!s.busy.contains(&o.id));
    }

    #[test]
    fn refunds_before_capture_reduce_the_authorization_then_void_it() {
        let mut s = shop();
        let o = authorized(&mut s, &[("B", 2)]);
        let b = o.lines[0].id.clone();
        let plan = s
            .begin_refund(
                &o.id,
                &CreateOrderRefund {
                    lines: vec![refund_line(&b, 1, RestockType::Cancel)],
                    note: Some("changed mind".into()),
                },
            )
            .unwrap();
        assert_eq!(plan.plan.step, PayStep::Nothing);
        assert_eq!(
            (plan.refund.payment_amount, plan.refund.released_amount),
            (dec!(0), dec!(5))
        );
        s.release(&o.id);
        let r = s.finish_refund(&mut fx(), plan, None).unwrap();
        assert_eq!(r.payment_refund, None);
        let o = s.get_order(&o.id).unwrap();
        assert_eq!(
            (o.total_capturable, o.financial_status),
            (dec!(5), FinancialStatus::PartiallyRefunded)
        );
        // Capturing now takes only what is left.
        let plan = s.begin_capture(&o.id, &CaptureOrder::default()).unwrap();
        assert_eq!(
            plan.step,
            PayStep::Capture {
                intent: "pi_1".into(),
                amount: dec!(5)
            }
        );
        s.release(&o.id);
        // Refunding the rest instead voids the authorization.
        let plan = s
            .begin_refund(
                &o.id,
                &CreateOrderRefund {
                    lines: vec![refund_line(&b, 1, RestockType::Cancel)],
                    note: None,
                },
            )
            .unwrap();
        assert_eq!(
            plan.plan.step,
            PayStep::Cancel {
                intent: "pi_1".into()
            }
        );
        s.release(&o.id);
        s.finish_refund(&mut fx(), plan, None).unwrap();
        let o = s.get_order(&o.id).unwrap();
        assert_eq!(
            (o.total_capturable, o.financial_status),
            (dec!(0), FinancialStatus::Voided)
        );
        assert_eq!(level(&s, "B", "web"), (5, 0, 5));
    }

    #[test]
    fn refunds_after_a_partial_capture_refund_at_most_what_was_captured() {
        let mut s = shop();
        let o = authorized(&mut s, &[("B", 2)]);
        let plan = s
            .begin_capture(
                &o.id,
                &CaptureOrder {
                    amount: Some(dec!(4)),
                },
            )
            .unwrap();
        s.release(&o.id);
        s.finish_capture(
            &mut fx(),
            &o.id,
            &intent("pi_1", IntentStatus::Succeeded, dec!(4)),
        )
        .unwrap();
        drop(plan);
        let r = refund(
            &mut s,
            &mut fx(),
            &o.id,
            vec![refund_line(&o.lines[0].id, 2, RestockType::Cancel)],
        )
        .unwrap();
        assert_eq!(
            (r.amount, r.payment_amount, r.released_amount),
            (dec!(10), dec!(4), dec!(0))
        );
        let o = s.get_order(&o.id).unwrap();
        assert_eq!(o.financial_status, FinancialStatus::Refunded);
        // Nothing held any more: a cancel moves no money.
        assert_eq!(s.begin_cancel(&o.id).unwrap().step, PayStep::Nothing);
    }

    #[test]
    fn refunds_wait_for_pending_payments() {
        let mut s = shop();
        let o = buy(
            &mut s,
            &mut fx(),
            checkout(&[("B", 1)]),
            IntentStatus::Processing,
        )
        .unwrap();
        let r = s.begin_refund(
            &o.id,
            &CreateOrderRefund {
                lines: vec![refund_line(&o.lines[0].id, 1, RestockType::Cancel)],
                note: None,
            },
        );
        assert_eq!(err(r).0, "payment_pending");
        let plan = s.begin_cancel(&o.id).unwrap();
        assert_eq!(
            plan.step,
            PayStep::Cancel {
                intent: "pi_1".into()
            }
        );
    }

    #[test]
    fn snapshot_shows_every_part() {
        let mut s = shop();
        authorized(&mut s, &[("A", 1)]);
        let snap = s.snapshot();
        assert_eq!(snap["products"].as_array().unwrap().len(), 2);
        assert_eq!(snap["inventory_levels"].as_array().unwrap().len(), 4);
        assert_eq!(snap["orders"][0]["id"], "ord_000001");
        assert_eq!(snap["settings"]["sell_when_out_of_stock"], "block");
        assert_eq!(snap["tax_rates"][0]["code"], "std");
    }

    // ---- properties

    #[derive(Clone, Debug)]
    enum Op {
        Adjust(usize, usize, i64),
        Set(usize, usize, i64),
        Checkout(Vec<(usize, i64)>, usize, bool),
        Capture(usize, u8),
        Fulfill(usize, bool),
        Cancel(usize, bool),
        Refund(usize, usize, i64, u8, usize),
        Policy(bool),
    }

    const SKUS: [&str; 3] = ["A", "B", "C"];
    const LOCS: [&str; 2] = ["web", "store-1"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => (0..3usize, 0..2usize, -5i64..8).prop_map(|(s, l, d)| Op::Adjust(s, l, d)),
            1 => (0..3usize, 0..2usize, 0i64..10).prop_map(|(s, l, a)| Op::Set(s, l, a)),
            2 => (
                prop::collection::vec((0..3usize, 1i64..4), 1..4),
                0..2usize,
                any::<bool>()
            )
                .prop_map(|(lines, l, auto)| Op::Checkout(lines, l, auto)),
            2 => (0..8usize, 0..4u8).prop_map(|(o, part)| Op::Capture(o, part)),
            2 => (0..8usize, any::<bool>()).prop_map(|(o, all)| Op::Fulfill(o, all)),
            1 => (0..8usize, any::<bool>()).prop_map(|(o, r)| Op::Cancel(o, r)),
            4 => (0..8usize, 0..3usize, 1i64..4, 0..3u8, 0..2usize)
                .prop_map(|(o, line, q, t, l)| Op::Refund(o, line, q, t, l)),
            1 => any::<bool>().prop_map(Op::Policy),
        ]
    }

    fn order_id(s: &ShopState, i: usize) -> Option<String> {
        let ids: Vec<&String> = s.orders.keys().collect();
        (!ids.is_empty()).then(|| ids[i % ids.len()].clone())
    }

    fn apply(s: &mut ShopState, op: Op) {
        let mut f = fx();
        match op {
            Op::Adjust(sku, loc, delta) => {
                let _ = s.adjust(
                    &mut f,
                    AdjustInventory {
                        location: LOCS[loc].into(),
                        ..adjust_req(SKUS[sku], delta)
                    },
                );
            }
            Op::Set(sku, loc, available) => {
                let _ = s.set(&mut f, set_req(SKUS[sku], LOCS[loc], available));
            }
            Op::Checkout(lines, loc, auto) => {
                let lines: Vec<(&str, i64)> = lines.iter().map(|(s, q)| (SKUS[*s], *q)).collect();
                let req = Checkout {
                    location: Some(LOCS[loc].into()),
                    capture: if auto {
                        CaptureMethod::Automatic
                    } else {
                        CaptureMethod::Manual
                    },
                    ..checkout(&lines)
                };
                let status = if auto {
                    IntentStatus::Succeeded
                } else {
                    IntentStatus::RequiresCapture
                };
                let _ = buy(s, &mut f, req, status);
            }
            Op::Capture(o, part) => {
                let Some(id) = order_id(s, o) else { return };
                let capturable = s.orders[&id].order.total_capturable;
                let amount = (part > 0).then(|| {
                    omnisim_api::common::round_money(
                        capturable * Decimal::from(part) / Decimal::from(4),
                        "USD",
                    )
                });
                if let Ok(plan) = s.begin_capture(&id, &CaptureOrder { amount }) {
                    s.release(&id);
                    if let PayStep::Capture { amount, .. } = plan.step {
                        let pi = intent("pi_1", IntentStatus::Succeeded, amount);
                        s.finish_capture(&mut f, &id, &pi).unwrap();
                    }
                }
            }
            Op::Fulfill(o, all) => {
                let Some(id) = order_id(s, o) else { return };
                let req = if all {
                    FulfillOrder::default()
                } else {
                    let line = &s.orders[&id].order.lines[0];
                    FulfillOrder {
                        lines: Some(vec![FulfillLine {
                            line_id: line.id.clone(),
                            quantity: 1,
                        }]),
                    }
                };
                let _ = s.fulfill(&mut f, &id, req);
            }
            Op::Cancel(o, restock) => {
                let Some(id) = order_id(s, o) else { return };
                let _ = cancel(s, &mut f, &id, restock);
            }
            Op::Refund(o, line, q, t, loc) => {
                let Some(id) = order_id(s, o) else { return };
                let lines = &s.orders[&id].order.lines;
                let line_id = lines[line % lines.len()].id.clone();
                let restock_type = [
                    RestockType::Cancel,
                    RestockType::Return,
                    RestockType::NoRestock,
                ][usize::from(t)];
                let req = RefundLineRequest {
                    location: (restock_type == RestockType::Return).then(|| LOCS[loc].into()),
                    ..refund_line(&line_id, q, restock_type)
                };
                let _ = refund(s, &mut f, &id, vec![req]);
            }
            Op::Policy(allow) => {
                let policy = if allow {
                    SellPolicy::Allow
                } else {
                    SellPolicy::Block
                };
                s.put_settings(ShopSettings {
                    sell_when_out_of_stock: policy,
                })
                .unwrap();
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn invariants_hold_after_any_sequence(ops in prop::collection::vec(op(), 1..40)) {
            let mut s = shop();
            s.create_product(&mut fx(), product("C", dec!(3.33))).unwrap();
            s.create_discount(discount("D", DiscountKind::FixedAmount, dec!(1))).unwrap();
            for op in ops {
                apply(&mut s, op);
                prop_assert!(s.busy.is_empty());
                let broken = s.invariant_violations();
                prop_assert!(broken.is_empty(), "{:?}", broken);
                for l in s.list_levels(None, None).unwrap() {
                    prop_assert_eq!(l.on_hand, l.available + l.committed + l.unavailable);
                }
                for o in s.list_orders() {
                    // Refunded, in goods value and in money, never above the total.
                    let refunds: Decimal = o.refunds.iter().map(|r| r.amount).sum();
                    prop_assert!(refunds <= o.total);
                    prop_assert!(o.total_refunded <= o.total);
                    prop_assert!(o.total_refunded <= o.total_captured);
                    prop_assert!(o.total_captured + o.total_released <= o.total);
                    prop_assert_eq!(o.lines.iter().map(|l| l.total).sum::<Decimal>(), o.total);
                }
            }
        }
    }
}
