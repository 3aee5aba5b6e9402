//! Square's Gift Cards API, read-only, over the gateway's gift cards: the
//! cards the register sells, the shop sells and store credit issues, with
//! the gateway's balance. A card's activities are derived from what the
//! gateway recorded: its issue (`ACTIVATE`), the payments made with it
//! (`REDEEM`, `PENDING` while the gateway holds the amount, `COMPLETED` once
//! captured) and the refunds onto it (`REFUND`). Nothing about a card is kept
//! in the dialect: every answer is read from the gateway at the time.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use omnisim_api::pay::{GiftCard, PaymentIntent};
use serde::Deserialize;
use serde_json::{Value, json};

use super::routes::{
    Dialect, answer, bad, gateway_error, locations, missing, not_found, page, parse, parse_time,
};
use super::wire;
use crate::dialects::gift_card_ledger::{self as ledger, MovementKind};
use crate::error::SimResult;

type Ctx = State<Arc<Dialect>>;

/// Square's id of the gateway card `code`.
pub fn card_id(code: &str) -> String {
    format!("gftc:{code}")
}

/// Square's `GiftCard` of a gateway card. Every gateway card was issued
/// with its balance, so it is `ACTIVE`; its code is its GAN, which the
/// register or the shop printed (`OTHER`).
pub fn card_json(c: &GiftCard) -> Value {
    json!({
        "id": card_id(&c.code),
        "type": "DIGITAL",
        "gan_source": "OTHER",
        "state": "ACTIVE",
        "balance_money": wire::money(c.balance, &c.currency),
        "gan": c.code,
        "created_at": wire::ts(c.created_at),
        "customer_ids": [],
    })
}

async fn card_by_id(d: &Dialect, id: &str) -> SimResult<GiftCard> {
    let code = id
        .strip_prefix("gftc:")
        .ok_or_else(|| not_found(format!("Gift card `{id}` not found.")))?;
    card_by_gan(d, code, id).await
}

async fn card_by_gan(d: &Dialect, gan: &str, shown: &str) -> SimResult<GiftCard> {
    let ok = !gan.is_empty()
        && gan
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(not_found(format!("Gift card `{shown}` not found.")));
    }
    match d.pay.gift_card(gan).await {
        Ok(c) => Ok(c),
        Err(omnisim_api::ApiError::Status { status: 404, .. }) => {
            Err(not_found(format!("Gift card `{shown}` not found.")))
        }
        Err(e) => Err(gateway_error(e)),
    }
}

/// `GET /v2/gift-cards/{id}`.
pub async fn get_card(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(
        card_by_id(&d, &id)
            .await
            .map(|c| json!({"gift_card": card_json(&c)})),
    )
}

#[derive(Debug, Deserialize)]
struct FromGanReq {
    gan: Option<String>,
}

/// `POST /v2/gift-cards/from-gan`.
pub async fn from_gan(State(d): Ctx, body: Bytes) -> Response {
    let run = async {
        let req: FromGanReq = parse(&body)?;
        let gan = req.gan.ok_or_else(|| missing("gan"))?;
        let c = card_by_gan(&d, &gan, &gan).await?;
        Ok(json!({"gift_card": card_json(&c)}))
    };
    answer(run.await)
}

#[derive(Debug, Default, Deserialize)]
pub struct ListCardsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    customer_id: Option<String>,
}

/// `GET /v2/gift-cards`: every gateway card, in code order.
pub async fn list_cards(State(d): Ctx, Query(q): Query<ListCardsQuery>) -> Response {
    let run = async {
        let cards = d.pay.gift_cards().await.map_err(gateway_error)?.data;
        let keep = q.kind.as_deref().is_none_or(|t| t == "DIGITAL")
            && q.state.as_deref().is_none_or(|s| s == "ACTIVE")
            && q.customer_id.is_none();
        let cards: Vec<Value> = if keep {
            cards.iter().map(card_json).collect()
        } else {
            Vec::new()
        };
        let (cards, cursor) = page(cards, q.cursor.as_deref(), q.limit, 30, 200)?;
        let mut v = json!({"gift_cards": cards});
        if let Some(c) = cursor {
            v["cursor"] = c.into();
        }
        Ok(v)
    };
    answer(run.await)
}

