//! The Square dialect's handlers. Each parses Square's JSON, calls the POS
//! state machine inside one commit (or read), and renders Square's objects.
//! Payments go through the gateway as the native POS takes them: reserve an
//! id in a commit, call the gateway with idempotency keys derived from it,
//! record in a commit. `idempotency_key` in a body is Square's: the same key
//! with another body is `IDEMPOTENCY_KEY_REUSED`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use omnisim_api::ApiError;
use omnisim_api::common::{fits_currency, is_currency_code};
use omnisim_api::pay::{
    CancelIntent, CancellationReason, CaptureIntent, CaptureMethod, CreatePaymentIntent,
    CreateRefund, IntentStatus, PayClient, PaymentMethod, RefundReason, RefundStatus,
};
use omnisim_api::pos::{
    BatchChangeInventory, CreateItem, CreatePickup, CreateSale, InventoryChange,
    InventoryChangeType, InventoryState, SaleLineRequest, TenderRequest, TenderType, UpdateItem,
    UpdatePickupLines,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::book::{
    CatalogEntry, Order, OrderLine, Payment, PickupFulfillment, Refund, SubscriptionExtras,
};
use super::{EVENT_TYPES, pricing, wire};
use crate::core::Simulator;
use crate::dialects::Wire;
use crate::error::{ErrorKind, SimError, SimResult};
use crate::idempotency::{fingerprint, keyed};
use crate::pos::PosState;

/// What the handlers run on.
pub struct Dialect {
    /// The POS simulator.
    pub sim: Arc<Simulator<PosState>>,
    /// The way to the gateway.
    pub pay: PayClient,
}

type Ctx = State<Arc<Dialect>>;

// ---- errors and bodies ----------------------------------------------------

/// A 400 with a Square code (`INVALID_VALUE`, `VERSION_MISMATCH`, …).
pub(super) fn bad(
    code: &'static str,
    detail: impl Into<String>,
    field: impl Into<String>,
) -> SimError {
    SimError::new(ErrorKind::Malformed, code, detail).field(field)
}

pub(super) fn missing(field: &str) -> SimError {
    bad(
        "MISSING_REQUIRED_PARAMETER",
        format!("Field must be set: `{field}`"),
        field,
    )
}

pub(super) fn not_found(detail: impl Into<String>) -> SimError {
    SimError::not_found("NOT_FOUND", detail)
}

pub(super) fn answer(r: SimResult<Value>) -> Response {
    match r {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => super::error_response("", e),
    }
}

/// Parses a JSON body (an empty body reads as `{}`), naming the field at fault.
pub(super) fn parse<T: DeserializeOwned>(body: &Bytes) -> SimResult<T> {
    let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            SimError::new(
                ErrorKind::Malformed,
                "BAD_REQUEST",
                format!("The request body is not valid JSON: {inner}"),
            )
        } else {
            bad("INVALID_VALUE", format!("Invalid `{path}`: {inner}"), path)
        }
    })
}

/// Runs `run` under Square's body `idempotency_key` (when given), scoped to
/// the caller's credential, answering its result.
pub(super) async fn idempotent<F>(
    d: &Dialect,
    path: &str,
    key: Option<String>,
    body: &Bytes,
    run: F,
) -> Response
where
    F: Future<Output = SimResult<Value>>,
{
    let run = async move { answer(run.await) };
    let Some(key) = key else {
        return run.await;
    };
    if key.is_empty() || key.len() > 192 {
        return answer(Err(bad(
            "INVALID_VALUE",
            "`idempotency_key` is 1 to 192 characters",
            "idempotency_key",
        )));
    }
    let caller = crate::layers::current_caller()
        .map(|c| c.credential.to_string())
        .unwrap_or_default();
    let print = fingerprint(&[b"POST ", path.as_bytes(), b"\n"], body);
    keyed(&d.sim.core, &caller, key, print, Wire::Square, path, run).await
}

pub(super) fn require_key(key: &Option<String>) -> SimResult<()> {
    match key {
        Some(_) => Ok(()),
        None => Err(missing("idempotency_key")),
    }
}

/// A Square `Money` in a request.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct MoneyIn {
    pub(super) amount: Option<i64>,
    pub(super) currency: Option<String>,
}

impl MoneyIn {
    pub(super) fn decimal(&self, field: &str) -> SimResult<(Decimal, String)> {
        let amount = self
            .amount
            .ok_or_else(|| missing(&format!("{field}.amount")))?;
        let currency = self
            .currency
            .clone()
            .ok_or_else(|| missing(&format!("{field}.currency")))?;
        if !is_currency_code(&currency) {
            return Err(bad(
                "INVALID_CURRENCY",
                format!("`{currency}` is not an ISO 4217 currency code"),
                format!("{field}.currency"),
            ));
        }
        if amount < 0 {
            return Err(bad(
                "INVALID_VALUE",
                "an amount cannot be negative",
                format!("{field}.amount"),
            ));
        }
        Ok((wire::from_minor(amount, &currency), currency))
    }
}

pub(super) fn parse_time(field: &str, s: &str) -> SimResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            bad(
                "INVALID_TIME",
                format!("`{s}` is not an RFC 3339 time"),
                field,
            )
        })
}

fn opt_time(field: &str, s: &Option<String>) -> SimResult<Option<DateTime<Utc>>> {
    s.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time(field, s))
        .transpose()
}

/// A quantity as a decimal string: whole units only (the POS counts units).
fn parse_quantity(field: &str, s: Option<&str>) -> SimResult<i64> {
    let s = s.ok_or_else(|| missing(field))?;
    let d: Decimal = s.trim().parse().map_err(|_| {
        bad(
            "INVALID_VALUE",
            format!("`{s}` is not a decimal quantity"),
            field,
        )
    })?;
    if !d.fract().is_zero() {
        return Err(bad(
            "INVALID_VALUE",
            format!("omnisim's POS counts whole units; `{s}` is fractional"),
            field,
        ));
    }
    i64::try_from(d.trunc().mantissa() / 10i128.pow(d.trunc().scale()))
        .map_err(|_| bad("INVALID_VALUE", format!("`{s}` is too large"), field))
}

// ---- paging -------------------------------------------------------------

fn encode_cursor(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("omnisim:{offset}"))
}

fn decode_cursor(cursor: Option<&str>) -> SimResult<usize> {
    use base64::Engine as _;
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(0);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("omnisim:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| bad("INVALID_CURSOR", "The cursor is not valid", "cursor"))
}

/// One page of `items` from `cursor`, and the cursor of the next.
pub(super) fn page(
    items: Vec<Value>,
    cursor: Option<&str>,
    limit: Option<i64>,
    default: usize,
    max: usize,
) -> SimResult<(Vec<Value>, Option<String>)> {
    let start = decode_cursor(cursor)?;
    let limit = match limit {
        None => default,
        Some(n) if n >= 1 && (n as usize) <= max => n as usize,
        Some(n) => {
            return Err(bad(
                "INVALID_VALUE",
                format!("`limit` is from 1 to {max}, not {n}"),
                "limit",
            ));
        }
    };
    let total = items.len();
    let out: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + limit < total).then(|| encode_cursor(start + limit));
    Ok((out, next))
}

fn with_cursor(mut v: Value, cursor: Option<String>) -> Value {
    if let Some(c) = cursor {
        v["cursor"] = c.into();
    }
    v
}

// ---- locations ----------------------------------------------------------

pub(super) fn locations(s: &PosState) -> Vec<omnisim_api::common::Location> {
    use crate::core::Platform as _;
    s.locations().map(|l| l.list()).unwrap_or_default()
}

pub(super) fn require_location(s: &PosState, field: &str, id: &str) -> SimResult<String> {
    let all = locations(s);
    if id == "main" {
        return all
            .first()
            .map(|l| l.id.clone())
            .ok_or_else(|| not_found("no location"));
    }
    if all.iter().any(|l| l.id == id) {
        Ok(id.to_owned())
    } else {
        Err(not_found(format!("Location `{id}` not found.")).field(field))
    }
}

async fn list_locations(State(d): Ctx) -> Response {
    let v = d.sim.read(|s| {
        locations(s)
            .iter()
            .map(|l| wire::location(l, "USD"))
            .collect::<Vec<_>>()
    });
    answer(Ok(json!({ "locations": v })))
}

async fn get_location(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(d.sim.read(|s| {
        let id = require_location(s, "location_id", &id)?;
        let l = locations(s).into_iter().find(|l| l.id == id);
        Ok(json!({ "location": l.map(|l| wire::location(&l, "USD")) }))
    }))
}

// ---- catalog ------------------------------------------------------------

/// One object of an upsert, flattened (an ITEM's variations beside it).
pub(super) struct Incoming {
    pub(super) client_id: String,
    pub(super) kind: String,
    pub(super) object: Value,
    pub(super) parent: Option<String>,
    pub(super) field: String,
}

fn flatten_upsert(objects: Vec<Value>, base: &str) -> SimResult<Vec<Incoming>> {
    let mut out = Vec::new();
    for (i, mut o) in objects.into_iter().enumerate() {
        let field = format!("{base}[{i}]");
        let kind = o["type"]
            .as_str()
            .ok_or_else(|| missing(&format!("{field}.type")))?
            .to_owned();
        let id = o["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(&format!("{field}.id")))?
            .to_owned();
        let mut nested = Vec::new();
        if kind == "ITEM"
            && let Some(vars) = o
                .get_mut("item_data")
                .and_then(|d| d.get_mut("variations"))
                .map(Value::take)
        {
            if let Value::Array(vars) = vars {
                nested = vars;
            }
            if let Some(d) = o.get_mut("item_data").and_then(Value::as_object_mut) {
                d.remove("variations");
            }
        }
        out.push(Incoming {
            client_id: id.clone(),
            kind,
            object: o,
            parent: None,
            field: field.clone(),
        });
        for (j, v) in nested.into_iter().enumerate() {
            let vfield = format!("{field}.item_data.variations[{j}]");
            let vid = v["id"]
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing(&format!("{vfield}.id")))?
                .to_owned();
            out.push(Incoming {
                client_id: vid,
                kind: v["type"].as_str().unwrap_or("ITEM_VARIATION").to_owned(),
                object: v,
                parent: Some(id.clone()),
                field: vfield,
            });
        }
    }
    Ok(out)
}

/// A variation's POS item, as the upsert will write it.
struct VariationPlan {
    sku: String,
    name: String,
    price: Decimal,
    currency: String,
}

fn check_sku(field: &str, sku: &str) -> SimResult<()> {
    let ok = !sku.is_empty()
        && sku.len() <= crate::pos::state::KEY_LEN_MAX
        && sku
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'));
    if ok {
        Ok(())
    } else {
        Err(bad(
            "INVALID_VALUE",
            format!(
                "omnisim's POS keys stock by SKU: a SKU is 1 to {} visible ASCII characters, \
                 without `/`, `?`, `#` or `%`",
                crate::pos::state::KEY_LEN_MAX
            ),
            field,
        ))
    }
}

/// Temporary ids and the ids they were given.
pub(super) type Mappings = Vec<(String, String)>;

