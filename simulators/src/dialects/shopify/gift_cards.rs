//! Shopify's gift cards over the gateway's: the GraphQL `GiftCard` object,
//! `giftCard`, `giftCards`, `giftCardsCount` and `giftCardCreate`, and the
//! translation the REST subset (`rest.rs`) shares.
//!
//! Translation only. Every gift card lives at the gateway, whoever issued
//! it: a card sold at the register or online, store credit from a return,
//! a card the merchant issued. A Shopify gift card is the gateway card
//! numbered `N` (`gid://shopify/GiftCard/N`). Its balance is the gateway's
//! (an authorization's hold is already off it), and its transactions are
//! the card's movements at the gateway: a debit, negative, for each payment
//! made with it (held or captured), a credit for each refund onto it.
//!
//! `giftCardCreate` is the shop's own issue (`POST /v1/gift_cards/issue`):
//! nothing is charged, the gateway issues the card, the shop records
//! `gift_cards/issued`. The card's note is the reason the shop records. A
//! code is Shopify's 8 to 20 letters and digits, or generated (16 hex
//! digits) when none is given. What a gateway card cannot hold (an expiry
//! date, a recipient, a template) is refused with a user error naming it,
//! never dropped. The gateway keeps no note and no customer, so the dialect
//! records those of the cards it made (in `ids.rs`).

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Interface, Object, SimpleObject};
use omnisim_api::pay::{GiftCard, PaymentIntent};
use omnisim_api::shop::IssueGiftCard;
use rust_decimal::Decimal;
use sha2::Digest;
use tokio::sync::OnceCell;

use super::customers::{self, GCustomer};
use super::graphql::{
    DateTime, Dec, GOrder, MoneyV2, Page, Shared, Term, id_key, money, number_matches, page,
    shared, shop_currency, terms, time_key, time_matches,
};
use super::ids::{GiftCardRec, gid, parse_gid};
use crate::dialects::gift_card_ledger::{self as ledger, Movement, MovementKind};

/// The shortest code Shopify takes.
pub const CODE_LEN_MIN: usize = 8;
/// The longest code Shopify takes.
pub const CODE_LEN_MAX: usize = 20;

// ------------------------------------------------------------ translation

