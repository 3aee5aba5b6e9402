//! Shopify's Admin GraphQL API (`POST /admin/api/{version}/graphql.json`)
//! with `async-graphql`, over the shop state machine.
//!
//! Every query reads the shop state; every mutation is one call (or, for
//! the order operations that reach the gateway, the same phases the native
//! routes run) into `shop/state.rs`, so the native API, the change feed and
//! the checkers see it. Semantic failures are `userErrors`; malformed
//! documents get top-level `errors` with locations.

use std::str::FromStr;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{
    Context, CustomDirective, Directive, EmptySubscription, Enum, ErrorExtensions, ID, InputObject,
    InputValueError, InputValueResult, Object, Scalar, ScalarType, Schema, SimpleObject, Value,
};
use axum::extract::{Path, State};
use base64::Engine as _;
use chrono::{DateTime as ChronoDateTime, SecondsFormat, Utc};
use omnisim_api::common::Location as NativeLocation;
use omnisim_api::common::WebhookSubscription as NativeSub;
use omnisim_api::pay::PayClient;
use omnisim_api::shop::{
    AdjustInventory, CancelOrder, CancelReason, CaptureOrder, CreateOrderRefund, FinancialStatus,
    FulfillLine, FulfillOrder, FulfillmentStatus, InventoryLevel as NativeLevel, Order, OrderLine,
    OrderRefund, OrderStatus, Product, ProductStatus as NativeStatus, RefundLineRequest,
    RestockType, SetInventory,
};
use rust_decimal::Decimal;

use super::customers;
use super::discounts;
use super::gift_cards;
use super::ids::{FulfillmentRec, counter, gid, level_gid, parse_gid, parse_level_gid};
use crate::core::{Platform, Simulator};
use crate::dialects::Wire;
use crate::error::SimError;
use crate::extract::Json;
use crate::shop::ShopState;
use crate::shop::state::ADJUST_REASONS;

/// The schema served.
pub type AdminSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// What resolvers reach: the shop, the gateway, and the shop's domain.
pub struct Shared {
    /// The shop simulator.
    pub sim: Arc<Simulator<ShopState>>,
    /// The gateway client the order operations use.
    pub pay: PayClient,
}

/// Builds the schema over `shared`.
pub fn schema(shared: Arc<Shared>) -> AdminSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(shared)
        .directive(idempotent)
        .limit_depth(30)
        .finish()
}

pub(super) fn shared<'a>(ctx: &Context<'a>) -> &'a Shared {
    ctx.data_unchecked::<Arc<Shared>>()
}

/// The `@idempotent(key:)` directive: its key is read before execution
/// (see `mod.rs`), where the whole request runs under it.
struct Idempotent;

impl CustomDirective for Idempotent {}

#[Directive(location = "Field")]
fn idempotent(key: String) -> impl CustomDirective {
    let _ = key;
    Idempotent
}

/// The quantity names Shopify has; the model holds `available`, `on_hand`,
/// `committed` and (as `unavailable`) nothing else by name, so the others
/// answer 0.
pub const QUANTITY_NAMES: &[&str] = &[
    "available",
    "on_hand",
    "committed",
    "reserved",
    "incoming",
    "damaged",
    "safety_stock",
    "quality_control",
];

/// The adjustment reasons Shopify accepts.
const SHOPIFY_REASONS: &[&str] = &[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

// ------------------------------------------------------------------ scalars

/// Shopify's `Money` and `Decimal`: a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money(pub Decimal);

fn decimal_value(d: Decimal) -> Value {
    let mut s = d.normalize().to_string();
    if !s.contains('.') {
        s.push_str(".0");
    }
    Value::String(s)
}

fn parse_decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

#[Scalar(name = "Money")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_decimal(&value)
            .map(Money)
            .ok_or_else(|| InputValueError::custom("a Money is a decimal string such as \"12.50\""))
    }

    fn to_value(&self) -> Value {
        decimal_value(self.0)
    }
}

/// Shopify's `Decimal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec(pub Decimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Dec {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_decimal(&value)
            .map(Dec)
            .ok_or_else(|| InputValueError::custom("a Decimal is a decimal string"))
    }

    fn to_value(&self) -> Value {
        decimal_value(self.0)
    }
}

/// Shopify's `DateTime`: ISO 8601 in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub ChronoDateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => ChronoDateTime::parse_from_rfc3339(s)
                .map(|d| DateTime(d.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("a DateTime is ISO 8601")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// Shopify's `UnsignedInt64`: a number as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsignedInt64(pub u64);

#[Scalar(name = "UnsignedInt64")]
impl ScalarType for UnsignedInt64 {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse()
                .map(UnsignedInt64)
                .map_err(|_| InputValueError::custom("not an UnsignedInt64")),
            Value::Number(n) => n
                .as_u64()
                .map(UnsignedInt64)
                .ok_or_else(|| InputValueError::custom("not an UnsignedInt64")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Shopify's `URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url(pub String);

#[Scalar(name = "URL")]
impl ScalarType for Url {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Url(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// Shopify's `CurrencyCode` (an enum of ISO 4217 codes there; any code the
/// shop knows here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrencyCode(pub String);

#[Scalar(name = "CurrencyCode")]
impl ScalarType for CurrencyCode {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) if s.len() == 3 => Ok(CurrencyCode(s)),
            Value::Enum(s) if s.len() == 3 => Ok(CurrencyCode(s.to_string())),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_) | Value::Enum(_))
    }

    fn to_value(&self) -> Value {
        Value::Enum(async_graphql::Name::new(&self.0))
    }
}

// -------------------------------------------------------------------- enums

/// `ProductStatus`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ProductStatus {
    /// On sale.
    Active,
    /// Archived.
    Archived,
    /// Not on sale.
    Draft,
    /// Unlisted.
    Unlisted,
}

/// `OrderCancelReason`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum OrderCancelReason {
    /// The customer.
    Customer,
    /// Declined payment.
    Declined,
    /// Fraud.
    Fraud,
    /// Out of stock.
    Inventory,
    /// Other.
    Other,
    /// Staff error.
    Staff,
}

/// `RefundLineItemRestockType`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum RefundLineItemRestockType {
    /// Unfulfilled units back to available.
    Cancel,
    /// Legacy.
    LegacyRestock,
    /// Not restocked.
    NoRestock,
    /// Returned units back to stock.
    Return,
}

/// `OrderDisplayFinancialStatus`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum OrderDisplayFinancialStatus {
    /// Authorized.
    Authorized,
    /// Expired.
    Expired,
    /// Paid.
    Paid,
    /// Partially paid.
    PartiallyPaid,
    /// Partially refunded.
    PartiallyRefunded,
    /// Pending.
    Pending,
    /// Refunded.
    Refunded,
    /// Voided.
    Voided,
}

/// `OrderDisplayFulfillmentStatus`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum OrderDisplayFulfillmentStatus {
    /// Fulfilled.
    Fulfilled,
    /// In progress.
    InProgress,
    /// On hold.
    OnHold,
    /// Open.
    Open,
    /// Partially fulfilled.
    PartiallyFulfilled,
    /// Pending.
    PendingFulfillment,
    /// Declined.
    RequestDeclined,
    /// Restocked.
    Restocked,
    /// Scheduled.
    Scheduled,
    /// Unfulfilled.
    Unfulfilled,
}

/// `OrderTransactionKind`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum OrderTransactionKind {
    /// Authorization.
    Authorization,
    /// Capture.
    Capture,
    /// Change.
    Change,
    /// EMV authorization.
    EmvAuthorization,
    /// Refund.
    Refund,
    /// Sale.
    Sale,
    /// Suggested refund.
    SuggestedRefund,
    /// Void.
    Void,
}

/// `OrderTransactionStatus`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum OrderTransactionStatus {
    /// Awaiting.
    AwaitingResponse,
    /// Error.
    Error,
    /// Failure.
    Failure,
    /// Pending.
    Pending,
    /// Success.
    Success,
    /// Unknown.
    Unknown,
}

/// `FulfillmentStatus`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(name = "FulfillmentStatus")]
pub enum GFulfillmentStatus {
    /// Cancelled.
    Cancelled,
    /// Error.
    Error,
    /// Failure.
    Failure,
    /// Open.
    Open,
    /// Pending.
    Pending,
    /// Success.
    Success,
}

/// `FulfillmentOrderStatus`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum FulfillmentOrderStatus {
    /// Cancelled.
    Cancelled,
    /// Closed.
    Closed,
    /// Incomplete.
    Incomplete,
    /// In progress.
    InProgress,
    /// On hold.
    OnHold,
    /// Open.
    Open,
    /// Scheduled.
    Scheduled,
}

/// `WebhookSubscriptionFormat`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum WebhookSubscriptionFormat {
    /// JSON.
    Json,
    /// XML (refused).
    Xml,
}

/// The `WebhookSubscriptionTopic`s the shop emits.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum WebhookSubscriptionTopic {
    /// `inventory_levels/update`.
    InventoryLevelsUpdate,
    /// `products/create`.
    ProductsCreate,
    /// `products/update`.
    ProductsUpdate,
    /// `orders/create`.
    OrdersCreate,
    /// `orders/paid`.
    OrdersPaid,
    /// `orders/cancelled`.
    OrdersCancelled,
    /// `orders/fulfilled`.
    OrdersFulfilled,
    /// `orders/updated`.
    OrdersUpdated,
    /// `refunds/create`.
    RefundsCreate,
    /// `customers/create`.
    CustomersCreate,
    /// `customers/update`.
    CustomersUpdate,
    /// `discounts/create`.
    DiscountsCreate,
    /// `discounts/update`.
    DiscountsUpdate,
}

impl WebhookSubscriptionTopic {
    /// Every topic, in the order above.
    pub const ALL: [WebhookSubscriptionTopic; 13] = [
        Self::InventoryLevelsUpdate,
        Self::ProductsCreate,
        Self::ProductsUpdate,
        Self::OrdersCreate,
        Self::OrdersPaid,
        Self::OrdersCancelled,
        Self::OrdersFulfilled,
        Self::OrdersUpdated,
        Self::RefundsCreate,
        Self::CustomersCreate,
        Self::CustomersUpdate,
        Self::DiscountsCreate,
        Self::DiscountsUpdate,
    ];

    /// The topic as the `X-Shopify-Topic` header names it.
    pub fn header(self) -> &'static str {
        match self {
            Self::InventoryLevelsUpdate => "inventory_levels/update",
            Self::ProductsCreate => "products/create",
            Self::ProductsUpdate => "products/update",
            Self::OrdersCreate => "orders/create",
            Self::OrdersPaid => "orders/paid",
            Self::OrdersCancelled => "orders/cancelled",
            Self::OrdersFulfilled => "orders/fulfilled",
            Self::OrdersUpdated => "orders/updated",
            Self::RefundsCreate => "refunds/create",
            Self::CustomersCreate => "customers/create",
            Self::CustomersUpdate => "customers/update",
            Self::DiscountsCreate => "discounts/create",
            Self::DiscountsUpdate => "discounts/update",
        }
    }

    /// The topic named by its header form.
    pub fn from_header(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.header() == s)
    }
}

/// Sort keys of `orders`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum OrderSortKeys {
    /// Creation time.
    CreatedAt,
    /// Customer name.
    CustomerName,
    /// Destination.
    DestinationName,
    /// Financial status.
    FinancialStatus,
    /// Fulfillment status.
    FulfillmentStatus,
    /// Id.
    Id,
    /// Order number.
    OrderNumber,
    /// Ordered quantity.
    OrderedQuantity,
    /// Processing time.
    ProcessedAt,
    /// Relevance.
    Relevance,
    /// Total items.
    TotalItemsQuantity,
    /// Total price.
    TotalPrice,
    /// Update time.
    UpdatedAt,
    /// PO number.
    PoNumber,
}

/// Sort keys of `products`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ProductSortKeys {
    /// Creation time.
    CreatedAt,
    /// Id.
    Id,
    /// Inventory.
    InventoryTotal,
    /// Type.
    ProductType,
    /// Publication.
    PublishedAt,
    /// Relevance.
    Relevance,
    /// Title.
    Title,
    /// Update time.
    UpdatedAt,
    /// Vendor.
    Vendor,
}

/// Sort keys of `productVariants`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ProductVariantSortKeys {
    /// Full title.
    FullTitle,
    /// Id.
    Id,
    /// Inventory.
    InventoryLevelsAvailable,
    /// Inventory management.
    InventoryManagement,
    /// Inventory policy.
    InventoryPolicy,
    /// Position.
    Position,
    /// Popularity.
    Popular,
    /// Relevance.
    Relevance,
    /// SKU.
    Sku,
    /// Title.
    Title,
}

// --------------------------------------------------------------- connections

fn cursor(key: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn uncursor(c: &str) -> async_graphql::Result<String> {
    base64::engine::general_purpose::STANDARD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| async_graphql::Error::new(format!("Invalid cursor: {c}")))
}

