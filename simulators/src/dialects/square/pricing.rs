//! The POS's automatic promotions as Square catalog pricing: each promotion
//! is three catalog objects, a `PRICING_RULE` (its name and window) naming
//! a `DISCOUNT` (`FIXED_PERCENTAGE` or `FIXED_AMOUNT`) and a `PRODUCT_SET`
//! (`product_ids_any` of ITEM_VARIATIONs, or `all_products`). The objects
//! are rendered from the native promotion at every read; the book keeps only
//! which ids make one promotion. An upsert creates or changes the native
//! promotion (`PromotionBook::create` / `update`); a delete disables it.
//! What the native model cannot hold (time periods, customer groups,
//! quantity rules, exclude sets, …) is refused naming the field.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use omnisim_api::promotion::{CreatePromotion, Promotion, PromotionStatus, UpdatePromotion};
use omnisim_api::shop::DiscountKind;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::book::PromotionObjects;
use super::routes::{Incoming, Mappings, MoneyIn, bad, missing, not_found};
use super::wire;
use crate::error::SimResult;
use crate::events::Effects;
use crate::pos::PosState;

/// The catalog object types a promotion is made of.
pub const KINDS: [&str; 3] = ["PRICING_RULE", "DISCOUNT", "PRODUCT_SET"];

/// The currency a fixed amount without one is shown in.
const DEFAULT_CURRENCY: &str = "USD";

/// The three ids of a promotion: the book's (made through the dialect), or
/// derived from its native id.
pub fn ids_of(state: &PosState, promo_id: &str) -> PromotionObjects {
    state
        .square()
        .promotion_objects
        .get(promo_id)
        .cloned()
        .unwrap_or_else(|| PromotionObjects {
            rule: format!("PRICING_RULE_{promo_id}"),
            discount: format!("DISCOUNT_{promo_id}"),
            product_set: format!("PRODUCT_SET_{promo_id}"),
        })
}

/// The promotion an object id belongs to, and the object's type.
pub fn promotion_of(state: &PosState, id: &str) -> Option<(Promotion, &'static str)> {
    let book = state.square();
    let promo_id = match book.promotion_of_object.get(id) {
        Some(p) => p.clone(),
        None => {
            let p = ["PRICING_RULE_", "DISCOUNT_", "PRODUCT_SET_"]
                .iter()
                .find_map(|pre| id.strip_prefix(pre))?;
            if book.promotion_objects.contains_key(p) {
                return None;
            }
            p.to_owned()
        }
    };
    let promo = state.promotions.get(&promo_id).ok()?;
    let ids = ids_of(state, &promo_id);
    let kind = if ids.rule == id {
        "PRICING_RULE"
    } else if ids.discount == id {
        "DISCOUNT"
    } else if ids.product_set == id {
        "PRODUCT_SET"
    } else {
        return None;
    };
    Some((promo, kind))
}

/// The catalog version of a promotion's objects: its last change in
/// milliseconds, times 1000, plus its native version (mod 1000), so that
/// two changes in one millisecond still differ and versions never go back.
pub fn version_of(p: &Promotion) -> i64 {
    p.updated_at.timestamp_millis() * 1000 + (p.version % 1000) as i64
}

fn date_time(t: DateTime<Utc>) -> (String, String) {
    (
        t.format("%Y-%m-%d").to_string(),
        t.format("%H:%M:%S").to_string(),
    )
}

