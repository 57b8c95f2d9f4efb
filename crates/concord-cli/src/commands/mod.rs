pub mod scan;
pub mod status;
