//! Shopify's automatic basic discounts over the shop's automatic promotions
//! (`crate::promotions::PromotionBook`): the GraphQL `DiscountAutomaticNode`
//! and `DiscountAutomaticBasic` objects, their queries, the create, update
//! and deactivate mutations, and the `discounts/create` and
//! `discounts/update` webhook body.
//!
//! Translation only. A Shopify automatic discount is the shop promotion
//! `promo_00000N`, numbered `N` (`gid://shopify/DiscountAutomaticNode/N`).
//!
//! - `customerGets.value.percentage` is a fraction (`0.2`); the promotion
//!   holds a percent (`20`), at most 2 decimals (so `0.12345` is refused).
//! - `customerGets.value.discountAmount` with `appliesOnEachItem: true` on
//!   products is the promotion's fixed amount off each unit of its SKUs;
//!   with `appliesOnEachItem: false` on all items, its fixed amount off the
//!   order. The other two combinations (once across some products, each
//!   unit of every item) are not in the model and are refused naming
//!   `appliesOnEachItem`.
//! - `customerGets.items` `products` (`productsToAdd`, `productVariantsToAdd`,
//!   and on update `…ToRemove`) are the promotion's SKUs (a product has one
//!   variant, the SKU, so both name the same thing, and read back as
//!   `products`); `all: true` is the whole order. A change that would leave
//!   no product is refused (`APPLIES_ON_NOTHING`): the model would read an
//!   empty SKU list as the whole order.
//! - `status` is `SCHEDULED` before `startsAt`, `EXPIRED` from `endsAt` on
//!   (or when the promotion is disabled), else `ACTIVE`, by the simulator's
//!   clock.
//! - `discountAutomaticDeactivate` ends a running discount now (`endsAt`
//!   becomes now); one that has not started is disabled instead (its window
//!   cannot end before it starts).
//!
//! Every write is a call into the shop state machine, so it emits the
//! native `promotions/create` and `promotions/update` events, under the
//! caller's credential. What Shopify has and a promotion cannot hold (a
//! minimum requirement, combinations with other discounts, a customer
//! selection, collections, subscriptions, a recurring cycle limit other than
//! 0 or 1, quantity discounts, a change of kind, clearing `endsAt`) is
//! refused with a user error naming the field, never dropped. Promotions
//! have no delete, so `discountAutomaticDelete` is not served.

use std::str::FromStr;

use async_graphql::connection::Connection;
use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, OneofObject, SimpleObject, Union,
};
use chrono::{DateTime as ChronoDateTime, Utc};
use omnisim_api::promotion::{CreatePromotion, Promotion, PromotionStatus, UpdatePromotion};
use omnisim_api::shop::DiscountKind;
use rust_decimal::Decimal;

use super::graphql::{
    Dec, GProduct, GVariant, MoneyV2, Page, Shared, Term, UnsignedInt64, id_key, money,
    number_matches, page, product_view, shared, shop_currency, terms, time_key, time_matches,
};
use super::ids::{counter, gid, parse_gid};
use crate::error::SimError;
use crate::shop::ShopState;

// ------------------------------------------------------------ translation

/// The shop's key of promotion number `n`.
pub fn key(n: u64) -> String {
    format!("promo_{n:06}")
}

/// The number of promotion `p` (`promo_000007` is 7).
pub fn number(p: &Promotion) -> u64 {
    counter(&p.id).unwrap_or(0)
}

/// The GraphQL id of promotion `p`.
pub fn node_gid(p: &Promotion) -> String {
    gid("DiscountAutomaticNode", number(p))
}

/// The shop's key of a Shopify discount id
/// (`gid://shopify/DiscountAutomaticNode/7`, `gid://shopify/DiscountNode/7`
/// or `7`).
pub fn key_of(id: &str) -> Option<String> {
    parse_gid("DiscountAutomaticNode", id)
        .or_else(|| parse_gid("DiscountNode", id))
        .map(key)
}

/// Shopify's percentage (a fraction over 0 and at most 1) as the
/// promotion's percent: `0.2` is `20`.
pub fn percent(fraction: f64) -> Result<Decimal, String> {
    if !fraction.is_finite() || fraction <= 0.0 || fraction > 1.0 {
        return Err(format!(
            "Value must be greater than 0.0 and at most 1.0 (a fraction: 0.2 is 20 %), not {fraction}"
        ));
    }
    let d = Decimal::from_str(&fraction.to_string()).map_err(|e| e.to_string())?;
    Ok((d * Decimal::ONE_HUNDRED).normalize())
}

/// The promotion's percent as Shopify's fraction: `20` is `0.2`.
pub fn fraction(percent: Decimal) -> f64 {
    (percent / Decimal::ONE_HUNDRED)
        .normalize()
        .to_string()
        .parse()
        .unwrap_or(0.0)
}

/// `DiscountStatus`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum DiscountStatus {
    /// Running.
    Active,
    /// Ended (or disabled).
    Expired,
    /// Not started yet.
    Scheduled,
}

/// The status of promotion `p` at `now`.
pub fn status_at(p: &Promotion, now: ChronoDateTime<Utc>) -> DiscountStatus {
    if p.status == PromotionStatus::Disabled || p.ends_at.is_some_and(|e| e <= now) {
        DiscountStatus::Expired
    } else if now < p.starts_at {
        DiscountStatus::Scheduled
    } else {
        DiscountStatus::Active
    }
}

fn status_name(s: DiscountStatus) -> &'static str {
    match s {
        DiscountStatus::Active => "ACTIVE",
        DiscountStatus::Expired => "EXPIRED",
        DiscountStatus::Scheduled => "SCHEDULED",
    }
}

/// The `discounts/create` and `discounts/update` webhook body: Shopify's
/// `{admin_graphql_api_id, title, status, created_at, updated_at}`, the
/// status as it was at the change.
pub fn webhook_body(p: &Promotion) -> serde_json::Value {
    serde_json::json!({
        "admin_graphql_api_id": node_gid(p),
        "title": p.title,
        "status": status_name(status_at(p, p.updated_at)),
        "created_at": super::wire::time(p.created_at),
        "updated_at": super::wire::time(p.updated_at),
    })
}

// ----------------------------------------------------------------- errors

