//! Release trains (`concord ship`): libraries publish first, consumers are
//! re-pinned to the published versions, each repo's tests run on the exact
//! commit that ships, apps deploy (the hub before its satellites), and the
//! release record flips to shipped last. [`model`] is the train as
//! configured, [`plan`] the pure decisions (order, idempotency, verdicts);
//! the CLI only executes what they decide.

pub mod config;
pub mod model;
pub mod notes;
pub mod plan;
