//! Shopify's legacy REST Admin API, the subset connectors still on it use
//! (ERPNext's Shopify integration, ShopifyAPI's REST resources): root-wrapped
//! bodies (`{"product": {…}}`), numeric ids, `Link` header pagination with
//! `page_info`, and errors as `{"errors": …}`. Every write is the same call
//! into the shop state machine the native API and GraphQL make.
//!
//! Served: `shop`, `locations`, `products` (list, one), `variants/{id}`,
//! `inventory_items/{id}`, `inventory_levels` (GET), `inventory_levels/adjust|set|connect`,
//! `orders` (`status`, `since_id`, `updated_at_min|max`, `created_at_min|max`,
//! `financial_status`, `ids`, `limit`, `page_info`), `orders/{id}`,
//! `orders/{id}/cancel`, `orders/{id}/transactions` (GET; POST `capture`, and
//! `refund` recording a refund made at the gateway outside the shop),
//! `orders/{id}/refunds/calculate`, `orders/{id}/refunds` (GET, POST),
//! `orders/{id}/fulfillment_orders`, `fulfillments`, `webhooks` (list,
//! create, one, delete), `customers` (list with `ids`, `since_id`,
//! `created_at_min|max`, `updated_at_min|max`, `limit`, `page_info`,
//! `fields`; create), `customers/count`, `customers/search` (`query`, as
//! GraphQL's `customers(query:)`), `customers/{id}` (GET, PUT),
//! `gift_cards` (list with `status`, `since_id`, `limit`, `page_info`,
//! `fields`; create), `gift_cards/count` (`status`), `gift_cards/search`
//! (`query`, as GraphQL's `giftCards(query:)`), `gift_cards/{id}`. Anything
//! else answers 404 `{"errors": "Not Found"}`.

// Handlers return their refusal as the finished answer (`Err(Response)`),
// once per request: its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use omnisim_api::common::WebhookSubscription;
use omnisim_api::shop::{
    AdjustInventory, CancelOrder, CancelReason, CaptureOrder, CreateOrderRefund, FinancialStatus,
    FulfillLine, FulfillOrder, FulfillmentStatus, Order, OrderStatus, RefundLineRequest,
    RestockType, SetInventory,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::customers::{self, Change, Write};
use super::gift_cards;
use super::graphql::{self, Shared, WebhookSubscriptionTopic};
use super::ids::{FulfillmentRec, counter};
use super::{API_VERSION, wire};
use crate::core::{Platform, Simulator};
use crate::dialects::Wire;
use crate::error::{ErrorKind, SimError};
use crate::extract::Json;
use crate::shop::ShopState;

type Rest = Result<Response, Response>;

fn ok(body: Value) -> Rest {
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

fn created(body: Value) -> Rest {
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// 404 `{"errors": "Not Found"}`.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"errors": "Not Found"})),
    )
        .into_response()
}

fn unprocessable(field: &str, message: impl Into<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"errors": {field: [message.into()]}})),
    )
        .into_response()
}

/// A state-machine error in REST's shape.
fn sim_error(e: &SimError) -> Response {
    let status = match e.kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Invalid | ErrorKind::Conflict => StatusCode::UNPROCESSABLE_ENTITY,
        other => other.status(),
    };
    let field = e.field.clone().unwrap_or_else(|| "base".to_owned());
    (
        status,
        axum::Json(json!({"errors": {field: [e.message.clone()]}})),
    )
        .into_response()
}

fn query_map(q: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn body_json(body: &Bytes) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"errors": {"base": ["the body is not valid JSON"]}})),
        )
            .into_response()
    })
}

fn int(v: &Value, field: &str) -> Result<i64, Response> {
    match v.get(field) {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| unprocessable(field, "is not an integer")),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| unprocessable(field, "is not an integer")),
        _ => Err(unprocessable(field, "is required")),
    }
}

fn number(v: &Value, field: &str) -> Result<u64, Response> {
    int(v, field).and_then(|n| u64::try_from(n).map_err(|_| unprocessable(field, "is invalid")))
}

fn id_segment(s: &str) -> Option<u64> {
    s.strip_suffix(".json").unwrap_or(s).parse().ok()
}

