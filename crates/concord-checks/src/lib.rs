//! Integrity checks: one engine behind `concord check` at every layer
//! (pre-commit, pull request, schedule). Findings carry stable codes and
//! fingerprints that survive moved lines and reworded messages.

pub mod builtin;
pub mod catalog;
pub mod citations;
pub mod feedback;
pub mod finding;
pub mod render;
pub mod rules;
mod yaml;
