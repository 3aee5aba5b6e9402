//! The point of sale's state machine.

use omnisim_api::Scheme;
use omnisim_api::common::LocationKind;

use crate::core::Platform;
use crate::locations::Locations;
use crate::webhooks::RetryPolicy;

/// Everything the POS knows.
#[derive(Debug)]
pub struct PosState {
    locations: Locations,
}

impl Default for PosState {
    fn default() -> Self {
        PosState {
            locations: Locations::with(&[("store-1", "Store 1", LocationKind::Store)]),
        }
    }
}

impl Platform for PosState {
    const NAME: &'static str = "pos";
    const SCHEME: Scheme = Scheme::Square;
    const TOPICS: &'static [&'static str] = &[
        "sale.created",
        "return.created",
        "inventory.count.updated",
        "item.updated",
    ];

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::square()
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({ "locations": self.locations.list() })
    }

    fn locations(&self) -> Option<&Locations> {
        Some(&self.locations)
    }

    fn locations_mut(&mut self) -> Option<&mut Locations> {
        Some(&mut self.locations)
    }
}