/// The last four characters of a code, as Shopify shows them.
pub fn last_characters(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// A code as Shopify masks it: `•••• •••• •••• 1234`.
pub fn masked_code(code: &str) -> String {
    format!("•••• •••• •••• {}", last_characters(code))
}

/// Every gateway card, with what the dialect recorded of each.
pub async fn all(sh: &Shared) -> Result<Vec<(GiftCard, GiftCardRec)>, String> {
    let cards = sh
        .pay
        .gift_cards()
        .await
        .map_err(|e| format!("the gateway did not answer: {e}"))?
        .data;
    Ok(sh.sim.read(|s| {
        cards
            .into_iter()
            .map(|c| {
                let rec = s.shopify.gift_card(&c.code);
                (c, rec)
            })
            .collect()
    }))
}

/// The gateway card numbered `n`.
pub async fn by_number(sh: &Shared, n: u64) -> Result<Option<(GiftCard, GiftCardRec)>, String> {
    Ok(all(sh).await?.into_iter().find(|(c, _)| c.number == n))
}

/// The cards a Shopify gift-card search keeps.
pub fn search(
    cards: Vec<(GiftCard, GiftCardRec)>,
    query: &str,
) -> Result<Vec<(GiftCard, GiftCardRec)>, String> {
    let mut found = cards;
    for t in terms(query) {
        let keep = keeper(&t)?;
        found.retain(|(c, _)| keep(c));
    }
    Ok(found)
}

/// Whether a card passes one search term.
type Keep = Box<dyn Fn(&GiftCard) -> bool>;

fn keeper(t: &Term) -> Result<Keep, String> {
    let value = t.value.to_ascii_lowercase();
    let text = |t: &Term| {
        if t.op == "=" {
            Ok(())
        } else {
            Err(format!("`{}:` takes a value, not a comparison", t.field))
        }
    };
    Ok(match t.field.as_str() {
        "" if t.value == "OR" || t.value == "NOT" => {
            return Err(format!(
                "omnisim's gift card search ANDs its terms; `{}` is not supported",
                t.value
            ));
        }
        // Free text: the last characters of the code.
        "" | "last_characters" => {
            text(t)?;
            Box::new(move |c| last_characters(&c.code).eq_ignore_ascii_case(&value))
        }
        "balance_status" => {
            text(t)?;
            let v = value.clone();
            if !["full", "partial", "empty", "full_or_partial"].contains(&v.as_str()) {
                return Err(format!(
                    "`balance_status:` is full, partial, empty or full_or_partial, not `{}`",
                    t.value
                ));
            }
            Box::new(move |c| {
                let full = c.balance == c.initial_balance;
                let empty = c.balance.is_zero();
                match v.as_str() {
                    "full" => full,
                    "empty" => empty,
                    "partial" => !full && !empty,
                    _ => !empty,
                }
            })
        }
        // A gateway card is never disabled and never expires.
        "status" => {
            text(t)?;
            let enabled = match value.as_str() {
                "enabled" => true,
                "disabled" | "expired" | "expiring" => false,
                _ => {
                    return Err(format!(
                        "`status:` is enabled, disabled, expired or expiring, not `{}`",
                        t.value
                    ));
                }
            };
            Box::new(move |_| enabled)
        }
        "id" => {
            let t = t.clone();
            Box::new(move |c| number_matches(c.number, &t))
        }
        "created_at" => {
            let t = t.clone();
            Box::new(move |c| time_matches(c.created_at, &t))
        }
        "initial_value" | "balance" => {
            let Ok(v) = t.value.parse::<Decimal>() else {
                return Err(format!("`{}:` takes an amount, not `{}`", t.field, t.value));
            };
            let (op, balance) = (t.op, t.field == "balance");
            Box::new(move |c| {
                let x = if balance {
                    c.balance
                } else {
                    c.initial_balance
                };
                match op {
                    ">" => x > v,
                    ">=" => x >= v,
                    "<" => x < v,
                    "<=" => x <= v,
                    _ => x == v,
                }
            })
        }
        other => {
            return Err(format!(
                "omnisim's gift card search supports last_characters, balance_status, status, id, created_at, initial_value and balance; not `{other}:`"
            ));
        }
    })
}

/// A gift card Shopify is asked to create, before the shop issues it.
#[derive(Clone, Debug, Default)]
pub struct Create {
    /// `initialValue` / `initial_value`.
    pub initial_value: Decimal,
    /// `code`; generated when absent.
    pub code: Option<String>,
    /// `note`.
    pub note: Option<String>,
    /// `customerId` / `customer_id`, as given.
    pub customer_id: Option<String>,
    /// Fields Shopify has and a gateway card cannot hold, by the name the
    /// caller gave them.
    pub refused: Vec<&'static str>,
}

/// Why a create was refused: the input field (GraphQL's name and REST's),
/// a message, and Shopify's error code. The message is REST's, which
/// follows its field (`code: ["has already been taken"]`); GraphQL's
/// names the field first ([`Refusal::full_message`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The GraphQL input field (`initialValue`, …).
    pub field: &'static str,
    /// The REST field (`initial_value`, …).
    pub rest_field: &'static str,
    /// Shopify's words.
    pub message: String,
    /// Shopify's code.
    pub code: GiftCardErrorCode,
}

impl Refusal {
    /// The message with its field in words, as GraphQL's user errors read:
    /// `Code has already been taken`.
    pub fn full_message(&self) -> String {
        let label = match self.field {
            "code" => "Code",
            "initialValue" => "Initial value",
            "customerId" => "Customer",
            _ => return self.message.clone(),
        };
        format!("{label} {}", self.message)
    }
}

