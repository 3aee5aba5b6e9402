//! The pos simulator's HTTP routes.
//!
//! Handlers extract, call the state machine through `sim.commit`, and map the
//! result. Sales with card or gift-card tenders, and returns that refund
//! through the gateway, run in three steps so the state lock is never held
//! across an await: (1) reserve in a commit, (2) call the gateway with
//! idempotency keys derived from the reserved id, (3) record in a commit, or
//! release the reservation and void what was authorized.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use omnisim_api::pay::{
    CancelIntent, CancellationReason, CaptureIntent, CreateGiftCard, CreatePaymentIntent,
    CreateRefund, IntentStatus, PayClient, RefundReason,
};
use omnisim_api::pos::{
    BatchChangeInventory, CreateItem, CreatePickup, CreateReturn, CreateSale, InventoryCount,
    InventoryCounts, IssueGiftCard, IssuedGiftCard, Item, ItemList, Pickup, PosSettings, Return,
    Sale, SetTaxRate, TaxRate, TaxRateList, UpdateItem, UpdatePickupLines,
};
use omnisim_api::{ApiError, ErrorBody};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::state::{PosState, RefundAction, ReturnPlan, SalePlan};
use crate::core::Simulator;
use crate::error::{ErrorKind, SimError, SimResult};
use crate::extract::{Json, Query};
use crate::shared::{RouteTable, RouterState, assemble};

/// What the pos handlers share: the simulator and the way to the gateway.
struct Pos {
    sim: Arc<Simulator<PosState>>,
    pay: PayClient,
}

type Ctx = Arc<Pos>;

/// The pos simulator's whole router; `pay` reaches the gateway.
pub fn router(sim: Arc<Simulator<PosState>>, pay: PayClient) -> Router {
    static TABLE: RouteTable<Ctx> = RouteTable::new();
    let dialect = crate::dialects::square::routes(Arc::clone(&sim), pay.clone());
    let ctx: Ctx = Arc::new(Pos {
        sim: Arc::clone(&sim),
        pay,
    });
    assemble(
        sim,
        ctx,
        &TABLE,
        own_routes,
        "omnisim pos (point of sale)",
        dialect,
    )
}

fn own_routes() -> OpenApiRouter<RouterState<Ctx>> {
    OpenApiRouter::new()
        .routes(routes!(create_item, list_items))
        .routes(routes!(get_item, update_item))
        .routes(routes!(change_inventory))
        .routes(routes!(get_count))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_tax_rates))
        .routes(routes!(set_tax_rate))
        .routes(routes!(create_sale))
        .routes(routes!(get_sale))
        .routes(routes!(create_return))
        .routes(routes!(get_return))
        .routes(routes!(issue_gift_card))
        .routes(routes!(create_pickup))
        .routes(routes!(get_pickup))
        .routes(routes!(complete_pickup))
        .routes(routes!(cancel_pickup))
        .routes(routes!(update_pickup_lines))
        .merge(crate::customers::routes())
        .merge(crate::promotions::routes())
}

