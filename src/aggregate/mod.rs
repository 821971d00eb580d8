//! Per-response values → live aggregates: dimension labels with the cardinality guard
//! ([`dimensions`]), event-time windows of `(sum, count)` ([`windows`]), and the state shared by
//! the workers that write it and the exporter that reads it ([`state`]); what changed between
//! windows: the mix/rate decomposition of an index over segments ([`drivers`]) and bounded
//! heavy-hitter counts of terms ([`terms`]).

pub mod config;
pub mod dimensions;
pub mod drivers;
pub mod state;
pub mod terms;
pub mod windows;
