//! The gateway's fixed rules: the test-card table, fees, timings and request
//! validation. Pure functions; the state machine in `state.rs` applies them.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use omnisim_api::common::{currency_scale, fits_currency, is_currency_code, round_money};
use omnisim_api::pay::PaymentMethodKind;
use rust_decimal::Decimal;

use crate::error::{SimError, SimResult};

/// The largest amount accepted, in the currency's major unit (Stripe caps a
/// USD charge at 999,999.99; we allow more, but keep fee arithmetic far from
/// `Decimal`'s limits).
pub const AMOUNT_MAX: Decimal = Decimal::from_parts(99_999_999, 0, 0, false, 0);
/// Card-not-present (card, wallet, gift card) authorizations expire after this.
pub const AUTH_VALIDITY_ONLINE: TimeDelta = TimeDelta::days(7);
/// Card-present authorizations expire after this (Stripe: about 2 days).
pub const AUTH_VALIDITY_CARD_PRESENT: TimeDelta = TimeDelta::days(2);
/// Bank transfers (and their refunds) settle this long after they start. Real
/// ACH takes 1 to 4 business days; one simulated hour keeps scenarios short
/// while still leaving the intent `processing` across polls.
pub const BANK_SETTLEMENT_DELAY: TimeDelta = TimeDelta::hours(1);
/// The test bank account that always fails to settle.
pub const FAILING_BANK_ACCOUNT: &str = "000111111116";
/// The bank account used when a transfer names none.
pub const DEFAULT_BANK_ACCOUNT: &str = "000123456789";
/// Metadata limits, as Stripe sets them.
pub const METADATA_KEYS_MAX: usize = 50;
/// Longest metadata key, in characters.
pub const METADATA_KEY_CHARS_MAX: usize = 40;
/// Longest metadata value, in characters.
pub const METADATA_VALUE_CHARS_MAX: usize = 500;
/// Longest gift card code.
pub const GIFT_CARD_CODE_CHARS_MAX: usize = 64;
/// Largest page of `GET /v1/payment_intents`.
pub const LIST_LIMIT_MAX: u32 = 100;
/// Page size of `GET /v1/payment_intents` when none is asked for.
pub const LIST_LIMIT_DEFAULT: u32 = 10;

/// What a test card does when charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardBehaviour {
    /// Authorizes.
    Succeeds,
    /// Declines with this Stripe decline code.
    Declines(&'static str),
    /// Needs 3-D Secure, which this API cannot complete.
    RequiresAuthentication,
}

impl CardBehaviour {
    /// What the card does, in a few words (`succeeds`, `declines:
    /// insufficient_funds`).
    pub fn words(self) -> String {
        match self {
            CardBehaviour::Succeeds => "succeeds".to_owned(),
            CardBehaviour::Declines(code) => format!("declines: {code}"),
            CardBehaviour::RequiresAuthentication => "requires authentication".to_owned(),
        }
    }
}

/// The test cards of PLATFORMS.md, and Stripe's other brands' success
/// numbers; any other number is a live card.
pub const TEST_CARDS: &[(&str, CardBehaviour)] = &[
    ("4242424242424242", CardBehaviour::Succeeds),
    ("5555555555554444", CardBehaviour::Succeeds),
    ("378282246310005", CardBehaviour::Succeeds),
    (
        "4000000000000002",
        CardBehaviour::Declines("generic_decline"),
    ),
    (
        "4000000000009995",
        CardBehaviour::Declines("insufficient_funds"),
    ),
    ("4000000000009987", CardBehaviour::Declines("lost_card")),
    ("4000000000009979", CardBehaviour::Declines("stolen_card")),
    ("4000000000000069", CardBehaviour::Declines("expired_card")),
    ("4000000000000127", CardBehaviour::Declines("incorrect_cvc")),
    (
        "4000000000000119",
        CardBehaviour::Declines("processing_error"),
    ),
    ("4000000000003220", CardBehaviour::RequiresAuthentication),
];

/// Longest description, in characters (Stripe's limit).
pub const DESCRIPTION_CHARS_MAX: usize = 1000;

