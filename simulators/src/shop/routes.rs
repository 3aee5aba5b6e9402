//! The shop simulator's HTTP routes: extract, call the state machine, map
//! the result.
//!
//! Operations that move money run in three phases so that the state lock is
//! never held across the gateway call: `begin_*` validates and reserves under
//! the lock, the handler awaits pay, then `place_order` / `finish_*` applies
//! the outcome. An order operation holds the order's payment lock from phase
//! 1 until the handler ends ([`Unlock`] releases it even if the request is
//! dropped), so a concurrent write to the same order answers 429
//! `lock_timeout`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use omnisim_api::ErrorBody;
use omnisim_api::pay::{
    CancellationReason, CaptureMethod, CreateGiftCard, CreatePaymentIntent, IntentStatus, PayClient,
};
use omnisim_api::shop::CreateOrderTransaction;
use omnisim_api::shop::{
    AdjustInventory, CancelOrder, CancelReason, CaptureOrder, Checkout, CreateDiscountCode,
    CreateOrderRefund, CreateProduct, DiscountCode, DiscountCodeList, FinancialStatus,
    FulfillOrder, GiftCardPurchase, InventoryCause, InventoryCauseKind, InventoryLevel,
    InventoryLevelList, InventoryLevelUpdate, IssueGiftCard, IssuedGiftCard, Order, OrderList,
    OrderRefund, Product, ProductList, SellGiftCard, SetInventory, SetTaxRate, ShopSettings,
    TaxRate, TaxRateList, UpdateProduct,
};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::gateway::{self, pay_error};
use super::state::{PayStep, PaymentOutcome, ShopState};
use crate::core::Simulator;
use crate::error::{ErrorKind, SimResult};
use crate::extract::{Json, Query};
use crate::money::MoneyJson;
use crate::shared::{RouteTable, RouterState, assemble};

/// What every shop handler reaches: the simulator and the gateway.
#[derive(Clone)]
pub struct Ctx {
    sim: Arc<Simulator<ShopState>>,
    pay: PayClient,
}

type Reply<T> = SimResult<MoneyJson<T>>;

/// The shop simulator's whole router; `pay` reaches the gateway.
pub fn router(sim: Arc<Simulator<ShopState>>, pay: PayClient) -> Router {
    static TABLE: RouteTable<Ctx> = RouteTable::new();
    let dialect = crate::dialects::shopify::routes(Arc::clone(&sim), pay.clone());
    let ctx = Ctx {
        sim: Arc::clone(&sim),
        pay,
    };
    assemble(
        sim,
        ctx,
        &TABLE,
        own_routes,
        "omnisim shop (ecommerce platform)",
        dialect,
    )
}

fn own_routes() -> OpenApiRouter<RouterState<Ctx>> {
    OpenApiRouter::with_openapi(EventSchemas::openapi())
        .routes(routes!(create_product, list_products))
        .routes(routes!(get_product, update_product))
        .routes(routes!(get_level))
        .routes(routes!(list_levels))
        .routes(routes!(adjust))
        .routes(routes!(set))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_tax_rates))
        .routes(routes!(put_tax_rate))
        .routes(routes!(create_discount, list_discounts))
        .routes(routes!(get_discount))
        .routes(routes!(checkout, list_orders))
        .routes(routes!(sell_gift_card))
        .routes(routes!(issue_gift_card))
        .routes(routes!(get_order))
        .routes(routes!(capture))
        .routes(routes!(fulfill))
        .routes(routes!(ready_for_pickup))
        .routes(routes!(cancel))
        .routes(routes!(refund))
        .routes(routes!(record_transaction))
        .merge(crate::customers::routes())
        .merge(crate::promotions::routes())
}

impl FromRef<RouterState<Ctx>> for Ctx {
    fn from_ref(state: &RouterState<Ctx>) -> Ctx {
        state.own.clone()
    }
}

impl FromRef<RouterState<Ctx>> for crate::promotions::Desk {
    fn from_ref(state: &RouterState<Ctx>) -> crate::promotions::Desk {
        state.own.sim.clone()
    }
}

impl FromRef<RouterState<Ctx>> for crate::customers::Desk {
    fn from_ref(state: &RouterState<Ctx>) -> crate::customers::Desk {
        state.own.sim.clone()
    }
}

/// Schemas of event data no endpoint returns, so that connectors find them.
#[derive(OpenApi)]
#[openapi(components(schemas(InventoryLevelUpdate, InventoryCause, InventoryCauseKind)))]
struct EventSchemas;