fn refuse(
    field: &'static str,
    rest_field: &'static str,
    message: impl Into<String>,
    code: GiftCardErrorCode,
) -> Refusal {
    Refusal {
        field,
        rest_field,
        message: message.into(),
        code,
    }
}

fn check_code(code: &str) -> Result<(), Refusal> {
    let n = code.chars().count();
    if n < CODE_LEN_MIN {
        return Err(refuse(
            "code",
            "code",
            format!("is too short (minimum is {CODE_LEN_MIN} characters)"),
            GiftCardErrorCode::TooShort,
        ));
    }
    if n > CODE_LEN_MAX {
        return Err(refuse(
            "code",
            "code",
            format!("is too long (maximum is {CODE_LEN_MAX} characters)"),
            GiftCardErrorCode::TooLong,
        ));
    }
    if !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(refuse(
            "code",
            "code",
            "can only contain letters and numbers",
            GiftCardErrorCode::Invalid,
        ));
    }
    Ok(())
}

/// A generated code: 16 hex digits from the shop's counter.
fn generated_code(n: u64) -> String {
    let digest = sha2::Sha256::digest(format!("omnisim-shopify-gift-card-{n}"));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Issues the card: the shop's own issue, then the dialect's record of its
/// note and customer. Returns the card as the gateway holds it.
pub async fn create(sh: &Shared, req: Create) -> Result<(GiftCard, GiftCardRec), Refusal> {
    if let Some(name) = req.refused.first() {
        return Err(refuse(
            "input",
            "base",
            format!(
                "omnisim's gift cards cannot hold `{name}` (they never expire and have no recipient or template)"
            ),
            GiftCardErrorCode::Invalid,
        ));
    }
    if req.initial_value <= Decimal::ZERO {
        return Err(refuse(
            "initialValue",
            "initial_value",
            "must be greater than 0",
            GiftCardErrorCode::GreaterThan,
        ));
    }
    if let Some(code) = &req.code {
        check_code(code)?;
    }
    let customer = match &req.customer_id {
        None => None,
        Some(id) => {
            let key = customers::key_of(id);
            let found = key
                .as_ref()
                .is_some_and(|k| sh.sim.read(|s| s.customers.get(k).is_ok()));
            if !found {
                return Err(refuse(
                    "customerId",
                    "customer_id",
                    "does not exist",
                    GiftCardErrorCode::CustomerNotFound,
                ));
            }
            key
        }
    };
    let currency = sh.sim.read(shop_currency);
    let reason = req
        .note
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "issued through Shopify's Admin API".to_owned());
    // A generated code another card already holds takes the next number;
    // a given one is the caller's to change.
    let mut tries = 0;
    let issued = loop {
        let code = match &req.code {
            Some(c) => c.clone(),
            None => {
                let n = sh
                    .sim
                    .commit(|s, _| Ok(s.shopify.next_gift_code()))
                    .map_err(|e| internal(&e))?;
                generated_code(n)
            }
        };
        let issue = IssueGiftCard {
            code,
            amount: req.initial_value,
            currency: Some(currency.clone()),
            reason: reason.clone(),
            customer: customer.clone(),
        };
        match crate::shop::routes::issue_gift_card_at(&sh.sim, &sh.pay, &issue).await {
            Ok(card) => break card,
            Err(e) if e.code == "resource_already_exists" => {
                tries += 1;
                if req.code.is_some() || tries >= 8 {
                    return Err(refuse(
                        "code",
                        "code",
                        "has already been taken",
                        GiftCardErrorCode::Taken,
                    ));
                }
            }
            Err(e) if e.field.as_deref() == Some("amount") => {
                return Err(refuse(
                    "initialValue",
                    "initial_value",
                    e.message,
                    GiftCardErrorCode::Invalid,
                ));
            }
            Err(e) => return Err(internal(&e)),
        }
    };
    let rec = GiftCardRec {
        note: req.note.clone(),
        customer,
    };
    sh.sim
        .commit(|s, _| {
            s.shopify.record_gift_card(&issued.code, rec.clone());
            Ok(())
        })
        .map_err(|e| internal(&e))?;
    let card = sh.pay.gift_card(&issued.code).await.map_err(|e| {
        refuse(
            "input",
            "base",
            e.to_string(),
            GiftCardErrorCode::InternalError,
        )
    })?;
    Ok((card, rec))
}

