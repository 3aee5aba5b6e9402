//! Money that moved at the gateway without the shop: a refund made in the
//! gateway's dashboard (or by the bank, or by another app) is recorded on its
//! order as Shopify records one made outside it, a transaction of kind
//! `refund` with the gateway's reference. The order's refunded money then
//! matches what the gateway holds; no units move and the gateway is not
//! called.

use chrono::{DateTime, Utc};
use omnisim_api::common::fits_currency;
use omnisim_api::shop::{CreateOrderTransaction, OrderRefund, TransactionKind};
use rust_decimal::Decimal;

use super::{Payment, ShopState, check_key, check_text};
use crate::error::{SimError, SimResult};
use crate::events::Effects;

impl ShopState {
    /// `POST /v1/orders/{id}/transactions`: records an external refund as a
    /// refund without lines whose `payment_refund` is the gateway reference.
    /// Emits `refunds/create`. The same reference twice on one order → 409
    /// `transaction_exists`; more than the order holds → 422
    /// `amount_too_large`.
    pub fn record_transaction(
        &mut self,
        fx: &mut Effects,
        id: &str,
        req: CreateOrderTransaction,
    ) -> SimResult<OrderRefund> {
        let rec = self.writable(id)?;
        let TransactionKind::Refund = req.kind;
        check_key(
            "gateway_reference",
            "gateway reference",
            &req.gateway_reference,
        )?;
        if let Some(note) = &req.note {
            check_text("note", note, false)?;
        }
        let order = &rec.order;
        if rec.payment != Payment::Captured {
            return Err(SimError::conflict(
                "nothing_captured",
                format!("order `{id}` has no captured payment a refund could come from"),
            )
            .field("kind"));
        }
        if order
            .refunds
            .iter()
            .any(|r| r.payment_refund.as_deref() == Some(req.gateway_reference.as_str()))
        {
            return Err(SimError::conflict(
                "transaction_exists",
                format!(
                    "order `{id}` already records gateway refund `{}`",
                    req.gateway_reference
                ),
            )
            .field("gateway_reference"));
        }
        if req.amount <= Decimal::ZERO {
            return Err(SimError::bad_value(
                "amount",
                format!("a refund is more than 0, not {}", req.amount),
            ));
        }
        if !fits_currency(req.amount, &order.currency) {
            return Err(SimError::bad_value(
                "amount",
                format!(
                    "{} has more decimals than {} allows",
                    req.amount, order.currency
                ),
            ));
        }
        let held = order.total_captured - order.total_refunded;
        if req.amount > held {
            return Err(SimError::invalid(
                "amount_too_large",
                format!(
                    "order `{id}` holds {held} {} captured and not refunded, not {}",
                    order.currency, req.amount
                ),
            )
            .field("amount"));
        }
        let currency = order.currency.clone();
        self.next_refund += 1;
        let refund = OrderRefund {
            id: format!("ref_{:06}", self.next_refund),
            order_id: id.to_owned(),
            lines: Vec::new(),
            amount: req.amount,
            currency,
            payment_refund: Some(req.gateway_reference),
            payment_amount: req.amount,
            released_amount: Decimal::ZERO,
            note: req.note,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let now = fx.now();
        let rec = self.rec_mut(id)?;
        let refund = OrderRefund {
            created_at: now,
            ..refund
        };
        rec.order.total_refunded += refund.amount;
        rec.order.refunds.push(refund.clone());
        rec.sync(now);
        fx.emit("refunds/create", &refund);
        self.check_invariants();
        Ok(refund)
    }
}