/// Pages of `items`, sorted by their keys (sortable strings): `first` after
/// a cursor, or `last` before one, reversed when `reverse`.
#[derive(Clone, Debug, Default)]
pub(super) struct Page {
    pub(super) first: Option<i32>,
    pub(super) after: Option<String>,
    pub(super) last: Option<i32>,
    pub(super) before: Option<String>,
    pub(super) reverse: bool,
}

impl Page {
    /// A connection field's paging arguments as they arrive.
    pub(super) fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> Self {
        Page {
            first,
            after,
            last,
            before,
            reverse: reverse.unwrap_or(false),
        }
    }
}

const PAGE_MAX: i32 = 250;

pub(super) fn page<T: async_graphql::OutputType>(
    mut items: Vec<(String, T)>,
    p: Page,
) -> async_graphql::Result<Connection<String, T>> {
    if p.first.is_none() && p.last.is_none() {
        return Err(
            async_graphql::Error::new("you must provide one of first or last")
                .extend_with(|_, e| e.set("code", "BAD_REQUEST")),
        );
    }
    for n in [p.first, p.last].into_iter().flatten() {
        if !(0..=PAGE_MAX).contains(&n) {
            return Err(async_graphql::Error::new(format!(
                "The page size is from 0 to {PAGE_MAX}"
            ))
            .extend_with(|_, e| e.set("code", "BAD_REQUEST")));
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if p.reverse {
        items.reverse();
    }
    let after = p.after.as_deref().map(uncursor).transpose()?;
    let before = p.before.as_deref().map(uncursor).transpose()?;
    let rev = p.reverse;
    let past = |k: &str, c: &str| if rev { k < c } else { k > c };
    let mut window: Vec<(String, T)> = items
        .into_iter()
        .filter(|(k, _)| after.as_deref().is_none_or(|a| past(k, a)))
        .filter(|(k, _)| before.as_deref().is_none_or(|b| past(b, k)))
        .collect();
    let total = window.len();
    let mut has_next = false;
    let mut has_prev = after.is_some();
    if let Some(n) = p.first {
        let n = n as usize;
        if window.len() > n {
            window.truncate(n);
            has_next = true;
        }
    }
    if let Some(n) = p.last {
        let n = n as usize;
        if window.len() > n {
            window.drain(..window.len() - n);
            has_prev = true;
        }
        has_next = has_next || before.is_some();
    }
    let _ = total;
    let mut c = Connection::new(has_prev, has_next);
    c.edges
        .extend(window.into_iter().map(|(k, t)| Edge::new(cursor(&k), t)));
    Ok(c)
}

pub(super) fn id_key(n: u64) -> String {
    format!("{n:020}")
}

pub(super) fn time_key(t: ChronoDateTime<Utc>, n: u64) -> String {
    format!("{}|{n:020}", t.format("%Y%m%dT%H%M%S%.6f"))
}

// ------------------------------------------------------------- query terms

/// One `field:value` term of Shopify's search syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Term {
    pub(super) field: String,
    pub(super) op: &'static str,
    pub(super) value: String,
}

pub(super) fn terms(q: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (word, tail) = take_word(rest);
        rest = tail.trim_start();
        if word.eq_ignore_ascii_case("AND") {
            continue;
        }
        let Some((field, value)) = word.split_once(':') else {
            out.push(Term {
                field: String::new(),
                op: "=",
                value: unquote(&word),
            });
            continue;
        };
        let (op, value) = [">=", "<=", ">", "<"]
            .into_iter()
            .find_map(|op| value.strip_prefix(op).map(|v| (op, v)))
            .unwrap_or(("=", value));
        out.push(Term {
            field: field.to_ascii_lowercase(),
            op,
            value: unquote(value),
        });
    }
    out
}

fn take_word(s: &str) -> (String, &str) {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c.is_whitespace() => return (s[..i].to_owned(), &s[i..]),
            None => {}
        }
    }
    (s.to_owned(), "")
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '\'' || c == '"').to_owned()
}

fn parse_time(v: &str) -> Option<ChronoDateTime<Utc>> {
    if let Ok(t) = ChronoDateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

pub(super) fn time_matches(t: ChronoDateTime<Utc>, term: &Term) -> bool {
    let Some(v) = parse_time(&term.value) else {
        return false;
    };
    match term.op {
        ">" => t > v,
        ">=" => t >= v,
        "<" => t < v,
        "<=" => t <= v,
        _ => t == v,
    }
}

pub(super) fn number_matches(n: u64, term: &Term) -> bool {
    let Ok(v) = term.value.parse::<u64>() else {
        return false;
    };
    match term.op {
        ">" => n > v,
        ">=" => n >= v,
        "<" => n < v,
        "<=" => n <= v,
        _ => n == v,
    }
}

// ------------------------------------------------------------ output types

/// `MoneyV2`.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "MoneyV2")]
pub struct MoneyV2 {
    amount: Dec,
    currency_code: CurrencyCode,
}

/// `MoneyBag`.
#[derive(SimpleObject, Clone, Debug)]
pub struct MoneyBag {
    shop_money: MoneyV2,
    presentment_money: MoneyV2,
}

fn bag(amount: Decimal, currency: &str) -> MoneyBag {
    let m = MoneyV2 {
        amount: Dec(amount),
        currency_code: CurrencyCode(currency.to_owned()),
    };
    MoneyBag {
        shop_money: m.clone(),
        presentment_money: m,
    }
}

/// A `MoneyV2` of `amount` in `currency`.
pub(super) fn money(amount: Decimal, currency: &str) -> MoneyV2 {
    MoneyV2 {
        amount: Dec(amount),
        currency_code: CurrencyCode(currency.to_owned()),
    }
}

/// The shop's currency: its first product's, else USD (as `shop` reads it).
pub(super) fn shop_currency(s: &ShopState) -> String {
    s.list_products()
        .first()
        .map(|p| p.currency.clone())
        .unwrap_or_else(|| "USD".to_owned())
}

/// The `Product` of `sku`, with its number, if the shop sells it.
pub(super) fn product_view(s: &ShopState, sku: &str) -> Option<(GProduct, u64)> {
    let n = s.shopify.product(sku)?;
    let p = s.get_product(sku).ok()?;
    Some((GProduct { p, n }, n))
}

/// `UserError`.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    field: Option<Vec<String>>,
    message: String,
}

/// A user error with a code, as the inventory and cancel mutations give it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "InventoryAdjustQuantitiesUserError")]
pub struct CodedError {
    field: Option<Vec<String>>,
    message: String,
    code: Option<String>,
}

/// `InventorySetQuantitiesUserError`.
#[derive(SimpleObject, Clone, Debug)]
pub struct InventorySetQuantitiesUserError {
    field: Option<Vec<String>>,
    message: String,
    code: Option<String>,
}

/// `OrderCancelUserError`.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderCancelUserError {
    field: Option<Vec<String>>,
    message: String,
    code: Option<String>,
}

pub(super) fn user_error(field: &[&str], message: impl Into<String>) -> UserError {
    UserError {
        field: Some(field.iter().map(|s| (*s).to_owned()).collect()),
        message: message.into(),
    }
}

fn from_sim(e: &SimError, field: &[&str]) -> UserError {
    user_error(field, e.message.clone())
}

/// `Shop`.
pub struct Shop {
    name: String,
    domain: String,
    currency: String,
}

#[Object]
impl Shop {
    async fn id(&self) -> ID {
        ID(gid("Shop", 1))
    }
    async fn name(&self) -> &str {
        &self.name
    }
    async fn myshopify_domain(&self) -> &str {
        &self.domain
    }
    async fn currency_code(&self) -> CurrencyCode {
        CurrencyCode(self.currency.clone())
    }
    async fn email(&self) -> &str {
        "shop@omnisim.test"
    }
    async fn iana_timezone(&self) -> &str {
        "Etc/UTC"
    }
    async fn url(&self) -> Url {
        Url(format!("https://{}", self.domain))
    }
}

/// `Location`.
#[derive(Clone, Debug)]
pub struct GLocation {
    loc: NativeLocation,
    n: u64,
}

#[Object(name = "Location")]
impl GLocation {
    async fn id(&self) -> ID {
        ID(gid("Location", self.n))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.n)
    }
    async fn name(&self) -> &str {
        &self.loc.name
    }
    async fn is_active(&self) -> bool {
        true
    }
    async fn fulfills_online_orders(&self) -> bool {
        true
    }
    async fn is_primary(&self) -> bool {
        self.loc.id == crate::shop::state::DEFAULT_LOCATION
    }
    async fn inventory_level(
        &self,
        ctx: &Context<'_>,
        inventory_item_id: ID,
    ) -> async_graphql::Result<Option<GLevel>> {
        let Some(item) = parse_gid("InventoryItem", &inventory_item_id) else {
            return Ok(None);
        };
        Ok(shared(ctx).sim.read(|s| level_at(s, item, self.n)))
    }
    #[allow(clippy::too_many_arguments)]
    async fn inventory_levels(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
    ) -> async_graphql::Result<Connection<String, GLevel>> {
        let _ = query;
        let levels = shared(ctx).sim.read(|s| {
            s.list_products()
                .iter()
                .filter_map(|p| {
                    let item = s.shopify.product(&p.sku)?;
                    level_at(s, item, self.n).map(|l| (id_key(item), l))
                })
                .collect::<Vec<_>>()
        });
        page(levels, Page::new(first, after, last, before, reverse))
    }
}

fn location_of(s: &ShopState, n: u64) -> Option<GLocation> {
    let key = s.shopify.location_key(n)?;
    let loc = s.locations()?.list().into_iter().find(|l| l.id == key)?;
    Some(GLocation { loc, n })
}

fn level_at(s: &ShopState, item: u64, location: u64) -> Option<GLevel> {
    let sku = s.shopify.sku(item)?;
    let key = s.shopify.location_key(location)?;
    let level = s.get_level(sku, key).ok()?;
    let product = s.get_product(sku).ok()?;
    Some(GLevel {
        level,
        product,
        item,
        location,
    })
}

/// `Product`.
#[derive(Clone, Debug)]
pub struct GProduct {
    p: Product,
    n: u64,
}

fn handle(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn status(p: &Product) -> ProductStatus {
    match p.status {
        NativeStatus::Active => ProductStatus::Active,
        NativeStatus::Paused => ProductStatus::Draft,
    }
}

fn total_inventory(s: &ShopState, sku: &str) -> i64 {
    s.list_levels(Some(sku), None)
        .unwrap_or_default()
        .iter()
        .map(|l| l.available)
        .sum()
}

#[Object(name = "Product")]
impl GProduct {
    async fn id(&self) -> ID {
        ID(gid("Product", self.n))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.n)
    }
    async fn title(&self) -> &str {
        &self.p.title
    }
    async fn handle(&self) -> String {
        handle(&self.p.title)
    }
    async fn status(&self) -> ProductStatus {
        status(&self.p)
    }
    async fn vendor(&self) -> &str {
        "omnisim"
    }
    async fn product_type(&self) -> &str {
        ""
    }
    async fn tags(&self) -> Vec<String> {
        Vec::new()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.p.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.p.updated_at)
    }
    async fn total_inventory(&self, ctx: &Context<'_>) -> i64 {
        shared(ctx).sim.read(|s| total_inventory(s, &self.p.sku))
    }
    async fn variants(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GVariant>> {
        let v = GVariant {
            p: self.p.clone(),
            n: self.n,
        };
        page(
            vec![(id_key(self.n), v)],
            Page::new(first, after, last, before, reverse),
        )
    }
}

/// `ProductVariant`.
#[derive(Clone, Debug)]
pub struct GVariant {
    p: Product,
    n: u64,
}

#[Object(name = "ProductVariant")]
impl GVariant {
    async fn id(&self) -> ID {
        ID(gid("ProductVariant", self.n))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.n)
    }
    async fn sku(&self) -> Option<&str> {
        Some(&self.p.sku)
    }
    async fn title(&self) -> &str {
        "Default Title"
    }
    async fn display_name(&self) -> String {
        format!("{} - Default Title", self.p.title)
    }
    async fn price(&self) -> Money {
        Money(self.p.price)
    }
    async fn compare_at_price(&self) -> Option<Money> {
        None
    }
    async fn barcode(&self) -> Option<String> {
        None
    }
    async fn inventory_quantity(&self, ctx: &Context<'_>) -> Option<i64> {
        Some(shared(ctx).sim.read(|s| total_inventory(s, &self.p.sku)))
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.p.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.p.updated_at)
    }
    async fn inventory_item(&self) -> GItem {
        GItem {
            p: self.p.clone(),
            n: self.n,
        }
    }
    async fn product(&self) -> GProduct {
        GProduct {
            p: self.p.clone(),
            n: self.n,
        }
    }
}

/// `InventoryItem`.
#[derive(Clone, Debug)]
pub struct GItem {
    p: Product,
    n: u64,
}

