//! The omnisim harness: scenario files, the virtual-time and real-time runners,
//! the history of every operation, and the checkers that judge it.
//!
//! It depends on `omnisim-api`, `omnisim-simulators`, `omnisim-engine` and
//! `omnisim-reports`; only the `omnisim` crate (CLI and library) depends on
//! it. One runner ([`runner`]) drives either world of [`world::RunWorld`]:
//! [`world::World`], the three simulators and the reference engine in one
//! process on one virtual clock, or [`realtime::RealWorld`], the simulators on
//! real loopback ports and any connector as a child process on the wall clock.
//! [`scenario`] and [`validate`] read scenario files, [`checkers`] judge the
//! history, [`suite`] ties them together for `omnisim run`, and [`certify`]
//! builds connector certification on the real-time world.
#![deny(missing_docs)]

pub mod certify;
pub mod checkers;
pub mod explore;
pub mod history;
pub mod realtime;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod timeline;
pub mod truth;
pub mod validate;
pub mod via;
pub mod world;

pub use world::World;
