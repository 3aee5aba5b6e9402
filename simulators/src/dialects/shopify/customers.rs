//! Shopify's customers over the shop's customer profiles
//! (`crate::customers::CustomerBook`): the GraphQL `Customer` object, its
//! queries and its three mutations, and the translation the REST subset
//! (`rest.rs`) and the webhook bodies (`wire.rs`) share.
//!
//! Translation only. A Shopify customer is the shop profile `cus_00000N`,
//! numbered `N` (`gid://shopify/Customer/N`). Its `firstName` and
//! `lastName` are the profile's one name split at the first space (so
//! `"Mary Ann" + "Smith"` reads back as `"Mary" + "Ann Smith"`), and its
//! email marketing state is the profile's yes/no consent: `SUBSCRIBED` is
//! yes; `NOT_SUBSCRIBED` (as it reads) and `UNSUBSCRIBED` (as it is written)
//! are no. Phones read back in E.164 (`+14155550100`), as Shopify writes
//! them. Every write is a call into the shop state machine, so it emits
//! the native `customers/create` and `customers/update` events, under the
//! caller's credential.
//!
//! A phone belongs to one customer on the shop's own book, as on Shopify
//! (its `phone_taken` reads "Phone has already been taken"). One rule is
//! Shopify's alone and checked here, before the write: email marketing
//! consent needs an email (the native profile's `accepts_marketing` is not
//! tied to one channel). A field Shopify has and the profile
//! cannot hold (tags, a note, a locale, addresses, a consent time or
//! opt-in level other than single opt-in, `PENDING`) is refused with a user
//! error naming it, never dropped.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use omnisim_api::customer::{
    CreateCustomer, Customer, CustomerFilter, UpdateCustomer, normalize_email, normalize_phone,
};

use super::graphql::{
    DateTime, Page, Shared, Term, UnsignedInt64, UserError, id_key, number_matches, page, shared,
    terms, time_key, time_matches, user_error,
};
use super::ids::{counter, gid, parse_gid};
use crate::error::{SimError, SimResult};
use crate::shop::ShopState;

// ------------------------------------------------------------ translation

/// The shop's key of customer number `n`.
pub fn key(n: u64) -> String {
    format!("cus_{n:06}")
}

/// The number of profile `c` (`cus_000007` is 7).
pub fn number(c: &Customer) -> u64 {
    counter(&c.id).unwrap_or(0)
}

/// The shop's key of a Shopify customer id (`gid://shopify/Customer/7` or
/// `7`).
pub fn key_of(id: &str) -> Option<String> {
    parse_gid("Customer", id).map(key)
}

/// A name as Shopify's first and last name: split at the first space; an
/// empty part is none.
pub fn split_name(name: &str) -> (Option<String>, Option<String>) {
    let name = name.trim();
    let (first, last) = match name.split_once(' ') {
        Some((f, l)) => (f.trim(), l.trim()),
        None => (name, ""),
    };
    let part = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    (part(first), part(last))
}