/// The activities of `card`, oldest first, each with the balance after it:
/// its movements at the gateway as Square names them (`ACTIVATE`, `REDEEM`
/// `PENDING` or `COMPLETED`, `REFUND`).
async fn activities_of(
    d: &Dialect,
    card: &GiftCard,
    intents: &[PaymentIntent],
    location: &str,
) -> SimResult<Vec<Value>> {
    let cur = card.currency.as_str();
    let payments = d.sim.read(|s| {
        Ok(s.square()
            .payments
            .values()
            .map(|p| (p.intent.clone(), p.id.clone()))
            .collect::<Vec<_>>())
    })?;
    let moved = ledger::movements(&d.pay, card, intents)
        .await
        .map_err(gateway_error)?;
    let mut out = Vec::with_capacity(moved.len());
    for m in moved {
        let amount = wire::money(m.amount, cur);
        let (id, kind, details) = match &m.kind {
            MovementKind::Issue => (
                format!("gcact:{}:activate", card.code),
                "ACTIVATE",
                json!({"activate_activity_details": {"amount_money": amount}}),
            ),
            MovementKind::Redeem { intent, pending } => {
                let mut redeem = json!({
                    "amount_money": amount,
                    "status": if *pending { "PENDING" } else { "COMPLETED" },
                    "reference_id": intent,
                });
                if let Some((_, pid)) = payments.iter().find(|(i, _)| i == intent) {
                    redeem["payment_id"] = pid.clone().into();
                }
                (
                    format!("gcact:{intent}"),
                    "REDEEM",
                    json!({"redeem_activity_details": redeem}),
                )
            }
            MovementKind::Refund { refund, intent } => (
                format!("gcact:{refund}"),
                "REFUND",
                json!({"refund_activity_details": {
                    "redeem_activity_id": format!("gcact:{intent}"),
                    "amount_money": amount,
                    "reference_id": refund,
                }}),
            ),
        };
        let mut v = json!({
            "id": id,
            "type": kind,
            "location_id": location,
            "created_at": wire::ts(m.at),
            "gift_card_id": card_id(&card.code),
            "gift_card_gan": card.code,
            "gift_card_balance_money": wire::money(m.balance_after, cur),
        });
        for (k, val) in details.as_object().into_iter().flatten() {
            v[k] = val.clone();
        }
        out.push(v);
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
pub struct ListActivitiesQuery {
    gift_card_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    location_id: Option<String>,
    begin_time: Option<String>,
    end_time: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    sort_order: Option<String>,
}

fn time_param(field: &str, v: &Option<String>) -> SimResult<Option<DateTime<Utc>>> {
    v.as_deref().map(|s| parse_time(field, s)).transpose()
}

/// `GET /v2/gift-cards/activities`: one card's (`gift_card_id`) or every
/// card's, newest first unless `sort_order=ASC`.
pub async fn list_activities(State(d): Ctx, Query(q): Query<ListActivitiesQuery>) -> Response {
    let run = async {
        let begin = time_param("begin_time", &q.begin_time)?;
        let end = time_param("end_time", &q.end_time)?;
        let asc = match q.sort_order.as_deref() {
            None | Some("DESC") => false,
            Some("ASC") => true,
            Some(other) => {
                return Err(bad(
                    "INVALID_ENUM_VALUE",
                    format!("`sort_order` is ASC or DESC, not `{other}`"),
                    "sort_order",
                ));
            }
        };
        let cards = match &q.gift_card_id {
            Some(id) => vec![card_by_id(&d, id).await?],
            None => d.pay.gift_cards().await.map_err(gateway_error)?.data,
        };
        let location = d.sim.read(|s| {
            Ok(locations(s)
                .first()
                .map(|l| l.id.clone())
                .unwrap_or_default())
        })?;
        let intents = ledger::all_intents(&d.pay).await.map_err(gateway_error)?;
        let mut all = Vec::new();
        for c in &cards {
            all.extend(activities_of(&d, c, &intents, &location).await?);
        }
        let at = |v: &Value| v["created_at"].as_str().unwrap_or_default().to_owned();
        all.retain(|v| {
            let t = DateTime::parse_from_rfc3339(&at(v)).map(|t| t.with_timezone(&Utc));
            q.kind.as_deref().is_none_or(|k| v["type"] == k)
                && q.location_id
                    .as_deref()
                    .is_none_or(|l| v["location_id"] == l)
                && t.is_ok_and(|t| begin.is_none_or(|b| t >= b) && end.is_none_or(|e| t < e))
        });
        all.sort_by_key(at);
        if !asc {
            all.reverse();
        }
        let (page_items, cursor) = page(all, q.cursor.as_deref(), q.limit, 50, 100)?;
        let mut v = json!({"gift_card_activities": page_items});
        if let Some(c) = cursor {
            v["cursor"] = c.into();
        }
        Ok(v)
    };
    answer(run.await)
}