/// One of a promotion's objects, as Square renders it. A disabled
/// promotion's objects are deleted.
pub fn render(state: &PosState, p: &Promotion, kind: &str) -> Value {
    let ids = ids_of(state, &p.id);
    let id = match kind {
        "PRICING_RULE" => &ids.rule,
        "DISCOUNT" => &ids.discount,
        _ => &ids.product_set,
    };
    let mut v = json!({
        "type": kind,
        "id": id,
        "updated_at": wire::ts(p.updated_at),
        "version": version_of(p),
        "is_deleted": p.status == PromotionStatus::Disabled,
        "present_at_all_locations": true,
    });
    match kind {
        "PRICING_RULE" => {
            let (from_date, from_time) = date_time(p.starts_at);
            let mut data = json!({
                "name": p.title,
                "discount_id": ids.discount,
                "match_products_id": ids.product_set,
                "valid_from_date": from_date,
                "valid_from_local_time": from_time,
            });
            if let Some(end) = p.ends_at {
                let (date, time) = date_time(end);
                if time == "00:00:00" {
                    // Ends at midnight: valid through the day before.
                    data["valid_until_date"] = date_time(end - TimeDelta::days(1)).0.into();
                } else {
                    data["valid_until_date"] = date.into();
                    data["valid_until_local_time"] = time.into();
                }
            }
            v["pricing_rule_data"] = data;
        }
        "DISCOUNT" => {
            let mut data = json!({"name": p.title, "modify_tax_basis": "MODIFY_TAX_BASIS"});
            match p.kind {
                DiscountKind::Percentage => {
                    data["discount_type"] = "FIXED_PERCENTAGE".into();
                    data["percentage"] = p.value.normalize().to_string().into();
                }
                DiscountKind::FixedAmount => {
                    let c = p.currency.as_deref().unwrap_or(DEFAULT_CURRENCY);
                    data["discount_type"] = "FIXED_AMOUNT".into();
                    data["amount_money"] = wire::money(p.value, c);
                }
            }
            v["discount_data"] = data;
        }
        _ => {
            let mut data = json!({"name": p.title});
            if p.skus.is_empty() {
                data["all_products"] = true.into();
            } else {
                data["product_ids_any"] = p
                    .skus
                    .iter()
                    .map(|s| Value::from(wire::variation_of_sku(state, s)))
                    .collect();
            }
            v["product_set_data"] = data;
        }
    }
    v
}

/// Every promotion's three objects, rule first.
pub fn all_objects(state: &PosState, include_deleted: bool) -> Vec<Value> {
    state
        .promotions
        .list(None)
        .iter()
        .filter(|p| include_deleted || p.status == PromotionStatus::Active)
        .flat_map(|p| KINDS.iter().map(move |k| render(state, p, k)))
        .collect()
}

/// One promotion object by id.
pub fn object_by_id(state: &PosState, id: &str) -> Option<Value> {
    promotion_of(state, id).map(|(p, kind)| render(state, &p, kind))
}

// ---- writes -------------------------------------------------------------

/// Refuses every field of `data` not in `allowed` that is set (not null,
/// not `false`, not empty), naming it.
fn refuse_others(data: &Value, allowed: &[&str], base: &str, what: &str) -> SimResult<()> {
    for (k, v) in data.as_object().into_iter().flatten() {
        let unset = v.is_null()
            || *v == Value::Bool(false)
            || v.as_array().is_some_and(Vec::is_empty)
            || (k == "modify_tax_basis" && v == "MODIFY_TAX_BASIS")
            || (k == "exclude_strategy" && v == "LEAST_EXPENSIVE")
                && data["exclude_products_id"].is_null();
        if !allowed.contains(&k.as_str()) && !unset {
            return Err(bad(
                "INVALID_VALUE",
                format!("omnisim's POS promotions cannot hold {what} `{k}`"),
                format!("{base}.{k}"),
            ));
        }
    }
    Ok(())
}