fn internal(e: &crate::error::SimError) -> Refusal {
    refuse(
        "input",
        "base",
        e.message.clone(),
        GiftCardErrorCode::InternalError,
    )
}

// ------------------------------------------------------------------ GraphQL

/// Every gateway intent, read once per request at most: the cards of one
/// listing share it.
type Intents = Arc<OnceCell<Vec<PaymentIntent>>>;

/// `GiftCard`.
#[derive(Clone, Debug)]
pub struct GGiftCard {
    c: GiftCard,
    rec: GiftCardRec,
    intents: Intents,
    /// Its movements, read once for `updatedAt` and `transactions` alike.
    moved: Arc<OnceCell<Vec<Movement>>>,
}

impl GGiftCard {
    /// The card `c`, with what the dialect recorded of it.
    pub fn new(c: GiftCard, rec: GiftCardRec) -> Self {
        GGiftCard::sharing(c, rec, &Intents::default())
    }

    /// The same, reading the gateway's intents through `intents`.
    fn sharing(c: GiftCard, rec: GiftCardRec, intents: &Intents) -> Self {
        GGiftCard {
            c,
            rec,
            intents: Arc::clone(intents),
            moved: Arc::default(),
        }
    }

    async fn moved(&self, ctx: &Context<'_>) -> async_graphql::Result<&[Movement]> {
        let pay = &shared(ctx).pay;
        let moved = self
            .moved
            .get_or_try_init(|| async {
                let intents = self
                    .intents
                    .get_or_try_init(|| ledger::all_intents(pay))
                    .await?;
                ledger::movements(pay, &self.c, intents).await
            })
            .await?;
        Ok(moved)
    }
}

#[Object(name = "GiftCard")]
impl GGiftCard {
    async fn id(&self) -> ID {
        ID(gid("GiftCard", self.c.number))
    }
    async fn balance(&self) -> MoneyV2 {
        money(self.c.balance, &self.c.currency)
    }
    async fn initial_value(&self) -> MoneyV2 {
        money(self.c.initial_balance, &self.c.currency)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.c.created_at)
    }
    /// The card's last movement.
    async fn updated_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime> {
        let last = self.moved(ctx).await?.last().map(|m| m.at);
        Ok(DateTime(last.unwrap_or(self.c.created_at)))
    }
    async fn enabled(&self) -> bool {
        true
    }
    async fn deactivated_at(&self) -> Option<DateTime> {
        None
    }
    async fn expires_on(&self) -> Option<String> {
        None
    }
    async fn last_characters(&self) -> String {
        last_characters(&self.c.code)
    }
    async fn masked_code(&self) -> String {
        masked_code(&self.c.code)
    }
    async fn note(&self) -> Option<&str> {
        self.rec.note.as_deref()
    }
    async fn customer(&self, ctx: &Context<'_>) -> Option<GCustomer> {
        let key = self.rec.customer.as_ref()?;
        shared(ctx)
            .sim
            .read(|s| s.customers.get(key).ok())
            .map(GCustomer::new)
    }
    /// The gateway does not tie a card to the order that sold it.
    async fn order(&self) -> Option<GOrder> {
        None
    }
    async fn template_suffix(&self) -> Option<&str> {
        None
    }
    #[allow(clippy::too_many_arguments)]
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        reverse: Option<bool>,
    ) -> async_graphql::Result<Connection<String, GiftCardTransaction>> {
        let p = Page::new(first, after, last, before, reverse);
        let items = transactions(self, self.moved(ctx).await?)
            .into_iter()
            .map(|t| (time_key(t.tx().at, t.tx().n), t))
            .collect();
        page(items, p)
    }
}