/// Serves one REST request: `tail` is the path after `/admin/api/{version}/`.
pub async fn serve(
    sh: &Shared,
    method: &Method,
    base: &str,
    tail: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Response {
    match route(sh, method, base, tail, query, body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn route(
    sh: &Shared,
    method: &Method,
    base: &str,
    tail: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Rest {
    let q = query_map(query);
    let Some(path) = tail.strip_suffix(".json") else {
        return Err(not_found());
    };
    let parts: Vec<&str> = path.split('/').collect();
    let sim = &sh.sim;
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["shop"]) => ok(json!({"shop": shop(sim)})),
        ("GET", ["locations"]) => ok(json!({"locations": sim.read(locations)})),
        ("GET", ["locations", id]) => {
            let n = id_segment(id).ok_or_else(not_found)?;
            let loc = sim
                .read(|s| locations(s).into_iter().find(|l| l["id"] == n))
                .ok_or_else(not_found)?;
            ok(json!({"location": loc}))
        }
        ("GET", ["products"]) => ok(json!({"products": sim.read(|s| products(s, &q))})),
        ("GET", ["products", "count"]) => ok(json!({"count": sim.read(|s| products(s, &q).len())})),
        ("GET", ["products", id]) => {
            let n = id_segment(id).ok_or_else(not_found)?;
            let p = sim.read(|s| product(s, n)).ok_or_else(not_found)?;
            ok(json!({"product": p}))
        }
        ("GET", ["variants", id]) => {
            let n = id_segment(id).ok_or_else(not_found)?;
            let v = sim
                .read(|s| product(s, n).map(|p| p["variants"][0].clone()))
                .ok_or_else(not_found)?;
            ok(json!({"variant": v}))
        }
        ("GET", ["inventory_items", id]) => {
            let n = id_segment(id).ok_or_else(not_found)?;
            let item = sim.read(|s| inventory_item(s, n)).ok_or_else(not_found)?;
            ok(json!({"inventory_item": item}))
        }
        ("GET", ["inventory_levels"]) => {
            let levels = sim.read(|s| levels(s, &q))?;
            ok(json!({"inventory_levels": levels}))
        }
        ("POST", ["inventory_levels", action @ ("adjust" | "set" | "connect")]) => {
            let b = body_json(body)?;
            level_write(sim, action, &b).map(|l| ok(json!({"inventory_level": l})))?
        }
        ("GET", ["orders"]) => orders(sim, base, &q),
        ("GET", ["orders", "count"]) => {
            let n = sim.read(|s| filtered_orders(s, &q).map(|v| v.len()))?;
            ok(json!({"count": n}))
        }
        ("GET", ["orders", id]) => {
            let key = order_key(id)?;
            let o = sim
                .read(|s| s.get_order(&key).map(|o| wire::order(s, &o)))
                .map_err(|_| not_found())?;
            ok(json!({"order": o}))
        }
        ("POST", ["orders", id, "cancel"]) => cancel(sh, id, body).await,
        ("GET", ["orders", id, "transactions"]) => {
            let key = order_key(id)?;
            let o = sim.read(|s| s.get_order(&key)).map_err(|_| not_found())?;
            ok(json!({"transactions": transactions(&o)}))
        }
        ("POST", ["orders", id, "transactions"]) => capture(sh, id, body).await,
        ("GET", ["orders", id, "refunds"]) => {
            let key = order_key(id)?;
            let r = sim
                .read(|s| {
                    s.get_order(&key).map(|o| {
                        o.refunds
                            .iter()
                            .map(|r| wire::refund(s, &o, r))
                            .collect::<Vec<_>>()
                    })
                })
                .map_err(|_| not_found())?;
            ok(json!({"refunds": r}))
        }
        ("POST", ["orders", id, "refunds", "calculate"]) => calculate(sh, id, body),
        ("POST", ["orders", id, "refunds"]) => refund(sh, id, body).await,
        ("GET", ["orders", id, "fulfillment_orders"]) => {
            let key = order_key(id)?;
            let fo = sim
                .read(|s| s.get_order(&key).map(|o| fulfillment_order(s, &o)))
                .map_err(|_| not_found())?;
            ok(json!({"fulfillment_orders": [fo]}))
        }
        ("GET", ["fulfillment_orders", id]) => {
            let key = order_key(id)?;
            let fo = sim
                .read(|s| s.get_order(&key).map(|o| fulfillment_order(s, &o)))
                .map_err(|_| not_found())?;
            ok(json!({"fulfillment_order": fo}))
        }
        ("POST", ["fulfillments"]) => fulfil(sim, body),
        ("GET", ["customers"]) => list_customers(sim, base, &q),
        ("GET", ["customers", "count"]) => count_customers(sim, &q),
        ("GET", ["customers", "search"]) => search_customers(sim, base, &q),
        ("POST", ["customers"]) => create_customer(sh, body),
        ("GET", ["customers", id]) => {
            let key = customer_key(id)?;
            let c = sim
                .read(|s| s.customers.get(&key))
                .map_err(|_| not_found())?;
            ok(json!({"customer": only_fields(wire::customer(&c), &q)}))
        }
        ("PUT", ["customers", id]) => update_customer(sh, id, body),
        ("GET", ["gift_cards"]) => list_gift_cards(sh, base, &q, "gift_cards").await,
        ("GET", ["gift_cards", "search"]) => {
            list_gift_cards(sh, base, &q, "gift_cards/search").await
        }
        ("GET", ["gift_cards", "count"]) => {
            known_params(&q, &["status"])?;
            let n = find_gift_cards(sh, &q).await?.len();
            ok(json!({"count": n}))
        }
        ("POST", ["gift_cards"]) => create_gift_card(sh, body).await,
        ("GET", ["gift_cards", id]) => {
            let n = id_segment(id).ok_or_else(not_found)?;
            let (c, rec) = gift_cards::by_number(sh, n)
                .await
                .map_err(gateway_down)?
                .ok_or_else(not_found)?;
            ok(json!({"gift_card": only_fields(wire::gift_card(&c, &rec), &q)}))
        }
        ("GET", ["webhooks"]) => {
            let subs: Vec<Value> = sim
                .core
                .webhooks
                .list_for(Wire::Shopify)
                .iter()
                .map(webhook)
                .collect();
            ok(json!({"webhooks": subs}))
        }
        ("GET", ["webhooks", "count"]) => {
            ok(json!({"count": sim.core.webhooks.list_for(Wire::Shopify).len()}))
        }
        ("POST", ["webhooks"]) => create_webhook(sim, body),
        ("GET", ["webhooks", id]) => {
            let key = webhook_key(id)?;
            match sim.core.webhooks.get(&key) {
                Some((Wire::Shopify, sub)) => ok(json!({"webhook": webhook(&sub)})),
                _ => Err(not_found()),
            }
        }
        ("DELETE", ["webhooks", id]) => {
            let key = webhook_key(id)?;
            match sim.core.webhooks.get(&key) {
                Some((Wire::Shopify, _)) => {
                    sim.core.webhooks.delete(&key).map_err(|e| sim_error(&e))?;
                    ok(json!({}))
                }
                _ => Err(not_found()),
            }
        }
        _ => Err(not_found()),
    }
}

// ------------------------------------------------------------------ catalog

fn shop(sim: &Simulator<ShopState>) -> Value {
    let currency = sim
        .read(|s| s.list_products().first().map(|p| p.currency.clone()))
        .unwrap_or_else(|| "USD".to_owned());
    json!({
        "id": 1,
        "name": "omnisim shop",
        "email": "shop@omnisim.test",
        "domain": super::SHOP_DOMAIN,
        "myshopify_domain": super::SHOP_DOMAIN,
        "currency": currency,
        "iana_timezone": "Etc/UTC",
        "timezone": "(GMT+00:00) Etc/UTC",
        "plan_name": "partner_test",
        "primary_location_id": sim.read(|s| s.shopify.location(crate::shop::state::DEFAULT_LOCATION)),
    })
}

fn locations(s: &ShopState) -> Vec<Value> {
    let mut out: Vec<(u64, Value)> = s
        .locations()
        .map(|l| l.list())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| {
            let n = s.shopify.location(&l.id)?;
            Some((
                n,
                json!({
                    "id": n,
                    "name": l.name,
                    "active": true,
                    "legacy": false,
                    "admin_graphql_api_id": super::ids::gid("Location", n),
                }),
            ))
        })
        .collect();
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().map(|(_, v)| v).collect()
}

fn product(s: &ShopState, n: u64) -> Option<Value> {
    let sku = s.shopify.sku(n)?;
    let p = s.get_product(sku).ok()?;
    Some(wire::product(s, &p, n))
}

fn products(s: &ShopState, q: &BTreeMap<String, String>) -> Vec<Value> {
    let ids: Option<Vec<u64>> = q
        .get("ids")
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect());
    let since = q.get("since_id").and_then(|v| v.parse::<u64>().ok());
    let limit = q
        .get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(50)
        .min(250);
    let mut out: Vec<(u64, Value)> = s
        .list_products()
        .iter()
        .filter_map(|p| {
            let n = s.shopify.product(&p.sku)?;
            Some((n, wire::product(s, p, n)))
        })
        .filter(|(n, _)| ids.as_ref().is_none_or(|i| i.contains(n)))
        .filter(|(n, _)| since.is_none_or(|m| *n > m))
        .collect();
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().take(limit).map(|(_, v)| v).collect()
}

