//! The data concord reasons about: workflows and their statuses, items seen
//! in sources (observations), and the warnings raised while reading them.
//! Data only: no I/O lives here.
#![forbid(unsafe_code)]

mod observation;
mod redact;
mod workflow;

pub use observation::{Observation, StatusReading, Warning, WarningCode};
pub use redact::redact_url;
pub use workflow::{StatusDef, Workflow, WorkflowError, normalize_status_word};
