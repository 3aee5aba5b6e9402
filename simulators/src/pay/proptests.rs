//! Properties of the gateway over random sequences of operations: money is
//! never refunded beyond what was captured nor captured beyond what was
//! authorized, gift card money is conserved, settlement totals add up, and a
//! rejected request changes nothing.

use chrono::TimeDelta;
use omnisim_api::pay::{
    BalanceTransactionKind, CancelIntent, CaptureIntent, CaptureMethod, CreateGiftCard,
    CreatePaymentIntent, CreateRefund, PaymentMethod, WalletKind,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::state::tests::{Bench, epoch};
use crate::core::Platform;

#[derive(Clone, Debug)]
enum Op {
    GiftCard {
        cents: u32,
    },
    Pay {
        cents: u32,
        method: u8,
        manual: bool,
        yen: bool,
        target: usize,
    },
    Capture {
        target: usize,
        cents: Option<u32>,
    },
    Cancel {
        target: usize,
    },
    Refund {
        target: usize,
        cents: Option<u32>,
    },
    Advance {
        minutes: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1u32..20_000).prop_map(|cents| Op::GiftCard { cents }),
        4 => (1u32..20_000, 0u8..9, any::<bool>(), prop::bool::weighted(0.2), any::<usize>())
            .prop_map(|(cents, method, manual, yen, target)| Op::Pay { cents, method, manual, yen, target }),
        3 => (any::<usize>(), prop::option::of(0u32..20_000))
            .prop_map(|(target, cents)| Op::Capture { target, cents }),
        1 => any::<usize>().prop_map(|target| Op::Cancel { target }),
        3 => (any::<usize>(), prop::option::of(0u32..20_000))
            .prop_map(|(target, cents)| Op::Refund { target, cents }),
        2 => (0u32..(3 * 24 * 60)).prop_map(|minutes| Op::Advance { minutes }),
    ]
}

fn cents(c: u32) -> Decimal {
    Decimal::new(i64::from(c), 2)
}

fn nth<T: Clone>(items: &[T], target: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[target % items.len()].clone())
}

fn method(kind: u8, gift: Option<String>) -> PaymentMethod {
    let number = |n: &str| n.to_owned();
    match kind {
        0 => PaymentMethod::Card {
            number: number("4242424242424242"),
        },
        1 => PaymentMethod::Card {
            number: number("4000000000009995"),
        },
        2 => PaymentMethod::Card {
            number: number("4000000000003220"),
        },
        3 => PaymentMethod::CardPresent {
            number: number("4242424242424242"),
        },
        4 => PaymentMethod::Wallet {
            wallet: WalletKind::GooglePay,
            number: number("4242424242424242"),
        },
        5 => PaymentMethod::BankTransfer { account: None },
        6 => PaymentMethod::BankTransfer {
            account: Some("000111111116".into()),
        },
        _ => match gift {
            Some(code) => PaymentMethod::GiftCard { code },
            None => PaymentMethod::Card {
                number: number("5425233430109903"),
            },
        },
    }
}