/// A DISCOUNT's kind, value and currency.
fn parse_discount(
    inc: &Incoming,
) -> SimResult<(DiscountKind, Decimal, Option<String>, Option<String>)> {
    let base = format!("{}.discount_data", inc.field);
    let data = &inc.object["discount_data"];
    refuse_others(
        data,
        &["name", "discount_type", "percentage", "amount_money"],
        &base,
        "a discount's",
    )?;
    let name = data["name"].as_str().map(str::to_owned);
    match data["discount_type"].as_str() {
        None => Err(missing(&format!("{base}.discount_type"))),
        Some("FIXED_PERCENTAGE") => {
            let f = format!("{base}.percentage");
            let s = data["percentage"].as_str().ok_or_else(|| missing(&f))?;
            let v: Decimal = s.parse().map_err(|_| {
                bad(
                    "INVALID_VALUE",
                    format!("`{s}` is not a decimal percentage"),
                    f.clone(),
                )
            })?;
            if !data["amount_money"].is_null() {
                return Err(bad(
                    "INVALID_VALUE",
                    "a FIXED_PERCENTAGE discount has no `amount_money`",
                    format!("{base}.amount_money"),
                ));
            }
            Ok((DiscountKind::Percentage, v, None, name))
        }
        Some("FIXED_AMOUNT") => {
            let f = format!("{base}.amount_money");
            let m: MoneyIn =
                serde_json::from_value(data["amount_money"].clone()).map_err(|_| missing(&f))?;
            let (v, c) = m.decimal(&f)?;
            if !data["percentage"].is_null() {
                return Err(bad(
                    "INVALID_VALUE",
                    "a FIXED_AMOUNT discount has no `percentage`",
                    format!("{base}.percentage"),
                ));
            }
            Ok((DiscountKind::FixedAmount, v, Some(c), name))
        }
        Some(other) => Err(bad(
            "INVALID_VALUE",
            format!("omnisim's POS promotions are FIXED_PERCENTAGE or FIXED_AMOUNT, not `{other}`"),
            format!("{base}.discount_type"),
        )),
    }
}

/// A PRODUCT_SET's SKUs (empty: all products). Variations made in the same
/// batch are found by their `sku`; an ITEM stands for its variations.
fn parse_product_set(s: &PosState, inc: &Incoming, batch: &[Incoming]) -> SimResult<Vec<String>> {
    let base = format!("{}.product_set_data", inc.field);
    let data = &inc.object["product_set_data"];
    refuse_others(
        data,
        &["name", "product_ids_any", "all_products"],
        &base,
        "a product set's",
    )?;
    let ids: Vec<&str> = data["product_ids_any"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let all = data["all_products"] == true;
    if all && !ids.is_empty() {
        return Err(bad(
            "INVALID_VALUE",
            "only one of `product_ids_any` and `all_products` can be set",
            format!("{base}.all_products"),
        ));
    }
    if all {
        return Ok(Vec::new());
    }
    if ids.is_empty() {
        return Err(missing(&format!("{base}.product_ids_any")));
    }
    let mut skus = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let f = format!("{base}.product_ids_any[{i}]");
        let in_batch = batch
            .iter()
            .find(|b| b.kind == "ITEM_VARIATION" && b.client_id == *id)
            .map(|b| {
                b.object["item_variation_data"]["sku"]
                    .as_str()
                    .filter(|x| !x.is_empty())
                    .unwrap_or(&b.client_id)
                    .to_owned()
            });
        if let Some(sku) = in_batch.or_else(|| wire::sku_of_variation(s, id)) {
            skus.push(sku);
            continue;
        }
        // An ITEM: its variations.
        let vars: Vec<String> = match wire::object_by_id(s, id) {
            Some(o) if o["type"] == "ITEM" && o["is_deleted"] != true => {
                o["item_data"]["variations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v["item_variation_data"]["sku"].as_str().map(str::to_owned))
                    .collect()
            }
            _ => Vec::new(),
        };
        if vars.is_empty() {
            return Err(bad(
                "INVALID_VALUE",
                format!("`{id}` is not an ITEM_VARIATION or ITEM in the catalog"),
                f,
            ));
        }
        skus.extend(vars);
    }
    Ok(skus)
}

fn parse_date(field: &str, v: &Value) -> SimResult<Option<NaiveDate>> {
    let Some(s) = v.as_str() else {
        return Ok(None);
    };
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            bad(
                "INVALID_VALUE",
                format!("`{s}` is not a date (YYYY-MM-DD)"),
                field,
            )
        })
}

fn parse_local(field: &str, v: &Value) -> SimResult<Option<NaiveTime>> {
    let Some(s) = v.as_str() else {
        return Ok(None);
    };
    let head = s.split('.').next().unwrap_or(s);
    NaiveTime::parse_from_str(head, "%H:%M:%S")
        .map(|t| Some(t.with_nanosecond(0).unwrap_or(t)))
        .map_err(|_| {
            bad(
                "INVALID_VALUE",
                format!("`{s}` is not a local time (HH:MM:SS)"),
                field,
            )
        })
}

