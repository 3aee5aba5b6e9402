//! Checkout pricing and refund pro-rating: pure money arithmetic, no state.
//!
//! A line's subtotal is `price × quantity`. A percentage discount takes
//! `round_money(subtotal × v / 100)` off each line; a fixed amount is split
//! across lines in proportion to their subtotals, the rounding remainder going
//! to the last line, and no line is ever discounted below zero. Tax is
//! `round_money((subtotal − discount) × rate)`, and a line's total is
//! `subtotal − discount + tax`. A refund of `q` of a line's `Q` units gives
//! back `round_money(total × q / Q)`, except that the last units of a line give
//! back exactly what remains of its total, so refunds never drift.

use omnisim_api::common::{round_money, split_fixed};
use rust_decimal::Decimal;

/// What a line is priced from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInput {
    /// Unit price before tax.
    pub price: Decimal,
    /// Units, at least 1.
    pub quantity: i64,
    /// Tax rate as a fraction (0 when untaxed).
    pub tax_rate: Decimal,
}

/// A discount as it applies to one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discount {
    /// Percent off every line, over 0 and at most 100.
    Percentage(Decimal),
    /// Money off the order, split across lines.
    Fixed(Decimal),
}

/// One priced line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinePrice {
    /// `price × quantity`.
    pub subtotal: Decimal,
    /// Discount on the line.
    pub discount: Decimal,
    /// Tax on the discounted line.
    pub tax: Decimal,
    /// `subtotal − discount + tax`.
    pub total: Decimal,
}

/// Prices `lines` in `currency` with an optional discount.
pub fn price_lines(
    lines: &[LineInput],
    discount: Option<Discount>,
    currency: &str,
) -> Vec<LinePrice> {
    let subtotals: Vec<Decimal> = lines
        .iter()
        .map(|l| round_money(l.price * Decimal::from(l.quantity), currency))
        .collect();
    let discounts = match discount {
        None => vec![Decimal::ZERO; lines.len()],
        Some(Discount::Percentage(v)) => subtotals
            .iter()
            .map(|s| round_money(*s * v / Decimal::ONE_HUNDRED, currency).min(*s))
            .collect(),
        Some(Discount::Fixed(v)) => split_fixed(&subtotals, round_money(v, currency), currency),
    };
    finish(lines, &subtotals, &discounts, currency)
}

/// Prices `lines` with the money `discounts` takes off each (at most its
/// subtotal), as an automatic promotion decides it
/// ([`omnisim_api::promotion`]): tax is on the discounted line.
pub fn price_lines_off(
    lines: &[LineInput],
    discounts: &[Decimal],
    currency: &str,
) -> Vec<LinePrice> {
    let subtotals: Vec<Decimal> = lines
        .iter()
        .map(|l| round_money(l.price * Decimal::from(l.quantity), currency))
        .collect();
    let discounts: Vec<Decimal> = subtotals
        .iter()
        .enumerate()
        .map(|(i, s)| {
            discounts
                .get(i)
                .copied()
                .unwrap_or_default()
                .clamp(Decimal::ZERO, *s)
        })
        .collect();
    finish(lines, &subtotals, &discounts, currency)
}

fn finish(
    lines: &[LineInput],
    subtotals: &[Decimal],
    discounts: &[Decimal],
    currency: &str,
) -> Vec<LinePrice> {
    lines
        .iter()
        .zip(subtotals.iter().zip(discounts.iter().copied()))
        .map(|(line, (subtotal, discount))| {
            let tax = round_money((*subtotal - discount) * line.tax_rate, currency);
            LinePrice {
                subtotal: subtotal.normalize(),
                discount: discount.normalize(),
                tax: tax.normalize(),
                total: (*subtotal - discount + tax).normalize(),
            }
        })
        .collect()
}

