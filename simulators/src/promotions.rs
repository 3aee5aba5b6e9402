//! Automatic promotions, for the platforms that price sales (shop and pos):
//! the same rules on both, each platform with its own id prefix and event
//! names (`promotions/create` / `promotions/update` on the shop;
//! `promotion.created` / `promotion.updated` on the POS).
//!
//! [`PromotionBook`] validates first and mutates after: a title of 1 to 255
//! characters, a percentage over 0 and at most 100 or a fixed amount over 0
//! (its `currency`, when given, an ISO code whose decimals the amount fits),
//! at most 100 SKUs each shaped like a SKU, an end after the start, and an
//! `external_ref` no other promotion on the platform carries (409
//! `promotion_exists`). SKUs are not checked against the catalog: a SKU the
//! platform does not sell is never discounted. What a promotion takes off a
//! sale is [`omnisim_api::promotion`]'s rule, which checkout and the
//! register both call through [`PromotionBook::price`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use chrono::{DateTime, Utc};
use omnisim_api::ErrorBody;
use omnisim_api::common::{currency_scale, is_currency_code};
use omnisim_api::promotion::{
    CreatePromotion, PricedLine, Promotion, PromotionList, SKUS_MAX, TITLE_LEN_MAX,
    UpdatePromotion, best,
};
use omnisim_api::shop::DiscountKind;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::{Platform, Simulator};
use crate::error::{SimError, SimResult};
use crate::events::Effects;
use crate::extract::{Json, Query};

/// The most promotions one platform keeps.
pub const PROMOTIONS_MAX: usize = 10_000;
/// The largest fixed amount a promotion takes off.
const AMOUNT_MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// The promotions of one platform, by id.
#[derive(Clone, Debug)]
pub struct PromotionBook {
    prefix: &'static str,
    created: &'static str,
    updated: &'static str,
    by_id: BTreeMap<String, Promotion>,
    next: u64,
}

