//! Automatic promotions, the same shape on the shop and the POS: money off
//! that applies by itself while it runs, without a code, online at checkout
//! and at the register.
//!
//! A promotion is a percentage or a fixed amount, off some SKUs or off the
//! whole order, between `starts_at` and `ends_at` (no end: until disabled).
//! It is *running* at `t` when it is active and `starts_at ≤ t < ends_at`
//! ([`Promotion::running_at`]).
//!
//! How much it takes off ([`Promotion::line_discounts`]):
//! - a percentage off SKUs takes `round_money(subtotal × v / 100)` off each
//!   line of those SKUs; off the order, off every line;
//! - a fixed amount off SKUs takes `v` off each unit of those SKUs (never
//!   below zero); off the order, `v` off the order, split across its lines
//!   by subtotal as a discount code's is ([`crate::common::split_fixed`]);
//! - a fixed amount with a `currency` applies only to sales in it.
//!
//! One promotion applies to a sale: of those running, the one that takes
//! the most off; on a tie the one made first ([`best`]). The platforms and
//! the checkers price by these same functions.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client::ApiClient;
use crate::common::{round_money, split_fixed};
use crate::error::ApiError;
use crate::shop::DiscountKind;

/// The longest promotion title, in characters.
pub const TITLE_LEN_MAX: usize = 255;
/// The most SKUs one promotion names.
pub const SKUS_MAX: usize = 100;

/// Whether a promotion may run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionStatus {
    /// Runs between its start and its end.
    #[default]
    Active,
    /// Switched off: runs never, whatever its window says.
    Disabled,
}

/// `POST /v1/promotions`: a new automatic promotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePromotion {
    /// What the merchant calls it (`SPRING-20`), 1 to 255 characters.
    pub title: String,
    /// Percentage or fixed amount.
    pub kind: DiscountKind,
    /// Percent (over 0, at most 100), or money (over 0).
    #[schema(value_type = String)]
    pub value: Decimal,
    /// For a fixed amount: the only currency it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The SKUs it takes money off; empty (the default): the whole order.
    #[serde(default)]
    pub skus: Vec<String>,
    /// When it starts; now if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends (exclusive); never if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// `active` (the default) or `disabled`.
    #[serde(default)]
    pub status: PromotionStatus,
    /// A caller's reference (a connector's id of the promotion elsewhere);
    /// unique on the platform, 409 `promotion_exists` if taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
}

/// `PATCH /v1/promotions/{id}`: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpdatePromotion {
    /// A new title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A new value (same rules as at creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub value: Option<Decimal>,
    /// New SKUs (empty: the whole order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skus: Option<Vec<String>>,
    /// A new start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// A new end (to end it now, give now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// `active` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<PromotionStatus>,
}

impl UpdatePromotion {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == UpdatePromotion::default()
    }
}

/// An automatic promotion (the data of `promotions/create` and
/// `promotions/update` on the shop, `promotion.created` and
/// `promotion.updated` on the POS).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Promotion {
    /// The platform's id (`promo_000001` on the shop, `prm_000001` on the POS).
    pub id: String,
    /// What the merchant calls it.
    pub title: String,
    /// Percentage or fixed amount.
    pub kind: DiscountKind,
    /// Percent or money.
    #[schema(value_type = String)]
    pub value: Decimal,
    /// For a fixed amount: the only currency it applies to.
    pub currency: Option<String>,
    /// The SKUs it takes money off; empty: the whole order.
    pub skus: Vec<String>,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends (exclusive); never if absent.
    pub ends_at: Option<DateTime<Utc>>,
    /// `active` or `disabled`.
    pub status: PromotionStatus,
    /// The caller's reference, if one was given.
    pub external_ref: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// 1 when made, one more on every change.
    pub version: u64,
}

/// `GET /v1/promotions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PromotionList {
    /// The promotions, by id.
    pub data: Vec<Promotion>,
}