/// One movement as Shopify's transaction: the issue is the card's initial
/// value, not a transaction; a payment is a debit (negative), a refund a
/// credit. Numbered `card × 1000 + its place among the card's movements`.
fn transactions(card: &GGiftCard, moved: &[Movement]) -> Vec<GiftCardTransaction> {
    moved
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let tx = Tx {
                n: card.c.number * 1000 + i as u64,
                amount: m.delta(),
                currency: card.c.currency.clone(),
                at: m.at,
                card: Box::new(card.clone()),
            };
            match m.kind {
                MovementKind::Issue => None,
                MovementKind::Redeem { .. } => {
                    Some(GiftCardTransaction::Debit(GiftCardDebitTransaction(tx)))
                }
                MovementKind::Refund { .. } => {
                    Some(GiftCardTransaction::Credit(GiftCardCreditTransaction(tx)))
                }
            }
        })
        .collect()
}

/// What both kinds of transaction hold.
#[derive(Clone, Debug)]
pub struct Tx {
    n: u64,
    amount: Decimal,
    currency: String,
    at: chrono::DateTime<chrono::Utc>,
    card: Box<GGiftCard>,
}

/// `GiftCardCreditTransaction`: a refund onto the card.
#[derive(Clone, Debug)]
pub struct GiftCardCreditTransaction(Tx);

/// `GiftCardDebitTransaction`: a payment made with the card.
#[derive(Clone, Debug)]
pub struct GiftCardDebitTransaction(Tx);

/// The fields both kinds of transaction serve, alike but for their id's
/// type name.
macro_rules! transaction_object {
    ($ty:ident) => {
        #[Object]
        impl $ty {
            async fn id(&self) -> ID {
                ID(gid(stringify!($ty), self.0.n))
            }
            async fn amount(&self) -> MoneyV2 {
                money(self.0.amount, &self.0.currency)
            }
            async fn processed_at(&self) -> DateTime {
                DateTime(self.0.at)
            }
            async fn note(&self) -> Option<String> {
                None
            }
            async fn gift_card(&self) -> GGiftCard {
                (*self.0.card).clone()
            }
        }
    };
}

transaction_object!(GiftCardCreditTransaction);
transaction_object!(GiftCardDebitTransaction);

/// `GiftCardTransaction`.
#[derive(Interface, Clone, Debug)]
#[graphql(
    field(name = "id", ty = "ID"),
    field(name = "amount", ty = "MoneyV2"),
    field(name = "processed_at", ty = "DateTime"),
    field(name = "note", ty = "Option<String>"),
    field(name = "gift_card", ty = "GGiftCard")
)]
pub enum GiftCardTransaction {
    /// A refund onto the card.
    Credit(GiftCardCreditTransaction),
    /// A payment made with the card.
    Debit(GiftCardDebitTransaction),
}

impl GiftCardTransaction {
    fn tx(&self) -> &Tx {
        match self {
            GiftCardTransaction::Credit(t) => &t.0,
            GiftCardTransaction::Debit(t) => &t.0,
        }
    }
}

/// `GiftCardSortKeys`, those omnisim sorts by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GiftCardSortKeys {
    /// What is left.
    Balance,
    /// The code.
    Code,
    /// When issued.
    CreatedAt,
    /// The number.
    Id,
    /// What it was issued with.
    InitialValue,
}

