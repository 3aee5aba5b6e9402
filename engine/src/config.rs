//! How the engine is configured: where the platforms are, and its strategy.
//!
//! The same names work as flags and environment variables (the connector
//! contract): `OMNISIM_POS_URL`, `OMNISIM_SHOP_URL`, `OMNISIM_PAY_URL`,
//! `OMNISIM_API_KEY`, `OMNISIM_CONNECTOR_PORT`, `OMNISIM_STATE_DIR`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::defect::Defect;

/// Where the three platforms answer, and how to reach the engine back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// POS base URL.
    pub pos_url: String,
    /// Shop base URL.
    pub shop_url: String,
    /// Pay base URL.
    pub pay_url: String,
    /// The bearer key.
    pub api_key: String,
    /// The engine's own base URL as the platforms reach it (webhook target).
    pub public_url: String,
}

/// How changes are noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Webhooks as the fast path, plus a reconciliation poll of the change feeds.
    Webhook,
    /// Change feeds only, read every `every` (a naive mode, for demonstrations).
    Poll {
        /// Poll interval.
        every: Duration,
    },
}

/// How stock is written to the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// A delta (`/inventory/adjust`): commutes with concurrent changes.
    Adjust,
    /// An absolute value (`/inventory/set`): the naive mode that loses updates.
    Set,
    /// A delta guarded by `change_from`, re-read and retried when stale.
    CompareAndSet,
}

/// When an online order's units are set aside in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveMode {
    /// As soon as the order is placed.
    OnOrder,
    /// Only once it is paid (captured): leaves a window for oversell.
    OnCapture,
}

/// The engine's strategy. [`Strategy::default`] is the one that must keep
/// every invariant under faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// Webhooks (+ reconciliation) or polling.
    pub sync: SyncMode,
    /// How often the change feeds are read to repair missed webhooks.
    pub reconcile_every: Duration,
    /// How stock is written.
    pub write: WriteMode,
    /// Units held back from online availability at store locations.
    pub buffer: i64,
    /// When store stock is reserved for online orders.
    pub reserve: ReserveMode,
    /// Deduplicate events by id (turning it off is a deliberate bug, for tests).
    pub dedupe: bool,
    /// Which system owns each synced catalog field (`both` by default: a
    /// change on either side travels to the other).
    pub catalog_master: crate::catalog::CatalogMaster,
    /// Deliberate failure modes switched on, for testing the tests only
    /// (empty by default; see [`crate::defect`]).
    #[doc(hidden)]
    pub defects: BTreeSet<Defect>,
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy {
            sync: SyncMode::Webhook,
            reconcile_every: Duration::from_secs(60),
            write: WriteMode::Adjust,
            buffer: 0,
            reserve: ReserveMode::OnOrder,
            dedupe: true,
            catalog_master: crate::catalog::CatalogMaster::default(),
            defects: BTreeSet::new(),
        }
    }
}

/// A strategy setting that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}: expected {expected}")]
pub struct ParseError {
    what: &'static str,
    value: String,
    expected: &'static str,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, value: &str, expected: &'static str) -> Self {
        ParseError {
            what,
            value: value.to_owned(),
            expected,
        }
    }
}

/// Parses `90s`, `15m`, `2h` or `250ms`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

impl FromStr for SyncMode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseError {
            what: "sync mode",
            value: s.to_owned(),
            expected: "`webhook` or `poll:<interval>` such as `poll:15m`",
        };
        match s {
            "webhook" => Ok(SyncMode::Webhook),
            _ => {
                let every = s
                    .strip_prefix("poll:")
                    .or_else(|| s.strip_prefix("poll(").and_then(|r| r.strip_suffix(')')))
                    .ok_or_else(err)?;
                parse_duration(every)
                    .filter(|d| !d.is_zero())
                    .map(|every| SyncMode::Poll { every })
                    .ok_or_else(err)
            }
        }
    }
}

impl FromStr for WriteMode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "adjust" => Ok(WriteMode::Adjust),
            "set" => Ok(WriteMode::Set),
            "compare_and_set" | "cas" => Ok(WriteMode::CompareAndSet),
            _ => Err(ParseError {
                what: "write mode",
                value: s.to_owned(),
                expected: "`adjust`, `set` or `compare_and_set`",
            }),
        }
    }
}

impl FromStr for ReserveMode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "on_order" => Ok(ReserveMode::OnOrder),
            "on_capture" => Ok(ReserveMode::OnCapture),
            _ => Err(ParseError {
                what: "reserve mode",
                value: s.to_owned(),
                expected: "`on_order` or `on_capture`",
            }),
        }
    }
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncMode::Webhook => f.write_str("webhook"),
            SyncMode::Poll { every } => write!(f, "poll:{}s", every.as_secs()),
        }
    }
}

impl fmt::Display for WriteMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteMode::Adjust => "adjust",
            WriteMode::Set => "set",
            WriteMode::CompareAndSet => "compare_and_set",
        })
    }
}

impl fmt::Display for ReserveMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReserveMode::OnOrder => "on_order",
            ReserveMode::OnCapture => "on_capture",
        })
    }
}

impl Strategy {
    /// The strategy as JSON, in the words of the engine's flags
    /// (`{"sync": "poll:900s", "write": "adjust", …}`), for `/status`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sync": self.sync.to_string(),
            "write": self.write.to_string(),
            "reserve": self.reserve.to_string(),
            "buffer": self.buffer,
            "reconcile_every_s": self.reconcile_every.as_secs(),
            "dedupe": self.dedupe,
        })
    }
}

/// `sync webhook, write adjust, reserve on_order, buffer 0, reconcile every
/// 60s, dedupe on`: the strategy in the words of the engine's flags.
impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sync {}, write {}, reserve {}, buffer {}, reconcile every {}s, dedupe {}",
            self.sync,
            self.write,
            self.reserve,
            self.buffer,
            self.reconcile_every.as_secs(),
            if self.dedupe { "on" } else { "off" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18, item 6: `/status` and the engine's banner show the
    /// strategy in the words of its flags, never Rust debug text.
    #[test]
    fn the_strategy_reads_in_the_words_of_its_flags() {
        let s = Strategy {
            sync: SyncMode::Poll {
                every: Duration::from_secs(900),
            },
            ..Strategy::default()
        };
        assert_eq!(
            s.to_string(),
            "sync poll:900s, write adjust, reserve on_order, buffer 0, reconcile every 60s, dedupe on"
        );
        assert_eq!(s.to_json()["sync"], "poll:900s");
        assert_eq!(s.to_json()["write"], "adjust");
        assert!(!s.to_json().to_string().contains("Strategy {"));
    }

    #[test]
    fn strategy_settings_parse() {
        assert_eq!("webhook".parse::<SyncMode>(), Ok(SyncMode::Webhook));
        assert_eq!(
            "poll:15m".parse::<SyncMode>(),
            Ok(SyncMode::Poll {
                every: Duration::from_secs(900)
            })
        );
        assert_eq!(
            "poll(90s)".parse::<SyncMode>(),
            Ok(SyncMode::Poll {
                every: Duration::from_secs(90)
            })
        );
        assert!("poll:0s".parse::<SyncMode>().is_err());
        assert!("often".parse::<SyncMode>().is_err());
        assert_eq!("cas".parse::<WriteMode>(), Ok(WriteMode::CompareAndSet));
        assert_eq!(
            "on_capture".parse::<ReserveMode>(),
            Ok(ReserveMode::OnCapture)
        );
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("2d"), None);
    }
}
