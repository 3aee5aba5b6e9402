//! Simulated wall-clock time shared by every component.
//!
//! A [`Clock`] is a simulated epoch plus the time elapsed on tokio's clock since
//! the clock was made, plus a manual offset that the control API can advance.
//! Under a paused tokio runtime (virtual time) the elapsed part jumps from timer
//! to timer; under a normal runtime it follows the real monotonic clock. Both
//! modes run the same code: nothing in omnisim reads `SystemTime` except
//! [`Clock::real`], which picks the epoch once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

/// A shared source of simulated time. Cheap to clone; clones share the offset.
#[derive(Clone, Debug)]
pub struct Clock {
    epoch: DateTime<Utc>,
    start: Instant,
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// A clock that reads `epoch` now and moves with tokio's clock.
    ///
    /// Must be called inside a tokio runtime when time is paused, so that
    /// `start` is read from the paused clock.
    pub fn new(epoch: DateTime<Utc>) -> Self {
        Clock {
            epoch,
            start: Instant::now(),
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// A clock whose epoch is the real time now: for `omnisim serve` and other
    /// real-time runs.
    pub fn real() -> Self {
        Clock::new(Utc::now()) // determinism-ok: real-time mode picks its epoch once
    }

    /// The simulated time now, truncated to whole milliseconds so that every
    /// rendering of it is stable.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        let elapsed_ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
        let total_ms = elapsed_ms.saturating_add(self.offset_ms.load(Ordering::Relaxed));
        self.epoch + TimeDelta::milliseconds(total_ms)
    }

    /// The epoch this clock started from.
    pub fn epoch(&self) -> DateTime<Utc> {
        self.epoch
    }

    /// Moves simulated time forward without waiting, as `POST /_control/clock`
    /// does. Timers already armed on tokio's clock are not moved; components
    /// that hold deadlines in simulated time re-check them on their next tick.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The tokio instant at which simulated time will reach `at`, or now if it
    /// has passed. Used to arm timers for simulated deadlines.
    pub fn instant_at(&self, at: DateTime<Utc>) -> Instant {
        let wait = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        Instant::now() + wait
    }
}

/// Unix seconds of a simulated time, as webhook signature headers carry it.
pub fn unix_seconds(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paused_time_moves_the_clock_exactly() {
        let epoch = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::new(epoch);
        assert_eq!(clock.now(), epoch);
        tokio::time::sleep(Duration::from_secs(15 * 60)).await;
        assert_eq!(clock.now(), epoch + TimeDelta::minutes(15));
        clock.advance(Duration::from_secs(3600));
        assert_eq!(clock.now(), epoch + TimeDelta::minutes(75));
    }
}