/// One line of a sale, as a promotion prices it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricedLine<'a> {
    /// The SKU.
    pub sku: &'a str,
    /// Unit price before tax.
    pub price: Decimal,
    /// Units.
    pub quantity: i64,
}

impl Promotion {
    /// Whether it runs at `t`: active, started, not ended.
    pub fn running_at(&self, t: DateTime<Utc>) -> bool {
        self.status == PromotionStatus::Active
            && self.starts_at <= t
            && self.ends_at.is_none_or(|end| t < end)
    }

    /// Whether it takes money off `sku` (a whole-order promotion takes it
    /// off every SKU).
    pub fn covers(&self, sku: &str) -> bool {
        self.skus.is_empty() || self.skus.iter().any(|s| s == sku)
    }

    /// What it takes off each line of a sale in `currency` (each at most the
    /// line's subtotal), or `None` when it takes nothing off.
    pub fn line_discounts(&self, lines: &[PricedLine<'_>], currency: &str) -> Option<Vec<Decimal>> {
        if self.currency.as_deref().is_some_and(|c| c != currency) {
            return None;
        }
        let subtotals: Vec<Decimal> = lines
            .iter()
            .map(|l| round_money(l.price * Decimal::from(l.quantity), currency))
            .collect();
        let out: Vec<Decimal> = match (self.kind, self.skus.is_empty()) {
            (DiscountKind::Percentage, _) => lines
                .iter()
                .zip(&subtotals)
                .map(|(l, s)| {
                    if self.covers(l.sku) {
                        round_money(*s * self.value / Decimal::ONE_HUNDRED, currency).min(*s)
                    } else {
                        Decimal::ZERO
                    }
                })
                .collect(),
            (DiscountKind::FixedAmount, false) => lines
                .iter()
                .zip(&subtotals)
                .map(|(l, s)| {
                    if self.covers(l.sku) {
                        let off = round_money(self.value, currency).min(l.price.max(Decimal::ZERO));
                        (off * Decimal::from(l.quantity)).min(*s)
                    } else {
                        Decimal::ZERO
                    }
                })
                .collect(),
            (DiscountKind::FixedAmount, true) => {
                split_fixed(&subtotals, round_money(self.value, currency), currency)
            }
        };
        let out: Vec<Decimal> = out.into_iter().map(|d| d.normalize()).collect();
        (out.iter().sum::<Decimal>() > Decimal::ZERO).then_some(out)
    }

    /// `SPRING-20 (20 % off SCARF)`: the promotion in a merchant's words.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            DiscountKind::Percentage => format!("{} % off", self.value.normalize()),
            DiscountKind::FixedAmount if self.skus.is_empty() => {
                format!("{} off", self.value.normalize())
            }
            DiscountKind::FixedAmount => format!("{} off each", self.value.normalize()),
        };
        let scope = if self.skus.is_empty() {
            "the order".to_owned()
        } else {
            self.skus.join(", ")
        };
        format!("{} ({what} {scope})", self.title)
    }
}

/// The promotion that applies to a sale at `t`: of those running, the one
/// taking the most off; on a tie, the first given. With its line discounts.
pub fn best<'p>(
    promotions: impl IntoIterator<Item = &'p Promotion>,
    t: DateTime<Utc>,
    lines: &[PricedLine<'_>],
    currency: &str,
) -> Option<(&'p Promotion, Vec<Decimal>)> {
    let mut best: Option<(&Promotion, Vec<Decimal>, Decimal)> = None;
    for p in promotions {
        if !p.running_at(t) {
            continue;
        }
        let Some(d) = p.line_discounts(lines, currency) else {
            continue;
        };
        let total: Decimal = d.iter().sum();
        if best.as_ref().is_none_or(|(_, _, b)| total > *b) {
            best = Some((p, d, total));
        }
    }
    best.map(|(p, d, _)| (p, d))
}

/// The `/v1/promotions` routes of one platform (the shop's or the POS's).
#[derive(Clone, Copy, Debug)]
pub struct PromotionClient<'a>(pub &'a ApiClient);