#[Object(name = "InventoryItem")]
impl GItem {
    async fn id(&self) -> ID {
        ID(gid("InventoryItem", self.n))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.n)
    }
    async fn sku(&self) -> Option<&str> {
        Some(&self.p.sku)
    }
    async fn tracked(&self) -> bool {
        true
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.p.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.p.updated_at)
    }
    async fn variant(&self) -> GVariant {
        GVariant {
            p: self.p.clone(),
            n: self.n,
        }
    }
    async fn inventory_level(&self, ctx: &Context<'_>, location_id: ID) -> Option<GLevel> {
        let loc = parse_gid("Location", &location_id)?;
        shared(ctx).sim.read(|s| level_at(s, self.n, loc))
    }
    #[allow(clippy::too_many_arguments)]
    async fn inventory_levels(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
    ) -> async_graphql::Result<Connection<String, GLevel>> {
        let _ = query;
        let levels = shared(ctx).sim.read(|s| {
            s.locations()
                .map(|l| l.list())
                .unwrap_or_default()
                .iter()
                .filter_map(|l| {
                    let n = s.shopify.location(&l.id)?;
                    level_at(s, self.n, n).map(|lv| (id_key(n), lv))
                })
                .collect::<Vec<_>>()
        });
        page(levels, Page::new(first, after, last, before, reverse))
    }
}

/// `InventoryLevel`.
#[derive(Clone, Debug)]
pub struct GLevel {
    level: NativeLevel,
    product: Product,
    item: u64,
    location: u64,
}

/// The quantity called `name` of a level (0 for those the model does not hold).
pub fn quantity(level: &NativeLevel, name: &str) -> i64 {
    match name {
        "available" => level.available,
        "on_hand" => level.on_hand,
        "committed" => level.committed,
        _ => 0,
    }
}

/// `InventoryQuantity`.
#[derive(SimpleObject, Clone, Debug)]
pub struct InventoryQuantity {
    id: ID,
    name: String,
    quantity: i64,
    updated_at: Option<DateTime>,
}

#[Object(name = "InventoryLevel")]
impl GLevel {
    async fn id(&self) -> ID {
        ID(level_gid(self.location, self.item))
    }
    async fn can_deactivate(&self) -> bool {
        false
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.product.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.level.updated_at)
    }
    async fn item(&self) -> GItem {
        GItem {
            p: self.product.clone(),
            n: self.item,
        }
    }
    async fn location(&self, ctx: &Context<'_>) -> async_graphql::Result<GLocation> {
        shared(ctx)
            .sim
            .read(|s| location_of(s, self.location))
            .ok_or_else(|| async_graphql::Error::new("location not found"))
    }
    async fn quantities(
        &self,
        names: Vec<String>,
    ) -> async_graphql::Result<Vec<InventoryQuantity>> {
        let mut out = Vec::new();
        for name in names {
            if !QUANTITY_NAMES.contains(&name.as_str()) {
                return Err(async_graphql::Error::new(format!(
                    "The quantity name '{name}' is not valid. Valid names: {}",
                    QUANTITY_NAMES.join(", ")
                )));
            }
            out.push(InventoryQuantity {
                id: ID(format!(
                    "gid://shopify/InventoryQuantity/{}?inventory_item_id={}&name={name}",
                    self.location, self.item
                )),
                quantity: quantity(&self.level, &name),
                name,
                updated_at: Some(DateTime(self.level.updated_at)),
            });
        }
        Ok(out)
    }
}

/// `InventoryChange`.
#[derive(Clone, Debug)]
pub struct GChange {
    name: String,
    delta: i64,
    after: i64,
    level: GLevel,
    ledger: Option<String>,
}

#[Object(name = "InventoryChange")]
impl GChange {
    async fn name(&self) -> &str {
        &self.name
    }
    async fn delta(&self) -> i64 {
        self.delta
    }
    async fn quantity_after_change(&self) -> Option<i64> {
        Some(self.after)
    }
    async fn ledger_document_uri(&self) -> Option<&str> {
        self.ledger.as_deref()
    }
    async fn item(&self) -> GItem {
        GItem {
            p: self.level.product.clone(),
            n: self.level.item,
        }
    }
    async fn location(&self, ctx: &Context<'_>) -> Option<GLocation> {
        shared(ctx)
            .sim
            .read(|s| location_of(s, self.level.location))
    }
}

/// `InventoryAdjustmentGroup`.
#[derive(Clone, Debug)]
pub struct GGroup {
    n: u64,
    created_at: ChronoDateTime<Utc>,
    reason: String,
    reference: Option<String>,
    changes: Vec<GChange>,
}

#[Object(name = "InventoryAdjustmentGroup")]
impl GGroup {
    async fn id(&self) -> ID {
        ID(gid("InventoryAdjustmentGroup", self.n))
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.created_at)
    }
    async fn reason(&self) -> &str {
        &self.reason
    }
    async fn reference_document_uri(&self) -> Option<&str> {
        self.reference.as_deref()
    }
    async fn changes(
        &self,
        inventory_item_ids: Option<Vec<ID>>,
        location_ids: Option<Vec<ID>>,
        quantity_names: Option<Vec<String>>,
    ) -> Vec<GChange> {
        let items: Option<Vec<u64>> = inventory_item_ids.map(|v| {
            v.iter()
                .filter_map(|i| parse_gid("InventoryItem", i))
                .collect()
        });
        let locs: Option<Vec<u64>> =
            location_ids.map(|v| v.iter().filter_map(|i| parse_gid("Location", i)).collect());
        self.changes
            .iter()
            .filter(|c| items.as_ref().is_none_or(|i| i.contains(&c.level.item)))
            .filter(|c| locs.as_ref().is_none_or(|l| l.contains(&c.level.location)))
            .filter(|c| quantity_names.as_ref().is_none_or(|q| q.contains(&c.name)))
            .cloned()
            .collect()
    }
}

/// `InventoryAdjustQuantitiesPayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct InventoryAdjustQuantitiesPayload {
    inventory_adjustment_group: Option<GGroup>,
    user_errors: Vec<CodedError>,
}

/// `InventorySetQuantitiesPayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct InventorySetQuantitiesPayload {
    inventory_adjustment_group: Option<GGroup>,
    user_errors: Vec<InventorySetQuantitiesUserError>,
}

/// `InventoryActivatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct InventoryActivatePayload {
    inventory_level: Option<GLevel>,
    user_errors: Vec<UserError>,
}

// ------------------------------------------------------------------ orders

/// `Order`.
#[derive(Clone, Debug)]
pub struct GOrder {
    o: Order,
    n: u64,
}

fn order_view(o: Order) -> GOrder {
    let n = counter(&o.id).unwrap_or(0);
    GOrder { o, n }
}

/// The transactions Shopify would show for an order, from its money state.
pub(super) fn transactions(o: &Order, n: u64) -> Vec<GTransaction> {
    let mut out = Vec::new();
    if o.payment_intent.is_none() {
        return out;
    }
    let manual = o.capture_method == omnisim_api::pay::CaptureMethod::Manual;
    let pending = o.financial_status == FinancialStatus::Pending;
    let auth = GTransaction {
        id: n * 100 + 1,
        kind: if manual {
            OrderTransactionKind::Authorization
        } else {
            OrderTransactionKind::Sale
        },
        status: if pending {
            OrderTransactionStatus::Pending
        } else {
            OrderTransactionStatus::Success
        },
        amount: o.total,
        currency: o.currency.clone(),
        parent: None,
        at: o.created_at,
    };
    out.push(auth);
    if manual && o.total_captured > Decimal::ZERO {
        out.push(GTransaction {
            id: n * 100 + 2,
            kind: OrderTransactionKind::Capture,
            status: OrderTransactionStatus::Success,
            amount: o.total_captured,
            currency: o.currency.clone(),
            parent: Some(n * 100 + 1),
            at: o.updated_at,
        });
    }
    if o.financial_status == FinancialStatus::Voided {
        out.push(GTransaction {
            id: n * 100 + 3,
            kind: OrderTransactionKind::Void,
            status: OrderTransactionStatus::Success,
            amount: o.total,
            currency: o.currency.clone(),
            parent: Some(n * 100 + 1),
            at: o.cancelled_at.unwrap_or(o.updated_at),
        });
    }
    let mut refunded = Decimal::ZERO;
    for (i, r) in o.refunds.iter().enumerate() {
        if r.payment_amount > Decimal::ZERO {
            refunded += r.payment_amount;
            out.push(GTransaction {
                id: n * 100 + 10 + i as u64,
                kind: OrderTransactionKind::Refund,
                status: OrderTransactionStatus::Success,
                amount: r.payment_amount,
                currency: o.currency.clone(),
                parent: Some(n * 100 + if manual { 2 } else { 1 }),
                at: r.created_at,
            });
        }
    }
    if o.total_refunded > refunded {
        out.push(GTransaction {
            id: n * 100 + 9,
            kind: OrderTransactionKind::Refund,
            status: OrderTransactionStatus::Success,
            amount: o.total_refunded - refunded,
            currency: o.currency.clone(),
            parent: Some(n * 100 + if manual { 2 } else { 1 }),
            at: o.cancelled_at.unwrap_or(o.updated_at),
        });
    }
    out
}

fn display_financial(s: FinancialStatus) -> OrderDisplayFinancialStatus {
    match s {
        FinancialStatus::Pending => OrderDisplayFinancialStatus::Pending,
        FinancialStatus::Authorized => OrderDisplayFinancialStatus::Authorized,
        FinancialStatus::PartiallyPaid => OrderDisplayFinancialStatus::PartiallyPaid,
        FinancialStatus::Paid => OrderDisplayFinancialStatus::Paid,
        FinancialStatus::PartiallyRefunded => OrderDisplayFinancialStatus::PartiallyRefunded,
        FinancialStatus::Refunded => OrderDisplayFinancialStatus::Refunded,
        FinancialStatus::Voided => OrderDisplayFinancialStatus::Voided,
    }
}

fn display_fulfillment(o: &Order) -> OrderDisplayFulfillmentStatus {
    match o.fulfillment_status {
        FulfillmentStatus::Fulfilled => OrderDisplayFulfillmentStatus::Fulfilled,
        FulfillmentStatus::Partial => OrderDisplayFulfillmentStatus::PartiallyFulfilled,
        _ => OrderDisplayFulfillmentStatus::Unfulfilled,
    }
}

#[Object(name = "Order")]
impl GOrder {
    async fn id(&self) -> ID {
        ID(gid("Order", self.n))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.n)
    }
    async fn name(&self) -> &str {
        &self.o.name
    }
    async fn email(&self) -> Option<&str> {
        self.o.customer.as_deref()
    }
    async fn note(&self) -> Option<&str> {
        None
    }
    async fn source_name(&self) -> Option<&str> {
        Some(if self.o.channel == "online_store" {
            "web"
        } else {
            &self.o.channel
        })
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.o.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.o.updated_at)
    }
    async fn cancelled_at(&self) -> Option<DateTime> {
        self.o.cancelled_at.map(DateTime)
    }
    async fn cancel_reason(&self) -> Option<OrderCancelReason> {
        self.o.cancel_reason.map(|r| match r {
            CancelReason::Customer => OrderCancelReason::Customer,
            CancelReason::Inventory => OrderCancelReason::Inventory,
            CancelReason::Fraud => OrderCancelReason::Fraud,
            CancelReason::Declined => OrderCancelReason::Declined,
            CancelReason::Other => OrderCancelReason::Other,
        })
    }
    async fn closed(&self) -> bool {
        self.o.status == OrderStatus::Cancelled
            || self.o.fulfillment_status == FulfillmentStatus::Fulfilled
    }
    async fn capturable(&self) -> bool {
        self.o.total_capturable > Decimal::ZERO && self.o.status == OrderStatus::Open
    }
    async fn fully_paid(&self) -> bool {
        self.o.total_captured >= self.o.total
    }
    async fn unpaid(&self) -> bool {
        self.o.total_captured.is_zero() && !self.o.total.is_zero()
    }
    async fn currency_code(&self) -> CurrencyCode {
        CurrencyCode(self.o.currency.clone())
    }
    async fn display_financial_status(&self) -> Option<OrderDisplayFinancialStatus> {
        Some(display_financial(self.o.financial_status))
    }
    async fn display_fulfillment_status(&self) -> OrderDisplayFulfillmentStatus {
        display_fulfillment(&self.o)
    }
    async fn total_price_set(&self) -> MoneyBag {
        bag(self.o.total, &self.o.currency)
    }
    async fn current_total_price_set(&self) -> MoneyBag {
        let refunded: Decimal = self.o.refunds.iter().map(|r| r.amount).sum();
        bag(self.o.total - refunded, &self.o.currency)
    }
    async fn subtotal_price_set(&self) -> Option<MoneyBag> {
        Some(bag(
            self.o.subtotal - self.o.discount_total,
            &self.o.currency,
        ))
    }
    async fn total_tax_set(&self) -> Option<MoneyBag> {
        Some(bag(self.o.tax_total, &self.o.currency))
    }
    async fn total_received_set(&self) -> MoneyBag {
        bag(self.o.total_captured, &self.o.currency)
    }
    async fn total_refunded_set(&self) -> MoneyBag {
        bag(self.o.total_refunded, &self.o.currency)
    }
    async fn total_capturable_set(&self) -> MoneyBag {
        bag(self.o.total_capturable, &self.o.currency)
    }
    async fn line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GLine>> {
        let lines = self
            .o
            .lines
            .iter()
            .map(|l| {
                let n = counter(&l.id).unwrap_or(0);
                (
                    id_key(n),
                    GLine {
                        l: l.clone(),
                        currency: self.o.currency.clone(),
                        n,
                    },
                )
            })
            .collect();
        page(lines, Page::new(first, after, last, before, reverse))
    }
    async fn transactions(
        &self,
        capturable: Option<bool>,
        first: Option<i32>,
        manually_resolvable: Option<bool>,
    ) -> Vec<GTransaction> {
        let _ = manually_resolvable;
        let mut all = transactions(&self.o, self.n);
        if capturable == Some(true) {
            let open = self.o.total_capturable > Decimal::ZERO;
            all.retain(|t| open && t.kind == OrderTransactionKind::Authorization);
        }
        if let Some(f) = first {
            all.truncate(f.max(0) as usize);
        }
        all
    }
    async fn refunds(&self, first: Option<i32>) -> Vec<GRefund> {
        let mut all: Vec<GRefund> = self
            .o
            .refunds
            .iter()
            .map(|r| GRefund {
                r: r.clone(),
                order: self.o.clone(),
            })
            .collect();
        if let Some(f) = first {
            all.truncate(f.max(0) as usize);
        }
        all
    }
    async fn fulfillments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        query: Option<String>,
    ) -> Vec<GFulfillment> {
        let _ = query;
        let mut all: Vec<GFulfillment> = shared(ctx).sim.read(|s| {
            s.shopify
                .fulfillments_of(&self.o.id)
                .into_iter()
                .map(|(n, rec)| GFulfillment {
                    n,
                    rec,
                    order: self.o.clone(),
                })
                .collect()
        });
        if let Some(f) = first {
            all.truncate(f.max(0) as usize);
        }
        all
    }
    #[allow(clippy::too_many_arguments)]
    async fn fulfillment_orders(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        displayable: Option<bool>,
        query: Option<String>,
    ) -> async_graphql::Result<Connection<String, GFulfillmentOrder>> {
        let _ = (displayable, query);
        page(
            vec![(
                id_key(self.n),
                GFulfillmentOrder {
                    o: self.o.clone(),
                    n: self.n,
                },
            )],
            Page::new(first, after, last, before, reverse),
        )
    }
}