/// `DiscountErrorCode`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum DiscountErrorCode {
    /// Overlapping active periods.
    ActivePeriodOverlap,
    /// Applies to nothing.
    AppliesOnNothing,
    /// Blank.
    Blank,
    /// Conflict.
    Conflict,
    /// Duplicate.
    Duplicate,
    /// End before start.
    EndDateBeforeStartDate,
    /// Equal to.
    EqualTo,
    /// Over the maximum.
    ExceededMax,
    /// Greater than.
    GreaterThan,
    /// Greater than or equal to.
    GreaterThanOrEqualTo,
    /// Implicit duplicate.
    ImplicitDuplicate,
    /// Not among the accepted values.
    Inclusion,
    /// Internal.
    InternalError,
    /// Invalid.
    Invalid,
    /// Combination invalid for the class.
    InvalidCombinesWithForDiscountClass,
    /// Class invalid for the price rule.
    InvalidDiscountClassForPriceRule,
    /// Less than.
    LessThan,
    /// Less than or equal to.
    LessThanOrEqualTo,
    /// Too many app discounts.
    MaxAppDiscounts,
    /// Both minimums.
    MinimumSubtotalAndQuantityRangeBothPresent,
    /// Missing argument.
    MissingArgument,
    /// Missing function.
    MissingFunctionIdentifier,
    /// Several functions.
    MultipleFunctionIdentifiers,
    /// Several cycle limits.
    MultipleRecurringCycleLimitForNonSubscriptionItems,
    /// Present.
    Present,
    /// Bad cycle limit.
    RecurringCycleLimitNotAValidInteger,
    /// Taken.
    Taken,
    /// Too long.
    TooLong,
    /// Too many arguments.
    TooManyArguments,
    /// Too short.
    TooShort,
    /// Out of range.
    ValueOutsideRange,
}

/// `DiscountUserError`.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct DiscountUserError {
    /// The input path.
    pub field: Option<Vec<String>>,
    /// What is wrong.
    pub message: String,
    /// Shopify's code.
    pub code: Option<DiscountErrorCode>,
    /// More, where Shopify gives it (never here).
    pub extra_info: Option<String>,
}

/// A user error at `automaticBasicDiscount.<path>` (or at `path` itself
/// when it starts with `id`).
pub fn discount_error(
    path: &[&str],
    message: impl Into<String>,
    code: DiscountErrorCode,
) -> DiscountUserError {
    let mut field: Vec<String> = Vec::new();
    if path.first() != Some(&"id") {
        field.push("automaticBasicDiscount".to_owned());
    }
    field.extend(path.iter().map(|s| (*s).to_owned()));
    DiscountUserError {
        field: Some(field),
        message: message.into(),
        code: Some(code),
        extra_info: None,
    }
}

fn not_modelled(path: &[&str], what: &str) -> DiscountUserError {
    let name = path.join(".");
    discount_error(
        path,
        format!("omnisim's automatic promotions have no {what}; leave `{name}` out"),
        DiscountErrorCode::Invalid,
    )
}

fn no_such_discount() -> DiscountUserError {
    discount_error(
        &["id"],
        "Discount does not exist",
        DiscountErrorCode::Invalid,
    )
}

// ----------------------------------------------------------------- inputs

/// `DiscountAmountInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountAmountInput {
    /// The amount.
    pub amount: Option<Dec>,
    /// Off each unit (true) or once (false, Shopify's default).
    pub applies_on_each_item: Option<bool>,
}

/// `DiscountEffectInput`.
#[allow(dead_code)] // only checked for what the model cannot hold
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountEffectInput {
    /// An amount.
    pub amount: Option<Dec>,
    /// A percentage.
    pub percentage: Option<f64>,
}

/// `DiscountOnQuantityInput` (refused: no quantity discounts).
#[allow(dead_code)] // only checked for what the model cannot hold
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountOnQuantityInput {
    /// Units.
    pub quantity: Option<UnsignedInt64>,
    /// Effect.
    pub effect: Option<DiscountEffectInput>,
}

/// `DiscountCustomerGetsValueInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountCustomerGetsValueInput {
    /// A fraction over 0, at most 1.
    pub percentage: Option<f64>,
    /// A fixed amount.
    pub discount_amount: Option<DiscountAmountInput>,
    /// Refused.
    pub discount_on_quantity: Option<DiscountOnQuantityInput>,
}

/// `DiscountProductsInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountProductsInput {
    /// Products to add.
    pub products_to_add: Option<Vec<ID>>,
    /// Products to remove.
    pub products_to_remove: Option<Vec<ID>>,
    /// Variants to add (a variant is its product's one SKU).
    pub product_variants_to_add: Option<Vec<ID>>,
    /// Variants to remove.
    pub product_variants_to_remove: Option<Vec<ID>>,
}

/// `DiscountCollectionsInput` (refused: no collections).
#[allow(dead_code)] // only checked for what the model cannot hold
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountCollectionsInput {
    /// To add.
    pub add: Option<Vec<ID>>,
    /// To remove.
    pub remove: Option<Vec<ID>>,
}

/// `DiscountItemsInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountItemsInput {
    /// The whole order.
    pub all: Option<bool>,
    /// Some products.
    pub products: Option<DiscountProductsInput>,
    /// Refused.
    pub collections: Option<DiscountCollectionsInput>,
}

/// `DiscountCustomerGetsInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountCustomerGetsInput {
    /// What it takes off.
    pub value: Option<DiscountCustomerGetsValueInput>,
    /// What it takes it off.
    pub items: Option<DiscountItemsInput>,
    /// One-time purchases (the only ones): true or absent.
    pub applies_on_one_time_purchase: Option<bool>,
    /// Subscriptions (none): false or absent.
    pub applies_on_subscription: Option<bool>,
}

/// `DiscountMinimumQuantityInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountMinimumQuantityInput {
    /// Units.
    pub greater_than_or_equal_to_quantity: Option<UnsignedInt64>,
}

/// `DiscountMinimumSubtotalInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountMinimumSubtotalInput {
    /// Subtotal.
    pub greater_than_or_equal_to_subtotal: Option<Dec>,
}

