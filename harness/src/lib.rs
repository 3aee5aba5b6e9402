//! The omnisim harness: scenario files, the virtual-time and real-time runners,
//! the history of every operation, and the checkers that judge it.
//!
//! It depends on `omnisim-api`, `omnisim-simulators` and `omnisim-engine`, and
//! nothing depends on it but the CLI. The scenario format, the runner and the
//! seven checkers arrive with the scenario-suite issue.