/// `LineItem`.
#[derive(Clone, Debug)]
pub struct GLine {
    l: OrderLine,
    currency: String,
    n: u64,
}

#[Object(name = "LineItem")]
impl GLine {
    async fn id(&self) -> ID {
        ID(gid("LineItem", self.n))
    }
    async fn sku(&self) -> Option<&str> {
        Some(&self.l.sku)
    }
    async fn title(&self) -> &str {
        &self.l.title
    }
    async fn name(&self) -> &str {
        &self.l.title
    }
    async fn quantity(&self) -> i64 {
        self.l.quantity
    }
    async fn current_quantity(&self) -> i64 {
        self.l.quantity - self.l.refunded_quantity
    }
    async fn unfulfilled_quantity(&self) -> i64 {
        self.l.fulfillable_quantity
    }
    async fn fulfillable_quantity(&self) -> i64 {
        self.l.fulfillable_quantity
    }
    async fn non_fulfillable_quantity(&self) -> i64 {
        self.l.quantity - self.l.fulfillable_quantity - self.l.fulfilled_quantity
    }
    async fn refundable_quantity(&self) -> i64 {
        self.l.quantity - self.l.refunded_quantity
    }
    async fn original_unit_price_set(&self) -> MoneyBag {
        bag(self.l.price, &self.currency)
    }
    async fn variant(&self, ctx: &Context<'_>) -> Option<GVariant> {
        shared(ctx).sim.read(|s| {
            let n = s.shopify.product(&self.l.sku)?;
            let p = s.get_product(&self.l.sku).ok()?;
            Some(GVariant { p, n })
        })
    }
}

/// `OrderTransaction`.
#[derive(Clone, Debug)]
pub struct GTransaction {
    pub(super) id: u64,
    pub(super) kind: OrderTransactionKind,
    pub(super) status: OrderTransactionStatus,
    pub(super) amount: Decimal,
    pub(super) currency: String,
    pub(super) parent: Option<u64>,
    pub(super) at: ChronoDateTime<Utc>,
}

#[Object(name = "OrderTransaction")]
impl GTransaction {
    async fn id(&self) -> ID {
        ID(gid("OrderTransaction", self.id))
    }
    async fn kind(&self) -> OrderTransactionKind {
        self.kind
    }
    async fn status(&self) -> OrderTransactionStatus {
        self.status
    }
    async fn amount_set(&self) -> MoneyBag {
        bag(self.amount, &self.currency)
    }
    async fn gateway(&self) -> Option<&str> {
        Some("omnisim")
    }
    async fn test(&self) -> bool {
        true
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.at)
    }
    async fn processed_at(&self) -> Option<DateTime> {
        Some(DateTime(self.at))
    }
    async fn parent_transaction(&self) -> Option<GTransaction> {
        self.parent.map(|p| GTransaction {
            id: p,
            kind: OrderTransactionKind::Authorization,
            status: OrderTransactionStatus::Success,
            amount: self.amount,
            currency: self.currency.clone(),
            parent: None,
            at: self.at,
        })
    }
}

/// `Refund`.
#[derive(Clone, Debug)]
pub struct GRefund {
    r: OrderRefund,
    order: Order,
}

#[Object(name = "Refund")]
impl GRefund {
    async fn id(&self) -> ID {
        ID(gid("Refund", counter(&self.r.id).unwrap_or(0)))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(counter(&self.r.id).unwrap_or(0))
    }
    async fn note(&self) -> Option<&str> {
        self.r.note.as_deref()
    }
    async fn created_at(&self) -> Option<DateTime> {
        Some(DateTime(self.r.created_at))
    }
    async fn processed_at(&self) -> DateTime {
        DateTime(self.r.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.r.created_at)
    }
    async fn total_refunded_set(&self) -> MoneyBag {
        bag(self.r.amount, &self.r.currency)
    }
    async fn order(&self) -> GOrder {
        order_view(self.order.clone())
    }
    async fn refund_line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GRefundLine>> {
        let lines = self
            .r
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let line = self.order.lines.iter().find(|x| x.id == l.line_id).cloned();
                (
                    id_key(i as u64),
                    GRefundLine {
                        l: l.clone(),
                        line,
                        currency: self.r.currency.clone(),
                    },
                )
            })
            .collect();
        page(lines, Page::new(first, after, last, before, reverse))
    }
}

/// `RefundLineItem`.
#[derive(Clone, Debug)]
pub struct GRefundLine {
    l: omnisim_api::shop::OrderRefundLine,
    line: Option<OrderLine>,
    currency: String,
}

#[Object(name = "RefundLineItem")]
impl GRefundLine {
    async fn quantity(&self) -> i64 {
        self.l.quantity
    }
    async fn restock_type(&self) -> RefundLineItemRestockType {
        match self.l.restock_type {
            RestockType::NoRestock => RefundLineItemRestockType::NoRestock,
            RestockType::Cancel => RefundLineItemRestockType::Cancel,
            RestockType::Return => RefundLineItemRestockType::Return,
        }
    }
    async fn restocked(&self) -> bool {
        self.l.restock_type != RestockType::NoRestock
    }
    async fn subtotal_set(&self) -> MoneyBag {
        bag(self.l.amount, &self.currency)
    }
    async fn price_set(&self) -> MoneyBag {
        bag(
            self.line.as_ref().map_or(Decimal::ZERO, |l| l.price),
            &self.currency,
        )
    }
    async fn line_item(&self) -> async_graphql::Result<GLine> {
        let l = self
            .line
            .clone()
            .ok_or_else(|| async_graphql::Error::new("line item not found"))?;
        let n = counter(&l.id).unwrap_or(0);
        Ok(GLine {
            l,
            currency: self.currency.clone(),
            n,
        })
    }
    async fn location(&self, ctx: &Context<'_>) -> Option<GLocation> {
        let key = self.l.location.clone()?;
        shared(ctx).sim.read(|s| {
            let n = s.shopify.location(&key)?;
            location_of(s, n)
        })
    }
}

/// `Fulfillment`.
#[derive(Clone, Debug)]
pub struct GFulfillment {
    n: u64,
    rec: FulfillmentRec,
    order: Order,
}

/// `FulfillmentLineItem`.
#[derive(Clone, Debug)]
pub struct GFulfillmentLine {
    line: GLine,
    quantity: i64,
    n: u64,
}

#[Object(name = "FulfillmentLineItem")]
impl GFulfillmentLine {
    async fn id(&self) -> ID {
        ID(gid("FulfillmentLineItem", self.n))
    }
    async fn quantity(&self) -> Option<i64> {
        Some(self.quantity)
    }
    async fn line_item(&self) -> GLine {
        self.line.clone()
    }
}

#[Object(name = "Fulfillment")]
impl GFulfillment {
    async fn id(&self) -> ID {
        ID(gid("Fulfillment", self.n))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.n)
    }
    async fn name(&self) -> String {
        format!("{}-F{}", self.order.name, self.n)
    }
    async fn status(&self) -> GFulfillmentStatus {
        GFulfillmentStatus::Success
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.rec.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.rec.created_at)
    }
    async fn requires_shipping(&self) -> bool {
        true
    }
    async fn total_quantity(&self) -> i64 {
        self.rec.lines.iter().map(|(_, q)| q).sum()
    }
    async fn order(&self) -> GOrder {
        order_view(self.order.clone())
    }
    async fn location(&self, ctx: &Context<'_>) -> Option<GLocation> {
        shared(ctx).sim.read(|s| {
            let n = s.shopify.location(&self.order.location)?;
            location_of(s, n)
        })
    }
    async fn fulfillment_line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GFulfillmentLine>> {
        let lines = self
            .rec
            .lines
            .iter()
            .enumerate()
            .filter_map(|(i, (id, q))| {
                let l = self.order.lines.iter().find(|l| &l.id == id)?.clone();
                let n = counter(&l.id).unwrap_or(0);
                Some((
                    id_key(i as u64),
                    GFulfillmentLine {
                        line: GLine {
                            l,
                            currency: self.order.currency.clone(),
                            n,
                        },
                        quantity: *q,
                        n: self.n * 1000 + i as u64 + 1,
                    },
                ))
            })
            .collect();
        page(lines, Page::new(first, after, last, before, reverse))
    }
}

/// `FulfillmentOrder`: one per order, at the order's location.
#[derive(Clone, Debug)]
pub struct GFulfillmentOrder {
    o: Order,
    n: u64,
}

/// `FulfillmentOrderAssignedLocation`.
#[derive(Clone, Debug)]
pub struct GAssigned {
    key: String,
}

#[Object(name = "FulfillmentOrderAssignedLocation")]
impl GAssigned {
    async fn name(&self, ctx: &Context<'_>) -> String {
        shared(ctx).sim.read(|s| {
            s.locations()
                .and_then(|l| {
                    l.require("location", &self.key)
                        .ok()
                        .map(|l| l.name.clone())
                })
                .unwrap_or_else(|| self.key.clone())
        })
    }
    async fn country_code(&self) -> CurrencyCode {
        CurrencyCode("US".to_owned())
    }
    async fn location(&self, ctx: &Context<'_>) -> Option<GLocation> {
        shared(ctx).sim.read(|s| {
            let n = s.shopify.location(&self.key)?;
            location_of(s, n)
        })
    }
}

fn fo_status(o: &Order) -> FulfillmentOrderStatus {
    let open: i64 = o.lines.iter().map(|l| l.fulfillable_quantity).sum();
    let done: i64 = o.lines.iter().map(|l| l.fulfilled_quantity).sum();
    if o.status == OrderStatus::Cancelled {
        if done > 0 {
            FulfillmentOrderStatus::Closed
        } else {
            FulfillmentOrderStatus::Cancelled
        }
    } else if open == 0 {
        FulfillmentOrderStatus::Closed
    } else if done > 0 {
        FulfillmentOrderStatus::InProgress
    } else {
        FulfillmentOrderStatus::Open
    }
}