/// `DiscountMinimumRequirementInput` (refused unless empty).
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountMinimumRequirementInput {
    /// A minimum quantity.
    pub quantity: Option<DiscountMinimumQuantityInput>,
    /// A minimum subtotal.
    pub subtotal: Option<DiscountMinimumSubtotalInput>,
}

/// `DiscountCombinesWithInput`: promotions combine with nothing, so only
/// false is taken.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountCombinesWithInput {
    /// With order discounts.
    pub order_discounts: Option<bool>,
    /// With product discounts.
    pub product_discounts: Option<bool>,
    /// With shipping discounts.
    pub shipping_discounts: Option<bool>,
}

/// `DiscountBuyerSelection`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum DiscountBuyerSelection {
    /// Every buyer.
    All,
}

/// `DiscountCustomersInput` (refused unless empty).
#[allow(dead_code)] // only checked for what the model cannot hold
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountCustomersInput {
    /// To add.
    pub add: Option<Vec<ID>>,
    /// To remove.
    pub remove: Option<Vec<ID>>,
}

/// `DiscountCustomerSegmentsInput` (refused unless empty).
#[allow(dead_code)] // only checked for what the model cannot hold
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountCustomerSegmentsInput {
    /// To add.
    pub add: Option<Vec<ID>>,
    /// To remove.
    pub remove: Option<Vec<ID>>,
}

/// `DiscountContextInput` (`@oneOf`, as Shopify's): every buyer only.
#[derive(OneofObject, Clone, Debug)]
pub enum DiscountContextInput {
    /// `ALL`.
    All(DiscountBuyerSelection),
    /// Refused unless `add` is empty.
    Customers(DiscountCustomersInput),
    /// Refused unless `add` is empty.
    CustomerSegments(DiscountCustomerSegmentsInput),
}

/// `DiscountAutomaticBasicInput`.
#[derive(InputObject, Clone, Debug, Default)]
pub struct DiscountAutomaticBasicInput {
    /// The title.
    pub title: Option<String>,
    /// When it starts (now if absent on create).
    pub starts_at: Option<super::graphql::DateTime>,
    /// When it ends; `null` (no end) only when it has none.
    pub ends_at: MaybeUndefined<super::graphql::DateTime>,
    /// Value and items.
    pub customer_gets: Option<DiscountCustomerGetsInput>,
    /// Refused unless empty.
    pub minimum_requirement: Option<DiscountMinimumRequirementInput>,
    /// Only false.
    pub combines_with: Option<DiscountCombinesWithInput>,
    /// Only `all: ALL`.
    pub context: Option<DiscountContextInput>,
    /// 0 or 1 (no subscriptions).
    pub recurring_cycle_limit: Option<i32>,
}

fn some_ids(v: &Option<Vec<ID>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// The first field of `input` a promotion cannot hold, as its user error.
pub fn unsupported(input: &DiscountAutomaticBasicInput) -> Option<DiscountUserError> {
    if let Some(m) = &input.minimum_requirement {
        let quantity = m
            .quantity
            .as_ref()
            .is_some_and(|q| q.greater_than_or_equal_to_quantity.is_some());
        let subtotal = m
            .subtotal
            .as_ref()
            .is_some_and(|s| s.greater_than_or_equal_to_subtotal.is_some());
        if quantity {
            return Some(not_modelled(
                &["minimumRequirement", "quantity"],
                "minimum quantity",
            ));
        }
        if subtotal {
            return Some(not_modelled(
                &["minimumRequirement", "subtotal"],
                "minimum subtotal",
            ));
        }
    }
    if let Some(c) = &input.combines_with {
        for (on, name) in [
            (c.order_discounts, "orderDiscounts"),
            (c.product_discounts, "productDiscounts"),
            (c.shipping_discounts, "shippingDiscounts"),
        ] {
            if on == Some(true) {
                return Some(discount_error(
                    &["combinesWith", name],
                    format!(
                        "omnisim's automatic promotions combine with no other discount; `{name}` must be false"
                    ),
                    DiscountErrorCode::Invalid,
                ));
            }
        }
    }
    match &input.context {
        Some(DiscountContextInput::Customers(x)) if some_ids(&x.add) => {
            return Some(not_modelled(
                &["context", "customers"],
                "customer selection",
            ));
        }
        Some(DiscountContextInput::CustomerSegments(x)) if some_ids(&x.add) => {
            return Some(not_modelled(
                &["context", "customerSegments"],
                "customer segments",
            ));
        }
        _ => {}
    }
    if let Some(n) = input.recurring_cycle_limit
        && n != 0
        && n != 1
    {
        return Some(not_modelled(
            &["recurringCycleLimit"],
            "subscriptions (a recurring cycle limit other than 0 or 1)",
        ));
    }
    let gets = input.customer_gets.as_ref()?;
    if gets.applies_on_one_time_purchase == Some(false) {
        return Some(discount_error(
            &["customerGets", "appliesOnOneTimePurchase"],
            "omnisim's promotions apply to one-time purchases (the only ones it sells); `appliesOnOneTimePurchase` must be true",
            DiscountErrorCode::Invalid,
        ));
    }
    if gets.applies_on_subscription == Some(true) {
        return Some(not_modelled(
            &["customerGets", "appliesOnSubscription"],
            "subscriptions",
        ));
    }
    if gets
        .value
        .as_ref()
        .is_some_and(|v| v.discount_on_quantity.is_some())
    {
        return Some(not_modelled(
            &["customerGets", "value", "discountOnQuantity"],
            "quantity discounts",
        ));
    }
    if gets
        .items
        .as_ref()
        .and_then(|i| i.collections.as_ref())
        .is_some_and(|c| some_ids(&c.add))
    {
        return Some(not_modelled(
            &["customerGets", "items", "collections"],
            "collections",
        ));
    }
    None
}

/// A value as written: the kind, the native value, and for an amount
/// whether it is off each unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value {
    /// Percentage or fixed amount.
    pub kind: DiscountKind,
    /// Percent or money.
    pub value: Decimal,
    /// For an amount: `appliesOnEachItem` (false when absent).
    pub each: bool,
}