fn check_title(title: &str) -> SimResult<()> {
    let n = title.trim().chars().count();
    if n == 0 || n > TITLE_LEN_MAX {
        return Err(SimError::bad_value(
            "title",
            format!("`title` is 1 to {TITLE_LEN_MAX} characters"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(SimError::bad_value(
            "title",
            "`title` may not hold control characters",
        ));
    }
    Ok(())
}

fn check_value(kind: DiscountKind, value: Decimal, currency: Option<&str>) -> SimResult<()> {
    match kind {
        DiscountKind::Percentage => {
            if value <= Decimal::ZERO || value > Decimal::ONE_HUNDRED {
                return Err(SimError::bad_value(
                    "value",
                    "a percentage is over 0 and at most 100",
                ));
            }
            if value.normalize().scale() > 2 {
                return Err(SimError::bad_value(
                    "value",
                    "a percentage has at most 2 decimals",
                ));
            }
            if currency.is_some() {
                return Err(SimError::bad_value(
                    "currency",
                    "only a fixed amount has a currency",
                ));
            }
        }
        DiscountKind::FixedAmount => {
            if value <= Decimal::ZERO || value > AMOUNT_MAX {
                return Err(SimError::bad_value(
                    "value",
                    format!("a fixed amount is over 0 and at most {AMOUNT_MAX}"),
                ));
            }
            if let Some(c) = currency
                && !is_currency_code(c)
            {
                return Err(SimError::bad_value(
                    "currency",
                    format!("`{c}` is not a three-letter ISO 4217 code like `USD`"),
                ));
            }
            let scale = currency.map_or(2, currency_scale);
            if value.normalize().scale() > scale {
                return Err(SimError::bad_value(
                    "value",
                    format!("{value} has more than {scale} decimals"),
                ));
            }
        }
    }
    Ok(())
}

fn check_skus(skus: &[String]) -> SimResult<()> {
    if skus.len() > SKUS_MAX {
        return Err(SimError::bad_value(
            "skus",
            format!("a promotion names at most {SKUS_MAX} SKUs"),
        ));
    }
    for (i, s) in skus.iter().enumerate() {
        let ok = (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(SimError::bad_value(
                format!("skus[{i}]"),
                format!("`{s}` is not a SKU (1 to 64 visible ASCII characters)"),
            ));
        }
    }
    Ok(())
}

fn check_window(starts_at: DateTime<Utc>, ends_at: Option<DateTime<Utc>>) -> SimResult<()> {
    if ends_at.is_some_and(|e| e <= starts_at) {
        return Err(SimError::bad_value(
            "ends_at",
            "a promotion ends after it starts",
        ));
    }
    Ok(())
}

impl PromotionBook {
    /// An empty book whose ids read `<prefix>_000001` and whose events are
    /// `created` and `updated`.
    pub fn new(prefix: &'static str, created: &'static str, updated: &'static str) -> Self {
        PromotionBook {
            prefix,
            created,
            updated,
            by_id: BTreeMap::new(),
            next: 0,
        }
    }

    fn check_ref(&self, external_ref: Option<&str>) -> SimResult<()> {
        let Some(r) = external_ref else {
            return Ok(());
        };
        if r.is_empty() || r.len() > 255 || r.chars().any(char::is_control) {
            return Err(SimError::bad_value(
                "external_ref",
                "`external_ref` is 1 to 255 characters, no control characters",
            ));
        }
        if let Some(p) = self
            .by_id
            .values()
            .find(|p| p.external_ref.as_deref() == Some(r))
        {
            return Err(SimError::conflict(
                "promotion_exists",
                format!("promotion `{}` already carries external_ref `{r}`", p.id),
            )
            .field("external_ref"));
        }
        Ok(())
    }

    /// `POST /v1/promotions`: emits the platform's created event.
    pub fn create(&mut self, fx: &mut Effects, req: CreatePromotion) -> SimResult<Promotion> {
        check_title(&req.title)?;
        check_value(req.kind, req.value, req.currency.as_deref())?;
        check_skus(&req.skus)?;
        let now = fx.now();
        let starts_at = req.starts_at.unwrap_or(now);
        check_window(starts_at, req.ends_at)?;
        self.check_ref(req.external_ref.as_deref())?;
        if self.by_id.len() >= PROMOTIONS_MAX {
            return Err(SimError::invalid(
                "too_many_promotions",
                format!("a platform keeps at most {PROMOTIONS_MAX} promotions"),
            ));
        }
        self.next += 1;
        let mut skus = req.skus;
        skus.sort();
        skus.dedup();
        let promotion = Promotion {
            id: format!("{}_{:06}", self.prefix, self.next),
            title: req.title.trim().to_owned(),
            kind: req.kind,
            value: req.value.normalize(),
            currency: req.currency,
            skus,
            starts_at,
            ends_at: req.ends_at,
            status: req.status,
            external_ref: req.external_ref,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.by_id.insert(promotion.id.clone(), promotion.clone());
        fx.emit(self.created, &promotion);
        Ok(promotion)
    }

    /// `PATCH /v1/promotions/{id}`: emits the platform's updated event when
    /// something changed.
    pub fn update(
        &mut self,
        fx: &mut Effects,
        id: &str,
        req: UpdatePromotion,
    ) -> SimResult<Promotion> {
        let old = self.get(id)?;
        let mut new = old.clone();
        if let Some(t) = &req.title {
            check_title(t)?;
            new.title = t.trim().to_owned();
        }
        if let Some(v) = req.value {
            check_value(new.kind, v, new.currency.as_deref())?;
            new.value = v.normalize();
        }
        if let Some(skus) = req.skus {
            check_skus(&skus)?;
            let mut skus = skus;
            skus.sort();
            skus.dedup();
            new.skus = skus;
        }
        if let Some(t) = req.starts_at {
            new.starts_at = t;
        }
        if let Some(t) = req.ends_at {
            new.ends_at = Some(t);
        }
        if let Some(s) = req.status {
            new.status = s;
        }
        check_window(new.starts_at, new.ends_at)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = fx.now();
        new.version += 1;
        self.by_id.insert(new.id.clone(), new.clone());
        fx.emit(self.updated, &new);
        Ok(new)
    }

    /// `GET /v1/promotions/{id}`.
    pub fn get(&self, id: &str) -> SimResult<Promotion> {
        self.by_id
            .get(id)
            .cloned()
            .ok_or_else(|| SimError::not_found("unknown_promotion", format!("no promotion `{id}`")))
    }

    /// `GET /v1/promotions?external_ref=`: by id.
    pub fn list(&self, external_ref: Option<&str>) -> Vec<Promotion> {
        self.by_id
            .values()
            .filter(|p| external_ref.is_none_or(|r| p.external_ref.as_deref() == Some(r)))
            .cloned()
            .collect()
    }

    /// The promotion that prices a sale at `t` and what it takes off each
    /// line, if one runs and takes something off.
    pub fn price(
        &self,
        t: DateTime<Utc>,
        lines: &[PricedLine<'_>],
        currency: &str,
    ) -> Option<(String, Vec<Decimal>)> {
        best(self.by_id.values(), t, lines, currency).map(|(p, d)| (p.id.clone(), d))
    }
}

// ------------------------------------------------------------------ routes

/// A platform whose state keeps a [`PromotionBook`] (the shop and the POS).
pub trait KeepsPromotions {
    /// The promotions.
    fn promotions(&self) -> &PromotionBook;
    /// The promotions, to change.
    fn promotions_mut(&mut self) -> &mut PromotionBook;
}

/// What the promotion routes reach, behind a trait so that one set of
/// handlers serves the shop and the POS alike.
pub trait PromotionDesk: Send + Sync {
    /// Makes a promotion.
    fn create(&self, req: CreatePromotion) -> SimResult<Promotion>;
    /// The promotions, by id.
    fn list(&self, external_ref: Option<&str>) -> SimResult<Vec<Promotion>>;
    /// One promotion.
    fn get(&self, id: &str) -> SimResult<Promotion>;
    /// Changes the fields given.
    fn update(&self, id: &str, req: UpdatePromotion) -> SimResult<Promotion>;
}

impl<S: Platform + KeepsPromotions> PromotionDesk for Simulator<S> {
    fn create(&self, req: CreatePromotion) -> SimResult<Promotion> {
        self.commit(|s, fx| s.promotions_mut().create(fx, req))
    }
    fn list(&self, external_ref: Option<&str>) -> SimResult<Vec<Promotion>> {
        self.read(|s| Ok(s.promotions().list(external_ref)))
    }
    fn get(&self, id: &str) -> SimResult<Promotion> {
        self.read(|s| s.promotions().get(id))
    }
    fn update(&self, id: &str, req: UpdatePromotion) -> SimResult<Promotion> {
        self.commit(|s, fx| s.promotions_mut().update(fx, id, req))
    }
}

/// The state of the promotion routes; each platform's router state gives
/// it through `FromRef`.
pub type Desk = Arc<dyn PromotionDesk>;

/// The four promotion routes, for a platform's own router.
pub(crate) fn routes<C>() -> OpenApiRouter<C>
where
    C: Clone + Send + Sync + 'static,
    Desk: FromRef<C>,
{
    OpenApiRouter::new()
        .routes(routes!(create_promotion, list_promotions))
        .routes(routes!(get_promotion, update_promotion))
}

/// The filter of the promotion listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PromotionQuery {
    /// Only the promotion carrying this reference.
    #[serde(default)]
    external_ref: Option<String>,
}

/// `POST /v1/promotions`: a new automatic promotion (emits
/// `promotions/create` on the shop, `promotion.created` on the POS).
#[utoipa::path(post, path = "/v1/promotions", tag = "promotions", request_body = CreatePromotion,
    responses((status = 200, body = Promotion),
        (status = 400, description = "Malformed JSON or an unknown field", body = ErrorBody),
        (status = 409, description = "`promotion_exists`: another promotion carries this external_ref", body = ErrorBody),
        (status = 422, description = "A bad title, value, currency, SKU or window", body = ErrorBody)))]
async fn create_promotion(
    State(desk): State<Desk>,
    Json(req): Json<CreatePromotion>,
) -> SimResult<axum::Json<Promotion>> {
    desk.create(req).map(axum::Json)
}

/// `GET /v1/promotions?external_ref=`: the promotions, by id.
#[utoipa::path(get, path = "/v1/promotions", tag = "promotions", params(PromotionQuery),
    responses((status = 200, body = PromotionList),
        (status = 400, description = "An unknown filter", body = ErrorBody)))]