impl FromRef<RouterState<Ctx>> for Ctx {
    fn from_ref(state: &RouterState<Ctx>) -> Ctx {
        Arc::clone(&state.own)
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

// ---- catalog ---------------------------------------------------------------

/// `POST /v1/items`: add an item; emits `item.updated`.
#[utoipa::path(post, path = "/v1/items", tag = "items", request_body = CreateItem,
    responses((status = 200, body = Item), (status = 400, body = ErrorBody),
        (status = 409, description = "`sku_exists`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_item(
    State(ctx): State<Ctx>,
    Json(req): Json<CreateItem>,
) -> SimResult<axum::Json<Item>> {
    ctx.sim
        .commit(|s, fx| s.create_item(fx, req))
        .map(axum::Json)
}

/// `GET /v1/items`: every item, by SKU.
#[utoipa::path(get, path = "/v1/items", tag = "items", responses((status = 200, body = ItemList)))]
async fn list_items(State(ctx): State<Ctx>) -> axum::Json<ItemList> {
    axum::Json(ctx.sim.read(PosState::items))
}

/// `GET /v1/items/{sku}`.
#[utoipa::path(get, path = "/v1/items/{sku}", tag = "items",
    params(("sku" = String, Path, description = "The SKU")),
    responses((status = 200, body = Item), (status = 404, description = "`unknown_sku`", body = ErrorBody)))]
async fn get_item(State(ctx): State<Ctx>, Path(sku): Path<String>) -> SimResult<axum::Json<Item>> {
    ctx.sim.read(|s| s.item(&sku)).map(axum::Json)
}

/// `PATCH /v1/items/{sku}`: change the fields given (an empty `tax_code`
/// clears it); emits `item.updated` when something changed.
#[utoipa::path(patch, path = "/v1/items/{sku}", tag = "items", request_body = UpdateItem,
    params(("sku" = String, Path, description = "The SKU")),
    responses((status = 200, body = Item), (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_sku`", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_item(
    State(ctx): State<Ctx>,
    Path(sku): Path<String>,
    Json(req): Json<UpdateItem>,
) -> SimResult<axum::Json<Item>> {
    ctx.sim
        .commit(|s, fx| s.update_item(fx, &sku, req))
        .map(axum::Json)
}

// ---- stock -----------------------------------------------------------------

/// `POST /v1/inventory/changes`: counts and adjustments, all or none, ordered
/// by `occurred_at` as in Square. Answers the counts after the batch.
#[utoipa::path(post, path = "/v1/inventory/changes", tag = "inventory",
    request_body = BatchChangeInventory,
    responses((status = 200, body = InventoryCounts), (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn change_inventory(
    State(ctx): State<Ctx>,
    Json(req): Json<BatchChangeInventory>,
) -> SimResult<axum::Json<InventoryCounts>> {
    ctx.sim
        .commit(|s, fx| s.change_inventory(fx, req))
        .map(axum::Json)
}

/// The location of a count.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CountQuery {
    /// The location id.
    location: String,
}

/// `GET /v1/inventory/{sku}?location=`: the IN_STOCK count.
#[utoipa::path(get, path = "/v1/inventory/{sku}", tag = "inventory",
    params(("sku" = String, Path, description = "The SKU"), CountQuery),
    responses((status = 200, body = InventoryCount),
        (status = 400, description = "`location` missing", body = ErrorBody),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody)))]
async fn get_count(
    State(ctx): State<Ctx>,
    Path(sku): Path<String>,
    Query(q): Query<CountQuery>,
) -> SimResult<axum::Json<InventoryCount>> {
    ctx.sim.read(|s| s.count(&sku, &q.location)).map(axum::Json)
}

// ---- settings and tax --------------------------------------------------------

/// `GET /v1/settings`.
#[utoipa::path(get, path = "/v1/settings", tag = "settings",
    responses((status = 200, body = PosSettings)))]
async fn get_settings(State(ctx): State<Ctx>) -> axum::Json<PosSettings> {
    axum::Json(ctx.sim.read(PosState::settings))
}

/// `PUT /v1/settings`: the sell-below-zero policy (`allow`, `warn`, `block`).
#[utoipa::path(put, path = "/v1/settings", tag = "settings", request_body = PosSettings,
    responses((status = 200, body = PosSettings), (status = 400, body = ErrorBody)))]
async fn put_settings(
    State(ctx): State<Ctx>,
    Json(req): Json<PosSettings>,
) -> SimResult<axum::Json<PosSettings>> {
    ctx.sim
        .commit(|s, _| Ok(s.set_settings(req)))
        .map(axum::Json)
}

/// `GET /v1/tax_rates`.
#[utoipa::path(get, path = "/v1/tax_rates", tag = "settings",
    responses((status = 200, body = TaxRateList)))]
async fn list_tax_rates(State(ctx): State<Ctx>) -> axum::Json<TaxRateList> {
    axum::Json(ctx.sim.read(PosState::tax_rates))
}

/// `PUT /v1/tax_rates/{code}`: set a rate; items whose code has none pay 0.
#[utoipa::path(put, path = "/v1/tax_rates/{code}", tag = "settings", request_body = SetTaxRate,
    params(("code" = String, Path, description = "The tax code")),
    responses((status = 200, body = TaxRate), (status = 400, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn set_tax_rate(
    State(ctx): State<Ctx>,
    Path(code): Path<String>,
    Json(req): Json<SetTaxRate>,
) -> SimResult<axum::Json<TaxRate>> {
    ctx.sim
        .commit(|s, _| s.set_tax_rate(&code, req))
        .map(axum::Json)
}

// ---- the gateway -------------------------------------------------------------

/// Attempts per gateway call; retries reuse the idempotency key.
const PAY_ATTEMPTS: u32 = 3;

/// Calls the gateway, retrying what may succeed later (429, 5xx, no answer)
/// with the same idempotency key.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_retryable() && attempt < PAY_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// How long the POS keeps retrying a gateway call it cannot undo (a gift
/// card loaded, a refund made) whose answer did not come: the sale or
/// return waits for it, as a register's store-and-forward queue does, so
/// the money is never moved without the record of why.
const IRREVOCABLE_PATIENCE: Duration = Duration::from_secs(30 * 60);

/// [`with_retries`] for a call that cannot be undone: retried, with the
/// same idempotency key and a backoff of up to a minute, until it is
/// answered or [`IRREVOCABLE_PATIENCE`] has passed.
async fn until_answered<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(250);
    loop {
        match call().await {
            Err(e) if e.is_retryable() && started.elapsed() < IRREVOCABLE_PATIENCE => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
            other => return other,
        }
    }
}

/// The gateway's error codes this simulator passes on (those pay answers
/// with); others read `payment_rejected`.
fn known_code(code: &str) -> &'static str {
    const CODES: &[&str] = &[
        "card_declined",
        "authentication_required",
        "live_card_rejected",
        "amount_too_large",
        "charge_already_refunded",
        "currency_mismatch",
        "parameter_invalid",
        "parameter_missing",
        "payment_intent_unexpected_state",
        "resource_already_exists",
        "resource_missing",
    ];
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("payment_rejected")
}

/// The issuer decline codes of PLATFORMS.md' test cards; others read
/// `generic_decline`.
fn known_decline(code: Option<&str>) -> &'static str {
    const CODES: &[&str] = &[
        "card_declined",
        "generic_decline",
        "insufficient_funds",
        "lost_card",
        "stolen_card",
        "expired_card",
        "incorrect_cvc",
        "processing_error",
        "authentication_required",
    ];
    code.and_then(|c| CODES.iter().find(|k| **k == c).copied())
        .unwrap_or("generic_decline")
}

fn gateway_unavailable(why: impl std::fmt::Display) -> SimError {
    SimError::new(
        ErrorKind::Unavailable,
        "payment_gateway_unavailable",
        format!("the payment gateway gave no usable answer ({why}); the POS recorded nothing"),
    )
}

/// Maps a gateway failure: a decline passes through as 402 with its codes and
/// intent; other 4xx name `field`; no answer or 5xx is 503.
fn pay_error(e: ApiError, field: &str) -> SimError {
    match e {
        ApiError::Status {
            status: 402, body, ..
        } => {
            let detail = body.error;
            let mut err = SimError::new(
                ErrorKind::Declined,
                known_code(&detail.code),
                detail.message,
            );
            err.extra_mut().decline_code = Some(known_decline(detail.decline_code.as_deref()));
            if let Some(pi) = detail.payment_intent {
                err = err.with_payment_intent(pi);
            }
            err.field(field)
        }
        ApiError::Status { status, body, .. } if (400..500).contains(&status) && status != 429 => {
            SimError::invalid(
                known_code(&body.error.code),
                format!("the payment gateway refused: {}", body.error.message),
            )
            .field(field)
        }
        ApiError::UnexpectedStatus { status, text }
            if (400..500).contains(&status) && status != 429 =>
        {
            SimError::invalid(
                "payment_rejected",
                format!("the payment gateway refused: {text}"),
            )
            .field(field)
        }
        other => gateway_unavailable(other),
    }
}

/// A reservation (sale or return) and the authorizations made for it. If it
/// is dropped armed (the request was abandoned mid-flight), it releases the
/// reservation and voids the authorizations in the background.
struct Reservation {
    ctx: Ctx,
    id: String,
    key_base: String,
    is_sale: bool,
    authorized: Vec<String>,
    armed: bool,
}

impl Reservation {
    fn new(ctx: &Ctx, id: &str, key_base: &str, is_sale: bool) -> Self {
        Reservation {
            ctx: Arc::clone(ctx),
            id: id.to_owned(),
            key_base: key_base.to_owned(),
            is_sale,
            authorized: Vec::new(),
            armed: true,
        }
    }

    fn release(&self) {
        let _ = self.ctx.sim.commit(|s, _| {
            if self.is_sale {
                s.abort_sale(&self.id);
            } else {
                s.abort_return(&self.id);
            }
            Ok(())
        });
    }

    /// Releases the reservation, voids the authorizations, and returns `e`.
    async fn fail(mut self, e: SimError) -> SimError {
        self.armed = false;
        self.release();
        void_all(
            &self.ctx.pay,
            &self.key_base,
            std::mem::take(&mut self.authorized),
        )
        .await;
        e
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        self.release();
        let authorized = std::mem::take(&mut self.authorized);
        if !authorized.is_empty()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let pay = self.ctx.pay.clone();
            let key_base = self.key_base.clone();
            handle.spawn(async move { void_all(&pay, &key_base, authorized).await });
        }
    }
}

/// Voids authorizations, best effort: an authorization left behind expires
/// at the gateway anyway.
async fn void_all(pay: &PayClient, key_base: &str, intents: Vec<String>) {
    for pi in intents {
        let key = format!("{key_base}:void:{pi}");
        let body = CancelIntent {
            reason: Some(CancellationReason::Abandoned),
        };
        let _ = with_retries(|| pay.cancel(&pi, &body, Some(&key))).await;
    }
}

// ---- sales -----------------------------------------------------------------

enum Step<T, P> {
    Done(T),
    Pay(P),
}

/// `POST /v1/sales`: a register sale with one or more tenders. Card-present
/// and gift-card tenders are authorized through the gateway, the sale is
/// recorded, then they are captured. Emits `sale.created` and one
/// `inventory.count.updated` per line. A tender may state its `currency`
/// (money is an amount with a currency): it must be the sale's, the
/// currency its items are priced in (422 `currency_mismatch` naming
/// `tenders[i].currency`). Gift cards the sale sells (`gift_cards`) add to
/// its total; once every tender is authorized the register issues each at
/// the gateway under its code, and a code some card already holds refuses
/// the sale (422 `resource_already_exists` naming `gift_cards[i].code`),
/// its authorizations voided.
#[utoipa::path(post, path = "/v1/sales", tag = "sales", request_body = CreateSale,
    responses((status = 200, body = Sale), (status = 400, body = ErrorBody),
        (status = 402, description = "A tender was declined; nothing was sold", body = ErrorBody),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody),
        (status = 409, description = "`out_of_stock` under the block policy", body = ErrorBody),
        (status = 422, description = "`tender_insufficient`, `tender_exceeds_balance`, `resource_already_exists` (`gift_cards[i].code`), …", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
async fn create_sale(
    State(ctx): State<Ctx>,
    Json(mut raw): Json<serde_json::Value>,
) -> SimResult<axum::Json<Sale>> {
    let currencies = tender_currencies(&mut raw)?;
    let req: CreateSale =
        crate::extract::parse_json(&serde_json::to_vec(&raw).unwrap_or_default())?;
    let step = ctx.sim.commit(|s, fx| {
        check_tender_currencies(s, &req, &currencies)?;
        let plan = s.begin_sale(fx, req)?;
        if plan.payments.is_empty() && plan.gift_cards.is_empty() {
            s.finish_sale(fx, &plan.id, &[]).map(Step::Done)
        } else {
            Ok(Step::Pay(plan))
        }
    })?;
    match step {
        Step::Done(sale) => Ok(axum::Json(sale)),
        // A gift card once loaded cannot be voided like an authorization:
        // a sale that loads one is finished even if the register gives up
        // waiting, so no card is left loaded without the sale that paid
        // for it.
        Step::Pay(plan) if !plan.gift_cards.is_empty() => {
            to_the_end(async move { pay_sale(&ctx, plan).await })
                .await
                .map(axum::Json)
        }
        Step::Pay(plan) => pay_sale(&ctx, plan).await.map(axum::Json),
    }
}

/// Runs the rest of a sale or return to its end even if the register stops
/// waiting for it (this handler is dropped): see [`crate::layers::detached`].
async fn to_the_end<T: Send + 'static>(
    work: impl Future<Output = SimResult<T>> + Send + 'static,
) -> SimResult<T> {
    match crate::layers::detached(work).await {
        Some(result) => result,
        None => Err(SimError::new(
            ErrorKind::Unavailable,
            "internal_error",
            "the sale or return failed inside the simulator",
        )),
    }
}

/// Takes each tender's optional `currency` out of a sale body, checking its
/// shape: `(tender index, currency)`.
fn tender_currencies(raw: &mut serde_json::Value) -> SimResult<Vec<(usize, String)>> {
    let mut found = Vec::new();
    let Some(tenders) = raw.get_mut("tenders").and_then(|t| t.as_array_mut()) else {
        return Ok(found);
    };
    for (i, t) in tenders.iter_mut().enumerate() {
        let Some(c) = t.as_object_mut().and_then(|t| t.remove("currency")) else {
            continue;
        };
        match c.as_str() {
            Some(c) if omnisim_api::common::is_currency_code(c) => found.push((i, c.to_owned())),
            _ => {
                return Err(SimError::malformed(
                    "parameter_invalid",
                    format!("`tenders[{i}].currency` must be a three-letter ISO 4217 code such as \"USD\", not {c}"),
                )
                .field(format!("tenders[{i}].currency")));
            }
        }
    }
    Ok(found)
}

/// A tender's stated currency must be the sale's: the one its first line's
/// item is priced in (an unknown SKU is left to the sale to report).
fn check_tender_currencies(
    s: &PosState,
    req: &CreateSale,
    currencies: &[(usize, String)],
) -> SimResult<()> {
    let Some(sale_currency) = req
        .lines
        .first()
        .and_then(|l| s.item(&l.sku).ok())
        .map(|item| item.currency)
    else {
        return Ok(());
    };
    for (i, c) in currencies {
        if *c != sale_currency {
            return Err(SimError::invalid(
                "currency_mismatch",
                format!("tender {i} is in {c}, but the sale is in {sale_currency}: one sale, one currency"),
            )
            .field(format!("tenders[{i}].currency")));
        }
    }
    Ok(())
}

async fn pay_sale(ctx: &Ctx, plan: SalePlan) -> SimResult<Sale> {
    let mut held = Reservation::new(ctx, &plan.id, &plan.key_base, true);
    let mut intents = Vec::with_capacity(plan.payments.len());
    for p in &plan.payments {
        let field = format!("tenders[{}]", p.tender);
        let body = CreatePaymentIntent {
            amount: p.amount,
            currency: plan.currency.clone(),
            capture_method: omnisim_api::pay::CaptureMethod::Manual,
            payment_method: p.method.clone(),
            metadata: BTreeMap::from([
                ("pos_sale".to_owned(), plan.id.clone()),
                ("tender".to_owned(), p.tender.to_string()),
            ]),
        };
        let key = format!("{}:auth:{}", plan.key_base, p.tender);
        match with_retries(|| ctx.pay.create_intent(&body, Some(&key))).await {
            Ok(pi) if pi.status == IntentStatus::RequiresCapture => {
                held.authorized.push(pi.id.clone());
                intents.push((p.tender, pi.id));
            }
            Ok(pi) => {
                // Not authorized (3-D Secure has no place at a terminal): a decline.
                held.authorized.push(pi.id.clone());
                let decline = if pi.status == IntentStatus::RequiresAction {
                    "authentication_required"
                } else {
                    "generic_decline"
                };
                let e = SimError::declined(
                    decline,
                    format!(
                        "tender {} was not authorized: the intent is {:?}",
                        p.tender, pi.status
                    ),
                )
                .with_payment_intent(pi.id)
                .field(field);
                return Err(held.fail(e).await);
            }
            Err(e) => return Err(held.fail(pay_error(e, &field)).await),
        }
    }
    // Every tender holds its money: load the gift cards sold. A code some
    // card already holds refuses the sale (409 naming the card), its
    // authorizations voided.
    for (n, card) in plan.gift_cards.iter().enumerate() {
        let body = CreateGiftCard {
            code: Some(card.code.clone()),
            balance: card.amount,
            currency: plan.currency.clone(),
        };
        let key = format!("{}:gift_card:{n}", plan.key_base);
        if let Err(e) = until_answered(|| ctx.pay.create_gift_card(&body, Some(&key))).await {
            let field = format!("gift_cards[{n}].code");
            return Err(held.fail(pay_error(e, &field)).await);
        }
    }
    let sale = match ctx
        .sim
        .commit(|s, fx| s.finish_sale(fx, &plan.id, &intents))
    {
        Ok(sale) => sale,
        Err(e) => return Err(held.fail(e).await),
    };
    held.armed = false;
    drop(held);
    // The sale is recorded: its captures follow even if the register gives
    // up waiting now.
    let ctx = Arc::clone(ctx);
    to_the_end(async move { capture_sale(&ctx, &plan, sale, &intents).await }).await
}

/// Captures what a recorded sale authorized; a capture that fails stays a
/// warning on the sale (its authorization open).
async fn capture_sale(
    ctx: &Ctx,
    plan: &SalePlan,
    sale: Sale,
    intents: &[(usize, String)],
) -> SimResult<Sale> {
    // The sale is recorded: capture what was authorized for it.
    let mut failed = Vec::new();
    for (tender, pi) in intents {
        let key = format!("{}:capture:{tender}", plan.key_base);
        let body = CaptureIntent::default();
        match with_retries(|| ctx.pay.capture(pi, &body, Some(&key))).await {
            Ok(captured) if captured.status == IntentStatus::Succeeded => {}
            Ok(other) => failed.push(format!(
                "capture of `{pi}` left it {:?}; the authorization stays open",
                other.status
            )),
            Err(e) => failed.push(format!(
                "capture of `{pi}` failed ({e}); the authorization stays open"
            )),
        }
    }
    let mut sale = sale;
    for warning in failed {
        sale = ctx.sim.commit(|s, _| s.warn_sale(&plan.id, warning))?;
    }
    Ok(sale)
}

/// `GET /v1/sales/{id}`.
#[utoipa::path(get, path = "/v1/sales/{id}", tag = "sales",
    params(("id" = String, Path, description = "The sale id")),
    responses((status = 200, body = Sale), (status = 404, description = "`resource_missing` (`id`)", body = ErrorBody)))]
async fn get_sale(State(ctx): State<Ctx>, Path(id): Path<String>) -> SimResult<axum::Json<Sale>> {
    ctx.sim.read(|s| s.sale(&id)).map(axum::Json)
}

// ---- returns ---------------------------------------------------------------

/// `POST /v1/returns`: with a receipt (`sale_id`), for an online order
/// (`order_ref`: units and amount recorded, no money moved), or with neither
/// (catalog price, cash or store credit: a new gateway gift card, under
/// `store_credit_code` when given). Emits `return.created` and, when
/// restocked, one `inventory.count.updated` per line. An online order whose
/// pickup still waits here was never handed over: 409 `pickup_not_collected`.
#[utoipa::path(post, path = "/v1/returns", tag = "returns", request_body = CreateReturn,
    responses((status = 200, body = Return), (status = 400, body = ErrorBody),
        (status = 404, description = "`resource_missing` (`sale_id`), `unknown_sku` or `unknown_location`", body = ErrorBody),
        (status = 409, description = "`pickup_not_collected` (`order_ref`: its pickup still waits to be collected)", body = ErrorBody),
        (status = 422, description = "`quantity_exceeds_sold`, `sku_not_in_sale`, …", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
async fn create_return(
    State(ctx): State<Ctx>,
    Json(req): Json<CreateReturn>,
) -> SimResult<axum::Json<Return>> {
    let step = ctx.sim.commit(|s, fx| {
        let plan = s.begin_return(fx, req)?;
        if plan.refunds.iter().all(|r| r.action == RefundAction::Cash) {
            let refs = vec![None; plan.refunds.len()];
            s.finish_return(fx, &plan.id, refs).map(Step::Done)
        } else {
            Ok(Step::Pay(plan))
        }
    })?;
    match step {
        Step::Done(ret) => Ok(axum::Json(ret)),
        // A refund once made cannot be taken back: the return is finished
        // even if the register gives up waiting, so no money goes back
        // without the return that sent it.
        Step::Pay(plan) => to_the_end(async move { refund_return(&ctx, plan).await })
            .await
            .map(axum::Json),
    }
}

async fn refund_return(ctx: &Ctx, plan: ReturnPlan) -> SimResult<Return> {
    let held = Reservation::new(ctx, &plan.id, &plan.key_base, false);
    let mut references = Vec::with_capacity(plan.refunds.len());
    for (n, r) in plan.refunds.iter().enumerate() {
        let key = format!("{}:refund:{n}", plan.key_base);
        let reference = match &r.action {
            RefundAction::Cash => None,
            RefundAction::Intent(pi) => {
                let body = CreateRefund {
                    payment_intent: pi.clone(),
                    amount: Some(r.amount),
                    reason: Some(RefundReason::RequestedByCustomer),
                    metadata: BTreeMap::from([("pos_return".to_owned(), plan.id.clone())]),
                };
                match until_answered(|| ctx.pay.refund(&body, Some(&key))).await {
                    Ok(refund) => Some(refund.id),
                    Err(e) => return Err(held.fail(pay_error(e, "refund_to")).await),
                }
            }
            RefundAction::IssueGiftCard => {
                let body = CreateGiftCard {
                    code: plan.store_credit_code.clone(),
                    balance: r.amount,
                    currency: plan.currency.clone(),
                };
                let field = if body.code.is_some() {
                    "store_credit_code"
                } else {
                    "refund_to"
                };
                match until_answered(|| ctx.pay.create_gift_card(&body, Some(&key))).await {
                    Ok(card) => Some(card.code),
                    Err(e) => return Err(held.fail(pay_error(e, field)).await),
                }
            }
        };
        references.push(reference);
    }
    let mut held = held;
    held.armed = false;
    ctx.sim
        .commit(|s, fx| s.finish_return(fx, &plan.id, references))
}

/// `POST /v1/gift_cards/issue`: a gift card the register issues without a
/// sale (a replacement card, a goodwill gesture, a card paid for elsewhere
/// and activated at the counter). Nothing is charged: the register issues
/// the card at the gateway under `code`, for `amount`, then records
/// `gift_card.issued` naming its `reason`. A code some card already holds is
/// 409 `resource_already_exists` (field `code`).
#[utoipa::path(post, path = "/v1/gift_cards/issue", tag = "gift_cards", request_body = IssueGiftCard,
    responses((status = 200, body = IssuedGiftCard),
        (status = 400, body = ErrorBody),
        (status = 409, description = "`resource_already_exists` (`code`): a gift card already holds this code", body = ErrorBody),
        (status = 422, description = "`parameter_invalid` (`code`, `amount`, `currency`, `reason`, `customer`)", body = ErrorBody),
        (status = 503, description = "`payment_gateway_unavailable`", body = ErrorBody)))]
async fn issue_gift_card(
    State(ctx): State<Ctx>,
    Json(req): Json<IssueGiftCard>,
) -> SimResult<axum::Json<IssuedGiftCard>> {
    issue_gift_card_at(&ctx.sim, &ctx.pay, req)
        .await
        .map(axum::Json)
}

/// Issues a gift card at the register without a sale, in the phases of
/// `POST /v1/gift_cards/issue`: the register validates it, the gateway
/// issues it, the register records `gift_card.issued`. Once asked of the
/// gateway it runs to the end even if its caller stops waiting: a card
/// issued without its record would be money from nowhere. The native route
/// and the Square dialect's `ACTIVATE` activity both run it.
pub(crate) async fn issue_gift_card_at(
    sim: &Arc<Simulator<PosState>>,
    pay: &PayClient,
    req: IssueGiftCard,
) -> SimResult<IssuedGiftCard> {
    let (currency, key) = sim.commit(|s, fx| s.begin_gift_card_issue(fx, &req))?;
    match until_answered(|| pay.gift_card(&req.code)).await {
        Ok(_) => return Err(code_taken(&req.code)),
        Err(e) if e.status() == Some(404) => {}
        Err(e) => return Err(pay_error(e, "code")),
    }
    let (sim, pay) = (Arc::clone(sim), pay.clone());
    to_the_end(async move {
        let card = CreateGiftCard {
            code: Some(req.code.clone()),
            balance: req.amount,
            currency: currency.clone(),
        };
        match until_answered(|| pay.create_gift_card(&card, Some(&key))).await {
            Ok(_) => {}
            Err(e) if e.status() == Some(409) => return Err(code_taken(&req.code)),
            Err(e) => return Err(pay_error(e, "code")),
        }
        sim.commit(|s, fx| Ok(s.record_gift_card_issue(fx, &req, currency)))
    })
    .await
}

/// A gift-card code some card already holds: 409 naming `code`.
fn code_taken(code: &str) -> SimError {
    SimError::conflict(
        "resource_already_exists",
        format!("a gift card with code `{code}` already exists"),
    )
    .field("code")
}

/// `GET /v1/returns/{id}`.
#[utoipa::path(get, path = "/v1/returns/{id}", tag = "returns",
    params(("id" = String, Path, description = "The return id")),
    responses((status = 200, body = Return), (status = 404, description = "`resource_missing` (`id`)", body = ErrorBody)))]
async fn get_return(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> SimResult<axum::Json<Return>> {
    ctx.sim.read(|s| s.get_return(&id)).map(axum::Json)
}

// ---- pickups ---------------------------------------------------------------

/// `POST /v1/pickups`: an online order waiting for pickup at a store; its
/// units are set aside (IN_STOCK → RESERVED_FOR_SALE) whatever the sell
/// policy. Emits one `inventory.count.updated` per line (cause `reserve`).
#[utoipa::path(post, path = "/v1/pickups", tag = "pickups", request_body = CreatePickup,
    responses((status = 200, body = Pickup), (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_sku` or `unknown_location`", body = ErrorBody),
        (status = 409, description = "`pickup_exists`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_pickup(
    State(ctx): State<Ctx>,
    Json(req): Json<CreatePickup>,
) -> SimResult<axum::Json<Pickup>> {
    ctx.sim
        .commit(|s, fx| s.create_pickup(fx, req))
        .map(axum::Json)
}

/// `GET /v1/pickups/{order_ref}`.
#[utoipa::path(get, path = "/v1/pickups/{order_ref}", tag = "pickups",
    params(("order_ref" = String, Path, description = "The shop's order id")),
    responses((status = 200, body = Pickup), (status = 404, description = "`resource_missing` (`order_ref`)", body = ErrorBody)))]
async fn get_pickup(
    State(ctx): State<Ctx>,
    Path(order_ref): Path<String>,
) -> SimResult<axum::Json<Pickup>> {
    ctx.sim.read(|s| s.pickup(&order_ref)).map(axum::Json)
}

/// `POST /v1/pickups/{order_ref}/complete`: hand the goods over; the units
/// set aside go RESERVED_FOR_SALE → SOLD. Emits `pickup.completed` and one
/// `inventory.count.updated` per line (cause `fulfillment`, delta 0).
#[utoipa::path(post, path = "/v1/pickups/{order_ref}/complete", tag = "pickups",
    params(("order_ref" = String, Path, description = "The shop's order id")),
    responses((status = 200, body = Pickup),
        (status = 404, description = "`resource_missing` (`order_ref`)", body = ErrorBody),
        (status = 409, description = "`pickup_already_completed` or `pickup_already_cancelled`", body = ErrorBody)))]