fn inventory_item(s: &ShopState, n: u64) -> Option<Value> {
    let sku = s.shopify.sku(n)?;
    let p = s.get_product(sku).ok()?;
    Some(json!({
        "id": n,
        "sku": p.sku,
        "tracked": true,
        "requires_shipping": true,
        "cost": null,
        "created_at": wire::time(p.created_at),
        "updated_at": wire::time(p.updated_at),
        "admin_graphql_api_id": super::ids::gid("InventoryItem", n),
    }))
}

fn list_param(q: &BTreeMap<String, String>, name: &str) -> Option<Vec<u64>> {
    q.get(name)
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
}

fn levels(s: &ShopState, q: &BTreeMap<String, String>) -> Result<Vec<Value>, Response> {
    let items = list_param(q, "inventory_item_ids");
    let locs = list_param(q, "location_ids");
    if items.is_none() && locs.is_none() {
        return Err(unprocessable(
            "base",
            "inventory_item_ids or location_ids is required",
        ));
    }
    let mut out = Vec::new();
    for p in s.list_products() {
        let Some(item) = s.shopify.product(&p.sku) else {
            continue;
        };
        if items.as_ref().is_some_and(|i| !i.contains(&item)) {
            continue;
        }
        for l in s.locations().map(|l| l.list()).unwrap_or_default() {
            let Some(loc) = s.shopify.location(&l.id) else {
                continue;
            };
            if locs.as_ref().is_some_and(|x| !x.contains(&loc)) {
                continue;
            }
            if let Ok(level) = s.get_level(&p.sku, &l.id) {
                out.push(wire::level(&level, item, loc));
            }
        }
    }
    Ok(out)
}

/// `inventory_levels/adjust|set|connect`: adjust adds `available_adjustment`
/// (reason `correction`); set writes `available` absolutely; connect makes
/// the level exist (every level exists here) and answers it.
fn level_write(sim: &Simulator<ShopState>, action: &str, b: &Value) -> Result<Value, Response> {
    let item = number(b, "inventory_item_id")?;
    let loc = number(b, "location_id")?;
    sim.commit(|s, fx| {
        let (Some(sku), Some(key)) = (
            s.shopify.sku(item).map(str::to_owned),
            s.shopify.location_key(loc).map(str::to_owned),
        ) else {
            return Ok(Err(unprocessable(
                "base",
                "Inventory item or location does not exist",
            )));
        };
        let level = match action {
            "adjust" => {
                let delta = match int(b, "available_adjustment") {
                    Ok(d) => d,
                    Err(r) => return Ok(Err(r)),
                };
                s.adjust(
                    fx,
                    AdjustInventory {
                        sku,
                        location: key,
                        delta,
                        reason: "correction".into(),
                        change_from: None,
                        reference: None,
                    },
                )
            }
            "set" => {
                let available = match int(b, "available") {
                    Ok(d) => d,
                    Err(r) => return Ok(Err(r)),
                };
                s.set(
                    fx,
                    SetInventory {
                        sku,
                        location: key,
                        available,
                        change_from: None,
                        reference: None,
                    },
                )
            }
            _ => s.get_level(&sku, &key),
        };
        Ok(match level {
            Ok(l) => Ok(wire::level(&l, item, loc)),
            Err(e) => Err(sim_error(&e)),
        })
    })
    .map_err(|e| sim_error(&e))?
}

// -------------------------------------------------------------------- orders

fn order_key(id: &str) -> Result<String, Response> {
    id_segment(id)
        .map(|n| format!("ord_{n:06}"))
        .ok_or_else(not_found)
}

fn time_param(
    q: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, Response> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&chrono::Utc)))
            .map_err(|_| unprocessable(name, "is not an ISO 8601 time")),
    }
}

fn filtered_orders(s: &ShopState, q: &BTreeMap<String, String>) -> Result<Vec<Order>, Response> {
    let status = q.get("status").map_or("open", String::as_str);
    let since = q.get("since_id").and_then(|v| v.parse::<u64>().ok());
    let ids = list_param(q, "ids");
    let updated_min = time_param(q, "updated_at_min")?;
    let updated_max = time_param(q, "updated_at_max")?;
    let created_min = time_param(q, "created_at_min")?;
    let created_max = time_param(q, "created_at_max")?;
    let financial = q.get("financial_status").cloned();
    let fulfillment = q.get("fulfillment_status").cloned();
    Ok(s.list_orders()
        .into_iter()
        .filter(|o| match status {
            "open" => {
                o.status == OrderStatus::Open
                    && o.fulfillment_status != FulfillmentStatus::Fulfilled
            }
            "closed" => {
                o.status == OrderStatus::Open
                    && o.fulfillment_status == FulfillmentStatus::Fulfilled
            }
            "cancelled" => o.status == OrderStatus::Cancelled,
            _ => true,
        })
        .filter(|o| {
            let n = counter(&o.id).unwrap_or(0);
            since.is_none_or(|m| n > m) && ids.as_ref().is_none_or(|i| i.contains(&n))
        })
        .filter(|o| updated_min.is_none_or(|t| o.updated_at >= t))
        .filter(|o| updated_max.is_none_or(|t| o.updated_at <= t))
        .filter(|o| created_min.is_none_or(|t| o.created_at >= t))
        .filter(|o| created_max.is_none_or(|t| o.created_at <= t))
        .filter(|o| {
            financial.as_deref().is_none_or(|f| {
                f == "any"
                    || serde_json::to_value(o.financial_status)
                        .ok()
                        .is_some_and(|v| v == f)
                    || (f == "unpaid" && o.financial_status == FinancialStatus::Authorized)
            })
        })
        .filter(|o| {
            fulfillment.as_deref().is_none_or(|f| match f {
                "shipped" | "fulfilled" => o.fulfillment_status == FulfillmentStatus::Fulfilled,
                "partial" => o.fulfillment_status == FulfillmentStatus::Partial,
                "unshipped" | "unfulfilled" => {
                    o.fulfillment_status == FulfillmentStatus::Unfulfilled
                }
                _ => true,
            })
        })
        .collect())
}

fn encode_page(q: &BTreeMap<String, String>, after: Option<u64>, before: Option<u64>) -> String {
    let mut filters: BTreeMap<String, String> = q
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "limit" | "page_info" | "fields"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(a) = after {
        filters.insert("__after".into(), a.to_string());
    }
    if let Some(b) = before {
        filters.insert("__before".into(), b.to_string());
    }
    let raw = serde_json::to_vec(&filters).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_page(token: &str) -> Option<BTreeMap<String, String>> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    serde_json::from_slice(&raw).ok()
}

