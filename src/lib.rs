//! omnisim as a library, for connector vendors who write Rust.
//!
//! Add `omnisim` as a dev-dependency and test a connector from your own
//! `cargo test`: start the three simulators, point the connector at their
//! URLs, drive sales through the typed clients, and judge the result with the
//! same scenario runner and checkers that `omnisim run` uses.
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use omnisim::Simulators;
//! use omnisim::api::pos::CreateItem;
//!
//! // Three simulators on free loopback ports.
//! let sims = Simulators::start().await?;
//! println!("shop at {}", sims.urls().shop);
//!
//! // Hand these to your connector process (the connector contract).
//! for (key, value) in sims.connector_env(7200, "/tmp/my-connector") {
//!     println!("{key}={value}");
//! }
//!
//! // Drive the POS like a clerk would.
//! let item = CreateItem {
//!     sku: "MUG-RED".into(),
//!     name: "Red mug".into(),
//!     price: "12.50".parse()?,
//!     currency: "USD".into(),
//!     tax_code: None,
//! };
//! sims.pos().create_item(&item, None).await?;
//!
//! sims.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Scenario files run through [`scenarios`], in virtual time, against the
//! reference engine, with every checker:
//!
//! ```
//! let toml = r#"
//! name = "One web order"
//! [merchant]
//! locations = [{ id = "store-1", kind = "store" }]
//! [[merchant.catalog]]
//! sku = "MUG-RED"
//! title = "Red mug"
//! price = "12.50"
//! stock = { "store-1" = 3 }
//! [[step]]
//! at = "10:03"
//! actor = "shop"
//! action = "checkout"
//! customer = "ana"
//! lines = { MUG-RED = 1 }
//! pickup_location = "store-1"
//! "#;
//! let verdict = omnisim::scenarios::run_str("one-web-order.toml", toml, Some(7))
//!     .expect("the scenario is valid");
//! assert!(verdict.passed(), "{}", verdict.explain());
//! ```
#![deny(missing_docs)]

pub mod scenarios;
mod sims;

pub use omnisim_api as api;
pub use omnisim_harness as harness;
pub use omnisim_reports as reports;
pub use omnisim_simulators::serve::Urls;
pub use rust_decimal::Decimal;
pub use sims::{Mode, Platform, Simulators, SimulatorsBuilder, StartError};