impl PromotionClient<'_> {
    /// `POST /v1/promotions`.
    pub async fn create(
        self,
        body: &CreatePromotion,
        key: Option<&str>,
    ) -> Result<Promotion, ApiError> {
        self.0.post("/v1/promotions", body, key).await
    }
    /// `GET /v1/promotions/{id}`.
    pub async fn get(self, id: &str) -> Result<Promotion, ApiError> {
        self.0.get(&format!("/v1/promotions/{id}")).await
    }
    /// `PATCH /v1/promotions/{id}`.
    pub async fn update(self, id: &str, body: &UpdatePromotion) -> Result<Promotion, ApiError> {
        self.0
            .send(
                http::Method::PATCH,
                &format!("/v1/promotions/{id}"),
                Some(body),
                None,
            )
            .await
    }
    /// `GET /v1/promotions`, or with `external_ref`, the one carrying it.
    pub async fn list(self, external_ref: Option<&str>) -> Result<PromotionList, ApiError> {
        match external_ref {
            Some(r) => {
                self.0
                    .get(&format!(
                        "/v1/promotions?external_ref={}",
                        crate::shop::encode(r)
                    ))
                    .await
            }
            None => self.0.get("/v1/promotions").await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn promo(kind: DiscountKind, value: Decimal, skus: &[&str]) -> Promotion {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        Promotion {
            id: "promo_000001".into(),
            title: "SPRING".into(),
            kind,
            value,
            currency: None,
            skus: skus.iter().map(|s| (*s).to_owned()).collect(),
            starts_at: t,
            ends_at: Some(t + chrono::TimeDelta::hours(1)),
            status: PromotionStatus::Active,
            external_ref: None,
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    fn lines() -> Vec<PricedLine<'static>> {
        vec![
            PricedLine {
                sku: "SCARF",
                price: dec!(40),
                quantity: 2,
            },
            PricedLine {
                sku: "MUG",
                price: dec!(12.50),
                quantity: 1,
            },
        ]
    }

    #[test]
    fn each_kind_and_scope_takes_off_what_it_says() {
        let pct = promo(DiscountKind::Percentage, dec!(20), &["SCARF"]);
        assert_eq!(
            pct.line_discounts(&lines(), "USD"),
            Some(vec![dec!(16), dec!(0)])
        );
        let each = promo(DiscountKind::FixedAmount, dec!(5), &["SCARF"]);
        assert_eq!(
            each.line_discounts(&lines(), "USD"),
            Some(vec![dec!(10), dec!(0)])
        );
        let order = promo(DiscountKind::FixedAmount, dec!(10), &[]);
        let d = order.line_discounts(&lines(), "USD").unwrap();
        assert_eq!(d.iter().sum::<Decimal>(), dec!(10));
        let none = promo(DiscountKind::Percentage, dec!(20), &["HAT"]);
        assert_eq!(none.line_discounts(&lines(), "USD"), None);
        let mut euro = promo(DiscountKind::FixedAmount, dec!(5), &[]);
        euro.currency = Some("EUR".into());
        assert_eq!(euro.line_discounts(&lines(), "USD"), None);
    }

    #[test]
    fn the_window_is_half_open_and_the_biggest_saving_wins() {
        let a = promo(DiscountKind::Percentage, dec!(10), &[]);
        let mut b = promo(DiscountKind::FixedAmount, dec!(5), &["SCARF"]);
        b.id = "promo_000002".into();
        let t0 = a.starts_at;
        let end = a.ends_at.unwrap();
        assert!(a.running_at(t0) && !a.running_at(end));
        // 10 % of 92.50 is 9.25; 5 off each of 2 scarves is 10.
        let (p, _) = best([&a, &b], t0, &lines(), "USD").unwrap();
        assert_eq!(p.id, "promo_000002");
        assert!(best([&a, &b], end, &lines(), "USD").is_none());
        let mut off = a.clone();
        off.status = PromotionStatus::Disabled;
        assert!(!off.running_at(t0));
    }
}