#[Object(name = "FulfillmentOrder")]
impl GFulfillmentOrder {
    async fn id(&self) -> ID {
        ID(gid("FulfillmentOrder", self.n))
    }
    async fn order_id(&self) -> ID {
        ID(gid("Order", self.n))
    }
    async fn order_name(&self) -> &str {
        &self.o.name
    }
    async fn status(&self) -> FulfillmentOrderStatus {
        fo_status(&self.o)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.o.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.o.updated_at)
    }
    async fn order_processed_at(&self) -> DateTime {
        DateTime(self.o.created_at)
    }
    async fn order(&self) -> GOrder {
        order_view(self.o.clone())
    }
    async fn assigned_location(&self) -> GAssigned {
        GAssigned {
            key: self.o.location.clone(),
        }
    }
    async fn line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GFoLine>> {
        let lines = self
            .o
            .lines
            .iter()
            .map(|l| {
                let n = counter(&l.id).unwrap_or(0);
                (
                    id_key(n),
                    GFoLine {
                        line: GLine {
                            l: l.clone(),
                            currency: self.o.currency.clone(),
                            n,
                        },
                    },
                )
            })
            .collect();
        page(lines, Page::new(first, after, last, before, reverse))
    }
}

/// `FulfillmentOrderLineItem`: shares its line item's number.
#[derive(Clone, Debug)]
pub struct GFoLine {
    line: GLine,
}

#[Object(name = "FulfillmentOrderLineItem")]
impl GFoLine {
    async fn id(&self) -> ID {
        ID(gid("FulfillmentOrderLineItem", self.line.n))
    }
    async fn sku(&self) -> Option<&str> {
        Some(&self.line.l.sku)
    }
    async fn product_title(&self) -> &str {
        &self.line.l.title
    }
    async fn total_quantity(&self) -> i64 {
        self.line.l.quantity
    }
    async fn remaining_quantity(&self) -> i64 {
        self.line.l.fulfillable_quantity
    }
    async fn requires_shipping(&self) -> bool {
        true
    }
    async fn line_item(&self) -> GLine {
        self.line.clone()
    }
    async fn inventory_item_id(&self, ctx: &Context<'_>) -> Option<ID> {
        shared(ctx)
            .sim
            .read(|s| s.shopify.product(&self.line.l.sku))
            .map(|n| ID(gid("InventoryItem", n)))
    }
    async fn variant(&self, ctx: &Context<'_>) -> Option<GVariant> {
        shared(ctx).sim.read(|s| {
            let n = s.shopify.product(&self.line.l.sku)?;
            let p = s.get_product(&self.line.l.sku).ok()?;
            Some(GVariant { p, n })
        })
    }
}

/// `WebhookSubscription`.
#[derive(Clone, Debug)]
pub struct GWebhook {
    sub: NativeSub,
}

/// `ApiVersion`.
#[derive(SimpleObject, Clone, Debug)]
pub struct ApiVersion {
    handle: String,
    display_name: String,
    supported: bool,
}

#[Object(name = "WebhookSubscription")]
impl GWebhook {
    async fn id(&self) -> ID {
        ID(gid(
            "WebhookSubscription",
            counter(&self.sub.id).unwrap_or(0),
        ))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(counter(&self.sub.id).unwrap_or(0))
    }
    async fn topic(&self) -> Option<WebhookSubscriptionTopic> {
        self.sub
            .topics
            .first()
            .and_then(|t| WebhookSubscriptionTopic::from_header(t))
    }
    async fn uri(&self) -> &str {
        &self.sub.url
    }
    async fn callback_url(&self) -> Url {
        Url(self.sub.url.clone())
    }
    async fn format(&self) -> WebhookSubscriptionFormat {
        WebhookSubscriptionFormat::Json
    }
    async fn include_fields(&self) -> Vec<String> {
        Vec::new()
    }
    async fn metafield_namespaces(&self) -> Vec<String> {
        Vec::new()
    }
    async fn filter(&self) -> Option<String> {
        None
    }
    async fn api_version(&self) -> ApiVersion {
        ApiVersion {
            handle: super::API_VERSION.to_owned(),
            display_name: super::API_VERSION.to_owned(),
            supported: true,
        }
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.sub.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.sub.created_at)
    }
}

/// `Job`.
#[derive(SimpleObject, Clone, Debug)]
pub struct Job {
    id: ID,
    done: bool,
}

// ------------------------------------------------------------------- query

/// `QueryRoot`.
pub struct QueryRoot;

fn products_of(s: &ShopState) -> Vec<GProduct> {
    s.list_products()
        .into_iter()
        .filter_map(|p| {
            let n = s.shopify.product(&p.sku)?;
            Some(GProduct { p, n })
        })
        .collect()
}

fn product_matches(p: &Product, n: u64, terms: &[Term]) -> bool {
    terms.iter().all(|t| match t.field.as_str() {
        "sku" => p.sku == t.value,
        "title" => p.title.to_lowercase().contains(&t.value.to_lowercase()),
        "status" => t
            .value
            .split(',')
            .any(|v| v.eq_ignore_ascii_case(status(p).name())),
        "id" => number_matches(n, t),
        "updated_at" => time_matches(p.updated_at, t),
        "created_at" => time_matches(p.created_at, t),
        "" => p.title.to_lowercase().contains(&t.value.to_lowercase()) || p.sku == t.value,
        _ => true,
    })
}

trait EnumName {
    fn name(&self) -> &'static str;
}

impl EnumName for ProductStatus {
    fn name(&self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Archived => "archived",
            ProductStatus::Draft => "draft",
            ProductStatus::Unlisted => "unlisted",
        }
    }
}

fn order_matches(o: &Order, n: u64, terms: &[Term]) -> bool {
    terms.iter().all(|t| match t.field.as_str() {
        "updated_at" => time_matches(o.updated_at, t),
        "created_at" | "processed_at" => time_matches(o.created_at, t),
        "id" => number_matches(n, t),
        "status" => match t.value.as_str() {
            "open" => o.status == OrderStatus::Open,
            "cancelled" => o.status == OrderStatus::Cancelled,
            "closed" => o.fulfillment_status == FulfillmentStatus::Fulfilled,
            _ => true,
        },
        "financial_status" => {
            let s = serde_json::to_value(o.financial_status).unwrap_or_default();
            s.as_str().is_some_and(|s| s == t.value)
        }
        "fulfillment_status" => match t.value.as_str() {
            "unshipped" | "unfulfilled" => o.fulfillment_status == FulfillmentStatus::Unfulfilled,
            "shipped" | "fulfilled" => o.fulfillment_status == FulfillmentStatus::Fulfilled,
            "partial" => o.fulfillment_status == FulfillmentStatus::Partial,
            _ => true,
        },
        "name" => o.name == t.value || o.name.trim_start_matches('#') == t.value,
        "sku" => o.lines.iter().any(|l| l.sku == t.value),
        _ => true,
    })
}

