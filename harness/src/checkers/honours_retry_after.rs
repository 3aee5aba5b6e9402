//! `honours_retry_after`: a request a platform refused with 429 and a
//! Retry-After is not sent again before that wait has passed.
//!
//! The platforms record it themselves (`GET /_control/throttle`): each one
//! watches the connector's key while it rate-limits it, and notes every
//! request that comes back (the same method, path and query, and the same
//! idempotency key or body) inside the wait it named. Other requests may go
//! on meanwhile: a connector's several workers need not stop together. A
//! platform that rate-limits an app which hammers it through its waits
//! blocks the app, or throttles the whole store, so this is a connector bug
//! even where the retried write lands in the end.

use omnisim_reports::{CheckResult, Violation, Witness};

use super::{Input, human_ms, verdict};

/// Violations spelled out per platform; the rest are counted.
const SHOWN_MAX: usize = 10;

pub(super) fn check(input: &Input<'_>) -> CheckResult {
    let mut violations = Vec::new();
    let mut refused = 0;
    let mut early = 0;
    for (platform, record) in &input.state.throttle {
        refused += record.refused;
        early += record.early_total;
        for e in record.early.iter().take(SHOWN_MAX) {
            let waited = (e.at - e.refused_at).num_milliseconds();
            let wait_ms =
                i64::try_from(e.retry_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            violations.push(Violation {
                message: format!(
                    "{platform}: the connector sent {} again at {}, {} after the 429 at {} \
                     that told it to wait {}",
                    e.request,
                    e.at.format("%H:%M:%S%.3f"),
                    human_ms(waited),
                    e.refused_at.format("%H:%M:%S%.3f"),
                    human_ms(wait_ms),
                ),
                sku: None,
                units: None,
                witnesses: vec![Witness {
                    index: input.history.len() as u64,
                    time: e.at,
                    what: format!("{platform}'s record of the rate limit (GET /_control/throttle)"),
                }],
            });
        }
        let unshown = record
            .early_total
            .saturating_sub(SHOWN_MAX.min(record.early.len()) as u64);
        if unshown > 0 {
            violations.push(Violation {
                message: format!(
                    "{platform}: {unshown} more requests came again before their Retry-After"
                ),
                sku: None,
                units: None,
                witnesses: Vec::new(),
            });
        }
    }
    verdict(
        "honours_retry_after",
        violations,
        serde_json::json!({ "refused_429": refused, "early_retries": early }),
    )
}
