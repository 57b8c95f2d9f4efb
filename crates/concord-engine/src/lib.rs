//! The heart of concord: a pure function from what the sources say, the
//! last agreed values (bases) and the sync rules to a plan. No I/O, no
//! clock, no randomness: the same input always gives the same plan, and
//! every decision, including "nothing to do", carries a reason code.
//!
//! The rules are DESIGN.md's table:
//! - `mirror`: the truth's value goes to every target; a target that moved
//!   on its own is reverted and reported. No-regress does not apply.
//! - `merge`: sources that changed since the base propose; one proposal
//!   wins outright, several: the higher rank wins, equal rank: the latest
//!   change when times are known, else a conflict. A proposal below the
//!   base's rank is a reopen, held back unless the rule allows it.
//! - `owned`: the item names its owner; the owner's value is mirrored.
#![forbid(unsafe_code)]

mod decide;
pub mod mirror;
mod model;

pub use decide::{Planner, decide, plan};
pub use model::{
    Change, Decision, Hold, ItemInput, Mode, Plan, Reading, Reason, Reopen, Rule, Value,
};
