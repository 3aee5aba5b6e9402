//! The append-only event log behind each simulator's change feed and webhooks.
//!
//! A state machine describes a change as an [`EventDraft`]; committing it gives
//! it the next `seq`, an id and the commit time. Like the real platforms' event
//! APIs (Stripe keeps 30 days), the log keeps a bounded window: events older
//! than the retention age, or past the retention count, are dropped from the
//! front. `seq` numbers never change, so a poller within the window never
//! misses one; a cursor from before the window resumes at its oldest event.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use omnisim_api::{Actor, Event, EventPage};
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
    actor: Option<omnisim_api::Actor>,
    delay_scale: u32,
}

impl Effects {
    /// Effects of a transition happening at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Effects {
            now,
            events: Vec::new(),
            actor: None,
            delay_scale: 1,
        }
    }

    /// Effects of a platform whose own business delays run `scale` times
    /// faster than their real length (`omnisim serve` and certification
    /// compress a bank transfer's hour; virtual time keeps 1).
    pub fn with_delay_scale(mut self, scale: u32) -> Self {
        self.delay_scale = scale.max(1);
        self
    }

    /// `delay`, a platform's own business delay (a bank transfer settling),
    /// as long as it runs here.
    pub fn delay(&self, delay: chrono::TimeDelta) -> chrono::TimeDelta {
        delay / i32::try_from(self.delay_scale).unwrap_or(i32::MAX)
    }

    /// Effects of a transition made for `actor` (the request's credential):
    /// a state machine may record who wrote what, as the real platforms
    /// record the app or source of a change (Square's `source` on an
    /// inventory change).
    pub fn with_actor(mut self, actor: Option<omnisim_api::Actor>) -> Self {
        self.actor = actor;
        self
    }

    /// Who the transition is for: `None` for the platform's own timers and
    /// for transitions no request made.
    pub fn actor(&self) -> Option<&omnisim_api::Actor> {
        self.actor.as_ref()
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

/// How long events stay readable by default: 30 days, as Stripe keeps them.
pub const EVENTS_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// The committed events of one simulator, in commit order.
#[derive(Debug)]
pub struct EventLog {
    id_prefix: &'static str,
    events: VecDeque<Event>,
    /// Events dropped from the front: the held ones start at `dropped + 1`.
    dropped: u64,
    max_age: TimeDelta,
    max_events: Option<usize>,
}

impl EventLog {
    /// An empty log keeping 30 days of events; event ids read `evt_<platform>_<seq>`.
    pub fn new(platform: &'static str) -> Self {
        EventLog::with_retention(platform, EVENTS_MAX_AGE, None)
    }

    /// An empty log keeping events for `max_age`, and at most `max_events` of them.
    pub fn with_retention(
        platform: &'static str,
        max_age: Duration,
        max_events: Option<usize>,
    ) -> Self {
        EventLog {
            id_prefix: platform,
            events: VecDeque::new(),
            dropped: 0,
            max_age: TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX),
            max_events: max_events.map(|m| m.max(1)),
        }
    }

    /// Changes the retention; takes effect at the next append.
    pub fn set_retention(&mut self, max_age: Duration, max_events: Option<usize>) {
        self.max_age = TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX);
        self.max_events = max_events.map(|m| m.max(1));
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        let horizon = now.checked_sub_signed(self.max_age);
        while let Some(first) = self.events.front() {
            let too_old = horizon.is_some_and(|h| first.occurred_at < h);
            let too_many = self.max_events.is_some_and(|m| self.events.len() > m);
            if !too_old && !too_many {
                break;
            }
            self.events.pop_front();
            self.dropped += 1;
        }
    }

    /// Commits drafts at `at` caused by the platform itself (`system`),
    /// returning the committed events.
    pub fn append(&mut self, drafts: Vec<EventDraft>, at: DateTime<Utc>) -> Vec<Event> {
        self.append_as(drafts, at, &Actor::system())
    }

    /// Commits drafts at `at` caused by `actor`, returning the committed events.
    pub fn append_as(
        &mut self,
        drafts: Vec<EventDraft>,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Vec<Event> {
        let mut out = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let seq = self.len() as u64 + 1;
            let event = Event {
                id: format!("evt_{}_{seq:08}", self.id_prefix),
                seq,
                kind: draft.kind.to_owned(),
                occurred_at: at,
                actor: actor.clone(),
                data: draft.data,
            };
            self.events.push_back(event.clone());
            out.push(event);
        }
        if !out.is_empty() {
            self.expire(at);
        }
        out
    }

    /// Events with `seq > after`, at most `limit` (capped at [`PAGE_LIMIT_MAX`]).
    /// A cursor from before the retention window starts at the oldest held event.
    pub fn page(&self, after: u64, limit: usize) -> EventPage {
        let limit = limit.clamp(1, PAGE_LIMIT_MAX);
        let total = self.len() as u64;
        let start = usize::try_from(after.saturating_sub(self.dropped))
            .unwrap_or(usize::MAX)
            .min(self.events.len());
        let end = start.saturating_add(limit).min(self.events.len());
        let events: Vec<Event> = self.events.range(start..end).cloned().collect();
        let next = events.last().map_or(after.min(total), |e| e.seq);
        EventPage {
            events,
            next_cursor: next.to_string(),
            has_more: end < self.events.len(),
        }
    }

    /// Every event held, oldest first.
    pub fn all(&self) -> Vec<Event> {
        self.events.iter().cloned().collect()
    }

    /// The events held, oldest first, without copying them.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.events.iter()
    }

    /// The held event with `seq`, if it is still held.
    pub fn get(&self, seq: u64) -> Option<&Event> {
        let index = usize::try_from(seq.checked_sub(self.dropped + 1)?).ok()?;
        self.events.get(index)
    }

    /// How many events were committed, held or dropped.
    pub fn len(&self) -> usize {
        self.events.len() + usize::try_from(self.dropped).unwrap_or(usize::MAX)
    }

    /// How many events are held now.
    pub fn held(&self) -> usize {
        self.events.len()
    }

    /// True when nothing was committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn retention_drops_the_oldest_and_keeps_seq_numbers() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        let mut log = EventLog::with_retention("pos", Duration::from_secs(3600), Some(3));
        let draft = || EventDraft {
            kind: "sale.created",
            data: serde_json::json!({}),
        };
        log.append((0..5).map(|_| draft()).collect(), at);
        assert_eq!((log.len(), log.held()), (5, 3));
        let p = log.page(0, 10);
        assert_eq!(
            p.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(log.page(4, 10).events[0].seq, 5);
        // Two hours later, everything before is past the age window.
        log.append(vec![draft()], at + TimeDelta::hours(2));
        assert_eq!(log.all().iter().map(|e| e.seq).collect::<Vec<_>>(), [6]);
        assert_eq!(log.page(5, 10).events[0].id, "evt_pos_00000006");
    }
}