async fn list_promotions(
    State(desk): State<Desk>,
    Query(q): Query<PromotionQuery>,
) -> SimResult<axum::Json<PromotionList>> {
    desk.list(q.external_ref.as_deref())
        .map(|data| axum::Json(PromotionList { data }))
}

/// `GET /v1/promotions/{id}`.
#[utoipa::path(get, path = "/v1/promotions/{id}", tag = "promotions",
    params(("id" = String, Path, description = "The promotion id")),
    responses((status = 200, body = Promotion),
        (status = 404, description = "`resource_missing`", body = ErrorBody)))]
async fn get_promotion(
    State(desk): State<Desk>,
    Path(id): Path<String>,
) -> SimResult<axum::Json<Promotion>> {
    desk.get(&id).map(axum::Json)
}

/// `PATCH /v1/promotions/{id}`: change the fields given (to end a promotion
/// now, give `ends_at` now or `status` `disabled`); emits
/// `promotions/update` on the shop, `promotion.updated` on the POS, when
/// something changed.
#[utoipa::path(patch, path = "/v1/promotions/{id}", tag = "promotions", request_body = UpdatePromotion,
    params(("id" = String, Path, description = "The promotion id")),
    responses((status = 200, body = Promotion),
        (status = 400, body = ErrorBody),
        (status = 404, description = "`resource_missing`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_promotion(
    State(desk): State<Desk>,
    Path(id): Path<String>,
    Json(req): Json<UpdatePromotion>,
) -> SimResult<axum::Json<Promotion>> {
    desk.update(&id, req).map(axum::Json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use omnisim_api::promotion::PromotionStatus;
    use rust_decimal_macros::dec;

    fn fx() -> Effects {
        Effects::new(DateTime::<Utc>::UNIX_EPOCH)
    }

    fn spring() -> CreatePromotion {
        CreatePromotion {
            title: "SPRING-20".into(),
            kind: DiscountKind::Percentage,
            value: dec!(20),
            currency: None,
            skus: vec!["SCARF".into()],
            starts_at: None,
            ends_at: Some(DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(8)),
            status: PromotionStatus::Active,
            external_ref: Some("promo_000001".into()),
        }
    }

    fn field(e: SimError) -> Option<String> {
        e.body().error.field.clone()
    }

    #[test]
    fn bad_promotions_are_refused_naming_the_field() {
        let mut book = PromotionBook::new("promo", "promotions/create", "promotions/update");
        let mut f = fx();
        let cases = [
            (
                CreatePromotion {
                    title: " ".into(),
                    ..spring()
                },
                "title",
            ),
            (
                CreatePromotion {
                    value: dec!(100.5),
                    ..spring()
                },
                "value",
            ),
            (
                CreatePromotion {
                    kind: DiscountKind::FixedAmount,
                    value: dec!(1.001),
                    ..spring()
                },
                "value",
            ),
            (
                CreatePromotion {
                    skus: vec!["A B".into()],
                    ..spring()
                },
                "skus[0]",
            ),
            (
                CreatePromotion {
                    ends_at: Some(DateTime::<Utc>::UNIX_EPOCH),
                    ..spring()
                },
                "ends_at",
            ),
            (
                CreatePromotion {
                    currency: Some("usd".into()),
                    kind: DiscountKind::FixedAmount,
                    value: dec!(5),
                    ..spring()
                },
                "currency",
            ),
        ];
        for (req, want) in cases {
            assert_eq!(
                field(book.create(&mut f, req).unwrap_err()).as_deref(),
                Some(want)
            );
        }
        assert!(f.events().is_empty(), "nothing made, nothing emitted");
        let p = book.create(&mut f, spring()).unwrap();
        assert_eq!(p.id, "promo_000001");
        let again = book.create(&mut f, spring()).unwrap_err();
        assert_eq!(again.body().error.code, "promotion_exists");
    }

    #[test]
    fn an_edit_of_the_end_changes_what_it_prices() {
        let mut book = PromotionBook::new("prm", "promotion.created", "promotion.updated");
        let mut f = fx();
        let p = book.create(&mut f, spring()).unwrap();
        let lines = [PricedLine {
            sku: "SCARF",
            price: dec!(40),
            quantity: 1,
        }];
        let at = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(2);
        assert_eq!(
            book.price(at, &lines, "USD"),
            Some((p.id.clone(), vec![dec!(8)]))
        );
        let ended = book
            .update(
                &mut f,
                &p.id,
                UpdatePromotion {
                    ends_at: Some(DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(1)),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(ended.version, 2);
        assert_eq!(book.price(at, &lines, "USD"), None);
        let same = book
            .update(
                &mut f,
                &p.id,
                UpdatePromotion {
                    ends_at: ended.ends_at,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(same.version, 2, "no change, no new version");
        assert_eq!(f.events().len(), 2);
    }
}