async fn complete_pickup(
    State(ctx): State<Ctx>,
    Path(order_ref): Path<String>,
) -> SimResult<axum::Json<Pickup>> {
    ctx.sim
        .commit(|s, fx| s.complete_pickup(fx, &order_ref))
        .map(axum::Json)
}

/// `POST /v1/pickups/{order_ref}/cancel`: the order will not be collected; the
/// units it holds go back IN_STOCK. Emits `pickup.cancelled` and one
/// `inventory.count.updated` per line (cause `release`).
#[utoipa::path(post, path = "/v1/pickups/{order_ref}/cancel", tag = "pickups",
    params(("order_ref" = String, Path, description = "The shop's order id")),
    responses((status = 200, body = Pickup),
        (status = 404, description = "`resource_missing` (`order_ref`)", body = ErrorBody),
        (status = 409, description = "`pickup_already_cancelled` or `pickup_already_completed`", body = ErrorBody)))]
async fn cancel_pickup(
    State(ctx): State<Ctx>,
    Path(order_ref): Path<String>,
) -> SimResult<axum::Json<Pickup>> {
    ctx.sim
        .commit(|s, fx| s.cancel_pickup(fx, &order_ref))
        .map(axum::Json)
}

/// `POST /v1/pickups/{order_ref}/lines`: the online order was shortened
/// before collection; each named SKU now lists the quantity given (never
/// more than before) and the units no longer listed go back IN_STOCK. Emits
/// `pickup.updated` and one `inventory.count.updated` per SKU released
/// (cause `release`); an update that changes nothing emits nothing.
#[utoipa::path(post, path = "/v1/pickups/{order_ref}/lines", tag = "pickups",
    params(("order_ref" = String, Path, description = "The shop's order id")),
    request_body = UpdatePickupLines,
    responses((status = 200, body = Pickup), (status = 400, body = ErrorBody),
        (status = 404, description = "`unknown_pickup`", body = ErrorBody),
        (status = 409, description = "`pickup_already_completed` or `pickup_already_cancelled`", body = ErrorBody),
        (status = 422, description = "a SKU not on the pickup, or more than it lists", body = ErrorBody)))]
async fn update_pickup_lines(
    State(ctx): State<Ctx>,
    Path(order_ref): Path<String>,
    Json(req): Json<UpdatePickupLines>,
) -> SimResult<axum::Json<Pickup>> {
    ctx.sim
        .commit(|s, fx| s.update_pickup_lines(fx, &order_ref, req))
        .map(axum::Json)
}
