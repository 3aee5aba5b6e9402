//! The omnisim harness: scenario files, the virtual-time and real-time runners,
//! the history of every operation, and the checkers that judge it.
//!
//! It depends on `omnisim-api`, `omnisim-simulators`, `omnisim-engine` and
//! `omnisim-reports`; only the `omnisim` crate (CLI and library) depends on
//! it. [`world::World`] holds the three simulators and the reference engine in
//! one process on one virtual clock, with seeded network latency, engine crash
//! and restart; [`scenario`] and [`validate`] read scenario files, [`runner`]
//! plays them, [`checkers`] judge the history, and [`suite`] ties them
//! together for `omnisim run`.
#![deny(missing_docs)]

pub mod checkers;
pub mod history;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod timeline;
pub mod truth;
pub mod validate;
pub mod world;

pub use world::World;