/// Upserts catalog objects in one transition: every check first, then the
/// writes (the POS items of the variations among them). Answers the ids
/// written (top level first) and the temporary id mappings.
fn upsert(
    s: &mut PosState,
    fx: &mut crate::events::Effects,
    incoming: Vec<Incoming>,
) -> SimResult<(Vec<String>, Mappings)> {
    let now = fx.now();
    // Ids: temporary ones get fresh ids; others must exist.
    let mut mappings: Vec<(String, String)> = Vec::new();
    let mut ids = Vec::with_capacity(incoming.len());
    for inc in &incoming {
        let real = if inc.client_id.starts_with('#') {
            match mappings.iter().find(|(c, _)| *c == inc.client_id) {
                Some((_, r)) => r.clone(),
                None => {
                    let r = s.square_mut().fresh_id("");
                    mappings.push((inc.client_id.clone(), r.clone()));
                    r
                }
            }
        } else {
            let id = &inc.client_id;
            let known = s
                .square()
                .catalog
                .get(id)
                .map(|e| e.kind.clone())
                .or_else(|| {
                    wire::object_by_id(s, id).and_then(|o| o["type"].as_str().map(str::to_owned))
                });
            match known {
                None => {
                    return Err(not_found(format!("Object with ID `{id}` not found."))
                        .field(format!("{}.id", inc.field)));
                }
                Some(k) if k != inc.kind => {
                    return Err(bad(
                        "INVALID_VALUE",
                        format!("Object `{id}` is a {k}, not a {}", inc.kind),
                        format!("{}.type", inc.field),
                    ));
                }
                Some(_) => {}
            }
            if let (Some(given), Some(e)) =
                (inc.object["version"].as_i64(), s.square().catalog.get(id))
                && given != e.version
            {
                return Err(bad(
                    "VERSION_MISMATCH",
                    format!(
                        "Object version does not match for object: {id} (given {given}, current {})",
                        e.version
                    ),
                    format!("{}.version", inc.field),
                ));
            }
            id.clone()
        };
        ids.push(real);
    }
    let resolve = |id: &str| -> String {
        mappings
            .iter()
            .find(|(c, _)| c == id)
            .map_or_else(|| id.to_owned(), |(_, r)| r.clone())
    };
    // Variations: their ITEM, SKU and price, checked before anything is written.
    let mut plans: Vec<Option<(String, VariationPlan)>> = Vec::with_capacity(incoming.len());
    let mut skus_seen: Vec<String> = Vec::new();
    for (inc, id) in incoming.iter().zip(&ids) {
        if inc.kind != "ITEM_VARIATION" {
            plans.push(None);
            continue;
        }
        let data = &inc.object["item_variation_data"];
        let f = |name: &str| format!("{}.item_variation_data.{name}", inc.field);
        let item_id = match (data["item_id"].as_str(), &inc.parent) {
            (Some(given), _) => resolve(given),
            (None, Some(parent)) => resolve(parent),
            (None, None) => return Err(missing(&f("item_id"))),
        };
        let item_in_batch = incoming
            .iter()
            .zip(&ids)
            .find(|(i, rid)| i.kind == "ITEM" && **rid == item_id);
        let item_name = match item_in_batch {
            Some((i, _)) => i.object["item_data"]["name"].as_str().map(str::to_owned),
            None => match s.square().catalog.get(&item_id) {
                Some(e) if e.kind == "ITEM" => {
                    e.object["item_data"]["name"].as_str().map(str::to_owned)
                }
                _ => {
                    return Err(bad(
                        "INVALID_VALUE",
                        format!("The ITEM `{item_id}` of this variation is not in the catalog"),
                        f("item_id"),
                    ));
                }
            },
        };
        let existing = s.square().catalog.get(id).and_then(|e| e.sku.clone());
        let sku = match data["sku"].as_str().filter(|x| !x.is_empty()) {
            Some(x) => x.to_owned(),
            None => existing.clone().unwrap_or_else(|| id.clone()),
        };
        check_sku(&f("sku"), &sku)?;
        if let Some(old) = &existing
            && *old != sku
        {
            return Err(bad(
                "INVALID_VALUE",
                format!(
                    "omnisim's POS keys stock by SKU: this variation's SKU is `{old}` and cannot \
                     change"
                ),
                f("sku"),
            ));
        }
        if skus_seen.contains(&sku) {
            return Err(bad(
                "INVALID_VALUE",
                format!("SKU `{sku}` is given to two variations in this request"),
                f("sku"),
            ));
        }
        if let Some(other) = s.square().variation_of_sku.get(&sku)
            && other != id
        {
            return Err(bad(
                "INVALID_VALUE",
                format!(
                    "SKU `{sku}` belongs to variation `{other}`: omnisim's POS keys stock by SKU"
                ),
                f("sku"),
            ));
        }
        skus_seen.push(sku.clone());
        let (price, currency) = match data.get("price_money").filter(|m| !m.is_null()) {
            Some(m) => {
                let m: MoneyIn = serde_json::from_value(m.clone())
                    .map_err(|e| bad("INVALID_VALUE", e.to_string(), f("price_money")))?;
                m.decimal(&f("price_money"))?
            }
            None => match s.item(&sku) {
                Ok(item) => (item.price, item.currency),
                Err(_) => (Decimal::ZERO, "USD".to_owned()),
            },
        };
        if price > Decimal::from(1_000_000_000i64) || !fits_currency(price, &currency) {
            return Err(bad(
                "INVALID_VALUE",
                format!("{price} is not a valid {currency} price"),
                f("price_money.amount"),
            ));
        }
        let vname = data["name"].as_str().unwrap_or("").trim().to_owned();
        let base_name = item_name.unwrap_or_else(|| "Item".to_owned());
        let mut name = if vname.is_empty() || vname == "Regular" || vname == base_name {
            base_name
        } else {
            format!("{base_name} ({vname})")
        };
        if name.trim().is_empty() {
            name = sku.clone();
        }
        name.truncate(crate::pos::state::TEXT_LEN_MAX);
        plans.push(Some((
            item_id,
            VariationPlan {
                sku,
                name,
                price,
                currency,
            },
        )));
    }
    // Writes.
    let version = s.square_mut().next_version(now);
    for ((inc, id), plan) in incoming.into_iter().zip(&ids).zip(plans) {
        let mut object = inc.object;
        if let Some(o) = object.as_object_mut() {
            for k in ["id", "version", "updated_at", "created_at", "is_deleted"] {
                o.remove(k);
            }
        }
        let (item_id, sku) = match plan {
            Some((item_id, p)) => {
                if s.item(&p.sku).is_ok() {
                    s.update_item(
                        fx,
                        &p.sku,
                        UpdateItem {
                            name: Some(p.name),
                            price: Some(p.price),
                            currency: Some(p.currency),
                            tax_code: None,
                        },
                    )?;
                } else {
                    s.create_item(
                        fx,
                        CreateItem {
                            sku: p.sku.clone(),
                            name: p.name,
                            price: p.price,
                            currency: p.currency,
                            tax_code: None,
                        },
                    )?;
                }
                s.square_mut()
                    .variation_of_sku
                    .insert(p.sku.clone(), id.clone());
                (Some(item_id), Some(p.sku))
            }
            None => (None, None),
        };
        let book = s.square_mut();
        book.catalog.insert(
            id.clone(),
            CatalogEntry {
                kind: inc.kind,
                object,
                version,
                updated_at: now,
                deleted: false,
                item_id,
                sku,
            },
        );
        book.catalog_updated_at = Some(now);
    }
    Ok((ids, mappings))
}

/// Upserts catalog objects, the POS promotions among them (PRICING_RULEs
/// and their DISCOUNTs and PRODUCT_SETs) through the promotion book: every
/// check first, then the writes.
fn upsert_all(
    s: &mut PosState,
    fx: &mut crate::events::Effects,
    incoming: Vec<Incoming>,
) -> SimResult<(Vec<String>, Mappings)> {
    let flags: Vec<bool> = incoming
        .iter()
        .map(|i| pricing::is_promotion_object(s, i, &incoming))
        .collect();
    let (mut promo, mut rest) = (Vec::new(), Vec::new());
    for (inc, is_promo) in incoming.into_iter().zip(flags) {
        if is_promo {
            promo.push(inc);
        } else {
            rest.push(inc);
        }
    }
    let writes = pricing::plan(s, fx.now(), &promo, &rest)?;
    let (mut ids, mut mappings) = if rest.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        upsert(s, fx, rest)?
    };
    ids.extend(pricing::apply(s, fx, writes, &mut mappings)?);
    Ok((ids, mappings))
}

