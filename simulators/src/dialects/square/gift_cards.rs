//! Square's Gift Cards API over the gateway's gift cards: the cards the
//! register sells, the shop sells and store credit issues, with the
//! gateway's balance. A card's activities are derived from what the gateway
//! recorded: its issue (`ACTIVATE`), the payments made with it (`REDEEM`,
//! `PENDING` while the gateway holds the amount, `COMPLETED` once captured)
//! and the refunds onto it (`REFUND`).
//!
//! Writes, for a connector that sells cards outside Square and activates
//! them there: `CreateGiftCard` makes a `PENDING` card, which only the
//! dialect holds (the gateway's cards all carry money), and an `ACTIVATE`
//! activity with `amount_money` and `buyer_payment_instrument_ids` issues it
//! at the register (`POST /v1/gift_cards/issue`, recorded as
//! `gift_card.issued` with what paid for it). From then on the gateway has
//! it, like every other card; the dialect keeps only what the card was
//! created and activated with, to show them again.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use omnisim_api::pay::{GiftCard, PaymentIntent};
use omnisim_api::pos::IssueGiftCard;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::book::{ActivatedGiftCard, PendingGiftCard};
use super::routes::{
    Dialect, MoneyIn, answer, bad, gateway_error, idempotent, locations, missing, not_found, page,
    parse, parse_time, require_key, require_location,
};
use super::wire;
use crate::dialects::gift_card_ledger::{self as ledger, MovementKind};
use crate::error::{ErrorKind, SimError, SimResult};

type Ctx = State<Arc<Dialect>>;

/// Square's id of the gateway card `code`.
pub fn card_id(code: &str) -> String {
    format!("gftc:{code}")
}

/// Square's `GiftCard` of a gateway card. Every gateway card was issued
/// with its balance, so it is `ACTIVE`; its code is its GAN, which the
/// register or the shop printed (`OTHER`), or the dialect generated for a
/// card created through it (`SQUARE`).
pub fn card_json(c: &GiftCard, d: &Dialect) -> Value {
    let source = d.sim.read(|s| {
        s.square()
            .activated_gift_cards
            .get(&c.code)
            .map_or("OTHER".to_owned(), |a| a.gan_source.clone())
    });
    json!({
        "id": card_id(&c.code),
        "type": "DIGITAL",
        "gan_source": source,
        "state": "ACTIVE",
        "balance_money": wire::money(c.balance, &c.currency),
        "gan": c.code,
        "created_at": wire::ts(c.created_at),
        "customer_ids": [],
    })
}

/// Square's `GiftCard` of a card created through the dialect and not yet
/// activated: no balance, `PENDING`.
fn pending_json(gan: &str, p: &PendingGiftCard) -> Value {
    json!({
        "id": card_id(gan),
        "type": "DIGITAL",
        "gan_source": p.gan_source,
        "state": "PENDING",
        "balance_money": wire::money(Decimal::ZERO, "USD"),
        "gan": gan,
        "created_at": wire::ts(p.created_at),
        "customer_ids": [],
    })
}

fn pending(d: &Dialect, gan: &str) -> Option<PendingGiftCard> {
    d.sim
        .read(|s| s.square().pending_gift_cards.get(gan).cloned())
}

/// The card `gan` names, as Square shows it: the gateway's, else a pending
/// one of the dialect's. The gateway's card is the truth: a card it holds
/// is `ACTIVE`, whatever the dialect still remembers of it.
async fn card_json_of(d: &Dialect, gan: &str, shown: &str) -> SimResult<Value> {
    match card_by_gan(d, gan, shown).await {
        Ok(c) => Ok(card_json(&c, d)),
        Err(e) if e.code == "NOT_FOUND" => pending(d, gan).map(|p| pending_json(gan, &p)).ok_or(e),
        Err(e) => Err(e),
    }
}

fn gan_of(id: &str) -> SimResult<&str> {
    id.strip_prefix("gftc:")
        .ok_or_else(|| not_found(format!("Gift card `{id}` not found.")))
}