/// `GET orders.json`: oldest first; `limit` (default 50, at most 250) with a
/// `Link` header (`rel="next"`, `rel="previous"`) carrying `page_info`. A
/// `page_info` request takes no filters besides `limit` and `fields`.
fn orders(sim: &Simulator<ShopState>, base: &str, q: &BTreeMap<String, String>) -> Rest {
    let Paging {
        limit,
        after,
        before,
        filters,
    } = paging(q)?;
    let all = sim.read(|s| filtered_orders(s, &filters))?;
    let numbered: Vec<(u64, Order)> = all
        .into_iter()
        .map(|o| (counter(&o.id).unwrap_or(0), o))
        .filter(|(n, _)| after.is_none_or(|a| *n > a) && before.is_none_or(|b| *n < b))
        .collect();
    let (window, more_before, more_after) = if before.is_some() {
        let start = numbered.len().saturating_sub(limit);
        (numbered[start..].to_vec(), start > 0, true)
    } else {
        let more = numbered.len() > limit;
        (
            numbered.into_iter().take(limit).collect::<Vec<_>>(),
            after.is_some(),
            more,
        )
    };
    let body: Vec<Value> = sim.read(|s| window.iter().map(|(_, o)| wire::order(s, o)).collect());
    let mut links = Vec::new();
    if more_before && let Some((first, _)) = window.first() {
        links.push(format!(
            "<{base}/orders.json?limit={limit}&page_info={}>; rel=\"previous\"",
            encode_page(&filters, None, Some(*first))
        ));
    }
    if more_after && let Some((last, _)) = window.last() {
        links.push(format!(
            "<{base}/orders.json?limit={limit}&page_info={}>; rel=\"next\"",
            encode_page(&filters, Some(*last), None)
        ));
    }
    let mut resp = (StatusCode::OK, axum::Json(json!({"orders": body}))).into_response();
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

fn transactions(o: &Order) -> Vec<Value> {
    let n = counter(&o.id).unwrap_or(0);
    graphql::transactions(o, n)
        .into_iter()
        .map(|t| {
            let kind = format!("{:?}", t.kind).to_lowercase();
            json!({
                "id": t.id,
                "order_id": n,
                "kind": kind,
                "status": format!("{:?}", t.status).to_lowercase(),
                "amount": wire::money(t.amount),
                "currency": t.currency,
                "gateway": "omnisim",
                "parent_id": t.parent,
                "test": true,
                "created_at": wire::time(t.at),
                "processed_at": wire::time(t.at),
                "admin_graphql_api_id": super::ids::gid("OrderTransaction", t.id),
            })
        })
        .collect()
}

async fn cancel(sh: &Shared, id: &str, body: &Bytes) -> Rest {
    let key = order_key(id)?;
    let b = body_json(body)?;
    let reason = match b.get("reason").and_then(Value::as_str) {
        None | Some("customer") => CancelReason::Customer,
        Some("inventory") => CancelReason::Inventory,
        Some("fraud") => CancelReason::Fraud,
        Some("declined") => CancelReason::Declined,
        Some(_) => CancelReason::Other,
    };
    let restock = b.get("restock").and_then(Value::as_bool).unwrap_or(true);
    let req = CancelOrder {
        reason,
        restock: Some(restock),
    };
    match crate::shop::routes::cancel(State(graphql::shop_ctx(sh)), Path(key), Json(req)).await {
        Ok(crate::money::MoneyJson(o)) => {
            let order = sh.sim.read(|s| wire::order(s, &o));
            ok(json!({"order": order}))
        }
        Err(e) => Err(sim_error(&e)),
    }
}

/// `POST orders/{id}/transactions.json` with `kind: "refund"`: a refund
/// made at the gateway outside the shop (its dashboard, another app),
/// recorded on the order as Shopify records one, with the gateway's id for
/// it in `authorization` (the native `POST /v1/orders/{id}/transactions`).
/// No units move and the gateway is not called.
async fn external_refund(sh: &Shared, key: &str, t: &Value) -> Rest {
    let amount = match t.get("amount") {
        Some(Value::String(s)) => s.parse::<Decimal>().ok(),
        Some(Value::Number(n)) => n.to_string().parse::<Decimal>().ok(),
        _ => None,
    }
    .ok_or_else(|| unprocessable("amount", "is required, as a decimal"))?;
    let reference = t
        .get("authorization")
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            unprocessable(
                "authorization",
                "is required: the gateway's id for the refund (re_…)",
            )
        })?;
    let req = omnisim_api::shop::CreateOrderTransaction {
        kind: omnisim_api::shop::TransactionKind::Refund,
        amount,
        gateway_reference: reference.to_owned(),
        note: t.get("message").and_then(Value::as_str).map(str::to_owned),
    };
    crate::shop::routes::record_transaction(
        State(graphql::shop_ctx(sh)),
        Path(key.to_owned()),
        Json(req),
    )
    .await
    .map_err(|e| sim_error(&e))?;
    let o = sh
        .sim
        .read(|s| s.get_order(key))
        .map_err(|e| sim_error(&e))?;
    let mut t = transactions(&o)
        .into_iter()
        .rfind(|t| t["kind"] == "refund")
        .unwrap_or_default();
    t["authorization"] = reference.into();
    t["source"] = "external".into();
    created(json!({"transaction": t}))
}

async fn capture(sh: &Shared, id: &str, body: &Bytes) -> Rest {
    let key = order_key(id)?;
    let b = body_json(body)?;
    let t = b.get("transaction").cloned().unwrap_or_default();
    match t.get("kind").and_then(Value::as_str) {
        Some("capture") => {}
        Some("refund") => return external_refund(sh, &key, &t).await,
        _ => {
            return Err(unprocessable(
                "kind",
                "omnisim creates capture and refund transactions only",
            ));
        }
    }
    let amount = match t.get("amount") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(
                s.parse::<Decimal>()
                    .map_err(|_| unprocessable("amount", "is not a decimal"))?,
            )
        }
    };
    match crate::shop::routes::capture(
        State(graphql::shop_ctx(sh)),
        Path(key),
        Json(CaptureOrder { amount }),
    )
    .await
    {
        Ok(crate::money::MoneyJson(o)) => {
            let t = transactions(&o)
                .into_iter()
                .find(|t| t["kind"] == "capture")
                .unwrap_or_default();
            created(json!({"transaction": t}))
        }
        Err(e) => Err(sim_error(&e)),
    }
}