/// What a PRICING_RULE says: its name, start and end (UTC, the locations'
/// time zone). `valid_until_date` alone is valid through that day.
struct RuleData {
    name: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    discount_id: Option<String>,
    product_set_id: Option<String>,
}

fn parse_rule(inc: &Incoming) -> SimResult<RuleData> {
    let base = format!("{}.pricing_rule_data", inc.field);
    let data = &inc.object["pricing_rule_data"];
    refuse_others(
        data,
        &[
            "name",
            "discount_id",
            "match_products_id",
            "valid_from_date",
            "valid_from_local_time",
            "valid_until_date",
            "valid_until_local_time",
        ],
        &base,
        "a pricing rule's",
    )?;
    let f = |k: &str| format!("{base}.{k}");
    let from_date = parse_date(&f("valid_from_date"), &data["valid_from_date"])?;
    let from_time = parse_local(&f("valid_from_local_time"), &data["valid_from_local_time"])?;
    let until_date = parse_date(&f("valid_until_date"), &data["valid_until_date"])?;
    let until_time = parse_local(
        &f("valid_until_local_time"),
        &data["valid_until_local_time"],
    )?;
    if from_date.is_none() && from_time.is_some() {
        return Err(missing(&f("valid_from_date")));
    }
    if until_date.is_none() && until_time.is_some() {
        return Err(missing(&f("valid_until_date")));
    }
    let starts_at = from_date.map(|d| d.and_time(from_time.unwrap_or(NaiveTime::MIN)).and_utc());
    let ends_at = until_date.map(|d| match until_time {
        Some(t) => d.and_time(t).and_utc(),
        None => (d + TimeDelta::days(1)).and_time(NaiveTime::MIN).and_utc(),
    });
    Ok(RuleData {
        name: data["name"].as_str().map(str::to_owned),
        starts_at,
        ends_at,
        discount_id: data["discount_id"].as_str().map(str::to_owned),
        product_set_id: data["match_products_id"].as_str().map(str::to_owned),
    })
}

/// A native promotion error, with its field named as Square's.
fn square_field(
    e: crate::error::SimError,
    rule: &Incoming,
    discount: Option<&str>,
) -> crate::error::SimError {
    let rule_base = format!("{}.pricing_rule_data", rule.field);
    let field = match e.field.as_deref() {
        Some("title") => format!("{rule_base}.name"),
        Some("ends_at") => format!("{rule_base}.valid_until_date"),
        Some("starts_at") => format!("{rule_base}.valid_from_date"),
        Some("value") | Some("currency") => discount.map_or_else(
            || format!("{rule_base}.discount_id"),
            |d| format!("{d}.discount_data"),
        ),
        Some(f) if f.starts_with("skus") => format!("{rule_base}.match_products_id"),
        _ => return e,
    };
    let code = if e.code == "parameter_invalid" {
        "INVALID_VALUE"
    } else {
        e.code
    };
    bad(code, e.message, field)
}

/// One promotion write, planned.
pub enum Write {
    Create {
        req: CreatePromotion,
        rule: String,
        discount: String,
        product_set: String,
        /// Generic catalog objects adopted into the promotion.
        adopted: Vec<String>,
    },
    Update {
        id: String,
        req: UpdatePromotion,
    },
}

fn check_version(inc: &Incoming, p: &Promotion) -> SimResult<()> {
    if let Some(given) = inc.object["version"].as_i64()
        && given != version_of(p)
    {
        return Err(bad(
            "VERSION_MISMATCH",
            format!(
                "Object version does not match for object: {} (given {given}, current {})",
                inc.client_id,
                version_of(p)
            ),
            format!("{}.version", inc.field),
        ));
    }
    if p.status == PromotionStatus::Disabled {
        return Err(
            not_found(format!("Object with ID `{}` not found.", inc.client_id))
                .field(format!("{}.id", inc.field)),
        );
    }
    Ok(())
}

