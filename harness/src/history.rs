//! The history of a run, Jepsen style: each actor operation is an `invoke`
//! followed by `ok`, `fail` or `info` (outcome unknown). Beside it: every HTTP
//! call that crossed the simulated network (API calls, webhook deliveries),
//! and, at the end, each simulator's event log. Everything carries simulated
//! time. It is written as JSON Lines, byte-identical for the same seed.
//!
//! Card numbers never enter it: an operation's value is recorded with every
//! string that looks like a full card number (13 to 19 digits passing the Luhn
//! check) masked to its last four digits.

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
        /// When the platform's clock was skewed (a `clock_skew_ms` fault) as
        /// it committed the event: by how much its `occurred_at` runs ahead
        /// of the simulated time of the commit. Absent when the clock was
        /// true. Only the harness knows it; the event itself, as a connector
        /// sees it, carries the skewed stamp.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skew_ms: Option<i64>,
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

    /// Simulated time the entry happened: for an event, its commit, with
    /// the platform clock's skew taken out of its stamp.
    pub fn true_time(&self) -> DateTime<Utc> {
        match self {
            Entry::Event {
                event,
                skew_ms: Some(ms),
                ..
            } => event.occurred_at - chrono::TimeDelta::milliseconds(*ms),
            other => other.time(),
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
            value: redact_cards(value),
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

    /// Records a platform event, stamped by a clock that ran `skew_ms`
    /// ahead of simulated time (0 for a true clock).
    pub fn event(&self, platform: &str, event: omnisim_api::Event, skew_ms: i64) {
        self.push_with(|index| Entry::Event {
            index,
            platform: platform.to_owned(),
            event,
            skew_ms: (skew_ms != 0).then_some(skew_ms),
        });
    }

    /// Every entry so far.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every entry so far, borrowed: no copy, but nothing can be recorded
    /// while the guard lives.
    pub fn lock_entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The history as JSON Lines.
    pub fn to_jsonl(&self) -> String {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // One buffer, no copy of the entries: a long run has many thousands.
        let mut out = Vec::with_capacity(entries.len() * 256);
        for e in entries.iter() {
            if serde_json::to_writer(&mut out, e).is_ok() {
                out.push(b'\n');
            }
        }
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Masks every string in `value` that looks like a full card number.
pub fn redact_cards(mut value: serde_json::Value) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(masked) = mask_pan(s) {
                    *s = masked;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// `4242424242424242` → `************4242`; `None` if `s` is not a card number.
fn mask_pan(s: &str) -> Option<String> {
    let digits: Vec<u32> = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()?;
    if !(13..=19).contains(&digits.len()) {
        return None;
    }
    let luhn: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    if !luhn.is_multiple_of(10) {
        return None;
    }
    let last4: String = digits[digits.len() - 4..]
        .iter()
        .filter_map(|d| char::from_digit(*d, 10))
        .collect();
    Some(format!("{}{last4}", "*".repeat(digits.len() - 4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_and_other_numbers_kept() {
        let v = serde_json::json!({
            "payment": {"type": "card", "number": "4242424242424242"},
            "tenders": [{"number": "5555 5555 5555 4444"}],
            "order": "1234567890123",
            "amount": "12.50",
        });
        let r = redact_cards(v);
        assert_eq!(r["payment"]["number"], "************4242");
        assert_eq!(r["tenders"][0]["number"], "************4444");
        assert_eq!(r["order"], "1234567890123", "fails Luhn: not a card");
        assert_eq!(r["amount"], "12.50");
    }
}