#[Object]
impl QueryRoot {
    async fn shop(&self, ctx: &Context<'_>) -> Shop {
        let sh = shared(ctx);
        let currency = sh.sim.read(shop_currency);
        Shop {
            name: "omnisim shop".to_owned(),
            domain: super::SHOP_DOMAIN.to_owned(),
            currency,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
        include_inactive: Option<bool>,
        include_legacy: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GLocation>> {
        let _ = (query, include_inactive, include_legacy);
        let locs = shared(ctx).sim.read(|s| {
            s.locations()
                .map(|l| l.list())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|loc| {
                    let n = s.shopify.location(&loc.id)?;
                    Some((id_key(n), GLocation { loc, n }))
                })
                .collect::<Vec<_>>()
        });
        page(locs, Page::new(first, after, last, before, reverse))
    }

    async fn location(&self, ctx: &Context<'_>, id: Option<ID>) -> Option<GLocation> {
        let s = &shared(ctx).sim;
        match id {
            Some(id) => {
                let n = parse_gid("Location", &id)?;
                s.read(|s| location_of(s, n))
            }
            None => s.read(|s| {
                let n = s.shopify.location(crate::shop::state::DEFAULT_LOCATION)?;
                location_of(s, n)
            }),
        }
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> Option<GProduct> {
        let n = parse_gid("Product", &id)?;
        shared(ctx).sim.read(|s| {
            let sku = s.shopify.sku(n)?;
            let p = s.get_product(sku).ok()?;
            Some(GProduct { p, n })
        })
    }

    async fn product_variant(&self, ctx: &Context<'_>, id: ID) -> Option<GVariant> {
        let n = parse_gid("ProductVariant", &id)?;
        shared(ctx).sim.read(|s| {
            let sku = s.shopify.sku(n)?;
            let p = s.get_product(sku).ok()?;
            Some(GVariant { p, n })
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
        sort_key: Option<ProductSortKeys>,
        saved_search_id: Option<ID>,
    ) -> async_graphql::Result<Connection<String, GProduct>> {
        let _ = saved_search_id;
        let terms = terms(query.as_deref().unwrap_or(""));
        let items = shared(ctx).sim.read(|s| {
            products_of(s)
                .into_iter()
                .filter(|g| product_matches(&g.p, g.n, &terms))
                .map(|g| {
                    let key = match sort_key {
                        Some(ProductSortKeys::UpdatedAt) => time_key(g.p.updated_at, g.n),
                        Some(ProductSortKeys::CreatedAt) => time_key(g.p.created_at, g.n),
                        Some(ProductSortKeys::Title) => format!("{}|{}", g.p.title, id_key(g.n)),
                        _ => id_key(g.n),
                    };
                    (key, g)
                })
                .collect::<Vec<_>>()
        });
        page(items, Page::new(first, after, last, before, reverse))
    }

    #[allow(clippy::too_many_arguments)]
    async fn product_variants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
        sort_key: Option<ProductVariantSortKeys>,
        saved_search_id: Option<ID>,
    ) -> async_graphql::Result<Connection<String, GVariant>> {
        let _ = saved_search_id;
        let terms = terms(query.as_deref().unwrap_or(""));
        let items = shared(ctx).sim.read(|s| {
            products_of(s)
                .into_iter()
                .filter(|g| product_matches(&g.p, g.n, &terms))
                .map(|g| {
                    let key = match sort_key {
                        Some(ProductVariantSortKeys::Sku) => format!("{}|{}", g.p.sku, id_key(g.n)),
                        _ => id_key(g.n),
                    };
                    (key, GVariant { p: g.p, n: g.n })
                })
                .collect::<Vec<_>>()
        });
        page(items, Page::new(first, after, last, before, reverse))
    }

    async fn inventory_item(&self, ctx: &Context<'_>, id: ID) -> Option<GItem> {
        let n = parse_gid("InventoryItem", &id)?;
        shared(ctx).sim.read(|s| {
            let sku = s.shopify.sku(n)?;
            let p = s.get_product(sku).ok()?;
            Some(GItem { p, n })
        })
    }

    async fn inventory_level(&self, ctx: &Context<'_>, id: ID) -> Option<GLevel> {
        let (loc, item) = parse_level_gid(&id)?;
        shared(ctx).sim.read(|s| level_at(s, item, loc))
    }

    #[allow(clippy::too_many_arguments)]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
        sort_key: Option<OrderSortKeys>,
        saved_search_id: Option<ID>,
    ) -> async_graphql::Result<Connection<String, GOrder>> {
        let _ = saved_search_id;
        let terms = terms(query.as_deref().unwrap_or(""));
        let items = shared(ctx).sim.read(|s| {
            s.list_orders()
                .into_iter()
                .map(order_view)
                .filter(|g| order_matches(&g.o, g.n, &terms))
                .map(|g| {
                    let key = match sort_key {
                        Some(OrderSortKeys::UpdatedAt) => time_key(g.o.updated_at, g.n),
                        Some(OrderSortKeys::CreatedAt | OrderSortKeys::ProcessedAt) => {
                            time_key(g.o.created_at, g.n)
                        }
                        _ => id_key(g.n),
                    };
                    (key, g)
                })
                .collect::<Vec<_>>()
        });
        page(items, Page::new(first, after, last, before, reverse))
    }

    async fn order(&self, ctx: &Context<'_>, id: ID) -> Option<GOrder> {
        let n = parse_gid("Order", &id)?;
        let key = format!("ord_{n:06}");
        shared(ctx)
            .sim
            .read(|s| s.get_order(&key).ok())
            .map(order_view)
    }

    #[allow(clippy::too_many_arguments)]
    async fn fulfillment_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        include_closed: Option<bool>,
        query: Option<String>,
    ) -> async_graphql::Result<Connection<String, GFulfillmentOrder>> {
        let terms = terms(query.as_deref().unwrap_or(""));
        let closed = include_closed.unwrap_or(false);
        let items = shared(ctx).sim.read(|s| {
            s.list_orders()
                .into_iter()
                .map(order_view)
                .filter(|g| {
                    closed
                        || !matches!(
                            fo_status(&g.o),
                            FulfillmentOrderStatus::Closed | FulfillmentOrderStatus::Cancelled
                        )
                })
                .filter(|g| {
                    terms.iter().all(|t| match t.field.as_str() {
                        "updated_at" => time_matches(g.o.updated_at, t),
                        "created_at" => time_matches(g.o.created_at, t),
                        "id" | "order_id" => number_matches(g.n, t),
                        _ => true,
                    })
                })
                .map(|g| (id_key(g.n), GFulfillmentOrder { o: g.o, n: g.n }))
                .collect::<Vec<_>>()
        });
        page(items, Page::new(first, after, last, before, reverse))
    }

    async fn fulfillment_order(&self, ctx: &Context<'_>, id: ID) -> Option<GFulfillmentOrder> {
        let n = parse_gid("FulfillmentOrder", &id)?;
        let key = format!("ord_{n:06}");
        shared(ctx)
            .sim
            .read(|s| s.get_order(&key).ok())
            .map(|o| GFulfillmentOrder { o, n })
    }

    async fn customer(&self, ctx: &Context<'_>, id: ID) -> Option<customers::GCustomer> {
        customers::customer(ctx, &id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
        sort_key: Option<customers::CustomerSortKeys>,
    ) -> async_graphql::Result<Connection<String, customers::GCustomer>> {
        let p = Page::new(first, after, last, before, reverse);
        customers::customers(ctx, p, query, sort_key)
    }

    async fn gift_card(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<gift_cards::GGiftCard>> {
        gift_cards::gift_card(ctx, &id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn gift_cards(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
        sort_key: Option<gift_cards::GiftCardSortKeys>,
    ) -> async_graphql::Result<Connection<String, gift_cards::GGiftCard>> {
        let p = Page::new(first, after, last, before, reverse);
        gift_cards::gift_cards(ctx, p, query, sort_key).await
    }

    async fn gift_cards_count(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        limit: Option<i32>,
    ) -> async_graphql::Result<gift_cards::Count> {
        gift_cards::gift_cards_count(ctx, query, limit).await
    }

    async fn discount_node(&self, ctx: &Context<'_>, id: ID) -> Option<discounts::DiscountNode> {
        discounts::discount_node(ctx, &id)
    }

    async fn automatic_discount_node(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Option<discounts::DiscountAutomaticNode> {
        discounts::automatic_discount_node(ctx, &id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn automatic_discount_nodes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        query: Option<String>,
        sort_key: Option<discounts::AutomaticDiscountSortKeys>,
        saved_search_id: Option<ID>,
    ) -> async_graphql::Result<Connection<String, discounts::DiscountAutomaticNode>> {
        if saved_search_id.is_some() {
            return Err(async_graphql::Error::new(
                "omnisim has no saved searches; give `query` instead of `savedSearchId`",
            ));
        }
        let p = Page::new(first, after, last, before, reverse);
        discounts::automatic_discount_nodes(ctx, p, query, sort_key)
    }

    #[allow(clippy::too_many_arguments)]
    async fn webhook_subscriptions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
        topics: Option<Vec<WebhookSubscriptionTopic>>,
        callback_url: Option<Url>,
        uri: Option<String>,
        format: Option<WebhookSubscriptionFormat>,
        query: Option<String>,
    ) -> async_graphql::Result<Connection<String, GWebhook>> {
        let _ = (format, query);
        let want_url = uri.or(callback_url.map(|u| u.0));
        let items = shared(ctx)
            .sim
            .core
            .webhooks
            .list_for(Wire::Shopify)
            .into_iter()
            .filter(|s| {
                topics
                    .as_ref()
                    .is_none_or(|ts| ts.iter().any(|t| s.topics.iter().any(|x| x == t.header())))
            })
            .filter(|s| want_url.as_ref().is_none_or(|u| &s.url == u))
            .map(|sub| (id_key(counter(&sub.id).unwrap_or(0)), GWebhook { sub }))
            .collect();
        page(items, Page::new(first, after, last, before, reverse))
    }
}

// ------------------------------------------------------------- mutations

/// `InventoryChangeInput`.
#[derive(InputObject, Clone, Debug)]
pub struct InventoryChangeInput {
    delta: i64,
    inventory_item_id: ID,
    location_id: ID,
    change_from_quantity: Option<i64>,
    ledger_document_uri: Option<String>,
}

/// `InventoryAdjustQuantitiesInput`.
#[derive(InputObject, Clone, Debug)]
pub struct InventoryAdjustQuantitiesInput {
    name: String,
    reason: String,
    reference_document_uri: Option<String>,
    changes: Vec<InventoryChangeInput>,
}

/// `InventoryQuantityInput`.
#[derive(InputObject, Clone, Debug)]
pub struct InventoryQuantityInput {
    inventory_item_id: ID,
    location_id: ID,
    quantity: i64,
    compare_quantity: Option<i64>,
    change_from_quantity: Option<i64>,
}

/// `InventorySetQuantitiesInput`.
#[derive(InputObject, Clone, Debug)]
pub struct InventorySetQuantitiesInput {
    name: String,
    reason: String,
    reference_document_uri: Option<String>,
    quantities: Vec<InventoryQuantityInput>,
    ignore_compare_quantity: Option<bool>,
}

/// `OrderCaptureInput`.
#[derive(InputObject, Clone, Debug)]
pub struct OrderCaptureInput {
    id: ID,
    parent_transaction_id: ID,
    amount: Money,
    currency: Option<CurrencyCode>,
    final_capture: Option<bool>,
}

/// `OrderMarkAsPaidInput`.
#[derive(InputObject, Clone, Debug)]
pub struct OrderMarkAsPaidInput {
    id: ID,
}

/// `RefundLineItemInput`.
#[derive(InputObject, Clone, Debug)]
pub struct RefundLineItemInput {
    line_item_id: ID,
    quantity: i64,
    restock_type: Option<RefundLineItemRestockType>,
    location_id: Option<ID>,
}

/// `OrderTransactionInput` (accepted; the model computes the amount).
#[derive(InputObject, Clone, Debug)]
pub struct OrderTransactionInput {
    amount: Money,
    gateway: String,
    kind: OrderTransactionKind,
    order_id: ID,
    parent_id: Option<ID>,
}

/// `RefundInput`.
#[derive(InputObject, Clone, Debug)]
pub struct RefundInput {
    order_id: ID,
    note: Option<String>,
    notify: Option<bool>,
    currency: Option<CurrencyCode>,
    refund_line_items: Option<Vec<RefundLineItemInput>>,
    transactions: Option<Vec<OrderTransactionInput>>,
    allow_over_refunding: Option<bool>,
}

/// `FulfillmentOrderLineItemInput`.
#[derive(InputObject, Clone, Debug)]
pub struct FulfillmentOrderLineItemInput {
    id: ID,
    quantity: i64,
}

/// `FulfillmentOrderLineItemsInput`.
#[derive(InputObject, Clone, Debug)]
pub struct FulfillmentOrderLineItemsInput {
    fulfillment_order_id: ID,
    fulfillment_order_line_items: Option<Vec<FulfillmentOrderLineItemInput>>,
}

/// `FulfillmentTrackingInput` (accepted, not kept).
#[derive(InputObject, Clone, Debug)]
pub struct FulfillmentTrackingInput {
    company: Option<String>,
    number: Option<String>,
    numbers: Option<Vec<String>>,
    url: Option<Url>,
    urls: Option<Vec<Url>>,
}

/// `FulfillmentInput`.
#[derive(InputObject, Clone, Debug)]
pub struct FulfillmentInput {
    line_items_by_fulfillment_order: Vec<FulfillmentOrderLineItemsInput>,
    notify_customer: Option<bool>,
    tracking_info: Option<FulfillmentTrackingInput>,
}

/// `WebhookSubscriptionInput`.
#[derive(InputObject, Clone, Debug)]
pub struct WebhookSubscriptionInput {
    callback_url: Option<Url>,
    uri: Option<String>,
    format: Option<WebhookSubscriptionFormat>,
    include_fields: Option<Vec<String>>,
    metafield_namespaces: Option<Vec<String>>,
    filter: Option<String>,
}

/// `OrderCapturePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderCapturePayload {
    transaction: Option<GTransaction>,
    user_errors: Vec<UserError>,
}

/// `OrderCancelPayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderCancelPayload {
    job: Option<Job>,
    order_cancel_user_errors: Vec<OrderCancelUserError>,
    user_errors: Vec<UserError>,
}

/// `OrderMarkAsPaidPayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct OrderMarkAsPaidPayload {
    order: Option<GOrder>,
    user_errors: Vec<UserError>,
}

/// `RefundCreatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct RefundCreatePayload {
    refund: Option<GRefund>,
    order: Option<GOrder>,
    user_errors: Vec<UserError>,
}

/// `FulfillmentCreatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct FulfillmentCreatePayload {
    fulfillment: Option<GFulfillment>,
    user_errors: Vec<UserError>,
}

/// `WebhookSubscriptionCreatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookSubscriptionCreatePayload {
    webhook_subscription: Option<GWebhook>,
    user_errors: Vec<UserError>,
}

/// `WebhookSubscriptionDeletePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookSubscriptionDeletePayload {
    deleted_webhook_subscription_id: Option<ID>,
    user_errors: Vec<UserError>,
}

/// `Mutation`.
pub struct MutationRoot;

fn coded(field: Vec<String>, message: impl Into<String>, code: &str) -> CodedError {
    CodedError {
        field: Some(field),
        message: message.into(),
        code: Some(code.to_owned()),
    }
}

fn path(parts: &[&str], i: usize, last: &str) -> Vec<String> {
    let mut v: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
    v.push(i.to_string());
    v.push(last.to_owned());
    v
}

/// A resolved inventory write: SKU and location key, with their numbers.
struct Target {
    sku: String,
    location: String,
    item: u64,
    loc: u64,
}

fn resolve_target(
    s: &ShopState,
    item: &ID,
    location: &ID,
) -> Result<Target, (&'static str, &'static str, String)> {
    let Some(item_n) = parse_gid("InventoryItem", item) else {
        return Err((
            "inventoryItemId",
            "INVALID_INVENTORY_ITEM",
            "The specified inventory item could not be found.".into(),
        ));
    };
    let Some(sku) = s.shopify.sku(item_n) else {
        return Err((
            "inventoryItemId",
            "INVALID_INVENTORY_ITEM",
            "The specified inventory item could not be found.".into(),
        ));
    };
    let Some(loc_n) = parse_gid("Location", location) else {
        return Err((
            "locationId",
            "INVALID_LOCATION",
            "The specified location could not be found.".into(),
        ));
    };
    let Some(key) = s.shopify.location_key(loc_n) else {
        return Err((
            "locationId",
            "INVALID_LOCATION",
            "The specified location could not be found.".into(),
        ));
    };
    Ok(Target {
        sku: sku.to_owned(),
        location: key.to_owned(),
        item: item_n,
        loc: loc_n,
    })
}

fn change_view(
    s: &ShopState,
    t: &Target,
    name: &str,
    delta: i64,
    ledger: Option<String>,
) -> Option<GChange> {
    let level = level_at(s, t.item, t.loc)?;
    Some(GChange {
        name: name.to_owned(),
        delta,
        after: quantity(&level.level, name),
        level,
        ledger,
    })
}

fn native_reason(reason: &str) -> String {
    if ADJUST_REASONS.contains(&reason) {
        reason.to_owned()
    } else {
        "other".to_owned()
    }
}

fn order_key(id: &ID, kind: &str) -> Option<String> {
    parse_gid(kind, id).map(|n| format!("ord_{n:06}"))
}

pub(super) fn shop_ctx(sh: &Shared) -> crate::shop::routes::Ctx {
    crate::shop::routes::Ctx::new(Arc::clone(&sh.sim), sh.pay.clone())
}

