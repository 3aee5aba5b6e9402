//! The append-only event log behind each simulator's change feed and webhooks.
//!
//! A state machine describes a change as an [`EventDraft`]; committing it gives
//! it the next `seq`, an id and the commit time. Events are never removed, so a
//! poller that keeps its cursor never misses one.

use chrono::{DateTime, Utc};
use omnisim_api::{Event, EventPage};
use serde::Serialize;

/// The most events one feed page returns.
pub const PAGE_LIMIT_MAX: usize = 1000;

/// A change described by a state machine, not yet committed.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    /// The platform's event type, such as `payment_intent.succeeded`.
    pub kind: &'static str,
    /// The whole resource after the change.
    pub data: serde_json::Value,
}

/// What a state transition produces besides its answer: the time it happened
/// at, and the events it emits. State machines take `&mut Effects` and never
/// read a clock; when they fail, their effects are discarded.
#[derive(Debug)]
pub struct Effects {
    now: DateTime<Utc>,
    events: Vec<EventDraft>,
}

impl Effects {
    /// Effects of a transition happening at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Effects {
            now,
            events: Vec::new(),
        }
    }

    /// The simulated time of the transition.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Emits an event whose data is `resource` serialized.
    pub fn emit<T: Serialize>(&mut self, kind: &'static str, resource: &T) {
        let data = serde_json::to_value(resource).unwrap_or(serde_json::Value::Null);
        self.events.push(EventDraft { kind, data });
    }

    /// Emits an event with prepared data.
    pub fn emit_value(&mut self, kind: &'static str, data: serde_json::Value) {
        self.events.push(EventDraft { kind, data });
    }

    /// The events emitted so far.
    pub fn events(&self) -> &[EventDraft] {
        &self.events
    }

    /// Takes the emitted events, leaving none.
    pub fn take(&mut self) -> Vec<EventDraft> {
        std::mem::take(&mut self.events)
    }
}

/// The committed events of one simulator, in commit order.
#[derive(Debug)]
pub struct EventLog {
    id_prefix: &'static str,
    events: Vec<Event>,
}

impl EventLog {
    /// An empty log; event ids read `evt_<platform>_<seq>`.
    pub fn new(platform: &'static str) -> Self {
        EventLog {
            id_prefix: platform,
            events: Vec::new(),
        }
    }

    /// Commits drafts at `at`, returning the committed events.
    pub fn append(&mut self, drafts: Vec<EventDraft>, at: DateTime<Utc>) -> Vec<Event> {
        let mut out = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let seq = self.events.len() as u64 + 1;
            let event = Event {
                id: format!("evt_{}_{seq:08}", self.id_prefix),
                seq,
                kind: draft.kind.to_owned(),
                occurred_at: at,
                data: draft.data,
            };
            self.events.push(event.clone());
            out.push(event);
        }
        out
    }

    /// Events with `seq > after`, at most `limit` (capped at [`PAGE_LIMIT_MAX`]).
    pub fn page(&self, after: u64, limit: usize) -> EventPage {
        let limit = limit.clamp(1, PAGE_LIMIT_MAX);
        let start = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(self.events.len());
        let end = start.saturating_add(limit).min(self.events.len());
        let events = self.events[start..end].to_vec();
        let next = events
            .last()
            .map_or(after.min(self.events.len() as u64), |e| e.seq);
        EventPage {
            events,
            next_cursor: next.to_string(),
            has_more: end < self.events.len(),
        }
    }

    /// Every event, oldest first.
    pub fn all(&self) -> &[Event] {
        &self.events
    }

    /// How many events were committed.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when nothing was committed.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor_without_gaps() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let mut log = EventLog::new("pos");
        let drafts = (0..5)
            .map(|i| EventDraft {
                kind: "sale.created",
                data: serde_json::json!({ "n": i }),
            })
            .collect();
        log.append(drafts, at);
        let p1 = log.page(0, 2);
        assert_eq!(p1.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!((p1.next_cursor.as_str(), p1.has_more), ("2", true));
        let p2 = log.page(2, 10);
        assert_eq!(
            p2.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!((p2.next_cursor.as_str(), p2.has_more), ("5", false));
        let p3 = log.page(5, 10);
        assert!(p3.events.is_empty());
        assert_eq!(p3.next_cursor, "5");
        assert_eq!(log.all()[0].id, "evt_pos_00000001");
    }
}
