//! The history of a run, Jepsen style: each actor operation is an `invoke`
//! followed by `ok`, `fail` or `info` (outcome unknown). Beside it: every HTTP
//! call that crossed the simulated network (API calls, webhook deliveries),
//! and, at the end, each simulator's event log. Everything carries simulated
//! time. It is written as JSON Lines, byte-identical for the same seed.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The phase of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpType {
    /// The actor starts the operation.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It completed and took no effect.
    Fail,
    /// No answer: it may or may not have taken effect.
    Info,
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// An actor operation.
    Op {
        /// Position in the history.
        index: u64,
        /// Simulated time.
        time: DateTime<Utc>,
        /// Which step of the scenario (0-based).
        step: usize,
        /// Who: `shop:ana`, `pos:store-1`, `staff`, `pay`, `nemesis`.
        process: String,
        /// Invoke, ok, fail or info.
        #[serde(rename = "type")]
        kind: OpType,
        /// The action (`checkout`, `sale`, …).
        f: String,
        /// What was asked, then what came back.
        value: serde_json::Value,
    },
    /// An HTTP exchange on the simulated network.
    Http {
        /// Position in the history.
        index: u64,
        /// Simulated time the answer (or failure) came.
        time: DateTime<Utc>,
        /// Simulated time the request was sent.
        sent: DateTime<Utc>,
        /// `GET`, `POST`, …
        method: String,
        /// The full URL.
        url: String,
        /// The status, if an answer came.
        status: Option<u16>,
        /// Why no answer came.
        error: Option<String>,
    },
    /// A committed platform event (from the simulators' logs).
    Event {
        /// Position in the history.
        index: u64,
        /// `pos`, `shop` or `pay`.
        platform: String,
        /// The event.
        event: omnisim_api::Event,
    },
}

impl Entry {
    /// Simulated time of the entry.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Entry::Op { time, .. } | Entry::Http { time, .. } => *time,
            Entry::Event { event, .. } => event.occurred_at,
        }
    }
}

/// A shared, append-only history.
#[derive(Clone, Debug, Default)]
pub struct History {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History::default()
    }

    fn push_with(&self, make: impl FnOnce(u64) -> Entry) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let index = entries.len() as u64;
        entries.push(make(index));
    }

    /// Records an operation phase.
    pub fn op(
        &self,
        time: DateTime<Utc>,
        step: usize,
        process: &str,
        kind: OpType,
        f: &str,
        value: serde_json::Value,
    ) {
        self.push_with(|index| Entry::Op {
            index,
            time,
            step,
            process: process.to_owned(),
            kind,
            f: f.to_owned(),
            value,
        });
    }

    /// Records an HTTP exchange.
    pub fn http(
        &self,
        sent: DateTime<Utc>,
        time: DateTime<Utc>,
        method: &str,
        url: &str,
        status: Option<u16>,
        error: Option<String>,
    ) {
        self.push_with(|index| Entry::Http {
            index,
            time,
            sent,
            method: method.to_owned(),
            url: url.to_owned(),
            status,
            error,
        });
    }

    /// Records a platform event.
    pub fn event(&self, platform: &str, event: omnisim_api::Event) {
        self.push_with(|index| Entry::Event {
            index,
            platform: platform.to_owned(),
            event,
        });
    }

    /// Every entry so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The history as JSON Lines.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for e in self.entries() {
            out.push_str(&serde_json::to_string(&e).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}
