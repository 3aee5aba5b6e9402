//! Refunds made at the gateway without the shop: the merchant refunds a
//! customer in the gateway's dashboard, so the shop still claims the money it
//! no longer holds. On `charge.refunded` the engine looks for the refund on
//! the order it belongs to (the intent's `order_id`); a refund the shop does
//! not record, and did not make itself (the shop's own refunds carry the
//! order's id in their metadata and are recorded when they finish), is
//! recorded there through the shop's `POST /v1/orders/{id}/transactions`
//! (kind `refund`, the gateway's refund id as reference), as Shopify records
//! a refund made outside it.

use std::collections::BTreeMap;

use omnisim_api::Event;
use omnisim_api::shop::{CreateOrderTransaction, TransactionKind};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Outcome, parse, settle};
use crate::defect::Defect;
use crate::engine::Engine;

#[derive(Debug, Deserialize)]
struct RefundView {
    id: String,
    amount: Decimal,
}

#[derive(Debug, Deserialize)]
struct RefundedIntent {
    id: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    refund: RefundView,
}

/// `charge.refunded`: records on its order a refund the shop did not make.
pub(super) async fn charge_refunded(engine: &Engine, event: &Event) -> Outcome {
    let Some(intent) = parse::<RefundedIntent>(engine, event) else {
        return Ok(());
    };
    // A store sale's payment, or one no order is known for.
    let Some(order_id) = intent.metadata.get("order_id") else {
        return Ok(());
    };
    if engine.has(Defect::ExternalRefundIgnored) {
        return Ok(());
    }
    let order = match engine.call(|| engine.shop.order(order_id)).await {
        Err(e) if matches!(e.code(), Some("resource_missing" | "unknown_order")) => return Ok(()),
        r => match settle(engine, event, "reading the order of a gateway refund", r)? {
            Some(o) => o,
            None => return Ok(()),
        },
    };
    if order.payment_intent.as_deref() != Some(intent.id.as_str())
        || order
            .refunds
            .iter()
            .any(|r| r.payment_refund.as_deref() == Some(intent.refund.id.as_str()))
    {
        return Ok(());
    }
    let refund = match settle(
        engine,
        event,
        "reading a gateway refund",
        engine
            .call(|| engine.pay.get_refund(&intent.refund.id))
            .await,
    )? {
        Some(r) => r,
        None => return Ok(()),
    };
    if refund.metadata.contains_key("order_id") {
        // The shop's own refund, recorded on the order when it finishes.
        return Ok(());
    }
    let body = CreateOrderTransaction {
        kind: TransactionKind::Refund,
        amount: intent.refund.amount,
        gateway_reference: intent.refund.id.clone(),
        note: Some("refunded at the gateway".into()),
    };
    let key = engine.key(format!("eng:external-refund:{}", intent.refund.id));
    match engine
        .call(|| engine.shop.record_transaction(&order.id, &body, Some(&key)))
        .await
    {
        // Recorded already (by an earlier delivery, or by someone else).
        Err(e) if e.code() == Some("transaction_exists") => Ok(()),
        r => settle(engine, event, "recording a gateway refund on the shop", r).map(|_| ()),
    }
}
