//! Offline commands, outside the service's hot path: `train` and `eval` of the sentiment model
//! (over labelled [`data`]), `backfill` of history, the end-to-end `bench`, and the `demo`.

pub mod backfill;
pub mod bench;
pub mod data;
pub mod demo;
pub mod eval;
pub mod train;