#[Object(name = "Mutation")]
impl MutationRoot {
    async fn inventory_adjust_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventoryAdjustQuantitiesInput,
    ) -> InventoryAdjustQuantitiesPayload {
        let fail = |e: CodedError| InventoryAdjustQuantitiesPayload {
            inventory_adjustment_group: None,
            user_errors: vec![e],
        };
        if input.name != "available" {
            return fail(coded(
                vec!["input".into(), "name".into()],
                format!(
                    "omnisim adjusts the `available` quantity only, not `{}`",
                    input.name
                ),
                "INVALID_QUANTITY_NAME",
            ));
        }
        if !SHOPIFY_REASONS.contains(&input.reason.as_str()) {
            return fail(coded(
                vec!["input".into(), "reason".into()],
                "The specified reason is invalid.",
                "INVALID_REASON",
            ));
        }
        let reference = input.reference_document_uri.clone();
        let result = shared(ctx).sim.commit(|s, fx| {
            // Validate every change first: all apply, or none.
            let mut targets = Vec::new();
            let mut seen: std::collections::BTreeMap<(u64, u64), i64> = Default::default();
            for (i, c) in input.changes.iter().enumerate() {
                let t = match resolve_target(s, &c.inventory_item_id, &c.location_id) {
                    Ok(t) => t,
                    Err((field, code, message)) => {
                        return Ok(Err(coded(path(&["input", "changes"], i, field), message, code)));
                    }
                };
                if c.delta == 0 || c.delta.abs() > 1_000_000_000 {
                    return Ok(Err(coded(
                        path(&["input", "changes"], i, "delta"),
                        "The quantity can't be lower than -1,000,000,000 or higher than 1,000,000,000, and a delta can't be 0.",
                        if c.delta > 0 { "INVALID_QUANTITY_TOO_HIGH" } else { "INVALID_QUANTITY_TOO_LOW" },
                    )));
                }
                let current = *seen
                    .entry((t.item, t.loc))
                    .or_insert_with(|| s.get_level(&t.sku, &t.location).map_or(0, |l| l.available));
                if let Some(expected) = c.change_from_quantity
                    && expected != current
                {
                    return Ok(Err(coded(
                        path(&["input", "changes"], i, "changeFromQuantity"),
                        format!(
                            "The specified compare quantity is stale: expected {expected}, the quantity is {current}."
                        ),
                        "CHANGE_FROM_QUANTITY_STALE",
                    )));
                }
                seen.insert((t.item, t.loc), current + c.delta);
                targets.push(t);
            }
            let mut changes = Vec::new();
            for (c, t) in input.changes.iter().zip(&targets) {
                s.adjust(
                    fx,
                    AdjustInventory {
                        sku: t.sku.clone(),
                        location: t.location.clone(),
                        delta: c.delta,
                        reason: native_reason(&input.reason),
                        change_from: None,
                        reference: reference.clone(),
                    },
                )?;
                changes.extend(change_view(s, t, "available", c.delta, c.ledger_document_uri.clone()));
                changes.extend(change_view(s, t, "on_hand", c.delta, c.ledger_document_uri.clone()));
            }
            let n = s.shopify.next_group();
            Ok(Ok(GGroup {
                n,
                created_at: fx.now(),
                reason: input.reason.clone(),
                reference: reference.clone(),
                changes,
            }))
        });
        match result {
            Ok(Ok(group)) => InventoryAdjustQuantitiesPayload {
                inventory_adjustment_group: Some(group),
                user_errors: Vec::new(),
            },
            Ok(Err(e)) => fail(e),
            Err(e) => fail(coded(
                vec!["input".into()],
                e.message.clone(),
                "ADJUST_QUANTITIES_FAILED",
            )),
        }
    }

    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventorySetQuantitiesInput,
    ) -> InventorySetQuantitiesPayload {
        let fail =
            |field: Vec<String>, message: String, code: &str| InventorySetQuantitiesPayload {
                inventory_adjustment_group: None,
                user_errors: vec![InventorySetQuantitiesUserError {
                    field: Some(field),
                    message,
                    code: Some(code.to_owned()),
                }],
            };
        if input.name != "available" && input.name != "on_hand" {
            return fail(
                vec!["input".into(), "name".into()],
                format!(
                    "omnisim sets `available` or `on_hand`, not `{}`",
                    input.name
                ),
                "INVALID_NAME",
            );
        }
        if !SHOPIFY_REASONS.contains(&input.reason.as_str()) {
            return fail(
                vec!["input".into(), "reason".into()],
                "The specified reason is invalid.".into(),
                "INVALID_REASON",
            );
        }
        let ignore = input.ignore_compare_quantity.unwrap_or(false);
        let reference = input.reference_document_uri.clone();
        let name = input.name.clone();
        let result = shared(ctx).sim.commit(|s, fx| {
            let mut plan = Vec::new();
            let mut seen = std::collections::BTreeSet::new();
            for (i, q) in input.quantities.iter().enumerate() {
                let t = match resolve_target(s, &q.inventory_item_id, &q.location_id) {
                    Ok(t) => t,
                    Err((field, code, message)) => {
                        return Ok(Err((path(&["input", "quantities"], i, field), message, code)));
                    }
                };
                if !seen.insert((t.item, t.loc)) {
                    return Ok(Err((
                        path(&["input", "quantities"], i, "locationId"),
                        "The combination of inventoryItemId and locationId must be unique.".into(),
                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    )));
                }
                if q.quantity < 0 {
                    return Ok(Err((
                        path(&["input", "quantities"], i, "quantity"),
                        "The quantity can't be negative.".into(),
                        "INVALID_QUANTITY_NEGATIVE",
                    )));
                }
                let level = s.get_level(&t.sku, &t.location)?;
                let current = quantity(&level, &name);
                if let Some(expected) = q.change_from_quantity
                    && expected != current
                {
                    return Ok(Err((
                        path(&["input", "quantities"], i, "changeFromQuantity"),
                        format!("The specified compare quantity is stale: expected {expected}, the quantity is {current}."),
                        "CHANGE_FROM_QUANTITY_STALE",
                    )));
                }
                if !ignore
                    && let Some(expected) = q.compare_quantity
                    && expected != current
                {
                    return Ok(Err((
                        path(&["input", "quantities"], i, "compareQuantity"),
                        "The compareQuantity argument no longer matches the persisted quantity.".into(),
                        "COMPARE_QUANTITY_STALE",
                    )));
                }
                let available = level.available + (q.quantity - current);
                if available < 0 {
                    return Ok(Err((
                        path(&["input", "quantities"], i, "quantity"),
                        "The on_hand quantity can't be below what is committed.".into(),
                        "INVALID_QUANTITY_TOO_LOW",
                    )));
                }
                plan.push((t, available, q.quantity - current, level.available));
            }
            let mut changes = Vec::new();
            for (t, available, delta, before) in &plan {
                s.set(
                    fx,
                    SetInventory {
                        sku: t.sku.clone(),
                        location: t.location.clone(),
                        available: *available,
                        change_from: Some(*before),
                        reference: reference.clone(),
                    },
                )?;
                if *delta != 0 {
                    changes.extend(change_view(s, t, "available", *delta, None));
                    changes.extend(change_view(s, t, "on_hand", *delta, None));
                }
            }
            let n = s.shopify.next_group();
            Ok(Ok(GGroup {
                n,
                created_at: fx.now(),
                reason: input.reason.clone(),
                reference: reference.clone(),
                changes,
            }))
        });
        match result {
            Ok(Ok(group)) => InventorySetQuantitiesPayload {
                inventory_adjustment_group: Some(group),
                user_errors: Vec::new(),
            },
            Ok(Err((field, message, code))) => fail(field, message, code),
            Err(e) => fail(
                vec!["input".into()],
                e.message.clone(),
                "INVALID_INVENTORY_ITEM",
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn inventory_activate(
        &self,
        ctx: &Context<'_>,
        inventory_item_id: ID,
        location_id: ID,
        available: Option<i64>,
        on_hand: Option<i64>,
        stock_at_legacy_location: Option<bool>,
    ) -> InventoryActivatePayload {
        let _ = stock_at_legacy_location;
        let result = shared(ctx).sim.commit(|s, fx| {
            let t = match resolve_target(s, &inventory_item_id, &location_id) {
                Ok(t) => t,
                Err((field, _, message)) => return Ok(Err(user_error(&[field], message))),
            };
            let level = s.get_level(&t.sku, &t.location)?;
            let fresh = level.on_hand == 0 && level.committed == 0 && level.available == 0;
            if fresh && let Some(q) = available.or(on_hand).filter(|q| *q > 0) {
                s.set(
                    fx,
                    SetInventory {
                        sku: t.sku.clone(),
                        location: t.location.clone(),
                        available: q,
                        change_from: Some(0),
                        reference: None,
                    },
                )?;
            }
            Ok(level_at(s, t.item, t.loc)
                .ok_or_else(|| user_error(&["inventoryItemId"], "not found")))
        });
        match result {
            Ok(Ok(level)) => InventoryActivatePayload {
                inventory_level: Some(level),
                user_errors: Vec::new(),
            },
            Ok(Err(e)) => InventoryActivatePayload {
                inventory_level: None,
                user_errors: vec![e],
            },
            Err(e) => InventoryActivatePayload {
                inventory_level: None,
                user_errors: vec![from_sim(&e, &["available"])],
            },
        }
    }

    async fn order_capture(
        &self,
        ctx: &Context<'_>,
        input: OrderCaptureInput,
    ) -> OrderCapturePayload {
        let fail = |e: UserError| OrderCapturePayload {
            transaction: None,
            user_errors: vec![e],
        };
        let _ = (input.currency, input.final_capture);
        let Some(key) = order_key(&input.id, "Order") else {
            return fail(user_error(&["id"], "Order does not exist"));
        };
        let n = counter(&key).unwrap_or(0);
        if parse_gid("OrderTransaction", &input.parent_transaction_id) != Some(n * 100 + 1) {
            return fail(user_error(
                &["parentTransactionId"],
                "The parent transaction is not this order's authorization.",
            ));
        }
        let sh = shared(ctx);
        let req = CaptureOrder {
            amount: Some(input.amount.0),
        };
        match crate::shop::routes::capture(State(shop_ctx(sh)), Path(key), Json(req)).await {
            Ok(crate::money::MoneyJson(order)) => {
                let t = transactions(&order, n)
                    .into_iter()
                    .find(|t| t.kind == OrderTransactionKind::Capture);
                OrderCapturePayload {
                    transaction: t,
                    user_errors: Vec::new(),
                }
            }
            Err(e) => fail(from_sim(&e, &["amount"])),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn order_cancel(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: OrderCancelReason,
        restock: bool,
        refund: Option<bool>,
        notify_customer: Option<bool>,
        staff_note: Option<String>,
    ) -> OrderCancelPayload {
        let _ = (refund, notify_customer, staff_note);
        let fail = |message: String, code: &str| OrderCancelPayload {
            job: None,
            order_cancel_user_errors: vec![OrderCancelUserError {
                field: Some(vec!["orderId".into()]),
                message: message.clone(),
                code: Some(code.to_owned()),
            }],
            user_errors: vec![user_error(&["orderId"], message)],
        };
        let Some(key) = order_key(&order_id, "Order") else {
            return fail("Order does not exist".into(), "NOT_FOUND");
        };
        let reason = match reason {
            OrderCancelReason::Customer => CancelReason::Customer,
            OrderCancelReason::Declined => CancelReason::Declined,
            OrderCancelReason::Fraud => CancelReason::Fraud,
            OrderCancelReason::Inventory => CancelReason::Inventory,
            OrderCancelReason::Other | OrderCancelReason::Staff => CancelReason::Other,
        };
        let req = CancelOrder {
            reason,
            restock: Some(restock),
        };
        let n = counter(&key).unwrap_or(0);
        match crate::shop::routes::cancel(State(shop_ctx(shared(ctx))), Path(key), Json(req)).await
        {
            Ok(_) => OrderCancelPayload {
                job: Some(Job {
                    id: ID(gid("Job", n)),
                    done: true,
                }),
                order_cancel_user_errors: Vec::new(),
                user_errors: Vec::new(),
            },
            Err(e) => {
                let code = match e.code {
                    "unknown_order" => "NOT_FOUND",
                    "order_already_cancelled" | "order_cancelled" => "INVALID",
                    _ => "INVALID",
                };
                fail(e.message.clone(), code)
            }
        }
    }

    async fn order_mark_as_paid(
        &self,
        ctx: &Context<'_>,
        input: OrderMarkAsPaidInput,
    ) -> OrderMarkAsPaidPayload {
        let fail = |e: UserError| OrderMarkAsPaidPayload {
            order: None,
            user_errors: vec![e],
        };
        let Some(key) = order_key(&input.id, "Order") else {
            return fail(user_error(&["id"], "Order does not exist"));
        };
        let req = CaptureOrder::default();
        match crate::shop::routes::capture(State(shop_ctx(shared(ctx))), Path(key), Json(req)).await
        {
            Ok(crate::money::MoneyJson(order)) => OrderMarkAsPaidPayload {
                order: Some(order_view(order)),
                user_errors: Vec::new(),
            },
            Err(e) => fail(from_sim(&e, &["id"])),
        }
    }

    async fn refund_create(&self, ctx: &Context<'_>, input: RefundInput) -> RefundCreatePayload {
        let fail = |e: UserError| RefundCreatePayload {
            refund: None,
            order: None,
            user_errors: vec![e],
        };
        let _ = (
            &input.notify,
            &input.currency,
            &input.transactions,
            &input.allow_over_refunding,
        );
        let Some(key) = order_key(&input.order_id, "Order") else {
            return fail(user_error(&["orderId"], "Order does not exist"));
        };
        let sh = shared(ctx);
        let Ok(order) = sh.sim.read(|s| s.get_order(&key)) else {
            return fail(user_error(&["orderId"], "Order does not exist"));
        };
        let mut lines = Vec::new();
        for (i, l) in input
            .refund_line_items
            .clone()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let field = format!("refundLineItems.{i}.lineItemId");
            let Some(n) = parse_gid("LineItem", &l.line_item_id) else {
                return fail(user_error(&[field.as_str()], "Line item does not exist"));
            };
            let line_id = format!("line_{n:06}");
            let Some(line) = order.lines.iter().find(|x| x.id == line_id) else {
                return fail(user_error(&[field.as_str()], "Line item does not exist"));
            };
            let location = match &l.location_id {
                Some(id) => {
                    let key = parse_gid("Location", id).and_then(|n| {
                        sh.sim
                            .read(|s| s.shopify.location_key(n).map(str::to_owned))
                    });
                    match key {
                        Some(k) => Some(k),
                        None => {
                            let f = format!("refundLineItems.{i}.locationId");
                            return fail(user_error(&[f.as_str()], "Location does not exist"));
                        }
                    }
                }
                None => None,
            };
            let restock_type = match l
                .restock_type
                .unwrap_or(RefundLineItemRestockType::NoRestock)
            {
                RefundLineItemRestockType::NoRestock => RestockType::NoRestock,
                RefundLineItemRestockType::Cancel => RestockType::Cancel,
                RefundLineItemRestockType::Return => RestockType::Return,
                RefundLineItemRestockType::LegacyRestock => {
                    if line.fulfilled_quantity > 0 {
                        RestockType::Return
                    } else {
                        RestockType::Cancel
                    }
                }
            };
            lines.push(RefundLineRequest {
                line_id,
                quantity: l.quantity,
                restock_type,
                location: if restock_type == RestockType::Return {
                    location
                } else {
                    None
                },
            });
        }
        let req = CreateOrderRefund {
            lines,
            note: input.note.clone(),
        };
        match crate::shop::routes::refund(State(shop_ctx(sh)), Path(key.clone()), Json(req)).await {
            Ok(crate::money::MoneyJson(r)) => {
                let order = sh.sim.read(|s| s.get_order(&key)).unwrap_or(order);
                RefundCreatePayload {
                    refund: Some(GRefund {
                        r,
                        order: order.clone(),
                    }),
                    order: Some(order_view(order)),
                    user_errors: Vec::new(),
                }
            }
            Err(e) => {
                let field = e.field.clone().unwrap_or_else(|| "orderId".into());
                fail(user_error(&[field.as_str()], e.message.clone()))
            }
        }
    }

    async fn fulfillment_create(
        &self,
        ctx: &Context<'_>,
        fulfillment: FulfillmentInput,
        message: Option<String>,
    ) -> FulfillmentCreatePayload {
        let _ = (
            message,
            &fulfillment.notify_customer,
            &fulfillment.tracking_info,
        );
        let fail = |e: UserError| FulfillmentCreatePayload {
            fulfillment: None,
            user_errors: vec![e],
        };
        let [group] = fulfillment.line_items_by_fulfillment_order.as_slice() else {
            return fail(user_error(
                &["fulfillment", "lineItemsByFulfillmentOrder"],
                "omnisim fulfils one fulfillment order per fulfillment",
            ));
        };
        let Some(key) = order_key(&group.fulfillment_order_id, "FulfillmentOrder") else {
            return fail(user_error(
                &[
                    "fulfillment",
                    "lineItemsByFulfillmentOrder",
                    "0",
                    "fulfillmentOrderId",
                ],
                "Fulfillment order does not exist.",
            ));
        };
        let lines = match &group.fulfillment_order_line_items {
            None => None,
            Some(items) => {
                let mut v = Vec::new();
                for item in items {
                    let Some(n) = parse_gid("FulfillmentOrderLineItem", &item.id) else {
                        return fail(user_error(
                            &[
                                "fulfillment",
                                "lineItemsByFulfillmentOrder",
                                "0",
                                "fulfillmentOrderLineItems",
                            ],
                            "Fulfillment order line item does not exist.",
                        ));
                    };
                    v.push(FulfillLine {
                        line_id: format!("line_{n:06}"),
                        quantity: item.quantity,
                    });
                }
                Some(v)
            }
        };
        let result = shared(ctx).sim.commit(|s, fx| {
            let before = s.get_order(&key)?;
            let order = s.fulfill(fx, &key, FulfillOrder { lines })?;
            let moved: Vec<(String, i64)> = order
                .lines
                .iter()
                .zip(&before.lines)
                .filter_map(|(a, b)| {
                    let q = a.fulfilled_quantity - b.fulfilled_quantity;
                    (q > 0).then(|| (a.id.clone(), q))
                })
                .collect();
            let rec = FulfillmentRec {
                order_id: key.clone(),
                lines: moved,
                created_at: fx.now(),
            };
            let n = s.shopify.add_fulfillment(rec.clone());
            Ok(GFulfillment { n, rec, order })
        });
        match result {
            Ok(f) => FulfillmentCreatePayload {
                fulfillment: Some(f),
                user_errors: Vec::new(),
            },
            Err(e) => fail(from_sim(&e, &["fulfillment"])),
        }
    }

    async fn gift_card_create(
        &self,
        ctx: &Context<'_>,
        input: gift_cards::GiftCardCreateInput,
    ) -> gift_cards::GiftCardCreatePayload {
        gift_cards::gift_card_create(ctx, input).await
    }

    async fn customer_create(
        &self,
        ctx: &Context<'_>,
        input: customers::CustomerInput,
    ) -> customers::CustomerCreatePayload {
        customers::customer_create(ctx, input)
    }

    async fn customer_update(
        &self,
        ctx: &Context<'_>,
        input: customers::CustomerInput,
    ) -> customers::CustomerUpdatePayload {
        customers::customer_update(ctx, input)
    }

    async fn customer_email_marketing_consent_update(
        &self,
        ctx: &Context<'_>,
        input: customers::CustomerEmailMarketingConsentUpdateInput,
    ) -> customers::CustomerEmailMarketingConsentUpdatePayload {
        customers::consent_update(ctx, input)
    }

    async fn discount_automatic_basic_create(
        &self,
        ctx: &Context<'_>,
        automatic_basic_discount: discounts::DiscountAutomaticBasicInput,
    ) -> discounts::DiscountAutomaticBasicCreatePayload {
        discounts::basic_create(ctx, automatic_basic_discount)
    }

    async fn discount_automatic_basic_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        automatic_basic_discount: discounts::DiscountAutomaticBasicInput,
    ) -> discounts::DiscountAutomaticBasicUpdatePayload {
        discounts::basic_update(ctx, id, automatic_basic_discount)
    }

    async fn discount_automatic_deactivate(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> discounts::DiscountAutomaticDeactivatePayload {
        discounts::basic_deactivate(ctx, id)
    }

    async fn webhook_subscription_create(
        &self,
        ctx: &Context<'_>,
        topic: WebhookSubscriptionTopic,
        webhook_subscription: WebhookSubscriptionInput,
    ) -> WebhookSubscriptionCreatePayload {
        let _ = (
            &webhook_subscription.include_fields,
            &webhook_subscription.metafield_namespaces,
            &webhook_subscription.filter,
        );
        let fail = |e: UserError| WebhookSubscriptionCreatePayload {
            webhook_subscription: None,
            user_errors: vec![e],
        };
        if webhook_subscription.format == Some(WebhookSubscriptionFormat::Xml) {
            return fail(user_error(
                &["webhookSubscription", "format"],
                "omnisim delivers JSON webhooks only",
            ));
        }
        let Some(url) = webhook_subscription
            .uri
            .clone()
            .or(webhook_subscription.callback_url.clone().map(|u| u.0))
        else {
            return fail(user_error(
                &["webhookSubscription", "uri"],
                "Address can't be blank",
            ));
        };
        let core = &shared(ctx).sim.core;
        let known: Vec<&str> = WebhookSubscriptionTopic::ALL
            .iter()
            .map(|t| t.header())
            .collect();
        let created = core.webhooks.create_for(
            Wire::Shopify,
            core,
            url,
            vec![topic.header().to_owned()],
            &known,
        );
        match created {
            Ok(sub) => {
                let secret = super::api_secret(&core.api_key);
                if let Err(e) = core.webhooks.set_secret(&sub.id, &secret) {
                    return fail(from_sim(&e, &["webhookSubscription"]));
                }
                WebhookSubscriptionCreatePayload {
                    webhook_subscription: Some(GWebhook {
                        sub: NativeSub {
                            secret: None,
                            ..sub
                        },
                    }),
                    user_errors: Vec::new(),
                }
            }
            Err(e) => fail(user_error(
                &["webhookSubscription", "uri"],
                e.message.clone(),
            )),
        }
    }

    async fn webhook_subscription_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> WebhookSubscriptionDeletePayload {
        let fail = || WebhookSubscriptionDeletePayload {
            deleted_webhook_subscription_id: None,
            user_errors: vec![user_error(&["id"], "Webhook subscription does not exist")],
        };
        let Some(n) = parse_gid("WebhookSubscription", &id) else {
            return fail();
        };
        let core = &shared(ctx).sim.core;
        let key = format!("whsub_{}_{n:04}", ShopState::NAME);
        match core.webhooks.get(&key) {
            Some((Wire::Shopify, _)) => {}
            _ => return fail(),
        }
        match core.webhooks.delete(&key) {
            Ok(_) => WebhookSubscriptionDeletePayload {
                deleted_webhook_subscription_id: Some(ID(gid("WebhookSubscription", n))),
                user_errors: Vec::new(),
            },
            Err(_) => fail(),
        }
    }
}

// ------------------------------------------------- idempotency and cost

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};

fn operations(doc: &ExecutableDocument) -> Vec<&OperationDefinition> {
    match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    }
}

fn chosen<'a>(
    doc: &'a ExecutableDocument,
    req: &async_graphql::Request,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, req.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether the operation `req` runs is a query (it changes nothing).
pub fn is_query(req: &async_graphql::Request) -> bool {
    async_graphql::parser::parse_query(&req.query)
        .ok()
        .is_some_and(|doc| chosen(&doc, req).is_some_and(|op| op.ty == OperationType::Query))
}

/// The key of an `@idempotent(key:)` directive on a root mutation field
/// of the operation `req` runs, a literal or a variable.
pub fn idempotency_key(req: &async_graphql::Request) -> Option<String> {
    let doc = async_graphql::parser::parse_query(&req.query).ok()?;
    let op = chosen(&doc, req)?;
    if op.ty != OperationType::Mutation {
        return None;
    }
    for item in &op.selection_set.node.items {
        let Selection::Field(field) = &item.node else {
            continue;
        };
        for d in &field.node.directives {
            if d.node.name.node.as_str() != "idempotent" {
                continue;
            }
            let value = d
                .node
                .get_argument("key")?
                .node
                .clone()
                .into_const_with(|n| req.variables.get(n.as_str()).cloned().ok_or(()))
                .ok()?;
            return match value {
                Value::String(s) => Some(s),
                _ => None,
            };
        }
    }
    None
}

fn selection_cost(set: &SelectionSet, req: &async_graphql::Request) -> u64 {
    let mut total = 0;
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let f = &f.node;
                if f.selection_set.node.items.is_empty() {
                    continue;
                }
                let size = ["first", "last"].iter().find_map(|a| {
                    match f
                        .get_argument(a)?
                        .node
                        .clone()
                        .into_const_with(|n| req.variables.get(n.as_str()).cloned().ok_or(()))
                        .ok()?
                    {
                        Value::Number(n) => n.as_u64(),
                        _ => None,
                    }
                });
                let inner = selection_cost(&f.selection_set.node, req);
                total += match size {
                    Some(n) => 2 + n * inner,
                    None => 1 + inner,
                };
            }
            Selection::InlineFragment(fr) => {
                total += selection_cost(&fr.node.selection_set.node, req);
            }
            Selection::FragmentSpread(_) => total += 1,
        }
    }
    total
}

