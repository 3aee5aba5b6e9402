//! The omnisim contract: everything a connector needs to talk to the simulated
//! POS, shop and payment gateway, and nothing about how they work inside.
//!
//! - Wire types per platform: [`pay`], [`shop`], [`pos`], and [`common`] for what
//!   they share (locations, webhook subscriptions, fault settings, money rules),
//!   and [`customer`] for the customer profiles both the shop and the POS keep.
//!   Money is [`rust_decimal::Decimal`] on the wire as a decimal string.
//! - The [`event::Event`] envelope that change feeds return and webhooks carry,
//!   and [`signing`] for the three webhook signature schemes.
//! - A [`clock::Clock`]: a simulated epoch plus tokio's clock, so virtual and
//!   real time share one code path.
//! - A [`transport::Transport`] over `http::Request`/`http::Response`, with a
//!   real HTTP implementation, and typed clients built on it
//!   ([`pay::PayClient`], [`shop::ShopClient`], [`pos::PosClient`]).
//!
//! It depends on no other omnisim crate. The simulators, the reference engine
//! and the harness all depend on it, and a vendor's Rust connector can too.
//!
//! # Example
//! ```no_run
//! use std::sync::Arc;
//! use omnisim_api::{ApiClient, HttpTransport, pos::PosClient};
//!
//! # async fn run() -> Result<(), omnisim_api::ApiError> {
//! let transport = Arc::new(HttpTransport::default());
//! let pos = PosClient(ApiClient::new(transport, "http://127.0.0.1:7101", "test_key"));
//! let count = pos.count("MUG-RED", "store-1").await?;
//! println!("{} red mugs on the shelf", count.quantity);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod client;
pub mod clock;
pub mod common;
pub mod customer;
pub mod error;
pub mod event;
pub mod pay;
pub mod pos;
pub mod promotion;
pub mod shop;
pub mod signing;
pub mod transport;

mod feed;

pub use client::{ApiClient, IDEMPOTENCY_KEY, RawResponse};
pub use clock::Clock;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use event::{Actor, ActorKind, Event, EventPage};
pub use signing::{Scheme, SignatureError};
pub use transport::{BoxFuture, HttpTransport, Transport, TransportError};
