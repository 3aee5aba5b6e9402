//! The payment gateway's HTTP routes: each handler extracts, calls the state
//! machine inside one commit (or read), and maps the result.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use chrono::{DateTime, Utc};
use omnisim_api::ErrorBody;
use omnisim_api::pay::{
    CancelIntent, CaptureIntent, ConfirmIntent, CreateGiftCard, CreatePaymentIntent, CreateRefund,
    GiftCard, GiftCardList, PaymentIntent, PaymentIntentList, Refund, SettlementReport,
    UpdateIntent,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::state::PayState;
use crate::core::Simulator;
use crate::error::SimResult;
use crate::extract::{Json, Query};
use crate::shared::{RouteTable, RouterState, assemble};

type Sim = Arc<Simulator<PayState>>;

/// `GET /v1/payment_intents` paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListIntentsQuery {
    /// Page size, 1 to 100 (10 by default).
    #[serde(default)]
    limit: Option<u32>,
    /// The last id of the previous page; from the oldest intent if absent.
    #[serde(default)]
    starting_after: Option<String>,
}

/// `GET /v1/reports/settlement` window.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SettlementQuery {
    /// Start, inclusive (RFC 3339); open if absent.
    #[serde(default)]
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<DateTime<Utc>>,
    /// End, exclusive (RFC 3339); open if absent.
    #[serde(default)]
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<DateTime<Utc>>,
}

/// `POST /v1/payment_intents`: create and confirm a payment. Manual capture
/// authorizes (`requires_capture`), automatic charges (`succeeded`), a bank
/// transfer starts `processing` and settles one simulated hour later (real
/// transfers take 1 to 4 business days; account `000111111116` fails). A
/// decline answers 402 and still records the intent (`requires_payment_method`,
/// or `requires_action` for 3-D Secure).
#[utoipa::path(post, path = "/v1/payment_intents", tag = "payment_intents",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreatePaymentIntent,
    responses(
        (status = 200, description = "Authorized, charged or processing", body = PaymentIntent),
        (status = 400, description = "Malformed JSON or a missing field", body = ErrorBody),
        (status = 402, description = "Declined: `card_declined` with a `decline_code` and the `payment_intent` id", body = ErrorBody),
        (status = 404, description = "Unknown gift card", body = ErrorBody),
        (status = 409, description = "Idempotency key in flight", body = ErrorBody),
        (status = 422, description = "Invalid amount, currency, metadata or method; `live_card_rejected`; `idempotency_error`", body = ErrorBody),
    ))]
async fn create_intent(
    State(sim): State<Sim>,
    Json(req): Json<CreatePaymentIntent>,
) -> SimResult<axum::Json<PaymentIntent>> {
    sim.commit(|s, fx| s.create_intent(fx, req))?
        .into_result()
        .map(axum::Json)
}

/// `GET /v1/payment_intents`: a page of intents, oldest first.
#[utoipa::path(get, path = "/v1/payment_intents", tag = "payment_intents",
    params(ListIntentsQuery),
    responses(
        (status = 200, body = PaymentIntentList),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 404, description = "Unknown `starting_after`", body = ErrorBody),
        (status = 422, description = "`limit` out of range", body = ErrorBody),
    ))]
async fn list_intents(
    State(sim): State<Sim>,
    Query(q): Query<ListIntentsQuery>,
) -> SimResult<axum::Json<PaymentIntentList>> {
    sim.read(|s| s.list_intents(q.limit, q.starting_after.as_deref()))
        .map(axum::Json)
}

/// `GET /v1/payment_intents/{id}`.
#[utoipa::path(get, path = "/v1/payment_intents/{id}", tag = "payment_intents",
    params(("id" = String, Path, description = "Payment intent id (`pi_…`)")),
    responses((status = 200, body = PaymentIntent), (status = 404, body = ErrorBody)))]
async fn get_intent(
    State(sim): State<Sim>,
    Path(id): Path<String>,
) -> SimResult<axum::Json<PaymentIntent>> {
    sim.read(|s| s.intent(&id)).map(axum::Json)
}

