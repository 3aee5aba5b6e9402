//! A gateway gift card's movements, as the dialects show them: Square's
//! gift-card activities and Shopify's gift-card transactions are both read
//! from here. Nothing is kept: every movement is derived from what the
//! gateway recorded at the time of the read.
//!
//! - the issue, for the card's initial balance;
//! - each payment made with the card, while the gateway holds its amount
//!   (pending) and once it was captured; a hold released, or never taken,
//!   moved no money and is not a movement;
//! - each refund that went back onto the card.
//!
//! The movements add up to the card's balance: `initial − held − captured +
//! refunded`.

use chrono::{DateTime, Utc};
use omnisim_api::ApiError;
use omnisim_api::pay::{GiftCard, IntentStatus, PayClient, PaymentIntent, RefundStatus};
use rust_decimal::Decimal;

/// What moved money on a card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MovementKind {
    /// The card was issued with its initial balance.
    Issue,
    /// A payment took money off the card; `pending` while the gateway only
    /// holds it.
    Redeem {
        /// The gateway intent.
        intent: String,
        /// Held, not yet captured.
        pending: bool,
    },
    /// A refund put money back onto the card.
    Refund {
        /// The gateway refund.
        refund: String,
        /// The intent it refunds.
        intent: String,
    },
}

/// One movement of a card's balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    /// When the gateway recorded it.
    pub at: DateTime<Utc>,
    /// What it was.
    pub kind: MovementKind,
    /// How much moved (always positive).
    pub amount: Decimal,
    /// The card's balance after it.
    pub balance_after: Decimal,
}

impl Movement {
    /// The signed change to the balance.
    pub fn delta(&self) -> Decimal {
        match self.kind {
            MovementKind::Redeem { .. } => -self.amount,
            MovementKind::Issue | MovementKind::Refund { .. } => self.amount,
        }
    }
}

/// Every gateway intent, oldest first (all pages).
pub async fn all_intents(pay: &PayClient) -> Result<Vec<PaymentIntent>, ApiError> {
    let mut out: Vec<PaymentIntent> = Vec::new();
    loop {
        let after = out.last().map(|i| i.id.clone());
        let page = pay.list_intents(Some(100), after.as_deref()).await?;
        let more = page.has_more && !page.data.is_empty();
        out.extend(page.data);
        if !more {
            return Ok(out);
        }
    }
}

/// The movements of `card`, oldest first, each with the balance after it.
/// `intents` is every gateway intent ([`all_intents`]); the refunds of the
/// card's payments are read from the gateway.
pub async fn movements(
    pay: &PayClient,
    card: &GiftCard,
    intents: &[PaymentIntent],
) -> Result<Vec<Movement>, ApiError> {
    let mut out = vec![(card.created_at, MovementKind::Issue, card.initial_balance)];
    for i in intents {
        let on_card = i
            .payment_method
            .as_ref()
            .and_then(|m| m.gift_card.as_deref());
        if on_card != Some(card.code.as_str()) {
            continue;
        }
        let (pending, amount) = match i.status {
            IntentStatus::RequiresCapture => (true, i.amount_capturable),
            IntentStatus::Succeeded => (false, i.amount_received),
            _ => continue,
        };
        out.push((
            i.created_at,
            MovementKind::Redeem {
                intent: i.id.clone(),
                pending,
            },
            amount,
        ));
        for rid in &i.refunds {
            let r = pay.get_refund(rid).await?;
            if r.status != RefundStatus::Succeeded {
                continue;
            }
            out.push((
                r.created_at,
                MovementKind::Refund {
                    refund: r.id,
                    intent: i.id.clone(),
                },
                r.amount,
            ));
        }
    }
    // Stable: a card's issue comes before anything made with it at the
    // same instant, a payment before its refunds.
    out.sort_by_key(|(at, _, _)| *at);
    let mut balance = Decimal::ZERO;
    Ok(out
        .into_iter()
        .map(|(at, kind, amount)| {
            let mut m = Movement {
                at,
                kind,
                amount,
                balance_after: Decimal::ZERO,
            };
            balance += m.delta();
            m.balance_after = balance;
            m
        })
        .collect())
}