/// The value of a `DiscountCustomerGetsValueInput`.
pub fn value_of(v: &DiscountCustomerGetsValueInput) -> Result<Value, DiscountUserError> {
    match (v.percentage, &v.discount_amount) {
        (Some(_), Some(_)) => Err(discount_error(
            &["customerGets", "value"],
            "Give one of percentage or discountAmount, not both",
            DiscountErrorCode::TooManyArguments,
        )),
        (Some(f), None) => percent(f)
            .map(|value| Value {
                kind: DiscountKind::Percentage,
                value,
                each: false,
            })
            .map_err(|m| {
                discount_error(
                    &["customerGets", "value", "percentage"],
                    m,
                    DiscountErrorCode::ValueOutsideRange,
                )
            }),
        (None, Some(a)) => {
            let Some(amount) = a.amount else {
                return Err(discount_error(
                    &["customerGets", "value", "discountAmount", "amount"],
                    "Amount can't be blank",
                    DiscountErrorCode::Blank,
                ));
            };
            Ok(Value {
                kind: DiscountKind::FixedAmount,
                value: amount.0,
                each: a.applies_on_each_item.unwrap_or(false),
            })
        }
        (None, None) => Err(discount_error(
            &["customerGets", "value"],
            "Value can't be blank: give percentage or discountAmount",
            DiscountErrorCode::Blank,
        )),
    }
}

