//! The scenario file format (TOML): what a merchant has, how the connector is
//! set up, what happens when, and what the run must show.
//!
//! The types here are the format: `scenarios/schema.json` is generated from
//! them with `schemars`, and `scenarios/README.md` documents them. Unknown keys
//! are errors. [`crate::validate`] checks the meaning (unknown SKUs,
//! locations, actors, times that go backwards, checks that do not exist) and
//! reports each problem with its file, line and column.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A value with the byte range it came from, for line:column errors. Its
/// JSON Schema is the inner value's.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Spanned<T>(toml::Spanned<T>);

impl<T> Spanned<T> {
    /// A value said to come from `span` (for values the harness derives).
    pub fn new(span: std::ops::Range<usize>, value: T) -> Self {
        Spanned(toml::Spanned::new(span, value))
    }

    /// The value.
    pub fn get_ref(&self) -> &T {
        self.0.get_ref()
    }

    /// The byte range in the file.
    pub fn span(&self) -> std::ops::Range<usize> {
        self.0.span()
    }
}

/// An empty value from nowhere, for keys left out.
impl<T: Default> Default for Spanned<T> {
    fn default() -> Self {
        Spanned::new(0..0, T::default())
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// One scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A one-line title.
    pub name: String,
    /// The story, for people.
    #[serde(default)]
    pub description: String,
    /// Tags for `--filter` (`demo` marks scenarios that must show a violation).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The seed; `omnisim run --seed` overrides it.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The business day the times refer to (YYYY-MM-DD); 2026-03-02 by default.
    #[serde(default)]
    pub date: Option<Spanned<String>>,
    /// When the business opens: the engine starts and the clock begins (HH:MM).
    #[serde(default)]
    pub opens: Option<Spanned<String>>,
    /// How long after the last step the world settles before the final checks
    /// (`30m` by default).
    #[serde(default)]
    pub settle: Option<Spanned<String>>,
    /// Service levels for `catalog_parity` and `sync_latency`.
    #[serde(default)]
    pub sla: Sla,
    /// What the merchant has.
    pub merchant: Merchant,
    /// How the connector under test is set up.
    #[serde(default)]
    pub connector: Connector,
    /// The network between the systems.
    #[serde(default)]
    pub network: Network,
    /// What happens, in time order.
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
    /// What the run must show; by default every invariant holds.
    #[serde(default)]
    pub expect: Expect,
}

/// Service levels, as durations (`90s`, `5m`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// How soon a stock change must show on the other channel (`5m` by default).
    #[serde(default)]
    pub stock: Option<Spanned<String>>,
    /// How soon a price, tax or status change must reach the other channel (`15m`).
    #[serde(default)]
    pub catalog: Option<Spanned<String>>,
}

/// The merchant's setup.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Merchant {
    /// Stores, warehouses and the online location.
    pub locations: Vec<LocationSpec>,
    /// What is sold.
    pub catalog: Vec<CatalogItem>,
    /// POS settings.
    #[serde(default)]
    pub pos: PosSetup,
    /// Shop settings.
    #[serde(default)]
    pub shop: ShopSetup,
    /// Discount codes on the shop.
    #[serde(default)]
    pub discounts: Vec<DiscountSpec>,
    /// Gift cards issued at the gateway.
    #[serde(default)]
    pub gift_cards: Vec<GiftCardSpec>,
    /// Which system owns each synced catalog field.
    #[serde(default)]
    pub catalog_master: CatalogMasterSpec,
}

/// Which system owns each synced catalog field: `shop`, `pos` or `both`
/// (the default: a change on either side travels to the other, the latest
/// winning). A change on the side that does not own a field is a conflict:
/// the connector puts the owner's value back. Titles are not synced, and
/// product status is the shop's alone.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogMasterSpec {
    /// The owner of prices.
    #[serde(default)]
    pub price: Option<Spanned<String>>,
    /// The owner of tax codes.
    #[serde(default)]
    pub tax_code: Option<Spanned<String>>,
}

/// A location, shared by id across platforms.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationSpec {
    /// The shared id.
    pub id: Spanned<String>,
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `store` (on POS and shop), `warehouse` or `online` (shop only).
    #[serde(default)]
    pub kind: LocationKindSpec,
}

