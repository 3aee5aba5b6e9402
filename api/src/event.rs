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
    /// Who caused the change: the credential of the request that committed
    /// it, as the real platforms record the app or source of a change.
    /// Absent in records written before it existed (read as `system`).
    #[serde(default)]
    pub actor: Actor,
    /// The whole resource after the change.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// What kind of caller caused an event.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// An app's credential: the connector (any accepted key that is not one
    /// of the kinds below, on any wire).
    Connector,
    /// The merchant's own people and customers: staff in the admin, a
    /// customer at the storefront, a clerk at the register.
    Actor,
    /// Another platform acting for itself: the shop or the register calling
    /// the gateway to take a payment.
    Platform,
    /// The platform's own timers: an authorization expiring, a transfer
    /// settling. Also what a record without an actor reads as.
    #[default]
    System,
}

impl ActorKind {
    /// The wire name: `connector`, `actor`, `platform` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Connector => "connector",
            ActorKind::Actor => "actor",
            ActorKind::Platform => "platform",
            ActorKind::System => "system",
        }
    }
}

/// Who caused an event: a kind and a label that names the credential
/// without revealing it (`app:1f0c9a7e`, the first 8 hex digits of the
/// SHA-256 of the app's key; `actor:…`, `platform`, `system`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    /// The kind of caller.
    pub kind: ActorKind,
    /// A stable, non-secret label of the credential.
    pub id: String,
}

impl Actor {
    /// The platform's own timers.
    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: "system".into(),
        }
    }

    /// True when the connector caused the event.
    pub fn is_connector(&self) -> bool {
        self.kind == ActorKind::Connector
    }
}

impl Default for Actor {
    fn default() -> Self {
        Actor::system()
    }
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
