//! Offline commands, outside the service's hot path: `train` and `eval` of the sentiment model
//! (over labelled [`data`]), `adapt` of a model to the user's own scored texts, `backfill` of
//! history (read through [`history`]), the end-to-end `bench`, and the `demo`.

pub mod adapt;
pub mod backfill;
pub mod bench;
pub mod data;
pub mod demo;
pub mod eval;
pub mod history;
pub mod train;