/// The refund lines of a REST refund body, in the model's terms.
fn refund_lines(s: &ShopState, o: &Order, b: &Value) -> Result<Vec<RefundLineRequest>, Response> {
    let empty = Vec::new();
    let items = b["refund"]["refund_line_items"]
        .as_array()
        .unwrap_or(&empty);
    let mut out = Vec::new();
    for item in items {
        let n = number(item, "line_item_id")?;
        let line_id = format!("line_{n:06}");
        let Some(line) = o.lines.iter().find(|l| l.id == line_id) else {
            return Err(unprocessable("line_item_id", "does not exist"));
        };
        let quantity = int(item, "quantity")?;
        let restock_type = match item.get("restock_type").and_then(Value::as_str) {
            None | Some("no_restock") => RestockType::NoRestock,
            Some("cancel") => RestockType::Cancel,
            Some("return") => RestockType::Return,
            Some("legacy_restock") if line.fulfilled_quantity > 0 => RestockType::Return,
            Some("legacy_restock") => RestockType::Cancel,
            Some(other) => {
                return Err(unprocessable(
                    "restock_type",
                    format!("`{other}` is not a restock type"),
                ));
            }
        };
        let location = match item.get("location_id") {
            None | Some(Value::Null) => None,
            Some(_) => {
                let loc = number(item, "location_id")?;
                Some(
                    s.shopify
                        .location_key(loc)
                        .ok_or_else(|| unprocessable("location_id", "does not exist"))?
                        .to_owned(),
                )
            }
        };
        out.push(RefundLineRequest {
            line_id,
            quantity,
            restock_type,
            location: if restock_type == RestockType::Return {
                location
            } else {
                None
            },
        });
    }
    Ok(out)
}

/// `refunds/calculate`: what a refund of these lines would give back, pro
/// rata of each line's total (the last units exactly what remains), as a
/// `suggested_refund` transaction. Nothing is written.
fn calculate(sh: &Shared, id: &str, body: &Bytes) -> Rest {
    let key = order_key(id)?;
    let b = body_json(body)?;
    let (o, lines) = sh.sim.read(|s| {
        let o = s.get_order(&key).map_err(|_| not_found())?;
        let lines = refund_lines(s, &o, &b)?;
        Ok::<_, Response>((o, lines))
    })?;
    let n = counter(&o.id).unwrap_or(0);
    let mut total = Decimal::ZERO;
    let mut out = Vec::new();
    for l in &lines {
        let Some(line) = o.lines.iter().find(|x| x.id == l.line_id) else {
            continue;
        };
        let left_units = line.quantity - line.refunded_quantity;
        let left_money = line.total - line.refunded_amount;
        let amount = if l.quantity >= left_units {
            left_money
        } else {
            (line.total * Decimal::from(l.quantity) / Decimal::from(line.quantity)).round_dp(2)
        };
        total += amount;
        out.push(json!({
            "line_item_id": counter(&line.id),
            "quantity": l.quantity,
            "restock_type": serde_json::to_value(l.restock_type).unwrap_or_default(),
            "location_id": l.location.as_deref().and_then(|k| sh.sim.read(|s| s.shopify.location(k))),
            "subtotal": wire::money(amount),
            "total_tax": "0.00",
        }));
    }
    let manual = o.capture_method == omnisim_api::pay::CaptureMethod::Manual;
    ok(json!({"refund": {
        "refund_line_items": out,
        "transactions": [{
            "order_id": n,
            "kind": "suggested_refund",
            "amount": wire::money(total),
            "maximum_refundable": wire::money(o.total_captured - o.total_refunded),
            "currency": o.currency,
            "gateway": "omnisim",
            "parent_id": n * 100 + if manual { 2 } else { 1 },
        }],
        "shipping": {"amount": "0.00", "tax": "0.00", "maximum_refundable": "0.00"},
        "currency": o.currency,
    }}))
}

async fn refund(sh: &Shared, id: &str, body: &Bytes) -> Rest {
    let key = order_key(id)?;
    let b = body_json(body)?;
    let lines = sh.sim.read(|s| {
        let o = s.get_order(&key).map_err(|_| not_found())?;
        refund_lines(s, &o, &b)
    })?;
    let note = b["refund"]["note"].as_str().map(str::to_owned);
    let req = CreateOrderRefund { lines, note };
    match crate::shop::routes::refund(State(graphql::shop_ctx(sh)), Path(key.clone()), Json(req))
        .await
    {
        Ok(crate::money::MoneyJson(r)) => {
            let body = sh
                .sim
                .read(|s| s.get_order(&key).map(|o| wire::refund(s, &o, &r)))
                .map_err(|e| sim_error(&e))?;
            created(json!({"refund": body}))
        }
        Err(e) => Err(sim_error(&e)),
    }
}

fn fulfillment_order(s: &ShopState, o: &Order) -> Value {
    let n = counter(&o.id).unwrap_or(0);
    let open: i64 = o.lines.iter().map(|l| l.fulfillable_quantity).sum();
    let done: i64 = o.lines.iter().map(|l| l.fulfilled_quantity).sum();
    let status = match (o.status, open, done) {
        (OrderStatus::Cancelled, _, 0) => "cancelled",
        (OrderStatus::Cancelled, _, _) | (_, 0, _) => "closed",
        (_, _, 0) => "open",
        _ => "in_progress",
    };
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            let ln = counter(&l.id).unwrap_or(0);
            json!({
                "id": ln,
                "fulfillment_order_id": n,
                "line_item_id": ln,
                "inventory_item_id": s.shopify.product(&l.sku),
                "variant_id": s.shopify.product(&l.sku),
                "quantity": l.quantity,
                "fulfillable_quantity": l.fulfillable_quantity,
            })
        })
        .collect();
    json!({
        "id": n,
        "order_id": n,
        "assigned_location_id": s.shopify.location(&o.location),
        "status": status,
        "request_status": "unsubmitted",
        "line_items": lines,
        "created_at": wire::time(o.created_at),
        "updated_at": wire::time(o.updated_at),
    })
}

