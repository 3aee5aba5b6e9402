//! The event envelope: what change feeds return and webhooks deliver.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One committed change on a platform. Webhook bodies are exactly this object,
/// and every delivery of one event (retries included) carries the same `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Unique per platform, stable across redeliveries: deduplicate on it.
    pub id: String,
    /// Commit order on the platform, starting at 1 with no gaps.
    pub seq: u64,
    /// The platform's own name for the change, such as `orders/create`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Simulated time of the commit.
    pub occurred_at: DateTime<Utc>,
    /// The whole resource after the change.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A page of the change feed: `GET /v1/events?after=<cursor>&limit=<n>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    /// Events with `seq` above the cursor, in commit order.
    pub events: Vec<Event>,
    /// Pass as `after` to read on; equal to the input cursor when no event is new.
    pub next_cursor: String,
    /// True when more events wait beyond this page.
    pub has_more: bool,
}