/// Whether an upsert's object is a promotion's: a PRICING_RULE, or a
/// DISCOUNT or PRODUCT_SET that a PRICING_RULE of the batch names or that
/// belongs to a promotion already. Other DISCOUNTs and PRODUCT_SETs are
/// plain catalog objects, stored as given.
pub fn is_promotion_object(s: &PosState, inc: &Incoming, batch: &[Incoming]) -> bool {
    match inc.kind.as_str() {
        "PRICING_RULE" => true,
        "DISCOUNT" | "PRODUCT_SET" => {
            let key = if inc.kind == "DISCOUNT" {
                "discount_id"
            } else {
                "match_products_id"
            };
            promotion_of(s, &inc.client_id).is_some()
                || batch.iter().any(|b| {
                    b.kind == "PRICING_RULE"
                        && b.object["pricing_rule_data"][key].as_str() == Some(&inc.client_id)
                })
        }
        _ => false,
    }
}

/// Plans the promotion writes of `promo` (the promotion objects of an
/// upsert; `batch` is the whole upsert), checking everything, and tries
/// them on a copy of the promotions so that nothing is written unless all
/// of them pass.
pub fn plan(
    s: &PosState,
    now: DateTime<Utc>,
    promo: &[Incoming],
    batch: &[Incoming],
) -> SimResult<Vec<Write>> {
    let find = |id: &str, kind: &str| promo.iter().find(|i| i.kind == kind && i.client_id == id);
    let mut writes = Vec::new();
    let mut touched: Vec<String> = Vec::new();
    for inc in promo.iter().filter(|i| i.kind == "PRICING_RULE") {
        let rule = parse_rule(inc)?;
        let base = format!("{}.pricing_rule_data", inc.field);
        if inc.client_id.starts_with('#') {
            let did = rule
                .discount_id
                .clone()
                .ok_or_else(|| missing(&format!("{base}.discount_id")))?;
            let pid = rule
                .product_set_id
                .clone()
                .ok_or_else(|| missing(&format!("{base}.match_products_id")))?;
            for (id, key) in [(&did, "discount_id"), (&pid, "match_products_id")] {
                if touched.contains(id) {
                    return Err(bad(
                        "INVALID_VALUE",
                        format!("`{id}` is named by another pricing rule of this request"),
                        format!("{base}.{key}"),
                    ));
                }
            }
            let mut adopted = Vec::new();
            let stored = |id: &str, kind: &str| -> Option<Incoming> {
                let e = s.square().catalog.get(id)?;
                (e.kind == kind && !e.deleted).then(|| Incoming {
                    client_id: id.to_owned(),
                    kind: kind.to_owned(),
                    object: e.object.clone(),
                    parent: None,
                    field: format!(
                        "{base}.{}",
                        if kind == "DISCOUNT" {
                            "discount_id"
                        } else {
                            "match_products_id"
                        }
                    ),
                })
            };
            let d_stored;
            let d = match find(&did, "DISCOUNT") {
                Some(d)
                    if d.client_id.starts_with('#') || promotion_of(s, &d.client_id).is_none() =>
                {
                    d
                }
                Some(_) | None => match stored(&did, "DISCOUNT") {
                    Some(d) => {
                        adopted.push(did.clone());
                        d_stored = d;
                        &d_stored
                    }
                    None => {
                        return Err(bad(
                            "INVALID_VALUE",
                            format!(
                                "`{did}` is not a new DISCOUNT of this request, nor a DISCOUNT of no other pricing rule"
                            ),
                            format!("{base}.discount_id"),
                        ));
                    }
                },
            };
            let p_stored;
            let p = match find(&pid, "PRODUCT_SET") {
                Some(p)
                    if p.client_id.starts_with('#') || promotion_of(s, &p.client_id).is_none() =>
                {
                    p
                }
                Some(_) | None => match stored(&pid, "PRODUCT_SET") {
                    Some(p) => {
                        adopted.push(pid.clone());
                        p_stored = p;
                        &p_stored
                    }
                    None => {
                        return Err(bad(
                            "INVALID_VALUE",
                            format!(
                                "`{pid}` is not a new PRODUCT_SET of this request, nor a PRODUCT_SET of no other pricing rule"
                            ),
                            format!("{base}.match_products_id"),
                        ));
                    }
                },
            };
            let (kind, value, currency, dname) = parse_discount(d)?;
            let skus = parse_product_set(s, p, batch)?;
            if kind == DiscountKind::FixedAmount && skus.is_empty() {
                return Err(bad(
                    "INVALID_VALUE",
                    "omnisim's POS takes a fixed amount off each unit of named products; \
                     with `all_products` it would take it off the whole order once, which \
                     Square's pricing rules do not: name the variations",
                    format!("{}.product_set_data.all_products", p.field),
                ));
            }
            let title = rule
                .name
                .clone()
                .or(dname)
                .unwrap_or_else(|| "Pricing rule".to_owned());
            let req = CreatePromotion {
                title,
                kind,
                value,
                currency,
                skus,
                starts_at: rule.starts_at,
                ends_at: rule.ends_at,
                status: PromotionStatus::Active,
                external_ref: None,
            };
            touched.extend([did.clone(), pid.clone()]);
            writes.push((
                inc,
                Some(d.field.clone()),
                Write::Create {
                    req,
                    rule: inc.client_id.clone(),
                    discount: did,
                    product_set: pid,
                    adopted,
                },
            ));
        } else {
            let (p, kind) = promotion_of(s, &inc.client_id).ok_or_else(|| {
                not_found(format!("Object with ID `{}` not found.", inc.client_id))
                    .field(format!("{}.id", inc.field))
            })?;
            if kind != "PRICING_RULE" {
                return Err(bad(
                    "INVALID_VALUE",
                    format!("Object `{}` is a {kind}, not a PRICING_RULE", inc.client_id),
                    format!("{}.type", inc.field),
                ));
            }
            check_version(inc, &p)?;
            let ids = ids_of(s, &p.id);
            if rule
                .discount_id
                .as_deref()
                .is_some_and(|d| d != ids.discount)
            {
                return Err(bad(
                    "INVALID_VALUE",
                    format!(
                        "this pricing rule's discount is `{}` and cannot change",
                        ids.discount
                    ),
                    format!("{base}.discount_id"),
                ));
            }
            if rule
                .product_set_id
                .as_deref()
                .is_some_and(|d| d != ids.product_set)
            {
                return Err(bad(
                    "INVALID_VALUE",
                    format!(
                        "this pricing rule's product set is `{}` and cannot change",
                        ids.product_set
                    ),
                    format!("{base}.match_products_id"),
                ));
            }
            if rule.ends_at.is_none() && p.ends_at.is_some() {
                return Err(bad(
                    "INVALID_VALUE",
                    "omnisim's POS promotions cannot lose their end once set: give \
                     `valid_until_date` (or delete the rule)",
                    format!("{base}.valid_until_date"),
                ));
            }
            let mut req = UpdatePromotion {
                title: rule.name.clone(),
                starts_at: rule.starts_at,
                ends_at: rule.ends_at,
                ..UpdatePromotion::default()
            };
            let mut dfield = None;
            if let Some(d) = find(&ids.discount, "DISCOUNT") {
                check_version(d, &p)?;
                let (kind, value, currency, _) = parse_discount(d)?;
                if kind != p.kind || (currency.is_some() && currency != p.currency) {
                    return Err(bad(
                        "INVALID_VALUE",
                        "omnisim's POS promotions keep their discount type and currency",
                        format!("{}.discount_data.discount_type", d.field),
                    ));
                }
                req.value = Some(value);
                dfield = Some(d.field.clone());
            }
            if let Some(ps) = find(&ids.product_set, "PRODUCT_SET") {
                check_version(ps, &p)?;
                req.skus = Some(parse_product_set(s, ps, batch)?);
            }
            touched.extend([ids.discount.clone(), ids.product_set.clone()]);
            writes.push((
                inc,
                dfield,
                Write::Update {
                    id: p.id.clone(),
                    req,
                },
            ));
        }
    }
    // DISCOUNTs and PRODUCT_SETs of promotions upserted without their rule.
    for inc in promo.iter().filter(|i| i.kind != "PRICING_RULE") {
        if touched.contains(&inc.client_id) {
            continue;
        }
        let Some((p, kind)) = promotion_of(s, &inc.client_id) else {
            continue;
        };
        if kind != inc.kind {
            return Err(bad(
                "INVALID_VALUE",
                format!("Object `{}` is a {kind}, not a {}", inc.client_id, inc.kind),
                format!("{}.type", inc.field),
            ));
        }
        check_version(inc, &p)?;
        let mut req = UpdatePromotion::default();
        let mut dfield = None;
        if kind == "DISCOUNT" {
            let (k, value, currency, _) = parse_discount(inc)?;
            if k != p.kind || (currency.is_some() && currency != p.currency) {
                return Err(bad(
                    "INVALID_VALUE",
                    "omnisim's POS promotions keep their discount type and currency",
                    format!("{}.discount_data.discount_type", inc.field),
                ));
            }
            req.value = Some(value);
            dfield = Some(inc.field.clone());
        } else {
            req.skus = Some(parse_product_set(s, inc, batch)?);
        }
        writes.push((
            inc,
            dfield,
            Write::Update {
                id: p.id.clone(),
                req,
            },
        ));
    }
    // Every write, tried on a copy first.
    let mut trial = s.promotions.clone();
    let mut scratch = Effects::new(now);
    for (inc, dfield, w) in &writes {
        let r = match w {
            Write::Create { req, .. } => trial.create(&mut scratch, req.clone()).map(|_| ()),
            Write::Update { id, req } => trial.update(&mut scratch, id, req.clone()).map(|_| ()),
        };
        r.map_err(|e| square_field(e, inc, dfield.as_deref()))?;
    }
    Ok(writes.into_iter().map(|(_, _, w)| w).collect())
}