fn mappings_json(m: &[(String, String)]) -> Value {
    Value::Array(
        m.iter()
            .map(|(c, r)| json!({"client_object_id": c, "object_id": r}))
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
struct BatchUpsertReq {
    idempotency_key: Option<String>,
    #[serde(default)]
    batches: Vec<BatchIn>,
}

#[derive(Debug, Deserialize)]
struct BatchIn {
    #[serde(default)]
    objects: Vec<Value>,
}

async fn batch_upsert(State(d): Ctx, body: Bytes) -> Response {
    let req: BatchUpsertReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = async {
        require_key(&req.idempotency_key)?;
        if req.batches.is_empty() {
            return Err(missing("batches"));
        }
        let mut incoming = Vec::new();
        for (i, b) in req.batches.into_iter().enumerate() {
            if b.objects.is_empty() {
                return Err(missing(&format!("batches[{i}].objects")));
            }
            incoming.extend(flatten_upsert(b.objects, &format!("batches[{i}].objects"))?);
        }
        d.sim.commit(|s, fx| {
            let (ids, mappings) = upsert_all(s, fx, incoming)?;
            let objects: Vec<Value> = ids
                .iter()
                .filter_map(|id| match s.square().catalog.get(id) {
                    Some(e) if e.kind == "ITEM_VARIATION" && e.item_id.is_some() => None,
                    Some(e) => Some(wire::catalog_object(s, id, e)),
                    None => pricing::object_by_id(s, id),
                })
                .collect();
            Ok(json!({
                "objects": objects,
                "updated_at": wire::ts(fx.now()),
                "id_mappings": mappings_json(&mappings),
            }))
        })
    };
    idempotent(&d, "/v2/catalog/batch-upsert", key, &body, run).await
}

#[derive(Debug, Deserialize)]
struct UpsertReq {
    idempotency_key: Option<String>,
    object: Option<Value>,
}

async fn upsert_object(State(d): Ctx, body: Bytes) -> Response {
    let req: UpsertReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = async {
        require_key(&req.idempotency_key)?;
        let object = req.object.ok_or_else(|| missing("object"))?;
        let incoming = flatten_upsert(vec![object], "object")?;
        d.sim.commit(|s, fx| {
            let (ids, mappings) = upsert_all(s, fx, incoming)?;
            let first = ids.first().cloned().unwrap_or_default();
            let object = wire::object_by_id(s, &first);
            Ok(json!({
                "catalog_object": object,
                "id_mappings": mappings_json(&mappings),
            }))
        })
    };
    idempotent(&d, "/v2/catalog/object", key, &body, run).await
}

/// The parent ITEMs of the variations among `objects`, as related objects.
fn related(s: &PosState, objects: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for o in objects {
        if o["type"] != "ITEM_VARIATION" {
            continue;
        }
        let Some(item_id) = o["item_variation_data"]["item_id"].as_str() else {
            continue;
        };
        if objects.iter().any(|x| x["id"] == item_id) || out.iter().any(|x| x["id"] == item_id) {
            continue;
        }
        if let Some(item) = wire::object_by_id(s, item_id) {
            out.push(item);
        }
    }
    out
}

#[derive(Debug, Default, Deserialize)]
struct ObjectQuery {
    include_related_objects: Option<bool>,
    #[allow(dead_code)]
    catalog_version: Option<i64>,
}

async fn get_object(
    State(d): Ctx,
    Path(id): Path<String>,
    Query(q): Query<ObjectQuery>,
) -> Response {
    answer(d.sim.read(|s| {
        let o = wire::object_by_id(s, &id)
            .filter(|o| o["is_deleted"] != true)
            .ok_or_else(|| not_found(format!("Object with ID `{id}` not found.")))?;
        let mut v = json!({ "object": o });
        if q.include_related_objects == Some(true) {
            v["related_objects"] = Value::Array(related(s, std::slice::from_ref(&v["object"])));
        }
        Ok(v)
    }))
}

async fn delete_object(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(d.sim.commit(|s, fx| {
        let now = fx.now();
        if let Some(r) = pricing::delete(s, fx, &id) {
            let deleted = r?;
            return Ok(json!({"deleted_object_ids": deleted, "deleted_at": wire::ts(now)}));
        }
        let o = wire::object_by_id(s, &id)
            .filter(|o| o["is_deleted"] != true)
            .ok_or_else(|| not_found(format!("Object with ID `{id}` not found.")))?;
        let mut deleted = vec![id.clone()];
        if let Some(vars) = o["item_data"]["variations"].as_array() {
            deleted.extend(
                vars.iter()
                    .filter_map(|v| v["id"].as_str().map(str::to_owned)),
            );
        }
        let version = s.square_mut().next_version(now);
        // An object made through the native API is adopted, then deleted.
        let flat: Vec<Value> = std::iter::once(o.clone())
            .chain(
                o["item_data"]["variations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            )
            .collect();
        for obj in flat {
            let oid = obj["id"].as_str().unwrap_or_default().to_owned();
            let book = s.square_mut();
            if let Some(e) = book.catalog.get_mut(&oid) {
                e.deleted = true;
                e.version = version;
                e.updated_at = now;
                continue;
            }
            let kind = obj["type"].as_str().unwrap_or_default().to_owned();
            let sku = obj["item_variation_data"]["sku"]
                .as_str()
                .map(str::to_owned);
            let item_id = obj["item_variation_data"]["item_id"]
                .as_str()
                .map(str::to_owned);
            if let Some(sku) = &sku {
                book.variation_of_sku.insert(sku.clone(), oid.clone());
            }
            let mut stored = obj.clone();
            if let Some(m) = stored.as_object_mut() {
                m.remove("version");
                if let Some(d) = m.get_mut("item_data").and_then(Value::as_object_mut) {
                    d.remove("variations");
                }
            }
            book.catalog.insert(
                oid,
                CatalogEntry {
                    kind,
                    object: stored,
                    version,
                    updated_at: now,
                    deleted: true,
                    item_id,
                    sku,
                },
            );
        }
        s.square_mut().catalog_updated_at = Some(now);
        Ok(json!({"deleted_object_ids": deleted, "deleted_at": wire::ts(now)}))
    }))
}

#[derive(Debug, Deserialize)]
struct BatchRetrieveReq {
    #[serde(default)]
    object_ids: Vec<String>,
    include_related_objects: Option<bool>,
    include_deleted_objects: Option<bool>,
}

async fn batch_retrieve(State(d): Ctx, body: Bytes) -> Response {
    let req: BatchRetrieveReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    answer(d.sim.read(|s| {
        if req.object_ids.is_empty() {
            return Err(missing("object_ids"));
        }
        let objects: Vec<Value> = req
            .object_ids
            .iter()
            .filter_map(|id| wire::object_by_id(s, id))
            .filter(|o| req.include_deleted_objects == Some(true) || o["is_deleted"] != true)
            .collect();
        let mut v = json!({ "objects": objects });
        if req.include_related_objects == Some(true) {
            v["related_objects"] = Value::Array(related(s, &objects));
        }
        Ok(v)
    }))
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    types: Option<String>,
    #[allow(dead_code)]
    catalog_version: Option<i64>,
    limit: Option<i64>,
}

async fn list_catalog(State(d): Ctx, Query(q): Query<ListQuery>) -> Response {
    answer(d.sim.read(|s| {
        let types: Vec<String> = q
            .types
            .as_deref()
            .map(|t| {
                t.split(',')
                    .map(|x| x.trim().to_ascii_uppercase())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let objects: Vec<Value> = if types.iter().any(|t| t == "ITEM_VARIATION") {
            wire::flattened(s, false)
        } else {
            wire::all_objects(s, false)
        }
        .into_iter()
        .filter(|o| {
            types.is_empty() || types.iter().any(|t| o["type"].as_str() == Some(t.as_str()))
        })
        .collect();
        let (objects, cursor) = page(objects, q.cursor.as_deref(), q.limit, 100, 1000)?;
        Ok(with_cursor(json!({ "objects": objects }), cursor))
    }))
}

async fn catalog_info() -> Response {
    answer(Ok(json!({
        "limits": {
            "batch_upsert_max_objects_per_batch": 1000,
            "batch_upsert_max_total_objects": 10000,
            "batch_retrieve_max_object_ids": 1000,
            "search_max_page_limit": 1000,
            "batch_delete_max_object_ids": 200,
            "update_item_taxes_max_item_ids": 1000,
            "update_item_taxes_max_taxes_to_enable": 1000,
            "update_item_taxes_max_taxes_to_disable": 1000,
            "update_item_modifier_lists_max_item_ids": 1000,
            "update_item_modifier_lists_max_modifier_lists_to_enable": 1000,
            "update_item_modifier_lists_max_modifier_lists_to_disable": 1000,
        },
    })))
}

#[derive(Debug, Default, Deserialize)]
struct SearchObjectsReq {
    cursor: Option<String>,
    #[serde(default)]
    object_types: Vec<String>,
    include_deleted_objects: Option<bool>,
    include_related_objects: Option<bool>,
    begin_time: Option<String>,
    query: Option<Value>,
    limit: Option<i64>,
}

/// The text of an object's attribute, for queries.
fn attribute(o: &Value, name: &str) -> Option<String> {
    let data = match o["type"].as_str()? {
        "ITEM" => &o["item_data"],
        "ITEM_VARIATION" => &o["item_variation_data"],
        "CATEGORY" => &o["category_data"],
        "PRICING_RULE" => &o["pricing_rule_data"],
        "DISCOUNT" => &o["discount_data"],
        "PRODUCT_SET" => &o["product_set_data"],
        _ => return None,
    };
    data[name].as_str().map(str::to_owned)
}

fn matches_query(o: &Value, query: &Value) -> SimResult<bool> {
    let Some(q) = query.as_object() else {
        return Ok(true);
    };
    for (kind, body) in q {
        let ok = match kind.as_str() {
            "exact_query" => {
                let name = body["attribute_name"].as_str().unwrap_or_default();
                let want = body["attribute_value"].as_str().unwrap_or_default();
                attribute(o, name).is_some_and(|v| v == want)
            }
            "prefix_query" => {
                let name = body["attribute_name"].as_str().unwrap_or_default();
                let want = body["attribute_prefix"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase();
                attribute(o, name).is_some_and(|v| v.to_lowercase().starts_with(&want))
            }
            "text_query" => {
                let words: Vec<String> = body["keywords"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .collect();
                let hay = ["name", "sku", "description"]
                    .iter()
                    .filter_map(|a| attribute(o, a))
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            }
            "set_query" => {
                let name = body["attribute_name"].as_str().unwrap_or_default();
                let values: Vec<&str> = body["attribute_values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                attribute(o, name).is_some_and(|v| values.contains(&v.as_str()))
            }
            "sorted_attribute_query" => true,
            other => {
                return Err(bad(
                    "INVALID_VALUE",
                    format!(
                        "omnisim serves exact_query, prefix_query, set_query, text_query and \
                         sorted_attribute_query; not `{other}`"
                    ),
                    format!("query.{other}"),
                ));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn search_objects(State(d): Ctx, body: Bytes) -> Response {
    let req: SearchObjectsReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    answer(d.sim.read(|s| {
        let begin = opt_time("begin_time", &req.begin_time)?;
        let query = req.query.clone().unwrap_or(Value::Null);
        let mut objects = Vec::new();
        for o in wire::flattened(s, req.include_deleted_objects == Some(true)) {
            let kind = o["type"].as_str().unwrap_or_default();
            if !req.object_types.is_empty() && !req.object_types.iter().any(|t| t == kind) {
                continue;
            }
            if let Some(b) = begin {
                let at = o["updated_at"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                if at.is_none_or(|at| at <= b) {
                    continue;
                }
            }
            if matches_query(&o, &query)? {
                objects.push(o);
            }
        }
        let (objects, cursor) = page(objects, req.cursor.as_deref(), req.limit, 100, 1000)?;
        let latest = s.square().catalog_updated_at.unwrap_or_else(|| {
            s.items()
                .data
                .iter()
                .map(|i| i.updated_at)
                .max()
                .unwrap_or(DateTime::UNIX_EPOCH)
        });
        let mut v = json!({ "objects": objects, "latest_time": wire::ts(latest) });
        if req.include_related_objects == Some(true) {
            v["related_objects"] = Value::Array(related(s, &objects));
        }
        Ok(with_cursor(v, cursor))
    }))
}

#[derive(Debug, Default, Deserialize)]
struct SearchItemsReq {
    text_filter: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
    sort_order: Option<String>,
}

async fn search_items(State(d): Ctx, body: Bytes) -> Response {
    let req: SearchItemsReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    answer(d.sim.read(|s| {
        let words: Vec<String> = req
            .text_filter
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut items = Vec::new();
        let mut matched = Vec::new();
        for o in wire::all_objects(s, false) {
            if o["type"] != "ITEM" {
                continue;
            }
            let name = o["item_data"]["name"].as_str().unwrap_or("").to_lowercase();
            let mut hit = words.iter().all(|w| name.contains(w.as_str()));
            for v in o["item_data"]["variations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let text = format!(
                    "{name} {} {}",
                    v["item_variation_data"]["name"].as_str().unwrap_or(""),
                    v["item_variation_data"]["sku"].as_str().unwrap_or("")
                )
                .to_lowercase();
                if !words.is_empty() && words.iter().all(|w| text.contains(w.as_str())) {
                    hit = true;
                    if let Some(id) = v["id"].as_str() {
                        matched.push(Value::from(id));
                    }
                }
            }
            if hit {
                items.push(o);
            }
        }
        if req.sort_order.as_deref() == Some("DESC") {
            items.reverse();
        }
        let (items, cursor) = page(items, req.cursor.as_deref(), req.limit, 100, 100)?;
        let mut v = json!({ "items": items });
        if !matched.is_empty() {
            v["matched_variation_ids"] = Value::Array(matched);
        }
        Ok(with_cursor(v, cursor))
    }))
}

// ---- inventory ----------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ChangeIn {
    #[serde(rename = "type")]
    kind: Option<String>,
    physical_count: Option<ChangeBody>,
    adjustment: Option<ChangeBody>,
}

#[derive(Debug, Default, Deserialize)]
struct ChangeBody {
    reference_id: Option<String>,
    catalog_object_id: Option<String>,
    state: Option<String>,
    from_state: Option<String>,
    to_state: Option<String>,
    location_id: Option<String>,
    quantity: Option<String>,
    occurred_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BatchChangeReq {
    idempotency_key: Option<String>,
    #[serde(default)]
    changes: Vec<ChangeIn>,
    #[allow(dead_code)]
    ignore_unchanged_counts: Option<bool>,
}

fn parse_state_field(field: &str, s: Option<&str>) -> SimResult<InventoryState> {
    let s = s.ok_or_else(|| missing(field))?;
    wire::parse_state(s).ok_or_else(|| {
        bad(
            "INVALID_ENUM_VALUE",
            format!(
                "`{s}` is not a state omnisim's POS models (NONE, IN_STOCK, RESERVED_FOR_SALE, \
                 SOLD, RETURNED_BY_CUSTOMER, WASTE)"
            ),
            field,
        )
    })
}

/// A Square change as the POS's own.
fn native_change(s: &PosState, i: usize, c: ChangeIn) -> SimResult<InventoryChange> {
    let kind = c
        .kind
        .as_deref()
        .ok_or_else(|| missing(&format!("changes[{i}].type")))?;
    let (kind, body, name) = match kind {
        "PHYSICAL_COUNT" => (
            InventoryChangeType::PhysicalCount,
            c.physical_count,
            "physical_count",
        ),
        "ADJUSTMENT" => (InventoryChangeType::Adjustment, c.adjustment, "adjustment"),
        other => {
            return Err(bad(
                "INVALID_ENUM_VALUE",
                format!("omnisim serves PHYSICAL_COUNT and ADJUSTMENT changes, not `{other}`"),
                format!("changes[{i}].type"),
            ));
        }
    };
    let f = |x: &str| format!("changes[{i}].{name}.{x}");
    let b = body.ok_or_else(|| missing(&format!("changes[{i}].{name}")))?;
    let object = b
        .catalog_object_id
        .as_deref()
        .ok_or_else(|| missing(&f("catalog_object_id")))?;
    let sku = wire::sku_of_variation(s, object).ok_or_else(|| {
        bad(
            "INVALID_VALUE",
            format!("`{object}` is not an ITEM_VARIATION in the catalog"),
            f("catalog_object_id"),
        )
    })?;
    let location = b
        .location_id
        .as_deref()
        .ok_or_else(|| missing(&f("location_id")))?;
    let location = require_location(s, &f("location_id"), location)?;
    let quantity = parse_quantity(&f("quantity"), b.quantity.as_deref())?;
    let occurred_at = parse_time(
        &f("occurred_at"),
        b.occurred_at
            .as_deref()
            .ok_or_else(|| missing(&f("occurred_at")))?,
    )?;
    let (from_state, to_state) = match kind {
        InventoryChangeType::PhysicalCount => {
            let state = parse_state_field(&f("state"), b.state.as_deref())?;
            if state != InventoryState::InStock {
                return Err(bad(
                    "INVALID_VALUE",
                    "omnisim's POS counts IN_STOCK units only",
                    f("state"),
                ));
            }
            (None, None)
        }
        InventoryChangeType::Adjustment => (
            Some(parse_state_field(
                &f("from_state"),
                b.from_state.as_deref(),
            )?),
            Some(parse_state_field(&f("to_state"), b.to_state.as_deref())?),
        ),
    };
    Ok(InventoryChange {
        kind,
        sku,
        location,
        quantity,
        from_state,
        to_state,
        occurred_at,
        reference: b.reference_id.filter(|r| !r.is_empty()),
        order_ref: None,
    })
}

/// Native field paths (`changes[0].quantity`) in Square's nesting.
fn square_field(e: SimError, kinds: &[&str]) -> SimError {
    let Some(field) = e.field.clone() else {
        return e;
    };
    let Some(rest) = field.strip_prefix("changes[") else {
        return e;
    };
    let Some((n, tail)) = rest.split_once("].") else {
        return e;
    };
    let Some(kind) = n.parse::<usize>().ok().and_then(|i| kinds.get(i)) else {
        return e;
    };
    let tail = match tail {
        "sku" => "catalog_object_id",
        "location" => "location_id",
        "reference" => "reference_id",
        other => other,
    };
    e.field(format!("changes[{n}].{kind}.{tail}"))
}

async fn batch_change(State(d): Ctx, body: Bytes) -> Response {
    let req: BatchChangeReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = async {
        require_key(&req.idempotency_key)?;
        if req.changes.is_empty() {
            return Err(missing("changes"));
        }
        d.sim.commit(|s, fx| {
            let kinds: Vec<&str> = req
                .changes
                .iter()
                .map(|c| match c.kind.as_deref() {
                    Some("PHYSICAL_COUNT") => "physical_count",
                    _ => "adjustment",
                })
                .collect();
            let mut changes = Vec::with_capacity(req.changes.len());
            for (i, c) in req.changes.into_iter().enumerate() {
                changes.push(native_change(s, i, c)?);
            }
            let n = changes.len();
            let counts = s
                .change_inventory(fx, BatchChangeInventory { changes })
                .map_err(|e| square_field(e, &kinds))?;
            let journal = s.journal();
            let made: Vec<Value> = journal
                .iter()
                .skip(journal.len().saturating_sub(n))
                .map(|e| wire::change(s, e))
                .collect();
            let counts: Vec<Value> = counts
                .counts
                .iter()
                .map(|c| wire::count(s, &c.sku, &c.location, c.quantity, c.calculated_at))
                .collect();
            Ok(json!({ "counts": counts, "changes": made }))
        })
    };
    idempotent(&d, "/v2/inventory/changes/batch-create", key, &body, run).await
}

#[derive(Debug, Default, Deserialize)]
struct CountsReq {
    catalog_object_ids: Option<Vec<String>>,
    location_ids: Option<Vec<String>>,
    updated_after: Option<String>,
    cursor: Option<String>,
    states: Option<Vec<String>>,
    limit: Option<i64>,
}

fn skus_of(s: &PosState, ids: &Option<Vec<String>>) -> Option<Vec<String>> {
    ids.as_ref().filter(|v| !v.is_empty()).map(|ids| {
        ids.iter()
            .filter_map(|id| wire::sku_of_variation(s, id))
            .collect()
    })
}

fn counts_of(
    s: &PosState,
    skus: Option<&[String]>,
    locations: Option<&[String]>,
    after: Option<DateTime<Utc>>,
) -> Vec<Value> {
    let keys: Vec<(String, String)> = s
        .stock_keys()
        .filter(|(sku, loc)| {
            skus.is_none_or(|x| x.contains(sku)) && locations.is_none_or(|x| x.contains(loc))
        })
        .cloned()
        .collect();
    keys.iter()
        .filter_map(|(sku, loc)| s.count(sku, loc).ok())
        .filter(|c| after.is_none_or(|a| c.calculated_at > a))
        .filter(|c| wire::sku_of_variation(s, &wire::variation_of_sku(s, &c.sku)).is_some())
        .map(|c| wire::count(s, &c.sku, &c.location, c.quantity, c.calculated_at))
        .collect()
}

async fn batch_counts(State(d): Ctx, body: Bytes) -> Response {
    let req: CountsReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    answer(d.sim.read(|s| {
        let after = opt_time("updated_after", &req.updated_after)?;
        if let Some(states) = &req.states
            && !states.is_empty()
            && !states.iter().any(|x| x == "IN_STOCK")
        {
            return Ok(json!({ "counts": [] }));
        }
        let skus = skus_of(s, &req.catalog_object_ids);
        let locations = req.location_ids.clone().filter(|v| !v.is_empty());
        let counts = counts_of(s, skus.as_deref(), locations.as_deref(), after);
        let (counts, cursor) = page(counts, req.cursor.as_deref(), req.limit, 1000, 1000)?;
        Ok(with_cursor(json!({ "counts": counts }), cursor))
    }))
}

#[derive(Debug, Default, Deserialize)]
struct CountQuery {
    location_ids: Option<String>,
    cursor: Option<String>,
}

async fn get_count(State(d): Ctx, Path(id): Path<String>, Query(q): Query<CountQuery>) -> Response {
    answer(d.sim.read(|s| {
        let sku = wire::sku_of_variation(s, &id)
            .ok_or_else(|| not_found(format!("Catalog object `{id}` not found.")))?;
        let locations: Option<Vec<String>> = q.location_ids.as_deref().map(|l| {
            l.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        });
        let counts = counts_of(s, Some(&[sku]), locations.as_deref(), None);
        let (counts, cursor) = page(counts, q.cursor.as_deref(), None, 1000, 1000)?;
        Ok(with_cursor(json!({ "counts": counts }), cursor))
    }))
}

#[derive(Debug, Default, Deserialize)]
struct ChangesReq {
    catalog_object_ids: Option<Vec<String>>,
    location_ids: Option<Vec<String>>,
    types: Option<Vec<String>>,
    states: Option<Vec<String>>,
    updated_after: Option<String>,
    updated_before: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn batch_changes(State(d): Ctx, body: Bytes) -> Response {
    let req: ChangesReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    answer(d.sim.read(|s| {
        let after = opt_time("updated_after", &req.updated_after)?;
        let before = opt_time("updated_before", &req.updated_before)?;
        let skus = skus_of(s, &req.catalog_object_ids);
        let locations = req.location_ids.clone().filter(|v| !v.is_empty());
        let types = req.types.clone().filter(|v| !v.is_empty());
        let states = req.states.clone().filter(|v| !v.is_empty());
        let mut entries: Vec<_> = s
            .journal()
            .iter()
            .filter(|e| e.counted.is_some() || e.quantity > 0)
            .filter(|e| skus.as_ref().is_none_or(|x| x.contains(&e.sku)))
            .filter(|e| locations.as_ref().is_none_or(|x| x.contains(&e.location)))
            .filter(|e| after.is_none_or(|a| e.created_at > a))
            .filter(|e| before.is_none_or(|b| e.created_at <= b))
            .filter(|e| {
                let kind = if e.counted.is_some() {
                    "PHYSICAL_COUNT"
                } else {
                    "ADJUSTMENT"
                };
                types.as_ref().is_none_or(|t| t.iter().any(|x| x == kind))
            })
            .filter(|e| {
                states.as_ref().is_none_or(|st| {
                    st.iter().any(|x| {
                        x == wire::state_name(e.from_state) || x == wire::state_name(e.to_state)
                    })
                })
            })
            .filter(|e| wire::sku_of_variation(s, &wire::variation_of_sku(s, &e.sku)).is_some())
            .collect();
        entries.sort_by_key(|e| (e.occurred_at, e.seq));
        let changes: Vec<Value> = entries.iter().map(|e| wire::change(s, e)).collect();
        let (changes, cursor) = page(changes, req.cursor.as_deref(), req.limit, 100, 1000)?;
        Ok(with_cursor(json!({ "changes": changes }), cursor))
    }))
}

// ---- orders -------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct OrderIn {
    location_id: Option<String>,
    reference_id: Option<String>,
    #[serde(default)]
    line_items: Vec<LineIn>,
    metadata: Option<Value>,
    state: Option<String>,
    version: Option<i64>,
    #[serde(default)]
    fulfillments: Vec<FulfillmentIn>,
}

/// A fulfillment in a request: omnisim models `PICKUP` (an online order's
/// units set aside at the store, a POS pickup).
#[derive(Debug, Default, Deserialize)]
struct FulfillmentIn {
    uid: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    state: Option<String>,
    pickup_details: Option<Value>,
}

/// The POS pickup key a PICKUP order's `reference_id` names: the shop's
/// order key for a Shopify order id (`gid://shopify/Order/12` or `12` name
/// `ord_000012`, the order the merchant's shop holds), else the reference
/// as given (a shop order key such as `ord_000012` itself).
fn pickup_order_ref(reference: &str) -> String {
    crate::dialects::shopify::order_key(reference).unwrap_or_else(|| reference.to_owned())
}

/// Checks the one PICKUP fulfillment of a request (`fulfillments[0]`); an
/// update names it by `uid` and may leave its `type` out.
fn check_fulfillment(fs: &[FulfillmentIn], creating: bool) -> SimResult<Option<&FulfillmentIn>> {
    let Some(f) = fs.first() else {
        return Ok(None);
    };
    if fs.len() > 1 {
        return Err(bad(
            "INVALID_VALUE",
            "omnisim models one fulfillment per order",
            "order.fulfillments",
        ));
    }
    match f.kind.as_deref() {
        Some("PICKUP") => {}
        None if !creating => {}
        None => return Err(missing("order.fulfillments[0].type")),
        Some(other) => {
            return Err(bad(
                "INVALID_VALUE",
                format!(
                    "omnisim models PICKUP fulfillments (units set aside at the store), not {other}"
                ),
                "order.fulfillments[0].type",
            ));
        }
    }
    if let Some(st) = f.state.as_deref()
        && !super::book::FULFILLMENT_STATES.contains(&st)
    {
        return Err(bad(
            "INVALID_ENUM_VALUE",
            format!(
                "`{st}` is not a fulfillment state: PROPOSED, RESERVED, PREPARED, COMPLETED or CANCELED"
            ),
            "order.fulfillments[0].state",
        ));
    }
    if f.pickup_details.as_ref().is_some_and(|d| !d.is_object()) {
        return Err(bad(
            "INVALID_VALUE",
            "`pickup_details` is an object",
            "order.fulfillments[0].pickup_details",
        ));
    }
    Ok(Some(f))
}

/// A POS pickup error in the order's terms: the pickup is keyed by the
/// order's `reference_id`.
/// The units per SKU a PICKUP order's patched `line_items` leave (each
/// names an existing line's `uid` and its new `quantity`), for the native
/// pickup: only SKUs that change, and never more than the order holds.
fn shortened_lines(
    order: &super::book::Order,
    patch: &[LineIn],
) -> SimResult<Vec<SaleLineRequest>> {
    let mut quantity: Vec<(String, String, i64)> = order
        .lines
        .iter()
        .map(|l| (l.uid.clone(), l.sku.clone(), l.quantity))
        .collect();
    for (i, p) in patch.iter().enumerate() {
        let f = |name: &str| format!("order.line_items[{i}].{name}");
        let uid = p.uid.as_deref().ok_or_else(|| missing(&f("uid")))?;
        let Some(line) = quantity.iter_mut().find(|(u, _, _)| u == uid) else {
            return Err(bad(
                "INVALID_VALUE",
                format!("the order has no line `{uid}`; omnisim adds no lines to an order"),
                f("uid"),
            ));
        };
        if let Some(c) = &p.catalog_object_id
            && order
                .lines
                .iter()
                .any(|l| l.uid == uid && l.variation_id != *c)
        {
            return Err(bad(
                "INVALID_VALUE",
                "a line's catalog_object_id cannot change",
                f("catalog_object_id"),
            ));
        }
        let want = parse_quantity(&f("quantity"), p.quantity.as_deref())?;
        if want < 0 || want > line.2 {
            return Err(bad(
                "INVALID_VALUE",
                format!(
                    "a PICKUP order's line comes down before collection, from {} to 0 or more, not {want}",
                    line.2
                ),
                f("quantity"),
            ));
        }
        line.2 = want;
    }
    let mut per_sku: Vec<SaleLineRequest> = Vec::new();
    for (_, sku, q) in quantity {
        match per_sku.iter_mut().find(|x| x.sku == sku) {
            Some(x) => x.quantity += q,
            None => per_sku.push(SaleLineRequest { sku, quantity: q }),
        }
    }
    let before = |sku: &str| -> i64 {
        order
            .lines
            .iter()
            .filter(|l| l.sku == sku)
            .map(|l| l.quantity)
            .sum()
    };
    per_sku.retain(|x| x.quantity != before(&x.sku));
    if per_sku.is_empty() {
        return Err(bad(
            "INVALID_VALUE",
            "the line_items given change no quantity",
            "order.line_items",
        ));
    }
    Ok(per_sku)
}

fn pickup_error(e: SimError) -> SimError {
    match e.code {
        "pickup_exists" => bad(
            "INVALID_VALUE",
            format!(
                "{}: another order already sets aside the units of this reference_id",
                e.message
            ),
            "order.reference_id",
        ),
        _ if e.field.as_deref() == Some("order_ref") => e.field("order.reference_id"),
        _ => e,
    }
}

#[derive(Debug, Default, Deserialize)]
struct LineIn {
    uid: Option<String>,
    catalog_object_id: Option<String>,
    quantity: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreateOrderReq {
    idempotency_key: Option<String>,
    order: Option<OrderIn>,
}

fn order_json(s: &PosState, id: &str) -> Option<Value> {
    if let Some(o) = s.square().orders.get(id) {
        return Some(wire::order(s, o));
    }
    if let Some(oid) = s.square().order_of_sale.get(id)
        && let Some(o) = s.square().orders.get(oid)
    {
        return Some(wire::order(s, o));
    }
    s.sale(id).ok().map(|sale| wire::sale_order(s, &sale))
}

/// Every order: the dialect's, then register sales not made through it.
fn all_orders(s: &PosState) -> Vec<Value> {
    let book = s.square();
    let mut out: Vec<Value> = book.orders.values().map(|o| wire::order(s, o)).collect();
    for sale in s.sales() {
        if !book.order_of_sale.contains_key(&sale.id) {
            out.push(wire::sale_order(s, sale));
        }
    }
    out
}

async fn create_order(State(d): Ctx, body: Bytes) -> Response {
    let req: CreateOrderReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = async {
        let o = req.order.ok_or_else(|| missing("order"))?;
        d.sim.commit(|s, fx| {
            let now = fx.now();
            let location = o
                .location_id
                .as_deref()
                .ok_or_else(|| missing("order.location_id"))?;
            let location = require_location(s, "order.location_id", location)?;
            if o.line_items.is_empty() {
                return Err(missing("order.line_items"));
            }
            if o.state.as_deref().is_some_and(|st| st != "OPEN") {
                return Err(bad("INVALID_VALUE", "a new order is OPEN", "order.state"));
            }
            let pickup = check_fulfillment(&o.fulfillments, true)?;
            let pickup_ref = match pickup {
                None => None,
                Some(f) => {
                    if matches!(f.state.as_deref(), Some("COMPLETED" | "CANCELED")) {
                        return Err(bad(
                            "INVALID_VALUE",
                            "a new PICKUP fulfillment is PROPOSED, RESERVED or PREPARED",
                            "order.fulfillments[0].state",
                        ));
                    }
                    let r = o.reference_id.as_deref().ok_or_else(|| {
                        bad(
                            "MISSING_REQUIRED_PARAMETER",
                            "a PICKUP order names the online order it sets units aside for in `reference_id`",
                            "order.reference_id",
                        )
                    })?;
                    Some(pickup_order_ref(r))
                }
            };
            let mut currency: Option<String> = None;
            let mut lines = Vec::new();
            for (i, l) in o.line_items.iter().enumerate() {
                let f = |x: &str| format!("order.line_items[{i}].{x}");
                let vid = l.catalog_object_id.as_deref().ok_or_else(|| {
                    bad(
                        "MISSING_REQUIRED_PARAMETER",
                        "omnisim's POS sells catalog items: give `catalog_object_id`",
                        f("catalog_object_id"),
                    )
                })?;
                let sku = wire::sku_of_variation(s, vid).ok_or_else(|| {
                    bad(
                        "INVALID_VALUE",
                        format!("`{vid}` is not an ITEM_VARIATION in the catalog"),
                        f("catalog_object_id"),
                    )
                })?;
                let quantity = parse_quantity(&f("quantity"), l.quantity.as_deref())?;
                if !(1..=crate::pos::state::QUANTITY_MAX).contains(&quantity) {
                    return Err(bad(
                        "INVALID_VALUE",
                        "a line's quantity is at least 1",
                        f("quantity"),
                    ));
                }
                let item = s.item(&sku)?;
                match &currency {
                    None => currency = Some(item.currency.clone()),
                    Some(c) if *c != item.currency => {
                        return Err(bad(
                            "INVALID_VALUE",
                            "every line of an order is in one currency",
                            f("catalog_object_id"),
                        ));
                    }
                    Some(_) => {}
                }
                let (tax, total) = s.line_total(&sku, quantity)?;
                lines.push((
                    l.uid.clone(),
                    vid.to_owned(),
                    sku,
                    quantity,
                    item,
                    tax,
                    total,
                ));
            }
            let id = s.square_mut().fresh_id("");
            let mut out = Vec::with_capacity(lines.len());
            for (n, (uid, vid, sku, quantity, item, tax, total)) in lines.into_iter().enumerate() {
                out.push(OrderLine {
                    uid: uid.unwrap_or_else(|| format!("{}-{n}", &id[id.len() - 6..])),
                    variation_id: vid,
                    sku,
                    quantity,
                    name: item.name,
                    price: item.price,
                    discount: Decimal::ZERO,
                    tax,
                    total,
                });
            }
            // Priced as the register prices a sale: the best POS promotion
            // running now comes off its lines before tax, so that the sale
            // it becomes once paid is the same money. A PICKUP order was
            // priced where it was sold.
            let mut promotion = None;
            if pickup.is_none()
                && let Some(c) = &currency
            {
                let priced: Vec<(&str, Decimal, i64)> = out
                    .iter()
                    .map(|l| (l.sku.as_str(), l.price, l.quantity))
                    .collect();
                if let Some((pid, prices)) = s.promotion_prices(now, &priced, c) {
                    for (l, (discount, tax, total)) in out.iter_mut().zip(prices) {
                        l.discount = discount;
                        l.tax = tax;
                        l.total = total;
                    }
                    promotion = Some(pid);
                }
            }
            let fulfillment = match (pickup, pickup_ref) {
                (Some(f), Some(order_ref)) => {
                    // Units set aside now (IN_STOCK → RESERVED_FOR_SALE),
                    // one line per SKU, as a POS pickup the clerk completes
                    // at the register.
                    let mut per_sku: Vec<SaleLineRequest> = Vec::new();
                    for l in &out {
                        match per_sku.iter_mut().find(|x| x.sku == l.sku) {
                            Some(x) => x.quantity += l.quantity,
                            None => per_sku.push(SaleLineRequest {
                                sku: l.sku.clone(),
                                quantity: l.quantity,
                            }),
                        }
                    }
                    let details = f.pickup_details.clone().unwrap_or_else(|| json!({}));
                    let customer = details["recipient"]["display_name"]
                        .as_str()
                        .map(str::to_owned);
                    s.create_pickup(
                        fx,
                        CreatePickup {
                            order_ref: order_ref.clone(),
                            location: location.clone(),
                            lines: per_sku,
                            customer,
                        },
                    )
                    .map_err(pickup_error)?;
                    s.square_mut()
                        .order_of_pickup
                        .insert(order_ref.clone(), id.clone());
                    Some(PickupFulfillment {
                        uid: f
                            .uid
                            .clone()
                            .unwrap_or_else(|| format!("{}-F", &id[id.len() - 6..])),
                        state: f.state.clone().unwrap_or_else(|| "PROPOSED".into()),
                        old_state: None,
                        order_ref,
                        details,
                        picked_up_at: None,
                        canceled_at: None,
                    })
                }
                _ => None,
            };
            let order = Order {
                id: id.clone(),
                location_id: location,
                reference_id: o.reference_id,
                metadata: o.metadata,
                total: out.iter().map(|l| l.total).sum(),
                tax: out.iter().map(|l| l.tax).sum(),
                promotion,
                lines: out,
                state: "OPEN".into(),
                version: 1,
                currency: currency.unwrap_or_else(|| "USD".into()),
                payment_ids: Vec::new(),
                sale_id: None,
                created_at: now,
                updated_at: now,
                closed_at: None,
                fulfillment,
            };
            let v = wire::order(s, &order);
            fx.emit("order.created", &order);
            s.square_mut().orders.insert(id, order);
            Ok(json!({ "order": v }))
        })
    };
    idempotent(&d, "/v2/orders", key, &body, run).await
}

async fn get_order(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(d.sim.read(|s| {
        order_json(s, &id)
            .map(|o| json!({ "order": o }))
            .ok_or_else(|| not_found(format!("Order `{id}` not found.")))
    }))
}

#[derive(Debug, Default, Deserialize)]
struct BatchOrdersReq {
    #[allow(dead_code)]
    location_id: Option<String>,
    #[serde(default)]
    order_ids: Vec<String>,
}

async fn batch_orders(State(d): Ctx, body: Bytes) -> Response {
    let req: BatchOrdersReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    answer(d.sim.read(|s| {
        if req.order_ids.is_empty() {
            return Err(missing("order_ids"));
        }
        let orders: Vec<Value> = req
            .order_ids
            .iter()
            .filter_map(|id| order_json(s, id))
            .collect();
        Ok(json!({ "orders": orders }))
    }))
}

#[derive(Debug, Default, Deserialize)]
struct SearchOrdersReq {
    location_ids: Option<Vec<String>>,
    cursor: Option<String>,
    query: Option<Value>,
    limit: Option<i64>,
    return_entries: Option<bool>,
}

fn time_of(o: &Value, field: &str) -> Option<DateTime<Utc>> {
    o[field]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

async fn search_orders(State(d): Ctx, body: Bytes) -> Response {
    let req: SearchOrdersReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    answer(d.sim.read(|s| {
        let query = req.query.clone().unwrap_or(Value::Null);
        let filter = &query["filter"];
        let states: Vec<&str> = filter["state_filter"]["states"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut windows = Vec::new();
        for field in ["created_at", "updated_at", "closed_at"] {
            let w = &filter["date_time_filter"][field];
            if w.is_object() {
                let start = w["start_at"].as_str().map(|t| parse_time(field, t)).transpose()?;
                let end = w["end_at"].as_str().map(|t| parse_time(field, t)).transpose()?;
                windows.push((field, start, end));
            }
        }
        let sort_field = match query["sort"]["sort_field"].as_str().unwrap_or("CREATED_AT") {
            "UPDATED_AT" => "updated_at",
            "CLOSED_AT" => "closed_at",
            _ => "created_at",
        };
        let ascending = query["sort"]["sort_order"].as_str() == Some("ASC");
        let locations = req.location_ids.clone().filter(|v| !v.is_empty());
        let mut orders: Vec<Value> = all_orders(s)
            .into_iter()
            .filter(|o| {
                locations
                    .as_ref()
                    .is_none_or(|l| l.iter().any(|x| o["location_id"] == x.as_str()))
            })
            .filter(|o| states.is_empty() || states.iter().any(|st| o["state"] == *st))
            .filter(|o| {
                windows.iter().all(|(field, start, end)| {
                    time_of(o, field).is_some_and(|t| {
                        start.is_none_or(|st| t >= st) && end.is_none_or(|e| t <= e)
                    })
                })
            })
            .collect();
        orders.sort_by_key(|o| time_of(o, sort_field));
        if !ascending {
            orders.reverse();
        }
        let (orders, cursor) = page(orders, req.cursor.as_deref(), req.limit, 500, 1000)?;
        let v = if req.return_entries == Some(true) {
            let entries: Vec<Value> = orders
                .iter()
                .map(|o| {
                    json!({"order_id": o["id"], "version": o["version"], "location_id": o["location_id"]})
                })
                .collect();
            json!({ "order_entries": entries })
        } else {
            json!({ "orders": orders })
        };
        Ok(with_cursor(v, cursor))
    }))
}

#[derive(Debug, Deserialize)]
struct UpdateOrderReq {
    idempotency_key: Option<String>,
    order: Option<OrderIn>,
    #[serde(default)]
    fields_to_clear: Vec<String>,
}

async fn update_order(State(d): Ctx, Path(id): Path<String>, body: Bytes) -> Response {
    let req: UpdateOrderReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let path = format!("/v2/orders/{id}");
    let run = async {
        d.sim.commit(|s, fx| {
            let now = fx.now();
            let Some(order) = s.square().orders.get(&id).cloned() else {
                if order_json(s, &id).is_some() {
                    return Err(bad(
                        "BAD_REQUEST",
                        "a register sale is a COMPLETED order and cannot be updated",
                        "order_id",
                    ));
                }
                return Err(not_found(format!("Order `{id}` not found.")));
            };
            let patch = req.order.unwrap_or_default();
            if let Some(v) = patch.version
                && v != order.version
            {
                return Err(bad(
                    "VERSION_MISMATCH",
                    format!("The order is at version {}, not {v}", order.version),
                    "order.version",
                ));
            }
            if order.state != "OPEN" {
                return Err(bad(
                    "BAD_REQUEST",
                    format!("The order is {} and cannot be updated", order.state),
                    "order.state",
                ));
            }
            // A PICKUP order's lines may come down before collection (the
            // native pickup is shortened, and the order follows it); no
            // other line change is modelled.
            let shortened = if patch.line_items.is_empty() {
                None
            } else if order.fulfillment.is_some() {
                Some(shortened_lines(&order, &patch.line_items)?)
            } else {
                return Err(bad(
                    "BAD_REQUEST",
                    "omnisim changes the line items of a PICKUP order only (fewer units before collection); create another order",
                    "order.line_items",
                ));
            };
            // A PICKUP fulfillment's state: COMPLETED and CANCELED hand
            // over or release the POS pickup behind it (the order follows);
            // the others are the caller's bookkeeping.
            let asked = check_fulfillment(&patch.fulfillments, false)?;
            let mut fulfillment_state: Option<String> = None;
            let mut close: Option<&'static str> = None;
            if let Some(f) = asked {
                let Some(have) = &order.fulfillment else {
                    return Err(bad(
                        "BAD_REQUEST",
                        "the order has no PICKUP fulfillment; omnisim adds one only when the order is made",
                        "order.fulfillments",
                    ));
                };
                if let Some(uid) = &f.uid
                    && *uid != have.uid
                {
                    return Err(bad(
                        "INVALID_VALUE",
                        format!("the order's fulfillment is `{}`, not `{uid}`", have.uid),
                        "order.fulfillments[0].uid",
                    ));
                }
                match f.state.as_deref() {
                    None => {}
                    Some(st) if st == have.state => {}
                    Some("COMPLETED") => close = Some("COMPLETED"),
                    Some("CANCELED") => close = Some("CANCELED"),
                    Some(st) => fulfillment_state = Some(st.to_owned()),
                }
            }
            if patch.state.as_deref() == Some("CANCELED") && order.fulfillment.is_some() {
                close = Some("CANCELED");
            }
            if let (Some(have), Some(r)) = (&order.fulfillment, &patch.reference_id)
                && pickup_order_ref(r) != have.order_ref
            {
                return Err(bad(
                    "BAD_REQUEST",
                    "a PICKUP order's reference_id names its pickup and cannot change",
                    "order.reference_id",
                ));
            }
            if order.fulfillment.is_some()
                && req.fields_to_clear.iter().any(|f| f == "reference_id")
            {
                return Err(bad(
                    "BAD_REQUEST",
                    "a PICKUP order's reference_id names its pickup and cannot be cleared",
                    "fields_to_clear",
                ));
            }
            let mut order = order;
            if let (Some(lines), Some(have)) = (shortened, &order.fulfillment) {
                let order_ref = have.order_ref.clone();
                s.update_pickup_lines(fx, &order_ref, UpdatePickupLines { lines })
                    .map_err(|e| {
                        let e = pickup_error(e);
                        if e.field.as_deref().is_some_and(|f| f.starts_with("lines")) {
                            e.field("order.line_items")
                        } else {
                            e
                        }
                    })?;
                // The pickup moved the order's lines (its `order.updated` is out).
                if let Some(moved) = s.square().orders.get(&id) {
                    order = moved.clone();
                }
            }
            if let (Some(action), Some(have)) = (close, &order.fulfillment) {
                let order_ref = have.order_ref.clone();
                if action == "COMPLETED" {
                    s.complete_pickup(fx, &order_ref).map_err(pickup_error)?;
                } else {
                    s.cancel_pickup(fx, &order_ref).map_err(pickup_error)?;
                }
                // The pickup closed the order (its `order.updated` is out).
                if let Some(moved) = s.square().orders.get(&id) {
                    order = moved.clone();
                }
            }
            let mut next = order.clone();
            if let (Some(st), Some(f)) = (fulfillment_state, next.fulfillment.as_mut()) {
                f.old_state = Some(std::mem::replace(&mut f.state, st));
            }
            if let Some(r) = patch.reference_id {
                next.reference_id = Some(r);
            }
            if let Some(m) = patch.metadata {
                next.metadata = Some(m);
            }
            for f in &req.fields_to_clear {
                match f.as_str() {
                    "reference_id" => next.reference_id = None,
                    "metadata" => next.metadata = None,
                    _ => {}
                }
            }
            match patch.state.as_deref() {
                None | Some("OPEN") => {}
                Some("CANCELED") if next.state == "CANCELED" => {}
                Some("CANCELED") => {
                    let book = s.square();
                    let live = order.payment_ids.iter().any(|p| {
                        book.payments
                            .get(p)
                            .is_some_and(|p| p.status == "APPROVED" || p.status == "COMPLETED")
                    });
                    if live {
                        return Err(bad(
                            "BAD_REQUEST",
                            "The order has an APPROVED or COMPLETED payment: cancel or refund it first",
                            "order.state",
                        ));
                    }
                    next.state = "CANCELED".into();
                    next.closed_at = Some(now);
                }
                Some(other) => {
                    return Err(bad(
                        "INVALID_VALUE",
                        format!("An OPEN order can become CANCELED through an update, not {other}"),
                        "order.state",
                    ));
                }
            }
            if next != order {
                next.version += 1;
                next.updated_at = now;
                fx.emit("order.updated", &next);
            }
            let v = wire::order(s, &next);
            s.square_mut().orders.insert(id.clone(), next);
            Ok(json!({ "order": v }))
        })
    };
    idempotent(&d, &path, key, &body, run).await
}

/// Records an order whose COMPLETED payments cover its total as a POS sale
/// (one card tender per payment, the gateway intents already captured),
/// and completes it. Does nothing when it is not yet paid, or when the sale
/// is refused (the selling policy): it then stays OPEN.
fn close_order(s: &mut PosState, fx: &mut crate::events::Effects, order_id: &str) {
    let Some(order) = s.square().orders.get(order_id).cloned() else {
        return;
    };
    if order.state != "OPEN" || order.fulfillment.is_some() {
        return;
    }
    let paid: Vec<Payment> = order
        .payment_ids
        .iter()
        .filter_map(|p| s.square().payments.get(p).cloned())
        .filter(|p| p.status == "COMPLETED")
        .collect();
    let sum: Decimal = paid.iter().map(|p| p.amount).sum();
    if sum < order.total || paid.is_empty() {
        return;
    }
    let req = CreateSale {
        location: order.location_id.clone(),
        lines: order
            .lines
            .iter()
            .map(|l| SaleLineRequest {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        tenders: paid
            .iter()
            .map(|p| TenderRequest {
                kind: TenderType::CardPresent,
                amount: p.amount,
                number: Some(p.card_number.clone()),
                code: None,
            })
            .collect(),
        occurred_at: None,
        customer: None,
        gift_cards: Vec::new(),
    };
    let Ok(plan) = s.begin_sale(fx, req) else {
        return;
    };
    let intents: Vec<(usize, String)> = plan
        .payments
        .iter()
        .filter_map(|pp| paid.get(pp.tender).map(|p| (pp.tender, p.intent.clone())))
        .collect();
    let Ok(sale) = s.finish_sale(fx, &plan.id, &intents) else {
        s.abort_sale(&plan.id);
        return;
    };
    let now = fx.now();
    let book = s.square_mut();
    book.order_of_sale.insert(sale.id.clone(), order.id.clone());
    if let Some(o) = book.orders.get_mut(order_id) {
        o.sale_id = Some(sale.id);
        o.state = "COMPLETED".into();
        o.closed_at = Some(now);
        o.updated_at = now;
        o.version += 1;
        fx.emit("order.updated", &*o);
    }
}

#[derive(Debug, Default, Deserialize)]
struct PayOrderReq {
    idempotency_key: Option<String>,
    order_version: Option<i64>,
    #[serde(default)]
    payment_ids: Vec<String>,
}

async fn pay_order(State(d): Ctx, Path(id): Path<String>, body: Bytes) -> Response {
    let req: PayOrderReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let path = format!("/v2/orders/{id}/pay");
    let run = async {
        require_key(&req.idempotency_key)?;
        let order = d.sim.read(|s| s.square().orders.get(&id).cloned());
        let order = order.ok_or_else(|| not_found(format!("Order `{id}` not found.")))?;
        if let Some(v) = req.order_version
            && v != order.version
        {
            return Err(bad(
                "VERSION_MISMATCH",
                format!("The order is at version {}, not {v}", order.version),
                "order_version",
            ));
        }
        if order.state != "OPEN" {
            return Err(bad(
                "BAD_REQUEST",
                format!("The order is {}", order.state),
                "order_id",
            ));
        }
        for (i, pid) in req.payment_ids.iter().enumerate() {
            let p = d.sim.read(|s| s.square().payments.get(pid).cloned());
            let p = p.ok_or_else(|| {
                not_found(format!("Payment `{pid}` not found.")).field(format!("payment_ids[{i}]"))
            })?;
            if p.order_id.as_deref() != Some(id.as_str()) {
                return Err(bad(
                    "INVALID_VALUE",
                    format!("Payment `{pid}` is not for this order"),
                    format!("payment_ids[{i}]"),
                ));
            }
            if p.status == "APPROVED" {
                complete_payment_inner(&d, pid).await?;
            }
        }
        d.sim.commit(|s, fx| {
            close_order(s, fx, &id);
            order_json(s, &id)
                .map(|o| json!({ "order": o }))
                .ok_or_else(|| not_found("the order is gone"))
        })
    };
    idempotent(&d, &path, key, &body, run).await
}

// ---- payments -----------------------------------------------------------

/// The sandbox's test nonces: the card behind each, and the decline it
/// gives (`None` for a success).
fn nonce(source: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match source {
        "cnon:card-nonce-ok" => ("4242424242424242", None),
        "cnon:card-nonce-declined" => ("4000000000000002", Some("GENERIC_DECLINE")),
        "cnon:card-nonce-rejected-cvv" => ("4000000000000127", Some("CVV_FAILURE")),
        "cnon:card-nonce-rejected-postalcode" => {
            ("4000000000000002", Some("ADDRESS_VERIFICATION_FAILURE"))
        }
        "cnon:card-nonce-rejected-expiration" => ("4000000000000069", Some("INVALID_EXPIRATION")),
        "cnon:card-nonce-insufficient-funds" => ("4000000000009995", Some("INSUFFICIENT_FUNDS")),
        "cnon:card-nonce-requires-verification" => (
            "4000000000003220",
            Some("CARD_DECLINED_VERIFICATION_REQUIRED"),
        ),
        _ => return None,
    })
}

/// The Square code of a gateway decline code.
fn decline_code(code: Option<&str>) -> &'static str {
    match code {
        Some("insufficient_funds") => "INSUFFICIENT_FUNDS",
        Some("incorrect_cvc") => "CVV_FAILURE",
        Some("expired_card") => "INVALID_EXPIRATION",
        Some("lost_card" | "stolen_card") => "CARD_DECLINED",
        Some("authentication_required") => "CARD_DECLINED_VERIFICATION_REQUIRED",
        _ => "GENERIC_DECLINE",
    }
}

pub(super) fn gateway_error(e: ApiError) -> SimError {
    match e {
        ApiError::Status { status, body, .. } if (400..500).contains(&status) && status != 429 => {
            bad(
                "BAD_REQUEST",
                format!("the payment gateway refused: {}", body.error.message),
                "",
            )
        }
        other => SimError::new(
            ErrorKind::Unavailable,
            "SERVICE_UNAVAILABLE",
            format!("the payment gateway gave no usable answer ({other}); nothing was recorded"),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct CreatePaymentReq {
    idempotency_key: Option<String>,
    source_id: Option<String>,
    amount_money: Option<MoneyIn>,
    autocomplete: Option<bool>,
    order_id: Option<String>,
    location_id: Option<String>,
    reference_id: Option<String>,
    note: Option<String>,
}

async fn create_payment(State(d): Ctx, body: Bytes) -> Response {
    let req: CreatePaymentReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = create_payment_inner(&d, req);
    idempotent(&d, "/v2/payments", key, &body, run).await
}

async fn create_payment_inner(d: &Dialect, req: CreatePaymentReq) -> SimResult<Value> {
    require_key(&req.idempotency_key)?;
    let source = req
        .source_id
        .as_deref()
        .ok_or_else(|| missing("source_id"))?;
    let (number, decline) = nonce(source).ok_or_else(|| {
        bad(
            "INVALID_CARD_DATA",
            "omnisim takes the sandbox's test nonces: cnon:card-nonce-ok, \
             cnon:card-nonce-declined, cnon:card-nonce-rejected-cvv, \
             cnon:card-nonce-rejected-postalcode, cnon:card-nonce-rejected-expiration, \
             cnon:card-nonce-insufficient-funds, cnon:card-nonce-requires-verification",
            "source_id",
        )
    })?;
    let (amount, currency) = req
        .amount_money
        .as_ref()
        .ok_or_else(|| missing("amount_money"))?
        .decimal("amount_money")?;
    if amount <= Decimal::ZERO {
        return Err(bad(
            "INVALID_VALUE",
            "the amount is at least 1",
            "amount_money.amount",
        ));
    }
    let autocomplete = req.autocomplete.unwrap_or(true);
    // Reserve the id, after checking the order and location.
    let (id, location) = d.sim.commit(|s, _| {
        let location = match req.location_id.as_deref() {
            Some(l) => require_location(s, "location_id", l)?,
            None => require_location(s, "location_id", "main")?,
        };
        let mut location = location;
        if let Some(oid) = &req.order_id {
            let o =
                s.square().orders.get(oid).ok_or_else(|| {
                    not_found(format!("Order `{oid}` not found.")).field("order_id")
                })?;
            if o.state != "OPEN" {
                return Err(bad(
                    "BAD_REQUEST",
                    format!("The order is {}", o.state),
                    "order_id",
                ));
            }
            if o.fulfillment.is_some() {
                return Err(bad(
                    "BAD_REQUEST",
                    "a PICKUP order was paid where it was sold (the online order of its reference_id); it closes when collected",
                    "order_id",
                ));
            }
            if o.currency != currency {
                return Err(bad(
                    "INVALID_CURRENCY",
                    format!("The order is in {}", o.currency),
                    "amount_money.currency",
                ));
            }
            let taken: Decimal = o
                .payment_ids
                .iter()
                .filter_map(|p| s.square().payments.get(p))
                .filter(|p| p.status == "APPROVED" || p.status == "COMPLETED")
                .map(|p| p.amount)
                .sum();
            if amount > o.total - taken {
                return Err(bad(
                    "INVALID_VALUE",
                    format!(
                        "The payment is more than the {} {} the order still owes",
                        o.total - taken,
                        o.currency
                    ),
                    "amount_money.amount",
                ));
            }
            location = o.location_id.clone();
        }
        Ok((s.square_mut().fresh_id("P"), location))
    })?;
    let mut metadata = BTreeMap::from([("square_payment".to_owned(), id.clone())]);
    if let Some(o) = &req.order_id {
        metadata.insert("square_order".to_owned(), o.clone());
    }
    let intent_req = CreatePaymentIntent {
        amount,
        currency: currency.clone(),
        capture_method: if autocomplete {
            CaptureMethod::Automatic
        } else {
            CaptureMethod::Manual
        },
        payment_method: PaymentMethod::Card {
            number: number.to_owned(),
        },
        metadata,
    };
    let gateway_key = format!("square:{id}:create");
    let (intent, status, failure) = match d.pay.create_intent(&intent_req, Some(&gateway_key)).await
    {
        Ok(pi) => match pi.status {
            IntentStatus::RequiresCapture => (pi.id, "APPROVED", None),
            IntentStatus::Succeeded => (pi.id, "COMPLETED", None),
            _ => {
                let cancel = CancelIntent {
                    reason: Some(CancellationReason::Abandoned),
                };
                let _ = d
                    .pay
                    .cancel(&pi.id, &cancel, Some(&format!("square:{id}:void")))
                    .await;
                (
                    pi.id,
                    "FAILED",
                    Some(decline.unwrap_or("CARD_DECLINED_VERIFICATION_REQUIRED")),
                )
            }
        },
        Err(ApiError::Status {
            status: 402, body, ..
        }) => (
            body.error.payment_intent.clone().unwrap_or_default(),
            "FAILED",
            Some(decline.unwrap_or(decline_code(body.error.decline_code.as_deref()))),
        ),
        Err(e) => return Err(gateway_error(e)),
    };
    let last4 = number[number.len() - 4..].to_owned();
    let brand = if number.starts_with('5') {
        "MASTERCARD"
    } else {
        "VISA"
    };
    let payment = d.sim.commit(|s, fx| {
        let now = fx.now();
        let p = Payment {
            id: id.clone(),
            intent,
            status: status.into(),
            order_id: req.order_id.clone().filter(|_| status != "FAILED"),
            location_id: location,
            amount,
            currency: currency.clone(),
            last4,
            brand: brand.into(),
            failure: failure.map(str::to_owned),
            reference_id: req.reference_id.clone(),
            note: req.note.clone(),
            refunded: Decimal::ZERO,
            refund_ids: Vec::new(),
            created_at: now,
            updated_at: now,
            delayed_until: now + TimeDelta::days(7),
            card_number: number.to_owned(),
        };
        s.square_mut().payments.insert(id.clone(), p.clone());
        fx.emit("payment.created", &p);
        if let Some(oid) = &p.order_id
            && let Some(o) = s.square_mut().orders.get_mut(oid)
        {
            o.payment_ids.push(id.clone());
            o.version += 1;
            o.updated_at = now;
            fx.emit("order.updated", &*o);
        }
        if p.status == "COMPLETED"
            && let Some(oid) = &p.order_id
        {
            close_order(s, fx, oid);
        }
        Ok(s.square().payments.get(&id).cloned().unwrap_or(p))
    })?;
    match &payment.failure {
        None => Ok(json!({ "payment": wire::payment(&payment) })),
        Some(code) => {
            let e = SimError::new(
                ErrorKind::Declined,
                code_static(code),
                format!("Authorization error: '{code}'"),
            )
            .field("source_id");
            Err(e)
        }
    }
}

/// A decline code as a static string (they are a fixed few).
fn code_static(code: &str) -> &'static str {
    const CODES: &[&str] = &[
        "GENERIC_DECLINE",
        "CVV_FAILURE",
        "ADDRESS_VERIFICATION_FAILURE",
        "INVALID_EXPIRATION",
        "INSUFFICIENT_FUNDS",
        "CARD_DECLINED",
        "CARD_DECLINED_VERIFICATION_REQUIRED",
    ];
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("GENERIC_DECLINE")
}

fn payment_of(d: &Dialect, id: &str) -> SimResult<Payment> {
    d.sim
        .read(|s| s.square().payments.get(id).cloned())
        .ok_or_else(|| not_found(format!("Payment `{id}` not found.")))
}

async fn complete_payment_inner(d: &Dialect, id: &str) -> SimResult<Payment> {
    let p = payment_of(d, id)?;
    match p.status.as_str() {
        "COMPLETED" => return Ok(p),
        "APPROVED" => {}
        other => {
            return Err(bad(
                "BAD_REQUEST",
                format!("The payment is {other} and cannot be completed"),
                "payment_id",
            ));
        }
    }
    let key = format!("square:{id}:complete");
    let pi = d
        .pay
        .capture(&p.intent, &CaptureIntent::default(), Some(&key))
        .await
        .map_err(gateway_error)?;
    if pi.status != IntentStatus::Succeeded {
        return Err(bad(
            "BAD_REQUEST",
            format!("the gateway left the payment {:?}", pi.status),
            "payment_id",
        ));
    }
    d.sim.commit(|s, fx| {
        let now = fx.now();
        let order = {
            let Some(p) = s.square_mut().payments.get_mut(id) else {
                return Err(not_found("the payment is gone"));
            };
            p.status = "COMPLETED".into();
            p.updated_at = now;
            fx.emit("payment.updated", &*p);
            p.order_id.clone()
        };
        if let Some(oid) = order {
            close_order(s, fx, &oid);
        }
        s.square()
            .payments
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("the payment is gone"))
    })
}

async fn complete_payment(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(
        complete_payment_inner(&d, &id)
            .await
            .map(|p| json!({ "payment": wire::payment(&p) })),
    )
}

async fn cancel_payment(State(d): Ctx, Path(id): Path<String>) -> Response {
    let run = async {
        let p = payment_of(&d, &id)?;
        match p.status.as_str() {
            "CANCELED" => return Ok(json!({ "payment": wire::payment(&p) })),
            "APPROVED" => {}
            other => {
                return Err(bad(
                    "BAD_REQUEST",
                    format!("The payment is {other} and cannot be canceled"),
                    "payment_id",
                ));
            }
        }
        let key = format!("square:{id}:cancel");
        let body = CancelIntent {
            reason: Some(CancellationReason::RequestedByCustomer),
        };
        d.pay
            .cancel(&p.intent, &body, Some(&key))
            .await
            .map_err(gateway_error)?;
        d.sim.commit(|s, fx| {
            let now = fx.now();
            let Some(p) = s.square_mut().payments.get_mut(&id) else {
                return Err(not_found("the payment is gone"));
            };
            p.status = "CANCELED".into();
            p.updated_at = now;
            fx.emit("payment.updated", &*p);
            Ok(json!({ "payment": wire::payment(p) }))
        })
    };
    answer(run.await)
}

async fn get_payment(State(d): Ctx, Path(id): Path<String>) -> Response {
    let run = async {
        let p = payment_of(&d, &id)?;
        // An authorization the gateway let expire is CANCELED here too.
        if p.status == "APPROVED"
            && let Ok(pi) = d.pay.intent(&p.intent).await
            && pi.status == IntentStatus::Canceled
        {
            return d.sim.commit(|s, fx| {
                let now = fx.now();
                let Some(p) = s.square_mut().payments.get_mut(&id) else {
                    return Err(not_found("the payment is gone"));
                };
                p.status = "CANCELED".into();
                p.updated_at = now;
                Ok(json!({ "payment": wire::payment(p) }))
            });
        }
        Ok(json!({ "payment": wire::payment(&p) }))
    };
    answer(run.await)
}

#[derive(Debug, Default, Deserialize)]
struct ListPaymentsQuery {
    begin_time: Option<String>,
    end_time: Option<String>,
    sort_order: Option<String>,
    cursor: Option<String>,
    location_id: Option<String>,
    limit: Option<i64>,
    status: Option<String>,
}

async fn list_payments(State(d): Ctx, Query(q): Query<ListPaymentsQuery>) -> Response {
    answer(d.sim.read(|s| {
        let begin = opt_time("begin_time", &q.begin_time)?;
        let end = opt_time("end_time", &q.end_time)?;
        let mut items: Vec<&Payment> = s
            .square()
            .payments
            .values()
            .filter(|p| begin.is_none_or(|b| p.created_at >= b))
            .filter(|p| end.is_none_or(|e| p.created_at < e))
            .filter(|p| q.location_id.as_ref().is_none_or(|l| p.location_id == *l))
            .filter(|p| q.status.as_ref().is_none_or(|st| p.status == *st))
            .collect();
        if q.sort_order.as_deref() != Some("ASC") {
            items.reverse();
        }
        let items = items.into_iter().map(wire::payment).collect();
        let (items, cursor) = page(items, q.cursor.as_deref(), q.limit, 100, 100)?;
        Ok(with_cursor(json!({ "payments": items }), cursor))
    }))
}

// ---- refunds ------------------------------------------------------------

/// Square caps refunds per payment.
const REFUNDS_PER_PAYMENT_MAX: usize = 20;

#[derive(Debug, Deserialize)]
struct CreateRefundReq {
    idempotency_key: Option<String>,
    amount_money: Option<MoneyIn>,
    payment_id: Option<String>,
    reason: Option<String>,
}

async fn create_refund(State(d): Ctx, body: Bytes) -> Response {
    let req: CreateRefundReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = async {
        require_key(&req.idempotency_key)?;
        let pid = req
            .payment_id
            .clone()
            .ok_or_else(|| missing("payment_id"))?;
        let (amount, currency) = req
            .amount_money
            .as_ref()
            .ok_or_else(|| missing("amount_money"))?
            .decimal("amount_money")?;
        let (id, p) = d.sim.commit(|s, _| {
            let p = s.square().payments.get(&pid).cloned().ok_or_else(|| {
                not_found(format!("Payment `{pid}` not found.")).field("payment_id")
            })?;
            if p.status != "COMPLETED" {
                return Err(bad(
                    "BAD_REQUEST",
                    format!(
                        "Only a COMPLETED payment can be refunded; this one is {}",
                        p.status
                    ),
                    "payment_id",
                ));
            }
            if currency != p.currency {
                return Err(bad(
                    "REFUND_AMOUNT_INVALID",
                    format!("The payment is in {}", p.currency),
                    "amount_money.currency",
                ));
            }
            if amount <= Decimal::ZERO || amount > p.amount - p.refunded {
                return Err(bad(
                    "REFUND_AMOUNT_INVALID",
                    format!(
                        "The refund amount must be from 1 to the {} {} not yet refunded",
                        p.amount - p.refunded,
                        p.currency
                    ),
                    "amount_money.amount",
                ));
            }
            if p.refund_ids.len() >= REFUNDS_PER_PAYMENT_MAX {
                return Err(bad(
                    "BAD_REQUEST",
                    format!("A payment takes at most {REFUNDS_PER_PAYMENT_MAX} refunds"),
                    "payment_id",
                ));
            }
            Ok((s.square_mut().fresh_id("R"), p))
        })?;
        let body = CreateRefund {
            payment_intent: p.intent.clone(),
            amount: Some(amount),
            reason: Some(RefundReason::RequestedByCustomer),
            metadata: BTreeMap::from([("square_refund".to_owned(), id.clone())]),
        };
        let refund = d
            .pay
            .refund(&body, Some(&format!("square:{id}:refund")))
            .await
            .map_err(gateway_error)?;
        d.sim.commit(|s, fx| {
            let now = fx.now();
            let r = Refund {
                id: id.clone(),
                gateway_refund: refund.id.clone(),
                payment_id: pid.clone(),
                order_id: p.order_id.clone(),
                location_id: p.location_id.clone(),
                status: match refund.status {
                    RefundStatus::Succeeded => "COMPLETED",
                    RefundStatus::Pending => "PENDING",
                    RefundStatus::Failed => "FAILED",
                }
                .into(),
                amount,
                currency: currency.clone(),
                reason: req.reason.clone(),
                created_at: now,
                updated_at: now,
            };
            let book = s.square_mut();
            fx.emit("refund.created", &r);
            if let Some(p) = book.payments.get_mut(&pid) {
                p.refunded += amount;
                p.refund_ids.push(id.clone());
                p.updated_at = now;
                fx.emit("payment.updated", &*p);
            }
            book.refunds.insert(id.clone(), r.clone());
            Ok(json!({ "refund": wire::refund(&r) }))
        })
    };
    idempotent(&d, "/v2/refunds", key, &body, run).await
}

async fn get_refund(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(d.sim.read(|s| {
        s.square()
            .refunds
            .get(&id)
            .map(|r| json!({ "refund": wire::refund(r) }))
            .ok_or_else(|| not_found(format!("Refund `{id}` not found.")))
    }))
}

async fn list_refunds(State(d): Ctx, Query(q): Query<ListPaymentsQuery>) -> Response {
    answer(d.sim.read(|s| {
        let begin = opt_time("begin_time", &q.begin_time)?;
        let end = opt_time("end_time", &q.end_time)?;
        let mut items: Vec<&Refund> = s
            .square()
            .refunds
            .values()
            .filter(|r| begin.is_none_or(|b| r.created_at >= b))
            .filter(|r| end.is_none_or(|e| r.created_at < e))
            .filter(|r| q.location_id.as_ref().is_none_or(|l| r.location_id == *l))
            .filter(|r| q.status.as_ref().is_none_or(|st| r.status == *st))
            .collect();
        if q.sort_order.as_deref() != Some("ASC") {
            items.reverse();
        }
        let items = items.into_iter().map(wire::refund).collect();
        let (items, cursor) = page(items, q.cursor.as_deref(), q.limit, 100, 100)?;
        Ok(with_cursor(json!({ "refunds": items }), cursor))
    }))
}

// ---- webhook subscriptions ------------------------------------------------

/// `wbhk_…` for a subscription id (`whsub_pos_0001` → `wbhk_pos_0001`), and back.
fn square_sub_id(sub: &str) -> String {
    format!("wbhk_{}", sub.strip_prefix("whsub_").unwrap_or(sub))
}

fn native_sub_id(id: &str) -> Option<String> {
    id.strip_prefix("wbhk_").map(|rest| format!("whsub_{rest}"))
}

fn subscription_json(
    sub: &omnisim_api::common::WebhookSubscription,
    extras: &SubscriptionExtras,
) -> Value {
    let created = extras.created_at.unwrap_or(sub.created_at);
    let mut v = json!({
        "id": square_sub_id(&sub.id),
        "name": extras.name,
        "enabled": sub.status == omnisim_api::common::SubscriptionStatus::Active,
        "event_types": sub.topics,
        "notification_url": sub.url,
        "api_version": extras.api_version.clone().unwrap_or_else(|| super::API_VERSION.to_owned()),
        "created_at": wire::ts(created),
        "updated_at": wire::ts(extras.updated_at.unwrap_or(created)),
    });
    if let Some(secret) = &sub.secret {
        v["signature_key"] = secret.clone().into();
    }
    v
}

#[derive(Debug, Default, Deserialize)]
struct SubscriptionIn {
    name: Option<String>,
    enabled: Option<bool>,
    event_types: Option<Vec<String>>,
    notification_url: Option<String>,
    api_version: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreateSubscriptionReq {
    idempotency_key: Option<String>,
    subscription: Option<SubscriptionIn>,
}

async fn create_subscription(State(d): Ctx, body: Bytes) -> Response {
    let req: CreateSubscriptionReq = match parse(&body) {
        Ok(r) => r,
        Err(e) => return answer(Err(e)),
    };
    let key = req.idempotency_key.clone();
    let run = async {
        let sub = req.subscription.ok_or_else(|| missing("subscription"))?;
        let url = sub
            .notification_url
            .clone()
            .ok_or_else(|| missing("subscription.notification_url"))?;
        let types = sub
            .event_types
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| missing("subscription.event_types"))?;
        if sub.enabled == Some(false) {
            return Err(bad(
                "BAD_REQUEST",
                "omnisim's subscriptions are enabled when made",
                "subscription.enabled",
            ));
        }
        let core = &d.sim.core;
        let made = core
            .webhooks
            .create_for(Wire::Square, core, url, types, EVENT_TYPES)
            .map_err(|e| {
                let field = e
                    .field
                    .clone()
                    .map(|f| {
                        f.replace("topics", "subscription.event_types")
                            .replace("url", "subscription.notification_url")
                    })
                    .unwrap_or_default();
                bad("INVALID_VALUE", e.message, field)
            })?;
        d.sim.commit(|s, fx| {
            let extras = SubscriptionExtras {
                name: sub.name.clone(),
                api_version: sub.api_version.clone(),
                created_at: Some(fx.now()),
                updated_at: Some(fx.now()),
            };
            s.square_mut()
                .subscriptions
                .insert(made.id.clone(), extras.clone());
            Ok(json!({ "subscription": subscription_json(&made, &extras) }))
        })
    };
    idempotent(&d, "/v2/webhooks/subscriptions", key, &body, run).await
}

fn square_subscription(
    d: &Dialect,
    id: &str,
) -> SimResult<(omnisim_api::common::WebhookSubscription, SubscriptionExtras)> {
    let missing = || not_found(format!("Subscription `{id}` not found."));
    let native = native_sub_id(id).ok_or_else(missing)?;
    match d.sim.core.webhooks.get(&native) {
        Some((Wire::Square, sub)) => {
            let extras = d.sim.read(|s| {
                s.square()
                    .subscriptions
                    .get(&native)
                    .cloned()
                    .unwrap_or_default()
            });
            Ok((sub, extras))
        }
        _ => Err(missing()),
    }
}

async fn list_subscriptions(State(d): Ctx) -> Response {
    let subs = d.sim.core.webhooks.list_for(Wire::Square);
    let out: Vec<Value> = d.sim.read(|s| {
        subs.iter()
            .map(|sub| {
                let extras = s
                    .square()
                    .subscriptions
                    .get(&sub.id)
                    .cloned()
                    .unwrap_or_default();
                subscription_json(sub, &extras)
            })
            .collect()
    });
    answer(Ok(json!({ "subscriptions": out })))
}

async fn get_subscription(State(d): Ctx, Path(id): Path<String>) -> Response {
    answer(
        square_subscription(&d, &id)
            .map(|(sub, extras)| json!({ "subscription": subscription_json(&sub, &extras) })),
    )
}

#[derive(Debug, Deserialize)]
struct UpdateSubscriptionReq {
    subscription: Option<SubscriptionIn>,
}

async fn update_subscription(State(d): Ctx, Path(id): Path<String>, body: Bytes) -> Response {
    let run = async {
        let req: UpdateSubscriptionReq = parse(&body)?;
        let (sub, _) = square_subscription(&d, &id)?;
        let patch = req.subscription.unwrap_or_default();
        if patch
            .notification_url
            .as_ref()
            .is_some_and(|u| *u != sub.url)
            || patch.event_types.as_ref().is_some_and(|t| *t != sub.topics)
            || patch.enabled == Some(false)
        {
            return Err(bad(
                "BAD_REQUEST",
                "omnisim changes a subscription's name and api_version; for another URL or \
                 other event types, delete it and create another",
                "subscription",
            ));
        }
        d.sim.commit(|s, fx| {
            let e = s
                .square_mut()
                .subscriptions
                .entry(sub.id.clone())
                .or_default();
            if let Some(n) = patch.name {
                e.name = Some(n);
            }
            if let Some(v) = patch.api_version {
                e.api_version = Some(v);
            }
            e.updated_at = Some(fx.now());
            let extras = e.clone();
            Ok(json!({ "subscription": subscription_json(&sub, &extras) }))
        })
    };
    answer(run.await)
}

async fn delete_subscription(State(d): Ctx, Path(id): Path<String>) -> Response {
    let run = async {
        let (sub, _) = square_subscription(&d, &id)?;
        d.sim.core.webhooks.delete(&sub.id)?;
        d.sim.commit(|s, _| {
            s.square_mut().subscriptions.remove(&sub.id);
            Ok(json!({}))
        })
    };
    answer(run.await)
}

async fn rotate_key(State(d): Ctx, Path(id): Path<String>) -> Response {
    let run = async {
        let (sub, _) = square_subscription(&d, &id)?;
        let core = &d.sim.core;
        let rotated = core.webhooks.rotate(core, &sub.id, 0)?;
        Ok(json!({ "signature_key": rotated.secret }))
    };
    answer(run.await)
}

async fn event_types() -> Response {
    let meta: Vec<Value> = EVENT_TYPES
        .iter()
        .map(|t| {
            json!({
                "event_type": t,
                "api_version_introduced": "2020-01-22",
                "release_status": "PUBLIC",
            })
        })
        .collect();
    answer(Ok(json!({ "event_types": EVENT_TYPES, "metadata": meta })))
}

/// Every route of the dialect.
pub fn routes(d: Arc<Dialect>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v2/locations", get(list_locations))
        .route("/v2/locations/{id}", get(get_location))
        .route("/v2/catalog/batch-upsert", post(batch_upsert))
        .route("/v2/catalog/batch-retrieve", post(batch_retrieve))
        .route("/v2/catalog/object", post(upsert_object))
        .route(
            "/v2/catalog/object/{id}",
            get(get_object).delete(delete_object),
        )
        .route("/v2/catalog/search", post(search_objects))
        .route("/v2/catalog/search-catalog-items", post(search_items))
        .route("/v2/catalog/list", get(list_catalog))
        .route("/v2/catalog/info", get(catalog_info))
        .route("/v2/inventory/changes/batch-create", post(batch_change))
        .route("/v2/inventory/batch-change", post(batch_change))
        .route("/v2/inventory/counts/batch-retrieve", post(batch_counts))
        .route("/v2/inventory/batch-retrieve-counts", post(batch_counts))
        .route("/v2/inventory/changes/batch-retrieve", post(batch_changes))
        .route("/v2/inventory/batch-retrieve-changes", post(batch_changes))
        .route("/v2/inventory/{id}", get(get_count))
        .route("/v2/orders", post(create_order))
        .route("/v2/orders/batch-retrieve", post(batch_orders))
        .route("/v2/orders/search", post(search_orders))
        .route("/v2/orders/{id}", get(get_order).put(update_order))
        .route("/v2/orders/{id}/pay", post(pay_order))
        .route("/v2/payments", post(create_payment).get(list_payments))
        .route("/v2/payments/{id}", get(get_payment))
        .route("/v2/payments/{id}/complete", post(complete_payment))
        .route("/v2/payments/{id}/cancel", post(cancel_payment))
        .route("/v2/refunds", post(create_refund).get(list_refunds))
        .route("/v2/refunds/{id}", get(get_refund))
        .route(
            "/v2/webhooks/subscriptions",
            post(create_subscription).get(list_subscriptions),
        )
        .route(
            "/v2/webhooks/subscriptions/{id}",
            get(get_subscription)
                .put(update_subscription)
                .delete(delete_subscription),
        )
        .route(
            "/v2/webhooks/subscriptions/{id}/signature-key",
            post(rotate_key),
        )
        .route("/v2/webhooks/event-types", get(event_types))
        .route(
            "/v2/gift-cards",
            get(super::gift_cards::list_cards).post(super::gift_cards::create_card),
        )
        .route("/v2/gift-cards/from-gan", post(super::gift_cards::from_gan))
        .route(
            "/v2/gift-cards/activities",
            get(super::gift_cards::list_activities).post(super::gift_cards::create_activity),
        )
        .route("/v2/gift-cards/{id}", get(super::gift_cards::get_card))
        .route("/v2/customers", post(super::customers::create_customer))
        .route(
            "/v2/customers/search",
            post(super::customers::search_customers),
        )
        .route(
            "/v2/customers/{id}",
            get(super::customers::get_customer).put(super::customers::update_customer),
        )
        .with_state(d)
}
