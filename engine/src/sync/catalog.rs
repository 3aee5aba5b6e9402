//! Price and tax code between the shop product and the POS item, by the
//! merchant's mastership ([`crate::catalog`]): a change on the owning side
//! (or on either, for `both`) is carried to the other; a change on the other
//! side is a conflict, reported and undone with the owner's value.

use omnisim_api::Event;
use omnisim_api::pos::UpdateItem;
use omnisim_api::shop::UpdateProduct;
use rust_decimal::Decimal;

use super::{Outcome, settle};
use crate::catalog::{CatalogMaster, Master};
use crate::defect::Defect;
use crate::engine::Engine;

/// One side's record of a SKU's synced fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fields {
    pub price: Decimal,
    pub currency: String,
    pub tax_code: Option<String>,
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
    side: Master,
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
    // Writes to the side the change was made on, and to the other one.
    let (mut undo, mut carry) = (Write::default(), Write::default());
    let mut conflicts: Vec<String> = Vec::new();
    let same_price = |a: &Fields, b: &Fields| a.price == b.price && a.currency == b.currency;
    // Price.
    if masters.price.accepts(side) {
        if !same_price(here, there) {
            carry.price = Some((here.price, here.currency.clone()));
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
        if here.tax_code != there.tax_code {
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
            tax_code: match to_pos.tax_code {
                Some(None) if engine.has(Defect::TaxClearDropped) => None,
                Some(t) => Some(t.unwrap_or_default()),
                None => None,
            },
        };
        settle(
            engine,
            event,
            "writing price and tax to the POS",
            engine.call(|| engine.pos.update_item(sku, &body)).await,
        )?;
    }
    if !to_shop.is_empty() {
        let body = UpdateProduct {
            price: to_shop.price.as_ref().map(|p| p.0),
            currency: to_shop.price.as_ref().map(|p| p.1.clone()),
            // The shop clears a tax code on an empty string; absent means unchanged.
            tax_code: to_shop.tax_code.map(Option::unwrap_or_default),
            ..UpdateProduct::default()
        };
        settle(
            engine,
            event,
            "writing price and tax to the shop",
            engine.call(|| engine.shop.update_product(sku, &body)).await,
        )?;
    }
    Ok(())
}