/// `POST /v1/payment_intents/{id}`: change an intent (amount, currency,
/// capture method and payment method before it is confirmed; metadata and
/// description at any time). A new payment method leaves it
/// `requires_confirmation`.
#[utoipa::path(post, path = "/v1/payment_intents/{id}", tag = "payment_intents",
    params(
        ("id" = String, Path, description = "Payment intent id (`pi_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"),
    ),
    request_body = UpdateIntent,
    responses(
        (status = 200, body = PaymentIntent),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`payment_intent_unexpected_state`: already confirmed", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn update_intent(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Json(req): Json<UpdateIntent>,
) -> SimResult<axum::Json<PaymentIntent>> {
    sim.commit(|s, _| s.update_intent(&id, req)).map(axum::Json)
}

/// `POST /v1/payment_intents/{id}/confirm`: try the attached payment method
/// (or the one given) of an intent that `requires_confirmation`,
/// `requires_payment_method` or `requires_action`. Outcomes as at create:
/// a decline answers 402 and keeps the intent.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/confirm", tag = "payment_intents",
    params(
        ("id" = String, Path, description = "Payment intent id (`pi_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"),
    ),
    request_body(content = ConfirmIntent, description = "May be empty: tries the attached method"),
    responses(
        (status = 200, description = "Authorized, charged or processing", body = PaymentIntent),
        (status = 400, body = ErrorBody),
        (status = 402, description = "Declined", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`payment_intent_unexpected_state`: already confirmed, or no payment method", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn confirm_intent(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Json(req): Json<ConfirmIntent>,
) -> SimResult<axum::Json<PaymentIntent>> {
    sim.commit(|s, fx| s.confirm(fx, &id, req))?
        .into_result()
        .map(axum::Json)
}

/// `POST /v1/payment_intents/{id}/capture`: once, from `requires_capture`;
/// a partial capture releases the rest.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/capture", tag = "payment_intents",
    params(
        ("id" = String, Path, description = "Payment intent id (`pi_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"),
    ),
    request_body(content = CaptureIntent, description = "May be empty: captures everything"),
    responses(
        (status = 200, description = "Captured: `succeeded`", body = PaymentIntent),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`payment_intent_unexpected_state`", body = ErrorBody),
        (status = 422, description = "`amount_too_large` or an invalid amount", body = ErrorBody),
    ))]
async fn capture_intent(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Json(req): Json<CaptureIntent>,
) -> SimResult<axum::Json<PaymentIntent>> {
    sim.commit(|s, fx| s.capture(fx, &id, req)).map(axum::Json)
}

/// `POST /v1/payment_intents/{id}/cancel`: voids an authorization or
/// abandons an unfinished intent.
#[utoipa::path(post, path = "/v1/payment_intents/{id}/cancel", tag = "payment_intents",
    params(
        ("id" = String, Path, description = "Payment intent id (`pi_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"),
    ),
    request_body(content = CancelIntent, description = "May be empty: reason `requested_by_customer`"),
    responses(
        (status = 200, description = "Canceled", body = PaymentIntent),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`payment_intent_unexpected_state`", body = ErrorBody),
        (status = 422, description = "Reason `automatic` is reserved", body = ErrorBody),
    ))]
async fn cancel_intent(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Json(req): Json<CancelIntent>,
) -> SimResult<axum::Json<PaymentIntent>> {
    sim.commit(|s, fx| s.cancel(fx, &id, req)).map(axum::Json)
}

/// `POST /v1/refunds`: part or all of what is left of a succeeded intent.
#[utoipa::path(post, path = "/v1/refunds", tag = "refunds",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreateRefund,
    responses(
        (status = 200, body = Refund),
        (status = 400, body = ErrorBody),
        (status = 404, description = "Unknown payment intent", body = ErrorBody),
        (status = 409, description = "`payment_intent_unexpected_state`: not succeeded (cancel an authorization instead)", body = ErrorBody),
        (status = 422, description = "`amount_too_large`, `charge_already_refunded` or an invalid amount", body = ErrorBody),
    ))]