/// What a write does to the promotion's SKUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Items {
    /// Not named: unchanged.
    #[default]
    Keep,
    /// The whole order.
    All,
    /// These product numbers added and removed (from the current SKUs, or
    /// from none when the promotion is on the whole order).
    Products {
        /// Added.
        add: Vec<(Vec<&'static str>, ID)>,
        /// Removed.
        remove: Vec<(Vec<&'static str>, ID)>,
    },
}

/// The change of a `DiscountItemsInput`.
pub fn items_of(i: &DiscountItemsInput) -> Result<Items, DiscountUserError> {
    match (i.all, &i.products) {
        (Some(true), Some(p))
            if some_ids(&p.products_to_add) || some_ids(&p.product_variants_to_add) =>
        {
            Err(discount_error(
                &["customerGets", "items"],
                "Give one of all or products, not both",
                DiscountErrorCode::TooManyArguments,
            ))
        }
        (Some(true), _) => Ok(Items::All),
        (_, Some(p)) => {
            let tag = |path: &'static str, kind: &'static str, ids: &Option<Vec<ID>>| {
                ids.iter()
                    .flatten()
                    .map(move |id| (vec![path, kind], id.clone()))
                    .collect::<Vec<_>>()
            };
            let mut add = tag("productsToAdd", "Product", &p.products_to_add);
            add.extend(tag(
                "productVariantsToAdd",
                "ProductVariant",
                &p.product_variants_to_add,
            ));
            let mut remove = tag("productsToRemove", "Product", &p.products_to_remove);
            remove.extend(tag(
                "productVariantsToRemove",
                "ProductVariant",
                &p.product_variants_to_remove,
            ));
            Ok(Items::Products { add, remove })
        }
        (Some(false), None) => Err(discount_error(
            &["customerGets", "items", "all"],
            "Items can't be nothing: give all: true or products",
            DiscountErrorCode::AppliesOnNothing,
        )),
        (None, None) => Ok(Items::Keep),
    }
}

/// The SKU of product (or variant) `id`, if the shop sells it.
fn sku_of(s: &ShopState, kind: &str, id: &str) -> Option<String> {
    let n = parse_gid(kind, id)?;
    let sku = s.shopify.sku(n)?;
    s.get_product(sku).ok().map(|p| p.sku)
}

/// The SKUs after `items` changes `now` (the current SKUs; empty is the
/// whole order), or `None` to keep them.
fn skus_after(
    s: &ShopState,
    items: &Items,
    now: &[String],
) -> Result<Option<Vec<String>>, DiscountUserError> {
    let (add, remove) = match items {
        Items::Keep => return Ok(None),
        Items::All => return Ok(Some(Vec::new())),
        Items::Products { add, remove } => (add, remove),
    };
    let resolve = |(path, id): &(Vec<&'static str>, ID)| {
        let (field, kind) = (path[0], path[1]);
        sku_of(s, kind, id).ok_or_else(|| {
            let what = if kind == "Product" {
                "Product"
            } else {
                "Product variant"
            };
            discount_error(
                &["customerGets", "items", "products", field],
                format!("{what} {} does not exist", id.as_str()),
                DiscountErrorCode::Invalid,
            )
        })
    };
    let mut skus: Vec<String> = now.to_vec();
    for a in add {
        let sku = resolve(a)?;
        if !skus.contains(&sku) {
            skus.push(sku);
        }
    }
    for r in remove {
        let sku = resolve(r)?;
        skus.retain(|s| *s != sku);
    }
    if skus.is_empty() {
        return Err(discount_error(
            &["customerGets", "items", "products"],
            "The discount must apply to at least one product (or give all: true)",
            DiscountErrorCode::AppliesOnNothing,
        ));
    }
    skus.sort();
    Ok(Some(skus))
}

/// A fixed amount is off each unit of some SKUs or off the whole order:
/// refuses the two combinations the model has not.
fn check_each(kind: DiscountKind, each: bool, skus: &[String]) -> Result<(), DiscountUserError> {
    if kind != DiscountKind::FixedAmount || each != skus.is_empty() {
        return Ok(());
    }
    let message = if each {
        "omnisim's promotions take a fixed amount off each unit of some products only, not off each item of the whole order: give products, or appliesOnEachItem: false"
    } else {
        "omnisim's promotions take a fixed amount once off the whole order only, not once across some products: give appliesOnEachItem: true, or all: true"
    };
    Err(discount_error(
        &[
            "customerGets",
            "value",
            "discountAmount",
            "appliesOnEachItem",
        ],
        message,
        DiscountErrorCode::Invalid,
    ))
}

/// The user error of a native refusal.
fn refused(e: &SimError) -> DiscountUserError {
    use DiscountErrorCode as C;
    let (path, code): (&[&str], C) = match e.field.as_deref() {
        Some("title") => (&["title"], C::Invalid),
        Some("value") => (&["customerGets", "value"], C::ValueOutsideRange),
        Some("ends_at") => (&["endsAt"], C::EndDateBeforeStartDate),
        Some(f) if f.starts_with("skus") => (&["customerGets", "items", "products"], C::Invalid),
        _ => (&[], C::Invalid),
    };
    if path.is_empty() {
        return DiscountUserError {
            field: Some(vec!["automaticBasicDiscount".to_owned()]),
            message: e.message.clone(),
            code: Some(code),
            extra_info: None,
        };
    }
    discount_error(path, e.message.clone(), code)
}

/// `discountAutomaticBasicCreate`: the native create.
pub fn create(
    sh: &Shared,
    input: &DiscountAutomaticBasicInput,
) -> Result<Promotion, DiscountUserError> {
    if let Some(e) = unsupported(input) {
        return Err(e);
    }
    let Some(title) = input.title.clone() else {
        return Err(discount_error(
            &["title"],
            "Title can't be blank",
            DiscountErrorCode::Blank,
        ));
    };
    let ends_at = match input.ends_at {
        MaybeUndefined::Value(t) => Some(t.0),
        _ => None,
    };
    let Some(gets) = &input.customer_gets else {
        return Err(discount_error(
            &["customerGets"],
            "Customer gets can't be blank",
            DiscountErrorCode::Blank,
        ));
    };
    let value = value_of(gets.value.as_ref().ok_or_else(|| {
        discount_error(
            &["customerGets", "value"],
            "Value can't be blank",
            DiscountErrorCode::Blank,
        )
    })?)?;
    let items = match &gets.items {
        Some(i) => items_of(i)?,
        None => Items::Keep,
    };
    if items == Items::Keep {
        return Err(discount_error(
            &["customerGets", "items"],
            "Items can't be blank: give all: true or products",
            DiscountErrorCode::Blank,
        ));
    }
    sh.sim
        .commit(|s, fx| {
            let skus = match skus_after(s, &items, &[]) {
                Ok(v) => v.unwrap_or_default(),
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = check_each(value.kind, value.each, &skus) {
                return Ok(Err(e));
            }
            let req = CreatePromotion {
                title,
                kind: value.kind,
                value: value.value,
                currency: None,
                skus,
                starts_at: input.starts_at.map(|t| t.0),
                ends_at,
                status: PromotionStatus::Active,
                external_ref: None,
            };
            Ok(s.promotions.create(fx, req).map_err(|e| refused(&e)))
        })
        .unwrap_or_else(|e| Err(refused(&e)))
}

/// `discountAutomaticBasicUpdate`: the native update of the fields given.
pub fn update(
    sh: &Shared,
    id: &str,
    input: &DiscountAutomaticBasicInput,
) -> Result<Promotion, DiscountUserError> {
    let Some(key) = key_of(id) else {
        return Err(no_such_discount());
    };
    if let Some(e) = unsupported(input) {
        return Err(e);
    }
    let gets = input.customer_gets.clone().unwrap_or_default();
    let value = gets.value.as_ref().map(value_of).transpose()?;
    let items = gets.items.as_ref().map(items_of).transpose()?;
    sh.sim
        .commit(|s, fx| {
            let Ok(now) = s.promotions.get(&key) else {
                return Ok(Err(no_such_discount()));
            };
            let mut req = UpdatePromotion {
                title: input.title.clone(),
                starts_at: input.starts_at.map(|t| t.0),
                ..UpdatePromotion::default()
            };
            match input.ends_at {
                MaybeUndefined::Undefined => {}
                MaybeUndefined::Value(t) => req.ends_at = Some(t.0),
                MaybeUndefined::Null if now.ends_at.is_none() => {}
                MaybeUndefined::Null => {
                    return Ok(Err(discount_error(
                        &["endsAt"],
                        "omnisim cannot take the end off a promotion that has one; give a later endsAt instead",
                        DiscountErrorCode::Invalid,
                    )));
                }
            }
            let mut each = now.kind == DiscountKind::FixedAmount && !now.skus.is_empty();
            if let Some(v) = value {
                if v.kind != now.kind {
                    return Ok(Err(discount_error(
                        &["customerGets", "value"],
                        "omnisim's promotions keep their kind (percentage or fixed amount); make a new discount instead",
                        DiscountErrorCode::Invalid,
                    )));
                }
                req.value = Some(v.value);
                if let Some(a) = gets.value.as_ref().and_then(|v| v.discount_amount.as_ref())
                    && a.applies_on_each_item.is_some()
                {
                    each = v.each;
                }
            }
            let skus = match skus_after(s, items.as_ref().unwrap_or(&Items::Keep), &now.skus) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = check_each(now.kind, each, skus.as_deref().unwrap_or(&now.skus)) {
                return Ok(Err(e));
            }
            req.skus = skus.filter(|k| *k != now.skus);
            Ok(s.promotions.update(fx, &key, req).map_err(|e| refused(&e)))
        })
        .unwrap_or_else(|e| Err(refused(&e)))
}

/// `discountAutomaticDeactivate`: a running discount ends now; one not yet
/// started is disabled; an expired one stays as it is.
pub fn deactivate(sh: &Shared, id: &str) -> Result<Promotion, DiscountUserError> {
    let Some(key) = key_of(id) else {
        return Err(no_such_discount());
    };
    sh.sim
        .commit(|s, fx| {
            let Ok(p) = s.promotions.get(&key) else {
                return Ok(Err(no_such_discount()));
            };
            let now = fx.now();
            let req = match status_at(&p, now) {
                DiscountStatus::Expired => return Ok(Ok(p)),
                DiscountStatus::Active if p.starts_at < now => UpdatePromotion {
                    ends_at: Some(now),
                    ..UpdatePromotion::default()
                },
                _ => UpdatePromotion {
                    status: Some(PromotionStatus::Disabled),
                    ..UpdatePromotion::default()
                },
            };
            Ok(s.promotions.update(fx, &key, req).map_err(|e| refused(&e)))
        })
        .unwrap_or_else(|e| Err(refused(&e)))
}

// ----------------------------------------------------------------- output

/// `DiscountPercentage`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountPercentage {
    percentage: f64,
}

/// `DiscountAmount`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountAmount {
    amount: MoneyV2,
    applies_on_each_item: bool,
}

/// `DiscountCustomerGetsValue`.
#[derive(Union, Clone, Debug)]
pub enum DiscountCustomerGetsValue {
    /// A percentage.
    Percentage(DiscountPercentage),
    /// An amount.
    Amount(DiscountAmount),
}

