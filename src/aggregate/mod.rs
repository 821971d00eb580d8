//! Per-response values → live aggregates: dimension labels with the cardinality guard
//! ([`dimensions`]), event-time windows of `(sum, count)` ([`windows`]), and the state shared by
//! the workers that write it and the exporter that reads it ([`state`]).

pub mod config;
pub mod dimensions;
pub mod state;
pub mod windows;