/// The card network of a card number, by its leading digits.
pub fn card_brand(number: &str) -> &'static str {
    let two = number.get(..2).unwrap_or("");
    let four: u32 = number.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    match two {
        "34" | "37" => "amex",
        "51" | "52" | "53" | "54" | "55" => "mastercard",
        _ if (2221..=2720).contains(&four) => "mastercard",
        "60" | "64" | "65" => "discover",
        _ if number.starts_with('4') => "visa",
        _ => "unknown",
    }
}

/// Checks a description's length.
pub fn description(field: &str, text: &str) -> SimResult<()> {
    if text.chars().count() > DESCRIPTION_CHARS_MAX {
        return Err(SimError::bad_value(
            field,
            format!("a description is at most {DESCRIPTION_CHARS_MAX} characters"),
        ));
    }
    Ok(())
}

/// A person-readable sentence for a decline code, as Stripe words them.
pub fn decline_message(decline_code: &str) -> &'static str {
    match decline_code {
        "insufficient_funds" => "Your card has insufficient funds.",
        "lost_card" | "stolen_card" | "generic_decline" => "Your card was declined.",
        "expired_card" => "Your card has expired.",
        "incorrect_cvc" => "Your card's security code is incorrect.",
        "processing_error" => {
            "An error occurred while processing your card. Try again in a little bit."
        }
        "authentication_required" => {
            "This payment requires authentication (3-D Secure), which this API cannot complete."
        }
        _ => "The payment was declined.",
    }
}

/// Checks a card number's shape, then looks it up among the test cards. The
/// number itself never leaves this function: only its behaviour and last four.
pub fn test_card(field: &str, number: &str) -> SimResult<(CardBehaviour, String)> {
    let digits = number.len();
    if !(12..=19).contains(&digits) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SimError::bad_value(
            field,
            "a card number is 12 to 19 digits, without spaces",
        ));
    }
    let last4 = number[digits - 4..].to_owned();
    match TEST_CARDS.iter().find(|(n, _)| *n == number) {
        Some((_, behaviour)) => Ok((*behaviour, last4)),
        None => Err(SimError::invalid(
            "live_card_rejected",
            format!(
                "the card ending in {last4} is not a test card; only test numbers are accepted: {} \
                 (what each does: docs/test-cards.md)",
                TEST_CARDS
                    .iter()
                    .map(|(n, b)| format!("{n} {}", b.words()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .field(field)),
    }
}

/// Checks a bank account number: 4 to 17 digits.
pub fn bank_account(field: &str, account: &str) -> SimResult<()> {
    if !(4..=17).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SimError::bad_value(
            field,
            "a bank account number is 4 to 17 digits",
        ));
    }
    Ok(())
}

/// The last four characters of a card or account number: all that is ever
/// stored or shown of it. Safe on any text, not only digits.
pub fn last4(s: &str) -> String {
    let skip = s.chars().count().saturating_sub(4);
    s.chars().skip(skip).collect()
}

/// Checks a currency code.
pub fn currency(field: &str, currency: &str) -> SimResult<()> {
    if is_currency_code(currency) {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            format!("`{currency}` is not a currency code: three upper-case letters, like `USD`"),
        ))
    }
}

/// Checks a positive amount in `currency` and returns it at the currency's
/// scale (`12.5` → `12.50`).
pub fn positive_amount(field: &str, amount: Decimal, currency: &str) -> SimResult<Decimal> {
    if amount <= Decimal::ZERO {
        return Err(SimError::bad_value(
            field,
            format!("the amount must be above zero, not {amount}"),
        ));
    }
    if !fits_currency(amount, currency) {
        return Err(SimError::bad_value(
            field,
            format!(
                "{amount} has more decimals than {currency} allows ({})",
                currency_scale(currency)
            ),
        ));
    }
    if amount > AMOUNT_MAX {
        return Err(SimError::invalid(
            "amount_too_large",
            format!("the amount may be at most {AMOUNT_MAX}"),
        )
        .field(field));
    }
    Ok(money(amount, currency))
}

/// `amount` rounded to the currency's minor unit and shown at its scale.
pub fn money(amount: Decimal, currency: &str) -> Decimal {
    let mut m = round_money(amount, currency);
    m.rescale(currency_scale(currency));
    m
}