/// The one name of a first and a last name (either may be absent).
pub fn join_name(first: Option<&str>, last: Option<&str>) -> String {
    [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A phone as Shopify writes it: E.164, `+` and the digits.
pub fn e164(phone: &str) -> String {
    normalize_phone(phone)
}

/// The display name Shopify gives: the name, else the email, else the phone.
pub fn display_name(c: &Customer) -> String {
    if !c.name.trim().is_empty() {
        c.name.trim().to_owned()
    } else if let Some(e) = &c.email {
        e.clone()
    } else {
        c.phone.as_deref().map(e164).unwrap_or_default()
    }
}

/// What a write does to one text field of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Change {
    /// Not named: unchanged.
    #[default]
    Keep,
    /// `null` or empty: removed.
    Clear,
    /// A new value.
    Set(String),
}

impl Change {
    /// A GraphQL input field: absent keeps, `null` or `""` clears.
    pub fn from_graphql(v: MaybeUndefined<String>) -> Change {
        match v {
            MaybeUndefined::Undefined => Change::Keep,
            MaybeUndefined::Null => Change::Clear,
            MaybeUndefined::Value(s) => Change::of(Some(s)),
        }
    }

    /// A given value: `None` or blank clears.
    pub fn of(v: Option<String>) -> Change {
        match v {
            Some(s) if !s.trim().is_empty() => Change::Set(s),
            _ => Change::Clear,
        }
    }

    fn set(&self) -> Option<&str> {
        match self {
            Change::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The native update's value: `None` unchanged, `""` removed.
    fn native(&self) -> Option<String> {
        match self {
            Change::Keep => None,
            Change::Clear => Some(String::new()),
            Change::Set(s) => Some(s.clone()),
        }
    }
}

/// A Shopify write to a profile, in the model's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Write {
    /// `firstName` / `first_name`.
    pub first: Change,
    /// `lastName` / `last_name`.
    pub last: Change,
    /// The email.
    pub email: Change,
    /// The phone.
    pub phone: Change,
    /// Email marketing consent, when the write names it.
    pub consent: Option<bool>,
}

impl Write {
    /// The native create.
    pub fn create(&self) -> CreateCustomer {
        CreateCustomer {
            name: join_name(self.first.set(), self.last.set()),
            email: self.email.set().map(str::to_owned),
            phone: self.phone.set().map(str::to_owned),
            accepts_marketing: self.consent.unwrap_or(false),
        }
    }

    /// The native update of profile `now`: a name part not named keeps its
    /// value from the current name.
    pub fn update(&self, now: &Customer) -> UpdateCustomer {
        let name = if self.first == Change::Keep && self.last == Change::Keep {
            None
        } else {
            let (first, last) = split_name(&now.name);
            let pick = |c: &Change, old: Option<String>| match c {
                Change::Keep => old,
                Change::Clear => None,
                Change::Set(s) => Some(s.clone()),
            };
            let first = pick(&self.first, first);
            let last = pick(&self.last, last);
            Some(join_name(first.as_deref(), last.as_deref()))
        };
        // A phone written back as it reads (E.164) is the same phone: no
        // change, as a client that saves what it read expects.
        let same_phone = match (&self.phone, &now.phone) {
            (Change::Set(new), Some(old)) => normalize_phone(new) == normalize_phone(old),
            _ => false,
        };
        UpdateCustomer {
            name,
            email: self.email.native(),
            phone: if same_phone {
                None
            } else {
                self.phone.native()
            },
            accepts_marketing: self.consent,
        }
    }
}

fn consent_needs_email() -> SimError {
    SimError::bad_value(
        "consent",
        "Email marketing consent needs an email: the customer has none",
    )
}

/// Makes a profile (the native create, after Shopify's own checks).
pub fn create(sh: &Shared, w: &Write) -> SimResult<Customer> {
    let req = w.create();
    sh.sim.commit(|s, fx| {
        if w.consent == Some(true) && req.email.is_none() {
            return Err(consent_needs_email());
        }
        s.customers.create(fx, req)
    })
}

/// Changes profile `key` (the native update, after Shopify's own checks).
pub fn update(sh: &Shared, key: &str, w: &Write) -> SimResult<Customer> {
    sh.sim.commit(|s, fx| {
        let now = s.customers.get(key)?;
        let req = w.update(&now);
        let email_after = match &req.email {
            None => now.email.clone(),
            Some(e) if e.trim().is_empty() => None,
            Some(e) => Some(e.clone()),
        };
        if w.consent == Some(true) && email_after.is_none() {
            return Err(consent_needs_email());
        }
        s.customers.update(fx, key, req)
    })
}

/// A native refusal's message as Shopify words it.
fn message(e: &SimError) -> String {
    match e.code {
        "email_taken" => "Email has already been taken".to_owned(),
        "phone_taken" => "Phone has already been taken".to_owned(),
        _ => e.message.clone(),
    }
}

// ----------------------------------------------------------------- search

const SEARCH_FIELDS: &str = "email, phone, id, first_name, last_name, accepts_marketing, \
     created_at (or customer_date), updated_at, and words without a field";

/// The profiles a Shopify customer search matches, by number: `email:`
/// (the whole address, any case; `*` for any) and `phone:` (its digits;
/// `*` for any) match as the native book does, `id:`, `created_at:`
/// (`customer_date:`) and `updated_at:` compare, `first_name:` and
/// `last_name:` match the part in any case, `accepts_marketing:` is `true`
/// or `false`, a bare word is a piece of the name or email, or of the
/// phone's digits. Terms are ANDed. Anything else (another field, `OR`,
/// `NOT`, `-field:`) is refused by name.
pub fn search(s: &ShopState, query: &str) -> Result<Vec<Customer>, String> {
    let terms = terms(query);
    let mut found = s.customers.all();
    for t in &terms {
        found = narrow(s, found, t)?;
    }
    Ok(found)
}

fn native_ids(s: &ShopState, filter: &CustomerFilter) -> Result<Vec<String>, String> {
    s.customers
        .list(filter)
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .map_err(|e| e.message)
}

fn narrow(s: &ShopState, found: Vec<Customer>, t: &Term) -> Result<Vec<Customer>, String> {
    let text_op = |t: &Term| -> Result<(), String> {
        if t.op == "=" {
            Ok(())
        } else {
            Err(format!("`{}:` takes a value, not a comparison", t.field))
        }
    };
    let keep: Box<dyn Fn(&Customer) -> bool> = match t.field.as_str() {
        "" if t.value == "OR" || t.value == "NOT" => {
            return Err(format!(
                "omnisim's customer search ANDs its terms; `{}` is not supported",
                t.value
            ));
        }
        f if f.starts_with('-') => {
            return Err(format!(
                "omnisim's customer search does not negate terms (`{f}:`)"
            ));
        }
        "email" if t.value == "*" => Box::new(|c: &Customer| c.email.is_some()),
        "email" => {
            text_op(t)?;
            let ids = native_ids(
                s,
                &CustomerFilter {
                    email: Some(t.value.clone()),
                    ..CustomerFilter::default()
                },
            )?;
            Box::new(move |c: &Customer| ids.contains(&c.id))
        }
        "phone" if t.value == "*" => Box::new(|c: &Customer| c.phone.is_some()),
        "phone" => {
            text_op(t)?;
            let ids = native_ids(
                s,
                &CustomerFilter {
                    phone: Some(t.value.clone()),
                    ..CustomerFilter::default()
                },
            )?;
            Box::new(move |c: &Customer| ids.contains(&c.id))
        }
        "id" => Box::new(|c: &Customer| number_matches(number(c), t)),
        "created_at" | "customer_date" => Box::new(|c: &Customer| time_matches(c.created_at, t)),
        "updated_at" => Box::new(|c: &Customer| time_matches(c.updated_at, t)),
        "first_name" | "last_name" => {
            text_op(t)?;
            let want = t.value.to_lowercase();
            let first = t.field == "first_name";
            Box::new(move |c: &Customer| {
                let (f, l) = split_name(&c.name);
                let part = if first { f } else { l };
                part.is_some_and(|p| p.to_lowercase() == want)
            })
        }
        "accepts_marketing" => {
            text_op(t)?;
            let want = match t.value.to_ascii_lowercase().as_str() {
                "true" | "yes" => true,
                "false" | "no" => false,
                other => {
                    return Err(format!(
                        "`accepts_marketing:` is `true` or `false`, not `{other}`"
                    ));
                }
            };
            Box::new(move |c: &Customer| c.accepts_marketing == want)
        }
        "" => {
            let word = t.value.to_lowercase();
            let digits: String = word.chars().filter(char::is_ascii_digit).collect();
            Box::new(move |c: &Customer| {
                c.name.to_lowercase().contains(&word)
                    || c.email
                        .as_deref()
                        .is_some_and(|e| normalize_email(e).contains(&word))
                    || (!digits.is_empty()
                        && c.phone
                            .as_deref()
                            .is_some_and(|p| normalize_phone(p).contains(&digits)))
            })
        }
        other => {
            return Err(format!(
                "omnisim's customer search does not support `{other}:`; it supports {SEARCH_FIELDS}"
            ));
        }
    };
    Ok(found.into_iter().filter(|c| keep(c)).collect())
}

// ----------------------------------------------------------------- GraphQL

/// `CustomerEmailMarketingState` (of `emailMarketingConsent` and its input).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum CustomerEmailMarketingState {
    /// Read-only.
    Invalid,
    /// Never subscribed (read-only).
    NotSubscribed,
    /// Subscribing (not modelled).
    Pending,
    /// Erased (read-only).
    Redacted,
    /// Subscribed.
    Subscribed,
    /// No longer subscribed.
    Unsubscribed,
}

/// `CustomerEmailAddressMarketingState` (of `defaultEmailAddress`).
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum CustomerEmailAddressMarketingState {
    /// Invalid.
    Invalid,
    /// Not subscribed.
    NotSubscribed,
    /// Subscribing.
    Pending,
    /// Subscribed.
    Subscribed,
    /// No longer subscribed.
    Unsubscribed,
}

/// `CustomerMarketingOptInLevel`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum CustomerMarketingOptInLevel {
    /// Confirmed by a second step (not modelled).
    ConfirmedOptIn,
    /// Subscribed in one step: the one level the model has.
    SingleOptIn,
    /// Unknown (not modelled).
    Unknown,
}