/// `POST fulfillments.json`: one fulfillment order (all its open units, or
/// the `fulfillment_order_line_items` given).
fn fulfil(sim: &Simulator<ShopState>, body: &Bytes) -> Rest {
    let b = body_json(body)?;
    let groups = b["fulfillment"]["line_items_by_fulfillment_order"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let [group] = groups.as_slice() else {
        return Err(unprocessable(
            "line_items_by_fulfillment_order",
            "omnisim fulfils one fulfillment order per fulfillment",
        ));
    };
    let fo = number(group, "fulfillment_order_id")?;
    let key = format!("ord_{fo:06}");
    let lines = match group
        .get("fulfillment_order_line_items")
        .and_then(Value::as_array)
    {
        None => None,
        Some(items) => {
            let mut v = Vec::new();
            for item in items {
                v.push(FulfillLine {
                    line_id: format!("line_{:06}", number(item, "id")?),
                    quantity: int(item, "quantity")?,
                });
            }
            Some(v)
        }
    };
    let out = sim
        .commit(|s, fx| {
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
                lines: moved.clone(),
                created_at: fx.now(),
            };
            let n = s.shopify.add_fulfillment(rec);
            let line_items: Vec<Value> = moved
                .iter()
                .map(|(id, q)| json!({"id": counter(id), "quantity": q}))
                .collect();
            Ok(json!({
                "id": n,
                "order_id": fo,
                "status": "success",
                "location_id": s.shopify.location(&order.location),
                "name": format!("{}-F{n}", order.name),
                "created_at": wire::time(fx.now()),
                "updated_at": wire::time(fx.now()),
                "line_items": line_items,
                "admin_graphql_api_id": super::ids::gid("Fulfillment", n),
            }))
        })
        .map_err(|e| sim_error(&e))?;
    created(json!({"fulfillment": out}))
}

// ----------------------------------------------------------------- customers

fn customer_key(id: &str) -> Result<String, Response> {
    id_segment(id).map(customers::key).ok_or_else(not_found)
}

/// `fields=a,b`: only those keys of a resource.
fn only_fields(v: Value, q: &BTreeMap<String, String>) -> Value {
    let Some(fields) = q.get("fields").filter(|f| !f.trim().is_empty()) else {
        return v;
    };
    let keep: Vec<&str> = fields.split(',').map(str::trim).collect();
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

/// Refuses a query parameter the route does not take, by name.
fn known_params(q: &BTreeMap<String, String>, known: &[&str]) -> Result<(), Response> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(unprocessable(
            k,
            format!(
                "is not a parameter omnisim takes here (it takes {})",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// A page of a REST listing: `limit`, and the position and filters a
/// `page_info` token carries (which then take no other filter).
struct Paging {
    limit: usize,
    after: Option<u64>,
    before: Option<u64>,
    filters: BTreeMap<String, String>,
}

fn paging(q: &BTreeMap<String, String>) -> Result<Paging, Response> {
    let limit = match q.get("limit").map(|v| v.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) if (1..=250).contains(&n) => n,
        Some(_) => return Err(unprocessable("limit", "must be from 1 to 250")),
    };
    let mut p = Paging {
        limit,
        after: None,
        before: None,
        filters: q.clone(),
    };
    if let Some(token) = q.get("page_info") {
        if q.keys()
            .any(|k| !matches!(k.as_str(), "limit" | "page_info" | "fields"))
        {
            return Err(unprocessable(
                "page_info",
                "page_info cannot be combined with other filters",
            ));
        }
        let Some(decoded) = decode_page(token) else {
            return Err(unprocessable("page_info", "Invalid value."));
        };
        p.after = decoded.get("__after").and_then(|v| v.parse::<u64>().ok());
        p.before = decoded.get("__before").and_then(|v| v.parse::<u64>().ok());
        p.filters = decoded
            .into_iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .collect();
    }
    Ok(p)
}

/// One page of `items` (numbered, oldest first) under `root`, with the
/// `Link` header to the pages before and after it.
fn paged(
    base: &str,
    path: &str,
    root: &str,
    items: Vec<(u64, Value)>,
    p: &Paging,
    q: &BTreeMap<String, String>,
) -> Rest {
    let mut numbered: Vec<(u64, Value)> = items
        .into_iter()
        .filter(|(n, _)| p.after.is_none_or(|a| *n > a) && p.before.is_none_or(|b| *n < b))
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    let (window, more_before, more_after) = if p.before.is_some() {
        let start = numbered.len().saturating_sub(p.limit);
        (numbered.split_off(start), start > 0, true)
    } else {
        let more = numbered.len() > p.limit;
        numbered.truncate(p.limit);
        (numbered, p.after.is_some(), more)
    };
    let fields = q
        .get("fields")
        .map(|f| {
            format!(
                "&fields={}",
                form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default();
    let mut links = Vec::new();
    if more_before && let Some((first, _)) = window.first() {
        links.push(format!(
            "<{base}/{path}.json?limit={}{fields}&page_info={}>; rel=\"previous\"",
            p.limit,
            encode_page(&p.filters, None, Some(*first))
        ));
    }
    if more_after && let Some((last, _)) = window.last() {
        links.push(format!(
            "<{base}/{path}.json?limit={}{fields}&page_info={}>; rel=\"next\"",
            p.limit,
            encode_page(&p.filters, Some(*last), None)
        ));
    }
    let body: Vec<Value> = window.into_iter().map(|(_, v)| only_fields(v, q)).collect();
    let mut resp = (StatusCode::OK, axum::Json(json!({ root: body }))).into_response();
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

const LIST_PARAMS: &[&str] = &[
    "ids",
    "since_id",
    "created_at_min",
    "created_at_max",
    "updated_at_min",
    "updated_at_max",
    "limit",
    "page_info",
    "fields",
];

fn filtered_customers(
    s: &ShopState,
    q: &BTreeMap<String, String>,
) -> Result<Vec<omnisim_api::customer::Customer>, Response> {
    let ids = list_param(q, "ids");
    let since = match q.get("since_id") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| unprocessable("since_id", "is not a customer id"))?,
        ),
    };
    let created_min = time_param(q, "created_at_min")?;
    let created_max = time_param(q, "created_at_max")?;
    let updated_min = time_param(q, "updated_at_min")?;
    let updated_max = time_param(q, "updated_at_max")?;
    Ok(s.customers
        .all()
        .into_iter()
        .filter(|c| {
            let n = customers::number(c);
            ids.as_ref().is_none_or(|i| i.contains(&n)) && since.is_none_or(|m| n > m)
        })
        .filter(|c| created_min.is_none_or(|t| c.created_at >= t))
        .filter(|c| created_max.is_none_or(|t| c.created_at <= t))
        .filter(|c| updated_min.is_none_or(|t| c.updated_at >= t))
        .filter(|c| updated_max.is_none_or(|t| c.updated_at <= t))
        .collect())
}

/// `GET customers.json`: oldest first, paged as `orders.json` is.
fn list_customers(sim: &Simulator<ShopState>, base: &str, q: &BTreeMap<String, String>) -> Rest {
    known_params(q, LIST_PARAMS)?;
    let p = paging(q)?;
    let items = sim.read(|s| {
        filtered_customers(s, &p.filters).map(|v| {
            v.iter()
                .map(|c| (customers::number(c), wire::customer(c)))
                .collect::<Vec<_>>()
        })
    })?;
    paged(base, "customers", "customers", items, &p, q)
}

fn count_customers(sim: &Simulator<ShopState>, q: &BTreeMap<String, String>) -> Rest {
    known_params(
        q,
        &[
            "created_at_min",
            "created_at_max",
            "updated_at_min",
            "updated_at_max",
        ],
    )?;
    let n = sim.read(|s| filtered_customers(s, q).map(|v| v.len()))?;
    ok(json!({"count": n}))
}

/// `GET customers/search.json?query=`: the GraphQL search (`email:`,
/// `phone:`, …), oldest first, paged.
fn search_customers(sim: &Simulator<ShopState>, base: &str, q: &BTreeMap<String, String>) -> Rest {
    known_params(q, &["query", "limit", "page_info", "fields"])?;
    let p = paging(q)?;
    let query = p.filters.get("query").cloned().unwrap_or_default();
    let items = sim
        .read(|s| customers::search(s, &query))
        .map_err(|m| unprocessable("query", m))?
        .iter()
        .map(|c| (customers::number(c), wire::customer(c)))
        .collect();
    paged(base, "customers/search", "customers", items, &p, q)
}

/// A native refusal of a customer write, in REST's shape and names.
fn customer_error(e: &SimError) -> Response {
    let status = match e.kind {
        ErrorKind::NotFound => return not_found(),
        ErrorKind::Invalid | ErrorKind::Conflict => StatusCode::UNPROCESSABLE_ENTITY,
        other => other.status(),
    };
    let field = match e.field.as_deref() {
        Some("name") => "first_name",
        Some("consent") => "email_marketing_consent",
        Some(f) => f,
        None => "base",
    };
    let message = match e.code {
        "email_taken" | "phone_taken" => "has already been taken".to_owned(),
        _ => e.message.clone(),
    };
    (status, axum::Json(json!({"errors": {field: [message]}}))).into_response()
}

/// The write a REST `{"customer": {…}}` body asks for. Read-only fields
/// (`id`, `created_at`, `updated_at`, `state`, `admin_graphql_api_id`) are
/// ignored, as Shopify ignores them, so a resource saved as it was read goes
/// through; `note`, `tags` and `addresses` are taken only empty (the profile
/// holds none); any other field is refused by name.
fn customer_write(body: &Bytes) -> Result<Write, Response> {
    let b = body_json(body)?;
    let Some(fields) = b.get("customer").and_then(Value::as_object) else {
        return Err((
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"errors": {"customer": "Required parameter missing or invalid"}})),
        )
            .into_response());
    };
    let mut w = Write::default();
    for (k, v) in fields {
        match k.as_str() {
            "first_name" | "last_name" | "email" | "phone" => {
                let change = match v {
                    Value::Null => Change::Clear,
                    Value::String(s) => Change::of(Some(s.clone())),
                    _ => return Err(unprocessable(k, "is not a string")),
                };
                match k.as_str() {
                    "first_name" => w.first = change,
                    "last_name" => w.last = change,
                    "email" => w.email = change,
                    _ => w.phone = change,
                }
            }
            "email_marketing_consent" => w.consent = rest_consent(v)?,
            "id" | "created_at" | "updated_at" | "state" | "admin_graphql_api_id" => {}
            "note" if v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()) => {}
            "tags"
                if v.is_null()
                    || v.as_str().is_some_and(|s| s.trim().is_empty())
                    || v.as_array().is_some_and(Vec::is_empty) => {}
            "addresses" if v.is_null() || v.as_array().is_some_and(Vec::is_empty) => {}
            "note" | "tags" | "addresses" => {
                return Err(unprocessable(
                    k,
                    format!("omnisim's customer profiles keep no {k}; leave it empty"),
                ));
            }
            "accepts_marketing" | "accepts_marketing_updated_at" | "marketing_opt_in_level" => {
                return Err(unprocessable(
                    k,
                    "is deprecated since 2022-04 and not taken; write email_marketing_consent",
                ));
            }
            _ => {
                return Err(unprocessable(
                    k,
                    "is not a customer field omnisim keeps (first_name, last_name, email, phone, email_marketing_consent)",
                ));
            }
        }
    }
    Ok(w)
}