/// Money back for refunding `quantity` more units of a line of
/// `line_quantity` units whose total is `line_total`, of which
/// `refunded_quantity` units and `refunded_amount` were refunded before.
pub fn refund_amount(
    line_total: Decimal,
    line_quantity: i64,
    refunded_quantity: i64,
    refunded_amount: Decimal,
    quantity: i64,
    currency: &str,
) -> Decimal {
    let remaining = line_total - refunded_amount;
    if line_quantity <= 0 || refunded_quantity + quantity >= line_quantity {
        return remaining.max(Decimal::ZERO).normalize();
    }
    let share = round_money(
        line_total * Decimal::from(quantity) / Decimal::from(line_quantity),
        currency,
    );
    share.min(remaining).max(Decimal::ZERO).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn line(price: Decimal, quantity: i64, tax_rate: Decimal) -> LineInput {
        LineInput {
            price,
            quantity,
            tax_rate,
        }
    }

    #[test]
    fn undiscounted_lines_are_taxed_per_line() {
        let p = price_lines(
            &[
                line(dec!(12.50), 2, dec!(0.0825)),
                line(dec!(3), 1, dec!(0)),
            ],
            None,
            "USD",
        );
        assert_eq!(
            p[0],
            LinePrice {
                subtotal: dec!(25.00),
                discount: dec!(0),
                tax: dec!(2.06),
                total: dec!(27.06)
            }
        );
        assert_eq!(p[1].total, dec!(3));
    }

    #[test]
    fn percentage_rounds_per_line_half_to_even() {
        // 10 % of 0.25 = 0.025 → 0.02 (half to even); of 0.35 = 0.035 → 0.04.
        let p = price_lines(
            &[line(dec!(0.25), 1, dec!(0)), line(dec!(0.35), 1, dec!(0))],
            Some(Discount::Percentage(dec!(10))),
            "USD",
        );
        assert_eq!((p[0].discount, p[1].discount), (dec!(0.02), dec!(0.04)));
        assert_eq!((p[0].total, p[1].total), (dec!(0.23), dec!(0.31)));
    }

    #[test]
    fn fixed_amount_splits_by_subtotal_with_the_remainder_last() {
        // 10.00 over subtotals 10, 10, 10: 3.33, 3.33, then 3.34.
        let p = price_lines(
            &[
                line(dec!(10), 1, dec!(0)),
                line(dec!(5), 2, dec!(0)),
                line(dec!(10), 1, dec!(0.1)),
            ],
            Some(Discount::Fixed(dec!(10))),
            "USD",
        );
        let d: Vec<Decimal> = p.iter().map(|l| l.discount).collect();
        assert_eq!(d, [dec!(3.33), dec!(3.33), dec!(3.34)]);
        // Tax after discount: (10 − 3.34) × 0.1 = 0.666 → 0.67.
        assert_eq!(p[2].tax, dec!(0.67));
        assert_eq!(p[2].total, dec!(7.33));
    }

    #[test]
    fn fixed_amount_never_exceeds_the_subtotal() {
        let p = price_lines(
            &[line(dec!(2), 1, dec!(0)), line(dec!(3), 1, dec!(0))],
            Some(Discount::Fixed(dec!(50))),
            "USD",
        );
        assert_eq!((p[0].discount, p[1].discount), (dec!(2), dec!(3)));
        assert_eq!((p[0].total, p[1].total), (dec!(0), dec!(0)));
    }

    #[test]
    fn fixed_amount_remainder_that_overflows_the_last_line_moves_back() {
        // 0.03 over 1.00, 1.00, 0.00: shares 0.015 → 0.02 each, leaving −0.01
        // for the last line, which is settled back onto the second.
        let p = price_lines(
            &[
                line(dec!(1), 1, dec!(0)),
                line(dec!(1), 1, dec!(0)),
                line(dec!(0), 1, dec!(0)),
            ],
            Some(Discount::Fixed(dec!(0.03))),
            "USD",
        );
        let d: Vec<Decimal> = p.iter().map(|l| l.discount).collect();
        assert_eq!(d.iter().sum::<Decimal>(), dec!(0.03));
        assert_eq!(d, [dec!(0.02), dec!(0.01), dec!(0)]);
    }

    #[test]
    fn zero_decimal_currencies_round_to_units() {
        let p = price_lines(
            &[
                line(dec!(1000), 1, dec!(0.1)),
                line(dec!(999), 1, dec!(0.1)),
            ],
            Some(Discount::Fixed(dec!(500))),
            "JPY",
        );
        let d: Vec<Decimal> = p.iter().map(|l| l.discount).collect();
        assert_eq!(d, [dec!(250), dec!(250)]);
        assert_eq!((p[0].tax, p[1].tax), (dec!(75), dec!(75)));
    }

    #[test]
    fn refunds_prorate_and_the_last_units_take_the_rest() {
        // 10.00 over 3 units: 3.33, 3.33, then exactly 3.34.
        let a = refund_amount(dec!(10), 3, 0, dec!(0), 1, "USD");
        let b = refund_amount(dec!(10), 3, 1, a, 1, "USD");
        let c = refund_amount(dec!(10), 3, 2, a + b, 1, "USD");
        assert_eq!((a, b, c), (dec!(3.33), dec!(3.33), dec!(3.34)));
        assert_eq!(refund_amount(dec!(10), 3, 0, dec!(0), 3, "USD"), dec!(10));
    }

    #[test]
    fn refund_rounding_up_never_overshoots_the_line() {
        // 0.09 over 6 units: 0.015 → 0.02 each; the fifth is capped so the
        // sixth still gets a non-negative rest.
        let mut refunded = dec!(0);
        let mut got = Vec::new();
        for k in 0..6 {
            let a = refund_amount(dec!(0.09), 6, k, refunded, 1, "USD");
            refunded += a;
            got.push(a);
        }
        assert_eq!(refunded, dec!(0.09));
        assert!(got.iter().all(|a| *a >= dec!(0)));
    }

    fn money() -> impl Strategy<Value = Decimal> {
        (0i64..100_000).prop_map(|c| Decimal::new(c, 2))
    }

    proptest! {
        #[test]
        fn line_totals_add_up_and_discounts_stay_within_subtotals(
            lines in prop::collection::vec((money(), 1i64..20, 0u32..300), 1..6),
            fixed in prop::option::of(money()),
            pct in prop::option::of(1u32..=100),
        ) {
            let input: Vec<LineInput> = lines
                .iter()
                .map(|(p, q, r)| line(*p, *q, Decimal::new(i64::from(*r), 3)))
                .collect();
            let discount = match (fixed, pct) {
                (Some(v), _) if v > Decimal::ZERO => Some(Discount::Fixed(v)),
                (_, Some(p)) => Some(Discount::Percentage(Decimal::from(p))),
                _ => None,
            };
            let priced = price_lines(&input, discount, "USD");
            let subtotal: Decimal = priced.iter().map(|l| l.subtotal).sum();
            let discounted: Decimal = priced.iter().map(|l| l.discount).sum();
            for (l, i) in priced.iter().zip(&input) {
                prop_assert!(l.discount >= Decimal::ZERO && l.discount <= l.subtotal);
                prop_assert_eq!(l.total, l.subtotal - l.discount + l.tax);
                prop_assert!(l.total.scale() <= 2);
                prop_assert_eq!(l.subtotal, i.price * Decimal::from(i.quantity));
            }
            if let Some(Discount::Fixed(v)) = discount {
                prop_assert_eq!(discounted, v.min(subtotal));
            }
        }

        #[test]
        fn refunds_of_a_line_sum_to_its_total(
            total in money(),
            parts in prop::collection::vec(1i64..4, 1..8),
        ) {
            let quantity: i64 = parts.iter().sum();
            let (mut units, mut amount) = (0, Decimal::ZERO);
            for q in parts {
                let a = refund_amount(total, quantity, units, amount, q, "USD");
                prop_assert!(a >= Decimal::ZERO);
                units += q;
                amount += a;
                prop_assert!(amount <= total);
            }
            prop_assert_eq!(amount, total);
        }
    }
}