/// `CustomerSortKeys`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum CustomerSortKeys {
    /// Creation time.
    CreatedAt,
    /// Id.
    Id,
    /// Location (refused: profiles have no address).
    Location,
    /// Name.
    Name,
    /// Relevance (as `ID`).
    Relevance,
    /// Update time.
    UpdatedAt,
}

/// `CustomerEmailMarketingConsentUpdateUserErrorCode`.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum CustomerEmailMarketingConsentUpdateUserErrorCode {
    /// A value not among those accepted.
    Inclusion,
    /// Internal.
    InternalError,
    /// Invalid.
    Invalid,
    /// Missing.
    MissingArgument,
}

/// The marketing state of a yes/no consent, as it reads.
pub fn marketing_state(accepts: bool) -> CustomerEmailMarketingState {
    if accepts {
        CustomerEmailMarketingState::Subscribed
    } else {
        CustomerEmailMarketingState::NotSubscribed
    }
}

/// The consent a written marketing state sets: `SUBSCRIBED` yes,
/// `UNSUBSCRIBED` no; Shopify refuses the read-only states as input, and
/// `PENDING` (double opt-in under way) has no place in a yes/no consent.
pub fn accepts_marketing(state: CustomerEmailMarketingState) -> Result<bool, String> {
    use CustomerEmailMarketingState as S;
    match state {
        S::Subscribed => Ok(true),
        S::Unsubscribed => Ok(false),
        S::NotSubscribed | S::Redacted | S::Invalid => Err(format!(
            "{} can't be set: write SUBSCRIBED or UNSUBSCRIBED",
            enum_name(state)
        )),
        S::Pending => Err(
            "PENDING is not modelled: omnisim keeps consent as subscribed or not (no double opt-in)"
                .to_owned(),
        ),
    }
}