/// Kinds of location.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocationKindSpec {
    /// A store with a register: on the POS and the shop.
    #[default]
    Store,
    /// A stock room that ships online orders: shop only.
    Warehouse,
    /// The online channel's own location: shop only.
    Online,
}

/// What happens when a sale would take stock below zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SellPolicySpec {
    /// Sell anyway.
    Allow,
    /// Sell with a warning.
    Warn,
    /// Refuse.
    #[default]
    Block,
}

/// POS settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PosSetup {
    /// The register's sell-below-zero policy (`allow` by default, as shops can see the shelf).
    #[serde(default)]
    pub sell_when_out_of_stock: Option<SellPolicySpec>,
    /// Tax rates by tax code, as fractions (`"0.08"`).
    #[serde(default, deserialize_with = "money::rates")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub tax_rates: Spanned<BTreeMap<String, Decimal>>,
}

/// Shop settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopSetup {
    /// `block` (Shopify's default) or `allow`.
    #[serde(default)]
    pub sell_when_out_of_stock: Option<SellPolicySpec>,
    /// Tax rates by tax code, as fractions.
    #[serde(default, deserialize_with = "money::rates")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub tax_rates: Spanned<BTreeMap<String, Decimal>>,
}

/// One SKU of the catalog.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogItem {
    /// The shared key.
    pub sku: Spanned<String>,
    /// A display name.
    pub title: String,
    /// Unit price before tax, as a decimal string.
    #[serde(deserialize_with = "money::required")]
    #[schemars(with = "String")]
    pub price: Decimal,
    /// ISO 4217 code.
    #[serde(default = "usd")]
    pub currency: String,
    /// Tax code.
    #[serde(default)]
    pub tax_code: Option<String>,
    /// Starting stock per location id.
    #[serde(default)]
    pub stock: BTreeMap<String, i64>,
    /// Listed on the POS (true by default; false makes an unmapped item).
    #[serde(default = "yes")]
    pub on_pos: bool,
    /// Listed on the shop (true by default).
    #[serde(default = "yes")]
    pub on_shop: bool,
    /// `active` or `paused` on the shop.
    #[serde(default)]
    pub status: Option<String>,
}

fn usd() -> String {
    "USD".into()
}

fn yes() -> bool {
    true
}

/// A discount code.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountSpec {
    /// The code.
    pub code: String,
    /// `percentage` or `fixed_amount`.
    pub kind: String,
    /// Percent or money, as a decimal string.
    #[serde(deserialize_with = "money::required")]
    #[schemars(with = "String")]
    pub value: Decimal,
}

/// A gift card.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardSpec {
    /// The code.
    pub code: String,
    /// The balance, as a decimal string.
    #[serde(deserialize_with = "money::required")]
    #[schemars(with = "String")]
    pub balance: Decimal,
    /// ISO 4217 code.
    #[serde(default = "usd")]
    pub currency: String,
}

/// A gift card sold at the register.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardSaleSpec {
    /// The code printed on the card.
    pub code: String,
    /// What the customer loads onto it, as a decimal string.
    #[serde(deserialize_with = "money::required")]
    #[schemars(with = "String")]
    pub amount: Decimal,
}

/// The connector under test.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// The reference engine's strategy.
    #[serde(default)]
    pub engine: EngineSpec,
}

/// The reference engine's strategy, as in `omnisim engine --help`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    /// `webhook` (default) or `poll`.
    #[serde(default)]
    pub sync: Option<Spanned<String>>,
    /// Poll interval with `sync = "poll"` (`15m`).
    #[serde(default)]
    pub poll_every: Option<Spanned<String>>,
    /// Reconciliation interval with webhooks (`1m`).
    #[serde(default)]
    pub reconcile_every: Option<Spanned<String>>,
    /// `adjust` (default), `set` or `compare_and_set`.
    #[serde(default)]
    pub write: Option<Spanned<String>>,
    /// Units held back online at stores.
    #[serde(default)]
    pub buffer: Option<Spanned<i64>>,
    /// `on_order` (default) or `on_capture`.
    #[serde(default)]
    pub reserve: Option<Spanned<String>>,
    /// Deduplicate events (true by default; false is a deliberate bug).
    #[serde(default)]
    pub dedupe: Option<bool>,
    /// Deliberate failure modes of the reference engine, for testing the
    /// suite (see `omnisim_engine::defect`). Accepted only in a scenario
    /// tagged `defect`; not part of the documented format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(skip)]
    pub defects: Vec<Spanned<String>>,
}

