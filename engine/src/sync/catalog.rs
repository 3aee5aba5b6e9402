//! Price and tax code between the shop product and the POS item, by the
//! merchant's mastership ([`crate::catalog`]): a change on the owning side
//! (or on either, for `both`) is carried to the other; a change on the other
//! side is a conflict, reported and undone with the owner's value.
//!
//! Under `both` a change event carries only the fields that moved on its
//! side since both last agreed (the SKU's [`CatalogBase`], kept across
//! restarts): handling a register price change must not copy the register's
//! older tax code over one removed online meanwhile.

use chrono::{DateTime, Utc};
use omnisim_api::pos::UpdateItem;
use omnisim_api::shop::UpdateProduct;
use omnisim_api::{ApiError, Event};
use rust_decimal::Decimal;

use super::{Outcome, settle};
use crate::catalog::{CatalogMaster, Master};
use crate::defect::Defect;
use crate::engine::{Engine, worth_retrying};
use crate::state::CatalogBase;

/// One side's record of a SKU's synced fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fields {
    pub price: Decimal,
    pub currency: String,
    pub tax_code: Option<String>,
    /// When that record last changed, as its platform says (`None` for an
    /// event's copy): a write whose answer is lost is checked against it.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Fields {
    fn base(&self) -> CatalogBase {
        CatalogBase {
            price: self.price,
            currency: self.currency.clone(),
            tax_code: self.tax_code.clone(),
        }
    }
}

/// Whether a field held `here` is a change to carry under mastership `both`:
/// it differs from the other side and, when the engine knows what both last
/// agreed on, `here` moved away from that (a field only the other side
/// changed is that side's change, carried by its own event); a field both
/// changed goes to the side changed last (`here_newer`).
fn changed_here<T: PartialEq>(here: &T, there: &T, base: Option<&T>, here_newer: bool) -> bool {
    here != there
        && match base {
            None => true,
            Some(b) if here == b => false,
            Some(b) => there == b || here_newer,
        }
}

/// What to write to one side.
#[derive(Default)]
struct Write {
    price: Option<(Decimal, String)>,
    /// `Some(None)` clears the tax code.
    tax_code: Option<Option<String>>,
}

impl Write {
    fn is_empty(&self) -> bool {
        self.price.is_none() && self.tax_code.is_none()
    }

    /// Whether a record holding these values shows this write.
    fn shown_by(&self, price: Decimal, currency: &str, tax_code: &Option<String>) -> bool {
        self.price
            .as_ref()
            .is_none_or(|(p, c)| *p == price && c == currency)
            && self.tax_code.as_ref().is_none_or(|t| t == tax_code)
    }
}

/// A record read back after a write whose answer was lost.
struct Seen {
    /// It holds what the engine wrote.
    shows: bool,
    updated_at: DateTime<Utc>,
}

/// A price or tax write (an absolute value, with no idempotency key: a
/// `PATCH`), retried as [`Engine::call`] retries, except that once an
/// attempt's outcome is unknown (no answer, a 5xx) the record is read back
/// before writing again. If it shows the write, the write landed. If it
/// changed since the engine read it (`seen`, its `updated_at` then) to
/// something else, a newer change overtook the write there (the staff
/// repricing online while the engine's answer was lost): writing again
/// would undo it, so the engine stops, and that change's own event carries
/// it. Only a record untouched since is written again.
async fn checked_write<W, WF, R, RF>(
    engine: &Engine,
    seen: Option<DateTime<Utc>>,
    write: W,
    read: R,
) -> Result<(), ApiError>
where
    W: Fn() -> WF,
    WF: Future<Output = Result<(), ApiError>>,
    R: Fn() -> RF,
    RF: Future<Output = Result<Seen, ApiError>>,
{
    if engine.has(Defect::BlindWriteRetry) {
        return engine.call(write).await;
    }
    match write().await {
        Err(e) if worth_retrying(&e) => {}
        done => return done,
    }
    engine
        .call(|| async {
            let now = read().await?;
            if now.shows || seen.is_some_and(|at| now.updated_at != at) {
                return Ok(());
            }
            write().await
        })
        .await
}