fn enum_name(s: CustomerEmailMarketingState) -> &'static str {
    use CustomerEmailMarketingState as S;
    match s {
        S::Invalid => "INVALID",
        S::NotSubscribed => "NOT_SUBSCRIBED",
        S::Pending => "PENDING",
        S::Redacted => "REDACTED",
        S::Subscribed => "SUBSCRIBED",
        S::Unsubscribed => "UNSUBSCRIBED",
    }
}

/// `Customer`.
#[derive(Clone, Debug)]
pub struct GCustomer {
    c: Customer,
}

impl GCustomer {
    /// The view of profile `c`.
    pub fn new(c: Customer) -> Self {
        GCustomer { c }
    }
}

/// `CustomerEmailAddress`.
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerEmailAddress {
    email_address: String,
    marketing_state: CustomerEmailAddressMarketingState,
    marketing_opt_in_level: Option<CustomerMarketingOptInLevel>,
    /// omnisim does not keep when consent changed: always null.
    marketing_updated_at: Option<DateTime>,
    valid_format: bool,
}

/// `CustomerPhoneNumber`.
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerPhoneNumber {
    phone_number: String,
}

/// `CustomerEmailMarketingConsentState`.
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerEmailMarketingConsentState {
    marketing_state: CustomerEmailMarketingState,
    marketing_opt_in_level: Option<CustomerMarketingOptInLevel>,
    /// omnisim does not keep when consent changed: always null.
    consent_updated_at: Option<DateTime>,
}

fn opt_in(accepts: bool) -> Option<CustomerMarketingOptInLevel> {
    accepts.then_some(CustomerMarketingOptInLevel::SingleOptIn)
}