/// Writes what [`plan`] planned, answering the ids written and adding the
/// temporary ids' mappings.
pub fn apply(
    s: &mut PosState,
    fx: &mut Effects,
    writes: Vec<Write>,
    mappings: &mut Mappings,
) -> SimResult<Vec<String>> {
    let mut written = Vec::new();
    for w in writes {
        match w {
            Write::Create {
                req,
                rule,
                discount,
                product_set,
                adopted,
            } => {
                let p = s.promotions.create(fx, req)?;
                let mut real = |client: &str, s: &mut PosState| -> String {
                    if !client.starts_with('#') {
                        return client.to_owned();
                    }
                    if let Some((_, r)) = mappings.iter().find(|(c, _)| c == client) {
                        return r.clone();
                    }
                    let r = s.square_mut().fresh_id("");
                    mappings.push((client.to_owned(), r.clone()));
                    r
                };
                let objects = PromotionObjects {
                    rule: real(&rule, s),
                    discount: real(&discount, s),
                    product_set: real(&product_set, s),
                };
                let book = s.square_mut();
                for id in adopted {
                    book.catalog.shift_remove(&id);
                }
                for id in [&objects.rule, &objects.discount, &objects.product_set] {
                    book.promotion_of_object.insert(id.clone(), p.id.clone());
                }
                written.extend([
                    objects.rule.clone(),
                    objects.discount.clone(),
                    objects.product_set.clone(),
                ]);
                book.promotion_objects.insert(p.id.clone(), objects);
                book.catalog_updated_at = Some(fx.now());
            }
            Write::Update { id, req } => {
                let p = s.promotions.update(fx, &id, req)?;
                let ids = ids_of(s, &p.id);
                written.extend([ids.rule, ids.discount, ids.product_set]);
                s.square_mut().catalog_updated_at = Some(fx.now());
            }
        }
    }
    Ok(written)
}

/// `DELETE /v2/catalog/object/{id}` of a promotion's object: the promotion
/// is disabled (it stops pricing sales at once) and its three objects read
/// as deleted. Answers the deleted ids, or `None` when `id` is no
/// promotion's.
pub fn delete(s: &mut PosState, fx: &mut Effects, id: &str) -> Option<SimResult<Vec<String>>> {
    let (p, _) = promotion_of(s, id)?;
    if p.status == PromotionStatus::Disabled {
        return Some(Err(not_found(format!("Object with ID `{id}` not found."))));
    }
    let req = UpdatePromotion {
        status: Some(PromotionStatus::Disabled),
        ..UpdatePromotion::default()
    };
    Some(s.promotions.update(fx, &p.id, req).map(|p| {
        s.square_mut().catalog_updated_at = Some(fx.now());
        let ids = ids_of(s, &p.id);
        vec![ids.rule, ids.discount, ids.product_set]
    }))
}