fn other(side: Master) -> Master {
    if side == Master::Pos {
        Master::Shop
    } else {
        Master::Pos
    }
}

/// A change made on `side` (`Shop` or `Pos`), whose event carried `copy`:
/// carries or undoes each field, as its master says, from the two records
/// as they are now (`shop`, `pos`).
pub(super) async fn reconcile(
    engine: &Engine,
    event: &Event,
    sku: &str,
    (side, here_newer): (Master, bool),
    copy: &Fields,
    shop: &Fields,
    pos: &Fields,
) -> Outcome {
    let masters = if engine.has(Defect::MastershipIgnored) {
        CatalogMaster::default()
    } else {
        engine.strategy().catalog_master
    };
    let (here, there) = if side == Master::Pos {
        (pos, shop)
    } else {
        (shop, pos)
    };
    let base = engine.with_state(|s| s.catalog.get(sku).cloned());
    let base_price = base.as_ref().map(|b| (b.price, b.currency.clone()));
    let base_tax = base.as_ref().map(|b| b.tax_code.clone());
    // Writes to the side the change was made on, and to the other one.
    let (mut undo, mut carry) = (Write::default(), Write::default());
    let mut conflicts: Vec<String> = Vec::new();
    let same_price = |a: &Fields, b: &Fields| a.price == b.price && a.currency == b.currency;
    // Price.
    if masters.price.accepts(side) {
        let both = masters.price == Master::Both;
        let (h, t) = (
            (here.price, here.currency.clone()),
            (there.price, there.currency.clone()),
        );
        if both && !engine.has(Defect::MastershipIgnored) {
            if changed_here(&h, &t, base_price.as_ref(), here_newer) {
                carry.price = Some(h);
            }
        } else if !same_price(here, there) {
            carry.price = Some(h);
        }
    } else {
        if !same_price(copy, there) {
            conflicts.push(format!(
                "price {} {} set on the {side} (the {} owns price, at {} {})",
                copy.price,
                copy.currency,
                other(side),
                there.price,
                there.currency
            ));
        }
        if !same_price(here, there) {
            undo.price = Some((there.price, there.currency.clone()));
        }
    }
    // Tax code.
    if masters.tax_code.accepts(side) {
        let both = masters.tax_code == Master::Both;
        if both && !engine.has(Defect::MastershipIgnored) {
            if changed_here(
                &here.tax_code,
                &there.tax_code,
                base_tax.as_ref(),
                here_newer,
            ) {
                carry.tax_code = Some(here.tax_code.clone());
            }
        } else if here.tax_code != there.tax_code {
            carry.tax_code = Some(here.tax_code.clone());
        }
    } else {
        if copy.tax_code != there.tax_code {
            conflicts.push(format!(
                "tax code {} set on the {side} (the {} owns tax codes, at {})",
                copy.tax_code.as_deref().unwrap_or("none"),
                other(side),
                there.tax_code.as_deref().unwrap_or("none")
            ));
        }
        if here.tax_code != there.tax_code {
            undo.tax_code = Some(there.tax_code.clone());
        }
    }
    for c in conflicts {
        engine.count_catalog_conflict();
        engine.report("catalog_conflict", format!("{sku}: {c}"), Some(&event.id));
    }
    let (to_shop, to_pos) = if side == Master::Pos {
        (carry, undo)
    } else {
        (undo, carry)
    };
    if !to_pos.is_empty() {
        let body = UpdateItem {
            name: None,
            price: to_pos.price.as_ref().map(|p| p.0),
            currency: to_pos.price.as_ref().map(|p| p.1.clone()),
            // The POS clears a tax code on an empty string; absent means unchanged.
            tax_code: match to_pos.tax_code.clone() {
                Some(None) if engine.has(Defect::TaxClearDropped) => None,
                Some(t) => Some(t.unwrap_or_default()),
                None => None,
            },
        };
        let write = || async { engine.pos.update_item(sku, &body).await.map(drop) };
        let read = || async {
            let i = engine.pos.item(sku).await?;
            Ok(Seen {
                shows: to_pos.shown_by(i.price, &i.currency, &i.tax_code),
                updated_at: i.updated_at,
            })
        };
        settle(
            engine,
            event,
            "writing price and tax to the POS",
            checked_write(engine, pos.updated_at, write, read).await,
        )?;
    }
    if !to_shop.is_empty() {
        let body = UpdateProduct {
            price: to_shop.price.as_ref().map(|p| p.0),
            currency: to_shop.price.as_ref().map(|p| p.1.clone()),
            // The shop clears a tax code on an empty string; absent means unchanged.
            tax_code: to_shop.tax_code.clone().map(Option::unwrap_or_default),
            ..UpdateProduct::default()
        };
        let write = || async { engine.shop.update_product(sku, &body).await.map(drop) };
        let read = || async {
            let p = engine.shop.product(sku).await?;
            Ok(Seen {
                shows: to_shop.shown_by(p.price, &p.currency, &p.tax_code),
                updated_at: p.updated_at,
            })
        };
        settle(
            engine,
            event,
            "writing price and tax to the shop",
            checked_write(engine, shop.updated_at, write, read).await,
        )?;
    }
    // What both sides hold now, field by field; a field still apart (the
    // other side's change, not yet carried) keeps its old base.
    let mut now = base.unwrap_or_else(|| here.base());
    let pos_after = |f: &Fields, w: &Write| Fields {
        price: w.price.as_ref().map_or(f.price, |p| p.0),
        currency: w.price.as_ref().map_or(f.currency.clone(), |p| p.1.clone()),
        tax_code: w.tax_code.clone().unwrap_or_else(|| f.tax_code.clone()),
        updated_at: None,
    };
    let (shop_now, pos_now) = (pos_after(shop, &to_shop), pos_after(pos, &to_pos));
    if same_price(&shop_now, &pos_now) {
        now.price = shop_now.price;
        now.currency = shop_now.currency.clone();
    }
    if shop_now.tax_code == pos_now.tax_code {
        now.tax_code = shop_now.tax_code.clone();
    }
    engine.with_state(|s| s.save_catalog_base(sku, now));
    Ok(())
}