#[Object(name = "Customer")]
impl GCustomer {
    async fn id(&self) -> ID {
        ID(gid("Customer", number(&self.c)))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(number(&self.c))
    }
    async fn first_name(&self) -> Option<String> {
        split_name(&self.c.name).0
    }
    async fn last_name(&self) -> Option<String> {
        split_name(&self.c.name).1
    }
    async fn display_name(&self) -> String {
        display_name(&self.c)
    }
    #[graphql(deprecation = "Use `defaultEmailAddress.emailAddress` instead.")]
    async fn email(&self) -> Option<&str> {
        self.c.email.as_deref()
    }
    #[graphql(deprecation = "Use `defaultPhoneNumber.phoneNumber` instead.")]
    async fn phone(&self) -> Option<String> {
        self.c.phone.as_deref().map(e164)
    }
    async fn default_email_address(&self) -> Option<CustomerEmailAddress> {
        let email = self.c.email.clone()?;
        Some(CustomerEmailAddress {
            email_address: email,
            marketing_state: if self.c.accepts_marketing {
                CustomerEmailAddressMarketingState::Subscribed
            } else {
                CustomerEmailAddressMarketingState::NotSubscribed
            },
            marketing_opt_in_level: opt_in(self.c.accepts_marketing),
            marketing_updated_at: None,
            valid_format: true,
        })
    }
    async fn default_phone_number(&self) -> Option<CustomerPhoneNumber> {
        let phone = self.c.phone.as_deref()?;
        Some(CustomerPhoneNumber {
            phone_number: e164(phone),
        })
    }
    #[graphql(deprecation = "Use `defaultEmailAddress.marketingState`, \
        `defaultEmailAddress.marketingOptInLevel`, `defaultEmailAddress.marketingUpdatedAt`, \
        and `defaultEmailAddress.sourceLocation` instead.")]
    async fn email_marketing_consent(&self) -> Option<CustomerEmailMarketingConsentState> {
        self.c.email.as_ref()?;
        Some(CustomerEmailMarketingConsentState {
            marketing_state: marketing_state(self.c.accepts_marketing),
            marketing_opt_in_level: opt_in(self.c.accepts_marketing),
            consent_updated_at: None,
        })
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.c.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.c.updated_at)
    }
    async fn note(&self) -> Option<&str> {
        None
    }
    async fn tags(&self) -> Vec<String> {
        Vec::new()
    }
}

/// `CustomerEmailMarketingConsentInput`.
#[derive(InputObject, Clone, Debug)]
pub struct CustomerEmailMarketingConsentInput {
    marketing_state: CustomerEmailMarketingState,
    marketing_opt_in_level: Option<CustomerMarketingOptInLevel>,
    consent_updated_at: Option<DateTime>,
    source_location_id: Option<ID>,
}

/// `CustomerInput`: the fields the profile holds, and those Shopify has
/// that it does not, which are refused by name unless empty. `addresses`,
/// `metafields`, `smsMarketingConsent` and `taxExemptions` are not served:
/// a document that names them fails validation, naming the field.
#[derive(InputObject, Clone, Debug)]
pub struct CustomerInput {
    id: Option<ID>,
    email: MaybeUndefined<String>,
    phone: MaybeUndefined<String>,
    first_name: MaybeUndefined<String>,
    last_name: MaybeUndefined<String>,
    email_marketing_consent: Option<CustomerEmailMarketingConsentInput>,
    note: Option<String>,
    tags: Option<Vec<String>>,
    locale: Option<String>,
    multipass_identifier: Option<String>,
    tax_exempt: Option<bool>,
}

/// `CustomerEmailMarketingConsentUpdateInput`.
#[derive(InputObject, Clone, Debug)]
pub struct CustomerEmailMarketingConsentUpdateInput {
    customer_id: ID,
    email_marketing_consent: CustomerEmailMarketingConsentInput,
}

/// `CustomerCreatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerCreatePayload {
    customer: Option<GCustomer>,
    user_errors: Vec<UserError>,
}

/// `CustomerUpdatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerUpdatePayload {
    customer: Option<GCustomer>,
    user_errors: Vec<UserError>,
}

/// `CustomerEmailMarketingConsentUpdateUserError`.
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerEmailMarketingConsentUpdateUserError {
    field: Option<Vec<String>>,
    message: String,
    code: Option<CustomerEmailMarketingConsentUpdateUserErrorCode>,
}

/// `CustomerEmailMarketingConsentUpdatePayload`.
#[derive(SimpleObject, Clone, Debug)]
pub struct CustomerEmailMarketingConsentUpdatePayload {
    customer: Option<GCustomer>,
    user_errors: Vec<CustomerEmailMarketingConsentUpdateUserError>,
}