async fn card_by_id(d: &Dialect, id: &str) -> SimResult<GiftCard> {
    card_by_gan(d, gan_of(id)?, id).await
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
    let run = async {
        let card = card_json_of(&d, gan_of(&id)?, &id).await?;
        Ok(json!({"gift_card": card}))
    };
    answer(run.await)
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
        Ok(json!({"gift_card": card_json_of(&d, &gan, &gan).await?}))
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

/// `GET /v2/gift-cards`: every gateway card (`ACTIVE`) and every card made
/// through the dialect and not yet activated (`PENDING`), in GAN order.
pub async fn list_cards(State(d): Ctx, Query(q): Query<ListCardsQuery>) -> Response {
    let run = async {
        let cards = d.pay.gift_cards().await.map_err(gateway_error)?.data;
        let waiting: Vec<(String, PendingGiftCard)> = d.sim.read(|s| {
            s.square()
                .pending_gift_cards
                .iter()
                .filter(|(g, _)| !cards.iter().any(|c| &c.code == *g))
                .map(|(g, p)| (g.clone(), p.clone()))
                .collect()
        });
        let keep = q.kind.as_deref().is_none_or(|t| t == "DIGITAL") && q.customer_id.is_none();
        let state = |s: &str| keep && q.state.as_deref().is_none_or(|want| want == s);
        let mut cards: Vec<(String, Value)> = if state("ACTIVE") {
            cards
                .iter()
                .map(|c| (c.code.clone(), card_json(c, &d)))
                .collect()
        } else {
            Vec::new()
        };
        if state("PENDING") {
            cards.extend(waiting.iter().map(|(g, p)| (g.clone(), pending_json(g, p))));
        }
        cards.sort_by(|a, b| a.0.cmp(&b.0));
        let cards: Vec<Value> = cards.into_iter().map(|(_, v)| v).collect();
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
    let activated = d
        .sim
        .read(|s| s.square().activated_gift_cards.get(&card.code).cloned());
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
                json!({"activate_activity_details": activated
                    .as_ref()
                    .map_or_else(|| json!({"amount_money": amount}), |a| a.details.clone())}),
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
        let at = match (&m.kind, &activated) {
            (MovementKind::Issue, Some(a)) => a.location_id.as_str(),
            _ => location,
        };
        let mut v = json!({
            "id": id,
            "type": kind,
            "location_id": at,
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

// ---- writes ----------------------------------------------------------------

/// The `gift_card` of `POST /v2/gift-cards`: what a caller may set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCard {
    #[serde(rename = "type")]
    kind: Option<String>,
    gan_source: Option<String>,
    gan: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCardReq {
    idempotency_key: Option<String>,
    location_id: Option<String>,
    gift_card: Option<NewCard>,
}

/// A GAN the dialect generates: 16 digits from Square's `7783` prefix.
fn generated_gan(n: u64) -> String {
    format!("7783{:012}", 320_000_000_000 + n)
}

/// Refuses a GAN some card already holds, pending or at the gateway.
async fn gan_is_free(d: &Dialect, gan: &str, field: &str) -> SimResult<()> {
    let taken = || {
        bad(
            "INVALID_VALUE",
            format!("A gift card with GAN `{gan}` already exists."),
            field,
        )
    };
    if pending(d, gan).is_some() {
        return Err(taken());
    }
    match d.pay.gift_card(gan).await {
        Ok(_) => Err(taken()),
        Err(omnisim_api::ApiError::Status { status: 404, .. }) => Ok(()),
        Err(e) => Err(gateway_error(e)),
    }
}

/// The body of a Square write that requires an `idempotency_key`, and
/// that key.
fn keyed<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    key_of: impl Fn(&T) -> &Option<String>,
) -> SimResult<(T, Option<String>)> {
    let req: T = parse(body)?;
    require_key(key_of(&req))?;
    let key = key_of(&req).clone();
    Ok((req, key))
}

/// `POST /v2/gift-cards` (CreateGiftCard): a `DIGITAL` card, `PENDING` until
/// an `ACTIVATE` activity. Without `gan_source` (or with `SQUARE`) the
/// dialect generates a 16-digit GAN; with `OTHER` the caller's `gan` (8 to
/// 20 letters and digits) is used. `PHYSICAL` cards are refused: they are
/// registered from stock ordered from Square, which omnisim has none of.
pub async fn create_card(State(d): Ctx, body: Bytes) -> Response {
    let (req, key) = match keyed::<CreateCardReq>(&body, |r| &r.idempotency_key) {
        Ok(parsed) => parsed,
        Err(e) => return answer(Err(e)),
    };
    let run = async {
        let location = req
            .location_id
            .as_deref()
            .ok_or_else(|| missing("location_id"))?;
        let location = d
            .sim
            .read(|s| require_location(s, "location_id", location))?;
        let card = req.gift_card.as_ref().ok_or_else(|| missing("gift_card"))?;
        match card.kind.as_deref() {
            Some("DIGITAL") => {}
            Some("PHYSICAL") => {
                return Err(bad(
                    "INVALID_VALUE",
                    "A PHYSICAL gift card is registered from card stock ordered from Square, and \
                     omnisim has none: create a DIGITAL card.",
                    "gift_card.type",
                ));
            }
            Some(other) => {
                return Err(bad(
                    "INVALID_ENUM_VALUE",
                    format!("`gift_card.type` is DIGITAL or PHYSICAL, not `{other}`."),
                    "gift_card.type",
                ));
            }
            None => return Err(missing("gift_card.type")),
        }
        let source = card.gan_source.as_deref().unwrap_or("SQUARE");
        let gan = match (source, &card.gan) {
            ("SQUARE", None) => None,
            ("SQUARE", Some(_)) => {
                return Err(bad(
                    "INVALID_VALUE",
                    "A `gan` is given only with `gan_source` OTHER; Square generates its own.",
                    "gift_card.gan",
                ));
            }
            ("OTHER", Some(g)) => {
                let ok =
                    (8..=20).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_alphanumeric());
                if !ok {
                    return Err(bad(
                        "INVALID_VALUE",
                        format!("A custom GAN is 8 to 20 letters and digits, not `{g}`."),
                        "gift_card.gan",
                    ));
                }
                gan_is_free(&d, g, "gift_card.gan").await?;
                Some(g.clone())
            }
            ("OTHER", None) => return Err(missing("gift_card.gan")),
            (other, _) => {
                return Err(bad(
                    "INVALID_ENUM_VALUE",
                    format!("`gift_card.gan_source` is SQUARE or OTHER, not `{other}`."),
                    "gift_card.gan_source",
                ));
            }
        };
        let gan = match gan {
            Some(g) => g,
            None => {
                // The next free generated GAN (a card elsewhere may hold one).
                let mut n = d.sim.read(|s| s.square().last_gan) + 1;
                while gan_is_free(&d, &generated_gan(n), "gift_card.gan")
                    .await
                    .is_err()
                {
                    n += 1;
                }
                d.sim.commit(|s, _| {
                    let book = s.square_mut();
                    book.last_gan = book.last_gan.max(n);
                    Ok(())
                })?;
                generated_gan(n)
            }
        };
        let card = d.sim.commit(|s, fx| {
            let book = s.square_mut();
            if book.pending_gift_cards.contains_key(&gan) {
                return Err(bad(
                    "INVALID_VALUE",
                    format!("A gift card with GAN `{gan}` already exists."),
                    "gift_card.gan",
                ));
            }
            let card = PendingGiftCard {
                gan_source: source.to_owned(),
                location_id: location.clone(),
                created_at: fx.now(),
            };
            book.pending_gift_cards.insert(gan.clone(), card.clone());
            Ok(card)
        })?;
        Ok(json!({"gift_card": pending_json(&gan, &card)}))
    };
    idempotent(&d, "/v2/gift-cards", key, &body, run).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateDetails {
    amount_money: Option<MoneyIn>,
    order_id: Option<String>,
    line_item_uid: Option<String>,
    reference_id: Option<String>,
    buyer_payment_instrument_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct NewActivity {
    #[serde(rename = "type")]
    kind: Option<String>,
    location_id: Option<String>,
    gift_card_id: Option<String>,
    gift_card_gan: Option<String>,
    activate_activity_details: Option<ActivateDetails>,
    /// Anything else (another type's details): refused by name.
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateActivityReq {
    idempotency_key: Option<String>,
    gift_card_activity: Option<NewActivity>,
}

/// `POST /v2/gift-cards/activities` (CreateGiftCardActivity): an `ACTIVATE`
/// of a card created through the dialect, for a card sold outside Square
/// (`amount_money` and `buyer_payment_instrument_ids`). The register issues
/// it at the gateway with that balance and records `gift_card.issued`,
/// naming what paid for it. Other activity types, and an activation tied to
/// a Square order (`order_id`, `line_item_uid`), are refused by name: they
/// would move money the ledger has no source for, or need a `GIFT_CARD`
/// line item the dialect's orders do not carry.
pub async fn create_activity(State(d): Ctx, body: Bytes) -> Response {
    let (req, key) = match keyed::<CreateActivityReq>(&body, |r| &r.idempotency_key) {
        Ok(parsed) => parsed,
        Err(e) => return answer(Err(e)),
    };
    let run = async {
        let a = req
            .gift_card_activity
            .ok_or_else(|| missing("gift_card_activity"))?;
        let f = |name: &str| format!("gift_card_activity.{name}");
        match a.kind.as_deref() {
            Some("ACTIVATE") => {}
            Some(other) => {
                return Err(bad(
                    "INVALID_VALUE",
                    format!(
                        "omnisim's Square dialect records ACTIVATE activities only, not {other}: \
                         loading or adjusting a balance would move money with no sale behind it."
                    ),
                    f("type"),
                ));
            }
            None => return Err(missing(&f("type"))),
        }
        if let Some(extra) = a.rest.keys().next() {
            return Err(bad(
                "INVALID_VALUE",
                format!("`{}` does not go with an ACTIVATE activity.", f(extra)),
                f(extra),
            ));
        }
        let location = a
            .location_id
            .as_deref()
            .ok_or_else(|| missing(&f("location_id")))?;
        let location = d
            .sim
            .read(|s| require_location(s, &f("location_id"), location))?;
        let (gan, shown) = match (&a.gift_card_id, &a.gift_card_gan) {
            (Some(id), gan) => {
                let g = gan_of(id)?.to_owned();
                if gan.as_ref().is_some_and(|other| *other != g) {
                    return Err(bad(
                        "INVALID_VALUE",
                        "`gift_card_id` and `gift_card_gan` name different cards.",
                        f("gift_card_gan"),
                    ));
                }
                (g, id.clone())
            }
            (None, Some(g)) => (g.clone(), g.clone()),
            (None, None) => return Err(missing(&f("gift_card_id"))),
        };
        let dfield = |name: &str| f(&format!("activate_activity_details.{name}"));
        let details = a
            .activate_activity_details
            .ok_or_else(|| missing(&f("activate_activity_details")))?;
        if details.order_id.is_some() || details.line_item_uid.is_some() {
            let field = if details.order_id.is_some() {
                "order_id"
            } else {
                "line_item_uid"
            };
            return Err(bad(
                "INVALID_VALUE",
                "omnisim activates gift cards sold outside Square Orders only: give \
                 `amount_money` and `buyer_payment_instrument_ids`, not an order's line.",
                dfield(field),
            ));
        }
        let money = details
            .amount_money
            .as_ref()
            .ok_or_else(|| missing(&dfield("amount_money")))?;
        let (amount, currency) = money.decimal(&dfield("amount_money"))?;
        if amount <= Decimal::ZERO {
            return Err(bad(
                "INVALID_VALUE",
                "A gift card is activated with more than 0.",
                dfield("amount_money.amount"),
            ));
        }
        if currency != "USD" {
            return Err(bad(
                "INVALID_CURRENCY",
                format!("The seller's gift cards are in USD, not {currency}."),
                dfield("amount_money.currency"),
            ));
        }
        let instruments = details
            .buyer_payment_instrument_ids
            .clone()
            .filter(|ids| !ids.is_empty())
            .ok_or_else(|| missing(&dfield("buyer_payment_instrument_ids")))?;
        // A card the gateway holds is ACTIVE, whatever the dialect remembers.
        match d.pay.gift_card(&gan).await {
            Ok(_) => {
                return Err(bad(
                    "INVALID_VALUE",
                    format!("Gift card `{shown}` is ACTIVE: only a PENDING card is activated."),
                    f("gift_card_id"),
                ));
            }
            Err(omnisim_api::ApiError::Status { status: 404, .. }) => {}
            Err(e) => return Err(gateway_error(e)),
        }
        let Some(card) = pending(&d, &gan) else {
            return Err(
                not_found(format!("Gift card `{shown}` not found.")).field(f("gift_card_id"))
            );
        };
        let reference = details
            .reference_id
            .as_deref()
            .map(|r| format!(", reference {r}"))
            .unwrap_or_default();
        let issue = IssueGiftCard {
            code: gan.clone(),
            amount,
            currency: Some(currency.clone()),
            reason: format!(
                "activated through Square at {location}, paid by {}{reference}",
                instruments.join(", ")
            ),
            customer: None,
        };
        let mut shown_details = json!({
            "amount_money": wire::money(amount, &currency),
            "buyer_payment_instrument_ids": instruments,
        });
        if let Some(r) = &details.reference_id {
            shown_details["reference_id"] = r.clone().into();
        }
        // Issued and recorded as activated together, even if the caller
        // stops waiting between the two: never a card at the gateway that
        // the dialect still calls PENDING.
        let activated = ActivatedGiftCard {
            gan_source: card.gan_source.clone(),
            location_id: location.clone(),
            details: shown_details.clone(),
        };
        let (dd, g, field) = (Arc::clone(&d), gan.clone(), f("gift_card_id"));
        crate::layers::detached(async move {
            crate::pos::routes::issue_gift_card_at(&dd.sim, &dd.pay, issue)
                .await
                .map_err(|e| on_activation(e, &field))?;
            dd.sim.commit(|s, _| {
                let book = s.square_mut();
                book.pending_gift_cards.shift_remove(&g);
                book.activated_gift_cards.insert(g, activated);
                Ok(())
            })
        })
        .await
        .unwrap_or_else(|| {
            Err(SimError::new(
                ErrorKind::Unavailable,
                "INTERNAL_SERVER_ERROR",
                "the activation failed inside the simulator",
            ))
        })?;
        // As the card's activities show it: when the gateway issued it.
        let issued = card_by_gan(&d, &gan, &shown).await?;
        Ok(json!({"gift_card_activity": {
            "id": format!("gcact:{gan}:activate"),
            "type": "ACTIVATE",
            "location_id": location,
            "created_at": wire::ts(issued.created_at),
            "gift_card_id": card_id(&gan),
            "gift_card_gan": gan,
            "gift_card_balance_money": wire::money(amount, &currency),
            "activate_activity_details": shown_details,
        }}))
    };
    idempotent(&d, "/v2/gift-cards/activities", key, &body, run).await
}

/// A native refusal of the issue, named as the activity names its card.
fn on_activation(mut e: SimError, card_field: &str) -> SimError {
    if e.field.as_deref() == Some("code") {
        e.field = Some(card_field.to_owned());
    }
    e
}