/// The network between the systems.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// One-way latency range, such as `"20ms..200ms"` (`5ms..40ms` by default).
    #[serde(default)]
    pub latency: Option<Spanned<String>>,
}

/// One thing that happens.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Clock time (`"10:03"` or `"10:03:30"`).
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// Or a delay after the previous step (`"4m"`).
    #[serde(default)]
    pub after: Option<Spanned<String>>,
    /// Who acts: `shop` (a customer), `pos` (a clerk), `staff`, `pay`, `nemesis`.
    pub actor: Spanned<String>,
    /// What they do (see scenarios/README.md for each actor's actions).
    pub action: Spanned<String>,
    /// Who the customer is; names the order for later steps. For a
    /// `signup` or `profile`, the person's full name.
    #[serde(default)]
    pub customer: Option<String>,
    /// A customer's email (`signup`; `consent` and `profile` find the
    /// profile by it).
    #[serde(default)]
    pub email: Option<Spanned<String>>,
    /// A customer's phone, E.164 (`+14155550100`): on a `signup`, or the
    /// new phone of a `profile`; `consent` finds the profile by it when no
    /// `email` is given.
    #[serde(default)]
    pub phone: Option<Spanned<String>>,
    /// Marketing consent (`signup`, `consent`, `profile`).
    #[serde(default)]
    pub accepts_marketing: Option<bool>,
    /// Names the sale, return or order for later steps.
    #[serde(default)]
    pub name: Option<String>,
    /// A location id.
    #[serde(default)]
    pub location: Option<Spanned<String>>,
    /// Pickup store for a checkout.
    #[serde(default)]
    pub pickup_location: Option<Spanned<String>>,
    /// Units per SKU.
    #[serde(default)]
    pub lines: Option<Spanned<BTreeMap<String, i64>>>,
    /// A single SKU (price changes, pauses, counts).
    #[serde(default)]
    pub sku: Option<Spanned<String>>,
    /// A quantity (counts, receipts, waste).
    #[serde(default)]
    pub quantity: Option<Spanned<i64>>,
    /// A new price, as a decimal string.
    #[serde(default, deserialize_with = "money::optional")]
    #[schemars(with = "Option<String>")]
    pub price: Option<Decimal>,
    /// A new tax code.
    #[serde(default)]
    pub tax_code: Option<String>,
    /// The payment method of a checkout.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub payment: Option<Spanned<toml::Value>>,
    /// Tenders of a POS sale.
    #[serde(default)]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub tenders: Option<Vec<Spanned<toml::Value>>>,
    /// A discount code.
    #[serde(default)]
    pub discount_code: Option<String>,
    /// The order a step acts on: a customer or step name.
    #[serde(default)]
    pub order: Option<Spanned<String>>,
    /// The sale a return refers to: a step name.
    #[serde(default)]
    pub sale: Option<Spanned<String>>,
    /// Restock returned units.
    #[serde(default)]
    pub restock: Option<bool>,
    /// Where refund money goes (`original`, `cash`, `store_credit`).
    #[serde(default)]
    pub refund_to: Option<String>,
    /// Gift cards a POS sale sells and loads: `[{ code, amount }]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gift_cards: Option<Spanned<Vec<GiftCardSaleSpec>>>,
    /// The code of the gift card a store-credit return loads (the card the
    /// clerk hands over); later steps spend it by this code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<Spanned<String>>,
    /// A gift card code (`pay` `balance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Spanned<String>>,
    /// The balance a `pay` `balance` step expects, as a decimal string.
    #[serde(
        default,
        deserialize_with = "money::optional",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub balance: Option<Decimal>,
    /// Capture or refund amount, as a decimal string.
    #[serde(default, deserialize_with = "money::optional")]
    #[schemars(with = "Option<String>")]
    pub amount: Option<Decimal>,
    /// Which system a nemesis or setting step targets: `pos`, `shop`, `pay`.
    #[serde(default)]
    pub target: Option<Spanned<String>>,
    /// Fault settings for `faults` steps, as `POST /_control/faults` takes them.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub faults: Option<Spanned<toml::Value>>,
    /// A channel (`online_store`) for pause and resume.
    #[serde(default)]
    pub channel: Option<String>,
    /// The step is expected to fail (a decline, a blocked sale).
    #[serde(default)]
    pub expect_error: Option<String>,
    /// How long a nemesis fault lasts before it is lifted (`30m`).
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// A promotion's title (`promote` defines it, `change_promotion` and
    /// `end_promotion` find it).
    #[serde(default)]
    pub promotion: Option<Spanned<String>>,
    /// A `promote`'s percentage off, as a decimal string (`"20"`).
    #[serde(default, deserialize_with = "money::optional")]
    #[schemars(with = "Option<String>")]
    pub percent_off: Option<Decimal>,
    /// A `promote`'s money off, as a decimal string: off each unit of its
    /// `skus`, or off the whole order without them.
    #[serde(default, deserialize_with = "money::optional")]
    #[schemars(with = "Option<String>")]
    pub amount_off: Option<Decimal>,
    /// The SKUs a `promote` takes money off; absent: the whole order.
    #[serde(default)]
    pub skus: Option<Spanned<Vec<String>>>,
    /// When a promotion starts, a clock time (`"09:00"`); the step's own time
    /// if absent.
    #[serde(default)]
    pub starts: Option<Spanned<String>>,
    /// When a promotion ends, a clock time (`"18:00"`): on `promote`, never
    /// if absent; on `end_promotion`, the step's own time if absent.
    #[serde(default)]
    pub ends: Option<Spanned<String>>,
    /// `change_promotion`: `false` switches the promotion off (it runs
    /// never, whatever its window says), `true` on again.
    #[serde(default)]
    pub active: Option<bool>,
    /// The API a staff stock adjust goes through: `native` (the default) or
    /// `shopify`, the shop's Admin GraphQL (`inventoryAdjustQuantities`), as
    /// a merchant's admin app on Shopify's client writes it.
    #[serde(default)]
    pub wire: Option<Spanned<String>>,
}