/// The GraphQL field of a native refusal's field.
fn graphql_field(e: &SimError) -> &str {
    match e.field.as_deref() {
        Some("name") => "firstName",
        Some("consent") => "emailMarketingConsent",
        Some(f) => f,
        None => "id",
    }
}

fn refused(e: &SimError) -> UserError {
    user_error(&[graphql_field(e)], message(e))
}

/// The consent an input sets, or the user error (its field path and
/// message) that refuses it.
fn consent_of(c: &CustomerEmailMarketingConsentInput) -> Result<bool, (&'static str, String)> {
    if c.consent_updated_at.is_some() {
        return Err((
            "consentUpdatedAt",
            "omnisim does not keep when consent was given; leave consentUpdatedAt out".into(),
        ));
    }
    if c.source_location_id.is_some() {
        return Err((
            "sourceLocationId",
            "omnisim does not keep where consent was given; leave sourceLocationId out".into(),
        ));
    }
    match c.marketing_opt_in_level {
        None | Some(CustomerMarketingOptInLevel::SingleOptIn) => {}
        Some(_) => {
            return Err((
                "marketingOptInLevel",
                "omnisim keeps one opt-in level, SINGLE_OPT_IN".into(),
            ));
        }
    }
    accepts_marketing(c.marketing_state).map_err(|m| ("marketingState", m))
}

/// The fields of `CustomerInput` the profile cannot hold, refused unless
/// they are empty.
fn unsupported(input: &CustomerInput) -> Option<UserError> {
    let (field, what) = if input.note.as_deref().is_some_and(|n| !n.trim().is_empty()) {
        ("note", "notes")
    } else if input
        .tags
        .as_ref()
        .is_some_and(|t| t.iter().any(|t| !t.trim().is_empty()))
    {
        ("tags", "tags")
    } else if input.locale.is_some() {
        ("locale", "a locale")
    } else if input.multipass_identifier.is_some() {
        ("multipassIdentifier", "Multipass identifiers")
    } else if input.tax_exempt == Some(true) {
        ("taxExempt", "tax exemptions")
    } else {
        return None;
    };
    Some(user_error(
        &[field],
        format!("omnisim's customer profiles do not keep {what}; leave `{field}` out"),
    ))
}

fn write_of(input: &CustomerInput) -> Write {
    Write {
        first: Change::from_graphql(input.first_name.clone()),
        last: Change::from_graphql(input.last_name.clone()),
        email: Change::from_graphql(input.email.clone()),
        phone: Change::from_graphql(input.phone.clone()),
        consent: None,
    }
}

/// `customerCreate(input:)`.
pub fn customer_create(ctx: &Context<'_>, input: CustomerInput) -> CustomerCreatePayload {
    let fail = |e: UserError| CustomerCreatePayload {
        customer: None,
        user_errors: vec![e],
    };
    if input.id.is_some() {
        return fail(user_error(
            &["id"],
            "customerCreate makes a new customer; leave `id` out (customerUpdate takes it)",
        ));
    }
    if let Some(e) = unsupported(&input) {
        return fail(e);
    }
    let mut w = write_of(&input);
    if let Some(c) = &input.email_marketing_consent {
        match consent_of(c) {
            Ok(yes) => w.consent = Some(yes),
            Err((field, m)) => return fail(user_error(&["emailMarketingConsent", field], m)),
        }
    }
    match create(shared(ctx), &w) {
        Ok(c) => CustomerCreatePayload {
            customer: Some(GCustomer::new(c)),
            user_errors: Vec::new(),
        },
        Err(e) => fail(refused(&e)),
    }
}

