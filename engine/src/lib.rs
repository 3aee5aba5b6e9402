//! The reference sync engine: a connector that keeps a merchant's POS, shop
//! and payment gateway consistent.
//!
//! It reaches the platforms only through [`omnisim_api`]: typed clients over a
//! `Transport`, signed webhooks and the change feeds. It must never depend on
//! `omnisim-simulators`; anything it does, a vendor's connector in any language
//! can do.
//!
//! - [`config`]: endpoints and the [`Strategy`] (webhook or poll; adjust, set
//!   or compare-and-set; an online buffer; reserve on order or on capture).
//! - [`Engine`]: the webhook receiver (verify, deduplicate, queue, 200), the
//!   worker, the change-feed poller with durable cursors (moved by either
//!   path over every event applied without a gap), retries.
//! - `sync`: the rules, event by event (see its table).
//! - [`catalog`]: which system owns each synced catalog field.
//! - [`store`]: durable state, SQLite in process mode, a simulated disk in
//!   virtual mode.
//!
//! The same code runs in process under virtual time (the harness mounts
//! [`Engine::router`] on its in-process transport) and as `omnisim engine`, a
//! separate process in real time.
#![deny(missing_docs)]

pub mod catalog;
pub mod config;
#[doc(hidden)]
pub mod defect;
pub mod engine;
pub mod state;
pub mod store;
mod sync;

pub use catalog::{CatalogMaster, Master};
pub use config::{Endpoints, ReserveMode, Strategy, SyncMode, WriteMode};
#[doc(hidden)]
pub use defect::Defect;
pub use engine::{Engine, EngineConfig, EngineError, SyncError};
pub use store::{MemStore, SqliteStore, Store};
pub use sync::SyncFailure;
