pub mod diff;
pub mod explain;
pub mod history;
pub mod hub;
pub mod log;
pub mod scan;
pub mod set;
pub mod status;
