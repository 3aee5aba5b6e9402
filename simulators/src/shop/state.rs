//! The ecommerce platform's state machine.

use omnisim_api::Scheme;
use omnisim_api::common::LocationKind;

use crate::core::Platform;
use crate::locations::Locations;
use crate::webhooks::RetryPolicy;

/// Everything the shop knows.
#[derive(Debug)]
pub struct ShopState {
    locations: Locations,
}

impl Default for ShopState {
    fn default() -> Self {
        ShopState {
            locations: Locations::with(&[
                ("web", "Online store", LocationKind::Online),
                ("store-1", "Store 1", LocationKind::Store),
            ]),
        }
    }
}

impl Platform for ShopState {
    const NAME: &'static str = "shop";
    const SCHEME: Scheme = Scheme::Shopify;
    const TOPICS: &'static [&'static str] = &[
        "orders/create",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "refunds/create",
        "inventory_levels/update",
        "products/update",
    ];

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::shopify()
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