/// What the run must show.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Oversold units per SKU that the run must show (demonstrations).
    #[serde(default)]
    pub oversold: Option<Spanned<BTreeMap<String, i64>>>,
    /// Checks that must fail (by name); every other check must pass.
    #[serde(default)]
    pub fails: Vec<Spanned<String>>,
}

/// Money and rates are decimal strings (`"12.50"`, `"0.08"`), never TOML
/// numbers: a float cannot hold every amount exactly, and
/// `scenarios/schema.json` says string.
mod money {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::Deserializer;
    use serde::de::{self, Visitor};

    struct DecimalString;

    impl Visitor<'_> for DecimalString {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal string such as \"12.50\"")
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            Err(number(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Err(number(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Err(number(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            Decimal::from_str(v.trim()).map_err(|_| {
                E::custom(format!(
                    "`{v}` is not a decimal number; write it like \"12.50\""
                ))
            })
        }
    }

    fn number<E: de::Error>(v: impl fmt::Display) -> E {
        E::custom(format!(
            "{v} is a TOML number; money and rates are decimal strings, in quotes, such as \"12.50\""
        ))
    }

    struct Wrapped(Decimal);

    impl<'de> serde::Deserialize<'de> for Wrapped {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(DecimalString).map(Wrapped)
        }
    }

    pub(super) fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_str(DecimalString)
    }

    pub(super) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        required(d).map(Some)
    }

    pub(super) fn rates<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<super::Spanned<BTreeMap<String, Decimal>>, D::Error> {
        let m: toml::Spanned<BTreeMap<String, Wrapped>> = serde::Deserialize::deserialize(d)?;
        let span = m.span();
        let rates = m.into_inner().into_iter().map(|(k, v)| (k, v.0)).collect();
        Ok(super::Spanned::new(span, rates))
    }
}