/// `GiftCardErrorCode`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GiftCardErrorCode {
    /// No such customer.
    CustomerNotFound,
    /// Too many cards.
    GiftCardLimitExceeded,
    /// Not above the minimum.
    GreaterThan,
    /// Something failed inside.
    InternalError,
    /// Not a value this field takes.
    Invalid,
    /// A required field is missing.
    MissingArgument,
    /// No such recipient.
    RecipientNotFound,
    /// Already used.
    Taken,
    /// Too long.
    TooLong,
    /// Too short.
    TooShort,
}

/// `GiftCardUserError`.
#[derive(SimpleObject, Clone, Debug)]
pub struct GiftCardUserError {
    field: Option<Vec<String>>,
    message: String,
    code: Option<GiftCardErrorCode>,
}

/// `GiftCardRecipientInput`: taken so that a document naming it parses;
/// any value is refused.
#[derive(InputObject, Clone, Debug)]
pub struct GiftCardRecipientInput {
    recipient_id: Option<ID>,
    message: Option<String>,
    preferred_name: Option<String>,
    send_notification_at: Option<DateTime>,
}

/// `GiftCardCreateInput`.
#[derive(InputObject, Clone, Debug)]
pub struct GiftCardCreateInput {
    initial_value: Dec,
    code: Option<String>,
    customer_id: Option<ID>,
    note: Option<String>,
    expires_on: Option<String>,
    recipient_attributes: Option<GiftCardRecipientInput>,
    template_suffix: Option<String>,
}

/// `GiftCardCreatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct GiftCardCreatePayload {
    gift_card: Option<GGiftCard>,
    gift_card_code: Option<String>,
    user_errors: Vec<GiftCardUserError>,
}

/// `Count`.
#[derive(SimpleObject, Clone, Debug)]
pub struct Count {
    count: i32,
    precision: CountPrecision,
}

/// `CountPrecision`.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CountPrecision {
    /// The count is exact.
    Exact,
    /// There are at least this many.
    AtLeast,
}

