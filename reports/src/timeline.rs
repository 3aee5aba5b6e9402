//! What the HTML report draws for one scenario: operations in lanes per
//! system, stock over time per SKU and location (each channel's view and the
//! true stock), fault windows, money per order across the systems, and where
//! stock was oversold.
//!
//! The harness derives it from a run's history and truth
//! (`omnisim_harness::timeline`); this crate only draws it. Times are
//! simulated time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Everything drawn for one scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The scenario's story, as its file tells it.
    #[serde(default)]
    pub description: String,
    /// Start of the window drawn (a little before the first step).
    pub start: DateTime<Utc>,
    /// End of the window drawn.
    pub end: DateTime<Utc>,
    /// One lane per system, in drawing order.
    pub lanes: Vec<Lane>,
    /// Stock over time, one chart per SKU and location.
    pub stock: Vec<StockChart>,
    /// When faults were in force.
    pub faults: Vec<FaultWindow>,
    /// Money per order across the shop, the POS and the gateway.
    pub money: Vec<MoneyRow>,
    /// Every oversell the truth found.
    pub oversells: Vec<OversellMark>,
    /// History entries named by witnesses that are not actor operations
    /// (webhook deliveries, platform events), so links have a target.
    pub entries: Vec<EntryNote>,
}

/// One system's lane.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lane {
    /// A short key (`shop`, `pos`, `pay`, `engine`, `nemesis`).
    pub key: String,
    /// What a person reads (`customer / shop`).
    pub label: String,
    /// Its operations, in start order.
    pub ops: Vec<LaneOp>,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpOutcome {
    /// Completed and took effect.
    #[default]
    Ok,
    /// Refused or failed: no effect.
    Fail,
    /// No answer: it may or may not have taken effect.
    Info,
    /// A change a system made on its own or the connector made (no invoke).
    Change,
}

/// One operation (invoke and completion) or one change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LaneOp {
    /// History index of its invoke (or of the change).
    pub index: u64,
    /// History index of its completion, if any.
    pub done_index: Option<u64>,
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it completed.
    pub end: DateTime<Utc>,
    /// Who (`shop:ana`, `pos:store-1`, `staff`).
    pub process: String,
    /// The action (`checkout`, `sale`, …).
    pub action: String,
    /// How it ended.
    pub outcome: OpOutcome,
    /// In plain words (`web order by ana: 1 × Red mug, pickup at Downtown store`).
    pub summary: String,
    /// What came back (`accepted as ord_000001`, `refused: out_of_stock`).
    pub result: String,
}

/// Whose view of stock a series is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Available to sell online, as the shop shows it.
    Shop,
    /// The register's count, as the POS shows it.
    Pos,
    /// What is really there and not promised to a web order (P − C).
    Truth,
}

/// One line of a stock chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Whose view.
    pub kind: SeriesKind,
    /// Its legend.
    pub label: String,
    /// The value from each time on (a step line), in time order.
    pub points: Vec<StockPoint>,
}

impl Series {
    /// The value at `t` (the last point at or before it), if any.
    pub fn at(&self, t: DateTime<Utc>) -> Option<i64> {
        self.points
            .iter()
            .take_while(|p| p.time <= t)
            .last()
            .map(|p| p.value)
    }
}

/// A value from a time on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockPoint {
    /// From when.
    pub time: DateTime<Utc>,
    /// Units.
    pub value: i64,
    /// The history entry that set it.
    pub index: u64,
}

/// Stock of one SKU at one location over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockChart {
    /// The SKU.
    pub sku: String,
    /// Its title (`Red mug`).
    pub title: String,
    /// The location id.
    pub location: String,
    /// Its display name.
    pub location_name: String,
    /// Each channel's view and the truth.
    pub series: Vec<Series>,
}

/// A window in which a fault was in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// From.
    pub from: DateTime<Utc>,
    /// Until.
    pub to: DateTime<Utc>,
    /// In plain words (`pos webhooks duplicated`, `connector down`).
    pub label: String,
    /// The history index of the step that started it.
    pub index: u64,
}

/// Money of one order or sale across the systems (decimal strings).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MoneyRow {
    /// The order or sale id.
    pub order: String,
    /// `online` or `store`.
    pub channel: String,
    /// The customer, if known.
    pub customer: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// The total the selling system shows.
    pub total: String,
    /// The selling system's payment status (`paid`, `voided`, `refunded`).
    pub status: String,
    /// What the seller refunded, as the selling system shows it.
    pub refunded_by_seller: String,
    /// The gateway's payment intents for it.
    pub intents: Vec<String>,
    /// Authorized at the gateway.
    pub authorized: String,
    /// Captured (charged) at the gateway.
    pub captured: String,
    /// Authorized but given back uncaptured (a partial capture's rest, a
    /// void): what a refund before capture comes out of.
    #[serde(default)]
    pub released: String,
    /// Refunded at the gateway.
    pub refunded: String,
    /// The gateway's last status.
    pub gateway_status: String,
}

/// Units oversold by one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OversellMark {
    /// The SKU.
    pub sku: String,
    /// Where it had to be filled.
    pub location: String,
    /// Units oversold.
    pub units: i64,
    /// When.
    pub time: DateTime<Utc>,
    /// The operation that oversold (history index of its completion).
    pub index: u64,
    /// What it was (`store sale sale_000001`).
    pub trigger: String,
    /// The web order that can no longer be filled, if any.
    pub victim: Option<String>,
}

/// A history entry that is not an actor operation, in a few words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryNote {
    /// Its history index.
    pub index: u64,
    /// When.
    pub time: DateTime<Utc>,
    /// What it was.
    pub text: String,
}
