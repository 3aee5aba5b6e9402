//! The point of sale's state machine (modelled on Square Inventory + Orders):
//! a catalog keyed by SKU, Square-ordered stock per SKU and location
//! ([`Ledger`]), register sales with split tenders, returns with or without a
//! receipt, online pickups set aside and handed over in store, the
//! sell-below-zero policy and tax rates.
//!
//! Sales and returns that move money through the gateway run in two phases
//! around the (awaited) gateway calls, so the state lock is never held across
//! an await: [`PosState::begin_sale`] validates and reserves (id, stock held
//! against the policy), [`PosState::finish_sale`] records, and
//! [`PosState::abort_sale`] releases; returns likewise reserve the returned
//! units and the tender amounts they refund.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use indexmap::IndexMap;
use omnisim_api::Scheme;
use omnisim_api::common::{
    LocationKind, currency_scale, fits_currency, is_currency_code, round_money,
};
use omnisim_api::pay::PaymentMethod;
use omnisim_api::pos::{
    BatchChangeInventory, CreateItem, CreatePickup, CreateReturn, CreateSale, GiftCardSaleRequest,
    InventoryCause, InventoryCauseKind, InventoryChangeType, InventoryCount, InventoryCountUpdated,
    InventoryCounts, InventoryState, IssueGiftCard, IssuedGiftCard, Item, ItemList, Pickup,
    PickupStatus, PosSettings, RefundTo, Return, ReturnLine, ReturnRefund, Sale, SaleLine,
    SaleLineRequest, SellPolicy, SetTaxRate, SoldGiftCard, TaxRate, TaxRateList, Tender,
    TenderType, UpdateItem,
};
use rust_decimal::Decimal;

use super::ledger::{COUNT_WINDOW_HOURS, Ledger};
use crate::core::Platform;
use crate::error::{SimError, SimResult};
use crate::events::Effects;
use crate::locations::Locations;
use crate::webhooks::RetryPolicy;

mod pickup_lines;

/// A line's `(discount, tax, total)` under a promotion.
pub(crate) type LinePrice = (Decimal, Decimal, Decimal);

/// Most lines in a sale, return or pickup.
pub const LINES_MAX: usize = 100;
/// Most tenders in a sale.
pub const TENDERS_MAX: usize = 20;
/// Most changes in one inventory batch (Square allows 100).
pub const BATCH_CHANGES_MAX: usize = 100;
/// Largest quantity in any one line or change.
pub const QUANTITY_MAX: i64 = 1_000_000_000;
/// Longest SKU, tax code, order ref or reference.
pub const KEY_LEN_MAX: usize = 64;
/// Longest free text (names, references, customers).
pub const TEXT_LEN_MAX: usize = 255;

fn price_max() -> Decimal {
    Decimal::from(1_000_000_000i64)
}

fn amount_max() -> Decimal {
    Decimal::from(1_000_000_000_000_000_000i64)
}

/// A gateway payment a sale needs: the route authorizes it between phases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPayment {
    /// The tender's index in the request.
    pub tender: usize,
    /// Amount to authorize.
    pub amount: Decimal,
    /// The method, with the card number the state never keeps.
    pub method: PaymentMethod,
}

/// A reserved sale, waiting for its gateway payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalePlan {
    /// The reserved `sale_…` id.
    pub id: String,
    /// The sale's currency.
    pub currency: String,
    /// A prefix for the gateway idempotency keys of this sale.
    pub key_base: String,
    /// Card-present and gift-card tenders, in tender order.
    pub payments: Vec<PlannedPayment>,
    /// Gift cards the sale sells, to issue at the gateway once its tenders
    /// are authorized.
    pub gift_cards: Vec<SoldGiftCard>,
}

/// What the gateway must do for one refund of a return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundAction {
    /// Nothing: cash from the drawer.
    Cash,
    /// Refund this captured intent.
    Intent(String),
    /// Issue a gift card holding the amount (store credit).
    IssueGiftCard,
}

/// One refund a return plans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRefund {
    /// Where the money goes.
    pub kind: TenderType,
    /// How much.
    pub amount: Decimal,
    /// The gateway call it needs.
    pub action: RefundAction,
}

/// A reserved return, waiting for its gateway refunds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnPlan {
    /// The reserved `ret_…` id.
    pub id: String,
    /// The return's currency.
    pub currency: String,
    /// A prefix for the gateway idempotency keys of this return.
    pub key_base: String,
    /// The refunds, in order.
    pub refunds: Vec<PlannedRefund>,
    /// The code store credit is issued under (generated if `None`).
    pub store_credit_code: Option<String>,
}

/// What a sale line has given back, and what pending returns hold of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct LineBook {
    returned_amount: Decimal,
    reserved_quantity: i64,
    reserved_amount: Decimal,
}

/// A recorded sale with the books returns keep on it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SaleBook {
    sale: Sale,
    lines: Vec<LineBook>,
    /// Per tender: refunds reserved by pending returns.
    tender_reserved: Vec<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingSale {
    sale: Sale,
}

/// Units and money a return takes from one sale line: `(line, units, amount)`.
type Allocation = (usize, i64, Decimal);

/// What a pending return took from its sale's books.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingReturn {
    ret: Return,
    lines: Vec<Allocation>,
    /// `(tender, amount)` refunded to the sale's own tenders.
    tenders: Vec<(usize, Decimal)>,
    refunds: Vec<PlannedRefund>,
}

/// A pickup and the units it still holds RESERVED_FOR_SALE, per line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PickupBook {
    pickup: Pickup,
    held: Vec<i64>,
    /// Creation order: releases not tied to a pickup take from the oldest.
    seq: u64,
}

/// How one stock write changes IN_STOCK.
#[derive(Clone, Copy, Debug)]
enum StockMove {
    Count(i64),
    Adjust(i64),
}

/// Everything the POS knows.
#[derive(Debug)]
pub struct PosState {
    locations: Locations,
    items: BTreeMap<String, Item>,
    stock: BTreeMap<(String, String), Ledger>,
    settings: PosSettings,
    tax_rates: BTreeMap<String, Decimal>,
    sales: BTreeMap<String, SaleBook>,
    pending_sales: BTreeMap<String, PendingSale>,
    returns: BTreeMap<String, Return>,
    pending_returns: BTreeMap<String, PendingReturn>,
    pickups: BTreeMap<String, PickupBook>,
    /// RESERVED_FOR_SALE units set aside by adjustments, not by a pickup.
    reserved_loose: BTreeMap<(String, String), i64>,
    pickup_seq: u64,
    sale_seq: u64,
    return_seq: u64,
    arrival_seq: u64,
    /// Every stock write as it was made, oldest first (bounded): what
    /// Square's `inventory/changes/batch-retrieve` answers.
    journal: std::collections::VecDeque<StockEntry>,
    /// What the Square dialect keeps that the model does not (catalog object
    /// ids and versions, orders, payments, refunds): part of the state, so
    /// a reset clears it and webhooks render against it.
    square: crate::dialects::square::Book,
    /// Customer profiles (`customer.created`, `customer.updated`).
    pub(crate) customers: crate::customers::CustomerBook,
    /// Automatic promotions (`promotion.created`, `promotion.updated`).
    pub(crate) promotions: crate::promotions::PromotionBook,
}

/// The most stock writes [`PosState::journal`] keeps; the oldest go first.
pub const JOURNAL_MAX: usize = 100_000;

/// One stock write as it was made: a count, or an adjustment between two
/// states (a sale is IN_STOCK → SOLD, a restocked return
/// RETURNED_BY_CUSTOMER → IN_STOCK, and so on).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StockEntry {
    /// Arrival order, from 1.
    pub seq: u64,
    /// The SKU.
    pub sku: String,
    /// The location.
    pub location: String,
    /// `Some(quantity)` for a physical count; `None` for an adjustment.
    pub counted: Option<i64>,
    /// Units moved by an adjustment (the counted quantity for a count).
    pub quantity: i64,
    /// Where an adjustment took the units from (IN_STOCK for a count).
    pub from_state: InventoryState,
    /// Where an adjustment put them (IN_STOCK for a count).
    pub to_state: InventoryState,
    /// When it happened, as its writer says.
    pub occurred_at: DateTime<Utc>,
    /// When the POS recorded it.
    pub created_at: DateTime<Utc>,
    /// What kind of write it was.
    pub cause: InventoryCauseKind,
    /// The writer's reference, the sale or return id, or the order ref.
    pub reference: Option<String>,
    /// Who wrote it (the request's credential; `None` for the platform's
    /// own timers), as Square records an inventory change's `source` and
    /// team member. Not in snapshots: the event log carries actors.
    #[serde(skip)]
    pub actor: Option<omnisim_api::Actor>,
}

impl Default for PosState {
    fn default() -> Self {
        PosState {
            locations: Locations::with(&[("store-1", "Store 1", LocationKind::Store)]),
            items: BTreeMap::new(),
            stock: BTreeMap::new(),
            settings: PosSettings::default(),
            tax_rates: BTreeMap::new(),
            sales: BTreeMap::new(),
            pending_sales: BTreeMap::new(),
            returns: BTreeMap::new(),
            pending_returns: BTreeMap::new(),
            pickups: BTreeMap::new(),
            reserved_loose: BTreeMap::new(),
            pickup_seq: 0,
            sale_seq: 0,
            return_seq: 0,
            arrival_seq: 0,
            journal: std::collections::VecDeque::new(),
            square: crate::dialects::square::Book::default(),
            promotions: crate::promotions::PromotionBook::new(
                "prm",
                "promotion.created",
                "promotion.updated",
            ),
            customers: crate::customers::CustomerBook::new(
                "cust",
                "customer.created",
                "customer.updated",
            ),
        }
    }
}

/// A SKU, tax code or order ref: 1 to 64 visible ASCII characters that are
/// safe in a URL path segment.
fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= KEY_LEN_MAX
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'))
}

fn check_key(field: &str, s: &str, what: &str) -> SimResult<()> {
    if is_key(s) {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            format!(
                "a {what} is 1 to {KEY_LEN_MAX} visible ASCII characters, without `/`, `?`, `#` or `%`"
            ),
        ))
    }
}

fn check_text(field: &str, s: &str) -> SimResult<()> {
    if s.trim().is_empty() || s.len() > TEXT_LEN_MAX {
        Err(SimError::bad_value(
            field,
            format!("`{field}` is 1 to {TEXT_LEN_MAX} characters, not blank"),
        ))
    } else {
        Ok(())
    }
}

fn check_quantity(field: &str, quantity: i64, min: i64) -> SimResult<()> {
    if (min..=QUANTITY_MAX).contains(&quantity) {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            format!("a quantity here is from {min} to {QUANTITY_MAX}, not {quantity}"),
        ))
    }
}

/// Most gift cards one sale sells.
const GIFT_CARDS_MAX: usize = 20;

/// The gift cards a sale sells: each code well formed and sold once, each
/// amount above zero in the sale's currency.
fn check_gift_cards(cards: &[GiftCardSaleRequest], currency: &str) -> SimResult<Vec<SoldGiftCard>> {
    if cards.len() > GIFT_CARDS_MAX {
        return Err(SimError::bad_value(
            "gift_cards",
            format!("at most {GIFT_CARDS_MAX} gift cards"),
        ));
    }
    let mut out: Vec<SoldGiftCard> = Vec::with_capacity(cards.len());
    for (i, g) in cards.iter().enumerate() {
        let f = |name: &str| format!("gift_cards[{i}].{name}");
        crate::pay::rules::gift_card_code(&f("code"), &g.code)?;
        if out.iter().any(|o| o.code == g.code) {
            return Err(SimError::bad_value(
                f("code"),
                format!("gift card `{}` is sold twice in one sale", g.code),
            ));
        }
        if let Some(c) = &g.currency
            && c != currency
        {
            return Err(SimError::invalid(
                "currency_mismatch",
                format!("gift card `{}` is in {c}, but the sale is in {currency}: one sale, one currency", g.code),
            )
            .field(f("currency")));
        }
        if g.amount <= Decimal::ZERO
            || g.amount > amount_max()
            || !fits_currency(g.amount, currency)
        {
            return Err(SimError::bad_value(
                f("amount"),
                format!("{} is not a valid {currency} amount above 0", g.amount),
            ));
        }
        out.push(SoldGiftCard {
            code: g.code.clone(),
            amount: money(g.amount, currency),
        });
    }
    Ok(out)
}