/// `giftCard(id:)`: null for an unknown id.
pub async fn gift_card(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<GGiftCard>> {
    let Some(n) = parse_gid("GiftCard", id) else {
        return Ok(None);
    };
    Ok(by_number(shared(ctx), n)
        .await?
        .map(|(c, rec)| GGiftCard::new(c, rec)))
}

/// `giftCards(query:, sortKey:)`.
pub async fn gift_cards(
    ctx: &Context<'_>,
    p: Page,
    query: Option<String>,
    sort_key: Option<GiftCardSortKeys>,
) -> async_graphql::Result<Connection<String, GGiftCard>> {
    let found = search(all(shared(ctx)).await?, query.as_deref().unwrap_or(""))?;
    let amount = |d: Decimal, n: u64| format!("{:030.6}|{}", d, id_key(n));
    let intents = Intents::default();
    let items = found
        .into_iter()
        .map(|(c, rec)| {
            let n = c.number;
            let k = match sort_key {
                Some(GiftCardSortKeys::Balance) => amount(c.balance, n),
                Some(GiftCardSortKeys::InitialValue) => amount(c.initial_balance, n),
                Some(GiftCardSortKeys::Code) => format!("{}|{}", c.code, id_key(n)),
                Some(GiftCardSortKeys::CreatedAt) => time_key(c.created_at, n),
                Some(GiftCardSortKeys::Id) | None => id_key(n),
            };
            (k, GGiftCard::sharing(c, rec, &intents))
        })
        .collect();
    page(items, p)
}

/// `giftCardsCount(query:, limit:)`: up to `limit` (10 000 unless given).
pub async fn gift_cards_count(
    ctx: &Context<'_>,
    query: Option<String>,
    limit: Option<i32>,
) -> async_graphql::Result<Count> {
    let n = search(all(shared(ctx)).await?, query.as_deref().unwrap_or(""))?.len();
    let limit = limit.unwrap_or(10_000).max(0) as usize;
    Ok(if n > limit {
        Count {
            count: limit as i32,
            precision: CountPrecision::AtLeast,
        }
    } else {
        Count {
            count: n as i32,
            precision: CountPrecision::Exact,
        }
    })
}

/// `giftCardCreate(input:)`.
pub async fn gift_card_create(
    ctx: &Context<'_>,
    input: GiftCardCreateInput,
) -> GiftCardCreatePayload {
    let mut refused = Vec::new();
    if input.expires_on.is_some() {
        refused.push("expiresOn");
    }
    if input.recipient_attributes.is_some() {
        refused.push("recipientAttributes");
    }
    if input.template_suffix.is_some() {
        refused.push("templateSuffix");
    }
    let req = Create {
        initial_value: input.initial_value.0,
        code: input.code,
        note: input.note,
        customer_id: input.customer_id.map(|id| id.0),
        refused,
    };
    match create(shared(ctx), req).await {
        Ok((c, rec)) => GiftCardCreatePayload {
            gift_card_code: Some(c.code.clone()),
            gift_card: Some(GGiftCard::new(c, rec)),
            user_errors: Vec::new(),
        },
        Err(r) => GiftCardCreatePayload {
            gift_card: None,
            gift_card_code: None,
            user_errors: vec![GiftCardUserError {
                field: Some(if r.field == "input" {
                    vec!["input".to_owned()]
                } else {
                    vec!["input".to_owned(), r.field.to_owned()]
                }),
                message: r.full_message(),
                code: Some(r.code),
            }],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_show_their_last_four_and_follow_shopifys_rules() {
        assert_eq!(last_characters("GC-ANA"), "-ANA");
        assert_eq!(last_characters("ab"), "ab");
        assert_eq!(masked_code("abcdefgh1234"), "•••• •••• •••• 1234");
        assert_eq!(check_code("abcd1234"), Ok(()));
        assert_eq!(
            check_code("abc123").unwrap_err().code,
            GiftCardErrorCode::TooShort
        );
        assert_eq!(
            check_code(&"a".repeat(21)).unwrap_err().code,
            GiftCardErrorCode::TooLong
        );
        assert_eq!(
            check_code("abcd-1234").unwrap_err().code,
            GiftCardErrorCode::Invalid
        );
        let g = generated_code(1);
        assert_eq!(g.len(), 16);
        assert_eq!(check_code(&g), Ok(()));
        assert_ne!(g, generated_code(2));
    }

    #[test]
    fn search_terms_narrow_by_balance_and_refuse_what_is_not_served() {
        let card = |n: u64, balance: i64| {
            let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
            let c = GiftCard {
                code: format!("card{n:08}"),
                number: n,
                balance: Decimal::from(balance),
                currency: "USD".into(),
                created_at: at,
                initial_balance: Decimal::from(50),
                held: Decimal::ZERO,
                captured: Decimal::from(50 - balance),
                refunded: Decimal::ZERO,
            };
            (c, GiftCardRec::default())
        };
        let cards = vec![card(1, 50), card(2, 20), card(3, 0)];
        let numbers = |q: &str| -> Vec<u64> {
            search(cards.clone(), q)
                .unwrap()
                .iter()
                .map(|(c, _)| c.number)
                .collect()
        };
        assert_eq!(numbers("balance_status:full"), [1]);
        assert_eq!(numbers("balance_status:partial"), [2]);
        assert_eq!(numbers("balance_status:empty"), [3]);
        assert_eq!(numbers("balance_status:full_or_partial"), [1, 2]);
        assert_eq!(numbers("status:enabled id:>1"), [2, 3]);
        assert_eq!(numbers("status:disabled"), Vec::<u64>::new());
        assert_eq!(numbers("0002"), [2]);
        assert_eq!(numbers("balance:>=20"), [1, 2]);
        let e = search(cards.clone(), "tag:x").err().unwrap();
        assert!(e.contains("`tag:`"), "{e}");
        assert!(search(cards, "balance_status:some").is_err());
    }
}