/// Releases an order's payment lock when dropped.
struct Unlock {
    sim: Arc<Simulator<ShopState>>,
    id: String,
}

impl Drop for Unlock {
    fn drop(&mut self) {
        let _ = self.sim.commit(|s, _| {
            s.release(&self.id);
            Ok(())
        });
    }
}

impl Ctx {
    /// The context the Shopify dialect calls these handlers with.
    pub(crate) fn new(sim: Arc<Simulator<ShopState>>, pay: PayClient) -> Self {
        Ctx { sim, pay }
    }

    fn unlock(&self, id: &str) -> Unlock {
        Unlock {
            sim: Arc::clone(&self.sim),
            id: id.to_owned(),
        }
    }

    /// For an order whose payment is still settling (or, with
    /// `authorized_too`, only authorized), asks the gateway how it stands and
    /// records the answer.
    async fn refresh(&self, id: &str, authorized_too: bool) -> SimResult<()> {
        let Some(intent) = self.sim.read(|s| s.intent_to_refresh(id, authorized_too))? else {
            return Ok(());
        };
        let pi = gateway::retrying(|| self.pay.intent(&intent))
            .await
            .map_err(pay_error)?;
        self.sim.commit(|s, fx| s.sync_payment(fx, id, &pi))?;
        Ok(())
    }
}

// ------------------------------------------------------------------ products

/// `POST /v1/products`: add a product (emits `products/update`).
#[utoipa::path(post, path = "/v1/products", tag = "products", request_body = CreateProduct,
    responses(
        (status = 200, body = Product),
        (status = 400, description = "Malformed JSON or a missing field", body = ErrorBody),
        (status = 409, description = "`sku_exists`", body = ErrorBody),
        (status = 422, description = "A bad price, currency, SKU or channel", body = ErrorBody)))]
async fn create_product(State(ctx): State<Ctx>, Json(req): Json<CreateProduct>) -> Reply<Product> {
    ctx.sim
        .commit(|s, fx| s.create_product(fx, req))
        .map(MoneyJson)
}

/// `GET /v1/products`: every product, by SKU.
#[utoipa::path(get, path = "/v1/products", tag = "products",
    responses((status = 200, body = ProductList)))]
async fn list_products(State(ctx): State<Ctx>) -> MoneyJson<ProductList> {
    MoneyJson(ProductList {
        data: ctx.sim.read(ShopState::list_products),
    })
}

/// `GET /v1/products/{sku}`.
#[utoipa::path(get, path = "/v1/products/{sku}", tag = "products",
    params(("sku" = String, Path, description = "The SKU")),
    responses((status = 200, body = Product),
        (status = 404, description = "`unknown_sku`", body = ErrorBody)))]
async fn get_product(State(ctx): State<Ctx>, Path(sku): Path<String>) -> Reply<Product> {
    ctx.sim.read(|s| s.get_product(&sku)).map(MoneyJson)
}