/// `AllDiscountItems`.
#[derive(SimpleObject, Clone, Debug)]
pub struct AllDiscountItems {
    all_items: bool,
}

/// `DiscountProducts`: the promotion's SKUs the shop sells, as products.
#[derive(Clone, Debug)]
pub struct DiscountProducts {
    skus: Vec<String>,
}

#[Object]
impl DiscountProducts {
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GProduct>> {
        let items = shared(ctx).sim.read(|s| {
            self.skus
                .iter()
                .filter_map(|sku| product_view(s, sku))
                .map(|(p, n)| (id_key(n), p))
                .collect::<Vec<_>>()
        });
        page(items, Page::new(first, after, last, before, reverse))
    }

    /// Always empty: a variant added reads back as its product (one
    /// variant per product).
    async fn product_variants(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GVariant>> {
        page(Vec::new(), Page::new(first, after, last, before, reverse))
    }
}

/// `DiscountItems`.
#[derive(Union, Clone, Debug)]
pub enum DiscountItems {
    /// The whole order.
    All(AllDiscountItems),
    /// Some products.
    Products(DiscountProducts),
}

/// `DiscountCustomerGets`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountCustomerGets {
    value: DiscountCustomerGetsValue,
    items: DiscountItems,
    applies_on_one_time_purchase: bool,
    applies_on_subscription: bool,
}

/// `DiscountCombinesWith`: nothing.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountCombinesWith {
    order_discounts: bool,
    product_discounts: bool,
    shipping_discounts: bool,
}

/// `DiscountBuyerSelectionAll`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountBuyerSelectionAll {
    all: DiscountBuyerSelection,
}

/// `DiscountContext`: every buyer.
#[derive(Union, Clone, Debug)]
pub enum DiscountContext {
    /// Every buyer.
    All(DiscountBuyerSelectionAll),
}

/// `DiscountMinimumQuantity` (never: promotions have no minimum).
#[allow(dead_code)] // never made: promotions have no minimum
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountMinimumQuantity {
    greater_than_or_equal_to_quantity: UnsignedInt64,
}

/// `DiscountMinimumRequirement`: always null.
#[allow(dead_code)] // never made: promotions have no minimum
#[derive(Union, Clone, Debug)]
pub enum DiscountMinimumRequirement {
    /// A minimum quantity.
    Quantity(DiscountMinimumQuantity),
}

/// `DiscountClass`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum DiscountClass {
    /// Off the order.
    Order,
    /// Off products.
    Product,
    /// Off shipping.
    Shipping,
}

/// `DiscountAutomaticBasic`: promotion `p` as it reads at `now`.
#[derive(Clone, Debug)]
pub struct DiscountAutomaticBasic {
    p: Promotion,
    currency: String,
    now: ChronoDateTime<Utc>,
}

#[Object]
impl DiscountAutomaticBasic {
    async fn title(&self) -> &str {
        &self.p.title
    }
    async fn starts_at(&self) -> super::graphql::DateTime {
        super::graphql::DateTime(self.p.starts_at)
    }
    async fn ends_at(&self) -> Option<super::graphql::DateTime> {
        self.p.ends_at.map(super::graphql::DateTime)
    }
    async fn status(&self) -> DiscountStatus {
        status_at(&self.p, self.now)
    }
    async fn created_at(&self) -> super::graphql::DateTime {
        super::graphql::DateTime(self.p.created_at)
    }
    async fn updated_at(&self) -> super::graphql::DateTime {
        super::graphql::DateTime(self.p.updated_at)
    }
    async fn customer_gets(&self) -> DiscountCustomerGets {
        let value = match self.p.kind {
            DiscountKind::Percentage => DiscountCustomerGetsValue::Percentage(DiscountPercentage {
                percentage: fraction(self.p.value),
            }),
            DiscountKind::FixedAmount => DiscountCustomerGetsValue::Amount(DiscountAmount {
                amount: money(
                    self.p.value,
                    self.p.currency.as_deref().unwrap_or(&self.currency),
                ),
                applies_on_each_item: !self.p.skus.is_empty(),
            }),
        };
        let items = if self.p.skus.is_empty() {
            DiscountItems::All(AllDiscountItems { all_items: true })
        } else {
            DiscountItems::Products(DiscountProducts {
                skus: self.p.skus.clone(),
            })
        };
        DiscountCustomerGets {
            value,
            items,
            applies_on_one_time_purchase: true,
            applies_on_subscription: false,
        }
    }
    async fn combines_with(&self) -> DiscountCombinesWith {
        DiscountCombinesWith {
            order_discounts: false,
            product_discounts: false,
            shipping_discounts: false,
        }
    }
    async fn context(&self) -> DiscountContext {
        DiscountContext::All(DiscountBuyerSelectionAll {
            all: DiscountBuyerSelection::All,
        })
    }
    async fn minimum_requirement(&self) -> Option<DiscountMinimumRequirement> {
        None
    }
    async fn discount_classes(&self) -> Vec<DiscountClass> {
        if self.p.skus.is_empty() {
            vec![DiscountClass::Order]
        } else {
            vec![DiscountClass::Product]
        }
    }
    async fn recurring_cycle_limit(&self) -> i32 {
        1
    }
    async fn summary(&self) -> String {
        self.p.describe()
    }
}

/// `DiscountAutomatic`.
#[derive(Union, Clone, Debug)]
pub enum DiscountAutomatic {
    /// A basic automatic discount.
    Basic(DiscountAutomaticBasic),
}

/// `Discount`.
#[derive(Union, Clone, Debug)]
pub enum Discount {
    /// A basic automatic discount.
    Basic(DiscountAutomaticBasic),
}

/// `DiscountAutomaticNode`.
#[derive(Clone, Debug)]
pub struct DiscountAutomaticNode {
    basic: DiscountAutomaticBasic,
}

#[Object]
impl DiscountAutomaticNode {
    async fn id(&self) -> ID {
        ID(node_gid(&self.basic.p))
    }
    async fn automatic_discount(&self) -> DiscountAutomatic {
        DiscountAutomatic::Basic(self.basic.clone())
    }
}