/// Applies one operation; rejected requests must leave the state untouched.
fn apply(b: &mut Bench, op: &Op) -> Result<(), TestCaseError> {
    // Due timers run first (as every commit does), so that the "changes
    // nothing" comparison below sees only the operation itself.
    b.run(|_, _| Ok(()))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let before = b.s.snapshot();
    let before_debug = format!("{:?}", b.s);
    let intents: Vec<String> =
        b.s.list_intents(Some(100), None)
            .map(|l| l.data.into_iter().map(|i| i.id).collect())
            .unwrap_or_default();
    let cards: Vec<String> = before["gift_cards"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let result: Result<(), crate::SimError> = match op.clone() {
        Op::GiftCard { cents: c } => {
            let req = CreateGiftCard {
                code: None,
                balance: cents(c),
                currency: "USD".into(),
            };
            b.run(|s, fx| s.create_gift_card(fx, req)).map(drop)
        }
        Op::Pay {
            cents: c,
            method: kind,
            manual,
            yen,
            target,
        } => {
            let (amount, currency) = if yen {
                (Decimal::from(c / 10 + 1), "JPY")
            } else {
                (cents(c), "USD")
            };
            let req = CreatePaymentIntent {
                amount,
                currency: currency.into(),
                capture_method: if manual {
                    CaptureMethod::Manual
                } else {
                    CaptureMethod::Automatic
                },
                payment_method: method(kind, nth(&cards, target)),
                metadata: Default::default(),
            };
            match b.run(|s, fx| s.create_intent(fx, req)) {
                // A decline is recorded: not a rejection.
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Op::Capture { target, cents: c } => match nth(&intents, target) {
            None => Ok(()),
            Some(id) => {
                let req = CaptureIntent {
                    amount_to_capture: c.map(cents),
                };
                b.run(|s, fx| s.capture(fx, &id, req)).map(drop)
            }
        },
        Op::Cancel { target } => match nth(&intents, target) {
            None => Ok(()),
            Some(id) => b
                .run(|s, fx| s.cancel(fx, &id, CancelIntent::default()))
                .map(drop),
        },
        Op::Refund { target, cents: c } => match nth(&intents, target) {
            None => Ok(()),
            Some(id) => {
                let req = CreateRefund {
                    payment_intent: id,
                    amount: c.map(cents),
                    reason: None,
                    metadata: Default::default(),
                };
                b.run(|s, fx| s.create_refund(fx, req)).map(drop)
            }
        },
        Op::Advance { minutes } => {
            b.advance(TimeDelta::minutes(i64::from(minutes)));
            Ok(())
        }
    };
    if let Err(e) = result {
        prop_assert!(e.kind != crate::ErrorKind::Declined, "declines are Ok: {e}");
        prop_assert_eq!(
            format!("{:?}", b.s),
            before_debug,
            "{:?} failed with {} but changed state",
            op,
            e
        );
    }
    Ok(())
}

/// Checks every money property on the current state.
fn check(b: &Bench) -> Result<(), TestCaseError> {
    // Per intent: refunded ≤ received, received + capturable ≤ amount, and
    // the rest of the cross-checks (refunds, holds, transactions).
    prop_assert_eq!(b.s.check_invariants(), Ok(()));
    let snap = b.s.snapshot();
    let dec = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<Decimal>().ok());
    for i in snap["payment_intents"].as_array().into_iter().flatten() {
        let amount = dec(&i["amount"]).unwrap_or_default();
        let capturable = dec(&i["amount_capturable"]).unwrap_or_default();
        let received = dec(&i["amount_received"]).unwrap_or_default();
        let refunded = dec(&i["amount_refunded"]).unwrap_or_default();
        prop_assert!(refunded <= received, "{i}");
        prop_assert!(received + capturable <= amount, "{i}");
        prop_assert!(received - refunded >= Decimal::ZERO, "{i}");
    }
    // Gift cards: never negative, and conserved.
    for c in snap["gift_cards"].as_array().into_iter().flatten() {
        let f = |k: &str| dec(&c[k]).unwrap_or_default();
        prop_assert!(
            f("balance") >= Decimal::ZERO && f("held") >= Decimal::ZERO,
            "{c}"
        );
        prop_assert_eq!(
            f("initial_balance"),
            f("balance") + f("held") + f("captured") - f("refunded"),
            "{}",
            c
        );
    }
    // Settlement: net = charges − refunds − fees, per currency, and the whole
    // report agrees with what the intents say was kept.
    let report =
        b.s.settlement(None, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for t in &report.totals {
        prop_assert_eq!(t.net, t.charges - t.refunds - t.fees);
        let kept: Decimal =
            b.s.list_intents(Some(100), None)
                .map(|l| {
                    l.data
                        .iter()
                        .filter(|i| i.currency == t.currency)
                        .map(|i| i.amount_received - i.amount_refunded)
                        .sum()
                })
                .unwrap_or_default();
        prop_assert_eq!(t.charges - t.refunds, kept);
    }
    let signs_ok = report.transactions.iter().all(|t| match t.kind {
        BalanceTransactionKind::Charge => t.amount > Decimal::ZERO,
        BalanceTransactionKind::Refund => t.amount < Decimal::ZERO && t.fee == Decimal::ZERO,
    });
    prop_assert!(signs_ok, "charges are positive, refunds negative and free");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn money_invariants_hold_over_random_operations(ops in prop::collection::vec(op(), 1..60)) {
        let mut b = Bench::new();
        for op in &ops {
            apply(&mut b, op)?;
            check(&b)?;
        }
    }

    #[test]
    fn settlement_windows_partition_the_transactions(
        ops in prop::collection::vec(op(), 1..40),
        cut_minutes in 0i64..(6 * 24 * 60),
    ) {
        let mut b = Bench::new();
        for op in &ops {
            apply(&mut b, op)?;
        }
        let cut = epoch() + TimeDelta::minutes(cut_minutes);
        let all = b.s.settlement(None, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let before = b.s.settlement(None, Some(cut)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after = b.s.settlement(Some(cut), None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(all.transactions.len(), before.transactions.len() + after.transactions.len());
        prop_assert!(before.transactions.iter().all(|t| t.created_at < cut));
        prop_assert!(after.transactions.iter().all(|t| t.created_at >= cut));
        for t in &all.totals {
            let part = |r: &omnisim_api::pay::SettlementReport| {
                r.totals.iter().find(|x| x.currency == t.currency).map_or(Decimal::ZERO, |x| x.net)
            };
            prop_assert_eq!(t.net, part(&before) + part(&after));
        }
    }
}