fn check_lines(lines: &[SaleLineRequest]) -> SimResult<()> {
    if lines.is_empty() {
        return Err(SimError::bad_value("lines", "give at least one line"));
    }
    if lines.len() > LINES_MAX {
        return Err(SimError::bad_value(
            "lines",
            format!("at most {LINES_MAX} lines"),
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        check_quantity(&format!("lines[{i}].quantity"), l.quantity, 1)?;
    }
    Ok(())
}

/// How far ahead of the POS's clock a client's `occurred_at` may be: two hosts'
/// clocks are never exactly equal, and a register a few milliseconds ahead is
/// not reporting the future.
pub const CLOCK_SKEW_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

fn check_not_future(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> SimResult<()> {
    if at > now + CLOCK_SKEW_TOLERANCE {
        Err(SimError::bad_value(
            field,
            format!("`{field}` {at} is in the future (now is {now})"),
        ))
    } else {
        Ok(())
    }
}

fn check_price(field: &str, price: Decimal, currency: &str) -> SimResult<()> {
    if price.is_sign_negative() && !price.is_zero() {
        return Err(SimError::bad_value(field, "a price cannot be negative"));
    }
    if price > price_max() {
        return Err(SimError::bad_value(
            field,
            format!("a price is at most {}", price_max()),
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

/// The adjustments Square allows, as `(from, to)`.
const ALLOWED_MOVES: &[(InventoryState, InventoryState)] = &[
    (InventoryState::None, InventoryState::InStock),
    (InventoryState::InStock, InventoryState::Waste),
    (InventoryState::InStock, InventoryState::Sold),
    (InventoryState::InStock, InventoryState::None),
    (InventoryState::Waste, InventoryState::InStock),
    (InventoryState::Sold, InventoryState::ReturnedByCustomer),
    (InventoryState::ReturnedByCustomer, InventoryState::InStock),
    (InventoryState::ReturnedByCustomer, InventoryState::Waste),
    (InventoryState::InStock, InventoryState::ReservedForSale),
    (InventoryState::ReservedForSale, InventoryState::InStock),
    (InventoryState::ReservedForSale, InventoryState::Sold),
];

fn state_name(s: InventoryState) -> &'static str {
    match s {
        InventoryState::None => "NONE",
        InventoryState::InStock => "IN_STOCK",
        InventoryState::ReservedForSale => "RESERVED_FOR_SALE",
        InventoryState::Sold => "SOLD",
        InventoryState::ReturnedByCustomer => "RETURNED_BY_CUSTOMER",
        InventoryState::Waste => "WASTE",
    }
}

/// How an allowed move of `quantity` units changes IN_STOCK.
fn in_stock_delta(from: InventoryState, to: InventoryState, quantity: i64) -> i64 {
    if to == InventoryState::InStock {
        quantity
    } else if from == InventoryState::InStock {
        -quantity
    } else {
        0
    }
}

/// `amount` written with exactly the currency's decimals (`0.00`, `12.50`,
/// `1000`), so every money field of one currency reads alike. Amounts here
/// always fit their currency, so nothing is rounded.
fn money(amount: Decimal, currency: &str) -> Decimal {
    let mut m = amount;
    m.rescale(currency_scale(currency));
    m
}

/// `total × part / whole`, rounded to the currency.
fn pro_rata(total: Decimal, part: i64, whole: i64, currency: &str) -> Decimal {
    let (part, whole) = (Decimal::from(part), Decimal::from(whole));
    let exact = total
        .checked_mul(part)
        .and_then(|x| x.checked_div(whole))
        .unwrap_or_else(|| total / whole * part);
    round_money(exact, currency)
}

impl PosState {
    fn require_item(&self, field: &str, sku: &str) -> SimResult<&Item> {
        self.items.get(sku).ok_or_else(|| {
            SimError::not_found("unknown_sku", format!("no item with SKU `{sku}`")).field(field)
        })
    }

    fn tax_rate(&self, item: &Item) -> Decimal {
        item.tax_code
            .as_ref()
            .and_then(|c| self.tax_rates.get(c))
            .copied()
            .unwrap_or(Decimal::ZERO)
    }

    /// `(tax, total)` of `quantity` units of `item` at its catalog price.
    fn line_money(&self, item: &Item, quantity: i64) -> (Decimal, Decimal) {
        let net = item.price * Decimal::from(quantity);
        let tax = round_money(net * self.tax_rate(item), &item.currency);
        (money(tax, &item.currency), money(net + tax, &item.currency))
    }

    /// Prices `lines` under the best promotion running at `t`, if any:
    /// its discount comes off each line before tax. The promotion's id.
    fn apply_promotion(
        &self,
        t: DateTime<Utc>,
        lines: &mut [SaleLine],
        currency: &str,
    ) -> Option<String> {
        let priced: Vec<(&str, Decimal, i64)> = lines
            .iter()
            .map(|l| (l.sku.as_str(), l.price, l.quantity))
            .collect();
        let (id, prices) = self.promotion_prices(t, &priced, currency)?;
        for (l, (discount, tax, total)) in lines.iter_mut().zip(prices) {
            l.discount = discount;
            l.tax = tax;
            l.total = total;
        }
        Some(id)
    }

    /// What the best promotion running at `t` makes of lines of
    /// `(sku, price, quantity)`, as the register prices a sale: its id, and
    /// each line's `(discount, tax, total)`. `None` when none runs or it
    /// takes nothing off. The Square dialect prices its orders with it.
    pub(crate) fn promotion_prices(
        &self,
        t: DateTime<Utc>,
        lines: &[(&str, Decimal, i64)],
        currency: &str,
    ) -> Option<(String, Vec<LinePrice>)> {
        let priced: Vec<omnisim_api::promotion::PricedLine<'_>> = lines
            .iter()
            .map(
                |(sku, price, quantity)| omnisim_api::promotion::PricedLine {
                    sku,
                    price: *price,
                    quantity: *quantity,
                },
            )
            .collect();
        let (id, off) = self.promotions.price(t, &priced, currency)?;
        let inputs: Vec<crate::shop::pricing::LineInput> = lines
            .iter()
            .map(|(sku, price, quantity)| crate::shop::pricing::LineInput {
                price: *price,
                quantity: *quantity,
                tax_rate: self
                    .items
                    .get(*sku)
                    .map_or(Decimal::ZERO, |i| self.tax_rate(i)),
            })
            .collect();
        let prices = crate::shop::pricing::price_lines_off(&inputs, &off, currency);
        let out = prices
            .into_iter()
            .map(|p| {
                (
                    money(p.discount, currency),
                    money(p.tax, currency),
                    money(p.total, currency),
                )
            })
            .collect();
        Some((id, out))
    }

    // ---- catalog ----------------------------------------------------------

    /// `POST /v1/items`: emits `item.updated`.
    pub fn create_item(&mut self, fx: &mut Effects, req: CreateItem) -> SimResult<Item> {
        check_key("sku", &req.sku, "SKU")?;
        check_text("name", &req.name)?;
        check_currency("currency", &req.currency)?;
        check_price("price", req.price, &req.currency)?;
        if let Some(code) = &req.tax_code {
            check_key("tax_code", code, "tax code")?;
        }
        if self.items.contains_key(&req.sku) {
            return Err(SimError::conflict(
                "sku_exists",
                format!("an item with SKU `{}` exists; PATCH it instead", req.sku),
            )
            .field("sku"));
        }
        let now = fx.now();
        let item = Item {
            sku: req.sku,
            name: req.name,
            price: money(req.price, &req.currency),
            currency: req.currency,
            tax_code: req.tax_code,
            created_at: now,
            updated_at: now,
        };
        self.items.insert(item.sku.clone(), item.clone());
        fx.emit("item.updated", &item);
        Ok(item)
    }

    /// `PATCH /v1/items/{sku}`: only the fields given change; an empty
    /// `tax_code` clears it. Emits `item.updated` when something changed.
    pub fn update_item(&mut self, fx: &mut Effects, sku: &str, req: UpdateItem) -> SimResult<Item> {
        let old = self.items.get(sku).ok_or_else(|| {
            SimError::not_found("unknown_sku", format!("no item with SKU `{sku}`")).field("sku")
        })?;
        let mut item = old.clone();
        if let Some(name) = req.name {
            check_text("name", &name)?;
            item.name = name;
        }
        if let Some(currency) = req.currency {
            check_currency("currency", &currency)?;
            item.currency = currency;
        }
        let price_field = if req.price.is_some() {
            "price"
        } else {
            "currency"
        };
        if let Some(price) = req.price {
            item.price = price;
        }
        check_price(price_field, item.price, &item.currency)?;
        item.price = money(item.price, &item.currency);
        if let Some(code) = req.tax_code {
            if code.is_empty() {
                item.tax_code = None;
            } else {
                check_key("tax_code", &code, "tax code")?;
                item.tax_code = Some(code);
            }
        }
        if item == *old {
            return Ok(item);
        }
        item.updated_at = fx.now();
        self.items.insert(item.sku.clone(), item.clone());
        fx.emit("item.updated", &item);
        Ok(item)
    }

    /// `GET /v1/items/{sku}`.
    pub fn item(&self, sku: &str) -> SimResult<Item> {
        self.require_item("sku", sku).cloned()
    }

    /// `GET /v1/items`.
    pub fn items(&self) -> ItemList {
        ItemList {
            data: self.items.values().cloned().collect(),
        }
    }

    // ---- settings and tax -------------------------------------------------

    /// `GET /v1/settings`.
    pub fn settings(&self) -> PosSettings {
        self.settings.clone()
    }

    /// `PUT /v1/settings`.
    pub fn set_settings(&mut self, settings: PosSettings) -> PosSettings {
        self.settings = settings;
        self.settings.clone()
    }

    /// `PUT /v1/tax_rates/{code}`: a fraction from 0 to 1.
    pub fn set_tax_rate(&mut self, code: &str, req: SetTaxRate) -> SimResult<TaxRate> {
        check_key("code", code, "tax code")?;
        if req.rate.is_sign_negative() && !req.rate.is_zero() || req.rate > Decimal::ONE {
            return Err(SimError::bad_value(
                "rate",
                "a tax rate is a fraction from 0 to 1 (0.0825 is 8.25 %)",
            ));
        }
        if req.rate.normalize().scale() > 6 {
            return Err(SimError::bad_value(
                "rate",
                "a tax rate has at most 6 decimals",
            ));
        }
        let rate = req.rate.normalize();
        self.tax_rates.insert(code.to_owned(), rate);
        Ok(TaxRate {
            code: code.to_owned(),
            rate,
        })
    }

    /// `GET /v1/tax_rates`.
    pub fn tax_rates(&self) -> TaxRateList {
        TaxRateList {
            data: self
                .tax_rates
                .iter()
                .map(|(code, rate)| TaxRate {
                    code: code.clone(),
                    rate: *rate,
                })
                .collect(),
        }
    }

    // ---- stock ------------------------------------------------------------

    fn count_of(&self, sku: &str, location: &str) -> Option<InventoryCount> {
        let item = self.items.get(sku)?;
        let ledger = self.stock.get(&(sku.to_owned(), location.to_owned()));
        Some(InventoryCount {
            sku: sku.to_owned(),
            location: location.to_owned(),
            quantity: ledger.map_or(0, Ledger::quantity),
            reserved_for_sale: self.reserved_units(sku, location),
            calculated_at: ledger
                .and_then(Ledger::calculated_at)
                .unwrap_or(item.created_at),
        })
    }

    /// Every stock write kept, oldest first (see [`StockEntry`]).
    pub fn journal(&self) -> &std::collections::VecDeque<StockEntry> {
        &self.journal
    }

    /// Every `(sku, location)` that has stock records, in order.
    pub fn stock_keys(&self) -> impl Iterator<Item = &(String, String)> {
        self.stock.keys()
    }

    /// Every recorded sale, by id.
    pub fn sales(&self) -> impl Iterator<Item = &Sale> {
        self.sales.values().map(|b| &b.sale)
    }

    /// The Square dialect's book.
    pub fn square(&self) -> &crate::dialects::square::Book {
        &self.square
    }

    /// The Square dialect's book, to change it.
    pub fn square_mut(&mut self) -> &mut crate::dialects::square::Book {
        &mut self.square
    }

    /// `(tax, total)` of `quantity` units of the item with `sku` at its
    /// catalog price, as a sale would charge them.
    pub fn line_total(&self, sku: &str, quantity: i64) -> SimResult<(Decimal, Decimal)> {
        let item = self.require_item("sku", sku)?;
        Ok(self.line_money(item, quantity))
    }

    /// `GET /v1/inventory/{sku}?location=`.
    pub fn count(&self, sku: &str, location: &str) -> SimResult<InventoryCount> {
        self.require_item("sku", sku)?;
        self.locations.require("location", location)?;
        self.count_of(sku, location)
            .ok_or_else(|| SimError::not_found("unknown_sku", "no such item"))
    }

    /// Applies one stock write (already validated) and emits its
    /// `inventory.count.updated`.
    fn move_stock(
        &mut self,
        fx: &mut Effects,
        (sku, location): (&str, &str),
        occurred_at: DateTime<Utc>,
        change: StockMove,
        kind: InventoryCauseKind,
        reference: Option<String>,
    ) {
        self.arrival_seq += 1;
        let seq = self.arrival_seq;
        let now = fx.now();
        let ledger = self
            .stock
            .entry((sku.to_owned(), location.to_owned()))
            .or_default();
        let delta = match change {
            StockMove::Count(q) => ledger.count(occurred_at, q),
            StockMove::Adjust(d) => ledger.adjust(occurred_at, seq, d),
        };
        ledger.fold(now);
        let calculated_at = ledger.calculated_at().unwrap_or(occurred_at);
        let quantity = ledger.quantity();
        let (counted, moved) = match change {
            StockMove::Count(q) => (Some(q), q),
            StockMove::Adjust(d) => (None, d.abs()),
        };
        let (from_state, to_state) = match (kind, change) {
            (InventoryCauseKind::Sale, _) => (InventoryState::InStock, InventoryState::Sold),
            (InventoryCauseKind::Return, _) => {
                (InventoryState::ReturnedByCustomer, InventoryState::InStock)
            }
            (InventoryCauseKind::Reserve, _) => {
                (InventoryState::InStock, InventoryState::ReservedForSale)
            }
            (InventoryCauseKind::Release, _) => {
                (InventoryState::ReservedForSale, InventoryState::InStock)
            }
            (InventoryCauseKind::Fulfillment, _) => {
                (InventoryState::ReservedForSale, InventoryState::Sold)
            }
            (_, StockMove::Adjust(d)) if d < 0 => (InventoryState::InStock, InventoryState::None),
            (_, StockMove::Adjust(_)) => (InventoryState::None, InventoryState::InStock),
            (_, StockMove::Count(_)) => (InventoryState::InStock, InventoryState::InStock),
        };
        if self.journal.len() >= JOURNAL_MAX {
            self.journal.pop_front();
        }
        self.journal.push_back(StockEntry {
            seq,
            sku: sku.to_owned(),
            location: location.to_owned(),
            counted,
            quantity: moved,
            from_state,
            to_state,
            occurred_at,
            created_at: now,
            cause: kind,
            reference: reference.clone(),
            actor: fx.actor().cloned(),
        });
        fx.emit(
            "inventory.count.updated",
            &InventoryCountUpdated {
                sku: sku.to_owned(),
                location: location.to_owned(),
                quantity,
                occurred_at,
                calculated_at,
                cause: InventoryCause {
                    kind,
                    reference,
                    delta,
                },
            },
        );
    }

    /// `POST /v1/inventory/changes`: all the changes or none. Emits one
    /// `inventory.count.updated` per change; answers the counts after the
    /// batch, one per SKU and location in order of first mention.
    pub fn change_inventory(
        &mut self,
        fx: &mut Effects,
        req: BatchChangeInventory,
    ) -> SimResult<InventoryCounts> {
        let now = fx.now();
        if req.changes.is_empty() {
            return Err(SimError::bad_value("changes", "give at least one change"));
        }
        if req.changes.len() > BATCH_CHANGES_MAX {
            return Err(SimError::bad_value(
                "changes",
                format!("at most {BATCH_CHANGES_MAX} changes per batch"),
            ));
        }
        let oldest_count = now - TimeDelta::hours(COUNT_WINDOW_HOURS);
        let mut moves = Vec::with_capacity(req.changes.len());
        // RESERVED_FOR_SALE units still there as the batch goes.
        let mut reserved: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for (i, c) in req.changes.iter().enumerate() {
            let f = |name: &str| format!("changes[{i}].{name}");
            self.require_item(&f("sku"), &c.sku)?;
            self.locations.require(&f("location"), &c.location)?;
            if let Some(r) = &c.reference {
                check_text(&f("reference"), r)?;
            }
            let mv = match c.kind {
                InventoryChangeType::PhysicalCount => {
                    check_quantity(&f("quantity"), c.quantity, 0)?;
                    if c.from_state.is_some() {
                        return Err(SimError::bad_value(
                            f("from_state"),
                            "a PHYSICAL_COUNT counts IN_STOCK units and has no from_state",
                        ));
                    }
                    if c.to_state.is_some_and(|s| s != InventoryState::InStock) {
                        return Err(SimError::bad_value(
                            f("to_state"),
                            "a PHYSICAL_COUNT counts IN_STOCK units only",
                        ));
                    }
                    check_not_future(&f("occurred_at"), c.occurred_at, now)?;
                    if c.occurred_at < oldest_count {
                        return Err(SimError::bad_value(
                            f("occurred_at"),
                            format!(
                                "a count may be at most {COUNT_WINDOW_HOURS} h old; {} is older",
                                c.occurred_at
                            ),
                        ));
                    }
                    (StockMove::Count(c.quantity), InventoryCauseKind::Count)
                }
                InventoryChangeType::Adjustment => {
                    check_quantity(&f("quantity"), c.quantity, 1)?;
                    let from = c.from_state.ok_or_else(|| {
                        SimError::bad_value(f("from_state"), "an ADJUSTMENT needs from_state")
                    })?;
                    let to = c.to_state.ok_or_else(|| {
                        SimError::bad_value(f("to_state"), "an ADJUSTMENT needs to_state")
                    })?;
                    if from == to {
                        return Err(SimError::bad_value(
                            f("to_state"),
                            "from_state and to_state must differ",
                        ));
                    }
                    if !ALLOWED_MOVES.contains(&(from, to)) {
                        return Err(SimError::bad_value(
                            f("to_state"),
                            format!(
                                "{} → {} is not an allowed move",
                                state_name(from),
                                state_name(to)
                            ),
                        ));
                    }
                    check_not_future(&f("occurred_at"), c.occurred_at, now)?;
                    let key = (c.sku.as_str(), c.location.as_str());
                    let left = reserved
                        .entry(key)
                        .or_insert_with(|| self.reserved_units(key.0, key.1));
                    if let Some(order_ref) = &c.order_ref {
                        if from != InventoryState::ReservedForSale {
                            return Err(SimError::bad_value(
                                f("order_ref"),
                                "order_ref names the pickup of a release out of RESERVED_FOR_SALE",
                            ));
                        }
                        let holds = self.pickup_holds(order_ref, &c.sku, &c.location);
                        if c.quantity > holds {
                            return Err(SimError::bad_value(
                                f("order_ref"),
                                format!(
                                    "the pickup for `{order_ref}` holds {holds} `{}` at `{}`",
                                    c.sku, c.location
                                ),
                            ));
                        }
                    }
                    if from == InventoryState::ReservedForSale {
                        if c.quantity > *left {
                            return Err(SimError::bad_value(
                                f("quantity"),
                                format!(
                                    "only {} `{}` are RESERVED_FOR_SALE at `{}`",
                                    *left, c.sku, c.location
                                ),
                            ));
                        }
                        *left -= c.quantity;
                    } else if to == InventoryState::ReservedForSale {
                        *left += c.quantity;
                    }
                    (
                        StockMove::Adjust(in_stock_delta(from, to, c.quantity)),
                        InventoryCauseKind::Adjust,
                    )
                }
            };
            moves.push(mv);
        }
        let mut touched: Vec<(String, String)> = Vec::new();
        for (c, (mv, kind)) in req.changes.into_iter().zip(moves) {
            match (c.from_state, c.to_state) {
                (Some(InventoryState::ReservedForSale), _) => {
                    self.unreserve(&c.sku, &c.location, c.quantity, c.order_ref.as_deref());
                }
                (_, Some(InventoryState::ReservedForSale)) => {
                    *self
                        .reserved_loose
                        .entry((c.sku.clone(), c.location.clone()))
                        .or_default() += c.quantity;
                }
                _ => {}
            }
            self.move_stock(
                fx,
                (&c.sku, &c.location),
                c.occurred_at,
                mv,
                kind,
                c.reference,
            );
            // The journal keeps an adjustment's own states and quantity.
            if let (Some(from), Some(to), Some(entry)) =
                (c.from_state, c.to_state, self.journal.back_mut())
            {
                entry.from_state = from;
                entry.to_state = to;
                entry.quantity = c.quantity;
            }
            let key = (c.sku, c.location);
            if !touched.contains(&key) {
                touched.push(key);
            }
        }
        let counts = touched
            .iter()
            .filter_map(|(sku, loc)| self.count_of(sku, loc))
            .collect();
        Ok(InventoryCounts { counts })
    }

    /// RESERVED_FOR_SALE units of `sku` at `location`: loose ones plus what
    /// ready pickups hold.
    fn reserved_units(&self, sku: &str, location: &str) -> i64 {
        let loose = self
            .reserved_loose
            .get(&(sku.to_owned(), location.to_owned()))
            .copied()
            .unwrap_or(0);
        let held: i64 = self
            .pickups
            .values()
            .filter(|b| b.pickup.status == PickupStatus::Ready && b.pickup.location == location)
            .flat_map(|b| b.pickup.lines.iter().zip(&b.held))
            .filter(|(l, _)| l.sku == sku)
            .map(|(_, h)| *h)
            .sum();
        loose + held
    }

    /// What the ready pickup of `order_ref` holds of `sku` at `location`.
    fn pickup_holds(&self, order_ref: &str, sku: &str, location: &str) -> i64 {
        self.pickups
            .get(order_ref)
            .filter(|b| b.pickup.status == PickupStatus::Ready && b.pickup.location == location)
            .map(|b| {
                b.pickup
                    .lines
                    .iter()
                    .zip(&b.held)
                    .filter(|(l, _)| l.sku == sku)
                    .map(|(_, h)| *h)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Takes `quantity` (validated) out of RESERVED_FOR_SALE by adjustment:
    /// from the pickup of `order_ref` when one is named, otherwise loose
    /// units first, then what the oldest ready pickups hold.
    fn unreserve(&mut self, sku: &str, location: &str, quantity: i64, order_ref: Option<&str>) {
        let mut rest = quantity;
        if let Some(book) = order_ref.and_then(|r| self.pickups.get_mut(r)) {
            for (line, held) in book.pickup.lines.iter().zip(book.held.iter_mut()) {
                if line.sku == sku && rest > 0 {
                    let take = rest.min(*held);
                    *held -= take;
                    rest -= take;
                }
            }
        }
        let key = (sku.to_owned(), location.to_owned());
        if let Some(loose) = self.reserved_loose.get_mut(&key) {
            let take = rest.min(*loose);
            *loose -= take;
            rest -= take;
            if *loose == 0 {
                self.reserved_loose.remove(&key);
            }
        }
        let mut books: Vec<&mut PickupBook> = self
            .pickups
            .values_mut()
            .filter(|b| b.pickup.status == PickupStatus::Ready && b.pickup.location == location)
            .collect();
        books.sort_by_key(|b| b.seq);
        for book in books {
            for (line, held) in book.pickup.lines.iter().zip(book.held.iter_mut()) {
                if line.sku == sku && rest > 0 {
                    let take = rest.min(*held);
                    *held -= take;
                    rest -= take;
                }
            }
        }
        debug_assert_eq!(rest, 0, "a release is validated against what is reserved");
    }

    // ---- sales ------------------------------------------------------------

    /// IN_STOCK units pending sales hold at `(sku, location)`.
    fn held(&self, sku: &str, location: &str) -> i64 {
        let ledger = self.stock.get(&(sku.to_owned(), location.to_owned()));
        self.pending_sales
            .values()
            .filter(|p| p.sale.location == location)
            .filter(|p| ledger.is_none_or(|l| l.applies(p.sale.occurred_at)))
            .flat_map(|p| p.sale.lines.iter())
            .filter(|l| l.sku == sku)
            .map(|l| l.quantity)
            .sum()
    }

    /// The sell-below-zero policy: the warnings of `warn`, or 409 for `block`.
    fn sell_policy(
        &self,
        location: &str,
        occurred_at: DateTime<Utc>,
        lines: &[SaleLine],
    ) -> SimResult<Vec<String>> {
        let mut projected: BTreeMap<&str, i64> = BTreeMap::new();
        // One warning per SKU, the last (lowest) projection winning.
        let mut warnings: IndexMap<&str, String> = IndexMap::new();
        for (i, line) in lines.iter().enumerate() {
            let ledger = self.stock.get(&(line.sku.clone(), location.to_owned()));
            if ledger.is_some_and(|l| !l.applies(occurred_at)) {
                continue; // Stamped before the latest count: it moves nothing.
            }
            let left = projected.entry(&line.sku).or_insert_with(|| {
                ledger
                    .map_or(0, Ledger::quantity)
                    .saturating_sub(self.held(&line.sku, location))
            });
            *left = left.saturating_sub(line.quantity);
            if *left >= 0 {
                continue;
            }
            match self.settings.sell_when_out_of_stock {
                SellPolicy::Allow => {}
                SellPolicy::Warn => {
                    let w = format!(
                        "`{}` is out of stock at `{location}`: {} left after this sale",
                        line.sku, *left
                    );
                    warnings.insert(&line.sku, w);
                }
                SellPolicy::Block => {
                    return Err(SimError::conflict(
                        "out_of_stock",
                        format!(
                            "`{}` is out of stock at `{location}` and the register blocks selling below zero",
                            line.sku
                        ),
                    )
                    .field(format!("lines[{i}].sku")));
                }
            }
        }
        Ok(warnings.into_values().collect())
    }

    /// `POST /v1/gift_cards/issue`, phase 1: validates a card the register
    /// issues without a sale; answers its currency and its gateway key.
    pub fn begin_gift_card_issue(
        &self,
        fx: &Effects,
        req: &IssueGiftCard,
    ) -> SimResult<(String, String)> {
        crate::pay::rules::gift_card_code("code", &req.code)?;
        let currency = req.currency.clone().unwrap_or_else(|| "USD".to_owned());
        check_currency("currency", &currency)?;
        if req.amount <= Decimal::ZERO
            || req.amount > amount_max()
            || !fits_currency(req.amount, &currency)
        {
            return Err(SimError::bad_value(
                "amount",
                format!("{} is not a valid {currency} amount above 0", req.amount),
            ));
        }
        check_text("reason", &req.reason)?;
        if let Some(customer) = &req.customer {
            check_text("customer", customer)?;
        }
        let key = format!(
            "pos-gift-card-issue-{}-{}",
            req.code,
            fx.now().timestamp_millis()
        );
        Ok((currency, key))
    }

    /// `POST /v1/gift_cards/issue`, phase 2: the gateway issued the card;
    /// the register records it (`gift_card.issued`), the card's only source.
    pub fn record_gift_card_issue(
        &mut self,
        fx: &mut Effects,
        req: &IssueGiftCard,
        currency: String,
    ) -> IssuedGiftCard {
        let issued = IssuedGiftCard {
            code: req.code.clone(),
            amount: money(req.amount, &currency),
            currency,
            reason: req.reason.clone(),
            customer: req.customer.clone(),
            created_at: fx.now(),
        };
        fx.emit("gift_card.issued", &issued);
        issued
    }

    /// Phase 1 of `POST /v1/sales`: validates everything, applies the sell
    /// policy, reserves the id and holds the units. The plan lists the tenders
    /// the gateway must authorize; with none, call [`PosState::finish_sale`]
    /// in the same commit.
    pub fn begin_sale(&mut self, fx: &mut Effects, req: CreateSale) -> SimResult<SalePlan> {
        let now = fx.now();
        self.locations.require("location", &req.location)?;
        // A sale of gift cards only has no lines.
        if !req.lines.is_empty() || req.gift_cards.is_empty() {
            check_lines(&req.lines)?;
        }
        let mut currency: Option<String> = None;
        let mut lines = Vec::with_capacity(req.lines.len());
        for (i, l) in req.lines.iter().enumerate() {
            let item = self.require_item(&format!("lines[{i}].sku"), &l.sku)?;
            match &currency {
                None => currency = Some(item.currency.clone()),
                Some(c) if *c != item.currency => {
                    return Err(SimError::invalid(
                        "currency_mismatch",
                        format!(
                            "`{}` is priced in {}, the sale in {c}: one sale, one currency",
                            l.sku, item.currency
                        ),
                    )
                    .field(format!("lines[{i}].sku")));
                }
                Some(_) => {}
            }
            let (tax, total) = self.line_money(item, l.quantity);
            lines.push(SaleLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
                price: item.price,
                discount: money(Decimal::ZERO, &item.currency),
                tax,
                total,
                returned_quantity: 0,
            });
        }
        let currency = currency
            .or_else(|| req.gift_cards.first().and_then(|g| g.currency.clone()))
            .unwrap_or_else(|| "USD".to_owned());
        let gift_cards = check_gift_cards(&req.gift_cards, &currency)?;
        let occurred_at = req.occurred_at.unwrap_or(now);
        check_not_future("occurred_at", occurred_at, now)?;
        // The register applies the best promotion running when the sale was
        // rung up, by itself, as the shop does at checkout.
        let promotion = self.apply_promotion(occurred_at, &mut lines, &currency);
        let total = money(
            lines.iter().map(|l| l.total).sum::<Decimal>()
                + gift_cards.iter().map(|g| g.amount).sum::<Decimal>(),
            &currency,
        );
        if let Some(c) = &req.customer {
            check_text("customer", c)?;
        }
        let (tenders, payments) = plan_tenders(&req, total, &currency)?;
        let warnings = self.sell_policy(&req.location, occurred_at, &lines)?;

        self.sale_seq += 1;
        let id = format!("sale_{:06}", self.sale_seq);
        let sold = gift_cards.clone();
        let sale = Sale {
            id: id.clone(),
            location: req.location,
            lines,
            tenders,
            total,
            currency: currency.clone(),
            customer: req.customer,
            occurred_at,
            created_at: now,
            warnings,
            promotion,
            gift_cards,
        };
        self.pending_sales.insert(id.clone(), PendingSale { sale });
        self.debug_check();
        Ok(SalePlan {
            key_base: format!("pos:{id}:{}", now.timestamp_millis()),
            id,
            currency,
            payments,
            gift_cards: sold,
        })
    }

    /// Phase 3 of `POST /v1/sales`: records the reserved sale with its
    /// authorized intents (`(tender, intent id)`), moves its units
    /// IN_STOCK→SOLD at its `occurred_at`, and emits `sale.created` and one
    /// `inventory.count.updated` per line.
    pub fn finish_sale(
        &mut self,
        fx: &mut Effects,
        id: &str,
        intents: &[(usize, String)],
    ) -> SimResult<Sale> {
        let pending = self.pending_sales.get(id).ok_or_else(|| {
            SimError::conflict(
                "sale_aborted",
                format!("sale `{id}` is no longer pending (the POS was reset)"),
            )
        })?;
        if let Some((t, _)) = intents.iter().find(|(t, _)| {
            pending
                .sale
                .tenders
                .get(*t)
                .is_none_or(|x| x.kind == TenderType::Cash)
        }) {
            return Err(SimError::invalid(
                "tender_invalid",
                format!("tender {t} of `{id}` takes no payment intent"),
            ));
        }
        let Some(PendingSale { mut sale }) = self.pending_sales.remove(id) else {
            return Err(SimError::conflict("sale_aborted", "no such pending sale"));
        };
        for (t, pi) in intents {
            if let Some(tender) = sale.tenders.get_mut(*t) {
                tender.payment_intent = Some(pi.clone());
            }
        }
        fx.emit("sale.created", &sale);
        for line in &sale.lines {
            self.move_stock(
                fx,
                (&line.sku, &sale.location),
                sale.occurred_at,
                StockMove::Adjust(-line.quantity),
                InventoryCauseKind::Sale,
                Some(sale.id.clone()),
            );
        }
        let book = SaleBook {
            lines: vec![LineBook::default(); sale.lines.len()],
            tender_reserved: vec![Decimal::ZERO; sale.tenders.len()],
            sale: sale.clone(),
        };
        self.sales.insert(sale.id.clone(), book);
        self.debug_check();
        Ok(sale)
    }

    /// Releases a reserved sale whose payments failed. Unknown ids are ignored.
    pub fn abort_sale(&mut self, id: &str) {
        self.pending_sales.remove(id);
    }

    /// Adds a warning to a recorded sale (a capture that failed after it was
    /// recorded) and returns the sale.
    pub fn warn_sale(&mut self, id: &str, warning: String) -> SimResult<Sale> {
        let book = self
            .sales
            .get_mut(id)
            .ok_or_else(|| SimError::not_found("unknown_sale", format!("no sale `{id}`")))?;
        book.sale.warnings.push(warning);
        Ok(book.sale.clone())
    }

    /// `GET /v1/sales/{id}`.
    pub fn sale(&self, id: &str) -> SimResult<Sale> {
        self.sales.get(id).map(|b| b.sale.clone()).ok_or_else(|| {
            SimError::not_found("unknown_sale", format!("no sale `{id}`")).field("id")
        })
    }

    // ---- returns ----------------------------------------------------------

    /// Catalog lines of a return without receipt or for an online order.
    fn catalog_return_lines(
        &self,
        lines: &[SaleLineRequest],
    ) -> SimResult<(Vec<ReturnLine>, String)> {
        let mut currency: Option<String> = None;
        let mut out = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            let item = self.require_item(&format!("lines[{i}].sku"), &l.sku)?;
            match &currency {
                None => currency = Some(item.currency.clone()),
                Some(c) if *c != item.currency => {
                    return Err(SimError::invalid(
                        "currency_mismatch",
                        format!("`{}` is priced in {}, not {c}", l.sku, item.currency),
                    )
                    .field(format!("lines[{i}].sku")));
                }
                Some(_) => {}
            }
            let (_, amount) = self.line_money(item, l.quantity);
            out.push(ReturnLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
                amount,
            });
        }
        Ok((out, currency.unwrap_or_default()))
    }

    /// Splits a receipted return over its sale's lines: `(lines, allocations)`.
    fn allocate_return(
        &self,
        book: &SaleBook,
        lines: &[SaleLineRequest],
    ) -> SimResult<(Vec<ReturnLine>, Vec<Allocation>)> {
        let sale = &book.sale;
        let cur = sale.currency.as_str();
        let mut taken = vec![(0i64, Decimal::ZERO); sale.lines.len()];
        let mut out = Vec::with_capacity(lines.len());
        for (i, rl) in lines.iter().enumerate() {
            self.require_item(&format!("lines[{i}].sku"), &rl.sku)?;
            if !sale.lines.iter().any(|l| l.sku == rl.sku) {
                return Err(SimError::invalid(
                    "sku_not_in_sale",
                    format!("`{}` was not sold in `{}`", rl.sku, sale.id),
                )
                .field(format!("lines[{i}].sku")));
            }
            let mut want = rl.quantity;
            let mut amount = Decimal::ZERO;
            let mut free_total = 0i64;
            for (j, sl) in sale.lines.iter().enumerate() {
                if sl.sku != rl.sku {
                    continue;
                }
                let used_q = sl.returned_quantity + book.lines[j].reserved_quantity + taken[j].0;
                let used_amount =
                    book.lines[j].returned_amount + book.lines[j].reserved_amount + taken[j].1;
                let free = sl.quantity - used_q;
                free_total += free;
                let q = free.min(want);
                if q <= 0 {
                    continue;
                }
                let rest = sl.total - used_amount;
                let a = if used_q + q == sl.quantity {
                    rest // The last units take exactly what remains.
                } else {
                    pro_rata(sl.total, q, sl.quantity, cur).min(rest)
                };
                taken[j].0 += q;
                taken[j].1 += a;
                amount += a;
                want -= q;
            }
            if want > 0 {
                return Err(SimError::invalid(
                    "quantity_exceeds_sold",
                    format!(
                        "only {} more of `{}` can be returned on `{}`",
                        free_total.max(0),
                        rl.sku,
                        sale.id
                    ),
                )
                .field(format!("lines[{i}].quantity")));
            }
            out.push(ReturnLine {
                sku: rl.sku.clone(),
                quantity: rl.quantity,
                amount: money(amount, cur),
            });
        }
        let allocations = taken
            .into_iter()
            .enumerate()
            .filter(|(_, (q, _))| *q > 0)
            .map(|(j, (q, a))| (j, q, a))
            .collect();
        Ok((out, allocations))
    }

    /// Phase 1 of `POST /v1/returns`: validates, prices the lines, plans the
    /// refunds and reserves the returned units and refunded tender amounts, so
    /// that a concurrent return cannot refund them twice.
    pub fn begin_return(&mut self, fx: &mut Effects, req: CreateReturn) -> SimResult<ReturnPlan> {
        let now = fx.now();
        self.locations.require("location", &req.location)?;
        if req.sale_id.is_some() && req.order_ref.is_some() {
            return Err(SimError::bad_value(
                "order_ref",
                "give sale_id (a receipt) or order_ref (an online order), not both",
            ));
        }
        let credit_code = req.store_credit_code.clone();
        if let Some(code) = &credit_code {
            crate::pay::rules::gift_card_code("store_credit_code", code)?;
            if req.refund_to != RefundTo::StoreCredit {
                return Err(SimError::bad_value(
                    "store_credit_code",
                    "a store credit code goes with refund_to: store_credit",
                ));
            }
        }
        if let Some(r) = &req.order_ref {
            check_key("order_ref", r, "order ref")?;
            // Goods still on the pickup shelf were never handed over: there
            // is nothing for the customer to bring back.
            if self
                .pickups
                .get(r)
                .is_some_and(|b| b.pickup.status == PickupStatus::Ready)
            {
                return Err(SimError::conflict(
                    "pickup_not_collected",
                    format!(
                        "the pickup for `{r}` is still waiting to be collected: its units were never handed over, so they cannot be returned (complete or cancel the pickup)"
                    ),
                )
                .field("order_ref"));
            }
        }
        check_lines(&req.lines)?;
        let occurred_at = req.occurred_at.unwrap_or(now);
        check_not_future("occurred_at", occurred_at, now)?;

        let (lines, currency, allocations, tender_refunds, refunds) = if let Some(sale_id) =
            &req.sale_id
        {
            let book = self.sales.get(sale_id).ok_or_else(|| {
                SimError::not_found("unknown_sale", format!("no sale `{sale_id}`")).field("sale_id")
            })?;
            let (lines, allocations) = self.allocate_return(book, &req.lines)?;
            let amount: Decimal = lines.iter().map(|l| l.amount).sum();
            let mut tender_refunds = Vec::new();
            let mut refunds = Vec::new();
            match req.refund_to {
                RefundTo::Original => {
                    let mut rest = amount;
                    for (k, t) in book.sale.tenders.iter().enumerate() {
                        let holds = t.amount - t.refunded - book.tender_reserved[k];
                        let take = holds.min(rest);
                        if take <= Decimal::ZERO {
                            continue;
                        }
                        let action = match (&t.kind, &t.payment_intent) {
                            (TenderType::Cash, _) => RefundAction::Cash,
                            (_, Some(pi)) => RefundAction::Intent(pi.clone()),
                            (_, None) => continue,
                        };
                        tender_refunds.push((k, take));
                        refunds.push(PlannedRefund {
                            kind: t.kind,
                            amount: money(take, &book.sale.currency),
                            action,
                        });
                        rest -= take;
                    }
                    if rest > Decimal::ZERO {
                        return Err(SimError::invalid(
                            "refund_exceeds_paid",
                            format!("the tenders of `{sale_id}` hold {rest} less than this return"),
                        )
                        .field("refund_to"));
                    }
                }
                RefundTo::Cash => refunds.push(PlannedRefund {
                    kind: TenderType::Cash,
                    amount,
                    action: RefundAction::Cash,
                }),
                RefundTo::StoreCredit => refunds.push(PlannedRefund {
                    kind: TenderType::GiftCard,
                    amount,
                    action: RefundAction::IssueGiftCard,
                }),
            }
            let currency = book.sale.currency.clone();
            (lines, currency, allocations, tender_refunds, refunds)
        } else {
            let (lines, currency) = self.catalog_return_lines(&req.lines)?;
            let amount: Decimal = lines.iter().map(|l| l.amount).sum();
            let refunds = match (req.order_ref.is_some(), req.refund_to) {
                (true, RefundTo::Original) => Vec::new(),
                (true, _) => {
                    return Err(SimError::bad_value(
                        "refund_to",
                        "an online order is refunded on the shop by the connector: refund_to must be original",
                    ));
                }
                (false, RefundTo::Original) => {
                    return Err(SimError::bad_value(
                        "refund_to",
                        "without a receipt there is no original tender: refund cash or store_credit",
                    ));
                }
                (false, RefundTo::Cash) => vec![PlannedRefund {
                    kind: TenderType::Cash,
                    amount,
                    action: RefundAction::Cash,
                }],
                (false, RefundTo::StoreCredit) => vec![PlannedRefund {
                    kind: TenderType::GiftCard,
                    amount,
                    action: RefundAction::IssueGiftCard,
                }],
            };
            (lines, currency, Vec::new(), Vec::new(), refunds)
        };
        // Nothing to pay back moves no money.
        let refunds: Vec<PlannedRefund> = refunds
            .into_iter()
            .filter(|r| r.amount > Decimal::ZERO)
            .collect();

        // Reserve.
        if let Some(sale_id) = &req.sale_id
            && let Some(book) = self.sales.get_mut(sale_id)
        {
            for &(j, q, a) in &allocations {
                book.lines[j].reserved_quantity += q;
                book.lines[j].reserved_amount += a;
            }
            for &(k, a) in &tender_refunds {
                book.tender_reserved[k] += a;
            }
        }
        self.return_seq += 1;
        let id = format!("ret_{:06}", self.return_seq);
        let amount = money(lines.iter().map(|l| l.amount).sum(), &currency);
        let ret = Return {
            id: id.clone(),
            location: req.location,
            sale_id: req.sale_id,
            order_ref: req.order_ref,
            lines,
            restock: req.restock,
            refund_to: req.refund_to,
            amount,
            currency: currency.clone(),
            refunds: Vec::new(),
            occurred_at,
        };
        self.pending_returns.insert(
            id.clone(),
            PendingReturn {
                ret,
                lines: allocations,
                tenders: tender_refunds,
                refunds: refunds.clone(),
            },
        );
        self.debug_check();
        Ok(ReturnPlan {
            key_base: format!("pos:{id}:{}", now.timestamp_millis()),
            id,
            currency,
            refunds,
            store_credit_code: credit_code,
        })
    }

    /// Gives a pending return's reservations back to its sale.
    fn release_return(&mut self, pending: &PendingReturn) {
        if let Some(sale_id) = &pending.ret.sale_id
            && let Some(book) = self.sales.get_mut(sale_id)
        {
            for &(j, q, a) in &pending.lines {
                book.lines[j].reserved_quantity -= q;
                book.lines[j].reserved_amount -= a;
            }
            for &(k, a) in &pending.tenders {
                book.tender_reserved[k] -= a;
            }
        }
    }

    /// Phase 3 of `POST /v1/returns`: records the return with the gateway's
    /// references (one per planned refund: the refund id or the gift card
    /// code), books it on its sale, restocks, and emits `return.created` and,
    /// when restocked, one `inventory.count.updated` per line.
    pub fn finish_return(
        &mut self,
        fx: &mut Effects,
        id: &str,
        references: Vec<Option<String>>,
    ) -> SimResult<Return> {
        let pending = self.pending_returns.get(id).ok_or_else(|| {
            SimError::conflict(
                "return_aborted",
                format!("return `{id}` is no longer pending (the POS was reset)"),
            )
        })?;
        if references.len() != pending.refunds.len() {
            return Err(SimError::invalid(
                "refunds_mismatch",
                "one reference per planned refund",
            ));
        }
        let Some(pending) = self.pending_returns.remove(id) else {
            return Err(SimError::conflict(
                "return_aborted",
                "no such pending return",
            ));
        };
        self.release_return(&pending);
        let PendingReturn {
            mut ret,
            lines,
            tenders,
            refunds,
        } = pending;
        ret.refunds = refunds
            .into_iter()
            .zip(references)
            .map(|(r, reference)| ReturnRefund {
                kind: r.kind,
                amount: r.amount,
                payment_intent: match r.action {
                    RefundAction::Intent(pi) => Some(pi),
                    _ => None,
                },
                reference,
            })
            .collect();
        if let Some(sale_id) = &ret.sale_id
            && let Some(book) = self.sales.get_mut(sale_id)
        {
            for (j, q, a) in lines {
                book.sale.lines[j].returned_quantity += q;
                book.lines[j].returned_amount += a;
            }
            for (k, a) in tenders {
                book.sale.tenders[k].refunded += a;
            }
        }
        fx.emit("return.created", &ret);
        if ret.restock {
            for line in &ret.lines {
                // SOLD → RETURNED_BY_CUSTOMER → IN_STOCK: only the last move counts.
                self.move_stock(
                    fx,
                    (&line.sku, &ret.location),
                    ret.occurred_at,
                    StockMove::Adjust(line.quantity),
                    InventoryCauseKind::Return,
                    Some(ret.id.clone()),
                );
            }
        }
        self.returns.insert(ret.id.clone(), ret.clone());
        self.debug_check();
        Ok(ret)
    }

    /// Releases a reserved return whose refunds failed. Unknown ids are ignored.
    pub fn abort_return(&mut self, id: &str) {
        if let Some(pending) = self.pending_returns.remove(id) {
            self.release_return(&pending);
        }
        self.debug_check();
    }

    /// `GET /v1/returns/{id}`.
    pub fn get_return(&self, id: &str) -> SimResult<Return> {
        self.returns.get(id).cloned().ok_or_else(|| {
            SimError::not_found("unknown_return", format!("no return `{id}`")).field("id")
        })
    }

    // ---- pickups ----------------------------------------------------------

    /// `POST /v1/pickups`: an online order waiting at a store. Its units are
    /// set aside now, IN_STOCK → RESERVED_FOR_SALE, whatever the sell policy
    /// (the order was already taken). Emits one `inventory.count.updated` per
    /// line (cause `reserve`, reference the order ref).
    pub fn create_pickup(&mut self, fx: &mut Effects, req: CreatePickup) -> SimResult<Pickup> {
        check_key("order_ref", &req.order_ref, "order ref")?;
        self.locations.require("location", &req.location)?;
        check_lines(&req.lines)?;
        for (i, l) in req.lines.iter().enumerate() {
            self.require_item(&format!("lines[{i}].sku"), &l.sku)?;
        }
        if let Some(c) = &req.customer {
            check_text("customer", c)?;
        }
        if self.pickups.contains_key(&req.order_ref) {
            return Err(SimError::conflict(
                "pickup_exists",
                format!("a pickup for `{}` exists", req.order_ref),
            )
            .field("order_ref"));
        }
        let now = fx.now();
        let pickup = Pickup {
            order_ref: req.order_ref,
            location: req.location,
            lines: req.lines,
            customer: req.customer,
            status: PickupStatus::Ready,
            created_at: now,
            completed_at: None,
            cancelled_at: None,
        };
        self.pickup_seq += 1;
        self.pickups.insert(
            pickup.order_ref.clone(),
            PickupBook {
                held: pickup.lines.iter().map(|l| l.quantity).collect(),
                pickup: pickup.clone(),
                seq: self.pickup_seq,
            },
        );
        for line in &pickup.lines {
            self.move_stock(
                fx,
                (&line.sku, &pickup.location),
                now,
                StockMove::Adjust(-line.quantity),
                InventoryCauseKind::Reserve,
                Some(pickup.order_ref.clone()),
            );
        }
        self.debug_check();
        Ok(pickup)
    }

    /// `GET /v1/pickups/{order_ref}`.
    pub fn pickup(&self, order_ref: &str) -> SimResult<Pickup> {
        self.pickups
            .get(order_ref)
            .map(|b| b.pickup.clone())
            .ok_or_else(|| {
                SimError::not_found("unknown_pickup", format!("no pickup for `{order_ref}`"))
                    .field("order_ref")
            })
    }

    /// A ready pickup, or why it cannot move any more.
    fn ready_pickup(&self, order_ref: &str) -> SimResult<&PickupBook> {
        let pickup = self.pickup(order_ref)?;
        match pickup.status {
            PickupStatus::Ready => {}
            PickupStatus::Completed => {
                return Err(SimError::conflict(
                    "pickup_already_completed",
                    format!("the pickup for `{order_ref}` was already handed over"),
                ));
            }
            PickupStatus::Cancelled => {
                return Err(SimError::conflict(
                    "pickup_already_cancelled",
                    format!("the pickup for `{order_ref}` was cancelled"),
                ));
            }
        }
        self.pickups
            .get(order_ref)
            .ok_or_else(|| SimError::not_found("unknown_pickup", "no such pickup"))
    }

    /// Ends a ready pickup: `Completed` hands the units over (RESERVED_FOR_SALE
    /// → SOLD, IN_STOCK unchanged), `Cancelled` puts them back IN_STOCK.
    fn close_pickup(
        &mut self,
        fx: &mut Effects,
        order_ref: &str,
        status: PickupStatus,
    ) -> SimResult<Pickup> {
        let book = self.ready_pickup(order_ref)?.clone();
        let now = fx.now();
        let mut pickup = book.pickup;
        pickup.status = status;
        let (event, kind) = if status == PickupStatus::Completed {
            pickup.completed_at = Some(now);
            ("pickup.completed", InventoryCauseKind::Fulfillment)
        } else {
            pickup.cancelled_at = Some(now);
            ("pickup.cancelled", InventoryCauseKind::Release)
        };
        self.pickups.insert(
            pickup.order_ref.clone(),
            PickupBook {
                pickup: pickup.clone(),
                held: vec![0; pickup.lines.len()],
                seq: book.seq,
            },
        );
        fx.emit(event, &pickup);
        for (line, held) in pickup.lines.iter().zip(book.held) {
            let delta = if status == PickupStatus::Completed {
                0
            } else {
                held
            };
            self.move_stock(
                fx,
                (&line.sku, &pickup.location),
                now,
                StockMove::Adjust(delta),
                kind,
                Some(pickup.order_ref.clone()),
            );
        }
        // A Square order whose PICKUP fulfillment made this pickup follows
        // it, whoever closed it (the clerk at the register, or the caller).
        let state = if status == PickupStatus::Completed {
            "COMPLETED"
        } else {
            "CANCELED"
        };
        if let Some(order) = self.square.follow_pickup(&pickup.order_ref, state, now) {
            fx.emit("order.updated", order);
        }
        self.debug_check();
        Ok(pickup)
    }

    /// `POST /v1/pickups/{order_ref}/complete`: the goods are handed over, so
    /// the units set aside go RESERVED_FOR_SALE → SOLD now (IN_STOCK already
    /// lost them at creation). Emits `pickup.completed` and one
    /// `inventory.count.updated` per line (cause `fulfillment`, delta 0).
    pub fn complete_pickup(&mut self, fx: &mut Effects, order_ref: &str) -> SimResult<Pickup> {
        self.close_pickup(fx, order_ref, PickupStatus::Completed)
    }

    /// `POST /v1/pickups/{order_ref}/cancel`: the order will not be collected;
    /// the units it still holds go back IN_STOCK. Emits `pickup.cancelled` and
    /// one `inventory.count.updated` per line (cause `release`).
    pub fn cancel_pickup(&mut self, fx: &mut Effects, order_ref: &str) -> SimResult<Pickup> {
        self.close_pickup(fx, order_ref, PickupStatus::Cancelled)
    }

    // ---- invariants -------------------------------------------------------

    fn debug_check(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        for book in self.pickups.values() {
            let ready = book.pickup.status == PickupStatus::Ready;
            for (line, held) in book.pickup.lines.iter().zip(&book.held) {
                debug_assert!(
                    *held >= 0 && *held <= line.quantity,
                    "a pickup holds its own units"
                );
                debug_assert!(ready || *held == 0, "closed pickups hold nothing");
            }
        }
        debug_assert!(self.reserved_loose.values().all(|q| *q > 0));
        for book in self.sales.values() {
            let sale = &book.sale;
            let lines: Decimal = sale.lines.iter().map(|l| l.total).sum::<Decimal>()
                + sale.gift_cards.iter().map(|g| g.amount).sum::<Decimal>();
            debug_assert_eq!(lines, sale.total, "{}: total is the sum of lines", sale.id);
            let paid: Decimal = sale.tenders.iter().map(|t| t.amount).sum();
            debug_assert_eq!(paid, sale.total, "{}: tenders cover the total", sale.id);
            for (l, b) in sale.lines.iter().zip(&book.lines) {
                debug_assert!(l.returned_quantity >= 0 && b.reserved_quantity >= 0);
                debug_assert!(
                    l.returned_quantity + b.reserved_quantity <= l.quantity,
                    "{}: returned never exceeds sold",
                    sale.id
                );
                debug_assert!(b.returned_amount + b.reserved_amount <= l.total);
            }
            for (t, r) in sale.tenders.iter().zip(&book.tender_reserved) {
                debug_assert!(!r.is_sign_negative() || r.is_zero());
                debug_assert!(
                    t.refunded + *r <= t.amount,
                    "{}: refunds within tender",
                    sale.id
                );
            }
        }
    }
}

/// Checks the tenders against the total: the sale's tenders, and the gateway
/// payments they need.
fn plan_tenders(
    req: &CreateSale,
    total: Decimal,
    currency: &str,
) -> SimResult<(Vec<Tender>, Vec<PlannedPayment>)> {
    if req.tenders.is_empty() {
        return Err(SimError::bad_value("tenders", "give at least one tender"));
    }
    if req.tenders.len() > TENDERS_MAX {
        return Err(SimError::bad_value(
            "tenders",
            format!("at most {TENDERS_MAX} tenders"),
        ));
    }
    let mut rest = total;
    let mut tenders = Vec::with_capacity(req.tenders.len());
    let mut payments = Vec::new();
    for (i, t) in req.tenders.iter().enumerate() {
        let f = |name: &str| format!("tenders[{i}].{name}");
        if t.amount <= Decimal::ZERO {
            return Err(SimError::bad_value(
                f("amount"),
                "a tender amount is above 0",
            ));
        }
        if t.amount > amount_max() || !fits_currency(t.amount, currency) {
            return Err(SimError::bad_value(
                f("amount"),
                format!("{} is not a valid {currency} amount", t.amount),
            ));
        }
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        let (method, last4) = match t.kind {
            TenderType::Cash => {
                if t.number.is_some() {
                    return Err(SimError::bad_value(
                        f("number"),
                        "a cash tender takes no number",
                    ));
                }
                if t.code.is_some() {
                    return Err(SimError::bad_value(
                        f("code"),
                        "a cash tender takes no code",
                    ));
                }
                (None, None)
            }
            TenderType::CardPresent => {
                if blank(&t.number) {
                    return Err(SimError::bad_value(
                        f("number"),
                        "a card_present tender needs the card `number`",
                    ));
                }
                if t.code.is_some() {
                    return Err(SimError::bad_value(
                        f("code"),
                        "a card tender takes no code",
                    ));
                }
                let number = t.number.clone().unwrap_or_default();
                let last4 = crate::pay::rules::last4(&number);
                (Some(PaymentMethod::CardPresent { number }), Some(last4))
            }
            TenderType::GiftCard => {
                if blank(&t.code) {
                    return Err(SimError::bad_value(
                        f("code"),
                        "a gift_card tender needs the gift card `code`",
                    ));
                }
                if t.number.is_some() {
                    return Err(SimError::bad_value(
                        f("number"),
                        "a gift card takes no number",
                    ));
                }
                let code = t.code.clone().unwrap_or_default();
                (Some(PaymentMethod::GiftCard { code }), None)
            }
        };
        if t.kind != TenderType::Cash && t.amount > rest {
            return Err(SimError::invalid(
                "tender_exceeds_balance",
                format!(
                    "this {} tender of {} is more than the {rest} left to pay; only cash gives change",
                    match t.kind {
                        TenderType::GiftCard => "gift card",
                        _ => "card",
                    },
                    t.amount
                ),
            )
            .field(f("amount")));
        }
        let applied = t.amount.min(rest);
        rest -= applied;
        if let Some(method) = method {
            payments.push(PlannedPayment {
                tender: i,
                amount: money(applied, currency),
                method,
            });
        }
        tenders.push(Tender {
            kind: t.kind,
            amount: money(applied, currency),
            change: money(t.amount - applied, currency),
            payment_intent: None,
            last4,
            refunded: money(Decimal::ZERO, currency),
        });
    }
    if rest > Decimal::ZERO {
        let given: Decimal = req.tenders.iter().map(|t| t.amount).sum();
        return Err(SimError::invalid(
            "tender_insufficient",
            format!("the tenders give {given} of the {total} {currency} due"),
        )
        .field("tenders"));
    }
    Ok((tenders, payments))
}

impl crate::promotions::KeepsPromotions for PosState {
    fn promotions(&self) -> &crate::promotions::PromotionBook {
        &self.promotions
    }
    fn promotions_mut(&mut self) -> &mut crate::promotions::PromotionBook {
        &mut self.promotions
    }
}

impl crate::customers::KeepsCustomers for PosState {
    fn customers(&self) -> &crate::customers::CustomerBook {
        &self.customers
    }
    fn customers_mut(&mut self) -> &mut crate::customers::CustomerBook {
        &mut self.customers
    }
}

impl Platform for PosState {
    const NAME: &'static str = "pos";
    const SCHEME: Scheme = Scheme::Square;
    const TOPICS: &'static [&'static str] = &[
        "sale.created",
        "return.created",
        "inventory.count.updated",
        "item.updated",
        "pickup.completed",
        "pickup.cancelled",
        "order.created",
        "order.updated",
        "payment.created",
        "payment.updated",
        "refund.created",
        "refund.updated",
        "pickup.updated",
        "customer.created",
        "customer.updated",
        "promotion.created",
        "promotion.updated",
        "gift_card.issued",
    ];

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::square()
    }

    fn snapshot(&self) -> serde_json::Value {
        let stock: Vec<serde_json::Value> = self
            .stock
            .iter()
            .map(|((sku, location), ledger)| {
                serde_json::json!({
                    "sku": sku,
                    "location": location,
                    "quantity": ledger.quantity(),
                    "calculated_at": ledger.calculated_at(),
                    "ledger": ledger,
                })
            })
            .collect();
        serde_json::json!({
            "locations": self.locations.list(),
            "items": self.items.values().collect::<Vec<_>>(),
            "settings": self.settings,
            "tax_rates": self.tax_rates().data,
            "stock": stock,
            "sales": self.sales.values().map(|b| &b.sale).collect::<Vec<_>>(),
            "promotions": self.promotions.list(None),
            "returns": self.returns.values().collect::<Vec<_>>(),
            "pickups": self
                .pickups
                .values()
                .map(|b| serde_json::json!({"pickup": b.pickup, "held": b.held}))
                .collect::<Vec<_>>(),
            "reserved_loose": self
                .reserved_loose
                .iter()
                .map(|((sku, location), q)| serde_json::json!({"sku": sku, "location": location, "quantity": q}))
                .collect::<Vec<_>>(),
            "pending_sales": self.pending_sales.keys().collect::<Vec<_>>(),
            "pending_returns": self.pending_returns.keys().collect::<Vec<_>>(),
            "customers": self.customers.all(),
        })
    }

    fn locations(&self) -> Option<&Locations> {
        Some(&self.locations)
    }

    fn locations_mut(&mut self) -> Option<&mut Locations> {
        Some(&mut self.locations)
    }

    fn render(
        &self,
        wire: crate::dialects::Wire,
        event: &omnisim_api::Event,
    ) -> Vec<crate::dialects::Rendered> {
        match wire {
            crate::dialects::Wire::Square => crate::dialects::square::render(self, event),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnisim_api::pos::{InventoryChange, TenderRequest};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn t(hhmm: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-02T{hhmm}:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn fx(hhmm: &str) -> Effects {
        Effects::new(t(hhmm))
    }

    fn kinds(fx: &Effects) -> Vec<&'static str> {
        fx.events().iter().map(|e| e.kind).collect()
    }

    fn item(sku: &str, price: Decimal, currency: &str, tax: Option<&str>) -> CreateItem {
        CreateItem {
            sku: sku.into(),
            name: format!("{sku} name"),
            price,
            currency: currency.into(),
            tax_code: tax.map(Into::into),
        }
    }

    /// MUG 10.00 USD taxed STD (8.25 %), TEE 25.00 USD untaxed, FAN 1000 JPY.
    fn pos() -> PosState {
        let mut s = PosState::default();
        let mut f = fx("08:00");
        s.create_item(&mut f, item("MUG", dec!(10.00), "USD", Some("STD")))
            .unwrap();
        s.create_item(&mut f, item("TEE", dec!(25.00), "USD", None))
            .unwrap();
        s.create_item(&mut f, item("FAN", dec!(1000), "JPY", None))
            .unwrap();
        s.set_tax_rate("STD", SetTaxRate { rate: dec!(0.0825) })
            .unwrap();
        s
    }

    fn change(
        kind: InventoryChangeType,
        sku: &str,
        quantity: i64,
        states: Option<(InventoryState, InventoryState)>,
        at: &str,
    ) -> InventoryChange {
        InventoryChange {
            kind,
            sku: sku.into(),
            location: "store-1".into(),
            quantity,
            from_state: states.map(|s| s.0),
            to_state: states.map(|s| s.1),
            occurred_at: t(at),
            reference: None,
            order_ref: None,
        }
    }

    fn count_change(sku: &str, quantity: i64, at: &str) -> InventoryChange {
        change(InventoryChangeType::PhysicalCount, sku, quantity, None, at)
    }

    fn adjust(
        sku: &str,
        quantity: i64,
        from: InventoryState,
        to: InventoryState,
        at: &str,
    ) -> InventoryChange {
        change(
            InventoryChangeType::Adjustment,
            sku,
            quantity,
            Some((from, to)),
            at,
        )
    }

    fn batch(
        s: &mut PosState,
        now: &str,
        changes: Vec<InventoryChange>,
    ) -> SimResult<InventoryCounts> {
        s.change_inventory(&mut fx(now), BatchChangeInventory { changes })
    }

    fn stock(s: &PosState, sku: &str) -> i64 {
        s.count(sku, "store-1").unwrap().quantity
    }

    fn line(sku: &str, quantity: i64) -> SaleLineRequest {
        SaleLineRequest {
            sku: sku.into(),
            quantity,
        }
    }

    fn cash(amount: Decimal) -> TenderRequest {
        TenderRequest {
            kind: TenderType::Cash,
            amount,
            number: None,
            code: None,
        }
    }

    fn card(amount: Decimal) -> TenderRequest {
        TenderRequest {
            kind: TenderType::CardPresent,
            amount,
            number: Some("4242424242424242".into()),
            code: None,
        }
    }

    fn gift(amount: Decimal) -> TenderRequest {
        TenderRequest {
            kind: TenderType::GiftCard,
            amount,
            number: None,
            code: Some("GC-1".into()),
        }
    }

    fn sale_req(lines: Vec<SaleLineRequest>, tenders: Vec<TenderRequest>) -> CreateSale {
        CreateSale {
            location: "store-1".into(),
            lines,
            tenders,
            occurred_at: None,
            customer: None,
            gift_cards: Vec::new(),
        }
    }

    /// Runs both phases, giving each gateway tender a fake intent id.
    fn sell(s: &mut PosState, f: &mut Effects, req: CreateSale) -> SimResult<Sale> {
        let plan = s.begin_sale(f, req)?;
        let intents: Vec<(usize, String)> = plan
            .payments
            .iter()
            .map(|p| (p.tender, format!("pi_{}_{}", plan.id, p.tender)))
            .collect();
        s.finish_sale(f, &plan.id, &intents)
    }

    fn ret_req(
        sale_id: Option<&str>,
        lines: Vec<SaleLineRequest>,
        refund_to: RefundTo,
    ) -> CreateReturn {
        CreateReturn {
            sale_id: sale_id.map(Into::into),
            order_ref: None,
            location: "store-1".into(),
            lines,
            restock: true,
            refund_to,
            occurred_at: None,
            store_credit_code: None,
        }
    }

    /// Runs both phases, giving each gateway refund a fake reference.
    fn give_back(s: &mut PosState, f: &mut Effects, req: CreateReturn) -> SimResult<Return> {
        let plan = s.begin_return(f, req)?;
        let refs = plan
            .refunds
            .iter()
            .enumerate()
            .map(|(n, r)| (r.action != RefundAction::Cash).then(|| format!("ref_{n}")))
            .collect();
        s.finish_return(f, &plan.id, refs)
    }

    fn err_of<T: std::fmt::Debug>(r: SimResult<T>) -> (ErrorKindCode, Option<String>) {
        let e = r.unwrap_err();
        ((e.kind, e.code), e.field)
    }

    type ErrorKindCode = (crate::error::ErrorKind, &'static str);
    use crate::error::ErrorKind::{Conflict, Invalid, NotFound};

    // ---- catalog ------------------------------------------------------------

    #[test]
    fn creating_an_item_emits_item_updated_and_refuses_duplicates() {
        let mut s = PosState::default();
        let mut f = fx("09:00");
        let it = s
            .create_item(&mut f, item("MUG", dec!(12.50), "USD", Some("STD")))
            .unwrap();
        assert_eq!((it.created_at, it.updated_at), (t("09:00"), t("09:00")));
        assert_eq!(kinds(&f), ["item.updated"]);
        let data = &f.events()[0].data;
        assert_eq!(
            (
                &data["sku"],
                &data["price"],
                &data["currency"],
                &data["tax_code"]
            ),
            (&json!("MUG"), &json!("12.50"), &json!("USD"), &json!("STD"))
        );
        let e = err_of(s.create_item(&mut fx("09:01"), item("MUG", dec!(1), "USD", None)));
        assert_eq!(e, ((Conflict, "sku_exists"), Some("sku".into())));
        assert_eq!(s.items().data.len(), 1);
    }

    #[test]
    fn item_fields_are_validated() {
        let mut s = PosState::default();
        let cases = [
            (item("A", dec!(-1), "USD", None), "price"),
            (item("A", dec!(1.001), "USD", None), "price"),
            (item("A", dec!(1.5), "JPY", None), "price"),
            (item("A", dec!(2000000000), "USD", None), "price"),
            (item("A", dec!(1), "usd", None), "currency"),
            (item("A/B", dec!(1), "USD", None), "sku"),
            (item("", dec!(1), "USD", None), "sku"),
            (item("A", dec!(1), "USD", Some("")), "tax_code"),
        ];
        for (req, field) in cases {
            let e = err_of(s.create_item(&mut fx("09:00"), req));
            assert_eq!(e, ((Invalid, "parameter_invalid"), Some(field.into())));
        }
        let mut blank = item("A", dec!(1), "USD", None);
        blank.name = "  ".into();
        let e = err_of(s.create_item(&mut fx("09:00"), blank));
        assert_eq!(e.1.as_deref(), Some("name"));
        // A free item is fine.
        s.create_item(&mut fx("09:00"), item("A", dec!(0), "USD", None))
            .unwrap();
    }

    #[test]
    fn updating_an_item_changes_only_what_is_given() {
        let mut s = pos();
        let mut f = fx("09:00");
        let it = s
            .update_item(
                &mut f,
                "MUG",
                UpdateItem {
                    price: Some(dec!(11.00)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            (it.price, it.name.as_str(), it.updated_at),
            (dec!(11.00), "MUG name", t("09:00"))
        );
        assert_eq!(kinds(&f), ["item.updated"]);
        assert_eq!(f.events()[0].data["price"], "11.00");
        // The same value again changes nothing and emits nothing.
        let mut f = fx("09:05");
        let same = s
            .update_item(
                &mut f,
                "MUG",
                UpdateItem {
                    price: Some(dec!(11.00)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(same.updated_at, t("09:00"));
        assert!(f.events().is_empty());
        // An empty tax code clears it.
        let it = s
            .update_item(
                &mut fx("09:06"),
                "MUG",
                UpdateItem {
                    tax_code: Some(String::new()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(it.tax_code, None);
        // A currency the price does not fit names the currency.
        let e = err_of(s.update_item(
            &mut fx("09:07"),
            "TEE",
            UpdateItem {
                price: Some(dec!(25.50)),
                currency: Some("JPY".into()),
                ..Default::default()
            },
        ));
        assert_eq!(e, ((Invalid, "parameter_invalid"), Some("price".into())));
        s.update_item(
            &mut fx("09:07"),
            "TEE",
            UpdateItem {
                price: Some(dec!(25.50)),
                ..Default::default()
            },
        )
        .unwrap();
        let e = err_of(s.update_item(
            &mut fx("09:07"),
            "TEE",
            UpdateItem {
                currency: Some("JPY".into()),
                name: Some("x".into()),
                ..Default::default()
            },
        ));
        assert_eq!(e.1.as_deref(), Some("currency"));
        assert_eq!(
            s.item("TEE").unwrap().name,
            "TEE name",
            "nothing applied on error"
        );
        let e = err_of(s.update_item(&mut fx("09:07"), "NOPE", UpdateItem::default()));
        assert_eq!(e.0, (NotFound, "unknown_sku"));
        assert_eq!(err_of(s.item("NOPE")).0, (NotFound, "unknown_sku"));
    }

    // ---- stock --------------------------------------------------------------

    #[test]
    fn platforms_worked_example_through_the_state() {
        use InventoryState::*;
        let mut s = pos();
        batch(&mut s, "13:00", vec![count_change("TEE", 100, "13:00")]).unwrap();
        assert_eq!(stock(&s, "TEE"), 100);
        let mut f = fx("13:10");
        sell(
            &mut s,
            &mut f,
            sale_req(vec![line("TEE", 3)], vec![cash(dec!(75))]),
        )
        .unwrap();
        assert_eq!(stock(&s, "TEE"), 97);
        batch(&mut s, "13:30", vec![count_change("TEE", 90, "13:30")]).unwrap();
        assert_eq!(stock(&s, "TEE"), 90);
        // The offline sale stamped 13:20 arrives at 13:35.
        let mut f = fx("13:35");
        let mut late = sale_req(vec![line("TEE", 1)], vec![cash(dec!(25))]);
        late.occurred_at = Some(t("13:20"));
        sell(&mut s, &mut f, late).unwrap();
        assert_eq!(stock(&s, "TEE"), 90);
        let ev = &f.events()[1].data;
        assert_eq!(
            (
                &ev["quantity"],
                &ev["cause"]["delta"],
                &ev["cause"]["kind"],
                &ev["occurred_at"]
            ),
            (
                &json!(90),
                &json!(0),
                &json!("sale"),
                &json!("2026-03-02T13:20:00Z")
            )
        );
        let counts = batch(
            &mut s,
            "13:40",
            vec![adjust("TEE", 2, InStock, Waste, "13:40")],
        )
        .unwrap();
        assert_eq!(stock(&s, "TEE"), 88);
        assert_eq!(counts.counts[0].quantity, 88);
        assert_eq!(counts.counts[0].calculated_at, t("13:40"));
    }

    #[test]
    fn every_allowed_move_changes_in_stock_as_square_does() {
        use InventoryState::*;
        let mut s = pos();
        let moves = [
            (None, InStock, 5),
            (InStock, Waste, -5),
            (InStock, Sold, -5),
            (InStock, None, -5),
            (Waste, InStock, 5),
            (Sold, ReturnedByCustomer, 0),
            (ReturnedByCustomer, InStock, 5),
            (ReturnedByCustomer, Waste, 0),
            (InStock, ReservedForSale, -5),
            (ReservedForSale, InStock, 5),
            (InStock, ReservedForSale, -5),
            (ReservedForSale, Sold, 0),
        ];
        for allowed in ALLOWED_MOVES {
            assert!(
                moves.iter().any(|(f, t, _)| (*f, *t) == *allowed),
                "{allowed:?}"
            );
        }
        for (from, to, delta) in moves {
            let before = stock(&s, "MUG");
            let mut f = fx("10:00");
            s.change_inventory(
                &mut f,
                BatchChangeInventory {
                    changes: vec![adjust("MUG", 5, from, to, "09:59")],
                },
            )
            .unwrap();
            assert_eq!(stock(&s, "MUG") - before, delta, "{from:?} → {to:?}");
            assert_eq!(f.events()[0].data["cause"]["delta"], delta);
            assert_eq!(f.events()[0].data["cause"]["kind"], "adjust");
        }
    }

    #[test]
    fn inventory_changes_are_validated_and_all_or_nothing() {
        use InventoryState::*;
        let mut s = pos();
        let ok = || count_change("MUG", 5, "09:00");
        let mut unknown_loc = ok();
        unknown_loc.location = "nowhere".into();
        let mut count_from = ok();
        count_from.from_state = Some(InStock);
        let mut count_to = ok();
        count_to.to_state = Some(Sold);
        let mut missing_from = adjust("MUG", 1, None, InStock, "09:00");
        missing_from.from_state = Option::None;
        let mut missing_to = adjust("MUG", 1, None, InStock, "09:00");
        missing_to.to_state = Option::None;
        let mut long_ref = ok();
        long_ref.reference = Some("x".repeat(300));
        let cases: Vec<(InventoryChange, ErrorKindCode, &str)> = vec![
            (
                count_change("NOPE", 1, "09:00"),
                (NotFound, "unknown_sku"),
                "sku",
            ),
            (unknown_loc, (NotFound, "unknown_location"), "location"),
            (
                count_change("MUG", -1, "09:00"),
                (Invalid, "parameter_invalid"),
                "quantity",
            ),
            (count_from, (Invalid, "parameter_invalid"), "from_state"),
            (count_to, (Invalid, "parameter_invalid"), "to_state"),
            (
                count_change("MUG", 1, "10:01"),
                (Invalid, "parameter_invalid"),
                "occurred_at",
            ),
            (
                adjust("MUG", 0, None, InStock, "09:00"),
                (Invalid, "parameter_invalid"),
                "quantity",
            ),
            (missing_from, (Invalid, "parameter_invalid"), "from_state"),
            (missing_to, (Invalid, "parameter_invalid"), "to_state"),
            (
                adjust("MUG", 1, Waste, Waste, "09:00"),
                (Invalid, "parameter_invalid"),
                "to_state",
            ),
            (
                adjust("MUG", 1, Sold, InStock, "09:00"),
                (Invalid, "parameter_invalid"),
                "to_state",
            ),
            (
                adjust("MUG", 1, None, Waste, "09:00"),
                (Invalid, "parameter_invalid"),
                "to_state",
            ),
            (
                adjust("MUG", 1, None, InStock, "10:01"),
                (Invalid, "parameter_invalid"),
                "occurred_at",
            ),
            (long_ref, (Invalid, "parameter_invalid"), "reference"),
        ];
        for (bad, code, field) in cases {
            let mut f = fx("10:00");
            let e = s.change_inventory(
                &mut f,
                BatchChangeInventory {
                    changes: vec![ok(), bad],
                },
            );
            assert_eq!(err_of(e), (code, Some(format!("changes[1].{field}"))));
            assert_eq!(
                stock(&s, "MUG"),
                0,
                "the valid change was not applied either"
            );
        }
        // A count more than 24 h old.
        let mut old = count_change("MUG", 1, "09:00");
        old.occurred_at = t("09:59") - TimeDelta::hours(24);
        let e = batch(&mut s, "10:00", vec![old]);
        assert_eq!(err_of(e).1.as_deref(), Some("changes[0].occurred_at"));
        // An old adjustment is fine.
        let mut old = adjust("MUG", 1, None, InStock, "09:00");
        old.occurred_at = t("09:00") - TimeDelta::days(3);
        batch(&mut s, "10:00", vec![old]).unwrap();
        assert_eq!(stock(&s, "MUG"), 1);
        assert_eq!(
            err_of(batch(&mut s, "10:00", vec![])).1.as_deref(),
            Some("changes")
        );
        let many = vec![ok(); BATCH_CHANGES_MAX + 1];
        assert_eq!(
            err_of(batch(&mut s, "10:00", many)).1.as_deref(),
            Some("changes")
        );
    }

    #[test]
    fn a_batch_answers_counts_in_order_of_first_mention_with_causes() {
        use InventoryState::*;
        let mut s = pos();
        let mut f = fx("10:00");
        let mut a = adjust("TEE", 4, None, InStock, "09:00");
        a.reference = Some("po-7".into());
        let counts = s
            .change_inventory(
                &mut f,
                BatchChangeInventory {
                    changes: vec![
                        a,
                        count_change("MUG", 10, "09:30"),
                        adjust("TEE", 1, InStock, Waste, "09:45"),
                    ],
                },
            )
            .unwrap();
        let got: Vec<(&str, i64)> = counts
            .counts
            .iter()
            .map(|c| (c.sku.as_str(), c.quantity))
            .collect();
        assert_eq!(got, [("TEE", 3), ("MUG", 10)]);
        assert_eq!(kinds(&f), ["inventory.count.updated"; 3]);
        let e0 = &f.events()[0].data;
        assert_eq!(
            e0,
            &json!({"sku": "TEE", "location": "store-1", "quantity": 4,
                "occurred_at": "2026-03-02T09:00:00Z", "calculated_at": "2026-03-02T09:00:00Z",
                "cause": {"kind": "adjust", "reference": "po-7", "delta": 4}})
        );
        let e1 = &f.events()[1].data;
        assert_eq!(
            (
                &e1["cause"]["kind"],
                &e1["cause"]["delta"],
                &e1["cause"]["reference"]
            ),
            (&json!("count"), &json!(10), &json!(null))
        );
        // A count older than the latest one is acknowledged with delta 0.
        let mut f = fx("10:05");
        s.change_inventory(
            &mut f,
            BatchChangeInventory {
                changes: vec![count_change("MUG", 3, "09:10")],
            },
        )
        .unwrap();
        assert_eq!(f.events()[0].data["cause"]["delta"], 0);
        assert_eq!(f.events()[0].data["quantity"], 10);
        assert_eq!(stock(&s, "MUG"), 10);
    }

    #[test]
    fn counts_read_zero_until_touched_and_check_their_keys() {
        let mut s = pos();
        let c = s.count("MUG", "store-1").unwrap();
        assert_eq!((c.quantity, c.calculated_at), (0, t("08:00")));
        assert_eq!(
            err_of(s.count("NOPE", "store-1")).0,
            (NotFound, "unknown_sku")
        );
        assert_eq!(
            err_of(s.count("MUG", "nowhere")),
            ((NotFound, "unknown_location"), Some("location".into()))
        );
        // Stock is per location.
        s.locations
            .create(omnisim_api::common::CreateLocation {
                id: "store-2".into(),
                name: "Two".into(),
                kind: LocationKind::Store,
            })
            .unwrap();
        let mut c = count_change("MUG", 7, "09:00");
        c.location = "store-2".into();
        batch(&mut s, "09:00", vec![c]).unwrap();
        assert_eq!(
            (
                stock(&s, "MUG"),
                s.count("MUG", "store-2").unwrap().quantity
            ),
            (0, 7)
        );
    }

    #[test]
    fn the_ledger_stays_bounded_as_days_pass() {
        use InventoryState::*;
        let mut s = pos();
        let day0 = t("00:00");
        for h in 0..96 {
            let at = day0 + TimeDelta::hours(h);
            let mut f = Effects::new(at);
            let mut c = adjust("TEE", 1, None, InStock, "00:00");
            c.occurred_at = at;
            s.change_inventory(&mut f, BatchChangeInventory { changes: vec![c] })
                .unwrap();
        }
        assert_eq!(stock(&s, "TEE"), 96);
        let ledger = &s.stock[&("TEE".to_owned(), "store-1".to_owned())];
        assert!(ledger.changes().len() <= 25, "{}", ledger.changes().len());
    }

    // ---- settings and tax -------------------------------------------------

    #[test]
    fn tax_rates_and_settings() {
        let mut s = pos();
        assert_eq!(s.settings().sell_when_out_of_stock, SellPolicy::Allow);
        s.set_settings(PosSettings {
            sell_when_out_of_stock: SellPolicy::Block,
        });
        assert_eq!(s.settings().sell_when_out_of_stock, SellPolicy::Block);
        for (rate, ok) in [
            (dec!(-0.1), false),
            (dec!(1.01), false),
            (dec!(0.1234567), false),
            (dec!(1), true),
            (dec!(0), true),
        ] {
            let r = s.set_tax_rate("X", SetTaxRate { rate });
            assert_eq!(r.is_ok(), ok, "{rate}");
            if let Err(e) = r {
                assert_eq!(e.field.as_deref(), Some("rate"));
            }
        }
        assert_eq!(
            err_of(s.set_tax_rate("a/b", SetTaxRate { rate: dec!(0) }))
                .1
                .as_deref(),
            Some("code")
        );
        let codes: Vec<(String, Decimal)> = s
            .tax_rates()
            .data
            .into_iter()
            .map(|r| (r.code, r.rate))
            .collect();
        assert_eq!(
            codes,
            [("STD".to_owned(), dec!(0.0825)), ("X".to_owned(), dec!(0))]
        );
    }

    // ---- sales --------------------------------------------------------------

    #[test]
    fn a_cash_sale_prices_taxes_and_gives_change() {
        let mut s = pos();
        s.set_tax_rate("RED", SetTaxRate { rate: dec!(0.05) })
            .unwrap();
        let mut f = fx("10:00");
        let sale = sell(
            &mut s,
            &mut f,
            sale_req(vec![line("MUG", 3), line("TEE", 1)], vec![cash(dec!(100))]),
        )
        .unwrap();
        // 30.00 × 8.25 % = 2.475 → 2.48 (half to even).
        assert_eq!(
            (sale.lines[0].tax, sale.lines[0].total),
            (dec!(2.48), dec!(32.48))
        );
        assert_eq!(
            (sale.lines[1].tax, sale.lines[1].total),
            (dec!(0), dec!(25.00))
        );
        assert_eq!(sale.total, dec!(57.48));
        assert_eq!(
            (sale.tenders[0].amount, sale.tenders[0].change),
            (dec!(57.48), dec!(42.52))
        );
        assert_eq!(
            (sale.id.as_str(), sale.currency.as_str()),
            ("sale_000001", "USD")
        );
        assert_eq!(sale.occurred_at, t("10:00"));
        assert_eq!(
            kinds(&f),
            [
                "sale.created",
                "inventory.count.updated",
                "inventory.count.updated"
            ]
        );
        let d = &f.events()[0].data;
        assert_eq!(
            d["lines"][0],
            json!({"sku": "MUG", "quantity": 3, "price": "10.00", "discount": "0.00", "tax": "2.48", "total": "32.48", "returned_quantity": 0})
        );
        assert_eq!(
            (&d["total"], &d["currency"], &d["tenders"][0]["type"]),
            (&json!("57.48"), &json!("USD"), &json!("cash"))
        );
        let c = &f.events()[1].data;
        assert_eq!(
            (&c["sku"], &c["quantity"], &c["cause"]),
            (
                &json!("MUG"),
                &json!(-3),
                &json!({"kind": "sale", "reference": "sale_000001", "delta": -3})
            )
        );
        assert_eq!(s.sale("sale_000001").unwrap(), sale);
        assert_eq!(err_of(s.sale("sale_9")).0, (NotFound, "unknown_sale"));
    }

    #[test]
    fn split_tenders_plan_gateway_payments_and_keep_only_last4() {
        let mut s = pos();
        let mut f = fx("10:00");
        // Total 4 × 25 = 100: gift 20, card 30, cash 60 (10 change).
        let plan = s
            .begin_sale(
                &mut f,
                sale_req(
                    vec![line("TEE", 4)],
                    vec![gift(dec!(20)), card(dec!(30)), cash(dec!(60))],
                ),
            )
            .unwrap();
        assert_eq!(plan.currency, "USD");
        assert!(plan.key_base.starts_with("pos:sale_000001:"));
        let p: Vec<(usize, Decimal)> = plan.payments.iter().map(|p| (p.tender, p.amount)).collect();
        assert_eq!(p, [(0, dec!(20)), (1, dec!(30))]);
        assert_eq!(
            plan.payments[1].method,
            PaymentMethod::CardPresent {
                number: "4242424242424242".into()
            }
        );
        assert!(
            f.events().is_empty(),
            "nothing is emitted before the sale is recorded"
        );
        assert_eq!(stock(&s, "TEE"), 0);
        let sale = s
            .finish_sale(&mut f, &plan.id, &[(0, "pi_a".into()), (1, "pi_b".into())])
            .unwrap();
        type Row<'a> = (
            TenderType,
            Decimal,
            Decimal,
            Option<&'a str>,
            Option<&'a str>,
        );
        let got: Vec<Row> = sale
            .tenders
            .iter()
            .map(|t| {
                (
                    t.kind,
                    t.amount,
                    t.change,
                    t.payment_intent.as_deref(),
                    t.last4.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (TenderType::GiftCard, dec!(20), dec!(0), Some("pi_a"), None),
                (
                    TenderType::CardPresent,
                    dec!(30),
                    dec!(0),
                    Some("pi_b"),
                    Some("4242")
                ),
                (TenderType::Cash, dec!(50), dec!(10), None, None),
            ]
        );
        assert!(!format!("{:?}", s.snapshot()).contains("4242424242424242"));
        assert_eq!(stock(&s, "TEE"), -4);
        // Finishing twice (or after a reset) is refused.
        assert_eq!(
            err_of(s.finish_sale(&mut f, &plan.id, &[])).0,
            (Conflict, "sale_aborted")
        );
    }

    #[test]
    fn occurred_at_may_lead_the_pos_clock_by_the_skew_tolerance_only() {
        let now = t("10:00");
        let within = now + CLOCK_SKEW_TOLERANCE;
        assert!(check_not_future("occurred_at", within, now).is_ok());
        let beyond = within + chrono::TimeDelta::milliseconds(1);
        let err = check_not_future("occurred_at", beyond, now).expect_err("too far ahead");
        assert_eq!(err.field.as_deref(), Some("occurred_at"));
    }

    #[test]
    fn sales_are_validated_before_anything_is_reserved() {
        let mut s = pos();
        let mut wrong_loc = sale_req(vec![line("MUG", 1)], vec![cash(dec!(20))]);
        wrong_loc.location = "nowhere".into();
        let mut future = sale_req(vec![line("MUG", 1)], vec![cash(dec!(20))]);
        future.occurred_at = Some(t("10:01"));
        let mut card_code = card(dec!(10.82));
        card_code.code = Some("x".into());
        let mut cash_number = cash(dec!(20));
        cash_number.number = Some("4242".into());
        let mut no_number = card(dec!(10.82));
        no_number.number = None;
        let mut no_code = gift(dec!(10.82));
        no_code.code = Some(" ".into());
        let mug = || vec![line("MUG", 1)]; // 10.82 with tax (0.825 rounds half to even)
        let cases: Vec<(CreateSale, ErrorKindCode, &str)> = vec![
            (wrong_loc, (NotFound, "unknown_location"), "location"),
            (
                sale_req(vec![], vec![cash(dec!(1))]),
                (Invalid, "parameter_invalid"),
                "lines",
            ),
            (
                sale_req(vec![line("MUG", 0)], vec![cash(dec!(1))]),
                (Invalid, "parameter_invalid"),
                "lines[0].quantity",
            ),
            (
                sale_req(vec![line("MUG", 1), line("NOPE", 1)], vec![cash(dec!(1))]),
                (NotFound, "unknown_sku"),
                "lines[1].sku",
            ),
            (
                sale_req(vec![line("MUG", 1), line("FAN", 1)], vec![cash(dec!(1))]),
                (Invalid, "currency_mismatch"),
                "lines[1].sku",
            ),
            (future, (Invalid, "parameter_invalid"), "occurred_at"),
            (
                sale_req(mug(), vec![]),
                (Invalid, "parameter_invalid"),
                "tenders",
            ),
            (
                sale_req(mug(), vec![cash(dec!(0))]),
                (Invalid, "parameter_invalid"),
                "tenders[0].amount",
            ),
            (
                sale_req(mug(), vec![cash(dec!(10.835))]),
                (Invalid, "parameter_invalid"),
                "tenders[0].amount",
            ),
            (
                sale_req(mug(), vec![cash_number]),
                (Invalid, "parameter_invalid"),
                "tenders[0].number",
            ),
            (
                sale_req(mug(), vec![no_number]),
                (Invalid, "parameter_invalid"),
                "tenders[0].number",
            ),
            (
                sale_req(mug(), vec![card_code]),
                (Invalid, "parameter_invalid"),
                "tenders[0].code",
            ),
            (
                sale_req(mug(), vec![no_code]),
                (Invalid, "parameter_invalid"),
                "tenders[0].code",
            ),
            (
                sale_req(mug(), vec![card(dec!(10.84))]),
                (Invalid, "tender_exceeds_balance"),
                "tenders[0].amount",
            ),
            (
                sale_req(mug(), vec![cash(dec!(5)), gift(dec!(6))]),
                (Invalid, "tender_exceeds_balance"),
                "tenders[1].amount",
            ),
            (
                sale_req(mug(), vec![cash(dec!(5)), card(dec!(5))]),
                (Invalid, "tender_insufficient"),
                "tenders",
            ),
        ];
        for (req, code, field) in cases {
            let mut f = fx("10:00");
            let e = s.begin_sale(&mut f, req);
            assert_eq!(err_of(e), (code, Some(field.into())));
        }
        assert!(s.pending_sales.is_empty());
        assert_eq!(s.sale_seq, 0);
        // Exact tenders, and an offline sale in the past, are fine.
        let mut past = sale_req(mug(), vec![card(dec!(5.83)), cash(dec!(5))]);
        past.occurred_at = Some(t("09:00"));
        let sale = sell(&mut s, &mut fx("10:00"), past).unwrap();
        assert_eq!(
            (sale.occurred_at, sale.created_at),
            (t("09:00"), t("10:00"))
        );
    }

    #[test]
    fn the_sell_policy_allows_warns_or_blocks() {
        let mut s = pos();
        batch(&mut s, "09:00", vec![count_change("TEE", 1, "09:00")]).unwrap();
        let two = || {
            sale_req(
                vec![line("TEE", 1), line("MUG", 1), line("TEE", 1)],
                vec![cash(dec!(100))],
            )
        };
        // block: the second TEE line goes below zero.
        s.set_settings(PosSettings {
            sell_when_out_of_stock: SellPolicy::Block,
        });
        let e = s.begin_sale(&mut fx("10:00"), two());
        assert_eq!(
            err_of(e),
            ((Conflict, "out_of_stock"), Some("lines[1].sku".into()))
        );
        // (MUG has no stock at all, and comes first once TEE is fine.)
        let e = s.begin_sale(
            &mut fx("10:00"),
            sale_req(vec![line("TEE", 1), line("MUG", 1)], vec![cash(dec!(100))]),
        );
        assert_eq!(err_of(e).1.as_deref(), Some("lines[1].sku"));
        // warn: it sells, with one warning per SKU naming it.
        s.set_settings(PosSettings {
            sell_when_out_of_stock: SellPolicy::Warn,
        });
        let sale = sell(&mut s, &mut fx("10:00"), two()).unwrap();
        assert_eq!(
            sale.warnings,
            [
                "`MUG` is out of stock at `store-1`: -1 left after this sale",
                "`TEE` is out of stock at `store-1`: -1 left after this sale",
            ]
        );
        assert_eq!(stock(&s, "TEE"), -1);
        // allow: silently.
        s.set_settings(PosSettings::default());
        let sale = sell(&mut s, &mut fx("10:00"), two()).unwrap();
        assert!(sale.warnings.is_empty());
        assert_eq!(stock(&s, "TEE"), -3);
    }

    #[test]
    fn block_counts_units_held_by_pending_sales_and_ignores_sales_before_the_count() {
        let mut s = pos();
        s.set_settings(PosSettings {
            sell_when_out_of_stock: SellPolicy::Block,
        });
        batch(&mut s, "09:00", vec![count_change("TEE", 1, "09:00")]).unwrap();
        let one = || sale_req(vec![line("TEE", 1)], vec![card(dec!(25))]);
        let a = s.begin_sale(&mut fx("10:00"), one()).unwrap();
        // A's unit is held while its card is authorized.
        let e = s.begin_sale(&mut fx("10:00"), one());
        assert_eq!(err_of(e).0, (Conflict, "out_of_stock"));
        s.abort_sale(&a.id);
        let b = s.begin_sale(&mut fx("10:00"), one()).unwrap();
        s.finish_sale(&mut fx("10:00"), &b.id, &[(0, "pi_b".into())])
            .unwrap();
        assert_eq!(stock(&s, "TEE"), 0);
        // An offline sale stamped before the count moves nothing, so it passes.
        let mut late = one();
        late.occurred_at = Some(t("08:59"));
        sell(&mut s, &mut fx("10:00"), late).unwrap();
        assert_eq!(stock(&s, "TEE"), 0);
        assert_eq!(s.sale_seq, 3, "the aborted sale burned its id");
    }

    // ---- returns --------------------------------------------------------------

    /// Sale 1: 3 MUG (32.48 with tax) + 1 TEE (25) = 57.48, paid gift 20,
    /// card 30, cash 7.48.
    fn pos_with_sale() -> PosState {
        let mut s = pos();
        sell(
            &mut s,
            &mut fx("10:00"),
            sale_req(
                vec![line("MUG", 3), line("TEE", 1)],
                vec![gift(dec!(20)), card(dec!(30)), cash(dec!(7.48))],
            ),
        )
        .unwrap();
        s
    }

    #[test]
    fn receipted_returns_refund_pro_rata_and_the_last_units_take_the_rest() {
        let mut s = pos_with_sale();
        let mut f = fx("11:00");
        let r1 = give_back(
            &mut s,
            &mut f,
            ret_req(Some("sale_000001"), vec![line("MUG", 1)], RefundTo::Cash),
        )
        .unwrap();
        // 32.48 / 3 = 10.8266… → 10.83.
        assert_eq!((r1.lines[0].amount, r1.amount), (dec!(10.83), dec!(10.83)));
        assert_eq!(
            r1.refunds,
            [ReturnRefund {
                kind: TenderType::Cash,
                amount: dec!(10.83),
                payment_intent: None,
                reference: None
            }]
        );
        assert_eq!(kinds(&f), ["return.created", "inventory.count.updated"]);
        assert_eq!(
            f.events()[1].data["cause"],
            json!({"kind": "return", "reference": "ret_000001", "delta": 1})
        );
        assert_eq!(stock(&s, "MUG"), -2);
        let r2 = give_back(
            &mut s,
            &mut fx("11:01"),
            ret_req(Some("sale_000001"), vec![line("MUG", 1)], RefundTo::Cash),
        )
        .unwrap();
        assert_eq!(r2.amount, dec!(10.83));
        let r3 = give_back(
            &mut s,
            &mut fx("11:02"),
            ret_req(Some("sale_000001"), vec![line("MUG", 1)], RefundTo::Cash),
        )
        .unwrap();
        assert_eq!(
            r3.amount,
            dec!(10.82),
            "the last unit takes exactly what remains"
        );
        let e = s.begin_return(
            &mut fx("11:03"),
            ret_req(Some("sale_000001"), vec![line("MUG", 1)], RefundTo::Cash),
        );
        assert_eq!(
            err_of(e),
            (
                (Invalid, "quantity_exceeds_sold"),
                Some("lines[0].quantity".into())
            )
        );
        assert_eq!(s.sale("sale_000001").unwrap().lines[0].returned_quantity, 3);
        assert_eq!(s.get_return("ret_000003").unwrap(), r3);
        assert_eq!(
            err_of(s.get_return("ret_9")).0,
            (NotFound, "unknown_return")
        );
    }

    #[test]
    fn refund_to_original_walks_the_tenders_in_order() {
        let mut s = pos_with_sale();
        // TEE (25) back: gift card holds 20, then card 5.
        let plan = s
            .begin_return(
                &mut fx("11:00"),
                ret_req(
                    Some("sale_000001"),
                    vec![line("TEE", 1)],
                    RefundTo::Original,
                ),
            )
            .unwrap();
        let got: Vec<(TenderType, Decimal, RefundAction)> = plan
            .refunds
            .iter()
            .map(|r| (r.kind, r.amount, r.action.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    TenderType::GiftCard,
                    dec!(20),
                    RefundAction::Intent("pi_sale_000001_0".into())
                ),
                (
                    TenderType::CardPresent,
                    dec!(5),
                    RefundAction::Intent("pi_sale_000001_1".into())
                ),
            ]
        );
        let mut f = fx("11:00");
        let r = s
            .finish_return(
                &mut f,
                &plan.id,
                vec![Some("re_1".into()), Some("re_2".into())],
            )
            .unwrap();
        assert_eq!(r.refunds[1].reference.as_deref(), Some("re_2"));
        assert_eq!(
            r.refunds[1].payment_intent.as_deref(),
            Some("pi_sale_000001_1")
        );
        let sale = s.sale("sale_000001").unwrap();
        let refunded: Vec<Decimal> = sale.tenders.iter().map(|t| t.refunded).collect();
        assert_eq!(refunded, [dec!(20), dec!(5), dec!(0)]);
        // All three MUGs back: card 25 left, then cash 7.48.
        let plan = s
            .begin_return(
                &mut fx("11:05"),
                ret_req(
                    Some("sale_000001"),
                    vec![line("MUG", 3)],
                    RefundTo::Original,
                ),
            )
            .unwrap();
        let got: Vec<(TenderType, Decimal)> =
            plan.refunds.iter().map(|r| (r.kind, r.amount)).collect();
        assert_eq!(
            got,
            [
                (TenderType::CardPresent, dec!(25)),
                (TenderType::Cash, dec!(7.48))
            ]
        );
        // Store credit plans a gift card.
        let mut s = pos_with_sale();
        let plan = s
            .begin_return(
                &mut fx("11:00"),
                ret_req(
                    Some("sale_000001"),
                    vec![line("TEE", 1)],
                    RefundTo::StoreCredit,
                ),
            )
            .unwrap();
        assert_eq!(
            plan.refunds,
            [PlannedRefund {
                kind: TenderType::GiftCard,
                amount: dec!(25),
                action: RefundAction::IssueGiftCard
            }]
        );
    }

    #[test]
    fn pending_returns_reserve_units_and_release_them_when_aborted() {
        let mut s = pos_with_sale();
        let a = s
            .begin_return(
                &mut fx("11:00"),
                ret_req(
                    Some("sale_000001"),
                    vec![line("MUG", 2)],
                    RefundTo::Original,
                ),
            )
            .unwrap();
        let e = s.begin_return(
            &mut fx("11:00"),
            ret_req(
                Some("sale_000001"),
                vec![line("MUG", 2)],
                RefundTo::Original,
            ),
        );
        assert_eq!(err_of(e).0, (Invalid, "quantity_exceeds_sold"));
        // The one unit left can still go.
        let b = s
            .begin_return(
                &mut fx("11:00"),
                ret_req(
                    Some("sale_000001"),
                    vec![line("MUG", 1)],
                    RefundTo::Original,
                ),
            )
            .unwrap();
        // A holds 21.65 (2 of 32.48); B's last unit takes exactly the rest.
        assert_eq!(
            b.refunds.iter().map(|r| r.amount).sum::<Decimal>(),
            dec!(10.83)
        );
        s.abort_return(&a.id);
        let c = s
            .begin_return(
                &mut fx("11:00"),
                ret_req(
                    Some("sale_000001"),
                    vec![line("MUG", 2)],
                    RefundTo::Original,
                ),
            )
            .unwrap();
        // A's tender reservation was released too: C refunds from the gift card again.
        assert_eq!(c.refunds[0].kind, TenderType::GiftCard);
        assert_eq!(
            c.refunds.iter().map(|r| r.amount).sum::<Decimal>(),
            dec!(21.65)
        );
        assert_eq!(
            err_of(s.finish_return(&mut fx("11:00"), &a.id, vec![])).0,
            (Conflict, "return_aborted")
        );
    }

    #[test]
    fn returns_are_validated() {
        let mut s = pos_with_sale();
        let mut both = ret_req(Some("sale_000001"), vec![line("MUG", 1)], RefundTo::Cash);
        both.order_ref = Some("o-1".into());
        let mut wrong_loc = ret_req(None, vec![line("MUG", 1)], RefundTo::Cash);
        wrong_loc.location = "nowhere".into();
        let mut future = ret_req(None, vec![line("MUG", 1)], RefundTo::Cash);
        future.occurred_at = Some(t("11:01"));
        let mut online_cash = ret_req(None, vec![line("MUG", 1)], RefundTo::Cash);
        online_cash.order_ref = Some("o-1".into());
        let cases: Vec<(CreateReturn, ErrorKindCode, &str)> = vec![
            (both, (Invalid, "parameter_invalid"), "order_ref"),
            (wrong_loc, (NotFound, "unknown_location"), "location"),
            (future, (Invalid, "parameter_invalid"), "occurred_at"),
            (
                ret_req(None, vec![], RefundTo::Cash),
                (Invalid, "parameter_invalid"),
                "lines",
            ),
            (
                ret_req(None, vec![line("MUG", 0)], RefundTo::Cash),
                (Invalid, "parameter_invalid"),
                "lines[0].quantity",
            ),
            (
                ret_req(Some("sale_9"), vec![line("MUG", 1)], RefundTo::Cash),
                (NotFound, "unknown_sale"),
                "sale_id",
            ),
            (
                ret_req(Some("sale_000001"), vec![line("NOPE", 1)], RefundTo::Cash),
                (NotFound, "unknown_sku"),
                "lines[0].sku",
            ),
            (
                ret_req(Some("sale_000001"), vec![line("FAN", 1)], RefundTo::Cash),
                (Invalid, "sku_not_in_sale"),
                "lines[0].sku",
            ),
            (
                ret_req(
                    Some("sale_000001"),
                    vec![line("MUG", 2), line("MUG", 2)],
                    RefundTo::Cash,
                ),
                (Invalid, "quantity_exceeds_sold"),
                "lines[1].quantity",
            ),
            (
                ret_req(None, vec![line("MUG", 1)], RefundTo::Original),
                (Invalid, "parameter_invalid"),
                "refund_to",
            ),
            (
                ret_req(None, vec![line("MUG", 1), line("FAN", 1)], RefundTo::Cash),
                (Invalid, "currency_mismatch"),
                "lines[1].sku",
            ),
            (online_cash, (Invalid, "parameter_invalid"), "refund_to"),
        ];
        for (req, code, field) in cases {
            let e = s.begin_return(&mut fx("11:00"), req);
            assert_eq!(err_of(e), (code, Some(field.into())));
        }
        assert!(s.pending_returns.is_empty());
        assert_eq!(s.return_seq, 0);
    }

    #[test]
    fn returns_without_receipt_or_for_an_online_order_use_the_catalog() {
        let mut s = pos();
        let mut f = fx("11:00");
        let mut r = ret_req(None, vec![line("MUG", 2)], RefundTo::Cash);
        r.restock = false;
        let r = give_back(&mut s, &mut f, r).unwrap();
        // 20.00 + 1.65 tax.
        assert_eq!((r.amount, r.refunds.len()), (dec!(21.65), 1));
        assert_eq!(
            kinds(&f),
            ["return.created"],
            "no stock event without restock"
        );
        assert_eq!(stock(&s, "MUG"), 0);
        let mut online = ret_req(None, vec![line("TEE", 1)], RefundTo::Original);
        online.order_ref = Some("web-1001".into());
        let mut f = fx("11:05");
        let r = give_back(&mut s, &mut f, online).unwrap();
        assert_eq!(
            (r.amount, r.refunds.len(), r.order_ref.as_deref()),
            (dec!(25.00), 0, Some("web-1001"))
        );
        assert_eq!(stock(&s, "TEE"), 1);
        let d = &f.events()[0].data;
        assert_eq!(
            (
                &d["order_ref"],
                &d["sale_id"],
                &d["refund_to"],
                &d["restock"]
            ),
            (
                &json!("web-1001"),
                &json!(null),
                &json!("original"),
                &json!(true)
            )
        );
        assert_eq!(
            d["lines"],
            json!([{"sku": "TEE", "quantity": 1, "amount": "25.00"}])
        );
    }

    // ---- pickups --------------------------------------------------------------

    fn pickup_req(order_ref: &str, lines: Vec<SaleLineRequest>) -> CreatePickup {
        CreatePickup {
            order_ref: order_ref.into(),
            location: "store-1".into(),
            lines,
            customer: Some("Ada".into()),
        }
    }

    #[test]
    fn pickups_set_units_aside_and_complete_once_whatever_the_policy() {
        let mut s = pos();
        s.set_settings(PosSettings {
            sell_when_out_of_stock: SellPolicy::Block,
        });
        let mut f = fx("11:00");
        let p = s
            .create_pickup(&mut f, pickup_req("web-1", vec![line("TEE", 2)]))
            .unwrap();
        assert_eq!(
            (p.status, p.created_at, p.completed_at),
            (PickupStatus::Ready, t("11:00"), None)
        );
        // Set aside at once, even below zero: the order was already taken.
        assert_eq!(stock(&s, "TEE"), -2);
        assert_eq!(s.reserved_units("TEE", "store-1"), 2);
        assert_eq!(kinds(&f), ["inventory.count.updated"]);
        assert_eq!(
            f.events()[0].data["cause"],
            json!({"kind": "reserve", "reference": "web-1", "delta": -2})
        );
        let e =
            err_of(s.create_pickup(&mut fx("11:00"), pickup_req("web-1", vec![line("TEE", 1)])));
        assert_eq!(e, ((Conflict, "pickup_exists"), Some("order_ref".into())));
        let mut bad = pickup_req("web-2", vec![line("TEE", 1)]);
        bad.location = "nowhere".into();
        assert_eq!(
            err_of(s.create_pickup(&mut fx("11:00"), bad)).0,
            (NotFound, "unknown_location")
        );
        let e = s.create_pickup(&mut fx("11:00"), pickup_req("web-2", vec![line("NOPE", 1)]));
        assert_eq!(
            err_of(e),
            ((NotFound, "unknown_sku"), Some("lines[0].sku".into()))
        );
        let e = s.create_pickup(&mut fx("11:00"), pickup_req("web 2", vec![line("TEE", 1)]));
        assert_eq!(err_of(e).1.as_deref(), Some("order_ref"));
        assert_eq!(stock(&s, "TEE"), -2, "refused pickups set nothing aside");

        let mut f = fx("12:00");
        let done = s.complete_pickup(&mut f, "web-1").unwrap();
        assert_eq!(
            (done.status, done.completed_at),
            (PickupStatus::Completed, Some(t("12:00")))
        );
        assert_eq!(
            stock(&s, "TEE"),
            -2,
            "RESERVED_FOR_SALE → SOLD leaves IN_STOCK alone"
        );
        assert_eq!(s.reserved_units("TEE", "store-1"), 0);
        assert_eq!(kinds(&f), ["pickup.completed", "inventory.count.updated"]);
        assert_eq!(f.events()[0].data["status"], "completed");
        assert_eq!(
            f.events()[1].data["cause"],
            json!({"kind": "fulfillment", "reference": "web-1", "delta": 0})
        );
        let e = s.complete_pickup(&mut fx("12:01"), "web-1");
        assert_eq!(err_of(e).0, (Conflict, "pickup_already_completed"));
        let e = s.cancel_pickup(&mut fx("12:01"), "web-1");
        assert_eq!(err_of(e).0, (Conflict, "pickup_already_completed"));
        assert_eq!(
            err_of(s.complete_pickup(&mut fx("12:01"), "web-9")),
            ((NotFound, "unknown_pickup"), Some("order_ref".into()))
        );
        assert_eq!(s.pickup("web-1").unwrap(), done);
    }

    #[test]
    fn a_release_naming_its_order_comes_from_that_pickup() {
        use InventoryState::*;
        let mut s = pos();
        batch(&mut s, "09:00", vec![count_change("TEE", 10, "09:00")]).unwrap();
        s.create_pickup(&mut fx("10:00"), pickup_req("web-1", vec![line("TEE", 2)]))
            .unwrap();
        s.create_pickup(&mut fx("10:05"), pickup_req("web-2", vec![line("TEE", 3)]))
            .unwrap();
        // web-2 is shortened by one before collection.
        let mut release = adjust("TEE", 1, ReservedForSale, InStock, "11:00");
        release.order_ref = Some("web-2".into());
        batch(&mut s, "11:00", vec![release.clone()]).unwrap();
        assert_eq!(stock(&s, "TEE"), 6);
        assert_eq!(
            (
                s.pickups["web-1"].held.clone(),
                s.pickups["web-2"].held.clone()
            ),
            (vec![2], vec![2])
        );
        // web-1 is a no-show: both of its units come back.
        s.cancel_pickup(&mut fx("17:00"), "web-1").unwrap();
        assert_eq!(stock(&s, "TEE"), 8);
        // A pickup gives back no more than it holds, and only from RESERVED_FOR_SALE.
        release.quantity = 3;
        let e = batch(&mut s, "17:01", vec![release.clone()]);
        assert_eq!(err_of(e).1, Some("changes[0].order_ref".into()));
        let mut wrong = adjust("TEE", 1, InStock, Waste, "17:01");
        wrong.order_ref = Some("web-2".into());
        let e = batch(&mut s, "17:01", vec![wrong]);
        assert_eq!(err_of(e).1, Some("changes[0].order_ref".into()));
    }

    #[test]
    fn a_cancelled_pickup_puts_back_what_it_still_holds() {
        use InventoryState::*;
        let mut s = pos();
        batch(&mut s, "09:00", vec![count_change("TEE", 10, "09:00")]).unwrap();
        s.create_pickup(
            &mut fx("10:00"),
            pickup_req("web-1", vec![line("TEE", 3), line("MUG", 1)]),
        )
        .unwrap();
        s.create_pickup(&mut fx("10:01"), pickup_req("web-2", vec![line("TEE", 2)]))
            .unwrap();
        assert_eq!(stock(&s, "TEE"), 5);
        // A connector releases one TEE by adjustment: the oldest pickup gives it.
        batch(
            &mut s,
            "10:05",
            vec![adjust("TEE", 1, ReservedForSale, InStock, "10:05")],
        )
        .unwrap();
        assert_eq!(stock(&s, "TEE"), 6);
        assert_eq!(s.pickups["web-1"].held, [2, 1]);
        // No more can be released than is set aside (4 TEE now).
        let e = batch(
            &mut s,
            "10:06",
            vec![
                adjust("TEE", 2, ReservedForSale, InStock, "10:06"),
                adjust("TEE", 3, ReservedForSale, Sold, "10:06"),
            ],
        );
        assert_eq!(
            err_of(e),
            (
                (Invalid, "parameter_invalid"),
                Some("changes[1].quantity".into())
            )
        );
        assert_eq!(s.reserved_units("TEE", "store-1"), 4);
        // Loose reservations count too, and go first.
        batch(
            &mut s,
            "10:07",
            vec![adjust("TEE", 1, InStock, ReservedForSale, "10:07")],
        )
        .unwrap();
        assert_eq!(
            (stock(&s, "TEE"), s.reserved_units("TEE", "store-1")),
            (5, 5)
        );
        batch(
            &mut s,
            "10:08",
            vec![adjust("TEE", 1, ReservedForSale, InStock, "10:08")],
        )
        .unwrap();
        assert_eq!(s.pickups["web-1"].held, [2, 1]);
        assert!(s.reserved_loose.is_empty());

        let mut f = fx("11:00");
        let p = s.cancel_pickup(&mut f, "web-1").unwrap();
        assert_eq!(
            (p.status, p.cancelled_at),
            (PickupStatus::Cancelled, Some(t("11:00")))
        );
        assert_eq!(stock(&s, "TEE"), 8);
        assert_eq!(stock(&s, "MUG"), 0);
        assert_eq!(
            kinds(&f),
            [
                "pickup.cancelled",
                "inventory.count.updated",
                "inventory.count.updated"
            ]
        );
        assert_eq!(
            f.events()[1].data["cause"],
            json!({"kind": "release", "reference": "web-1", "delta": 2})
        );
        let e = s.cancel_pickup(&mut fx("11:01"), "web-1");
        assert_eq!(err_of(e).0, (Conflict, "pickup_already_cancelled"));
        let e = s.complete_pickup(&mut fx("11:01"), "web-1");
        assert_eq!(err_of(e).0, (Conflict, "pickup_already_cancelled"));
        assert_eq!(
            err_of(s.cancel_pickup(&mut fx("11:01"), "web-9")).0,
            (NotFound, "unknown_pickup")
        );
        assert_eq!(
            s.reserved_units("TEE", "store-1"),
            2,
            "web-2 still holds its two"
        );
    }

    // ---- properties -------------------------------------------------------------

    proptest! {
        /// The same accepted changes give the same counts in any arrival order.
        #[test]
        fn square_ordering_ignores_arrival_order(
            (changes, order) in proptest::collection::btree_set(0i64..1440, 1..16)
                .prop_flat_map(|minutes| {
                    let n = minutes.len();
                    (
                        Just(minutes.into_iter().collect::<Vec<_>>()),
                        proptest::collection::vec((0u8..4, 1i64..20), n),
                    )
                })
                .prop_map(|(minutes, kinds)| {
                    use InventoryState::*;
                    minutes.into_iter().zip(kinds).map(|(m, (k, q))| {
                        let mut c = match k {
                            0 => count_change("MUG", q, "00:00"),
                            1 => adjust("MUG", q, None, InStock, "00:00"),
                            2 => adjust("MUG", q, InStock, Waste, "00:00"),
                            _ => adjust("MUG", q, InStock, Sold, "00:00"),
                        };
                        c.occurred_at = t("00:00") + TimeDelta::minutes(m);
                        c
                    }).collect::<Vec<_>>()
                })
                .prop_flat_map(|changes| {
                    let n = changes.len();
                    (Just(changes), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
                })
        ) {
            let now = t("23:59");
            let mut in_order = pos();
            for c in &changes {
                in_order.change_inventory(&mut Effects::new(now), BatchChangeInventory { changes: vec![c.clone()] }).unwrap();
            }
            let mut shuffled = pos();
            for &i in &order {
                shuffled.change_inventory(&mut Effects::new(now), BatchChangeInventory { changes: vec![changes[i].clone()] }).unwrap();
            }
            prop_assert_eq!(stock(&in_order, "MUG"), stock(&shuffled, "MUG"));
            prop_assert_eq!(
                in_order.count("MUG", "store-1").unwrap().calculated_at,
                shuffled.count("MUG", "store-1").unwrap().calculated_at
            );
        }

        /// A sale's total is the sum of its lines, and its tenders cover it
        /// exactly (cash beyond is change).
        #[test]
        fn sale_totals_add_up(
            qty in proptest::collection::vec((0usize..2, 1i64..50), 1..6),
            rate in 0u32..2000,
            split in proptest::collection::vec(0u8..3, 1..4),
            cash_extra in 0u32..10_000,
        ) {
            let mut s = pos();
            s.set_tax_rate("STD", SetTaxRate { rate: Decimal::new(i64::from(rate), 4) }).unwrap();
            let lines: Vec<SaleLineRequest> = qty.iter().map(|(k, q)| line(["MUG", "TEE"][*k], *q)).collect();
            // Price it first with one big cash tender.
            let probe = s.begin_sale(&mut fx("10:00"), sale_req(lines.clone(), vec![cash(dec!(1000000))])).unwrap();
            let total = s.pending_sales[&probe.id].sale.total;
            s.abort_sale(&probe.id);
            // Split: equal non-cash parts for the first tenders, cash for the rest.
            let mut tenders = Vec::new();
            let mut rest = total;
            let part = (total / Decimal::from(split.len() as i64 + 1)).round_dp(2);
            for k in &split {
                if part > Decimal::ZERO {
                    tenders.push(match k { 0 => card(part), 1 => gift(part), _ => cash(part) });
                    rest -= part;
                }
            }
            tenders.push(cash(rest + Decimal::new(i64::from(cash_extra), 2)));
            let sale = sell(&mut s, &mut fx("10:00"), sale_req(lines, tenders)).unwrap();
            let line_sum: Decimal = sale.lines.iter().map(|l| l.total).sum();
            prop_assert_eq!(line_sum, sale.total);
            for l in &sale.lines {
                let net = l.price * Decimal::from(l.quantity);
                prop_assert_eq!(l.total, net + l.tax);
            }
            let paid: Decimal = sale.tenders.iter().map(|t| t.amount).sum();
            prop_assert_eq!(paid, sale.total);
            prop_assert!(sale.tenders.iter().all(|t| t.change >= Decimal::ZERO));
            prop_assert!(sale.tenders.iter().filter(|t| t.kind != TenderType::Cash).all(|t| t.change.is_zero()));
        }

        /// However returns are asked for, the returned units never exceed the
        /// sold ones, and the money back never exceeds what was paid.
        #[test]
        fn returned_never_exceeds_sold(
            asks in proptest::collection::vec((0usize..3, 1i64..4, 0u8..3, any::<bool>()), 1..12),
        ) {
            let mut s = pos_with_sale();
            let mut asked: BTreeMap<&str, i64> = BTreeMap::new();
            let sold = BTreeMap::from([("MUG", 3i64), ("TEE", 1)]);
            for (k, q, to, abort) in asks {
                let sku = ["MUG", "TEE", "FAN"][k];
                let refund_to = [RefundTo::Original, RefundTo::Cash, RefundTo::StoreCredit][usize::from(to)];
                let req = ret_req(Some("sale_000001"), vec![line(sku, q)], refund_to);
                let fits = sold.get(sku).is_some_and(|s| asked.get(sku).copied().unwrap_or(0) + q <= *s);
                let mut f = fx("11:00");
                match s.begin_return(&mut f, req) {
                    Ok(plan) => {
                        prop_assert!(fits);
                        if abort {
                            s.abort_return(&plan.id);
                        } else {
                            let refs = vec![None; plan.refunds.len()];
                            s.finish_return(&mut f, &plan.id, refs).unwrap();
                            *asked.entry(sku).or_default() += q;
                        }
                    }
                    Err(_) => prop_assert!(!fits),
                }
            }
            let sale = s.sale("sale_000001").unwrap();
            for l in &sale.lines {
                prop_assert!(l.returned_quantity <= l.quantity);
                prop_assert_eq!(l.returned_quantity, asked.get(l.sku.as_str()).copied().unwrap_or(0));
            }
            let back: Decimal = s.returns.values().map(|r| r.amount).sum();
            prop_assert!(back <= sale.total);
            if asked.get("MUG") == Some(&3) && asked.get("TEE") == Some(&1) {
                prop_assert_eq!(back, sale.total);
            }
            for t in &sale.tenders {
                prop_assert!(t.refunded <= t.amount);
            }
        }
    }
}
