//! Clients for the trackers concord syncs with. Each reads in bulk and
//! writes with the service's own optimistic locking; [`http`] is the layer
//! they share (retries, backoff, errors that name the request).

pub mod github;
pub mod github_feedback;
pub mod http;
pub mod openproject;