/// Zero at the currency's scale (`0.00`).
pub fn zero(currency: &str) -> Decimal {
    money(Decimal::ZERO, currency)
}

/// Checks metadata against Stripe's limits.
pub fn metadata(field: &str, metadata: &BTreeMap<String, String>) -> SimResult<()> {
    if metadata.len() > METADATA_KEYS_MAX {
        return Err(SimError::bad_value(
            field,
            format!("metadata holds at most {METADATA_KEYS_MAX} keys"),
        ));
    }
    for (key, value) in metadata {
        let chars = key.chars().count();
        if chars == 0 || chars > METADATA_KEY_CHARS_MAX {
            return Err(SimError::bad_value(
                field,
                format!("metadata keys are 1 to {METADATA_KEY_CHARS_MAX} characters"),
            ));
        }
        if value.chars().count() > METADATA_VALUE_CHARS_MAX {
            return Err(SimError::bad_value(
                format!("{field}.{key}"),
                format!("metadata values are at most {METADATA_VALUE_CHARS_MAX} characters"),
            ));
        }
    }
    Ok(())
}

/// Checks a gift card code: 1 to 64 letters, digits, `-` or `_` (it is a
/// path segment of `GET /v1/gift_cards/{code}`).
pub fn gift_card_code(field: &str, code: &str) -> SimResult<()> {
    let ok = !code.is_empty()
        && code.len() <= GIFT_CARD_CODE_CHARS_MAX
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SimError::bad_value(
            field,
            format!(
                "a gift card code is 1 to {GIFT_CARD_CODE_CHARS_MAX} letters, digits, `-` or `_`"
            ),
        ))
    }
}

/// The gateway's fee on a charge of `amount`, rounded to the minor unit:
/// card and wallet 2.9% + 0.30, card present 2.7% + 0.05, bank transfer
/// 0.8% capped at 5.00, gift cards free.
pub fn fee(kind: PaymentMethodKind, amount: Decimal, currency: &str) -> Decimal {
    let raw = match kind {
        PaymentMethodKind::Card | PaymentMethodKind::Wallet => {
            amount * Decimal::new(29, 3) + Decimal::new(30, 2)
        }
        PaymentMethodKind::CardPresent => amount * Decimal::new(27, 3) + Decimal::new(5, 2),
        PaymentMethodKind::BankTransfer => (amount * Decimal::new(8, 3)).min(Decimal::new(500, 2)),
        PaymentMethodKind::GiftCard => Decimal::ZERO,
    };
    money(raw, currency)
}

