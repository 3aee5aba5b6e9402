//! The omnisim harness: scenario files, the virtual-time and real-time runners,
//! the history of every operation, and the checkers that judge it.
//!
//! It depends on `omnisim-api`, `omnisim-simulators` and `omnisim-engine`, and
//! nothing depends on it but the CLI. Today it provides [`world::World`]: the
//! three simulators and the reference engine in one process on one virtual
//! clock, with seeded network latency, engine crash and restart. The scenario
//! format, runner and checkers arrive with the scenario-suite issue.
#![deny(missing_docs)]

pub mod checkers;
pub mod explore;
pub mod history;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod truth;
pub mod validate;
pub mod world;

pub use world::World;