/// `email_marketing_consent {state, opt_in_level, consent_updated_at}`:
/// `subscribed` yes, `not_subscribed` or `unsubscribed` no; a level other
/// than `single_opt_in`, a consent time, and the states a yes/no consent
/// cannot hold are refused.
fn rest_consent(v: &Value) -> Result<Option<bool>, Response> {
    const FIELD: &str = "email_marketing_consent";
    let m = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => return Err(unprocessable(FIELD, "is not an object")),
    };
    let mut state = None;
    for (k, v) in m {
        match (k.as_str(), v) {
            ("state", Value::String(s)) => state = Some(s.as_str()),
            ("opt_in_level", Value::Null) => {}
            ("opt_in_level", Value::String(s)) if s == "single_opt_in" => {}
            ("opt_in_level", _) => {
                return Err(unprocessable(
                    FIELD,
                    "opt_in_level: omnisim keeps one level, single_opt_in",
                ));
            }
            ("consent_updated_at", Value::Null) => {}
            ("consent_updated_at", _) => {
                return Err(unprocessable(
                    FIELD,
                    "consent_updated_at: omnisim does not keep when consent was given; leave it out",
                ));
            }
            _ => {
                return Err(unprocessable(
                    FIELD,
                    format!("{k}: not taken (state, opt_in_level, consent_updated_at)"),
                ));
            }
        }
    }
    match state {
        Some("subscribed") => Ok(Some(true)),
        Some("not_subscribed" | "unsubscribed") => Ok(Some(false)),
        Some("pending") => Err(unprocessable(
            FIELD,
            "state pending is not modelled: omnisim keeps consent as subscribed or not",
        )),
        Some(other) => Err(unprocessable(
            FIELD,
            format!("state `{other}` can't be set: write subscribed or unsubscribed"),
        )),
        None => Err(unprocessable(FIELD, "state is required")),
    }
}

fn create_customer(sh: &Shared, body: &Bytes) -> Rest {
    let w = customer_write(body)?;
    let c = customers::create(sh, &w).map_err(|e| customer_error(&e))?;
    created(json!({"customer": wire::customer(&c)}))
}

fn update_customer(sh: &Shared, id: &str, body: &Bytes) -> Rest {
    let key = customer_key(id)?;
    let w = customer_write(body)?;
    let c = customers::update(sh, &key, &w).map_err(|e| customer_error(&e))?;
    ok(json!({"customer": wire::customer(&c)}))
}

// --------------------------------------------------------------- gift cards

