//! The omnisim harness: scenario files, the virtual-time and real-time runners,
//! the history of every operation, and the checkers that judge it.
//!
//! It depends on `omnisim-api`, `omnisim-simulators` and `omnisim-engine`, and
//! nothing depends on it but the CLI. One runner ([`runner`]) drives either
//! world of [`world::RunWorld`]: [`world::World`], the three simulators and
//! the reference engine in one process on one virtual clock, or
//! [`realtime::RealWorld`], the simulators on real loopback ports and any
//! connector as a child process on the wall clock. [`certify`] builds
//! connector certification on the real-time world.
#![deny(missing_docs)]

pub mod certify;
pub mod checkers;
pub mod history;
pub mod realtime;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod truth;
pub mod validate;
pub mod world;

pub use world::World;