/// `PATCH /v1/products/{sku}`: change the fields given; channel statuses are
/// merged and an empty `tax_code` clears it. Emits `products/update` when
/// anything changed.
#[utoipa::path(patch, path = "/v1/products/{sku}", tag = "products", request_body = UpdateProduct,
    params(("sku" = String, Path, description = "The SKU")),
    responses((status = 200, body = Product),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_sku`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_product(
    State(ctx): State<Ctx>,
    Path(sku): Path<String>,
    Json(req): Json<UpdateProduct>,
) -> Reply<Product> {
    ctx.sim
        .commit(|s, fx| s.update_product(fx, &sku, req))
        .map(MoneyJson)
}

// ----------------------------------------------------------------- inventory

/// The location of one level.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LevelQuery {
    /// The location id (required; `GET /v1/inventory_levels` lists every location).
    location: String,
}

/// `GET /v1/inventory/{sku}?location=`: one level. Every known SKU has a
/// level (zeros until written) at every known location.
#[utoipa::path(get, path = "/v1/inventory/{sku}", tag = "inventory",
    params(("sku" = String, Path, description = "The SKU"), LevelQuery),
    responses((status = 200, body = InventoryLevel),
        (status = 400, description = "`location` missing", body = ErrorBody),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody)))]
async fn get_level(
    State(ctx): State<Ctx>,
    Path(sku): Path<String>,
    Query(q): Query<LevelQuery>,
) -> Reply<InventoryLevel> {
    ctx.sim
        .read(|s| s.get_level(&sku, &q.location))
        .map(MoneyJson)
}

/// Filters of the level listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LevelsQuery {
    /// Only this SKU.
    #[serde(default)]
    sku: Option<String>,
    /// Only this location.
    #[serde(default)]
    location: Option<String>,
}

/// `GET /v1/inventory_levels?sku=&location=`: every level of every known SKU
/// at every known location (zeros until written), by SKU then location;
/// either filter narrows it. Pollers reconcile from this in one call.
#[utoipa::path(get, path = "/v1/inventory_levels", tag = "inventory", params(LevelsQuery),
    responses((status = 200, body = InventoryLevelList),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody)))]
async fn list_levels(
    State(ctx): State<Ctx>,
    Query(q): Query<LevelsQuery>,
) -> Reply<InventoryLevelList> {
    ctx.sim
        .read(|s| s.list_levels(q.sku.as_deref(), q.location.as_deref()))
        .map(|data| MoneyJson(InventoryLevelList { data }))
}

/// `POST /v1/inventory/adjust`: add `delta` to `available` (and `on_hand`).
/// With `change_from`, only if `available` equals it now. Emits
/// `inventory_levels/update` with cause `adjust` and the `reference`.
#[utoipa::path(post, path = "/v1/inventory/adjust", tag = "inventory", request_body = AdjustInventory,
    responses((status = 200, body = InventoryLevel),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody),
        (status = 409, description = "`change_from_quantity_stale`: the message states the actual value", body = ErrorBody),
        (status = 422, description = "A zero delta or an unknown reason", body = ErrorBody)))]
async fn adjust(State(ctx): State<Ctx>, Json(req): Json<AdjustInventory>) -> Reply<InventoryLevel> {
    ctx.sim.commit(|s, fx| s.adjust(fx, req)).map(MoneyJson)
}

/// `POST /v1/inventory/set`: make `available` exactly this (for the source
/// of truth only). With `change_from`, only if `available` equals it now.
/// Emits `inventory_levels/update` with cause `set` unless nothing changed.
#[utoipa::path(post, path = "/v1/inventory/set", tag = "inventory", request_body = SetInventory,
    responses((status = 200, body = InventoryLevel),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody),
        (status = 409, description = "`change_from_quantity_stale`", body = ErrorBody),
        (status = 422, description = "A negative `available`", body = ErrorBody)))]
async fn set(State(ctx): State<Ctx>, Json(req): Json<SetInventory>) -> Reply<InventoryLevel> {
    ctx.sim.commit(|s, fx| s.set(fx, req)).map(MoneyJson)
}

// ------------------------------------------------- settings, tax, discounts

/// `GET /v1/settings`.
#[utoipa::path(get, path = "/v1/settings", tag = "settings",
    responses((status = 200, body = ShopSettings)))]
async fn get_settings(State(ctx): State<Ctx>) -> MoneyJson<ShopSettings> {
    MoneyJson(ctx.sim.read(ShopState::settings))
}

/// `PUT /v1/settings`: `allow` or `block` (the default) selling out of stock.
#[utoipa::path(put, path = "/v1/settings", tag = "settings", request_body = ShopSettings,
    responses((status = 200, body = ShopSettings),
        (status = 400, body = ErrorBody),
        (status = 422, description = "`warn` is a POS policy", body = ErrorBody)))]
async fn put_settings(
    State(ctx): State<Ctx>,
    Json(req): Json<ShopSettings>,
) -> Reply<ShopSettings> {
    ctx.sim.commit(|s, _| s.put_settings(req)).map(MoneyJson)
}

/// `GET /v1/tax_rates`: every rate; unknown codes are taxed at 0.
#[utoipa::path(get, path = "/v1/tax_rates", tag = "tax",
    responses((status = 200, body = TaxRateList)))]
async fn list_tax_rates(State(ctx): State<Ctx>) -> MoneyJson<TaxRateList> {
    MoneyJson(TaxRateList {
        data: ctx.sim.read(ShopState::list_tax_rates),
    })
}

/// `PUT /v1/tax_rates/{code}`: the rate of a tax code, 0 ≤ rate < 1.
#[utoipa::path(put, path = "/v1/tax_rates/{code}", tag = "tax", request_body = SetTaxRate,
    params(("code" = String, Path, description = "The tax code")),
    responses((status = 200, body = TaxRate),
        (status = 400, body = ErrorBody),
        (status = 422, description = "A rate outside 0 ≤ rate < 1", body = ErrorBody)))]
async fn put_tax_rate(
    State(ctx): State<Ctx>,
    Path(code): Path<String>,
    Json(req): Json<SetTaxRate>,
) -> Reply<TaxRate> {
    ctx.sim
        .commit(|s, _| s.put_tax_rate(&code, req))
        .map(MoneyJson)
}

/// `POST /v1/discount_codes`.
#[utoipa::path(post, path = "/v1/discount_codes", tag = "discounts", request_body = CreateDiscountCode,
    responses((status = 200, body = DiscountCode),
        (status = 400, body = ErrorBody),
        (status = 409, description = "`discount_code_exists`", body = ErrorBody),
        (status = 422, description = "A value out of range", body = ErrorBody)))]
async fn create_discount(
    State(ctx): State<Ctx>,
    Json(req): Json<CreateDiscountCode>,
) -> Reply<DiscountCode> {
    ctx.sim.commit(|s, _| s.create_discount(req)).map(MoneyJson)
}

/// `GET /v1/discount_codes`: every code, sorted.
#[utoipa::path(get, path = "/v1/discount_codes", tag = "discounts",
    responses((status = 200, body = DiscountCodeList)))]
async fn list_discounts(State(ctx): State<Ctx>) -> MoneyJson<DiscountCodeList> {
    MoneyJson(DiscountCodeList {
        data: ctx.sim.read(ShopState::list_discounts),
    })
}

/// `GET /v1/discount_codes/{code}`: the code and how often it was used.
#[utoipa::path(get, path = "/v1/discount_codes/{code}", tag = "discounts",
    params(("code" = String, Path, description = "The discount code")),
    responses((status = 200, body = DiscountCode),
        (status = 404, description = "`unknown_discount_code`", body = ErrorBody)))]
async fn get_discount(State(ctx): State<Ctx>, Path(code): Path<String>) -> Reply<DiscountCode> {
    ctx.sim.read(|s| s.get_discount(&code)).map(MoneyJson)
}

// -------------------------------------------------------------------- orders

/// `POST /v1/orders`: checkout. Validates and prices the lines (discount
/// split per line, tax per line), checks stock under the `block` policy,
/// authorizes the total through the gateway (card-not-present; manual capture
/// by default), then creates the order and commits its stock. Emits
/// `orders/create`, one `inventory_levels/update` per level (cause `order`)
/// and, when captured at once, `orders/paid`. A decline creates no order. A
/// payment the gateway never answered creates none either (503): the shop
/// asks again in the background with the same idempotency key and voids or
/// refunds whatever the unanswered attempt made.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = Checkout,
    responses((status = 200, body = Order),
        (status = 400, body = ErrorBody),
        (status = 402, description = "Declined: `decline_code` and `payment_intent` as the gateway gave them", body = ErrorBody),
        (status = 404, description = "`unknown_sku` (`lines[i].sku`) or `unknown_location`", body = ErrorBody),
        (status = 409, description = "`out_of_stock` (`lines[i].sku`)", body = ErrorBody),
        (status = 422, description = "`product_unavailable`, `currency_mismatch`, `unknown_discount_code`, `discount_unavailable`, `parameter_invalid`, or a gateway refusal naming `payment`", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
async fn checkout(State(ctx): State<Ctx>, Json(req): Json<Checkout>) -> Reply<Order> {
    let draft = ctx.sim.commit(|s, fx| s.begin_checkout(fx, req))?;
    let pay_key = draft.pay_key.clone();
    let outcome = if draft.order.total.is_zero() {
        PaymentOutcome::Free
    } else {
        let body = CreatePaymentIntent {
            amount: draft.order.total,
            currency: draft.order.currency.clone(),
            capture_method: draft.order.capture_method,
            payment_method: draft.payment.clone(),
            metadata: BTreeMap::from([
                ("order_id".to_owned(), draft.order.id.clone()),
                ("order_name".to_owned(), draft.order.name.clone()),
            ]),
        };
        let pi = match gateway::create_intent(&ctx.pay, &body, &pay_key).await {
            Ok(pi) => pi,
            Err(failed) if failed.unresolved => {
                // The card may have been authorized all the same: no order
                // will hold it, so the shop voids it once the gateway answers.
                let detail = failed.error.to_string();
                gateway::abandon(ctx.pay.clone(), body, pay_key);
                return Err(gateway::unanswered(detail));
            }
            Err(failed) => return Err(pay_error(failed.error)),
        };
        match pi.status {
            IntentStatus::RequiresCapture => PaymentOutcome::Authorized(pi),
            IntentStatus::Succeeded => PaymentOutcome::Captured(pi),
            IntentStatus::Processing => PaymentOutcome::Pending(pi),
            IntentStatus::RequiresAction => {
                // 3-D Secure cannot be completed in an API checkout.
                gateway::release(&ctx.pay, &pi, false, &pay_key).await;
                return Err(gateway::declined(
                    "authentication_required",
                    "the card requires authentication, which this checkout cannot perform"
                        .to_owned(),
                    Some(pi.id),
                ));
            }
            IntentStatus::RequiresPaymentMethod
            | IntentStatus::RequiresConfirmation
            | IntentStatus::Canceled => {
                return Err(gateway::declined(
                    "generic_decline",
                    "the payment was not authorized".to_owned(),
                    Some(pi.id),
                ));
            }
        }
    };
    match ctx
        .sim
        .commit(|s, fx| s.place_order(fx, draft, outcome.clone()))
    {
        Ok(order) => Ok(MoneyJson(order)),
        Err(e) => {
            match &outcome {
                PaymentOutcome::Free => {}
                PaymentOutcome::Authorized(pi) | PaymentOutcome::Pending(pi) => {
                    gateway::release(&ctx.pay, pi, false, &pay_key).await;
                }
                PaymentOutcome::Captured(pi) => {
                    gateway::release(&ctx.pay, pi, true, &pay_key).await;
                }
            }
            Err(e)
        }
    }
}

/// `POST /v1/gift_cards`: a gift card bought online. The payment is charged
/// at once (a digital good); once it succeeded the shop issues the card at
/// the gateway under `code`, for `amount`. A code some card already holds is
/// refused before anything is charged (409 `resource_already_exists`,
/// field `code`); a decline issues nothing (402). Should issuing fail after
/// the charge, the charge is refunded and the purchase refused.
#[utoipa::path(post, path = "/v1/gift_cards", tag = "gift_cards", request_body = SellGiftCard,
    responses((status = 200, body = GiftCardPurchase),
        (status = 400, body = ErrorBody),
        (status = 402, description = "Declined: `decline_code` and `payment_intent` as the gateway gave them", body = ErrorBody),
        (status = 409, description = "`resource_already_exists` (`code`): a gift card already holds this code", body = ErrorBody),
        (status = 422, description = "`parameter_invalid` (`code`, `amount`, `currency`, `payment`), or a gateway refusal naming `payment`", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
async fn sell_gift_card(
    State(ctx): State<Ctx>,
    Json(req): Json<SellGiftCard>,
) -> Reply<GiftCardPurchase> {
    let (currency, now, key) = ctx.sim.commit(|s, fx| s.begin_gift_card_sale(fx, &req))?;
    code_is_free(&ctx.pay, &req.code).await?;
    let body = CreatePaymentIntent {
        amount: req.amount,
        currency: currency.clone(),
        capture_method: CaptureMethod::Automatic,
        payment_method: req.payment.clone(),
        metadata: BTreeMap::from([
            ("gift_card_code".to_owned(), req.code.clone()),
            (
                "gift_card_customer".to_owned(),
                req.customer.clone().unwrap_or_default(),
            ),
        ]),
    };
    let pay_key = format!("{key}-charge");
    let pi = match gateway::create_intent(&ctx.pay, &body, &pay_key).await {
        Ok(pi) => pi,
        Err(failed) if failed.unresolved => {
            let detail = failed.error.to_string();
            gateway::abandon(ctx.pay.clone(), body, pay_key);
            return Err(gateway::unanswered(detail));
        }
        Err(failed) => return Err(pay_error(failed.error)),
    };
    if pi.status != IntentStatus::Succeeded {
        let captured = false;
        gateway::release(&ctx.pay, &pi, captured, &pay_key).await;
        return Err(gateway::declined(
            "generic_decline",
            format!("the payment was not taken: the intent is {:?}", pi.status),
            Some(pi.id),
        ));
    }
    let issue_key = format!("{key}-issue");
    if let Err(err) = issue_card(&ctx.pay, &req.code, req.amount, &currency, &issue_key).await {
        gateway::release(&ctx.pay, &pi, true, &pay_key).await;
        return Err(err);
    }
    Ok(MoneyJson(GiftCardPurchase {
        code: req.code,
        amount: pi.amount_received,
        currency,
        customer: req.customer,
        payment_intent: pi.id,
        created_at: now,
    }))
}

/// `POST /v1/gift_cards/issue`: a gift card the merchant issues without a
/// sale. Nothing is charged: the shop issues the card at the gateway under
/// `code`, for `amount`, then records `gift_cards/issued` naming its
/// `reason`. A code some card already holds is 409 `resource_already_exists`
/// (field `code`).
#[utoipa::path(post, path = "/v1/gift_cards/issue", tag = "gift_cards", request_body = IssueGiftCard,
    responses((status = 200, body = IssuedGiftCard),
        (status = 400, body = ErrorBody),
        (status = 409, description = "`resource_already_exists` (`code`): a gift card already holds this code", body = ErrorBody),
        (status = 422, description = "`parameter_invalid` (`code`, `amount`, `currency`, `reason`, `customer`)", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
async fn issue_gift_card(
    State(ctx): State<Ctx>,
    Json(req): Json<IssueGiftCard>,
) -> Reply<IssuedGiftCard> {
    issue_gift_card_at(&ctx.sim, &ctx.pay, &req)
        .await
        .map(MoneyJson)
}

/// Issues a gift card without a sale, in the phases of
/// `POST /v1/gift_cards/issue`: the shop validates it, the gateway issues
/// it, the shop records `gift_cards/issued`. The native route and the
/// Shopify dialect's `giftCardCreate` both run it.
pub(crate) async fn issue_gift_card_at(
    sim: &Simulator<ShopState>,
    pay: &PayClient,
    req: &IssueGiftCard,
) -> SimResult<IssuedGiftCard> {
    let (currency, key) = sim.commit(|s, fx| s.begin_gift_card_issue(fx, req))?;
    code_is_free(pay, &req.code).await?;
    issue_card(pay, &req.code, req.amount, &currency, &key).await?;
    sim.commit(|s, fx| Ok(s.record_gift_card_issue(fx, req, currency)))
}

/// Refuses a gift-card code some card at the gateway already holds (409
/// `resource_already_exists`, field `code`). Asked before anything else: the
/// gateway's key is the code and the time, and must not replay another
/// request's card.
async fn code_is_free(pay: &PayClient, code: &str) -> Result<(), crate::error::SimError> {
    match gateway::retrying(|| pay.gift_card(code)).await {
        Ok(_) => Err(crate::error::SimError::conflict(
            "resource_already_exists",
            format!("a gift card with code `{code}` already exists"),
        )
        .field("code")),
        Err(e) if e.status() == Some(404) => Ok(()),
        Err(e) => Err(pay_error(e)),
    }
}

/// Issues the card `code` holding `amount` at the gateway under `key`; a
/// code taken meanwhile names `code`.
async fn issue_card(
    pay: &PayClient,
    code: &str,
    amount: rust_decimal::Decimal,
    currency: &str,
    key: &str,
) -> Result<(), crate::error::SimError> {
    let card = CreateGiftCard {
        code: Some(code.to_owned()),
        balance: amount,
        currency: currency.to_owned(),
    };
    gateway::retrying(|| pay.create_gift_card(&card, Some(key)))
        .await
        .map(|_| ())
        .map_err(|e| {
            let err = pay_error(e);
            if err.code == "resource_already_exists" {
                err.field("code")
            } else {
                err
            }
        })
}

/// `GET /v1/orders`: every order, oldest first. Orders whose payment is
/// still settling are first brought up to date from the gateway (a settled
/// transfer emits `orders/paid`); if the gateway cannot be reached they are
/// shown as they were.
#[utoipa::path(get, path = "/v1/orders", tag = "orders",
    responses((status = 200, body = OrderList)))]
async fn list_orders(State(ctx): State<Ctx>) -> MoneyJson<OrderList> {
    for id in ctx.sim.read(ShopState::pending_orders) {
        let _ = ctx.refresh(&id, false).await;
    }
    MoneyJson(OrderList {
        data: ctx.sim.read(ShopState::list_orders),
    })
}

/// `GET /v1/orders/{id}`: the order; one whose payment is still settling is
/// first brought up to date from the gateway, as in the listing.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "The order id (`ord_…`)")),
    responses((status = 200, body = Order),
        (status = 404, description = "`resource_missing` (`id`)", body = ErrorBody)))]
async fn get_order(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply<Order> {
    let _ = ctx.refresh(&id, false).await;
    ctx.sim.read(|s| s.get_order(&id)).map(MoneyJson)
}

/// `POST /v1/orders/{id}/capture`: capture the authorization through the
/// gateway, all of what is still capturable or `amount` of it (the rest is
/// released, as a capture happens once). Emits `orders/paid`. A pending
/// (settling) payment is first brought up to date from the gateway.
#[utoipa::path(post, path = "/v1/orders/{id}/capture", tag = "orders",
    request_body(content = CaptureOrder, description = "May be empty"),
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = Order),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`resource_missing` (`id`)", body = ErrorBody),
        (status = 409, description = "`order_cancelled`, `payment_voided`, `payment_pending`, `nothing_to_capture`, or a gateway conflict naming `payment`", body = ErrorBody),
        (status = 422, description = "`amount_too_large` or a bad `amount`", body = ErrorBody),
        (status = 429, description = "`lock_timeout`: another payment operation on the order is in progress", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
pub(crate) async fn capture(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Json(req): Json<CaptureOrder>,
) -> Reply<Order> {
    ctx.refresh(&id, false).await?;
    let plan = ctx.sim.commit(|s, _| s.begin_capture(&id, &req))?;
    let _unlock = ctx.unlock(&id);
    let done =
        match gateway::perform(&ctx.pay, &plan, CancellationReason::RequestedByCustomer).await {
            Ok(done) => done,
            Err(e) => {
                // The gateway refused: the authorization may have expired or been
                // captured elsewhere. Record how it stands, then answer the refusal.
                if matches!(e.kind, ErrorKind::Conflict | ErrorKind::Invalid) {
                    let _ = ctx.refresh(&id, true).await;
                }
                return Err(e);
            }
        };
    let intent = done
        .intent
        .ok_or_else(|| gateway::unavailable("no intent in the capture answer"))?;
    ctx.sim
        .commit(|s, fx| s.finish_capture(fx, &id, &intent))
        .map(MoneyJson)
}

/// `POST /v1/orders/{id}/fulfill`: hand over every open unit, or the `lines`
/// given, at the order's location (`committed` and `on_hand` go down). It
/// does not capture. Emits `orders/fulfilled` and the level updates (cause
/// `fulfillment`, delta 0).
#[utoipa::path(post, path = "/v1/orders/{id}/fulfill", tag = "orders",
    request_body(content = FulfillOrder, description = "May be empty"),
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = Order),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`resource_missing` (`id`), or `unknown_line` (`lines[i].line_id`)", body = ErrorBody),
        (status = 409, description = "`order_cancelled` or `nothing_to_fulfill`", body = ErrorBody),
        (status = 422, description = "More units than are open", body = ErrorBody),
        (status = 429, description = "`lock_timeout`", body = ErrorBody)))]
async fn fulfill(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Json(req): Json<FulfillOrder>,
) -> Reply<Order> {
    ctx.sim
        .commit(|s, fx| s.fulfill(fx, &id, req))
        .map(MoneyJson)
}

/// `POST /v1/orders/{id}/ready_for_pickup`: a pickup order's units wait at
/// its pickup location. Emits `orders/updated`.
#[utoipa::path(post, path = "/v1/orders/{id}/ready_for_pickup", tag = "orders",
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = Order),
        (status = 404, description = "`resource_missing` (`id`)", body = ErrorBody),
        (status = 409, description = "`order_cancelled`, `not_a_pickup_order` or `nothing_to_fulfill`", body = ErrorBody),
        (status = 429, description = "`lock_timeout`", body = ErrorBody)))]
async fn ready_for_pickup(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply<Order> {
    ctx.sim
        .commit(|s, fx| s.ready_for_pickup(fx, &id))
        .map(MoneyJson)
}

/// `POST /v1/orders/{id}/cancel`: cancel for good. Unfulfilled units go back
/// to `available` (`restock`, the default) or are written off. An open
/// authorization is voided, captured money still held is refunded, a pending
/// payment is cancelled, all through the gateway. Emits `orders/cancelled`
/// and the level updates (cause `cancel`).
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders",
    request_body(content = CancelOrder, description = "May be empty"),
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = Order),
        (status = 400, body = ErrorBody),
        (status = 402, description = "A gateway decline", body = ErrorBody),
        (status = 404, description = "`resource_missing` (`id`)", body = ErrorBody),
        (status = 409, description = "`order_already_cancelled`, or a gateway conflict naming `payment`", body = ErrorBody),
        (status = 422, description = "A gateway refusal naming `payment`", body = ErrorBody),
        (status = 429, description = "`lock_timeout`", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
pub(crate) async fn cancel(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Json(req): Json<CancelOrder>,
) -> Reply<Order> {
    ctx.refresh(&id, false).await?;
    let mut plan = ctx.sim.commit(|s, _| s.begin_cancel(&id))?;
    let _unlock = ctx.unlock(&id);
    let reason = match req.reason {
        CancelReason::Fraud => CancellationReason::Fraudulent,
        _ => CancellationReason::RequestedByCustomer,
    };
    let done = match gateway::perform(&ctx.pay, &plan, reason).await {
        Ok(done) => done,
        Err(e) => {
            // The gateway refused the void: the authorization may have expired
            // or been voided elsewhere. Record how it stands; if nothing is
            // left to void, the order is cancelled all the same.
            let voiding = matches!(plan.step, PayStep::Cancel { .. });
            if !(voiding && matches!(e.kind, ErrorKind::Conflict | ErrorKind::Invalid)) {
                return Err(e);
            }
            let _ = ctx.refresh(&id, true).await;
            let order = ctx.sim.read(|s| s.get_order(&id))?;
            if order.financial_status != FinancialStatus::Voided {
                return Err(e);
            }
            plan.step = PayStep::Nothing;
            gateway::Performed::default()
        }
    };
    ctx.sim
        .commit(|s, fx| s.finish_cancel(fx, &plan, &req, done.refund.as_ref()))
        .map(MoneyJson)
}

/// `POST /v1/orders/{id}/refunds`: refund units per line, each with a
/// restock type: `cancel` (unfulfilled units back to available), `return`
/// (fulfilled units back to stock at `location`, the order's by default) or
/// `no_restock` (fulfilled units first; unfulfilled ones are written off).
/// Each line gives back its total pro rata (the last units exactly what
/// remains). The money is refunded through the gateway up to what was
/// captured and not yet refunded; the rest comes off the open authorization
/// (which is voided once nothing is left to capture). Emits `refunds/create`
/// and the level updates (cause `refund`, the refund id as reference).
#[utoipa::path(post, path = "/v1/orders/{id}/refunds", tag = "orders", request_body = CreateOrderRefund,
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = OrderRefund),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`resource_missing` (`id`), `unknown_line` (`lines[i].line_id`) or `unknown_location` (`lines[i].location`)", body = ErrorBody),
        (status = 409, description = "`order_cancelled`, `payment_pending`, or a gateway conflict naming `payment`", body = ErrorBody),
        (status = 422, description = "More units than refundable, or a restock type that does not fit the units", body = ErrorBody),
        (status = 429, description = "`lock_timeout`", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
pub(crate) async fn refund(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Json(req): Json<CreateOrderRefund>,
) -> Reply<OrderRefund> {
    ctx.refresh(&id, false).await?;
    let plan = ctx.sim.commit(|s, _| s.begin_refund(&id, &req))?;
    let _unlock = ctx.unlock(&id);
    let done = gateway::perform(
        &ctx.pay,
        &plan.plan,
        CancellationReason::RequestedByCustomer,
    )
    .await?;
    ctx.sim
        .commit(|s, fx| s.finish_refund(fx, plan, done.refund.as_ref()))
        .map(MoneyJson)
}

/// `POST /v1/orders/{id}/transactions`: record a refund made at the gateway
/// outside the shop (its dashboard, another app), as Shopify records one: a
/// transaction of kind `refund` with the gateway's reference. The order's
/// `total_refunded` and financial status follow; no units move and the
/// gateway is not called. Recorded as a refund without lines whose
/// `payment_refund` is the reference. Emits `refunds/create`.
#[utoipa::path(post, path = "/v1/orders/{id}/transactions", tag = "orders", request_body = CreateOrderTransaction,
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = OrderRefund),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_order`", body = ErrorBody),
        (status = 409, description = "`order_cancelled`, `nothing_captured` or `transaction_exists` (`gateway_reference`)", body = ErrorBody),
        (status = 422, description = "`amount_too_large`, or a bad amount or reference", body = ErrorBody)))]
pub(crate) async fn record_transaction(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Json(req): Json<CreateOrderTransaction>,
) -> Reply<OrderRefund> {
    ctx.refresh(&id, false).await?;
    ctx.sim
        .commit(|s, fx| s.record_transaction(fx, &id, req))
        .map(MoneyJson)
}