/// 503 in REST's shape: the gateway behind the cards did not answer.
fn gateway_down(message: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"errors": message})),
    )
        .into_response()
}

/// The cards `status` (enabled, disabled) and `query` (the GraphQL search)
/// keep.
async fn find_gift_cards(
    sh: &Shared,
    q: &BTreeMap<String, String>,
) -> Result<Vec<(omnisim_api::pay::GiftCard, super::ids::GiftCardRec)>, Response> {
    let status = match q.get("status").map(String::as_str) {
        None => String::new(),
        Some(v @ ("enabled" | "disabled")) => format!(" status:{v}"),
        Some(_) => return Err(unprocessable("status", "is enabled or disabled")),
    };
    let query = format!("{}{status}", q.get("query").map_or("", String::as_str));
    let all = gift_cards::all(sh).await.map_err(gateway_down)?;
    gift_cards::search(all, &query).map_err(|m| unprocessable("query", m))
}

/// `GET gift_cards.json` and `GET gift_cards/search.json?query=`, by id.
async fn list_gift_cards(
    sh: &Shared,
    base: &str,
    q: &BTreeMap<String, String>,
    path: &str,
) -> Rest {
    let known: &[&str] = if path == "gift_cards" {
        &["status", "since_id", "limit", "page_info", "fields"]
    } else {
        &["query", "limit", "page_info", "fields"]
    };
    known_params(q, known)?;
    let p = paging(q)?;
    let since = match p.filters.get("since_id") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| unprocessable("since_id", "is not a gift card id"))?,
        ),
    };
    let items = find_gift_cards(sh, &p.filters)
        .await?
        .into_iter()
        .filter(|(c, _)| since.is_none_or(|m| c.number > m))
        .map(|(c, rec)| (c.number, wire::gift_card(&c, &rec)))
        .collect();
    paged(base, path, "gift_cards", items, &p, q)
}

/// `POST gift_cards.json`: `{"gift_card": {"initial_value", "code"?,
/// "note"?, "customer_id"?}}`; the answer alone carries the whole `code`.
async fn create_gift_card(sh: &Shared, body: &Bytes) -> Rest {
    let b = body_json(body)?;
    let g = &b["gift_card"];
    if !g.is_object() {
        return Err(unprocessable(
            "gift_card",
            "Required parameter missing or invalid",
        ));
    }
    let initial_value = match &g["initial_value"] {
        Value::String(v) => v.trim().parse::<Decimal>().ok(),
        Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
        _ => None,
    }
    .ok_or_else(|| unprocessable("initial_value", "is not a number"))?;
    let text = |k: &str| -> Result<Option<String>, Response> {
        match &g[k] {
            Value::Null => Ok(None),
            Value::String(v) => Ok(Some(v.clone())),
            _ => Err(unprocessable(k, "is not a string")),
        }
    };
    let customer_id = match &g["customer_id"] {
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::String(v) => Some(v.clone()),
        _ => return Err(unprocessable("customer_id", "is not a customer id")),
    };
    let served = ["initial_value", "code", "note", "customer_id", "currency"];
    // Shopify's fields a gateway card cannot hold: refused by name.
    const REFUSABLE: [&str; 3] = ["expires_on", "template_suffix", "recipient_attributes"];
    let mut refused = Vec::new();
    for (k, v) in g.as_object().into_iter().flatten() {
        if served.contains(&k.as_str()) || v.is_null() {
            continue;
        }
        match REFUSABLE.iter().find(|r| **r == k) {
            Some(r) => refused.push(*r),
            None => {
                return Err(unprocessable(k, "is not a gift card field omnisim takes"));
            }
        }
    }
    let currency = sh.sim.read(graphql::shop_currency);
    if let Some(cur) = text("currency")?.filter(|c| !c.eq_ignore_ascii_case(&currency)) {
        return Err(unprocessable(
            "currency",
            format!("must be the shop's currency ({currency}), not {cur}"),
        ));
    }
    let req = gift_cards::Create {
        initial_value,
        code: text("code")?,
        note: text("note")?,
        customer_id,
        refused,
    };
    match gift_cards::create(sh, req).await {
        Ok((c, rec)) => {
            let mut v = wire::gift_card(&c, &rec);
            v["code"] = c.code.clone().into();
            created(json!({"gift_card": v}))
        }
        Err(r) if r.code == gift_cards::GiftCardErrorCode::InternalError => {
            Err(gateway_down(r.message))
        }
        Err(r) => Err(unprocessable(r.rest_field, r.message)),
    }
}

// ------------------------------------------------------------------ webhooks

fn webhook_key(id: &str) -> Result<String, Response> {
    id_segment(id)
        .map(|n| format!("whsub_{}_{n:04}", ShopState::NAME))
        .ok_or_else(not_found)
}

fn webhook(sub: &WebhookSubscription) -> Value {
    let n = counter(&sub.id).unwrap_or(0);
    json!({
        "id": n,
        "address": sub.url,
        "topic": sub.topics.first(),
        "format": "json",
        "fields": [],
        "metafield_namespaces": [],
        "api_version": API_VERSION,
        "created_at": wire::time(sub.created_at),
        "updated_at": wire::time(sub.created_at),
    })
}

fn create_webhook(sim: &Simulator<ShopState>, body: &Bytes) -> Rest {
    let b = body_json(body)?;
    let w = &b["webhook"];
    let Some(topic) = w["topic"]
        .as_str()
        .and_then(WebhookSubscriptionTopic::from_header)
    else {
        return Err(unprocessable("topic", "Invalid topic specified."));
    };
    let Some(address) = w["address"].as_str().filter(|a| !a.is_empty()) else {
        return Err(unprocessable("address", "can't be blank"));
    };
    if w["format"].as_str().is_some_and(|f| f != "json") {
        return Err(unprocessable(
            "format",
            "omnisim delivers JSON webhooks only",
        ));
    }
    let core = &sim.core;
    let known: Vec<&str> = WebhookSubscriptionTopic::ALL
        .iter()
        .map(|t| t.header())
        .collect();
    let sub = core
        .webhooks
        .create_for(
            Wire::Shopify,
            core,
            address.to_owned(),
            vec![topic.header().to_owned()],
            &known,
        )
        .map_err(|e| unprocessable("address", e.message.clone()))?;
    core.webhooks
        .set_secret(&sub.id, &super::api_secret(&core.api_key))
        .map_err(|e| sim_error(&e))?;
    created(json!({"webhook": webhook(&sub)}))
}

/// The base of the REST URLs in `Link` headers: the address the client used.
pub fn base_url(headers: &HeaderMap, version: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or(if host.ends_with(".myshopify.com") {
            "https"
        } else {
            "http"
        });
    format!("{scheme}://{host}/admin/api/{version}")
}