/// `DiscountNode`.
#[derive(Clone, Debug)]
pub struct DiscountNode {
    basic: DiscountAutomaticBasic,
}

#[Object]
impl DiscountNode {
    async fn id(&self) -> ID {
        ID(node_gid(&self.basic.p))
    }
    async fn discount(&self) -> Discount {
        Discount::Basic(self.basic.clone())
    }
}

fn view(sh: &Shared, s: &ShopState, p: Promotion) -> DiscountAutomaticBasic {
    DiscountAutomaticBasic {
        p,
        currency: shop_currency(s),
        now: sh.sim.core.clock.now(),
    }
}

fn node_of(sh: &Shared, p: Promotion) -> DiscountAutomaticNode {
    let basic = sh.sim.read(|s| view(sh, s, p));
    DiscountAutomaticNode { basic }
}

/// `DiscountAutomaticBasicCreatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountAutomaticBasicCreatePayload {
    automatic_discount_node: Option<DiscountAutomaticNode>,
    user_errors: Vec<DiscountUserError>,
}

/// `DiscountAutomaticBasicUpdatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountAutomaticBasicUpdatePayload {
    automatic_discount_node: Option<DiscountAutomaticNode>,
    user_errors: Vec<DiscountUserError>,
}

/// `DiscountAutomaticDeactivatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct DiscountAutomaticDeactivatePayload {
    automatic_discount_node: Option<DiscountAutomaticNode>,
    user_errors: Vec<DiscountUserError>,
}

fn payload(
    sh: &Shared,
    r: Result<Promotion, DiscountUserError>,
) -> (Option<DiscountAutomaticNode>, Vec<DiscountUserError>) {
    match r {
        Ok(p) => (Some(node_of(sh, p)), Vec::new()),
        Err(e) => (None, vec![e]),
    }
}

/// `discountAutomaticBasicCreate(automaticBasicDiscount:)`.
pub fn basic_create(
    ctx: &Context<'_>,
    input: DiscountAutomaticBasicInput,
) -> DiscountAutomaticBasicCreatePayload {
    let sh = shared(ctx);
    let (automatic_discount_node, user_errors) = payload(sh, create(sh, &input));
    DiscountAutomaticBasicCreatePayload {
        automatic_discount_node,
        user_errors,
    }
}

/// `discountAutomaticBasicUpdate(id:, automaticBasicDiscount:)`.
pub fn basic_update(
    ctx: &Context<'_>,
    id: ID,
    input: DiscountAutomaticBasicInput,
) -> DiscountAutomaticBasicUpdatePayload {
    let sh = shared(ctx);
    let (automatic_discount_node, user_errors) = payload(sh, update(sh, &id, &input));
    DiscountAutomaticBasicUpdatePayload {
        automatic_discount_node,
        user_errors,
    }
}

/// `discountAutomaticDeactivate(id:)`.
pub fn basic_deactivate(ctx: &Context<'_>, id: ID) -> DiscountAutomaticDeactivatePayload {
    let sh = shared(ctx);
    let (automatic_discount_node, user_errors) = payload(sh, deactivate(sh, &id));
    DiscountAutomaticDeactivatePayload {
        automatic_discount_node,
        user_errors,
    }
}

fn promotion(sh: &Shared, id: &str) -> Option<DiscountAutomaticBasic> {
    let key = key_of(id)?;
    sh.sim
        .read(|s| s.promotions.get(&key).ok().map(|p| view(sh, s, p)))
}

/// `automaticDiscountNode(id:)`: null for an unknown id.
pub fn automatic_discount_node(ctx: &Context<'_>, id: &ID) -> Option<DiscountAutomaticNode> {
    promotion(shared(ctx), id).map(|basic| DiscountAutomaticNode { basic })
}

/// `discountNode(id:)`: null for an unknown id (only automatic discounts
/// exist).
pub fn discount_node(ctx: &Context<'_>, id: &ID) -> Option<DiscountNode> {
    promotion(shared(ctx), id).map(|basic| DiscountNode { basic })
}

/// `AutomaticDiscountSortKeys`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum AutomaticDiscountSortKeys {
    /// Creation time.
    CreatedAt,
    /// Id.
    Id,
}

/// Whether `p` matches search term `t` at `now`: `status:` (`active`,
/// `scheduled`, `expired`, comma-separated), `title:` (a piece, any case),
/// `id:`, `created_at:`, `updated_at:`, `starts_at:`, `ends_at:`, and bare
/// words (a piece of the title).
pub fn matches(p: &Promotion, t: &Term, now: ChronoDateTime<Utc>) -> Result<bool, String> {
    Ok(match t.field.as_str() {
        "status" => {
            let s = status_name(status_at(p, now));
            t.value.split(',').any(|v| v.trim().eq_ignore_ascii_case(s))
        }
        "title" | "" => p.title.to_lowercase().contains(&t.value.to_lowercase()),
        "id" => number_matches(number(p), t),
        "created_at" => time_matches(p.created_at, t),
        "updated_at" => time_matches(p.updated_at, t),
        "starts_at" => time_matches(p.starts_at, t),
        "ends_at" => p.ends_at.is_some_and(|e| time_matches(e, t)),
        other => {
            return Err(format!(
                "omnisim's discount search does not support `{other}:`; it supports status, title, id, created_at, updated_at, starts_at, ends_at and words"
            ));
        }
    })
}

