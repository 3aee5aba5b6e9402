//! Renderers from a run result to files people and CI read: JUnit XML, JSON,
//! Markdown and a self-contained HTML timeline.
//!
//! It depends only on the run-result types, never on the simulators, the
//! engine or the runner. The renderers arrive with the reports issue.