/// The base of a SKU the engine has no base for yet, when both sides agree
/// on it (at start-up).
pub(super) fn seed_base(engine: &Engine, sku: &str, shop: &Fields, pos: &Fields) {
    if shop.base() == pos.base() && engine.with_state(|s| !s.catalog.contains_key(sku)) {
        engine.with_state(|s| s.save_catalog_base(sku, shop.base()));
    }
}

#[cfg(test)]
mod tests {
    use super::changed_here;

    #[test]
    fn only_a_field_that_moved_on_this_side_is_carried() {
        // The tax code removed online (there) while the register (here)
        // kept the code both last agreed on: not the register's change.
        let (standard, none) = (Some("standard"), None);
        assert!(!changed_here(&standard, &none, Some(&standard), true));
        // The register's own change, the shop still at the base: carried,
        // whichever record changed last.
        assert!(changed_here(&none, &standard, Some(&standard), false));
        // Both moved: the side changed last wins.
        assert!(changed_here(&Some("reduced"), &none, Some(&standard), true));
        assert!(!changed_here(
            &Some("reduced"),
            &none,
            Some(&standard),
            false
        ));
        // Equal: nothing to carry, base or not.
        assert!(!changed_here(&standard, &standard, None, true));
        // No base yet (a SKU the engine has not seen agree): carried.
        assert!(changed_here(&none, &standard, None, false));
    }
}