/// `automaticDiscountNodes(query:, sortKey:)`.
pub fn automatic_discount_nodes(
    ctx: &Context<'_>,
    p: Page,
    query: Option<String>,
    sort_key: Option<AutomaticDiscountSortKeys>,
) -> async_graphql::Result<Connection<String, DiscountAutomaticNode>> {
    let sh = shared(ctx);
    let terms = terms(query.as_deref().unwrap_or(""));
    let now = sh.sim.core.clock.now();
    let found = sh.sim.read(|s| {
        let mut out = Vec::new();
        for promo in s.promotions.list(None) {
            let mut keep = true;
            for t in &terms {
                keep = keep && matches(&promo, t, now)?;
            }
            if keep {
                let n = number(&promo);
                let k = match sort_key {
                    Some(AutomaticDiscountSortKeys::CreatedAt) => time_key(promo.created_at, n),
                    _ => id_key(n),
                };
                out.push((k, promo));
            }
        }
        let currency = shop_currency(s);
        Ok::<_, String>(
            out.into_iter()
                .map(|(k, p)| {
                    let basic = DiscountAutomaticBasic {
                        p,
                        currency: currency.clone(),
                        now,
                    };
                    (k, DiscountAutomaticNode { basic })
                })
                .collect::<Vec<_>>(),
        )
    });
    page(found.map_err(async_graphql::Error::new)?, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use rust_decimal_macros::dec;

    fn promo() -> Promotion {
        let t = ChronoDateTime::<Utc>::UNIX_EPOCH;
        Promotion {
            id: "promo_000007".into(),
            title: "SPRING".into(),
            kind: DiscountKind::Percentage,
            value: dec!(20),
            currency: None,
            skus: vec!["SCARF".into()],
            starts_at: t + TimeDelta::hours(1),
            ends_at: Some(t + TimeDelta::hours(3)),
            status: PromotionStatus::Active,
            external_ref: None,
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    #[test]
    fn a_percentage_is_a_fraction_on_shopify_and_a_percent_natively() {
        assert_eq!(percent(0.2), Ok(dec!(20)));
        assert_eq!(percent(0.125), Ok(dec!(12.5)));
        assert_eq!(percent(1.0), Ok(dec!(100)));
        assert_eq!(percent(0.0001), Ok(dec!(0.01)));
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(percent(bad).is_err(), "{bad}");
        }
        assert_eq!(fraction(dec!(20)), 0.2);
        assert_eq!(fraction(dec!(12.5)), 0.125);
        assert_eq!(fraction(dec!(100)), 1.0);
        for f in [0.2, 0.15, 0.333, 0.05] {
            assert_eq!(fraction(percent(f).unwrap()), f, "round trip of {f}");
        }
    }

    #[test]
    fn status_follows_the_window_and_the_clock() {
        let p = promo();
        let at = |h: i64| ChronoDateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(h);
        assert_eq!(status_at(&p, at(0)), DiscountStatus::Scheduled);
        assert_eq!(status_at(&p, at(1)), DiscountStatus::Active);
        assert_eq!(status_at(&p, at(2)), DiscountStatus::Active);
        assert_eq!(
            status_at(&p, at(3)),
            DiscountStatus::Expired,
            "the end is exclusive"
        );
        let open = Promotion {
            ends_at: None,
            ..promo()
        };
        assert_eq!(status_at(&open, at(1000)), DiscountStatus::Active);
        let off = Promotion {
            status: PromotionStatus::Disabled,
            ..promo()
        };
        assert_eq!(status_at(&off, at(0)), DiscountStatus::Expired);
        assert_eq!(status_at(&off, at(2)), DiscountStatus::Expired);
        // The webhook body gives the status at the change.
        assert_eq!(webhook_body(&p)["status"], "SCHEDULED");
        assert_eq!(
            webhook_body(&p)["admin_graphql_api_id"],
            "gid://shopify/DiscountAutomaticNode/7"
        );
    }

    #[test]
    fn ids_and_values_translate_and_the_unmodelled_is_refused_by_name() {
        assert_eq!(
            key_of("gid://shopify/DiscountAutomaticNode/7").as_deref(),
            Some("promo_000007")
        );
        assert_eq!(
            key_of("gid://shopify/DiscountNode/7").as_deref(),
            Some("promo_000007")
        );
        assert_eq!(key_of("gid://shopify/Product/7"), None);
        let amount = |each| DiscountCustomerGetsValueInput {
            discount_amount: Some(DiscountAmountInput {
                amount: Some(Dec(dec!(5))),
                applies_on_each_item: each,
            }),
            ..Default::default()
        };
        assert_eq!(
            value_of(&amount(None)).unwrap(),
            Value {
                kind: DiscountKind::FixedAmount,
                value: dec!(5),
                each: false
            }
        );
        assert!(value_of(&amount(Some(true))).unwrap().each);
        let both = DiscountCustomerGetsValueInput {
            percentage: Some(0.1),
            ..amount(None)
        };
        assert_eq!(
            value_of(&both).unwrap_err().code,
            Some(DiscountErrorCode::TooManyArguments)
        );
        let skus = vec!["SCARF".to_owned()];
        assert!(check_each(DiscountKind::FixedAmount, true, &skus).is_ok());
        assert!(check_each(DiscountKind::FixedAmount, false, &[]).is_ok());
        let e = check_each(DiscountKind::FixedAmount, false, &skus).unwrap_err();
        assert_eq!(
            e.field.unwrap().last().map(String::as_str),
            Some("appliesOnEachItem")
        );
        assert!(check_each(DiscountKind::FixedAmount, true, &[]).is_err());
        assert!(check_each(DiscountKind::Percentage, false, &skus).is_ok());

        let field = |input: DiscountAutomaticBasicInput| unsupported(&input).and_then(|e| e.field);
        assert_eq!(field(DiscountAutomaticBasicInput::default()), None);
        assert_eq!(
            field(DiscountAutomaticBasicInput {
                minimum_requirement: Some(DiscountMinimumRequirementInput {
                    subtotal: Some(DiscountMinimumSubtotalInput {
                        greater_than_or_equal_to_subtotal: Some(Dec(dec!(50))),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            Some(vec![
                "automaticBasicDiscount".into(),
                "minimumRequirement".into(),
                "subtotal".into()
            ])
        );
        assert_eq!(
            field(DiscountAutomaticBasicInput {
                combines_with: Some(DiscountCombinesWithInput {
                    product_discounts: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            Some(vec![
                "automaticBasicDiscount".into(),
                "combinesWith".into(),
                "productDiscounts".into()
            ])
        );
        assert_eq!(
            field(DiscountAutomaticBasicInput {
                combines_with: Some(DiscountCombinesWithInput {
                    order_discounts: Some(false),
                    ..Default::default()
                }),
                recurring_cycle_limit: Some(1),
                ..Default::default()
            }),
            None,
            "the defaults are taken"
        );
        assert_eq!(
            field(DiscountAutomaticBasicInput {
                recurring_cycle_limit: Some(3),
                ..Default::default()
            }),
            Some(vec![
                "automaticBasicDiscount".into(),
                "recurringCycleLimit".into()
            ])
        );
    }
}