async fn create_refund(
    State(sim): State<Sim>,
    Json(req): Json<CreateRefund>,
) -> SimResult<axum::Json<Refund>> {
    sim.commit(|s, fx| s.create_refund(fx, req)).map(axum::Json)
}

/// `GET /v1/refunds/{id}`.
#[utoipa::path(get, path = "/v1/refunds/{id}", tag = "refunds",
    params(("id" = String, Path, description = "Refund id (`re_…`)")),
    responses((status = 200, body = Refund), (status = 404, body = ErrorBody)))]
async fn get_refund(
    State(sim): State<Sim>,
    Path(id): Path<String>,
) -> SimResult<axum::Json<Refund>> {
    sim.read(|s| s.refund(&id)).map(axum::Json)
}

/// `POST /v1/gift_cards`: issue a gift card (code generated if absent).
#[utoipa::path(post, path = "/v1/gift_cards", tag = "gift_cards",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreateGiftCard,
    responses(
        (status = 200, body = GiftCard),
        (status = 400, body = ErrorBody),
        (status = 409, description = "`resource_already_exists`: the code is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn create_gift_card(
    State(sim): State<Sim>,
    Json(req): Json<CreateGiftCard>,
) -> SimResult<axum::Json<GiftCard>> {
    sim.commit(|s, fx| s.create_gift_card(fx, req))
        .map(axum::Json)
}

/// `GET /v1/gift_cards`: every gift card the gateway holds, in code order,
/// as a merchant's dashboard lists them.
#[utoipa::path(get, path = "/v1/gift_cards", tag = "gift_cards",
    responses((status = 200, body = GiftCardList)))]
async fn list_gift_cards(State(sim): State<Sim>) -> axum::Json<GiftCardList> {
    axum::Json(sim.read(|s| s.list_gift_cards()))
}

/// `GET /v1/gift_cards/{code}`: balance, holds, captures and refunds.
#[utoipa::path(get, path = "/v1/gift_cards/{code}", tag = "gift_cards",
    params(("code" = String, Path, description = "Gift card code")),
    responses((status = 200, body = GiftCard), (status = 404, body = ErrorBody)))]
async fn get_gift_card(
    State(sim): State<Sim>,
    Path(code): Path<String>,
) -> SimResult<axum::Json<GiftCard>> {
    sim.read(|s| s.gift_card(&code)).map(axum::Json)
}

/// `GET /v1/reports/settlement?from&to`: balance transactions in
/// `[from, to)`, with per-currency totals.
#[utoipa::path(get, path = "/v1/reports/settlement", tag = "reports",
    params(SettlementQuery),
    responses(
        (status = 200, body = SettlementReport),
        (status = 400, description = "A bound that is not RFC 3339", body = ErrorBody),
        (status = 422, description = "`to` before `from`", body = ErrorBody),
    ))]
async fn settlement(
    State(sim): State<Sim>,
    Query(q): Query<SettlementQuery>,
) -> SimResult<axum::Json<SettlementReport>> {
    sim.read(|s| s.settlement(q.from, q.to)).map(axum::Json)
}

/// The gateway's whole router.
pub fn router(sim: Sim) -> Router {
    static TABLE: RouteTable<Sim> = RouteTable::new();
    assemble(
        Arc::clone(&sim),
        sim,
        &TABLE,
        own_routes,
        "omnisim pay (payment gateway)",
        Router::new(),
    )
}

fn own_routes() -> OpenApiRouter<RouterState<Sim>> {
    OpenApiRouter::new()
        .routes(routes!(create_intent, list_intents))
        .routes(routes!(get_intent, update_intent))
        .routes(routes!(confirm_intent))
        .routes(routes!(capture_intent))
        .routes(routes!(cancel_intent))
        .routes(routes!(create_refund))
        .routes(routes!(get_refund))
        .routes(routes!(create_gift_card, list_gift_cards))
        .routes(routes!(get_gift_card))
        .routes(routes!(settlement))
}

impl FromRef<RouterState<Sim>> for Sim {
    fn from_ref(state: &RouterState<Sim>) -> Sim {
        Arc::clone(&state.own)
    }
}