/// `customerUpdate(input:)`: the fields given change; `email` or `phone`
/// `null` (or `""`) removes it. Consent is changed by
/// `customerEmailMarketingConsentUpdate`, as on Shopify.
pub fn customer_update(ctx: &Context<'_>, input: CustomerInput) -> CustomerUpdatePayload {
    let fail = |e: UserError| CustomerUpdatePayload {
        customer: None,
        user_errors: vec![e],
    };
    let Some(id) = &input.id else {
        return fail(user_error(&["id"], "Customer id is required"));
    };
    let Some(key) = key_of(id) else {
        return fail(user_error(&["id"], "Customer does not exist"));
    };
    if input.email_marketing_consent.is_some() {
        return fail(user_error(
            &["emailMarketingConsent"],
            "To update emailMarketingConsent, please use the customerEmailMarketingConsentUpdate Mutation instead",
        ));
    }
    if let Some(e) = unsupported(&input) {
        return fail(e);
    }
    match update(shared(ctx), &key, &write_of(&input)) {
        Ok(c) => CustomerUpdatePayload {
            customer: Some(GCustomer::new(c)),
            user_errors: Vec::new(),
        },
        Err(e) if e.code == "unknown_customer" => {
            fail(user_error(&["id"], "Customer does not exist"))
        }
        Err(e) => fail(refused(&e)),
    }
}

/// `customerEmailMarketingConsentUpdate(input:)`.
pub fn consent_update(
    ctx: &Context<'_>,
    input: CustomerEmailMarketingConsentUpdateInput,
) -> CustomerEmailMarketingConsentUpdatePayload {
    use CustomerEmailMarketingConsentUpdateUserErrorCode as Code;
    let fail =
        |field: &[&str], message: String, code: Code| CustomerEmailMarketingConsentUpdatePayload {
            customer: None,
            user_errors: vec![CustomerEmailMarketingConsentUpdateUserError {
                field: Some(field.iter().map(|s| (*s).to_owned()).collect()),
                message,
                code: Some(code),
            }],
        };
    let Some(key) = key_of(&input.customer_id) else {
        return fail(
            &["input", "customerId"],
            "Customer does not exist".into(),
            Code::Invalid,
        );
    };
    let yes = match consent_of(&input.email_marketing_consent) {
        Ok(yes) => yes,
        Err((field, m)) => {
            let code = if field == "marketingState" {
                Code::Inclusion
            } else {
                Code::Invalid
            };
            return fail(&["input", "emailMarketingConsent", field], m, code);
        }
    };
    let w = Write {
        consent: Some(yes),
        ..Write::default()
    };
    match update(shared(ctx), &key, &w) {
        Ok(c) => CustomerEmailMarketingConsentUpdatePayload {
            customer: Some(GCustomer::new(c)),
            user_errors: Vec::new(),
        },
        Err(e) if e.code == "unknown_customer" => fail(
            &["input", "customerId"],
            "Customer does not exist".into(),
            Code::Invalid,
        ),
        Err(e) if e.field.as_deref() == Some("consent") => fail(
            &["input", "customerId"],
            "The customer must have an email address to update their email marketing consent"
                .into(),
            Code::Invalid,
        ),
        Err(e) => fail(&["input"], message(&e), Code::InternalError),
    }
}

/// `customer(id:)`: null for an unknown id.
pub fn customer(ctx: &Context<'_>, id: &ID) -> Option<GCustomer> {
    let key = key_of(id)?;
    shared(ctx)
        .sim
        .read(|s| s.customers.get(&key).ok())
        .map(GCustomer::new)
}