/// How long an authorization by `kind` stays capturable.
pub fn auth_validity(kind: PaymentMethodKind) -> TimeDelta {
    match kind {
        PaymentMethodKind::CardPresent => AUTH_VALIDITY_CARD_PRESENT,
        _ => AUTH_VALIDITY_ONLINE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn fees_follow_the_price_list() {
        use PaymentMethodKind::*;
        assert_eq!(fee(Card, dec!(100.00), "USD"), dec!(3.20));
        assert_eq!(fee(Wallet, dec!(10.00), "USD"), dec!(0.59));
        assert_eq!(fee(CardPresent, dec!(100.00), "USD"), dec!(2.75));
        assert_eq!(fee(BankTransfer, dec!(100.00), "USD"), dec!(0.80));
        assert_eq!(fee(BankTransfer, dec!(10000.00), "USD"), dec!(5.00));
        assert_eq!(fee(GiftCard, dec!(100.00), "USD"), dec!(0.00));
        // 12.50 * 2.9% = 0.3625, + 0.30 = 0.6625 → 0.66.
        assert_eq!(fee(Card, dec!(12.50), "USD"), dec!(0.66));
        // Half to even: 0.125 → 0.12.
        assert_eq!(fee(BankTransfer, dec!(15.625), "USD"), dec!(0.12));
        assert_eq!(fee(Card, dec!(1000), "JPY").to_string(), "29");
        assert_eq!(fee(Card, dec!(1), "USD").to_string(), "0.33");
    }

    #[test]
    fn cards_are_checked_then_looked_up() {
        let (b, last4) = test_card("n", "4242424242424242").unwrap();
        assert_eq!((b, last4.as_str()), (CardBehaviour::Succeeds, "4242"));
        let (b, _) = test_card("n", "4000000000000002").unwrap();
        assert_eq!(b, CardBehaviour::Declines("generic_decline"));
        let (b, _) = test_card("n", "4000000000003220").unwrap();
        assert_eq!(b, CardBehaviour::RequiresAuthentication);
        assert_eq!(card_brand("5555555555554444"), "mastercard");
        assert_eq!(card_brand("378282246310005"), "amex");
        assert_eq!(card_brand("4000000000000002"), "visa");
        let e = test_card("n", "5425233430109903").unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("live_card_rejected", Some("n"))
        );
        assert!(e.message.contains("9903") && !e.message.contains("5425233430109903"));
        // The error lists the numbers that are accepted, and where they are told.
        for (n, _) in TEST_CARDS {
            assert!(e.message.contains(n), "{}", e.message);
        }
        assert!(e.message.contains("docs/test-cards.md"), "{}", e.message);
        for bad in [
            "42424242424",
            "42424242424242424242",
            "4242 4242 4242 4242",
            "",
            "abcd",
        ] {
            let e = test_card("n", bad).unwrap_err();
            assert_eq!(e.code, "parameter_invalid", "{bad}");
        }
    }

    #[test]
    fn amounts_must_be_positive_fit_the_currency_and_stay_bounded() {
        assert_eq!(
            positive_amount("a", dec!(12.5), "USD").unwrap().to_string(),
            "12.50"
        );
        assert_eq!(
            positive_amount("a", dec!(100), "JPY").unwrap().to_string(),
            "100"
        );
        let e = positive_amount("a", dec!(0), "USD").unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("parameter_invalid", Some("a"))
        );
        assert_eq!(
            positive_amount("a", dec!(-1), "USD").unwrap_err().code,
            "parameter_invalid"
        );
        assert_eq!(
            positive_amount("a", dec!(1.001), "USD").unwrap_err().code,
            "parameter_invalid"
        );
        assert_eq!(
            positive_amount("a", dec!(1.5), "JPY").unwrap_err().code,
            "parameter_invalid"
        );
        assert_eq!(
            positive_amount("a", dec!(1.500), "USD")
                .unwrap()
                .to_string(),
            "1.50"
        );
        assert_eq!(
            positive_amount("a", dec!(100000000), "USD")
                .unwrap_err()
                .code,
            "amount_too_large"
        );
    }

    #[test]
    fn metadata_limits() {
        let ok: BTreeMap<String, String> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(metadata("metadata", &ok).is_ok());
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(
            metadata("metadata", &many).unwrap_err().field.as_deref(),
            Some("metadata")
        );
        let long_key = BTreeMap::from([("k".repeat(41), "v".to_owned())]);
        assert_eq!(
            metadata("metadata", &long_key)
                .unwrap_err()
                .field
                .as_deref(),
            Some("metadata")
        );
        let key40 = BTreeMap::from([("k".repeat(40), "v".repeat(500))]);
        assert!(metadata("metadata", &key40).is_ok());
        let long_value = BTreeMap::from([("order".to_owned(), "v".repeat(501))]);
        assert_eq!(
            metadata("metadata", &long_value)
                .unwrap_err()
                .field
                .as_deref(),
            Some("metadata.order")
        );
        let empty_key = BTreeMap::from([(String::new(), "v".to_owned())]);
        assert!(metadata("metadata", &empty_key).is_err());
    }

    #[test]
    fn codes_currencies_and_accounts() {
        assert!(gift_card_code("c", "GIFT-1_a").is_ok());
        assert!(gift_card_code("c", "").is_err());
        assert!(gift_card_code("c", "a/b").is_err());
        assert!(gift_card_code("c", &"a".repeat(65)).is_err());
        assert!(currency("c", "USD").is_ok());
        for bad in ["usd", "US", "USDX", "U$D"] {
            assert!(currency("c", bad).is_err(), "{bad}");
        }
        assert!(bank_account("a", "000123456789").is_ok());
        assert!(bank_account("a", "12a4").is_err());
        assert!(bank_account("a", "123").is_err());
        assert_eq!(last4("000111111116"), "1116");
        assert_eq!(zero("USD").to_string(), "0.00");
    }
}
