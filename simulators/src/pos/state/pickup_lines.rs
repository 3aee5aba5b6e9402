//! Shortening a ready pickup: the online order lost units before it was
//! collected (a line dropped, a partial refund), so the pickup slip lists
//! what the customer now takes and the units it no longer lists go back on
//! the shelf (RESERVED_FOR_SALE → IN_STOCK).

use omnisim_api::pos::{InventoryCauseKind, Pickup, UpdatePickupLines};

use super::{LINES_MAX, PosState, StockMove, check_quantity};
use crate::error::{SimError, SimResult};
use crate::events::Effects;

impl PosState {
    /// `POST /v1/pickups/{order_ref}/lines`: each named SKU's quantity
    /// becomes the one given, never more than the pickup lists. Emits
    /// `pickup.updated` and one `inventory.count.updated` (cause `release`,
    /// reference the order ref) per SKU whose held units went back IN_STOCK.
    /// Asking for what the pickup already lists changes nothing and emits
    /// nothing, so a retried update is harmless.
    pub fn update_pickup_lines(
        &mut self,
        fx: &mut Effects,
        order_ref: &str,
        req: UpdatePickupLines,
    ) -> SimResult<Pickup> {
        let book = self.ready_pickup(order_ref)?.clone();
        if req.lines.is_empty() {
            return Err(SimError::bad_value("lines", "give at least one line"));
        }
        if req.lines.len() > LINES_MAX {
            return Err(SimError::bad_value(
                "lines",
                format!("at most {LINES_MAX} lines"),
            ));
        }
        for (i, l) in req.lines.iter().enumerate() {
            let field = |f: &str| format!("lines[{i}].{f}");
            if req.lines[..i].iter().any(|o| o.sku == l.sku) {
                return Err(SimError::bad_value(
                    field("sku"),
                    format!("`{}` is named twice", l.sku),
                ));
            }
            let listed: i64 = book
                .pickup
                .lines
                .iter()
                .filter(|p| p.sku == l.sku)
                .map(|p| p.quantity)
                .sum();
            if !book.pickup.lines.iter().any(|p| p.sku == l.sku) {
                return Err(SimError::bad_value(
                    field("sku"),
                    format!("the pickup for `{order_ref}` has no `{}`", l.sku),
                ));
            }
            check_quantity(&field("quantity"), l.quantity, 0)?;
            if l.quantity > listed {
                return Err(SimError::bad_value(
                    field("quantity"),
                    format!(
                        "a pickup can only be shortened: it lists {listed} `{}`, not {}",
                        l.sku, l.quantity
                    ),
                ));
            }
        }
        let mut book = book;
        // (sku, units back IN_STOCK), in the request's order.
        let mut released: Vec<(String, i64)> = Vec::new();
        for l in &req.lines {
            let mut cut: i64 = book
                .pickup
                .lines
                .iter()
                .filter(|p| p.sku == l.sku)
                .map(|p| p.quantity)
                .sum::<i64>()
                - l.quantity;
            let mut back = 0;
            // Later lines of the SKU shrink first.
            for (line, held) in book
                .pickup
                .lines
                .iter_mut()
                .zip(book.held.iter_mut())
                .rev()
                .filter(|(p, _)| p.sku == l.sku)
            {
                let take = cut.min(line.quantity);
                line.quantity -= take;
                cut -= take;
                let keep = (*held).min(line.quantity);
                back += *held - keep;
                *held = keep;
            }
            debug_assert_eq!(cut, 0, "validated against what the pickup lists");
            if back > 0 {
                released.push((l.sku.clone(), back));
            }
        }
        let changed = released.len()
            + book
                .pickup
                .lines
                .iter()
                .zip(&self.ready_pickup(order_ref)?.pickup.lines)
                .filter(|(a, b)| a.quantity != b.quantity)
                .count();
        if changed == 0 {
            return Ok(book.pickup);
        }
        let now = fx.now();
        let pickup = book.pickup.clone();
        let location = pickup.location.clone();
        self.pickups.insert(order_ref.to_owned(), book);
        fx.emit("pickup.updated", &pickup);
        // A Square order whose PICKUP fulfillment made this pickup follows it.
        let per_sku: Vec<(String, i64)> = req
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        if let Some(order) = self.square.follow_pickup_lines(order_ref, &per_sku, now) {
            fx.emit("order.updated", order);
        }
        for (sku, back) in released {
            self.move_stock(
                fx,
                (&sku, &location),
                now,
                StockMove::Adjust(back),
                InventoryCauseKind::Release,
                Some(order_ref.to_owned()),
            );
        }
        self.debug_check();
        Ok(pickup)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use omnisim_api::pos::{
        BatchChangeInventory, CreateItem, CreatePickup, InventoryChange, InventoryChangeType,
        InventoryState, PickupStatus, SaleLineRequest, UpdatePickupLines,
    };
    use rust_decimal_macros::dec;

    use super::super::PosState;
    use crate::error::SimError;
    use crate::events::Effects;

    fn fx() -> Effects {
        Effects::new(
            DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    fn line(sku: &str, quantity: i64) -> SaleLineRequest {
        SaleLineRequest {
            sku: sku.into(),
            quantity,
        }
    }

    /// GLASS 6 IN_STOCK, CARAFE 2; a pickup of 4 glasses and a carafe.
    fn with_pickup() -> PosState {
        let mut s = PosState::default();
        let mut f = fx();
        for sku in ["GLASS", "CARAFE"] {
            s.create_item(
                &mut f,
                CreateItem {
                    sku: sku.into(),
                    name: sku.into(),
                    price: dec!(8.00),
                    currency: "USD".into(),
                    tax_code: None,
                },
            )
            .unwrap();
        }
        let count = |sku: &str, quantity| InventoryChange {
            kind: InventoryChangeType::PhysicalCount,
            sku: sku.into(),
            location: "store-1".into(),
            quantity,
            from_state: None,
            to_state: None,
            occurred_at: f.now(),
            reference: None,
            order_ref: None,
        };
        let changes = vec![count("GLASS", 6), count("CARAFE", 2)];
        s.change_inventory(&mut f, BatchChangeInventory { changes })
            .unwrap();
        s.create_pickup(
            &mut f,
            CreatePickup {
                order_ref: "ord_1".into(),
                location: "store-1".into(),
                lines: vec![line("GLASS", 4), line("CARAFE", 1)],
                customer: None,
            },
        )
        .unwrap();
        s
    }

    fn update(s: &mut PosState, lines: Vec<SaleLineRequest>) -> Result<Effects, SimError> {
        let mut f = fx();
        s.update_pickup_lines(&mut f, "ord_1", UpdatePickupLines { lines })
            .map(|_| f)
    }

    #[test]
    fn a_shortened_pickup_lists_less_and_puts_the_rest_back() {
        let mut s = with_pickup();
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 2);
        let f = update(&mut s, vec![line("GLASS", 2)]).unwrap();
        let kinds: Vec<&str> = f.events().iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["pickup.updated", "inventory.count.updated"]);
        let p = s.pickup("ord_1").unwrap();
        assert_eq!(p.lines, vec![line("GLASS", 2), line("CARAFE", 1)]);
        assert_eq!(p.status, PickupStatus::Ready);
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 4);
        // The same update again changes nothing and says nothing.
        let again = update(&mut s, vec![line("GLASS", 2)]).unwrap();
        assert!(again.events().is_empty());
        // Dropped to zero: nothing of it is collected, all of it is back.
        update(&mut s, vec![line("GLASS", 0), line("CARAFE", 0)]).unwrap();
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 6);
        assert_eq!(s.count("CARAFE", "store-1").unwrap().quantity, 2);
        // Collecting it hands nothing more over.
        s.complete_pickup(&mut fx(), "ord_1").unwrap();
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 6);
    }

    #[test]
    fn units_already_released_are_not_released_twice() {
        let mut s = with_pickup();
        let mut f = fx();
        let release = InventoryChange {
            kind: InventoryChangeType::Adjustment,
            sku: "GLASS".into(),
            location: "store-1".into(),
            quantity: 1,
            from_state: Some(InventoryState::ReservedForSale),
            to_state: Some(InventoryState::InStock),
            occurred_at: f.now(),
            reference: None,
            order_ref: Some("ord_1".into()),
        };
        s.change_inventory(
            &mut f,
            BatchChangeInventory {
                changes: vec![release],
            },
        )
        .unwrap();
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 3);
        // Listed 4, holding 3: shortened to 3, only the listing changes.
        let f = update(&mut s, vec![line("GLASS", 3)]).unwrap();
        let kinds: Vec<&str> = f.events().iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["pickup.updated"]);
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 3);
        update(&mut s, vec![line("GLASS", 1)]).unwrap();
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 5);
    }

    #[test]
    fn a_pickup_only_shrinks_and_names_the_field() {
        let mut s = with_pickup();
        let field = |r: Result<Effects, SimError>| r.err().unwrap().body().error.field;
        let more = update(&mut s, vec![line("GLASS", 5)]);
        assert_eq!(field(more).as_deref(), Some("lines[0].quantity"));
        let absent = update(&mut s, vec![line("CARAFE", 1), line("MUG", 0)]);
        assert_eq!(field(absent).as_deref(), Some("lines[1].sku"));
        let twice = update(&mut s, vec![line("GLASS", 1), line("GLASS", 1)]);
        assert_eq!(field(twice).as_deref(), Some("lines[1].sku"));
        let negative = update(&mut s, vec![line("GLASS", -1)]);
        assert_eq!(field(negative).as_deref(), Some("lines[0].quantity"));
        assert_eq!(field(update(&mut s, vec![])).as_deref(), Some("lines"));
        s.cancel_pickup(&mut fx(), "ord_1").unwrap();
        let closed = update(&mut s, vec![line("GLASS", 1)]).err().unwrap();
        assert_eq!(closed.body().error.code, "pickup_already_cancelled");
        // Nothing moved on the refused updates.
        assert_eq!(s.count("GLASS", "store-1").unwrap().quantity, 6);
    }
}