/// `customers(query:, sortKey:)`.
pub fn customers(
    ctx: &Context<'_>,
    p: Page,
    query: Option<String>,
    sort_key: Option<CustomerSortKeys>,
) -> async_graphql::Result<Connection<String, GCustomer>> {
    if sort_key == Some(CustomerSortKeys::Location) {
        return Err(async_graphql::Error::new(
            "omnisim's customers have no address to sort by LOCATION",
        ));
    }
    let found = shared(ctx)
        .sim
        .read(|s| search(s, query.as_deref().unwrap_or("")))
        .map_err(async_graphql::Error::new)?;
    let items = found
        .into_iter()
        .map(|c| {
            let n = number(&c);
            let k = match sort_key {
                Some(CustomerSortKeys::CreatedAt) => time_key(c.created_at, n),
                Some(CustomerSortKeys::UpdatedAt) => time_key(c.updated_at, n),
                Some(CustomerSortKeys::Name) => {
                    format!("{}|{}", display_name(&c).to_lowercase(), id_key(n))
                }
                _ => id_key(n),
            };
            (k, GCustomer::new(c))
        })
        .collect();
    page(items, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime as ChronoDateTime, Utc};

    fn profile(name: &str) -> Customer {
        Customer {
            id: "cus_000007".into(),
            name: name.into(),
            email: Some("Ada@Example.com".into()),
            phone: Some("+44 20 7946 0000".into()),
            accepts_marketing: false,
            created_at: ChronoDateTime::<Utc>::UNIX_EPOCH,
            updated_at: ChronoDateTime::<Utc>::UNIX_EPOCH,
            version: 1,
        }
    }

    #[test]
    fn a_name_splits_at_its_first_space_and_joins_back() {
        assert_eq!(
            split_name("Ada Lovelace"),
            (Some("Ada".into()), Some("Lovelace".into()))
        );
        assert_eq!(
            split_name("Mary Ann Smith"),
            (Some("Mary".into()), Some("Ann Smith".into())),
            "the one name keeps no boundary: a two-word first name reads back split"
        );
        assert_eq!(split_name("Cher"), (Some("Cher".into()), None));
        assert_eq!(split_name("  "), (None, None));
        assert_eq!(join_name(Some("Ada"), Some("Lovelace")), "Ada Lovelace");
        assert_eq!(join_name(None, Some(" Lovelace ")), "Lovelace");
        assert_eq!(join_name(Some(""), None), "");
    }

    #[test]
    fn an_update_of_one_name_part_keeps_the_other() {
        let now = profile("Ada Lovelace");
        let last_only = Write {
            last: Change::Set("Byron".into()),
            ..Write::default()
        };
        assert_eq!(last_only.update(&now).name.as_deref(), Some("Ada Byron"));
        let clear_first = Write {
            first: Change::Clear,
            ..Write::default()
        };
        assert_eq!(clear_first.update(&now).name.as_deref(), Some("Lovelace"));
        let nothing = Write::default().update(&now);
        assert!(nothing.is_empty(), "{nothing:?}");
        let removes = Write {
            email: Change::from_graphql(MaybeUndefined::Null),
            phone: Change::from_graphql(MaybeUndefined::Value(" ".into())),
            ..Write::default()
        }
        .update(&now);
        assert_eq!(removes.email.as_deref(), Some(""));
        assert_eq!(removes.phone.as_deref(), Some(""));
        assert_eq!(
            Change::from_graphql(MaybeUndefined::Undefined),
            Change::Keep
        );
        let same_phone = Write {
            phone: Change::Set("+442079460000".into()),
            ..Write::default()
        };
        assert_eq!(
            same_phone.update(&now).phone,
            None,
            "the phone as it reads back is no change"
        );
    }

    #[test]
    fn consent_maps_subscribed_to_yes_and_refuses_what_yes_no_cannot_hold() {
        use CustomerEmailMarketingState as S;
        assert_eq!(accepts_marketing(S::Subscribed), Ok(true));
        assert_eq!(accepts_marketing(S::Unsubscribed), Ok(false));
        for s in [S::NotSubscribed, S::Redacted, S::Invalid, S::Pending] {
            let e = accepts_marketing(s).unwrap_err();
            assert!(e.contains(enum_name(s)), "{e}");
        }
        assert_eq!(marketing_state(true), S::Subscribed);
        assert_eq!(marketing_state(false), S::NotSubscribed);
        let input = |level| CustomerEmailMarketingConsentInput {
            marketing_state: S::Subscribed,
            marketing_opt_in_level: level,
            consent_updated_at: None,
            source_location_id: None,
        };
        assert_eq!(consent_of(&input(None)), Ok(true));
        assert_eq!(
            consent_of(&input(Some(CustomerMarketingOptInLevel::SingleOptIn))),
            Ok(true)
        );
        assert_eq!(
            consent_of(&input(Some(CustomerMarketingOptInLevel::ConfirmedOptIn)))
                .unwrap_err()
                .0,
            "marketingOptInLevel"
        );
    }

    #[test]
    fn reads_give_e164_phones_and_shopify_display_names() {
        let c = profile("");
        assert_eq!(e164(c.phone.as_deref().unwrap()), "+442079460000");
        assert_eq!(display_name(&c), "Ada@Example.com");
        assert_eq!(display_name(&profile("Ada Lovelace")), "Ada Lovelace");
        assert_eq!(number(&c), 7);
        assert_eq!(
            key_of("gid://shopify/Customer/7").as_deref(),
            Some("cus_000007")
        );
        assert_eq!(key_of("gid://shopify/Order/7"), None);
    }
}