/// `extensions.cost` as Shopify reports it: the requested cost (objects 1,
/// connections 2 + size × their contents, mutations 10), taken as the
/// actual cost, against a full bucket.
pub fn cost(req: &async_graphql::Request) -> Value {
    let requested = async_graphql::parser::parse_query(&req.query)
        .ok()
        .map_or(1, |doc| {
            operations(&doc)
                .into_iter()
                .map(|op| {
                    let base = selection_cost(&op.selection_set.node, req);
                    if op.ty == OperationType::Mutation {
                        base + 10 * op.selection_set.node.items.len() as u64
                    } else {
                        base
                    }
                })
                .max()
                .unwrap_or(1)
        })
        .max(1);
    let maximum = 2000.0;
    let available = (maximum - requested as f64).max(0.0);
    async_graphql::value!({
        "requestedQueryCost": requested,
        "actualQueryCost": requested,
        "throttleStatus": {
            "maximumAvailable": maximum,
            "currentlyAvailable": available,
            "restoreRate": 100.0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms() {
        let t = terms("sku:ABC-1 AND updated_at:>'2026-01-01T00:00:00Z' status:open");
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].field, "sku");
        assert_eq!(t[0].value, "ABC-1");
        assert_eq!(t[1].op, ">");
        assert_eq!(t[1].value, "2026-01-01T00:00:00Z");
        assert_eq!(t[2].value, "open");
    }

    #[test]
    fn pages_follow_cursors() {
        let items: Vec<(String, i32)> = (1..=5).map(|n| (id_key(n), n as i32)).collect();
        let p = page(
            items.clone(),
            Page {
                first: Some(2),
                ..Page::default()
            },
        )
        .unwrap();
        assert!(p.has_next_page);
        let end = p.edges.last().unwrap().cursor.clone();
        let p2 = page(
            items,
            Page {
                first: Some(10),
                after: Some(end),
                ..Page::default()
            },
        )
        .unwrap();
        let got: Vec<i32> = p2.edges.iter().map(|e| e.node).collect();
        assert_eq!(got, vec![3, 4, 5]);
        assert!(!p2.has_next_page);
    }
}
